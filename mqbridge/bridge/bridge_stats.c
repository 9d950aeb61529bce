/*
 * bridge_stats.c - the bridge's counters: drops by reason, frames and
 * bytes per slot, shown in the log on SIGUSR1 and in the status file.
 *
 * The status file is rewritten whole into a temporary file next to it
 * and renamed over it, so a reader never sees half of one.  The
 * temporary file gets a name nobody can guess and is created with
 * O_EXCL (mkstemp), so a symlink planted in a shared directory is never
 * followed: a predictable FILE.PID.tmp would let anyone who can write
 * there make us overwrite a file of their choosing.  Its format
 * (mqbridge -h) is one record per line, "key value" pairs after a tag:
 *
 *   pid 1234
 *   uptime 12
 *   slot 0.1 state run mac 02:00:00:00:00:01 peer 3 in_frames 5 ...
 *   drop spoofed 0
 *   total in_frames 5 in_bytes 490 out_frames 5 out_bytes 490 drops 0
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
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
write_all(FILE *f, const struct bridge *b)
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

/* A new temporary file beside the status file: a stream, or NULL. */
static FILE *
tmp_open(const char *status, char *tmp, size_t len)
{
	static mode_t mode;
	FILE *f;
	int fd;

	if (mode == 0) {
		mode = umask(0);
		umask(mode);
		mode = 0666 & ~mode;
	}
	if ((size_t)snprintf(tmp, len, "%s.XXXXXX", status) >= len) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return NULL;
	/* mkstemp makes it 0600; readers expect what fopen would give. */
	if (fchmod(fd, mode) == -1 || (f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return NULL;
	}
	return f;
}

void
stats_write(const struct bridge *b)
{
	static int warned;
	char tmp[4096];
	FILE *f;
	int bad;

	if (b->opt.status == NULL)
		return;
	if ((f = tmp_open(b->opt.status, tmp, sizeof(tmp))) == NULL) {
		bad = errno;
		goto fail;
	}
	bad = write_all(f, b) == -1 ? EIO : 0;
	if (fclose(f) != 0 && bad == 0)
		bad = errno;
	if (bad == 0 && rename(tmp, b->opt.status) == -1)
		bad = errno;
	if (bad == 0) {
		warned = 0;
		return;
	}
	unlink(tmp);
fail:
	/* Once per failure streak: the file is rewritten every second. */
	if (!warned)
		log_warn("cannot write status file %s: %s; check the "
		    "directory", b->opt.status, strerror(bad));
	warned = 1;
}
