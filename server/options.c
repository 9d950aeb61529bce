/*
 * options.c - parse and check the server's command line.
 *
 * Every bad value is refused here, before anything is opened, with one line
 * that names the option, the problem and the fix.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/parse.h"
#include "server/listen.h"
#include "server/options.h"
#include "server/peer.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: tm_ivshmem_server [-dhlqrtvW] [-f FILE | -s NAME] [-m SIZE] [-n VECTORS]\n"
"           [-p SOCKET] [-F MODE] [-S MODE] [-o OWNER[:GROUP]] [-u USER]\n"
"           [-U UIDS] [-G GIDS] [-P PIDFILE] [-c MAXPEERS] [-C PERUSER]\n"
"           [-k SECONDS] [-i FILE] [-i FILE.prom]\n"
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
"  -F MODE     mode of a region this server creates (default 0600); an\n"
"              existing one others may write beyond MODE is refused\n"
"  -W          use an existing region whatever its owner, mode or links\n"
"Peers:\n"
"  -n VECTORS  MSI vectors per peer, 1 to 64 (default 1)\n"
"  -l          speak the pre-2.5 protocol (QEMU before 2.5); default: version 0\n"
"  -c MAXPEERS refuse peers beyond this many (1 to 65536, default 65536)\n"
"  -C PERUSER  refuse a user's connections beyond this many (1 to 65536,\n"
"              default 1024; root's are not counted)\n"
"  -k SECONDS  drop a peer that has not read its messages for this long\n"
"              (default 10)\n"
"  -U UIDS     accept only these users (comma-separated uids or names)\n"
"  -G GIDS     accept only these groups (comma-separated gids or names)\n"
"              Without -U/-G everyone the socket mode lets in may connect,\n"
"              and every peer may read, write and truncate the region.\n"
"Socket and process:\n"
"  -p SOCKET   UNIX socket path (default " LISTEN_DEFAULT_PATH ")\n"
"  -S MODE     socket mode (default 0660)\n"
"  -o OWNER[:GROUP]  socket owner, e.g. libvirt-qemu:kvm\n"
"  -u USER     drop privileges to USER once the region and socket are open\n"
"  -d          daemonize: detach, log to syslog, write a pidfile\n"
"  -P PIDFILE  pidfile (default SOCKET.pid with -d)\n"
"  -i FILE     status file: peers and counters, rewritten every second and\n"
"              on HUP or USR1 (atomically); a FILE ending in .prom gets\n"
"              Prometheus' text format (node_exporter's textfile\n"
"              collector); give -i twice for both\n"
"  -v          log more (repeat for more); -q: errors only\n"
"  -h          show this help\n"
"\n"
"Under systemd (or any manager speaking its protocol): a listening socket\n"
"passed in LISTEN_FDS is used instead of creating one (-p, if given, must\n"
"name it; -S and -o, if given, must match it; it is left in place at\n"
"exit); READY=1, STATUS= and STOPPING=1 go to NOTIFY_SOCKET, and\n"
"WATCHDOG=1 at half of WATCHDOG_USEC.\n"
"\n"
"Signals: TERM or INT flush the region and exit; HUP or USR1 log the peers\n"
"and rewrite the status files.\n");
}

/* "-m", for the shared bad-value message. */
static void
bad_value(int opt, const char *arg, const char *why, const char *fix)
{
	char name[3] = { '-', (char)opt, '\0' };

	parse_opt_fail(name, arg, why, fix);
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
	char name[3] = { '-', (char)opt, '\0' };

	return parse_opt_u64(name, arg, min, max);
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

/* -i: at most one file of each format. */
static void
parse_status_opt(const char *arg, struct options *o)
{
	enum status_fmt f = status_fmt_of(arg);

	if (*arg == '\0')
		fatal("-i needs a file name");
	if (o->status[f] != NULL)
		fatal("-i %s: a %s status file is given already (%s); give one "
		    "FILE and one FILE.prom at most", arg,
		    f == STATUS_PROM ? "Prometheus" : "text", o->status[f]);
	o->status[f] = arg;
}

void
options_parse(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->region.mode = 0600;
	o->sock_path = LISTEN_DEFAULT_PATH;
	o->sock_mode = LISTEN_DEFAULT_MODE;
	o->vectors = 1;
	o->max_peers = PEER_IDS;
	o->max_per_uid = PER_UID_DEFAULT;
	o->stall_ms = 10000;
	o->proto = SCM_PROTO_V0;
	while ((c = getopt(argc, argv,
	    ":C:c:dF:f:G:hi:k:lm:n:o:P:p:qrS:s:tU:u:vW")) != -1) {
		switch (c) {
		case 'C':
			o->max_per_uid = parse_num_opt(c, optarg, 1, PEER_IDS);
			break;
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
		case 'i':
			parse_status_opt(optarg, o);
			break;
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
			o->sock_given = 1;
			break;
		case 'q':
			o->verbosity = -1;
			break;
		case 'r':
			o->region.reserve = 1;
			break;
		case 'S':
			o->sock_mode = parse_mode_opt(c, optarg);
			o->mode_given = 1;
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
		case 'W':
			o->region.trust = 1;
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

void
options_owner(const char *spec, uid_t *uid, gid_t *gid)
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

int
options_allowed(const struct options *o, uid_t uid, gid_t gid)
{
	size_t i;

	if (o->nallow_uid == 0 && o->nallow_gid == 0)
		return 1;
	for (i = 0; i < o->nallow_uid; i++)
		if (o->allow_uid[i] == uid)
			return 1;
	for (i = 0; i < o->nallow_gid; i++)
		if (o->allow_gid[i] == gid)
			return 1;
	return 0;
}
