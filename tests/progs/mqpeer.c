/*
 * mqpeer.c - a scriptable NIC endpoint for the bridge's tests: it joins a
 * server, claims a slot like mqnic does (same ring API, same state
 * machine, heartbeat and doorbells), but instead of a TAP device it sends
 * the frames its command line asks for and prints every frame it gets.
 *
 * With it a test can send what no kernel would: a spoofed source MAC, a
 * unicast to nobody, a burst queued while the bridge is down.
 *
 *   mqpeer -p SOCKET --mac MAC [--offset BYTES] [-w SECONDS] STEP...
 *
 *   run                  wait until both sides of the slot are running
 *   send DST [N [LEN [SRC]]]  queue N frames (1) of LEN bytes (60) to DST
 *                        (a MAC, or "bcast") from SRC (our MAC); ethertype
 *                        0x88b5, payload: a sequence number and our tag
 *   expect N             wait until N frames have come in all told
 *   pause                wait for a SIGUSR1 (one that came before the
 *                        step counts: each pause takes one)
 *   deaf                 stop reading the RX ring (frames pile up there)
 *   listen               read it again
 *   jam                  hostile: make our own doorbell's eventfd blocking
 *                        (the bridge holds the same open file description)
 *                        and fill its counter, then stay deaf with the
 *                        need-wakeup flag up, so the bridge rings it at
 *                        every frame it gives us
 *   jam-bridge           hostile: make the bridge's doorbell blocking and
 *                        keep its counter full (a child refills it each
 *                        time the bridge reads it), so whoever rings the
 *                        bridge would block
 *   hold                 serve until SIGTERM
 *   crash                exit at once, slot still claimed
 *
 * mqpeer follows the state machine as mqnic does, including its rules for
 * converging from any state (nic_link.c): a TX ring the bridge must
 * repair is waited for only while the bridge is in init.
 *
 * stdout: "slot S peer P" once claimed, "state run" on reaching run,
 * "jammed" after a jam step, and "rx src SRC dst DST len LEN seq N" per
 * frame.  Exit: 0 done or SIGTERM, 1 usage or set-up error, 3 a step
 * timed out (-w, default 10 s).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/ivpeer.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "mqbridge/slot/ring.h"

#define ETHERTYPE_TEST	0x88b5		/* IEEE local experimental */

struct peer {
	struct ivpeer	 iv;
	unsigned char	*map;
	size_t		 maplen;
	struct ring_area area;
	uint32_t	 slot;
	uint64_t	 token;
	uint8_t		 mac[6];
	enum ring_state	 state;
	struct ring	 tx, rx;
	uint32_t	 bridge_peer, bridge_vec;
	uint64_t	 got, seq;
	int64_t		 next_beat, wait_ms;
	int		 deaf;		/* leave the RX ring unread */
	int		 jam;		/* our doorbell is jammed: leave it */
	pid_t		 refill;	/* jam-bridge's child */
};

/* SIGUSR1s received, and taken by pause steps: none is lost when it
 * comes before its pause begins. */
static volatile sig_atomic_t stop, usr1;
static sig_atomic_t usr1_taken;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		usr1++;
	else
		stop = 1;
}

static int
mac_parse(const char *s, uint8_t m[6])
{
	unsigned int v[6];
	char end;
	int i;

	if (strcmp(s, "bcast") == 0) {
		memset(m, 0xff, 6);
		return 0;
	}
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5], &end) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -1;
		m[i] = (uint8_t)v[i];
	}
	return 0;
}

static void
mac_print(const uint8_t *m)
{
	printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
	    m[5]);
}

/* ---- Slot ------------------------------------------------------------ */

static void
leave(struct peer *p)
{
	if (p->token == 0)
		return;
	ring_side_state(&p->area, p->slot, RING_NIC, RING_RESET);
	ring_slot_release(&p->area, p->slot, p->token);
	p->token = 0;
}

/* Our MAC must not be live anywhere; then the first free slot. */
static int
claim(struct peer *p)
{
	struct ring_slot_view v;
	uint32_t s, n = p->area.geom.p.slot_count;
	struct timespec ts;

	for (s = 0; s < n; s++) {
		ring_slot_view(&p->area, s, &v);
		if (v.claim != RING_CLAIM_FREE &&
		    v.side[RING_NIC].state != RING_RESET &&
		    memcmp(v.side[RING_NIC].mac, p->mac, 6) == 0)
			fatal("mac is live in slot %" PRIu32 " already", s);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	p->token = (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^
	    (uint64_t)ts.tv_sec << 20;
	if (p->token == RING_CLAIM_FREE || p->token == RING_CLAIM_BUSY)
		p->token = 1;
	for (s = 0; s < n; s++)
		if (ring_slot_claim(&p->area, s, p->token) == 1)
			break;
	if (s == n) {
		p->token = 0;
		fatal("no free slot among %" PRIu32, n);
	}
	p->slot = s;
	ring_side_ident(&p->area, s, RING_NIC, (uint32_t)p->iv.id, 0,
	    p->mac);
	ring_side_state(&p->area, s, RING_NIC, RING_RESET);
	p->state = RING_RESET;
	printf("slot %" PRIu32 " peer %d\n", s, p->iv.id);
	fflush(stdout);
	return 0;
}

/* 1 once both rings are open; 0 while TX waits for the bridge. */
static int
open_rings(struct peer *p)
{
	int err;

	err = ring_open(&p->rx, &p->area, p->slot, RING_RX, RING_NIC);
	if (err != RING_OK)
		ring_repair(&p->rx);	/* we consume RX: ours to fix */
	/* We produce TX: the bridge repairs it on its way to ready. */
	err = ring_open(&p->tx, &p->area, p->slot, RING_TX, RING_NIC);
	return err == RING_OK;
}

static int
rings_sound(struct peer *p)
{
	struct ring t;

	return ring_open(&t, &p->area, p->slot, RING_TX, RING_NIC) ==
	    RING_OK && ring_open(&t, &p->area, p->slot, RING_RX, RING_NIC) ==
	    RING_OK;
}

static void
tick(struct peer *p)
{
	struct ring_slot_view v;
	enum ring_state next, peer;

	if (clock_ms() >= p->next_beat) {
		ring_side_beat(&p->area, p->slot, RING_NIC);
		p->next_beat = clock_ms() + 100;
	}
	ring_slot_view(&p->area, p->slot, &v);
	p->bridge_peer = v.side[RING_BRIDGE].peer_id;
	p->bridge_vec = v.side[RING_BRIDGE].vector;
	peer = v.side[RING_BRIDGE].state;
	next = ring_state_next(p->state, peer);
	/* Converge from any state, as mqnic does (nic_link.c). */
	if (p->state == RING_READY && next == RING_READY && !rings_sound(p))
		next = RING_RESET;
	if (next == p->state)
		return;
	if (p->state == RING_INIT && next == RING_READY && !open_rings(p)) {
		if (peer < RING_READY)
			return;
		next = RING_RESET;
	}
	p->state = next;
	ring_side_state(&p->area, p->slot, RING_NIC, next);
	if (next == RING_RUN) {
		printf("state run\n");
		fflush(stdout);
	}
}

/* ---- Frames ---------------------------------------------------------- */

static void
print_frame(struct peer *p, const unsigned char *f, uint32_t len)
{
	uint32_t seq = 0;

	if (len >= 18)
		memcpy(&seq, f + 14, 4);
	p->got++;
	printf("rx src ");
	mac_print(f + 6);
	printf(" dst ");
	mac_print(f);
	printf(" len %" PRIu32 " seq %" PRIu32 "\n", len, seq);
	fflush(stdout);
}

static void
receive(struct peer *p)
{
	unsigned char buf[RING_MTU_MAX + RING_FRAME_EXTRA];
	uint32_t len;

	if (p->state != RING_RUN || p->deaf)
		return;
	while (ring_recv(&p->rx, buf, sizeof(buf), &len) == 1)
		print_frame(p, buf, len);
}

/* Wait for a doorbell or 10 ms, keeping the slot alive meanwhile. */
static void
pump(struct peer *p)
{
	struct pollfd pfd = { .fd = p->iv.own[0], .events = POLLIN };
	char err[256];
	uint32_t n = 0;

	tick(p);
	receive(p);
	if (ivpeer_pump(&p->iv, NULL, NULL, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (p->jam) {
		/* The flag stays up, the doorbell full and unread. */
		ring_wakeup_arm(&p->rx, 1);
		poll(NULL, 0, 10);
		return;
	}
	if (p->state == RING_RUN && !p->deaf) {
		ring_wakeup_arm(&p->rx, 1);
		if (ring_avail(&p->rx, &n) != RING_OK || n > 0) {
			ring_wakeup_arm(&p->rx, 0);
			return;
		}
	}
	if (poll(&pfd, 1, 10) == 1)
		ivpeer_take(&p->iv, 0);
	if (p->state == RING_RUN)
		ring_wakeup_arm(&p->rx, 0);
}

static void
send_one(struct peer *p, const uint8_t dst[6], const uint8_t src[6],
    uint32_t len, int64_t deadline)
{
	unsigned char *buf;
	uint32_t seq = (uint32_t)++p->seq;
	int got;

	while ((got = ring_reserve(&p->tx, &buf)) != 1) {
		if (got < 0 || stop || clock_ms() > deadline)
			fatal("tx ring %s", got < 0 ? "faulted" : "stayed full");
		pump(p);
	}
	memset(buf, 0, len);
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = ETHERTYPE_TEST >> 8;
	buf[13] = ETHERTYPE_TEST & 0xff;
	memcpy(buf + 14, &seq, 4);
	ring_push(&p->tx, len);
	ring_commit(&p->tx);
	if (ring_wakeup_needed(&p->tx))
		ivpeer_ring(&p->iv, (int)p->bridge_peer, p->bridge_vec);
}

/* ---- Hostile steps --------------------------------------------------- */

#define EVENTFD_MAX	0xfffffffffffffffeULL

/* O_NONBLOCK off in the open file description every peer shares. */
static void
make_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		fatal("fcntl: %s", strerror(errno));
}

/* Our own doorbell: whoever rings it now would block. */
static void
jam_own(struct peer *p)
{
	uint64_t v = EVENTFD_MAX;

	make_blocking(p->iv.own[0]);
	if (write(p->iv.own[0], &v, sizeof(v)) != (ssize_t)sizeof(v))
		fatal("filling our doorbell: %s", strerror(errno));
	p->deaf = 1;
	p->jam = 1;
}

/* The bridge's doorbell, kept full by a child: each time the bridge
 * reads it, the child's blocked write fills it again. */
static void
jam_bridge(struct peer *p)
{
	uint64_t v = EVENTFD_MAX;
	int fd;

	if (p->bridge_peer >= IVPEER_IDS ||
	    !ivpeer_known(&p->iv, (int)p->bridge_peer))
		fatal("jam-bridge: the bridge's doorbell is unknown");
	fd = p->iv.vfd[(size_t)p->bridge_peer * p->iv.nvec + p->bridge_vec];
	make_blocking(fd);
	if ((p->refill = fork()) == -1)
		fatal("fork: %s", strerror(errno));
	if (p->refill == 0) {
		signal(SIGTERM, SIG_DFL);
		for (;;)
			if (write(fd, &v, sizeof(v)) == -1 && errno != EINTR)
				_exit(1);
	}
}

/* ---- Steps ----------------------------------------------------------- */

static void
until(struct peer *p, int (*done)(struct peer *, uint64_t), uint64_t arg,
    const char *what)
{
	int64_t deadline = clock_ms() + p->wait_ms;

	while (!done(p, arg)) {
		if (stop)
			return;
		if (clock_ms() > deadline) {
			log_err("%s: timed out after %" PRId64 " ms", what,
			    p->wait_ms);
			leave(p);
			exit(3);
		}
		pump(p);
	}
}

static int
running(struct peer *p, uint64_t unused)
{
	(void)unused;
	return p->state == RING_RUN;
}

static int
got_n(struct peer *p, uint64_t n)
{
	return p->got >= n;
}

static uint64_t
num(const char *s, uint64_t min, uint64_t max)
{
	const char *why;
	uint64_t v;

	if (parse_u64(s, min, max, &v, &why) == -1)
		fatal("%s: %s", s, why);
	return v;
}

/* "send DST [N [LEN [SRC]]]": how many words it took. */
static int
step_send(struct peer *p, int argc, char **argv)
{
	uint8_t dst[6], src[6];
	uint64_t n = 1, len = 60, i;
	int used = 2;

	if (argc < 2 || mac_parse(argv[1], dst) == -1)
		fatal("send needs a destination MAC or bcast");
	memcpy(src, p->mac, 6);
	if (argc > 2 && argv[2][0] >= '0' && argv[2][0] <= '9')
		n = num(argv[used++], 1, 1000000);
	if (argc > 3 && used == 3 && argv[3][0] >= '0' && argv[3][0] <= '9')
		len = num(argv[used++], 18, p->tx.frame_max);
	if (argc > 4 && used == 4 && mac_parse(argv[4], src) == 0)
		used++;
	if (p->state != RING_RUN)
		fatal("send before the slot runs; put \"run\" first");
	for (i = 0; i < n && !stop; i++)
		send_one(p, dst, src, (uint32_t)len, clock_ms() + p->wait_ms);
	return used;
}

static void
steps(struct peer *p, int argc, char **argv)
{
	int i = 0;

	while (i < argc && !stop) {
		if (strcmp(argv[i], "run") == 0) {
			until(p, running, 0, "run");
			i++;
		} else if (strcmp(argv[i], "send") == 0) {
			i += step_send(p, argc - i, argv + i);
		} else if (strcmp(argv[i], "expect") == 0 && i + 1 < argc) {
			until(p, got_n, num(argv[i + 1], 0, UINT32_MAX),
			    "expect");
			i += 2;
		} else if (strcmp(argv[i], "pause") == 0) {
			while (usr1 == usr1_taken && !stop)
				pump(p);
			usr1_taken++;
			i++;
		} else if (strcmp(argv[i], "jam") == 0 ||
		    strcmp(argv[i], "jam-bridge") == 0) {
			if (argv[i][3] == '\0')
				jam_own(p);
			else
				jam_bridge(p);
			printf("jammed\n");
			fflush(stdout);
			i++;
		} else if (strcmp(argv[i], "deaf") == 0 ||
		    strcmp(argv[i], "listen") == 0) {
			p->deaf = argv[i][0] == 'd';
			i++;
		} else if (strcmp(argv[i], "hold") == 0) {
			while (!stop)
				pump(p);
			i++;
		} else if (strcmp(argv[i], "crash") == 0) {
			fflush(stdout);
			_exit(0);
		} else
			fatal("unknown step %s", argv[i]);
	}
}

/* ---- Set-up ---------------------------------------------------------- */

static void
attach(struct peer *p, const char *sock, uint64_t offset)
{
	char err[256];
	int64_t deadline = clock_ms() + p->wait_ms;
	int rc;

	if (ivpeer_connect(&p->iv, sock, SCM_PROTO_V0, 1, 5000, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
	if (p->iv.size < offset + RING_HDR_SIZE)
		fatal("region too small for --offset");
	p->maplen = (size_t)(p->iv.size - offset);
	p->map = mmap(NULL, p->maplen, PROT_READ | PROT_WRITE, MAP_SHARED,
	    p->iv.region_fd, (off_t)offset);
	if (p->map == MAP_FAILED)
		fatal("mmap: %s", strerror(errno));
	while ((rc = ring_attach(&p->area, p->map, p->maplen, offset,
	    NULL)) == RING_ENOAREA && clock_ms() < deadline)
		poll(NULL, 0, 10);
	if (rc != RING_OK)
		fatal("attach: %s", ring_strerror(rc));
}

int
main(int argc, char **argv)
{
	static struct peer p;
	const char *sock = NULL, *why;
	uint64_t offset = 0, w = 10;
	struct sigaction sa;
	int i;

	log_init("mqpeer", 0, 0);
	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-p") == 0)
			sock = argv[i + 1];
		else if (strcmp(argv[i], "--mac") == 0) {
			if (mac_parse(argv[i + 1], p.mac) == -1)
				fatal("--mac %s: not a MAC", argv[i + 1]);
		} else if (strcmp(argv[i], "--offset") == 0) {
			if (parse_size(argv[i + 1], PARSE_BARE_BYTES, &offset,
			    &why) == -1)
				fatal("--offset: %s", why);
		} else if (strcmp(argv[i], "-w") == 0)
			w = num(argv[i + 1], 1, 3600);
		else
			fatal("unknown option %s", argv[i]);
	}
	if (sock == NULL || (p.mac[0] | p.mac[1] | p.mac[2] | p.mac[3] |
	    p.mac[4] | p.mac[5]) == 0)
		fatal("usage: mqpeer -p SOCKET --mac MAC [--offset BYTES] "
		    "[-w SECONDS] STEP...");
	p.wait_ms = (int64_t)w * 1000;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	attach(&p, sock, offset);
	claim(&p);
	steps(&p, argc - i, argv + i);
	if (p.refill > 0)
		kill(p.refill, SIGKILL);
	leave(&p);
	munmap(p.map, p.maplen);
	ivpeer_close(&p.iv);
	return 0;
}
