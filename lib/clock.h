/*
 * clock.h - the one clock every program reads: monotonic, so that timers,
 * timeouts, rates and retry backoffs survive changes of the wall clock.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_CLOCK_H
#define TM_CLOCK_H

#include <stdint.h>

/* Microseconds and milliseconds since an arbitrary fixed point. */
int64_t	clock_us(void);
int64_t	clock_ms(void);

/*
 * Retrying something that failed (a server gone): the first try at once,
 * then after min_ms, doubling up to max_ms.  Zeroed means "try now".
 */
struct backoff {
	int64_t		 next_ms;	/* no try before */
	int64_t		 wait_ms;	/* the gap after the next try */
};

/* 1 if a try is due at now (and the one after it is scheduled). */
int	backoff_due(struct backoff *, int64_t now, int64_t min_ms,
	    int64_t max_ms);
/* No try before now + ms (a failure that retrying soon will not cure). */
void	backoff_hold(struct backoff *, int64_t now, int64_t ms);
void	backoff_reset(struct backoff *);

#endif /* TM_CLOCK_H */
