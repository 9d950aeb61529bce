/*
 * nic_ivshmem.c - the two ways mqnic attaches: a peer of a server through
 * ivpeer, or the ivshmem PCI device through nic_pci.
 *
 * A server that goes away does not stop the NIC: the region stays
 * mapped and the doorbell eventfds we hold still work, so frames keep
 * moving.  A server that comes back (restarted on the same socket) is
 * joined again with backoff, as the bridge does, so both ring each other
 * through the new server's eventfds under their new IDs.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/stat.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "mqbridge/nic/nic_ivshmem.h"

int
nic_ivshmem_open(struct nic_ivshmem *p, const struct nic_opts *o, int timeout_ms,
    char *err, size_t len)
{
	struct pollfd pfd = { .events = POLLIN };

	memset(p, 0, sizeof(*p));
	p->iv.sock = p->iv.region_fd = -1;
	p->dev.reg_fd = p->dev.mem_fd = -1;
	p->region_fd = -1;
	if (o->pci != NULL) {
		p->is_pci = 1;
		if (nic_pci_open(&p->dev, o->pci, err, len) == -1)
			return -1;
		p->id = nic_pci_position(&p->dev);
		if (p->id > 0xffff) {
			snprintf(err, len, "%s/resource0: IVPosition is %d, "
			    "not a peer ID; is the device an "
			    "ivshmem-doorbell connected to a server?", o->pci,
			    (int)p->id);
			return -1;
		}
		p->region_fd = p->dev.mem_fd;
		p->region_size = p->dev.mem_size;
		return 0;
	}
	if (ivpeer_connect(&p->iv, o->sock, SCM_PROTO_V0, o->nvec,
	    timeout_ms, err, len) == -1)
		return -1;
	pfd.fd = p->iv.sock;
	/* A server with more vectors than our -n sends the rest of ours
	 * right after the handshake: refuse now, not with a warning later. */
	if (poll(&pfd, 1, 50) == 1 &&
	    ivpeer_pump(&p->iv, NULL, NULL, err, len) == -1)
		return -1;
	p->server_up = 1;
	p->id = (uint32_t)p->iv.id;
	p->region_fd = p->iv.region_fd;
	p->region_size = p->iv.size;
	return 0;
}

int
nic_ivshmem_ring(struct nic_ivshmem *p, uint32_t id, uint32_t vec)
{
	if (p->is_pci) {
		if (id > 0xffff || vec > 0xffff)
			return -1;
		nic_pci_ring(&p->dev, id, vec);
		return 0;
	}
	if (id >= IVPEER_IDS)
		return -1;
	return ivpeer_ring(&p->iv, (int)id, vec);
}

int
nic_ivshmem_bell_fd(const struct nic_ivshmem *p)
{
	return p->is_pci ? -1 : p->iv.own[0];
}

uint64_t
nic_ivshmem_take(const struct nic_ivshmem *p)
{
	return p->is_pci ? 0 : ivpeer_take(&p->iv, 0);
}

int
nic_ivshmem_server_fd(const struct nic_ivshmem *p)
{
	return p->server_up ? p->iv.sock : -1;
}

void
nic_ivshmem_pump(struct nic_ivshmem *p)
{
	char err[256];

	if (!p->server_up)
		return;
	if (ivpeer_pump(&p->iv, NULL, NULL, err, sizeof(err)) == -1) {
		log_warn("%s; frames keep moving, joining the server again "
		    "when it is back", err);
		p->server_up = 0;
		backoff_reset(&p->rejoin);
	}
}

#define REJOIN_MIN_MS		100
#define REJOIN_MAX_MS		5000
#define REJOIN_TIMEOUT_MS	1000

static int
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int
nic_ivshmem_reconnect(struct nic_ivshmem *p, const struct nic_opts *o,
    int64_t now, struct ivpeer *np)
{
	char err[256];

	if (p->is_pci || p->server_up ||
	    !backoff_due(&p->rejoin, now, REJOIN_MIN_MS, REJOIN_MAX_MS))
		return 0;
	if (ivpeer_connect(np, o->sock, SCM_PROTO_V0, o->nvec,
	    REJOIN_TIMEOUT_MS, err, sizeof(err)) == -1) {
		log_debug("%s: %s; trying again", o->sock, err);
		return 0;
	}
	if (!same_file(np->region_fd, p->region_fd)) {
		log_err("%s: the server there serves another region now; "
		    "frames keep moving in ours; restart mqnic to use the new "
		    "one", o->sock);
		ivpeer_close(np);
		backoff_hold(&p->rejoin, now, REJOIN_MAX_MS);
		return 0;
	}
	return 1;
}

void
nic_ivshmem_adopt(struct nic_ivshmem *p, struct ivpeer *np)
{
	ivpeer_close(&p->iv);
	p->iv = *np;
	p->server_up = 1;
	p->id = (uint32_t)np->id;
	p->region_fd = np->region_fd;
	p->region_size = np->size;
	backoff_reset(&p->rejoin);
	log_info("joined the server again as peer %u", p->id);
}

void
nic_ivshmem_close(struct nic_ivshmem *p)
{
	if (p->is_pci)
		nic_pci_close(&p->dev);
	else
		ivpeer_close(&p->iv);
	p->region_fd = -1;
}
