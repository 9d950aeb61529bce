/*
 * relay_opts.h - the broker options that mqbridge takes and passes
 * through to mqrelay: parsed and checked once, by the same code in both
 * programs, so that a bad value is refused in one line before anything
 * starts, and the relay runs with exactly what the bridge accepted.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_RELAY_OPTS_H
#define TM_RELAY_OPTS_H

#include <getopt.h>
#include <stddef.h>

#include "mqbridge/relay/broker_addr.h"

#define RELAY_BROKERS_MAX	8
#define RELAY_PREFIX_MAX	64
#define RELAY_SECRET_MAX	256

/* getopt_long() codes, clear of any program's own. */
enum {
	RELAY_OPT_BROKER = 0x200, RELAY_OPT_PREFIX, RELAY_OPT_CREDENTIALS,
	RELAY_OPT_VHOST, RELAY_OPT_PERSISTENT, RELAY_OPT_WINDOW,
	RELAY_OPT_HEARTBEAT, RELAY_OPT_AGGREGATE, RELAY_OPT_LINGER,
	RELAY_OPT_PREFETCH, RELAY_OPT_USER
};

/* Entries for a program's struct option table. */
#define RELAY_LONG_OPTIONS \
	{ "broker", required_argument, NULL, RELAY_OPT_BROKER }, \
	{ "prefix", required_argument, NULL, RELAY_OPT_PREFIX }, \
	{ "credentials", required_argument, NULL, RELAY_OPT_CREDENTIALS }, \
	{ "vhost", required_argument, NULL, RELAY_OPT_VHOST }, \
	{ "persistent", no_argument, NULL, RELAY_OPT_PERSISTENT }, \
	{ "window", required_argument, NULL, RELAY_OPT_WINDOW }, \
	{ "heartbeat", required_argument, NULL, RELAY_OPT_HEARTBEAT }, \
	{ "aggregate", required_argument, NULL, RELAY_OPT_AGGREGATE }, \
	{ "linger", required_argument, NULL, RELAY_OPT_LINGER }, \
	{ "prefetch", required_argument, NULL, RELAY_OPT_PREFETCH }, \
	{ "relay-user", required_argument, NULL, RELAY_OPT_USER }

struct relay_opts {
	struct broker_addr broker[RELAY_BROKERS_MAX];
	unsigned int	 nbroker;
	char		 prefix[RELAY_PREFIX_MAX];
	const char	*credentials;	/* path, or NULL */
	const char	*vhost;		/* NULL: each broker's host name */
	int		 persistent;
	unsigned int	 window;	/* un-receipted SENDs (persistent) */
	unsigned int	 heartbeat_ms;	/* 0: off */
	unsigned int	 aggregate;	/* frames per message; 1: off */
	unsigned int	 linger_us;	/* wait for more frames to pack */
	unsigned int	 prefetch;	/* un-ACKed messages per queue */
	const char	*user;		/* the relay runs as; NULL: default */
};

/* The lines of -h that describe these options. */
extern const char relay_usage[];

void	relay_opts_init(struct relay_opts *);
/* Take option ch if it is one of ours: 1, else 0.  Exits with a one-line
 * reason on a bad value. */
int	relay_opts_take(struct relay_opts *, int ch, const char *arg);
/* The user the relay drops to: --relay-user, else "nobody" as root. */
const char *relay_opts_user(const struct relay_opts *);
/*
 * Open the --credentials file, refusing (one line, exit) one that others
 * may read or that is not a regular file; -1 when none was given.  The
 * descriptor goes to the relay, which reads it after dropping privileges.
 */
int	relay_credentials_open(const struct relay_opts *);
/* "login=..." and "passcode=..." lines from fd; 0, or -1 with err. */
int	relay_credentials_read(int fd, char *login, char *passcode,
	    char *err, size_t errlen);
/*
 * The options as arguments for mqrelay, into argv[0..max-1]; the strings
 * live in buf (len bytes).  Returns the count, or -1 if they do not fit.
 */
int	relay_opts_argv(const struct relay_opts *, char **argv, int max,
	    char *buf, size_t len);

#endif /* TM_RELAY_OPTS_H */
