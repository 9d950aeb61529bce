/*
 * relay_tx.c - frames from the bridge to the broker: read the uplink's RX
 * ring, SEND each frame (or a pack of them, --aggregate) to its MAC's
 * queue or the broadcast topic, and free the ring's frames only once the
 * broker has them.
 *
 * Fast mode frees a frame as soon as its SEND is queued for the socket:
 * a crash may lose what is queued, nothing else.  Persistent mode asks a
 * receipt for every SEND, keeps up to --window of them in flight, and
 * frees frames in order as receipts come; the bridge frees a frame in its
 * slot only once we have freed it here, so a crash anywhere loses
 * nothing: after a reconnect, everything not receipted is sent again.
 *
 * Control messages in the RX ring are read ahead of the frames (see
 * relay_pump()), so the walk here skips those already taken.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "mqbridge/relay/relay.h"

#define BATCH_MAX	64	/* --aggregate's limit */
#define CT_FRAME	"application/octet-stream"
#define CT_FRAMES	"application/vnd.tm-mqnic.frames"

/* One frame of the RX ring, with what the bridge told us of it. */
struct txf {
	struct uplink_meta m;
	const unsigned char *eth;
	uint32_t	 len;
};

int
tx_init(struct relay *r)
{
	r->outq = calloc(r->o.window, sizeof(*r->outq));
	r->batch = malloc(BATCH_MAX * (2 + RING_MTU_MAX + RING_FRAME_EXTRA));
	return r->outq == NULL || r->batch == NULL ? -1 : 0;
}

void
tx_free(struct relay *r)
{
	free(r->outq);
	free(r->batch);
	r->outq = NULL;
	r->batch = NULL;
}

static const char hexd[] = "0123456789abcdef";

void
relay_dest(const struct relay *r, const uint8_t mac[6], char *buf,
    size_t len)
{
	char hex[13];
	int i;

	if (mac[0] & 1) {
		snprintf(buf, len, "/topic/%s.broadcast", r->o.prefix);
		return;
	}
	for (i = 0; i < 6; i++) {
		hex[2 * i] = hexd[mac[i] >> 4];
		hex[2 * i + 1] = hexd[mac[i] & 15];
	}
	hex[12] = '\0';
	snprintf(buf, len, "/queue/%s.%s", r->o.prefix, hex);
}

/* Free the RX ring up to the first SEND still waiting for its receipt
 * (everything walked, when none waits), and tell the bridge. */
static void
settle(struct relay *r)
{
	uint32_t upto;

	while (r->outq_len > 0 && r->outq[r->outq_head].done) {
		r->outq_head = (r->outq_head + 1) % r->o.window;
		r->outq_len--;
	}
	r->st[US_unreceipted] = r->outq_len;
	upto = r->outq_len > 0 ? r->outq[r->outq_head].start : r->rx.head;
	if (upto == r->tx_done || ring_commit_at(&r->rx, upto) != RING_OK)
		return;
	r->tx_done = upto;
	uplink_ring(r);
}

void
tx_receipt(struct relay *r, const char *id)
{
	unsigned int i, k;
	unsigned long v;
	char *end;

	if (id == NULL || id[0] != 's')
		return;
	v = strtoul(id + 1, &end, 10);
	if (*end != '\0')
		return;
	for (k = 0; k < r->outq_len; k++) {
		i = (r->outq_head + k) % r->o.window;
		if (r->outq[i].id == (uint32_t)v) {
			r->outq[i].done = 1;
			break;
		}
	}
	settle(r);
}

/* The frame at ring index head + k, if it is one for the broker: 1, 0
 * if there is none yet, -1 on a fault or a control message. */
static int
frame_at(struct relay *r, uint32_t k, struct txf *t, uint32_t *flags)
{
	struct ring_frame f;
	int got;

	if ((got = ring_peek_at(&r->rx, k, &f)) != 1)
		return got;
	*flags = f.flags;
	if (f.flags & UPLINK_CTL)
		return -1;
	if (f.len < UPLINK_META_LEN + RING_FRAME_MIN) {
		*flags = UPLINK_CTL;	/* skip it: the bridge never sends one */
		return -1;
	}
	memcpy(&t->m, f.data, UPLINK_META_LEN);
	t->eth = f.data + UPLINK_META_LEN;
	t->len = f.len - UPLINK_META_LEN;
	return 1;
}

static int
same_run(const struct txf *a, const struct txf *b, uint32_t n)
{
	return memcmp(a->eth, b->eth, 6) == 0 && a->m.origin == b->m.origin &&
	    b->m.seq == a->m.seq + n;
}

/*
 * Frames for one message, from the head: the first, then (with
 * --aggregate) those that follow with the same destination and origin and
 * consecutive numbers.  Returns how many, with *more set if the ring had
 * no next frame (so waiting could fill the pack).
 */
static unsigned int
gather(struct relay *r, struct txf *t, int *more)
{
	uint32_t flags;
	unsigned int n = 1;
	int got;

	*more = 0;
	while (n < r->o.aggregate) {
		got = frame_at(r, n, &t[n], &flags);
		if (got == 0)
			*more = 1;
		if (got != 1 || !same_run(&t[0], &t[n], n))
			break;
		n++;
	}
	return n;
}

static size_t
pack(struct relay *r, const struct txf *t, unsigned int n)
{
	unsigned char *p = r->batch;
	unsigned int i;

	for (i = 0; i < n; i++) {
		*p++ = (unsigned char)(t[i].len >> 8);
		*p++ = (unsigned char)t[i].len;
		memcpy(p, t[i].eth, t[i].len);
		p += t[i].len;
	}
	return (size_t)(p - r->batch);
}

/* SEND frames t[0..n-1]; 0, or -1 if the session cannot take it now. */
static int
send_run(struct relay *r, const struct txf *t, unsigned int n)
{
	struct stomp_hdr h[10];
	struct stomp_frame f = { .command = "SEND", .headers = h };
	char dest[RELAY_DEST_MAX], origin[17], seq[16], count[12], rid[16];
	unsigned int i;

	relay_dest(r, t[0].eth, dest, sizeof(dest));
	snprintf(origin, sizeof(origin), "%016" PRIx64, t[0].m.origin);
	snprintf(seq, sizeof(seq), "%" PRIu32, t[0].m.seq);
	h[f.nheaders++] = (struct stomp_hdr){ "destination", dest };
	h[f.nheaders++] = (struct stomp_hdr){ "content-type",
	    n > 1 ? CT_FRAMES : CT_FRAME };
	h[f.nheaders++] = (struct stomp_hdr){ "persistent",
	    r->o.persistent ? "true" : "false" };
	h[f.nheaders++] = (struct stomp_hdr){ "x-mq-origin", origin };
	h[f.nheaders++] = (struct stomp_hdr){ "x-mq-seq", seq };
	h[f.nheaders++] = (struct stomp_hdr){ "x-mq-bridge", r->bridge_hex };
	if (n > 1) {
		snprintf(count, sizeof(count), "%u", n);
		h[f.nheaders++] = (struct stomp_hdr){ "x-mq-count", count };
		f.body = r->batch;
		f.body_len = pack(r, t, n);
	} else {
		f.body = t[0].eth;
		f.body_len = t[0].len;
	}
	if (r->o.persistent) {
		snprintf(rid, sizeof(rid), "s%" PRIu32, ++r->receipt_seq);
		h[f.nheaders++] = (struct stomp_hdr){ "receipt", rid };
	}
	if (stomp_conn_send(&r->conn, &f) == -1)
		return -1;
	r->st[US_sent_messages]++;
	for (i = 0; i < n; i++) {
		r->st[US_sent_frames]++;
		r->st[US_sent_bytes] += t[i].len;
	}
	return 0;
}

static void
on_linger(struct evloop *l, struct ev_timer *t)
{
	struct relay *r = t->arg;

	(void)l;
	r->linger_due = 1;
	relay_pump(r);
}

/* A pack that could still grow waits --linger for more, once. */
static int
linger(struct relay *r, unsigned int n, int more)
{
	if (n >= r->o.aggregate || !more || r->o.linger_us == 0 ||
	    r->linger_due) {
		r->linger_due = 0;
		ev_timer_stop(&r->loop, &r->linger);
		return 0;
	}
	if (!r->linger.active)
		ev_timer_start(&r->loop, &r->linger, r->o.linger_us, on_linger,
		    r);
	return 1;
}

/* One step of the walk: 1 to go on, 0 to stop for now. */
static int
walk_one(struct relay *r)
{
	struct txf t[BATCH_MAX];
	uint32_t flags, start = r->rx.head;
	unsigned int n, i;
	int got, more;

	if (r->rx.head == r->ctl_scan)
		return 0;	/* the read-ahead goes first */
	if ((got = frame_at(r, 0, &t[0], &flags)) == 0)
		return 0;
	if (got == -1 && !(flags & UPLINK_CTL)) {
		char why[160];

		ring_describe(&r->rx, why, sizeof(why));
		log_err("uplink %s; the bridge wrote garbage", why);
		r->stop = 1;
		return 0;
	}
	if (got == -1) {		/* taken by the read-ahead already */
		ring_next(&r->rx);
		return 1;
	}
	if (!stomp_conn_is_up(&r->conn) ||
	    (r->o.persistent && r->outq_len >= r->o.window))
		return 0;
	n = gather(r, t, &more);
	if (linger(r, n, more) || send_run(r, t, n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		ring_next(&r->rx);
	if (r->o.persistent) {
		i = (r->outq_head + r->outq_len++) % r->o.window;
		r->outq[i] = (struct relay_out){ .start = start,
		    .end = r->rx.head, .id = r->receipt_seq };
	}
	return 1;
}

void
tx_pump(struct relay *r)
{
	if (!uplink_running(r))
		return;
	while (walk_one(r))
		;
	settle(r);
	/* A burst just went out: tell the bridge's status file soon. */
	if (r->rx.head == r->ctl_scan && clock_ms() - r->st_ms >= 10 &&
	    memcmp(r->st, r->st_sent, sizeof(r->st)) != 0)
		uplink_stats(r);
}

void
tx_session_up(struct relay *r)
{
	tx_pump(r);
}

/* Nothing un-receipted is lost: read it all again for the next broker. */
void
tx_session_down(struct relay *r)
{
	if (!r->o.persistent || !uplink_running(r))
		return;
	if (r->outq_len > 0) {
		log_info("%u SENDs were not receipted; they go again after the "
		    "reconnect", r->outq_len);
		ring_rewind(&r->rx, r->outq[r->outq_head].start);
	}
	r->outq_len = 0;
	r->st[US_unreceipted] = 0;
}
