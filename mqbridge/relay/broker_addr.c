/*
 * broker_addr.c - parse a --broker URL and open its transport.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/parse.h"
#include "mqbridge/relay/broker_addr.h"

static int
parse_port(const char *s, struct broker_addr *b, const char **why)
{
	uint64_t v;

	if (parse_u64(s, 1, 65535, &v, why) == -1)
		return -1;
	snprintf(b->port, sizeof(b->port), "%u", (unsigned int)v);
	return 0;
}

/* HOST:PORT, or [V6]:PORT. */
static int
parse_hostport(const char *s, struct broker_addr *b, const char **why)
{
	const char *colon, *host = s;
	size_t hlen;

	if (*s == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':') {
			*why = "an IPv6 address goes in brackets: [::1]:61613";
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(colon - host);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*why = "no port: give stomp://HOST:PORT";
			return -1;
		}
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			*why = "an IPv6 address goes in brackets: [::1]:61613";
			return -1;
		}
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(b->host)) {
		*why = "no host name, or one too long";
		return -1;
	}
	memcpy(b->host, host, hlen);
	b->host[hlen] = '\0';
	if (strpbrk(b->host, "/@ \t") != NULL) {
		*why = "a host name has no '/', '@' or spaces";
		return -1;
	}
	return parse_port(colon + 1, b, why);
}

int
broker_addr_parse(const char *url, struct broker_addr *b, const char **why)
{
	memset(b, 0, sizeof(*b));
	if (strlen(url) >= sizeof(b->url)) {
		*why = "too long";
		return -1;
	}
	memcpy(b->url, url, strlen(url) + 1);
	if (strncmp(url, "stomp://", 8) == 0)
		return parse_hostport(url + 8, b, why);
	if (strncmp(url, "exec:", 5) == 0) {
		if (url[5] == '\0') {
			*why = "exec: needs a command, e.g. exec:openssl s_client "
			    "-quiet -connect HOST:PORT";
			return -1;
		}
		b->command = b->url + 5;
		return 0;
	}
	*why = "unknown scheme: give stomp://HOST:PORT or exec:COMMAND";
	return -1;
}

static int
open_tcp(const struct broker_addr *b, char *err, size_t len)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, saved = 0, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(b->host, b->port, &hints, &res)) != 0)
		return errbuf(err, len, "%s: cannot resolve %s: %s", b->url,
		    b->host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		/* One frame is one small write: Nagle would hold it back
		 * for the broker's delayed ACK, tens of milliseconds. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return errbuf(err, len, "%s: %s", b->url, strerror(saved));
	return fd;
}

/* In the child: stdin and stdout on the socket, stderr on the pipe. */
static void
run_command(const struct broker_addr *b, int sock, int errw)
{
	sigset_t none;

	(void)setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(sock, 0) == -1 || dup2(sock, 1) == -1 ||
	    (errw != -1 && dup2(errw, 2) == -1))
		_exit(127);
	execl("/bin/sh", "sh", "-c", b->command, (char *)NULL);
	_exit(127);
}

/* COMMAND with its stdin and stdout on one end of a socketpair. */
static int
open_exec(const struct broker_addr *b, pid_t *child, int *child_err,
    char *err, size_t len)
{
	int sv[2], ep[2] = { -1, -1 };
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return errbuf(err, len, "socketpair: %s", strerror(errno));
	if (child_err != NULL && pipe2(ep, O_CLOEXEC | O_NONBLOCK) == -1) {
		close(sv[0]);
		close(sv[1]);
		return errbuf(err, len, "pipe: %s", strerror(errno));
	}
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		if (ep[0] != -1) {
			close(ep[0]);
			close(ep[1]);
		}
		return errbuf(err, len, "fork: %s", strerror(errno));
	}
	if (pid == 0)
		run_command(b, sv[1], ep[1]);
	(void)setpgid(pid, pid);	/* before either side may signal it */
	close(sv[1]);
	if (ep[1] != -1)
		close(ep[1]);
	if (child_err != NULL)
		*child_err = ep[0];
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		close(sv[0]);
		kill(-pid, SIGKILL);
		return errbuf(err, len, "fcntl: %s", strerror(errno));
	}
	*child = pid;
	return sv[0];
}

int
broker_addr_open(const struct broker_addr *b, pid_t *child, int *child_err,
    char *err, size_t len)
{
	*child = -1;
	if (child_err != NULL)
		*child_err = -1;
	if (b->command != NULL)
		return open_exec(b, child, child_err, err, len);
	return open_tcp(b, err, len);
}
