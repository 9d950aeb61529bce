/*
 * bridge_slot.h - the bridge's side of each NIC slot: its state
 * machine, resume after a restart, reset on corruption, reclaim.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_SLOT_H
#define TM_BRIDGE_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/bridge/bridge.h"

void	port_init(struct port *, struct bridge_region *, uint32_t slot,
	    unsigned int index);
void	port_tick(struct bridge *, struct port *, int64_t now_ms);
void	port_beat(struct port *);
/* A ring fault in the data path: log it and reset the slot. */
void	port_fault(struct bridge *, struct port *, struct ring *);
void	port_down(struct bridge *, struct port *);
/* "0.3": region.slot, as logs and the status file name a port. */
const char *port_name(const struct port *, char *buf, size_t len);

#endif /* TM_BRIDGE_SLOT_H */
