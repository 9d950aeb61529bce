/*
 * region_peer.c - a QEMU-like peer (its name is none of our tools') that
 * does what any peer may: to the region descriptor it was sent, unlock
 * it, truncate it or keep it open; or, like QEMU, keep every eventfd it
 * is sent and ring one.  For the tests that show a peer's descriptor is
 * not the server's own, and what the server tells QEMU.
 *
 *   region_peer -p SOCKET [-l] hold            keep it until SIGTERM
 *   region_peer -p SOCKET [-l] unlock          flock(LOCK_UN) on it, then
 *                                              report whether LOCK_EX is
 *                                              free for the taking
 *   region_peer -p SOCKET [-l] truncate BYTES  ftruncate it
 *   region_peer -p SOCKET [-l] watch ID        print "connect N" or
 *                                              "disconnect N" per message
 *                                              after the region (-n 1); on
 *                                              SIGUSR1 ring vector 0 of ID
 *                                              with the eventfd it holds
 *                                              and print "rang ID"
 *
 * Prints "id N", "size BYTES", then one line per action; stays connected
 * (and keeps the descriptor) until SIGTERM.  Exit 2 on any error.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/greet.h"

static void
die(const char *what)
{
	fprintf(stderr, "region_peer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int
dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(sun.sun_path))
		exit(1);
	strcpy(sun.sun_path, path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect");
	return s;
}

/* The next message, through the one greeting reader. */
static void
next(int s, struct greet *g, struct greet_msg *m)
{
	char err[256];

	if (greet_recv(g, s, m, err, sizeof(err)) != 1) {
		fprintf(stderr, "region_peer: %s\n", err[0] ? err : "hang-up");
		exit(2);
	}
}

/* Like QEMU: keep each peer's eventfd (vector 0), forget it on a
 * departure, ring it when told to. */
static void
watch(int s, struct greet *g, long ring_id)
{
	static int efd[65536];
	struct signalfd_siginfo si;
	struct greet_msg m;
	struct pollfd pfd[2];
	sigset_t set;
	uint64_t one = 1;

	memset(efd, -1, sizeof(efd));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pfd[0] = (struct pollfd){ .fd = s, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = signalfd(-1, &set, SFD_CLOEXEC),
	    .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			die("poll");
		if (pfd[1].revents & POLLIN) {
			if (read(pfd[1].fd, &si, sizeof(si)) != sizeof(si))
				die("signalfd");
			if (efd[ring_id] == -1 ||
			    write(efd[ring_id], &one, sizeof(one)) != 8)
				printf("cannot ring %ld\n", ring_id);
			else
				printf("rang %ld\n", ring_id);
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP)))
			continue;
		next(s, g, &m);
		if (m.kind == GREET_LEFT) {
			printf("disconnect %d\n", m.id);
			if (efd[m.id] != -1)
				close(efd[m.id]);
			efd[m.id] = -1;
		} else {
			printf("connect %d%s\n", m.id,
			    efd[m.id] != -1 ? " again" : "");
			if (efd[m.id] != -1)
				close(efd[m.id]);
			efd[m.id] = m.fd;
		}
	}
}

int
main(int argc, char **argv)
{
	enum scm_proto proto = SCM_PROTO_V0;
	const char *path = "/tmp/ivshmem_socket";
	struct greet_msg m;
	struct greet g;
	int ch, s, fd;
	sigset_t set;

	while ((ch = getopt(argc, argv, "lp:")) != -1) {
		if (ch == 'l')
			proto = SCM_PROTO_LEGACY;
		else if (ch == 'p')
			path = optarg;
		else
			exit(1);
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		exit(1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s = dial(path);
	/* No counts: like QEMU, it takes whatever vectors it is sent. */
	greet_init(&g, proto, 1, NULL, GREET_OPT_L);
	do
		next(s, &g, &m);
	while (m.kind != GREET_ID);
	printf("id %d\n", m.id);
	next(s, &g, &m);
	fd = m.fd;
	printf("size %llu\n", (unsigned long long)m.size);
	if (strcmp(argv[0], "unlock") == 0) {
		if (flock(fd, LOCK_UN) == -1)
			die("flock LOCK_UN");
		printf("unlocked\n");
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			printf("lock taken: the server's lock was ours\n");
		else if (errno == EWOULDBLOCK)
			printf("lock busy: the server still holds its own\n");
		else
			die("flock LOCK_EX");
	} else if (strcmp(argv[0], "truncate") == 0 && argc == 2) {
		if (ftruncate(fd, strtoll(argv[1], NULL, 10)) == -1)
			die("ftruncate");
		printf("truncated\n");
	} else if (strcmp(argv[0], "watch") == 0 && argc == 2) {
		printf("ready\n");
		watch(s, &g, strtol(argv[1], NULL, 10) & 0xffff);
	} else if (strcmp(argv[0], "hold") != 0)
		exit(1);
	printf("ready\n");
	sigwait(&set, &ch);
	return 0;
}
