/*
 * svc.h - the service manager's protocol (systemd's, also spoken by
 * others), in libc: sockets handed over at start (LISTEN_FDS), readiness,
 * status and watchdog pings on $NOTIFY_SOCKET.  Without a manager every
 * call is a no-op.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_SVC_H
#define TM_SVC_H

#include <stdint.h>

#include "lib/evloop.h"

#define SVC_LISTEN_FDS_START	3

/* How many descriptors from 3 on the manager passed us (0: none), once;
 * they are made close-on-exec and the variables unset. */
int	svc_listen_fds(void);
/* Send one notification ("READY=1", "STATUS=...", "WATCHDOG=1",
 * "STOPPING=1"); 0, or -1 when there is no manager or it failed. */
int	svc_notify(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* The watchdog interval the manager expects pings within, in
 * microseconds, or 0 when it expects none.  Ping at half of it. */
int64_t	svc_watchdog_us(void);
/* When the manager expects pings, send WATCHDOG=1 at half its interval
 * from a timer of l: a loop that stops turning stops the pings.  Once
 * per process. */
void	svc_watchdog_start(struct evloop *l);

#endif /* TM_SVC_H */
