/*
 * proc.c - process plumbing: descriptor limits, daemonizing, pidfiles,
 * dropping privileges.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/proc.h"

/* Absolute, so that cleanup after a daemon's chdir("/") still works. */
void
proc_absolute_path(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(out, len, "%s", path);
		return;
	}
	if ((size_t)snprintf(out, len, "%s/%s", cwd, path) >= len)
		fatal("path %s is too long once made absolute", path);
}

/* 10,000 peers with 64 vectors need far more than the usual 1024. */
void
proc_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = 1048576;
	FILE *f;
	unsigned long nr_open;

	if ((f = fopen("/proc/sys/fs/nr_open", "r")) != NULL) {
		if (fscanf(f, "%lu", &nr_open) == 1)
			want = nr_open;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_max < want) {
		struct rlimit more = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}


/* Refuse a pidfile that is a link, another user's, or another name of a
 * file; proc_write_pidfile() checks again what it really opens. */
static void
pidfile_refuse_st(const char *path, const struct stat *st, uid_t uid)
{
	if (S_ISLNK(st->st_mode))
		fatal("cannot write the pidfile %s: it is a symbolic link; "
		    "choose another -P", path);
	if (!S_ISREG(st->st_mode) || st->st_nlink != 1 ||
	    (st->st_uid != geteuid() && st->st_uid != uid))
		fatal("cannot write the pidfile %s: it is not a file of ours "
		    "(owner uid %u, %u links); remove it or choose another -P",
		    path, (unsigned)st->st_uid, (unsigned)st->st_nlink);
}

void
proc_check_pidfile(const char *path, uid_t uid)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if (path[0] == '\0')
		return;
	if (lstat(path, &st) == 0)
		pidfile_refuse_st(path, &st, uid);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (access(dir, W_OK) == -1)
		fatal("cannot write the pidfile %s: %s: %s; choose another -P",
		    path, dir, strerror(errno));
}

/*
 * The pidfile may sit in a directory others can write (SOCKET.pid beside
 * /tmp/ivshmem_socket): never follow a link there, never write a file
 * that is someone else's or has other names, and chown what we opened,
 * not whatever the path names by then.
 */
void
proc_write_pidfile(const char *path, uid_t uid, gid_t gid)
{
	char buf[32];
	struct stat st;
	int fd, len;

	if (path[0] == '\0')
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1)
		fatal("cannot write the pidfile %s: %s; choose another -P",
		    path, errno == ELOOP ? "it is a symbolic link" :
		    strerror(errno));
	if (fstat(fd, &st) == -1)
		fatal("cannot stat the pidfile %s: %s", path, strerror(errno));
	pidfile_refuse_st(path, &st, uid);
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, buf, (size_t)len) != len)
		fatal("cannot write the pidfile %s: %s", path,
		    strerror(errno));
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1)
		log_warn("cannot chown %s: %s", path, strerror(errno));
	close(fd);
}

void
proc_drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatal("-u %s: unknown user; give an existing user name", user);
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("cannot become %s: %s; -u needs root", user,
		    strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) != -1)
		fatal("could regain root after dropping to %s", user);
	log_info("running as %s (uid %u)", user, (unsigned)pw->pw_uid);
}

/*
 * Detach, but let the parent exit only once the child is ready, so that a
 * script running "-d" sees errors in the exit status, not in syslog.
 * Returns the pipe end the child closes when set-up is complete.
 */
int
proc_daemonize(void)
{
	int ready[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) == -1)
		fatal("pipe: %s", strerror(errno));
	switch (fork()) {
	case -1:
		fatal("fork: %s", strerror(errno));
	case 0:
		break;
	default:
		close(ready[1]);
		_exit(read(ready[0], &c, 1) == 1 ? 0 : 1);
	}
	close(ready[0]);
	if (setsid() == -1)
		fatal("setsid: %s", strerror(errno));
	if (chdir("/") == -1)
		fatal("chdir /: %s", strerror(errno));
	return ready[1];
}

/* The daemon is ready: release the parent and let go of the terminal. */
void
proc_detach(int ready_fd)
{
	int fd;

	if (ready_fd == -1)
		return;
	if (write(ready_fd, "", 1) != 1)
		log_warn("cannot signal readiness: %s", strerror(errno));
	close(ready_fd);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}
