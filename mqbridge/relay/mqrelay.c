/*
 * mqrelay.c - the broker relay: the one process that talks to the
 * message broker for an mqbridge.
 *
 * mqbridge starts it with the uplink (a sealed memfd holding one NIC
 * slot), two private doorbells, a lifeline pipe and, if given, the open
 * --credentials file, and passes its broker options through.  It drops
 * privileges at once, maps no region and holds no server socket: the
 * broker's bytes never reach the process that maps guests' memory.
 *
 * This file owns the command line, privileges, the loop and the wiring
 * between the uplink (relay_uplink.c) and the STOMP session
 * (stomp_conn.c); relay_tx.c and relay_rx.c move the frames.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/doorbell.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/proc.h"
#include "lib/sigfd.h"
#include "mqbridge/relay/relay.h"

#define TICK_US		100000
#define STATS_TICKS	10
#define BYE_MS		2000

enum { OPT_UPLINK = 0x100, OPT_BELLS, OPT_LIFELINE, OPT_CREDFD };

static const char usage_text[] =
"usage: mqrelay --uplink FD --bells IN,OUT --lifeline FD [--credentials-fd FD]\n"
"               --broker URL [--broker URL ...] [broker options] [-v]\n"
"\n"
"The broker relay of mqbridge, which starts it with the descriptors above\n"
"and passes its broker options through (see mqbridge -h).  Not meant to\n"
"be started by hand.\n";

struct relay_args {
	int	 uplink, bell_in, bell_out, lifeline, credfd;
};

static struct relay relay;

static int
fd_arg(const char *opt, const char *arg)
{
	return (int)parse_opt_u64(opt, arg, 0, 1 << 20);
}

static void
parse(int argc, char **argv, struct relay *r, struct relay_args *a)
{
	static const struct option lo[] = {
		RELAY_LONG_OPTIONS,
		{ "uplink", required_argument, NULL, OPT_UPLINK },
		{ "bells", required_argument, NULL, OPT_BELLS },
		{ "lifeline", required_argument, NULL, OPT_LIFELINE },
		{ "credentials-fd", required_argument, NULL, OPT_CREDFD },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	a->uplink = a->bell_in = a->bell_out = a->lifeline = a->credfd = -1;
	relay_opts_init(&r->o);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hv", lo, NULL)) != -1) {
		if (relay_opts_take(&r->o, ch, optarg))
			continue;
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'v':
			r->verbosity++;
			break;
		case OPT_UPLINK:
			a->uplink = fd_arg("--uplink", optarg);
			break;
		case OPT_BELLS:
			if (sscanf(optarg, "%d,%d", &a->bell_in,
			    &a->bell_out) != 2)
				fatal("--bells %s: give IN,OUT", optarg);
			break;
		case OPT_LIFELINE:
			a->lifeline = fd_arg("--lifeline", optarg);
			break;
		case OPT_CREDFD:
			a->credfd = fd_arg("--credentials-fd", optarg);
			break;
		default:
			fatal("bad usage; mqrelay is started by mqbridge");
		}
	}
	if (a->uplink < 0 || a->bell_in < 0 || a->bell_out < 0 ||
	    a->lifeline < 0 || r->o.nbroker == 0)
		fatal("missing --uplink, --bells, --lifeline or --broker; "
		    "mqrelay is started by mqbridge");
}

/* ---- The STOMP session's callbacks ----------------------------------- */

static void
on_up(void *arg)
{
	struct relay *r = arg;

	rx_session_up(r);
	tx_session_up(r);
}

static void
on_frame(void *arg, const struct stomp_frame *f)
{
	struct relay *r = arg;

	if (strcmp(f->command, "MESSAGE") == 0)
		rx_message(r, f);
	else if (strcmp(f->command, "RECEIPT") == 0)
		tx_receipt(r, stomp_header(f, "receipt-id"));
	relay_pump(r);
}

static void
on_down(void *arg, const char *why)
{
	struct relay *r = arg;

	(void)why;
	rx_session_down(r);
	tx_session_down(r);
}

static void
on_room(void *arg)
{
	relay_pump(arg);
}

static const struct stomp_conn_ops conn_ops = {
	.up = on_up, .frame = on_frame, .down = on_down, .room = on_room
};

/* ---- Events ---------------------------------------------------------- */

static void
on_bell(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct relay *r = io->arg;

	(void)l;
	(void)events;
	(void)doorbell_take(io->fd);
	relay_pump(r);
}

static void
on_lifeline(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct relay *r = io->arg;

	(void)events;
	(void)l;
	log_info("the bridge is gone; stopping");
	r->stop = 1;
}

static void
on_tick(struct evloop *l, struct ev_timer *t)
{
	static unsigned int n;
	struct relay *r = t->arg;

	relay_pump(r);
	/* Every second, and every tick while frames move, so that the
	 * bridge's status file follows a transfer closely. */
	if (++n % STATS_TICKS == 0 || memcmp(r->st, r->st_sent,
	    sizeof(r->st)) != 0)
		uplink_stats(r);
	ev_timer_start(l, t, TICK_US, on_tick, r);
}

static struct ev_io sig_io;

static void
on_signal(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo si;
	struct relay *r = io->arg;

	(void)l;
	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info("stopping on signal %u (%s)", si.ssi_signo,
		    strsignal((int)si.ssi_signo));
		r->stop = 1;
	}
}

/* ---- Start and stop -------------------------------------------------- */

static void
ident(struct relay *r)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
		id = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	srandom((unsigned int)(id ^ id >> 32));
	r->bridge_id = id;
	snprintf(r->bridge_hex, sizeof(r->bridge_hex), "%016" PRIx64, id);
}

static void
start(struct relay *r, const struct relay_args *a, int sigfd)
{
	struct stomp_conn_cfg cfg;
	char err[256];

	if (a->credfd >= 0) {
		if (relay_credentials_read(a->credfd, r->login, r->passcode,
		    err, sizeof(err)) == -1)
			fatal("%s", err);
		close(a->credfd);
	}
	if (ev_init(&r->loop) == -1)
		fatal("epoll: %s", strerror(errno));
	if (uplink_attach(r, a->uplink, err, sizeof(err)) == -1)
		fatal("%s", err);
	close(a->uplink);
	r->bell_in = a->bell_in;
	r->bell_out = a->bell_out;
	r->lifeline = a->lifeline;
	/* Ours alone: not for an exec: broker command. */
	(void)fcntl(r->bell_in, F_SETFD, FD_CLOEXEC);
	(void)fcntl(r->bell_out, F_SETFD, FD_CLOEXEC);
	(void)fcntl(r->lifeline, F_SETFD, FD_CLOEXEC);
	if (tx_init(r) == -1 || rx_init(r) == -1)
		fatal("out of memory");
	memset(&cfg, 0, sizeof(cfg));
	cfg.brokers = r->o.broker;
	cfg.nbrokers = r->o.nbroker;
	cfg.login = r->login[0] != '\0' ? r->login : NULL;
	cfg.passcode = r->passcode;
	cfg.vhost = r->o.vhost;
	cfg.heartbeat_ms = r->o.heartbeat_ms;
	cfg.body_max = (size_t)r->o.aggregate * (2 + RING_MTU_MAX +
	    RING_FRAME_EXTRA) + 64;
	if (stomp_conn_init(&r->conn, &r->loop, &cfg, &conn_ops, r, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
	if (ev_io_start(&r->loop, &r->bell_io, r->bell_in, EPOLLIN, on_bell,
	    r) == -1 || ev_io_start(&r->loop, &r->life_io, r->lifeline,
	    EPOLLIN | EPOLLRDHUP, on_lifeline, r) == -1 ||
	    ev_io_start(&r->loop, &sig_io, sigfd, EPOLLIN, on_signal, r) == -1)
		fatal("epoll_ctl: %s", strerror(errno));
	ev_timer_start(&r->loop, &r->tick, 0, on_tick, r);
}

int
main(int argc, char **argv)
{
	struct relay *r = &relay;
	struct relay_args a;
	int sigfd;

	log_init("mqrelay", 0, 0);
	parse(argc, argv, r, &a);
	log_init("mqrelay", r->verbosity, 0);
	/* Never outlive the bridge, even if the lifeline is lost. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		fatal("the bridge is already gone");
	proc_drop_privileges(relay_opts_user(&r->o));
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	sigfd = sigfd_open(SIGTERM, SIGINT, 0);
	ident(r);
	start(r, &a, sigfd);
	log_info("relay ready: bridge %s, %u broker%s, %s mode, prefix %s",
	    r->bridge_hex, r->o.nbroker, r->o.nbroker == 1 ? "" : "s",
	    r->o.persistent ? "persistent" : "fast", r->o.prefix);
	while (!r->stop)
		if (ev_run_once(&r->loop, -1) == -1)
			break;
	stomp_conn_close(&r->conn, BYE_MS);
	uplink_stats(r);
	uplink_detach(r);
	stomp_conn_free(&r->conn);
	rx_free(r);
	tx_free(r);
	ev_free(&r->loop);
	close(sigfd);
	return 0;
}
