/*
 * ring.h - the NIC ring API: format or attach to a NIC area, claim and
 * run a slot, and move frames through its rings.  The bytes it works on
 * are defined in ring_abi.h; what it reads back from them is validated by
 * ring_check.c first, so the handles hold only checked or computed values.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RING_H
#define TM_RING_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/slot/ring_view.h"

/* ---- Area ------------------------------------------------------------ */

/* 1500 MTU, 256-descriptor rings, one slot. */
void	ring_params_default(struct ring_params *);
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
/* Our features (RING_F_*), with the identity; a NIC passes its claim. */
void	ring_side_features(const struct ring_area *, uint32_t slot,
	    enum ring_side, uint32_t features, uint64_t claim);
void	ring_side_state(const struct ring_area *, uint32_t slot,
	    enum ring_side, enum ring_state);
void	ring_side_beat(const struct ring_area *, uint32_t slot,
	    enum ring_side);
/* Where our state goes next, given the peer's (the Jailhouse rules). */
enum ring_state ring_state_next(enum ring_state own, enum ring_state peer);
/* "reset", "init", "ready", "run"; "?" for anything else. */
const char *ring_state_name(enum ring_state);

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
/* Consumer: free buffers only up to idx, a ring index at most head and
 * at most a ring's size behind it.  A consumer that must keep frames it
 * has already read (until a broker's receipt, say) walks ahead with
 * ring_peek()/ring_next() and frees them later with this. */
int	ring_commit_at(struct ring *, uint32_t idx);

/* Producer.  ring_reserve: 1 and *buf (buf_size bytes) if a descriptor
 * is free, 0 if full, < 0 if the consumer's index is corrupt. */
int	ring_space(struct ring *, uint32_t *n);
int	ring_reserve(struct ring *, unsigned char **buf);
int	ring_push(struct ring *, uint32_t len);
/* With descriptor flags, which the ring must allow (flags_ok). */
int	ring_push_flags(struct ring *, uint32_t len, uint32_t flags);
int	ring_send(struct ring *, const void *, uint32_t len);
/* The k-th frame pushed and committed that the consumer has not freed
 * yet (its index: the consumer's plus k): 1, 0 when there are not that
 * many, < 0 on a fault.  For frames a consumer left behind. */
int	ring_unread(struct ring *, uint32_t k, struct ring_frame *);
/* After ring_commit(): does the consumer want a doorbell? */
int	ring_wakeup_needed(const struct ring *);

/* Consumer.  ring_peek: 1 and a checked frame, 0 if empty, < 0 if the
 * slot is corrupt.  The data stays writable by the producer: copy it
 * before deciding anything on its contents. */
int	ring_avail(struct ring *, uint32_t *n);
int	ring_peek(struct ring *, struct ring_frame *);
/* The frame k places after head, without moving: 1, 0 if there is none
 * yet, < 0 on a fault. */
int	ring_peek_at(struct ring *, uint32_t k, struct ring_frame *);
/* Move head back to idx (at most a ring's size), to read again frames
 * not yet freed: a consumer that lost what it had sent them to. */
int	ring_rewind(struct ring *, uint32_t idx);
void	ring_next(struct ring *);
/* Copy one frame out; size must be at least frame_max. */
int	ring_recv(struct ring *, void *, uint32_t size, uint32_t *len);
/* Ask for (1) or stop asking for (0) doorbells.  After arming, check
 * ring_avail() once more: a frame may have come before the flag. */
void	ring_wakeup_arm(struct ring *, int on);

/* ---- Large frames and doorbells for room (ring_pkt.c) --------------- */

/*
 * Consumer: one whole frame at head, its descriptors checked
 * (ring_check_pkt): 1, 0 if none, < 0 on a slot error.  p->bad set means
 * its virtio_net_hdr is refused: drop it (ring_next_pkt) and count it.
 */
int	ring_peek_pkt(struct ring *, struct ring_pkt *);
void	ring_next_pkt(struct ring *, const struct ring_pkt *);
/* Copy frame bytes [off, off + len) out of p's pieces; the one's
 * complement sum of what was copied (native order, as if it started on an
 * even byte) is added to *sum when sum is not NULL. */
void	ring_pkt_copy(const struct ring_pkt *, uint32_t off, uint32_t len,
	    unsigned char *dst, uint64_t *sum);
/* The one's complement sum of p[0, len), folded to 16 bits, native. */
uint32_t ring_csum(const unsigned char *, uint32_t len);

/* The 12 bytes of a virtio_net_hdr from a checked copy. */
void	ring_vnet_encode(const struct ring_vnet *, unsigned char *);

/* Producer: the buffer k descriptors past head, if k + 1 are free (1),
 * 0 if not, < 0 if the consumer's index is corrupt. */
int	ring_reserve_at(struct ring *, uint32_t k, unsigned char **buf);
/* One piece of a frame: len bytes at off in the buffer at head.  flags:
 * RING_DESC_VNET on the first piece of a frame that starts with a
 * virtio_net_hdr, RING_DESC_NEXT on every piece but the last; both only
 * where flags_ok allows them. */
int	ring_push_piece(struct ring *, uint32_t off, uint32_t len,
	    uint32_t flags);

/* Producer: ask for (1) or stop asking for (0) a doorbell once the
 * consumer frees descriptors; after arming, check ring_space() again. */
void	ring_space_arm(struct ring *, int on);
/* Consumer, after ring_commit(): does the producer wait for room? */
int	ring_space_wanted(const struct ring *);

/* "slot 3 tx: produced count 4000 exceeds ring size 256" */
void	ring_describe(const struct ring *, char *buf, size_t len);
#endif /* TM_RING_H */
