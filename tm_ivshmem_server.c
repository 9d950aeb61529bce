/*
 * tm_ivshmem_server.c - the ivshmem server: start-up order and the event
 * loop that speaks QEMU's ivshmem protocol to every peer.
 *
 * One process, one UNIX socket, one region.  Each peer gets an ID, the
 * region's fd and one eventfd per vector for itself and for every other
 * peer; then connect and disconnect notices.  Nothing a peer does can stall
 * the others: sockets are non-blocking, output is queued per peer, and a
 * peer that stops reading is dropped after a bound.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/proc.h"
#include "lib/sigfd.h"
#include "send_scm.h"
#include "server/listen.h"
#include "server/options.h"
#include "server/peer.h"
#include "server/region.h"

#define ACCEPT_BURST	64	/* connections taken per wakeup */
#define RETRY_MS	5	/* after ETOOMANYREFS */

/* Peers to visit after the events of one wakeup, by ID: a freed peer's ID
 * simply finds nobody, so the list never dangles. */
struct idlist {
	int		*ids;
	size_t		 n, cap;
};

struct server {
	struct options	 opt;
	struct region	 region;
	struct peer_table table;
	char		 sock_path[PATH_MAX];
	char		 pidfile[PATH_MAX];
	int		 listen_fd;
	int		 epfd;
	int		 sigfd;
	int		 spare_fd;	/* given up to accept under EMFILE */
	int64_t		 last_stall_scan;
	struct idlist	 dirty;		/* peers with output to flush */
	struct idlist	 doomed;	/* peers to drop */
	int		 retry_pending;	/* some peer waits on ETOOMANYREFS */
	int		 quit;
};

static struct server srv;


static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
epoll_set(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(srv.epfd, op, fd, &ev) == -1 && op != EPOLL_CTL_DEL)
		fatal("epoll_ctl: %s", strerror(errno));
}

static void
setup(int argc, char **argv)
{
	struct options *o = &srv.opt;
	uid_t uid, run_uid = (uid_t)-1;
	gid_t gid, run_gid = (gid_t)-1;
	struct passwd *pw;
	int ready_fd = -1;

	log_init(argv[0], 0, 0);
	options_parse(argc, argv, o);
	log_init(argv[0], o->verbosity, 0);
	proc_raise_nofile();
	srv.sigfd = sigfd_open(SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0);
	/* Every check that can fail comes before the region is created, so
	 * a refused start leaves nothing behind. */
	proc_absolute_path(o->sock_path, srv.sock_path, sizeof(srv.sock_path));
	if (o->pidfile != NULL || o->daemonize)
		proc_absolute_path(o->pidfile != NULL ? o->pidfile : srv.sock_path,
		    srv.pidfile, sizeof(srv.pidfile) - 4);
	if (o->pidfile == NULL && o->daemonize)
		strcat(srv.pidfile, ".pid");
	if (o->run_as != NULL) {
		if ((pw = getpwnam(o->run_as)) == NULL)
			fatal("-u %s: unknown user; give an existing user name",
			    o->run_as);
		run_uid = pw->pw_uid;
		run_gid = pw->pw_gid;
	}
	options_owner(o->owner, &uid, &gid);
	if (o->owner == NULL) {
		uid = run_uid;
		gid = run_gid;
	}
	proc_check_pidfile(srv.pidfile);
	listen_check(srv.sock_path);
	region_open(&srv.region, &o->region);
	srv.listen_fd = listen_unix(srv.sock_path, o->sock_mode, uid, gid);
	if (o->daemonize)
		ready_fd = proc_daemonize();
	proc_write_pidfile(srv.pidfile, run_uid, run_gid);
	proc_drop_privileges(o->run_as);
	peer_table_init(&srv.table, o->max_peers);
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv.epfd == -1)
		fatal("epoll_create1: %s", strerror(errno));
	epoll_set(EPOLL_CTL_ADD, srv.listen_fd, EPOLLIN, &srv.listen_fd);
	epoll_set(EPOLL_CTL_ADD, srv.sigfd, EPOLLIN, &srv.sigfd);
	log_info("listening on %s (%s, %" PRIu64 " bytes, %u vector%s, "
	    "protocol %s)", srv.sock_path, srv.region.name, srv.region.size,
	    o->vectors, o->vectors == 1 ? "" : "s",
	    o->proto == SCM_PROTO_V0 ? "version 0" : "pre-2.5");
	if (o->daemonize) {
		proc_detach(ready_fd);
		log_init(argv[0], o->verbosity, 1);
		log_info("daemon started, pid %ld, pidfile %s",
		    (long)getpid(), srv.pidfile);
	}
}

static void
idlist_push(struct idlist *l, int id)
{
	int *n;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		if ((n = reallocarray(l->ids, l->cap, sizeof(*n))) == NULL)
			fatal("out of memory");
		l->ids = n;
	}
	l->ids[l->n++] = id;
}

static void
doom(struct peer *p, const char *why)
{
	if (!p->doomed) {
		p->doomed = 1;
		snprintf(p->why, sizeof(p->why), "%s", why);
		idlist_push(&srv.doomed, p->id);
	}
}

/* Send what can go now; arm EPOLLOUT for the rest. */
/* What the peer has not read yet: the kernel only wakes us for output
 * once most of it is read, so a slow reader makes progress we cannot
 * see from our side alone. */
static int
unread_bytes(const struct peer *p)
{
	int n;

	return ioctl(p->sock, TIOCOUTQ, &n) == -1 ? -1 : n;
}

static void
flush_peer(struct peer *p)
{
	size_t qlen = p->qlen, qoff = p->qoff;
	char why[96];
	int rc, out;

	if (p->doomed)
		return;
	rc = peer_flush(p, srv.opt.proto);
	p->retry = rc == -1 && errno == ETOOMANYREFS;
	if (p->retry) {
		/*
		 * Too many of our descriptors are in flight to peers that
		 * have not read them yet (without CAP_SYS_RESOURCE that is
		 * capped at our nofile limit).  No event says when it eases
		 * and the socket stays writable, so EPOLLOUT would spin:
		 * retry after a short sleep.  Not this peer's fault, so it
		 * does not count towards -k.
		 */
		srv.retry_pending = 1;
		p->stuck_ms = 0;
		rc = 0;
	} else if (rc == -1) {
		snprintf(why, sizeof(why), "send error: %s", strerror(errno));
		doom(p, errno == EPIPE || errno == ECONNRESET ?
		    "hung up" : why);
		return;
	} else if (p->qlen != qlen || p->qoff != qoff || rc == 1) {
		/* -k measures time without progress, not with a backlog. */
		p->stuck_ms = 0;
	}
	if (rc == 0 && !p->retry && p->stuck_ms == 0) {
		p->stuck_ms = now_ms();
		p->stuck_outq = unread_bytes(p);
	}
	out = rc == 0 && !p->retry;
	if (out != p->want_out) {
		p->want_out = out;
		epoll_set(EPOLL_CTL_MOD, p->sock,
		    EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0), p);
	}
}

/* Past this a peer is not reading: its queue would only grow. */
static size_t
backlog_limit(void)
{
	return (srv.table.nlive + 1) * srv.opt.vectors + 3 + 4096;
}

static void
send_to(struct peer *p, int64_t value, int fd, struct vecset *hold)
{
	if (p->doomed)
		return;
	if (p->qlen >= backlog_limit()) {
		doom(p, "not reading: output queue full");
		return;
	}
	if (peer_enqueue(p, value, fd, hold) == -1) {
		doom(p, "out of memory");
		return;
	}
	if (!p->dirty && !p->want_out) {
		p->dirty = 1;
		idlist_push(&srv.dirty, p->id);
	}
}

static void
send_vectors(struct peer *to, const struct peer *of)
{
	unsigned int i;

	for (i = 0; i < of->vec->n; i++)
		send_to(to, of->id, of->vec->fd[i], of->vec);
}

/* The newcomer's whole greeting, in the order QEMU reads it. */
static void
greet(struct peer *p)
{
	struct peer *other;
	int id;

	if (srv.opt.proto == SCM_PROTO_V0)
		send_to(p, SCM_PROTOCOL_VERSION, SCM_NO_FD, NULL);
	send_to(p, p->id, SCM_NO_FD, NULL);
	send_to(p, -1, srv.region.fd, NULL);
	/*
	 * A peer that hung up in this same wakeup is still announced: its
	 * departure notice follows in reap(), and every notice must name a
	 * peer the receiver was told about.
	 */
	for (id = 0; id < srv.table.high; id++) {
		other = srv.table.by_id[id];
		if (other == NULL || other == p)
			continue;
		send_vectors(p, other);
		send_vectors(other, p);
	}
	send_vectors(p, p);
}


static void
refuse(int fd, const struct ucred *cr, const char *why)
{
	log_warn("refused a peer (pid %d, uid %u, gid %u): %s", (int)cr->pid,
	    (unsigned)cr->uid, (unsigned)cr->gid, why);
	close(fd);
}

static void
admit(int fd)
{
	struct ucred cr = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cr);
	struct peer *p;
	uint64_t ident;
	int id, held, witness;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		log_warn("SO_PEERCRED: %s", strerror(errno));
	if (!options_allowed(&srv.opt, cr.uid, cr.gid)) {
		refuse(fd, &cr, "not in the allow-list (-U, -G)");
		return;
	}
	ident = peer_ident(cr.pid, cr.uid, &witness);
	if ((id = peer_pick_id(&srv.table, ident, &held)) == -1) {
		refuse(fd, &cr, held > 0 ? "no reusable ID: the free ones are "
		    "held back because live QEMU peers saw them leave (QEMU "
		    "crashes on their reuse); restart those peers" :
		    "server full (-c, or all 65536 IDs in use)");
		return;
	}
	if (held > 0)
		log_debug("held back %d free ID%s that live QEMU peers saw "
		    "leave", held, held == 1 ? "" : "s");
	p = peer_new(&srv.table, id, fd, srv.opt.vectors, witness);
	if (p == NULL) {
		refuse(fd, &cr, errno == EMFILE || errno == ENFILE ?
		    "out of file descriptors (raise ulimit -n)" :
		    strerror(errno));
		return;
	}
	p->pid = cr.pid;
	p->uid = cr.uid;
	p->gid = cr.gid;
	p->ident = ident;
	epoll_set(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP, p);
	log_info("peer %d connected (pid %d, uid %u, gid %u)", id,
	    (int)cr.pid, (unsigned)cr.uid, (unsigned)cr.gid);
	greet(p);
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
	log_warn("out of file descriptors: refused a connection");
}

static void
accept_peers(void)
{
	int i, fd;

	for (i = 0; i < ACCEPT_BURST; i++) {
		fd = accept4(srv.listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				shed_connection();
			else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_err("accept: %s", strerror(errno));
			return;
		}
		admit(fd);
	}
}

/* Drop doomed peers and tell the others; telling may doom more. */
static void
reap(void)
{
	struct peer *p;
	size_t i, j;
	int id;

	for (i = 0; i < srv.doomed.n; i++) {
		id = srv.doomed.ids[i];
		if ((p = srv.table.by_id[id]) == NULL || !p->doomed)
			continue;
		log_info("peer %d disconnected (%s)", id, p->why);
		epoll_set(EPOLL_CTL_DEL, p->sock, 0, NULL);
		peer_free(&srv.table, p);
		for (j = 0; j < srv.table.nlive; j++)
			send_to(srv.table.live[j], id, SCM_NO_FD, NULL);
	}
	srv.doomed.n = 0;
}

static void
flush_dirty(void)
{
	struct peer *p;
	size_t i;

	for (i = 0; i < srv.dirty.n; i++) {
		p = srv.table.by_id[srv.dirty.ids[i]];
		if (p == NULL || !p->dirty)
			continue;
		p->dirty = 0;
		flush_peer(p);
	}
	srv.dirty.n = 0;
}

/* Once a second: drop peers stuck past -k. */
static void
scan_stalled(void)
{
	int64_t now = now_ms();
	struct peer *p;
	size_t i;
	int outq;

	if (now - srv.last_stall_scan < 1000)
		return;
	srv.last_stall_scan = now;
	for (i = 0; i < srv.table.nlive; i++) {
		p = srv.table.live[i];
		if (p->stuck_ms == 0 || now - p->stuck_ms < srv.opt.stall_ms)
			continue;
		outq = unread_bytes(p);
		if (outq != -1 && outq < p->stuck_outq) {
			/* It read some: give it another -k from here. */
			p->stuck_ms = now;
			p->stuck_outq = outq;
		} else
			doom(p, "not reading its messages");
	}
}

/* Peers whose descriptors the kernel refused: try them again. */
static void
schedule_retries(void)
{
	struct peer *p;
	size_t i;

	if (!srv.retry_pending)
		return;
	srv.retry_pending = 0;
	for (i = 0; i < srv.table.nlive; i++) {
		p = srv.table.live[i];
		if (p->retry && !p->dirty) {
			p->dirty = 1;
			idlist_push(&srv.dirty, p->id);
		}
	}
}

static void
log_peers(void)
{
	struct peer *p;
	int id;

	log_info("%zu peer%s on %s, %u vector%s each, region %s", 
	    srv.table.nlive, srv.table.nlive == 1 ? "" : "s", srv.sock_path,
	    srv.opt.vectors, srv.opt.vectors == 1 ? "" : "s",
	    srv.region.name);
	for (id = 0; id < srv.table.high; id++) {
		if ((p = srv.table.by_id[id]) == NULL)
			continue;
		log_info("peer %d: pid %d, uid %u, gid %u, %zu messages queued",
		    id, (int)p->pid, (unsigned)p->uid, (unsigned)p->gid,
		    p->qlen);
	}
}

static void
handle_signals(void)
{
	struct signalfd_siginfo si;

	while (read(srv.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
		case SIGUSR1:
			log_peers();
			break;
		default:
			log_info("%s: closing %zu peers", strsignal(
			    (int)si.ssi_signo), srv.table.nlive);
			srv.quit = 1;
		}
	}
}

static void
handle_peer(struct peer *p, uint32_t events)
{
	ssize_t n;

	if (events & EPOLLOUT)
		flush_peer(p);
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	/* Peers never talk: any byte, or EOF, is a hang-up. */
	n = scm_drain(p->sock);
	if (n == -1 && errno == EAGAIN)
		return;
	doom(p, n > 0 ? "it sent data; peers must not" :
	    n == 0 || errno == ECONNRESET ? "hung up" : "receive error");
}

static void
run(void)
{
	struct epoll_event ev[256];
	int i, n, timeout;

	while (!srv.quit) {
		timeout = srv.retry_pending ? RETRY_MS :
		    srv.table.nlive > 0 ? 1000 : -1;
		n = epoll_wait(srv.epfd, ev, 256, timeout);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &srv.listen_fd)
				accept_peers();
			else if (ev[i].data.ptr == &srv.sigfd)
				handle_signals();
			else
				handle_peer(ev[i].data.ptr, ev[i].events);
		}
		scan_stalled();
		schedule_retries();
		while (srv.doomed.n > 0 || srv.dirty.n > 0) {
			flush_dirty();
			reap();
		}
	}
}

static void
shutdown_server(void)
{
	peer_table_free(&srv.table);
	free(srv.dirty.ids);
	free(srv.doomed.ids);
	region_flush(&srv.region);
	region_close(&srv.region);
	if (unlink(srv.sock_path) == -1)
		log_warn("cannot remove %s: %s", srv.sock_path,
		    strerror(errno));
	if (srv.pidfile[0] != '\0' && unlink(srv.pidfile) == -1)
		log_warn("cannot remove %s: %s", srv.pidfile, strerror(errno));
	close(srv.listen_fd);
	close(srv.epfd);
	close(srv.sigfd);
	if (srv.spare_fd != -1)
		close(srv.spare_fd);
	log_info("exiting: region flushed, socket removed");
}

int
main(int argc, char **argv)
{
	setup(argc, argv);
	run();
	shutdown_server();
	return 0;
}
