/*
 * ring_view.h - our own, trusted side of the NIC ring ABI: the parameters
 * a formatter chooses, the geometry computed from them, an attachment,
 * one side's handle on one ring, checked copies of shared words, and the
 * errors that checking finds.
 *
 * Nothing here is shared memory: ring_check.c fills these from the area
 * after validating every word, and ring.c acts on them.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RING_VIEW_H
#define TM_RING_VIEW_H

#include <stdint.h>

#include "mqbridge/slot/ring_abi.h"

/* Every result below 0 says what was wrong; ring_strerror() words it. */
enum ring_err {
	RING_OK = 0,
	/* The area: do not attach. */
	RING_ENOAREA = -1,	/* no header magic: never formatted */
	RING_EVERSION = -2,
	RING_EGEOMETRY = -3,	/* header out of limits or inconsistent */
	RING_EPLACE = -4,	/* area does not fit where it was mapped */
	RING_EMISMATCH = -5,	/* formatted with other parameters */
	RING_EGENERATION = -6,	/* reformatted since we attached */
	RING_EFOREIGN = -7,	/* header page holds someone else's data */
	/* A slot: reset it and log. */
	RING_EINDEX = -10,	/* produced count exceeds the ring size */
	RING_ELEN = -11,	/* descriptor length out of range */
	RING_EOFF = -12,	/* descriptor data outside its buffer */
	RING_EFLAGS = -13,	/* descriptor flags set */
	RING_ESTATE = -14,	/* state word out of range */
	RING_EPEER = -15,	/* peer ID or vector out of range */
	RING_EMAC = -16,	/* a live slot without a unicast MAC */
	RING_ECHAIN = -17,	/* a chain past what was produced, or long */
	/* The caller. */
	RING_EPARAM = -20
};

#define RING_SLOT_CORRUPT(e)	((e) <= RING_EINDEX && (e) > RING_EPARAM)


struct ring_params {			/* what a formatter chooses */
	uint32_t	slot_count;
	uint32_t	tx_size;
	uint32_t	rx_size;
	uint32_t	mtu;
};

struct ring_geom {			/* computed from ring_params */
	struct ring_params p;
	uint32_t	frame_max;	/* mtu + RING_FRAME_EXTRA */
	uint32_t	buf_size;
	uint32_t	tx_desc_off, rx_desc_off, tx_buf_off, rx_buf_off;
	uint64_t	slot_size;
	uint64_t	area_size;
	uint32_t	chain_max;	/* descriptors a large frame may take */
	int		vnet_ok;	/* RING_F_VNET may be announced here */
};

struct ring_area {			/* one attachment */
	unsigned char	*base;		/* the header, at area offset */
	uint64_t	 offset;	/* of base in the region */
	uint64_t	 generation;
	struct ring_geom geom;
};

struct ring_side_view {			/* a checked copy of one side */
	enum ring_state	state;
	uint32_t	peer_id;
	uint32_t	vector;
	uint64_t	heartbeat;
	uint8_t		mac[6];
	uint32_t	features;	/* RING_F_*, 0 unless announced */
};

struct ring_slot_view {
	uint64_t	claim;
	struct ring_side_view side[2];
};

struct ring_frame {			/* a checked descriptor */
	unsigned char	*data;		/* inside this ring's buffer */
	uint32_t	 len;
	uint32_t	 flags;		/* within the ring's flags_ok */
};

/*
 * What is wrong with a frame's virtio_net_hdr (or, for a segment, with the
 * headers it says it has).  Not a slot error: the frame is dropped and
 * counted, the ring goes on.
 */
enum ring_vnet_bad {
	RING_VNET_OK = 0,
	RING_VNET_FLAGS,	/* unknown flags */
	RING_VNET_TYPE,		/* unknown gso_type, or ECN without TCP */
	RING_VNET_SIZE,		/* gso_size 0, or segments without csum */
	RING_VNET_HDRLEN,	/* hdr_len past the frame */
	RING_VNET_CSUM,		/* csum_start/csum_offset past the frame */
	RING_VNET_SEGS,		/* more segments than the kernel allows */
	RING_VNET_LEN,		/* not a segment, yet longer than the MTU */
	RING_VNET_HEADERS,	/* its IP/TCP/UDP headers are not as it says */
	RING_VNET_BAD_MAX
};

struct ring_vnet {			/* a checked copy of the header */
	uint8_t		flags, gso_type;	/* gso_type without ECN */
	uint8_t		ecn;
	uint16_t	hdr_len, gso_size, csum_start, csum_offset;
};

struct ring_piece {
	unsigned char	*data;		/* inside its own buffer */
	uint32_t	 len;
};

/* A checked frame that may span several descriptors. */
struct ring_pkt {
	uint32_t	 len;		/* frame bytes, header not counted */
	uint32_t	 ndesc;		/* descriptors it takes */
	uint32_t	 npieces;
	uint32_t	 flags;		/* its first descriptor's */
	int		 vnet;		/* it had a virtio_net_hdr */
	enum ring_vnet_bad bad;		/* that header is refused */
	struct ring_vnet hdr;		/* checked copy; zero without one */
	struct ring_piece piece[RING_CHAIN_MAX];	/* after the header */
};

/* What a segment's own headers say, parsed from a copy of them. */
struct ring_gso {
	uint32_t	 l3;		/* IP header's offset */
	uint32_t	 l4;		/* TCP/UDP header's offset: csum_start */
	uint32_t	 hdr_end;	/* where the payload starts */
	uint32_t	 segs;		/* exact count */
	int		 ipv6;
	int		 tcp;
};

/*
 * One side's handle on one ring of one slot.  head is our own index,
 * kept here and never read back while running; seen is the peer's index
 * as last validated.  fault/fault_val/fault_lim explain the first slot
 * error; it sticks: every operation returns it until ring_repair() or
 * ring_open() again, so a corrupt ring stays stopped until it is reset.
 * A handle belongs to one thread.
 */
struct ring {
	_Atomic uint32_t *own;		/* our index word */
	_Atomic uint32_t *peer;		/* theirs */
	_Atomic uint32_t *wakeup;	/* the consumer's need-wakeup flag */
	_Atomic uint32_t *space;	/* the producer's: room wanted */
	_Atomic uint64_t *desc;
	unsigned char	*bufs;
	uint32_t	 size, mask, buf_size, frame_max;
	uint32_t	 chain_max;	/* descriptors of a large frame */
	uint32_t	 head;
	uint32_t	 seen;
	uint32_t	 slot;
	enum ring_dir	 dir;
	int		 producer;
	uint32_t	 flags_ok;	/* descriptor flags the ring carries:
					 * RING_DESC_VNET and _NEXT where its
					 * consumer announced RING_F_VNET;
					 * private rings may allow others */
	uint32_t	 chain;		/* producer: pieces of the frame
					 * being pushed */
	int		 fault;
	uint64_t	 fault_val;
	uint64_t	 fault_lim;
};
#endif /* TM_RING_VIEW_H */
