/*
 * ring_bench.c - NIC ring throughput between two processes that map the
 * same file, against plain memcpy of the same frames in the same run.
 *
 * The parent formats a region file (MAP_SHARED) with ring_format() and
 * produces on slot 0's TX ring as the NIC side; a forked child opens and
 * maps the file itself, ring_attach()es and consumes as the bridge side.
 * Both go through the ring.h API the way the bridge does: reserve, copy
 * the frame in, push, commit once per batch, then ring_wakeup_needed();
 * peek, copy the frame out, check it, next, commit once per batch.  Both
 * busy-poll: no doorbell is ever armed, so none is rung.
 *
 * Baselines, timed in the same rounds:
 *  memcpy  one process copies each frame into a pool as large as the
 *          ring's buffers (one copy per frame, on the producer's CPU).
 *          This is the "plain memcpy" and the one the 70% goal
 *          is measured against.
 *  bare    the same two processes and the same slot layout (slot 1),
 *          but a minimal unchecked SPSC ring inlined here: it shows what
 *          the API's checks and calls cost on top of the cross-CPU
 *          traffic that any shared-memory ring pays.  It reads only
 *          memory its own parent wrote; nothing else must copy it.
 *
 * The producer and the consumer are pinned to the first two CPUs we may
 * run on (sched_setaffinity), when there are two.
 *
 * Output: one "key=value ..." line per figure, for bench/run.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "mqbridge/slot/ring.h"
#include "mqbridge/slot/ring_check.h"

#define ROUNDS_MAX	32
#define STALL_NS	20000000000LL	/* a stuck peer must not hang a run */
#define SPIN_CHECK	(1u << 16)	/* idle polls between clock reads */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax()	__builtin_ia32_pause()
#else
#define cpu_relax()	do { } while (0)
#endif

enum kind { K_QUIT = 0, K_RING = 1, K_BARE = 2, K_MEMCPY = 3 };

struct cmd {
	uint32_t	kind;
	uint32_t	pad;
	uint64_t	n;
};

struct reply {
	int64_t		end_ns;
	uint64_t	bad;		/* frames with a wrong length or seq */
};

/* One run's settings, shared by both processes. */
struct cfg {
	const char	*dir;
	uint32_t	 size;		/* frame bytes */
	uint32_t	 mtu;
	uint32_t	 ring_size;
	uint32_t	 batch;
	int64_t		 target_ns;	/* per measurement */
	int		 cpu[2];	/* producer, consumer; -1: unpinned */
	int		 yield;		/* one CPU only: yield when idle */
};

/* The minimal ring: the same words and buffers as a ring.h slot. */
struct bare {
	_Atomic uint32_t *own, *peer;
	_Atomic uint64_t *desc;
	unsigned char	*bufs;
	uint32_t	 mask, buf_size, head, seen;
};

static void
usage(void)
{
	fprintf(stderr, "usage: ring_bench [-d DIR] [-s SIZE] [-t MS] "
	    "[-r RING] [-b BATCH] [-R ROUNDS]\n"
	    "  -d DIR     where the region file goes (default /tmp)\n"
	    "  -s SIZE    one frame size, 14..9234 (default 64, 1500, 9000)\n"
	    "  -t MS      milliseconds per measurement (default 200)\n"
	    "  -r RING    descriptors per ring, a power of 2 (default 256)\n"
	    "  -b BATCH   frames per commit (default 32)\n"
	    "  -R ROUNDS  rounds of memcpy, ring, bare (default 3)\n");
	exit(1);
}

static void
idle(const struct cfg *c, unsigned int *spins, int64_t since)
{
	cpu_relax();
	if (c->yield)
		sched_yield();
	if (++*spins % SPIN_CHECK == 0 && bench_now_ns() - since > STALL_NS)
		errx(2, "the other process stalled for %lld s; is it alive?",
		    STALL_NS / 1000000000LL);
}

static void
pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		warn("sched_setaffinity cpu %d; running unpinned", cpu);
}

/* The first two CPUs we may use, or -1s (and yielding) with fewer. */
static void
pick_cpus(struct cfg *c)
{
	cpu_set_t set;
	int i, n = 0;

	c->cpu[0] = c->cpu[1] = -1;
	if (sched_getaffinity(0, sizeof(set), &set) == -1) {
		warn("sched_getaffinity; running unpinned");
		return;
	}
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			c->cpu[n++] = i;
	if (n < 2) {
		c->cpu[0] = c->cpu[1] = -1;
		c->yield = 1;
	}
}

/* ---- Frames ---------------------------------------------------------- */

/* Each frame carries its sequence number in its first 8 bytes. */
static void
stamp(unsigned char *buf, const unsigned char *tmpl, uint32_t size,
    uint64_t seq)
{
	memcpy(buf, tmpl, size);
	memcpy(buf, &seq, sizeof(seq));
}

static uint64_t
verify(const unsigned char *copy, uint32_t len, uint32_t size, uint64_t seq)
{
	uint64_t got;

	memcpy(&got, copy, sizeof(got));
	return len != size || got != seq;
}

/* ---- The ring.h API -------------------------------------------------- */

static void
ring_fail(struct ring *r, int rc)
{
	char why[160];

	ring_describe(r, why, sizeof(why));
	errx(2, "%s: %s", ring_strerror(rc), why);
}

static void
produce_ring(const struct cfg *c, struct ring *r, const unsigned char *tmpl,
    uint64_t *seq, uint64_t n)
{
	unsigned char *buf;
	unsigned int spins = 0;
	uint64_t end = *seq + n;
	int64_t t0 = bench_now_ns();
	uint32_t k;
	int rc;

	while (*seq < end) {
		for (k = 0; k < c->batch && *seq < end; k++) {
			if ((rc = ring_reserve(r, &buf)) < 0)
				ring_fail(r, rc);
			if (rc == 0)
				break;
			stamp(buf, tmpl, c->size, (*seq)++);
			if ((rc = ring_push(r, c->size)) < 0)
				ring_fail(r, rc);
		}
		if (k == 0) {
			idle(c, &spins, t0);
			continue;
		}
		ring_commit(r);
		/* The bridge's doorbell check; the consumer never arms. */
		if (ring_wakeup_needed(r))
			errx(2, "the consumer asked for a doorbell; it never "
			    "arms one in this benchmark");
	}
}

static uint64_t
consume_ring(const struct cfg *c, struct ring *r, unsigned char *out,
    uint64_t *seq, uint64_t n)
{
	struct ring_frame f;
	unsigned int spins = 0;
	uint64_t end = *seq + n, bad = 0;
	int64_t t0 = bench_now_ns();
	uint32_t k;
	int rc;

	while (*seq < end) {
		for (k = 0; k < c->batch && *seq < end; k++) {
			if ((rc = ring_peek(r, &f)) < 0)
				ring_fail(r, rc);
			if (rc == 0)
				break;
			memcpy(out, f.data, f.len);
			bad += verify(out, f.len, c->size, (*seq)++);
			ring_next(r);
		}
		if (k == 0) {
			idle(c, &spins, t0);
			continue;
		}
		ring_commit(r);
	}
	return bad;
}

/* ---- The bare baseline ----------------------------------------------- */

static void
bare_open(struct bare *b, const struct ring_area *a, int producer)
{
	struct ring_slot *s = ring_slot_at(a, 1);
	const struct ring_geom *g = &a->geom;

	b->own = producer ? &s->tx_prod.idx : &s->tx_cons.idx;
	b->peer = producer ? &s->tx_cons.idx : &s->tx_prod.idx;
	b->desc = (_Atomic uint64_t *)((unsigned char *)s + g->tx_desc_off);
	b->bufs = (unsigned char *)s + g->tx_buf_off;
	b->mask = g->p.tx_size - 1;
	b->buf_size = g->buf_size;
	b->head = b->seen = 0;
}

static void
produce_bare(const struct cfg *c, struct bare *b, const unsigned char *tmpl,
    uint64_t *seq, uint64_t n)
{
	unsigned int spins = 0;
	uint64_t end = *seq + n;
	int64_t t0 = bench_now_ns();
	uint32_t k, i;

	while (*seq < end) {
		for (k = 0; k < c->batch && *seq < end; k++) {
			if (b->head - b->seen > b->mask) {
				b->seen = atomic_load_explicit(b->peer,
				    memory_order_acquire);
				if (b->head - b->seen > b->mask)
					break;
			}
			i = b->head++ & b->mask;
			stamp(b->bufs + (size_t)i * b->buf_size, tmpl,
			    c->size, (*seq)++);
			atomic_store_explicit(&b->desc[i], c->size,
			    memory_order_relaxed);
		}
		if (k == 0) {
			idle(c, &spins, t0);
			continue;
		}
		atomic_store_explicit(b->own, b->head, memory_order_release);
		atomic_thread_fence(memory_order_seq_cst);
	}
}

static uint64_t
consume_bare(const struct cfg *c, struct bare *b, unsigned char *out,
    uint64_t *seq, uint64_t n)
{
	unsigned int spins = 0;
	uint64_t end = *seq + n, bad = 0;
	int64_t t0 = bench_now_ns();
	uint32_t k, i, len;

	while (*seq < end) {
		for (k = 0; k < c->batch && *seq < end; k++) {
			if (b->head == b->seen) {
				b->seen = atomic_load_explicit(b->peer,
				    memory_order_acquire);
				if (b->head == b->seen)
					break;
			}
			i = b->head++ & b->mask;
			len = (uint32_t)atomic_load_explicit(&b->desc[i],
			    memory_order_relaxed);
			if (len > b->buf_size)
				errx(2, "bare ring: length %u; only our own "
				    "parent writes this slot", len);
			memcpy(out, b->bufs + (size_t)i * b->buf_size, len);
			bad += verify(out, len, c->size, (*seq)++);
		}
		if (k == 0) {
			idle(c, &spins, t0);
			continue;
		}
		atomic_store_explicit(b->own, b->head, memory_order_release);
	}
	return bad;
}

/* ---- The memcpy baseline --------------------------------------------- */

static int64_t
run_memcpy(const struct cfg *c, unsigned char *pool, uint32_t buf_size,
    const unsigned char *tmpl, uint64_t n)
{
	uint32_t mask = c->ring_size - 1;
	int64_t t0 = bench_now_ns();
	uint64_t i;

	for (i = 0; i < n; i++)
		stamp(pool + (size_t)(i & mask) * buf_size, tmpl, c->size, i);
	/* The pool is never read: keep the copies anyway. */
	__asm__ volatile("" : : "r"(pool) : "memory");
	return bench_now_ns() - t0;
}

/* ---- The two processes ----------------------------------------------- */

static void *
map_file(int fd, uint64_t len)
{
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		err(2, "mmap %llu bytes of the region file",
		    (unsigned long long)len);
	return p;
}

static void
xread(int fd, void *buf, size_t len, const char *what)
{
	ssize_t got;

	while ((got = read(fd, buf, len)) == -1 && errno == EINTR)
		;
	if (got == 0)
		errx(2, "the %s hung up; see its message above", what);
	if (got != (ssize_t)len)
		err(2, "reading from the %s", what);
}

static void
xwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		err(2, "writing to the other process");
}

/* The consumer: maps the file on its own, then serves commands. */
static void
consumer(const struct cfg *c, const char *path, uint64_t area_size,
    int in, int out)
{
	struct ring_params p;
	struct ring_area a;
	struct ring r;
	struct bare b;
	struct cmd cmd;
	struct reply rep;
	unsigned char *frame;
	uint64_t seq_ring = 0, seq_bare = 0;
	int fd, rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin(c->cpu[1]);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		err(2, "consumer: open %s", path);
	ring_params_default(&p);
	p.slot_count = 2;
	p.tx_size = p.rx_size = c->ring_size;
	p.mtu = c->mtu;
	rc = ring_attach(&a, map_file(fd, area_size), area_size, 0, &p);
	if (rc != RING_OK)
		errx(2, "consumer: ring_attach: %s", ring_strerror(rc));
	if ((rc = ring_open(&r, &a, 0, RING_TX, RING_BRIDGE)) != RING_OK)
		errx(2, "consumer: ring_open: %s", ring_strerror(rc));
	bare_open(&b, &a, 0);
	if ((frame = malloc(a.geom.frame_max)) == NULL)
		err(2, "malloc");
	memset(&rep, 0, sizeof(rep));
	xwrite(out, &rep, sizeof(rep));		/* attached: unlink it */
	for (;;) {
		xread(in, &cmd, sizeof(cmd), "producer");
		if (cmd.kind == K_QUIT)
			_exit(0);
		if (cmd.kind == K_RING)
			rep.bad = consume_ring(c, &r, frame, &seq_ring, cmd.n);
		else
			rep.bad = consume_bare(c, &b, frame, &seq_bare, cmd.n);
		rep.end_ns = bench_now_ns();
		xwrite(out, &rep, sizeof(rep));
	}
}

/* The producer's end of one size: the area, the child, the pool. */
struct run {
	const struct cfg *c;
	struct ring_area a;
	struct ring	 r;
	struct bare	 b;
	unsigned char	*tmpl, *pool;
	uint64_t	 seq_ring, seq_bare;
	pid_t		 child;
	int		 to, from;
};

static void
run_setup(struct run *u, const struct cfg *c)
{
	struct ring_params p;
	struct ring_geom g;
	struct reply rep;
	char path[4096];
	int fd, rc, fmt, tochild[2], fromchild[2];

	memset(u, 0, sizeof(*u));
	u->c = c;
	ring_params_default(&p);
	p.slot_count = 2;
	p.tx_size = p.rx_size = c->ring_size;
	p.mtu = c->mtu;
	if ((rc = ring_geom_init(&g, &p)) != RING_OK)
		errx(1, "ring of %u descriptors at MTU %u: %s", c->ring_size,
		    c->mtu, ring_strerror(rc));
	if ((size_t)snprintf(path, sizeof(path), "%s/tm-ring-bench.XXXXXX",
	    c->dir) >= sizeof(path))
		errx(1, "-d %s: too long; give a shorter directory", c->dir);
	if ((fd = mkstemp(path)) == -1)
		err(1, "mkstemp in %s; give a writable -d", c->dir);
	if (ftruncate(fd, (off_t)g.area_size) == -1)
		err(2, "ftruncate %s", path);
	rc = ring_format(&u->a, map_file(fd, g.area_size), g.area_size, 0,
	    &p, 0, &fmt);
	if (rc != RING_OK)
		errx(2, "ring_format: %s", ring_strerror(rc));
	if ((rc = ring_open(&u->r, &u->a, 0, RING_TX, RING_NIC)) != RING_OK)
		errx(2, "ring_open: %s", ring_strerror(rc));
	bare_open(&u->b, &u->a, 1);
	if (pipe2(tochild, O_CLOEXEC) == -1 || pipe2(fromchild, O_CLOEXEC) ==
	    -1)
		err(2, "pipe");
	fflush(stdout);
	if ((u->child = fork()) == -1)
		err(2, "fork");
	if (u->child == 0) {
		/* Our own mapping of the file, as an unrelated process. */
		munmap(u->a.base, g.area_size);
		close(fd);
		consumer(c, path, g.area_size, tochild[0], fromchild[1]);
	}
	close(fd);
	close(tochild[0]);
	close(fromchild[1]);
	u->to = tochild[1];
	u->from = fromchild[0];
	xread(u->from, &rep, sizeof(rep), "consumer");
	if (unlink(path) == -1)
		warn("unlink %s", path);
	u->tmpl = calloc(1, g.frame_max);
	u->pool = mmap(NULL, (size_t)g.buf_size * c->ring_size,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->tmpl == NULL || u->pool == MAP_FAILED)
		err(2, "allocating the memcpy pool");
	memset(u->pool, 0, (size_t)g.buf_size * c->ring_size);
	memset(u->tmpl, 0x5a, g.frame_max);
}

static void
run_done(struct run *u)
{
	struct cmd cmd = { .kind = K_QUIT };
	int st;

	xwrite(u->to, &cmd, sizeof(cmd));
	if (waitpid(u->child, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		errx(2, "the consumer process failed");
	close(u->to);
	close(u->from);
	munmap(u->a.base, u->a.geom.area_size);
	munmap(u->pool, (size_t)u->a.geom.buf_size * u->c->ring_size);
	free(u->tmpl);
}

/* n frames of one kind; elapsed ns, from the producer's start to the
 * consumer's last frame (CLOCK_MONOTONIC is system-wide). */
static int64_t
measure(struct run *u, enum kind k, uint64_t n)
{
	struct cmd cmd = { .kind = k, .n = n };
	struct reply rep;
	int64_t t0;

	if (k == K_MEMCPY)
		return run_memcpy(u->c, u->pool, u->a.geom.buf_size, u->tmpl,
		    n);
	xwrite(u->to, &cmd, sizeof(cmd));
	t0 = bench_now_ns();
	if (k == K_RING)
		produce_ring(u->c, &u->r, u->tmpl, &u->seq_ring, n);
	else
		produce_bare(u->c, &u->b, u->tmpl, &u->seq_bare, n);
	xread(u->from, &rep, sizeof(rep), "consumer");
	if (rep.bad != 0)
		errx(2, "%llu of %llu frames arrived damaged or out of order",
		    (unsigned long long)rep.bad, (unsigned long long)n);
	return rep.end_ns - t0;
}

/* Enough frames for the target time, from a warm-up that also faults
 * every page in. */
static uint64_t
calibrate(struct run *u, enum kind k)
{
	uint64_t n = 20000;
	int64_t ns = measure(u, k, n);
	double want = (double)n * (double)u->c->target_ns / (double)ns;

	return want < 1000 ? 1000 : (uint64_t)want;
}

static void
report(const char *key, uint32_t size, double *fps, size_t rounds,
    double *ratio)
{
	double f = bench_median(fps, rounds);

	printf("%s=%u fps=%.0f gbps=%.3f", key, size, f, f * size / 1e9);
	if (ratio != NULL)
		printf(" x_memcpy=%.3f", bench_median(ratio, rounds));
	printf("\n");
}

/* Rounds of memcpy, ring and bare back to back, so drift on a shared
 * machine hits all three alike; ratios are per round. */
static void
bench_size(const struct cfg *c, unsigned int rounds)
{
	static const enum kind kinds[3] = { K_MEMCPY, K_RING, K_BARE };
	double fps[3][ROUNDS_MAX], ratio[2][ROUNDS_MAX];
	uint64_t n[3];
	struct run u;
	unsigned int i, r;

	run_setup(&u, c);
	for (i = 0; i < 3; i++)
		n[i] = calibrate(&u, kinds[i]);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < 3; i++)
			fps[i][r] = (double)n[i] * 1e9 /
			    (double)measure(&u, kinds[i], n[i]);
		ratio[0][r] = fps[1][r] / fps[0][r];
		ratio[1][r] = fps[2][r] / fps[0][r];
		printf("round=%u size=%u memcpy_fps=%.0f ring_fps=%.0f "
		    "bare_fps=%.0f\n", r + 1, c->size, fps[0][r], fps[1][r],
		    fps[2][r]);
	}
	report("memcpy", c->size, fps[0], rounds, NULL);
	report("ring", c->size, fps[1], rounds, ratio[0]);
	report("bare", c->size, fps[2], rounds, ratio[1]);
	fflush(stdout);
	run_done(&u);
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 64, 1500, 9000 };
	struct cfg c = { .dir = "/tmp", .ring_size = RING_SIZE_DEFAULT,
	    .batch = 32, .target_ns = 200000000 };
	unsigned long rounds = 3, one = 0;
	size_t i;
	int ch;

	while ((ch = getopt(argc, argv, "b:d:r:R:s:t:")) != -1) {
		switch (ch) {
		case 'b':
			c.batch = bench_num('b', optarg, 1, RING_SIZE_MAX);
			break;
		case 'd':
			c.dir = optarg;
			break;
		case 'r':
			c.ring_size = bench_num('r', optarg, RING_SIZE_MIN,
			    RING_SIZE_MAX);
			if (c.ring_size & (c.ring_size - 1))
				errx(1, "-r %s: not a power of 2; give e.g. "
				    "256", optarg);
			break;
		case 'R':
			rounds = bench_num('R', optarg, 1, ROUNDS_MAX);
			break;
		case 's':
			one = bench_num('s', optarg, RING_FRAME_MIN,
			    RING_MTU_MAX + RING_FRAME_EXTRA);
			break;
		case 't':
			c.target_ns = (int64_t)bench_num('t', optarg, 1,
			    60000) * 1000000;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	pick_cpus(&c);
	pin(c.cpu[0]);
	printf("ring_bench ring=%u batch=%u rounds=%lu ms=%lld cpus=%d,%d\n",
	    c.ring_size, c.batch, rounds, (long long)(c.target_ns / 1000000),
	    c.cpu[0], c.cpu[1]);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		c.size = one != 0 ? one : sizes[i];
		/* The smallest standard MTU that carries the frame. */
		c.mtu = c.size <= RING_MTU_DEFAULT + RING_FRAME_EXTRA ?
		    RING_MTU_DEFAULT : c.size > 9000 + RING_FRAME_EXTRA ?
		    RING_MTU_MAX : 9000;
		bench_size(&c, rounds);
		if (one != 0)
			break;
	}
	return 0;
}
