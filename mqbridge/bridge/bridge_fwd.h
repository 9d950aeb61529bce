/*
 * bridge_fwd.h - one frame taken from a port, put into another port in
 * the form that port takes: as it is (a chain, with its virtio_net_hdr)
 * to a NIC that announced RING_F_VNET, otherwise as plain frames no
 * larger than the destination's MTU, cut into segments and checksummed
 * here.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BRIDGE_FWD_H
#define TM_BRIDGE_FWD_H

#include <stdint.h>

#include "mqbridge/bridge/bridge.h"

#define FWD_HDRS	128	/* Ethernet, VLAN, IPv6, TCP with options */

/* A frame as the switch decides on it: checked descriptors, and a copy
 * of its first bytes to decide on and to send (the producer may still
 * write the buffers). */
struct fwd {
	struct ring_pkt	 pkt;
	unsigned char	 hdr[FWD_HDRS];
	uint32_t	 nhdr;		/* bytes of hdr that are the frame's */
	int		 seg;		/* a segment to cut: gso holds */
	struct ring_gso	 gso;
};

/* Copy the headers of a checked frame and check a segment's: RING_VNET_OK,
 * or why the frame is refused (drop it as bad_vnet). */
enum ring_vnet_bad fwd_init(struct fwd *);
/*
 * Descriptors the frame takes in dst, segments from `from` on: all of
 * them (whole), or what starting needs (a segment at a time fits where
 * room comes bit by bit).  0: it never fits (too big).
 */
uint32_t fwd_need(const struct fwd *, const struct port *dst, uint32_t from,
	    int whole);
/*
 * Put it into dst, segments from *next on (advanced).  1 done, 0 stopped
 * for want of room (the rest later, from *next), -1 dst's ring is corrupt,
 * -2 too big for the uplink.  Room for fwd_need() must have been seen.
 */
int	fwd_put(struct bridge *, struct fwd *, struct port *src,
	    struct port *dst, uint32_t *next);

#endif /* TM_BRIDGE_FWD_H */
