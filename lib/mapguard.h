/*
 * mapguard.h - shared file mappings that may shrink under us.  Any peer
 * holding a region's fd can truncate the file; touching a page past the
 * new end raises SIGBUS, which would kill the process.  A guarded mapping
 * instead turns into private zero pages at the first such touch and is
 * marked dead, so the program carries on and stops using it.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_MAPGUARD_H
#define TM_MAPGUARD_H

#include <stddef.h>

#define MAPGUARD_MAX	256	/* mappings guarded at once */

/*
 * Guard [addr, addr + len) (a MAP_SHARED mapping of a file): a handle, or
 * -1 if MAPGUARD_MAX are guarded already or SIGBUS cannot be caught.
 * A SIGBUS outside every guarded mapping still kills the process.
 */
int	mapguard_add(void *addr, size_t len);
/* Forget the handle (before munmap). */
void	mapguard_del(int);
/* 1 once the mapping was hit: it now reads zeros and is no longer the file. */
int	mapguard_dead(int);
/* How many mappings died so far: one load, for loops to poll cheaply. */
unsigned int mapguard_deaths(void);

#endif /* TM_MAPGUARD_H */
