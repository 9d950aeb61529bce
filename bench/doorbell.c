/*
 * doorbell.c - doorbell round trip between two peers through the eventfds
 * the server handed out, against a raw eventfd pair in the same run.
 *
 * Peers A and B join the server.  A rings B's vector 0 with the fd A was
 * given for B; B (a child process) waits on its own vector 0 and rings A
 * back with the fd B was given for A; A waits on its own.  The raw case
 * runs the same ping-pong over two eventfds made here, non-blocking like
 * the server's.  Rounds alternate
 * raw and server so drift in a shared machine hits both alike; each
 * RTT is the median over rounds of a round's mean, and the ratio the
 * median of the rounds' server/raw ratios.
 *
 * Output: one "key=value ..." line per figure, for bench/run.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/eventfd.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench/benchlib.h"

#define WARMUP		200
#define HANG_SECONDS	60	/* a lost doorbell must not hang the run */

/* Both directions of one ping-pong. */
struct bell {
	int	ring_b;		/* A writes: B's vector 0 */
	int	wait_b;		/* B reads */
	int	ring_a;		/* B writes: A's vector 0 */
	int	wait_a;		/* A reads */
};

struct catch {
	int64_t	want;
	int	fd;
};

static void
usage(void)
{
	fprintf(stderr, "usage: doorbell [-p SOCKET] [-n VECTORS] "
	    "[-i ITERATIONS] [-r ROUNDS]\n"
	    "  -p SOCKET     server socket (default /tmp/ivshmem_socket)\n"
	    "  -n VECTORS    the server's -n (default 1)\n"
	    "  -i ITERATIONS round trips per round (default 20000)\n"
	    "  -r ROUNDS     rounds of each kind (default 5)\n");
	exit(1);
}

/* Keep the first eventfd of peer want (its vector 0). */
static void
catch_fd(void *arg, int64_t id, int fd)
{
	struct catch *c = arg;

	if (id == c->want && c->fd == -1)
		c->fd = fd;
	else
		close(fd);
}

static void
ring(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		err(2, "ringing an eventfd");
}

/* The server's eventfds are non-blocking, as QEMU wants them, so wait
 * the way QEMU's main loop does: poll, then read. */
static void
await(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t n;

	while (poll(&pfd, 1, -1) == -1)
		if (errno != EINTR)
			err(2, "poll");
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		err(2, "waiting on an eventfd");
	if (n != 1)
		errx(2, "an eventfd counted %llu rings, expected 1; is "
		    "another peer ringing?", (unsigned long long)n);
}

/* B's side: answer every ring, in a child. */
static void
answer(const struct bell *b, unsigned long n)
{
	unsigned long i;

	alarm(HANG_SECONDS);
	for (i = 0; i < n; i++) {
		await(b->wait_b);
		ring(b->ring_a);
	}
	_exit(0);
}

/* Mean round trip over iters, after a warm-up; ns. */
static double
round_trip(const struct bell *b, unsigned long iters)
{
	unsigned long i;
	int64_t t0 = 0;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == -1)
		err(2, "fork");
	if (pid == 0)
		answer(b, WARMUP + iters);
	alarm(HANG_SECONDS);
	for (i = 0; i < WARMUP + iters; i++) {
		if (i == WARMUP)
			t0 = bench_now_ns();
		ring(b->ring_b);
		await(b->wait_a);
	}
	t0 = bench_now_ns() - t0;
	alarm(0);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		errx(2, "the answering process failed");
	return (double)t0 / (double)iters;
}

/* A joins, then B (learning A's fds), then A hears of B's fds. */
static void
join_pair(const char *path, unsigned int nvec, struct bpeer *a,
    struct bpeer *b, struct bell *via)
{
	struct sockaddr_un sa;
	struct catch ca = { .fd = -1 }, cb = { .fd = -1 };
	struct greet_msg m;
	unsigned int i;

	bench_sockaddr(path, &sa);
	bpeer_join(a, bench_socket(), &sa, nvec, NULL, NULL);
	ca.want = a->id;
	bpeer_join(b, bench_socket(), &sa, nvec, catch_fd, &ca);
	cb.want = b->id;
	for (i = 0; i < nvec; i++) {
		if (bpeer_next(a, &m) != 1)
			errx(2, "the server hung up before peer %lld's connect "
			    "notice; see its log", (long long)b->id);
		if (m.kind != GREET_VECTOR)
			errx(2, "peer %d left where peer %lld's connect notice "
			    "belongs; is another peer using this server?",
			    m.id, (long long)b->id);
		catch_fd(&cb, m.id, m.fd);
	}
	if (ca.fd == -1 || cb.fd == -1)
		errx(2, "the server did not hand out both peers' eventfds; "
		    "is another peer using this server?");
	via->ring_b = cb.fd;
	via->wait_b = b->own[0];
	via->ring_a = ca.fd;
	via->wait_a = a->own[0];
}

int
main(int argc, char **argv)
{
	const char *path = "/tmp/ivshmem_socket";
	unsigned long iters = 20000, rounds = 5, r;
	unsigned int nvec = 1;
	struct bpeer a, b;
	struct bell via, raw;
	double tr[64], ts[64], q[64], mq;
	int ch;

	while ((ch = getopt(argc, argv, "i:n:p:r:")) != -1) {
		switch (ch) {
		case 'i':
			iters = bench_num('i', optarg, 1, 100000000);
			break;
		case 'n':
			nvec = bench_num('n', optarg, 1, BENCH_VECTORS_MAX);
			break;
		case 'p':
			path = optarg;
			break;
		case 'r':
			rounds = bench_num('r', optarg, 1, 64);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	join_pair(path, nvec, &a, &b, &via);
	if ((raw.wait_b = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (raw.wait_a = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		err(2, "eventfd");
	raw.ring_b = raw.wait_b;
	raw.ring_a = raw.wait_a;
	printf("doorbell peers=%lld,%lld iterations=%lu rounds=%lu\n",
	    (long long)a.id, (long long)b.id, iters, rounds);
	for (r = 0; r < rounds; r++) {
		tr[r] = round_trip(&raw, iters);
		ts[r] = round_trip(&via, iters);
		q[r] = ts[r] / tr[r];
		printf("round=%lu raw_ns=%.0f server_ns=%.0f ratio=%.2f\n",
		    r + 1, tr[r], ts[r], q[r]);
	}
	/* A round's pair ran back to back: its ratio cancels the drift. */
	mq = bench_median(q, rounds);
	printf("doorbell=raw_eventfd rtt_ns=%.0f\n", bench_median(tr, rounds));
	printf("doorbell=server_eventfd rtt_ns=%.0f ratio=%.2f\n",
	    bench_median(ts, rounds), mq);
	close(via.ring_a);
	close(via.ring_b);
	close(raw.wait_a);
	close(raw.wait_b);
	bpeer_leave(&a);
	bpeer_leave(&b);
	return 0;
}
