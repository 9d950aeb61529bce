/*
 * mqnic.c - the NIC endpoint of mqbridge: one TAP device on this host or
 * guest, one slot of the NIC area, frames between them.
 *
 * This file owns the process: start-up in order (attach, area, slot,
 * TAP), the loop and its timing, signals, and leaving the slot free on
 * the way out.  The loop busy-polls for a while after the last frame,
 * then sleeps: on the TAP, our doorbell and the server's socket when we
 * are a server's peer; in a guest, where no doorbell reaches us, on the
 * TAP with a timeout that grows while nothing comes.  Every 100 ms it
 * beats the heartbeat, follows the bridge's state and checks that the
 * slot is still ours.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sigfd.h"
#include "mqbridge/nic/nic_attach.h"
#include "mqbridge/nic/nic_link.h"
#include "mqbridge/nic/nic_opts.h"
#include "mqbridge/nic/nic_ivshmem.h"
#include "mqbridge/nic/nic_tap.h"

#define TICK_NS		100000000LL	/* heartbeat and state */
#define SPIN_NS		100000LL	/* busy-poll after a frame */
#define NAP_MIN_NS	20000LL		/* guest polling: first nap */
#define NAP_GUEST_NS	1000000LL	/* guest polling: longest nap */
#define NAP_FULL_NS	10000000LL	/* TX ring full: longest nap */

struct nic {
	struct nic_opts	 o;
	struct nic_ivshmem dev;
	struct nic_slot	 slot;
	struct nic_tap	 tap;
	struct nic_link	 link;
	int		 attached;
	int		 have_tap;
	int		 rc;		/* exit status */
};

static int sigfd = -1;
static int stopping;

/* ---- Signals --------------------------------------------------------- */

static void
signals_init(void)
{
	/* Blocked everywhere, read from the loop: no handler races. */
	sigfd = sigfd_open(SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0);
}

/* Take pending signals; 1 once a stop signal came. */
static int
signals_take(const struct nic *n)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			if (n != NULL)
				nic_link_report(&n->link);
		} else if (!stopping) {
			log_info("stopping on %s",
			    strsignal((int)si.ssi_signo));
			stopping = 1;
		}
	}
	return stopping;
}

static int
stop_requested(void)
{
	return signals_take(NULL);
}

/* ---- Start-up -------------------------------------------------------- */

static int64_t
deadline(const struct nic *n)
{
	return nic_now_ns() + (int64_t)n->o.wait_s * 1000000000LL;
}

/* Area, slot, link; the TAP only once.  0, 1 on error, 2 if stopped. */
static int
session_start(struct nic *n)
{
	char err[512];
	int rc;

	rc = nic_attach(&n->slot, n->dev.region_fd, n->dev.region_size,
	    n->o.offset, deadline(n), stop_requested, err, sizeof(err));
	if (rc == 0) {
		n->attached = 1;
		rc = nic_claim(&n->slot, n->o.mac, n->dev.id, deadline(n),
		    stop_requested, err, sizeof(err));
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
	nic_link_init(&n->link, &n->slot.a, n->slot.slot, &n->dev, &n->tap);
	log_info("mqnic ready: slot %u tap %s mac %s", n->slot.slot,
	    n->tap.name, n->o.macstr);
	return 0;
}

static void
session_end(struct nic *n, enum nic_hold hold)
{
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

/* The slot lost or the area reformatted under us: start over. */
static int
recover(struct nic *n, enum nic_hold hold)
{
	if (hold == NIC_LOST)
		log_warn("slot %u was reclaimed by the bridge (were we "
		    "stopped?); claiming a slot again", n->slot.slot);
	else
		log_warn("the NIC area was reformatted or damaged; attaching "
		    "again");
	session_end(n, hold);
	return session_start(n);
}

static int
tick(struct nic *n)
{
	enum nic_hold hold;
	int rc;

	if (signals_take(n))
		return 2;
	if ((hold = nic_slot_check(&n->slot)) != NIC_HELD &&
	    (rc = recover(n, hold)) != 0)
		return rc;
	nic_beat(&n->slot);
	nic_ivshmem_pump(&n->dev);
	nic_link_step(&n->link);
	return 0;
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Sleep until something happens or timeout_ns passes. */
static void
sleep_once(struct nic *n, int64_t timeout_ns, int64_t *nap)
{
	struct pollfd pfd[4];
	struct timespec ts;
	int bell = nic_ivshmem_bell_fd(&n->dev), k = 0, ib = -1, is = -1;
	int running = nic_link_running(&n->link);

	if (running && bell != -1 && nic_link_arm(&n->link))
		return;
	if (running && (bell == -1 || n->link.tx_full)) {
		/* Polling: for the guest's RX ring, or for TX space. */
		timeout_ns = min64(timeout_ns, *nap);
		*nap = min64(*nap * 2, n->link.tx_full ? NAP_FULL_NS :
		    NAP_GUEST_NS);
	}
	pfd[k++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
	if (!n->link.tx_full)
		pfd[k++] = (struct pollfd){ .fd = n->tap.fd, .events = POLLIN };
	if (running && bell != -1) {
		ib = k;
		pfd[k++] = (struct pollfd){ .fd = bell, .events = POLLIN };
	}
	if (nic_ivshmem_server_fd(&n->dev) != -1) {
		is = k;
		pfd[k++] = (struct pollfd){ .fd = nic_ivshmem_server_fd(&n->dev),
		    .events = POLLIN };
	}
	ts.tv_sec = timeout_ns / 1000000000LL;
	ts.tv_nsec = timeout_ns % 1000000000LL;
	if (ppoll(pfd, (nfds_t)k, &ts, NULL) > 0) {
		if (ib != -1 && (pfd[ib].revents & POLLIN))
			(void)nic_ivshmem_take(&n->dev);
		if (is != -1 && pfd[is].revents != 0)
			nic_ivshmem_pump(&n->dev);
	}
	nic_link_disarm(&n->link);
}

static int
run(struct nic *n)
{
	int64_t now, next_tick = 0, last_work = 0, nap = NAP_MIN_NS;
	int rc;

	for (;;) {
		now = nic_now_ns();
		if (now >= next_tick) {
			if ((rc = tick(n)) != 0)
				return rc;
			next_tick = now + TICK_NS;
		}
		if (nic_link_pump(&n->link) > 0) {
			last_work = now;
			nap = NAP_MIN_NS;
			continue;
		}
		if (n->link.tap_dead)
			return 1;
		if (nic_link_running(&n->link) && now - last_work < SPIN_NS)
			continue;
		sleep_once(n, next_tick - now, &nap);
	}
}

int
main(int argc, char **argv)
{
	struct nic n;
	char err[512];
	int rc;

	memset(&n, 0, sizeof(n));
	log_init("mqnic", 0, 0);
	nic_opts_parse(argc, argv, &n.o);
	log_init("mqnic", n.o.verbosity, 0);
	signals_init();
	if (nic_ivshmem_open(&n.dev, &n.o, 10000, err, sizeof(err)) == -1) {
		nic_ivshmem_close(&n.dev);
		fatal("%s", err);
	}
	rc = session_start(&n);
	if (rc == 0)
		rc = run(&n);
	if (n.have_tap)
		nic_link_report(&n.link);
	session_end(&n, n.slot.token != 0 ? nic_slot_check(&n.slot) :
	    NIC_LOST);
	if (n.have_tap)
		nic_tap_close(&n.tap);
	nic_ivshmem_close(&n.dev);
	close(sigfd);
	return rc == 2 ? 0 : rc;
}
