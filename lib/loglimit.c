/*
 * loglimit.c - the token bucket behind rate-limited log lines.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include "lib/loglimit.h"

/* Credit for the time since the last refill; 1 if a line may go out. */
static int
take(struct loglimit *l, int64_t now)
{
	if (l->ms == 0) {
		l->ms = now;
		l->credit = LOGLIMIT_BURST;
	}
	while (l->credit < LOGLIMIT_BURST && now - l->ms >= LOGLIMIT_EVERY_MS) {
		l->credit++;
		l->ms += LOGLIMIT_EVERY_MS;
	}
	if (l->credit == LOGLIMIT_BURST)
		l->ms = now;	/* refills count from the first line out */
	if (l->credit == 0)
		return 0;
	l->credit--;
	return 1;
}

int
loglimit_ok(struct loglimit *l, int64_t now)
{
	if (take(l, now))
		return 1;
	l->held++;
	return 0;
}

unsigned int
loglimit_held_due(struct loglimit *l, int64_t now)
{
	unsigned int n = l->held;

	if (n == 0 || !take(l, now))
		return 0;
	l->held = 0;
	return n;
}

unsigned int
loglimit_take_held(struct loglimit *l)
{
	unsigned int n = l->held;

	l->held = 0;
	return n;
}
