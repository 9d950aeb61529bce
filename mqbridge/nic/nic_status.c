/*
 * nic_status.c - mqnic's status files.  One table names each counter of
 * struct nic_stats once, for both formats, so a new counter is one line.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mqbridge/nic/nic_status.h"
#include "mqbridge/slot/ring.h"

static const struct {
	const char	*name;		/* text; Prometheus adds _total */
	size_t		 off;
	const char	*help;
} counters[] = {
	{ "tx_frames", offsetof(struct nic_stats, tx_frames),
	    "Frames from the TAP put into the TX ring." },
	{ "tx_bytes", offsetof(struct nic_stats, tx_bytes),
	    "Bytes of frames from the TAP put into the TX ring." },
	{ "rx_frames", offsetof(struct nic_stats, rx_frames),
	    "Frames from the RX ring written to the TAP." },
	{ "rx_bytes", offsetof(struct nic_stats, rx_bytes),
	    "Bytes of frames from the RX ring written to the TAP." },
	{ "oversize", offsetof(struct nic_stats, oversize),
	    "Frames from the TAP dropped: over the area's MTU." },
	{ "runt", offsetof(struct nic_stats, runt),
	    "Frames from the TAP dropped: shorter than an Ethernet header." },
	{ "link_down", offsetof(struct nic_stats, down),
	    "Frames from the TAP dropped while the link was down." },
	{ "tap_refused", offsetof(struct nic_stats, tap_err),
	    "Frames from the RX ring the TAP refused." },
	{ "bad_header", offsetof(struct nic_stats, bad_vnet),
	    "Frames from the RX ring dropped: their virtio_net_hdr was refused." },
	{ "offload_lost", offsetof(struct nic_stats, offload_lost),
	    "Segments from the TAP dropped: the bridge cannot take them." },
	{ "tx_large_frames", offsetof(struct nic_stats, tx_large),
	    "Of tx_frames, the large ones (over one descriptor)." },
	{ "rx_large_frames", offsetof(struct nic_stats, rx_large),
	    "Of rx_frames, the large ones (over one descriptor)." },
	{ "doorbells", offsetof(struct nic_stats, bells),
	    "Doorbells rung to the bridge." },
	{ "doorbells_failed", offsetof(struct nic_stats, bell_fail),
	    "Doorbells that could not be rung." },
	{ "doorbells_room", offsetof(struct nic_stats, space_bells),
	    "Of doorbells, those rung for room made in the RX ring." },
	{ "doorbells_not_needed", offsetof(struct nic_stats, bells_quiet),
	    "Commits the bridge needed no doorbell for: it was polling." },
	{ "resets", offsetof(struct nic_stats, resets),
	    "Slot errors that reset the link." },
};
#define NCOUNTERS	(sizeof(counters) / sizeof(counters[0]))

static uint64_t
counter(const struct nic_status *s, size_t i)
{
	uint64_t v;

	if (s->link == NULL)
		return 0;
	memcpy(&v, (const char *)&s->link->st + counters[i].off, sizeof(v));
	return v;
}

static const char *
state_name(const struct nic_status *s)
{
	return s->link == NULL ? "starting" : ring_state_name(s->link->own);
}

static int
fill_text(FILE *f, const struct nic_status *s)
{
	size_t i;

	fprintf(f, "nic slot %u tap %s mac %s peer %u state %s server %s\n",
	    s->slot, s->tap != NULL ? s->tap : "-", s->macstr, s->peer,
	    state_name(s), s->server_up ? "up" : "gone");
	fprintf(f, "counters");
	for (i = 0; i < NCOUNTERS; i++)
		fprintf(f, " %s %llu", counters[i].name,
		    (unsigned long long)counter(s, i));
	fprintf(f, "\n");
	return 0;
}

static int
fill_prom(FILE *f, const struct nic_status *s)
{
	char tap[64], lab[160], name[64];
	size_t i;

	prom_escape(s->tap != NULL ? s->tap : "", tap, sizeof(tap));
	snprintf(lab, sizeof(lab), "tap=\"%s\",mac=\"%s\"", tap, s->macstr);
	prom_family(f, "mqnic_info", "gauge", "1, labelled with the slot and "
	    "our ivshmem peer ID.");
	fprintf(f, "mqnic_info{%s,slot=\"%u\",peer=\"%u\"} 1\n", lab, s->slot,
	    s->peer);
	prom_family(f, "mqnic_link_running", "gauge", "1 while the bridge "
	    "serves the slot (the TAP has carrier).");
	fprintf(f, "mqnic_link_running{%s} %d\n", lab,
	    s->link != NULL && s->link->own == RING_RUN);
	prom_family(f, "mqnic_server_up", "gauge", "1 while we hear from the "
	    "server (0: it went away; frames keep moving).");
	fprintf(f, "mqnic_server_up{%s} %d\n", lab, s->server_up);
	for (i = 0; i < NCOUNTERS; i++) {
		snprintf(name, sizeof(name), "mqnic_%s_total",
		    counters[i].name);
		prom_family(f, name, "counter", counters[i].help);
		fprintf(f, "%s{%s} %llu\n", name, lab,
		    (unsigned long long)counter(s, i));
	}
	return 0;
}

static int
fill(FILE *f, enum status_fmt fmt, void *arg)
{
	return fmt == STATUS_PROM ? fill_prom(f, arg) : fill_text(f, arg);
}

void
nic_status_write(struct status_file *sf, const struct nic_status *s)
{
	if (sf->path != NULL)
		status_write(sf, fill, (void *)(uintptr_t)s);
}
