/*
 * bridge_loop.h - the bridge's main loop: switching rounds,
 * busy-polling, sleeping on doorbells, and the housekeeping tick.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_LOOP_H
#define TM_BRIDGE_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/bridge/bridge.h"

/* Serve until SIGTERM or SIGINT; the exit status. */
int	bridge_run(struct bridge *, int sigfd);

#endif /* TM_BRIDGE_LOOP_H */
