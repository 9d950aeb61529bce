/*
 * mqnic.c - the NIC endpoint of mqbridge: one TAP device on this host or
 * guest, one slot of the NIC area, frames between them.
 *
 * This file owns the process: start-up in order (attach, area, slot,
 * TAP), the loop and its timing, signals, and leaving the slot free on
 * the way out.  Everything waits on the one event loop (lib/evloop.h):
 * the signals, the TAP, our doorbell and the server's socket are its
 * handles, and a timer ticks every 100 ms to beat the heartbeat, follow
 * the bridge's state, check that the slot is still ours, and join a
 * restarted server again.
 *
 * The loop busy-polls for a while after the last frame (--busy-poll: the
 * window grows while polling finds frames and shrinks while it finds
 * none), then sleeps: with the need-wakeup flag up when a doorbell can
 * reach us (a server's peer); in a guest, where none can, in naps that
 * grow while nothing comes.  While the bridge lags (our TX ring full) the
 * TAP is left unread, so that the kernel holds the sender back, and we
 * sleep until the bridge rings us for the room it made (RING_F_SPACE), or
 * in naps with a bridge that does not offer that.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/evloop.h"
#include "lib/log.h"
#include "lib/mapguard.h"
#include "lib/proc.h"
#include "lib/sigfd.h"
#include "lib/status.h"
#include "lib/svc.h"
#include "mqbridge/nic/nic_attach.h"
#include "mqbridge/nic/nic_link.h"
#include "mqbridge/nic/nic_opts.h"
#include "mqbridge/nic/nic_ivshmem.h"
#include "mqbridge/nic/nic_status.h"
#include "mqbridge/nic/nic_tap.h"

#define TICK_US		100000		/* heartbeat and state */
#define STATUS_US	1000000		/* status files */
#define SPIN_MIN_US	5		/* the busy-poll window's floor */
#define NAP_MIN_US	20		/* guest polling: first nap */
#define NAP_GUEST_US	1000		/* guest polling: longest nap */
#define NAP_FULL_US	1000		/* TX ring full, a bridge that will
					 * not ring us for room: longest nap */

struct nic {
	struct nic_opts	 o;
	struct nic_ivshmem dev;
	struct nic_slot	 slot;
	struct nic_tap	 tap;
	struct nic_link	 link;
	int		 attached;
	int		 have_tap;
	int		 stopping;	/* a stop signal came */
	enum nic_hold	 lost;		/* the tick found the slot not ours */
	struct evloop	 loop;
	int		 sigfd;
	struct ev_io	 sig_io, tap_io, bell_io, sock_io;
	struct ev_timer	 tick, status;
	struct status_file st_text, st_prom;
};

/* ---- Handles --------------------------------------------------------- */

static void
write_status(struct nic *n)
{
	struct nic_status s = {
		.macstr = n->o.macstr,
		.tap = n->have_tap ? n->tap.name : NULL,
		.slot = n->slot.slot,
		.peer = n->dev.id,
		.server_up = nic_ivshmem_server_fd(&n->dev) != -1,
		.link = n->have_tap ? &n->link : NULL,
	};

	nic_status_write(&n->st_text, &s);
	nic_status_write(&n->st_prom, &s);
}

static void
on_status(struct evloop *l, struct ev_timer *t)
{
	struct nic *n = t->arg;

	ev_timer_start(l, t, STATUS_US, on_status, n);
	write_status(n);
}

static void
on_signal(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct nic *n = io->arg;
	struct signalfd_siginfo si;

	(void)l;
	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			if (n->have_tap)
				nic_link_report(&n->link);
			write_status(n);
		} else if (!n->stopping) {
			log_info("stopping on %s",
			    strsignal((int)si.ssi_signo));
			(void)svc_notify("STOPPING=1");
			n->stopping = 1;
		}
	}
}

/* The TAP and our doorbell only wake us: the loop's pump does the rest. */
static void
on_wake(struct evloop *l, struct ev_io *io, uint32_t events)
{
	(void)l;
	(void)io;
	(void)events;
}

static void
on_bell(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct nic *n = io->arg;

	(void)l;
	(void)events;
	(void)nic_ivshmem_take(&n->dev);
}

static void
on_sock(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct nic *n = io->arg;

	(void)events;
	nic_ivshmem_pump(&n->dev);
	if (nic_ivshmem_server_fd(&n->dev) == -1)
		ev_io_stop(l, io);
}

static void watch(struct nic *, struct ev_io *, int, ev_io_fn *);

/* A restarted server: its eventfds replace the dead one's, and the
 * bridge learns our new ID from the slot. */
static void
rejoin(struct nic *n)
{
	struct ivpeer np;

	if (nic_ivshmem_reconnect(&n->dev, &n->o, clock_ms(), &np) != 1)
		return;
	/* Out of epoll before they close: the old doorbell lives on in
	 * other processes, and epoll would keep watching it for us. */
	ev_io_stop(&n->loop, &n->bell_io);
	ev_io_stop(&n->loop, &n->sock_io);
	nic_ivshmem_adopt(&n->dev, &np);
	watch(n, &n->bell_io, nic_ivshmem_bell_fd(&n->dev), on_bell);
	watch(n, &n->sock_io, nic_ivshmem_server_fd(&n->dev), on_sock);
	nic_reident(&n->slot, n->dev.id, n->o.mac);
}

static void
on_tick(struct evloop *l, struct ev_timer *t)
{
	struct nic *n = t->arg;

	ev_timer_start(l, t, TICK_US, on_tick, n);
	rejoin(n);
	if (n->lost != NIC_HELD)
		return;
	n->lost = nic_slot_check(&n->slot);
	/* The check itself may be the touch that found the file short. */
	if (nic_area_dead(&n->slot))
		n->lost = NIC_DEAD;
	if (n->lost != NIC_HELD)
		return;
	nic_beat(&n->slot);
	nic_link_step(&n->link);
}

static void
turn(struct nic *n, int64_t max_us)
{
	if (ev_run_once(&n->loop, max_us) == -1)
		log_warn("epoll_wait: %s", strerror(errno));
}

/* The TAP is watched unless our TX ring is full (or we are not up). */
static void
watch_tap(struct nic *n, int on)
{
	if (on && !n->tap_io.active &&
	    ev_io_start(&n->loop, &n->tap_io, n->tap.fd, EPOLLIN, on_wake,
	    n) == -1)
		log_warn("cannot watch TAP %s: %s", n->tap.name,
		    strerror(errno));
	if (!on)
		ev_io_stop(&n->loop, &n->tap_io);
}

static void
watch(struct nic *n, struct ev_io *io, int fd, ev_io_fn *fn)
{
	if (fd != -1 && ev_io_start(&n->loop, io, fd, EPOLLIN, fn, n) == -1)
		fatal("cannot watch descriptor %d: %s", fd, strerror(errno));
}

/* ---- Start-up -------------------------------------------------------- */

/* nic_attach() and nic_claim() wait on the loop, so signals and the
 * server's news are served meanwhile. */
static int
wait_turn(void *arg, int64_t us)
{
	struct nic *n = arg;
	int64_t until = clock_us() + us;

	while (!n->stopping && clock_us() < until)
		turn(n, until - clock_us());
	return n->stopping;
}

static int64_t
deadline(const struct nic *n)
{
	return clock_us() + (int64_t)n->o.wait_s * 1000000;
}

/* Area, slot, link; the TAP only once.  0, 1 on error, 2 if stopped. */
static int
session_start(struct nic *n)
{
	char err[512];
	int rc;

	rc = nic_attach(&n->slot, n->dev.region_fd, n->o.offset, deadline(n),
	    wait_turn, n, err, sizeof(err));
	if (rc == 0) {
		n->attached = 1;
		rc = nic_claim(&n->slot, n->o.mac, n->dev.id, RING_F_SPACE |
		    (n->o.offload ? RING_F_VNET : 0), deadline(n), wait_turn,
		    n, err, sizeof(err));
	}
	if (rc == -2)
		return 2;
	if (rc != 0) {
		log_err("%s", err);
		return 1;
	}
	if (!n->have_tap) {
		if (nic_tap_open(&n->tap, n->o.tap, n->o.mac,
		    n->slot.a.geom.p.mtu, err, sizeof(err)) == -1) {
			log_err("%s", err);
			return 1;
		}
		n->have_tap = 1;
	} else if (nic_tap_mtu(&n->tap, n->slot.a.geom.p.mtu, err,
	    sizeof(err)) == -1)
		log_warn("%s", err);
	nic_link_init(&n->link, &n->slot.a, n->slot.slot, n->slot.features,
	    &n->dev, &n->tap);
	n->lost = NIC_HELD;
	watch_tap(n, 1);
	ev_timer_start(&n->loop, &n->tick, 0, on_tick, n);
	log_info("mqnic ready: slot %u tap %s mac %s", n->slot.slot,
	    n->tap.name, n->o.macstr);
	(void)svc_notify("READY=1\nSTATUS=slot %u tap %s mac %s",
	    n->slot.slot, n->tap.name, n->o.macstr);
	return 0;
}

static void
session_end(struct nic *n, enum nic_hold hold)
{
	ev_timer_stop(&n->loop, &n->tick);
	if (n->have_tap)
		watch_tap(n, 0);
	if (n->slot.token != 0)
		nic_link_down(&n->link, hold == NIC_HELD);
	if (hold == NIC_HELD)
		nic_release(&n->slot);
	else
		nic_forget(&n->slot);
	if (n->attached)
		nic_detach(&n->slot);
	n->attached = 0;
}

/* ---- The loop -------------------------------------------------------- */

/* The slot lost, the area reformatted or truncated under us: start over. */
static int
recover(struct nic *n, enum nic_hold hold)
{
	if (hold == NIC_LOST)
		log_warn("slot %u was reclaimed by the bridge (were we "
		    "stopped?); claiming a slot again", n->slot.slot);
	else if (hold == NIC_DEAD)
		log_warn("the region's file shrank under the NIC area "
		    "(someone truncated it); the link is down, attaching "
		    "again once it is back (waiting up to %u s)", n->o.wait_s);
	else
		log_warn("the NIC area was reformatted or damaged; attaching "
		    "again");
	session_end(n, hold);
	return session_start(n);
}

/* Ask for a doorbell, or nap, and sleep until something happens. */
static void
sleep_once(struct nic *n, int64_t *nap)
{
	int bell = nic_ivshmem_bell_fd(&n->dev) != -1;
	int running = nic_link_running(&n->link);
	int64_t max_us = -1;
	int room = 0;

	if (running && bell && nic_link_arm(&n->link))
		return;
	if (running && bell && n->link.tx_full &&
	    (room = nic_link_arm_room(&n->link)) == 1)
		return;
	if (running && (!bell || room == -1)) {
		/* Polling: for the guest's RX ring, or for TX space. */
		max_us = *nap;
		*nap *= 2;
		if (*nap > (n->link.tx_full ? NAP_FULL_US : NAP_GUEST_US))
			*nap = n->link.tx_full ? NAP_FULL_US : NAP_GUEST_US;
	}
	watch_tap(n, !n->link.tx_full);
	turn(n, max_us);
	nic_link_disarm(&n->link);
}

/*
 * The busy-poll window: after a sleep that a frame ended, poll longer
 * next time (up to --busy-poll); after a window that ran out idle,
 * shorter.  The TAP is read at each turn, the rings are memory.
 */
static int
run(struct nic *n)
{
	int64_t last_work = 0, nap = NAP_MIN_US;
	int64_t spin = n->o.busy_poll_us, max = n->o.busy_poll_us;
	int rc, woke = 0;

	for (;;) {
		if (n->stopping)
			return 2;
		if (n->lost == NIC_HELD && nic_area_dead(&n->slot))
			n->lost = NIC_DEAD;
		if (n->lost != NIC_HELD && (rc = recover(n, n->lost)) != 0)
			return rc;
		if (nic_link_pump(&n->link) > 0) {
			last_work = clock_us();
			nap = NAP_MIN_US;
			if (!woke && spin < max)
				spin = spin * 2 > max ? max : spin * 2;
			woke = 0;
		} else if (n->link.tap_dead)
			return 1;
		else if (!nic_link_running(&n->link) ||
		    clock_us() - last_work >= spin) {
			if (spin > SPIN_MIN_US && nic_link_running(&n->link))
				spin /= 2;	/* the window ran out idle */
			sleep_once(n, &nap);
			last_work = clock_us();
			woke = 1;
			continue;
		}
		if (ev_timer_left(&n->loop) == 0)
			turn(n, 0);
	}
}

static void
loop_init(struct nic *n)
{
	if (ev_init(&n->loop) == -1)
		fatal("epoll_create1: %s", strerror(errno));
	/* Blocked everywhere, read from the loop: no handler races. */
	n->sigfd = sigfd_open(SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0);
	watch(n, &n->sig_io, n->sigfd, on_signal);
	svc_watchdog_start(&n->loop);
	n->st_text = (struct status_file){ n->o.status, STATUS_TEXT, 0 };
	n->st_prom = (struct status_file){ n->o.status_prom, STATUS_PROM, 0 };
	if (n->o.status != NULL || n->o.status_prom != NULL)
		ev_timer_start(&n->loop, &n->status, 0, on_status, n);
}

int
main(int argc, char **argv)
{
	static struct nic n;
	char err[512];
	int rc;

	log_init("mqnic", 0, 0);
	nic_opts_parse(argc, argv, &n.o);
	log_init("mqnic", n.o.verbosity, n.o.syslog);
	/* The server hands us one eventfd per peer and vector. */
	proc_raise_nofile();
	loop_init(&n);
	if (nic_ivshmem_open(&n.dev, &n.o, 10000, err, sizeof(err)) == -1) {
		nic_ivshmem_close(&n.dev);
		fatal("%s", err);
	}
	watch(&n, &n.bell_io, nic_ivshmem_bell_fd(&n.dev), on_bell);
	watch(&n, &n.sock_io, nic_ivshmem_server_fd(&n.dev), on_sock);
	rc = session_start(&n);
	if (rc == 0)
		rc = run(&n);
	if (n.have_tap)
		nic_link_report(&n.link);
	session_end(&n, n.slot.token == 0 ? NIC_LOST : nic_area_dead(&n.slot) ?
	    NIC_DEAD : nic_slot_check(&n.slot));
	if (n.have_tap)
		nic_tap_close(&n.tap);
	nic_ivshmem_close(&n.dev);
	ev_free(&n.loop);
	close(n.sigfd);
	return rc == 2 ? 0 : rc;
}
