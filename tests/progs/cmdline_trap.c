/*
 * cmdline_trap.c - a peer whose command line cannot be read: whoever
 * reads /proc/PID/cmdline blocks until this process ends.  For the test
 * that the server's loop never waits on it.
 *
 *   cmdline_trap MOUNTPOINT SOCKET
 *
 * The kernel reads a command line under the process's mmap lock, so the
 * trap holds that lock: one thread reads its own /proc/self/mem at a page
 * of a FUSE file whose server never answers (the fault waits with the
 * lock held for reading), and a second thread's mmap() then queues for
 * it as a writer, which every later reader must wait behind.
 *
 * Mounts a one-file FUSE filesystem (needs root and /dev/fuse) at
 * MOUNTPOINT, served by a child that answers everything but reads, sets
 * the trap, connects to SOCKET and prints "trapped pid N"; then reads its
 * greeting and prints "id N" when it comes.  Runs until SIGTERM.  The
 * caller unmounts MOUNTPOINT.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/greet.h"

#define FILE_SIZE	65536

static void
die(const char *what)
{
	fprintf(stderr, "cmdline_trap: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
reply(int dev, uint64_t unique, int error, const void *body, size_t len)
{
	struct fuse_out_header h = { .len = (uint32_t)(sizeof(h) + len),
	    .error = error, .unique = unique };
	char buf[sizeof(h) + 256];

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, len);
	if (write(dev, buf, sizeof(h) + len) == -1 && errno != ENOENT)
		die("fuse reply");
}

static void
attr_of(uint64_t node, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = node;
	a->nlink = 1;
	a->blksize = 4096;
	if (node == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		return;
	}
	a->mode = S_IFREG | 0644;
	a->size = FILE_SIZE;
	a->blocks = FILE_SIZE / 512;
}

/* One request; reads are left unanswered for ever. */
static void
serve_one(int dev, const struct fuse_in_header *in, const char *arg)
{
	struct fuse_init_out init = { .major = FUSE_KERNEL_VERSION,
	    .minor = FUSE_KERNEL_MINOR_VERSION, .max_write = 4096,
	    .max_readahead = 4096, .time_gran = 1 };
	struct fuse_entry_out e = { .nodeid = 2, .generation = 1,
	    .entry_valid = 3600, .attr_valid = 3600 };
	struct fuse_attr_out a = { .attr_valid = 3600 };
	struct fuse_open_out o = { .fh = 1 };

	switch (in->opcode) {
	case FUSE_INIT:
		reply(dev, in->unique, 0, &init, sizeof(init));
		break;
	case FUSE_LOOKUP:
		if (strcmp(arg, "f") != 0) {
			reply(dev, in->unique, -ENOENT, NULL, 0);
			break;
		}
		attr_of(2, &e.attr);
		reply(dev, in->unique, 0, &e, sizeof(e));
		break;
	case FUSE_GETATTR:
		attr_of(in->nodeid, &a.attr);
		reply(dev, in->unique, 0, &a, sizeof(a));
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		reply(dev, in->unique, 0, &o, sizeof(o));
		break;
	case FUSE_READ:
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		reply(dev, in->unique, 0, NULL, 0);
		break;
	default:
		reply(dev, in->unique, -ENOSYS, NULL, 0);
	}
}

static void
serve(int dev)
{
	static char buf[1 << 20 | 4096];
	struct fuse_in_header in;
	ssize_t n;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		n = read(dev, buf, sizeof(buf));
		if (n == -1 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(in))
			_exit(0);
		memcpy(&in, buf, sizeof(in));
		serve_one(dev, &in, buf + sizeof(in));
	}
}

/* Everything but connect() is done before the trap: once it is set, a
 * page fault of ours would wait behind the writer too. */
static struct sockaddr_un sun = { .sun_family = AF_UNIX };

static void *trap_page;
static int go_read[2], go_write[2];

/* Holds the mmap lock for reading, for ever. */
static void *
reader(void *arg)
{
	char c;
	int fd;

	(void)arg;
	if (read(go_read[0], &c, 1) != 1)
		die("read");
	if ((fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC)) == -1)
		die("/proc/self/mem");
	if (pread(fd, &c, 1, (off_t)(uintptr_t)trap_page) == -1)
		die("pread");
	return NULL;
}

/* Queues for the lock as a writer, for ever. */
static void *
writer(void *arg)
{
	char c;

	(void)arg;
	if (read(go_write[0], &c, 1) != 1)
		die("read");
	if (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	    0) == MAP_FAILED)
		die("mmap");
	return NULL;
}

/* Both threads exist first: creating one needs the lock for writing. */
static void
set_trap(void)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	pthread_t a, b;

	if (pipe(go_read) == -1 || pipe(go_write) == -1 ||
	    pthread_create(&a, NULL, reader, NULL) != 0 ||
	    pthread_create(&b, NULL, writer, NULL) != 0)
		die("threads");
	if (write(go_read[1], "r", 1) != 1)
		die("write");
	/* Set-up, not a proof: the read reaches the FUSE server. */
	nanosleep(&ts, NULL);
	if (write(go_write[1], "w", 1) != 1)
		die("write");
	nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
	char mnt[4096], sock[4096], file[4200], opts[128];
	struct greet_msg m;
	struct greet g;
	char err[256];
	int dev, fd, s, rc;

	if (argc != 3 || strlen(argv[1]) >= sizeof(mnt) ||
	    strlen(argv[2]) >= sizeof(sun.sun_path))
		exit(1);
	/* Copies: after the trap, our own arguments are out of reach too. */
	strcpy(mnt, argv[1]);
	strcpy(sock, argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((dev = open("/dev/fuse", O_RDWR | O_CLOEXEC)) == -1)
		die("/dev/fuse");
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,"
	    "group_id=0", dev);
	if (mount("cmdline_trap", mnt, "fuse", MS_NOSUID | MS_NODEV, opts))
		die("mount");
	if ((rc = fork()) == -1)
		die("fork");
	if (rc == 0)
		serve(dev);
	/* The child alone holds the connection: once it is gone (it dies
	 * with us), the kernel aborts every request, and our reader, stuck
	 * in one, can end too. */
	close(dev);
	snprintf(file, sizeof(file), "%s/f", mnt);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
		die(file);
	trap_page = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (trap_page == MAP_FAILED)
		die("mmap");
	strcpy(sun.sun_path, sock);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	printf("setting the trap\n");
	set_trap();
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect");
	printf("trapped pid %d\n", (int)getpid());
	greet_init(&g, SCM_PROTO_V0, 1, NULL, 0);
	while (greet_recv(&g, s, &m, err, sizeof(err)) == 1) {
		if (m.kind == GREET_ID)
			printf("id %d\n", m.id);
		if (m.fd != -1)
			close(m.fd);
	}
	return 0;
}
