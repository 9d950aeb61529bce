/*
 * ring_check.h - the one place that reads the NIC area back from shared
 * memory and decides whether to believe it.
 *
 * Any party can write anything into the area at any time.  Each function
 * here loads the shared words it needs exactly once into locals, checks
 * them against the geometry we computed ourselves, and hands back only
 * checked copies.  ring.c never reads a shared word except through these
 * functions; its only other accesses are stores, and two atomic
 * read-modify-writes whose old value is merely compared (the claim CAS)
 * or ignored (the heartbeat increment).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RING_CHECK_H
#define TM_RING_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/slot/ring_view.h"

/* Check the parameters and compute the layout; RING_EGEOMETRY if bad.
 * Formatting and every header check use this one computation. */
int	ring_geom_init(struct ring_geom *, const struct ring_params *);

/*
 * The header at base: magic, version, then the geometry recomputed from
 * the four parameters and compared field by field with what is stored.
 * The area must sit at offset in the region and fit in avail bytes.
 */
int	ring_check_header(const struct ring_hdr *, uint64_t avail,
	    uint64_t offset, struct ring_geom *, uint64_t *generation);
/* 1 if the header page is all zeros: nobody's data to overwrite. */
int	ring_check_blank(const struct ring_hdr *);
/* The stored generation, if the magic is ours (else 0). */
uint64_t ring_check_old_generation(const struct ring_hdr *);

/* prod - cons, modulo 2^32, at most size: else clamped and RING_EINDEX. */
int	ring_check_count(uint32_t prod, uint32_t cons, uint32_t size,
	    uint32_t *count);
/* Both stored indices of a freshly opened ring: head and seen. */
int	ring_check_open(struct ring *);
/* The peer's index now: free descriptors (producer) or queued frames
 * (consumer, clamped to the ring size on error). */
int	ring_check_peer(struct ring *, uint32_t *n);
/* The peer's index as it is; only for a consumer's repair, where any
 * value is acceptable because it becomes our own index. */
uint32_t ring_check_peer_raw(const struct ring *);
/* The descriptor at head: one load, then length, offset and flags. */
int	ring_check_desc(struct ring *, struct ring_frame *);
/* The same for the descriptor at ring index idx (the caller keeps it
 * between head and the producer's index it has checked). */
int	ring_check_desc_at(struct ring *, uint32_t idx, struct ring_frame *);
/* The consumer's need-wakeup flag, as the producer sees it. */
int	ring_check_wakeup(const struct ring *);
/* The producer's room-wanted flag, as the consumer sees it. */
int	ring_check_space(const struct ring *);

/*
 * One frame from ring index idx on (avail descriptors produced from idx):
 * its chain, each piece, and a checked copy of its virtio_net_hdr (a
 * refused header is p->bad, not an error: the caller drops the frame).
 */
int	ring_check_pkt(struct ring *, uint32_t idx, uint32_t avail,
	    struct ring_pkt *);
/* A virtio_net_hdr (12 bytes, our copy) of a frame of len bytes. */
enum ring_vnet_bad ring_check_vnet(const unsigned char *, uint32_t len,
	    uint32_t frame_max, struct ring_vnet *);
/*
 * A segment's own headers: h holds a copy of the frame's first n bytes
 * (n <= len).  Ethernet (one VLAN tag at most), IPv4 or IPv6 without
 * extension headers, TCP or UDP at csum_start, as its gso_type says;
 * where the payload starts and how many segments it makes.
 */
enum ring_vnet_bad ring_check_gso(const struct ring_vnet *,
	    const unsigned char *h, uint32_t n, uint32_t len,
	    struct ring_gso *);

/* A side's control words; claim is the slot's (for the NIC's features). */
int	ring_check_side(const struct ring_side_blk *, enum ring_side,
	    uint64_t claim, struct ring_side_view *);
/*
 * A control message of the uplink (uplink.h): its type, and a copy of it
 * in out (len bytes, the size that type has) once its length and type
 * agree; 0 when they do not, and nothing is copied.
 */
unsigned int ring_check_uplink_ctl(const struct ring_frame *, void *out,
	    size_t len);

/* The claim token: any value is a valid token. */
uint64_t ring_check_claim(const struct ring_claim *);

#endif /* TM_RING_CHECK_H */
