/*
 * region.h - the shared memory region: a regular file or a POSIX shm
 * object, opened, sized, reserved and locked once at start-up, and
 * watched while the server runs.
 *
 * Peers get a descriptor of their own (a second open of the same file),
 * never the one the server locks: a peer's flock(LOCK_UN) cannot release
 * the server's lock, and a peer that outlives a crashed server does not
 * keep a restarted one out.  A region file cannot be sealed, so any peer
 * may still write, truncate or grow it: the server logs a change of size
 * and refuses newcomers while QEMU would abort on it.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_REGION_H
#define TM_REGION_H

#include <sys/types.h>

#include <stdint.h>

#define REGION_DEFAULT_SHM	"ivshmem"
#define REGION_DEFAULT_SIZE	(4ULL << 20)	/* for a new object */
#define REGION_MAX_SIZE		(1ULL << 62)	/* largest off_t power of two */

struct region_opts {
	const char	*file;		/* -f, or NULL */
	const char	*shm;		/* -s, or NULL */
	uint64_t	 size;		/* -m, 0 = keep the existing size */
	int		 resize;	/* -t */
	int		 reserve;	/* -r */
	unsigned int	 mode;		/* -F, for a new object */
	int		 trust;		/* -W: accept any owner and mode */
};

struct region {
	char		 name[4096];	/* for messages: path or "shm NAME" */
	char		 hint[4200];	/* the path a shell command can use */
	int		 fd;		/* the server's own, locked */
	int		 peer_fd;	/* what peers are sent */
	uint64_t	 size;		/* as last seen */
	int		 bad;		/* a size QEMU aborts on: refuse peers */
};

/*
 * Open or create, size and lock the region, refusing a symbolic link, and
 * an existing object owned by anyone but root, us or run_uid (-u; -1 for
 * none) or writable by others than -F allows, unless -W; exits with a
 * message on error.
 */
void	region_open(struct region *, const struct region_opts *, uid_t run_uid);
/* Log a change of the region's size since the last call. */
void	region_watch(struct region *);
/* Write the region to stable storage (a no-op for tmpfs). */
void	region_flush(const struct region *);
void	region_close(struct region *);

#endif /* TM_REGION_H */
