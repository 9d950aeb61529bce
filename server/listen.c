/*
 * listen.c - create the server's UNIX socket safely.
 *
 * A socket file may be left behind by a crash (stale: nobody accepts on it)
 * or belong to a running server (live).  Only the stale one is replaced;
 * a symbolic link or any other file in its place is refused.  The socket
 * is created with its mode (umask around bind) and chowned without
 * following links, so nothing swapped in at the path between the two
 * steps is touched.
 *
 * Under a service manager the socket may come ready-made (LISTEN_FDS):
 * then it is checked, never created, chowned or removed.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "server/listen.h"

static void
listen_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		fatal("socket path %s is %zu bytes, longer than the %zu a "
		    "UNIX socket allows; choose a shorter -p", path,
		    strlen(path), sizeof(sun->sun_path) - 1);
	memcpy(sun->sun_path, path, strlen(path) + 1);
}

/* Is someone accepting on this socket file right now? */
static int
listen_is_live(const struct sockaddr_un *sun)
{
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket: %s", strerror(errno));
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0)
		return 1;
	if (errno == ECONNREFUSED)
		return 0;
	fatal("cannot probe the socket %s: %s; remove it by hand if no "
	    "server uses it", sun->sun_path, strerror(errno));
}

static void
listen_clear_path(const struct sockaddr_un *sun)
{
	struct stat st;

	if (lstat(sun->sun_path, &st) == -1) {
		if (errno == ENOENT)
			return;
		fatal("cannot stat %s: %s", sun->sun_path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		fatal("%s exists and is not a socket; remove it or choose "
		    "another -p", sun->sun_path);
	if (listen_is_live(sun))
		fatal("a server is already listening on %s; stop it or "
		    "choose another -p", sun->sun_path);
	if (unlink(sun->sun_path) == -1)
		fatal("cannot remove the stale socket %s: %s",
		    sun->sun_path, strerror(errno));
	log_info("removed the stale socket %s", sun->sun_path);
}

void
listen_check(const char *path)
{
	struct sockaddr_un sun;

	listen_addr(path, &sun);
	listen_clear_path(&sun);
}

int
listen_unix(const char *path, unsigned int mode, uid_t owner, gid_t group)
{
	struct sockaddr_un sun;
	int fd;

	mode_t old;
	int rc;

	listen_addr(path, &sun);
	listen_clear_path(&sun);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket: %s", strerror(errno));
	/* Born with its mode: nobody can connect while it is wrong. */
	old = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1)
		fatal("cannot bind %s: %s", path, strerror(errno));
	if ((owner != (uid_t)-1 || group != (gid_t)-1) &&
	    fchownat(AT_FDCWD, path, owner, group, AT_SYMLINK_NOFOLLOW) == -1)
		fatal("cannot chown %s: %s", path, strerror(errno));
	if (listen(fd, SOMAXCONN) == -1)
		fatal("cannot listen on %s: %s", path, strerror(errno));
	return fd;
}

static int
sockopt(int fd, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) == -1)
		return -1;
	return v;
}

int
listen_adopt(int nfds, const char *want, char *out, size_t len)
{
	struct sockaddr_un sun;
	socklen_t slen = sizeof(sun);
	int fd = 3, fl;

	if (nfds != 1)
		fatal("the service manager passed %d sockets (LISTEN_FDS); "
		    "give the .socket unit exactly one ListenStream=", nfds);
	memset(&sun, 0, sizeof(sun));
	if (sockopt(fd, SO_DOMAIN) != AF_UNIX ||
	    sockopt(fd, SO_TYPE) != SOCK_STREAM ||
	    sockopt(fd, SO_ACCEPTCONN) != 1 ||
	    getsockname(fd, (struct sockaddr *)&sun, &slen) == -1)
		fatal("descriptor 3 from the service manager (LISTEN_FDS) is "
		    "not a listening UNIX stream socket; use ListenStream=PATH "
		    "and Accept=no in the .socket unit");
	if (slen <= offsetof(struct sockaddr_un, sun_path) ||
	    sun.sun_path[0] != '/')
		fatal("the socket from the service manager (LISTEN_FDS) has "
		    "no path (abstract or unnamed); use ListenStream=/PATH in "
		    "the .socket unit");
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	if (want != NULL && strcmp(want, sun.sun_path) != 0)
		fatal("-p %s: the service manager passed the socket %s "
		    "(LISTEN_FDS); make -p and ListenStream= name the same "
		    "path, or drop -p", want, sun.sun_path);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("cannot make the socket %s non-blocking: %s",
		    sun.sun_path, strerror(errno));
	snprintf(out, len, "%s", sun.sun_path);
	return fd;
}

void
listen_adopted_check(const char *path, int mode_given, unsigned int mode,
    uid_t owner, gid_t group)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		fatal("cannot stat the socket %s from the service manager: %s",
		    path, strerror(errno));
	if (mode_given && (st.st_mode & 07777) != mode)
		fatal("-S %04o: the socket %s from the service manager has "
		    "mode %04o; set SocketMode=%04o in the .socket unit, or "
		    "drop -S", mode, path, (unsigned)(st.st_mode & 07777), mode);
	if ((owner != (uid_t)-1 && st.st_uid != owner) ||
	    (group != (gid_t)-1 && st.st_gid != group))
		fatal("-o: the socket %s from the service manager is owned by "
		    "%u:%u; set SocketUser= and SocketGroup= in the .socket "
		    "unit to match -o, or drop -o", path, (unsigned)st.st_uid,
		    (unsigned)st.st_gid);
}
