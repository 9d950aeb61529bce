/*
 * nic_ring.c - test driver for tests/mqnic.bats: the other end of
 * mqnic's slot, through the ring API only (so every shared read is
 * checked as in the real programs).
 *
 *   nic_ring format FILE [-o OFFSET] [-s SLOTS] [-m MTU] [-r RING] [-F]
 *   nic_ring slots  FILE [-o OFFSET]
 *   nic_ring bridge FILE [-o OFFSET] [-s SLOT] [-p SOCKET | -i ID]
 *   nic_ring rx     FILE [-o OFFSET] [-s SLOT] [-p SOCKET] HEXFRAME...
 *   nic_ring reclaim FILE [-o OFFSET] [-s SLOT]
 *   nic_ring corrupt FILE [-o OFFSET] [-s SLOT]
 *   nic_ring sniff  IFNAME SECONDS COUNT
 *
 * format formats the NIC area as mqbridge would (-F: again, a new
 * generation).  slots prints one line
 * per slot.  bridge plays the bridge side of one slot: it follows the
 * state machine, beats, prints "state S" on each change, "run" when both
 * sides run, "tx LEN HEX" per frame it takes off the TX ring and "bell"
 * per doorbell (-p: it joins the server and sleeps on its eventfd with
 * the need-wakeup flag armed; "server gone" if the server leaves, and it
 * carries on).  On SIGTERM it resets its side and exits.
 * rx pushes frames into the RX ring as the bridge would and rings the
 * NIC if it asked for it ("rang", "no wakeup wanted").  reclaim takes a
 * dead owner's slot back as the bridge does.  corrupt writes an RX
 * producer index 4000 ahead of the consumer's.  sniff prints the
 * frames that arrive on an interface, from an AF_PACKET socket.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/ivpeer.h"
#include "mqbridge/slot/ring.h"

static volatile sig_atomic_t stop;

struct args {
	const char	*file, *sock;
	uint64_t	 offset;
	uint32_t	 slot, id;
	struct ring_params p;
	char		**rest;
	int		 nrest;
	int		 force;
};

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "nic_ring: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void
parse(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	ring_params_default(&a->p);
	if (argc < 3)
		die("usage: nic_ring CMD FILE [options]%s", "");
	a->file = argv[2];
	optind = 3;
	while ((c = getopt(argc, argv, "o:s:m:r:p:i:F")) != -1) {
		switch (c) {
		case 'o':
			a->offset = strtoull(optarg, NULL, 0);
			break;
		case 's':
			a->slot = a->p.slot_count =
			    (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			a->p.mtu = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			a->p.tx_size = a->p.rx_size =
			    (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'p':
			a->sock = optarg;
			break;
		case 'i':
			a->id = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'F':
			a->force = 1;
			break;
		default:
			die("bad option%s", "");
		}
	}
	a->rest = argv + optind;
	a->nrest = argc - optind;
}

/* The whole region file, mapped shared. */
static unsigned char *
map_file(const char *path, uint64_t *size)
{
	struct stat st;
	void *m;
	int fd;

	if ((fd = open(path, O_RDWR)) == -1 || fstat(fd, &st) == -1)
		die("cannot open %s", path);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		die("cannot map %s", path);
	*size = (uint64_t)st.st_size;
	return m;
}

static void
attach(const struct args *a, struct ring_area *ra, uint64_t *size)
{
	unsigned char *m = map_file(a->file, size);
	int err;

	err = ring_attach(ra, m + a->offset, *size - a->offset, a->offset,
	    NULL);
	if (err != RING_OK)
		die("attach: %s", ring_strerror(err));
}

static void
hex_print(const char *tag, const unsigned char *p, uint32_t len)
{
	uint32_t i;

	printf("%s %u ", tag, len);
	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("\n");
	fflush(stdout);
}

static int
cmd_format(struct args *a)
{
	struct ring_area ra;
	uint64_t size;
	unsigned char *m = map_file(a->file, &size);
	int formatted, err;

	if (a->p.slot_count == 0)
		a->p.slot_count = 1;
	err = ring_format(&ra, m + a->offset, size - a->offset, a->offset,
	    &a->p, a->force, &formatted);
	if (err != RING_OK)
		die("format: %s", ring_strerror(err));
	printf("%s\n", formatted ? "formatted" : "kept");
	munmap(m, size);
	return 0;
}

static void
mac_str(const uint8_t m[6], char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	    m[3], m[4], m[5]);
}

static int
cmd_slots(struct args *a)
{
	struct ring_area ra;
	struct ring_slot_view v;
	uint64_t size;
	uint32_t i;
	char mac[18], claim[24];

	attach(a, &ra, &size);
	printf("mtu %u slots %u\n", ra.geom.p.mtu, ra.geom.p.slot_count);
	for (i = 0; i < ra.geom.p.slot_count; i++) {
		(void)ring_slot_view(&ra, i, &v);
		if (v.claim == RING_CLAIM_FREE)
			strcpy(claim, "free");
		else if (v.claim == RING_CLAIM_BUSY)
			strcpy(claim, "busy");
		else
			strcpy(claim, "claimed");
		mac_str(v.side[RING_NIC].mac, mac);
		printf("slot %u %s nic %s peer %u vec %u mac %s beat %llu "
		    "bridge %s\n", i, claim,
		    ring_state_name(v.side[RING_NIC].state),
		    v.side[RING_NIC].peer_id, v.side[RING_NIC].vector, mac,
		    (unsigned long long)v.side[RING_NIC].heartbeat,
		    ring_state_name(v.side[RING_BRIDGE].state));
	}
	munmap(ra.base - a->offset, size);
	return 0;
}

static void
nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
peer_connect(const char *sock, struct ivpeer *iv)
{
	char err[256];

	if (ivpeer_connect(iv, sock, SCM_PROTO_V0, 1, 5000, err,
	    sizeof(err)) == -1)
		die("%s", err);
}

/* Take the TX ring's frames; arm and sleep when there are none. */
static void
bridge_drain(struct ring *tx, struct ivpeer *iv, int use_iv)
{
	static unsigned char buf[RING_MTU_MAX + RING_FRAME_EXTRA];
	struct pollfd pfd;
	uint32_t len, n;
	int got;

	while ((got = ring_recv(tx, buf, sizeof(buf), &len)) == 1)
		hex_print("tx", buf, len);
	if (got < 0) {
		ring_describe(tx, (char *)buf, sizeof(buf));
		printf("error %s\n", buf);
		fflush(stdout);
		exit(1);
	}
	ring_wakeup_arm(tx, 1);
	if (ring_avail(tx, &n) == RING_OK && n > 0) {
		ring_wakeup_arm(tx, 0);
		return;
	}
	if (!use_iv) {
		nap_ms(10);
	} else {
		pfd.fd = iv->own[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) == 1 && ivpeer_take(iv, 0) > 0) {
			printf("bell\n");
			fflush(stdout);
		}
	}
	ring_wakeup_arm(tx, 0);
}

static int
cmd_bridge(struct args *a)
{
	struct ring_area ra;
	struct ring_slot_view v;
	struct ivpeer iv;
	struct ring tx;
	enum ring_state own = RING_RESET, next;
	uint64_t size, claim = 0;
	char err[256];
	int server = 0;

	attach(a, &ra, &size);
	if (a->sock != NULL) {
		peer_connect(a->sock, &iv);
		a->id = (uint32_t)iv.id;
		server = 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	ring_side_ident(&ra, a->slot, RING_BRIDGE, a->id, 0, NULL);
	ring_side_state(&ra, a->slot, RING_BRIDGE, RING_RESET);
	printf("bridge peer %u\n", a->id);
	fflush(stdout);
	while (!stop) {
		ring_side_beat(&ra, a->slot, RING_BRIDGE);
		if (server && ivpeer_pump(&iv, NULL, NULL, err,
		    sizeof(err)) == -1) {
			printf("server gone\n");
			fflush(stdout);
			server = 0;
		}
		(void)ring_slot_view(&ra, a->slot, &v);
		next = ring_state_next(own, v.side[RING_NIC].state);
		/* As mqbridge: a slot claimed anew (reclaimed, then claimed
		 * again) starts over, even if we never saw it in reset. */
		if (own == RING_RESET)
			claim = v.claim;
		else if (v.claim != claim)
			next = RING_RESET;
		if (own == RING_INIT && next == RING_READY &&
		    ring_open(&tx, &ra, a->slot, RING_TX, RING_BRIDGE) !=
		    RING_OK)
			ring_repair(&tx);
		if (next != own) {
			own = next;
			ring_side_state(&ra, a->slot, RING_BRIDGE, own);
			printf("state %s\n", ring_state_name(own));
			fflush(stdout);
		}
		if (own == RING_RUN && v.side[RING_NIC].state == RING_RUN)
			bridge_drain(&tx, &iv, a->sock != NULL);
		else
			nap_ms(10);
	}
	ring_side_state(&ra, a->slot, RING_BRIDGE, RING_RESET);
	if (a->sock != NULL)
		ivpeer_close(&iv);
	munmap(ra.base - a->offset, size);
	return 0;
}

static int
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t i, n = strlen(s) / 2;
	unsigned int b;

	if (strlen(s) % 2 != 0 || n > max)
		die("bad frame %s", s);
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			die("bad frame %s", s);
		out[i] = (unsigned char)b;
	}
	return (int)n;
}

static int
cmd_rx(struct args *a)
{
	static unsigned char buf[RING_MTU_MAX + RING_FRAME_EXTRA];
	struct ring_area ra;
	struct ring_slot_view v;
	struct ivpeer iv;
	struct ring rx;
	uint64_t size;
	int i, len, err;

	attach(a, &ra, &size);
	if ((err = ring_open(&rx, &ra, a->slot, RING_RX, RING_BRIDGE)) != 0)
		die("open rx: %s", ring_strerror(err));
	for (i = 0; i < a->nrest; i++) {
		len = unhex(a->rest[i], buf, sizeof(buf));
		if (ring_send(&rx, buf, (uint32_t)len) != 1)
			die("rx ring full or bad frame %s", a->rest[i]);
	}
	if (!ring_wakeup_needed(&rx)) {
		printf("no wakeup wanted\n");
	} else if (a->sock != NULL) {
		peer_connect(a->sock, &iv);
		(void)ring_slot_view(&ra, a->slot, &v);
		if (ivpeer_ring(&iv, (int)v.side[RING_NIC].peer_id,
		    v.side[RING_NIC].vector) == -1)
			die("cannot ring the NIC%s", "");
		printf("rang\n");
		ivpeer_close(&iv);
	} else
		printf("wakeup wanted\n");
	munmap(ra.base - a->offset, size);
	return 0;
}

static int
cmd_reclaim(struct args *a)
{
	struct ring_area ra;
	struct ring_slot_view v;
	uint64_t size;
	int rc;

	attach(a, &ra, &size);
	(void)ring_slot_view(&ra, a->slot, &v);
	rc = ring_slot_reclaim(&ra, a->slot, v.claim);
	printf("%s\n", rc == 1 ? "reclaimed" : "not reclaimed");
	munmap(ra.base - a->offset, size);
	return rc != 1;
}

/* The attacker's write: straight into the slot, past the ring API. */
static int
cmd_corrupt(struct args *a)
{
	struct ring_area ra;
	struct ring_slot *s;
	uint64_t size;
	uint32_t cons;

	attach(a, &ra, &size);
	s = ring_slot_at(&ra, a->slot);
	cons = atomic_load(&s->rx_cons.idx);
	atomic_store(&s->rx_prod.idx, cons + 4000);
	printf("rx prod %u cons %u\n", cons + 4000, cons);
	munmap(ra.base - a->offset, size);
	return 0;
}

static int
cmd_sniff(int argc, char **argv)
{
	static unsigned char buf[65536];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct pollfd pfd;
	time_t end;
	ssize_t n;
	int fd, count, seen = 0;

	if (argc != 5)
		die("usage: nic_ring sniff IFNAME SECONDS COUNT%s", "");
	end = time(NULL) + atoi(argv[3]);
	count = atoi(argv[4]);
	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(argv[2]);
	if (fd == -1 || sll.sll_ifindex == 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1)
		die("cannot listen on %s", argv[2]);
	printf("listening\n");
	fflush(stdout);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (seen < count && time(NULL) < end) {
		if (poll(&pfd, 1, 100) != 1)
			continue;
		socklen_t sl = sizeof(sll);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sll,
		    &sl);
		if (n <= 0 || sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		hex_print("rx", buf, (uint32_t)n);
		seen++;
	}
	close(fd);
	return seen < count;
}

int
main(int argc, char **argv)
{
	struct args a;

	if (argc >= 2 && strcmp(argv[1], "sniff") == 0)
		return cmd_sniff(argc, argv);
	parse(argc, argv, &a);
	if (strcmp(argv[1], "format") == 0)
		return cmd_format(&a);
	if (strcmp(argv[1], "slots") == 0)
		return cmd_slots(&a);
	if (strcmp(argv[1], "bridge") == 0)
		return cmd_bridge(&a);
	if (strcmp(argv[1], "rx") == 0)
		return cmd_rx(&a);
	if (strcmp(argv[1], "reclaim") == 0)
		return cmd_reclaim(&a);
	if (strcmp(argv[1], "corrupt") == 0)
		return cmd_corrupt(&a);
	die("unknown command %s", argv[1]);
	return 2;
}
