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
/* One round: at most opt.budget descriptors from each live port.
 * Returns the number taken; b->waiting counts the ports whose next frame
 * stays in their TX ring until its destination has room. */
unsigned int switch_round(struct bridge *);
/* Commit the RX rings written this round and ring the sleepers. */
void	switch_flush(struct bridge *);
/* Before sleeping: ask every live NIC for a doorbell (on) or not, both
 * for frames it sends and, where a frame waits for room in its RX ring,
 * for the room it makes.  Returns 1 if either came meanwhile and we
 * should not sleep; *nap is set when a frame waits for room that nobody
 * will ring us for (sleep in naps then). */
int	switch_arm(struct bridge *, int on, int *nap);
/* Every tick: ring the NICs that wait for room in their TX rings. */
void	switch_room_tick(struct bridge *);

#endif /* TM_BRIDGE_SWITCH_H */
