/*
 * nic_status.h - mqnic's status files: its slot, TAP, MAC, peer IDs, link
 * state and counters, as text or in Prometheus' text format
 * (lib/status.h writes them atomically).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_STATUS_H
#define TM_NIC_STATUS_H

#include <stdint.h>

#include "lib/status.h"
#include "mqbridge/nic/nic_link.h"

/* What a status file shows besides the link's counters. */
struct nic_status {
	const char	*macstr;
	const char	*tap;		/* NULL before the TAP exists */
	uint32_t	 slot;
	uint32_t	 peer;		/* ours, on the server */
	int		 server_up;	/* hearing from the server */
	const struct nic_link *link;	/* NULL before the first claim */
};

void	nic_status_write(struct status_file *, const struct nic_status *);

#endif /* TM_NIC_STATUS_H */
