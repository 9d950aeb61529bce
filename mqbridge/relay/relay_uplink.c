/*
 * relay_uplink.c - the relay's side of the uplink: attach to the area the
 * bridge made, claim its one slot, follow the slot's state machine as a
 * NIC does, ring the bridge, and send it our counters.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/doorbell.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "mqbridge/relay/relay.h"

int
uplink_attach(struct relay *r, int fd, char *err, size_t len)
{
	static const uint8_t mac[6] = UPLINK_MAC_RELAY;
	struct stat st;
	int rc;

	if (fstat(fd, &st) == -1 || st.st_size <= 0)
		return errbuf(err, len, "uplink: not a sized memfd");
	r->maplen = (size_t)st.st_size;
	r->map = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return errbuf(err, len, "uplink: mmap: %s", strerror(errno));
	}
	if ((rc = ring_attach(&r->area, r->map, r->maplen, 0, NULL)) !=
	    RING_OK)
		return errbuf(err, len, "uplink: %s", ring_strerror(rc));
	do
		r->token = ((uint64_t)random() << 32) ^ (uint64_t)random() ^
		    (uint64_t)getpid();
	while (r->token == RING_CLAIM_FREE || r->token == RING_CLAIM_BUSY);
	if (ring_slot_claim(&r->area, 0, r->token) != 1)
		return errbuf(err, len, "uplink: the slot is claimed already");
	ring_side_ident(&r->area, 0, RING_NIC, 0, 0, mac);
	r->own = RING_RESET;
	ring_side_state(&r->area, 0, RING_NIC, RING_RESET);
	return 0;
}

void
uplink_detach(struct relay *r)
{
	if (r->map == NULL)
		return;
	ring_side_state(&r->area, 0, RING_NIC, RING_RESET);
	(void)ring_slot_release(&r->area, 0, r->token);
	munmap(r->map, r->maplen);
	r->map = NULL;
}

static int
open_rings(struct relay *r)
{
	char why[160];

	if (r->rings)
		return 1;
	if (ring_open(&r->rx, &r->area, 0, RING_RX, RING_NIC) != RING_OK) {
		ring_describe(&r->rx, why, sizeof(why));
		log_warn("uplink %s; dropping what it held", why);
		ring_repair(&r->rx);
	}
	if (ring_open(&r->tx, &r->area, 0, RING_TX, RING_NIC) != RING_OK)
		return 0;	/* the bridge repairs its side */
	r->rx.flags_ok = r->tx.flags_ok = UPLINK_CTL;
	r->ctl_scan = r->tx_done = r->rx.head;
	r->push_done = r->tx.head;
	r->rings = 1;
	return 1;
}

static int
step_once(struct relay *r)
{
	struct ring_slot_view v;
	enum ring_state next;

	(void)ring_slot_view(&r->area, 0, &v);
	next = ring_state_next(r->own, v.side[RING_BRIDGE].state);
	if (next == r->own)
		return 0;
	if (r->own == RING_INIT && next == RING_READY && !open_rings(r))
		return 0;
	if (next == RING_RESET)
		r->rings = 0;
	log_debug("uplink: %s -> %s", ring_state_name(r->own),
	    ring_state_name(next));
	r->own = next;
	ring_side_state(&r->area, 0, RING_NIC, next);
	return 1;
}

int
uplink_step(struct relay *r)
{
	int i;
	struct ring_slot_view v;

	(void)ring_slot_view(&r->area, 0, &v);
	if (v.claim != r->token) {
		log_err("uplink: our claim on the slot is gone; the bridge "
		    "reset it");
		r->stop = 1;
		return 0;
	}
	for (i = 0; i < 4 && step_once(r); i++)
		;
	return r->own == RING_RUN;
}

int
uplink_running(const struct relay *r)
{
	return r->own == RING_RUN && r->rings;
}

void
uplink_ring(struct relay *r)
{
	(void)doorbell_ring(r->bell_out);
}

void
uplink_flush(struct relay *r)
{
	ring_commit(&r->tx);
	if (ring_wakeup_needed(&r->tx))
		uplink_ring(r);
}

int
uplink_ctl(struct relay *r, const void *msg, uint32_t len)
{
	unsigned char *buf;

	if (!uplink_running(r) || ring_reserve(&r->tx, &buf) != 1)
		return -1;
	memcpy(buf, msg, len);
	if (ring_push_flags(&r->tx, len, UPLINK_CTL) != RING_OK)
		return -1;
	/* A control message settles nothing: keep the refs in step. */
	r->ref[(r->tx.head - 1) & (UPLINK_RING - 1)].msg = NULL;
	return 0;
}

void
uplink_stats(struct relay *r)
{
	struct uplink_stats s;

	memset(&s, 0, sizeof(s));
	s.h.type = UPLINK_STATS;
	s.h.len = sizeof(s);
	r->st[US_connected] = stomp_conn_is_up(&r->conn);
	r->st[US_broker_errors] = r->conn.st.errors;
	r->st[US_failures] = r->conn.st.failures;
	r->st[US_sessions] = r->conn.st.sessions;
	memcpy(s.v, r->st, sizeof(s.v));
	if (uplink_ctl(r, &s, sizeof(s)) == 0) {
		uplink_flush(r);
		memcpy(r->st_sent, r->st, sizeof(r->st));
		r->st_ms = clock_ms();
	}
}

/*
 * Control messages are read ahead of the frames waiting for the broker:
 * a RESULT must be seen before the frame it is about counts as placed,
 * however long the broker keeps the frames ahead of it waiting.
 */
static void
ctl_scan(struct relay *r)
{
	struct ring_frame f;
	char why[160];
	int got;

	while ((got = ring_peek_at(&r->rx, r->ctl_scan - r->rx.head, &f)) ==
	    1) {
		if (f.flags & UPLINK_CTL)
			rx_control(r, &f);
		r->ctl_scan++;
	}
	if (got < 0) {
		ring_describe(&r->rx, why, sizeof(why));
		log_err("uplink %s; the bridge wrote garbage", why);
		r->stop = 1;
	}
}

void
relay_pump(struct relay *r)
{
	uint32_t free_n;

	if (!uplink_step(r))
		return;
	/* The bridge publishes a RESULT before it frees the frame: read
	 * what it freed first, then the RESULTs. */
	if (ring_space(&r->tx, &free_n) != RING_OK) {
		log_err("uplink: the bridge's TX index is garbage");
		r->stop = 1;
		return;
	}
	ctl_scan(r);
	if (r->stop)
		return;
	rx_settle(r, r->tx.seen);
	tx_pump(r);
	rx_push(r);
}
