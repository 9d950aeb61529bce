/*
 * bridge_slot.c - the bridge's side of each NIC slot: the Jailhouse-style
 * state machine (reset, init, ready, run), resuming a slot in place after
 * a bridge restart, resetting a slot whose ring or control words are
 * corrupt, reclaiming a slot whose owner is gone, and keeping each slot's
 * log lines to a rate a scribbling peer cannot flood.
 *
 * Only consumers repair a ring (docs/ring-abi.md): we drop the queue of a
 * faulty TX ring in init; a faulty RX ring is the NIC's to repair, which
 * it does on its way from init to ready.  So that both sides converge
 * from any state, whoever waits for the other's repair must not wait on
 * a side that is already past init (it will not repair any more): we
 * reset the slot instead, which brings both back through init.  Likewise
 * a slot in ready whose rings no longer open cleanly is reset.
 *
 * Reclaim: a stopped heartbeat alone does not mean a dead owner (a VM
 * paused for a snapshot stops beating too).  A slot is reclaimed only when
 * its heartbeat stood still for --reclaim and its owner's ivshmem peer
 * has left the server, or the claim was never bound to a live peer.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/bridge/bridge_uplink.h"
#include "mqbridge/slot/uplink.h"

/* open_rings() results */
#define RINGS_OK	0
#define RINGS_AREA	(-1)	/* not a slot error: try again later */
#define RINGS_RX	(-2)	/* RX corrupt: the NIC's to repair */

const char *
port_name(const struct port *p, char *buf, size_t len)
{
	if (p->uplink)
		snprintf(buf, len, "uplink");
	else
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

/* ---- Log lines, LOGLIMIT_BURST at once per slot --------------------- */

static void
log_held(struct port *p, unsigned int n)
{
	char name[32];

	if (n > 0)
		log_info("slot %s: %u more lines about it not logged (at most "
		    "%d at once, then one a second)", port_name(p, name,
		    sizeof(name)), n, LOGLIMIT_BURST);
}

void
port_log(struct port *p, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!loglimit_ok(&p->log, clock_ms()))
		return;
	log_held(p, loglimit_take_held(&p->log));
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(level, "%s", line);
}

/* ---- States ---------------------------------------------------------- */

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

/* Who we are, and what we do beyond version 1: room doorbells, and large
 * frames where two of them fit each ring.  The relay's port is ours and
 * private: nothing there. */
static void
ident(struct port *p)
{
	const struct ring_area *a = &p->reg->area;
	uint32_t f = RING_F_SPACE | (a->geom.vnet_ok ? RING_F_VNET : 0);

	ring_side_ident(a, p->slot, RING_BRIDGE, (uint32_t)p->reg->peer.id, 0,
	    NULL);
	ring_side_features(a, p->slot, RING_BRIDGE, p->uplink ? 0 : f, 0);
}

void
port_down(struct bridge *b, struct port *p)
{
	if (p->live)
		b->mac_stale = 1;
	p->live = 0;
	p->dirty = 0;
	p->full_ms = 0;
	p->seg_on = 0;
	p->want_room = p->room_armed = 0;
	/* Its frames waiting for the broker are its own no more. */
	p->epoch++;
	p->pend_n = 0;
}

void
port_restart(struct bridge *b, struct port *p)
{
	port_down(b, p);
	p->state = RING_RESET;
	p->tx_repair = 0;
	p->claim = 0;
	p->beat_ms = 0;
	p->bound = p->owner_left = 0;
	p->resume = 1;
}

/* Reset: identity again too, in case someone scribbled over our block. */
static void
enter_reset(struct bridge *b, struct port *p)
{
	port_down(b, p);
	ident(p);
	set_state(p, RING_RESET);
}

static void
fault_reset(struct bridge *b, struct port *p, struct ring *r, int tx)
{
	char what[160], name[32];

	ring_describe(r, what, sizeof(what));
	port_log(p, LOG_WARNING, "%s: %s; resetting slot %s", p->reg->path,
	    what, port_name(p, name, sizeof(name)));
	if (tx)
		p->tx_repair = 1;
	p->cnt.resets++;
	enter_reset(b, p);
}

void
port_fault(struct bridge *b, struct port *p, struct ring *r)
{
	fault_reset(b, p, r, r == &p->tx);
}

/* Open both rings from the stored indices: RINGS_OK, RINGS_AREA, or
 * RINGS_RX when the RX ring waits for the NIC's repair. */
static int
open_rings(struct bridge *b, struct port *p)
{
	char name[32];
	uint32_t n = 0;
	int err;

	err = ring_open(&p->tx, &p->reg->area, p->slot, RING_TX, RING_BRIDGE);
	if (err != RING_OK && !RING_SLOT_CORRUPT(err))
		return RINGS_AREA;
	if (err != RING_OK || p->tx_repair) {
		/* With garbage indices nobody knows what the ring held. */
		if (err == RING_OK)
			ring_avail(&p->tx, &n);
		ring_repair(&p->tx);
		p->tx_repair = 0;
		if (p->uplink)
			n = 0;	/* never ACKed: the broker sends them again */
		b->stats.drop[DROP_CORRUPT] += n;
		p->cnt.drops += n;
		port_log(p, LOG_INFO, "slot %s: tx ring repaired, %" PRIu32
		    " queued frames dropped%s", port_name(p, name,
		    sizeof(name)), n, err != RING_OK ?
		    " (its indices were garbage)" : "");
	}
	err = ring_open(&p->rx, &p->reg->area, p->slot, RING_RX, RING_BRIDGE);
	if (p->uplink)	/* the relay's rings carry control messages too */
		p->tx.flags_ok = p->rx.flags_ok = UPLINK_CTL;
	else if (p->reg->area.geom.vnet_ok)	/* as ident() announced */
		p->tx.flags_ok = RING_DESC_VNET | RING_DESC_NEXT;
	if (err == RING_OK)
		return RINGS_OK;
	return RING_SLOT_CORRUPT(err) ? RINGS_RX : RINGS_AREA;
}

/* In ready we wait for the NIC; if the rings went bad meanwhile, the
 * NIC cannot open them, and only a reset brings both back to repair. */
static int
still_ready(struct bridge *b, struct port *p)
{
	struct ring t;

	if (ring_open(&t, &p->reg->area, p->slot, RING_TX, RING_BRIDGE) !=
	    RING_OK) {
		fault_reset(b, p, &t, 1);
		return 0;
	}
	if (ring_open(&t, &p->reg->area, p->slot, RING_RX, RING_BRIDGE) !=
	    RING_OK) {
		fault_reset(b, p, &t, 0);
		return 0;
	}
	return 1;
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
			port_log(p, LOG_WARNING, "slot %s: mac %s is live in "
			    "slot %s already; not serving it", port_name(p,
			    name, sizeof(name)), mac_str(nic->mac, mac,
			    sizeof(mac)), port_name(o, oname, sizeof(oname)));
		p->dup_logged = 1;
		return -1;
	}
	p->dup_logged = 0;
	memcpy(p->mac, nic->mac, 6);
	p->nic_peer = nic->peer_id;
	p->nic_vec = nic->vector;
	/* What it takes for this run: large frames only if it said so. */
	p->nic_features = p->uplink ? 0 : nic->features;
	if ((p->nic_features & RING_F_VNET) && p->reg->area.geom.vnet_ok)
		p->rx.flags_ok = RING_DESC_VNET | RING_DESC_NEXT;
	p->live = 1;
	b->mac_stale = 1;
	set_state(p, RING_RUN);
	port_log(p, LOG_INFO, "slot %s: running, mac %s, peer %" PRIu32,
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
	if (open_rings(b, p) != RINGS_OK)
		return 0;
	p->state = RING_RUN;
	if (go_live(b, p, nic) == -1)
		return 0;
	p->run_claim = v->claim;
	ring_avail(&p->tx, &n);
	port_log(p, LOG_INFO, "slot %s: resumed with %" PRIu32 " frames "
	    "queued", port_name(p, name, sizeof(name)), n);
	return 1;
}

/* ---- Reclaim --------------------------------------------------------- */

/* Is id on the region's server now (and not us)? */
static int
peer_here(const struct bridge_region *r, uint32_t id)
{
	return r->joined && id != (uint32_t)r->peer.id &&
	    ivpeer_known(&r->peer, (int)id);
}

/* Which peer holds the claim, and whether it was ever on the server. */
static void
track_owner(struct port *p, const struct ring_slot_view *v)
{
	uint32_t id = v->side[RING_NIC].peer_id;

	/* The owner publishes its ID after claiming: follow it. */
	if (id != p->owner) {
		p->owner = id;
		p->bound = 0;
		p->owner_left = 0;
		p->stall_logged = 0;
	}
	if (!p->bound)
		p->bound = peer_here(p->reg, id);
}

void
port_owner_left(struct bridge_region *r, uint32_t id)
{
	struct ring_slot_view v;
	struct port *p;
	char name[32];
	uint32_t s;

	for (s = 0; s < r->nports; s++) {
		p = &r->ports[s];
		if (p->owner != id || !p->bound || !owned(p->claim))
			continue;
		p->owner_left = 1;
		if (!p->live || !r->attached)
			continue;
		/* A clean exit released the slot before leaving. */
		ring_slot_view(&r->area, s, &v);
		if (v.claim == p->run_claim)
			port_log(p, LOG_INFO, "slot %s: its owner, peer %"
			    PRIu32 ", left the server holding it; reclaimed if "
			    "its heartbeat stops", port_name(p, name,
			    sizeof(name)), id);
	}
}

/* The heartbeat stood still long enough: may we take the slot? */
static int
owner_gone(struct bridge *b, struct port *p)
{
	char name[32];

	if (p->owner_left || !p->bound || !p->reg->joined)
		return 1;
	if (!p->stall_logged)
		port_log(p, LOG_INFO, "slot %s: its owner's heartbeat stopped "
		    "%u s ago, but its peer %" PRIu32 " is still on the server "
		    "(paused?); not reclaiming it while the peer is there",
		    port_name(p, name, sizeof(name)), b->opt.reclaim_s,
		    p->owner);
	p->stall_logged = 1;
	return 0;
}

static int
reclaim_due(struct bridge *b, struct port *p, const struct ring_slot_view *v,
    int64_t now)
{
	uint64_t beat = v->side[RING_NIC].heartbeat;
	char name[32];

	if (p->uplink)
		return 0;	/* its relay's death is the bridge's to see */
	if (!owned(v->claim) || v->claim != p->claim || beat != p->beat ||
	    p->beat_ms == 0) {
		if (v->claim != p->claim)
			p->owner = UINT32_MAX;	/* track_owner starts over */
		p->claim = v->claim;
		p->beat = beat;
		p->beat_ms = now;
		p->stall_logged = 0;
		track_owner(p, v);
		return 0;
	}
	track_owner(p, v);
	if (now - p->beat_ms < (int64_t)b->opt.reclaim_s * 1000 ||
	    !owner_gone(b, p))
		return 0;
	port_down(b, p);
	p->state = RING_RESET;		/* the reclaim zeroes our block */
	p->tx_repair = 0;
	p->claim = 0;
	p->beat_ms = 0;
	if (ring_slot_reclaim(&p->reg->area, p->slot, v->claim) != 1)
		return 1;
	p->cnt.reclaims++;
	port_log(p, LOG_INFO, "slot %s: reclaimed, its owner's heartbeat "
	    "stopped %u s ago and its peer %s", port_name(p, name,
	    sizeof(name)), b->opt.reclaim_s, !p->reg->joined ? "is unknown "
	    "(no news from the server)" : p->owner_left ? "left the server" :
	    "was never on the server");
	return 1;
}

/* ---- One step -------------------------------------------------------- */

static void
view_bad(struct bridge *b, struct port *p, int err)
{
	char name[32];

	if (p->bad != err)
		port_log(p, LOG_WARNING, "%s: slot %" PRIu32 ": %s; resetting "
		    "slot %s", p->reg->path, p->slot, ring_strerror(err),
		    port_name(p, name, sizeof(name)));
	if (p->state != RING_RESET)
		p->cnt.resets++;
	/* Rewrite our block once: the bad word may be ours. */
	if (p->bad != err || p->state != RING_RESET)
		enter_reset(b, p);
	p->bad = err;
}

/* Init to ready once both rings open; a corrupt RX ring that a NIC past
 * init will not repair any more resets the slot. */
static void
to_ready(struct bridge *b, struct port *p, const struct ring_side_view *nic)
{
	char name[32];
	int rc;

	if ((rc = open_rings(b, p)) == RINGS_OK) {
		set_state(p, RING_READY);
		return;
	}
	if (rc != RINGS_RX || nic->state < RING_READY)
		return;		/* the NIC repairs it on its way to ready */
	port_log(p, LOG_WARNING, "slot %s: rx ring corrupt while the NIC is "
	    "in %s and will not repair it; resetting the slot",
	    port_name(p, name, sizeof(name)), ring_state_name(nic->state));
	p->cnt.resets++;
	enter_reset(b, p);
}

/* Why a running slot must stop, or NULL. */
static const char *
run_broken(const struct port *p, const struct ring_slot_view *v)
{
	const struct ring_side_view *nic = &v->side[RING_NIC];

	if (!p->live)
		return NULL;
	if (owned(v->claim) && v->claim != p->run_claim)
		return "its owner changed";
	if (nic->state != RING_RESET && memcmp(p->mac, nic->mac, 6) != 0)
		return "its mac changed";
	return NULL;
}

/* One step along ring_state_next(), guarded by the claim. */
static void
step(struct bridge *b, struct port *p, const struct ring_slot_view *v)
{
	const struct ring_side_view *nic = &v->side[RING_NIC];
	enum ring_state next = ring_state_next(p->state, nic->state);
	const char *why;
	char name[32];

	/* An unclaimed slot is never served, whatever its words say. */
	if (!owned(v->claim) && next > RING_INIT)
		next = p->state >= RING_READY ? RING_RESET : p->state;
	if ((why = run_broken(p, v)) != NULL) {
		port_log(p, LOG_WARNING, "slot %s: %s while running; resetting "
		    "it", port_name(p, name, sizeof(name)), why);
		p->cnt.resets++;
		next = RING_RESET;
	}
	if (p->live) {
		p->nic_peer = nic->peer_id;
		p->nic_vec = nic->vector;
	}
	if (next == RING_READY && p->state == RING_READY &&
	    !still_ready(b, p))
		return;
	if (next == p->state)
		return;
	if (p->live && !owned(v->claim)) {
		port_log(p, LOG_INFO, "slot %s: released by its owner",
		    port_name(p, name, sizeof(name)));
		bridge_uplink_return(b, p);
	}
	log_debug("slot %s: %s -> %s (nic %s)", port_name(p, name,
	    sizeof(name)), ring_state_name(p->state), ring_state_name(next),
	    ring_state_name(nic->state));
	switch (next) {
	case RING_RESET:
		enter_reset(b, p);
		break;
	case RING_INIT:
		ident(p);
		set_state(p, RING_INIT);
		break;
	case RING_READY:
		to_ready(b, p, nic);
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

	log_held(p, loglimit_held_due(&p->log, now));
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
