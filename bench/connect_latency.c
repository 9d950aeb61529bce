/*
 * connect_latency.c - how long a newcomer waits, from connect() until it
 * holds its own eventfds, when it is the 1st, 100th or 1000th peer.
 *
 * One process plays every peer.  Earlier peers stay connected and an epoll
 * loop drains their connect and disconnect notices (closing the fds), so
 * the server keeps talking to live readers.  While a newcomer is timed,
 * only its own socket is read: the figure is the server's latency, not
 * this program's draining.  Each timed newcomer then leaves again, and the
 * next repetition starts once every notice has arrived.
 *
 * The baseline, timed in the same run: one 8-byte message carrying an
 * eventfd, sent and received over a socketpair (scm_send + scm_recv +
 * close), i.e. the floor cost of one message of the greeting.
 *
 * The process runs as "tm_connect_latency": tm_ivshmem_server tells its
 * own tools (tm_*, mq*) of every join and departure, while a QEMU-like
 * peer is not told what it need not know.  Under a tool's name every
 * earlier peer is sent every notice, as QEMU's own server sends them:
 * the most work for the server, and the same work for both.
 *
 * Output: one "key=value ..." line per figure, for bench/run.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "send_scm.h"

#define MARKS_MAX	8
#define TOOL_NAME	"tm_connect_latency"
#define DRAIN_WAIT_MS	10000	/* no notice for this long: give up */

struct crowd {
	struct sockaddr_un sa;
	unsigned int	nvec;
	int		epfd;
	struct bpeer	*peers;		/* connected peers, oldest first */
	size_t		n;
	int64_t		owed_fd;	/* arrival notices not yet read */
	int64_t		owed_gone;	/* departure notices not yet read */
};

static void
usage(void)
{
	fprintf(stderr, "usage: connect_latency [-p SOCKET] [-n VECTORS] "
	    "[-r REPS] [-m PEER[,PEER...]]\n"
	    "  -p SOCKET  server socket (default /tmp/ivshmem_socket)\n"
	    "  -n VECTORS the server's -n (default 1)\n"
	    "  -r REPS    timed newcomers per mark (default 25)\n"
	    "  -m PEERS   which newcomer to time (default 1,100,1000)\n");
	exit(1);
}

static size_t
parse_marks(const char *s, unsigned long *marks)
{
	char buf[256], *tok, *save;
	size_t n = 0;

	if (strlen(s) >= sizeof(buf))
		errx(1, "-m %s: too long; give a few peer numbers", s);
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (n == MARKS_MAX)
			errx(1, "-m: at most %d peer numbers", MARKS_MAX);
		marks[n] = bench_num('m', tok, 1, 65536);
		if (n > 0 && marks[n] <= marks[n - 1])
			errx(1, "-m %s: peer numbers must increase", s);
		n++;
	}
	if (n == 0)
		usage();
	return n;
}

/* One socket and one spare per peer, plus what a greeting holds briefly. */
static void
raise_nofile(unsigned long peers)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)peers + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(2, "getrlimit");
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < need)
		errx(1, "%lu peers need %llu descriptors, the limit is %llu; "
		    "raise ulimit -n", peers, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
}

/*
 * One notice: an arrival carries an eventfd, a departure none.  The
 * server may tell a peer of the departure of one it never announced to
 * it, when that peer's hang-up raced the newcomer's connect (QEMU shrugs
 * it off); such a departure is not owed and not counted.
 */
static void
take_notice(struct crowd *c, struct bpeer *p)
{
	struct greet_msg m;

	if (bpeer_next(p, &m) == 0)
		errx(2, "the server dropped a peer; see its log");
	if (m.kind == GREET_VECTOR) {
		close(m.fd);
		c->owed_fd--;
	} else if (c->owed_gone > 0)
		c->owed_gone--;
}

/* Read notices until none is owed. */
static void
drain(struct crowd *c)
{
	struct epoll_event ev[64];
	int i, n;

	while (c->owed_fd > 0 || c->owed_gone > 0) {
		n = epoll_wait(c->epfd, ev, 64, DRAIN_WAIT_MS);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(2, "epoll_wait");
		if (n == 0)
			errx(2, "%lld arrival and %lld departure notices never "
			    "came; see the server log", (long long)c->owed_fd,
			    (long long)c->owed_gone);
		for (i = 0; i < n; i++)
			take_notice(c, &c->peers[ev[i].data.u64]);
	}
	if (c->owed_fd < 0)
		errx(2, "more arrival notices than expected; is another "
		    "peer using this server?");
}

/* Every earlier peer hears of a newcomer's nvec fds, and maybe of its
 * leaving. */
static void
owe_notices(struct crowd *c, int leaving)
{
	c->owed_fd += (int64_t)c->n * c->nvec;
	c->owed_gone += leaving ? (int64_t)c->n : 0;
}

/* Time one newcomer from connect() to its own eventfds; ns. */
static int64_t
newcomer(struct crowd *c, struct bpeer *p)
{
	int64_t t0;
	int s;

	s = bench_socket();
	t0 = bench_now_ns();
	bpeer_join(p, s, &c->sa, c->nvec, NULL, NULL);
	return bench_now_ns() - t0;
}

static void
stay(struct crowd *c, struct bpeer *p)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fl;

	fl = fcntl(p->sock, F_GETFL);
	if (fl == -1 || fcntl(p->sock, F_SETFL, fl | O_NONBLOCK) == -1)
		err(2, "fcntl");
	ev.data.u64 = c->n;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, p->sock, &ev) == -1)
		err(2, "epoll_ctl");
	owe_notices(c, 0);
	c->peers[c->n++] = *p;
	drain(c);
}

/* Other peers' eventfds in a greeting: closed, counted. */
static void
count_other(void *arg, int64_t id, int fd)
{
	(void)id;
	close(fd);
	++*(size_t *)arg;
}

/*
 * A peer that joins before the server has seen the last timed newcomer
 * hang up may be greeted with it too, and then hears of its leaving
 * later: the server orders a hang-up and a connect on different sockets
 * as it likes.
 */
static void
grow_to(struct crowd *c, size_t n)
{
	struct bpeer p;
	size_t fds, stale;

	while (c->n < n) {
		fds = 0;
		bpeer_join(&p, bench_socket(), &c->sa, c->nvec, count_other,
		    &fds);
		stale = fds / c->nvec > c->n ? fds / c->nvec - c->n : 0;
		c->owed_gone += (int64_t)stale;
		/* Its own eventfds are not needed to stay connected. */
		bpeer_close_vectors(&p);
		stay(c, &p);
	}
}

static void
report(const char *what, int64_t *ns, size_t n, int64_t base)
{
	int64_t med = bench_pctl(ns, n, 50), p90 = bench_pctl(ns, n, 90);

	printf("%s reps=%zu median_ns=%lld p90_ns=%lld ratio=%.1f\n", what,
	    n, (long long)med, (long long)p90,
	    base > 0 ? (double)med / (double)base : 1.0);
	fflush(stdout);
}

/* Floor: one message with an eventfd across a socketpair; its ratio is 1. */
static int64_t
baseline(size_t reps)
{
	int64_t *ns, t0, v, med;
	size_t i;
	int sp[2], efd, fd;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		err(2, "socketpair");
	if ((efd = eventfd(0, EFD_CLOEXEC)) == -1)
		err(2, "eventfd");
	if ((ns = calloc(reps, sizeof(*ns))) == NULL)
		err(2, "calloc");
	for (i = 0; i < reps; i++) {
		t0 = bench_now_ns();
		if (scm_send(sp[0], SCM_PROTO_V0, 7, efd) == -1 ||
		    scm_recv(sp[1], SCM_PROTO_V0, &v, &fd) != 1 || v != 7 ||
		    fd == SCM_NO_FD)
			err(2, "socketpair baseline");
		close(fd);
		ns[i] = bench_now_ns() - t0;
	}
	report("baseline=msg_fd_socketpair", ns, reps, 0);
	med = bench_pctl(ns, reps, 50);
	free(ns);
	close(efd);
	close(sp[0]);
	close(sp[1]);
	return med;
}

static void
time_mark(struct crowd *c, unsigned long mark, size_t reps, int64_t base)
{
	struct bpeer p;
	int64_t *ns;
	char what[32];
	size_t i;

	grow_to(c, mark - 1);
	if ((ns = calloc(reps, sizeof(*ns))) == NULL)
		err(2, "calloc");
	for (i = 0; i < reps; i++) {
		ns[i] = newcomer(c, &p);
		bpeer_leave(&p);
		owe_notices(c, 1);
		drain(c);
	}
	snprintf(what, sizeof(what), "peer=%lu", mark);
	report(what, ns, reps, base);
	free(ns);
}

int
main(int argc, char **argv)
{
	unsigned long marks[MARKS_MAX] = { 1, 100, 1000 };
	const char *path = "/tmp/ivshmem_socket";
	struct crowd c = { .nvec = 1 };
	size_t nmarks = 3, reps = 25, i;
	int64_t base;
	int ch;

	if (strncmp(argv[0], TOOL_NAME, strlen(TOOL_NAME)) != 0) {
		argv[0] = TOOL_NAME;
		execv("/proc/self/exe", argv);	/* else: carry on as we are */
	}
	while ((ch = getopt(argc, argv, "m:n:p:r:")) != -1) {
		switch (ch) {
		case 'm':
			nmarks = parse_marks(optarg, marks);
			break;
		case 'n':
			c.nvec = bench_num('n', optarg, 1, BENCH_VECTORS_MAX);
			break;
		case 'p':
			path = optarg;
			break;
		case 'r':
			reps = bench_num('r', optarg, 1, 100000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	bench_sockaddr(path, &c.sa);
	raise_nofile(marks[nmarks - 1]);
	if ((c.peers = calloc(marks[nmarks - 1], sizeof(*c.peers))) == NULL)
		err(2, "calloc");
	if ((c.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(2, "epoll_create1");
	printf("connect_latency vectors=%u reps=%zu\n", c.nvec, reps);
	base = baseline(reps * 20);
	for (i = 0; i < nmarks; i++)
		time_mark(&c, marks[i], reps, base);
	for (i = 0; i < c.n; i++)
		close(c.peers[i].sock);
	free(c.peers);
	close(c.epfd);
	return 0;
}
