/*
 * peer.c - the peer table: IDs, eventfds, the log of joins and
 * departures, eventfds kept for QEMU, and ghosts for greetings.
 *
 * IDs go lowest-free-first, except that a process that comes back (same
 * uid, same command line: a restarted QEMU) gets its old ID if it is free,
 * so guests that address each other by ID keep working across restarts.
 * Why eventfds outlive their peer is told in peer.h.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/doorbell.h"
#include "lib/log.h"
#include "server/peer.h"

#define LOG_MIN_CAP	256

void
peer_table_init(struct peer_table *t)
{
	memset(t, 0, sizeof(*t));
	t->kept_head = t->kept_tail = -1;
	t->log_tail = 1;
}

static void
vecset_unref(struct vecset *v)
{
	unsigned int i;

	if (v == NULL || --v->refs > 0)
		return;
	for (i = 0; i < v->n; i++)
		close(v->fd[i]);
	free(v);
}

static struct vecset *
vecset_new(unsigned int n)
{
	struct vecset *v;
	unsigned int i;
	int saved;

	if ((v = calloc(1, sizeof(*v) + n * sizeof(int))) == NULL)
		return NULL;
	v->refs = 1;
	for (i = 0; i < n; i++) {
		v->fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->fd[i] == -1) {
			saved = errno;
			vecset_unref(v);
			errno = saved;
			return NULL;
		}
		v->n = i + 1;
	}
	return v;
}

/* Doorbells rung at a departed peer are not the newcomer's.  QEMU sets
 * the descriptors it receives blocking, in the description we share: a
 * plain read() of an unrung eventfd would then stop the server. */
static void
vecset_clear(const struct vecset *v)
{
	unsigned int i;

	for (i = 0; i < v->n; i++)
		(void)doorbell_take(v->fd[i]);
}

/* ---- The log ------------------------------------------------------- */

uint64_t
peer_log_min(const struct peer_table *t)
{
	uint64_t min = t->seq + 1, pos;
	size_t i;

	for (i = 0; i < t->nlive; i++) {
		const struct peer *p = t->live[i];

		pos = p->cur.ph == PH_LOG ? p->cur.pos : p->join_seq + 1;
		if (pos < min)
			min = pos;
	}
	return min;
}

static struct event *
log_slot(const struct peer_table *t, uint64_t seq)
{
	return &t->log[seq % t->log_cap];
}

const struct event *
peer_event(const struct peer_table *t, uint64_t seq)
{
	return log_slot(t, seq);
}

void
peer_log_trim(struct peer_table *t)
{
	uint64_t min = peer_log_min(t);

	while (t->log_tail < min) {
		vecset_unref(log_slot(t, t->log_tail)->vec);
		t->log_tail++;
	}
}

static int
log_grow(struct peer_table *t)
{
	size_t cap = t->log_cap ? t->log_cap * 2 : LOG_MIN_CAP;
	struct event *nl;
	uint64_t s;

	if ((nl = calloc(cap, sizeof(*nl))) == NULL)
		return -1;
	for (s = t->log_tail; s <= t->seq; s++)
		nl[s % cap] = *log_slot(t, s);
	free(t->log);
	t->log = nl;
	t->log_cap = cap;
	return 0;
}

/* Append the next event (seq t->seq + 1); -1 when out of memory. */
static int
log_append(struct peer_table *t, int id, int leave, uint64_t inherit_seq,
    struct vecset *vec)
{
	struct event *e;

	if (t->seq + 1 - t->log_tail >= t->log_cap) {
		peer_log_trim(t);
		if (t->seq + 1 - t->log_tail >= t->log_cap &&
		    log_grow(t) == -1)
			return -1;
	}
	t->seq++;
	e = log_slot(t, t->seq);
	e->id = id;
	e->leave = leave;
	e->inherit_seq = inherit_seq;
	e->vec = vec;
	if (vec != NULL)
		vec->refs++;
	return 0;
}

/* ---- Eventfds kept for witnesses ----------------------------------- */

static void
kept_unlink(struct peer_table *t, int id)
{
	int n = t->kept_next[id], p = t->kept_prev[id];

	if (p == -1)
		t->kept_head = n;
	else
		t->kept_next[p] = n;
	if (n == -1)
		t->kept_tail = p;
	else
		t->kept_prev[n] = p;
	t->kept[id] = NULL;
	t->nkept--;
}

static void
kept_add(struct peer_table *t, int id, struct vecset *v)
{
	t->kept[id] = v;
	t->kept_next[id] = -1;
	t->kept_prev[id] = t->kept_tail;
	if (t->kept_tail == -1)
		t->kept_head = id;
	else
		t->kept_next[t->kept_tail] = id;
	t->kept_tail = id;
	t->nkept++;
}

/* Witnesses that joined after an ID was freed never held its eventfds:
 * once no older witness lives, they go. */
static void
kept_release(struct peer_table *t)
{
	uint64_t oldest = t->wit_head ? t->wit_head->join_seq : UINT64_MAX;
	struct vecset *v;
	int id;

	while ((id = t->kept_head) != -1 && t->freed_seq[id] < oldest) {
		v = t->kept[id];
		kept_unlink(t, id);
		vecset_unref(v);
	}
}

/* ---- Ghosts -------------------------------------------------------- */

/* Has p's greeting still to tell who holds id? */
static int
owes(const struct peer *p, int id)
{
	return p->cur.ph < PH_OTHERS ||
	    (p->cur.ph == PH_OTHERS && p->cur.id <= id);
}

static void
ghost_unref(struct peer_table *t, struct ghost *g)
{
	struct ghost **pp;

	if (--g->refs > 0)
		return;
	for (pp = &t->ghost_at[g->id]; *pp != g; pp = &(*pp)->next_at)
		;
	*pp = g->next_at;
	if (g->prev != NULL)
		g->prev->next = g->next;
	else
		t->ghosts = g->next;
	if (g->next != NULL)
		g->next->prev = g->prev;
	t->nghosts--;
	vecset_unref(g->vec);
	free(g);
}

/* p leaves: greetings that owe it keep its eventfds in a ghost. */
static void
ghost_make(struct peer_table *t, const struct peer *p, uint64_t leave_seq)
{
	struct ghost *g;
	struct peer *n;
	unsigned int refs = 0;

	for (n = t->greeting; n != NULL; n = n->gnext)
		if (n != p && n->join_seq > p->join_seq && owes(n, p->id))
			refs++;
	if (refs == 0)
		return;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		/* Those greetings skip it; its departure notice follows. */
		log_err("out of memory: greetings in progress will not name "
		    "departed peer %d", p->id);
		return;
	}
	g->id = p->id;
	g->join_seq = p->join_seq;
	g->leave_seq = leave_seq;
	g->vec = p->vec;
	g->vec->refs++;
	g->refs = refs;
	g->next_at = t->ghost_at[p->id];
	t->ghost_at[p->id] = g;
	g->next = t->ghosts;
	if (t->ghosts != NULL)
		t->ghosts->prev = g;
	t->ghosts = g;
	t->nghosts++;
}

static struct ghost *
ghost_seen_by(const struct peer_table *t, int id, uint64_t seq)
{
	struct ghost *g;

	for (g = t->ghost_at[id]; g != NULL; g = g->next_at)
		if (g->join_seq < seq && seq < g->leave_seq)
			return g;
	return NULL;
}

struct vecset *
peer_holder_at(const struct peer_table *t, int id, uint64_t seq)
{
	const struct peer *p = t->by_id[id];
	struct ghost *g;

	if (p != NULL && p->join_seq < seq)
		return p->vec;
	if (t->ghost_at[id] != NULL && (g = ghost_seen_by(t, id, seq)) != NULL)
		return g->vec;
	return NULL;
}

void
peer_passed(struct peer_table *t, struct peer *p, int id)
{
	struct ghost *g;

	if (t->ghost_at[id] != NULL &&
	    (g = ghost_seen_by(t, id, p->join_seq)) != NULL)
		ghost_unref(t, g);
}

static void
greeting_unlink(struct peer_table *t, struct peer *p)
{
	if (p->gprev != NULL)
		p->gprev->gnext = p->gnext;
	else if (t->greeting == p)
		t->greeting = p->gnext;
	else
		return;		/* not in the list */
	if (p->gnext != NULL)
		p->gnext->gprev = p->gprev;
	p->gnext = p->gprev = NULL;
}

void
peer_greeted(struct peer_table *t, struct peer *p)
{
	greeting_unlink(t, p);
}

/* p leaves before its greeting passed them: let go of its ghosts. */
static void
ghost_drop_owed(struct peer_table *t, struct peer *p)
{
	struct ghost *g, *next;

	for (g = t->ghosts; g != NULL; g = next) {
		next = g->next;
		if (g->join_seq < p->join_seq && p->join_seq < g->leave_seq &&
		    owes(p, g->id))
			ghost_unref(t, g);
	}
}

/* ---- Peers --------------------------------------------------------- */

void
peer_table_free(struct peer_table *t)
{
	while (t->nlive > 0)
		peer_free(t, t->live[t->nlive - 1]);
	while (t->kept_head != -1) {
		struct vecset *v = t->kept[t->kept_head];

		kept_unlink(t, t->kept_head);
		vecset_unref(v);
	}
	while (t->ghosts != NULL) {
		t->ghosts->refs = 1;
		ghost_unref(t, t->ghosts);
	}
	while (t->log_tail <= t->seq)
		vecset_unref(log_slot(t, t->log_tail++)->vec);
	free(t->log);
	free(t->live);
	t->log = NULL;
	t->live = NULL;
	t->live_cap = t->log_cap = 0;
}

int
peer_pick_id(const struct peer_table *t, uint64_t ident)
{
	int id;

	if (ident != 0)
		for (id = 0; id < t->high; id++)
			if (t->last_ident[id] == ident && t->by_id[id] == NULL)
				return id;
	for (id = 0; id < PEER_IDS; id++)
		if (t->by_id[id] == NULL)
			return id;
	return -1;
}

int
peer_pick_id_now(const struct peer_table *t)
{
	int low = peer_pick_id(t, 0);

	if (low == -1 || t->nremembered == 0 ||
	    (t->nremembered == 1 && t->last_ident[low] != 0))
		return low;
	return -1;
}

static void witness_remove(struct peer_table *, struct peer *);
static void kept_release(struct peer_table *);

void
peer_set_identity(struct peer_table *t, struct peer *p, uint64_t ident,
    int witness)
{
	p->ident = ident;
	p->ident_pending = 0;
	if (witness || !p->witness)
		return;
	/* One of our tools after all: it hears departures from now on. */
	witness_remove(t, p);
	p->witness = 0;
	kept_release(t);
}

static int
live_add(struct peer_table *t, struct peer *p)
{
	struct peer **nl;
	size_t cap;

	if (t->nlive == t->live_cap) {
		cap = t->live_cap ? t->live_cap * 2 : 64;
		if ((nl = reallocarray(t->live, cap, sizeof(*nl))) == NULL)
			return -1;
		t->live = nl;
		t->live_cap = cap;
	}
	p->live_idx = t->nlive;
	t->live[t->nlive++] = p;
	return 0;
}

static void
witness_add(struct peer_table *t, struct peer *p)
{
	p->wnext = NULL;
	p->wprev = t->wit_tail;
	if (t->wit_tail != NULL)
		t->wit_tail->wnext = p;
	else
		t->wit_head = p;
	t->wit_tail = p;
	t->nwitness++;
}

static void
witness_remove(struct peer_table *t, struct peer *p)
{
	if (p->wprev != NULL)
		p->wprev->wnext = p->wnext;
	else
		t->wit_head = p->wnext;
	if (p->wnext != NULL)
		p->wnext->wprev = p->wprev;
	else
		t->wit_tail = p->wprev;
	t->nwitness--;
}

/* The eventfds for a newcomer at id, and when they were last freed. */
static struct vecset *
take_vecset(struct peer_table *t, int id, unsigned int n, uint64_t *inherit)
{
	struct vecset *v = t->kept[id];

	*inherit = 0;
	if (v == NULL)
		return vecset_new(n);
	kept_unlink(t, id);
	vecset_clear(v);
	*inherit = t->freed_seq[id];
	return v;
}

struct peer *
peer_new(struct peer_table *t, int id, int sock, unsigned int n,
    int witness, uint64_t ident)
{
	uint64_t inherit;
	struct peer *p;
	int saved;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (live_add(t, p) == -1) {
		free(p);
		return NULL;
	}
	if ((p->vec = take_vecset(t, id, n, &inherit)) == NULL ||
	    log_append(t, id, 0, inherit, p->vec) == -1) {
		saved = errno;
		if (p->vec != NULL && inherit != 0)
			kept_add(t, id, p->vec);	/* put it back */
		else
			vecset_unref(p->vec);
		t->nlive--;
		free(p);
		errno = saved;
		return NULL;
	}
	p->id = id;
	p->sock = sock;
	p->ident = ident;
	p->witness = witness;
	p->join_seq = t->seq;
	p->cur.ph = PH_VERSION;
	if (witness)
		witness_add(t, p);
	p->gnext = t->greeting;
	if (t->greeting != NULL)
		t->greeting->gprev = p;
	t->greeting = p;
	if (t->last_ident[id] != 0)
		t->nremembered--;
	t->by_id[id] = p;
	if (id >= t->high)
		t->high = id + 1;
	return p;
}

void
peer_free(struct peer_table *t, struct peer *p)
{
	struct peer *last;
	uint64_t leave;

	if (log_append(t, p->id, 1, 0, NULL) == -1)
		log_err("out of memory: peer %d leaves untold", p->id);
	leave = t->seq;
	if (p->cur.ph <= PH_OTHERS)
		ghost_drop_owed(t, p);
	greeting_unlink(t, p);
	ghost_make(t, p, leave);
	last = t->live[--t->nlive];
	last->live_idx = p->live_idx;
	t->live[p->live_idx] = last;
	t->by_id[p->id] = NULL;
	t->last_ident[p->id] = p->ident;
	if (p->ident != 0)
		t->nremembered++;
	t->freed_seq[p->id] = leave;
	if (p->witness)
		witness_remove(t, p);
	/* Every live witness was told of p (or is owed it by a ghost). */
	if (t->nwitness > 0)
		kept_add(t, p->id, p->vec);
	else
		vecset_unref(p->vec);
	if (p->witness)
		kept_release(t);
	if (p->sock != -1)
		close(p->sock);
	free(p);
}
