/*
 * listen.h - the server's UNIX socket: path checks, stale-socket
 * recovery, ownership and mode.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_LISTEN_H
#define TM_LISTEN_H

#include <sys/types.h>

#include <stddef.h>

#define LISTEN_DEFAULT_PATH	"/tmp/ivshmem_socket"
#define LISTEN_DEFAULT_MODE	0660

/*
 * Refuse now what listen_unix() would refuse: a path too long, not a
 * socket, or a live server's socket.  A stale socket is removed.
 */
void	listen_check(const char *path);

/*
 * Bind and listen on path, replacing a stale socket file but never a live
 * server's socket or a file that is not a socket.  owner/group of -1 leave
 * them alone.  Returns the listening fd; exits with a message on error.
 */
int	listen_unix(const char *path, unsigned int mode, uid_t owner,
	    gid_t group);

/*
 * Take the socket a service manager passed in LISTEN_FDS (nfds of them
 * from fd 3): exactly one, a listening UNIX stream socket bound to a
 * path, which must be want when want is not NULL (-p given).  Its path
 * goes to out; it is made non-blocking.  Returns the fd; exits with a
 * message naming the fix otherwise.
 */
int	listen_adopt(int nfds, const char *want, char *out, size_t len);
/*
 * An adopted socket's file belongs to the manager (SocketMode=,
 * SocketUser=, SocketGroup=): refuse a -S mode (when mode_given) or an
 * -o owner or group (when not -1) that it does not have.
 */
void	listen_adopted_check(const char *path, int mode_given,
	    unsigned int mode, uid_t owner, gid_t group);

#endif /* TM_LISTEN_H */
