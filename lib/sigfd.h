/*
 * sigfd.h - signals as events: block them and read them from a signalfd
 * in the same epoll set as everything else, so no handler races a loop.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_SIGFD_H
#define TM_SIGFD_H

/*
 * Block the listed signals (0-terminated) and return a non-blocking
 * signalfd for them; exits on failure.  SIGPIPE is ignored: a peer that
 * hangs up is an event, not a reason to die.
 */
int	sigfd_open(int sig, ...);

#endif /* TM_SIGFD_H */
