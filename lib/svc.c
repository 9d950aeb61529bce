/*
 * svc.c - LISTEN_FDS, NOTIFY_SOCKET and WATCHDOG_USEC, as sd_listen_fds(3)
 * and sd_notify(3) describe them, without libsystemd.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/evloop.h"
#include "lib/parse.h"
#include "lib/svc.h"

/* A variable meant for us: set, and its _PID (if any) is ours. */
static int
for_us(const char *pid_var)
{
	const char *v = getenv(pid_var);
	uint64_t pid;
	const char *why;

	if (v == NULL)
		return 1;
	return parse_u64(v, 1, UINT32_MAX, &pid, &why) == 0 &&
	    (pid_t)pid == getpid();
}

int
svc_listen_fds(void)
{
	const char *v = getenv("LISTEN_FDS"), *why;
	uint64_t n;
	int fd;

	if (v == NULL || getenv("LISTEN_PID") == NULL || !for_us("LISTEN_PID"))
		return 0;
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	if (parse_u64(v, 0, 1024, &n, &why) == -1)
		return 0;
	for (fd = SVC_LISTEN_FDS_START; fd < SVC_LISTEN_FDS_START + (int)n;
	    fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return (int)n;
}

int
svc_notify(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char msg[512];
	socklen_t len;
	va_list ap;
	ssize_t n;
	int fd, saved;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    len);
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(msg) ? 0 : -1;
}

int64_t
svc_watchdog_us(void)
{
	const char *v = getenv("WATCHDOG_USEC"), *why;
	uint64_t us;

	if (v == NULL || !for_us("WATCHDOG_PID") ||
	    parse_u64(v, 1, UINT64_C(1) << 62, &us, &why) == -1)
		return 0;
	return (int64_t)us;
}

/* One watchdog per process, as the manager sees it. */
static struct ev_timer svc_wd;
static int64_t svc_wd_half_us;

static void
svc_ping(struct evloop *l, struct ev_timer *t)
{
	ev_timer_start(l, t, svc_wd_half_us, svc_ping, NULL);
	(void)svc_notify("WATCHDOG=1");
}

void
svc_watchdog_start(struct evloop *l)
{
	int64_t us = svc_watchdog_us();

	if (us == 0)
		return;
	svc_wd_half_us = us / 2 > 0 ? us / 2 : 1;
	ev_timer_start(l, &svc_wd, 0, svc_ping, NULL);
}
