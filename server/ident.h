/*
 * ident.h - who a connecting process is (uid and command line, and
 * whether it is one of our own tools), found by a worker thread.
 *
 * Reading /proc/PID/cmdline reads the other process's memory and can
 * block for as long as that process likes (its arguments on a FUSE file
 * that never answers, a held mmap lock): a hostile peer must not stall
 * the event loop that serves everyone else.  So the read happens in one
 * worker thread; the loop hears the answer through an eventfd, and a
 * lookup that takes too long is given up (the peer is then "unknown":
 * treated as QEMU, with no old ID to come back to).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_IDENT_H
#define TM_IDENT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define IDENT_STUCK_MS	200	/* a lookup running longer: take no more */

struct ident_answer {
	uint64_t	 token;		/* as given to ident_ask() */
	uint64_t	 ident;		/* 0: unknown */
	int		 witness;	/* 0 only for our own tools */
};

/* Start the worker; returns the eventfd that is readable on answers, or
 * -1 with errno. */
int	ident_start(void);
/* Queue a lookup: 0, or -1 when the worker is stuck or its queue full
 * (then the caller goes on without an answer). */
int	ident_ask(uint64_t token, pid_t, uid_t);
/* Answers so far, up to max; clears the eventfd. */
size_t	ident_take(struct ident_answer *, size_t max);
/* The lookup itself, for a caller that may block: witness in *witness. */
uint64_t ident_lookup(pid_t, uid_t, int *witness);

#endif /* TM_IDENT_H */
