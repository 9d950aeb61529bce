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
#include "mqbridge/bridge/bridge_fwd.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/bridge/bridge_stats.h"
#include "mqbridge/bridge/bridge_switch.h"
#include "mqbridge/bridge/bridge_uplink.h"

#define BELL_QUIET_MS	1000

static void	ring_nic(struct port *, int);

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
	ROOM,		/* free descriptors, or a fault for put() to find */
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
	dst->want_room = 1;
	if (round_now(b) - dst->full_ms < (int64_t)b->opt.full_wait_ms ||
	    (dst->uplink && b->opt.relay.persistent))
		return FULL;
	return GONE;
}

/* Room for need descriptors (need > 0) in dst's RX ring? */
static enum room
room(struct bridge *b, struct port *dst, uint32_t need)
{
	unsigned char *buf;
	int got;

	if ((got = ring_reserve_at(&dst->rx, need - 1, &buf)) != 0 &&
	    (!dst->uplink || bridge_uplink_can_put(b))) {
		dst->full_ms = 0;
		return ROOM;
	}
	return waited(b, dst);
}

/*
 * Put f into dst, the segments from *next on: 1 done with (put, or
 * dropped and counted), 0 when the rest must wait for room.
 */
static int
put(struct bridge *b, struct port *src, struct port *dst, struct fwd *f,
    uint32_t *next)
{
	int got;

	if (fwd_need(f, dst, *next, 0) == 0) {
		stats_drop(b, src, DROP_TOO_BIG);
		return 1;
	}
	got = fwd_put(b, f, src, dst, next);
	if (got == -1) {
		port_fault(b, dst, &dst->rx);
		stats_drop(b, src, DROP_CORRUPT);
	} else if (got == -2)
		stats_drop(b, src, DROP_TOO_BIG);
	else if (got == 0)
		return 0;
	dst->full_ms = got == 1 ? 0 : dst->full_ms;
	return 1;
}

/* A unicast frame, or what is left of one cut into segments: the
 * sender's cursor says where it stopped. */
static int
unicast(struct bridge *b, struct port *src, struct port *dst, struct fwd *f)
{
	uint32_t need;

	if (!src->seg_on || src->seg_at != src->tx.head) {
		src->seg_on = 1;
		src->seg_at = src->tx.head;
		src->seg_next = 0;
	}
	need = fwd_need(f, dst, src->seg_next, 0);
	if (need > 0) {
		switch (room(b, dst, need)) {
		case ROOM:
			break;
		case FULL:
			return 0;
		case GONE:
			stats_drop(b, src, DROP_FULL);
			src->seg_on = 0;
			return 1;
		}
	}
	if (!put(b, src, dst, f, &src->seg_next))
		return 0;
	src->seg_on = 0;
	return 1;
}

/*
 * All or nothing, so no slot ever gets a flood twice: the frame waits
 * until every running slot it goes to has room for all of it, or until
 * those without have been full for --full-wait; then each slot with room
 * gets it once and each without counts a drop.
 */
static int
flood(struct bridge *b, struct port *src, struct fwd *f)
{
	struct port *dst;
	uint32_t need, from;
	unsigned int i;
	int wait = 0;

	for (i = 0; i < b->nlive && !src->uplink; i++) {
		dst = b->live[i];
		if (dst != src && dst->live &&
		    (need = fwd_need(f, dst, 0, 1)) > 0 &&
		    room(b, dst, need) == FULL)
			wait = 1;
	}
	if (wait)
		return 0;
	/* From the broker: the slots with room now; a LAN loses
	 * broadcasts too, and the relay must not wait. */
	for (i = 0; i < b->nlive; i++) {
		dst = b->live[i];
		from = 0;
		if (dst == src || !dst->live)
			continue;
		need = fwd_need(f, dst, 0, 1);
		if (need == 0 || room(b, dst, need) == ROOM) {
			if (!put(b, src, dst, f, &from))
				stats_drop(b, src, DROP_FULL);
		} else if (!src->uplink)
			stats_drop(b, src, DROP_FULL);
	}
	return 1;
}

/* A unicast frame from the broker: placed now, or handed back. */
static int
from_broker(struct bridge *b, struct port *src, struct port *dst,
    struct fwd *f)
{
	enum uplink_status why;
	uint32_t from = 0;

	if (dst == NULL)
		why = UPLINK_GONE;
	else if (fwd_need(f, dst, 0, 1) == 0)
		why = UPLINK_DROPPED;
	else if (room(b, dst, fwd_need(f, dst, 0, 1)) != ROOM)
		why = UPLINK_FULL;
	else {
		(void)put(b, src, dst, f, &from);
		return 1;
	}
	if (bridge_uplink_result(b, src->tx.head, why) == -1)
		return 0;	/* no room to say so: offer it again */
	if (why != UPLINK_FULL)
		stats_drop(b, src, why == UPLINK_GONE ? DROP_UNKNOWN :
		    DROP_TOO_BIG);
	return 1;
}

/* Forward one checked frame: 1 when it is done with (delivered or
 * dropped), 0 when a destination ring is full but may make room within
 * --full-wait: offer it again. */
static int
deliver(struct bridge *b, struct port *src, struct fwd *f)
{
	const unsigned char *hdr = f->hdr;
	struct port *dst;

	if (hdr[0] & 1)			/* group bit: broadcast, multicast */
		return flood(b, src, f);
	dst = mac_lookup(b, hdr);
	if (src->uplink)
		return from_broker(b, src, dst, f);
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
	return unicast(b, src, dst, f);
}

/* A checked frame from p's TX ring: 0 if it must stay there for now. */
static int
take(struct bridge *b, struct port *p, struct fwd *f)
{
	const unsigned char *hdr = f->hdr;
	struct ring_frame ctl;

	if (f->pkt.flags & UPLINK_CTL) {	/* only the uplink allows it */
		ctl.data = f->pkt.piece[0].data;
		ctl.len = f->pkt.piece[0].len;
		ctl.flags = f->pkt.flags;
		bridge_uplink_ctl(b, &ctl);
		return 1;
	}
	/* Decide on our copy of the headers, of a header that passed. */
	if (f->pkt.bad != RING_VNET_OK || fwd_init(f) != RING_VNET_OK) {
		stats_drop(b, p, DROP_BAD_VNET);
	} else if (p->uplink ? mac_lookup(b, hdr + 6) != NULL :
	    memcmp(hdr + 6, p->mac, 6) != 0) {
		/* From the broker, a local slot's MAC: a spoof, or a MAC
		 * served twice.  Never worth sending again. */
		if (p->uplink &&
		    bridge_uplink_result(b, p->tx.head, UPLINK_DROPPED) == -1)
			return 0;
		stats_drop(b, p, DROP_SPOOFED);
	} else if (!deliver(b, p, f))
		return 0;
	p->cnt.in_frames++;
	p->cnt.in_bytes += f->pkt.len;
	return 1;
}

/*
 * At most budget descriptors from one slot, in order: a frame whose
 * destination is full stays at the head of the ring with everything
 * behind it, and the slot's turn ends; the next rounds offer it again.
 */
static unsigned int
drain(struct bridge *b, struct port *p)
{
	static struct fwd f;
	unsigned int n;
	int got;

	p->held = 0;
	for (n = 0; n < b->opt.budget; n += f.pkt.ndesc) {
		if ((got = ring_peek_pkt(&p->tx, &f.pkt)) == 0)
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
		ring_next_pkt(&p->tx, &f.pkt);
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
	/* Its NIC waits for room: it has some now. */
	if (!p->uplink && ring_space_wanted(&p->tx))
		ring_nic(p, 1);
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
	for (i = 0; i < b->nlive; i++)
		b->live[i]->want_room = 0;
	if (b->up != NULL)
		b->up->port.want_room = 0;
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
ring_nic(struct port *p, int room)
{
	char name[32];

	if (p->bell_quiet_ms != 0 && clock_ms() < p->bell_quiet_ms)
		return;
	p->bell_quiet_ms = 0;
	p->cnt.bells++;
	p->cnt.room_bells += room != 0;
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
			ring_nic(p, 0);
		else
			p->cnt.bells_quiet++;
	}
	b->ndirty = 0;
}

/* Our RX ring was full: may its NIC ring us once it reads?  1 if room
 * came meanwhile. */
static int
arm_room(struct port *p, int on, int *nap)
{
	unsigned char *buf;

	if (!on) {
		if (p->room_armed)
			ring_space_arm(&p->rx, 0);
		p->room_armed = 0;
		return 0;
	}
	if (!p->want_room)
		return 0;
	if (p->uplink || !p->live || !(p->nic_features & RING_F_SPACE)) {
		*nap = 1;
		return 0;
	}
	ring_space_arm(&p->rx, 1);
	p->room_armed = 1;
	return ring_reserve(&p->rx, &buf) != 0;
}

void
switch_room_tick(struct bridge *b)
{
	unsigned int i;
	struct port *p;

	if (b->mac_stale)
		mac_rebuild(b);
	/* Room the relay's receipts freed reaches no drain(): a NIC that
	 * waits for it hears of it here. */
	for (i = 0; i < b->nlive; i++) {
		p = b->live[i];
		if (p->live && !p->uplink && ring_space_wanted(&p->tx))
			ring_nic(p, 1);
	}
}

int
switch_arm(struct bridge *b, int on, int *nap)
{
	unsigned int i, n;
	struct port *p;
	int busy = 0;

	*nap = 0;
	if (b->mac_stale)
		mac_rebuild(b);
	if (b->up != NULL && arm_room(&b->up->port, on, nap))
		busy = 1;
	for (i = 0; i < b->nlive; i++) {
		p = b->live[i];
		if (p->live && !p->uplink && arm_room(p, on, nap))
			busy = 1;
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
