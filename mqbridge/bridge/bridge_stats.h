/*
 * bridge_stats.h - counters: drops by reason, the log on SIGUSR1
 * and the status file.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_STATS_H
#define TM_BRIDGE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/bridge/bridge.h"

void	stats_drop(struct bridge *, struct port *, enum bridge_drop);
void	stats_log(const struct bridge *);
void	stats_write(const struct bridge *);

#endif /* TM_BRIDGE_STATS_H */
