/*
 * ring.h - the NIC ring ABI: the one definition of the bytes that the
 * bridge and the NIC endpoints (mqnic, a guest driver) share, and the API
 * that formats, attaches to and moves frames through them.
 *
 * docs/ring-abi.md is the byte-exact description; the offsets below are
 * checked against it at compile time.  Everything is little-endian and
 * fixed-width; big-endian builds stop here.
 *
 * The NIC area is [offset, offset + area_size) of the region: a 4 KiB
 * header, then slot_count slots.  Nothing outside the area is read or
 * written, so the rest of a large region stays free for other users.
 *
 * Everything read back from the area is validated by ring_check.c; the
 * handles below only hold values that were checked or that we computed.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RING_H
#define TM_RING_H

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
 * flags (none defined in version 1: must be 0). */
#define RING_DESC(len, off) \
	((uint64_t)(uint32_t)(len) | (uint64_t)(uint16_t)(off) << 32)
#define RING_DESC_LEN(d)	((uint32_t)(d))
#define RING_DESC_OFF(d)	((uint32_t)((d) >> 32) & 0xffffu)
#define RING_DESC_FLAGS(d)	((uint32_t)((d) >> 48))

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
	/* The caller. */
	RING_EPARAM = -20
};

#define RING_SLOT_CORRUPT(e)	((e) <= RING_EINDEX && (e) > RING_EPARAM)

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
	_Atomic uint64_t	mac;		/*  24  octets 0-5, 6-7 zero */
	uint8_t			pad[RING_ALIGN - 32];
};

struct ring_index {				/* written by one side only */
	_Atomic uint32_t	idx;		/* free-running */
	_Atomic uint32_t	wakeup;		/* consumer lines: ring me */
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
static_assert(offsetof(struct ring_slot, tx_prod) == 384, "slot layout");
static_assert(offsetof(struct ring_slot, rx_cons) == 768, "slot layout");
static_assert(sizeof(struct ring_slot) == 896, "slot control size");

/* ---- Local, trusted views -------------------------------------------- */

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
};

struct ring_slot_view {
	uint64_t	claim;
	struct ring_side_view side[2];
};

struct ring_frame {			/* a checked descriptor */
	unsigned char	*data;		/* inside this ring's buffer */
	uint32_t	 len;
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
	_Atomic uint64_t *desc;
	unsigned char	*bufs;
	uint32_t	 size, mask, buf_size, frame_max;
	uint32_t	 head;
	uint32_t	 seen;
	uint32_t	 slot;
	enum ring_dir	 dir;
	int		 producer;
	int		 fault;
	uint64_t	 fault_val;
	uint64_t	 fault_lim;
};

/* ---- Area ------------------------------------------------------------ */

/* 1500 MTU, 256-descriptor rings, one slot. */
void	ring_params_default(struct ring_params *);
/* Check the parameters and compute the layout; RING_EGEOMETRY if bad. */
int	ring_geom_init(struct ring_geom *, const struct ring_params *);
/*
 * Format the area at base (offset bytes into the region, avail bytes
 * mapped from base).  A formatted area is attached to and kept as it is
 * unless force is set; one formatted with other parameters is
 * RING_EMISMATCH, and a header page holding anything but zeros or our
 * header is RING_EFOREIGN, both unless force.  *formatted says which.
 */
int	ring_format(struct ring_area *, void *base, uint64_t avail,
	    uint64_t offset, const struct ring_params *, int force,
	    int *formatted);
/* Read the header's geometry from the first RING_HDR_SIZE bytes, e.g.
 * to learn how much to map before ring_attach(). */
int	ring_probe(const void *base, uint64_t offset, struct ring_geom *);
/* Attach to a formatted area; expect (may be NULL) must match. */
int	ring_attach(struct ring_area *, void *base, uint64_t avail,
	    uint64_t offset, const struct ring_params *expect);
/* Still the area we attached to?  RING_EGENERATION after a reformat. */
int	ring_area_live(const struct ring_area *);
const char *ring_strerror(int);

/* ---- Slots ----------------------------------------------------------- */

struct ring_slot *ring_slot_at(const struct ring_area *, uint32_t slot);
/* A checked copy of the slot's control words. */
int	ring_slot_view(const struct ring_area *, uint32_t slot,
	    struct ring_slot_view *);
/* 1 if the token (not 0, not RING_CLAIM_BUSY) now owns a free slot. */
int	ring_slot_claim(const struct ring_area *, uint32_t slot, uint64_t);
/* 1 if the slot was ours and is free now. */
int	ring_slot_release(const struct ring_area *, uint32_t slot, uint64_t);
/* Take a dead owner's slot (token as seen), clear it and free it. */
int	ring_slot_reclaim(const struct ring_area *, uint32_t slot, uint64_t);
/* Zero the slot's control words and indices: formatting and reclaim. */
void	ring_slot_clear(const struct ring_area *, uint32_t slot);
/* Our side's identity: before leaving RING_RESET. */
void	ring_side_ident(const struct ring_area *, uint32_t slot,
	    enum ring_side, uint32_t peer_id, uint32_t vector,
	    const uint8_t mac[6]);
void	ring_side_state(const struct ring_area *, uint32_t slot,
	    enum ring_side, enum ring_state);
void	ring_side_beat(const struct ring_area *, uint32_t slot,
	    enum ring_side);
/* Where our state goes next, given the peer's (the Jailhouse rules). */
enum ring_state ring_state_next(enum ring_state own, enum ring_state peer);

/* ---- Rings ----------------------------------------------------------- */

/*
 * Open a slot's ring for our side: the stored indices are read once and
 * we resume from them, so frames queued before a crash are delivered.
 * RING_EINDEX when they disagree; a consumer then calls ring_repair().
 */
int	ring_open(struct ring *, const struct ring_area *, uint32_t slot,
	    enum ring_dir, enum ring_side);
/* Consumer: drop whatever the ring holds (cons = prod), after any slot
 * error on it; a producer cannot repair (RING_EPARAM). */
int	ring_repair(struct ring *);
/* Store our index (release): publishes pushes, or frees buffers. */
void	ring_commit(struct ring *);

/* Producer.  ring_reserve: 1 and *buf (buf_size bytes) if a descriptor
 * is free, 0 if full, < 0 if the consumer's index is corrupt. */
int	ring_space(struct ring *, uint32_t *n);
int	ring_reserve(struct ring *, unsigned char **buf);
int	ring_push(struct ring *, uint32_t len);
int	ring_send(struct ring *, const void *, uint32_t len);
/* After ring_commit(): does the consumer want a doorbell? */
int	ring_wakeup_needed(const struct ring *);

/* Consumer.  ring_peek: 1 and a checked frame, 0 if empty, < 0 if the
 * slot is corrupt.  The data stays writable by the producer: copy it
 * before deciding anything on its contents. */
int	ring_avail(struct ring *, uint32_t *n);
int	ring_peek(struct ring *, struct ring_frame *);
void	ring_next(struct ring *);
/* Copy one frame out; size must be at least frame_max. */
int	ring_recv(struct ring *, void *, uint32_t size, uint32_t *len);
/* Ask for (1) or stop asking for (0) doorbells.  After arming, check
 * ring_avail() once more: a frame may have come before the flag. */
void	ring_wakeup_arm(struct ring *, int on);

/* "slot 3 tx: produced count 4000 exceeds ring size 256" */
void	ring_describe(const struct ring *, char *buf, size_t len);

#endif /* TM_RING_H */
