/*
 * nic_link.h - the slot's link as the NIC drives it: the state machine
 * shared with the bridge, and the frames between the TAP and the rings.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_LINK_H
#define TM_NIC_LINK_H

#include <stdint.h>

#include "lib/loglimit.h"
#include "mqbridge/nic/nic_ivshmem.h"
#include "mqbridge/nic/nic_tap.h"
#include "mqbridge/slot/ring.h"

#define NIC_BUDGET	64		/* frames each way per round */

struct nic_stats {
	uint64_t tx_frames, tx_bytes;	/* TAP to the TX ring */
	uint64_t rx_frames, rx_bytes;	/* RX ring to the TAP */
	uint64_t oversize;		/* from the TAP, over the MTU */
	uint64_t runt;			/* from the TAP, headerless */
	uint64_t down;			/* from the TAP, link down */
	uint64_t tap_err;		/* the TAP refused a frame */
	uint64_t bad_vnet;		/* RX: a virtio_net_hdr refused */
	uint64_t offload_lost;		/* TX: a segment the bridge can't take */
	uint64_t tx_large, rx_large;	/* frames over one descriptor */
	uint64_t bells, bell_fail;
	uint64_t space_bells;		/* of bells: room made in RX */
	uint64_t bells_quiet;		/* commits the bridge did not need
					 * a doorbell for: it was polling */
	uint64_t resets;		/* slot errors that reset the link */
};

struct nic_link {
	const struct ring_area *a;
	uint32_t	 slot;
	struct nic_ivshmem	*dev;
	struct nic_tap	*tap;
	enum ring_state	 own;
	uint32_t	 features;	/* RING_F_* we announced */
	uint32_t	 bridge_features;	/* the bridge's, this run */
	int		 vnet;		/* large frames both ways, this run */
	int		 rings;		/* opened for this run */
	struct ring	 tx, rx;
	int		 tx_full;	/* bridge lags: leave the TAP be */
	int		 armed;		/* asked for doorbells */
	int		 room_armed;	/* asked for one when TX has room */
	int		 tap_dead;	/* errno of a TAP gone away */
	int		 warned;	/* a log line per kind of trouble */
	struct loglimit	 log;		/* and not too many in all */
	int64_t		 bell_quiet_us;	/* the bridge's doorbell would block */
	struct nic_stats st;
};

void	nic_link_init(struct nic_link *, const struct ring_area *,
	    uint32_t slot, uint32_t features, struct nic_ivshmem *,
	    struct nic_tap *);
/* Follow the bridge's state; called at each tick. */
void	nic_link_step(struct nic_link *);
/* Move what is waiting, a budget each way: the number of frames. */
int	nic_link_pump(struct nic_link *);
int	nic_link_running(const struct nic_link *);
/* Before sleeping: ask for a doorbell.  1 if frames came meanwhile (then
 * no doorbell is asked for: go on pumping). */
int	nic_link_arm(struct nic_link *);
/* TX full: ask the bridge for a doorbell once it frees room.  1 if room
 * came meanwhile, 0 armed, -1 if the bridge offers no such doorbell (then
 * poll in naps). */
int	nic_link_arm_room(struct nic_link *);
void	nic_link_disarm(struct nic_link *);
/* Leave the link: our side to reset if the slot is still ours. */
void	nic_link_down(struct nic_link *, int slot_ours);
void	nic_link_report(const struct nic_link *);

#endif /* TM_NIC_LINK_H */
