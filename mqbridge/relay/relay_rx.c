/*
 * relay_rx.c - frames from the broker to the bridge: one queue
 * subscription per MAC the bridge serves (SUB and UNSUB from the bridge)
 * and one to the broadcast topic; each MESSAGE checked against
 * docs/broker-format.md, duplicates dropped, its frames pushed into the
 * uplink's TX ring, and the MESSAGE ACKed only once the bridge has placed
 * every frame of it in a slot.
 *
 * A frame the bridge could not place because its slot's ring is full
 * (RESULT FULL) is offered again after a backoff; its MESSAGE stays
 * un-ACKed meanwhile, and the prefetch limit stops that queue alone.  One
 * whose MAC is no longer here (GONE) is never ACKed: the broker hands it
 * to whoever serves the MAC next.
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
#include "mqbridge/slot/ring_check.h"

#define RETRY_MIN_US	1000
#define RETRY_MAX_US	200000
#define CT_FRAMES	"application/vnd.tm-mqnic.frames"

enum { F_WAIT, F_OUT, F_DONE };		/* a frame's state in its MESSAGE */

static size_t
mac_hash(const uint8_t m[6], size_t cap)
{
	uint64_t v = 0;

	memcpy(&v, m, 6);
	return (size_t)((v * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

int
rx_init(struct relay *r)
{
	r->subcap = 2 * RELAY_SUBS_MAX;
	r->subtab = calloc(r->subcap, sizeof(*r->subtab));
	r->topic.topic = 1;
	snprintf(r->topic.id, sizeof(r->topic.id), "t");
	snprintf(r->topic.dest, sizeof(r->topic.dest), "/topic/%s.broadcast",
	    r->o.prefix);
	r->topic.wanted = 1;
	/* Claims: no ACKs, no frames; who serves which MAC. */
	r->claims.topic = 1;
	r->claims.auto_ack = 1;
	snprintf(r->claims.id, sizeof(r->claims.id), "c");
	snprintf(r->claims.dest, sizeof(r->claims.dest), "/topic/%s.claims",
	    r->o.prefix);
	if (r->subtab == NULL || dedup_init(&r->dedup) == -1)
		return -1;
	return 0;
}

static void
msg_free(struct relay_msg *m)
{
	free(m->ack);
	free(m->body);
	free(m->off);
	free(m);
}

/* Forget what waits: those messages go back to the broker unACKed. */
static void
drop_waiting(struct relay *r, struct relay_sub *s)
{
	struct relay_msg *m, *next;

	for (m = s->head; m != NULL; m = next) {
		next = m->next;
		m->next = NULL;
		m->queued = 0;
		if (m->out > 0) {
			m->session = 0;	/* settles later, never ACKed */
			continue;
		}
		s->held--;
		msg_free(m);
	}
	s->head = s->tail = NULL;
	ev_timer_stop(&r->loop, &s->retry);
	s->retrying = 0;
}

void
rx_free(struct relay *r)
{
	struct relay_sub *s, *next;
	struct relay_msg *m;
	size_t i;
	uint32_t k;

	drop_waiting(r, &r->topic);
	for (i = 0; r->subtab != NULL && i < r->subcap; i++)
		for (s = r->subtab[i]; s != NULL; s = s->hnext)
			drop_waiting(r, s);
	/* What is still out belongs to the refs alone now. */
	for (k = 0; k < UPLINK_RING; k++)
		if ((m = r->ref[k].msg) != NULL && --m->out == 0)
			msg_free(m);
	memset(r->ref, 0, sizeof(r->ref));
	for (i = 0; r->subtab != NULL && i < r->subcap; i++)
		for (s = r->subtab[i]; s != NULL; s = next) {
			next = s->hnext;
			free(s);
		}
	free(r->subtab);
	r->subtab = NULL;
	dedup_free(&r->dedup);
}

static struct relay_sub *
sub_find(struct relay *r, const uint8_t mac[6], int make)
{
	size_t b = mac_hash(mac, r->subcap);
	struct relay_sub *s;

	for (s = r->subtab[b]; s != NULL; s = s->hnext)
		if (memcmp(s->mac, mac, 6) == 0)
			return s;
	if (!make || r->nsubs >= RELAY_SUBS_MAX ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->mac, mac, 6);
	snprintf(s->id, sizeof(s->id), "q%02x%02x%02x%02x%02x%02x", mac[0],
	    mac[1], mac[2], mac[3], mac[4], mac[5]);
	relay_dest(r, mac, s->dest, sizeof(s->dest));
	s->hnext = r->subtab[b];
	r->subtab[b] = s;
	r->nsubs++;
	return s;
}

static struct relay_sub *
sub_by_id(struct relay *r, const char *id)
{
	uint8_t mac[6];
	unsigned int v[6];
	int i;

	if (id == NULL)
		return NULL;
	if (strcmp(id, "t") == 0)
		return &r->topic;
	if (strcmp(id, "c") == 0)
		return &r->claims;
	if (sscanf(id, "q%2x%2x%2x%2x%2x%2x", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5]) != 6 || strlen(id) != 13)
		return NULL;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return sub_find(r, mac, 0);
}

/* ---- Talking to the broker ------------------------------------------- */

static void
subscribe(struct relay *r, struct relay_sub *s)
{
	struct stomp_hdr h[5];
	struct stomp_frame f = { .command = "SUBSCRIBE", .headers = h,
	    .nheaders = 5 };
	char pf[16];

	if (s->subscribed || !stomp_conn_is_up(&r->conn))
		return;
	snprintf(pf, sizeof(pf), "%u", r->o.prefetch);
	h[0] = (struct stomp_hdr){ "destination", s->dest };
	h[1] = (struct stomp_hdr){ "id", s->id };
	h[2] = (struct stomp_hdr){ "ack", s->auto_ack ? "auto" :
	    "client-individual" };
	/* ActiveMQ reads only its own header; other brokers the common. */
	h[3] = (struct stomp_hdr){ "activemq.prefetchSize", pf };
	h[4] = (struct stomp_hdr){ "prefetch-count", pf };
	if (stomp_conn_send(&r->conn, &f) == 0) {
		s->subscribed = 1;
		log_debug("subscribed to %s", s->dest);
	}
}

static void
unsubscribe(struct relay *r, struct relay_sub *s)
{
	struct stomp_hdr h[] = { { "id", s->id } };
	struct stomp_frame f = { .command = "UNSUBSCRIBE", .headers = h,
	    .nheaders = 1 };

	if (s->subscribed && stomp_conn_is_up(&r->conn))
		(void)stomp_conn_send(&r->conn, &f);
	s->subscribed = 0;
	log_debug("unsubscribed from %s", s->dest);
}

/* "We serve this MAC", on the claims topic that every bridge follows
 * (docs/broker-format.md, Claims): two bridges on one MAC hear of each
 * other whichever subscribed first. */
static void
claim(struct relay *r, struct relay_sub *s)
{
	char mac[13];
	struct stomp_hdr h[] = { { "destination", r->claims.dest },
	    { "x-mq-claim", mac }, { "x-mq-bridge", r->bridge_hex },
	    { "persistent", "false" } };
	struct stomp_frame f = { .command = "SEND", .headers = h,
	    .nheaders = 4, .body = (const unsigned char *)"", .body_len = 0 };

	snprintf(mac, sizeof(mac), "%02x%02x%02x%02x%02x%02x", s->mac[0],
	    s->mac[1], s->mac[2], s->mac[3], s->mac[4], s->mac[5]);
	if (stomp_conn_is_up(&r->conn))
		(void)stomp_conn_send(&r->conn, &f);
}

static void
ack(struct relay *r, const char *id)
{
	struct stomp_hdr h[] = { { "id", id } };
	struct stomp_frame f = { .command = "ACK", .headers = h,
	    .nheaders = 1 };

	(void)stomp_conn_send(&r->conn, &f);
}

static void
on_claim_timer(struct evloop *l, struct ev_timer *t)
{
	struct relay *r = t->arg;
	struct relay_sub *s;
	size_t i;

	for (i = 0; i < r->subcap; i++)
		for (s = r->subtab[i]; s != NULL; s = s->hnext)
			if (s->subscribed)
				claim(r, s);
	ev_timer_start(l, t, RELAY_CLAIM_S * 1000000LL, on_claim_timer, r);
}

void
rx_session_up(struct relay *r)
{
	struct relay_sub *s;
	size_t i;

	r->session++;
	subscribe(r, &r->topic);
	subscribe(r, &r->claims);
	for (i = 0; i < r->subcap; i++)
		for (s = r->subtab[i]; s != NULL; s = s->hnext)
			if (s->wanted) {
				subscribe(r, s);
				claim(r, s);
			}
	ev_timer_start(&r->loop, &r->claim_t, RELAY_CLAIM_S * 1000000LL,
	    on_claim_timer, r);
}

/* Ack ids die with the session: what we hold comes again, unACKed. */
void
rx_session_down(struct relay *r)
{
	struct relay_sub *s;
	size_t i;

	r->session++;
	ev_timer_stop(&r->loop, &r->claim_t);
	r->topic.subscribed = r->claims.subscribed = 0;
	drop_waiting(r, &r->topic);
	for (i = 0; i < r->subcap; i++)
		for (s = r->subtab[i]; s != NULL; s = s->hnext) {
			s->subscribed = 0;
			drop_waiting(r, s);
		}
}

/* ---- The bridge's control messages ----------------------------------- */

static void
want(struct relay *r, const uint8_t mac[6], int on)
{
	struct relay_sub *s = sub_find(r, mac, on);

	if (s == NULL) {
		if (on)
			log_warn("cannot follow more than %d MACs",
			    RELAY_SUBS_MAX);
		return;
	}
	s->wanted = on;
	if (on) {
		subscribe(r, s);
		claim(r, s);
		return;
	}
	unsubscribe(r, s);
	drop_waiting(r, s);
}

static void
result(struct relay *r, uint32_t index, uint32_t status)
{
	struct relay_slotref *ref;

	/* Only pushes not yet settled can have a result. */
	if (index - r->push_done >= r->tx.head - r->push_done)
		return;
	ref = &r->ref[index & (UPLINK_RING - 1)];
	if (ref->msg != NULL && status >= UPLINK_FULL &&
	    status <= UPLINK_DROPPED)
		ref->status = (uint16_t)status;
}

void
rx_control(struct relay *r, const struct ring_frame *f)
{
	union {
		struct uplink_mac m;
		struct uplink_result res;
	} u;

	switch (ring_check_uplink_ctl(f, &u, f->len <= sizeof(u) ? f->len :
	    0)) {
	case UPLINK_SUB:
	case UPLINK_UNSUB:
		want(r, u.m.mac, u.m.h.type == UPLINK_SUB);
		break;
	case UPLINK_RESULT:
		result(r, u.res.index, u.res.status);
		break;
	}
}

/* ---- Messages from the broker ---------------------------------------- */

static int
parse_hex64(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || strlen(s) != 16)
		return -1;
	*v = strtoull(s, &end, 16);
	return *end == '\0' ? 0 : -1;
}

static int
parse_u32(const char *s, uint32_t *v)
{
	unsigned long long x;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	x = strtoull(s, &end, 10);
	if (*end != '\0' || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* Split the body into frames: one, or the records of a pack. */
static int
split(struct relay_msg *m, const struct stomp_frame *f, int packed)
{
	size_t pos = 0, n = 0, cap;
	uint16_t len;

	cap = packed ? f->body_len / (2 + RING_FRAME_MIN) + 1 : 1;
	m->off = calloc(cap, 2 * sizeof(uint16_t) + 1);
	if (m->off == NULL)
		return -1;
	m->len = m->off + cap;
	m->state = (uint8_t *)(m->len + cap);
	if (!packed) {
		m->off[0] = 0;
		m->len[0] = (uint16_t)f->body_len;
		m->nframes = 1;
		return f->body_len > UINT16_MAX ? -1 : 0;
	}
	while (pos < f->body_len) {
		if (f->body_len - pos < 2 || n == cap)
			return -1;
		len = (uint16_t)(f->body[pos] << 8 | f->body[pos + 1]);
		pos += 2;
		if (len > f->body_len - pos)
			return -1;
		m->off[n] = (uint16_t)pos;
		m->len[n++] = len;
		pos += len;
	}
	m->nframes = (uint16_t)n;
	return n == 0 ? -1 : 0;
}

/* A frame that can go to the bridge from this destination. */
static int
frame_ok(const struct relay *r, const struct relay_sub *s,
    const unsigned char *p, uint16_t len)
{
	if (len < RING_FRAME_MIN || len > r->tx.frame_max)
		return 0;
	if (s->topic)
		return p[0] & 1;
	return memcmp(p, s->mac, 6) == 0;
}

/* Mark what is not to be pushed (bad, or seen before); 1 if any frame is
 * left to push. */
static int
screen(struct relay *r, struct relay_msg *m, const struct stomp_frame *f,
    struct relay_sub *s)
{
	uint64_t origin;
	uint32_t seq;
	int dd, left = 0;
	uint16_t i;

	dd = parse_hex64(stomp_header(f, "x-mq-origin"), &origin) == 0 &&
	    parse_u32(stomp_header(f, "x-mq-seq"), &seq) == 0;
	for (i = 0; i < m->nframes; i++) {
		if (!frame_ok(r, s, m->body + m->off[i], m->len[i])) {
			r->st[US_dropped]++;
			m->state[i] = F_DONE;
		} else if (dd && dedup_seen(&r->dedup, origin, seq + i)) {
			r->st[US_duplicates]++;
			m->state[i] = F_DONE;
		} else {
			m->state[i] = F_WAIT;
			r->st[US_recv_frames]++;
			r->st[US_recv_bytes] += m->len[i];
			left = 1;
		}
		m->placed += m->state[i] == F_DONE;
	}
	return left;
}

/* Another bridge claims a MAC: a conflict if we serve it too. */
static void
claimed(struct relay *r, const struct stomp_frame *f)
{
	const char *mac = stomp_header(f, "x-mq-claim");
	const char *who = stomp_header(f, "x-mq-bridge");
	struct relay_sub *s;
	unsigned int v[6];
	uint8_t m[6];
	int i;

	if (mac == NULL || who == NULL || strcmp(who, r->bridge_hex) == 0 ||
	    strlen(mac) != 12 || sscanf(mac, "%2x%2x%2x%2x%2x%2x", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return;
	for (i = 0; i < 6; i++)
		m[i] = (uint8_t)v[i];
	if ((s = sub_find(r, m, 0)) == NULL || !s->wanted)
		return;
	r->st[US_conflicts]++;
	log_err("MAC CONFLICT: %s is consumed by another bridge too (bridge "
	    "%.16s); two hosts serve one MAC", s->dest, who);
	/* Make sure the other one hears of us too, whenever it came. */
	if (clock_ms() - s->answered_ms > RELAY_CLAIM_S * 1000 / 3) {
		s->answered_ms = clock_ms();
		claim(r, s);
	}
}

static void
enqueue(struct relay_sub *s, struct relay_msg *m)
{
	m->next = NULL;
	m->queued = 1;
	if (s->tail != NULL)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	s->held++;
}

void
rx_message(struct relay *r, const struct stomp_frame *f)
{
	struct relay_sub *s = sub_by_id(r, stomp_header(f, "subscription"));
	const char *id = stomp_header(f, "ack"), *ct, *bridge;
	struct relay_msg *m;

	if (s == &r->claims) {
		claimed(r, f);
		return;
	}
	if (s == NULL || id == NULL)
		return;		/* not ours (any more): it goes back */
	r->st[US_recv_messages]++;
	if (stomp_header(f, "redelivered") != NULL &&
	    strcmp(stomp_header(f, "redelivered"), "true") == 0)
		r->st[US_redelivered]++;
	bridge = stomp_header(f, "x-mq-bridge");
	if (s->topic && bridge != NULL && strcmp(bridge, r->bridge_hex) == 0) {
		ack(r, id);
		return;
	}
	ct = stomp_header(f, "content-type");
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->ack = strdup(id)) == NULL ||
	    (m->body = malloc(f->body_len + 1)) == NULL) {
		if (m != NULL)
			msg_free(m);
		return;		/* out of memory: the broker keeps it */
	}
	memcpy(m->body, f->body, f->body_len);
	m->sub = s;
	m->session = r->session;
	if (split(m, f, ct != NULL && strcmp(ct, CT_FRAMES) == 0) == -1) {
		r->st[US_dropped]++;
		ack(r, id);
		msg_free(m);
		return;
	}
	if (!screen(r, m, f, s)) {
		ack(r, id);
		msg_free(m);
		return;
	}
	enqueue(s, m);
}

/* ---- Pushing and settling --------------------------------------------- */

static void
on_retry(struct evloop *l, struct ev_timer *t)
{
	struct relay_sub *s = t->arg;

	(void)l;
	s->retrying = 0;
}

/* Push frames of s's waiting messages while the ring has room; 0 when it
 * is full. */
static int
push_sub(struct relay *r, struct relay_sub *s)
{
	struct relay_msg *m;
	struct relay_slotref *ref;
	unsigned char *buf;
	uint16_t i;

	while ((m = s->head) != NULL) {
		for (i = m->next_frame; i < m->nframes; i++) {
			if (m->state[i] != F_WAIT)
				continue;
			if (ring_reserve(&r->tx, &buf) != 1) {
				m->next_frame = i;
				return 0;
			}
			memcpy(buf, m->body + m->off[i], m->len[i]);
			ring_push(&r->tx, m->len[i]);
			ref = &r->ref[(r->tx.head - 1) & (UPLINK_RING - 1)];
			*ref = (struct relay_slotref){ m, i, 0 };
			m->state[i] = F_OUT;
			m->out++;
		}
		m->next_frame = m->nframes;
		s->head = m->next;
		if (s->head == NULL)
			s->tail = NULL;
		m->next = NULL;
		m->queued = 0;
	}
	return 1;
}

void
rx_push(struct relay *r)
{
	struct relay_sub *s;
	size_t i;
	int room = 1;

	if (!uplink_running(r))
		return;
	if (r->topic.head != NULL && !r->topic.retrying)
		room = push_sub(r, &r->topic);
	/* The table order is arbitrary; the prefetch bounds each queue. */
	for (i = 0; i < r->subcap && room; i++)
		for (s = r->subtab[i]; s != NULL && room; s = s->hnext)
			if (s->head != NULL && !s->retrying)
				room = push_sub(r, s);
	uplink_flush(r);
}

/* Offer a refused frame again, after its queue's backoff. */
static void
refused(struct relay *r, struct relay_msg *m, uint16_t frame)
{
	struct relay_sub *s = m->sub;

	r->st[US_refused_full]++;
	m->state[frame] = F_WAIT;
	if (frame < m->next_frame)
		m->next_frame = frame;
	if (m->session != r->session || !s->wanted)
		return;
	if (!m->queued) {	/* fully pushed before: back in front */
		m->next = s->head;
		s->head = m;
		if (s->tail == NULL)
			s->tail = m;
		m->queued = 1;
	}
	s->retry_us = s->retry_us == 0 ? RETRY_MIN_US : s->retry_us * 2;
	if (s->retry_us > RETRY_MAX_US)
		s->retry_us = RETRY_MAX_US;
	s->retrying = 1;
	ev_timer_start(&r->loop, &s->retry, s->retry_us, on_retry, s);
}

/* A MESSAGE whose frames are all settled: ACK it, or give it back. */
static void
finish(struct relay *r, struct relay_msg *m)
{
	struct relay_sub *s = m->sub;
	int stale = m->session != r->session || (!s->topic && !s->wanted);

	if (m->out > 0 || m->queued)
		return;
	if (!stale && !m->gone && m->placed < m->nframes)
		return;
	if (m->gone)
		r->st[US_returned]++;
	else if (!stale)
		ack(r, m->ack);
	s->held--;
	msg_free(m);
}

void
rx_settle(struct relay *r, uint32_t done)
{
	struct relay_slotref *ref;
	struct relay_msg *m;

	for (; r->push_done != done && r->push_done != r->tx.head;
	    r->push_done++) {
		ref = &r->ref[r->push_done & (UPLINK_RING - 1)];
		if ((m = ref->msg) == NULL)
			continue;
		ref->msg = NULL;
		m->out--;
		switch (ref->status) {
		case UPLINK_FULL:
			refused(r, m, ref->frame);
			break;
		case UPLINK_GONE:
			m->gone = 1;
			m->state[ref->frame] = F_DONE;
			break;
		default:
			if (ref->status == UPLINK_DROPPED)
				r->st[US_dropped]++;
			else
				m->sub->retry_us = 0;
			m->state[ref->frame] = F_DONE;
			m->placed++;
		}
		finish(r, m);
	}
}
