/*
 * loglimit.h - a token bucket for log lines about one thing (a slot, a
 * link): LOGLIMIT_BURST at once, then one every LOGLIMIT_EVERY_MS, so
 * that a peer scribbling over shared memory cannot flood the log.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_LOGLIMIT_H
#define TM_LOGLIMIT_H

#include <stdint.h>

#define LOGLIMIT_BURST		10
#define LOGLIMIT_EVERY_MS	1000

struct loglimit {		/* zero is a full bucket */
	int64_t		ms;	/* last refill, 0 before the first line */
	unsigned int	credit;
	unsigned int	held;	/* lines refused since the last one out */
};

/* 1 if a line may go out at now_ms; else 0, and it counts as held. */
int	loglimit_ok(struct loglimit *, int64_t now_ms);
/* The held count, reset: for a "N more lines not logged" line before
 * the next line that goes out. */
unsigned int loglimit_take_held(struct loglimit *);
/* The held count, reset, if a line may go out now (else 0): so that the
 * count is told even when nothing else is logged. */
unsigned int loglimit_held_due(struct loglimit *, int64_t now_ms);

#endif /* TM_LOGLIMIT_H */
