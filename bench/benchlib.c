/*
 * benchlib.c - clock, statistics, options and the greeting reader shared
 * by the benchmarks.  See benchlib.h.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "send_scm.h"

int64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int64_t
bench_pctl(int64_t *v, size_t n, unsigned int pct)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	rank = (n * pct + 99) / 100;	/* nearest rank, 1-based */
	return v[rank == 0 ? 0 : rank - 1];
}

unsigned long
bench_num(char opt, const char *s, unsigned long min,
    unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = isdigit((unsigned char)s[0]) ? strtoul(s, &end, 10) : 0;
	if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno != 0 ||
	    v < min || v > max)
		errx(1, "-%c %s: not a number from %lu to %lu; give one in "
		    "that range", opt, s, min, max);
	return v;
}

void
bench_sockaddr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		errx(1, "socket path %s is too long (max %zu bytes); use a "
		    "shorter -p", path, sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
}

int
bench_socket(void)
{
	int s;

	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(2, "socket; raise ulimit -n");
	return s;
}

/* One message; EOF or an error is fatal, the server never hangs up a
 * peer that is reading. */
static int64_t
recv_msg(int sock, int *fd)
{
	int64_t v;
	int rc;

	if ((rc = scm_recv(sock, SCM_PROTO_V0, &v, fd)) == 1)
		return v;
	if (rc == 0)
		errx(2, "the server hung up during the greeting; see its log");
	err(2, "receiving from the server");
}

static void
expect_head(struct bpeer *p)
{
	int64_t v;
	int fd;

	if ((v = recv_msg(p->sock, &fd)) != SCM_PROTOCOL_VERSION ||
	    fd != SCM_NO_FD)
		errx(2, "server sent version %lld, expected %d; start it "
		    "without -l", (long long)v, SCM_PROTOCOL_VERSION);
	p->id = recv_msg(p->sock, &fd);
	if (p->id == -1 && fd != SCM_NO_FD)
		errx(2, "the server speaks the pre-2.5 protocol; start it "
		    "without -l");
	if (p->id < 0 || fd != SCM_NO_FD)
		errx(2, "server sent a bad peer ID %lld", (long long)p->id);
	if ((v = recv_msg(p->sock, &fd)) != -1 || fd == SCM_NO_FD)
		errx(2, "server sent %lld instead of the region fd",
		    (long long)v);
	close(fd);
}

void
bpeer_join(struct bpeer *p, int sock,
    const struct sockaddr_un *sa, unsigned int nvec, bpeer_other_fn other,
    void *arg)
{
	unsigned int got = 0;
	int64_t v;
	int fd;

	p->sock = sock;
	p->nvec = nvec;
	if (connect(sock, (const struct sockaddr *)sa, sizeof(*sa)) == -1)
		err(2, "connect %s (is tm_ivshmem_server running there?)",
		    sa->sun_path);
	expect_head(p);
	while (got < nvec) {
		v = recv_msg(sock, &fd);
		if (v == p->id && fd == SCM_NO_FD)
			errx(2, "own ID %lld came without an eventfd",
			    (long long)v);
		if (v == p->id)
			p->own[got++] = fd;
		else if (fd == SCM_NO_FD)
			continue;	/* someone left meanwhile */
		else if (other != NULL)
			other(arg, v, fd);
		else
			close(fd);
	}
}

void
bpeer_close_vectors(struct bpeer *p)
{
	unsigned int i;

	for (i = 0; i < p->nvec; i++)
		close(p->own[i]);
	p->nvec = 0;
}

void
bpeer_leave(struct bpeer *p)
{
	bpeer_close_vectors(p);
	close(p->sock);
	p->sock = -1;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
