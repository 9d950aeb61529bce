/*
 * peer.c - the peer table, ID allocation and per-peer output queues.
 *
 * IDs go lowest-free-first, except that a process that comes back (same
 * uid, same command line: a restarted QEMU) gets its old ID if it is free,
 * so guests that address each other by ID keep working across restarts.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/peer.h"

void
peer_table_init(struct peer_table *t, size_t max_peers)
{
	memset(t, 0, sizeof(*t));
	t->max_peers = max_peers;
}

void
peer_table_free(struct peer_table *t)
{
	while (t->nlive > 0)
		peer_free(t, t->live[t->nlive - 1]);
	free(t->live);
	t->live = NULL;
	t->live_cap = 0;
}

/* Joined before id was freed: a witness that would crash on its reuse. */
static uint64_t
oldest_witness(const struct peer_table *t)
{
	uint64_t oldest = UINT64_MAX;
	size_t i;

	if (t->nwitness == 0)
		return oldest;
	for (i = 0; i < t->nlive; i++)
		if (t->live[i]->witness && t->live[i]->join_seq < oldest)
			oldest = t->live[i]->join_seq;
	return oldest;
}

int
peer_pick_id(const struct peer_table *t, uint64_t ident, int *held)
{
	uint64_t oldest = oldest_witness(t);
	int id, pick = -1;

	*held = 0;
	if (t->nlive >= t->max_peers)
		return -1;
	if (ident != 0) {
		for (id = 0; id < t->high; id++)
			if (t->last_ident[id] == ident &&
			    t->by_id[id] == NULL && t->freed_seq[id] < oldest)
				return id;
	}
	for (id = 0; id < PEER_IDS && pick == -1; id++) {
		if (t->by_id[id] != NULL)
			continue;
		if (t->freed_seq[id] < oldest)
			pick = id;
		else
			(*held)++;
	}
	return pick;
}

/* FNV-1a over uid and command line: the same process comes back the same. */
static uint64_t
fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Our own tools re-create their peer records; QEMU does not. */
static int
is_witness(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base != NULL ? base + 1 : argv0;
	return strncmp(base, "tm_", 3) != 0 && strncmp(base, "mq", 2) != 0;
}

uint64_t
peer_ident(pid_t pid, uid_t uid, int *witness)
{
	char path[64], buf[4096];
	uint64_t h = 0xcbf29ce484222325ULL;
	ssize_t n;
	int fd;

	*witness = 1;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	*witness = is_witness(buf);
	h = fnv1a(h, &uid, sizeof(uid));
	h = fnv1a(h, buf, (size_t)n);
	return h == 0 ? 1 : h;
}

static struct vecset *
vecset_new(unsigned int n)
{
	struct vecset *v;
	unsigned int i;

	v = calloc(1, sizeof(*v) + n * sizeof(int));
	if (v == NULL)
		return NULL;
	v->refs = 1;
	for (i = 0; i < n; i++) {
		v->fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->fd[i] == -1) {
			int saved = errno;

			while (i-- > 0)
				close(v->fd[i]);
			free(v);
			errno = saved;
			return NULL;
		}
		v->n = i + 1;
	}
	return v;
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

static int
live_add(struct peer_table *t, struct peer *p)
{
	struct peer **nl;
	size_t cap;

	if (t->nlive == t->live_cap) {
		cap = t->live_cap ? t->live_cap * 2 : 64;
		nl = reallocarray(t->live, cap, sizeof(*nl));
		if (nl == NULL)
			return -1;
		t->live = nl;
		t->live_cap = cap;
	}
	p->live_idx = t->nlive;
	t->live[t->nlive++] = p;
	return 0;
}

struct peer *
peer_new(struct peer_table *t, int id, int sock, unsigned int n,
    int witness)
{
	struct peer *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->vec = vecset_new(n);
	if (p->vec == NULL || live_add(t, p) == -1) {
		int saved = errno;

		vecset_unref(p->vec);
		free(p);
		errno = saved;
		return NULL;
	}
	p->id = id;
	p->sock = sock;
	p->join_seq = ++t->seq;
	p->witness = witness;
	t->nwitness += witness != 0;
	t->by_id[id] = p;
	if (id >= t->high)
		t->high = id + 1;
	return p;
}

void
peer_free(struct peer_table *t, struct peer *p)
{
	struct peer *last;

	while (p->qlen > 0) {
		vecset_unref(p->q[p->qhead].hold);
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
	}
	free(p->q);
	last = t->live[--t->nlive];
	last->live_idx = p->live_idx;
	t->live[p->live_idx] = last;
	t->by_id[p->id] = NULL;
	t->last_ident[p->id] = p->ident;
	t->freed_seq[p->id] = ++t->seq;
	t->nwitness -= p->witness != 0;
	vecset_unref(p->vec);
	if (p->sock != -1)
		close(p->sock);
	free(p);
}

static int
queue_grow(struct peer *p)
{
	struct outmsg *nq;
	size_t cap, i;

	cap = p->qcap ? p->qcap * 2 : 16;
	nq = reallocarray(NULL, cap, sizeof(*nq));
	if (nq == NULL)
		return -1;
	for (i = 0; i < p->qlen; i++)
		nq[i] = p->q[(p->qhead + i) % p->qcap];
	free(p->q);
	p->q = nq;
	p->qcap = cap;
	p->qhead = 0;
	return 0;
}

int
peer_enqueue(struct peer *p, int64_t value, int fd, struct vecset *hold)
{
	struct outmsg *m;

	if (p->qlen == p->qcap && queue_grow(p) == -1)
		return -1;
	m = &p->q[(p->qhead + p->qlen) % p->qcap];
	m->value = value;
	m->fd = fd;
	m->hold = hold;
	if (hold != NULL)
		hold->refs++;
	p->qlen++;
	return 0;
}

int
peer_flush(struct peer *p, enum scm_proto proto)
{
	size_t size = scm_msg_size(proto);
	struct outmsg *m;
	ssize_t n;

	while (p->qlen > 0) {
		m = &p->q[p->qhead];
		n = scm_send_part(p->sock, proto, m->value,
		    p->qoff == 0 ? m->fd : SCM_NO_FD, p->qoff);
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		p->qoff += (size_t)n;
		if (p->qoff < size)
			continue;
		vecset_unref(m->hold);
		p->qoff = 0;
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
	}
	return 1;
}
