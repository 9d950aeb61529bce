/*
 * ring_pkt.c - frames that span several descriptors (RING_DESC_NEXT) and
 * carry a virtio_net_hdr (RING_DESC_VNET), on rings whose consumer
 * announced RING_F_VNET; and the producer's doorbell for room
 * (RING_F_SPACE).
 *
 * As in ring.c, this file only stores to the area; every shared word it
 * needs is read back through ring_check.c.  A producer publishes a chain
 * in one ring_commit(), so a consumer never sees half of one: a chain
 * that runs past the produced index is a slot error (RING_ECHAIN).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "mqbridge/slot/ring.h"
#include "mqbridge/slot/ring_check.h"

int
ring_peek_pkt(struct ring *r, struct ring_pkt *p)
{
	uint32_t n;
	int err;

	if (r->producer)
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	if (r->head == r->seen) {
		if ((err = ring_check_peer(r, &n)) != RING_OK)
			return err;
		if (n == 0)
			return 0;
	}
	/* seen was checked: seen - head is what was produced. */
	if ((err = ring_check_pkt(r, r->head, r->seen - r->head, p)) !=
	    RING_OK)
		return err;
	return 1;
}

void
ring_next_pkt(struct ring *r, const struct ring_pkt *p)
{
	if (!r->producer && r->fault == RING_OK &&
	    r->seen - r->head >= p->ndesc)
		r->head += p->ndesc;
}

/* The one's complement sum of p[0, len) as native 16-bit words. */
static uint64_t
sum_bytes(const unsigned char *p, uint32_t len)
{
	uint64_t s = 0, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		s += (w & 0xffffffffu) + (w >> 32);
	}
	for (; len >= 2; p += 2, len -= 2)
		s += (uint64_t)(p[0] | p[1] << 8);
	if (len > 0)
		s += p[0];
	return s;
}

static uint32_t
fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint32_t)s;
}

uint32_t
ring_csum(const unsigned char *p, uint32_t len)
{
	return fold(sum_bytes(p, len));
}

void
ring_pkt_copy(const struct ring_pkt *p, uint32_t off, uint32_t len,
    unsigned char *dst, uint64_t *sum)
{
	uint32_t i, at = 0, from, n, s, start = off;

	for (i = 0; i < p->npieces && len > 0; at += p->piece[i++].len) {
		if (off >= at + p->piece[i].len)
			continue;
		from = off - at;
		n = p->piece[i].len - from;
		if (n > len)
			n = len;
		memcpy(dst, p->piece[i].data + from, n);
		if (sum != NULL) {
			/* Summed from our copy: what we sum is what goes. */
			s = fold(sum_bytes(dst, n));
			if ((off - start) & 1)	/* odd: the bytes swap */
				s = (s >> 8 | s << 8) & 0xffffu;
			*sum += s;
		}
		dst += n;
		off += n;
		len -= n;
	}
}

int
ring_reserve_at(struct ring *r, uint32_t k, unsigned char **buf)
{
	uint32_t n;
	int err;

	if (!r->producer || k >= r->size)
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	if (r->head + k - r->seen >= r->size) {
		if ((err = ring_check_peer(r, &n)) != RING_OK)
			return err;
		if (n <= k)
			return 0;
	}
	*buf = r->bufs + (size_t)((r->head + k) & r->mask) * r->buf_size;
	return 1;
}

int
ring_push_piece(struct ring *r, uint32_t off, uint32_t len, uint32_t flags)
{
	uint32_t min = RING_FRAME_MIN;

	if (flags & RING_DESC_VNET)
		min += RING_VNET_HDR_LEN;
	if (r->chain > 0)
		min = 1;
	if (!r->producer || len < min || len > r->buf_size ||
	    off > r->buf_size - len || r->head - r->seen >= r->size ||
	    (flags & ~r->flags_ok) != 0 ||
	    (r->chain > 0 && (flags & RING_DESC_VNET)) ||
	    ((flags & RING_DESC_NEXT) && r->chain + 1 >= r->chain_max))
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	atomic_store_explicit(&r->desc[r->head & r->mask],
	    RING_DESC_FL(len, off, flags), memory_order_relaxed);
	r->head++;
	r->chain = flags & RING_DESC_NEXT ? r->chain + 1 : 0;
	return RING_OK;
}

void
ring_space_arm(struct ring *r, int on)
{
	if (!r->producer)
		return;
	atomic_store_explicit(r->space, on ? 1u : 0u, memory_order_relaxed);
	/* Pairs with the fence in ring_space_wanted(). */
	atomic_thread_fence(memory_order_seq_cst);
}

int
ring_space_wanted(const struct ring *r)
{
	if (r->producer)
		return 0;
	/* Either we see the flag or the producer sees our new index. */
	atomic_thread_fence(memory_order_seq_cst);
	return ring_check_space(r);
}

void
ring_vnet_encode(const struct ring_vnet *v, unsigned char *h)
{
	uint16_t w[4] = { v->hdr_len, v->gso_size, v->csum_start,
	    v->csum_offset };
	int i;

	h[0] = v->flags;
	h[1] = (uint8_t)(v->gso_type | (v->ecn ? RING_VNET_GSO_ECN : 0));
	for (i = 0; i < 4; i++) {
		h[2 + 2 * i] = (uint8_t)w[i];
		h[3 + 2 * i] = (uint8_t)(w[i] >> 8);
	}
	h[10] = h[11] = 0;		/* num_buffers */
}
