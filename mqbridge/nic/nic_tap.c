/*
 * nic_tap.c - create and configure the TAP device with the tun driver's
 * and the interface ioctls; no netlink, no external tools, so that a
 * static mqnic in a busybox guest needs nothing else.
 *
 * The device is not persistent: it disappears with our descriptor, even
 * after a crash, so nothing is left to clean up.
 *
 * Every frame crosses the descriptor with a virtio_net_hdr in front
 * (IFF_VNET_HDR, 12 bytes).  With offloads on (TUNSETOFFLOAD), the kernel
 * hands us TCP and UDP segments of up to 64 KiB and leaves checksums to
 * the receiver; with them off, it segments and checksums itself and the
 * header says nothing.  Writes take either kind at any time.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <net/if_arp.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "mqbridge/nic/nic_tap.h"

static void
ifr_init(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

static const char *
tunsetiff_fix(int e)
{
	switch (e) {
	case EPERM:
	case EACCES:
		return "run as root or with CAP_NET_ADMIN";
	case EBUSY:
		return "another program has that TAP open; pick another --tap";
	case EINVAL:
		return "an interface of another kind has that name, or the "
		    "name is malformed; pick another --tap";
	default:
		return "check --tap";
	}
}

static int
create(struct nic_tap *t, const char *name, char *err, size_t len)
{
	int hdr = NIC_TAP_VNET_LEN;
	struct ifreq ifr;

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd == -1)
		return errbuf(err, len, "cannot open /dev/net/tun: %s; load the "
		    "tun module (modprobe tun) or run as root",
		    strerror(errno));
	ifr_init(&ifr, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) == -1)
		return errbuf(err, len, "cannot create TAP %s: %s; %s", name,
		    strerror(errno), tunsetiff_fix(errno));
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) == -1)
		return errbuf(err, len, "TAP %s: cannot set a %d-byte "
		    "virtio_net_hdr: %s", name, hdr, strerror(errno));
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = '\0';
	t->ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->ctl == -1)
		t->ctl = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->ctl == -1)
		return errbuf(err, len, "socket for interface ioctls: %s",
		    strerror(errno));
	return 0;
}

static int
set_mac(struct nic_tap *t, const uint8_t mac[6], char *err, size_t len)
{
	struct ifreq ifr;

	ifr_init(&ifr, t->name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	if (ioctl(t->ctl, SIOCSIFHWADDR, &ifr) == -1)
		return errbuf(err, len, "cannot set the MAC of %s: %s", t->name,
		    strerror(errno));
	return 0;
}

int
nic_tap_mtu(struct nic_tap *t, unsigned int mtu, char *err, size_t len)
{
	struct ifreq ifr;

	ifr_init(&ifr, t->name);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(t->ctl, SIOCSIFMTU, &ifr) == -1)
		return errbuf(err, len, "cannot set the MTU of %s to %u: %s",
		    t->name, mtu, strerror(errno));
	return 0;
}

/* A longer queue than tun's 500 packets: bursts wait there while our TX
 * ring is full, instead of being dropped. */
static void
set_qlen(struct nic_tap *t)
{
	struct ifreq ifr;

	ifr_init(&ifr, t->name);
	ifr.ifr_qlen = NIC_TAP_QLEN;
	if (ioctl(t->ctl, SIOCSIFTXQLEN, &ifr) == -1)
		log_debug("%s: cannot set the queue length to %d: %s", t->name,
		    NIC_TAP_QLEN, strerror(errno));
}

int
nic_tap_offload(struct nic_tap *t, int on)
{
	unsigned int base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
	    TUN_F_TSO_ECN, uso = NIC_TUN_F_USO4 | NIC_TUN_F_USO6;
	unsigned int want = on ? base | uso : 0;

	if (want == t->offloads)
		return 0;
	/* USO arrived in Linux 6.2; an older kernel refuses the bits. */
	if (ioctl(t->fd, TUNSETOFFLOAD, want) == -1 && (!on ||
	    ioctl(t->fd, TUNSETOFFLOAD, (want = base)) == -1)) {
		log_warn("%s: cannot turn offloads %s: %s", t->name,
		    on ? "on" : "off", strerror(errno));
		return -1;
	}
	log_debug("%s: offloads 0x%x", t->name, want);
	t->offloads = want;
	return 0;
}

static int
set_up(struct nic_tap *t, char *err, size_t len)
{
	struct ifreq ifr;

	ifr_init(&ifr, t->name);
	if (ioctl(t->ctl, SIOCGIFFLAGS, &ifr) == -1)
		return errbuf(err, len, "cannot read the flags of %s: %s",
		    t->name, strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(t->ctl, SIOCSIFFLAGS, &ifr) == -1)
		return errbuf(err, len, "cannot bring %s up: %s", t->name,
		    strerror(errno));
	return 0;
}

int
nic_tap_open(struct nic_tap *t, const char *name, const uint8_t mac[6],
    unsigned int mtu, char *err, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->fd = t->ctl = -1;
	if (create(t, name, err, len) == -1)
		return -1;
	/* No carrier until the bridge serves us: nothing queues up. */
	nic_tap_carrier(t, 0);
	set_qlen(t);
	if (set_mac(t, mac, err, len) == -1 ||
	    nic_tap_mtu(t, mtu, err, len) == -1 || set_up(t, err, len) == -1)
		return -1;
	return 0;
}

void
nic_tap_carrier(struct nic_tap *t, int on)
{
	/* Older kernels lack TUNSETCARRIER; the link then stays up. */
	if (ioctl(t->fd, TUNSETCARRIER, &on) == -1)
		log_debug("%s: cannot set carrier %s: %s", t->name,
		    on ? "on" : "off", strerror(errno));
}

void
nic_tap_close(struct nic_tap *t)
{
	if (t->ctl != -1)
		close(t->ctl);
	if (t->fd != -1)
		close(t->fd);
	t->fd = t->ctl = -1;
}
