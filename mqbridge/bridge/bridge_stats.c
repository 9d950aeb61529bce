/*
 * bridge_stats.c - the bridge's counters: drops by reason, frames and
 * bytes per slot, the relay's, shown in the log on SIGUSR1, in the status
 * files and in the service manager's STATUS= line.
 *
 * The status files are rewritten whole and renamed over (lib/status.c).
 * A name ending in .prom gets Prometheus' text exposition format; the
 * text format (mqbridge -h) is one record per line, "key value" pairs
 * after a tag:
 *
 *   pid 1234
 *   uptime 12
 *   slot 0.1 state run mac 02:00:00:00:00:01 peer 3 in_frames 5 ...
 *   drop spoofed 0
 *   total in_frames 5 in_bytes 490 out_frames 5 out_bytes 490 drops 0
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/status.h"
#include "lib/svc.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/bridge/bridge_stats.h"
#include "mqbridge/bridge/bridge_uplink.h"

static const char *drop_names[DROP_REASONS] = {
	[DROP_SPOOFED] = "spoofed",
	[DROP_UNKNOWN] = "unknown",
	[DROP_FULL] = "full",
	[DROP_TOO_BIG] = "too_big",
	[DROP_HAIRPIN] = "hairpin",
	[DROP_CORRUPT] = "corrupt",
	[DROP_BAD_VNET] = "bad_vnet",
};

void
stats_drop(struct bridge *b, struct port *p, enum bridge_drop why)
{
	b->stats.drop[why]++;
	if (p != NULL)
		p->cnt.drops++;
}

/* "slot 0.1 state run mac ... reclaims 0", without a newline. */
static void
port_line(const struct port *p, char *buf, size_t len)
{
	const struct port_count *c = &p->cnt;
	char mac[24] = "-", peer[16] = "-", name[32];

	if (p->live) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		    p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4],
		    p->mac[5]);
		snprintf(peer, sizeof(peer), "%" PRIu32, p->nic_peer);
	}
	snprintf(buf, len, "slot %s state %s mac %s peer %s in_frames %"
	    PRIu64 " in_bytes %" PRIu64 " out_frames %" PRIu64 " out_bytes %"
	    PRIu64 " drops %" PRIu64 " resets %" PRIu64 " reclaims %" PRIu64
	    " to_broker_frames %" PRIu64 " to_broker_bytes %" PRIu64
	    " from_broker_frames %" PRIu64 " from_broker_bytes %" PRIu64
	    " bells %" PRIu64 " bells_quiet %" PRIu64 " room_bells %" PRIu64,
	    port_name(p, name, sizeof(name)), ring_state_name(p->state), mac,
	    peer, c->in_frames, c->in_bytes, c->out_frames, c->out_bytes,
	    c->drops, c->resets, c->reclaims, c->to_broker_frames,
	    c->to_broker_bytes, c->from_broker_frames, c->from_broker_bytes,
	    c->bells, c->bells_quiet, c->room_bells);
}

static void
totals(const struct bridge *b, struct port_count *t)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < b->nports; i++) {
		t->in_frames += b->ports[i]->cnt.in_frames;
		t->in_bytes += b->ports[i]->cnt.in_bytes;
		t->out_frames += b->ports[i]->cnt.out_frames;
		t->out_bytes += b->ports[i]->cnt.out_bytes;
	}
	for (i = 0; i < DROP_REASONS; i++)
		t->drops += b->stats.drop[i];
}

static void
total_line(const struct bridge *b, char *buf, size_t len)
{
	struct port_count t;

	totals(b, &t);
	snprintf(buf, len, "total in_frames %" PRIu64 " in_bytes %" PRIu64
	    " out_frames %" PRIu64 " out_bytes %" PRIu64 " drops %" PRIu64,
	    t.in_frames, t.in_bytes, t.out_frames, t.out_bytes, t.drops);
}

/* Slots nobody ever used stay out of the log; the file lists all. */
static int
worth_logging(const struct port *p)
{
	return p->state != RING_INIT || p->cnt.in_frames != 0 ||
	    p->cnt.out_frames != 0 || p->cnt.resets != 0 ||
	    p->cnt.reclaims != 0;
}

void
stats_log(const struct bridge *b)
{
	char line[1024];
	unsigned int i;
	size_t off = 0;

	for (i = 0; i < b->nports; i++) {
		if (b->ports[i]->uplink || !worth_logging(b->ports[i]))
			continue;
		port_line(b->ports[i], line, sizeof(line));
		log_info("%s", line);
	}
	if (b->up != NULL) {
		bridge_uplink_status(b, line, sizeof(line));
		log_info("%s", line);
	}
	off = (size_t)snprintf(line, sizeof(line), "drops");
	for (i = 0; i < DROP_REASONS && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    " %s %" PRIu64, drop_names[i], b->stats.drop[i]);
	log_info("%s", line);
	total_line(b, line, sizeof(line));
	log_info("%s", line);
}

static int
write_text(FILE *f, const struct bridge *b)
{
	char line[1024];
	unsigned int i;

	fprintf(f, "pid %ld\n", (long)getpid());
	fprintf(f, "uptime %" PRId64 "\n",
	    (clock_ms() - b->stats.start_ms) / 1000);
	for (i = 0; i < b->nports; i++) {
		if (b->ports[i]->uplink)
			continue;
		port_line(b->ports[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	if (b->up != NULL) {
		bridge_uplink_status(b, line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	for (i = 0; i < DROP_REASONS; i++)
		fprintf(f, "drop %s %" PRIu64 "\n", drop_names[i],
		    b->stats.drop[i]);
	total_line(b, line, sizeof(line));
	fprintf(f, "%s\n", line);
	return ferror(f) ? -1 : 0;
}

/* ---- Prometheus ------------------------------------------------------ */

#define SLOT_COUNTERS \
	X(in_frames, "in_frames_total", "Frames taken from the slot's TX " \
	    "ring (sent by its endpoint).") \
	X(in_bytes, "in_bytes_total", "Bytes of those frames.") \
	X(out_frames, "out_frames_total", "Frames put on the slot's RX " \
	    "ring (for its endpoint).") \
	X(out_bytes, "out_bytes_total", "Bytes of those frames.") \
	X(drops, "dropped_frames_total", "Frames the slot sent that were " \
	    "dropped.") \
	X(resets, "resets_total", "Times the slot was reset for a fault.") \
	X(reclaims, "reclaims_total", "Times the slot was reclaimed from a " \
	    "dead owner.") \
	X(to_broker_frames, "to_broker_frames_total", "Of its in frames, " \
	    "those that went to the broker.") \
	X(to_broker_bytes, "to_broker_bytes_total", "Bytes of those.") \
	X(from_broker_frames, "from_broker_frames_total", "Of its out " \
	    "frames, those that came from the broker.") \
	X(from_broker_bytes, "from_broker_bytes_total", "Bytes of those.") \
	X(bells, "doorbells_total", "Doorbells rung to the slot's NIC.") \
	X(bells_quiet, "doorbells_suppressed_total", "Frames put on the " \
	    "slot's RX ring while its NIC polled: no doorbell needed.") \
	X(room_bells, "room_doorbells_total", "Of the doorbells, those for " \
	    "room made in its TX ring.")

/* The relay's counters (mqbridge/slot/uplink.h), as metrics; a gauge
 * for what is a state, not a count. */
static const struct {
	const char	*name, *type, *help;
} relay_metrics[US_COUNT] = {
	[US_connected] = { "connected", "gauge",
	    "1 while the relay has a broker session." },
	[US_sessions] = { "sessions_total", "counter",
	    "Broker sessions opened." },
	[US_sent_frames] = { "sent_frames_total", "counter",
	    "Frames sent to the broker." },
	[US_sent_bytes] = { "sent_bytes_total", "counter",
	    "Bytes of frames sent to the broker." },
	[US_sent_messages] = { "sent_messages_total", "counter",
	    "STOMP messages sent (a message packs frames with --aggregate)." },
	[US_unreceipted] = { "unreceipted_messages", "gauge",
	    "Messages sent and not yet receipted (persistent mode)." },
	[US_recv_frames] = { "received_frames_total", "counter",
	    "Frames received from the broker." },
	[US_recv_bytes] = { "received_bytes_total", "counter",
	    "Bytes of frames received from the broker." },
	[US_recv_messages] = { "received_messages_total", "counter",
	    "STOMP messages received." },
	[US_redelivered] = { "redelivered_messages_total", "counter",
	    "Messages the broker delivered again." },
	[US_duplicates] = { "duplicate_frames_total", "counter",
	    "Frames dropped as duplicates (or our own broadcasts)." },
	[US_refused_full] = { "refused_full_frames_total", "counter",
	    "Frames left on the broker because their slot's ring was full." },
	[US_returned] = { "returned_frames_total", "counter",
	    "Frames given back to the broker: no slot here has the MAC." },
	[US_dropped] = { "dropped_frames_total", "counter",
	    "Frames from the broker that could never be delivered." },
	[US_broker_errors] = { "broker_errors_total", "counter",
	    "ERROR frames from the broker." },
	[US_failures] = { "connection_failures_total", "counter",
	    "Broker connections that failed or were lost." },
	[US_conflicts] = { "mac_conflicts_total", "counter",
	    "Probes showing another bridge consuming one of our MACs." },
};

struct prom_ctx {
	FILE		*f;
	const struct bridge *b;
	char		 bridge[8192];	/* the first -p, escaped */
};

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	char full[128];

	snprintf(full, sizeof(full), "mqbridge_%s", name);
	prom_family(f, full, type, help);
}

/* {socket="...",slot="S" for a slot's samples. */
static void
slot_labels(const struct port *p, char *buf, size_t len)
{
	char sock[8192];

	prom_escape(p->reg->path, sock, sizeof(sock));
	snprintf(buf, len, "socket=\"%s\",slot=\"%" PRIu32 "\"", sock,
	    p->slot);
}

static void
prom_slot_state(struct prom_ctx *c)
{
	const struct bridge *b = c->b;
	char lab[8300], mac[24];
	unsigned int i;
	int s;

	family(c->f, "slot_state", "gauge", "1 for the state each slot is "
	    "in (reset, init, ready, run), 0 for the others.");
	for (i = 0; i < b->nports; i++) {
		if (b->ports[i]->uplink)
			continue;
		slot_labels(b->ports[i], lab, sizeof(lab));
		for (s = RING_RESET; s <= RING_RUN; s++)
			fprintf(c->f, "mqbridge_slot_state{%s,state=\"%s\"} "
			    "%d\n", lab, ring_state_name((enum ring_state)s),
			    b->ports[i]->state == (enum ring_state)s);
	}
	family(c->f, "slot_info", "gauge", "One sample per running slot: its "
	    "MAC and its owner's ivshmem peer ID.");
	for (i = 0; i < b->nports; i++) {
		const struct port *p = b->ports[i];

		if (p->uplink || !p->live)
			continue;
		slot_labels(p, lab, sizeof(lab));
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		    p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4],
		    p->mac[5]);
		fprintf(c->f, "mqbridge_slot_info{%s,mac=\"%s\",peer=\"%"
		    PRIu32 "\"} 1\n", lab, mac, p->nic_peer);
	}
}

static void
prom_slot_counter(struct prom_ctx *c, const char *name, const char *help,
    size_t off)
{
	const struct bridge *b = c->b;
	char lab[8300], full[64];
	unsigned int i;

	snprintf(full, sizeof(full), "slot_%s", name);
	family(c->f, full, "counter", help);
	for (i = 0; i < b->nports; i++) {
		if (b->ports[i]->uplink)
			continue;
		slot_labels(b->ports[i], lab, sizeof(lab));
		fprintf(c->f, "mqbridge_%s{%s} %" PRIu64 "\n", full, lab,
		    *(const uint64_t *)(const void *)
		    ((const char *)&b->ports[i]->cnt + off));
	}
}

static void
prom_relay(struct prom_ctx *c)
{
	const struct bridge_up *u = c->b->up;
	char full[96];
	int i;

	family(c->f, "relay_running", "gauge", "1 while the relay process "
	    "runs.");
	fprintf(c->f, "mqbridge_relay_running{bridge=\"%s\"} %d\n",
	    c->bridge, u->host.pid > 0);
	family(c->f, "relay_waiting_frames", "gauge", "Frames held in their "
	    "slots until the broker receipts them (persistent mode).");
	fprintf(c->f, "mqbridge_relay_waiting_frames{bridge=\"%s\"} %u\n",
	    c->bridge, u->pend_len);
	/* A counter the table does not know yet is left out, not guessed. */
	for (i = 0; i < US_COUNT; i++) {
		if (relay_metrics[i].name == NULL)
			continue;
		snprintf(full, sizeof(full), "relay_%s", relay_metrics[i].name);
		family(c->f, full, relay_metrics[i].type,
		    relay_metrics[i].help);
		fprintf(c->f, "mqbridge_%s{bridge=\"%s\"} %" PRIu64 "\n",
		    full, c->bridge, u->st[i]);
	}
}

static int
write_prom(FILE *f, const struct bridge *b)
{
	struct prom_ctx c = { .f = f, .b = b };
	int64_t start_s = (int64_t)time(NULL) -
	    (clock_ms() - b->stats.start_ms) / 1000;
	unsigned int i;

	prom_escape(b->opt.sock[0], c.bridge, sizeof(c.bridge));
	family(f, "start_time_seconds", "gauge", "When the bridge started, "
	    "in seconds since the epoch.");
	fprintf(f, "mqbridge_start_time_seconds{bridge=\"%s\"} %" PRId64
	    "\n", c.bridge, start_s);
	family(f, "region_served", "gauge", "1 while the bridge serves the "
	    "NIC area of the region behind this socket.");
	for (i = 0; i < b->nreg; i++) {
		char sock[8192];

		prom_escape(b->reg[i].path, sock, sizeof(sock));
		fprintf(f, "mqbridge_region_served{socket=\"%s\"} %d\n", sock,
		    b->reg[i].attached);
	}
	family(f, "dropped_frames_total", "counter", "Frames dropped, by "
	    "reason.");
	for (i = 0; i < DROP_REASONS; i++)
		fprintf(f, "mqbridge_dropped_frames_total{bridge=\"%s\","
		    "reason=\"%s\"} %" PRIu64 "\n", c.bridge, drop_names[i],
		    b->stats.drop[i]);
	prom_slot_state(&c);
#define X(field, name, help) \
	prom_slot_counter(&c, name, help, offsetof(struct port_count, field));
	SLOT_COUNTERS
#undef X
	if (b->up != NULL)
		prom_relay(&c);
	return 0;
}

static int
fill(FILE *f, enum status_fmt fmt, void *arg)
{
	return fmt == STATUS_PROM ? write_prom(f, arg) : write_text(f, arg);
}

/* The manager's one-line status, when the running slots change. */
static void
notify(const struct bridge *b)
{
	static unsigned int told = UINT32_MAX;
	unsigned int i, run = 0, slots = 0;

	for (i = 0; i < b->nports; i++) {
		if (b->ports[i]->uplink)
			continue;
		slots++;
		run += b->ports[i]->live;
	}
	if (run == told)
		return;
	told = run;
	(void)svc_notify("STATUS=%u of %u slots running, %u region%s%s", run,
	    slots, b->nreg, b->nreg == 1 ? "" : "s",
	    b->up != NULL ? ", broker relay" : "");
}

void
stats_write(const struct bridge *b)
{
	static struct status_file files[2];
	int i;

	if (files[STATUS_TEXT].path == NULL && files[STATUS_PROM].path == NULL) {
		files[STATUS_TEXT] = (struct status_file){ b->opt.status,
		    STATUS_TEXT, 0 };
		files[STATUS_PROM] = (struct status_file){ b->opt.status_prom,
		    STATUS_PROM, 0 };
	}
	for (i = 0; i < 2; i++)
		status_write(&files[i], fill, (void *)b);
	notify(b);
}
