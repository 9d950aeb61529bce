/*
 * client_io.h - move bytes between a mapped region and stdio for the
 * client tool's read and write commands.
 *
 * The region may be far larger than the address space we want to spend
 * (64 GiB sparse files are normal), so it is mapped one window at a time.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_CLIENT_IO_H
#define TM_CLIENT_IO_H

#include <stdint.h>

/*
 * Copy len bytes at off of the region fd to stdout (buf == NULL) or from
 * buf into the region.  Returns 0, or -1 with errno and *stage naming the
 * step that failed ("map the region", "write stdout").
 */
int	io_copy_region(int fd, uint64_t off, const unsigned char *buf,
	    uint64_t len, const char **stage);
/*
 * Read all of stdin into a new *buf, but never more than limit bytes:
 * *len == limit means stdin may hold more.  Returns 0, or -1 with errno.
 */
int	io_slurp_stdin(uint64_t limit, unsigned char **buf, uint64_t *len);

#endif /* TM_CLIENT_IO_H */
