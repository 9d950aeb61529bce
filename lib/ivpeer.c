/*
 * ivpeer.c - join an ivshmem server as a peer.
 *
 * lib/greet checks every message against the protocol; this file keeps
 * what it hands over (our ID, the region, each peer's eventfds by ID and
 * vector) and tells the caller of joins and departures.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/doorbell.h"
#include "lib/ivpeer.h"
#include "lib/log.h"

/*
 * Wait until a whole message (or the end) is there, at most until the
 * deadline: scm_recv() would block on half a message, and a server that
 * stops inside one must not hold us past our timeout.
 */
static int
wait_msg(struct ivpeer *p, int64_t deadline)
{
	struct pollfd pfd = { .fd = p->sock, .events = POLLIN };
	int avail, left, n;

	for (;;) {
		left = (int)(deadline - clock_ms());
		if (left <= 0)
			return -1;
		n = poll(&pfd, 1, left);
		if (n == -1 && errno != EINTR)
			return -1;
		if (n <= 0)
			continue;
		if ((pfd.revents & ~POLLIN) != 0 ||
		    ioctl(p->sock, FIONREAD, &avail) == -1 ||
		    (size_t)avail >= scm_msg_size(p->proto))
			return 0;
		/* Half a message: the rest is on its way, or never comes. */
		poll(NULL, 0, 1);
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

/* Keep what the greeting reader handed over. */
static void
take_msg(struct ivpeer *p, const struct greet_msg *m, ivpeer_cb *cb,
    void *arg)
{
	/* A vector's or departure's ID is 0..65535: greet checked it. */
	size_t base = m->kind >= GREET_VECTOR ? (size_t)m->id * p->nvec : 0;
	unsigned int i;

	switch (m->kind) {
	case GREET_ID:
		p->id = m->id;
		break;
	case GREET_REGION:
		p->region_fd = m->fd;
		p->size = m->size;
		break;
	case GREET_VECTOR:
		p->vfd[base + m->vec] = m->fd;
		if (m->own)
			p->own[m->vec] = m->fd;
		else if (cb != NULL && m->vec + 1 == p->nvec)
			cb(arg, m->id, IVPEER_JOINED);
		break;
	case GREET_LEFT:
		for (i = 0; i < m->vec; i++)
			close(p->vfd[base + i]);
		if (cb != NULL)
			cb(arg, m->id, IVPEER_LEFT);
		break;
	default:
		break;
	}
}

static int
handshake(struct ivpeer *p, int timeout_ms, char *err, size_t len)
{
	int64_t deadline = clock_ms() + timeout_ms;
	struct greet_msg m;
	char what[80];
	int rc;

	while (!greet_synced(&p->greet)) {
		if (wait_msg(p, deadline) == -1)
			return errbuf(err, len, "server sent nothing for %d ms "
			    "while we waited for %s; check the server",
			    timeout_ms, greet_want(&p->greet, what,
			    sizeof(what)));
		if ((rc = greet_recv(&p->greet, p->sock, &m, err, len)) != 1)
			return -1;
		take_msg(p, &m, NULL, NULL);
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
	if (p->nfds == NULL || p->vfd == NULL) {
		ivpeer_close(p);
		return errbuf(err, len, "out of memory");
	}
	greet_init(&p->greet, proto, nvec, p->nfds, 0);
	/* A caller retries with backoff: a failure must leave nothing behind. */
	if ((p->sock = open_socket(path, err, len)) == -1 ||
	    handshake(p, timeout_ms, err, len) == -1) {
		ivpeer_close(p);
		return -1;
	}
	return 0;
}

int
ivpeer_pump(struct ivpeer *p, ivpeer_cb *cb, void *arg, char *err,
    size_t len)
{
	size_t msg = scm_msg_size(p->proto);
	struct greet_msg m;
	int avail, rc;

	for (;;) {
		if (ioctl(p->sock, FIONREAD, &avail) == -1)
			return errbuf(err, len, "FIONREAD: %s", strerror(errno));
		if (avail < (int)msg) {
			struct pollfd pfd = { .fd = p->sock };

			/* Only a hang-up is worth a look without data. */
			if (poll(&pfd, 1, 0) == 1 &&
			    (pfd.revents & (POLLHUP | POLLERR)) && avail == 0)
				return greet_eof(&p->greet, err, len);
			return 0;
		}
		if ((rc = greet_recv(&p->greet, p->sock, &m, err, len)) != 1)
			return -1;
		take_msg(p, &m, cb, arg);
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
