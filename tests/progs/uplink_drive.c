/*
 * uplink_drive.c - play the bridge's end of the uplink to a real mqrelay,
 * for tests/relay.bats: the relay talks to a real broker, and this
 * program stands where mqbridge's switch would, through the bridge's own
 * uplink code (mqbridge/bridge/uplink_host.c).
 *
 *   uplink_drive --relay PATH [-v] BROKER-OPTIONS...
 *
 * Reads one command per line on stdin, answers on stdout:
 *   sub MAC | unsub MAC          a control message to the relay
 *   send ORIGIN SEQ HEX          a frame for the broker (ORIGIN in hex)
 *   policy ok|full|gone|dropped  how frames from the relay are answered
 *   recv N MS                    print "frame IDX HEX" for up to N frames
 *                                from the relay within MS, answering each
 *                                per the policy, then "got K"
 *   drain MS                     wait until the relay freed every frame
 *                                we sent: "drained" or "pending N"
 *   stats                        "stat NAME VALUE" from the last STATS
 *   kill                         SIGKILL the relay; it is started again
 *   sleep MS
 *   echo TEXT                    prints TEXT (a marker for scripts)
 * Lines starting with '#' are ignored.  "ready" is printed once the
 * slot runs.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/doorbell.h"
#include "lib/log.h"
#include "mqbridge/bridge/uplink_host.h"
#include "mqbridge/slot/ring_check.h"

struct drive {
	struct relay_opts o;
	struct uplink_host u;
	enum ring_state own;
	struct ring tx, rx;	/* we consume tx, produce rx */
	int rings;
	unsigned int policy;	/* 0 ok, else an uplink_status */
	uint64_t stats[US_COUNT];
};

static struct drive d;

static void
step(void)
{
	struct ring_slot_view v;
	enum ring_state next;

	(void)ring_slot_view(&d.u.area, 0, &v);
	next = ring_state_next(d.own, v.side[RING_NIC].state);
	if (v.claim == RING_CLAIM_FREE && next > RING_INIT)
		next = RING_RESET;
	if (next == d.own)
		return;
	if (next == RING_READY) {
		/* What a dead relay pushed was never ACKed: the broker
		 * has it still, so drop it rather than deliver it twice. */
		(void)ring_open(&d.tx, &d.u.area, 0, RING_TX, RING_BRIDGE);
		ring_repair(&d.tx);
		if (ring_open(&d.rx, &d.u.area, 0, RING_RX, RING_BRIDGE) !=
		    RING_OK)
			return;
		d.tx.flags_ok = d.rx.flags_ok = UPLINK_CTL;
		d.rings = 1;
	}
	if (next == RING_RESET)
		d.rings = 0;
	d.own = next;
	ring_side_state(&d.u.area, 0, RING_BRIDGE, next);
}

/* Keep the relay alive and the slot stepping, for up to ms. */
static void
idle(int ms)
{
	struct pollfd p = { .fd = d.u.bell_bridge, .events = POLLIN };
	int64_t until = clock_ms() + ms;

	do {
		(void)uplink_host_reap(&d.u, clock_ms());
		if (uplink_host_due(&d.u, clock_ms()))
			(void)uplink_host_spawn(&d.u, clock_ms());
		step();
		if (poll(&p, 1, 5) == 1)
			(void)doorbell_take(d.u.bell_bridge);
		step();
	} while (clock_ms() < until);
}

static void
ring_relay(void)
{
	ring_commit(&d.rx);
	(void)doorbell_ring(d.u.bell_relay);
}

static int
hexbytes(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned int b;

	while (s[0] != '\0' && s[1] != '\0' && n < max) {
		if (sscanf(s, "%2x", &b) != 1)
			return -1;
		out[n++] = (unsigned char)b;
		s += 2;
	}
	return (int)n;
}

static void
cmd_mac(const char *arg, int type)
{
	struct uplink_mac m = { .h = { (uint16_t)type, sizeof(m), 0 } };
	unsigned int v[6];
	int i;

	if (sscanf(arg, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5]) != 6) {
		puts("error bad mac");
		return;
	}
	for (i = 0; i < 6; i++)
		m.mac[i] = (uint8_t)v[i];
	if (!d.rings || uplink_host_ctl(&d.rx, &m, sizeof(m)) == -1) {
		puts("error ring full or down");
		return;
	}
	ring_relay();
	puts("ok");
}

static void
cmd_send(const char *arg)
{
	unsigned char frame[RING_MTU_MAX + 64], *buf;
	struct uplink_meta m = { 0 };
	const char *hex;
	int n, used = 0;

	if (sscanf(arg, "%" SCNx64 " %" SCNu32 " %n", &m.origin, &m.seq,
	    &used) != 2 || used == 0)
		n = -1;
	else {
		hex = arg + used;
		n = hexbytes(hex, frame, sizeof(frame));
	}
	if (n < 14) {
		puts("error usage: send ORIGIN SEQ HEX");
		return;
	}
	if (!d.rings || ring_reserve(&d.rx, &buf) != 1) {
		puts("error ring full or down");
		return;
	}
	memcpy(buf, &m, sizeof(m));
	memcpy(buf + sizeof(m), frame, (size_t)n);
	ring_push(&d.rx, (uint32_t)(n + (int)sizeof(m)));
	ring_relay();
	puts("ok");
}

static void
take_stats(const struct ring_frame *f)
{
	struct uplink_stats s;

	if (f->len >= sizeof(s)) {
		memcpy(&s, f->data, sizeof(s));
		if (s.h.type == UPLINK_STATS)
			memcpy(d.stats, s.v, sizeof(d.stats));
	}
}

/* One frame from the relay, answered per the policy. */
static int
take_one(void)
{
	struct uplink_result res = { .h = { UPLINK_RESULT, sizeof(res), 0 } };
	struct ring_frame f;
	uint32_t i;

	if (!d.rings || ring_peek(&d.tx, &f) != 1)
		return 0;
	if (f.flags & UPLINK_CTL) {
		take_stats(&f);
		ring_next(&d.tx);
		ring_commit(&d.tx);
		return -1;
	}
	printf("frame %" PRIu32 " ", d.tx.head);
	for (i = 0; i < f.len; i++)
		printf("%02x", f.data[i]);
	putchar('\n');
	if (d.policy != 0) {
		res.index = d.tx.head;
		res.status = d.policy;
		if (uplink_host_ctl(&d.rx, &res, sizeof(res)) == -1)
			return 0;	/* try later, as the bridge would */
		ring_commit(&d.rx);
	}
	ring_next(&d.tx);
	ring_commit(&d.tx);
	(void)doorbell_ring(d.u.bell_relay);
	return 1;
}

static void
cmd_recv(const char *arg)
{
	int n = 1, ms = 1000, got = 0, r;
	int64_t until;

	sscanf(arg, "%d %d", &n, &ms);
	until = clock_ms() + ms;
	while (got < n && clock_ms() < until) {
		if ((r = take_one()) > 0)
			got++;
		else if (r == 0)
			idle(2);
	}
	printf("got %d\n", got);
}

static void
cmd_drain(const char *arg)
{
	int ms = 5000;
	uint32_t n = 0;
	int64_t until;

	sscanf(arg, "%d", &ms);
	until = clock_ms() + ms;
	do {
		while (take_one() != 0)
			;
		if (d.rings && ring_space(&d.rx, &n) == RING_OK &&
		    n == d.rx.size) {
			puts("drained");
			return;
		}
		idle(5);
	} while (clock_ms() < until);
	printf("pending %u\n", d.rx.size - n);
}

static void
cmd_stats(void)
{
	static const char *names[] = {
#define X(n) #n,
		UPLINK_STAT_NAMES
#undef X
	};
	int i;

	idle(1200);	/* a fresh report */
	while (take_one() != 0)
		;
	for (i = 0; i < US_COUNT; i++)
		printf("stat %s %" PRIu64 "\n", names[i], d.stats[i]);
}

static void
command(char *line)
{
	char *arg = strchr(line, ' ');

	line[strcspn(line, "\n")] = '\0';
	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	if (line[0] == '#' || line[0] == '\0')
		return;
	if (strcmp(line, "sub") == 0 || strcmp(line, "unsub") == 0)
		cmd_mac(arg, line[0] == 's' ? UPLINK_SUB : UPLINK_UNSUB);
	else if (strcmp(line, "send") == 0)
		cmd_send(arg);
	else if (strcmp(line, "policy") == 0) {
		d.policy = strcmp(arg, "full") == 0 ? UPLINK_FULL :
		    strcmp(arg, "gone") == 0 ? UPLINK_GONE :
		    strcmp(arg, "dropped") == 0 ? UPLINK_DROPPED : 0;
		puts("ok");
	} else if (strcmp(line, "recv") == 0)
		cmd_recv(arg);
	else if (strcmp(line, "drain") == 0)
		cmd_drain(arg);
	else if (strcmp(line, "stats") == 0)
		cmd_stats();
	else if (strcmp(line, "kill") == 0) {
		if (d.u.pid > 0)
			kill(d.u.pid, SIGKILL);
		puts("ok");
	} else if (strcmp(line, "echo") == 0) {
		puts(arg);
	} else if (strcmp(line, "sleep") == 0) {
		idle(atoi(arg));
		puts("ok");
	} else
		printf("error unknown command %s\n", line);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		RELAY_LONG_OPTIONS,
		{ "relay", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char *relay = NULL;
	char line[65536], err[256];
	int ch, v = 0;

	log_init("uplink_drive", 0, 0);
	signal(SIGPIPE, SIG_IGN);
	relay_opts_init(&d.o);
	while ((ch = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		if (relay_opts_take(&d.o, ch, optarg))
			continue;
		if (ch == 'r')
			relay = optarg;
		else if (ch == 'v')
			v++;
		else
			fatal("usage: uplink_drive --relay PATH BROKER-OPTIONS");
	}
	if (relay == NULL || d.o.nbroker == 0)
		fatal("usage: uplink_drive --relay PATH --broker URL ...");
	if (uplink_host_open(&d.u, &d.o, relay, 1500, v, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
	ring_side_ident(&d.u.area, 0, RING_BRIDGE, 0, 0, NULL);
	uplink_host_spawn(&d.u, clock_ms());
	while (d.own != RING_RUN)
		idle(10);
	puts("ready");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL)
		command(line);
	uplink_host_close(&d.u, 3000);
	return 0;
}
