/*
 * peerstorm.c - many ivshmem peers at once, for the server's stress and
 * hostile-peer tests.
 * About 800 lines: each mode's checks sit beside the one event loop.
 *
 * One process drives thousands of peer connections through epoll and reads
 * every message with the project's one greeting reader (lib/greet, over
 * send_scm), which checks the protocol as it goes: version (v0), own ID,
 * region fd, then vectors of other peers, own vectors and disconnect
 * notices.  Vectors are counted per connection only for ourselves, so a
 * connection costs a few dozen bytes.  Every descriptor that arrives is
 * closed at once, so the only descriptors held are sockets.
 *
 * Modes:
 *   cycles COUNT   COUNT connect / sync / disconnect cycles, -j at a time;
 *                  with -a K every K-th connection hangs up unread
 *   hold COUNT     COUNT concurrent peers; reports when each has every other
 *                  peer's vectors, then keeps reading until SIGTERM
 *   mute [COUNT]   COUNT peers that never read a byte, until SIGTERM
 *   drain COUNT    COUNT peers, one after the other, that read everything
 *                  and accept being refused; until SIGTERM
 *   slow           sync, then read -r messages a second, never fewer, until
 *                  SIGTERM; exit 2 if the server hangs up
 *   garbage        sync, send a message with an fd (peers must not), expect
 *                  to be dropped and the fd to be closed by the server
 *   syslog PATH    print each datagram sent to a syslog socket at PATH
 *
 * -r RATE caps cycles started, or messages read (slow), per second.
 *
 * Exit: 0 ok, 1 usage, 2 protocol or system error, 3 timeout (-w).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/greet.h"
#include "send_scm.h"

#define ID_MAX		65535
#define EVENTS		1024
#define CONNECT_BURST	64	/* new connections per loop turn */

struct conn {
	int		 sock;		/* -1: slot free */
	struct greet	 g;		/* its ID, how far its greeting got */
	uint64_t	 peer_msgs;	/* vectors of other peers */
	uint64_t	 peer_idsum;	/* sum of their IDs, one per vector */
	uint64_t	 notices;	/* disconnect notices */
};

struct opts {
	const char	*sock_path;
	enum scm_proto	 proto;
	unsigned int	 vectors;
	int64_t		 region_size;	/* -s: expected, -1 = unchecked */
	int		 check_eventfd;	/* -e */
	unsigned int	 parallel;	/* -j */
	unsigned int	 abort_every;	/* -a */
	double		 timeout;	/* -w, 0 = none */
	unsigned long	 rate;		/* -r: per second, 0 = flat out */
};

static struct opts opt = {
	.sock_path = "/tmp/ivshmem_socket",
	.proto = SCM_PROTO_V0,
	.vectors = 1,
	.region_size = -1,
	.parallel = 1,
	.timeout = 60,
};

static volatile sig_atomic_t stop;
static double t_start;
static int epfd = -1;

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "peerstorm: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: peerstorm [-el] [-a EVERY] [-j PARALLEL] "
	    "[-n VECTORS] [-p SOCKET] [-r RATE]\n"
	    "                 [-s SIZE] [-w SECONDS] cycles COUNT | "
	    "hold COUNT | mute [COUNT] |\n"
	    "                 drain COUNT | slow | garbage | syslog PATH\n");
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
check_deadline(const char *what)
{
	if (opt.timeout > 0 && now() - t_start > opt.timeout)
		die(3, "timeout after %.0f s: %s", opt.timeout, what);
}

/* Sleep until the n-th event of a -r paced sequence is due. */
static void
pace(unsigned long n)
{
	double due, left;
	struct timespec ts;

	if (opt.rate == 0)
		return;
	due = t_start + (double)n / (double)opt.rate;
	left = due - now();
	if (left <= 0)
		return;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake epoll_wait */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static unsigned long
number(const char *s, unsigned long min, unsigned long max, const char *what)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max)
		die(1, "%s %s: give a number from %lu to %lu", what, s, min,
		    max);
	return v;
}

/* Room for n sockets; as root the hard limit may go up to fs.nr_open. */
static void
raise_nofile(size_t n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die(2, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		die(2, "cannot raise RLIMIT_NOFILE to %lu: %s; run as root or "
		    "raise ulimit -n", (unsigned long)want, strerror(errno));
}

/* A connected socket, -1 if the backlog is full (try again), or exit. */
static int
dial(int nonblock)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(opt.sock_path) >= sizeof(sun.sun_path))
		die(1, "-p %s: too long for a UNIX socket", opt.sock_path);
	strcpy(sun.sun_path, opt.sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		die(2, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	close(fd);
	if (errno == EAGAIN)
		return -1;
	die(2, "connect %s: %s", opt.sock_path, strerror(errno));
}

static void
conn_reset(struct conn *c, int sock)
{
	memset(c, 0, sizeof(*c));
	c->sock = sock;
	greet_init(&c->g, opt.proto, opt.vectors, NULL, GREET_OPT_L);
}

/* A peer's ID, or -1 before the server said it. */
static int
conn_id(const struct conn *c)
{
	return c->g.id;
}

static int
conn_synced(const struct conn *c)
{
	return c->sock != -1 && greet_synced(&c->g);
}

static void __attribute__((noreturn))
conn_die(const struct conn *c, const char *err)
{
	if (conn_id(c) == -1)
		die(2, "%s", err);
	die(2, "peer %d: %s", conn_id(c), err);
}

static void
check_eventfd(const struct conn *c, int fd)
{
	char path[64], target[64];
	ssize_t n;

	if (!opt.check_eventfd)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		die(2, "readlink %s: %s", path, strerror(errno));
	target[n] = '\0';
	if (strcmp(target, "anon_inode:[eventfd]") != 0)
		die(2, "peer %d: vector fd is %s, not an eventfd", conn_id(c),
		    target);
}

/* Count one message the reader accepted; closes its fd.  1: now synced. */
static int
conn_msg(struct conn *c, const struct greet_msg *m)
{
	if (m->kind == GREET_REGION && opt.region_size >= 0 &&
	    m->size != (uint64_t)opt.region_size)
		die(2, "peer %d: region fd is %" PRIu64 " bytes, expected %jd",
		    conn_id(c), m->size, (intmax_t)opt.region_size);
	if (m->kind == GREET_VECTOR) {
		check_eventfd(c, m->fd);
		if (!m->own) {
			c->peer_msgs++;
			c->peer_idsum += (uint64_t)m->id;
		}
	}
	if (m->kind == GREET_LEFT)
		c->notices++;
	if (m->fd != SCM_NO_FD)
		close(m->fd);
	return m->synced;
}

/* The next message, blocking; 1, or 0 when the server hung up. */
static int
conn_next(struct conn *c, struct greet_msg *m)
{
	char err[256];
	int rc;

	if ((rc = greet_recv(&c->g, c->sock, m, err, sizeof(err))) == -1)
		conn_die(c, err);
	return rc;
}

/*
 * Read every whole message waiting on c.  Returns the number of times c
 * became synced (0 or 1), or -1 when the server hung up.
 */
static int
conn_read(struct conn *c)
{
	size_t size = scm_msg_size(opt.proto);
	struct greet_msg m;
	int synced = 0, avail;

	for (;;) {
		if (ioctl(c->sock, FIONREAD, &avail) == -1)
			die(2, "FIONREAD: %s", strerror(errno));
		if (avail == 0) {
			char b;
			ssize_t n = recv(c->sock, &b, 1,
			    MSG_PEEK | MSG_DONTWAIT);

			if (n == 0)
				return -1;
			return synced;
		}
		if ((size_t)avail < size)
			return synced;	/* the rest of it is on its way */
		if (conn_next(c, &m) == 0)
			return -1;
		synced |= conn_msg(c, &m);
	}
}

static void
watch(int sock, uint64_t idx)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
	    .data.u64 = idx };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sock, &ev) == -1)
		die(2, "epoll_ctl: %s", strerror(errno));
}

static void
conn_close(struct conn *c)
{
	close(c->sock);	/* also leaves the epoll set */
	c->sock = -1;
}

/* cycles: connect, read up to own vectors, hang up; -j at a time. */
static void
run_cycles(unsigned long count)
{
	struct epoll_event ev[EVENTS];
	struct conn *slot;
	unsigned long started = 0, done = 0, aborted = 0;
	unsigned int i;
	int n, k, sock;

	slot = calloc(opt.parallel, sizeof(*slot));
	if (slot == NULL)
		die(2, "out of memory");
	for (i = 0; i < opt.parallel; i++)
		slot[i].sock = -1;
	while (done < count) {
		for (i = 0; i < opt.parallel && started < count; i++) {
			if (slot[i].sock != -1)
				continue;
			pace(started);
			if ((sock = dial(1)) == -1)
				break;
			started++;
			if (opt.abort_every && started % opt.abort_every == 0) {
				close(sock);
				aborted++;
				done++;
				continue;
			}
			conn_reset(&slot[i], sock);
			watch(sock, i);
		}
		check_deadline("cycles");
		n = epoll_wait(epfd, ev, EVENTS, 100);
		if (n == -1 && errno != EINTR)
			die(2, "epoll_wait: %s", strerror(errno));
		if (stop)
			die(2, "interrupted after %lu cycles", done);
		for (k = 0; k < n; k++) {
			struct conn *c = &slot[ev[k].data.u64];

			if (c->sock == -1)
				continue;
			switch (conn_read(c)) {
			case -1:
				die(2, "peer %d: server hung up before the "
				    "greeting was complete (cycle %lu)",
				    conn_id(c), done + 1);
			case 1:
				conn_close(c);
				done++;
			}
		}
	}
	printf("cycles %lu aborted %lu seconds %.3f\n", count, aborted,
	    now() - t_start);
	free(slot);
}

/* hold: are all peers synced, and does each know every other one? */
static int
hold_complete(const struct conn *c, unsigned long count, int *synced_now)
{
	uint64_t want = (uint64_t)(count - 1) * opt.vectors;
	unsigned long i;
	int known = 1;

	*synced_now = 1;
	for (i = 0; i < count && *synced_now; i++) {
		*synced_now = conn_synced(&c[i]);
		known &= c[i].peer_msgs >= want;
	}
	return *synced_now && known;
}

/* Every ID distinct, every peer told of every other peer exactly once. */
static void
hold_verify(const struct conn *c, unsigned long count)
{
	uint64_t want = (uint64_t)(count - 1) * opt.vectors, idsum = 0;
	unsigned char *seen;
	unsigned long i;
	int id, lo = ID_MAX, hi = 0;

	if ((seen = calloc(ID_MAX + 1, 1)) == NULL)
		die(2, "out of memory");
	for (i = 0; i < count; i++) {
		id = conn_id(&c[i]);
		if (seen[id]++)
			die(2, "ID %d was given to two peers", id);
		idsum += (uint64_t)id;
		lo = id < lo ? id : lo;
		hi = id > hi ? id : hi;
	}
	for (i = 0; i < count; i++) {
		id = conn_id(&c[i]);
		if (c[i].peer_msgs != want)
			die(2, "peer %d got %" PRIu64 " vectors of others, "
			    "expected %" PRIu64, id, c[i].peer_msgs, want);
		if (c[i].peer_idsum != opt.vectors * (idsum - (uint64_t)id))
			die(2, "peer %d was told of the wrong peers (ID sum "
			    "%" PRIu64 ", expected %" PRIu64 ")", id,
			    c[i].peer_idsum,
			    opt.vectors * (idsum - (uint64_t)id));
		if (c[i].notices != 0)
			die(2, "peer %d got %" PRIu64 " disconnect notices; "
			    "nobody left", id, c[i].notices);
	}
	free(seen);
	printf("held %lu ids %d-%d peer-messages %" PRIu64 " seconds %.3f\n",
	    count, lo, hi, want * count, now() - t_start);
	fflush(stdout);
}

static unsigned long
hold_connect(struct conn *c, unsigned long next, unsigned long count)
{
	unsigned long stop_at = next + CONNECT_BURST;
	int sock;

	while (next < count && next < stop_at) {
		if ((sock = dial(1)) == -1)
			break;
		conn_reset(&c[next], sock);
		watch(sock, next);
		next++;
	}
	return next;
}

static void
run_hold(unsigned long count)
{
	struct epoll_event ev[EVENTS];
	struct conn *c;
	unsigned long next = 0, i;
	int n, k, held = 0, synced_all = 0, synced_now;

	if ((c = calloc(count, sizeof(*c))) == NULL)
		die(2, "out of memory");
	for (i = 0; i < count; i++)
		c[i].sock = -1;
	while (!stop) {
		next = hold_connect(c, next, count);
		if (!held)
			check_deadline("not every peer knows every other yet");
		n = epoll_wait(epfd, ev, EVENTS, next < count ? 1 : 200);
		if (n == -1 && errno != EINTR)
			die(2, "epoll_wait: %s", strerror(errno));
		for (k = 0; k < n; k++) {
			struct conn *p = &c[ev[k].data.u64];

			if (conn_read(p) == -1)
				die(2, "peer %d: the server hung up",
				    conn_id(p));
		}
		if (held || next < count)
			continue;
		held = hold_complete(c, count, &synced_now);
		if (synced_now && !synced_all) {
			synced_all = 1;
			printf("synced %lu seconds %.3f\n", count,
			    now() - t_start);
			fflush(stdout);
		}
		if (held)
			hold_verify(c, count);
	}
	for (i = 0; i < count; i++)
		if (c[i].sock != -1)
			conn_close(&c[i]);
	printf("closed %lu\n", count);
	free(c);
}

/*
 * drain: peers that read whatever comes; the server may refuse some.  One
 * connects only when the one before is synced or gone, so that the fds in
 * flight stay few (the kernel caps them at the sender's RLIMIT_NOFILE).
 */
static void
run_drain(unsigned long count)
{
	struct epoll_event ev[EVENTS];
	struct conn *c;
	unsigned long next = 0, eof = 0, i;
	int n, k, said = 0;

	if ((c = calloc(count, sizeof(*c))) == NULL)
		die(2, "out of memory");
	while (!stop) {
		if (next < count && (next == 0 || c[next - 1].sock == -1 ||
		    conn_synced(&c[next - 1])))
			next = hold_connect(c, next, next + 1);
		if (next == count && !said) {
			printf("connected %lu\n", count);
			said = 1;
		}
		n = epoll_wait(epfd, ev, EVENTS, 100);
		if (n == -1 && errno != EINTR)
			die(2, "epoll_wait: %s", strerror(errno));
		for (k = 0; k < n; k++) {
			struct conn *p = &c[ev[k].data.u64];

			if (p->sock != -1 && conn_read(p) == -1) {
				conn_close(p);
				eof++;
			}
		}
	}
	for (i = 0; i < next; i++)
		if (c[i].sock != -1)
			conn_close(&c[i]);
	printf("closed %lu refused %lu\n", count - eof, eof);
	free(c);
}

static void
run_mute(unsigned long count)
{
	unsigned long i;

	for (i = 0; i < count; i++)
		if (dial(0) == -1)	/* left open until exit */
			die(2, "connect %s: backlog full", opt.sock_path);
	printf("connected %lu\n", count);
	while (!stop)
		pause();
}

/* Wait up to 200 ms for input; 0 if none (or a signal came). */
static int
readable(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	return poll(&pfd, 1, 200) > 0;
}

/* One blocking peer, read up to its own vectors; prints its ID. */
static void
sync_one(struct conn *c)
{
	struct greet_msg m;
	int sock;

	if ((sock = dial(0)) == -1)
		die(2, "connect %s: backlog full", opt.sock_path);
	conn_reset(c, sock);
	do {
		if (conn_next(c, &m) == 0)
			die(2, "server hung up before the greeting was done");
	} while (!conn_msg(c, &m));
	printf("id %d\n", conn_id(c));
}

/* slow: a peer that keeps reading, at -r messages a second. */
static void
run_slow(void)
{
	struct greet_msg m;
	struct conn c;
	unsigned long got = 0;
	char err[256];
	int rc;

	sync_one(&c);
	t_start = now();
	while (!stop) {
		pace(got + 1);
		if (!readable(c.sock))
			continue;
		rc = greet_recv(&c.g, c.sock, &m, err, sizeof(err));
		if (rc == 0 || (rc == -1 && errno == ECONNRESET))
			die(2, "peer %d: the server hung up after %lu messages "
			    "read at %lu a second", conn_id(&c), got, opt.rate);
		if (rc == -1)
			conn_die(&c, err);
		conn_msg(&c, &m);
		got++;
	}
	printf("read %lu\n", got);
	close(c.sock);
}

static void
run_garbage(void)
{
	struct greet_msg m;
	struct conn c;
	char err[256];
	int rc, pfd[2];

	sync_one(&c);
	/* Bytes with a descriptor attached: the server must drop us and
	 * must not keep the descriptor. */
	if (pipe2(pfd, O_CLOEXEC) == -1)
		die(2, "pipe: %s", strerror(errno));
	if (scm_send(c.sock, opt.proto, 0x2165676162726167LL, pfd[0]) == -1)
		die(2, "send: %s", strerror(errno));
	close(pfd[0]);
	alarm(opt.timeout > 0 ? (unsigned int)opt.timeout : 0);
	signal(SIGALRM, SIG_DFL);
	while ((rc = greet_recv(&c.g, c.sock, &m, err, sizeof(err))) == 1)
		conn_msg(&c, &m);
	if (rc == -1 && errno != ECONNRESET)
		conn_die(&c, err);
	printf("dropped\n");
	close(c.sock);
	/* The read end went with the message; once the server has closed
	 * it, the write end sees EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (write(pfd[1], "x", 1) != -1 || errno != EPIPE)
		die(2, "the server kept the descriptor it was sent");
	printf("fd closed\n");
	close(pfd[1]);
}

/* A stand-in for syslogd: glibc's syslog(3) sends datagrams to /dev/log. */
static void
run_syslog(const char *path)
{
	struct sockaddr_un sun;
	char buf[2048];
	ssize_t n;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		die(1, "syslog %s: path too long", path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die(2, "bind %s: %s", path, strerror(errno));
	printf("listening %s\n", path);
	fflush(stdout);
	while (!stop) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die(2, "recv: %s", strerror(errno));
		buf[n] = '\0';
		printf("%s\n", buf);
		fflush(stdout);
	}
	close(fd);
	unlink(path);
}

static void
parse_flags(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "a:ej:ln:p:r:s:w:")) != -1) {
		switch (ch) {
		case 'a':
			opt.abort_every = number(optarg, 1, UINT32_MAX, "-a");
			break;
		case 'e':
			opt.check_eventfd = 1;
			break;
		case 'j':
			opt.parallel = number(optarg, 1, 65536, "-j");
			break;
		case 'l':
			opt.proto = SCM_PROTO_LEGACY;
			break;
		case 'n':
			opt.vectors = number(optarg, 1, 64, "-n");
			break;
		case 'p':
			opt.sock_path = optarg;
			break;
		case 'r':
			opt.rate = number(optarg, 1, 1000000, "-r");
			break;
		case 's':
			opt.region_size = (int64_t)number(optarg, 0, LONG_MAX,
			    "-s");
			break;
		case 'w':
			opt.timeout = (double)number(optarg, 0, 86400, "-w");
			break;
		default:
			usage();
		}
	}
}

int
main(int argc, char **argv)
{
	const char *mode;
	unsigned long count = 1;

	parse_flags(argc, argv);
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		usage();
	mode = argv[0];
	if (argc == 2 && strcmp(mode, "syslog") != 0)
		count = number(argv[1], 1, ID_MAX + 1, "COUNT");
	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_signals();
	t_start = now();
	raise_nofile(strcmp(mode, "cycles") == 0 ? opt.parallel : count);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die(2, "epoll_create1: %s", strerror(errno));
	if (strcmp(mode, "cycles") == 0 && argc == 2)
		run_cycles(count);
	else if (strcmp(mode, "hold") == 0 && argc == 2)
		run_hold(count);
	else if (strcmp(mode, "drain") == 0 && argc == 2)
		run_drain(count);
	else if (strcmp(mode, "mute") == 0)
		run_mute(count);
	else if (strcmp(mode, "slow") == 0 && argc == 1)
		run_slow();
	else if (strcmp(mode, "garbage") == 0 && argc == 1)
		run_garbage();
	else if (strcmp(mode, "syslog") == 0 && argc == 2)
		run_syslog(argv[1]);
	else
		usage();
	close(epfd);
	return 0;
}
