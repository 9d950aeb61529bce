/*
 * relay_dedup.c - a sliding window of sequence numbers per origin.
 *
 * Bit k of an origin's window is set when top - k was seen.  A number
 * ahead of top slides the window; one more than a window behind top is
 * too old to judge and is delivered (a sender that old has been silent
 * for a thousand frames: a resend is not what that looks like).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stdlib.h>
#include <string.h>

#include "mqbridge/relay/relay_dedup.h"

#define WORDS	(RELAY_DEDUP_WINDOW / 64)

int
dedup_init(struct relay_dedup *d)
{
	memset(d, 0, sizeof(*d));
	d->cap = 2 * RELAY_DEDUP_ORIGINS;
	d->tab = calloc(d->cap, sizeof(*d->tab));
	return d->tab == NULL ? -1 : 0;
}

void
dedup_free(struct relay_dedup *d)
{
	struct dedup_origin *o, *next;
	size_t i;

	for (i = 0; d->tab != NULL && i < d->cap; i++)
		for (o = d->tab[i]; o != NULL; o = next) {
			next = o->next;
			free(o);
		}
	free(d->tab);
	d->tab = NULL;
	d->n = 0;
}

static size_t
bucket(const struct relay_dedup *d, uint64_t origin)
{
	return (size_t)((origin * 0x9e3779b97f4a7c15ULL) >> 32) & (d->cap - 1);
}

/* The least recently used origin goes, to make room. */
static void
evict(struct relay_dedup *d)
{
	struct dedup_origin **pp, **victim = NULL;
	size_t i;

	for (i = 0; i < d->cap; i++)
		for (pp = &d->tab[i]; *pp != NULL; pp = &(*pp)->next)
			if (victim == NULL || (*pp)->used < (*victim)->used)
				victim = pp;
	if (victim != NULL) {
		struct dedup_origin *o = *victim;

		*victim = o->next;
		free(o);
		d->n--;
	}
}

static struct dedup_origin *
find(struct relay_dedup *d, uint64_t origin, uint32_t seq)
{
	struct dedup_origin *o;
	size_t b = bucket(d, origin);

	for (o = d->tab[b]; o != NULL; o = o->next)
		if (o->origin == origin)
			return o;
	if (d->n >= RELAY_DEDUP_ORIGINS)
		evict(d);
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	o->origin = origin;
	o->top = seq - 1;	/* seq itself is then one ahead: new */
	o->next = d->tab[b];
	d->tab[b] = o;
	d->n++;
	return o;
}

/* Move the window forward by k numbers. */
static void
slide(struct dedup_origin *o, uint32_t k)
{
	uint32_t w, b, i;

	if (k >= RELAY_DEDUP_WINDOW) {
		memset(o->bits, 0, sizeof(o->bits));
		return;
	}
	w = k / 64;
	b = k % 64;
	for (i = WORDS; i-- > 0;) {
		uint64_t v = i >= w ? o->bits[i - w] << b : 0;

		if (b != 0 && i > w)
			v |= o->bits[i - w - 1] >> (64 - b);
		o->bits[i] = v;
	}
}

int
dedup_seen(struct relay_dedup *d, uint64_t origin, uint32_t seq)
{
	struct dedup_origin *o = find(d, origin, seq);
	uint32_t age;

	if (o == NULL)
		return 0;	/* out of memory: deliver rather than lose */
	o->used = ++d->clock;
	if ((int32_t)(seq - o->top) > 0) {
		slide(o, seq - o->top);
		o->top = seq;
		o->bits[0] |= 1;
		return 0;
	}
	age = o->top - seq;
	if (age >= RELAY_DEDUP_WINDOW)
		return 0;
	if (o->bits[age / 64] & (UINT64_C(1) << (age % 64)))
		return 1;
	o->bits[age / 64] |= UINT64_C(1) << (age % 64);
	return 0;
}
