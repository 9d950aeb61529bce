/*
 * fuzz_ring.c - libFuzzer target for the ring ABI's hostile-input checks.
 *
 * The input is a program: scribbles of arbitrary words into the header or
 * into slot 1, interleaved with every ring operation of both sides on
 * slot 1.  While the operations run, the header and the other slots are
 * PROT_NONE (the header PROT_READ for attach), so a single byte read or
 * written outside slot 1 is a crash, as ASan makes any overflow one.
 * Some operations instead check a virtio_net_hdr and the headers of the
 * segment it describes, as the bridge does before cutting one, and take
 * large frames (chains of descriptors) off rings that allow them.
 * Build: make fuzz (clang -fsanitize=fuzzer,address,undefined).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/slot/ring.h"
#include "mqbridge/slot/ring_check.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define SLOT	1	/* the slot under attack; 0 and 2 are fences */

struct area {
	struct ring_params p;
	unsigned char	*map;
	struct ring_area a;
};

static struct area areas[] = {
	{ { 3, 8, 16, 1500 }, NULL, { 0 } },
	{ { 3, 4, 2, 9000 }, NULL, { 0 } },
};

struct input {
	const uint8_t	*p;
	size_t		 left;
};

static uint64_t
take(struct input *in, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0 && in->left > 0) {
		v = v << 8 | *in->p++;
		in->left--;
	}
	return v;
}

static void
must(int ok)
{
	if (!ok)
		abort();
}

static void
fence(struct area *z, int hdr_prot)
{
	uint64_t slot = z->a.geom.slot_size;

	must(mprotect(z->map, RING_HDR_SIZE, hdr_prot) == 0);
	must(mprotect(z->map + RING_HDR_SIZE, slot, PROT_NONE) == 0);
	must(mprotect(z->map + RING_HDR_SIZE + 2 * slot, slot,
	    PROT_NONE) == 0);
}

static void
setup(struct area *z)
{
	struct ring_geom g;
	int fmt;

	must(ring_geom_init(&g, &z->p) == RING_OK);
	z->map = mmap(NULL, g.area_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	must(z->map != MAP_FAILED);
	must(ring_format(&z->a, z->map, g.area_size, 0, &z->p, 0, &fmt) == 0);
}

static void
scribble(unsigned char *base, uint64_t span, struct input *in, int wide)
{
	uint64_t off = take(in, 4) % (span - 8), v = take(in, wide ? 8 : 4);


	off &= ~(uint64_t)(wide ? 7 : 3);
	if (wide)
		atomic_store((_Atomic uint64_t *)(base + off), v);
	else
		atomic_store((_Atomic uint32_t *)(base + off), (uint32_t)v);
}

/* Targeted scribbles reach the interesting values far sooner than bytes
 * at random offsets: an index near the other one, a descriptor whose
 * length and offset are each near a limit. */
static void
index_op(struct area *z, struct input *in)
{
	struct ring_slot *s = ring_slot_at(&z->a, SLOT);
	struct ring_index *x[] = { &s->tx_prod, &s->tx_cons, &s->rx_prod,
	    &s->rx_cons };
	struct ring_index *t = x[take(in, 1) & 3];
	uint32_t v = (uint32_t)take(in, 4);

	if (v >> 24 != 0xff)	/* mostly small steps */
		v = atomic_load(&t->idx) + (uint32_t)(int8_t)v;
	atomic_store(take(in, 1) & 1 ? &t->wakeup : &t->idx, v);
}

static void
desc_op(struct area *z, struct input *in)
{
	unsigned char *s = (unsigned char *)ring_slot_at(&z->a, SLOT);
	int rx = take(in, 1) & 1;
	uint32_t size = rx ? z->p.rx_size : z->p.tx_size;
	uint32_t off = rx ? z->a.geom.rx_desc_off : z->a.geom.tx_desc_off;
	uint64_t d = take(in, 2) | take(in, 2) << 32 | take(in, 1) << 48;
	_Atomic uint64_t *desc = (_Atomic uint64_t *)(s + off);

	atomic_store(&desc[take(in, 1) & (size - 1)], d);
}

static void
header_op(struct area *z, struct input *in)
{
	struct ring_area b;
	struct ring_geom g;
	uint64_t len = z->a.geom.area_size;

	must(mprotect(z->map, RING_HDR_SIZE, PROT_READ | PROT_WRITE) == 0);
	scribble(z->map, 128, in, take(in, 1) & 1);
	must(mprotect(z->map, RING_HDR_SIZE, PROT_READ) == 0);
	if (ring_attach(&b, z->map, len, 0, NULL) == RING_OK)
		must(b.geom.area_size <= len && b.offset == 0);
	if (ring_probe(z->map, 0, &g) == RING_OK)
		must(g.slot_size % RING_PAGE == 0 &&
		    g.rx_buf_off + (uint64_t)g.p.rx_size * g.buf_size <=
		    g.slot_size);
	(void)ring_area_live(&z->a);
	must(mprotect(z->map, RING_HDR_SIZE, PROT_NONE) == 0);
}

static void
frame_ok(const struct ring *r, const struct ring_frame *f)
{
	static unsigned char copy[RING_MTU_MAX + RING_FRAME_EXTRA];
	unsigned char *buf = r->bufs + (size_t)(r->head & r->mask) *
	    r->buf_size;

	/* Descriptor i uses buffer i: inside it, not merely in the slot. */
	must(f->len >= RING_FRAME_MIN && f->len <= r->frame_max);
	must(f->data >= buf && f->data + f->len <= buf + r->buf_size);
	memcpy(copy, f->data, f->len);
}

/* A well-made segment's headers (IPv4 or IPv6, TCP or UDP) at f, so that
 * a few scribbles reach the deep checks; returns csum_start. */
static uint32_t
template(unsigned char *f, unsigned int kind)
{
	int v6 = kind & 1, udp = kind & 2;
	uint32_t l4 = RING_ETH_HLEN + (v6 ? 40 : 20);

	memset(f, 0, 128);
	f[12] = v6 ? 0x86 : 0x08;
	f[13] = v6 ? 0xdd : 0x00;
	f[14] = v6 ? 0x60 : 0x45;
	f[v6 ? 14 + 6 : 14 + 9] = udp ? 17 : 6;
	if (!udp)
		f[l4 + 12] = 5 << 4;
	return l4;
}

/* A header and a segment's first bytes from the input: what the checks
 * pass must be safe to cut (bridge_fwd.c relies on each bound). */
static void
vnet_op(struct input *in)
{
	unsigned char h[RING_VNET_HDR_LEN], f[128];
	enum ring_vnet_bad bad;
	struct ring_vnet v;
	struct ring_gso g;
	uint32_t len, n, i, l4;
	unsigned int kind = (unsigned int)take(in, 1);

	l4 = template(f, kind);
	for (i = 0; i < sizeof(h); i++)
		h[i] = (unsigned char)take(in, 1);
	if (kind & 4) {		/* a plausible header, scribbled below */
		h[0] = RING_VNET_F_NEEDS_CSUM;
		h[1] = kind & 2 ? RING_VNET_GSO_UDP_L4 : kind & 1 ?
		    RING_VNET_GSO_TCPV6 : RING_VNET_GSO_TCPV4;
		h[6] = (unsigned char)l4;
		h[7] = 0;
		h[8] = kind & 2 ? 6 : 16;
		h[9] = 0;
	}
	len = (uint32_t)take(in, 3) % (RING_VNET_FRAME_MAX + 1);
	n = (uint32_t)take(in, 1) % (sizeof(f) + 1);
	for (i = (kind >> 3) & 7; i > 0; i--)
		f[take(in, 1) & 127] = (unsigned char)take(in, 1);
	bad = ring_check_vnet(h, len, 1514, &v);
	/* Even on a header it refused, the segment check must not trap. */
	if (v.gso_type != RING_VNET_GSO_NONE)
		(void)ring_check_gso(&v, f, n > len ? len : n, len, &g);
	if (bad != RING_VNET_OK)
		return;
	must(v.hdr_len <= len);
	if (v.flags & RING_VNET_F_NEEDS_CSUM)
		must((uint32_t)v.csum_start + v.csum_offset + 2 <= len);
	if (v.gso_type == RING_VNET_GSO_NONE) {
		must(len <= 1514);
		return;
	}
	must(v.gso_size > 0);
	if (ring_check_gso(&v, f, n > len ? len : n, len, &g) != RING_VNET_OK)
		return;
	must(g.l3 < g.l4 && g.l4 < g.hdr_end && g.hdr_end <= n &&
	    g.hdr_end <= len && g.segs >= 1);
	must(g.segs <= (g.tcp ? RING_VNET_SEGS_TCP : RING_VNET_SEGS_UDP));
}

/* A whole frame, chain and all, off a ring that allows them. */
static void
pkt_op(struct ring *k)
{
	static unsigned char copy[RING_VNET_FRAME_MAX];
	struct ring_pkt p;

	k->flags_ok = RING_DESC_VNET | RING_DESC_NEXT;
	if (ring_peek_pkt(k, &p) == 1) {
		must(p.len <= RING_VNET_FRAME_MAX && p.ndesc <= k->size);
		ring_pkt_copy(&p, 0, p.len, copy, NULL);
		ring_next_pkt(k, &p);
	}
	k->flags_ok = 0;
}

static void
ring_op(struct area *z, struct ring r[4], uint8_t op, struct input *in)
{
	static unsigned char buf[RING_MTU_MAX + RING_FRAME_EXTRA];
	struct ring_slot_view v;
	struct ring_frame f;
	struct ring *k = &r[take(in, 1) & 3];
	uint32_t n, len;

	switch (op % 12) {
	case 0:
		len = (uint32_t)take(in, 2);
		(void)ring_send(k, buf, len);
		break;
	case 1:
		if (ring_recv(k, buf, sizeof(buf), &len) == 1)
			must(len >= RING_FRAME_MIN && len <= k->frame_max);
		break;
	case 2:
		if (ring_peek(k, &f) == 1) {
			frame_ok(k, &f);
			ring_next(k);
		}
		break;
	case 3:
		(void)ring_open(k, &z->a, SLOT, (k - r) & 1, (k - r) >> 1);
		break;
	case 4:
		(void)ring_repair(k);
		break;
	case 5:
		if (ring_space(k, &n) == RING_OK)
			must(n <= k->size);
		if (ring_avail(k, &n) == RING_OK || n != 0)
			must(n <= k->size);
		break;
	case 6:
		(void)ring_slot_view(&z->a, SLOT, &v);
		must(v.side[0].state <= RING_RUN &&
		    v.side[1].state <= RING_RUN);
		break;
	case 7:
		ring_commit(k);
		(void)ring_wakeup_needed(k);
		ring_wakeup_arm(k, take(in, 1) & 1);
		break;
	case 8:
		ring_describe(k, (char *)buf, 96);
		break;
	case 9:
		(void)ring_slot_reclaim(&z->a, SLOT, take(in, 8));
		ring_side_beat(&z->a, SLOT, take(in, 1) & 1);
		break;
	case 10:
		pkt_op(k);
		break;
	default:
		vnet_op(in);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct area *z = &areas[take(&in, 1) & 1];
	unsigned char *slot;
	struct ring r[4];
	int i, fmt;
	uint8_t op;

	if (z->map == NULL)
		setup(z);
	must(mprotect(z->map, z->a.geom.area_size,
	    PROT_READ | PROT_WRITE) == 0);
	must(ring_format(&z->a, z->map, z->a.geom.area_size, 0, &z->p, 1,
	    &fmt) == RING_OK);
	slot = (unsigned char *)ring_slot_at(&z->a, SLOT);
	for (i = 0; i < 4; i++)
		must(ring_open(&r[i], &z->a, SLOT, i & 1, i >> 1) == 0);
	fence(z, PROT_NONE);
	while (in.left > 0) {
		op = (uint8_t)take(&in, 1);
		if (op < 16)
			header_op(z, &in);
		else if (op < 32)
			index_op(z, &in);
		else if (op < 56)
			desc_op(z, &in);
		else if (op < 64)	/* claim and side words */
			scribble(slot, z->a.geom.tx_desc_off, &in, op & 1);
		else if (op < 96)
			scribble(slot, z->a.geom.slot_size, &in, op & 1);
		else
			ring_op(z, r, op, &in);
	}
	return 0;
}
