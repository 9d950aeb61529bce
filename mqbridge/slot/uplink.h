/*
 * uplink.h - the private uplink between mqbridge and its relay process
 * (mqrelay): a NIC area of one slot in a sealed memfd, which the bridge
 * serves like any slot and the relay drives as its NIC side, and what
 * travels in it besides Ethernet frames.
 *
 * Relay to bridge (the slot's TX ring): frames from the broker, as they
 * are; control messages (descriptor flag UPLINK_CTL): STATS.
 * Bridge to relay (the RX ring): frames for the broker, each preceded by
 * a struct uplink_meta; control messages: SUB and UNSUB (the MACs live on
 * this bridge), RESULT (a frame from the relay that was not placed).
 *
 * The relay frees a frame of the RX ring only once the broker has it (a
 * RECEIPT in persistent mode), and the bridge frees a frame of the TX ring
 * only once it is in its slot's ring or a RESULT says why not: so each
 * side's index is the other's acknowledgement.  No guest ever maps this
 * area; both processes come from one build, so layouts are native.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_UPLINK_H
#define TM_UPLINK_H

#include <stdint.h>

#define UPLINK_CTL	0x1u	/* descriptor flag: a control message */
#define UPLINK_RING	4096u	/* descriptors per ring: frames in flight
				 * to a persistent broker, packs of them */
#define UPLINK_WINDOW_MAX 512u	/* SENDs in flight; control fits too */
#define UPLINK_MAC_RELAY { 0x02, 0x6d, 0x71, 0x72, 0x6c, 0x79 } /* "mqrly" */

/* Before each frame for the broker: where it entered the bridge. */
struct uplink_meta {
	uint64_t	origin;		/* the sending slot, stable */
	uint32_t	seq;		/* the frame's index in that slot */
	uint32_t	reserved;	/* 0 */
};
#define UPLINK_META_LEN	((uint32_t)sizeof(struct uplink_meta))

enum uplink_type {
	UPLINK_SUB = 1,		/* bridge: consume this MAC's queue */
	UPLINK_UNSUB = 2,	/* bridge: stop consuming it */
	UPLINK_RESULT = 3,	/* bridge: a frame of yours was not placed */
	UPLINK_STATS = 4	/* relay: counters for the status file */
};

/* Every control message starts with this; len counts the whole message. */
struct uplink_ctl {
	uint16_t	type;
	uint16_t	len;
	uint32_t	reserved;
};

struct uplink_mac {			/* SUB, UNSUB */
	struct uplink_ctl h;
	uint8_t		mac[6];
	uint8_t		pad[2];
};

enum uplink_status {
	UPLINK_FULL = 1,	/* its slot's ring is full: offer it again */
	UPLINK_GONE = 2,	/* no slot here has the MAC: give it back */
	UPLINK_DROPPED = 3	/* never deliverable (too big, spoofed) */
};

struct uplink_result {
	struct uplink_ctl h;
	uint32_t	index;		/* in the TX ring, free-running */
	uint32_t	status;		/* enum uplink_status */
};

/* The relay's counters, as the status file names them. */
#define UPLINK_STAT_NAMES \
	X(connected) X(sessions) X(sent_frames) X(sent_bytes) \
	X(sent_messages) X(unreceipted) X(recv_frames) X(recv_bytes) \
	X(recv_messages) X(redelivered) X(duplicates) X(refused_full) \
	X(returned) X(dropped) X(broker_errors) X(failures) X(conflicts)

enum uplink_stat {
#define X(n) US_##n,
	UPLINK_STAT_NAMES
#undef X
	US_COUNT
};

struct uplink_stats {
	struct uplink_ctl h;
	uint64_t	v[US_COUNT];
};

#endif /* TM_UPLINK_H */
