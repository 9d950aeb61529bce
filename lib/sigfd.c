/*
 * sigfd.c - signals as events for the daemons' epoll loops.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "lib/log.h"
#include "lib/sigfd.h"

int
sigfd_open(int sig, ...)
{
	sigset_t set;
	va_list ap;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	va_start(ap, sig);
	for (; sig != 0; sig = va_arg(ap, int))
		sigaddset(&set, sig);
	va_end(ap);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask: %s", strerror(errno));
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		fatal("signalfd: %s", strerror(errno));
	return fd;
}
