/*
 * nic_tap.h - the TAP device that stands for the slot on this host or
 * guest: created through /dev/net/tun, given the NIC's MAC and the area's
 * MTU, brought up, its carrier following the slot's link state, its
 * offloads (large segments, checksums) on while the bridge takes them.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_TAP_H
#define TM_NIC_TAP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#define NIC_TAP_VNET_LEN	12	/* struct virtio_net_hdr_v1 */
#define NIC_TAP_QLEN		4096	/* packets the kernel queues for us */
#define NIC_TUN_F_USO4		0x20	/* Linux 6.2; not in older headers */
#define NIC_TUN_F_USO6		0x40

struct nic_tap {
	int	fd;		/* non-blocking; a virtio_net_hdr, a frame */
	int	ctl;		/* a socket for the interface ioctls */
	char	name[IFNAMSIZ];	/* as the kernel named it */
	unsigned int offloads;	/* TUN_F_* now on */
};

/* Create name (may hold %d), set mac, set mtu, bring it up with no
 * carrier: 0, or -1 with a one-line reason in err. */
int	nic_tap_open(struct nic_tap *, const char *name,
	    const uint8_t mac[6], unsigned int mtu, char *err, size_t len);
int	nic_tap_mtu(struct nic_tap *, unsigned int mtu, char *err,
	    size_t len);
/* Large segments and unfinished checksums from the kernel, or not:
 * 0, or -1 (logged). */
int	nic_tap_offload(struct nic_tap *, int on);
/* Carrier on while frames can move, so the stack queues nothing stale. */
void	nic_tap_carrier(struct nic_tap *, int on);
/* Closing the descriptor removes the device. */
void	nic_tap_close(struct nic_tap *);

#endif /* TM_NIC_TAP_H */
