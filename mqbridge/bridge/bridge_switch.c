/*
 * bridge_switch.c - moving frames between slots: the MAC table, one
 * round of forwarding with a per-slot budget (fairness), unicast,
 * flooding of broadcast and multicast, anti-spoofing, and the doorbells
 * after a round.
 *
 * A slot has exactly one MAC, published by its owner and fixed while it
 * runs, so the table is not learnt from traffic: it is the set of running
 * slots, rebuilt whenever that set changes.  A frame's source MAC must be
 * its slot's MAC, so no slot can poison another's traffic.
 *
 * Backpressure: a frame whose destination ring is full stays in its
 * sender's TX ring, and so does everything queued behind it, until the
 * destination makes room; only a destination that makes none for
 * --full-wait gets its frames dropped (counted as full).  Other slots
 * flow meanwhile, so a NIC that never reads stalls nobody but, for one
 * bound, the slots that send to it.
 *
 * The broker's port (bridge_uplink.c) is one more port: it gets what no
 * slot owns and every flood, and what comes from it may carry any source
 * MAC but a local slot's.  A frame from it that cannot be placed is never
 * held (the relay's other queues would wait behind it) nor dropped: it
 * goes back to the relay with a RESULT, and the broker keeps it.
 *
 * Frame bytes stay writable by the sending slot while we look at them:
 * the Ethernet header is copied first and every decision is taken on the
 * copy; the destination gets that copy, then the payload.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/doorbell.h"
#include "lib/log.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/bridge/bridge_stats.h"
#include "mqbridge/bridge/bridge_switch.h"
#include "mqbridge/bridge/bridge_uplink.h"

#define BELL_QUIET_MS	1000

static size_t
mac_hash(const uint8_t m[6], size_t mask)
{
	uint64_t v = 0;

	memcpy(&v, m, 6);
	v *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(v >> 32) & mask;
}

int
switch_init(struct bridge *b)
{
	size_t cap = 16;

	while (cap < 2 * (size_t)b->nports + 2)
		cap *= 2;
	b->mac.cap = cap;
	b->mac.slot = calloc(cap, sizeof(*b->mac.slot));
	b->live = calloc(b->nports, sizeof(*b->live));
	b->dirty = calloc(b->nports, sizeof(*b->dirty));
	if (b->mac.slot == NULL || b->live == NULL || b->dirty == NULL) {
		log_err("out of memory for %u slots", b->nports);
		return -1;
	}
	b->mac_stale = 1;
	return 0;
}

void
switch_free(struct bridge *b)
{
	free(b->mac.slot);
	free(b->live);
	free(b->dirty);
	b->mac.slot = NULL;
	b->live = b->dirty = NULL;
}

static void
mac_rebuild(struct bridge *b)
{
	size_t mask = b->mac.cap - 1, h;
	unsigned int i;
	struct port *p;

	memset(b->mac.slot, 0, b->mac.cap * sizeof(*b->mac.slot));
	b->nlive = 0;
	for (i = 0; i < b->nports; i++) {
		p = b->ports[i];
		if (!p->live)
			continue;
		b->live[b->nlive++] = p;
		if (p->uplink)
			continue;	/* it has no MAC of its own */
		/* bridge_slot.c keeps live MACs unique. */
		for (h = mac_hash(p->mac, mask); b->mac.slot[h] != NULL;
		    h = (h + 1) & mask)
			;
		b->mac.slot[h] = p;
	}
	b->mac_stale = 0;
}

static struct port *
mac_lookup(const struct bridge *b, const uint8_t m[6])
{
	size_t mask = b->mac.cap - 1, h;
	struct port *p;

	for (h = mac_hash(m, mask); (p = b->mac.slot[h]) != NULL;
	    h = (h + 1) & mask)
		if (memcmp(p->mac, m, 6) == 0)
			return p->live ? p : NULL;
	return NULL;
}

/* What a destination's RX ring can do for a frame now. */
enum room {
	ROOM,		/* a free descriptor, or a fault for put() to find */
	FULL,		/* full for less than --full-wait: hold the frame */
	GONE		/* full for longer: drop the frame */
};

static int64_t
round_now(struct bridge *b)
{
	if (b->round_ms == 0)
		b->round_ms = clock_ms();
	return b->round_ms;
}

/*
 * The clock runs from the first time we find the ring full and stops
 * whenever it has room again, so the bound is on the NIC making no room
 * at all: a slow reader slows its senders, one that never reads costs
 * them one bound, after which its frames are dropped at once.
 */
/* Full since when?  Past --full-wait, give up; never on the broker's
 * port in persistent mode, where a frame is kept until receipted. */
static enum room
waited(struct bridge *b, struct port *dst)
{
	if (dst->full_ms == 0)
		dst->full_ms = round_now(b);
	if (round_now(b) - dst->full_ms < (int64_t)b->opt.full_wait_ms ||
	    (dst->uplink && b->opt.relay.persistent))
		return FULL;
	return GONE;
}

static enum room
room(struct bridge *b, struct port *dst)
{
	unsigned char *buf;
	int got;

	if ((got = ring_reserve(&dst->rx, &buf)) != 0 &&
	    (!dst->uplink || bridge_uplink_can_put(b))) {
		dst->full_ms = 0;
		return ROOM;
	}
	return waited(b, dst);
}

/* One copy onto dst's RX ring; committed in switch_flush(). */
static void
put(struct bridge *b, struct port *src, struct port *dst,
    const unsigned char *hdr, const unsigned char *data, uint32_t len)
{
	unsigned char *buf;
	int got;

	if (dst->uplink) {
		if ((got = bridge_uplink_put(b, src, hdr, data, len)) != 1)
			stats_drop(b, src, got == 0 ? DROP_FULL : DROP_TOO_BIG);
		return;
	}
	if (len > dst->rx.frame_max) {
		stats_drop(b, src, DROP_TOO_BIG);
		return;
	}
	if ((got = ring_reserve(&dst->rx, &buf)) < 0) {
		port_fault(b, dst, &dst->rx);
		stats_drop(b, src, DROP_CORRUPT);
		return;
	}
	if (got == 0) {
		stats_drop(b, src, DROP_FULL);
		return;
	}
	dst->full_ms = 0;
	memcpy(buf, hdr, RING_ETH_HLEN);
	memcpy(buf + RING_ETH_HLEN, data + RING_ETH_HLEN,
	    len - RING_ETH_HLEN);
	ring_push(&dst->rx, len);
	if (!dst->dirty) {
		dst->dirty = 1;
		b->dirty[b->ndirty++] = dst;
	}
	dst->cnt.out_frames++;
	dst->cnt.out_bytes += len;
	if (src != NULL && src->uplink) {
		dst->cnt.from_broker_frames++;
		dst->cnt.from_broker_bytes += len;
	}
}

static int
unicast(struct bridge *b, struct port *src, struct port *dst,
    const unsigned char *hdr, const unsigned char *data, uint32_t len)
{
	if (len <= dst->rx.frame_max && room(b, dst) == FULL)
		return 0;
	put(b, src, dst, hdr, data, len);
	return 1;
}

/*
 * All or nothing, so no slot ever gets a flood twice: the frame waits
 * until every running slot it goes to has room, or until those without
 * have been full for --full-wait; then each slot with room gets it once
 * and each without counts a drop.
 */
static int
flood(struct bridge *b, struct port *src, const unsigned char *hdr,
    const unsigned char *data, uint32_t len)
{
	struct port *dst;
	unsigned int i;
	int wait = 0;

	for (i = 0; i < b->nlive && !src->uplink; i++) {
		dst = b->live[i];
		if (dst != src && dst->live && len <= dst->rx.frame_max &&
		    room(b, dst) == FULL)
			wait = 1;
	}
	if (wait)
		return 0;
	/* From the broker: the slots with room now; a LAN loses
	 * broadcasts too, and the relay must not wait. */
	for (i = 0; i < b->nlive; i++)
		if (b->live[i] != src && b->live[i]->live &&
		    (!src->uplink || room(b, b->live[i]) == ROOM))
			put(b, src, b->live[i], hdr, data, len);
	return 1;
}

/* A unicast frame from the broker: placed now, or handed back. */
static int
from_broker(struct bridge *b, struct port *src, struct port *dst,
    const unsigned char *hdr, const unsigned char *data, uint32_t len)
{
	enum uplink_status why;

	if (dst == NULL)
		why = UPLINK_GONE;
	else if (len > dst->rx.frame_max)
		why = UPLINK_DROPPED;
	else if (room(b, dst) != ROOM)
		why = UPLINK_FULL;
	else {
		put(b, src, dst, hdr, data, len);
		return 1;
	}
	if (bridge_uplink_result(b, src->tx.head, why) == -1)
		return 0;	/* no room to say so: offer it again */
	if (why != UPLINK_FULL)
		stats_drop(b, src, why == UPLINK_GONE ? DROP_UNKNOWN :
		    DROP_TOO_BIG);
	return 1;
}

int
switch_deliver(struct bridge *b, struct port *src, const unsigned char *hdr,
    const unsigned char *data, uint32_t len)
{
	struct port *dst;

	if (hdr[0] & 1)			/* group bit: broadcast, multicast */
		return flood(b, src, hdr, data, len);
	dst = mac_lookup(b, hdr);
	if (src->uplink)
		return from_broker(b, src, dst, hdr, data, len);
	if (dst == NULL && b->up != NULL) {
		/* No slot here owns it: the broker's.  While the relay is
		 * not running, that port is as good as full. */
		if (b->up->port.live)
			dst = &b->up->port;
		else if (waited(b, &b->up->port) == FULL)
			return 0;
	}
	if (dst == NULL) {
		stats_drop(b, src, DROP_UNKNOWN);
		return 1;
	}
	if (dst == src) {
		stats_drop(b, src, DROP_HAIRPIN);
		return 1;
	}
	return unicast(b, src, dst, hdr, data, len);
}

/* A checked frame from p's TX ring: 0 if it must stay there for now. */
static int
take(struct bridge *b, struct port *p, const struct ring_frame *f)
{
	unsigned char hdr[RING_ETH_HLEN];

	if (f->flags & UPLINK_CTL) {		/* only the uplink allows it */
		bridge_uplink_ctl(b, f);
		return 1;
	}
	memcpy(hdr, f->data, sizeof(hdr));	/* decide on our copy */
	if (p->uplink ? mac_lookup(b, hdr + 6) != NULL :
	    memcmp(hdr + 6, p->mac, 6) != 0) {
		/* From the broker, a local slot's MAC: a spoof, or a MAC
		 * served twice.  Never worth sending again. */
		if (p->uplink &&
		    bridge_uplink_result(b, p->tx.head, UPLINK_DROPPED) == -1)
			return 0;
		stats_drop(b, p, DROP_SPOOFED);
	} else if (!switch_deliver(b, p, hdr, f->data, f->len))
		return 0;
	p->cnt.in_frames++;
	p->cnt.in_bytes += f->len;
	return 1;
}

/*
 * At most budget frames from one slot, in order: a frame whose
 * destination is full stays at the head of the ring with everything
 * behind it, and the slot's turn ends; the next rounds offer it again.
 */
static unsigned int
drain(struct bridge *b, struct port *p)
{
	struct ring_frame f;
	unsigned int n;
	int got;

	p->held = 0;
	for (n = 0; n < b->opt.budget; n++) {
		if ((got = ring_peek(&p->tx, &f)) == 0)
			break;
		if (got < 0) {
			port_fault(b, p, &p->tx);
			return n;
		}
		if (!take(b, p, &f)) {
			p->held = 1;
			b->waiting++;
			break;
		}
		ring_next(&p->tx);
	}
	if (n == 0)
		return 0;
	if (b->up != NULL)
		bridge_uplink_commit_tx(b, p);
	else
		ring_commit(&p->tx);
	/* The relay ACKs what we took once it sees our index move. */
	if (p->uplink && !p->dirty) {
		p->dirty = 1;
		b->dirty[b->ndirty++] = p;
	}
	return n;
}

unsigned int
switch_round(struct bridge *b)
{
	unsigned int i, n = 0;
	struct port *p;

	if (b->mac_stale)
		mac_rebuild(b);
	b->waiting = 0;
	b->round_ms = 0;
	if (b->nlive == 0)
		return 0;
	/* Each slot gets its budget; who goes first rotates. */
	for (i = 0; i < b->nlive; i++) {
		p = b->live[(b->rr + i) % b->nlive];
		if (p->live)
			n += drain(b, p);
	}
	b->rr = (b->rr + 1) % b->nlive;
	switch_flush(b);
	return n;
}

/*
 * The NIC sleeps and asked for a doorbell.  Every peer holds the same
 * eventfd, so a hostile one can make it block (lib/doorbell.c then cuts
 * the write short): such a doorbell is left alone for BELL_QUIET_MS, so
 * it costs us one bounded write a second, and its NIC is found by the
 * frames it gets anyway.
 */
static void
ring_nic(struct port *p)
{
	char name[32];

	if (p->bell_quiet_ms != 0 && clock_ms() < p->bell_quiet_ms)
		return;
	p->bell_quiet_ms = 0;
	if (p->uplink) {
		(void)doorbell_ring(p->reg->bell_fd);
		return;
	}
	if (ivpeer_ring(&p->reg->peer, (int)p->nic_peer, p->nic_vec) == 0)
		return;
	if (errno != ETIMEDOUT) {
		log_debug("slot %s: no doorbell for peer %u", port_name(p,
		    name, sizeof(name)), p->nic_peer);
		return;
	}
	p->bell_quiet_ms = clock_ms() + BELL_QUIET_MS;
	port_log(p, LOG_WARNING, "slot %s: ringing peer %u would block (its "
	    "doorbell was made blocking and filled by a peer); not ringing "
	    "it for %d ms", port_name(p, name, sizeof(name)), p->nic_peer,
	    BELL_QUIET_MS);
}

void
switch_flush(struct bridge *b)
{
	unsigned int i;
	struct port *p;
	uint32_t n;

	for (i = 0; i < b->ndirty; i++) {
		p = b->dirty[i];
		if (!p->dirty)
			continue;	/* went down meanwhile */
		p->dirty = 0;
		/* ring_reserve() reads the NIC's index only when the ring
		 * looks full; check it before each publish as well, so
		 * garbage there stops the slot at once. */
		if (ring_space(&p->rx, &n) != RING_OK) {
			port_fault(b, p, &p->rx);
			continue;
		}
		ring_commit(&p->rx);
		if (ring_wakeup_needed(&p->rx) || p->uplink)
			ring_nic(p);
	}
	b->ndirty = 0;
}

int
switch_arm(struct bridge *b, int on)
{
	unsigned int i, n;
	struct port *p;
	int busy = 0;

	if (b->mac_stale)
		mac_rebuild(b);
	for (i = 0; i < b->nlive; i++) {
		p = b->live[i];
		/* A held slot's queue moves when its destination reads,
		 * which rings no doorbell: the loop naps for it instead. */
		if (!p->live || (on && p->held))
			continue;
		ring_wakeup_arm(&p->tx, on);
		/* A frame may have come just before the flag was seen; a
		 * fault is for the next round to find. */
		if (on && (ring_avail(&p->tx, &n) != RING_OK || n > 0))
			busy = 1;
	}
	return busy;
}
