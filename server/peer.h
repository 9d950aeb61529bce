/*
 * peer.h - connected peers: their IDs, eventfds and output queues.
 *
 * A peer's eventfds are shared with every other peer's output queue until
 * sent, so they live in a reference-counted vecset that outlives the peer
 * if messages naming it are still queued.
 *
 * IDs are held back after a peer leaves.  QEMU (7.2 and current) frees its
 * record of a departed peer but keeps the pointer, so handing the ID to a
 * newcomer makes every QEMU that saw the departure write into freed memory
 * and crash.  An ID is therefore reused only once no live QEMU ("witness")
 * saw it leave.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_PEER_H
#define TM_PEER_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "send_scm.h"

#define PEER_ID_MAX	65535		/* QEMU's IVSHMEM_MAX_PEERS */
#define PEER_IDS	(PEER_ID_MAX + 1)
#define PEER_VECTORS_MAX 64

struct vecset {
	unsigned int	 refs;
	unsigned int	 n;
	int		 fd[];
};

struct outmsg {
	int64_t		 value;
	int		 fd;		/* SCM_NO_FD or a descriptor */
	struct vecset	*hold;		/* keeps fd open until sent */
};

struct peer {
	int		 id;
	int		 sock;
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;
	uint64_t	 ident;		/* uid + command line, 0 = unknown */
	uint64_t	 join_seq;	/* table->seq when it joined */
	int		 witness;	/* may crash if an ID it saw leave comes back */
	struct vecset	*vec;
	struct outmsg	*q;		/* ring of queued messages */
	size_t		 qhead, qlen, qcap;
	size_t		 qoff;		/* bytes of the head already sent */
	int64_t		 stuck_ms;	/* when output last blocked, 0 = not */
	int		 stuck_outq;	/* bytes it had not read back then */
	int		 want_out;	/* EPOLLOUT registered */
	int		 retry;		/* kernel refused our fds: retry later */
	int		 dirty;		/* queued output not yet flushed */
	int		 doomed;	/* drop at the next reap */
	char		 why[96];	/* why it is doomed */
	size_t		 live_idx;
};

struct peer_table {
	struct peer	*by_id[PEER_IDS];
	uint64_t	 last_ident[PEER_IDS];	/* who held an ID last */
	uint64_t	 freed_seq[PEER_IDS];	/* seq when it was freed, 0 never */
	uint64_t	 seq;			/* counts joins and departures */
	size_t		 nwitness;
	struct peer	**live;
	size_t		 nlive, live_cap;
	size_t		 max_peers;
	int		 high;			/* highest ID ever used + 1 */
};

void	 peer_table_init(struct peer_table *, size_t max_peers);
void	 peer_table_free(struct peer_table *);
/*
 * The restarted peer's old ID if it is reusable, else the lowest reusable
 * one; -1 if none.  *held gets how many free IDs were held back.
 */
int	 peer_pick_id(const struct peer_table *, uint64_t ident, int *held);
/* A new peer with n fresh eventfds; NULL with errno on failure. */
struct peer *peer_new(struct peer_table *, int id, int sock, unsigned n,
	    int witness);
/* Remove from the table and free; queued holds of its fds stay valid. */
void	 peer_free(struct peer_table *, struct peer *);
/*
 * Identity of a connecting process: uid and /proc/PID/cmdline.  *witness
 * is 0 only for our own tools (tm_*, mq*), which survive ID reuse; QEMU
 * and anything unknown count as witnesses.
 */
uint64_t peer_ident(pid_t, uid_t, int *witness);

/* Queue a message; -1 with errno ENOMEM on failure. */
int	 peer_enqueue(struct peer *, int64_t value, int fd,
	    struct vecset *hold);
/* Send what the socket takes: 1 all sent, 0 blocked, -1 error (errno). */
int	 peer_flush(struct peer *, enum scm_proto);

#endif /* TM_PEER_H */
