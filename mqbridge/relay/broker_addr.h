/*
 * broker_addr.h - where a broker is: the --broker URL, checked once at
 * start-up so that a typo is a one-line error and not a retry loop.
 *
 *   stomp://HOST:PORT   HOST a name, an IPv4 address, or an IPv6 address
 *                       in brackets ([::1]); PORT 1 to 65535
 *   exec:COMMAND        run COMMAND with /bin/sh -c and speak STOMP over
 *                       its stdin and stdout (a TLS tunnel, say)
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_BROKER_ADDR_H
#define TM_BROKER_ADDR_H

#include <sys/types.h>

#include <stddef.h>

#define BROKER_HOST_MAX	256
#define BROKER_URL_MAX	1024

struct broker_addr {
	char	url[BROKER_URL_MAX];	/* as given, for logs */
	char	host[BROKER_HOST_MAX];	/* brackets removed; "" for exec */
	char	port[8];
	const char *command;		/* exec: the COMMAND part, else NULL */
};

/* 0, or -1 with *why saying what is wrong with url. */
int	broker_addr_parse(const char *url, struct broker_addr *,
	    const char **why);
/*
 * Start connecting: a non-blocking TCP socket whose connect() may still
 * be under way, or one end of a socketpair whose other end is COMMAND's
 * stdin and stdout.  COMMAND leads its own process group, its pid in
 * *child (else -1), and its stderr comes to a non-blocking pipe in
 * *child_err when that is not NULL (else it shares ours).  Returns the
 * descriptor, or -1 with a reason in err.
 */
int	broker_addr_open(const struct broker_addr *, pid_t *child,
	    int *child_err, char *err, size_t errlen);

#endif /* TM_BROKER_ADDR_H */
