/*
 * clock.h - the one clock every program reads: monotonic, so that timers,
 * timeouts and rates survive changes of the wall clock.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_CLOCK_H
#define TM_CLOCK_H

#include <stdint.h>

/* Microseconds and milliseconds since an arbitrary fixed point. */
int64_t	clock_us(void);
int64_t	clock_ms(void);

#endif /* TM_CLOCK_H */
