/*
 * bridge_uplink.h - the switch's port to the broker: the uplink's slot
 * (uplink_host.c makes it and keeps a relay on it) served as one more
 * port, which may carry source MACs no local slot owns and receives
 * unknown unicast and floods.
 *
 * This file owns what that port does differently from a slot: the
 * control messages (the live MACs to the relay, RESULTs for frames it
 * cannot place, the relay's counters), the origin and number before each
 * frame for the broker, and in persistent mode holding a slot's TX index
 * back until the relay has the broker's receipt for its frames.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_UPLINK_H
#define TM_BRIDGE_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/bridge/bridge.h"
#include "mqbridge/bridge/uplink_host.h"

/* A frame handed to the relay in persistent mode, whose slot must keep
 * it until the relay frees it (the broker receipted it). */
struct uplink_pend {
	struct port	*src;
	uint32_t	 epoch;		/* src's: a reset slot's are void */
	uint32_t	 tx_idx;	/* in src's TX ring */
	uint32_t	 up_idx;	/* in the uplink's RX ring */
};

struct bridge_up {
	struct uplink_host host;
	struct bridge_region reg;	/* the memfd, as a region of one slot */
	struct port	 port;
	struct ev_io	 bell_io;	/* the relay rings us */
	struct uplink_pend pend[UPLINK_RING];
	unsigned int	 pend_head, pend_len;
	uint32_t	 pass;		/* marks ports in a pending scan */
	int		 was_live;	/* the port ran at the last tick */
	uint64_t	 st[US_COUNT];	/* the relay's last report */
	int64_t		 st_ms;		/* when it came */
};

/* With --broker: make the uplink and its port (index: in bridge.ports).
 * 0, or -1 with a reason in err. */
int	bridge_uplink_open(struct bridge *, unsigned int index, char *err,
	    size_t errlen);
/* Once the loop runs: watch the relay's doorbell and start the relay. */
int	bridge_uplink_start(struct bridge *);
void	bridge_uplink_close(struct bridge *);
/* Every tick: the relay's life, the MACs it follows, what it freed. */
void	bridge_uplink_tick(struct bridge *, int64_t now_ms);

/* A control message from the relay (a TX frame flagged UPLINK_CTL). */
void	bridge_uplink_ctl(struct bridge *, const struct ring_frame *);
/* Tell the relay its TX frame at index was not placed: 0, or -1 when its
 * ring has no room (then keep the frame and offer it again). */
int	bridge_uplink_result(struct bridge *, uint32_t index,
	    enum uplink_status);
/* Room to keep track of one more frame waiting for a receipt? */
int	bridge_uplink_can_put(struct bridge *);
/* Put a frame from src (its TX index: the one being taken) on the
 * relay's ring, after its origin and number; 1 put, 0 no room, -1 too
 * big for the uplink. */
int	bridge_uplink_put(struct bridge *, struct port *src,
	    const unsigned char *hdr, const unsigned char *data, uint32_t len);
/* Free src's TX ring as far as the relay allows (all of it but the frames
 * waiting for a receipt). */
void	bridge_uplink_commit_tx(struct bridge *, struct port *src);
/* p's owner released it with frames unread: back to the broker. */
void	bridge_uplink_return(struct bridge *, struct port *);
/* Status file and log lines about the relay. */
void	bridge_uplink_status(const struct bridge *, char *buf, size_t len);

#endif /* TM_BRIDGE_UPLINK_H */
