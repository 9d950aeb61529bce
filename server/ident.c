/*
 * ident.c - the identity worker: reads /proc/PID/cmdline off the event
 * loop (see ident.h for why) and hashes it with the uid.
 *
 * One thread, two small rings under one mutex.  The loop never waits for
 * the thread: it queues, and later takes what was answered.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "server/ident.h"

#define RING	1024

struct ask {
	uint64_t	 token;
	pid_t		 pid;
	uid_t		 uid;
};

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct ask	 q[RING];
	size_t		 qhead, qlen;
	struct ident_answer a[RING];
	size_t		 ahead, alen;
	int64_t		 busy_since;	/* clock_ms() of the lookup running */
	int		 efd;
} w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
    .efd = -1 };

/* FNV-1a: the same process comes back with the same hash. */
static uint64_t
fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Our own tools re-create their peer records; QEMU does not. */
static int
is_witness(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base != NULL ? base + 1 : argv0;
	return strncmp(base, "tm_", 3) != 0 && strncmp(base, "mq", 2) != 0;
}

uint64_t
ident_lookup(pid_t pid, uid_t uid, int *witness)
{
	char path[64], buf[4096];
	uint64_t h = 0xcbf29ce484222325ULL;
	ssize_t n;
	int fd;

	*witness = 1;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	*witness = is_witness(buf);
	h = fnv1a(h, &uid, sizeof(uid));
	h = fnv1a(h, buf, (size_t)n);
	return h == 0 ? 1 : h;
}

static void *
worker(void *arg)
{
	struct ident_answer ans;
	struct ask a;
	uint64_t one = 1;

	(void)arg;
	pthread_mutex_lock(&w.mu);
	for (;;) {
		while (w.qlen == 0)
			pthread_cond_wait(&w.cv, &w.mu);
		a = w.q[w.qhead];
		w.qhead = (w.qhead + 1) % RING;
		w.qlen--;
		w.busy_since = clock_ms();
		pthread_mutex_unlock(&w.mu);
		ans.token = a.token;
		ans.ident = ident_lookup(a.pid, a.uid, &ans.witness);
		pthread_mutex_lock(&w.mu);
		w.busy_since = 0;
		if (w.alen < RING) {	/* else the loop gives up on it */
			w.a[(w.ahead + w.alen) % RING] = ans;
			w.alen++;
		}
		if (write(w.efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&w.mu);
	return NULL;
}

int
ident_start(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	if ((w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	/* Signals belong to the loop's signalfd, not to the worker. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, worker, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close(w.efd);
		errno = rc;
		return -1;
	}
	return w.efd;
}

int
ident_ask(uint64_t token, pid_t pid, uid_t uid)
{
	int rc = -1;

	pthread_mutex_lock(&w.mu);
	if ((w.busy_since == 0 ||
	    clock_ms() - w.busy_since < IDENT_STUCK_MS) && w.qlen < RING) {
		w.q[(w.qhead + w.qlen) % RING] =
		    (struct ask){ .token = token, .pid = pid, .uid = uid };
		w.qlen++;
		rc = 0;
	}
	pthread_mutex_unlock(&w.mu);
	/* Outside the lock: the worker wakes to a free mutex. */
	if (rc == 0)
		pthread_cond_signal(&w.cv);
	return rc;
}

size_t
ident_take(struct ident_answer *out, size_t max)
{
	uint64_t count;
	size_t n = 0;

	if (read(w.efd, &count, sizeof(count)) == -1 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&w.mu);
	while (w.alen > 0 && n < max) {
		out[n++] = w.a[w.ahead];
		w.ahead = (w.ahead + 1) % RING;
		w.alen--;
	}
	if (w.alen > 0) {
		/* Stay readable so that the loop comes back for the rest; a
		 * full counter is readable anyway. */
		ssize_t r = write(w.efd, &(uint64_t){ 1 }, sizeof(uint64_t));

		(void)r;
	}
	pthread_mutex_unlock(&w.mu);
	return n;
}
