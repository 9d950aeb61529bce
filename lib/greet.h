/*
 * greet.h - the one reader of what an ivshmem server tells a peer: the
 * version (v0 only), our ID, the region, then every peer's eventfds and
 * departures.
 *
 * A struct greet is a small state machine fed one decoded message (value,
 * descriptor) at a time; it never blocks and never waits, so the blocking
 * joiner (ivpeer_connect) and callers that hold thousands of sockets in
 * epoll (peerstorm) use the same checks.  Counting each peer's vectors
 * takes a caller's table of GREET_IDS bytes; without one only our own
 * vectors are counted, and the whole state is a few bytes.
 *
 * Every check names the problem and the fix in one line.  The socket
 * message itself is send_scm's (greet_recv() calls scm_recv()).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_GREET_H
#define TM_GREET_H

#include <stddef.h>
#include <stdint.h>

#include "send_scm.h"

#define GREET_IDS		65536	/* peer IDs 0..65535 */
#define GREET_VECTORS_MAX	64	/* the largest -n */

/* greet_init() flags. */
#define GREET_OPT_L	0x01	/* our user can pass -l (pre-2.5 protocol) */

struct greet {
	int32_t		 id;		/* ours; -1 until the server says */
	uint8_t		 proto;		/* enum scm_proto */
	uint8_t		 stage;		/* private: what comes next */
	uint8_t		 nvec;		/* the server's -n */
	uint8_t		 own;		/* our vectors so far */
	uint8_t		 flags;
	unsigned char	*counts;	/* [GREET_IDS] vectors per peer, or NULL */
};

enum greet_kind {
	GREET_VERSION,		/* v0's opening 0 */
	GREET_ID,		/* our ID (id) */
	GREET_REGION,		/* the shared region: fd, size */
	GREET_VECTOR,		/* an eventfd of peer id, its vector vec */
	GREET_LEFT		/* peer id left; vec: how many it had */
};

struct greet_msg {
	enum greet_kind	 kind;
	int		 id;
	int		 fd;	/* REGION, VECTOR: the caller's now; else -1 */
	unsigned int	 vec;	/* see enum greet_kind; 0 when not counted */
	uint64_t	 size;	/* REGION: bytes */
	int		 own;	/* VECTOR: one of ours */
	int		 synced;/* VECTOR: our last one */
};

/*
 * Start reading a greeting in this protocol format for a server with nvec
 * (1..64) vectors per peer.  counts (GREET_IDS bytes, zeroed, the caller
 * keeps it) turns on per-peer counting: LEFT and VECTOR then say which
 * vector, and no peer may send more than nvec.  Returns 0, or -1 if nvec
 * is out of range.
 */
int	greet_init(struct greet *, enum scm_proto, unsigned int nvec,
	    unsigned char *counts, unsigned int flags);
/*
 * Take one message: value v with descriptor fd (or SCM_NO_FD).  Returns 0
 * with *m filled, or -1 with a one-line reason in err; fd is then closed
 * and the greeting cannot go on.
 */
int	greet_feed(struct greet *, int64_t v, int fd, struct greet_msg *m,
	    char *err, size_t errlen);
/*
 * scm_recv() one message from sock, then greet_feed() it.  Returns 1 with
 * *m filled, 0 on a clean end of the connection (greet_eof()'s reason in
 * err), -1 with a reason in err and errno kept (EBADMSG: the server broke
 * the protocol).  Blocks until a whole message is there.
 */
int	greet_recv(struct greet *, int sock, struct greet_msg *m, char *err,
	    size_t errlen);
/* Why the connection ending now is wrong, or "server hung up"; -1. */
int	greet_eof(const struct greet *, char *err, size_t errlen);
/* What we are waiting for, for a timeout message ("the region"). */
const char *greet_want(const struct greet *, char *buf, size_t len);

/* Has the region arrived?  Have all our own vectors? */
int	greet_has_region(const struct greet *);
int	greet_synced(const struct greet *);

#endif /* TM_GREET_H */
