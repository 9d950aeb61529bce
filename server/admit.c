/*
 * admit.c - a connection from accept() until it is a peer: credentials,
 * the allow-lists, the per-user cap, its identity (from the worker in
 * ident.c, never read on the loop), its ID, and its first messages.
 *
 * Every refusal is one log line naming the peer and the reason.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "server/ident.h"
#include "server/server.h"

#define IDENT_WAIT_MS	500	/* then a peer is admitted as unknown */
#define IDENT_TICK_MS	100

/* ---- Connections per uid ------------------------------------------- */

static struct uidcount *
uid_slot(uid_t uid, int add)
{
	struct uidcount *n;
	size_t i;

	for (i = 0; i < srv.nuids; i++)
		if (srv.uids[i].uid == uid)
			return &srv.uids[i];
	if (!add)
		return NULL;
	n = reallocarray(srv.uids, srv.nuids + 1, sizeof(*n));
	if (n == NULL)
		return NULL;
	srv.uids = n;
	srv.uids[srv.nuids] = (struct uidcount){ uid, 0 };
	return &srv.uids[srv.nuids++];
}

/* A connection of uid ended (pending or peer). */
void
admit_left(uid_t uid)
{
	struct uidcount *u = uid_slot(uid, 0);

	if (u != NULL && u->n > 0 && --u->n == 0)
		*u = srv.uids[--srv.nuids];
}

/* ---- Refusing and admitting ---------------------------------------- */

static void
refuse(int fd, pid_t pid, uid_t uid, gid_t gid, enum refusal r,
    const char *why)
{
	srv.n.refused[r]++;
	log_warn("refused a peer (pid %d, uid %u, gid %u): %s", (int)pid,
	    (unsigned)uid, (unsigned)gid, why);
	close(fd);
}

/* Log once when use passes 50% and 90% of the IDs a server may hand out,
 * and again only after it fell back well below. */
static void
warn_use(void)
{
	size_t n = srv.table.nlive, max = srv.opt.max_peers;
	int level = n * 10 >= max * 9 ? 90 : n * 2 >= max ? 50 : 0;

	if (level > srv.warned) {
		log_warn("%zu of %zu peer IDs in use (%d%%): at %zu newcomers "
		    "are refused; SIGUSR1 lists the peers, -c raises the "
		    "limit", n, max, level, max);
		srv.warned = level;
	} else if ((srv.warned == 90 && n * 10 < max * 8) ||
	    (srv.warned == 50 && n * 10 < max * 4))
		srv.warned = n * 2 >= max ? 50 : 0;
}

static struct peer *
become_peer(int fd, pid_t pid, uid_t uid, gid_t gid, uint64_t ident,
    int witness, int pending)
{
	struct peer *p;
	int id;

	if (srv.region.bad) {
		refuse(fd, pid, uid, gid, REFUSE_REGION, "the region changed "
		    "size and QEMU would abort on it; restore its size (see "
		    "the warning)");
		admit_left(uid);
		return NULL;
	}
	if ((id = peer_pick_id(&srv.table, ident)) == -1 ||
	    srv.table.nlive >= srv.opt.max_peers) {
		refuse(fd, pid, uid, gid, REFUSE_FULL, "server full (-c, or all "
		    "65536 IDs "
		    "in use)");
		admit_left(uid);
		return NULL;
	}
	p = peer_new(&srv.table, id, fd, srv.opt.vectors, witness, ident);
	if (p == NULL) {
		refuse(fd, pid, uid, gid, errno == EMFILE || errno == ENFILE ?
		    REFUSE_DESCRIPTORS : REFUSE_OTHER,
		    errno == EMFILE || errno == ENFILE ?
		    "out of file descriptors (raise ulimit -n)" :
		    strerror(errno));
		admit_left(uid);
		return NULL;
	}
	p->ident_pending = pending;
	p->pid = pid;
	p->uid = uid;
	p->gid = gid;
	if (ev_io_start(&srv.loop, &p->io, fd, EPOLLIN | EPOLLRDHUP,
	    out_peer_event, p) == -1) {
		/* Its join is logged already: it leaves at the next reap. */
		log_warn("peer %d: cannot watch its socket: %s (raise "
		    "fs.epoll.max_user_watches)", id, strerror(errno));
		out_doom(p, "refused: cannot watch its socket");
		return NULL;
	}
	if (peer_event(&srv.table, p->join_seq)->inherit_seq != 0)
		log_debug("peer %d takes over the eventfds that live QEMU "
		    "peers hold for ID %d", id, id);
	p->joined_ms = clock_ms();
	srv.n.joined++;
	log_info("peer %d connected (pid %d, uid %u, gid %u%s)", id, (int)pid,
	    (unsigned)uid, (unsigned)gid, ident == 0 && !pending ?
	    ", identity unknown" :
	    "");
	/* Its greeting first: the others' notices can wait a turn. */
	out_flush(p);
	out_all_dirty(p);
	warn_use();
	return p;
}

/* ---- Waiting for the identity -------------------------------------- */

static void
pending_unlink(struct pending *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		srv.pending = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	if (q->id == -1)
		srv.npending--;
}

/* The answer for a connection, or for a peer admitted without one. */
static void
pending_admit(struct pending *q, uint64_t ident, int witness)
{
	struct peer *p;

	pending_unlink(q);
	if (q->id == -1)
		become_peer(q->sock, q->pid, q->uid, q->gid, ident, witness,
		    0);
	else if ((p = srv.table.by_id[q->id]) != NULL &&
	    p->join_seq == q->join_seq && p->ident_pending) {
		peer_set_identity(&srv.table, p, ident, witness);
		out_dirty(p);
	}
	free(q);
}

void
admit_answers(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct ident_answer a[64];
	struct pending *q;
	size_t i, n;

	(void)l;
	(void)io;
	(void)events;
	n = ident_take(a, 64);
	for (i = 0; i < n; i++) {
		for (q = srv.pending; q != NULL; q = q->next)
			if (q->token == a[i].token)
				break;
		if (q != NULL)	/* else it was given up on */
			pending_admit(q, a[i].ident, a[i].witness);
	}
}

void
admit_expire(struct evloop *l, struct ev_timer *t)
{
	int64_t now = clock_ms();
	struct pending *q, *next;

	for (q = srv.pending; q != NULL; q = next) {
		next = q->next;
		if (now - q->since_ms < IDENT_WAIT_MS)
			continue;
		log_warn("pid %d: its command line could not be read within "
		    "%d ms; admitted as unknown (treated as QEMU, no old ID)",
		    (int)q->pid, IDENT_WAIT_MS);
		pending_admit(q, 0, 1);
	}
	if (srv.pending != NULL)
		ev_timer_start(l, t, IDENT_TICK_MS * 1000, admit_expire, NULL);
}

/* Ask the worker who pid is; -1 when it cannot take the question. */
static int
ask(int fd, pid_t pid, uid_t uid, gid_t gid, const struct peer *p)
{
	struct pending *q;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    ident_ask(srv.next_token + 1, pid, uid) == -1) {
		free(q);
		log_warn("pid %d: the identity worker is busy; admitted as "
		    "unknown (treated as QEMU, no old ID)", (int)pid);
		return -1;
	}
	*q = (struct pending){ .id = p != NULL ? p->id : -1,
	    .join_seq = p != NULL ? p->join_seq : 0, .sock = fd, .pid = pid,
	    .uid = uid, .gid = gid, .token = ++srv.next_token,
	    .since_ms = clock_ms(), .next = srv.pending };
	if (srv.pending != NULL)
		srv.pending->prev = q;
	srv.pending = q;
	srv.npending += p == NULL;
	if (!srv.ident_timer.active)
		ev_timer_start(&srv.loop, &srv.ident_timer,
		    IDENT_TICK_MS * 1000, admit_expire, NULL);
	return 0;
}

/*
 * Its identity can only change its ID if some free ID remembers who held
 * it: else it is admitted at once, as a QEMU until the worker says
 * otherwise (it hears no departure before then), and the read of its
 * command line is off the newcomer's path.
 */
static void
wait_identity(int fd, pid_t pid, uid_t uid, gid_t gid)
{
	struct peer *p;

	if (peer_pick_id_now(&srv.table) != -1) {
		p = become_peer(fd, pid, uid, gid, 0, 1, 1);
		if (p != NULL && ask(fd, pid, uid, gid, p) == -1)
			peer_set_identity(&srv.table, p, 0, 1);
		return;
	}
	if (ask(fd, pid, uid, gid, NULL) == -1)
		become_peer(fd, pid, uid, gid, 0, 1, 0);
}

void
admit_close_pending(void)
{
	struct pending *q;

	while ((q = srv.pending) != NULL) {
		pending_unlink(q);
		if (q->id == -1)
			close(q->sock);
		free(q);
	}
}

/* ---- Accepting ------------------------------------------------------ */

static void
take(int fd)
{
	struct ucred cr = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cr);
	struct uidcount *u;
	char why[128];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		log_warn("SO_PEERCRED: %s", strerror(errno));
	if (!options_allowed(&srv.opt, cr.uid, cr.gid)) {
		refuse(fd, cr.pid, cr.uid, cr.gid, REFUSE_ALLOW_LIST,
		    "not in the allow-list (-U, -G)");
		return;
	}
	if ((u = uid_slot(cr.uid, 1)) == NULL) {
		refuse(fd, cr.pid, cr.uid, cr.gid, REFUSE_OTHER,
		    "out of memory");
		return;
	}
	if (cr.uid != 0 && u->n >= srv.opt.max_per_uid) {
		snprintf(why, sizeof(why), "uid %u already holds %zu "
		    "connections (-C %zu)", (unsigned)cr.uid, u->n,
		    srv.opt.max_per_uid);
		refuse(fd, cr.pid, cr.uid, cr.gid, REFUSE_PER_USER, why);
		return;
	}
	u->n++;
	if (srv.table.nlive + srv.npending >= srv.opt.max_peers) {
		refuse(fd, cr.pid, cr.uid, cr.gid, REFUSE_FULL, "server full "
		    "(-c, or all 65536 IDs in use)");
		admit_left(cr.uid);
		return;
	}
	wait_identity(fd, cr.pid, cr.uid, cr.gid);
}

/* Under EMFILE the pending connection would wake us forever: take it
 * with the spare descriptor and close it. */
static void
shed_connection(void)
{
	int fd;

	if (srv.spare_fd == -1)
		return;
	close(srv.spare_fd);
	fd = accept(srv.listen_fd, NULL, NULL);
	if (fd != -1)
		close(fd);
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv.n.refused[REFUSE_DESCRIPTORS]++;
	log_warn("out of file descriptors: refused a connection");
}

/*
 * One connection per wakeup: the listening socket stays readable while
 * more wait, and epoll brings us back at once, so a lone connect costs no
 * accept() that finds nothing.
 */
void
admit_accept(struct evloop *l, struct ev_io *io, uint32_t events)
{
	int fd;

	(void)l;
	(void)io;
	(void)events;
	fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd != -1) {
		srv.n.accepted++;
		take(fd);
		return;
	}
	if (errno == EMFILE || errno == ENFILE)
		shed_connection();
	else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_err("accept: %s", strerror(errno));
}
