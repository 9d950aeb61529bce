/*
 * benchlib.c - clock, statistics, options and joining a server as a peer
 * (through lib/greet), shared by the benchmarks.  See benchlib.h.
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

/* One message; EOF or an error is fatal during the greeting. */
static void
recv_msg(struct bpeer *p, struct greet_msg *m)
{
	char err[256];

	if (greet_recv(&p->g, p->sock, m, err, sizeof(err)) != 1)
		errx(2, "%s", err);
}

void
bpeer_join(struct bpeer *p, int sock,
    const struct sockaddr_un *sa, unsigned int nvec, bpeer_other_fn other,
    void *arg)
{
	struct greet_msg m;

	p->sock = sock;
	p->nvec = nvec;
	p->id = -1;
	if (greet_init(&p->g, SCM_PROTO_V0, nvec, NULL, 0) == -1)
		errx(1, "-n %u: give 1 to %d", nvec, BENCH_VECTORS_MAX);
	if (connect(sock, (const struct sockaddr *)sa, sizeof(*sa)) == -1)
		err(2, "connect %s (is tm_ivshmem_server running there?)",
		    sa->sun_path);
	while (!greet_synced(&p->g)) {
		recv_msg(p, &m);
		if (m.kind == GREET_ID)
			p->id = m.id;
		else if (m.kind == GREET_REGION)
			close(m.fd);
		else if (m.kind == GREET_VECTOR && m.own)
			p->own[m.vec] = m.fd;
		else if (m.kind == GREET_VECTOR && other != NULL)
			other(arg, m.id, m.fd);
		else if (m.kind == GREET_VECTOR)
			close(m.fd);
		/* A departure: someone left meanwhile. */
	}
}

int
bpeer_next(struct bpeer *p, struct greet_msg *m)
{
	char err[256];
	int rc;

	if ((rc = greet_recv(&p->g, p->sock, m, err, sizeof(err))) == -1)
		errx(2, "peer %lld: %s", (long long)p->id, err);
	return rc;
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
