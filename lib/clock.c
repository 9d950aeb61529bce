/*
 * clock.c - CLOCK_MONOTONIC in the units the programs count in, and the
 * exponential backoff every retry loop uses.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <time.h>

#include "lib/clock.h"

int64_t
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_ms(void)
{
	return clock_us() / 1000;
}

int
backoff_due(struct backoff *b, int64_t now, int64_t min_ms, int64_t max_ms)
{
	if (now < b->next_ms)
		return 0;
	if (b->wait_ms < min_ms)
		b->wait_ms = min_ms;
	b->next_ms = now + b->wait_ms;
	if ((b->wait_ms *= 2) > max_ms)
		b->wait_ms = max_ms;
	return 1;
}

void
backoff_hold(struct backoff *b, int64_t now, int64_t ms)
{
	b->next_ms = now + ms;
}

void
backoff_reset(struct backoff *b)
{
	b->next_ms = b->wait_ms = 0;
}
