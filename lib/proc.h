/*
 * proc.h - process plumbing for a long-running daemon: descriptor limits,
 * detaching, pidfiles and dropping privileges.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_PROC_H
#define TM_PROC_H

#include <sys/types.h>

#include <stddef.h>

/* Make path absolute against the current directory. */
void	proc_absolute_path(const char *path, char *out, size_t len);
/* Raise RLIMIT_NOFILE as far as we may (as root: up to fs.nr_open). */
void	proc_raise_nofile(void);
/* Exit unless path ("" for none) can be written as a pidfile: not a link,
 * not another user's (uid: the -u user, or -1), not hard-linked. */
void	proc_check_pidfile(const char *path, uid_t uid);
/* Write our pid to path, owned by uid:gid when uid is not -1. */
void	proc_write_pidfile(const char *path, uid_t, gid_t);
/* Become user (NULL: stay); exits if that fails or root could be regained. */
void	proc_drop_privileges(const char *user);
/* Fork; the parent exits 0 when the child calls proc_detach(), else 1. */
int	proc_daemonize(void);
/* Release the waiting parent and point stdio at /dev/null. */
void	proc_detach(int ready_fd);

#endif /* TM_PROC_H */
