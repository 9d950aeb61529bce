/*
 * benchlib.h - what both benchmarks share: a clock, order statistics,
 * strict numeric options, and a peer that connects to the server and
 * reads its greeting the way QEMU's ivshmem-doorbell device does.
 *
 * The greeting is read and checked by the project's one reader
 * (lib/greet.h), every socket message through its wire layer (send_scm.h).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BENCHLIB_H
#define TM_BENCHLIB_H

#include <sys/un.h>

#include <stddef.h>
#include <stdint.h>

#include "lib/greet.h"

#define BENCH_VECTORS_MAX	GREET_VECTORS_MAX	/* as the server's -n */

/* What a peer learns from its greeting. */
struct bpeer {
	int		sock;
	int64_t		id;
	unsigned int	nvec;
	int		own[BENCH_VECTORS_MAX];	/* its own eventfds */
	struct greet	g;		/* reads what the server says */
};

/* Told about another peer's eventfd; owns fd from then on. */
typedef void	(*bpeer_other_fn)(void *arg, int64_t id, int fd);

int64_t	bench_now_ns(void);

/* Sort v in place; nearest-rank percentile pct (0..100] of n values. */
int64_t	bench_pctl(int64_t *v, size_t n, unsigned int pct);

/* Sort v in place; the median of its n values. */
double	bench_median(double *v, size_t n);

/* A number in [min, max], or exit 1 naming the option and the range. */
unsigned long bench_num(char opt, const char *s, unsigned long min,
	    unsigned long max);

/* Fill *sa for path, or exit 1 if it does not fit in sun_path. */
void	bench_sockaddr(const char *path, struct sockaddr_un *sa);

/* A fresh, unconnected AF_UNIX stream socket, or exit 2. */
int	bench_socket(void);

/*
 * connect() sock to the server, then read the version-0 greeting until the
 * peer's own ID has arrived nvec times with fds.  Other peers' eventfds go
 * to other (closed when other is NULL); the region fd is closed.  Exits 2
 * with a message on any protocol or socket error.
 */
void	bpeer_join(struct bpeer *, int sock, const struct sockaddr_un *,
	    unsigned int nvec, bpeer_other_fn other, void *arg);

/*
 * After the join: the next notice (blocking), an arrival (GREET_VECTOR,
 * m->fd is the caller's) or a departure (GREET_LEFT).  Returns 1, or 0
 * when the server hung up; exits 2 on a protocol or socket error.
 */
int	bpeer_next(struct bpeer *, struct greet_msg *m);

/* Close the peer's own eventfds but stay connected. */
void	bpeer_close_vectors(struct bpeer *);

/* Close the peer's eventfds and socket: the server sees it leave. */
void	bpeer_leave(struct bpeer *);

#endif /* TM_BENCHLIB_H */
