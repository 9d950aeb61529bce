/*
 * nic_opts.h - mqnic's command line: the options, their defaults, and
 * the MAC address syntax shared with its log lines.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_OPTS_H
#define TM_NIC_OPTS_H

#include <stdint.h>

#define NIC_TAP_DEFAULT	"mq%d"
#define NIC_WAIT_DEFAULT 10		/* seconds, -w */
#define NIC_BUSY_POLL_DEFAULT 50	/* microseconds, --busy-poll */
#define NIC_BUSY_POLL_MAX 1000000
#define NIC_MACSTR	18		/* "aa:bb:cc:dd:ee:ff" + NUL */

struct nic_opts {
	const char	*sock;		/* -p: a server socket */
	const char	*pci;		/* --pci: a sysfs device dir */
	uint8_t		 mac[6];
	char		 macstr[NIC_MACSTR];
	const char	*tap;		/* interface name, may hold %d */
	unsigned int	 nvec;		/* the server's -n */
	uint64_t	 offset;	/* of the NIC area in the region */
	unsigned int	 wait_s;	/* for the area to be formatted */
	int64_t		 busy_poll_us;	/* longest poll before sleeping */
	int		 offload;	/* large frames, checksums: announce */
	int		 verbosity;
	int		 syslog;	/* --syslog */
	const char	*status;	/* --status FILE */
	const char	*status_prom;	/* --status FILE.prom */
};

/* Parse argv; every bad option is a one-line error and exit 1. */
void	nic_opts_parse(int argc, char **argv, struct nic_opts *);
/* "aa:bb:cc:dd:ee:ff" (hex, either case): 0, or -1 with a reason. */
int	nic_mac_parse(const char *, uint8_t mac[6], const char **why);
void	nic_mac_format(const uint8_t mac[6], char buf[NIC_MACSTR]);

#endif /* TM_NIC_OPTS_H */
