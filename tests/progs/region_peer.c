/*
 * region_peer.c - a peer that does to the region descriptor it was sent
 * what any peer may: unlock it, truncate it, or just keep it open.  For
 * the tests that show a peer's descriptor is not the server's own.
 *
 *   region_peer -p SOCKET [-l] hold            keep it until SIGTERM
 *   region_peer -p SOCKET [-l] unlock          flock(LOCK_UN) on it, then
 *                                              report whether LOCK_EX is
 *                                              free for the taking
 *   region_peer -p SOCKET [-l] truncate BYTES  ftruncate it
 *
 * Prints "id N", "size BYTES", then one line per action; stays connected
 * (and keeps the descriptor) until SIGTERM.  Exit 2 on any error.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "send_scm.h"

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

static int64_t
next(int s, enum scm_proto proto, int *fd)
{
	int64_t v;

	if (scm_recv(s, proto, &v, fd) != 1)
		die("receive");
	return v;
}

int
main(int argc, char **argv)
{
	enum scm_proto proto = SCM_PROTO_V0;
	const char *path = "/tmp/ivshmem_socket";
	struct stat st;
	int ch, s, fd = -1;
	int64_t v;
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
	if (proto == SCM_PROTO_V0 && next(s, proto, &fd) != 0)
		die("version");
	printf("id %lld\n", (long long)next(s, proto, &fd));
	if ((v = next(s, proto, &fd)) != -1 || fd == -1 || fstat(fd, &st) == -1)
		die("region");
	printf("size %lld\n", (long long)st.st_size);
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
	} else if (strcmp(argv[0], "hold") != 0)
		exit(1);
	printf("ready\n");
	sigwait(&set, &ch);
	return 0;
}
