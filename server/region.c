/*
 * region.c - open, create, size, reserve and lock the shared region.
 *
 * The promise kept here: nothing already in a region is lost by us.  An
 * existing object is never resized unless -t asks for it, a failed
 * reservation of a new object removes only what we created, and a region
 * another server holds is refused before anything is touched.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/parse.h"
#include "server/region.h"

/* Open an existing object, or create it with O_EXCL; sets *created. */
static int
region_open_fd(const struct region_opts *o, const char *shm_name,
    int *created)
{
	int fd, flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW;

	*created = 0;
	for (;;) {
		fd = o->file != NULL ? open(o->file, flags) :
		    shm_open(shm_name, flags, 0);
		if (fd != -1 || errno != ENOENT)
			return fd;
		fd = o->file != NULL ?
		    open(o->file, flags | O_CREAT | O_EXCL, o->mode) :
		    shm_open(shm_name, flags | O_CREAT | O_EXCL, o->mode);
		if (fd != -1) {
			*created = 1;
			return fd;
		}
		if (errno != EEXIST)	/* else: lost a race, open theirs */
			return -1;
	}
}

static void
region_unlink(const struct region_opts *o, const char *shm_name)
{
	if (o->file != NULL)
		unlink(o->file);
	else
		shm_unlink(shm_name);
}

/* Allocate blocks for [off, off + len); data already there is kept. */
static int
region_reserve(int fd, uint64_t off, uint64_t len)
{
	int rc;

	if (len == 0)
		return 0;
	do {
		rc = fallocate(fd, 0, (off_t)off, (off_t)len);
	} while (rc == -1 && errno == EINTR);
	return rc;
}

/* Grow or shrink an existing object, as -t asked; never loses a byte
 * unless shrinking, which is logged. */
static void
region_resize(struct region *r, uint64_t cur, uint64_t want)
{
	if (want < cur)
		log_warn("shrinking %s from %" PRIu64 " to %" PRIu64
		    " bytes: its last %" PRIu64 " bytes are discarded",
		    r->name, cur, want, cur - want);
	else
		log_info("growing %s from %" PRIu64 " to %" PRIu64
		    " bytes; its contents are kept", r->name, cur, want);
	if (want > cur && region_reserve(r->fd, cur, want - cur) == -1 &&
	    errno != EOPNOTSUPP) {
		/* Undo: fallocate may have extended the file. */
		int saved = errno;

		if (ftruncate(r->fd, (off_t)cur) == -1)
			log_err("cannot restore %s to %" PRIu64 " bytes: %s",
			    r->name, cur, strerror(errno));
		fatal("cannot grow %s to %" PRIu64 " bytes: %s; free space "
		    "on its filesystem or choose a smaller -m", r->name, want,
		    strerror(saved));
	}
	if (ftruncate(r->fd, (off_t)want) == -1)
		fatal("cannot resize %s to %" PRIu64 " bytes: %s", r->name,
		    want, strerror(errno));
}

/* Decide the size of an existing object, or exit explaining why not. */
static uint64_t
region_size_existing(struct region *r, const struct region_opts *o,
    uint64_t cur)
{
	if (o->size == 0 && cur == 0)
		fatal("%s is empty; give its size with -m SIZE", r->name);
	if (o->size == 0 || o->size == cur)
		return cur;
	if (cur == 0)
		return o->size;	/* nothing in it to lose */
	if (!o->resize)
		fatal("%s is %" PRIu64 " bytes but -m asks for %" PRIu64
		    "; add -t to resize it (growing keeps the data, shrinking "
		    "discards the tail) or drop -m to use it as it is",
		    r->name, cur, o->size);
	return o->size;
}

static void
region_check_sparse(struct region *r, const struct stat *st, int reserve)
{
	uint64_t allocated = (uint64_t)st->st_blocks * 512;

	if (allocated >= r->size)
		return;
	if (reserve) {
		if (region_reserve(r->fd, 0, r->size) == -1)
			fatal("cannot reserve the blocks of %s: %s; free space "
			    "on its filesystem first", r->name,
			    strerror(errno));
		log_info("reserved all %" PRIu64 " bytes of %s", r->size,
		    r->name);
		return;
	}
	log_warn("%s is sparse (%" PRIu64 " of %" PRIu64 " bytes allocated): "
	    "a guest dies of SIGBUS if its filesystem fills up; reserve it "
	    "with -r or 'fallocate -l %" PRIu64 " %s'", r->name, allocated,
	    r->size, r->size, r->hint);
}

/* A new object: size it and reserve its blocks, or remove it again. */
static void
region_init_new(struct region *r, const struct region_opts *o,
    const char *shm_name)
{
	r->size = o->size != 0 ? o->size : REGION_DEFAULT_SIZE;
	if (fchmod(r->fd, o->mode) == -1)
		log_warn("cannot set mode %04o on %s: %s", o->mode, r->name,
		    strerror(errno));
	if (region_reserve(r->fd, 0, r->size) == -1) {
		if (errno != EOPNOTSUPP) {
			int saved = errno;

			region_unlink(o, shm_name);
			fatal("cannot reserve %" PRIu64 " bytes for %s: %s; "
			    "free space on its filesystem or choose a smaller "
			    "-m", r->size, r->name, strerror(saved));
		}
		log_warn("%s: filesystem cannot reserve blocks; a guest dies "
		    "of SIGBUS if it fills up", r->name);
	}
	if (ftruncate(r->fd, (off_t)r->size) == -1) {
		int saved = errno;

		region_unlink(o, shm_name);
		fatal("cannot size %s to %" PRIu64 " bytes: %s", r->name,
		    r->size, strerror(saved));
	}
	log_info("created %s: %" PRIu64 " bytes, mode %04o, blocks reserved",
	    r->name, r->size, o->mode);
}

static void
region_names(struct region *r, const struct region_opts *o, char *shm_name,
    size_t len)
{
	const char *name;

	if (o->file != NULL) {
		snprintf(r->name, sizeof(r->name), "%s", o->file);
		snprintf(r->hint, sizeof(r->hint), "%s", o->file);
		return;
	}
	name = o->shm != NULL ? o->shm : REGION_DEFAULT_SHM;
	if (name[0] == '/')
		name++;
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strlen(name) > 255)
		fatal("-s %s: not a valid shm name; use a plain name such as "
		    "ivshmem (it appears as /dev/shm/NAME)", o->shm);
	snprintf(shm_name, len, "/%s", name);
	snprintf(r->name, sizeof(r->name), "shm object %s", name);
	snprintf(r->hint, sizeof(r->hint), "/dev/shm/%s", name);
}

/* Refuse an existing region others could have planted or may write. */
static void
region_check_owner(const struct region *r, const struct region_opts *o,
    const struct stat *st, uid_t run_uid)
{
	unsigned int extra = (unsigned int)st->st_mode & 022 & ~(o->mode & 022);

	if (o->trust)
		return;
	if (st->st_uid != 0 && st->st_uid != geteuid() &&
	    st->st_uid != run_uid)
		fatal("%s belongs to uid %u, not to root or the server's user; "
		    "chown it, or add -W if that user is trusted", r->name,
		    (unsigned)st->st_uid);
	if (extra != 0)
		fatal("%s has mode %04o: %s may write it; chmod go-w it, give "
		    "-F the mode it should have, or add -W", r->name,
		    (unsigned)st->st_mode & 07777, extra & 002 ?
		    "anyone" : "its group");
	if (st->st_nlink > 1)
		fatal("%s has %u hard links: it may be another file too; give "
		    "the region a file of its own, or add -W", r->name,
		    (unsigned)st->st_nlink);
}

/*
 * The descriptor peers get: a new open of the very file we locked, so
 * nothing they do to their open (flock) touches ours.  Through /proc the
 * path cannot have been swapped meanwhile; without /proc, the path again,
 * checked to be the same file.
 */
static int
region_peer_fd(const struct region *r, const struct region_opts *o,
    const char *shm_name)
{
	struct stat a, b;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->fd);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) != -1)
		return fd;
	fd = o->file != NULL ? open(o->file, O_RDWR | O_CLOEXEC | O_NOFOLLOW) :
	    shm_open(shm_name, O_RDWR | O_CLOEXEC, 0);
	if (fd == -1)
		fatal("cannot open %s again for the peers: %s", r->name,
		    strerror(errno));
	if (fstat(fd, &a) == -1 || fstat(r->fd, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		fatal("%s was replaced while the server opened it; start it "
		    "again", r->name);
	return fd;
}

void
region_open(struct region *r, const struct region_opts *o, uid_t run_uid)
{
	char shm_name[260] = "";
	struct stat st;
	int created;

	region_names(r, o, shm_name, sizeof(shm_name));
	r->fd = region_open_fd(o, shm_name, &created);
	if (r->fd == -1) {
		if (errno == ELOOP)
			fatal("%s is a symbolic link; give -f the file it "
			    "points to (links are refused so that nobody can "
			    "point the region elsewhere)", r->name);
		if (errno == EACCES || errno == EPERM || errno == EROFS)
			fatal("cannot open %s for reading and writing: %s; run "
			    "as a user that may write it, or fix its owner "
			    "and mode", r->name, strerror(errno));
		if (errno == EISDIR)
			fatal("%s is a directory; give -f a file path such as "
			    "%s/region", r->name, r->name);
		if (errno == ENOENT || errno == ENOTDIR)
			fatal("cannot create %s: %s; create its directory "
			    "first or choose another path", r->name,
			    strerror(errno));
		fatal("cannot open %s: %s; check the path and its "
		    "filesystem", r->name, strerror(errno));
	}
	if (flock(r->fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fatal("%s is in use by another tm_ivshmem_server; stop "
			    "that server or choose another region", r->name);
		fatal("cannot lock %s: %s", r->name, strerror(errno));
	}
	if (fstat(r->fd, &st) == -1)
		fatal("cannot stat %s: %s", r->name, strerror(errno));
	if (!S_ISREG(st.st_mode)) {
		fatal("%s is not a regular file; give -f a file path",
		    r->name);
	}
	r->peer_fd = region_peer_fd(r, o, shm_name);
	if (created) {
		region_init_new(r, o, shm_name);
		return;
	}
	region_check_owner(r, o, &st, run_uid);
	if (o->resize && o->size == 0)
		fatal("-t needs -m SIZE: the size to resize %s to", r->name);
	r->size = region_size_existing(r, o, (uint64_t)st.st_size);
	if (r->size != (uint64_t)st.st_size)
		region_resize(r, (uint64_t)st.st_size, r->size);
	else if (!is_pow2(r->size))
		fatal("%s is %" PRIu64 " bytes, not a power of two, and QEMU "
		    "aborts on such a BAR; resize it with -t -m SIZE",
		    r->name, r->size);
	if (fstat(r->fd, &st) == -1)
		fatal("cannot stat %s: %s", r->name, strerror(errno));
	region_check_sparse(r, &st, o->reserve);
	log_info("using %s: %" PRIu64 " bytes", r->name, r->size);
}

void
region_watch(struct region *r)
{
	struct stat st;
	uint64_t now;

	if (r->fd == -1 || fstat(r->fd, &st) == -1)
		return;
	now = (uint64_t)st.st_size;
	if (now == r->size)
		return;
	r->bad = now == 0 || !is_pow2(now);
	log_warn("%s changed size from %" PRIu64 " to %" PRIu64 " bytes "
	    "behind the server's back (a peer or another process truncated "
	    "or grew it): peers that map past the new end die of SIGBUS%s",
	    r->name, r->size, now, r->bad ? "; newcomers are refused until "
	    "it is a power of two again (QEMU aborts on this size)" : "");
	r->size = now;
}

void
region_flush(const struct region *r)
{
	if (r->fd == -1)
		return;
	if (fdatasync(r->fd) == -1)
		log_err("cannot flush %s: %s", r->name, strerror(errno));
	else
		log_info("flushed %s", r->name);
}

void
region_close(struct region *r)
{
	if (r->peer_fd != -1)
		close(r->peer_fd);
	if (r->fd != -1)
		close(r->fd);
	r->fd = r->peer_fd = -1;
}
