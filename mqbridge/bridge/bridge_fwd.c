/*
 * bridge_fwd.c - a frame from one port into another, in the form the
 * destination takes (bridge_fwd.h).
 *
 * A NIC that announced RING_F_VNET gets a frame as it came: its checked
 * virtio_net_hdr re-encoded from our copy, then the frame, over as many
 * descriptors as its buffers need; its kernel finishes checksums and cuts
 * segments itself, or keeps them whole.  Any other destination gets
 * plain frames: a checksum left to do is done here, and a segment is cut
 * into frames of gso_size payload bytes, as Linux's tcp_gso_segment() and
 * __udp_gso_segment() cut them (IPv4 IDs counted up, TCP sequence numbers
 * moved on, FIN and PSH on the last only, CWR on the first only, each
 * checksum computed).  So is every frame for the broker's port: the wire
 * format stays plain Ethernet frames.
 *
 * Frames leave through the uplink with the number bridge_uplink_put()
 * gives them, their slot's TX index: a segment has no index of its own
 * (a chain of n descriptors may make more than n segments), so segment
 * k > 0 goes with its slot's origin mixed with k, and all of a frame's
 * segments hold its slot's TX ring at the frame's first descriptor until
 * the broker has them all (persistent mode).  A segment sent again after
 * a crash keeps its origin and number, so the receiver's duplicate window
 * still finds it.
 *
 * Headers come from our copy (fwd.hdr), taken once and checked by
 * ring_check_gso(); payload bytes from the sender's buffers, which it may
 * still change: that garbles its own frames only.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <string.h>

#include "mqbridge/bridge/bridge_fwd.h"
#include "mqbridge/bridge/bridge_uplink.h"
#include "mqbridge/slot/ring_check.h"

#define TCP_FIN		0x01
#define TCP_PSH		0x08
#define TCP_CWR		0x80
#define LINEAR_MAX	(RING_MTU_MAX + RING_FRAME_EXTRA)

enum form {
	F_CHAIN,	/* as it is, header and all */
	F_PLAIN,	/* one frame, its checksum done */
	F_SEG		/* cut into plain frames */
};

static uint16_t
rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
wr16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* A checksum, stored as computed: in native order, as the sums are. */
static void
put_csum(unsigned char *p, uint64_t sum, int udp)
{
	uint32_t c;

	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	c = ~(uint32_t)sum & 0xffffu;
	if (c == 0 && udp)
		c = 0xffffu;		/* 0 means "none" in UDP */
	p[0] = (unsigned char)c;
	p[1] = (unsigned char)(c >> 8);
}

enum ring_vnet_bad
fwd_init(struct fwd *f)
{
	const struct ring_pkt *p = &f->pkt;

	f->seg = p->vnet && p->hdr.gso_type != RING_VNET_GSO_NONE;
	f->nhdr = f->seg ? (p->len < FWD_HDRS ? p->len : FWD_HDRS) :
	    RING_ETH_HLEN;
	ring_pkt_copy(p, 0, f->nhdr, f->hdr, NULL);
	if (!f->seg)
		return RING_VNET_OK;
	return ring_check_gso(&p->hdr, f->hdr, f->nhdr, p->len, &f->gso);
}

/* Frame bytes [off, off + len): from our copy where it has them. */
static void
src_copy(const struct fwd *f, uint32_t off, uint32_t len, unsigned char *out,
    uint64_t *sum)
{
	uint32_t n = 0;
	uint64_t s = 0;

	if (off < f->nhdr) {
		n = f->nhdr - off < len ? f->nhdr - off : len;
		memcpy(out, f->hdr + off, n);
		if (sum != NULL)
			*sum += ring_csum(out, n);
	}
	if (len == n)
		return;
	ring_pkt_copy(&f->pkt, off + n, len - n, out + n, sum ? &s : NULL);
	if (sum != NULL) {
		while (s >> 16)
			s = (s & 0xffffu) + (s >> 16);
		if (n & 1)		/* it started on an odd byte */
			s = (s >> 8 | s << 8) & 0xffffu;
		*sum += s;
	}
}

/* The whole frame into out, its checksum done if one was left to do. */
static void
linear(const struct fwd *f, unsigned char *out)
{
	const struct ring_vnet *v = &f->pkt.hdr;
	uint64_t sum = 0;

	if (!f->pkt.vnet || !(v->flags & RING_VNET_F_NEEDS_CSUM)) {
		src_copy(f, 0, f->pkt.len, out, NULL);
		return;
	}
	src_copy(f, 0, v->csum_start, out, NULL);
	/* The field holds the pseudo-header's sum: it is summed too. */
	src_copy(f, v->csum_start, f->pkt.len - v->csum_start,
	    out + v->csum_start, &sum);
	put_csum(out + v->csum_start + v->csum_offset, sum, 1);
}

/* The IP pseudo-header's sum for a segment's L4 part of len bytes. */
static uint64_t
pseudo(const struct fwd *f, const unsigned char *h, uint32_t len)
{
	const struct ring_gso *g = &f->gso;
	uint32_t proto = g->tcp ? 6 : 17;
	uint64_t s;

	if (g->ipv6)
		s = ring_csum(h + g->l3 + 8, 32);
	else
		s = ring_csum(h + g->l3 + 12, 8);
	/* Network order, summed as native words. */
	return s + (proto << 8) + ((len & 0xffu) << 8 | len >> 8);
}

/* Segment k of f into out (room for the destination's frame_max): its
 * length. */
static uint32_t
seg_build(const struct fwd *f, uint32_t k, unsigned char *out)
{
	const struct ring_gso *g = &f->gso;
	uint32_t gs = f->pkt.hdr.gso_size, he = g->hdr_end;
	uint32_t off = he + k * gs, plen = f->pkt.len - off, total, seq;
	unsigned char h[FWD_HDRS], *l4 = h + g->l4, *l3 = h + g->l3;
	uint64_t sum = 0;

	if (plen > gs)
		plen = gs;
	total = he + plen;
	memcpy(h, f->hdr, he);
	if (g->ipv6)
		wr16(l3 + 4, total - g->l4);
	else {
		wr16(l3 + 2, total - g->l3);
		wr16(l3 + 4, rd16(l3 + 4) + k);
		l3[10] = l3[11] = 0;
		put_csum(l3 + 10, ring_csum(l3, g->l4 - g->l3), 0);
	}
	if (g->tcp) {
		seq = (uint32_t)rd16(l4 + 4) << 16 | rd16(l4 + 6);
		seq += k * gs;
		wr16(l4 + 4, seq >> 16);
		wr16(l4 + 6, seq & 0xffffu);
		if (k + 1 < g->segs)
			l4[13] &= (unsigned char)~(TCP_FIN | TCP_PSH);
		if (k > 0)
			l4[13] &= (unsigned char)~TCP_CWR;
		l4[16] = l4[17] = 0;
	} else {
		wr16(l4 + 4, total - g->l4);
		l4[6] = l4[7] = 0;
	}
	memcpy(out, h, he);
	/* he - l4 is even (TCP: 4-byte words; UDP: 8). */
	ring_pkt_copy(&f->pkt, off, plen, out + he, &sum);
	sum += ring_csum(l4, he - g->l4) + pseudo(f, h, total - g->l4);
	put_csum(out + g->l4 + (g->tcp ? 16 : 6), sum, !g->tcp);
	return total;
}

/* ---- Forms and room ----------------------------------------------------- */

static int
takes_vnet(const struct port *dst)
{
	return !dst->uplink && (dst->rx.flags_ok & RING_DESC_VNET) != 0;
}

static uint32_t
chain_descs(const struct fwd *f, const struct port *dst)
{
	uint32_t bytes = f->pkt.len + (f->pkt.vnet ? RING_VNET_HDR_LEN : 0);

	return (bytes + dst->rx.buf_size - 1) / dst->rx.buf_size;
}

static enum form
form_of(const struct fwd *f, const struct port *dst)
{
	uint32_t n;

	if (!takes_vnet(dst))
		return f->seg ? F_SEG : F_PLAIN;
	if (!f->seg)
		return F_CHAIN;
	/* A ring too small for it whole still takes its segments. */
	n = chain_descs(f, dst);
	return n <= dst->rx.chain_max && n <= dst->rx.size / 2 ? F_CHAIN :
	    F_SEG;
}

/* The longest frame dst takes. */
static uint32_t
frame_max(const struct port *dst)
{
	return dst->uplink ? dst->rx.frame_max - UPLINK_META_LEN :
	    dst->rx.frame_max;
}

uint32_t
fwd_need(const struct fwd *f, const struct port *dst, uint32_t from,
    int whole)
{
	uint32_t max = frame_max(dst), seg = 0, left;

	if (f->seg) {
		/* Every segment but the last is this long. */
		seg = f->gso.hdr_end + f->pkt.hdr.gso_size;
		if (seg > f->pkt.len)
			seg = f->pkt.len;
	}
	switch (form_of(f, dst)) {
	case F_PLAIN:
		return f->pkt.len <= max ? 1 : 0;
	case F_CHAIN:
		if ((f->seg ? seg : f->pkt.len) > max)
			return 0;
		return chain_descs(f, dst) <= dst->rx.size ?
		    chain_descs(f, dst) : 0;
	case F_SEG:
		break;
	}
	left = f->gso.segs > from ? f->gso.segs - from : 0;
	if (seg > max || left > dst->rx.size)
		return 0;
	return whole ? left : left > 0;
}

/* ---- Putting ------------------------------------------------------------ */

static void
dirty(struct bridge *b, struct port *p)
{
	if (!p->dirty) {
		p->dirty = 1;
		b->dirty[b->ndirty++] = p;
	}
}

static void
count_out(struct port *src, struct port *dst, uint32_t len)
{
	dst->cnt.out_frames++;
	dst->cnt.out_bytes += len;
	if (src != NULL && src->uplink) {
		dst->cnt.from_broker_frames++;
		dst->cnt.from_broker_bytes += len;
	}
}

static int
put_plain(struct bridge *b, struct fwd *f, struct port *src, struct port *dst)
{
	unsigned char *buf;
	int got;

	if ((got = ring_reserve(&dst->rx, &buf)) != 1)
		return got < 0 ? -1 : 0;
	linear(f, buf);
	ring_push(&dst->rx, f->pkt.len);
	dirty(b, dst);
	count_out(src, dst, f->pkt.len);
	return 1;
}

static int
put_chain(struct bridge *b, struct fwd *f, struct port *src, struct port *dst)
{
	uint32_t pos = 0, at, room, n, fl = f->pkt.vnet ? RING_DESC_VNET : 0;
	unsigned char *buf;
	int got;

	if ((got = ring_reserve_at(&dst->rx, chain_descs(f, dst) - 1,
	    &buf)) != 1)
		return got < 0 ? -1 : 0;
	while (pos < f->pkt.len) {
		if (ring_reserve(&dst->rx, &buf) != 1)
			return -1;	/* its index moved back: corrupt */
		at = 0;
		if (fl & RING_DESC_VNET) {
			ring_vnet_encode(&f->pkt.hdr, buf);
			at = RING_VNET_HDR_LEN;
		}
		room = dst->rx.buf_size - at;
		n = f->pkt.len - pos < room ? f->pkt.len - pos : room;
		src_copy(f, pos, n, buf + at, NULL);
		pos += n;
		if (pos < f->pkt.len)
			fl |= RING_DESC_NEXT;
		else
			fl &= ~RING_DESC_NEXT;
		if (ring_push_piece(&dst->rx, 0, at + n, fl) != RING_OK)
			return -1;
		fl &= ~RING_DESC_VNET;
	}
	dirty(b, dst);
	count_out(src, dst, f->pkt.len);
	return 1;
}

static int
put_segs(struct bridge *b, struct fwd *f, struct port *src, struct port *dst,
    uint32_t *next)
{
	unsigned char *buf;
	uint32_t n;
	int got = 1;

	for (; *next < f->gso.segs; ++*next) {
		if ((got = ring_reserve(&dst->rx, &buf)) != 1)
			break;
		n = seg_build(f, *next, buf);
		ring_push(&dst->rx, n);
		dirty(b, dst);
		count_out(src, dst, n);
	}
	return got < 0 ? -1 : got;
}

/* Ethernet header hdr (our copy), the rest from data: 1, 0 no room, -2
 * too big, as fwd_put() says. */
static int
up_one(struct bridge *b, struct port *src, const unsigned char *hdr,
    const unsigned char *data, uint32_t len, uint32_t k)
{
	uint64_t claim = src->run_claim;
	int got;

	/* See the header comment: an origin of its own per segment. */
	src->run_claim ^= (uint64_t)k * 0x9e3779b97f4a7c15ULL;
	got = bridge_uplink_put(b, src, hdr, data, len);
	src->run_claim = claim;
	return got < 0 ? -2 : got;
}

static int
put_uplink(struct bridge *b, struct fwd *f, struct port *src,
    uint32_t *next)
{
	static unsigned char lin[LINEAR_MAX];
	int got = 1;

	if (!f->seg) {
		/* The common case goes as it is, without a copy. */
		if (f->pkt.npieces == 1 && (!f->pkt.vnet ||
		    !(f->pkt.hdr.flags & RING_VNET_F_NEEDS_CSUM)))
			return up_one(b, src, f->hdr, f->pkt.piece[0].data,
			    f->pkt.len, 0);
		if (f->pkt.len > sizeof(lin))
			return -2;
		linear(f, lin);
		return up_one(b, src, lin, lin, f->pkt.len, 0);
	}
	for (; *next < f->gso.segs; ++*next) {
		if (f->gso.hdr_end + f->pkt.hdr.gso_size > sizeof(lin))
			return -2;
		got = up_one(b, src, lin, lin, seg_build(f, *next, lin),
		    *next);
		if (got != 1)
			break;
	}
	return got;
}

int
fwd_put(struct bridge *b, struct fwd *f, struct port *src, struct port *dst,
    uint32_t *next)
{
	if (dst->uplink)
		return put_uplink(b, f, src, next);
	switch (form_of(f, dst)) {
	case F_PLAIN:
		return put_plain(b, f, src, dst);
	case F_CHAIN:
		return put_chain(b, f, src, dst);
	case F_SEG:
		break;
	}
	return put_segs(b, f, src, dst, next);
}
