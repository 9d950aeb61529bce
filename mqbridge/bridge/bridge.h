/*
 * bridge.h - the bridge's state, as every bridge_*.c file sees it:
 * options, the joined regions, one port per NIC slot, counters and the
 * MAC table.  Types only; each bridge_*.c file declares its functions in
 * its own header.
 *
 * A port is the bridge's view of one slot of one region.  Ports of all
 * regions sit in one array, so the switch does not care which server a
 * slot came through.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_H
#define TM_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/clock.h"
#include "lib/evloop.h"
#include "lib/ivpeer.h"
#include "lib/loglimit.h"
#include "mqbridge/relay/relay_opts.h"
#include "mqbridge/slot/ring.h"

#define BRIDGE_REGIONS_MAX	64
#define BRIDGE_BEAT_MS		100	/* our heartbeat on every port */
#define BRIDGE_TICK_MS		20	/* slot states, reclaim, servers */
#define BRIDGE_RETRY_MS		1000	/* a region we cannot serve yet */
#define BRIDGE_BUSY_POLL_US	50	/* --busy-poll's default */
#define REJOIN_MIN_MS		100	/* a server gone: first retry */
#define REJOIN_MAX_MS		5000
#define REJOIN_TIMEOUT_MS	1000	/* for the new one's greeting */

struct bridge_opts {
	const char	*sock[BRIDGE_REGIONS_MAX];
	unsigned int	 nsock;
	unsigned int	 nvec;
	struct ring_params params;
	uint64_t	 offset;
	int		 force_format;
	const char	*status;
	const char	*status_prom;	/* --status FILE.prom */
	int		 syslog;	/* --syslog */
	unsigned int	 reclaim_s;
	unsigned int	 budget;
	unsigned int	 full_wait_ms;	/* a full RX ring holds senders */
	int64_t		 busy_poll_us;	/* longest poll before sleeping */
	int		 verbosity;
	struct relay_opts relay;	/* --broker and the rest */
	const char	*relay_path;	/* the mqrelay to run */
};

/* Drop reasons: one counter each, named in the status file. */
enum bridge_drop {
	DROP_SPOOFED,		/* source MAC is not the slot's MAC */
	DROP_UNKNOWN,		/* unicast to a MAC no live slot has */
	DROP_FULL,		/* the destination's RX ring stayed full */
	DROP_TOO_BIG,		/* longer than the destination's MTU allows */
	DROP_HAIRPIN,		/* unicast to the sender's own MAC */
	DROP_CORRUPT,		/* a ring fault stopped the slot */
	DROP_BAD_VNET,		/* a virtio_net_hdr or segment refused */
	DROP_REASONS
};

struct port_count {
	uint64_t	in_frames, in_bytes;	/* taken from the slot's TX */
	uint64_t	out_frames, out_bytes;	/* put on the slot's RX */
	uint64_t	drops;			/* of frames it sent */
	uint64_t	resets, reclaims;
	uint64_t	to_broker_frames, to_broker_bytes;	/* of its in */
	uint64_t	from_broker_frames, from_broker_bytes;	/* of its out */
	uint64_t	bells;		/* doorbells rung to its NIC */
	uint64_t	bells_quiet;	/* commits it needed none for */
	uint64_t	room_bells;	/* of bells: room made in its TX */
};

struct bridge_region;
struct bridge_up;

struct port {
	struct bridge_region *reg;
	uint32_t	 slot;
	unsigned int	 index;		/* in bridge.ports */
	enum ring_state	 state;		/* our side, as we last stored it */
	struct ring	 tx;		/* we consume */
	struct ring	 rx;		/* we produce */
	int		 resume;	/* first look after our start */
	int		 tx_repair;	/* a TX fault: drop its queue in INIT */
	int		 live;		/* RUN: in the MAC table */
	int		 dirty;		/* RX pushes not yet committed */
	int		 held;		/* TX head waits for room elsewhere */
	int		 bad;		/* last view error, logged once */
	int		 dup_logged;
	uint8_t		 mac[6];	/* the NIC's, checked, while live */
	uint32_t	 nic_peer, nic_vec;	/* whom to ring */
	uint32_t	 nic_features;	/* RING_F_* of this run's NIC */
	int		 want_room;	/* a frame waits for room in our RX */
	int		 room_armed;	/* the NIC rings us when it makes it */
	uint32_t	 seg_at;	/* TX index of a frame half cut into */
	uint32_t	 seg_next;	/* segments, its next one */
	int		 seg_on;	/* seg_* hold */
	uint64_t	 run_claim;	/* the owner we went live for */
	uint64_t	 claim, beat;	/* for heartbeat reclaim */
	int64_t		 beat_ms;
	uint32_t	 owner;		/* the claim's ivshmem peer */
	int		 bound;		/* owner was on the server */
	int		 owner_left;	/* ... and has left it since */
	int		 stall_logged;
	int64_t		 full_ms;	/* our RX ring full since, or 0 */
	int64_t		 bell_quiet_ms;	/* its doorbell would block: not
					   before then */
	struct loglimit	 log;		/* its lines, rate-limited */
	struct port_count cnt;
	/* The broker (bridge_uplink.c). */
	int		 uplink;	/* this port is the relay's */
	int		 subbed;	/* the relay follows our MAC */
	uint8_t		 subbed_mac[6];
	uint32_t	 pend_n;	/* frames waiting for a receipt */
	uint32_t	 pend_oldest;	/* TX index of the first of them */
	uint32_t	 pend_pass;
	uint32_t	 epoch;		/* counts resets: voids its waiting */
};

struct bridge_region {			/* one joined server */
	const char	*path;
	unsigned int	 index;
	struct ivpeer	 peer;
	int		 joined;	/* the server socket still talks */
	unsigned char	*map;		/* the NIC area alone, or NULL */
	size_t		 maplen;
	int		 guard;		/* lib/mapguard.h handle */
	int		 dead;		/* the file shrank under the map */
	struct ring_area area;
	int		 attached;	/* the area is ours to serve */
	int		 tried;		/* formatted or attached once */
	int64_t		 retry_ms;	/* not served: when to look again */
	char		 why[256];	/* ... and why not, as logged */
	struct port	*ports;		/* opt.params.slot_count of them */
	uint32_t	 nports;
	struct ev_io	 sock_io;
	struct ev_io	 bell_io[IVPEER_VECTORS_MAX];
	int		 bell_fd;	/* the uplink's NIC doorbell */
	struct backoff	 rejoin;	/* server gone: when to try again */
};

struct bridge_stats {
	uint64_t	drop[DROP_REASONS];
	int64_t		start_ms;
};

struct mactab {
	struct port	**slot;		/* open addressing, NULL is empty */
	size_t		 cap;		/* power of two, > 2 * ports */
};

struct bridge {
	struct bridge_opts opt;
	struct evloop	 loop;		/* every descriptor and timer */
	int		 sigfd;
	struct ev_io	 sig_io;
	struct ev_timer	 tick, beat, status;
	unsigned int	 deaths;	/* mapguard_deaths() handled */
	struct bridge_region reg[BRIDGE_REGIONS_MAX];
	unsigned int	 nreg;
	struct port	**ports;
	unsigned int	 nports;
	unsigned int	 rr;		/* first live port of the next round */
	struct mactab	 mac;
	int		 mac_stale;	/* live set changed: rebuild */
	struct bridge_up *up;		/* the broker's port, or NULL */
	struct bridge_stats stats;
	struct port	**live;		/* ports in RUN, at the last rebuild */
	unsigned int	 nlive;
	struct port	**dirty;	/* RX rings written this round */
	unsigned int	 ndirty;
	unsigned int	 waiting;	/* heads left for want of room */
	int64_t		 round_ms;	/* the round's clock, 0 unread */
};

#endif /* TM_BRIDGE_H */
