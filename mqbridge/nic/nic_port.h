/*
 * nic_port.h - how mqnic reaches the region and the doorbells: as a peer
 * of a server (-p) or through the guest's PCI device (--pci).  The rest of
 * mqnic sees one region descriptor, one peer ID and one way to ring.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_PORT_H
#define TM_NIC_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/ivpeer.h"
#include "mqbridge/nic_opts.h"
#include "mqbridge/nic_pci.h"

struct nic_port {
	int		 is_pci;
	struct ivpeer	 iv;
	struct nic_pci	 dev;
	int		 server_up;	/* hearing from the server */
	int		 region_fd;	/* borrowed from iv or dev */
	uint64_t	 region_size;
	uint32_t	 id;		/* our peer ID */
};

/* Connect or open the device: 0, or -1 with a one-line reason. */
int	nic_port_open(struct nic_port *, const struct nic_opts *,
	    int timeout_ms, char *err, size_t len);
/* Ring vector vec of peer id: 0, or -1 if that doorbell is unknown. */
int	nic_port_ring(struct nic_port *, uint32_t id, uint32_t vec);
/* Our doorbell's eventfd, or -1 where doorbells cannot reach us (PCI). */
int	nic_port_bell_fd(const struct nic_port *);
/* Read and clear our doorbell: the count rung since. */
uint64_t nic_port_take(const struct nic_port *);
/* The server's socket while it is there, else -1. */
int	nic_port_server_fd(const struct nic_port *);
/* Take the server's news (peers joining, leaving) without blocking. */
void	nic_port_pump(struct nic_port *);
void	nic_port_close(struct nic_port *);

#endif /* TM_NIC_PORT_H */
