/*
 * region.h - the shared memory region: a regular file or a POSIX shm
 * object, opened, sized, reserved and locked once at start-up.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_REGION_H
#define TM_REGION_H

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
};

struct region {
	char		 name[4096];	/* for messages: path or "shm NAME" */
	char		 hint[4200];	/* the path a shell command can use */
	int		 fd;
	uint64_t	 size;
};

/* Open or create, size and lock the region; exits with a message on error. */
void	region_open(struct region *, const struct region_opts *);
/* Write the region to stable storage (a no-op for tmpfs). */
void	region_flush(const struct region *);
void	region_close(struct region *);

#endif /* TM_REGION_H */
