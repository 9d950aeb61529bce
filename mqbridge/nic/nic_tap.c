/*
 * nic_tap.c - create and configure the TAP device with the tun driver's
 * and the interface ioctls; no netlink, no external tools, so that a
 * static mqnic in a busybox guest needs nothing else.
 *
 * The device is not persistent: it disappears with our descriptor, even
 * after a crash, so nothing is left to clean up.
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
	struct ifreq ifr;

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd == -1)
		return errbuf(err, len, "cannot open /dev/net/tun: %s; load the "
		    "tun module (modprobe tun) or run as root",
		    strerror(errno));
	ifr_init(&ifr, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(t->fd, TUNSETIFF, &ifr) == -1)
		return errbuf(err, len, "cannot create TAP %s: %s; %s", name,
		    strerror(errno), tunsetiff_fix(errno));
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
