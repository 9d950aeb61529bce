/*
 * tm_ivshmem_client.c - a command-line peer of an ivshmem server.
 *
 * It connects the way QEMU's ivshmem-doorbell device does, in either
 * protocol format, and then reports what the server said, rings a peer,
 * waits for its own doorbells, or reads and writes the shared region.
 * Tests use it as a stand-in guest and users debug servers with it, so
 * every line it prints is "key value...", and everything the server sends
 * is checked.
 *
 * This file owns the client's view of the server (our ID, the region, the
 * peers' vectors) and the commands; client_cmd.c owns the command line.
 * lib/greet reads and checks what the server says; only raw prints the
 * messages uninterpreted.  Encoding and the socket calls belong to
 * send_scm.c.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#define _FILE_OFFSET_BITS 64	/* 64 GiB regions on 32-bit hosts too */

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/client_cmd.h"
#include "client/client_io.h"
#include "lib/greet.h"
#include "lib/doorbell.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "send_scm.h"

#define MAX_ID		CLIENT_MAX_ID
#define MAX_VECTORS	CLIENT_MAX_VECTORS
#define ALL_VECTORS	MAX_VECTORS	/* pump(): watch all our vectors */
#define NO_VECTORS	(-1)		/* pump(): watch none */

/* Exit codes, plus two outcomes only the command can judge. */
enum {
	ST_OK = 0,
	ST_USAGE = 1,
	ST_PROTO = 2,
	ST_TIMEOUT = 3,
	ST_EOF = 10,		/* the server hung up */
	ST_SIGNAL = 11		/* SIGTERM or SIGINT: a clean stop */
};

struct client {
	struct client_opts o;
	int		 forever;
	int64_t		 deadline;	/* CLOCK_MONOTONIC, in ns */
	sigset_t	 oldmask;
	sigset_t	*pollmask;	/* NULL: signals keep their default */
	int		 sock;
	int		 region;
	uint64_t	 size;
	struct greet	 g;		/* our ID, and where the greeting is */
	int		 events;	/* print connect/disconnect lines */
	uint64_t	 rung;		/* doorbells counted by 'wait' */
	/* The k-th descriptor sent for peer P is its vector k: vfd[P*nvec+k];
	 * nfds[P] (greet's count table) says how many arrived. */
	unsigned char	*nfds;
	int		*vfd;
};

static volatile sig_atomic_t stop_signal;

/* Log one error line and hand back the status to return with. */
static int
fail(int st, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_err("%s", line);
	return st;
}

/* Tests read our output live, so every line is flushed on its own. */
static void
out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* A monitor with many peers holds many eventfds. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
on_signal(int sig)
{
	stop_signal = sig;
}

/* Signals stay blocked except inside ppoll(), so none is ever missed. */
static void
catch_signals(struct client *c)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigprocmask(SIG_BLOCK, &set, &c->oldmask);
	c->pollmask = &c->oldmask;
}

/* Time to the deadline, clamped at zero; NULL when there is none. */
static struct timespec *
time_left(struct client *c, struct timespec *ts)
{
	int64_t ns;

	if (c->forever)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns = c->deadline - ((int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec);
	ns = ns < 0 ? 0 : ns;
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
	return ts;
}

/*
 * Wait until one of pfd[] is ready.  pfd[0] is the socket, ready only with
 * a whole message (or the end) behind it: scm_recv() would block on half a
 * message, and then could outlast -w.
 */
static int
wait_ready(struct client *c, struct pollfd *pfd, nfds_t n)
{
	static const struct timespec tick = { 0, 1000000 };
	struct timespec ts, *tsp;
	int r, queued;

	pfd[0].fd = c->sock;
	pfd[0].events = POLLIN | POLLRDHUP;
	for (;;) {
		tsp = time_left(c, &ts);
		if (tsp != NULL && ts.tv_sec == 0 && ts.tv_nsec == 0)
			return ST_TIMEOUT;
		r = ppoll(pfd, n, tsp, c->pollmask);
		if (r == -1 && errno == EINTR && stop_signal)
			return ST_SIGNAL;
		if (r == -1 && errno != EINTR)
			return fail(ST_PROTO, "poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		if (pfd[0].revents == 0 || (pfd[0].revents & ~POLLIN) != 0 ||
		    ioctl(c->sock, FIONREAD, &queued) == -1 ||
		    (size_t)queued >= scm_msg_size(c->o.proto))
			return ST_OK;
		/* Half a message: the rest is on its way. */
		pfd[0].revents = 0;
		if (r > 1)
			return ST_OK;
		nanosleep(&tick, NULL);
	}
}

/* The next raw message, waiting at most until the deadline. */
static int
next_msg(struct client *c, int64_t *v, int *fd)
{
	struct pollfd pfd;
	int r, st;

	*fd = SCM_NO_FD;
	if ((st = wait_ready(c, &pfd, 1)) != ST_OK)
		return st;
	if ((r = scm_recv(c->sock, c->o.proto, v, fd)) == 0)
		return ST_EOF;
	if (r == -1)
		return fail(ST_PROTO, "receiving from the server: %s%s",
		    strerror(errno), errno == EPROTO ?
		    " (it hung up inside a message)" : "");
	return ST_OK;
}

/* Turn the end of the connection or the deadline into one error line. */
static int
explain(struct client *c, int st, const char *what)
{
	char err[256];

	if (st == ST_EOF) {
		greet_eof(&c->g, err, sizeof(err));
		return fail(ST_PROTO, "%s", err);
	}
	if (st == ST_TIMEOUT)
		return fail(ST_TIMEOUT, "timed out after %" PRIu64 " s waiting "
		    "for %s; raise -w (0 waits forever) or check the server",
		    c->o.wait_s, what);
	return st;
}

static void
peer_drop(struct client *c, long id, unsigned int n)
{
	while (n > 0)
		close(c->vfd[id * c->o.nvec + --n]);
}

/* Keep what the greeting reader handed over; report it in monitor. */
static void
take_msg(struct client *c, const struct greet_msg *m)
{
	switch (m->kind) {
	case GREET_REGION:
		c->region = m->fd;
		c->size = m->size;
		if (!is_pow2(c->size))
			log_warn("region size %" PRIu64 " is not a power of "
			    "two; QEMU would refuse it", c->size);
		break;
	case GREET_VECTOR:
		c->vfd[(long)m->id * c->o.nvec + m->vec] = m->fd;
		if (c->events && !m->own)
			out("connect %d vector %u", m->id, m->vec);
		break;
	case GREET_LEFT:
		peer_drop(c, m->id, m->vec);
		if (c->events)
			out("disconnect %d", m->id);
		break;
	default:
		break;
	}
}

/* Read a doorbell of our own vector v and report it. */
static int
take_rung(struct client *c, unsigned int v, int fd)
{
	uint64_t n;

	/* Every peer holds this eventfd and may have made it blocking, or
	 * read it empty since poll() saw it: a read that waits would hang. */
	if ((n = doorbell_take(fd)) == 0)
		return ST_OK;
	out("rung %u %" PRIu64, v, n);
	c->rung = n > UINT64_MAX - c->rung ? UINT64_MAX : c->rung + n;
	return ST_OK;
}

/*
 * One round of the event loop: wait for the server or for the own vectors
 * in 'watch' (one vector, ALL_VECTORS or NO_VECTORS), then handle them.
 */
static int
pump(struct client *c, int watch)
{
	struct pollfd pfd[1 + MAX_VECTORS];
	unsigned int i, vec[1 + MAX_VECTORS];
	struct greet_msg m;
	char err[256];
	nfds_t n = 1;
	int r, st;

	for (i = 0; greet_synced(&c->g) && watch != NO_VECTORS &&
	    i < c->o.nvec; i++) {
		if (watch != ALL_VECTORS && (unsigned int)watch != i)
			continue;
		pfd[n].fd = c->vfd[(long)c->g.id * c->o.nvec + i];
		pfd[n].events = POLLIN;
		vec[n++] = i;
	}
	if ((st = wait_ready(c, pfd, n)) != ST_OK)
		return st;
	for (i = 1; i < n; i++)
		if (pfd[i].revents != 0 &&
		    (st = take_rung(c, vec[i], pfd[i].fd)) != ST_OK)
			return st;
	if (pfd[0].revents == 0)
		return ST_OK;
	if ((r = greet_recv(&c->g, c->sock, &m, err, sizeof(err))) == 0)
		return ST_EOF;
	if (r == -1)
		return fail(ST_PROTO, "%s", err);
	take_msg(c, &m);
	return ST_OK;
}

/*
 * What QEMU reads while the device realizes: the version (not in the
 * legacy format), our ID, then -1 with the region.  With need_vectors,
 * then every peer's vectors until our own have arrived.
 */
static int
handshake(struct client *c, int need_vectors)
{
	char what[80];
	int st;

	while (need_vectors ? !greet_synced(&c->g) :
	    !greet_has_region(&c->g))
		if ((st = pump(c, NO_VECTORS)) != ST_OK)
			return explain(c, st, greet_want(&c->g, what,
			    sizeof(what)));
	return ST_OK;
}

static int
client_connect(struct client *c)
{
	struct sockaddr_un sun;
	struct timespec ts;
	struct timeval tv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->o.path, strlen(c->o.path));
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->sock == -1)
		return fail(ST_PROTO, "socket: %s", strerror(errno));
	/* A full backlog makes connect() wait; bound that by -w. */
	if (time_left(c, &ts) != NULL) {
		tv.tv_sec = ts.tv_sec;
		tv.tv_usec = ts.tv_nsec / 1000 + 1;
		setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(c->sock, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return ST_OK;
	if (errno == EAGAIN || errno == EINPROGRESS)
		return fail(ST_TIMEOUT, "timed out after %" PRIu64 " s "
		    "connecting to %s (server not accepting); raise -w or "
		    "check the server", c->o.wait_s, c->o.path);
	return fail(ST_PROTO, "cannot connect to %s: %s; %s", c->o.path,
	    strerror(errno), errno == EACCES ? "check the socket's owner "
	    "and mode (server -o, -S)" : "is tm_ivshmem_server running "
	    "with this -p?");
}

static int
cmd_info(struct client *c, const struct cmd *cmd)
{
	long id;
	int st;

	if ((st = handshake(c, 1)) != ST_OK)
		return st;
	if (c->o.proto == SCM_PROTO_V0)
		out("version %d", SCM_PROTOCOL_VERSION);
	out("id %ld", (long)c->g.id);
	out("size %" PRIu64, c->size);
	for (id = 0; id <= MAX_ID; id++)
		if (id != c->g.id && c->nfds[id] > 0)
			out("peer %ld vectors %u", id, c->nfds[id]);
	if (cmd->kind != CMD_MONITOR)
		return ST_OK;
	out("ready");
	c->events = 1;
	c->forever = 1;
	while ((st = pump(c, ALL_VECTORS)) == ST_OK)
		continue;
	return st == ST_EOF || st == ST_SIGNAL ? ST_OK : st;
}

static int
cmd_raw(struct client *c, const struct cmd *cmd)
{
	unsigned char buf[SCM_MSG_MAX];
	char hex[2 * SCM_MSG_MAX + 1], what[48];
	uint64_t seen;
	size_t i, n;
	int64_t v;
	int fd, st;

	for (seen = 0; cmd->count == 0 || seen < cmd->count; seen++) {
		st = next_msg(c, &v, &fd);
		if (st == ST_EOF || st == ST_SIGNAL)
			return ST_OK;
		snprintf(what, sizeof(what), "message %" PRIu64, seen + 1);
		if (st != ST_OK)
			return explain(c, st, what);
		/* Decoding then encoding gives back the exact wire bytes. */
		n = scm_encode(c->o.proto, v, buf);
		for (i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", buf[i]);
		out("msg %s %s", hex, fd != SCM_NO_FD ? "fd" : "nofd");
		if (fd != SCM_NO_FD)
			close(fd);
	}
	return ST_OK;
}

static int
cmd_ring(struct client *c, const struct cmd *cmd)
{
	unsigned int have;
	ssize_t r;
	int st;

	if ((st = handshake(c, 1)) != ST_OK)
		return st;
	while ((have = c->nfds[cmd->peer]) <= cmd->vec) {
		st = pump(c, NO_VECTORS);
		if (st == ST_TIMEOUT || st == ST_EOF)
			return fail(ST_PROTO, "peer %" PRIu64 " has %u vectors, "
			    "none numbered %" PRIu64 " (%s); check the ID with "
			    "info, and -n", cmd->peer, have, cmd->vec,
			    st == ST_EOF ? "then the server hung up" :
			    "after waiting -w");
		if (st != ST_OK)
			return st;
	}
	r = write(c->vfd[cmd->peer * c->o.nvec + cmd->vec], &cmd->count,
	    sizeof(cmd->count));
	if (r != (ssize_t)sizeof(cmd->count))
		return fail(ST_PROTO, "ringing peer %" PRIu64 " vector %" PRIu64
		    ": %s", cmd->peer, cmd->vec, r == -1 ? (errno == EAGAIN ?
		    "its counter is full until the peer reads it" :
		    strerror(errno)) : "short write, not an eventfd?");
	out("rang %" PRIu64 " %" PRIu64, cmd->peer, cmd->vec);
	return ST_OK;
}

static int
cmd_wait(struct client *c, const struct cmd *cmd)
{
	char what[64];
	int st;

	if ((st = handshake(c, 1)) != ST_OK)
		return st;
	out("ready");
	while (c->rung < cmd->count) {
		st = pump(c, cmd->any_vec ? ALL_VECTORS : (int)cmd->vec);
		if (st == ST_OK)
			continue;
		snprintf(what, sizeof(what), "doorbells (rung %" PRIu64 " of %"
		    PRIu64 ")", c->rung, cmd->count);
		if (st == ST_EOF)
			return fail(ST_PROTO, "server closed the connection "
			    "while we waited for %s", what);
		return explain(c, st, what);
	}
	return ST_OK;
}

/* Between the region and stdout (buf NULL) or from buf into the region. */
static int
copy_region(struct client *c, uint64_t off, const unsigned char *buf,
    uint64_t len)
{
	const char *stage = "";

	if (io_copy_region(c->region, off, buf, len, &stage) == -1)
		return fail(ST_PROTO, "cannot %s at offset %" PRIu64 ": %s",
		    stage, off, strerror(errno));
	return ST_OK;
}

static int
check_range(struct client *c, uint64_t off, uint64_t len)
{
	if (off > c->size)
		return fail(ST_USAGE, "offset %" PRIu64 " is past the region end"
		    " (%" PRIu64 " bytes); give a smaller offset", off, c->size);
	if (len > c->size - off)
		return fail(ST_USAGE, "%" PRIu64 " bytes at offset %" PRIu64
		    " pass the region end (%" PRIu64 " bytes); stay within "
		    "the region", len, off, c->size);
	return ST_OK;
}

static int
cmd_read(struct client *c, const struct cmd *cmd)
{
	int st;

	if ((st = handshake(c, 0)) != ST_OK ||
	    (st = check_range(c, cmd->off, cmd->len)) != ST_OK)
		return st;
	close(c->sock);
	c->sock = -1;
	return copy_region(c, cmd->off, NULL, cmd->len);
}

static int
cmd_write(struct client *c, const struct cmd *cmd)
{
	unsigned char *buf = NULL;
	uint64_t len, room;
	int st;

	if ((st = handshake(c, 0)) != ST_OK ||
	    (st = check_range(c, cmd->off, 0)) != ST_OK)
		return st;
	/* We have what we need; do not make the server queue for us. */
	close(c->sock);
	c->sock = -1;
	room = c->size - cmd->off;
	if (io_slurp_stdin(room + 1, &buf, &len) == -1)
		st = fail(ST_USAGE, "reading stdin: %s; nothing was written",
		    strerror(errno));
	if (st == ST_OK && len > room)
		st = fail(ST_USAGE, "stdin holds more than the %" PRIu64 " bytes"
		    " left at offset %" PRIu64 " (region is %" PRIu64 " bytes);"
		    " nothing was written; write less or at a lower offset",
		    room, cmd->off, c->size);
	if (st == ST_OK)
		st = copy_region(c, cmd->off, buf, len);
	free(buf);
	return st;
}

int
main(int argc, char **argv)
{
	static int (*const run[])(struct client *, const struct cmd *) = {
		[CMD_INFO] = cmd_info, [CMD_MONITOR] = cmd_info,
		[CMD_RAW] = cmd_raw, [CMD_RING] = cmd_ring,
		[CMD_WAIT] = cmd_wait, [CMD_READ] = cmd_read,
		[CMD_WRITE] = cmd_write
	};
	struct timespec now;
	struct client c;
	struct cmd cmd;
	long id;
	int st;

	log_init(argv[0], 0, 0);
	memset(&c, 0, sizeof(c));
	c.sock = c.region = -1;
	client_parse(argc, argv, &c.o, &cmd);
	raise_nofile();
	if (cmd.kind == CMD_MONITOR || cmd.kind == CMD_RAW)
		catch_signals(&c);
	c.nfds = calloc(MAX_ID + 1, 1);
	c.vfd = calloc((size_t)(MAX_ID + 1) * c.o.nvec, sizeof(int));
	greet_init(&c.g, c.o.proto, c.o.nvec, c.nfds, GREET_OPT_L);
	c.forever = c.o.wait_s == 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	c.deadline = ((int64_t)now.tv_sec + (int64_t)c.o.wait_s) * 1000000000 +
	    now.tv_nsec;
	if (c.nfds == NULL || c.vfd == NULL)
		st = fail(ST_PROTO, "out of memory for the peer table");
	else if ((st = client_connect(&c)) == ST_OK)
		st = run[cmd.kind](&c, &cmd);
	for (id = 0; c.nfds != NULL && id <= MAX_ID; id++)
		peer_drop(&c, id, c.nfds[id]);
	free(c.nfds);
	free(c.vfd);
	if (c.region != -1)
		close(c.region);
	if (c.sock != -1)
		close(c.sock);
	if (st == ST_SIGNAL)	/* asked to stop, even before ready */
		st = ST_OK;
	if (fflush(stdout) == EOF && st == ST_OK)
		st = fail(ST_USAGE, "writing to stdout: %s", strerror(errno));
	return st;
}
