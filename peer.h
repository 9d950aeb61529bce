/*
 * peer.h - connected peers: their IDs, eventfds and output queues.
 *
 * A peer's eventfds are shared with every other peer's output queue until
 * sent, so they live in a reference-counted vecset that outlives the peer
 * if messages naming it are still queued.
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
	struct vecset	*vec;
	struct outmsg	*q;		/* ring of queued messages */
	size_t		 qhead, qlen, qcap;
	size_t		 qoff;		/* bytes of the head already sent */
	int64_t		 stuck_ms;	/* when output last blocked, 0 = not */
	int		 want_out;	/* EPOLLOUT registered */
	int		 dirty;		/* queued output not yet flushed */
	int		 doomed;	/* drop at the next reap */
	const char	*why;		/* why it is doomed */
	size_t		 live_idx;
};

struct peer_table {
	struct peer	*by_id[PEER_IDS];
	uint64_t	 last_ident[PEER_IDS];	/* who held an ID last */
	struct peer	**live;
	size_t		 nlive, live_cap;
	size_t		 max_peers;
	int		 high;			/* highest ID ever used + 1 */
};

void	 peer_table_init(struct peer_table *, size_t max_peers);
void	 peer_table_free(struct peer_table *);
/* The restarted peer's old ID if free, else the lowest free; -1 if full. */
int	 peer_pick_id(const struct peer_table *, uint64_t ident);
/* A new peer with n fresh eventfds; NULL with errno on failure. */
struct peer *peer_new(struct peer_table *, int id, int sock, unsigned n);
/* Remove from the table and free; queued holds of its fds stay valid. */
void	 peer_free(struct peer_table *, struct peer *);
/* Identity of a connecting process: uid and /proc/PID/cmdline. */
uint64_t peer_ident(pid_t, uid_t);

/* Queue a message; -1 with errno ENOMEM on failure. */
int	 peer_enqueue(struct peer *, int64_t value, int fd,
	    struct vecset *hold);
/* Send what the socket takes: 1 all sent, 0 blocked, -1 error (errno). */
int	 peer_flush(struct peer *, enum scm_proto);

#endif /* TM_PEER_H */
