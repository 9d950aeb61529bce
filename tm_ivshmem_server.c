/*
 * tm_ivshmem_server.c - the ivshmem server: options, process set-up and
 * the event loop that speaks QEMU's ivshmem protocol to every peer.
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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "parse.h"
#include "peer.h"
#include "region.h"
#include "send_scm.h"

#define ALLOW_MAX	64
#define ACCEPT_BURST	64	/* connections taken per wakeup */

struct options {
	struct region_opts region;
	const char	*sock_path;
	const char	*pidfile;
	const char	*owner;		/* -o USER[:GROUP] */
	const char	*run_as;	/* -u USER */
	unsigned int	 sock_mode;
	unsigned int	 vectors;
	size_t		 max_peers;
	int64_t		 stall_ms;
	int		 daemonize;
	int		 verbosity;
	enum scm_proto	 proto;
	uid_t		 allow_uid[ALLOW_MAX];
	gid_t		 allow_gid[ALLOW_MAX];
	size_t		 nallow_uid, nallow_gid;
};

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
	int		 quit;
};

static struct server srv;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: tm_ivshmem_server [-dhlqrtv] [-f FILE | -s NAME] [-m SIZE] [-n VECTORS]\n"
"           [-p SOCKET] [-F MODE] [-S MODE] [-o OWNER[:GROUP]] [-u USER]\n"
"           [-U UIDS] [-G GIDS] [-P PIDFILE] [-c MAXPEERS] [-k SECONDS]\n"
"\n"
"Serve a shared memory region to QEMU ivshmem-doorbell peers.\n"
"\n"
"Region (one of -f and -s; neither means shm object \"ivshmem\"):\n"
"  -f FILE     regular file; kept across exits, crashes and reboots; created\n"
"              if absent, with its blocks reserved\n"
"  -s NAME     POSIX shm object (/dev/shm/NAME), kept after exit\n"
"  -m SIZE     size with K, M, G or T suffix; a bare number means MiB; must be\n"
"              a power of two (default: the existing size, else 4M)\n"
"  -t          resize an existing region to -m (growing keeps every byte,\n"
"              shrinking discards the tail and says so)\n"
"  -r          reserve the blocks of an existing sparse region (fallocate)\n"
"  -F MODE     mode of a region this server creates (default 0600)\n"
"Peers:\n"
"  -n VECTORS  MSI vectors per peer, 1 to 64 (default 1)\n"
"  -l          speak the pre-2.5 protocol (QEMU before 2.5); default: version 0\n"
"  -c MAXPEERS refuse peers beyond this many (1 to 65536, default 65536)\n"
"  -k SECONDS  drop a peer that has not read its messages for this long\n"
"              (default 10)\n"
"  -U UIDS     accept only these users (comma-separated uids or names)\n"
"  -G GIDS     accept only these groups (comma-separated gids or names)\n"
"Socket and process:\n"
"  -p SOCKET   UNIX socket path (default " LISTEN_DEFAULT_PATH ")\n"
"  -S MODE     socket mode (default 0660)\n"
"  -o OWNER[:GROUP]  socket owner, e.g. libvirt-qemu:kvm\n"
"  -u USER     drop privileges to USER once the region and socket are open\n"
"  -d          daemonize: detach, log to syslog, write a pidfile\n"
"  -P PIDFILE  pidfile (default SOCKET.pid with -d)\n"
"  -v          log more (repeat for more); -q: errors only\n"
"  -h          show this help\n"
"\n"
"Signals: TERM or INT flush the region and exit; HUP or USR1 log the peers.\n");
}

static void
bad_value(int opt, const char *arg, const char *why, const char *fix)
{
	fatal("-%c %s: %s; %s", opt, arg, why, fix);
}

static uid_t
lookup_uid(const char *name)
{
	struct passwd *pw;
	const char *why;
	uint64_t v;

	if (parse_u64(name, 0, UINT32_MAX - 1, &v, &why) == 0)
		return (uid_t)v;
	if ((pw = getpwnam(name)) == NULL)
		fatal("unknown user %s; give a user name or a numeric uid",
		    name);
	return pw->pw_uid;
}

static gid_t
lookup_gid(const char *name)
{
	struct group *gr;
	const char *why;
	uint64_t v;

	if (parse_u64(name, 0, UINT32_MAX - 1, &v, &why) == 0)
		return (gid_t)v;
	if ((gr = getgrnam(name)) == NULL)
		fatal("unknown group %s; give a group name or a numeric gid",
		    name);
	return gr->gr_gid;
}

static void
parse_allow(char *list, int is_group, struct options *o)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(list, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((is_group ? o->nallow_gid : o->nallow_uid) == ALLOW_MAX)
			fatal("-%c: more than %d entries; use a group instead",
			    is_group ? 'G' : 'U', ALLOW_MAX);
		if (is_group)
			o->allow_gid[o->nallow_gid++] = lookup_gid(tok);
		else
			o->allow_uid[o->nallow_uid++] = lookup_uid(tok);
	}
}

static void
parse_size_opt(const char *arg, struct options *o)
{
	const char *why;
	uint64_t v;

	if (parse_size(arg, PARSE_BARE_MIB, &v, &why) == -1)
		bad_value('m', arg, why, "give a size such as 64M, 1G or 16T");
	if (v > REGION_MAX_SIZE)
		bad_value('m', arg, "larger than 4 EiB", "choose a smaller size");
	if (!is_pow2(v))
		fatal("-m %s: %" PRIu64 " bytes is not a power of two, and QEMU "
		    "aborts on such a BAR; choose a power of two such as 4M "
		    "or 1G", arg, v);
	o->region.size = v;
}

static uint64_t
parse_num_opt(int opt, const char *arg, uint64_t min, uint64_t max)
{
	const char *why;
	char fix[64];
	uint64_t v;

	if (parse_u64(arg, min, max, &v, &why) == -1) {
		snprintf(fix, sizeof(fix), "give a number from %" PRIu64
		    " to %" PRIu64, min, max);
		bad_value(opt, arg, why, fix);
	}
	return v;
}

static unsigned int
parse_mode_opt(int opt, const char *arg)
{
	const char *why;
	unsigned int m;

	if (parse_mode(arg, &m, &why) == -1)
		bad_value(opt, arg, why, "give an octal mode such as 0660");
	return m;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->region.mode = 0600;
	o->sock_path = LISTEN_DEFAULT_PATH;
	o->sock_mode = LISTEN_DEFAULT_MODE;
	o->vectors = 1;
	o->max_peers = PEER_IDS;
	o->stall_ms = 10000;
	o->proto = SCM_PROTO_V0;
	while ((c = getopt(argc, argv,
	    ":c:dF:f:G:hk:lm:n:o:P:p:qrS:s:tU:u:v")) != -1) {
		switch (c) {
		case 'c':
			o->max_peers = parse_num_opt(c, optarg, 1, PEER_IDS);
			break;
		case 'd':
			o->daemonize = 1;
			break;
		case 'F':
			o->region.mode = parse_mode_opt(c, optarg);
			break;
		case 'f':
			o->region.file = optarg;
			break;
		case 'G':
			parse_allow(optarg, 1, o);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'k':
			o->stall_ms = 1000 *
			    (int64_t)parse_num_opt(c, optarg, 1, 86400);
			break;
		case 'l':
			o->proto = SCM_PROTO_LEGACY;
			break;
		case 'm':
			parse_size_opt(optarg, o);
			break;
		case 'n':
			o->vectors = parse_num_opt(c, optarg, 1,
			    PEER_VECTORS_MAX);
			break;
		case 'o':
			o->owner = optarg;
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 'p':
			o->sock_path = optarg;
			break;
		case 'q':
			o->verbosity = -1;
			break;
		case 'r':
			o->region.reserve = 1;
			break;
		case 'S':
			o->sock_mode = parse_mode_opt(c, optarg);
			break;
		case 's':
			o->region.shm = optarg;
			break;
		case 't':
			o->region.resize = 1;
			break;
		case 'U':
			parse_allow(optarg, 0, o);
			break;
		case 'u':
			o->run_as = optarg;
			break;
		case 'v':
			o->verbosity++;
			break;
		case ':':
			fatal("-%c needs a value; see -h", optopt);
		default:
			fatal("unknown option -%c; see -h for the options",
			    optopt);
		}
	}
	if (optind < argc)
		fatal("unexpected argument %s; options only, see -h",
		    argv[optind]);
	if (o->region.file != NULL && o->region.shm != NULL)
		fatal("-f and -s both given; choose a file (-f) or a shm "
		    "object (-s)");
	if (o->region.resize && o->region.size == 0)
		fatal("-t needs -m SIZE: the size to resize the region to");
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Absolute, so that cleanup after a daemon's chdir("/") still works. */
static void
absolute_path(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(out, len, "%s", path);
		return;
	}
	if ((size_t)snprintf(out, len, "%s/%s", cwd, path) >= len)
		fatal("path %s is too long once made absolute", path);
}

/* 10,000 peers with 64 vectors need far more than the usual 1024. */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = 1048576;
	FILE *f;
	unsigned long nr_open;

	if ((f = fopen("/proc/sys/fs/nr_open", "r")) != NULL) {
		if (fscanf(f, "%lu", &nr_open) == 1)
			want = nr_open;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_max < want) {
		struct rlimit more = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void
owner_of(const char *spec, uid_t *uid, gid_t *gid)
{
	char buf[256], *colon;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (spec == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s", spec);
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon++ = '\0';
		if (*colon != '\0')
			*gid = lookup_gid(colon);
	}
	if (buf[0] != '\0')
		*uid = lookup_uid(buf);
}

static void
write_pidfile(uid_t uid, gid_t gid)
{
	FILE *f;

	if (srv.pidfile[0] == '\0')
		return;
	f = fopen(srv.pidfile, "w");
	if (f == NULL)
		fatal("cannot write the pidfile %s: %s; choose another -P",
		    srv.pidfile, strerror(errno));
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) == EOF)
		fatal("cannot write the pidfile %s", srv.pidfile);
	if (uid != (uid_t)-1 && chown(srv.pidfile, uid, gid) == -1)
		log_warn("cannot chown %s: %s", srv.pidfile, strerror(errno));
}

static void
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatal("-u %s: unknown user; give an existing user name", user);
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("cannot become %s: %s; -u needs root", user,
		    strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) != -1)
		fatal("could regain root after dropping to %s", user);
	log_info("running as %s (uid %u)", user, (unsigned)pw->pw_uid);
}

/*
 * Detach, but let the parent exit only once the child is ready, so that a
 * script running "-d" sees errors in the exit status, not in syslog.
 * Returns the pipe end the child closes when set-up is complete.
 */
static int
daemonize(void)
{
	int ready[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) == -1)
		fatal("pipe: %s", strerror(errno));
	switch (fork()) {
	case -1:
		fatal("fork: %s", strerror(errno));
	case 0:
		break;
	default:
		close(ready[1]);
		_exit(read(ready[0], &c, 1) == 1 ? 0 : 1);
	}
	close(ready[0]);
	if (setsid() == -1)
		fatal("setsid: %s", strerror(errno));
	if (chdir("/") == -1)
		fatal("chdir /: %s", strerror(errno));
	return ready[1];
}

/* The daemon is ready: release the parent and let go of the terminal. */
static void
detach_stdio(int ready_fd)
{
	int fd;

	if (ready_fd == -1)
		return;
	if (write(ready_fd, "", 1) != 1)
		log_warn("cannot signal readiness: %s", strerror(errno));
	close(ready_fd);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

static void
epoll_set(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(srv.epfd, op, fd, &ev) == -1 && op != EPOLL_CTL_DEL)
		fatal("epoll_ctl: %s", strerror(errno));
}

static int
signals_fd(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask: %s", strerror(errno));
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		fatal("signalfd: %s", strerror(errno));
	return fd;
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
	parse_options(argc, argv, o);
	log_init(argv[0], o->verbosity, 0);
	raise_nofile();
	srv.sigfd = signals_fd();
	region_open(&srv.region, &o->region);
	absolute_path(o->sock_path, srv.sock_path, sizeof(srv.sock_path));
	if (o->pidfile != NULL || o->daemonize)
		absolute_path(o->pidfile != NULL ? o->pidfile : srv.sock_path,
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
	owner_of(o->owner, &uid, &gid);
	if (o->owner == NULL) {
		uid = run_uid;
		gid = run_gid;
	}
	srv.listen_fd = listen_unix(srv.sock_path, o->sock_mode, uid, gid);
	if (o->daemonize)
		ready_fd = daemonize();
	write_pidfile(run_uid, run_gid);
	drop_privileges(o->run_as);
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
		detach_stdio(ready_fd);
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
		p->why = why;
		idlist_push(&srv.doomed, p->id);
	}
}

/* Send what can go now; arm EPOLLOUT for the rest. */
static void
flush_peer(struct peer *p)
{
	int rc;

	if (p->doomed)
		return;
	rc = peer_flush(p, srv.opt.proto);
	if (rc == -1) {
		doom(p, errno == EPIPE || errno == ECONNRESET ?
		    "hung up" : "send error");
		return;
	}
	if (rc == 0 && p->stuck_ms == 0)
		p->stuck_ms = now_ms();
	if (rc == 1)
		p->stuck_ms = 0;
	if ((rc == 0) != p->want_out) {
		p->want_out = rc == 0;
		epoll_set(EPOLL_CTL_MOD, p->sock,
		    EPOLLIN | EPOLLRDHUP | (p->want_out ? EPOLLOUT : 0), p);
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
	for (id = 0; id < srv.table.high; id++) {
		other = srv.table.by_id[id];
		if (other == NULL || other == p || other->doomed)
			continue;
		send_vectors(p, other);
		send_vectors(other, p);
	}
	send_vectors(p, p);
}

static int
allowed(uid_t uid, gid_t gid)
{
	size_t i;

	if (srv.opt.nallow_uid == 0 && srv.opt.nallow_gid == 0)
		return 1;
	for (i = 0; i < srv.opt.nallow_uid; i++)
		if (srv.opt.allow_uid[i] == uid)
			return 1;
	for (i = 0; i < srv.opt.nallow_gid; i++)
		if (srv.opt.allow_gid[i] == gid)
			return 1;
	return 0;
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
	int id;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		log_warn("SO_PEERCRED: %s", strerror(errno));
	if (!allowed(cr.uid, cr.gid)) {
		refuse(fd, &cr, "not in the allow-list (-U, -G)");
		return;
	}
	ident = peer_ident(cr.pid, cr.uid);
	if ((id = peer_pick_id(&srv.table, ident)) == -1) {
		refuse(fd, &cr, "server full (-c, or all 65536 IDs in use)");
		return;
	}
	if ((p = peer_new(&srv.table, id, fd, srv.opt.vectors)) == NULL) {
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

static void
scan_stalled(void)
{
	int64_t now = now_ms();
	struct peer *p;
	size_t i;

	if (now - srv.last_stall_scan < 1000)
		return;
	srv.last_stall_scan = now;
	for (i = 0; i < srv.table.nlive; i++) {
		p = srv.table.live[i];
		if (p->stuck_ms != 0 && now - p->stuck_ms >= srv.opt.stall_ms)
			doom(p, "not reading its messages");
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
	    n == 0 ? "hung up" : "receive error");
}

static void
run(void)
{
	struct epoll_event ev[256];
	int i, n, timeout;

	while (!srv.quit) {
		timeout = srv.table.nlive > 0 ? 1000 : -1;
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
