/*
 * relay_opts.c - parse, check and pass on the broker options.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/parse.h"
#include "mqbridge/relay/relay_opts.h"
#include "mqbridge/slot/uplink.h"

const char relay_usage[] =
"Broker relay (none without --broker: local switching only):\n"
"  --broker URL      stomp://HOST:PORT (IPv6 in brackets) or exec:COMMAND\n"
"                    (STOMP over COMMAND's stdin and stdout, e.g. a TLS\n"
"                    tunnel); repeat for failover, tried in order; on\n"
"                    another, the first is knocked at every 10 s and\n"
"                    taken back once it answers\n"
"  --prefix NAME     destination prefix: /queue/NAME.MAC, /topic/NAME.\n"
"                    broadcast; letters, digits, '.', '-', '_' (mqnic)\n"
"  --credentials FILE  lines login=NAME and passcode=SECRET for the\n"
"                    broker; the file must not be readable by group or\n"
"                    others (the secret never reaches argv or the log)\n"
"  --vhost NAME      the STOMP host header (each broker's host name)\n"
"  --persistent      persistent:true SENDs, each receipted before its\n"
"                    frame leaves the slot: nothing is lost if the bridge,\n"
"                    the broker or the network dies (default: fast mode,\n"
"                    where a bridge crash may lose frames in flight)\n"
"  --window N        un-receipted SENDs in flight, persistent mode,\n"
"                    1-512 (64)\n"
"  --heartbeat MS    STOMP heart-beats both ways, 0 off, 0-3600000 (10000)\n"
"  --aggregate N     pack up to N frames for one destination into one\n"
"                    message, 1-64 (1: off)\n"
"  --linger US       wait up to US microseconds for frames to pack,\n"
"                    0-100000 (0)\n"
"  --prefetch N      un-ACKed messages the broker may push per queue,\n"
"                    1-1000 (64)\n"
"  --relay-user USER the relay process runs as USER (nobody, when root)\n";

void
relay_opts_init(struct relay_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->prefix, sizeof(o->prefix), "mqnic");
	o->window = 64;
	o->heartbeat_ms = 10000;
	o->aggregate = 1;
	o->prefetch = 64;
}

static void
take_broker(struct relay_opts *o, const char *arg)
{
	const char *why;

	if (o->nbroker == RELAY_BROKERS_MAX)
		fatal("more than %d --broker; a network of brokers is the "
		    "broker's job, give a few entry points", RELAY_BROKERS_MAX);
	if (broker_addr_parse(arg, &o->broker[o->nbroker], &why) == -1)
		fatal("--broker %s: %s", arg, why);
	o->nbroker++;
}

static void
take_prefix(struct relay_opts *o, const char *arg)
{
	const char *p;

	if (*arg == '\0' || strlen(arg) >= sizeof(o->prefix))
		fatal("--prefix '%s': give 1 to %zu characters", arg,
		    sizeof(o->prefix) - 1);
	for (p = arg; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(".-_", *p) == NULL)
			fatal("--prefix %s: '%c' is not allowed; use letters, "
			    "digits, '.', '-' and '_'", arg, *p);
	snprintf(o->prefix, sizeof(o->prefix), "%s", arg);
}

static void
take_name(const char **to, const char *opt, const char *arg)
{
	if (*arg == '\0' || strpbrk(arg, "\r\n") != NULL)
		fatal("%s: give a name without line breaks", opt);
	*to = arg;
}

int
relay_opts_take(struct relay_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case RELAY_OPT_BROKER:
		take_broker(o, arg);
		break;
	case RELAY_OPT_PREFIX:
		take_prefix(o, arg);
		break;
	case RELAY_OPT_CREDENTIALS:
		take_name(&o->credentials, "--credentials", arg);
		break;
	case RELAY_OPT_VHOST:
		take_name(&o->vhost, "--vhost", arg);
		break;
	case RELAY_OPT_PERSISTENT:
		o->persistent = 1;
		break;
	case RELAY_OPT_WINDOW:
		o->window = (unsigned int)parse_opt_u64("--window", arg, 1,
		    UPLINK_WINDOW_MAX);
		break;
	case RELAY_OPT_HEARTBEAT:
		o->heartbeat_ms = (unsigned int)parse_opt_u64("--heartbeat",
		    arg, 0, 3600000);
		break;
	case RELAY_OPT_AGGREGATE:
		o->aggregate = (unsigned int)parse_opt_u64("--aggregate", arg,
		    1, 64);
		break;
	case RELAY_OPT_LINGER:
		o->linger_us = (unsigned int)parse_opt_u64("--linger", arg, 0,
		    100000);
		break;
	case RELAY_OPT_PREFETCH:
		o->prefetch = (unsigned int)parse_opt_u64("--prefetch", arg, 1,
		    1000);
		break;
	case RELAY_OPT_USER:
		take_name(&o->user, "--relay-user", arg);
		break;
	default:
		return 0;
	}
	return 1;
}

const char *
relay_opts_user(const struct relay_opts *o)
{
	if (o->user != NULL)
		return o->user;
	return geteuid() == 0 ? "nobody" : NULL;
}

int
relay_credentials_open(const struct relay_opts *o)
{
	struct stat st;
	int fd;

	if (o->credentials == NULL)
		return -1;
	fd = open(o->credentials, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		fatal("--credentials %s: %s", o->credentials, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		fatal("--credentials %s: not a regular file", o->credentials);
	if (st.st_mode & 077)
		fatal("--credentials %s: readable by group or others (mode "
		    "%04o); chmod 600 %s", o->credentials,
		    (unsigned int)st.st_mode & 07777, o->credentials);
	return fd;
}

/* One "key=value" line into the right buffer. */
static int
credentials_line(char *line, char *login, char *passcode, char *err,
    size_t len)
{
	char *eq = strchr(line, '=');
	char *to;

	if (*line == '\0' || *line == '#')
		return 0;
	if (eq == NULL)
		return errbuf(err, len, "--credentials: a line without '='; "
		    "give login=NAME and passcode=SECRET");
	*eq++ = '\0';
	if (strcmp(line, "login") == 0)
		to = login;
	else if (strcmp(line, "passcode") == 0)
		to = passcode;
	else
		return errbuf(err, len, "--credentials: unknown key '%.32s'; "
		    "only login and passcode", line);
	if (strlen(eq) >= RELAY_SECRET_MAX)
		return errbuf(err, len, "--credentials: %s is too long", line);
	memcpy(to, eq, strlen(eq) + 1);
	return 0;
}

int
relay_credentials_read(int fd, char *login, char *passcode, char *err,
    size_t len)
{
	char buf[2 * RELAY_SECRET_MAX + 64], *line, *next;
	ssize_t n;

	*login = *passcode = '\0';
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n == -1)
		return errbuf(err, len, "--credentials: %s", strerror(errno));
	buf[n] = '\0';
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (credentials_line(line, login, passcode, err, len) == -1) {
			explicit_bzero(buf, sizeof(buf));
			return -1;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	if (*login == '\0')
		return errbuf(err, len, "--credentials: no login= line");
	return 0;
}

/* Append one argument; -1 when argv or buf is full. */
static int
push(char **argv, int *n, int max, char **buf, size_t *left, const char *s)
{
	size_t l = strlen(s) + 1;

	if (*n >= max - 1 || l > *left)
		return -1;
	memcpy(*buf, s, l);
	argv[(*n)++] = *buf;
	*buf += l;
	*left -= l;
	return 0;
}

int
relay_opts_argv(const struct relay_opts *o, char **argv, int max, char *buf,
    size_t len)
{
	char num[32];
	unsigned int i;
	int n = 0, bad = 0;

#define PUSH(s)	(bad |= push(argv, &n, max, &buf, &len, (s)))
#define PUSHN(opt, v) (snprintf(num, sizeof(num), "%u", (v)), \
	PUSH(opt), PUSH(num))
	for (i = 0; i < o->nbroker; i++) {
		PUSH("--broker");
		PUSH(o->broker[i].url);
	}
	PUSH("--prefix");
	PUSH(o->prefix);
	if (o->vhost != NULL) {
		PUSH("--vhost");
		PUSH(o->vhost);
	}
	if (o->persistent)
		PUSH("--persistent");
	PUSHN("--window", o->window);
	PUSHN("--heartbeat", o->heartbeat_ms);
	PUSHN("--aggregate", o->aggregate);
	PUSHN("--linger", o->linger_us);
	PUSHN("--prefetch", o->prefetch);
#undef PUSH
#undef PUSHN
	if (bad)
		return -1;
	argv[n] = NULL;
	return n;
}
