/*
 * out.c - what each peer is told, expanded from its cursor only as fast
 * as its socket drains, many messages per sendmmsg(); and dropping the
 * peers that stop reading or hang up.
 *
 * A peer's pending output is its cursor (peer.h): the greeting is read
 * off the peer table, the notices off the shared log.  Nothing is queued
 * per peer, so a peer that never reads costs the same as one that does.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "send_scm.h"
#include "server/server.h"

#define GREET_EVERY	16	/* notices sent between greeting refills */
#define GREET_REFILL	4	/* newest greetings refilled */

static void
idlist_push(struct idlist *l, int id)
{
	int *n;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		if ((n = reallocarray(l->ids, l->cap, sizeof(*n))) == NULL)
			fatal("out of memory");
		l->ids = n;
	}
	l->ids[l->n++] = id;
}

static void
arm_turn(void)
{
	if (!srv.flush_timer.active)
		ev_timer_start(&srv.loop, &srv.flush_timer, 0,
		    srv.flush_timer.fn, NULL);
}

void
out_doom(struct peer *p, const char *why)
{
	if (p->doomed)
		return;
	p->doomed = 1;
	snprintf(p->why, sizeof(p->why), "%s", why);
	idlist_push(&srv.doomed, p->id);
	arm_turn();
}

/* Dropped by us, not gone by itself: counted by reason. */
static void
doom_counted(struct peer *p, enum drop why, const char *text)
{
	if (!p->doomed)
		srv.n.dropped[why]++;
	out_doom(p, text);
}

void
out_dirty(struct peer *p)
{
	if (p->dirty || p->want_out || p->doomed)
		return;
	p->dirty = 1;
	idlist_push(&srv.dirty, p->id);
	arm_turn();
}

/* A join or a departure: everyone may have something new to hear. */
void
out_all_dirty(const struct peer *except)
{
	size_t i;

	for (i = 0; i < srv.table.nlive; i++)
		if (srv.table.live[i] != except)
			out_dirty(srv.table.live[i]);
}

/* ---- The cursor ------------------------------------------------------ */

/* Does p hear of event e?  Witnesses never hear of a departure, nor of a
 * join whose eventfds they already hold for that ID. */
static int
hears(const struct peer *p, const struct event *e)
{
	if (e->leave)
		return !p->witness;
	return !(p->witness && e->inherit_seq != 0 &&
	    p->join_seq < e->inherit_seq);
}

static int
step_others(struct peer *p, struct cursor *c, struct scm_msg *m, int commit)
{
	struct peer_table *t = &srv.table;
	struct vecset *v;

	while (c->id < t->high) {
		v = peer_holder_at(t, c->id, p->join_seq);
		if (v != NULL && c->v < v->n) {
			*m = (struct scm_msg){ c->id, v->fd[c->v++] };
			return 1;
		}
		if (commit)
			peer_passed(t, p, c->id);
		c->id++;
		c->v = 0;
	}
	c->ph = PH_OWN;
	c->v = 0;
	if (commit)
		peer_greeted(t, p);
	return 0;
}

static int
step_log(const struct peer *p, struct cursor *c, struct scm_msg *m)
{
	const struct event *e;

	while (c->pos <= srv.table.seq) {
		e = peer_event(&srv.table, c->pos);
		if (hears(p, e) && e->leave && c->v == 0) {
			c->v = 1;
			*m = (struct scm_msg){ e->id, SCM_NO_FD };
			return 1;
		}
		if (hears(p, e) && !e->leave && c->v < e->vec->n) {
			*m = (struct scm_msg){ e->id, e->vec->fd[c->v++] };
			return 1;
		}
		c->pos++;
		c->v = 0;
	}
	return 0;
}

/* The message at c, moving c past it; 0 when p is told everything.  Only
 * a committing step lets go of what p's greeting no longer needs. */
static int
step(struct peer *p, struct cursor *c, struct scm_msg *m, int commit)
{
	for (;;) {
		switch (c->ph) {
		case PH_VERSION:
			c->ph = PH_ID;
			if (srv.opt.proto == SCM_PROTO_V0) {
				*m = (struct scm_msg){ SCM_PROTOCOL_VERSION,
				    SCM_NO_FD };
				return 1;
			}
			break;
		case PH_ID:
			c->ph = PH_REGION;
			*m = (struct scm_msg){ p->id, SCM_NO_FD };
			return 1;
		case PH_REGION:
			c->ph = PH_OTHERS;
			c->id = 0;
			c->v = 0;
			*m = (struct scm_msg){ -1, srv.region.peer_fd };
			return 1;
		case PH_OTHERS:
			if (step_others(p, c, m, commit))
				return 1;
			break;
		case PH_OWN:
			if (c->v < p->vec->n) {
				*m = (struct scm_msg){ p->id,
				    p->vec->fd[c->v++] };
				return 1;
			}
			/* Whether it hears departures is not known yet. */
			if (p->ident_pending)
				return 0;
			c->ph = PH_LOG;
			c->pos = p->join_seq + 1;
			c->v = 0;
			break;
		case PH_LOG:
			return step_log(p, c, m);
		}
	}
}

static size_t
peek(struct peer *p, struct scm_msg *m, size_t max)
{
	struct cursor c = p->cur;
	size_t n = 0;

	while (n < max && step(p, &c, &m[n], 0))
		n++;
	return n;
}

/* Move p's cursor past n messages; with rest, also past what it does
 * not hear after them (the peek found nothing more to send). */
static void
advance(struct peer *p, size_t n, int rest)
{
	struct scm_msg m;

	while (n-- > 0)
		step(p, &p->cur, &m, 1);
	if (rest)
		(void)step(p, &p->cur, &m, 1);
}

/* ---- Sending --------------------------------------------------------- */

/* Bytes p has not read yet: the kernel only wakes us for output once most
 * of it is read, so a slow reader makes progress we cannot see from our
 * side alone. */
static int
unread_bytes(const struct peer *p)
{
	int n;

	return ioctl(p->sock, TIOCOUTQ, &n) == -1 ? -1 : n;
}

/* The rest of a message that went out in part; 1 done, 0 blocked. */
static ssize_t
send_rest(struct peer *p)
{
	struct scm_msg m;
	ssize_t n;

	if (peek(p, &m, 1) != 1)
		return 1;
	n = scm_send_part(p->sock, srv.opt.proto, m.value, SCM_NO_FD,
	    p->part);
	if (n <= 0)
		return n;
	p->part += (size_t)n;
	if (p->part < scm_msg_size(srv.opt.proto))
		return 0;
	p->part = 0;
	advance(p, 1, 0);
	return 1;
}

/* Send what the socket takes: 1 all sent, 0 blocked, -1 error (errno). */
static int
send_all(struct peer *p, int *progress)
{
	struct scm_msg m[SCM_BATCH_MAX];
	size_t n, part;
	ssize_t k;

	*progress = 0;
	for (;;) {
		if (p->part > 0) {
			if ((k = send_rest(p)) <= 0)
				return (int)k;
			*progress = 1;
		}
		if ((n = peek(p, m, SCM_BATCH_MAX)) == 0) {
			advance(p, 0, 1);
			return 1;
		}
		k = scm_send_many(p->sock, srv.opt.proto, m, n, &part);
		if (k == -1)
			return -1;
		advance(p, (size_t)k, (size_t)k == n && n < SCM_BATCH_MAX &&
		    part == 0);
		p->part = part;
		if (k > 0 || part > 0)
			*progress = 1;
		if ((size_t)k < n)
			return part > 0 ? send_rest(p) : 0;
	}
}

static void
want_out(struct peer *p, int out)
{
	if (out == p->want_out)
		return;
	if (ev_io_set(&srv.loop, &p->io, EPOLLIN | EPOLLRDHUP |
	    (out ? EPOLLOUT : 0)) == -1) {
		out_doom(p, "cannot watch its socket (epoll_ctl failed)");
		return;
	}
	p->want_out = out;
}

void
out_flush(struct peer *p)
{
	char why[96];
	int rc, progress;

	if (p->doomed)
		return;
	rc = send_all(p, &progress);
	p->retry = rc == -1 && errno == ETOOMANYREFS;
	if (p->retry) {
		/*
		 * Too many of our descriptors are in flight to peers that
		 * have not read them yet (without CAP_SYS_RESOURCE that is
		 * capped at our nofile limit).  No event says when it eases
		 * and the socket stays writable, so EPOLLOUT would spin:
		 * retry soon.  Not this peer's fault: it does not count
		 * towards -k.
		 */
		srv.retry_pending = 1;
		if (!srv.retry_timer.active)
			ev_timer_start(&srv.loop, &srv.retry_timer,
			    RETRY_MS * 1000, srv.retry_timer.fn, NULL);
		p->stuck_ms = 0;
		rc = 0;
	} else if (rc == -1) {
		snprintf(why, sizeof(why), "send error: %s", strerror(errno));
		out_doom(p, errno == EPIPE || errno == ECONNRESET ?
		    "hung up" : why);
		return;
	} else if (progress || rc == 1) {
		/* -k measures time without progress, not with a backlog. */
		p->stuck_ms = 0;
	}
	if (rc == 0 && !p->retry && p->stuck_ms == 0) {
		p->stuck_ms = clock_ms();
		p->stuck_outq = unread_bytes(p);
	}
	want_out(p, rc == 0 && !p->retry);
}

/* ---- Dropping -------------------------------------------------------- */

static void
reap(void)
{
	struct peer *p;
	size_t i;
	uid_t uid;
	int id;

	for (i = 0; i < srv.doomed.n; i++) {
		id = srv.doomed.ids[i];
		if ((p = srv.table.by_id[id]) == NULL || !p->doomed)
			continue;
		log_info("peer %d disconnected (%s)", id, p->why);
		srv.n.left++;
		ev_io_stop(&srv.loop, &p->io);
		uid = p->uid;
		peer_free(&srv.table, p);
		admit_left(uid);
		out_all_dirty(NULL);
	}
	srv.doomed.n = 0;
}

/*
 * The newest greetings whose sockets were full: a newcomer waits for all
 * of its greeting, the others for one notice each.  While we tell a
 * thousand peers of it, the newcomer drains its socket on another CPU;
 * refilling it now and then keeps it from waiting for the last notice.
 */
static void
refill_greetings(void)
{
	struct peer *p;
	int n = 0;

	for (p = srv.table.greeting; p != NULL && n < GREET_REFILL;
	    p = p->gnext, n++)
		if (p->want_out && !p->doomed)
			out_flush(p);
}

static void
flush_dirty(void)
{
	struct peer *p;
	size_t i;

	for (i = 0; i < srv.dirty.n; i++) {
		p = srv.table.by_id[srv.dirty.ids[i]];
		if (p == NULL || !p->dirty)
			continue;
		p->dirty = 0;
		out_flush(p);
		if (i % GREET_EVERY == GREET_EVERY - 1)
			refill_greetings();
	}
	srv.dirty.n = 0;
}

/* The end of a loop turn: tell, then drop; dropping tells more. */
void
out_turn(void)
{
	while (srv.doomed.n > 0 || srv.dirty.n > 0) {
		flush_dirty();
		reap();
	}
	/* Departed peers' eventfds close once everyone has heard. */
	if (srv.table.log_tail <= srv.table.seq)
		peer_log_trim(&srv.table);
}

/* Once a second: drop peers stuck past -k, or too far behind the log. */
void
out_scan(int64_t now)
{
	uint64_t lag_max = srv.table.nlive + LAG_SLACK, min;
	struct peer *p;
	size_t i;
	int outq;

	peer_log_trim(&srv.table);
	min = srv.table.seq > lag_max ? srv.table.seq - lag_max : 0;
	for (i = 0; i < srv.table.nlive; i++) {
		p = srv.table.live[i];
		if ((p->cur.ph == PH_LOG ? p->cur.pos : p->join_seq + 1) < min)
			doom_counted(p, DROP_LAGGING,
			    "not reading: too far behind the others");
		if (p->stuck_ms == 0 || now - p->stuck_ms < srv.opt.stall_ms)
			continue;
		outq = unread_bytes(p);
		if (outq != -1 && outq < p->stuck_outq) {
			/* It read some: give it another -k from here. */
			p->stuck_ms = now;
			p->stuck_outq = outq;
		} else
			doom_counted(p, DROP_STALLED,
			    "not reading its messages");
	}
}

/* Peers whose descriptors the kernel refused: try them again. */
void
out_schedule_retries(void)
{
	struct peer *p;
	size_t i;

	if (!srv.retry_pending)
		return;
	srv.retry_pending = 0;
	for (i = 0; i < srv.table.nlive; i++) {
		p = srv.table.live[i];
		if (p->retry) {
			p->retry = 0;
			out_dirty(p);
		}
	}
}

void
out_peer_event(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct peer *p = io->arg;
	ssize_t n;

	(void)l;
	if (events & EPOLLOUT) {
		p->dirty = 0;
		out_flush(p);
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	/* Peers never talk: any byte, or EOF, is a hang-up. */
	n = scm_drain(p->sock);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n > 0)
		doom_counted(p, DROP_TALKED, "it sent data; peers must not");
	else
		out_doom(p, n == 0 || errno == ECONNRESET ? "hung up" :
		    "receive error");
}
