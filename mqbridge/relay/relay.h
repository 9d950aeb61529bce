/*
 * relay.h - the relay process's state, shared by its files: the uplink
 * (relay_uplink.c), frames to the broker (relay_tx.c), frames from the
 * broker (relay_rx.c), duplicate detection (relay_dedup.c) and the main
 * (mqrelay.c).
 *
 * The relay owns no region and no server socket: it meets the bridge only
 * through the uplink (mqbridge/slot/uplink.h), and the broker only through
 * one STOMP session (stomp_conn.h).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RELAY_H
#define TM_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "lib/evloop.h"
#include "mqbridge/relay/relay_dedup.h"
#include "mqbridge/relay/relay_opts.h"
#include "mqbridge/relay/stomp_conn.h"
#include "mqbridge/slot/ring.h"
#include "mqbridge/slot/uplink.h"

#define RELAY_SUBS_MAX		4096	/* live MACs followed at once */
#define RELAY_DEST_MAX		(RELAY_PREFIX_MAX + 32)
#define RELAY_CLAIM_S		30	/* between claims of our MACs */

/* One MESSAGE from the broker, held until every frame in it is placed in
 * a slot (then ACKed) or given back. */
struct relay_msg {
	struct relay_sub *sub;
	struct relay_msg *next;		/* in its queue's pending list */
	char		*ack;		/* the ack header, unescaped */
	uint64_t	 session;	/* ack ids die with their session */
	uint16_t	 nframes;
	uint16_t	 next_frame;	/* next to push */
	uint16_t	 out;		/* pushed, not yet settled */
	uint16_t	 placed;	/* settled: in a slot, or dropped */
	int		 gone;		/* a frame came back GONE */
	int		 queued;	/* in its queue's pending list */
	uint16_t	*off, *len;	/* each frame in body */
	uint8_t		*state;		/* each frame: waiting, out, done */
	unsigned char	*body;
};

/* One destination the relay consumes: a MAC's queue, or the topic. */
struct relay_sub {
	uint8_t		 mac[6];
	int		 topic;
	int		 auto_ack;	/* the claims topic: nothing to ACK */
	int		 wanted;	/* the bridge asked for it */
	int		 subscribed;	/* SUBSCRIBE sent this session */
	char		 id[24];
	char		 dest[RELAY_DEST_MAX];
	struct relay_msg *head, *tail;	/* waiting to be pushed */
	unsigned int	 held;		/* messages held, any state */
	struct ev_timer	 retry;		/* after a FULL result */
	int64_t		 retry_us;
	int		 retrying;
	int64_t		 answered_ms;	/* our claims after a foreign one */
	struct relay_sub *hnext;
};

/* What the relay pushed at each index of the uplink's TX ring. */
struct relay_slotref {
	struct relay_msg *msg;		/* NULL: nothing tracked */
	uint16_t	 frame;
	uint16_t	 status;	/* a RESULT for it, or 0 */
};

/* A SEND waiting for its RECEIPT (persistent mode). */
struct relay_out {
	uint32_t	 start;		/* RX ring index of its first frame */
	uint32_t	 end;		/* and after its last */
	uint32_t	 id;		/* of its receipt */
	int		 done;
};

struct relay {
	struct relay_opts o;
	struct evloop	 loop;
	int		 verbosity;
	uint64_t	 bridge_id;	/* x-mq-bridge, ours */
	char		 bridge_hex[17];
	char		 login[RELAY_SECRET_MAX], passcode[RELAY_SECRET_MAX];

	/* The uplink: we are its NIC side. */
	unsigned char	*map;
	size_t		 maplen;
	struct ring_area area;
	uint64_t	 token;
	enum ring_state	 own;
	struct ring	 tx, rx;	/* we produce tx, consume rx */
	int		 rings;		/* opened for this run */
	int		 bell_in, bell_out;	/* ours, the bridge's */
	struct ev_io	 bell_io;
	struct ev_timer	 tick;
	int		 lifeline;
	struct ev_io	 life_io;

	/* To the broker (relay_tx.c).  rx.head is the next frame to send. */
	uint32_t	 ctl_scan;	/* RX ring index read ahead to */
	uint32_t	 tx_done;	/* RX ring index freed so far */
	struct relay_out *outq;		/* window entries, a ring */
	unsigned int	 outq_head, outq_len;
	uint32_t	 receipt_seq;
	unsigned char	*batch;		/* an --aggregate pack */
	struct ev_timer	 linger;
	int		 linger_due;

	/* From the broker (relay_rx.c). */
	struct relay_sub **subtab;	/* hash of queues by MAC */
	size_t		 subcap;
	struct relay_sub topic;
	struct relay_sub claims;	/* who serves which MAC */
	unsigned int	 nsubs;
	struct relay_slotref ref[UPLINK_RING];
	uint32_t	 push_done;	/* TX ring index settled so far */
	uint64_t	 session;	/* counts sessions */
	struct ev_timer	 claim_t;	/* claim our MACs again */
	struct relay_dedup dedup;

	struct stomp_conn conn;
	uint64_t	 st[US_COUNT];
	uint64_t	 st_sent[US_COUNT];	/* as last reported */
	int64_t		 st_ms;			/* when */
	int		 stop;
};

/* relay_uplink.c */
int	uplink_attach(struct relay *, int fd, char *err, size_t len);
void	uplink_detach(struct relay *);
/* Step the slot's state machine; 1 once both sides run. */
int	uplink_step(struct relay *);
int	uplink_running(const struct relay *);
/* After pushing to the TX ring: publish and ring the bridge if asked. */
void	uplink_flush(struct relay *);
/* Ring the bridge (it consumes our TX ring, and reads our RX index). */
void	uplink_ring(struct relay *);
/* Push one control message; 0, or -1 if the ring is full. */
int	uplink_ctl(struct relay *, const void *, uint32_t len);
void	uplink_stats(struct relay *);
/* Everything the uplink has for us: control messages, frames to send,
 * settled pushes.  Called on a doorbell and on the tick. */
void	relay_pump(struct relay *);

/* relay_tx.c: the RX ring to the broker. */
void	tx_pump(struct relay *);
void	tx_receipt(struct relay *, const char *id);
void	tx_session_up(struct relay *);
void	tx_session_down(struct relay *);
int	tx_init(struct relay *);
void	tx_free(struct relay *);
/* "/queue/PREFIX.aabbccddeeff" or the topic, for a frame's destination. */
void	relay_dest(const struct relay *, const uint8_t mac[6], char *buf,
	    size_t len);

/* relay_rx.c: the broker to the TX ring. */
int	rx_init(struct relay *);
void	rx_free(struct relay *);
void	rx_control(struct relay *, const struct ring_frame *);
void	rx_message(struct relay *, const struct stomp_frame *);
/* Settle what the bridge consumed of the TX ring, up to index done. */
void	rx_settle(struct relay *, uint32_t done);
/* Push what waits into the TX ring. */
void	rx_push(struct relay *);
void	rx_session_up(struct relay *);
void	rx_session_down(struct relay *);

#endif /* TM_RELAY_H */
