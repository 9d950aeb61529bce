/*
 * ivpeer.c - join an ivshmem server as a peer.
 *
 * The server's messages are trusted no further than the protocol allows:
 * IDs are range-checked, a descriptor must come exactly where one is due,
 * and a peer cannot send more vectors than the server announced.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/doorbell.h"
#include "lib/ivpeer.h"
#include "lib/log.h"

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One whole message within the deadline; 1, 0 on EOF, -1 on error. */
static int
recv_by(struct ivpeer *p, int64_t deadline, int64_t *v, int *fd)
{
	struct pollfd pfd = { .fd = p->sock, .events = POLLIN };
	int left, n;

	for (;;) {
		left = (int)(deadline - now_ms());
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, left);
		if (n == -1 && errno != EINTR)
			return -1;
		if (n > 0)
			return scm_recv(p->sock, p->proto, v, fd);
	}
}

static int
open_socket(const char *path, char *err, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return errbuf(err, len, "socket path %s is too long", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return errbuf(err, len, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return errbuf(err, len, "cannot connect to %s: %s; is "
		    "tm_ivshmem_server running there?", path, strerror(errno));
	}
	return fd;
}

/* A vector or a departure of another peer (or one of our own vectors). */
static int
take_msg(struct ivpeer *p, int64_t v, int fd, ivpeer_cb *cb, void *arg,
    char *err, size_t len)
{
	unsigned int i;
	int id;

	if (v < 0 || v >= IVPEER_IDS) {
		if (fd != -1)
			close(fd);
		return errbuf(err, len, "server sent peer ID %lld, outside "
		    "0..65535", (long long)v);
	}
	id = (int)v;
	if (fd == -1) {
		for (i = 0; i < p->nfds[id]; i++)
			close(p->vfd[(size_t)id * p->nvec + i]);
		p->nfds[id] = 0;
		if (cb != NULL && id != p->id)
			cb(arg, id, IVPEER_LEFT);
		return 0;
	}
	if (p->nfds[id] >= p->nvec) {
		close(fd);
		return errbuf(err, len, "server sent peer %d more than %u "
		    "vectors; does its -n match ours?", id, p->nvec);
	}
	p->vfd[(size_t)id * p->nvec + p->nfds[id]++] = fd;
	if (id == p->id)
		p->own[p->nfds[id] - 1] = fd;
	if (cb != NULL && id != p->id && p->nfds[id] == p->nvec)
		cb(arg, id, IVPEER_JOINED);
	return 0;
}

static int
handshake(struct ivpeer *p, int64_t deadline, char *err, size_t len)
{
	struct stat st;
	int64_t v;
	int fd, rc;

	if (p->proto == SCM_PROTO_V0) {
		rc = recv_by(p, deadline, &v, &fd);
		if (rc == 1 && fd != -1)
			close(fd);
		if (rc != 1 || v != SCM_PROTOCOL_VERSION)
			return errbuf(err, len, "server sent no version 0 "
			    "message; is it running with -l (pre-2.5)?");
	}
	rc = recv_by(p, deadline, &v, &fd);
	if (rc == 1 && fd != -1)
		close(fd);
	if (rc != 1 || v < 0 || v >= IVPEER_IDS)
		return errbuf(err, len, "server sent no valid ID (refused: "
		    "full or not allowed?)");
	p->id = (int)v;
	rc = recv_by(p, deadline, &v, &fd);
	if (rc != 1 || v != -1 || fd == -1) {
		if (rc == 1 && fd != -1)
			close(fd);
		return errbuf(err, len, "server sent no region descriptor");
	}
	p->region_fd = fd;
	if (fstat(fd, &st) == -1)
		return errbuf(err, len, "fstat region: %s", strerror(errno));
	p->size = (uint64_t)st.st_size;
	while (p->nfds[p->id] < p->nvec) {
		rc = recv_by(p, deadline, &v, &fd);
		if (rc != 1)
			return errbuf(err, len, "server %s before sending our "
			    "%u vectors; does -n match the server's?",
			    rc == 0 ? "hung up" : "went quiet", p->nvec);
		if (take_msg(p, v, fd, NULL, NULL, err, len) == -1)
			return -1;
	}
	return 0;
}

int
ivpeer_connect(struct ivpeer *p, const char *path, enum scm_proto proto,
    unsigned int nvec, int timeout_ms, char *err, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->sock = p->region_fd = -1;
	p->proto = proto;
	p->nvec = nvec;
	if (nvec == 0 || nvec > IVPEER_VECTORS_MAX)
		return errbuf(err, len, "%u vectors: give 1 to 64", nvec);
	p->nfds = calloc(IVPEER_IDS, 1);
	p->vfd = calloc((size_t)IVPEER_IDS * nvec, sizeof(int));
	if (p->nfds == NULL || p->vfd == NULL)
		return errbuf(err, len, "out of memory");
	if ((p->sock = open_socket(path, err, len)) == -1)
		return -1;
	return handshake(p, now_ms() + timeout_ms, err, len);
}

int
ivpeer_pump(struct ivpeer *p, ivpeer_cb *cb, void *arg, char *err,
    size_t len)
{
	size_t msg = scm_msg_size(p->proto);
	int64_t v;
	int avail, fd, rc;

	for (;;) {
		if (ioctl(p->sock, FIONREAD, &avail) == -1)
			return errbuf(err, len, "FIONREAD: %s", strerror(errno));
		if (avail < (int)msg) {
			struct pollfd pfd = { .fd = p->sock };

			/* Only a hang-up is worth a look without data. */
			if (poll(&pfd, 1, 0) == 1 &&
			    (pfd.revents & (POLLHUP | POLLERR)) && avail == 0)
				return errbuf(err, len, "server hung up");
			return 0;
		}
		rc = scm_recv(p->sock, p->proto, &v, &fd);
		if (rc != 1)
			return errbuf(err, len, "server %s", rc == 0 ?
			    "hung up" : strerror(errno));
		if (take_msg(p, v, fd, cb, arg, err, len) == -1)
			return -1;
	}
}

int
ivpeer_known(const struct ivpeer *p, int id)
{
	return id >= 0 && id < IVPEER_IDS && p->nfds[id] == p->nvec;
}

int
ivpeer_ring(const struct ivpeer *p, int id, unsigned int v)
{
	if (id < 0 || id >= IVPEER_IDS || v >= p->nfds[id])
		return -1;
	return doorbell_ring(p->vfd[(size_t)id * p->nvec + v]);
}

uint64_t
ivpeer_take(const struct ivpeer *p, unsigned int v)
{
	return v < p->nvec ? doorbell_take(p->own[v]) : 0;
}

void
ivpeer_close(struct ivpeer *p)
{
	size_t id;
	unsigned int i;

	for (id = 0; p->nfds != NULL && id < IVPEER_IDS; id++)
		for (i = 0; i < p->nfds[id]; i++)
			close(p->vfd[id * p->nvec + i]);
	free(p->nfds);
	free(p->vfd);
	p->nfds = NULL;
	p->vfd = NULL;
	if (p->region_fd != -1)
		close(p->region_fd);
	if (p->sock != -1)
		close(p->sock);
	p->sock = p->region_fd = -1;
}
