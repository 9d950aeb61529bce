/*
 * doorbell.h - ring and clear ivshmem doorbells (eventfds) that other
 * processes share, without ever blocking.
 *
 * The server hands every peer the same open file description of each
 * eventfd, and O_NONBLOCK lives in that description: any peer can clear
 * it, fill a counter, or read someone else's doorbell empty.  So reads
 * never wait (preadv2 with RWF_NOWAIT), and a write that would wait is cut
 * short by a timer.  A hostile peer can then cost us at most
 * DOORBELL_BOUND_US per doorbell, never a stall.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_DOORBELL_H
#define TM_DOORBELL_H

#include <stdint.h>

#define DOORBELL_BOUND_US	1000	/* longest a ring may wait */

/* Add 1 to the eventfd: 0 if it is rung (or already full, which wakes
 * its owner just as well), -1 with errno (ETIMEDOUT: it would block). */
int	doorbell_ring(int fd);
/* Read and clear the eventfd: its count, 0 if it was not rung. */
uint64_t doorbell_take(int fd);

#endif /* TM_DOORBELL_H */
