/*
 * mqpeer.c - a scriptable NIC endpoint for the bridge's tests: it joins a
 * server, claims a slot like mqnic does (same ring API, same state
 * machine, heartbeat and doorbells), but instead of a TAP device it sends
 * the frames its command line asks for and prints every frame it gets.
 * Just over 800 lines: one step interpreter; the large-frame steps are
 * already in mqpeer_vnet.c.
 *
 * With it a test can send what no kernel would: a spoofed source MAC, a
 * unicast to nobody, a burst queued while the bridge is down.
 *
 *   mqpeer -p SOCKET --mac MAC [--offset BYTES] [-w SECONDS] [--vnet]
 *          [--strict] [--old] STEP...
 *
 *   --vnet    announce RING_F_VNET: the bridge may hand us large frames
 *             with a virtio_net_hdr, and we may send them
 *   --old     announce no features, as a peer built before them
 *   --strict  sleep on the doorbell alone (2 s at most, not 100 ms), so a
 *             lost doorbell shows as a stall
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
 *   vnet KIND DST PAY GSO HOW  send one segment with a virtio_net_hdr
 *                        (KIND tcp4, tcp6, udp4, udp6; PAY payload bytes
 *                        cut at GSO) as made (HOW good) or spoiled as the
 *                        bridge must refuse (flags, type, ecn, size0,
 *                        hdrlen, csum, segs, headers, long); needs --vnet
 *   duplex DST N         send N numbered frames to DST while taking N
 *                        from it, pausing at random; a frame out of order
 *                        or none for 1 s while some are due fails (exit 4)
 *
 * mqpeer follows the state machine as mqnic does, including its rules for
 * converging from any state (nic_link.c): a TX ring the bridge must
 * repair is waited for only while the bridge is in init.
 *
 * stdout: "slot S peer P" once claimed, "state run" on reaching run,
 * "jammed" after a jam step, and "rx src SRC dst DST len LEN seq N" per
 * frame, followed for an IP frame by "csum ok|bad|partial data ok|bad"
 * and for one with a virtio_net_hdr by "vnet TYPE SIZE"; "duplex sent N
 * got N" after a duplex step.  Exit: 0 done or SIGTERM, 1 usage or set-up
 * error, 3 a step timed out (-w, default 10 s), 4 a duplex step failed.
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
#include "tests/progs/mqpeer_vnet.h"

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
	uint32_t	 features;	/* RING_F_* we announce */
	uint32_t	 bridge_features;
	int		 strict;	/* sleep on the doorbell alone */
	int		 old;		/* leave the features word alone */
	int		 want_room;	/* TX full: ask for a room doorbell */
	uint32_t	 udp_next;	/* payload offset of the next segment */
	uint64_t	 rx_seq;	/* duplex: the last number taken */
	int		 duplex;	/* count frames, do not print them */
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
	if (!p->old)		/* as a peer built before features */
		ring_side_features(&p->area, s, RING_NIC, p->features,
		    p->token);
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
	if (next == RING_RUN) {
		/* As mqnic: what both announced, for this run. */
		p->bridge_features = v.side[RING_BRIDGE].features;
		p->rx.flags_ok = p->features & RING_F_VNET ? RING_DESC_VNET |
		    RING_DESC_NEXT : 0;
		p->tx.flags_ok = p->features & p->bridge_features &
		    RING_F_VNET ? RING_DESC_VNET | RING_DESC_NEXT : 0;
	}
	ring_side_state(&p->area, p->slot, RING_NIC, next);
	if (next == RING_RUN) {
		printf("state run\n");
		fflush(stdout);
	}
}

/* ---- Frames ---------------------------------------------------------- */

/* What an IP frame looks like: its checksums, its payload. */
static void
print_ip(struct peer *p, const unsigned char *f, const struct ring_pkt *k)
{
	int partial = k->vnet && (k->hdr.flags & RING_VNET_F_NEEDS_CSUM);
	const char *c = vnet_verify(f, k->len, partial);

	if (strcmp(c, "none") == 0)
		return;
	printf(" csum %s data %s", c, vnet_payload_ok(f, k->len,
	    &p->udp_next) ? "ok" : "bad");
	if (k->vnet)
		printf(" vnet %u %u", k->hdr.gso_type, k->hdr.gso_size);
}

static void
print_frame(struct peer *p, const unsigned char *f, const struct ring_pkt *k)
{
	uint32_t seq = 0;

	if (k->len >= 18)
		memcpy(&seq, f + 14, 4);
	p->got++;
	if (p->duplex) {
		if (seq != (uint32_t)(p->rx_seq + 1)) {
			printf("duplex out of order: got %" PRIu32 " after %"
			    PRIu64 "\n", seq, p->rx_seq);
			fflush(stdout);
			exit(4);
		}
		p->rx_seq++;
		return;
	}
	printf("rx src ");
	mac_print(f + 6);
	printf(" dst ");
	mac_print(f);
	printf(" len %" PRIu32 " seq %" PRIu32, k->len, seq);
	print_ip(p, f, k);
	printf("\n");
	fflush(stdout);
}

static void
receive(struct peer *p)
{
	static unsigned char buf[RING_VNET_FRAME_MAX];
	struct ring_pkt k;
	int got;

	if (p->state != RING_RUN || p->deaf)
		return;
	while ((got = ring_peek_pkt(&p->rx, &k)) == 1) {
		ring_pkt_copy(&k, 0, k.len, buf, NULL);
		if (k.bad == RING_VNET_OK)
			print_frame(p, buf, &k);
		ring_next_pkt(&p->rx, &k);
		ring_commit(&p->rx);
		if (ring_space_wanted(&p->rx))
			ivpeer_ring(&p->iv, (int)p->bridge_peer,
			    p->bridge_vec);
	}
	if (got < 0)
		fatal("rx ring faulted");
}

/* TX full: ask the bridge to ring us once it makes room, if it offers
 * that.  1 if room came meanwhile. */
static int
arm_room(struct peer *p)
{
	unsigned char *buf;

	if (!p->want_room || !(p->bridge_features & RING_F_SPACE))
		return 0;
	ring_space_arm(&p->tx, 1);
	return ring_reserve(&p->tx, &buf) != 0;
}

/*
 * Wait for a doorbell, keeping the slot alive meanwhile: for frames, and
 * for room in the TX ring when a send waits for it.  No nap: the bridge
 * rings us for either.  Without --strict the wait ends after 10 ms for
 * the heartbeat and the state (the bridge rings no doorbell when it
 * changes state, and a benchmark timing a start counts every wait); with
 * it after 2 s, so that a lost doorbell is a stall a test can see.
 */
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
	if (p->state != RING_RUN || !arm_room(p)) {
		if (poll(&pfd, 1, p->strict ? 2000 : 10) == 1)
			ivpeer_take(&p->iv, 0);
	}
	if (p->state == RING_RUN) {
		ring_wakeup_arm(&p->rx, 0);
		ring_space_arm(&p->tx, 0);
	}
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
		p->want_room = 1;
		pump(p);
		p->want_room = 0;
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

/* ---- Large frames and the duplex stress ------------------------------ */

/* Commit what we produced; ring the bridge if it sleeps. */
static void
tx_commit(struct peer *p)
{
	ring_commit(&p->tx);
	if (ring_wakeup_needed(&p->tx))
		ivpeer_ring(&p->iv, (int)p->bridge_peer, p->bridge_vec);
}

/* "vnet KIND DST PAY GSO HOW": one segment over as many descriptors as it
 * needs, its header first. */
static int
step_vnet(struct peer *p, int argc, char **argv)
{
	static unsigned char f[RING_VNET_HDR_LEN + RING_VNET_FRAME_MAX];
	uint32_t len, n, at, piece, fl = RING_DESC_VNET;
	int64_t deadline = clock_ms() + p->wait_ms;
	unsigned char *buf;
	uint8_t dst[6];
	int got;

	if (argc < 6 || mac_parse(argv[2], dst) == -1)
		fatal("vnet needs KIND DST PAY GSO HOW");
	if (p->state != RING_RUN || !(p->tx.flags_ok & RING_DESC_VNET))
		fatal("vnet: no large frames on this run; --vnet and \"run\" "
		    "first, against a bridge that offers them");
	len = vnet_craft(f, argv[1], dst, p->mac,
	    (uint32_t)num(argv[3], 0, 65000), (uint32_t)num(argv[4], 0,
	    65535));
	if (strcmp(argv[5], "good") != 0 && vnet_spoil(f, &len, argv[5]) == -1)
		fatal("vnet: %s: not a way to spoil a header", argv[5]);
	n = (len + p->tx.buf_size - 1) / p->tx.buf_size;
	if (n > p->tx.chain_max)
		fatal("vnet: %" PRIu32 " descriptors, over %" PRIu32, n,
		    p->tx.chain_max);
	while ((got = ring_reserve_at(&p->tx, n - 1, &buf)) != 1) {
		if (got < 0 || stop || clock_ms() > deadline)
			fatal("tx ring %s", got < 0 ? "faulted" : "stayed full");
		p->want_room = 1;
		pump(p);
		p->want_room = 0;
	}
	for (at = 0; at < len; at += piece, fl = 0) {
		piece = len - at < p->tx.buf_size ? len - at : p->tx.buf_size;
		if (ring_reserve(&p->tx, &buf) != 1)
			fatal("tx ring faulted");
		memcpy(buf, f + at, piece);
		if (ring_push_piece(&p->tx, 0, piece, fl | (at + piece < len ?
		    RING_DESC_NEXT : 0)) != RING_OK)
			fatal("vnet: the ring refused a piece");
	}
	tx_commit(p);
	return 6;
}

/* The next numbered frame to dst, if there is room: 1 queued. */
static int
duplex_put(struct peer *p, const uint8_t dst[6])
{
	unsigned char *buf;
	uint32_t seq;
	int got;

	if ((got = ring_reserve(&p->tx, &buf)) < 0)
		fatal("tx ring faulted");
	if (got == 0)
		return 0;
	seq = (uint32_t)++p->seq;
	memset(buf, 0, 60);
	memcpy(buf, dst, 6);
	memcpy(buf + 6, p->mac, 6);
	buf[12] = ETHERTYPE_TEST >> 8;
	buf[13] = ETHERTYPE_TEST & 0xff;
	memcpy(buf + 14, &seq, 4);
	ring_push(&p->tx, 60);
	return 1;
}

/*
 * "duplex DST N": N numbered frames each way, with pauses at random.
 * print_frame() fails on one out of order; here a stall fails: no frame
 * for 1 s while some are due (the watchdog starts at the first).
 */
static int
step_duplex(struct peer *p, int argc, char **argv)
{
	uint8_t dst[6];
	uint64_t n, sent = 0, seen = 0;
	int64_t last = 0, deadline;
	int put;

	if (argc < 3 || mac_parse(argv[1], dst) == -1)
		fatal("duplex needs DST N");
	n = num(argv[2], 1, UINT32_MAX);
	if (p->state != RING_RUN)
		fatal("duplex before the slot runs; put \"run\" first");
	p->duplex = 1;
	deadline = clock_ms() + p->wait_ms;
	srandom((unsigned int)getpid());
	while ((sent < n || p->rx_seq < n) && !stop) {
		for (put = 0; sent < n && put < 64 && duplex_put(p, dst); put++)
			sent++;
		if (put > 0)
			tx_commit(p);
		p->want_room = sent < n && put == 0;
		if (put == 0)
			pump(p);
		else {
			tick(p);
			receive(p);
		}
		p->want_room = 0;
		if (random() % 4096 == 0)	/* a pause, up to 20 ms */
			poll(NULL, 0, (int)(random() % 20));
		if (p->rx_seq != seen) {
			seen = p->rx_seq;
			last = clock_ms();
		} else if (last != 0 && p->rx_seq < n &&
		    clock_ms() - last > 1000) {
			printf("duplex stalled at %" PRIu64 "\n", seen);
			fflush(stdout);
			exit(4);
		}
		if (clock_ms() > deadline) {
			printf("duplex timed out at %" PRIu64 "\n", seen);
			fflush(stdout);
			exit(3);
		}
	}
	printf("duplex sent %" PRIu64 " got %" PRIu64 "\n", sent, p->rx_seq);
	fflush(stdout);
	p->duplex = 0;
	return 3;
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
		} else if (strcmp(argv[i], "vnet") == 0) {
			i += step_vnet(p, argc - i, argv + i);
		} else if (strcmp(argv[i], "duplex") == 0) {
			i += step_duplex(p, argc - i, argv + i);
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
	p.features = RING_F_SPACE;	/* receive() rings for room */
	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--vnet") == 0 ||
		    strcmp(argv[i], "--strict") == 0 ||
		    strcmp(argv[i], "--old") == 0) {
			if (argv[i][2] == 'v')
				p.features |= RING_F_VNET;
			else if (argv[i][2] == 's')
				p.strict = 1;
			else
				p.old = 1;
			i--;		/* no value */
		} else if (strcmp(argv[i], "-p") == 0)
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
		    "[-w SECONDS] [--vnet] [--strict] [--old] STEP...");
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
