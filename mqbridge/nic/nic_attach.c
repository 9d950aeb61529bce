/*
 * nic_attach.c - map the NIC area, claim and keep one slot, let it go.
 *
 * Only the area is mapped, never the whole region: the header page first
 * to learn the area's size (ring_probe), then the area itself.  mqnic
 * never formats; it waits for the bridge to do so.  The region's size is
 * looked up anew at each attach (someone may have truncated or grown
 * it), and both mappings are guarded (lib/mapguard.h): a file truncated
 * under them is a dead area, not a SIGBUS.
 *
 * A MAC must be live in one slot only.  We look before claiming, and
 * again after publishing our MAC (with a full fence in between), so that
 * of two NICs racing for one MAC at least one sees the other and backs
 * off.  A slot of our MAC whose owner's heartbeat stands still belongs to
 * a crashed NIC: the bridge reclaims it, and we wait for that.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mapguard.h"
#include "mqbridge/nic/nic_attach.h"
#include "mqbridge/nic/nic_opts.h"

#define NAP_US		100000		/* between looks at the area */
#define STALE_US	350000		/* > 3 heartbeats of 100 ms */

static int
wait_s(int64_t deadline_us)
{
	int64_t left = deadline_us - clock_us();

	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

/* ---- The area -------------------------------------------------------- */

/* The header's geometry, or a ring error; -100 if mmap failed. */
static int
probe(int fd, uint64_t offset, struct ring_geom *g)
{
	void *h;
	int err, guard;

	h = mmap(NULL, RING_HDR_SIZE, PROT_READ, MAP_SHARED, fd,
	    (off_t)offset);
	if (h == MAP_FAILED)
		return -100;
	if ((guard = mapguard_add(h, RING_HDR_SIZE)) == -1) {
		munmap(h, RING_HDR_SIZE);
		errno = ENOMEM;
		return -100;
	}
	err = ring_probe(h, offset, g);
	if (mapguard_dead(guard))
		err = RING_ENOAREA;	/* truncated while we looked */
	mapguard_del(guard);
	munmap(h, RING_HDR_SIZE);
	return err;
}

/* 1 attached, 0 to try again (formatted under us), -1 error. */
static int
map_area(struct nic_slot *s, int fd, uint64_t region_size, uint64_t offset,
    const struct ring_geom *g, char *err, size_t len)
{
	void *m;

	if (g->area_size > region_size - offset)
		return errbuf(err, len, "the NIC area (%llu bytes at offset %llu) "
		    "does not fit the %llu-byte region; was it formatted for "
		    "another region?", (unsigned long long)g->area_size,
		    (unsigned long long)offset,
		    (unsigned long long)region_size);
	m = mmap(NULL, g->area_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    (off_t)offset);
	if (m == MAP_FAILED)
		return errbuf(err, len, "cannot map the NIC area (%llu bytes): "
		    "%s", (unsigned long long)g->area_size, strerror(errno));
	if ((s->guard = mapguard_add(m, g->area_size)) == -1) {
		munmap(m, g->area_size);
		return errbuf(err, len, "cannot guard the NIC area against "
		    "truncation (SIGBUS)");
	}
	if (ring_attach(&s->a, m, g->area_size, offset, NULL) != RING_OK ||
	    mapguard_dead(s->guard)) {
		nic_detach_map(s, m, g->area_size);
		return 0;
	}
	s->map = m;
	s->maplen = g->area_size;
	return 1;
}

/* The region's size now: 0 if it cannot be told. */
static uint64_t
region_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_size > 0 ?
	    (uint64_t)st.st_size : 0;
}

int
nic_attach(struct nic_slot *s, int fd, uint64_t offset, int64_t deadline_us,
    nic_wait_fn *wait, void *arg, char *err, size_t len)
{
	struct ring_geom g;
	uint64_t size;
	int rc, logged = 0;

	memset(s, 0, sizeof(*s));
	s->guard = -1;
	for (;;) {
		size = region_size(fd);
		rc = RING_ENOAREA;	/* a region too small: wait for it */
		if (size >= offset && size - offset >= RING_HDR_SIZE) {
			rc = probe(fd, offset, &g);
			if (rc == -100)
				return errbuf(err, len, "cannot map the "
				    "region's page at %llu: %s",
				    (unsigned long long)offset,
				    strerror(errno));
		} else if (!logged && size != 0)
			return errbuf(err, len, "--offset %llu is past the end "
			    "of the %llu-byte region; give mqbridge's "
			    "--offset", (unsigned long long)offset,
			    (unsigned long long)size);
		if (rc == RING_OK &&
		    (rc = map_area(s, fd, size, offset, &g, err, len)) != 0)
			return rc == 1 ? 0 : -1;
		if (rc != RING_OK && rc != RING_ENOAREA)
			return errbuf(err, len, "NIC area at offset %llu: %s",
			    (unsigned long long)offset, ring_strerror(rc));
		if (clock_us() >= deadline_us)
			return errbuf(err, len, "no NIC area at offset %llu of "
			    "the region; start mqbridge on this server with "
			    "the same --offset, or wait longer with -w",
			    (unsigned long long)offset);
		if (!logged++)
			log_info("waiting up to %d s for mqbridge to format "
			    "the NIC area at offset %llu",
			    wait_s(deadline_us), (unsigned long long)offset);
		if (wait(arg, NAP_US))
			return -2;
	}
}

void
nic_detach_map(struct nic_slot *s, void *m, size_t len)
{
	mapguard_del(s->guard);
	s->guard = -1;
	munmap(m, len);
}

void
nic_detach(struct nic_slot *s)
{
	if (s->map != NULL)
		nic_detach_map(s, s->map, s->maplen);
	s->map = NULL;
	s->maplen = 0;
}

int
nic_area_dead(const struct nic_slot *s)
{
	return s->map != NULL && mapguard_dead(s->guard);
}

/* ---- The slot -------------------------------------------------------- */

struct holder {				/* another slot with our MAC */
	uint32_t	slot;
	uint64_t	claim;
	uint64_t	beat;
	uint32_t	peer;
};

/* The first slot but skip that someone has claimed for mac. */
static int
find_mac(const struct ring_area *a, const uint8_t mac[6], uint32_t skip,
    struct holder *h)
{
	struct ring_slot_view v;
	uint32_t i;

	for (i = 0; i < a->geom.p.slot_count; i++) {
		if (i == skip)
			continue;
		/* A bad side still yields its words; we only compare. */
		(void)ring_slot_view(a, i, &v);
		if (v.claim == RING_CLAIM_FREE || v.claim == RING_CLAIM_BUSY ||
		    memcmp(v.side[RING_NIC].mac, mac, 6) != 0)
			continue;
		h->slot = i;
		h->claim = v.claim;
		h->beat = v.side[RING_NIC].heartbeat;
		h->peer = v.side[RING_NIC].peer_id;
		return 1;
	}
	return 0;
}

/*
 * A dead holder that published our own peer ID was an earlier run of
 * ours (a restarted mqnic, or one in the same guest): that peer has left
 * the server, since we hold its ID now.  The bridge reclaims only slots
 * whose owner's peer left, and would wait for a departure it may never
 * see (a guest's ID stays while the VM runs), so we take it back
 * ourselves, the way the bridge reclaims.  1 if we did.
 */
static int
take_back(const struct ring_area *a, const struct holder *h, uint32_t self,
    const char *ms)
{
	if (h->peer != self || ring_slot_reclaim(a, h->slot, h->claim) != 1)
		return 0;
	log_info("slot %u held MAC %s for our own peer ID %u, and its "
	    "heartbeat stopped: an earlier run of ours; took it back",
	    h->slot, ms, self);
	return 1;
}

/*
 * 0 once no other slot holds mac; -1 if a live one does, or a dead one
 * was not reclaimed in time; -2 when told to stop.
 */
static int
wait_mac_free(const struct ring_area *a, const uint8_t mac[6],
    uint32_t self, int64_t deadline_us, nic_wait_fn *wait, void *arg,
    char *err, size_t len)
{
	struct holder h, again;
	char ms[NIC_MACSTR];
	int logged = 0;

	nic_mac_format(mac, ms);
	while (find_mac(a, mac, UINT32_MAX, &h)) {
		if (wait(arg, STALE_US))
			return -2;
		if (!find_mac(a, mac, UINT32_MAX, &again) ||
		    again.slot != h.slot || again.claim != h.claim)
			continue;
		if (again.beat != h.beat)
			return errbuf(err, len, "MAC %s is live in slot %u (peer "
			    "%u); give another --mac, or stop the NIC that "
			    "has it", ms, h.slot, h.peer);
		if (take_back(a, &again, self, ms))
			continue;
		if (clock_us() >= deadline_us)
			return errbuf(err, len, "MAC %s is held by slot %u, whose "
			    "owner stopped beating; mqbridge reclaims such "
			    "a slot after its --reclaim time: is it running? "
			    "(or wait longer with -w)", ms, h.slot);
		if (!logged++)
			log_info("slot %u holds MAC %s but its owner's "
			    "heartbeat stopped; waiting up to %d s for "
			    "mqbridge to reclaim it", h.slot, ms,
			    wait_s(deadline_us));
	}
	return 0;
}

static uint64_t
new_token(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = 0;
	r ^= (uint64_t)getpid() << 32 ^ (uint64_t)clock_us();
	return r == RING_CLAIM_FREE || r == RING_CLAIM_BUSY ? 1 : r;
}

int
nic_claim(struct nic_slot *s, const uint8_t mac[6], uint32_t peer_id,
    uint32_t features, int64_t deadline_us, nic_wait_fn *wait, void *arg,
    char *err, size_t len)
{
	const struct ring_area *a = &s->a;
	uint64_t token = new_token();
	struct holder h;
	char ms[NIC_MACSTR];
	uint32_t i;
	int rc;

	if ((rc = wait_mac_free(a, mac, peer_id, deadline_us, wait, arg, err,
	    len)) != 0)
		return rc;
	for (i = 0; i < a->geom.p.slot_count; i++)
		if (ring_slot_claim(a, i, token) == 1)
			break;
	if (i == a->geom.p.slot_count)
		return errbuf(err, len, "no free slot in the NIC area: all %u are "
		    "claimed; stop another NIC, or have mqbridge format the "
		    "area with more --slots", a->geom.p.slot_count);
	s->slot = i;
	s->token = token;
	/* Large frames only where two of them fit each ring. */
	if (!a->geom.vnet_ok)
		features &= ~RING_F_VNET;
	s->features = features;
	ring_side_state(a, i, RING_NIC, RING_RESET);
	ring_side_ident(a, i, RING_NIC, peer_id, 0, mac);
	ring_side_features(a, i, RING_NIC, features, token);
	ring_side_beat(a, i, RING_NIC);
	/* Our MAC is out before we look: see the header comment. */
	atomic_thread_fence(memory_order_seq_cst);
	if (find_mac(a, mac, i, &h)) {
		nic_release(s);
		nic_mac_format(mac, ms);
		return errbuf(err, len, "MAC %s was claimed in slot %u at the "
		    "same time; give another --mac, or stop the NIC that "
		    "has it", ms, h.slot);
	}
	return 0;
}

enum nic_hold
nic_slot_check(const struct nic_slot *s)
{
	struct ring_slot_view v;

	if (ring_area_live(&s->a) != RING_OK)
		return NIC_GONE;
	(void)ring_slot_view(&s->a, s->slot, &v);
	return v.claim == s->token ? NIC_HELD : NIC_LOST;
}

void
nic_beat(const struct nic_slot *s)
{
	if (s->token != 0)
		ring_side_beat(&s->a, s->slot, RING_NIC);
}

void
nic_reident(const struct nic_slot *s, uint32_t peer_id, const uint8_t mac[6])
{
	/* The same MAC goes back in one store: the bridge never sees it
	 * change, only the ID it rings. */
	if (s->token != 0)
		ring_side_ident(&s->a, s->slot, RING_NIC, peer_id, 0, mac);
}

void
nic_release(struct nic_slot *s)
{
	if (s->token == 0)
		return;
	ring_side_state(&s->a, s->slot, RING_NIC, RING_RESET);
	(void)ring_slot_release(&s->a, s->slot, s->token);
	s->token = 0;
}

void
nic_forget(struct nic_slot *s)
{
	s->token = 0;
}
