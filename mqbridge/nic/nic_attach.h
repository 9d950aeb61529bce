/*
 * nic_attach.h - mqnic's hold on the NIC area and on its one slot:
 * mapping the area once the bridge has formatted it, claiming a slot for
 * our MAC, the heartbeat, and letting go.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_ATTACH_H
#define TM_NIC_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/slot/ring.h"

struct nic_slot {
	unsigned char	*map;		/* the area alone */
	size_t		 maplen;
	int		 guard;		/* lib/mapguard.h handle */
	struct ring_area a;
	uint32_t	 slot;
	uint64_t	 token;		/* our claim; 0 when none */
	uint32_t	 features;	/* RING_F_* we announced */
};

/* Results of nic_slot_check(). */
enum nic_hold {
	NIC_HELD = 0,
	NIC_LOST = 1,		/* the bridge reclaimed our slot */
	NIC_GONE = 2,		/* the area was reformatted or damaged */
	NIC_DEAD = 3		/* the region's file shrank under the area */
};

/* Wait up to us microseconds, serving the event loop meanwhile; 1 if we
 * must stop waiting (a stop signal). */
typedef int nic_wait_fn(void *arg, int64_t us);

/*
 * Map the area at offset of the region behind fd, waiting until
 * deadline_us (lib/clock.h) for it to be formatted.  0, -1 with a
 * one-line reason in err, or -2 if told to stop.
 */
int	nic_attach(struct nic_slot *, int fd, uint64_t offset,
	    int64_t deadline_us, nic_wait_fn *, void *arg, char *err,
	    size_t len);
/*
 * Claim a free slot for mac and publish our identity and features
 * (RING_F_*; RING_F_VNET only where the geometry allows it), state reset.
 * Refused when mac is live in another slot or no slot is free; a slot of
 * mac whose owner stopped beating is waited for until deadline_us, as the
 * bridge reclaims it (or taken back at once if its owner had our peer
 * ID: an earlier run of ours).
 */
int	nic_claim(struct nic_slot *, const uint8_t mac[6], uint32_t peer_id,
	    uint32_t features, int64_t deadline_us, nic_wait_fn *, void *arg,
	    char *err, size_t len);
/* Is the slot still ours, in the area we attached to? */
enum nic_hold nic_slot_check(const struct nic_slot *);
void	nic_beat(const struct nic_slot *);
/* Our new peer ID (the server restarted), in whatever state we are. */
void	nic_reident(const struct nic_slot *, uint32_t peer_id,
	    const uint8_t mac[6]);
/* Our side to reset, then the claim back to free. */
void	nic_release(struct nic_slot *);
/* Forget a claim that is no longer ours, without touching the slot. */
void	nic_forget(struct nic_slot *);
void	nic_detach(struct nic_slot *);
void	nic_detach_map(struct nic_slot *, void *map, size_t len);
/* 1 once the region's file was truncated under the area. */
int	nic_area_dead(const struct nic_slot *);

#endif /* TM_NIC_ATTACH_H */
