/*
 * doorbell.c - eventfd doorbells that no other process can make us wait
 * on (see doorbell.h).
 *
 * Writes: eventfd has no RWF_NOWAIT for writes (Linux 6.1), and checking
 * O_NONBLOCK first races with whoever clears it.  So every write runs
 * under a one-shot timer whose signal (SIGALRM, no SA_RESTART) turns a
 * blocked write into EINTR.  Arming and disarming cost two system calls;
 * doorbells are rare under load, since sleepers alone ask for them.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/uio.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/doorbell.h"

static timer_t guard;
static int guard_state;		/* 0 untried, 1 ready, -1 unavailable */

static void
on_guard(int sig)
{
	(void)sig;	/* only to interrupt the write */
}

static int
guard_init(void)
{
	struct sigevent sev;
	struct sigaction sa;

	if (guard_state != 0)
		return guard_state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_guard;	/* no SA_RESTART: EINTR is the point */
	sigemptyset(&sa.sa_mask);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGALRM;
	if (sigaction(SIGALRM, &sa, NULL) == -1 ||
	    timer_create(CLOCK_MONOTONIC, &sev, &guard) == -1)
		guard_state = -1;
	else
		guard_state = 1;
	return guard_state;
}

static void
guard_arm(int on)
{
	struct itimerspec it;

	memset(&it, 0, sizeof(it));
	if (on)
		it.it_value.tv_nsec = DOORBELL_BOUND_US * 1000L;
	(void)timer_settime(guard, 0, &it, NULL);
}

int
doorbell_ring(int fd)
{
	uint64_t one = 1;
	ssize_t n;
	int saved;

	if (guard_init() != 1) {
		errno = ENOTSUP;
		return -1;
	}
	guard_arm(1);
	n = write(fd, &one, sizeof(one));
	saved = errno;
	guard_arm(0);
	if (n == (ssize_t)sizeof(one))
		return 0;
	if (n == -1 && saved == EAGAIN)
		return 0;	/* full: its owner has a wake-up pending */
	errno = n == -1 && saved == EINTR ? ETIMEDOUT : saved;
	return -1;
}

uint64_t
doorbell_take(int fd)
{
	struct iovec iov;
	uint64_t n = 0;
	ssize_t got;

	iov.iov_base = &n;
	iov.iov_len = sizeof(n);
	got = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
	if (got == -1 && (errno == EOPNOTSUPP || errno == EINVAL) &&
	    guard_init() == 1) {
		/* A kernel before 5.12: no RWF_NOWAIT on eventfd. */
		guard_arm(1);
		got = read(fd, &n, sizeof(n));
		guard_arm(0);
	}
	return got == (ssize_t)sizeof(n) ? n : 0;
}
