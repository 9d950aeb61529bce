/*
 * bridge_loop.c - the bridge's main loop: switching rounds, adaptive
 * busy-polling, and sleeping on our doorbells, the servers' sockets and
 * the signals (one epoll set) with a timeout for the housekeeping tick.
 *
 * Busy-polling: after the last frame we keep polling the rings for a
 * while instead of sleeping.  The window doubles (up to SPIN_MAX_US) when
 * a frame arrives during it, so bursty traffic never pays for a doorbell,
 * and halves (down to SPIN_MIN_US) when it runs out idle.  Only then do
 * we set the rings' need-wakeup flags and sleep; endpoints ring our
 * doorbell only while those flags are set.
 *
 * A frame held back for a full destination ring (bridge_switch.c) needs
 * another look once the NIC has read some of it, and NICs ring no
 * doorbell for that: we are the RX producer.  So while a frame waits we
 * sleep in naps of NAP_MIN_US doubling to NAP_MAX_US instead of a whole
 * tick; with nothing held, an idle bridge wakes only for the tick.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "mqbridge/bridge/bridge_loop.h"
#include "mqbridge/bridge/bridge_region.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/bridge/bridge_stats.h"
#include "mqbridge/bridge/bridge_switch.h"

#define SPIN_MIN_US	20
#define SPIN_MAX_US	200
#define NAP_MIN_US	50
#define NAP_MAX_US	1000
#define STATUS_MS	1000
#define MAX_EVENTS	32

/* epoll tags: the kind in the top byte, the region and vector below. */
#define TAG_SIGNAL	1u
#define TAG_SOCK	2u
#define TAG_BELL	3u
#define TAG(kind, reg, v) \
	((uint64_t)(kind) << 56 | (uint64_t)(reg) << 8 | (uint64_t)(v))

struct loop {
	int	 ep;
	int	 sigfd;
	int	 stop;
	int64_t	 next_tick, next_beat, next_status;	/* ms */
};

static int
watch(struct loop *l, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_err("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
loop_init(struct bridge *b, struct loop *l, int sigfd)
{
	struct bridge_region *r;
	unsigned int i, v;

	memset(l, 0, sizeof(*l));
	l->sigfd = sigfd;
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_err("epoll_create1: %s", strerror(errno));
		return -1;
	}
	if (watch(l, sigfd, TAG(TAG_SIGNAL, 0, 0)) == -1)
		return -1;
	for (i = 0; i < b->nreg; i++) {
		r = &b->reg[i];
		if (watch(l, r->peer.sock, TAG(TAG_SOCK, i, 0)) == -1)
			return -1;
		for (v = 0; v < r->peer.nvec; v++)
			if (watch(l, r->peer.own[v], TAG(TAG_BELL, i, v)) == -1)
				return -1;
	}
	return 0;
}

static void
on_signal(struct bridge *b, struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			stats_log(b);
			stats_write(b);
			continue;
		}
		log_info("stopping on signal %u (%s)", si.ssi_signo,
		    strsignal((int)si.ssi_signo));
		l->stop = 1;
	}
}

static void
on_sock(struct bridge *b, struct loop *l, struct bridge_region *r)
{
	bridge_region_pump(b, r);
	if (!r->joined)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, r->peer.sock, NULL);
}

/* epoll_wait with microseconds; before Linux 5.11, whole milliseconds. */
static int
wait_us(int ep, struct epoll_event *ev, int64_t us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };
	int n;

	if ((n = epoll_pwait2(ep, ev, MAX_EVENTS, &ts, NULL)) != -1 ||
	    errno != ENOSYS)
		return n;
	return epoll_wait(ep, ev, MAX_EVENTS, (int)((us + 999) / 1000));
}

/* Whatever epoll has for us within timeout_us (0: do not wait). */
static void
events(struct bridge *b, struct loop *l, int64_t timeout_us)
{
	struct epoll_event ev[MAX_EVENTS];
	unsigned int kind, reg;
	int i, n;

	n = wait_us(l->ep, ev, timeout_us);
	if (n == -1 && errno != EINTR)
		log_warn("epoll_wait: %s", strerror(errno));
	for (i = 0; i < n && !l->stop; i++) {
		kind = (unsigned int)(ev[i].data.u64 >> 56);
		reg = (unsigned int)(ev[i].data.u64 >> 8) & 0xff;
		if (kind == TAG_SIGNAL)
			on_signal(b, l);
		else if (kind == TAG_SOCK)
			on_sock(b, l, &b->reg[reg]);
		else
			ivpeer_take(&b->reg[reg].peer,
			    (unsigned int)(ev[i].data.u64 & 0xff));
	}
}

/* Slot states, reclaim, heartbeats, servers, status: every tick. */
static void
housekeeping(struct bridge *b, struct loop *l, int64_t ms)
{
	unsigned int i;

	l->next_tick = ms + BRIDGE_TICK_MS;
	events(b, l, 0);
	for (i = 0; i < b->nreg; i++)
		bridge_region_check(b, &b->reg[i]);
	for (i = 0; i < b->nports; i++)
		port_tick(b, b->ports[i], ms);
	if (ms >= l->next_beat) {
		l->next_beat = ms + BRIDGE_BEAT_MS;
		for (i = 0; i < b->nports; i++)
			port_beat(b->ports[i]);
	}
	if (ms >= l->next_status) {
		l->next_status = ms + STATUS_MS;
		stats_write(b);
	}
}

static void
sleep_once(struct bridge *b, struct loop *l, int64_t *nap)
{
	int64_t left = l->next_tick * 1000 - clock_us();

	if (b->waiting > 0) {
		if (left > *nap)
			left = *nap;
		if (*nap < NAP_MAX_US)
			*nap *= 2;
	}
	if (switch_arm(b, 1) == 0)
		events(b, l, left > 0 ? left : 0);
	switch_arm(b, 0);
}

int
bridge_run(struct bridge *b, int sigfd)
{
	struct loop l;
	int64_t now, last = 0, spin = SPIN_MIN_US, nap = NAP_MIN_US;
	int woke = 0;

	if (loop_init(b, &l, sigfd) == -1) {
		if (l.ep != -1)
			close(l.ep);
		return 1;
	}
	while (!l.stop) {
		if (switch_round(b) > 0) {
			/* Found by polling, not by a doorbell: poll longer. */
			if (!woke && spin < SPIN_MAX_US)
				spin *= 2;
			woke = 0;
			nap = NAP_MIN_US;
			last = clock_us();
		}
		now = clock_us();
		if (now / 1000 >= l.next_tick)
			housekeeping(b, &l, now / 1000);
		if (now - last < spin)
			continue;
		if (spin > SPIN_MIN_US)
			spin /= 2;		/* the window ran out idle */
		sleep_once(b, &l, &nap);
		woke = 1;
		last = clock_us();
	}
	close(l.ep);
	return 0;
}
