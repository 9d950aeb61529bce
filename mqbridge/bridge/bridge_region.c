/*
 * bridge_region.c - the bridge's regions: joining each server as a peer,
 * mapping the region it hands out, formatting its NIC area the first
 * time (attaching and resuming every later time), and noticing when the
 * area is reformatted under us or the server goes away.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "mqbridge/bridge/bridge_region.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/slot/ring_check.h"

#define JOIN_TIMEOUT_MS	5000

static int
map_region(struct bridge_region *r, uint64_t offset)
{
	uint64_t size = r->peer.size;

	if (size < offset + RING_HDR_SIZE) {
		log_err("%s: region is %" PRIu64 " bytes, too small for a NIC "
		    "area at offset %" PRIu64 "; lower --offset or give the "
		    "server a bigger -m", r->path, size, offset);
		return -1;
	}
	if (size - offset > SIZE_MAX) {
		log_err("%s: region too big to map here", r->path);
		return -1;
	}
	r->maplen = (size_t)(size - offset);
	r->map = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE, MAP_SHARED,
	    r->peer.region_fd, (off_t)offset);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		log_err("%s: cannot map the region: %s", r->path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Say what is stored when it is not what we were asked for. */
static void
explain_format(const struct bridge_region *r, const struct bridge_opts *o, int err)
{
	const struct ring_params *p = &o->params;
	struct ring_geom g;

	if (err == RING_EMISMATCH &&
	    ring_probe(r->map, o->offset, &g) == RING_OK) {
		log_err("%s: NIC area was formatted with --slots %u --ring %u "
		    "--mtu %u, not --slots %u --ring %u --mtu %u; use those "
		    "or --force-format (drops all queued frames)", r->path,
		    g.p.slot_count, g.p.tx_size, g.p.mtu, p->slot_count,
		    p->tx_size, p->mtu);
		return;
	}
	if (err == RING_EPLACE && ring_geom_init(&g, p) == RING_OK) {
		log_err("%s: a NIC area of %" PRIu64 " bytes does not fit the "
		    "%" PRIu64 "-byte region at offset %" PRIu64 "; use fewer "
		    "--slots, a smaller --ring or --mtu, or a bigger server "
		    "-m", r->path, g.area_size, r->peer.size, o->offset);
		return;
	}
	log_err("%s: %s (offset %" PRIu64 ")%s", r->path, ring_strerror(err),
	    o->offset, err == RING_EFOREIGN || err == RING_EMISMATCH ? "" :
	    "; --force-format rewrites it");
}

static int
format_area(struct bridge_region *r, const struct bridge_opts *o)
{
	const struct ring_geom *g;
	int err, formatted;

	err = ring_format(&r->area, r->map, r->maplen, o->offset, &o->params,
	    o->force_format, &formatted);
	if (err != RING_OK) {
		explain_format(r, o, err);
		return -1;
	}
	g = &r->area.geom;
	log_info("%s: %s NIC area at offset %" PRIu64 ": %u slots, rings "
	    "%u/%u, mtu %u, generation %" PRIu64, r->path,
	    formatted ? "formatted" : "resuming the", o->offset,
	    g->p.slot_count, g->p.tx_size, g->p.rx_size, g->p.mtu,
	    r->area.generation);
	return 0;
}

int
bridge_region_open(struct bridge *b, unsigned int i, const char *path)
{
	struct bridge_region *r = &b->reg[i];
	char err[256];
	uint32_t s;

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->index = i;
	if (ivpeer_connect(&r->peer, path, SCM_PROTO_V0, b->opt.nvec,
	    JOIN_TIMEOUT_MS, err, sizeof(err)) == -1) {
		log_err("%s: %s", path, err);
		return -1;
	}
	r->joined = 1;
	if (map_region(r, b->opt.offset) == -1 ||
	    format_area(r, &b->opt) == -1)
		return -1;
	r->ports = calloc(r->area.geom.p.slot_count, sizeof(*r->ports));
	if (r->ports == NULL) {
		log_err("out of memory");
		return -1;
	}
	for (s = 0; s < r->area.geom.p.slot_count; s++)
		port_init(&r->ports[s], r, s, 0);
	r->attached = 1;
	log_info("%s: joined as peer %d", path, r->peer.id);
	return 0;
}

void
bridge_region_close(struct bridge_region *r)
{
	/* Our side words stay as they are: endpoints keep queueing, and
	 * the next bridge resumes from the stored indices. */
	if (r->map != NULL)
		munmap(r->map, r->maplen);
	r->map = NULL;
	free(r->ports);
	r->ports = NULL;
	ivpeer_close(&r->peer);
}

static void
reset_ports(struct bridge *b, struct bridge_region *r)
{
	uint32_t s;

	/* As at start: each slot resumes if both sides still look up,
	 * or is reset, which stores our state word again. */
	for (s = 0; s < r->area.geom.p.slot_count; s++) {
		port_down(b, &r->ports[s]);
		r->ports[s].state = RING_RESET;
		r->ports[s].tx_repair = 0;
		r->ports[s].claim = 0;
		r->ports[s].beat_ms = 0;
		r->ports[s].resume = 1;
	}
}

/*
 * The header is as writable as the rest: a reformat, or a peer's garbage.
 * Our ring handles use only the geometry we checked at attach time, so
 * they stay safe; but the slots' contents mean nothing any more, so every
 * slot is reset and serving waits until a valid header with our
 * parameters is back.
 */
void
bridge_region_check(struct bridge *b, struct bridge_region *r)
{
	int err;

	if (r->attached) {
		if ((err = ring_area_live(&r->area)) == RING_OK)
			return;
		reset_ports(b, r);
		r->attached = 0;
		log_warn("%s: NIC area changed under us (%s); its slots stop "
		    "until it is valid again", r->path, ring_strerror(err));
	}
	/* The slot count cannot change: our ports array is sized by it. */
	if (ring_attach(&r->area, r->map, r->maplen, r->area.offset,
	    &r->area.geom.p) != RING_OK)
		return;
	r->attached = 1;
	log_info("%s: serving the NIC area again, generation %" PRIu64,
	    r->path, r->area.generation);
}

struct pump_arg {
	struct bridge	*b;
	struct bridge_region	*r;
};

static void
peer_event(void *arg, int id, enum ivpeer_event ev)
{
	struct pump_arg *pa = arg;
	struct bridge_region *r = pa->r;
	struct ring_slot_view v;
	char name[32];
	uint32_t s;

	if (ev == IVPEER_JOINED) {
		log_debug("%s: peer %d joined", r->path, id);
		return;
	}
	log_debug("%s: peer %d left", r->path, id);
	for (s = 0; r->attached && s < r->area.geom.p.slot_count; s++) {
		if (!r->ports[s].live || r->ports[s].nic_peer != (uint32_t)id)
			continue;
		/* A clean exit released the slot before leaving. */
		ring_slot_view(&r->area, s, &v);
		if (v.claim == r->ports[s].run_claim)
			log_info("slot %s: its owner, peer %d, left the "
			    "server holding it; reclaimed if its heartbeat "
			    "stops", port_name(&r->ports[s], name,
			    sizeof(name)), id);
	}
}

void
bridge_region_pump(struct bridge *b, struct bridge_region *r)
{
	struct pump_arg pa = { b, r };
	char err[256];

	if (!r->joined)
		return;
	if (ivpeer_pump(&r->peer, peer_event, &pa, err, sizeof(err)) == 0)
		return;
	r->joined = 0;
	/* The doorbells we hold keep working; only news of peers stops. */
	log_warn("%s: %s; serving its slots without news of peers",
	    r->path, err);
}
