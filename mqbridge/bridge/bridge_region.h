/*
 * bridge_region.h - one joined server and its region: join, map the NIC
 * area and format or attach to it; notice a reformat or a truncation;
 * retry a region we cannot serve yet; hear of peers.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_REGION_H
#define TM_BRIDGE_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/bridge/bridge.h"

/* Join the server at path as region i: 0, or -1 (logged). */
int	bridge_region_join(struct bridge *, unsigned int i, const char *path);
/* Map the area and format or attach to it: 0, or -1 with why. */
int	bridge_region_serve(struct bridge *, struct bridge_region *,
	    char *why, size_t len);
void	bridge_region_close(struct bridge_region *);
/* Every tick: reformatted under us?  Not served yet?  Look again. */
void	bridge_region_check(struct bridge *, struct bridge_region *,
	    int64_t now_ms);
/* Regions whose file shrank under the map stop being served. */
void	bridge_regions_dead(struct bridge *);
/* Server messages: peers joining and leaving. */
void	bridge_region_pump(struct bridge_region *);
/* Watch a joined region's server socket and our doorbells in the loop
 * (or stop watching them). */
int	bridge_region_watch(struct bridge *, struct bridge_region *);
void	bridge_region_unwatch(struct bridge *, struct bridge_region *);

#endif /* TM_BRIDGE_REGION_H */
