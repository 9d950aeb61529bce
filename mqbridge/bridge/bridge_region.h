/*
 * bridge_region.h - one joined server and its region: join, map,
 * format or attach the NIC area; notice a reformat; hear of peers.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_REGION_H
#define TM_BRIDGE_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/bridge/bridge.h"

int	bridge_region_open(struct bridge *, unsigned int i, const char *path);
void	bridge_region_close(struct bridge_region *);
/* Reformatted under us?  Re-attach, or stop serving it. */
void	bridge_region_check(struct bridge *, struct bridge_region *);
/* Server messages: peers joining and leaving. */
void	bridge_region_pump(struct bridge *, struct bridge_region *);

#endif /* TM_BRIDGE_REGION_H */
