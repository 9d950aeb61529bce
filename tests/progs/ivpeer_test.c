/*
 * ivpeer_test.c - the one greeting reader (lib/greet) and the joiner on
 * top of it (lib/ivpeer), tried with every message a server can get
 * wrong, plus a scripted fake server for testing every program's reader.
 *
 *   ivpeer_test [NAME...]          unit tests: "ok NAME" or "not ok NAME: why"
 *   ivpeer_test -l                 list them
 *   ivpeer_test serve [-l] SOCK TOKEN...
 *                                  accept one peer, send it TOKENs, hang up
 *   ivpeer_test join SOCK NVEC     ivpeer_connect, then ivpeer_pump until
 *                                  the server hangs up; prints what it saw
 *
 * A TOKEN is a value, alone or with a descriptor: N, N:region (a 1 MiB
 * shm object), N:empty (an empty one), N:pipe, N:efd (an eventfd); or
 * "half" (the first 4 bytes of a message) or "hold" (wait until the peer
 * hangs up, at most 30 s, before hanging up ourselves).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/greet.h"
#include "lib/ivpeer.h"
#include "lib/log.h"
#include "send_scm.h"

static const char *failed;
static char why[512];

#define CHECK(c) do { if (!(c)) { failed = #c; return; } } while (0)
/* A feed that must fail, with reason text containing want, fd closed. */
#define REFUSED(g, v, fd, want) do {					\
	CHECK(feed_refused((g), (v), (fd), (want)));			\
} while (0)

static char err[256];
static struct greet_msg m;

static int
region_fd(off_t size)
{
	int fd = memfd_create("ivpeer_test", MFD_CLOEXEC);

	if (fd == -1 || ftruncate(fd, size) == -1)
		abort();
	return fd;
}

static int
efd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd == -1)
		abort();
	return fd;
}

static int
is_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static int
feed_refused(struct greet *g, int64_t v, int fd, const char *want)
{
	if (greet_feed(g, v, fd, &m, err, sizeof(err)) != -1) {
		snprintf(why, sizeof(why), "%lld accepted", (long long)v);
		return 0;
	}
	if (strstr(err, want) == NULL || strchr(err, '\n') != NULL) {
		snprintf(why, sizeof(why), "reason \"%s\" lacks \"%s\"", err,
		    want);
		return 0;
	}
	if (fd != SCM_NO_FD && !is_closed(fd)) {
		snprintf(why, sizeof(why), "fd of %lld left open",
		    (long long)v);
		return 0;
	}
	return 1;
}

static int
feed(struct greet *g, int64_t v, int fd)
{
	if (greet_feed(g, v, fd, &m, err, sizeof(err)) == 0)
		return 1;
	snprintf(why, sizeof(why), "%s", err);
	return 0;
}

/* v0 header as far as the region, our ID being id. */
static int
header(struct greet *g, int id)
{
	return feed(g, 0, SCM_NO_FD) && m.kind == GREET_VERSION &&
	    feed(g, id, SCM_NO_FD) && m.kind == GREET_ID && m.id == id &&
	    feed(g, -1, region_fd(4096)) && m.kind == GREET_REGION &&
	    m.size == 4096 && close(m.fd) == 0;
}

/* The whole v0 sequence with per-peer counting; departures and rejoins. */
static void
t_v0_sequence(void)
{
	static unsigned char counts[GREET_IDS];
	struct greet g;
	char want[80];

	memset(counts, 0, sizeof(counts));
	CHECK(greet_init(&g, SCM_PROTO_V0, 2, counts, 0) == 0);
	CHECK(!greet_has_region(&g));
	CHECK(header(&g, 3));
	CHECK(greet_has_region(&g) && !greet_synced(&g));
	CHECK(feed(&g, 0, efd()) && m.kind == GREET_VECTOR && m.id == 0 &&
	    m.vec == 0 && !m.own && close(m.fd) == 0);
	CHECK(feed(&g, 0, efd()) && m.vec == 1 && close(m.fd) == 0);
	CHECK(feed(&g, 3, efd()) && m.own && m.vec == 0 && !m.synced &&
	    close(m.fd) == 0);
	CHECK(strcmp(greet_want(&g, want, sizeof(want)), "our vectors (got 1 "
	    "of 2; is -n the server's -n?)") == 0);
	CHECK(feed(&g, 3, efd()) && m.own && m.vec == 1 && m.synced &&
	    close(m.fd) == 0);
	CHECK(greet_synced(&g) && counts[3] == 2 && counts[0] == 2);
	/* Peer 0 leaves: it had 2; then joins again, counted afresh. */
	CHECK(feed(&g, 0, SCM_NO_FD) && m.kind == GREET_LEFT && m.id == 0 &&
	    m.vec == 2 && m.fd == SCM_NO_FD && counts[0] == 0);
	CHECK(feed(&g, 0, efd()) && m.vec == 0 && close(m.fd) == 0);
	/* A departure of a peer never announced: allowed, nothing had. */
	CHECK(feed(&g, 9, SCM_NO_FD) && m.kind == GREET_LEFT && m.vec == 0);
	CHECK(feed(&g, 65535, efd()) && m.id == 65535 && close(m.fd) == 0);
}

static void
t_legacy_sequence(void)
{
	struct greet g;

	CHECK(greet_init(&g, SCM_PROTO_LEGACY, 1, NULL, GREET_OPT_L) == 0);
	CHECK(feed(&g, 0, SCM_NO_FD) && m.kind == GREET_ID && g.id == 0);
	CHECK(feed(&g, -1, region_fd(1 << 20)) && m.size == 1 << 20 &&
	    close(m.fd) == 0);
	CHECK(feed(&g, 0, efd()) && m.own && m.synced && close(m.fd) == 0);
}

/* Without a table only our own vectors are counted: small state. */
static void
t_uncounted(void)
{
	struct greet g;
	int i;

	CHECK(sizeof(struct greet) <= 24);
	CHECK(greet_init(&g, SCM_PROTO_V0, 1, NULL, 0) == 0);
	CHECK(header(&g, 0));
	for (i = 0; i < 3; i++)
		CHECK(feed(&g, 7, efd()) && m.vec == 0 && !m.own &&
		    close(m.fd) == 0);
	CHECK(feed(&g, 7, SCM_NO_FD) && m.kind == GREET_LEFT && m.vec == 0);
	CHECK(feed(&g, 0, efd()) && m.synced && close(m.fd) == 0);
	REFUSED(&g, 0, efd(), "server sent peer 0 more than 1 vectors; does "
	    "its -n match ours?");
	CHECK(greet_init(&g, SCM_PROTO_V0, 0, NULL, 0) == -1);
	CHECK(greet_init(&g, SCM_PROTO_V0, 65, NULL, 0) == -1);
}

static void
t_version(void)
{
	struct greet g;

	greet_init(&g, SCM_PROTO_V0, 1, NULL, GREET_OPT_L);
	REFUSED(&g, 1, SCM_NO_FD, "server sent version 1, expecting 0; is it "
	    "running with -l (pre-2.5 protocol)? then pass -l");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	REFUSED(&g, 1, SCM_NO_FD, "then start it without -l");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	REFUSED(&g, 0, efd(), "with a descriptor where the version (0, "
	    "alone) belongs");
}

static void
t_id(void)
{
	struct greet g;

	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, 65536, SCM_NO_FD, "server sent 65536 alone where an ID "
	    "(0 to 65535, alone) belongs");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, -2, SCM_NO_FD, "where an ID");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, 4, efd(), "server sent 4 with a descriptor where an ID");
	/* A pre-2.5 server whose first peer got ID 0: its ID passed for the
	 * version, then the region comes. */
	greet_init(&g, SCM_PROTO_V0, 1, NULL, GREET_OPT_L);
	CHECK(feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, -1, region_fd(4096), "server sent the region where an ID "
	    "belongs; is it running with -l (pre-2.5 protocol)? then pass -l");
}

static void
t_region(void)
{
	struct greet g;
	int p[2];

	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(feed(&g, 0, SCM_NO_FD) && feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, -1, SCM_NO_FD, "server sent -1 alone where the region "
	    "(-1 with a descriptor) belongs");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(feed(&g, 0, SCM_NO_FD) && feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, 5, region_fd(4096), "server sent 5 with a descriptor "
	    "where the region");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(feed(&g, 0, SCM_NO_FD) && feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, -1, region_fd(0), "not a file or shm object, or is "
	    "empty; check the server's -f, -s and -m");
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	close(p[1]);
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(feed(&g, 0, SCM_NO_FD) && feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, -1, p[0], "not a file or shm object");
	/* -l against a version-0 server: the version passes for ID 0. */
	greet_init(&g, SCM_PROTO_LEGACY, 1, NULL, GREET_OPT_L);
	CHECK(feed(&g, 0, SCM_NO_FD));
	REFUSED(&g, 0, SCM_NO_FD, "where the region (-1 with a descriptor) "
	    "belongs; if it speaks version 0, drop -l");
}

static void
t_peers(void)
{
	static unsigned char counts[GREET_IDS];
	struct greet g;

	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(header(&g, 2));
	REFUSED(&g, -1, region_fd(4096), "server sent a second region "
	    "message");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(header(&g, 2));
	REFUSED(&g, 65536, efd(), "server sent 65536, which is no peer ID");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(header(&g, 2));
	REFUSED(&g, -7, SCM_NO_FD, "which is no peer ID");
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(header(&g, 2));
	REFUSED(&g, 2, SCM_NO_FD, "server announced that we, peer 2, left");
	memset(counts, 0, sizeof(counts));
	greet_init(&g, SCM_PROTO_V0, 2, counts, 0);
	CHECK(header(&g, 2));
	CHECK(feed(&g, 5, efd()) && close(m.fd) == 0);
	CHECK(feed(&g, 5, efd()) && close(m.fd) == 0);
	REFUSED(&g, 5, efd(), "server sent peer 5 more than 2 vectors; does "
	    "its -n match ours?");
}

static void
t_eof(void)
{
	struct greet g;

	greet_init(&g, SCM_PROTO_V0, 2, NULL, 0);
	greet_eof(&g, err, sizeof(err));
	CHECK(strcmp(err, "server closed the connection before sending an ID "
	    "(refused: full or not allowed? see its log)") == 0);
	CHECK(feed(&g, 0, SCM_NO_FD) && feed(&g, 1, SCM_NO_FD));
	greet_eof(&g, err, sizeof(err));
	CHECK(strcmp(err, "server closed the connection before sending the "
	    "region; see its log") == 0);
	CHECK(feed(&g, -1, region_fd(4096)) && close(m.fd) == 0);
	CHECK(feed(&g, 1, efd()) && close(m.fd) == 0);
	greet_eof(&g, err, sizeof(err));
	CHECK(strcmp(err, "server closed the connection before sending our "
	    "vectors (got 1 of 2; is -n the server's -n?)") == 0);
	CHECK(feed(&g, 1, efd()) && close(m.fd) == 0);
	greet_eof(&g, err, sizeof(err));
	CHECK(strcmp(err, "server hung up") == 0);
}

/* greet_recv over a socket: messages, a broken one, the two ends. */
static void
t_recv(void)
{
	unsigned char buf[SCM_MSG_MAX];
	struct greet g;
	int sp[2], fd;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	CHECK(scm_send(sp[0], SCM_PROTO_V0, 0, SCM_NO_FD) == 0);
	CHECK(scm_send(sp[0], SCM_PROTO_V0, 4, SCM_NO_FD) == 0);
	fd = region_fd(8192);
	CHECK(scm_send(sp[0], SCM_PROTO_V0, -1, fd) == 0);
	close(fd);
	CHECK(greet_recv(&g, sp[1], &m, err, sizeof(err)) == 1);
	CHECK(greet_recv(&g, sp[1], &m, err, sizeof(err)) == 1 && g.id == 4);
	CHECK(greet_recv(&g, sp[1], &m, err, sizeof(err)) == 1 &&
	    m.kind == GREET_REGION && m.size == 8192 && close(m.fd) == 0);
	/* A protocol violation: EBADMSG. */
	CHECK(scm_send(sp[0], SCM_PROTO_V0, 4, SCM_NO_FD) == 0);
	errno = 0;
	CHECK(greet_recv(&g, sp[1], &m, err, sizeof(err)) == -1 &&
	    errno == EBADMSG && strstr(err, "announced that we") != NULL);
	/* The end inside a message. */
	scm_encode(SCM_PROTO_V0, 4, buf);
	CHECK(write(sp[0], buf, 4) == 4);
	close(sp[0]);
	CHECK(greet_recv(&g, sp[1], &m, err, sizeof(err)) == -1 &&
	    strstr(err, "it hung up inside a message") != NULL);
	close(sp[1]);
	/* A clean end: 0, with the reason for this stage. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	close(sp[0]);
	CHECK(greet_recv(&g, sp[1], &m, err, sizeof(err)) == 0 &&
	    strstr(err, "before sending an ID") != NULL);
	close(sp[1]);
}

static const struct {
	const char	*name;
	void		(*fn)(void);
} tests[] = {
	{ "v0_sequence", t_v0_sequence },
	{ "legacy_sequence", t_legacy_sequence },
	{ "uncounted", t_uncounted },
	{ "version", t_version },
	{ "id", t_id },
	{ "region", t_region },
	{ "peers", t_peers },
	{ "eof", t_eof },
	{ "recv", t_recv },
};

#define NTESTS	(sizeof(tests) / sizeof(tests[0]))

static int
run_unit(const char *name)
{
	size_t i;

	for (i = 0; i < NTESTS; i++) {
		if (strcmp(tests[i].name, name) != 0)
			continue;
		failed = NULL;
		why[0] = '\0';
		tests[i].fn();
		if (failed == NULL) {
			printf("ok %s\n", name);
			return 0;
		}
		printf("not ok %s: %s%s%s\n", name, failed, why[0] ? ": " : "",
		    why);
		return 1;
	}
	printf("not ok %s: no such test\n", name);
	return 1;
}

/* ---- The fake server ---------------------------------------------- */

static int
token_fd(const char *kind)
{
	int p[2];

	if (kind == NULL)
		return SCM_NO_FD;
	if (strcmp(kind, "region") == 0)
		return region_fd(1 << 20);
	if (strcmp(kind, "empty") == 0)
		return region_fd(0);
	if (strcmp(kind, "efd") == 0)
		return efd();
	if (strcmp(kind, "pipe") == 0) {
		if (pipe2(p, O_CLOEXEC) == -1)
			fatal("pipe: %s", strerror(errno));
		close(p[1]);
		return p[0];
	}
	fatal("token kind %s: give region, empty, efd or pipe", kind);
}

/* Wait until the peer hangs up (or 30 s pass). */
static void
hold(int s)
{
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	char b[64];

	while (poll(&pfd, 1, 30000) == 1 && read(s, b, sizeof(b)) > 0)
		continue;
}

static void
send_token(int s, enum scm_proto proto, char *tok)
{
	unsigned char buf[SCM_MSG_MAX];
	char *kind, *end;
	long long v;
	int fd;

	if (strcmp(tok, "half") == 0) {
		scm_encode(proto, 0, buf);
		if (write(s, buf, 4) != 4)
			fatal("write: %s", strerror(errno));
		return;
	}
	if (strcmp(tok, "hold") == 0) {
		hold(s);
		return;
	}
	if ((kind = strchr(tok, ':')) != NULL)
		*kind++ = '\0';
	errno = 0;
	v = strtoll(tok, &end, 10);
	if (*tok == '\0' || *end != '\0' || errno != 0)
		fatal("token %s: give a number", tok);
	fd = token_fd(kind);
	if (scm_send(s, proto, v, fd) == -1)
		fatal("send: %s", strerror(errno));
	if (fd != SCM_NO_FD)
		close(fd);
}

static int
serve(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	enum scm_proto proto = SCM_PROTO_V0;
	int l, s, i = 0;

	if (argc > 0 && strcmp(argv[0], "-l") == 0) {
		proto = SCM_PROTO_LEGACY;
		i++;
	}
	if (argc - i < 1 || strlen(argv[i]) >= sizeof(sun.sun_path))
		fatal("usage: ivpeer_test serve [-l] SOCK TOKEN...");
	strcpy(sun.sun_path, argv[i++]);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l == -1 || bind(l, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(l, 4) == -1)
		fatal("listen on %s: %s", sun.sun_path, strerror(errno));
	printf("listening\n");
	fflush(stdout);
	if ((s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		fatal("accept: %s", strerror(errno));
	for (; i < argc; i++)
		send_token(s, proto, argv[i]);
	close(s);
	close(l);
	unlink(sun.sun_path);
	printf("done\n");
	return 0;
}

/* ---- The joiner --------------------------------------------------- */

static void
event(void *arg, int id, enum ivpeer_event ev)
{
	(void)arg;
	printf("peer %d %s\n", id, ev == IVPEER_JOINED ? "joined" : "left");
	fflush(stdout);
}

static int
join(const char *path, const char *nvec)
{
	struct pollfd pfd;
	struct ivpeer p;
	char e[256];

	if (ivpeer_connect(&p, path, SCM_PROTO_V0, (unsigned int)atoi(nvec),
	    2000, e, sizeof(e)) == -1)
		fatal("%s", e);
	printf("id %d size %llu\n", p.id, (unsigned long long)p.size);
	fflush(stdout);
	pfd.fd = p.sock;
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, 30000) != 1)
			fatal("the server said nothing for 30 s");
		if (ivpeer_pump(&p, event, NULL, e, sizeof(e)) == -1)
			fatal("%s", e);
	}
}

int
main(int argc, char **argv)
{
	size_t i;
	int bad = 0, a;

	log_init("ivpeer_test", 0, 0);
	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		for (i = 0; i < NTESTS; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return serve(argc - 2, argv + 2);
	if (argc == 4 && strcmp(argv[1], "join") == 0)
		return join(argv[2], argv[3]);
	if (argc == 1)
		for (i = 0; i < NTESTS; i++)
			bad |= run_unit(tests[i].name);
	for (a = 1; a < argc; a++)
		bad |= run_unit(argv[a]);
	return bad;
}
