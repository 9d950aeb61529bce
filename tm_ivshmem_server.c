/*
 * tm_ivshmem_server.c - the ivshmem server: start-up order, and the one
 * event loop (lib/evloop.h) that speaks QEMU's ivshmem protocol to every
 * peer.
 *
 * One process, one UNIX socket, one region.  Each peer gets an ID, a
 * descriptor of the region and one eventfd per vector for itself and for
 * every other peer; then connect and disconnect notices.  Nothing a peer
 * does can stall the others: sockets are non-blocking, what a peer is
 * owed is a cursor (server/out.c), a peer that stops reading is dropped
 * after a bound, and its identity is read off the loop (server/ident.c).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/sigfd.h"
#include "lib/svc.h"
#include "send_scm.h"
#include "server/ident.h"
#include "server/listen.h"
#include "server/server.h"

#define SCAN_MS		1000	/* -k, lag and the region's size */

struct server srv;

static void
resolve_paths(const struct options *o)
{
	int i;

	/* -d moves us to /: every path we keep is made absolute first. */
	for (i = 0; i < 2; i++) {
		if (o->status[i] == NULL)
			continue;
		proc_absolute_path(o->status[i], srv.status_path[i],
		    sizeof(srv.status_path[i]));
		srv.status[i].path = srv.status_path[i];
		srv.status[i].fmt = (enum status_fmt)i;
	}
	if (srv.activated)
		return;
	proc_absolute_path(o->sock_path, srv.sock_path, sizeof(srv.sock_path));
}

static void
resolve_pidfile(const struct options *o)
{
	if (o->pidfile != NULL || o->daemonize)
		proc_absolute_path(o->pidfile != NULL ? o->pidfile :
		    srv.sock_path, srv.pidfile, sizeof(srv.pidfile) - 4);
	if (o->pidfile == NULL && o->daemonize)
		strcat(srv.pidfile, ".pid");
}

/* A socket from the service manager (LISTEN_FDS) instead of our own. */
static void
adopt_socket(const struct options *o)
{
	char want[PATH_MAX];
	int n;

	if ((n = svc_listen_fds()) == 0)
		return;
	if (o->sock_given)
		proc_absolute_path(o->sock_path, want, sizeof(want));
	srv.listen_fd = listen_adopt(n, o->sock_given ? want : NULL,
	    srv.sock_path, sizeof(srv.sock_path));
	srv.activated = 1;
}

static void
watch(struct ev_io *io, int fd, ev_io_fn *fn)
{
	if (ev_io_start(&srv.loop, io, fd, EPOLLIN, fn, NULL) == -1)
		fatal("epoll_ctl: %s", strerror(errno));
}

static void on_signal(struct evloop *, struct ev_io *, uint32_t);
static void on_turn(struct evloop *, struct ev_timer *);
static void on_scan(struct evloop *, struct ev_timer *);
static void on_retry(struct evloop *, struct ev_timer *);

/* What runs once the region and socket are open and we are who we run as. */
static void
start_loop(void)
{
	if (ev_init(&srv.loop) == -1)
		fatal("epoll_create1: %s", strerror(errno));
	if ((srv.ident_fd = ident_start()) == -1)
		fatal("cannot start the identity thread: %s", strerror(errno));
	peer_table_init(&srv.table);
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	watch(&srv.listen_io, srv.listen_fd, admit_accept);
	watch(&srv.sig_io, srv.sigfd, on_signal);
	watch(&srv.ident_io, srv.ident_fd, admit_answers);
	srv.flush_timer.fn = on_turn;
	srv.retry_timer.fn = on_retry;
	ev_timer_start(&srv.loop, &srv.stall_timer, SCAN_MS * 1000, on_scan,
	    NULL);
	svc_watchdog_start(&srv.loop);
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
	srv.start_s = (int64_t)time(NULL);
	srv.start_ms = clock_ms();
	/* Every check that can fail comes before the region is created, so
	 * a refused start leaves nothing behind. */
	adopt_socket(o);
	resolve_paths(o);
	resolve_pidfile(o);
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
	proc_check_pidfile(srv.pidfile, run_uid);
	if (srv.activated)
		listen_adopted_check(srv.sock_path, o->mode_given, o->sock_mode,
		    o->owner != NULL ? uid : (uid_t)-1,
		    o->owner != NULL ? gid : (gid_t)-1);
	else
		listen_check(srv.sock_path);
	region_open(&srv.region, &o->region, run_uid);
	if (!srv.activated)
		srv.listen_fd = listen_unix(srv.sock_path, o->sock_mode, uid,
		    gid);
	if (o->daemonize)
		ready_fd = proc_daemonize();
	proc_write_pidfile(srv.pidfile, run_uid, run_gid);
	proc_drop_privileges(o->run_as);
	start_loop();
	log_info("listening on %s%s (%s, %" PRIu64 " bytes, %u vector%s, "
	    "protocol %s)", srv.sock_path, srv.activated ?
	    ", from the service manager" : "", srv.region.name,
	    srv.region.size, o->vectors, o->vectors == 1 ? "" : "s",
	    o->proto == SCM_PROTO_V0 ? "version 0" : "pre-2.5");
	if (o->daemonize) {
		proc_detach(ready_fd);
		log_init(argv[0], o->verbosity, 1);
		log_info("daemon started, pid %ld, pidfile %s",
		    (long)getpid(), srv.pidfile);
	}
	stats_write();
	(void)svc_notify("READY=1");
	stats_notify();
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
		log_info("peer %d: pid %d, uid %u, gid %u, %s%s", id,
		    (int)p->pid, (unsigned)p->uid, (unsigned)p->gid,
		    p->witness ? "QEMU-like" : "our tool",
		    p->cur.ph < PH_LOG ? ", greeting not yet read" : "");
	}
	log_info("%zu IDs keep a departed peer's eventfds for live QEMU "
	    "peers; %zu connections wait for their identity", srv.table.nkept,
	    srv.npending);
}

static void
on_signal(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)l;
	(void)io;
	(void)events;
	while (read(srv.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
		case SIGUSR1:
			log_peers();
			stats_write();
			break;
		default:
			log_info("%s: closing %zu peers", strsignal(
			    (int)si.ssi_signo), srv.table.nlive);
			(void)svc_notify("STOPPING=1");
			srv.quit = 1;	/* after this turn */
		}
	}
}

static void
on_turn(struct evloop *l, struct ev_timer *t)
{
	(void)l;
	(void)t;
	out_turn();
}

static void
on_retry(struct evloop *l, struct ev_timer *t)
{
	(void)l;
	(void)t;
	out_schedule_retries();
}

static void
on_scan(struct evloop *l, struct ev_timer *t)
{
	out_scan(clock_ms());
	region_watch(&srv.region);
	stats_write();
	stats_notify();
	ev_timer_start(l, t, SCAN_MS * 1000, on_scan, NULL);
}

static void
shutdown_server(void)
{
	admit_close_pending();
	peer_table_free(&srv.table);
	free(srv.dirty.ids);
	free(srv.doomed.ids);
	free(srv.uids);
	stats_write();
	region_flush(&srv.region);
	region_close(&srv.region);
	/* An adopted socket is the manager's: it keeps listening on it and
	 * starts us again on the next connection. */
	if (!srv.activated && unlink(srv.sock_path) == -1)
		log_warn("cannot remove %s: %s", srv.sock_path,
		    strerror(errno));
	if (srv.pidfile[0] != '\0' && unlink(srv.pidfile) == -1)
		log_warn("cannot remove %s: %s", srv.pidfile, strerror(errno));
	close(srv.listen_fd);
	close(srv.sigfd);
	if (srv.spare_fd != -1)
		close(srv.spare_fd);
	ev_free(&srv.loop);
	log_info("exiting: region flushed, socket %s", srv.activated ?
	    "left to the service manager" : "removed");
}

int
main(int argc, char **argv)
{
	setup(argc, argv);
	while (!srv.quit)
		if (ev_run_once(&srv.loop, -1) == -1)
			fatal("epoll_wait: %s", strerror(errno));
	shutdown_server();
	return 0;
}
