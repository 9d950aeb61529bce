/*
 * bridge_loop.c - the bridge's main loop on the one event loop
 * (lib/evloop.h): switching rounds, adaptive busy-polling, and sleeping
 * on our doorbells, the servers' sockets and the signals, with timers for
 * the housekeeping tick, our heartbeat and the status file.
 *
 * Busy-polling: after the last frame we keep polling the rings for a
 * while instead of sleeping.  The window doubles (up to --busy-poll) when
 * a frame arrives during it, so bursty traffic never pays for a doorbell,
 * and halves (down to SPIN_MIN_US) when it runs out idle.  Only then do
 * we set the rings' need-wakeup flags and sleep; endpoints ring our
 * doorbell only while those flags are set.  While polling, the loop reads
 * the clock once every CLOCK_EVERY idle polls, and turns the event loop
 * only when a timer is due, so a spin costs no system call.
 *
 * A frame held back for a full destination ring (bridge_switch.c) needs
 * another look once the NIC has read some of it.  A NIC that announced
 * RING_F_SPACE rings us for that when we ask; for the others (and the
 * broker's port) we sleep in naps of NAP_MIN_US doubling to NAP_MAX_US
 * instead of a whole tick.  With nothing held, an idle bridge wakes only
 * for its timers.
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
#include "lib/mapguard.h"
#include "lib/svc.h"
#include "mqbridge/bridge/bridge_loop.h"
#include "mqbridge/bridge/bridge_region.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/bridge/bridge_stats.h"
#include "mqbridge/bridge/bridge_switch.h"
#include "mqbridge/bridge/bridge_uplink.h"

#define SPIN_MIN_US	5
#define CLOCK_EVERY	32	/* idle polls per clock read */
#define NAP_MIN_US	50
#define NAP_MAX_US	1000
#define STATUS_MS	1000

static void
on_signal(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct bridge *b = io->arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			stats_log(b);
			stats_write(b);
			continue;
		}
		log_info("stopping on signal %u (%s)", si.ssi_signo,
		    strsignal((int)si.ssi_signo));
		ev_stop(l);
	}
}

/* Slot states, reclaim, regions: every tick. */
static void
on_tick(struct evloop *l, struct ev_timer *t)
{
	struct bridge *b = t->arg;
	int64_t ms = clock_ms();
	unsigned int i;

	ev_timer_start(l, t, BRIDGE_TICK_MS * 1000, on_tick, b);
	for (i = 0; i < b->nreg; i++)
		bridge_region_check(b, &b->reg[i], ms);
	for (i = 0; i < b->nports; i++)
		port_tick(b, b->ports[i], ms);
	bridge_uplink_tick(b, ms);
	switch_room_tick(b);
}

static void
on_beat(struct evloop *l, struct ev_timer *t)
{
	struct bridge *b = t->arg;
	unsigned int i;

	ev_timer_start(l, t, BRIDGE_BEAT_MS * 1000, on_beat, b);
	for (i = 0; i < b->nports; i++)
		port_beat(b->ports[i]);
}

static void
on_status(struct evloop *l, struct ev_timer *t)
{
	struct bridge *b = t->arg;

	ev_timer_start(l, t, STATUS_MS * 1000, on_status, b);
	stats_write(b);
}

static int
watch(struct bridge *b, struct ev_io *io, int fd, ev_io_fn *fn, void *arg)
{
	if (ev_io_start(&b->loop, io, fd, EPOLLIN, fn, arg) == 0)
		return 0;
	log_err("cannot watch descriptor %d: %s", fd, strerror(errno));
	return -1;
}

static int
loop_init(struct bridge *b, int sigfd)
{
	unsigned int i;

	if (ev_init(&b->loop) == -1) {
		log_err("epoll_create1: %s", strerror(errno));
		return -1;
	}
	b->sigfd = sigfd;
	if (watch(b, &b->sig_io, sigfd, on_signal, b) == -1)
		return -1;
	for (i = 0; i < b->nreg; i++)
		if (bridge_region_watch(b, &b->reg[i]) == -1)
			return -1;
	if (bridge_uplink_start(b) == -1)
		return -1;
	ev_timer_start(&b->loop, &b->tick, 0, on_tick, b);
	ev_timer_start(&b->loop, &b->beat, 0, on_beat, b);
	ev_timer_start(&b->loop, &b->status, 0, on_status, b);
	svc_watchdog_start(&b->loop);
	return 0;
}

static void
turn(struct bridge *b, int64_t max_us)
{
	if (ev_run_once(&b->loop, max_us) == -1)
		log_warn("epoll_wait: %s", strerror(errno));
}

/* Set the need-wakeup flags and sleep until a doorbell, a descriptor or
 * the next timer; while a frame is held for a destination that will not
 * ring us for room, no longer than a nap. */
static void
sleep_once(struct bridge *b, int64_t *nap)
{
	int64_t max_us = -1;
	int need_nap;

	if (switch_arm(b, 1, &need_nap) == 0) {
		if (b->waiting > 0 && need_nap) {
			max_us = *nap;
			if (*nap < NAP_MAX_US)
				*nap *= 2;
		}
		turn(b, max_us);
	}
	switch_arm(b, 0, &need_nap);
}

/* Spin on the rings until a frame comes or the window ends: 1 if frames
 * came.  The clock is read every CLOCK_EVERY empty rounds only. */
static int
spin(struct bridge *b, int64_t until_us)
{
	unsigned int idle = 0;

	while (!b->loop.stop) {
		if (switch_round(b) > 0)
			return 1;
		if (++idle % CLOCK_EVERY != 0)
			continue;
		if (mapguard_deaths() != b->deaths)
			return 0;
		if (ev_timer_left(&b->loop) == 0)
			turn(b, 0);
		if (clock_us() >= until_us)
			return 0;
	}
	return 0;
}

int
bridge_run(struct bridge *b, int sigfd)
{
	int64_t window = b->opt.busy_poll_us, nap = NAP_MIN_US;
	int64_t max = b->opt.busy_poll_us;

	if (loop_init(b, sigfd) == -1) {
		ev_free(&b->loop);
		return 1;
	}
	while (!b->loop.stop) {
		/* A region truncated under us: out before it is read. */
		if (mapguard_deaths() != b->deaths)
			bridge_regions_dead(b);
		/* Work found on waking: go on while there is more. */
		if (switch_round(b) > 0) {
			nap = NAP_MIN_US;
			if (ev_timer_left(&b->loop) == 0)
				turn(b, 0);
			continue;
		}
		if (window > 0 && spin(b, clock_us() + window)) {
			/* Found by polling, not by a doorbell: poll longer. */
			window = window * 2 > max ? max : window * 2;
			nap = NAP_MIN_US;
			continue;
		}
		if (window > SPIN_MIN_US)
			window /= 2;		/* the window ran out idle */
		sleep_once(b, &nap);
	}
	ev_free(&b->loop);
	return 0;
}
