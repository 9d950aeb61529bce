/*
 * nic_ivshmem.h - how mqnic reaches the region and the doorbells: as a peer
 * of a server (-p) or through the guest's PCI device (--pci).  The rest of
 * mqnic sees one region descriptor, one peer ID and one way to ring.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_IVSHMEM_H
#define TM_NIC_IVSHMEM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/clock.h"
#include "lib/ivpeer.h"
#include "mqbridge/nic/nic_opts.h"
#include "mqbridge/nic/nic_pci.h"

struct nic_ivshmem {
	int		 is_pci;
	struct ivpeer	 iv;
	struct nic_pci	 dev;
	int		 server_up;	/* hearing from the server */
	int		 region_fd;	/* borrowed from iv or dev */
	uint64_t	 region_size;
	uint32_t	 id;		/* our peer ID */
	struct backoff	 rejoin;	/* server gone: when to try again */
};

/* Connect or open the device: 0, or -1 with a one-line reason. */
int	nic_ivshmem_open(struct nic_ivshmem *, const struct nic_opts *,
	    int timeout_ms, char *err, size_t len);
/* Ring vector vec of peer id: 0, or -1 if that doorbell is unknown. */
int	nic_ivshmem_ring(struct nic_ivshmem *, uint32_t id, uint32_t vec);
/* Our doorbell's eventfd, or -1 where doorbells cannot reach us (PCI). */
int	nic_ivshmem_bell_fd(const struct nic_ivshmem *);
/* Read and clear our doorbell: the count rung since. */
uint64_t nic_ivshmem_take(const struct nic_ivshmem *);
/* The server's socket while it is there, else -1. */
int	nic_ivshmem_server_fd(const struct nic_ivshmem *);
/* Take the server's news (peers joining, leaving) without blocking. */
void	nic_ivshmem_pump(struct nic_ivshmem *);
/*
 * The server went away: connect to whoever serves the socket now, if a
 * try is due.  1 with np joined to a server of the same region file, 0
 * not (yet).  Never for a PCI device: QEMU's chardev does that for it.
 */
int	nic_ivshmem_reconnect(struct nic_ivshmem *, const struct nic_opts *,
	    int64_t now_ms, struct ivpeer *np);
/* Drop the dead server's peer table and take np's: a new ID and new
 * doorbells.  Stop watching the old descriptors first. */
void	nic_ivshmem_adopt(struct nic_ivshmem *, struct ivpeer *np);
void	nic_ivshmem_close(struct nic_ivshmem *);

#endif /* TM_NIC_IVSHMEM_H */
