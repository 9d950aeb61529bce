/*
 * ring_test.c - unit tests of the NIC ring API (mqbridge/slot/ring.c) and
 * of its validation of hostile shared memory (ring_check.c).
 * Over 800 lines: every test shares the fenced-slot fixtures below.
 *
 * "ring_test" runs every test, "ring_test NAME..." some, "-l" lists them.
 * Each prints "ok NAME" or its failed checks and "FAIL NAME"; the exit
 * status is 1 if any check failed.  A crash is a failure too: the hostile
 * tests fence the slot under test with PROT_NONE pages.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqbridge/slot/ring.h"
#include "mqbridge/slot/ring_check.h"
#include "mqbridge/slot/uplink.h"

static int failed;

static int
check(int ok, int line, const char *what, long long a, long long b, int eq)
{
	if (ok)
		return 1;
	if (eq)
		fprintf(stderr, "ring_test.c:%d: failed: %s (%lld != %lld)\n",
		    line, what, a, b);
	else
		fprintf(stderr, "ring_test.c:%d: failed: %s\n", line, what);
	failed = 1;
	return 0;
}

#define CHECK(c)	check(!!(c), __LINE__, #c, 0, 0, 0)
#define CHECK_EQ(a, b)	do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	check(a_ == b_, __LINE__, #a " == " #b, a_, b_, 1);		\
} while (0)
/* Setup that cannot go on: stop this test program. */
#define REQUIRE(c)	do { if (!check(!!(c), __LINE__, #c, 0, 0, 0)) \
	exit(1); } while (0)

struct fx {
	unsigned char	*map;
	size_t		 len;
	struct ring_area a;
};

static struct ring_params
params(uint32_t slots, uint32_t tx, uint32_t rx, uint32_t mtu)
{
	struct ring_params p = { slots, tx, rx, mtu };

	return p;
}

/* A freshly formatted area in shared anonymous memory (shared so that
 * forked children see it). */
static void
fx_open(struct fx *f, struct ring_params p)
{
	struct ring_geom g;
	int fmt;

	REQUIRE(ring_geom_init(&g, &p) == RING_OK);
	f->len = g.area_size;
	f->map = mmap(NULL, f->len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(f->map != MAP_FAILED);
	REQUIRE(ring_format(&f->a, f->map, f->len, 0, &p, 0, &fmt) ==
	    RING_OK && fmt == 1);
}

static void
fx_close(struct fx *f)
{
	munmap(f->map, f->len);
}

static void
fill(unsigned char *buf, uint32_t len, uint32_t seq)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(seq * 31 + i * 7);
	memcpy(buf, &seq, sizeof(seq));
}

static int
send_seq(struct ring *r, uint32_t len, uint32_t seq)
{
	unsigned char buf[RING_MTU_MAX + RING_FRAME_EXTRA];

	fill(buf, len, seq);
	return ring_send(r, buf, len);
}

/* 1 if the next frame is seq with length len. */
static int
recv_seq(struct ring *r, uint32_t len, uint32_t seq)
{
	unsigned char buf[RING_MTU_MAX + RING_FRAME_EXTRA];
	unsigned char want[RING_MTU_MAX + RING_FRAME_EXTRA];
	uint32_t got;

	fill(want, len, seq);
	return ring_recv(r, buf, sizeof(buf), &got) == 1 && got == len &&
	    memcmp(buf, want, len) == 0;
}

static void
open_pair(struct fx *f, uint32_t slot, enum ring_dir dir, struct ring *prod,
    struct ring *cons)
{
	enum ring_side ps = dir == RING_TX ? RING_NIC : RING_BRIDGE;

	REQUIRE(ring_open(prod, &f->a, slot, dir, ps) == RING_OK);
	REQUIRE(ring_open(cons, &f->a, slot, dir, !ps) == RING_OK);
}

/* ---- Geometry and the area ------------------------------------------ */

static void
t_layout(void)
{
	const struct ring_params bad[] = {
		{ 1, 100, 256, 1500 }, { 1, 256, 1, 1500 },
		{ 1, 65536, 256, 1500 }, { 0, 256, 256, 1500 },
		{ RING_SLOTS_MAX + 1, 256, 256, 1500 }, { 1, 256, 256, 67 },
		{ 1, 256, 256, 9217 },
	};
	struct ring_params p;
	struct ring_geom g;
	size_t i;

	/* The worked example in docs/ring-abi.md. */
	ring_params_default(&p);
	CHECK_EQ(ring_geom_init(&g, &p), RING_OK);
	CHECK_EQ(g.frame_max, 1518);
	CHECK_EQ(g.buf_size, 1536);
	CHECK_EQ(g.tx_desc_off, 896);
	CHECK_EQ(g.rx_desc_off, 2944);
	CHECK_EQ(g.tx_buf_off, 4992);
	CHECK_EQ(g.rx_buf_off, 398208);
	CHECK_EQ(g.slot_size, 794624);
	CHECK_EQ(g.area_size, 798720);
	p = params(4, 64, 64, 9000);
	CHECK_EQ(ring_geom_init(&g, &p), RING_OK);
	CHECK_EQ(g.frame_max, 9018);
	CHECK_EQ(g.buf_size, 9024);
	CHECK_EQ(g.slot_size % RING_PAGE, 0);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(ring_geom_init(&g, &bad[i]), RING_EGEOMETRY);
	/* The largest geometry still fits the 32-bit in-slot offsets. */
	p = params(RING_SLOTS_MAX, RING_SIZE_MAX, RING_SIZE_MAX, RING_MTU_MAX);
	CHECK_EQ(ring_geom_init(&g, &p), RING_OK);
	CHECK(g.rx_buf_off + (uint64_t)RING_SIZE_MAX * g.buf_size <=
	    g.slot_size);
}

/* Also the generation: a reformat under an attached party. */
static void
t_format_keep(void)
{
	struct ring_params other = params(1, 128, 256, 1500);
	struct ring tx, rx;
	struct ring_area b;
	struct fx f;
	uint64_t gen;
	int fmt;

	fx_open(&f, params(1, 256, 256, 1500));
	gen = f.a.generation;
	CHECK(gen != 0);
	open_pair(&f, 0, RING_TX, &tx, &rx);
	CHECK_EQ(send_seq(&tx, 60, 1), 1);
	/* Formatting again keeps the area and its frames. */
	CHECK_EQ(ring_format(&b, f.map, f.len, 0, &f.a.geom.p, 0, &fmt),
	    RING_OK);
	CHECK_EQ(fmt, 0);
	CHECK_EQ(b.generation, gen);
	CHECK(recv_seq(&rx, 60, 1));
	CHECK_EQ(send_seq(&tx, 60, 2), 1);
	CHECK_EQ(ring_format(&b, f.map, f.len, 0, &other, 0, &fmt),
	    RING_EMISMATCH);
	CHECK_EQ(ring_area_live(&f.a), RING_OK);
	/* Forced: a new generation and empty rings. */
	CHECK_EQ(ring_format(&b, f.map, f.len, 0, &other, 1, &fmt), RING_OK);
	CHECK_EQ(fmt, 1);
	CHECK_EQ(b.generation, gen + 1);
	CHECK_EQ(ring_area_live(&f.a), RING_EGENERATION);
	CHECK_EQ(ring_area_live(&b), RING_OK);
	/* A generation poked back to the old one is caught by the new. */
	atomic_store(&((struct ring_hdr *)f.map)->generation, gen);
	CHECK_EQ(ring_area_live(&b), RING_EGENERATION);
	atomic_store(&((struct ring_hdr *)f.map)->generation, gen + 1);
	REQUIRE(ring_open(&rx, &b, 0, RING_TX, RING_BRIDGE) == RING_OK);
	CHECK_EQ(ring_recv(&rx, (unsigned char[9300]){ 0 }, 9300,
	    &(uint32_t){ 0 }), 0);
	fx_close(&f);
}

static void
t_format_confined(void)
{
	struct ring_params p = params(2, 16, 16, 1500);
	struct ring_area a;
	struct ring_geom g;
	unsigned char *m;
	size_t len, off = 3 * RING_PAGE, i;
	int fmt, outside = 0;

	REQUIRE(ring_geom_init(&g, &p) == RING_OK);
	len = off + g.area_size + 2 * RING_PAGE;
	m = malloc(len);
	REQUIRE(m != NULL);
	memset(m, 0xa5, len);
	/* Someone else's data where the header would go: refused. */
	CHECK_EQ(ring_format(&a, m + off, len - off, off, &p, 0, &fmt),
	    RING_EFOREIGN);
	CHECK_EQ(m[off + 100], 0xa5);
	memset(m + off, 0, RING_HDR_SIZE);
	CHECK_EQ(ring_format(&a, m + off, len - off, off + 1, &p, 0, &fmt),
	    RING_EPARAM);
	CHECK_EQ(ring_format(&a, m + off, g.area_size - 1, off, &p, 0, &fmt),
	    RING_EPLACE);
	CHECK_EQ(ring_format(&a, m + off, len - off, off, &p, 0, &fmt),
	    RING_OK);
	/* Nothing outside [off, off + area_size) was touched. */
	for (i = 0; i < len; i++)
		if ((i < off || i >= off + g.area_size) && m[i] != 0xa5)
			outside++;
	CHECK_EQ(outside, 0);
	/* The header records where it lives: attaching elsewhere fails. */
	CHECK_EQ(ring_attach(&a, m + off, len - off, off, &p), RING_OK);
	CHECK_EQ(ring_attach(&a, m + off, len - off, 0, &p), RING_EPLACE);
	CHECK_EQ(ring_probe(m + off, off, &g), RING_OK);
	CHECK_EQ(g.p.slot_count, 2);
	free(m);
}

/* A hostile write of one shared word, and the error it must cause. */
struct poke {
	size_t	 off;		/* of the word */
	int	 wide;		/* 64-bit word */
	uint64_t value;
	int	 want;
};

static void
poke(void *base, const struct poke *c)
{
	unsigned char *p = (unsigned char *)base + c->off;

	if (c->wide)
		atomic_store((_Atomic uint64_t *)p, c->value);
	else
		atomic_store((_Atomic uint32_t *)p, (uint32_t)c->value);
}

#define HF(f)	offsetof(struct ring_hdr, f)

static void
t_hostile_header(void)
{
	const struct poke cases[] = {
		{ HF(magic), 1, RING_MAGIC ^ 1, RING_ENOAREA },
		{ HF(magic), 1, 0, RING_ENOAREA },
		{ HF(abi_version), 0, 2, RING_EVERSION },
		{ HF(hdr_size), 0, 8192, RING_EGEOMETRY },
		{ HF(slot_count), 0, 0, RING_EGEOMETRY },
		{ HF(slot_count), 0, 3, RING_EGEOMETRY },
		{ HF(slot_count), 0, 0xffffffff, RING_EGEOMETRY },
		{ HF(tx_size), 0, 100, RING_EGEOMETRY },
		{ HF(rx_size), 0, 0x80000000u, RING_EGEOMETRY },
		{ HF(mtu), 0, 9000, RING_EGEOMETRY },
		{ HF(mtu), 0, 0xffffffff, RING_EGEOMETRY },
		{ HF(buf_size), 0, 1 << 20, RING_EGEOMETRY },
		{ HF(slot_size), 1, 1ULL << 40, RING_EGEOMETRY },
		{ HF(area_size), 1, UINT64_MAX, RING_EGEOMETRY },
		{ HF(tx_buf_off), 0, 0, RING_EGEOMETRY },
		{ HF(rx_desc_off), 0, 0xfffffff0, RING_EGEOMETRY },
		{ HF(flags), 0, 1, RING_EGEOMETRY },
		{ HF(generation), 1, 0, RING_EGEOMETRY },
		{ HF(area_offset), 1, 4096, RING_EPLACE },
	};
	struct ring_params p = params(2, 64, 64, 1500), big;
	struct ring_area a, b;
	struct fx f;
	size_t i;
	int fmt;

	fx_open(&f, p);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		REQUIRE(ring_format(&a, f.map, f.len, 0, &p, 1, &fmt) == 0);
		poke(f.map, &cases[i]);
		if (ring_attach(&b, f.map, f.len, 0, NULL) != cases[i].want ||
		    ring_area_live(&a) != (cases[i].want == RING_ENOAREA ?
		    RING_EGENERATION : cases[i].want)) {
			fprintf(stderr, "header case %zu: attach %d live %d, "
			    "want %d\n", i, ring_attach(&b, f.map, f.len, 0,
			    NULL), ring_area_live(&a), cases[i].want);
			failed = 1;
		}
		/* Without force a damaged header is never overwritten. */
		CHECK(ring_format(&b, f.map, f.len, 0, &p, 0, &fmt) != 0);
	}
	/* A consistent header for an area larger than the mapping. */
	REQUIRE(ring_format(&a, f.map, f.len, 0, &p, 1, &fmt) == 0);
	CHECK_EQ(ring_attach(&b, f.map, f.len - 1, 0, NULL), RING_EPLACE);
	CHECK_EQ(ring_attach(&b, f.map, 100, 0, NULL), RING_EPLACE);
	big = params(1, 64, 64, 1500);
	CHECK_EQ(ring_attach(&b, f.map, f.len, 0, &big), RING_EMISMATCH);
	CHECK_EQ(ring_attach(&b, f.map, f.len, 0, &p), RING_OK);
	fx_close(&f);
}

/* ---- Frames --------------------------------------------------------- */

static void
t_frames(uint32_t mtu)
{
	unsigned char buf[RING_MTU_MAX + RING_FRAME_EXTRA];
	uint32_t max = mtu + RING_FRAME_EXTRA, got;
	struct ring tx, rx;
	struct fx f;

	fx_open(&f, params(1, 8, 8, mtu));
	open_pair(&f, 0, RING_TX, &tx, &rx);
	CHECK_EQ(send_seq(&tx, max, 7), 1);
	CHECK_EQ(send_seq(&tx, mtu + RING_ETH_HLEN, 8), 1);
	CHECK_EQ(send_seq(&tx, RING_FRAME_MIN, 9), 1);
	CHECK(recv_seq(&rx, max, 7));
	CHECK(recv_seq(&rx, mtu + RING_ETH_HLEN, 8));
	CHECK(recv_seq(&rx, RING_FRAME_MIN, 9));
	CHECK_EQ(send_seq(&tx, max + 1, 10), RING_EPARAM);
	CHECK_EQ(send_seq(&tx, RING_FRAME_MIN - 1, 10), RING_EPARAM);
	CHECK_EQ(ring_recv(&rx, buf, max - 1, &got), RING_EPARAM);
	CHECK_EQ(ring_recv(&rx, buf, sizeof(buf), &got), 0);
	fx_close(&f);
}

static void
t_frame_1500(void)
{
	t_frames(1500);
}

static void
t_frame_9000(void)
{
	t_frames(9000);
}

static void
t_full_and_wrap(void)
{
	struct ring_slot *s;
	struct ring tx, rx;
	uint32_t i, n;
	struct fx f;

	fx_open(&f, params(1, 8, 8, 1500));
	s = ring_slot_at(&f.a, 0);
	/* Stored indices just below 2^32: the ring must run across. */
	atomic_store(&s->tx_prod.idx, 0xfffffffcu);
	atomic_store(&s->tx_cons.idx, 0xfffffffcu);
	open_pair(&f, 0, RING_TX, &tx, &rx);
	for (i = 0; i < 8; i++)
		CHECK_EQ(send_seq(&tx, 100 + i, i), 1);
	CHECK_EQ(send_seq(&tx, 100, 99), 0);		/* full */
	CHECK_EQ(ring_space(&tx, &n), RING_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(ring_avail(&rx, &n), RING_OK);
	CHECK_EQ(n, 8);
	for (i = 0; i < 8; i++)
		CHECK(recv_seq(&rx, 100 + i, i));
	CHECK_EQ(atomic_load(&s->tx_cons.idx), 4);
	for (i = 0; i < 20; i++) {
		CHECK_EQ(send_seq(&tx, 60, i), 1);
		CHECK(recv_seq(&rx, 60, i));
	}
	fx_close(&f);
}

/* ---- Hostile slots -------------------------------------------------- */

static void
t_hostile_index(void)
{
	uint32_t bad[] = { 9, 17, 0x80000000u, 0xdeadbeefu, 0xffffffffu };
	struct ring_frame fr;
	struct ring_slot *s;
	struct ring tx, rx;
	char msg[128];
	uint32_t n;
	size_t i;
	struct fx f;

	fx_open(&f, params(1, 8, 8, 1500));
	s = ring_slot_at(&f.a, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		open_pair(&f, 0, RING_TX, &tx, &rx);
		CHECK_EQ(send_seq(&tx, 60, 1), 1);
		/* The NIC claims to have produced more than the ring holds. */
		atomic_store(&s->tx_prod.idx, rx.head + bad[i]);
		CHECK_EQ(ring_avail(&rx, &n), RING_EINDEX);
		CHECK_EQ(n, 8);				/* clamped */
		CHECK_EQ(ring_peek(&rx, &fr), RING_EINDEX);	/* sticks */
		ring_describe(&rx, msg, sizeof(msg));
		CHECK(strstr(msg, "slot 0 tx: produced count") != NULL);
		/* Reopening sees the same; the consumer repairs. */
		CHECK_EQ(ring_open(&rx, &f.a, 0, RING_TX, RING_BRIDGE),
		    RING_EINDEX);
		CHECK_EQ(ring_repair(&rx), RING_OK);
		CHECK_EQ(ring_avail(&rx, &n), RING_OK);
		CHECK_EQ(n, 0);
		CHECK_EQ(ring_open(&rx, &f.a, 0, RING_TX, RING_BRIDGE), 0);
		ring_slot_clear(&f.a, 0);
	}
	/* The bridge's consumer index ahead of what the NIC produced. */
	open_pair(&f, 0, RING_TX, &tx, &rx);
	atomic_store(&s->tx_cons.idx, 5);
	CHECK_EQ(ring_space(&tx, &n), RING_EINDEX);
	CHECK_EQ(n, 0);
	CHECK_EQ(send_seq(&tx, 60, 1), RING_EINDEX);
	CHECK_EQ(ring_open(&tx, &f.a, 0, RING_TX, RING_NIC), RING_EINDEX);
	CHECK_EQ(ring_repair(&tx), RING_EPARAM);
	/* Exactly full is fine; one more is not. */
	atomic_store(&s->rx_prod.idx, 8);
	CHECK_EQ(ring_open(&rx, &f.a, 0, RING_RX, RING_NIC), RING_OK);
	atomic_store(&s->rx_prod.idx, 9);
	CHECK_EQ(ring_open(&rx, &f.a, 0, RING_RX, RING_NIC), RING_EINDEX);
	fx_close(&f);
}

struct desc_case {
	uint64_t desc;
	int	 want;
};

static void
t_hostile_desc(void)
{
	unsigned char out[RING_MTU_MAX + RING_FRAME_EXTRA];
	struct ring_frame fr;
	struct ring tx, rx;
	uint32_t got, i;
	struct fx f;
	const uint32_t max = 1518, bs = 1536;
	const struct desc_case cases[] = {
		{ RING_DESC(0, 0), RING_ELEN },
		{ RING_DESC(RING_FRAME_MIN - 1, 0), RING_ELEN },
		{ RING_DESC(max + 1, 0), RING_ELEN },
		{ RING_DESC(0xffffffffu, 0), RING_ELEN },
		{ RING_DESC(100, bs - 99), RING_EOFF },
		{ RING_DESC(max, bs - max + 1), RING_EOFF },
		{ RING_DESC(60, 0xffff), RING_EOFF },
		{ RING_DESC(60, 0) | 1ULL << 48, RING_EFLAGS },
		{ UINT64_MAX, RING_EFLAGS },
		{ RING_DESC(100, bs - 100), 1 },
		{ RING_DESC(max, bs - max), 1 },
	};

	fx_open(&f, params(1, 8, 8, 1500));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ring_slot_clear(&f.a, 0);
		open_pair(&f, 0, RING_TX, &tx, &rx);
		REQUIRE(send_seq(&tx, 60, i) == 1);
		atomic_store(&tx.desc[0], cases[i].desc);
		CHECK_EQ(ring_peek(&rx, &fr), cases[i].want);
		if (cases[i].want == 1) {
			CHECK(fr.data >= rx.bufs && fr.data + fr.len <=
			    rx.bufs + bs);
			continue;
		}
		memset(out, 0x5a, sizeof(out));
		CHECK_EQ(ring_recv(&rx, out, sizeof(out), &got),
		    cases[i].want);
		CHECK_EQ(got, 0);
		CHECK_EQ(out[0], 0x5a);
		CHECK_EQ(rx.fault, cases[i].want);
	}
	fx_close(&f);
}

#define NF(f)	(offsetof(struct ring_slot, side) + \
	offsetof(struct ring_side_blk, f))
#define BF(f)	(NF(f) + sizeof(struct ring_side_blk))

/* A private ring may allow descriptor flags; a slot allows none, and a
 * consumer can hold frames it has read until it commits them. */
static void
t_flags_and_lag(void)
{
	struct ring prod, cons;
	struct ring_frame f;
	unsigned char buf[64] = { 0 };
	uint32_t n, i;
	struct fx x;

	fx_open(&x, params(1, 8, 8, 1500));
	open_pair(&x, 0, RING_TX, &prod, &cons);
	CHECK_EQ(ring_push_flags(&prod, 64, 1), RING_EPARAM);
	prod.flags_ok = cons.flags_ok = 1;
	for (i = 0; i < 4; i++) {
		unsigned char *b;

		CHECK_EQ(ring_reserve(&prod, &b), 1);
		memcpy(b, buf, sizeof(buf));
		CHECK_EQ(ring_push_flags(&prod, 64, i & 1), RING_OK);
	}
	ring_commit(&prod);
	/* Read all four, free only two. */
	for (i = 0; i < 4; i++) {
		CHECK_EQ(ring_peek(&cons, &f), 1);
		CHECK_EQ(f.flags, i & 1);
		ring_next(&cons);
	}
	CHECK_EQ(ring_commit_at(&cons, cons.head - 2), RING_OK);
	CHECK_EQ(ring_space(&prod, &n), RING_OK);
	CHECK_EQ(n, 8 - 2);
	CHECK_EQ(ring_commit_at(&cons, cons.head - 9), RING_EPARAM);
	ring_commit(&cons);
	CHECK_EQ(ring_space(&prod, &n), RING_OK);
	CHECK_EQ(n, 8);
	/* A slot's consumer refuses a flagged descriptor. */
	cons.flags_ok = 0;
	{
		unsigned char *b;

		CHECK_EQ(ring_reserve(&prod, &b), 1);
		CHECK_EQ(ring_push_flags(&prod, 64, 1), RING_OK);
		ring_commit(&prod);
	}
	CHECK_EQ(ring_peek(&cons, &f), RING_EFLAGS);
	fx_close(&x);
}

/* The uplink's control messages are believed only whole and typed. */
static void
t_uplink_ctl(void)
{
	struct uplink_result res = { { UPLINK_RESULT, sizeof(res), 0 }, 7, 1 };
	struct uplink_mac mac = { { UPLINK_SUB, sizeof(mac), 0 }, { 2 }, { 0 } };
	unsigned char buf[64];
	struct ring_frame f = { buf, sizeof(res), UPLINK_CTL };
	union {
		struct uplink_result res;
		struct uplink_mac mac;
	} out;

	memcpy(buf, &res, sizeof(res));
	CHECK_EQ(ring_check_uplink_ctl(&f, &out, sizeof(res)), UPLINK_RESULT);
	CHECK_EQ(out.res.index, 7);
	f.flags = 0;				/* a frame, not a message */
	CHECK_EQ(ring_check_uplink_ctl(&f, &out, sizeof(res)), 0);
	f.flags = UPLINK_CTL;
	f.len = sizeof(res) - 1;		/* a RESULT cut short */
	CHECK_EQ(ring_check_uplink_ctl(&f, &out, f.len), 0);
	f.len = sizeof(mac);
	memcpy(buf, &mac, sizeof(mac));
	CHECK_EQ(ring_check_uplink_ctl(&f, &out, sizeof(mac)), UPLINK_SUB);
	buf[0] = 99;				/* an unknown type */
	CHECK_EQ(ring_check_uplink_ctl(&f, &out, sizeof(mac)), 0);
	mac.h.len = 3;				/* a length that lies */
	memcpy(buf, &mac, sizeof(mac));
	CHECK_EQ(ring_check_uplink_ctl(&f, &out, sizeof(mac)), 0);
}

static void
t_hostile_slot_words(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	const struct poke cases[] = {
		{ NF(state), 0, 4, RING_ESTATE },
		{ NF(state), 0, 0xffffffff, RING_ESTATE },
		{ NF(peer_id), 0, 70000, RING_EPEER },
		{ NF(vector), 0, RING_VECTORS_MAX, RING_EPEER },
		{ NF(mac), 1, 0x563412005453ULL, RING_EMAC },	/* group */
		{ NF(mac), 1, 0, RING_EMAC },
		{ NF(mac), 1, 0x1563412005452ULL, RING_EMAC },	/* pad */
		{ BF(state), 0, 9, RING_ESTATE },
		{ BF(peer_id), 0, RING_PEER_MAX + 1, RING_EPEER },
		{ BF(mac), 1, 1, RING_OK },	/* the bridge has none */
	};
	struct ring_slot_view v;
	struct fx f;
	size_t i;

	fx_open(&f, params(2, 8, 8, 1500));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ring_slot_clear(&f.a, 1);
		ring_side_ident(&f.a, 1, RING_NIC, 3, 0, mac);
		ring_side_state(&f.a, 1, RING_NIC, RING_RUN);
		poke(ring_slot_at(&f.a, 1), &cases[i]);
		CHECK_EQ(ring_slot_view(&f.a, 1, &v), cases[i].want);
	}
	CHECK_EQ(v.side[RING_NIC].state, RING_RUN);
	CHECK_EQ(v.side[RING_NIC].peer_id, 3);
	CHECK(memcmp(v.side[RING_NIC].mac, mac, 6) == 0);
	CHECK_EQ(atomic_load(&ring_slot_at(&f.a, 1)->side[0].mac),
	    0x563412005452ULL);
	ring_side_beat(&f.a, 1, RING_NIC);
	ring_side_beat(&f.a, 1, RING_NIC);
	/* A MAC means nothing before the NIC leaves RESET. */
	ring_side_state(&f.a, 1, RING_NIC, RING_RESET);
	ring_side_ident(&f.a, 1, RING_NIC, 3, 0, NULL);
	CHECK_EQ(ring_slot_view(&f.a, 1, &v), RING_OK);
	CHECK_EQ(v.side[RING_NIC].heartbeat, 2);
	poke(ring_slot_at(&f.a, 1), &cases[0]);
	CHECK_EQ(ring_slot_view(&f.a, 1, &v), RING_ESTATE);
	CHECK_EQ(v.side[RING_NIC].state, RING_RESET);	/* never 4 */
	CHECK_EQ(ring_slot_view(&f.a, 2, &v), RING_EPARAM);
	fx_close(&f);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* One random operation of either side on slot 1, or a scribble. */
static void
chaos_step(struct fx *f, struct ring r[4], uint64_t x)
{
	unsigned char buf[1600];
	struct ring_slot_view v;
	struct ring_frame fr;
	unsigned char *s = (unsigned char *)ring_slot_at(&f->a, 1);
	uint32_t n, k = (uint32_t)(x >> 8) & 3;

	switch (x & 15) {
	case 0: case 1: case 2:		/* a word anywhere in the slot */
		memcpy(s + (x >> 16) % (f->a.geom.slot_size - 8) / 8 * 8,
		    &(uint64_t){ xorshift() >> (x >> 58) }, 8);
		break;
	case 3:
		(void)ring_send(&r[k], buf, 14 + (uint32_t)(x >> 20) % 1505);
		break;
	case 4:
		(void)ring_recv(&r[k], buf, sizeof(buf), &n);
		break;
	case 5:
		if (ring_peek(&r[k], &fr) == 1) {
			memcpy(buf, fr.data, fr.len);
			ring_next(&r[k]);
		}
		break;
	case 6:
		(void)ring_open(&r[k], &f->a, 1, k & 1, k >> 1);
		break;
	case 7:
		(void)ring_repair(&r[k]);
		break;
	case 8:
		(void)ring_space(&r[k], &n);
		(void)ring_avail(&r[k], &n);
		break;
	case 9:
		(void)ring_slot_view(&f->a, 1, &v);
		break;
	default:
		ring_commit(&r[k]);
		(void)ring_wakeup_needed(&r[k]);
	}
}

static void
t_confined(void)
{
	struct ring r[4];
	uint64_t slot;
	size_t i;
	struct fx f;

	fx_open(&f, params(3, 8, 8, 1500));
	slot = f.a.geom.slot_size;
	for (i = 0; i < 4; i++)
		(void)ring_open(&r[i], &f.a, 1, i & 1, i >> 1);
	/* Everything but slot 1 faults if touched. */
	REQUIRE(mprotect(f.map, RING_HDR_SIZE + slot, PROT_NONE) == 0);
	REQUIRE(mprotect(f.map + RING_HDR_SIZE + 2 * slot, slot,
	    PROT_NONE) == 0);
	for (i = 0; i < 200000; i++)
		chaos_step(&f, r, xorshift());
	REQUIRE(mprotect(f.map, f.len, PROT_READ | PROT_WRITE) == 0);
	CHECK_EQ(ring_area_live(&f.a), RING_OK);
	fx_close(&f);
}

/* ---- Slot control --------------------------------------------------- */

static void
t_claim(void)
{
	struct ring_slot_view v;
	struct ring tx, rx;
	struct fx f;

	fx_open(&f, params(2, 8, 8, 1500));
	CHECK_EQ(ring_slot_claim(&f.a, 0, 5), 1);
	CHECK_EQ(ring_slot_claim(&f.a, 0, 6), 0);
	CHECK_EQ(ring_slot_claim(&f.a, 0, RING_CLAIM_FREE), RING_EPARAM);
	CHECK_EQ(ring_slot_claim(&f.a, 1, RING_CLAIM_BUSY), RING_EPARAM);
	CHECK_EQ(ring_slot_claim(&f.a, 2, 6), RING_EPARAM);
	CHECK_EQ(ring_slot_release(&f.a, 0, 6), 0);
	CHECK_EQ(ring_slot_release(&f.a, 0, 5), 1);
	CHECK_EQ(ring_slot_claim(&f.a, 0, 6), 1);
	/* A dead owner's slot: the bridge takes it back, cleared. */
	open_pair(&f, 0, RING_TX, &tx, &rx);
	CHECK_EQ(send_seq(&tx, 60, 1), 1);
	ring_side_state(&f.a, 0, RING_NIC, RING_RESET);
	CHECK_EQ(ring_slot_reclaim(&f.a, 0, 5), 0);
	CHECK_EQ(ring_slot_reclaim(&f.a, 0, 6), 1);
	CHECK_EQ(ring_slot_view(&f.a, 0, &v), RING_OK);
	CHECK_EQ(v.claim, RING_CLAIM_FREE);
	CHECK_EQ(ring_open(&rx, &f.a, 0, RING_TX, RING_BRIDGE), RING_OK);
	CHECK_EQ(rx.head, 0);
	CHECK_EQ(rx.seen, 0);
	CHECK_EQ(ring_slot_claim(&f.a, 0, 7), 1);
	fx_close(&f);
}

/* Both sides step together; 1 if they reach RUN within a few steps. */
static int
converge(enum ring_state *a, enum ring_state *b)
{
	enum ring_state na;
	int i;

	for (i = 0; i < 6 && (*a != RING_RUN || *b != RING_RUN); i++) {
		na = ring_state_next(*a, *b);
		*b = ring_state_next(*b, *a);
		*a = na;
	}
	return *a == RING_RUN && *b == RING_RUN;
}

static void
t_states(void)
{
	/* next[own][peer], the Jailhouse ivshmem-net rules. */
	static const enum ring_state next[4][4] = {
		{ RING_INIT, RING_INIT, RING_RESET, RING_RESET },
		{ RING_INIT, RING_READY, RING_READY, RING_READY },
		{ RING_RESET, RING_READY, RING_RUN, RING_RUN },
		{ RING_RESET, RING_RUN, RING_RUN, RING_RUN },
	};
	enum ring_state a = RING_RESET, b = RING_RESET;
	int i, j;

	for (i = 0; i < 4; i++)
		for (j = 0; j < 4; j++)
			CHECK_EQ(ring_state_next(i, j), next[i][j]);
	CHECK_EQ(ring_state_next((enum ring_state)7, RING_RUN), RING_RESET);
	CHECK(converge(&a, &b));
	/* One side resets (a corrupt slot): the other follows, and both
	 * come back up. */
	a = RING_RESET;
	b = ring_state_next(b, a);
	CHECK_EQ(b, RING_RESET);
	CHECK(converge(&a, &b));
}

static void
t_wakeup(void)
{
	struct ring tx, rx;
	struct fx f;
	uint32_t n;

	fx_open(&f, params(1, 8, 8, 1500));
	open_pair(&f, 0, RING_RX, &tx, &rx);
	CHECK_EQ(ring_wakeup_needed(&tx), 0);
	ring_wakeup_arm(&rx, 1);
	CHECK_EQ(ring_avail(&rx, &n), RING_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(send_seq(&tx, 60, 1), 1);
	CHECK_EQ(ring_wakeup_needed(&tx), 1);
	ring_wakeup_arm(&rx, 0);
	CHECK_EQ(ring_wakeup_needed(&tx), 0);
	atomic_store(tx.wakeup, 0xffffffffu);
	CHECK_EQ(ring_wakeup_needed(&tx), 1);
	fx_close(&f);
}

/* ---- Processes ------------------------------------------------------ */

#define EXPECT(c)	do { if (!(c)) { fprintf(stderr, \
	"ring_test.c:%d: child: failed: %s\n", __LINE__, #c); _exit(2); } } \
	while (0)

/*
 * One life of a process on the region file, ended by SIGKILL.  Each maps
 * the file afresh and attaches as a restarted process would: the bridge
 * formats (which must keep the area), the NIC only attaches.
 *   0  NIC sends frames 0-4
 *   1  bridge takes 0-1, sends 10-12 towards the NIC
 *   2  bridge takes 2-4: frames survive a bridge crash too
 *   3  NIC takes 10-12
 */
static void
crash_life(int life, const char *path)
{
	struct ring_params p = params(1, 8, 8, 1500);
	enum ring_side side = life == 0 || life == 3 ? RING_NIC : RING_BRIDGE;
	struct ring tx, rx;
	struct ring_area a;
	uint32_t i, n;
	void *m;
	int fd, fmt;

	EXPECT((fd = open(path, O_RDWR)) != -1);
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(m != MAP_FAILED);
	if (side == RING_BRIDGE)
		EXPECT(ring_format(&a, m, 1 << 20, 0, &p, 0, &fmt) == 0 &&
		    fmt == 0);
	else
		EXPECT(ring_attach(&a, m, 1 << 20, 0, &p) == RING_OK);
	EXPECT(ring_open(&tx, &a, 0, RING_TX, side) == RING_OK);
	EXPECT(ring_open(&rx, &a, 0, RING_RX, side) == RING_OK);
	for (i = 0; life == 0 && i < 5; i++)
		EXPECT(send_seq(&tx, 60 + i, i) == 1);
	if (life == 1)
		EXPECT(recv_seq(&tx, 60, 0) && recv_seq(&tx, 61, 1));
	for (i = 10; life == 1 && i < 13; i++)
		EXPECT(send_seq(&rx, 9 * i, i) == 1);
	if (life == 2)
		EXPECT(recv_seq(&tx, 62, 2) && recv_seq(&tx, 63, 3) &&
		    recv_seq(&tx, 64, 4) && ring_avail(&tx, &n) == 0 &&
		    n == 0);
	if (life == 3)
		EXPECT(recv_seq(&rx, 90, 10) && recv_seq(&rx, 99, 11) &&
		    recv_seq(&rx, 108, 12) && ring_avail(&rx, &n) == 0 &&
		    n == 0);
	raise(SIGKILL);
}

static void
t_crash_resume(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4200];
	int fd, life, status;
	struct fx f;
	pid_t pid;

	/* Under the test's own directory when bats gives one. */
	snprintf(dir, sizeof(dir), "%s/ring_test.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/region", dir);
	fx_open(&f, params(1, 8, 8, 1500));
	REQUIRE(f.len <= 1 << 20);
	REQUIRE((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) != -1);
	REQUIRE(write(fd, f.map, f.len) == (ssize_t)f.len);
	REQUIRE(ftruncate(fd, 1 << 20) == 0);
	close(fd);
	fx_close(&f);
	for (life = 0; life < 4; life++) {
		REQUIRE((pid = fork()) != -1);
		if (pid == 0)
			crash_life(life, path);
		REQUIRE(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	unlink(path);
	rmdir(dir);
}

#define STRESS_FRAMES	50000u

/* Frames of every length through a small ring between two processes:
 * the release/acquire pairs must hand over every byte. */
static void
t_two_process(void)
{
	struct ring tx, rx;
	uint32_t seq;
	int got, status;
	pid_t pid;
	struct fx f;

	fx_open(&f, params(1, 8, 8, 1500));
	open_pair(&f, 0, RING_TX, &tx, &rx);
	REQUIRE((pid = fork()) != -1);
	if (pid == 0) {
		for (seq = 0; seq < STRESS_FRAMES; seq++)
			while ((got = send_seq(&tx, 14 + seq % 1505, seq)) !=
			    1) {
				EXPECT(got == 0);
				sched_yield();
			}
		_exit(0);
	}
	for (seq = 0; seq < STRESS_FRAMES; ) {
		got = ring_peek(&rx, &(struct ring_frame){ 0 });
		CHECK(got >= 0);
		if (got < 0)
			break;
		if (got == 0) {
			sched_yield();
			continue;
		}
		if (!recv_seq(&rx, 14 + seq % 1505, seq)) {
			CHECK(!"frame differs");
			break;
		}
		seq++;
	}
	if (failed)
		kill(pid, SIGKILL);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(failed || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
	fx_close(&f);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "layout", t_layout },
	{ "format_keep", t_format_keep },
	{ "format_confined", t_format_confined },
	{ "hostile_header", t_hostile_header },
	{ "frame_1500", t_frame_1500 },
	{ "frame_9000", t_frame_9000 },
	{ "full_and_wrap", t_full_and_wrap },
	{ "hostile_index", t_hostile_index },
	{ "hostile_desc", t_hostile_desc },
	{ "hostile_slot_words", t_hostile_slot_words },
	{ "flags_and_lag", t_flags_and_lag },
	{ "uplink_ctl", t_uplink_ctl },
	{ "confined", t_confined },
	{ "claim", t_claim },
	{ "states", t_states },
	{ "wakeup", t_wakeup },
	{ "crash_resume", t_crash_resume },
	{ "two_process", t_two_process },
};

#define NTESTS	(sizeof(tests) / sizeof(tests[0]))

int
main(int argc, char **argv)
{
	size_t i;
	int j, ran = 0, rc = 0;

	for (i = 0; i < NTESTS; i++) {
		for (j = 1; j < argc && strcmp(argv[j], tests[i].name); j++)
			;
		if (argc == 2 && strcmp(argv[1], "-l") == 0)
			printf("%s\n", tests[i].name);
		if (argc > 1 && j == argc)
			continue;
		failed = 0;
		tests[i].fn();
		printf("%s %s\n", failed ? "FAIL" : "ok", tests[i].name);
		fflush(stdout);
		rc |= failed;
		ran++;
	}
	if (ran == 0 && strcmp(argv[1], "-l") != 0) {
		fprintf(stderr, "ring_test: no such test; -l lists them\n");
		return 1;
	}
	return rc;
}
