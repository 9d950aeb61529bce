/*
 * ring_abi.h - the NIC ring ABI: the bytes that the bridge and every NIC
 * endpoint (mqnic, a guest driver) share, and nothing else.  A guest
 * driver copies this one file, as libmemif's users copy memif.h.
 *
 * docs/ring-abi.md is the byte-exact description; the offsets below are
 * checked against it at compile time.  Everything is little-endian and
 * fixed-width; big-endian builds stop here.
 *
 * The NIC area is [offset, offset + area_size) of the region: a 4 KiB
 * header, then slot_count slots.  Nothing outside the area is read or
 * written, so the rest of a large region stays free for other users.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RING_ABI_H
#define TM_RING_ABI_H

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ring ABI is little-endian; this host is not"
#endif

#define RING_MAGIC	0x0043494e56494d54ULL	/* "TMIVNIC\0" */
#define RING_ABI_VERSION 1
#define RING_HDR_SIZE	4096u		/* header block; slots follow */
#define RING_ALIGN	128u		/* two cache lines: one writer each */
#define RING_PAGE	4096u		/* slot size and area offset unit */

/* Limits every party enforces on the geometry. */
#define RING_SLOTS_MAX	65536u
#define RING_SIZE_MIN	2u		/* descriptors per ring, power of 2 */
#define RING_SIZE_MAX	32768u
#define RING_MTU_MIN	68u		/* IPv4 minimum */
#define RING_MTU_MAX	9216u		/* common jumbo limit */
#define RING_MTU_DEFAULT 1500u
#define RING_SIZE_DEFAULT 256u
#define RING_ETH_HLEN	14u
#define RING_FRAME_MIN	RING_ETH_HLEN	/* an Ethernet header, at least */
#define RING_FRAME_EXTRA 18u		/* Ethernet header + one VLAN tag */
#define RING_PEER_MAX	0xffffu		/* ivshmem peer IDs are 16 bits */
#define RING_VECTORS_MAX 64u		/* the server's -n limit */

/* Claim tokens: 0 is a free slot, RING_CLAIM_BUSY one being reclaimed. */
#define RING_CLAIM_FREE	0ULL
#define RING_CLAIM_BUSY	UINT64_MAX

/* Descriptor word: bits 0-31 length, 32-47 offset in the buffer, 48-63
 * flags.  Version 1 defined none; the two below exist only on a ring whose
 * consumer announced RING_F_VNET, and every other bit must be 0 (bit 0 is
 * left to private rings, such as the bridge's uplink). */
#define RING_DESC(len, off) \
	((uint64_t)(uint32_t)(len) | (uint64_t)(uint16_t)(off) << 32)
#define RING_DESC_FL(len, off, flags) \
	(RING_DESC(len, off) | (uint64_t)(uint16_t)(flags) << 48)
#define RING_DESC_LEN(d)	((uint32_t)(d))
#define RING_DESC_OFF(d)	((uint32_t)((d) >> 32) & 0xffffu)
#define RING_DESC_FLAGS(d)	((uint32_t)((d) >> 48))
#define RING_DESC_VNET	0x2u	/* the frame starts with a virtio_net_hdr */
#define RING_DESC_NEXT	0x4u	/* the frame goes on in the next descriptor */

/*
 * Features: what a side does beyond version 1.  A side stores them with
 * its identity, before it leaves reset, and reads the other side's when
 * both go to run.  Unknown bits are ignored.  They sit where a party built
 * before features existed overwrites or voids them, so that a downgraded
 * party is never taken for one that has them:
 *  - the NIC's in its side block's features word, bits 0-15, with bits
 *    16-31 holding RING_FEAT_TAG of the slot's claim token: they count only
 *    while the claim that wrote them holds;
 *  - the bridge's in bits 48-63 of its side block's mac word (the bridge has
 *    no MAC), which a version 1 bridge sets to 0 whenever it identifies.
 */
#define RING_F_VNET	0x1u	/* the ring this side consumes may carry
				 * frames with a virtio_net_hdr (large TCP and
				 * UDP segments, checksums left to do) over
				 * chained descriptors; announced only where
				 * mtu >= RING_VNET_MTU_MIN */
#define RING_F_SPACE	0x2u	/* this side rings a producer that asked
				 * (its index block's wakeup word) once it has
				 * freed descriptors of that ring */
#define RING_FEAT_TAG(t) ((uint32_t)(((t) ^ (t) >> 16 ^ (t) >> 32 ^ \
			    (t) >> 48) & 0xffffu))

/* The virtio_net_hdr of virtio 1.0 (struct virtio_net_hdr_v1), at the
 * start of a frame flagged RING_DESC_VNET; little-endian, 12 bytes. */
#define RING_VNET_HDR_LEN	12u
#define RING_VNET_F_NEEDS_CSUM	0x1u	/* checksum [csum_start, end) left */
#define RING_VNET_F_DATA_VALID	0x2u	/* checksum already verified */
#define RING_VNET_GSO_NONE	0u
#define RING_VNET_GSO_TCPV4	1u
#define RING_VNET_GSO_TCPV6	4u
#define RING_VNET_GSO_UDP_L4	5u	/* UDP segmentation (USO) */
#define RING_VNET_GSO_ECN	0x80u	/* with TCP: the flow uses ECN */
#define RING_VNET_FRAME_MAX	65600u	/* a 65,535-byte IPv6 payload, its
					 * header, Ethernet, one VLAN tag:
					 * 65,593, rounded up */
#define RING_VNET_SEGS_TCP	65535u	/* Linux's GSO_MAX_SEGS */
#define RING_VNET_SEGS_UDP	128u	/* Linux's UDP_MAX_SEGMENTS */
#define RING_VNET_MTU_MIN	576u	/* so that a chain stays short */
#define RING_CHAIN_MAX		128u	/* descriptors of one frame, at most */

struct ring_vnet_hdr {
	uint8_t		flags;		/* RING_VNET_F_* */
	uint8_t		gso_type;	/* RING_VNET_GSO_* */
	uint16_t	hdr_len;	/* a hint: at most the frame's length */
	uint16_t	gso_size;	/* payload bytes per segment */
	uint16_t	csum_start;	/* from the Ethernet header's start */
	uint16_t	csum_offset;	/* of the checksum, from csum_start */
	uint16_t	num_buffers;	/* 0; never read */
};

/* The two parties of a slot, and the two rings, named as the NIC sees
 * them: TX carries frames from the NIC to the bridge, RX back. */
enum ring_side {
	RING_NIC = 0,		/* the slot owner: mqnic or a guest */
	RING_BRIDGE = 1
};

enum ring_dir {
	RING_TX = 0,		/* NIC produces, bridge consumes */
	RING_RX = 1		/* bridge produces, NIC consumes */
};

/* Each side's state word, as in Jailhouse's ivshmem-net. */
enum ring_state {
	RING_RESET = 0,
	RING_INIT = 1,
	RING_READY = 2,
	RING_RUN = 3
};

/* ---- Shared memory layout (the ABI) ---------------------------------- */

struct ring_hdr {				/* offset 0 of the area */
	_Atomic uint64_t	magic;		/*   0  written last */
	_Atomic uint32_t	abi_version;	/*   8 */
	_Atomic uint32_t	hdr_size;	/*  12  RING_HDR_SIZE */
	_Atomic uint64_t	area_offset;	/*  16  in the region */
	_Atomic uint64_t	area_size;	/*  24  header + slots */
	_Atomic uint64_t	generation;	/*  32  new at each format */
	_Atomic uint32_t	slot_count;	/*  40 */
	_Atomic uint32_t	tx_size;	/*  44  descriptors */
	_Atomic uint32_t	rx_size;	/*  48 */
	_Atomic uint32_t	mtu;		/*  52 */
	_Atomic uint32_t	buf_size;	/*  56  bytes per buffer */
	_Atomic uint32_t	flags;		/*  60  0 */
	_Atomic uint64_t	slot_size;	/*  64 */
	_Atomic uint32_t	tx_desc_off;	/*  72  within a slot */
	_Atomic uint32_t	rx_desc_off;	/*  76 */
	_Atomic uint32_t	tx_buf_off;	/*  80 */
	_Atomic uint32_t	rx_buf_off;	/*  84 */
	uint8_t			reserved[RING_HDR_SIZE - 88];	/* 0 */
};

struct ring_claim {				/* slot + 0: CAS only */
	_Atomic uint64_t	token;
	uint8_t			pad[RING_ALIGN - 8];
};

struct ring_side_blk {				/* written by its side only */
	_Atomic uint32_t	state;		/*   0  enum ring_state */
	_Atomic uint32_t	peer_id;	/*   4  ivshmem peer ID */
	_Atomic uint32_t	vector;		/*   8  doorbell vector */
	_Atomic uint32_t	pad0;		/*  12 */
	_Atomic uint64_t	heartbeat;	/*  16  counts while alive */
	_Atomic uint64_t	mac;		/*  24  octets 0-5, 6-7 zero;
						 * bridge: RING_F_* << 48 */
	_Atomic uint32_t	features;	/*  32  NIC: RING_F_* | tag << 16 */
	uint8_t			pad[RING_ALIGN - 36];
};

struct ring_index {				/* written by one side only */
	_Atomic uint32_t	idx;		/* free-running */
	_Atomic uint32_t	wakeup;		/* consumer: ring me when you
						 * produce; producer: ring me
						 * when you free (RING_F_SPACE) */
	uint8_t			pad[RING_ALIGN - 8];
};

struct ring_slot {				/* slot + 0 */
	struct ring_claim	claim;		/*   0 */
	struct ring_side_blk	side[2];	/* 128  [RING_NIC], 256 */
	struct ring_index	tx_prod;	/* 384  NIC writes */
	struct ring_index	tx_cons;	/* 512  bridge writes */
	struct ring_index	rx_prod;	/* 640  bridge writes */
	struct ring_index	rx_cons;	/* 768  NIC writes */
	/* 896: TX descriptors, RX descriptors, TX buffers, RX buffers */
};

static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
    "atomics must be plain words in shared memory");
static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
    "atomics must be lock-free to work across processes");
static_assert(sizeof(struct ring_hdr) == RING_HDR_SIZE, "header size");
static_assert(offsetof(struct ring_hdr, slot_size) == 64, "header layout");
static_assert(offsetof(struct ring_hdr, rx_buf_off) == 84, "header layout");
static_assert(sizeof(struct ring_side_blk) == RING_ALIGN, "side size");
static_assert(offsetof(struct ring_side_blk, mac) == 24, "side layout");
static_assert(offsetof(struct ring_side_blk, features) == 32, "side layout");
static_assert(sizeof(struct ring_vnet_hdr) == RING_VNET_HDR_LEN, "vnet header");
static_assert(offsetof(struct ring_vnet_hdr, csum_offset) == 8, "vnet header");
static_assert(offsetof(struct ring_slot, tx_prod) == 384, "slot layout");
static_assert(offsetof(struct ring_slot, rx_cons) == 768, "slot layout");
static_assert(sizeof(struct ring_slot) == 896, "slot control size");

#endif /* TM_RING_ABI_H */
