/*
 * ring_check.c - what a valid NIC area looks like (the geometry rules)
 * and every read of the area from shared memory.
 *
 * Rules kept here: load a shared word once, into a local, then check the
 * local; never index anything with a value that was not checked against
 * our own geometry; on a bad value say which and by how much (the fault
 * fields of struct ring) so the caller can reset the slot and log it.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "mqbridge/slot/ring_check.h"
#include "mqbridge/slot/uplink.h"

#define LOAD(p)		atomic_load_explicit((p), memory_order_relaxed)
#define LOAD_ACQ(p)	atomic_load_explicit((p), memory_order_acquire)

static uint64_t
roundup(uint64_t v, uint64_t unit)
{
	return (v + unit - 1) / unit * unit;
}

static int
pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

int
ring_geom_init(struct ring_geom *g, const struct ring_params *p)
{
	uint64_t off;

	if (p->slot_count < 1 || p->slot_count > RING_SLOTS_MAX ||
	    !pow2_in(p->tx_size, RING_SIZE_MIN, RING_SIZE_MAX) ||
	    !pow2_in(p->rx_size, RING_SIZE_MIN, RING_SIZE_MAX) ||
	    p->mtu < RING_MTU_MIN || p->mtu > RING_MTU_MAX)
		return RING_EGEOMETRY;
	g->p = *p;
	g->frame_max = p->mtu + RING_FRAME_EXTRA;
	g->buf_size = (uint32_t)roundup(g->frame_max, 64);
	/* With the limits above every offset fits in 32 bits (< 320 MiB). */
	off = sizeof(struct ring_slot);
	g->tx_desc_off = (uint32_t)off;
	off = roundup(off + (uint64_t)p->tx_size * 8, RING_ALIGN);
	g->rx_desc_off = (uint32_t)off;
	off = roundup(off + (uint64_t)p->rx_size * 8, RING_ALIGN);
	g->tx_buf_off = (uint32_t)off;
	off = roundup(off + (uint64_t)p->tx_size * g->buf_size, RING_ALIGN);
	g->rx_buf_off = (uint32_t)off;
	off += (uint64_t)p->rx_size * g->buf_size;
	g->slot_size = roundup(off, RING_PAGE);
	g->area_size = RING_HDR_SIZE + (uint64_t)p->slot_count * g->slot_size;
	/* A large frame: its header and 65,600 bytes in whole buffers, and
	 * one more where its first piece starts past a buffer's start. */
	g->chain_max = (RING_VNET_HDR_LEN + RING_VNET_FRAME_MAX +
	    g->buf_size - 1) / g->buf_size + 1;
	/* Two of them fit each ring, so a producer never waits for one. */
	g->vnet_ok = p->mtu >= RING_VNET_MTU_MIN &&
	    g->chain_max <= RING_CHAIN_MAX &&
	    p->tx_size >= 2 * g->chain_max && p->rx_size >= 2 * g->chain_max;
	if (g->chain_max > RING_CHAIN_MAX)
		g->chain_max = RING_CHAIN_MAX;
	return RING_OK;
}

/* The stored fields, each loaded once. */
struct hdr_copy {
	uint32_t version, hdr_size, flags;
	uint32_t buf_size, tx_desc_off, rx_desc_off, tx_buf_off, rx_buf_off;
	uint64_t area_offset, area_size, generation, slot_size;
	struct ring_params p;
};

static void
hdr_load(const struct ring_hdr *h, struct hdr_copy *c)
{
	c->version = LOAD(&h->abi_version);
	c->hdr_size = LOAD(&h->hdr_size);
	c->flags = LOAD(&h->flags);
	c->area_offset = LOAD(&h->area_offset);
	c->area_size = LOAD(&h->area_size);
	c->generation = LOAD(&h->generation);
	c->p.slot_count = LOAD(&h->slot_count);
	c->p.tx_size = LOAD(&h->tx_size);
	c->p.rx_size = LOAD(&h->rx_size);
	c->p.mtu = LOAD(&h->mtu);
	c->buf_size = LOAD(&h->buf_size);
	c->slot_size = LOAD(&h->slot_size);
	c->tx_desc_off = LOAD(&h->tx_desc_off);
	c->rx_desc_off = LOAD(&h->rx_desc_off);
	c->tx_buf_off = LOAD(&h->tx_buf_off);
	c->rx_buf_off = LOAD(&h->rx_buf_off);
}

/* Derived fields must be what our own formula gives. */
static int
hdr_matches(const struct hdr_copy *c, const struct ring_geom *g)
{
	return c->hdr_size == RING_HDR_SIZE && c->flags == 0 &&
	    c->generation != 0 &&
	    c->buf_size == g->buf_size && c->slot_size == g->slot_size &&
	    c->area_size == g->area_size &&
	    c->tx_desc_off == g->tx_desc_off &&
	    c->rx_desc_off == g->rx_desc_off &&
	    c->tx_buf_off == g->tx_buf_off && c->rx_buf_off == g->rx_buf_off;
}

int
ring_check_header(const struct ring_hdr *h, uint64_t avail, uint64_t offset,
    struct ring_geom *g, uint64_t *generation)
{
	struct hdr_copy c;

	/* Acquire: the formatter stores the magic last, with release. */
	if (LOAD_ACQ(&h->magic) != RING_MAGIC)
		return RING_ENOAREA;
	hdr_load(h, &c);
	if (c.version != RING_ABI_VERSION)
		return RING_EVERSION;
	if (ring_geom_init(g, &c.p) != RING_OK || !hdr_matches(&c, g))
		return RING_EGEOMETRY;
	if (c.area_offset != offset || g->area_size > avail)
		return RING_EPLACE;
	*generation = c.generation;
	return RING_OK;
}

int
ring_check_blank(const struct ring_hdr *h)
{
	const volatile unsigned char *p = (const volatile unsigned char *)h;
	size_t i;

	for (i = 0; i < RING_HDR_SIZE; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

uint64_t
ring_check_old_generation(const struct ring_hdr *h)
{
	if (LOAD_ACQ(&h->magic) != RING_MAGIC)
		return 0;
	return LOAD(&h->generation);
}

int
ring_check_count(uint32_t prod, uint32_t cons, uint32_t size,
    uint32_t *count)
{
	uint32_t n = prod - cons;	/* free-running: wraps modulo 2^32 */

	if (n > size) {
		*count = size;
		return RING_EINDEX;
	}
	*count = n;
	return RING_OK;
}

static int
fault(struct ring *r, int err, uint64_t val, uint64_t lim)
{
	r->fault = err;
	r->fault_val = val;
	r->fault_lim = lim;
	return err;
}

int
ring_check_open(struct ring *r)
{
	uint32_t prod, cons, n;

	r->head = LOAD(r->own);
	r->seen = LOAD_ACQ(r->peer);
	prod = r->producer ? r->head : r->seen;
	cons = r->producer ? r->seen : r->head;
	if (ring_check_count(prod, cons, r->size, &n) != RING_OK) {
		if (!r->producer)
			r->seen = r->head + n;	/* clamped */
		return fault(r, RING_EINDEX, (uint32_t)(prod - cons), r->size);
	}
	return RING_OK;
}

int
ring_check_peer(struct ring *r, uint32_t *n)
{
	uint32_t peer = LOAD_ACQ(r->peer), used;

	if (r->producer) {
		/* The consumer can never be ahead of what we produced. */
		if (ring_check_count(r->head, peer, r->size, &used) !=
		    RING_OK) {
			*n = 0;
			return fault(r, RING_EINDEX,
			    (uint32_t)(r->head - peer), r->size);
		}
		r->seen = peer;
		*n = r->size - used;
		return RING_OK;
	}
	if (ring_check_count(peer, r->head, r->size, n) != RING_OK) {
		/* Clamped: even a caller that ignores the error only walks
		 * size descriptors, each of them checked. */
		r->seen = r->head + *n;
		return fault(r, RING_EINDEX, (uint32_t)(peer - r->head),
		    r->size);
	}
	r->seen = peer;
	return RING_OK;
}

uint32_t
ring_check_peer_raw(const struct ring *r)
{
	return LOAD_ACQ(r->peer);
}

int
ring_check_desc(struct ring *r, struct ring_frame *f)
{
	return ring_check_desc_at(r, r->head, f);
}

int
ring_check_desc_at(struct ring *r, uint32_t idx, struct ring_frame *f)
{
	uint32_t i = idx & r->mask;
	uint64_t d = LOAD(&r->desc[i]);		/* the one read */
	uint32_t len = RING_DESC_LEN(d), off = RING_DESC_OFF(d);

	if ((RING_DESC_FLAGS(d) & ~r->flags_ok) != 0)
		return fault(r, RING_EFLAGS, RING_DESC_FLAGS(d), r->flags_ok);
	if (len < RING_FRAME_MIN || len > r->frame_max)
		return fault(r, RING_ELEN, len, r->frame_max);
	/* len <= frame_max <= buf_size, so this cannot wrap. */
	if (off > r->buf_size - len)
		return fault(r, RING_EOFF, off, r->buf_size - len);
	f->data = r->bufs + (size_t)i * r->buf_size + off;
	f->len = len;
	f->flags = RING_DESC_FLAGS(d);
	return RING_OK;
}

int
ring_check_wakeup(const struct ring *r)
{
	return LOAD(r->wakeup) != 0;
}

int
ring_check_space(const struct ring *r)
{
	return LOAD(r->space) != 0;
}

static int
mac_ok(uint64_t mac)
{
	/* Octet 0 is the low byte; its low bit marks group addresses. */
	return mac != 0 && (mac >> 48) == 0 && (mac & 1) == 0;
}

/*
 * Features count where a party without them would have voided them
 * (ring_abi.h): the bridge's in the top of its mac word, which such a
 * bridge zeroes; the NIC's only while tagged with the claim now held.
 */
static uint32_t
features(const struct ring_side_blk *b, enum ring_side side, uint64_t mac,
    uint64_t claim)
{
	uint32_t f;

	if (side == RING_BRIDGE)
		return (uint32_t)(mac >> 48);
	f = LOAD(&b->features);
	if (claim == RING_CLAIM_FREE || claim == RING_CLAIM_BUSY ||
	    f >> 16 != RING_FEAT_TAG(claim))
		return 0;
	return f & 0xffffu;
}

int
ring_check_side(const struct ring_side_blk *b, enum ring_side side,
    uint64_t claim, struct ring_side_view *v)
{
	uint32_t state = LOAD_ACQ(&b->state);
	uint64_t mac;
	int i;

	v->peer_id = LOAD(&b->peer_id);
	v->vector = LOAD(&b->vector);
	v->heartbeat = LOAD(&b->heartbeat);
	mac = LOAD(&b->mac);
	v->features = features(b, side, mac, claim);
	if (side == RING_BRIDGE)
		mac &= 0xffffffffffffULL;	/* the rest is features */
	for (i = 0; i < 6; i++)
		v->mac[i] = (uint8_t)(mac >> (8 * i));
	v->state = state > RING_RUN ? RING_RESET : (enum ring_state)state;
	if (state > RING_RUN)
		return RING_ESTATE;
	if (v->peer_id > RING_PEER_MAX || v->vector >= RING_VECTORS_MAX)
		return RING_EPEER;
	if (side == RING_NIC && state != RING_RESET && !mac_ok(mac))
		return RING_EMAC;
	return RING_OK;
}

uint64_t
ring_check_claim(const struct ring_claim *c)
{
	return LOAD_ACQ(&c->token);
}

unsigned int
ring_check_uplink_ctl(const struct ring_frame *f, void *out, size_t len)
{
	static const size_t size[] = {
		[UPLINK_SUB] = sizeof(struct uplink_mac),
		[UPLINK_UNSUB] = sizeof(struct uplink_mac),
		[UPLINK_RESULT] = sizeof(struct uplink_result),
		[UPLINK_STATS] = sizeof(struct uplink_stats),
	};
	struct uplink_ctl h;

	/* One copy out of the shared buffer, then decide on the copy. */
	if (!(f->flags & UPLINK_CTL) || f->len != len || len < sizeof(h))
		return 0;
	memcpy(out, f->data, len);
	memcpy(&h, out, sizeof(h));
	if (h.type == 0 || h.type >= sizeof(size) / sizeof(size[0]) ||
	    size[h.type] != len || h.len != len)
		return 0;
	return h.type;
}

/* ---- Large frames and their virtio_net_hdr --------------------------- */

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint16_t
be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Segments: ceil(payload / gso_size), payload counted from csum_start
 * past the smallest header of the kind (exact for UDP). */
static uint32_t
segs_bound(const struct ring_vnet *v, uint32_t len)
{
	uint32_t th = v->gso_type == RING_VNET_GSO_UDP_L4 ? 8 : 20;
	uint32_t from = (uint32_t)v->csum_start + th;

	if (len <= from)
		return 1;
	return (len - from + v->gso_size - 1) / v->gso_size;
}

enum ring_vnet_bad
ring_check_vnet(const unsigned char *h, uint32_t len,
    uint32_t frame_max, struct ring_vnet *v)
{
	uint32_t type = h[1] & ~RING_VNET_GSO_ECN, tcp;

	memset(v, 0, sizeof(*v));
	v->flags = h[0];
	v->gso_type = (uint8_t)type;
	v->ecn = (h[1] & RING_VNET_GSO_ECN) != 0;
	v->hdr_len = le16(h + 2);
	v->gso_size = le16(h + 4);
	v->csum_start = le16(h + 6);
	v->csum_offset = le16(h + 8);
	if (v->flags & ~(RING_VNET_F_NEEDS_CSUM | RING_VNET_F_DATA_VALID))
		return RING_VNET_FLAGS;
	tcp = type == RING_VNET_GSO_TCPV4 || type == RING_VNET_GSO_TCPV6;
	if ((!tcp && type != RING_VNET_GSO_NONE &&
	    type != RING_VNET_GSO_UDP_L4) || (v->ecn && !tcp))
		return RING_VNET_TYPE;
	if (v->hdr_len > len)
		return RING_VNET_HDRLEN;
	if ((v->flags & RING_VNET_F_NEEDS_CSUM) &&
	    (v->csum_start < RING_ETH_HLEN ||
	    (uint32_t)v->csum_start + v->csum_offset + 2 > len))
		return RING_VNET_CSUM;
	if (type == RING_VNET_GSO_NONE)
		return len > frame_max ? RING_VNET_LEN : RING_VNET_OK;
	/* Segments: the kernel's own rules (virtio_net_hdr_to_skb()). */
	if (v->gso_size == 0 || !(v->flags & RING_VNET_F_NEEDS_CSUM) ||
	    v->csum_offset != (tcp ? 16 : 6))
		return RING_VNET_SIZE;
	if (segs_bound(v, len) > (tcp ? RING_VNET_SEGS_TCP :
	    RING_VNET_SEGS_UDP))
		return RING_VNET_SEGS;
	return RING_VNET_OK;
}

/*
 * The descriptors of one frame from ring index idx on, avail of them
 * produced: each loaded once, the chain inside what was produced and no
 * longer than the geometry allows, every piece inside its own buffer,
 * the header (first piece only) copied out and checked.
 */
int
ring_check_pkt(struct ring *r, uint32_t idx, uint32_t avail,
    struct ring_pkt *p)
{
	unsigned char hb[RING_VNET_HDR_LEN];
	uint32_t k, i, len, off, fl, min;
	uint64_t d;

	p->len = 0;
	p->npieces = 0;
	p->vnet = 0;
	p->bad = RING_VNET_OK;
	for (k = 0;; k++) {
		if (k >= avail || k >= r->chain_max)
			return fault(r, RING_ECHAIN, k + 1, k >= avail ? avail :
			    r->chain_max);
		i = (idx + k) & r->mask;
		d = LOAD(&r->desc[i]);		/* the one read */
		len = RING_DESC_LEN(d);
		off = RING_DESC_OFF(d);
		fl = RING_DESC_FLAGS(d);
		if ((fl & ~r->flags_ok) != 0 || (k > 0 && (fl & RING_DESC_VNET)))
			return fault(r, RING_EFLAGS, fl, r->flags_ok);
		min = k > 0 ? 1 : RING_FRAME_MIN +
		    (fl & RING_DESC_VNET ? RING_VNET_HDR_LEN : 0);
		if (len < min || len > r->buf_size)
			return fault(r, RING_ELEN, len, r->buf_size);
		if (off > r->buf_size - len)
			return fault(r, RING_EOFF, off, r->buf_size - len);
		p->piece[k].data = r->bufs + (size_t)i * r->buf_size + off;
		p->piece[k].len = len;
		if (k == 0)
			p->flags = fl;
		if (fl & RING_DESC_VNET) {
			memcpy(hb, p->piece[k].data, sizeof(hb));
			p->piece[k].data += RING_VNET_HDR_LEN;
			p->piece[k].len -= RING_VNET_HDR_LEN;
			p->vnet = 1;
		}
		p->len += p->piece[k].len;
		if (!(fl & RING_DESC_NEXT))
			break;
	}
	p->ndesc = p->npieces = k + 1;
	/* Only a frame whose header says it is a segment may pass the MTU. */
	if (p->len > (p->vnet ? RING_VNET_FRAME_MAX : r->frame_max))
		return fault(r, RING_ELEN, p->len, p->vnet ?
		    RING_VNET_FRAME_MAX : r->frame_max);
	if (p->vnet)
		p->bad = ring_check_vnet(hb, p->len, r->frame_max, &p->hdr);
	else
		memset(&p->hdr, 0, sizeof(p->hdr));
	return RING_OK;
}

/* The IP header at l3 (a copy) for a segment of type t: 1 if it fits. */
static int
gso_l3(const struct ring_vnet *v, const unsigned char *h, uint32_t n,
    uint32_t l3, struct ring_gso *g)
{
	uint32_t proto = v->gso_type == RING_VNET_GSO_UDP_L4 ? 17 : 6;
	uint32_t ihl;

	if (l3 + 40 > n)
		return 0;
	if (h[l3] >> 4 == 4 && v->gso_type != RING_VNET_GSO_TCPV6) {
		ihl = (h[l3] & 0xfu) * 4u;
		g->ipv6 = 0;
		return ihl >= 20 && l3 + ihl == v->csum_start &&
		    h[l3 + 9] == proto;
	}
	/* IPv6 without extension headers, as Linux segments it. */
	g->ipv6 = 1;
	return h[l3] >> 4 == 6 && v->gso_type != RING_VNET_GSO_TCPV4 &&
	    l3 + 40 == v->csum_start && h[l3 + 6] == proto;
}

enum ring_vnet_bad
ring_check_gso(const struct ring_vnet *v, const unsigned char *h, uint32_t n,
    uint32_t len, struct ring_gso *g)
{
	uint32_t l3 = RING_ETH_HLEN, type;

	memset(g, 0, sizeof(*g));
	/* Only for a header ring_check_vnet() passed, yet never a
	 * division by a size it refused. */
	if (v->gso_size == 0)
		return RING_VNET_SIZE;
	if (n < RING_ETH_HLEN + 4 || n > len)
		return RING_VNET_HEADERS;
	type = be16(h + 12);
	if (type == 0x8100) {			/* one VLAN tag */
		l3 += 4;
		type = be16(h + 16);
	}
	if ((type != 0x0800 && type != 0x86dd) || !gso_l3(v, h, n, l3, g) ||
	    (type == 0x86dd) != g->ipv6)
		return RING_VNET_HEADERS;
	g->l3 = l3;
	g->l4 = v->csum_start;
	g->tcp = v->gso_type != RING_VNET_GSO_UDP_L4;
	if (g->tcp && g->l4 + 20 <= n)
		g->hdr_end = g->l4 + (h[g->l4 + 12] >> 4) * 4u;
	else if (!g->tcp)
		g->hdr_end = g->l4 + 8;
	if (g->hdr_end < g->l4 + (g->tcp ? 20u : 8u) || g->hdr_end > n ||
	    g->hdr_end > len)
		return RING_VNET_HEADERS;
	g->segs = len == g->hdr_end ? 1 :
	    (len - g->hdr_end + v->gso_size - 1) / v->gso_size;
	return RING_VNET_OK;
}
