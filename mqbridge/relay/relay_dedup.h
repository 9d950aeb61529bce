/*
 * relay_dedup.h - "have we delivered this frame already?": the last
 * RELAY_DEDUP_WINDOW sequence numbers of each origin (docs/broker-format.md,
 * x-mq-origin and x-mq-seq), so that a broker's redelivery or a sender's
 * resend after a crash reaches the slot once.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RELAY_DEDUP_H
#define TM_RELAY_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_DEDUP_WINDOW	1024	/* numbers remembered per origin */
#define RELAY_DEDUP_ORIGINS	4096	/* origins remembered, LRU */

struct dedup_origin {
	uint64_t	 origin;
	uint32_t	 top;		/* highest number seen */
	uint64_t	 used;		/* for LRU eviction */
	uint64_t	 bits[RELAY_DEDUP_WINDOW / 64];	/* top - seq set */
	struct dedup_origin *next;
};

struct relay_dedup {
	struct dedup_origin **tab;
	size_t		 cap;		/* hash buckets, a power of two */
	size_t		 n;
	uint64_t	 clock;
};

int	dedup_init(struct relay_dedup *);
void	dedup_free(struct relay_dedup *);
/* 1 if (origin, seq) was seen within the window: a duplicate.  Otherwise
 * it is remembered and 0 returned.  Numbers compare modulo 2^32. */
int	dedup_seen(struct relay_dedup *, uint64_t origin, uint32_t seq);

#endif /* TM_RELAY_DEDUP_H */
