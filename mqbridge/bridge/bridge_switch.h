/*
 * bridge_switch.h - the MAC table and moving frames between ports.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_SWITCH_H
#define TM_BRIDGE_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/bridge/bridge.h"

int	switch_init(struct bridge *);
void	switch_free(struct bridge *);
/* One round: at most opt.budget frames from each live port.  Returns
 * the number of frames taken; b->waiting counts the ports whose next
 * frame stays in their TX ring until its destination has room. */
unsigned int switch_round(struct bridge *);
/* Forward one checked frame; src NULL means it came from the uplink.
 * 1 when it is done with (delivered or dropped), 0 when a destination
 * ring is full but may make room within --full-wait: offer it again. */
int	switch_deliver(struct bridge *, struct port *src,
	    const unsigned char *hdr, const unsigned char *data,
	    uint32_t len);
/* Commit the RX rings written this round and ring the sleepers. */
void	switch_flush(struct bridge *);
/* Before sleeping: ask every live NIC for a doorbell (on) or not.
 * Returns 1 if a frame came in meanwhile and we should not sleep. */
int	switch_arm(struct bridge *, int on);

#endif /* TM_BRIDGE_SWITCH_H */
