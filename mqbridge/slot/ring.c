/*
 * ring.c - formatting and attaching to the NIC area, slot control and
 * the producer/consumer operations on a slot's two rings.
 *
 * This file writes to the area; it reads it back only through
 * ring_check.c.  Memory ordering (docs/ring-abi.md, "Ordering"): data and
 * descriptors are published by a release store of the producer index and
 * picked up by an acquire load of it; buffers are handed back by a
 * release store of the consumer index.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mqbridge/slot/ring.h"
#include "mqbridge/slot/ring_check.h"

#define STORE(p, v)	atomic_store_explicit((p), (v), memory_order_relaxed)
#define STORE_REL(p, v)	atomic_store_explicit((p), (v), memory_order_release)

void
ring_params_default(struct ring_params *p)
{
	p->slot_count = 1;
	p->tx_size = RING_SIZE_DEFAULT;
	p->rx_size = RING_SIZE_DEFAULT;
	p->mtu = RING_MTU_DEFAULT;
}

static int
params_equal(const struct ring_params *a, const struct ring_params *b)
{
	return a->slot_count == b->slot_count && a->tx_size == b->tx_size &&
	    a->rx_size == b->rx_size && a->mtu == b->mtu;
}

static void
area_set(struct ring_area *a, void *base, uint64_t offset, uint64_t gen,
    const struct ring_geom *g)
{
	a->base = base;
	a->offset = offset;
	a->generation = gen;
	a->geom = *g;
}

/* A generation no earlier attachment can hold: one past the old one, or
 * the clock for an area that had none. */
static uint64_t
next_generation(const struct ring_hdr *h)
{
	struct timespec ts;
	uint64_t gen = ring_check_old_generation(h);

	if (gen == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gen = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	} else
		gen++;
	return gen != 0 ? gen : 1;
}

static void
format_area(struct ring_hdr *h, uint64_t offset, uint64_t gen,
    const struct ring_geom *g)
{
	/* Parties checking ring_area_live() see no area while we work. */
	STORE_REL(&h->magic, 0);
	memset((unsigned char *)h + 8, 0, g->area_size - 8);
	STORE(&h->abi_version, RING_ABI_VERSION);
	STORE(&h->hdr_size, RING_HDR_SIZE);
	STORE(&h->area_offset, offset);
	STORE(&h->area_size, g->area_size);
	STORE(&h->generation, gen);
	STORE(&h->slot_count, g->p.slot_count);
	STORE(&h->tx_size, g->p.tx_size);
	STORE(&h->rx_size, g->p.rx_size);
	STORE(&h->mtu, g->p.mtu);
	STORE(&h->buf_size, g->buf_size);
	STORE(&h->flags, 0);
	STORE(&h->slot_size, g->slot_size);
	STORE(&h->tx_desc_off, g->tx_desc_off);
	STORE(&h->rx_desc_off, g->rx_desc_off);
	STORE(&h->tx_buf_off, g->tx_buf_off);
	STORE(&h->rx_buf_off, g->rx_buf_off);
	STORE_REL(&h->magic, RING_MAGIC);
}

int
ring_format(struct ring_area *a, void *base, uint64_t avail, uint64_t offset,
    const struct ring_params *p, int force, int *formatted)
{
	struct ring_geom g, old;
	uint64_t gen;
	int err;

	*formatted = 0;
	if (base == NULL || offset % RING_PAGE != 0 || avail < RING_HDR_SIZE)
		return RING_EPARAM;
	if ((err = ring_geom_init(&g, p)) != RING_OK)
		return err;
	if (g.area_size > avail)
		return RING_EPLACE;
	if (!force) {
		err = ring_check_header(base, avail, offset, &old, &gen);
		if (err == RING_OK && !params_equal(&old.p, p))
			return RING_EMISMATCH;
		if (err == RING_OK) {
			area_set(a, base, offset, gen, &old);
			return RING_OK;
		}
		if (err != RING_ENOAREA)
			return err;
		if (!ring_check_blank(base))
			return RING_EFOREIGN;
	}
	gen = next_generation(base);
	format_area(base, offset, gen, &g);
	area_set(a, base, offset, gen, &g);
	*formatted = 1;
	return RING_OK;
}

int
ring_probe(const void *base, uint64_t offset, struct ring_geom *g)
{
	uint64_t gen;

	if (base == NULL || offset % RING_PAGE != 0)
		return RING_EPARAM;
	return ring_check_header(base, UINT64_MAX, offset, g, &gen);
}

int
ring_attach(struct ring_area *a, void *base, uint64_t avail, uint64_t offset,
    const struct ring_params *expect)
{
	struct ring_geom g;
	uint64_t gen;
	int err;

	if (base == NULL || offset % RING_PAGE != 0)
		return RING_EPARAM;
	if (avail < RING_HDR_SIZE)
		return RING_EPLACE;
	if ((err = ring_check_header(base, avail, offset, &g, &gen)) != 0)
		return err;
	if (expect != NULL && !params_equal(&g.p, expect))
		return RING_EMISMATCH;
	area_set(a, base, offset, gen, &g);
	return RING_OK;
}

int
ring_area_live(const struct ring_area *a)
{
	struct ring_geom g;
	uint64_t gen;
	int err;

	err = ring_check_header((const struct ring_hdr *)a->base,
	    a->geom.area_size, a->offset, &g, &gen);
	if (err == RING_ENOAREA)
		return RING_EGENERATION;	/* being reformatted */
	if (err != RING_OK)
		return err;
	if (gen != a->generation)
		return RING_EGENERATION;
	if (!params_equal(&g.p, &a->geom.p))
		return RING_EGEOMETRY;
	return RING_OK;
}

const char *
ring_strerror(int err)
{
	switch (err) {
	case RING_OK:
		return "no error";
	case RING_ENOAREA:
		return "no NIC area at this offset; format it first";
	case RING_EVERSION:
		return "NIC area has another ABI version; reformat it";
	case RING_EGEOMETRY:
		return "NIC area geometry out of limits or inconsistent";
	case RING_EPLACE:
		return "NIC area does not fit the region at this offset";
	case RING_EMISMATCH:
		return "NIC area formatted with other parameters; "
		    "use them or force a reformat";
	case RING_EGENERATION:
		return "NIC area was reformatted; attach again";
	case RING_EFOREIGN:
		return "region holds other data at this offset; "
		    "pick another offset or force";
	case RING_EINDEX:
		return "ring index out of range";
	case RING_ELEN:
		return "descriptor length out of range";
	case RING_EOFF:
		return "descriptor data outside its buffer";
	case RING_EFLAGS:
		return "descriptor has unknown flags";
	case RING_ESTATE:
		return "slot state word out of range";
	case RING_EPEER:
		return "slot peer ID or vector out of range";
	case RING_EMAC:
		return "live slot without a unicast MAC";
	case RING_ECHAIN:
		return "descriptor chain past the produced index or too long";
	case RING_EPARAM:
		return "invalid argument";
	}
	return "unknown ring error";
}

void
ring_describe(const struct ring *r, char *buf, size_t len)
{
	const char *dir = r->dir == RING_TX ? "tx" : "rx";
	unsigned long long v = r->fault_val, l = r->fault_lim;

	switch (r->fault) {
	case RING_EINDEX:
		snprintf(buf, len, "slot %u %s: produced count %llu exceeds "
		    "ring size %llu", r->slot, dir, v, l);
		break;
	case RING_ELEN:
		snprintf(buf, len, "slot %u %s: descriptor length %llu "
		    "outside %u..%llu", r->slot, dir, v, RING_FRAME_MIN, l);
		break;
	case RING_EOFF:
		snprintf(buf, len, "slot %u %s: descriptor offset %llu "
		    "past %llu", r->slot, dir, v, l);
		break;
	case RING_EFLAGS:
		snprintf(buf, len, "slot %u %s: descriptor flags 0x%llx",
		    r->slot, dir, v);
		break;
	case RING_ECHAIN:
		snprintf(buf, len, "slot %u %s: a frame of %llu descriptors "
		    "where at most %llu may be", r->slot, dir, v, l);
		break;
	default:
		snprintf(buf, len, "slot %u %s: %s", r->slot, dir,
		    ring_strerror(r->fault));
	}
}

/* ---- Slots ----------------------------------------------------------- */

struct ring_slot *
ring_slot_at(const struct ring_area *a, uint32_t slot)
{
	if (slot >= a->geom.p.slot_count)
		return NULL;
	return (struct ring_slot *)(a->base + RING_HDR_SIZE +
	    (uint64_t)slot * a->geom.slot_size);
}

int
ring_slot_view(const struct ring_area *a, uint32_t slot,
    struct ring_slot_view *v)
{
	struct ring_slot *s = ring_slot_at(a, slot);
	int err, err2;

	if (s == NULL)
		return RING_EPARAM;
	v->claim = ring_check_claim(&s->claim);
	err = ring_check_side(&s->side[RING_NIC], RING_NIC, v->claim,
	    &v->side[RING_NIC]);
	err2 = ring_check_side(&s->side[RING_BRIDGE], RING_BRIDGE, v->claim,
	    &v->side[RING_BRIDGE]);
	return err != RING_OK ? err : err2;
}

static int
token_ok(uint64_t token)
{
	return token != RING_CLAIM_FREE && token != RING_CLAIM_BUSY;
}

static int
claim_swap(const struct ring_area *a, uint32_t slot, uint64_t from,
    uint64_t to)
{
	struct ring_slot *s = ring_slot_at(a, slot);

	if (s == NULL)
		return RING_EPARAM;
	return atomic_compare_exchange_strong_explicit(&s->claim.token,
	    &from, to, memory_order_acq_rel, memory_order_acquire);
}

int
ring_slot_claim(const struct ring_area *a, uint32_t slot, uint64_t token)
{
	if (!token_ok(token))
		return RING_EPARAM;
	return claim_swap(a, slot, RING_CLAIM_FREE, token);
}

int
ring_slot_release(const struct ring_area *a, uint32_t slot, uint64_t token)
{
	if (!token_ok(token))
		return RING_EPARAM;
	return claim_swap(a, slot, token, RING_CLAIM_FREE);
}

int
ring_slot_reclaim(const struct ring_area *a, uint32_t slot, uint64_t seen)
{
	int won;

	if (!token_ok(seen))
		return RING_EPARAM;
	/* BUSY keeps claimers out while the slot is half cleared. */
	if ((won = claim_swap(a, slot, seen, RING_CLAIM_BUSY)) != 1)
		return won;
	ring_slot_clear(a, slot);
	STORE_REL(&ring_slot_at(a, slot)->claim.token, RING_CLAIM_FREE);
	return 1;
}

static void
side_clear(struct ring_side_blk *b)
{
	STORE(&b->state, RING_RESET);
	STORE(&b->peer_id, 0);
	STORE(&b->vector, 0);
	STORE(&b->pad0, 0);
	STORE(&b->heartbeat, 0);
	STORE(&b->mac, 0);
	STORE(&b->features, 0);
}

static void
index_clear(struct ring_index *x)
{
	STORE(&x->idx, 0);
	STORE(&x->wakeup, 0);
}

void
ring_slot_clear(const struct ring_area *a, uint32_t slot)
{
	struct ring_slot *s = ring_slot_at(a, slot);
	const struct ring_geom *g = &a->geom;

	if (s == NULL)
		return;
	side_clear(&s->side[RING_NIC]);
	side_clear(&s->side[RING_BRIDGE]);
	index_clear(&s->tx_prod);
	index_clear(&s->tx_cons);
	index_clear(&s->rx_prod);
	index_clear(&s->rx_cons);
	/* The next owner must not read the last owner's frames. */
	memset((unsigned char *)s + g->tx_desc_off, 0,
	    g->slot_size - g->tx_desc_off);
	atomic_thread_fence(memory_order_release);
}

void
ring_side_ident(const struct ring_area *a, uint32_t slot, enum ring_side side,
    uint32_t peer_id, uint32_t vector, const uint8_t mac[6])
{
	struct ring_slot *s = ring_slot_at(a, slot);
	uint64_t m = 0;
	int i;

	if (s == NULL || (side != RING_NIC && side != RING_BRIDGE))
		return;
	for (i = 0; mac != NULL && i < 6; i++)
		m |= (uint64_t)mac[i] << (8 * i);
	STORE(&s->side[side].peer_id, peer_id);
	STORE(&s->side[side].vector, vector);
	STORE(&s->side[side].mac, m);
}

void
ring_side_features(const struct ring_area *a, uint32_t slot,
    enum ring_side side, uint32_t features, uint64_t claim)
{
	struct ring_slot *s = ring_slot_at(a, slot);

	features &= 0xffffu;
	if (s == NULL)
		return;
	/* Where a party without features voids them (ring_abi.h). */
	if (side == RING_BRIDGE)
		STORE(&s->side[side].mac, (uint64_t)features << 48);
	else if (side == RING_NIC)
		STORE(&s->side[side].features, features |
		    RING_FEAT_TAG(claim) << 16);
}

void
ring_side_state(const struct ring_area *a, uint32_t slot, enum ring_side side,
    enum ring_state st)
{
	struct ring_slot *s = ring_slot_at(a, slot);

	/* Release: the identity and the ring indices come first. */
	if (s != NULL && (side == RING_NIC || side == RING_BRIDGE))
		STORE_REL(&s->side[side].state, (uint32_t)st);
}

void
ring_side_beat(const struct ring_area *a, uint32_t slot, enum ring_side side)
{
	struct ring_slot *s = ring_slot_at(a, slot);

	/* Only the change matters, so the old value is never looked at. */
	if (s != NULL && (side == RING_NIC || side == RING_BRIDGE))
		atomic_fetch_add_explicit(&s->side[side].heartbeat, 1,
		    memory_order_relaxed);
}

enum ring_state
ring_state_next(enum ring_state own, enum ring_state peer)
{
	switch (own) {
	case RING_RESET:
		/* Wait for the peer to leave READY/RUN. */
		return peer < RING_READY ? RING_INIT : RING_RESET;
	case RING_INIT:
		/* Open the rings (ring_open) before returning READY. */
		return peer > RING_RESET ? RING_READY : RING_INIT;
	case RING_READY:
		if (peer >= RING_READY)
			return RING_RUN;
		return peer == RING_RESET ? RING_RESET : RING_READY;
	case RING_RUN:
		return peer == RING_RESET ? RING_RESET : RING_RUN;
	}
	return RING_RESET;
}

/* ---- Rings ----------------------------------------------------------- */

const char *
ring_state_name(enum ring_state st)
{
	static const char *names[] = { "reset", "init", "ready", "run" };

	return (unsigned int)st < 4 ? names[st] : "?";
}

int
ring_open(struct ring *r, const struct ring_area *a, uint32_t slot,
    enum ring_dir dir, enum ring_side side)
{
	struct ring_slot *s = ring_slot_at(a, slot);
	const struct ring_geom *g = &a->geom;
	struct ring_index *prod, *cons;
	unsigned char *sb = (unsigned char *)s;

	if (s == NULL || (dir != RING_TX && dir != RING_RX) ||
	    (side != RING_NIC && side != RING_BRIDGE))
		return RING_EPARAM;
	memset(r, 0, sizeof(*r));
	r->producer = (dir == RING_TX) == (side == RING_NIC);
	prod = dir == RING_TX ? &s->tx_prod : &s->rx_prod;
	cons = dir == RING_TX ? &s->tx_cons : &s->rx_cons;
	r->own = r->producer ? &prod->idx : &cons->idx;
	r->peer = r->producer ? &cons->idx : &prod->idx;
	r->wakeup = &cons->wakeup;
	r->space = &prod->wakeup;
	r->desc = (_Atomic uint64_t *)(sb +
	    (dir == RING_TX ? g->tx_desc_off : g->rx_desc_off));
	r->bufs = sb + (dir == RING_TX ? g->tx_buf_off : g->rx_buf_off);
	r->size = dir == RING_TX ? g->p.tx_size : g->p.rx_size;
	r->mask = r->size - 1;
	r->buf_size = g->buf_size;
	r->frame_max = g->frame_max;
	r->chain_max = g->chain_max;
	r->slot = slot;
	r->dir = dir;
	return ring_check_open(r);
}

int
ring_repair(struct ring *r)
{
	if (r->producer)
		return RING_EPARAM;
	r->head = ring_check_peer_raw(r);
	r->seen = r->head;
	r->fault = RING_OK;
	ring_commit(r);
	return RING_OK;
}

void
ring_commit(struct ring *r)
{
	STORE_REL(r->own, r->head);
}

int
ring_commit_at(struct ring *r, uint32_t idx)
{
	if (r->producer || r->head - idx > r->size)
		return RING_EPARAM;
	STORE_REL(r->own, idx);
	return RING_OK;
}

int
ring_space(struct ring *r, uint32_t *n)
{
	*n = 0;
	if (!r->producer)
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	return ring_check_peer(r, n);
}

int
ring_reserve(struct ring *r, unsigned char **buf)
{
	uint32_t n;
	int err;

	if (!r->producer)
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	/* seen was checked, so head - seen <= size: no reload while the
	 * cached view still shows a free descriptor. */
	if (r->head - r->seen >= r->size) {
		if ((err = ring_check_peer(r, &n)) != RING_OK)
			return err;
		if (n == 0)
			return 0;
	}
	*buf = r->bufs + (size_t)(r->head & r->mask) * r->buf_size;
	return 1;
}

int
ring_push(struct ring *r, uint32_t len)
{
	return ring_push_flags(r, len, 0);
}

int
ring_push_flags(struct ring *r, uint32_t len, uint32_t flags)
{
	if (!r->producer || len < RING_FRAME_MIN || len > r->frame_max ||
	    r->head - r->seen >= r->size || (flags & ~r->flags_ok) != 0 ||
	    (flags & RING_DESC_NEXT) != 0 || r->chain != 0)
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	STORE(&r->desc[r->head & r->mask], RING_DESC_FL(len, 0, flags));
	r->head++;
	return RING_OK;
}

int
ring_send(struct ring *r, const void *frame, uint32_t len)
{
	unsigned char *buf = NULL;
	int got;

	if (!r->producer || len < RING_FRAME_MIN || len > r->frame_max)
		return RING_EPARAM;
	if ((got = ring_reserve(r, &buf)) != 1)
		return got;
	memcpy(buf, frame, len);
	ring_push(r, len);
	ring_commit(r);
	return 1;
}

int
ring_unread(struct ring *r, uint32_t k, struct ring_frame *f)
{
	uint32_t n;
	int err;

	if (!r->producer)
		return RING_EPARAM;
	if ((err = ring_check_peer(r, &n)) != RING_OK)
		return err;
	if (k >= (r->head - r->seen))
		return 0;
	if ((err = ring_check_desc_at(r, r->seen + k, f)) != RING_OK)
		return err;
	return 1;
}

int
ring_wakeup_needed(const struct ring *r)
{
	/* Pairs with the fence in ring_wakeup_arm(): either we see the
	 * flag or the consumer sees our new index. */
	atomic_thread_fence(memory_order_seq_cst);
	return ring_check_wakeup(r);
}

int
ring_avail(struct ring *r, uint32_t *n)
{
	*n = 0;
	if (r->producer)
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	return ring_check_peer(r, n);
}

int
ring_peek(struct ring *r, struct ring_frame *f)
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
	if ((err = ring_check_desc(r, f)) != RING_OK)
		return err;
	return 1;
}

int
ring_peek_at(struct ring *r, uint32_t k, struct ring_frame *f)
{
	uint32_t n;
	int err;

	if (r->producer)
		return RING_EPARAM;
	if (r->fault != RING_OK)
		return r->fault;
	if (r->seen - r->head <= k) {
		if ((err = ring_check_peer(r, &n)) != RING_OK)
			return err;
		if (n <= k)
			return 0;
	}
	if ((err = ring_check_desc_at(r, r->head + k, f)) != RING_OK)
		return err;
	return 1;
}

int
ring_rewind(struct ring *r, uint32_t idx)
{
	if (r->producer || r->head - idx > r->size)
		return RING_EPARAM;
	r->head = idx;
	return RING_OK;
}

void
ring_next(struct ring *r)
{
	if (!r->producer && r->fault == RING_OK && r->head != r->seen)
		r->head++;
}

int
ring_recv(struct ring *r, void *buf, uint32_t size, uint32_t *len)
{
	struct ring_frame f;
	int got;

	*len = 0;
	if (size < r->frame_max)
		return RING_EPARAM;
	if ((got = ring_peek(r, &f)) != 1)
		return got;
	memcpy(buf, f.data, f.len);
	*len = f.len;
	ring_next(r);
	ring_commit(r);
	return 1;
}

void
ring_wakeup_arm(struct ring *r, int on)
{
	if (r->producer)
		return;
	STORE(r->wakeup, on ? 1u : 0u);
	atomic_thread_fence(memory_order_seq_cst);
}
