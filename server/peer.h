/*
 * peer.h - connected peers: the table of IDs, their eventfds, the history
 * of joins and departures every peer is told of, and what QEMU must never
 * be told.
 *
 * QEMU (7.2, and current master reads the same) frees its record of a
 * peer it is told has left but keeps the pointer, and writes the next
 * holder's eventfds into that freed memory.  So a departure is never told
 * to a "witness" (QEMU, or anything that is not one of our own tools),
 * and the eventfds of a departed ID stay alive while a live witness holds
 * them: a newcomer that takes the ID gets the same eventfds, and the
 * witnesses that hold them are not told again.  No ID is ever held back,
 * QEMU never sees a departure, and its doorbells to the ID reach whoever
 * holds it now.  Our own tools (tm_*, mq*) are told of departures.
 *
 * Everything a peer is told after its greeting comes from one shared log
 * of events with a cursor per peer, and the greeting itself is a cursor
 * over the table: pending output is O(1) per peer, however many peers
 * never read.  A greeting is exact: it names every peer live when the
 * newcomer joined, once, even those that leave while it is being sent (a
 * "ghost" keeps their eventfds until the greetings that owe them pass).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_PEER_H
#define TM_PEER_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "lib/evloop.h"
#include "send_scm.h"

#define PEER_ID_MAX	65535		/* QEMU's IVSHMEM_MAX_PEERS */
#define PEER_IDS	(PEER_ID_MAX + 1)
#define PEER_VECTORS_MAX 64

/* One eventfd per vector; shared by the peer, the log and ghosts. */
struct vecset {
	unsigned int	 refs;
	unsigned int	 n;
	int		 fd[];
};

/* What a peer is told next, in this order. */
enum phase {
	PH_VERSION,		/* version 0 (not in the pre-2.5 protocol) */
	PH_ID,			/* its own ID */
	PH_REGION,		/* -1 with the region's fd */
	PH_OTHERS,		/* the vectors of each peer live when it joined */
	PH_OWN,			/* its own vectors */
	PH_LOG			/* then joins and departures, as they happen */
};

struct cursor {
	enum phase	 ph;
	int		 id;		/* PH_OTHERS: the ID being told */
	unsigned int	 v;		/* vectors of it (or of an event) told */
	uint64_t	 pos;		/* PH_LOG: seq of the next event */
};

struct peer {
	int		 id;
	int		 sock;
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;
	uint64_t	 ident;		/* uid + command line, 0 = unknown */
	int		 witness;	/* QEMU-like: never told of departures */
	int		 ident_pending;	/* witness until its identity is read */
	uint64_t	 join_seq;	/* seq of its own join event */
	struct vecset	*vec;
	struct ev_io	 io;
	struct cursor	 cur;
	size_t		 part;		/* bytes of the next message sent */
	int64_t		 joined_ms;	/* clock_ms() when it became a peer */
	int64_t		 stuck_ms;	/* when output last blocked, 0 = not */
	int		 stuck_outq;	/* bytes it had not read back then */
	int		 want_out;	/* EPOLLOUT registered */
	int		 retry;		/* kernel refused our fds: retry later */
	int		 dirty;		/* may have output to send */
	int		 doomed;	/* drop at the next reap */
	char		 why[96];	/* why it is doomed */
	struct peer	*gnext, *gprev;	/* greetings still telling others */
	struct peer	*wnext, *wprev;	/* live witnesses, oldest first */
	size_t		 live_idx;
};

/* A departed peer that some greeting in progress has still to tell. */
struct ghost {
	int		 id;
	uint64_t	 join_seq, leave_seq;
	struct vecset	*vec;
	unsigned int	 refs;		/* greetings yet to pass its ID */
	struct ghost	*next_at;	/* others at the same ID */
	struct ghost	*next, *prev;	/* every ghost */
};

/* One join or departure; a join holds the eventfds it announces. */
struct event {
	int		 id;
	int		 leave;
	uint64_t	 inherit_seq;	/* join: when the eventfds it took over
					   were freed, 0 when they are new */
	struct vecset	*vec;
};

struct peer_table {
	struct peer	*by_id[PEER_IDS];
	uint64_t	 last_ident[PEER_IDS];	/* who held an ID last */
	uint64_t	 freed_seq[PEER_IDS];	/* seq when it was freed */
	struct vecset	*kept[PEER_IDS];	/* held by live witnesses */
	int		 kept_next[PEER_IDS], kept_prev[PEER_IDS];
	int		 kept_head, kept_tail;	/* oldest freed first */
	size_t		 nkept;
	struct ghost	*ghost_at[PEER_IDS];
	struct ghost	*ghosts;
	size_t		 nghosts;
	struct peer	*greeting;		/* greetings in PH_OTHERS or before */
	struct peer	*wit_head, *wit_tail;
	size_t		 nwitness;
	struct peer	**live;
	size_t		 nlive, live_cap;
	int		 high;			/* highest ID ever used + 1 */
	size_t		 nremembered;		/* free IDs with a last_ident */
	uint64_t	 seq;			/* the last event's seq */
	struct event	*log;			/* ring: seq % log_cap */
	size_t		 log_cap;
	uint64_t	 log_tail;		/* oldest event kept */
};

void	 peer_table_init(struct peer_table *);
void	 peer_table_free(struct peer_table *);
/* The restarted peer's old ID if free, else the lowest free; -1 if none. */
int	 peer_pick_id(const struct peer_table *, uint64_t ident);
/* The ID any newcomer gets whoever it is (no other free ID remembers a
 * peer that could come back to it), or -1 when its identity decides. */
int	 peer_pick_id_now(const struct peer_table *);
/* What a peer admitted before its identity was known turned out to be. */
void	 peer_set_identity(struct peer_table *, struct peer *, uint64_t ident,
	    int witness);
/*
 * A new peer at a free ID: the eventfds live witnesses hold for that ID
 * (their stale counts cleared), else n new ones; its join is logged.
 * NULL with errno on failure.
 */
struct peer *peer_new(struct peer_table *, int id, int sock, unsigned n,
	    int witness, uint64_t ident);
/* Log its departure, remove it from the table and free it. */
void	 peer_free(struct peer_table *, struct peer *);

/* The eventfds of the peer that held id when seq was current, or NULL. */
struct vecset *peer_holder_at(const struct peer_table *, int id,
	    uint64_t seq);
/* p's greeting has told (or skipped) everything at id. */
void	 peer_passed(struct peer_table *, struct peer *p, int id);
/* p's greeting has told every other peer. */
void	 peer_greeted(struct peer_table *, struct peer *p);
/* The event of a seq not yet trimmed. */
const struct event *peer_event(const struct peer_table *, uint64_t seq);
/* The first seq some live peer has still to be told; the log is kept
 * from there. */
uint64_t peer_log_min(const struct peer_table *);
/* Forget the events every live peer has been told, and let go of the
 * eventfds they held. */
void	 peer_log_trim(struct peer_table *);

#endif /* TM_PEER_H */
