/*
 * bridge_slot.c - the bridge's side of each NIC slot: the Jailhouse-style
 * state machine (reset, init, ready, run), resuming a slot in place after
 * a bridge restart, resetting a slot whose ring or control words are
 * corrupt, and reclaiming a slot whose owner's heartbeat stopped.
 *
 * Only consumers repair a ring (docs/ring-abi.md): we drop the queue of a
 * faulty TX ring in init; a faulty RX ring is the NIC's to repair, and we
 * wait in init until it opens cleanly.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "mqbridge/bridge/bridge_slot.h"

const char *
port_name(const struct port *p, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%" PRIu32, p->reg->index, p->slot);
	return buf;
}

void
port_init(struct port *p, struct bridge_region *r, uint32_t slot,
    unsigned int index)
{
	memset(p, 0, sizeof(*p));
	p->reg = r;
	p->slot = slot;
	p->index = index;
	p->state = RING_RESET;
	p->resume = 1;
}

void
port_beat(struct port *p)
{
	if (p->reg->attached)
		ring_side_beat(&p->reg->area, p->slot, RING_BRIDGE);
}

static int
owned(uint64_t claim)
{
	return claim != RING_CLAIM_FREE && claim != RING_CLAIM_BUSY;
}

static void
set_state(struct port *p, enum ring_state st)
{
	p->state = st;
	ring_side_state(&p->reg->area, p->slot, RING_BRIDGE, st);
}

void
port_down(struct bridge *b, struct port *p)
{
	if (p->live)
		b->mac_stale = 1;
	p->live = 0;
	p->dirty = 0;
	p->full_ms = 0;
}

/* Reset: identity again too, in case someone scribbled over our block. */
static void
enter_reset(struct bridge *b, struct port *p)
{
	port_down(b, p);
	ring_side_ident(&p->reg->area, p->slot, RING_BRIDGE,
	    (uint32_t)p->reg->peer.id, 0, NULL);
	set_state(p, RING_RESET);
}

void
port_fault(struct bridge *b, struct port *p, struct ring *r)
{
	char what[160], name[32];

	ring_describe(r, what, sizeof(what));
	log_warn("%s: %s; resetting slot %s", p->reg->path, what,
	    port_name(p, name, sizeof(name)));
	if (r == &p->tx)
		p->tx_repair = 1;
	p->cnt.resets++;
	enter_reset(b, p);
}

/* Open both rings from the stored indices.  0, or -1 to stay in init. */
static int
open_rings(struct bridge *b, struct port *p)
{
	char name[32];
	uint32_t n = 0;
	int err;

	err = ring_open(&p->tx, &p->reg->area, p->slot, RING_TX, RING_BRIDGE);
	if (err != RING_OK && !RING_SLOT_CORRUPT(err))
		return -1;
	if (err != RING_OK || p->tx_repair) {
		/* With garbage indices nobody knows what the ring held. */
		if (err == RING_OK)
			ring_avail(&p->tx, &n);
		ring_repair(&p->tx);
		p->tx_repair = 0;
		b->stats.drop[DROP_CORRUPT] += n;
		p->cnt.drops += n;
		log_info("slot %s: tx ring repaired, %" PRIu32 " queued "
		    "frames dropped%s", port_name(p, name, sizeof(name)), n,
		    err != RING_OK ? " (its indices were garbage)" : "");
	}
	/* A faulty RX ring is the NIC's to repair; retry next tick. */
	err = ring_open(&p->rx, &p->reg->area, p->slot, RING_RX, RING_BRIDGE);
	return err == RING_OK ? 0 : -1;
}

static const char *
mac_str(const uint8_t m[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	    m[3], m[4], m[5]);
	return buf;
}

static struct port *
mac_owner(const struct bridge *b, const uint8_t mac[6])
{
	unsigned int i;

	for (i = 0; i < b->nports; i++)
		if (b->ports[i]->live && memcmp(b->ports[i]->mac, mac, 6) == 0)
			return b->ports[i];
	return NULL;
}

/* Into the MAC table, unless another live slot has the MAC already. */
static int
go_live(struct bridge *b, struct port *p, const struct ring_side_view *nic)
{
	char name[32], oname[32], mac[24];
	struct port *o;

	if ((o = mac_owner(b, nic->mac)) != NULL && o != p) {
		if (!p->dup_logged)
			log_warn("slot %s: mac %s is live in slot %s already; "
			    "not serving it", port_name(p, name, sizeof(name)),
			    mac_str(nic->mac, mac, sizeof(mac)),
			    port_name(o, oname, sizeof(oname)));
		p->dup_logged = 1;
		return -1;
	}
	p->dup_logged = 0;
	memcpy(p->mac, nic->mac, 6);
	p->nic_peer = nic->peer_id;
	p->nic_vec = nic->vector;
	p->live = 1;
	b->mac_stale = 1;
	set_state(p, RING_RUN);
	log_info("slot %s: running, mac %s, peer %" PRIu32,
	    port_name(p, name, sizeof(name)), mac_str(p->mac, mac, sizeof(mac)),
	    p->nic_peer);
	return 0;
}

/* After a bridge restart: carry on where both sides were up, so
 * the NIC notices nothing and its queued frames flow at once. */
static int
try_resume(struct bridge *b, struct port *p, const struct ring_slot_view *v)
{
	const struct ring_side_view *nic = &v->side[RING_NIC];
	const struct ring_side_view *us = &v->side[RING_BRIDGE];
	char name[32];
	uint32_t n = 0;

	/* Ready counts too: we may have stopped just before run. */
	if (!owned(v->claim) || us->state < RING_READY ||
	    nic->state < RING_READY ||
	    us->peer_id != (uint32_t)p->reg->peer.id)
		return 0;
	if (open_rings(b, p) == -1)
		return 0;
	p->state = RING_RUN;
	if (go_live(b, p, nic) == -1)
		return 0;
	p->run_claim = v->claim;
	ring_avail(&p->tx, &n);
	log_info("slot %s: resumed with %" PRIu32 " frames queued",
	    port_name(p, name, sizeof(name)), n);
	return 1;
}

static int
reclaim_due(struct bridge *b, struct port *p, const struct ring_slot_view *v,
    int64_t now)
{
	uint64_t beat = v->side[RING_NIC].heartbeat;
	char name[32];

	if (!owned(v->claim) || v->claim != p->claim || beat != p->beat ||
	    p->beat_ms == 0) {
		p->claim = v->claim;
		p->beat = beat;
		p->beat_ms = now;
		return 0;
	}
	if (now - p->beat_ms < (int64_t)b->opt.reclaim_s * 1000)
		return 0;
	port_down(b, p);
	p->state = RING_RESET;		/* the reclaim zeroes our block */
	p->tx_repair = 0;
	p->claim = 0;
	p->beat_ms = 0;
	if (ring_slot_reclaim(&p->reg->area, p->slot, v->claim) != 1)
		return 1;
	p->cnt.reclaims++;
	log_info("slot %s: reclaimed, its owner's heartbeat stopped %u s ago",
	    port_name(p, name, sizeof(name)), b->opt.reclaim_s);
	return 1;
}

static void
view_bad(struct bridge *b, struct port *p, int err)
{
	char name[32];

	if (p->bad != err)
		log_warn("%s: slot %" PRIu32 ": %s; resetting slot %s",
		    p->reg->path, p->slot, ring_strerror(err),
		    port_name(p, name, sizeof(name)));
	if (p->state != RING_RESET)
		p->cnt.resets++;
	/* Rewrite our block once: the bad word may be ours. */
	if (p->bad != err || p->state != RING_RESET)
		enter_reset(b, p);
	p->bad = err;
}

/* One step along ring_state_next(), guarded by the claim. */
static void
step(struct bridge *b, struct port *p, const struct ring_slot_view *v)
{
	const struct ring_side_view *nic = &v->side[RING_NIC];
	enum ring_state next = ring_state_next(p->state, nic->state);
	char name[32];
	const char *why = NULL;

	/* An unclaimed slot is never served, whatever its words say. */
	if (!owned(v->claim) && next > RING_INIT)
		next = p->state >= RING_READY ? RING_RESET : p->state;
	if (p->live && owned(v->claim) && v->claim != p->run_claim)
		why = "its owner changed";
	else if (p->live && nic->state != RING_RESET &&
	    memcmp(p->mac, nic->mac, 6) != 0)
		why = "its mac changed";
	if (why != NULL) {
		log_warn("slot %s: %s while running; resetting it",
		    port_name(p, name, sizeof(name)), why);
		p->cnt.resets++;
		next = RING_RESET;
	}
	if (p->live) {
		p->nic_peer = nic->peer_id;
		p->nic_vec = nic->vector;
	}
	if (next == p->state)
		return;
	if (p->live && !owned(v->claim))
		log_info("slot %s: released by its owner",
		    port_name(p, name, sizeof(name)));
	log_debug("slot %s: %s -> %s (nic %s)", port_name(p, name,
	    sizeof(name)), ring_state_name(p->state), ring_state_name(next),
	    ring_state_name(nic->state));
	switch (next) {
	case RING_RESET:
		enter_reset(b, p);
		break;
	case RING_INIT:
		ring_side_ident(&p->reg->area, p->slot, RING_BRIDGE,
		    (uint32_t)p->reg->peer.id, 0, NULL);
		set_state(p, RING_INIT);
		break;
	case RING_READY:
		if (open_rings(b, p) == 0)
			set_state(p, RING_READY);
		break;
	case RING_RUN:
		if (go_live(b, p, nic) == 0)
			p->run_claim = v->claim;
		break;
	}
}

void
port_tick(struct bridge *b, struct port *p, int64_t now)
{
	struct ring_slot_view v;
	int err;

	if (!p->reg->attached)
		return;
	err = ring_slot_view(&p->reg->area, p->slot, &v);
	if (reclaim_due(b, p, &v, now))
		return;
	if (err != RING_OK) {
		view_bad(b, p, err);
		return;
	}
	p->bad = 0;
	if (p->resume) {
		p->resume = 0;
		if (try_resume(b, p, &v))
			return;
		enter_reset(b, p);
		return;
	}
	step(b, p, &v);
}
