/*
 * ring_scribble.c - play a hostile or broken endpoint: map a region file
 * and write garbage into the control words of one slot, so the bridge's
 * tests can check that it survives, resets that slot and carries on.
 *
 *   ring_scribble FILE OFFSET SLOT WHAT
 *   ring_scribble FILE OFFSET SLOT storm SECONDS
 *
 *   index   the TX produced index jumps 4000 past the bridge's consumer
 *   desc    the next TX descriptor is garbage (length 0xdead, flags set)
 *           and the produced index moves one past the consumer
 *   state   the NIC state word becomes 77
 *   rxcons  the RX consumed index jumps 1000 ahead of the bridge
 *   magic   the area's magic becomes 0: no area any more (SLOT unused)
 *   remagic the magic comes back with the next generation, as after a
 *           reformat that kept every slot's contents (SLOT unused)
 *   storm   index and rxcons garbage over and over for SECONDS: aimed at
 *           the moments when one side waits for the other to repair a
 *           ring (RX garbage while the NIC is past init and the bridge in
 *           init, TX garbage while the bridge is past init and the NIC in
 *           init), and every few milliseconds in between.  It ends on an
 *           aimed scribble, the worst place to leave a slot, and prints
 *           "storm: N scribbles, M aimed".
 *
 * Indices are found through the ring API (ring_open as the NIC), so the
 * garbage is relative to what the slot holds now.  Exit 0, or 1 with a
 * one-line reason.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "mqbridge/slot/ring.h"

#define STORM_EVERY_US	3000	/* unaimed scribbles during the storm */
#define STORM_AFTER_US	50000	/* ... and after it, until one is aimed */
#define STORM_MAX_US	30000000	/* give up waiting for an aim */

static void
die(const char *what)
{
	fprintf(stderr, "ring_scribble: %s\n", what);
	exit(1);
}

static void
scribble(struct ring_area *a, uint32_t slot, const char *what)
{
	struct ring_slot *s = ring_slot_at(a, slot);
	struct ring r;

	if (s == NULL)
		die("no such slot");
	if (strcmp(what, "state") == 0) {
		atomic_store(&s->side[RING_NIC].state, 77);
		printf("slot %" PRIu32 ": nic state 77\n", slot);
		return;
	}
	if (strcmp(what, "rxcons") == 0) {
		ring_open(&r, a, slot, RING_RX, RING_NIC);
		atomic_store(r.own, r.seen + 1000);
		printf("slot %" PRIu32 ": rx consumed index %" PRIu32 "\n",
		    slot, r.seen + 1000);
		return;
	}
	ring_open(&r, a, slot, RING_TX, RING_NIC);
	if (strcmp(what, "index") == 0) {
		atomic_store(r.own, r.seen + 4000);
		printf("slot %" PRIu32 ": tx produced index %" PRIu32 "\n",
		    slot, r.seen + 4000);
		return;
	}
	if (strcmp(what, "desc") == 0) {
		atomic_store(&r.desc[r.seen & r.mask],
		    0x00ff00000000deadULL);
		atomic_store(r.own, r.seen + 1);
		printf("slot %" PRIu32 ": tx descriptor %" PRIu32 " garbage\n",
		    slot, r.seen);
		return;
	}
	die("WHAT is index, desc, state, rxcons, magic, remagic or storm");
}

/* Garbage in one ring, relative to what it holds now. */
static void
garbage(struct ring_area *a, uint32_t slot, int rx)
{
	struct ring r;

	if (rx) {
		ring_open(&r, a, slot, RING_RX, RING_NIC);
		atomic_store(r.own, r.seen + 1000);
	} else {
		ring_open(&r, a, slot, RING_TX, RING_NIC);
		atomic_store(r.own, r.seen + 4000);
	}
}

/* Which ring to hit now that one side waits on the other: 1 RX, 0 TX,
 * -1 neither. */
static int
aim(struct ring_area *a, uint32_t slot)
{
	struct ring_slot_view v;
	enum ring_state nic, br;

	(void)ring_slot_view(a, slot, &v);
	nic = v.side[RING_NIC].state;
	br = v.side[RING_BRIDGE].state;
	if (nic >= RING_READY && br == RING_INIT)
		return 1;
	if (br >= RING_READY && nic == RING_INIT)
		return 0;
	return -1;
}

static void
storm(struct ring_area *a, uint32_t slot, const char *secs)
{
	int64_t now = clock_us(), end = now + strtoll(secs, NULL, 0) * 1000000,
	    last = 0;
	unsigned int n = 0, aimed = 0;
	int at, done = 0;

	while (!done) {
		now = clock_us();
		if (now > end + STORM_MAX_US)
			die("storm: no side ever waited on the other");
		if ((at = aim(a, slot)) != -1) {
			garbage(a, slot, at);
			n++;
			aimed++;
			done = now >= end;
			usleep(5000);	/* let it see the garbage */
			continue;
		}
		if (now - last >= (now < end ? STORM_EVERY_US :
		    STORM_AFTER_US)) {
			garbage(a, slot, n % 2);
			n++;
			last = now;
		}
		usleep(200);
	}
	printf("storm: %u scribbles, %u aimed\n", n, aimed);
}

/* The header words, for magic and remagic: ring_attach() no longer
 * works once the magic is gone. */
static int
header(unsigned char *base, const char *what)
{
	struct ring_hdr *h = (struct ring_hdr *)base;

	if (strcmp(what, "magic") == 0) {
		atomic_store(&h->magic, 0);
		printf("magic 0\n");
		return 1;
	}
	if (strcmp(what, "remagic") == 0) {
		atomic_fetch_add(&h->generation, 1);
		atomic_store(&h->magic, RING_MAGIC);
		printf("magic back\n");
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct ring_area a;
	struct stat st;
	unsigned char *map;
	uint64_t offset;
	uint32_t slot;
	int fd, err;

	if (argc != 5 && !(argc == 6 && strcmp(argv[4], "storm") == 0))
		die("usage: ring_scribble FILE OFFSET SLOT WHAT");
	offset = strtoull(argv[2], NULL, 0);
	slot = (uint32_t)strtoul(argv[3], NULL, 0);
	if ((fd = open(argv[1], O_RDWR)) == -1 || fstat(fd, &st) == -1)
		die(strerror(errno));
	if ((uint64_t)st.st_size <= offset)
		die("file smaller than OFFSET");
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die(strerror(errno));
	if (header(map + offset, argv[4]))
		return 0;
	err = ring_attach(&a, map + offset, (uint64_t)st.st_size - offset,
	    offset, NULL);
	if (err != RING_OK)
		die(ring_strerror(err));
	if (argc == 6)
		storm(&a, slot, argv[5]);
	else
		scribble(&a, slot, argv[4]);
	munmap(map, (size_t)st.st_size);
	close(fd);
	return 0;
}
