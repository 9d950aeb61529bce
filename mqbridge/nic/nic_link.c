/*
 * nic_link.c - the NIC side of a slot: its state (reset, init, ready,
 * run, as the bridge's) and the frames between the TAP and the rings.
 *
 * Frames move only in run.  The rings are opened on the way from init to
 * ready, resuming from the stored indices; a corrupt RX ring is ours to
 * repair (we consume it), a corrupt TX ring the bridge's, so we wait in
 * init for it, but only while the bridge is in init too: a bridge past
 * init will not repair any more, and waiting on it would hold the slot
 * down for good.  Then, and when our rings go bad while we wait in ready,
 * we reset, so that both sides come back through init and repair.  Any
 * slot error on the way takes us back to reset, which the bridge
 * follows.  Log lines are rate-limited (lib/loglimit.h): a peer
 * scribbling over the slot must not flood the log.
 *
 * Large frames: when both we and the bridge announced RING_F_VNET, the
 * TAP's offloads are on and a frame from it (up to 64 KiB, its
 * virtio_net_hdr first) is read straight into as many TX buffers as it
 * needs, a chain of descriptors; we read only with room for the largest.
 * Otherwise the header goes to a scratch buffer and the frame into one
 * TX buffer; the rest of an oversized frame spills into a scratch buffer,
 * so it is seen whole, counted and dropped, never truncated.  RX frames
 * go from their buffers to the TAP as they are, after our copy of their
 * checked header (or a blank one): the kernel copies them, and we decide
 * nothing on their contents.
 *
 * Doorbells: we ring the bridge when it sleeps and we produced, and when
 * it waits for room in our RX ring and we freed some (RING_F_SPACE).
 * While our TX ring is full we ask for the same, if the bridge offers it,
 * instead of napping: the TAP stays unread and the kernel queues.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/uio.h>

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stdio.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "mqbridge/nic/nic_link.h"

#define SPILL	(RING_VNET_FRAME_MAX + 4096)	/* past any frame a TAP
						 * holds */
#define BELL_QUIET_US	1000000	/* a blocking doorbell is left alone */

#define WARN_BELL	1
#define WARN_TXWAIT	2
#define WARN_TAPW	4

static unsigned char spill[SPILL];

static int	tx_room(struct nic_link *);

void
nic_link_init(struct nic_link *l, const struct ring_area *a, uint32_t slot,
    uint32_t features, struct nic_ivshmem *dev, struct nic_tap *tap)
{
	memset(l, 0, sizeof(*l));
	l->a = a;
	l->slot = slot;
	l->features = features;
	l->dev = dev;
	l->tap = tap;
	l->own = RING_RESET;
}

int
nic_link_running(const struct nic_link *l)
{
	return l->own == RING_RUN;
}

/* ---- State ----------------------------------------------------------- */

/* A line about the link, unless it has had its share. */
static void
link_log(struct nic_link *l, int level, const char *fmt, ...)
{
	char line[512];
	unsigned int held;
	va_list ap;

	if (!loglimit_ok(&l->log, clock_ms()))
		return;
	if ((held = loglimit_take_held(&l->log)) > 0)
		log_info("%u more lines about the link not logged (at most %d "
		    "at once, then one a second)", held, LOGLIMIT_BURST);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(level, "%s", line);
}

/* What this run may carry, from both sides' features. */
static void
negotiate(struct nic_link *l, uint32_t bridge)
{
	uint32_t both = l->features & bridge;

	l->bridge_features = bridge;
	l->vnet = (both & RING_F_VNET) != 0;
	/* We consume RX: what we announced; the bridge consumes TX. */
	l->rx.flags_ok = l->features & RING_F_VNET ? RING_DESC_VNET |
	    RING_DESC_NEXT : 0;
	l->tx.flags_ok = l->vnet ? RING_DESC_VNET | RING_DESC_NEXT : 0;
	if (nic_tap_offload(l->tap, l->vnet) == -1)
		l->vnet = 0;
}

static void
go(struct nic_link *l, enum ring_state next, const struct ring_side_view *b)
{
	if (next == RING_RUN) {
		negotiate(l, b->features);
		nic_tap_carrier(l->tap, 1);
		link_log(l, LOG_INFO, "link up: slot %u served by bridge peer "
		    "%u%s", l->slot, b->peer_id, l->vnet ? ", large frames "
		    "and checksum offloads on" : "");
	} else if (l->own == RING_RUN) {
		nic_tap_carrier(l->tap, 0);
		link_log(l, LOG_INFO, "link down: slot %u goes to %s", l->slot,
		    ring_state_name(next));
	}
	if (next == RING_RESET) {
		l->rings = 0;
		nic_link_disarm(l);
	}
	log_debug("slot %u: %s -> %s", l->slot, ring_state_name(l->own),
	    ring_state_name(next));
	l->own = next;
	ring_side_state(l->a, l->slot, RING_NIC, next);
}

static void
slot_error(struct nic_link *l, const struct ring *r)
{
	char why[160];

	ring_describe(r, why, sizeof(why));
	link_log(l, LOG_WARNING, "%s; resetting the link", why);
	l->st.resets++;
	go(l, RING_RESET, NULL);
}

/* Both rings, resumed from the stored indices: 1 once they are, 0 while
 * the TX ring waits for the bridge's repair. */
static int
open_rings(struct nic_link *l)
{
	char why[160];

	if (l->rings)
		return 1;
	if (ring_open(&l->rx, l->a, l->slot, RING_RX, RING_NIC) != RING_OK) {
		ring_describe(&l->rx, why, sizeof(why));
		link_log(l, LOG_WARNING, "%s; dropping what it held", why);
		l->st.resets++;
		ring_repair(&l->rx);
	}
	if (ring_open(&l->tx, l->a, l->slot, RING_TX, RING_NIC) != RING_OK) {
		if (!(l->warned & WARN_TXWAIT)) {
			ring_describe(&l->tx, why, sizeof(why));
			link_log(l, LOG_WARNING, "%s; waiting for the bridge "
			    "to repair it", why);
		}
		l->warned |= WARN_TXWAIT;
		return 0;
	}
	l->warned &= ~WARN_TXWAIT;
	l->rings = 1;
	return 1;
}

/* In ready we wait for the bridge; rings gone bad meanwhile would stop
 * it from coming up, and only a reset brings both back to repair. */
static int
still_ready(struct nic_link *l)
{
	struct ring t;

	if (ring_open(&t, l->a, l->slot, RING_TX, RING_NIC) == RING_OK &&
	    ring_open(&t, l->a, l->slot, RING_RX, RING_NIC) == RING_OK)
		return 1;
	slot_error(l, &t);
	return 0;
}

/* One transition, if the bridge's state calls for it: 1 if we moved. */
static int
step_once(struct nic_link *l)
{
	struct ring_slot_view v;
	enum ring_state next, peer;

	/* A bad bridge side reads as reset; that is all we need of it. */
	(void)ring_slot_view(l->a, l->slot, &v);
	peer = v.side[RING_BRIDGE].state;
	next = ring_state_next(l->own, peer);
	if (l->own == RING_READY && next == RING_READY)
		return !still_ready(l);
	if (next == l->own)
		return 0;
	if (l->own == RING_INIT && next == RING_READY && !open_rings(l)) {
		if (peer < RING_READY)
			return 0;	/* it repairs on its way to ready */
		link_log(l, LOG_WARNING, "slot %u tx: the bridge is in %s "
		    "and will not repair the ring; resetting the link",
		    l->slot, ring_state_name(peer));
		l->st.resets++;
		next = RING_RESET;
	}
	go(l, next, &v.side[RING_BRIDGE]);
	return 1;
}

void
nic_link_step(struct nic_link *l)
{
	int i;

	/* The bridge stands still meanwhile: at most reset..run. */
	for (i = 0; i < 4 && step_once(l); i++)
		;
}

void
nic_link_down(struct nic_link *l, int slot_ours)
{
	/* A slot lost or reformatted may be someone else's now. */
	if (slot_ours)
		nic_link_disarm(l);
	l->armed = 0;
	if (l->own == RING_RUN)
		nic_tap_carrier(l->tap, 0);
	if (slot_ours && l->own != RING_RESET)
		ring_side_state(l->a, l->slot, RING_NIC, RING_RESET);
	l->own = RING_RESET;
	l->rings = 0;
}

/* ---- Doorbells ------------------------------------------------------- */

/*
 * The bridge sleeps and asked for a doorbell.  Every peer holds the same
 * eventfd, so a hostile one can make it block (lib/doorbell.c then cuts
 * the write short): we leave it alone for BELL_QUIET_US, and the bridge
 * finds our frames at its next tick.
 */
static void
ring_bridge(struct nic_link *l, int space)
{
	struct ring_slot_view v;
	uint32_t id, vec;
	int blocked = 0;

	if (l->bell_quiet_us != 0 && clock_us() < l->bell_quiet_us)
		return;
	l->bell_quiet_us = 0;
	(void)ring_slot_view(l->a, l->slot, &v);
	id = v.side[RING_BRIDGE].peer_id;
	vec = v.side[RING_BRIDGE].vector;
	if (id <= RING_PEER_MAX && vec < RING_VECTORS_MAX) {
		errno = 0;
		if (nic_ivshmem_ring(l->dev, id, vec) == 0) {
			l->st.bells++;
			l->st.space_bells += space;
			l->warned &= ~WARN_BELL;
			return;
		}
		blocked = errno == ETIMEDOUT;
	}
	l->st.bell_fail++;
	if (blocked)
		l->bell_quiet_us = clock_us() + BELL_QUIET_US;
	if (!(l->warned & WARN_BELL))
		link_log(l, LOG_WARNING, "cannot ring the bridge (peer %u, "
		    "vector %u): %s; it finds our frames by polling", id, vec,
		    blocked ? "its doorbell would block (a peer made it "
		    "blocking and filled it)" : "it is not on our server");
	l->warned |= WARN_BELL;
}

int
nic_link_arm(struct nic_link *l)
{
	uint32_t n;

	if (l->own != RING_RUN)
		return 0;
	ring_wakeup_arm(&l->rx, 1);
	l->armed = 1;
	/* A frame pushed before the flag was seen: no doorbell for it. */
	if (ring_avail(&l->rx, &n) != RING_OK || n > 0) {
		nic_link_disarm(l);
		return 1;
	}
	return 0;
}

int
nic_link_arm_room(struct nic_link *l)
{
	if (l->own != RING_RUN || !(l->bridge_features & RING_F_SPACE))
		return -1;
	ring_space_arm(&l->tx, 1);
	l->room_armed = 1;
	/* Room made before the flag was seen: no doorbell for it. */
	if (tx_room(l) != 0) {
		nic_link_disarm(l);
		return 1;
	}
	return 0;
}

void
nic_link_disarm(struct nic_link *l)
{
	if (l->armed)
		ring_wakeup_arm(&l->rx, 0);
	if (l->room_armed)
		ring_space_arm(&l->tx, 0);
	l->armed = l->room_armed = 0;
}

/* ---- Frames ---------------------------------------------------------- */

static void
tap_gone(struct nic_link *l, int e)
{
	if (e == EAGAIN || e == EINTR)
		return;
	/* A deleted device reads EBADFD; nothing will come back. */
	log_err("TAP %s: %s", l->tap->name, strerror(e));
	l->tap_dead = e;
}

/* A frame the ring can carry: Ethernet header to max. */
static int
frame_ok(struct nic_link *l, ssize_t n, uint32_t max)
{
	if ((size_t)n > max) {
		l->st.oversize++;
		log_debug("dropped a %zd-byte frame from %s: over the MTU "
		    "(%u bytes with headers)", n, l->tap->name, max);
		return 0;
	}
	if (n < RING_FRAME_MIN) {
		l->st.runt++;
		return 0;
	}
	return 1;
}

/* Room for the next frame from the TAP: the largest one, with offloads.
 * 1, 0 (full), < 0 on a slot error. */
static int
tx_room(struct nic_link *l)
{
	unsigned char *b;

	return ring_reserve_at(&l->tx, l->vnet ? l->tx.chain_max - 1 : 0, &b);
}

/* The buffers from head on, as at most two runs (the ring wraps). */
static int
tx_iov(struct ring *r, uint32_t n, struct iovec *iov)
{
	uint32_t i = r->head & r->mask, run = r->size - i;

	if (run > n)
		run = n;
	iov[0].iov_base = r->bufs + (size_t)i * r->buf_size;
	iov[0].iov_len = (size_t)run * r->buf_size;
	if (run == n)
		return 1;
	iov[1].iov_base = r->bufs;
	iov[1].iov_len = (size_t)(n - run) * r->buf_size;
	return 2;
}

/* A frame read with its header at the start of the buffer at head, n
 * bytes in all, into as many descriptors as it fills. */
static void
push_vnet(struct nic_link *l, unsigned char *h, uint32_t n)
{
	struct ring *r = &l->tx;
	uint32_t piece, fl = RING_DESC_VNET;

	h[10] = h[11] = 0;		/* num_buffers: the kernel leaves it */
	/* A header that asks nothing: the frame alone, as version 1. */
	if ((h[0] & RING_VNET_F_NEEDS_CSUM) == 0 && h[1] == 0 &&
	    n <= r->buf_size && n - RING_VNET_HDR_LEN <= r->frame_max) {
		ring_push_piece(r, RING_VNET_HDR_LEN, n - RING_VNET_HDR_LEN, 0);
		return;
	}
	if (n > r->buf_size)
		l->st.tx_large++;
	for (; n > 0; n -= piece, fl = 0) {
		piece = n < r->buf_size ? n : r->buf_size;
		ring_push_piece(r, 0, piece, fl | (n > piece ?
		    RING_DESC_NEXT : 0));
	}
}

/* One frame from the TAP: 1 pushed, 0 dropped, -1 nothing to read. */
static int
tx_one(struct nic_link *l)
{
	unsigned char hdr[RING_VNET_HDR_LEN], *h;
	struct ring *r = &l->tx;
	struct iovec iov[4];
	int niov = 0;
	ssize_t n;

	if (!l->vnet) {
		iov[niov].iov_base = hdr;
		iov[niov++].iov_len = sizeof(hdr);
	}
	niov += tx_iov(r, l->vnet ? r->chain_max : 1, iov + niov);
	h = l->vnet ? iov[0].iov_base : hdr;
	iov[niov].iov_base = spill;
	iov[niov++].iov_len = sizeof(spill);
	if ((n = readv(l->tap->fd, iov, niov)) == -1) {
		tap_gone(l, errno);
		return -1;
	}
	n -= RING_VNET_HDR_LEN;
	if (!frame_ok(l, n, l->vnet ? RING_VNET_FRAME_MAX : r->frame_max))
		return 0;
	if (l->vnet) {
		push_vnet(l, h, (uint32_t)n + RING_VNET_HDR_LEN);
	} else if ((h[0] & RING_VNET_F_NEEDS_CSUM) || h[1] != 0) {
		/* Queued while offloads were on: the bridge cannot take it. */
		l->st.offload_lost++;
		return 0;
	} else
		ring_push(r, (uint32_t)n);
	l->st.tx_frames++;
	l->st.tx_bytes += (uint64_t)n;
	return 1;
}

static int
tx_pump(struct nic_link *l)
{
	int got = 0, moved = 0, one;

	l->tx_full = 0;
	while (moved < NIC_BUDGET) {
		if ((got = tx_room(l)) != 1)
			break;
		if ((one = tx_one(l)) == -1)
			break;
		moved += one;
	}
	if (moved > 0) {
		ring_commit(&l->tx);
		if (ring_wakeup_needed(&l->tx) > 0)
			ring_bridge(l, 0);
		else
			l->st.bells_quiet++;
	}
	if (got == 0)
		l->tx_full = 1;
	else if (got < 0)
		slot_error(l, &l->tx);
	return moved;
}

static void
tap_write(struct nic_link *l, const struct ring_pkt *p)
{
	unsigned char hdr[RING_VNET_HDR_LEN] = { 0 };
	struct iovec iov[RING_CHAIN_MAX + 1];
	uint32_t i, niov = 1;
	ssize_t n;

	/* Our checked copy of the header; the kernel checks it again. */
	if (p->vnet)
		ring_vnet_encode(&p->hdr, hdr);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	for (i = 0; i < p->npieces; i++) {
		if (niov > 1 && (unsigned char *)iov[niov - 1].iov_base +
		    iov[niov - 1].iov_len == p->piece[i].data) {
			iov[niov - 1].iov_len += p->piece[i].len;
			continue;
		}
		iov[niov].iov_base = p->piece[i].data;
		iov[niov++].iov_len = p->piece[i].len;
	}
	n = writev(l->tap->fd, iov, (int)niov);
	if (n == (ssize_t)(p->len + sizeof(hdr))) {
		l->st.rx_frames++;
		l->st.rx_bytes += p->len;
		l->st.rx_large += p->npieces > 1;
		return;
	}
	l->st.tap_err++;
	if (!(l->warned & WARN_TAPW))
		log_warn("TAP %s refused a %u-byte frame: %s (is it down?); "
		    "counting such drops", l->tap->name, p->len,
		    n == -1 ? strerror(errno) : "short write");
	l->warned |= WARN_TAPW;
}

static int
rx_pump(struct nic_link *l)
{
	struct ring_pkt p;
	int got = 0, moved = 0;

	while (moved < NIC_BUDGET) {
		if ((got = ring_peek_pkt(&l->rx, &p)) != 1)
			break;
		if (p.bad != RING_VNET_OK)
			l->st.bad_vnet++;
		else
			tap_write(l, &p);
		ring_next_pkt(&l->rx, &p);
		moved++;
	}
	if (moved > 0) {
		ring_commit(&l->rx);
		/* The bridge holds frames for us until we make room. */
		if (ring_space_wanted(&l->rx))
			ring_bridge(l, 1);
	}
	if (got < 0)
		slot_error(l, &l->rx);
	return moved;
}

/* The link is down: what the TAP still hands us has nowhere to go. */
static int
drain(struct nic_link *l)
{
	ssize_t n;
	int moved = 0;

	while (moved < NIC_BUDGET) {
		if ((n = read(l->tap->fd, spill, sizeof(spill))) == -1) {
			tap_gone(l, errno);
			break;
		}
		l->st.down++;
		moved++;
	}
	return moved;
}

int
nic_link_pump(struct nic_link *l)
{
	int moved;

	if (l->own != RING_RUN)
		return drain(l);
	moved = rx_pump(l);
	if (l->own == RING_RUN)
		moved += tx_pump(l);
	return moved;
}

void
nic_link_report(const struct nic_link *l)
{
	const struct nic_stats *s = &l->st;

	log_info("counters: tx %" PRIu64 " frames %" PRIu64 " bytes (%"
	    PRIu64 " large), rx %" PRIu64 " frames %" PRIu64 " bytes (%"
	    PRIu64 " large); dropped: oversize %" PRIu64 ", runt %" PRIu64
	    ", link down %" PRIu64 ", tap refused %" PRIu64 ", bad header %"
	    PRIu64 ", offload lost %" PRIu64 "; doorbells %" PRIu64 " (%"
	    PRIu64 " for room, %" PRIu64 " failed), not needed %" PRIu64
	    "; slot resets %" PRIu64, s->tx_frames, s->tx_bytes, s->tx_large,
	    s->rx_frames, s->rx_bytes, s->rx_large, s->oversize, s->runt,
	    s->down, s->tap_err, s->bad_vnet, s->offload_lost, s->bells,
	    s->space_bells, s->bell_fail, s->bells_quiet, s->resets);
}
