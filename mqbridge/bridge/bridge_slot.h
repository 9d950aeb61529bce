/*
 * bridge_slot.h - the bridge's side of each NIC slot: its state
 * machine, resume after a restart, reset on corruption, reclaim, and
 * rate-limited log lines per slot.
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
/* Down, and the next look at the slot starts afresh (resume or reset). */
void	port_restart(struct bridge *, struct port *);
/* The server says peer id left: claims it held may be reclaimed. */
void	port_owner_left(struct bridge_region *, uint32_t id);
/* A log line about p, unless p has had its share (a scribbling peer
 * must not flood the log). */
void	port_log(struct port *, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* "0.3": region.slot, as logs and the status file name a port. */
const char *port_name(const struct port *, char *buf, size_t len);

#endif /* TM_BRIDGE_SLOT_H */
