/*
 * mqbridge.c - the message-queue bridge: joins ivshmem servers as a
 * peer, serves the NIC slots in each region and switches Ethernet frames
 * between them.
 *
 * This file owns the command line, signals, and setting up and tearing
 * down the regions; bridge_region.c joins and formats, bridge_slot.c runs
 * each slot's state machine, bridge_switch.c moves frames,
 * bridge_loop.c polls and sleeps, bridge_stats.c counts.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/proc.h"
#include "lib/sigfd.h"
#include "lib/status.h"
#include "lib/svc.h"
#include "mqbridge/bridge/bridge_loop.h"
#include "mqbridge/bridge/bridge_region.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/bridge/bridge_stats.h"
#include "mqbridge/bridge/bridge_switch.h"
#include "mqbridge/bridge/bridge_uplink.h"

static const char usage_text[] =
"usage: mqbridge [-hv] -p SOCKET [-p SOCKET ...] [-n VECTORS] [--slots N]\n"
"                [--mtu N] [--ring N] [--offset BYTES] [--force-format]\n"
"                [--status FILE] [--reclaim SECONDS] [--budget FRAMES]\n"
"                [--full-wait MS] [--busy-poll US] [--syslog]\n"
"                [--broker URL ...] [broker options]\n"
"\n"
"Switch Ethernet frames between the NIC slots of ivshmem regions.  The\n"
"bridge joins each server as a peer, formats the NIC area of its region\n"
"the first time (later starts resume from the indices stored there, so\n"
"frames queued while it was down are delivered), and forwards frames\n"
"between the slots that mqnic endpoints or guests claim.  With --broker,\n"
"frames for MACs no slot here has go to a message broker (STOMP 1.2),\n"
"which brings them to the bridge of the host that has them: see\n"
"docs/broker-format.md.  An unprivileged relay process (mqrelay) talks\n"
"to the broker; the bridge starts it, and again if it dies.\n"
"\n"
"  -p SOCKET         a tm_ivshmem_server socket; repeat for more regions\n"
"                    (frames are switched across all of them)\n"
"  -n VECTORS        doorbell vectors per peer: the server's -n (1)\n"
"  --slots N         slots in a new NIC area, 1-65536 (4)\n"
"  --mtu N           MTU of a new area, 68-9216 (1500)\n"
"  --ring N          descriptors per ring, a power of two 2-32768 (256)\n"
"  --offset BYTES    where the NIC area starts in each region, a multiple\n"
"                    of 4096; K/M/G suffixes (0)\n"
"  --force-format    format the area even if it holds one: drops every\n"
"                    queued frame and every slot claim\n"
"  --status FILE     rewrite FILE every second and on SIGUSR1 (atomically);\n"
"                    a FILE ending in .prom gets Prometheus' text format\n"
"                    (node_exporter's textfile collector); give --status\n"
"                    twice for both\n"
"  --reclaim SECONDS free a claimed slot whose owner's heartbeat stood\n"
"                    still this long and whose ivshmem peer has left the\n"
"                    server (or never was on it): a paused VM keeps its\n"
"                    slot, 1-86400 (3)\n"
"  --budget FRAMES   frames taken from one slot per round, so a busy slot\n"
"                    cannot starve the others, 1-65536 (64)\n"
"  --full-wait MS    how long a frame for a full destination ring waits\n"
"                    in its sender's ring (with the frames behind it) for\n"
"                    the destination to make room before it is dropped;\n"
"                    0 drops at once, 0-60000 (100)\n"
"  --busy-poll US    after the last frame, keep polling the rings for up\n"
"                    to US microseconds before sleeping (the window adapts:\n"
"                    longer while polling finds frames, shorter while it\n"
"                    does not); 0 sleeps at once, 0-1000000 (50)\n"
"  --relay-path PATH the mqrelay to run (the one beside mqbridge)\n"
"  --syslog          log to syslog (facility daemon), and have the relay\n"
"                    do so too, instead of stderr\n"
"  -v                log more (slot state changes, peers)\n"
"  -h                this help\n"
"\n"
"Forwarding: a unicast frame goes to the running slot whose MAC is its\n"
"destination; broadcast and multicast go to every other running slot.\n"
"Dropped and counted: a frame whose source MAC is not its slot's MAC\n"
"(spoofed), unicast to a MAC no slot has (unknown), to the sender itself\n"
"(hairpin), too long for the destination (too_big), for a destination\n"
"ring that stayed full for --full-wait (full), and frames lost when a\n"
"corrupt ring is reset (corrupt).  Until then a frame for a full ring\n"
"stays queued in its sender's ring; other slots keep flowing.  Broadcast\n"
"and multicast wait until every destination has room (or --full-wait\n"
"passes for those that have none), and reach each destination once.\n"
"A slot whose ring or control words are corrupt is logged and reset;\n"
"the other slots carry on.\n"
"\n"
"Isolation: every guest maps all of its region, so the slots of one\n"
"region are not isolated from each other.  Give each trust domain a\n"
"region (a server) of its own; the bridge switches between regions and\n"
"keeps them apart.  A region it cannot serve (a header it does not\n"
"accept, a file too small or truncated) stops its own slots only and\n"
"is tried again every second.\n"
"\n"
"Status file, one record per line:\n"
"  pid PID\n"
"  uptime SECONDS\n"
"  slot R.S state reset|init|ready|run mac MAC|- peer ID|- in_frames N\n"
"       in_bytes N out_frames N out_bytes N drops N resets N reclaims N\n"
"       to_broker_frames N to_broker_bytes N from_broker_frames N\n"
"       from_broker_bytes N\n"
"       (R: the -p index from 0; S: the slot; in = from the slot's\n"
"       endpoint, out = to it; to_broker counts its in that went to the\n"
"       broker, from_broker its out that came from it)\n"
"  relay pid PID|-1 port run|down mode fast|persistent waiting N\n"
"       connected 0|1 sessions N sent_frames N sent_bytes N\n"
"       sent_messages N unreceipted N recv_frames N recv_bytes N\n"
"       recv_messages N redelivered N duplicates N refused_full N\n"
"       returned N dropped N broker_errors N failures N conflicts N\n"
"       (with --broker; waiting: frames held in their slots until the\n"
"       broker receipts them; the rest is the relay's last report)\n"
"  drop REASON N      for each reason above\n"
"  total in_frames N in_bytes N out_frames N out_bytes N drops N\n"
"\n"
"Signals: SIGUSR1 logs the counters and rewrites the status file;\n"
"SIGTERM and SIGINT stop the bridge (exit 0).  The slots stay as they\n"
"are, so endpoints keep queueing until the bridge is back.\n"
"Under systemd (Type=notify): READY=1 once serving, STATUS= as slots come\n"
"and go, STOPPING=1, and WATCHDOG=1 at half of WATCHDOG_USEC; on stderr\n"
"the journal gets each line's priority.\n"
"Logs \"bridge ready: ...\" once serving.  Exit status: 0 on a\n"
"signal, 1 on bad usage, when a server cannot be joined, or when no\n"
"region can be served.\n";

enum {
	OPT_SLOTS = 256, OPT_MTU, OPT_RING, OPT_OFFSET, OPT_FORCE,
	OPT_STATUS, OPT_RECLAIM, OPT_BUDGET, OPT_FULL_WAIT, OPT_RELAY_PATH,
	OPT_BUSY_POLL, OPT_SYSLOG
};

static const struct option long_opts[] = {
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "ring", required_argument, NULL, OPT_RING },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "force-format", no_argument, NULL, OPT_FORCE },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "reclaim", required_argument, NULL, OPT_RECLAIM },
	{ "budget", required_argument, NULL, OPT_BUDGET },
	{ "full-wait", required_argument, NULL, OPT_FULL_WAIT },
	{ "relay-path", required_argument, NULL, OPT_RELAY_PATH },
	{ "busy-poll", required_argument, NULL, OPT_BUSY_POLL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "help", no_argument, NULL, 'h' },
	RELAY_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static void
add_socket(struct bridge_opts *o, const char *path)
{
	unsigned int i;

	if (*path == '\0')
		fatal("-p needs a socket path");
	if (o->nsock == BRIDGE_REGIONS_MAX)
		fatal("more than %d -p sockets; run another mqbridge",
		    BRIDGE_REGIONS_MAX);
	for (i = 0; i < o->nsock; i++)
		if (strcmp(o->sock[i], path) == 0)
			fatal("-p %s given twice; give each server once",
			    path);
	o->sock[o->nsock++] = path;
}

/* --status: one text file and one .prom file at most. */
static void
status_opt(struct bridge_opts *o, const char *arg)
{
	const char **slot = status_fmt_of(arg) == STATUS_PROM ?
	    &o->status_prom : &o->status;

	if (*arg == '\0')
		fatal("--status needs a file name");
	if (*slot != NULL)
		fatal("--status %s: a %s status file is given already (%s); "
		    "give one FILE and one FILE.prom at most", arg,
		    slot == &o->status ? "text" : "Prometheus", *slot);
	*slot = arg;
}

static void
opt_value(struct bridge_opts *o, int ch, const char *arg)
{
	const char *why;
	uint64_t v;

	switch (ch) {
	case 'n':
		o->nvec = (unsigned int)parse_opt_u64("-n", arg, 1,
		    RING_VECTORS_MAX);
		break;
	case OPT_SLOTS:
		o->params.slot_count = (uint32_t)parse_opt_u64("--slots", arg,
		    1, RING_SLOTS_MAX);
		break;
	case OPT_MTU:
		o->params.mtu = (uint32_t)parse_opt_u64("--mtu", arg,
		    RING_MTU_MIN, RING_MTU_MAX);
		break;
	case OPT_RING:
		v = parse_opt_u64("--ring", arg, RING_SIZE_MIN, RING_SIZE_MAX);
		if (!is_pow2(v))
			fatal("--ring %s: not a power of two; give e.g. 256",
			    arg);
		o->params.tx_size = o->params.rx_size = (uint32_t)v;
		break;
	case OPT_OFFSET:
		if (parse_size(arg, PARSE_BARE_BYTES, &o->offset, &why) == -1)
			fatal("--offset %s: %s; give bytes, e.g. 1M", arg, why);
		if (o->offset % RING_PAGE != 0)
			fatal("--offset %s: not a multiple of 4096", arg);
		break;
	case OPT_STATUS:
		status_opt(o, arg);
		break;
	case OPT_RECLAIM:
		o->reclaim_s = (unsigned int)parse_opt_u64("--reclaim", arg,
		    1, 86400);
		break;
	case OPT_BUDGET:
		o->budget = (unsigned int)parse_opt_u64("--budget", arg,
		    1, 65536);
		break;
	case OPT_FULL_WAIT:
		o->full_wait_ms = (unsigned int)parse_opt_u64("--full-wait",
		    arg, 0, 60000);
		break;
	case OPT_BUSY_POLL:
		o->busy_poll_us = (int64_t)parse_opt_u64("--busy-poll", arg, 0,
		    1000000);
		break;
	}
}

/* With --broker, refuse now what would only fail once the relay starts. */
static void
check_relay(struct bridge_opts *o)
{
	static char path[PATH_MAX];
	const char *user = relay_opts_user(&o->relay);
	ssize_t n;
	char *slash;
	int fd;

	if (o->relay_path == NULL) {
		if ((n = readlink("/proc/self/exe", path, sizeof(path) - 16)) <=
		    0)
			fatal("cannot find mqrelay beside mqbridge; give "
			    "--relay-path PATH");
		path[n] = '\0';
		slash = strrchr(path, '/');
		strcpy(slash != NULL ? slash + 1 : path, "mqrelay");
		o->relay_path = path;
	}
	if (access(o->relay_path, X_OK) == -1)
		fatal("--relay-path %s: %s; build mqrelay (make) or give its "
		    "path", o->relay_path, strerror(errno));
	if (user != NULL && getpwnam(user) == NULL)
		fatal("--relay-user %s: unknown user; give an existing one "
		    "(the relay drops to it)", user);
	if ((fd = relay_credentials_open(&o->relay)) != -1)
		close(fd);	/* opened again for the relay, checked now */
	if (o->relay.persistent && o->relay.window > UPLINK_WINDOW_MAX)
		fatal("--window %u: at most %u", o->relay.window,
		    UPLINK_WINDOW_MAX);
}

static void
parse_opts(struct bridge_opts *o, int argc, char **argv)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->nvec = 1;
	ring_params_default(&o->params);
	o->params.slot_count = 4;
	o->reclaim_s = 3;
	o->budget = 64;
	o->full_wait_ms = 100;
	o->busy_poll_us = BRIDGE_BUSY_POLL_US;
	relay_opts_init(&o->relay);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hvp:n:", long_opts,
	    NULL)) != -1) {
		if (relay_opts_take(&o->relay, ch, optarg))
			continue;
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
			fputs("\n", stdout);
			fputs(relay_usage, stdout);
			exit(0);
		case OPT_RELAY_PATH:
			o->relay_path = optarg;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'p':
			add_socket(o, optarg);
			break;
		case OPT_FORCE:
			o->force_format = 1;
			break;
		case OPT_SYSLOG:
			o->syslog = 1;
			break;
		case ':':
			fatal("%s needs a value; see mqbridge -h",
			    argv[optind - 1]);
		case '?':
			if (optopt != 0)
				fatal("unknown option -%c; see mqbridge -h",
				    optopt);
			fatal("unknown option %s; see mqbridge -h",
			    argv[optind - 1]);
		default:
			opt_value(o, ch, optarg);
		}
	}
	if (optind < argc)
		fatal("unexpected argument %s; see mqbridge -h", argv[optind]);
	if (o->nsock == 0)
		fatal("no server socket; give -p SOCKET");
	if (o->relay.nbroker > 0)
		check_relay(o);
}

/* Two -p paths to one server would serve every slot twice. */
static int
same_region(const struct bridge *b, unsigned int i)
{
	struct stat a, c;
	unsigned int j;

	if (fstat(b->reg[i].peer.region_fd, &a) == -1)
		return 0;
	for (j = 0; j < i; j++)
		if (fstat(b->reg[j].peer.region_fd, &c) == 0 &&
		    a.st_dev == c.st_dev && a.st_ino == c.st_ino) {
			log_err("%s and %s hand out the same region; give it "
			    "once", b->reg[j].path, b->reg[i].path);
			return 1;
		}
	return 0;
}

/*
 * Join every server (any failure is the operator's to fix: exit), then
 * serve what can be served.  A region whose area we cannot serve costs
 * its own slots only; with none served there is nothing to do.
 */
static int
open_all(struct bridge *b)
{
	char err[256];
	unsigned int i, s, served = 0;
	struct bridge_region *r;

	for (i = 0; i < b->opt.nsock; i++) {
		b->nreg = i + 1;
		if (bridge_region_join(b, i, b->opt.sock[i]) == -1 ||
		    same_region(b, i))
			return -1;
	}
	for (i = 0; i < b->nreg; i++)
		if (bridge_region_serve(b, &b->reg[i], b->reg[i].why,
		    sizeof(b->reg[i].why)) == 0)
			served++;
	for (i = 0; i < b->nreg; i++) {
		r = &b->reg[i];
		if (served > 0)
			log_info("%s: joined as peer %d", r->path, r->peer.id);
		if (r->attached)
			continue;
		if (served == 0) {
			log_err("%s", r->why);
			continue;
		}
		log_warn("%s; serving the other regions, and trying this one "
		    "again every %d s", r->why, BRIDGE_RETRY_MS / 1000);
		r->retry_ms = clock_ms() + BRIDGE_RETRY_MS;
	}
	if (served == 0)
		return -1;
	/* One more for the broker's port. */
	if ((b->ports = calloc((size_t)b->nreg * b->opt.params.slot_count +
	    1, sizeof(*b->ports))) == NULL) {
		log_err("out of memory for the slots");
		return -1;
	}
	for (i = 0; i < b->nreg; i++) {
		r = &b->reg[i];
		for (s = 0; s < r->nports; s++) {
			r->ports[s].index = b->nports;
			b->ports[b->nports++] = &r->ports[s];
		}
	}
	if (b->opt.relay.nbroker > 0) {
		if (bridge_uplink_open(b, b->nports, err, sizeof(err)) == -1) {
			log_err("%s", err);
			return -1;
		}
		port_init(&b->up->port, &b->up->reg, 0, b->nports);
		b->up->port.uplink = 1;
		b->up->port.resume = 0;
		b->ports[b->nports++] = &b->up->port;
	}
	return switch_init(b);
}

static void
close_all(struct bridge *b)
{
	unsigned int i;

	bridge_uplink_close(b);
	switch_free(b);
	free(b->ports);
	b->ports = NULL;
	for (i = 0; i < b->nreg; i++)
		bridge_region_close(&b->reg[i]);
}

int
main(int argc, char **argv)
{
	static struct bridge b;
	int rc = 1, sigfd;

	log_init("mqbridge", 0, 0);
	parse_opts(&b.opt, argc, argv);
	/* The relay has no terminal of its own: it logs where we do. */
	if (b.opt.syslog && setenv("TM_LOG_SYSLOG", "1", 1) == -1)
		fatal("setenv: %s", strerror(errno));
	log_init("mqbridge", b.opt.verbosity, b.opt.syslog);
	/* Each peer costs one eventfd per vector: 1024 is ~1000 peers. */
	proc_raise_nofile();
	sigfd = sigfd_open(SIGTERM, SIGINT, SIGUSR1, 0);
	b.stats.start_ms = clock_ms();
	if (open_all(&b) == 0) {
		log_info("bridge ready: %u region%s, %u slots, budget %u, "
		    "reclaim after %u s, full-wait %u ms", b.nreg,
		    b.nreg == 1 ? "" : "s", b.nports, b.opt.budget,
		    b.opt.reclaim_s, b.opt.full_wait_ms);
		(void)svc_notify("READY=1");
		rc = bridge_run(&b, sigfd);
		(void)svc_notify("STOPPING=1");
		stats_write(&b);
	}
	close_all(&b);
	close(sigfd);
	return rc;
}
