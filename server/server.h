/*
 * server.h - the state of one running server, shared by its modules:
 * tm_ivshmem_server.c (start-up, the loop, signals, timers), admit.c
 * (connections until they are peers) and out.c (what peers are told).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_SERVER_H
#define TM_SERVER_H

#include <sys/types.h>

#include <limits.h>
#include <stdint.h>

#include "lib/evloop.h"
#include "lib/status.h"
#include "server/options.h"
#include "server/peer.h"
#include "server/region.h"

#define RETRY_MS	5	/* after ETOOMANYREFS */
#define LAG_SLACK	4096	/* events a peer may lag beyond one per peer */

/* Peers to visit later, by ID: a freed peer's ID finds nobody (or a
 * newcomer, which a visit does not harm), so the list never dangles. */
struct idlist {
	int		*ids;
	size_t		 n, cap;
};

/* Why a connection was refused: one counter each (server/stats.c). */
enum refusal {
	REFUSE_ALLOW_LIST,	/* -U, -G */
	REFUSE_PER_USER,	/* -C */
	REFUSE_FULL,		/* -c, or no ID left */
	REFUSE_REGION,		/* the region changed size */
	REFUSE_DESCRIPTORS,	/* out of file descriptors */
	REFUSE_OTHER,		/* out of memory, ... */
	REFUSALS
};

/* Why a peer was dropped rather than left by itself. */
enum drop {
	DROP_STALLED,		/* -k: not reading its messages */
	DROP_LAGGING,		/* too far behind the others */
	DROP_TALKED,		/* it sent data */
	DROPS
};

struct counts {
	uint64_t	 accepted;	/* connections */
	uint64_t	 refused[REFUSALS];
	uint64_t	 joined, left;	/* peers */
	uint64_t	 dropped[DROPS];
};

/* A connection or a peer waiting for its identity (admit.c). */
struct pending {
	int		 id;		/* a peer's, or -1: not yet a peer */
	uint64_t	 join_seq;	/* that peer's */
	int		 sock;
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;
	uint64_t	 token;
	int64_t		 since_ms;
	struct pending	*next, *prev;
};

/* Connections one uid holds, pending and live (admit.c). */
struct uidcount {
	uid_t		 uid;
	size_t		 n;
};

struct server {
	struct options	 opt;
	struct region	 region;
	struct peer_table table;
	struct evloop	 loop;
	char		 sock_path[PATH_MAX];
	char		 pidfile[PATH_MAX];
	int		 listen_fd;
	int		 sigfd;
	int		 ident_fd;
	int		 spare_fd;	/* given up to accept under EMFILE */
	struct ev_io	 listen_io, sig_io, ident_io;
	struct ev_timer	 flush_timer;	/* end of this turn: flush, reap */
	struct ev_timer	 stall_timer;	/* every second: -k, lag, region */
	struct ev_timer	 retry_timer;	/* ETOOMANYREFS */
	struct ev_timer	 ident_timer;	/* give up on slow identities */
	struct idlist	 dirty;		/* peers that may have output */
	struct idlist	 doomed;	/* peers to drop */
	int		 retry_pending;
	struct pending	*pending;
	size_t		 npending;
	uint64_t	 next_token;
	struct uidcount	*uids;
	size_t		 nuids;
	int		 warned;	/* 0, 50 or 90: use already logged */
	int		 quit;
	int		 activated;	/* the socket came from LISTEN_FDS */
	struct counts	 n;
	struct status_file status[2];	/* -i, by enum status_fmt */
	char		 status_path[2][PATH_MAX];
	int64_t		 start_s;	/* CLOCK_REALTIME, for the metric */
	int64_t		 start_ms;	/* clock_ms(), for uptime */
	size_t		 told_peers;	/* in the last STATUS=, +1 */
};

extern struct server srv;

/* out.c: what peers are told, and dropping them. */
void	out_dirty(struct peer *);
void	out_all_dirty(const struct peer *except);
void	out_flush(struct peer *);
void	out_turn(void);
void	out_doom(struct peer *, const char *why);
void	out_scan(int64_t now_ms);
void	out_schedule_retries(void);
void	out_peer_event(struct evloop *, struct ev_io *, uint32_t);

/* admit.c: from accept() to a peer. */
void	admit_accept(struct evloop *, struct ev_io *, uint32_t);
void	admit_answers(struct evloop *, struct ev_io *, uint32_t);
void	admit_expire(struct evloop *, struct ev_timer *);
void	admit_left(uid_t);
void	admit_close_pending(void);

/* stats.c: the status files (-i) and the manager's STATUS= line. */
void	stats_write(void);
void	stats_notify(void);

#endif /* TM_SERVER_H */
