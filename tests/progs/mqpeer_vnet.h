/*
 * mqpeer_vnet.h - crafting and checking frames with a virtio_net_hdr for
 * mqpeer (tests/progs/mqpeer_vnet.c).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_MQPEER_VNET_H
#define TM_MQPEER_VNET_H

#include <stdint.h>

/*
 * A segment of kind tcp4, tcp6, udp4 or udp6 into out: a 12-byte
 * virtio_net_hdr (NEEDS_CSUM, gso_size gso), then Ethernet, IP, TCP or
 * UDP with the kernel's partial checksum, then payload bytes in a known
 * pattern.  Returns the bytes written, header included.
 */
uint32_t vnet_craft(unsigned char *out, const char *kind,
	    const uint8_t dst[6], const uint8_t src[6], uint32_t payload,
	    uint32_t gso);
/* Spoil a crafted frame as the bridge must refuse it: flags, type, ecn,
 * size0, hdrlen, csum, segs, headers, long.  -1 for an unknown way. */
int	vnet_spoil(unsigned char *out, uint32_t *len, const char *how);
/* A received frame's IP and L4 checksums: "ok", "bad", "badip",
 * "badlen", "partial" (a checksum left to do, allowed), "none" (not IP). */
const char *vnet_verify(const unsigned char *frame, uint32_t len,
	    int partial_ok);
/* Its payload is the pattern's, from *first on (UDP; TCP reads its
 * sequence number); *first moves past it.  1 if so. */
int	vnet_payload_ok(const unsigned char *frame, uint32_t len,
	    uint32_t *first);

#endif /* TM_MQPEER_VNET_H */
