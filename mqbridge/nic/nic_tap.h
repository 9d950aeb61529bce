/*
 * nic_tap.h - the TAP device that stands for the slot on this host or
 * guest: created through /dev/net/tun, given the NIC's MAC and the area's
 * MTU, brought up, its carrier following the slot's link state.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_TAP_H
#define TM_NIC_TAP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct nic_tap {
	int	fd;		/* non-blocking; frames, no header */
	int	ctl;		/* a socket for the interface ioctls */
	char	name[IFNAMSIZ];	/* as the kernel named it */
};

/* Create name (may hold %d), set mac, set mtu, bring it up with no
 * carrier: 0, or -1 with a one-line reason in err. */
int	nic_tap_open(struct nic_tap *, const char *name,
	    const uint8_t mac[6], unsigned int mtu, char *err, size_t len);
int	nic_tap_mtu(struct nic_tap *, unsigned int mtu, char *err,
	    size_t len);
/* Carrier on while frames can move, so the stack queues nothing stale. */
void	nic_tap_carrier(struct nic_tap *, int on);
/* Closing the descriptor removes the device. */
void	nic_tap_close(struct nic_tap *);

#endif /* TM_NIC_TAP_H */
