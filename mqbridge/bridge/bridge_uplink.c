/*
 * bridge_uplink.c - the broker's port of the switch (see
 * bridge_uplink.h).
 *
 * Persistent mode: a frame that left a slot for the broker stays in that
 * slot's TX ring until the relay frees it from the uplink (it does so on
 * the broker's RECEIPT).  The frames waiting are kept in uplink order,
 * and each slot's TX index is committed no further than its oldest one:
 * a crash of the bridge, the relay or the broker then finds every frame
 * not receipted still in the region, and sends it again.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/doorbell.h"
#include "lib/log.h"
#include "mqbridge/bridge/bridge_uplink.h"
#include "mqbridge/slot/ring_check.h"

#define PEND_MASK	(UPLINK_RING - 1)

static void
on_bell(struct evloop *l, struct ev_io *io, uint32_t events)
{
	(void)l;
	(void)events;
	(void)doorbell_take(io->fd);
}

int
bridge_uplink_open(struct bridge *b, unsigned int index, char *err,
    size_t len)
{
	uint32_t mtu = b->opt.params.mtu;
	struct bridge_region *r;
	struct bridge_up *u;
	unsigned int i;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return errbuf(err, len, "out of memory for the uplink");
	b->up = u;
	/* Buffers as big as the largest MTU here, no bigger: 2 x 4096 of
	 * them fill with a steady stream. */
	for (i = 0; i < b->nreg; i++)
		if (b->reg[i].attached && b->reg[i].area.geom.p.mtu > mtu)
			mtu = b->reg[i].area.geom.p.mtu;
	if (uplink_host_open(&u->host, &b->opt.relay, b->opt.relay_path,
	    mtu, b->opt.verbosity, err, len) == -1)
		return -1;
	r = &u->reg;
	r->path = "uplink";
	r->index = BRIDGE_REGIONS_MAX;
	r->peer.id = 0;
	r->peer.sock = r->peer.region_fd = -1;
	r->guard = -1;
	r->area = u->host.area;
	r->attached = 1;
	r->tried = 1;
	r->bell_fd = u->host.bell_relay;
	r->ports = &u->port;
	r->nports = 1;
	(void)index;
	return 0;
}

int
bridge_uplink_start(struct bridge *b)
{
	struct bridge_up *u = b->up;

	if (u == NULL)
		return 0;
	if (ev_io_start(&b->loop, &u->bell_io, u->host.bell_bridge, EPOLLIN,
	    on_bell, u) == -1) {
		log_err("uplink doorbell: %s", strerror(errno));
		return -1;
	}
	uplink_host_spawn(&u->host, clock_ms());
	return 0;
}

void
bridge_uplink_close(struct bridge *b)
{
	if (b->up == NULL)
		return;
	ev_io_stop(&b->loop, &b->up->bell_io);
	uplink_host_close(&b->up->host, 3000);
	free(b->up);
	b->up = NULL;
}

/* ---- Control messages ------------------------------------------------- */

static int
push_ctl(struct bridge *b, const void *msg, uint32_t len)
{
	struct port *p = &b->up->port;

	if (!p->live || uplink_host_ctl(&p->rx, msg, len) == -1)
		return -1;
	if (!p->dirty) {
		p->dirty = 1;
		b->dirty[b->ndirty++] = p;
	}
	return 0;
}

int
bridge_uplink_result(struct bridge *b, uint32_t index,
    enum uplink_status status)
{
	struct uplink_result r = { .h = { UPLINK_RESULT, sizeof(r), 0 },
	    .index = index, .status = (uint32_t)status };

	return push_ctl(b, &r, sizeof(r));
}

void
bridge_uplink_ctl(struct bridge *b, const struct ring_frame *f)
{
	struct uplink_stats s;

	if (ring_check_uplink_ctl(f, &s, sizeof(s)) != UPLINK_STATS)
		return;
	memcpy(b->up->st, s.v, sizeof(b->up->st));
	b->up->st_ms = clock_ms();
}

/* The relay follows the queues of exactly the MACs live here. */
static void
sync_macs(struct bridge *b)
{
	struct uplink_mac m = { .h = { 0, sizeof(m), 0 } };
	unsigned int i;
	struct port *p;
	int want;

	for (i = 0; i < b->nports; i++) {
		p = b->ports[i];
		want = p->live && !p->uplink && b->up->port.live;
		if (want == p->subbed)
			continue;
		m.h.type = want ? UPLINK_SUB : UPLINK_UNSUB;
		memcpy(m.mac, want ? p->mac : p->subbed_mac, 6);
		if (push_ctl(b, &m, sizeof(m)) == -1)
			return;		/* room next tick */
		p->subbed = want;
		memcpy(p->subbed_mac, p->mac, 6);
	}
}

/* ---- Frames for the broker -------------------------------------------- */

static uint64_t
origin(const struct port *p)
{
	uint64_t v[3] = { p->reg->area.generation, p->slot, p->run_claim };
	const unsigned char *c = (const unsigned char *)v;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < sizeof(v); i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void	receipted(struct bridge *, uint32_t);

int
bridge_uplink_can_put(struct bridge *b)
{
	struct bridge_up *u = b->up;
	uint32_t n;

	if (!b->opt.relay.persistent || u->pend_len < UPLINK_RING)
		return 1;
	/* The tick may not have seen the relay's last receipts yet. */
	if (ring_space(&u->port.rx, &n) == RING_OK)
		receipted(b, u->port.rx.seen);
	return u->pend_len < UPLINK_RING;
}

int
bridge_uplink_put(struct bridge *b, struct port *src,
    const unsigned char *hdr, const unsigned char *data, uint32_t len)
{
	struct bridge_up *u = b->up;
	struct port *p = &u->port;
	struct uplink_meta m = { origin(src), src->tx.head, 0 };
	struct uplink_pend *e;
	unsigned char *buf;

	if (len + UPLINK_META_LEN > p->rx.frame_max)
		return -1;
	if (!bridge_uplink_can_put(b) || ring_reserve(&p->rx, &buf) != 1)
		return 0;
	memcpy(buf, &m, sizeof(m));
	memcpy(buf + sizeof(m), hdr, RING_ETH_HLEN);
	memcpy(buf + sizeof(m) + RING_ETH_HLEN, data + RING_ETH_HLEN,
	    len - RING_ETH_HLEN);
	if (b->opt.relay.persistent) {
		e = &u->pend[(u->pend_head + u->pend_len++) & PEND_MASK];
		*e = (struct uplink_pend){ src, src->epoch, src->tx.head,
		    p->rx.head };
		if (src->pend_n++ == 0)
			src->pend_oldest = src->tx.head;
	}
	ring_push(&p->rx, len + UPLINK_META_LEN);
	if (!p->dirty) {
		p->dirty = 1;
		b->dirty[b->ndirty++] = p;
	}
	src->cnt.to_broker_frames++;
	src->cnt.to_broker_bytes += len;
	return 1;
}

/*
 * p's owner left (a VM moving to another host, say) without reading the
 * frames we had placed in its ring.  The broker's queue follows the MAC:
 * give them back to it, so that whoever serves the MAC next gets them.
 */
void
bridge_uplink_return(struct bridge *b, struct port *p)
{
	struct bridge_up *u = b->up;
	struct uplink_meta m = { origin(p) ^ UINT64_C(0x7265747572), 0, 0 };
	struct ring_frame f;
	struct ring *rx;
	unsigned char *buf;
	uint32_t k, n = 0;

	/* No broker: nothing to give back, and no ring to take its address
	 * of (UBSan stops the bridge on that). */
	if (u == NULL || !u->port.live || p->uplink)
		return;
	rx = &u->port.rx;
	for (k = 0; ring_unread(&p->rx, k, &f) == 1; k++) {
		if (memcmp(f.data, p->mac, 6) != 0 ||
		    f.len + UPLINK_META_LEN > rx->frame_max)
			continue;	/* a flood, or too big for the broker */
		if (ring_reserve(rx, &buf) != 1)
			break;
		m.seq = p->rx.seen + k;
		memcpy(buf, &m, sizeof(m));
		memcpy(buf + sizeof(m), f.data, f.len);
		ring_push(rx, f.len + UPLINK_META_LEN);
		n++;
	}
	if (n == 0)
		return;
	if (!u->port.dirty) {
		u->port.dirty = 1;
		b->dirty[b->ndirty++] = &u->port;
	}
	log_info("slot %u.%u: %u frames its owner left unread go back to the "
	    "broker for its MAC", p->reg->index, p->slot, n);
}

void
bridge_uplink_commit_tx(struct bridge *b, struct port *src)
{
	(void)b;
	if (src->pend_n > 0)
		(void)ring_commit_at(&src->tx, src->pend_oldest);
	else
		ring_commit(&src->tx);
}

/*
 * The relay freed the uplink's RX ring up to free_to: those frames are
 * the broker's.  Their slots may free them too, up to each one's oldest
 * frame still waiting.
 */
static void
receipted(struct bridge *b, uint32_t free_to)
{
	struct bridge_up *u = b->up;
	struct uplink_pend *e;
	unsigned int k, popped = 0;

	while (u->pend_len > 0) {
		e = &u->pend[u->pend_head & PEND_MASK];
		if ((int32_t)(free_to - e->up_idx) <= 0)
			break;
		if (e->epoch == e->src->epoch)
			e->src->pend_n--;
		u->pend_head++;
		u->pend_len--;
		popped++;
	}
	if (popped == 0)
		return;
	/* Each slot's new oldest: the first of its frames still waiting. */
	u->pass++;
	for (k = 0; k < u->pend_len; k++) {
		e = &u->pend[(u->pend_head + k) & PEND_MASK];
		if (e->epoch != e->src->epoch || e->src->pend_pass == u->pass)
			continue;
		e->src->pend_pass = u->pass;
		e->src->pend_oldest = e->tx_idx;
	}
	for (k = 0; k < b->nports; k++)
		if (b->ports[k]->live && !b->ports[k]->uplink)
			bridge_uplink_commit_tx(b, b->ports[k]);
}

/* ---- Every tick -------------------------------------------------------- */

static void
relay_died(struct bridge *b)
{
	struct port *p = &b->up->port;
	unsigned int i;

	/* What it pushed and never had ACKed, the broker sends again. */
	p->tx_repair = 1;
	for (i = 0; i < b->nports; i++)
		b->ports[i]->subbed = 0;
}

void
bridge_uplink_tick(struct bridge *b, int64_t now)
{
	struct bridge_up *u = b->up;
	uint32_t n;

	if (u == NULL)
		return;
	if (uplink_host_reap(&u->host, now))
		relay_died(b);
	if (uplink_host_due(&u->host, now))
		uplink_host_spawn(&u->host, now);
	if (!u->port.live) {
		if (u->was_live)
			relay_died(b);
		u->was_live = 0;
		return;
	}
	if (!u->was_live)
		u->port.full_ms = 0;	/* the wait while it was down ends */
	u->was_live = 1;
	sync_macs(b);
	if (b->opt.relay.persistent && ring_space(&u->port.rx, &n) ==
	    RING_OK)
		receipted(b, u->port.rx.seen);
}

void
bridge_uplink_status(const struct bridge *b, char *buf, size_t len)
{
	static const char *names[] = {
#define X(n) #n,
		UPLINK_STAT_NAMES
#undef X
	};
	const struct bridge_up *u = b->up;
	size_t off;
	int i;

	off = (size_t)snprintf(buf, len, "relay pid %ld port %s mode %s "
	    "waiting %u", (long)u->host.pid, u->port.live ? "run" : "down",
	    b->opt.relay.persistent ? "persistent" : "fast", u->pend_len);
	for (i = 0; i < US_COUNT && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, " %s %" PRIu64,
		    names[i], u->st[i]);
}
