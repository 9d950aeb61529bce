/*
 * bridge_region.c - the bridge's regions: joining each server as a peer,
 * mapping the NIC area of the region it hands out (the area alone, never
 * the rest), formatting it the first time (attaching and resuming every
 * later time), and following it: reformatted under us, truncated under
 * us, or not servable yet.
 *
 * Every guest of a region maps all of it, so the slots of one region are
 * not isolated from each other: one region is one trust domain.  A
 * region we cannot serve (a header we do not accept, a file too small,
 * a file truncated under us) therefore costs its own slots only: the
 * other regions are served meanwhile, and it is looked at again every
 * BRIDGE_RETRY_MS.  A truncated file would raise SIGBUS at our next
 * touch; lib/mapguard.c turns that into zero pages and a dead mark,
 * which bridge_regions_dead() picks up before the next round.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
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
#include "lib/mapguard.h"
#include "mqbridge/bridge/bridge_region.h"
#include "mqbridge/bridge/bridge_slot.h"
#include "mqbridge/slot/ring_check.h"

#define JOIN_TIMEOUT_MS	5000

/* A guarded shared mapping of len bytes at offset; NULL on error. */
static unsigned char *
map_guarded(int fd, uint64_t offset, size_t len, int *guard)
{
	void *m;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    (off_t)offset);
	if (m == MAP_FAILED)
		return NULL;
	if ((*guard = mapguard_add(m, len)) == -1) {
		munmap(m, len);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

static void
unmap_guarded(unsigned char *m, size_t len, int guard)
{
	mapguard_del(guard);
	munmap(m, len);
}

static void
unmap_area(struct bridge_region *r)
{
	if (r->map != NULL)
		unmap_guarded(r->map, r->maplen, r->guard);
	r->map = NULL;
	r->maplen = 0;
	r->guard = -1;
	r->dead = 0;
}

/* What the header page says now: a ring error, or RING_OK and *g. */
static int
peek_header(struct bridge_region *r, uint64_t offset, struct ring_geom *g)
{
	unsigned char *h;
	int err, guard;

	if ((h = map_guarded(r->peer.region_fd, offset, RING_HDR_SIZE,
	    &guard)) == NULL)
		return RING_EPARAM;
	err = ring_probe(h, offset, g);
	if (mapguard_dead(guard))
		err = RING_ENOAREA;	/* truncated while we looked */
	unmap_guarded(h, RING_HDR_SIZE, guard);
	return err;
}

static int
same_params(const struct ring_params *a, const struct ring_params *b)
{
	return a->slot_count == b->slot_count && a->tx_size == b->tx_size &&
	    a->rx_size == b->rx_size && a->mtu == b->mtu;
}

/* The checks that need no mapping of the area: what is stored first,
 * then whether ours fits.  0, or -1 with the reason in why. */
static int
check_fit(struct bridge_region *r, const struct bridge_opts *o, int force,
    const struct ring_geom *want, char *why, size_t len)
{
	const struct ring_params *p = &o->params;
	struct ring_geom old;
	struct stat st;
	uint64_t size;

	if (fstat(r->peer.region_fd, &st) == -1)
		return errbuf(why, len, "%s: cannot stat the region: %s",
		    r->path, strerror(errno));
	size = (uint64_t)st.st_size;
	if (size < o->offset + RING_HDR_SIZE)
		return errbuf(why, len, "%s: region is %" PRIu64 " bytes, too "
		    "small for a NIC area at offset %" PRIu64 "; lower "
		    "--offset or give the server a bigger -m", r->path, size,
		    o->offset);
	if (!force && peek_header(r, o->offset, &old) == RING_OK &&
	    !same_params(&old.p, p))
		return errbuf(why, len, "%s: NIC area was formatted with "
		    "--slots %u --ring %u --mtu %u, not --slots %u --ring %u "
		    "--mtu %u; use those or --force-format (drops all queued "
		    "frames)", r->path, old.p.slot_count, old.p.tx_size,
		    old.p.mtu, p->slot_count, p->tx_size, p->mtu);
	if (want->area_size > size - o->offset)
		return errbuf(why, len, "%s: a NIC area of %" PRIu64 " bytes "
		    "does not fit the %" PRIu64 "-byte region at offset %"
		    PRIu64 "; use fewer --slots, a smaller --ring or --mtu, "
		    "or a bigger server -m", r->path, want->area_size, size,
		    o->offset);
	return 0;
}

static void
reset_ports(struct bridge *b, struct bridge_region *r)
{
	uint32_t s;

	/* As at start: each slot resumes if both sides still look up,
	 * or is reset, which stores our state word again. */
	for (s = 0; s < r->nports; s++)
		port_restart(b, &r->ports[s]);
}

/* Map, then format or attach to, the area: 0, or -1 with why. */
int
bridge_region_serve(struct bridge *b, struct bridge_region *r, char *why,
    size_t len)
{
	const struct bridge_opts *o = &b->opt;
	int force = o->force_format && !r->tried, err, formatted;
	struct ring_geom want;

	if ((err = ring_geom_init(&want, &o->params)) != RING_OK)
		return errbuf(why, len, "%s: %s", r->path, ring_strerror(err));
	if (check_fit(r, o, force, &want, why, len) == -1)
		return -1;
	unmap_area(r);
	r->map = map_guarded(r->peer.region_fd, o->offset,
	    (size_t)want.area_size, &r->guard);
	if (r->map == NULL)
		return errbuf(why, len, "%s: cannot map the NIC area (%" PRIu64
		    " bytes): %s", r->path, want.area_size, strerror(errno));
	r->maplen = (size_t)want.area_size;
	err = ring_format(&r->area, r->map, r->maplen, o->offset, &o->params,
	    force, &formatted);
	if (err != RING_OK) {
		unmap_area(r);
		return errbuf(why, len, "%s: %s (offset %" PRIu64 ")%s",
		    r->path, ring_strerror(err), o->offset,
		    err == RING_EFOREIGN ? "" : "; --force-format rewrites it");
	}
	r->tried = 1;
	r->attached = 1;
	r->why[0] = '\0';
	reset_ports(b, r);
	log_info("%s: %s NIC area at offset %" PRIu64 ": %u slots, rings "
	    "%u/%u, mtu %u, generation %" PRIu64, r->path,
	    formatted ? "formatted" : "resuming the", o->offset,
	    want.p.slot_count, want.p.tx_size, want.p.rx_size, want.p.mtu,
	    r->area.generation);
	return 0;
}

int
bridge_region_join(struct bridge *b, unsigned int i, const char *path)
{
	struct bridge_region *r = &b->reg[i];
	char err[256];
	uint32_t s, n = b->opt.params.slot_count;

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->index = i;
	r->guard = -1;
	if (ivpeer_connect(&r->peer, path, SCM_PROTO_V0, b->opt.nvec,
	    JOIN_TIMEOUT_MS, err, sizeof(err)) == -1) {
		log_err("%s: %s", path, err);
		return -1;
	}
	r->joined = 1;
	if ((r->ports = calloc(n, sizeof(*r->ports))) == NULL) {
		log_err("out of memory for %u slots", n);
		return -1;
	}
	r->nports = n;
	for (s = 0; s < n; s++)
		port_init(&r->ports[s], r, s, 0);
	return 0;
}

void
bridge_region_close(struct bridge_region *r)
{
	/* Our side words stay as they are: endpoints keep queueing, and
	 * the next bridge resumes from the stored indices. */
	unmap_area(r);
	free(r->ports);
	r->ports = NULL;
	ivpeer_close(&r->peer);
}

/* Stop serving r: its slots go down, nothing of it is touched again. */
static void
region_stop(struct bridge *b, struct bridge_region *r)
{
	reset_ports(b, r);
	r->attached = 0;
}

void
bridge_regions_dead(struct bridge *b)
{
	struct bridge_region *r;
	unsigned int i;

	b->deaths = mapguard_deaths();
	for (i = 0; i < b->nreg; i++) {
		r = &b->reg[i];
		if (r->map == NULL || !mapguard_dead(r->guard))
			continue;
		region_stop(b, r);
		unmap_area(r);
		r->retry_ms = clock_ms() + BRIDGE_RETRY_MS;
		snprintf(r->why, sizeof(r->why), "truncated");
		log_warn("%s: the region shrank under the NIC area (someone "
		    "truncated its file); its slots stop, the other regions "
		    "carry on; serving it again once it is big enough",
		    r->path);
	}
}

/* Not served: look again now and then, and say each new reason once. */
static void
retry(struct bridge *b, struct bridge_region *r, int64_t now)
{
	char why[sizeof(r->why)];

	if (now < r->retry_ms)
		return;
	r->retry_ms = now + BRIDGE_RETRY_MS;
	if (bridge_region_serve(b, r, why, sizeof(why)) == 0)
		return;
	if (strcmp(why, r->why) != 0)
		log_warn("%s; trying again every %d s", why,
		    BRIDGE_RETRY_MS / 1000);
	memcpy(r->why, why, sizeof(r->why));
}

/*
 * The header is as writable as the rest: a reformat, or a peer's garbage.
 * Our ring handles use only the geometry we checked at attach time, so
 * they stay safe; but the slots' contents mean nothing any more, so every
 * slot is reset and serving waits until a valid header with our
 * parameters is back.
 */
static void
on_sock(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct bridge_region *r = io->arg;

	(void)events;
	bridge_region_pump(r);
	if (!r->joined)
		ev_io_stop(l, io);
}

static void
on_bell(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct bridge_region *r = io->arg;

	(void)l;
	(void)events;
	(void)ivpeer_take(&r->peer, (unsigned int)(io - r->bell_io));
}

static int
watch(struct bridge *b, struct ev_io *io, int fd, ev_io_fn *fn, void *arg)
{
	if (ev_io_start(&b->loop, io, fd, EPOLLIN, fn, arg) == 0)
		return 0;
	log_err("cannot watch descriptor %d: %s", fd, strerror(errno));
	return -1;
}

int
bridge_region_watch(struct bridge *b, struct bridge_region *r)
{
	unsigned int v;

	if (watch(b, &r->sock_io, r->peer.sock, on_sock, r) == -1)
		return -1;
	for (v = 0; v < r->peer.nvec; v++)
		if (watch(b, &r->bell_io[v], r->peer.own[v], on_bell, r) == -1)
			return -1;
	return 0;
}

void
bridge_region_unwatch(struct bridge *b, struct bridge_region *r)
{
	unsigned int v;

	ev_io_stop(&b->loop, &r->sock_io);
	for (v = 0; v < r->peer.nvec; v++)
		ev_io_stop(&b->loop, &r->bell_io[v]);
}

/*
 * The server went away (restarted, crashed): join whoever serves that
 * path next, with backoff, and carry on with the same mapping if it
 * serves the same file.  Endpoints rejoin too and publish their new peer
 * IDs in their slots; ours goes into every slot we serve.
 */
static void
rejoin(struct bridge *b, struct bridge_region *r, int64_t now)
{
	struct stat was, is;
	struct ivpeer np;
	char err[256];
	uint32_t s;

	if (!backoff_due(&r->rejoin, now, REJOIN_MIN_MS, REJOIN_MAX_MS))
		return;
	if (ivpeer_connect(&np, r->path, SCM_PROTO_V0, b->opt.nvec,
	    REJOIN_TIMEOUT_MS, err, sizeof(err)) == -1) {
		log_debug("%s: %s; trying again", r->path, err);
		return;
	}
	if (fstat(np.region_fd, &is) == -1 ||
	    fstat(r->peer.region_fd, &was) == -1 ||
	    is.st_dev != was.st_dev || is.st_ino != was.st_ino) {
		log_err("%s: the server there serves another region now; "
		    "restart mqbridge to serve it", r->path);
		ivpeer_close(&np);
		backoff_hold(&r->rejoin, now, REJOIN_MAX_MS);
		return;
	}
	bridge_region_unwatch(b, r);
	ivpeer_close(&r->peer);
	r->peer = np;
	r->joined = 1;
	backoff_reset(&r->rejoin);
	if (bridge_region_watch(b, r) == -1)
		return;
	for (s = 0; s < r->nports; s++) {
		r->ports[s].owner = UINT32_MAX;	/* IDs of the old server */
		r->ports[s].bound = 0;
		if (r->attached)
			ring_side_ident(&r->area, s, RING_BRIDGE,
			    (uint32_t)np.id, 0, NULL);
	}
	log_info("%s: joined the server again as peer %d", r->path, np.id);
}

void
bridge_region_check(struct bridge *b, struct bridge_region *r, int64_t now)
{
	int err;

	if (!r->joined)
		rejoin(b, r, now);
	if (r->map == NULL) {
		retry(b, r, now);
		return;
	}
	if (r->attached) {
		if ((err = ring_area_live(&r->area)) == RING_OK)
			return;
		region_stop(b, r);
		log_warn("%s: NIC area changed under us (%s); its slots stop "
		    "until it is valid again", r->path, ring_strerror(err));
	}
	if (ring_attach(&r->area, r->map, r->maplen, r->area.offset,
	    &b->opt.params) != RING_OK)
		return;
	r->attached = 1;
	reset_ports(b, r);
	log_info("%s: serving the NIC area again, generation %" PRIu64,
	    r->path, r->area.generation);
}

static void
peer_event(void *arg, int id, enum ivpeer_event ev)
{
	struct bridge_region *r = arg;

	if (ev == IVPEER_JOINED) {
		log_debug("%s: peer %d joined", r->path, id);
		return;
	}
	log_debug("%s: peer %d left", r->path, id);
	port_owner_left(r, (uint32_t)id);
}

/* 1 if we could not open one more descriptor. */
static int
out_of_fds(int fd)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup != -1) {
		close(dup);
		return 0;
	}
	return errno == EMFILE;
}

void
bridge_region_pump(struct bridge_region *r)
{
	struct rlimit rl;
	char err[256];

	if (!r->joined)
		return;
	if (ivpeer_pump(&r->peer, peer_event, r, err, sizeof(err)) == 0)
		return;
	r->joined = 0;
	if (out_of_fds(r->peer.sock) && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		log_err("%s: out of descriptors: the limit is %llu and each "
		    "peer costs one per vector; peers that join from now on "
		    "cannot be rung, and slots are reclaimed on heartbeat "
		    "alone; raise the limit (LimitNOFILE=, ulimit -Hn) and "
		    "restart mqbridge", r->path,
		    (unsigned long long)rl.rlim_cur);
		return;
	}
	/* The doorbells we hold keep working; only news of peers stops. */
	log_warn("%s: %s; serving its slots without news of peers, and "
	    "joining the server again as soon as one answers there",
	    r->path, err);
}
