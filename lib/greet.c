/*
 * greet.c - check each message of an ivshmem server's greeting against
 * the protocol, one at a time.  See greet.h.
 *
 * The order is fixed: the version (v0 only), our ID alone, -1 with the
 * region; from then on an ID with a descriptor is one of that peer's
 * vectors (numbered by arrival) and an ID alone is its departure.  The
 * server is trusted no further than that: IDs are range-checked, a
 * descriptor must come exactly where one is due, and no peer gets more
 * vectors than -n.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#define _FILE_OFFSET_BITS 64	/* 64 GiB regions on 32-bit hosts too */

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/greet.h"
#include "lib/log.h"

enum { ST_VERSION, ST_ID, ST_REGION, ST_PEERS };

/* The fix for "this server is not what it seems". */
#define SERVER_FIX	"; is that socket an ivshmem server's? see its log"

/* The fix when the two sides speak different protocol formats. */
static const char *
proto_fix(const struct greet *g)
{
	int opt_l = g->flags & GREET_OPT_L;

	if (g->proto == SCM_PROTO_LEGACY)
		return opt_l ? "; if it speaks version 0, drop -l" :
		    "; if it speaks version 0, join it with version 0";
	return opt_l ? "; is it running with -l (pre-2.5 protocol)? then "
	    "pass -l" : "; is it running with -l (pre-2.5 protocol)? then "
	    "start it without -l";
}

static const char *
fd_word(int fd)
{
	return fd == SCM_NO_FD ? "alone" : "with a descriptor";
}

/* A violation: the descriptor goes, the reason stays. */
static int
bad(int fd, char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
bad(int fd, char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (fd != SCM_NO_FD)
		close(fd);
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

int
greet_init(struct greet *g, enum scm_proto proto, unsigned int nvec,
    unsigned char *counts, unsigned int flags)
{
	memset(g, 0, sizeof(*g));
	g->id = -1;
	g->proto = (uint8_t)proto;
	g->stage = proto == SCM_PROTO_V0 ? ST_VERSION : ST_ID;
	g->nvec = (uint8_t)nvec;
	g->flags = (uint8_t)flags;
	g->counts = counts;
	return nvec >= 1 && nvec <= GREET_VECTORS_MAX ? 0 : -1;
}

static int
take_version(struct greet *g, int64_t v, int fd, char *err, size_t len)
{
	if (fd != SCM_NO_FD)
		return bad(fd, err, len, "server sent %lld with a descriptor "
		    "where the version (0, alone) belongs" SERVER_FIX,
		    (long long)v);
	if (v != SCM_PROTOCOL_VERSION)
		return bad(fd, err, len, "server sent version %lld, expecting "
		    "0%s", (long long)v, proto_fix(g));
	g->stage = ST_ID;
	return 0;
}

static int
take_id(struct greet *g, int64_t v, int fd, char *err, size_t len)
{
	if (v == -1 && fd != SCM_NO_FD && g->proto == SCM_PROTO_V0)
		return bad(fd, err, len, "server sent the region where an ID "
		    "belongs%s", proto_fix(g));
	if (fd != SCM_NO_FD || v < 0 || v >= GREET_IDS)
		return bad(fd, err, len, "server sent %lld %s where an ID (0 "
		    "to 65535, alone) belongs" SERVER_FIX, (long long)v,
		    fd_word(fd));
	g->id = (int32_t)v;
	g->stage = ST_REGION;
	return 0;
}

static int
take_region(struct greet *g, int64_t v, int fd, struct greet_msg *m,
    char *err, size_t len)
{
	struct stat st;

	if (v != -1 || fd == SCM_NO_FD)
		return bad(fd, err, len, "server sent %lld %s where the region "
		    "(-1 with a descriptor) belongs%s", (long long)v,
		    fd_word(fd), g->proto == SCM_PROTO_LEGACY ? proto_fix(g) :
		    SERVER_FIX);
	if (fstat(fd, &st) == -1)
		return bad(fd, err, len, "cannot fstat the region descriptor: "
		    "%s", strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return bad(fd, err, len, "server sent a region descriptor that "
		    "is not a file or shm object, or is empty; check the "
		    "server's -f, -s and -m");
	m->fd = fd;
	m->size = (uint64_t)st.st_size;
	g->stage = ST_PEERS;
	return 0;
}

static void
take_left(struct greet *g, int id, struct greet_msg *m)
{
	m->kind = GREET_LEFT;
	if (g->counts != NULL) {
		m->vec = g->counts[id];
		g->counts[id] = 0;
	}
}

/* After the region: a vector (ID with a descriptor) or a departure. */
static int
take_peer(struct greet *g, int64_t v, int fd, struct greet_msg *m,
    char *err, size_t len)
{
	unsigned int have;
	int id;

	if (v == -1)
		return bad(fd, err, len, "server sent a second region message"
		    SERVER_FIX);
	if (v < 0 || v >= GREET_IDS)
		return bad(fd, err, len, "server sent %lld, which is no peer "
		    "ID (0 to 65535)" SERVER_FIX, (long long)v);
	id = m->id = (int)v;
	if (fd == SCM_NO_FD && id == g->id)
		return bad(fd, err, len, "server announced that we, peer %d, "
		    "left" SERVER_FIX, id);
	if (fd == SCM_NO_FD) {
		take_left(g, id, m);
		return 0;
	}
	m->own = id == g->id;
	have = m->own ? g->own : g->counts != NULL ? g->counts[id] : 0;
	if ((m->own || g->counts != NULL) && have >= g->nvec)
		return bad(fd, err, len, "server sent peer %d more than %u "
		    "vectors; does its -n match ours?", id, g->nvec);
	m->kind = GREET_VECTOR;
	m->fd = fd;
	m->vec = have;
	if (g->counts != NULL)
		g->counts[id]++;
	if (m->own)
		m->synced = ++g->own == g->nvec;
	return 0;
}

int
greet_feed(struct greet *g, int64_t v, int fd, struct greet_msg *m,
    char *err, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->fd = SCM_NO_FD;
	m->id = g->id;
	switch (g->stage) {
	case ST_VERSION:
		m->kind = GREET_VERSION;
		return take_version(g, v, fd, err, len);
	case ST_ID:
		m->kind = GREET_ID;
		if (take_id(g, v, fd, err, len) == -1)
			return -1;
		m->id = g->id;
		return 0;
	case ST_REGION:
		m->kind = GREET_REGION;
		return take_region(g, v, fd, m, err, len);
	default:
		return take_peer(g, v, fd, m, err, len);
	}
}

int
greet_recv(struct greet *g, int sock, struct greet_msg *m, char *err,
    size_t len)
{
	int64_t v;
	int e, fd, rc;

	rc = scm_recv(sock, (enum scm_proto)g->proto, &v, &fd);
	if (rc == 0) {
		greet_eof(g, err, len);
		return 0;
	}
	if (rc == -1) {
		e = errno;
		errbuf(err, len, "receiving from the server: %s%s", strerror(e),
		    e == EPROTO ? " (it hung up inside a message)" :
		    e == EMFILE ? "; raise ulimit -n" : "");
		errno = e;
		return -1;
	}
	if (greet_feed(g, v, fd, m, err, len) == -1) {
		errno = EBADMSG;
		return -1;
	}
	return 1;
}

int
greet_eof(const struct greet *g, char *err, size_t len)
{
	char what[80];

	if (greet_synced(g))
		return errbuf(err, len, "server hung up");
	return errbuf(err, len, "server closed the connection before sending "
	    "%s%s", greet_want(g, what, sizeof(what)),
	    g->stage <= ST_ID ? " (refused: full or not allowed? see its log)" :
	    g->stage == ST_REGION ? "; see its log" : "");
}

const char *
greet_want(const struct greet *g, char *buf, size_t len)
{
	if (g->stage <= ST_ID)
		snprintf(buf, len, "an ID");
	else if (g->stage == ST_REGION)
		snprintf(buf, len, "the region");
	else if (!greet_synced(g))
		snprintf(buf, len, "our vectors (got %u of %u; is -n the "
		    "server's -n?)", g->own, g->nvec);
	else
		snprintf(buf, len, "a message");
	return buf;
}

int
greet_has_region(const struct greet *g)
{
	return g->stage == ST_PEERS;
}

int
greet_synced(const struct greet *g)
{
	return g->stage == ST_PEERS && g->own == g->nvec;
}
