/*
 * client_io.c - region windows and stdio for the client tool.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#define _FILE_OFFSET_BITS 64	/* 64 GiB regions on 32-bit hosts too */

#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_io.h"

#define WINDOW		(UINT64_C(64) << 20)	/* region bytes mapped at once */

static int
write_all(const unsigned char *p, size_t n)
{
	ssize_t w;

	for (; n > 0; p += w, n -= (size_t)w) {
		while ((w = write(STDOUT_FILENO, p, n)) == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
	}
	return 0;
}

int
io_copy_region(int fd, uint64_t off, const unsigned char *buf, uint64_t len,
    const char **stage)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start;
	unsigned char *base;
	size_t n, maplen;
	int rc = 0;

	for (; len > 0 && rc == 0; off += n, len -= n) {
		n = (size_t)(len < WINDOW ? len : WINDOW);
		start = off - off % page;
		maplen = (size_t)(off - start) + n;
		base = mmap(NULL, maplen, buf != NULL ? PROT_READ | PROT_WRITE :
		    PROT_READ, MAP_SHARED, fd, (off_t)start);
		if (base == MAP_FAILED) {
			*stage = "map the region";
			return -1;
		}
		if (buf == NULL) {
			*stage = "write stdout";
			rc = write_all(base + (off - start), n);
		} else {
			memcpy(base + (off - start), buf, n);
			msync(base, maplen, MS_SYNC);
			buf += n;
		}
		munmap(base, maplen);
	}
	return rc;
}

int
io_slurp_stdin(uint64_t limit, unsigned char **buf, uint64_t *len)
{
	uint64_t cap = 0;
	unsigned char *nbuf;
	ssize_t r;

	for (*len = 0; *len < limit; *len += (uint64_t)r) {
		if (*len == cap) {
			cap = cap == 0 ? 65536 : 2 * cap;
			cap = cap < limit ? cap : limit;
			if (cap > SIZE_MAX ||
			    (nbuf = realloc(*buf, (size_t)cap)) == NULL) {
				errno = ENOMEM;
				return -1;
			}
			*buf = nbuf;
		}
		while ((r = read(STDIN_FILENO, *buf + *len,
		    (size_t)(cap - *len))) == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
	}
	return 0;
}
