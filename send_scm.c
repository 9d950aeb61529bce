/*
 * send_scm.c - encode, send and receive ivshmem protocol messages.
 *
 * See send_scm.h for the two encodings.  Descriptors travel as SCM_RIGHTS
 * on the first byte of a message; the kernel then delivers them with the
 * first recvmsg() that returns that byte.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "send_scm.h"

/* Blocking callers may hand us a non-blocking socket: wait for it. */
static int
scm_wait(int sock, short events)
{
	struct pollfd pfd = { .fd = sock, .events = events };
	int n;

	do {
		n = poll(&pfd, 1, -1);
	} while (n == -1 && errno == EINTR);
	return n == -1 ? -1 : 0;
}

#define scm_wait_writable(sock)	scm_wait((sock), POLLOUT)
#define scm_wait_readable(sock)	scm_wait((sock), POLLIN)

size_t
scm_msg_size(enum scm_proto proto)
{
	return proto == SCM_PROTO_LEGACY ? sizeof(long) : 8;
}

size_t
scm_encode(enum scm_proto proto, int64_t value, unsigned char *buf)
{
	uint64_t u = (uint64_t)value;
	long l;
	size_t i;

	if (proto == SCM_PROTO_LEGACY) {
		/* The old servers wrote a host long, byte for byte. */
		l = (long)value;
		memcpy(buf, &l, sizeof(l));
		return sizeof(l);
	}
	for (i = 0; i < 8; i++)
		buf[i] = (unsigned char)(u >> (8 * i));
	return 8;
}

int64_t
scm_decode(enum scm_proto proto, const unsigned char *buf)
{
	uint64_t u = 0;
	long l;
	size_t i;

	if (proto == SCM_PROTO_LEGACY) {
		memcpy(&l, buf, sizeof(l));
		return (int64_t)l;
	}
	for (i = 0; i < 8; i++)
		u |= (uint64_t)buf[i] << (8 * i);
	return (int64_t)u;
}

ssize_t
scm_send_part(int sock, enum scm_proto proto, int64_t value, int fd,
    size_t off)
{
	unsigned char buf[SCM_MSG_MAX];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *cmsg;
	size_t size;
	ssize_t n;

	size = scm_encode(proto, value, buf);
	if (off >= size) {
		errno = EINVAL;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf + off;
	iov.iov_len = size - off;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0 && off == 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n;
}

/* One msghdr of a batch, with its own control buffer. */
struct scm_slot {
	unsigned char	 buf[SCM_MSG_MAX];
	struct iovec	 iov;
	union {
		struct cmsghdr hdr;
		char	 buf[CMSG_SPACE(sizeof(int))];
	} ctl;
};

static void
scm_slot_fill(struct scm_slot *s, struct msghdr *mh, enum scm_proto proto,
    const struct scm_msg *m)
{
	struct cmsghdr *cmsg;

	memset(mh, 0, sizeof(*mh));
	s->iov.iov_base = s->buf;
	s->iov.iov_len = scm_encode(proto, m->value, s->buf);
	mh->msg_iov = &s->iov;
	mh->msg_iovlen = 1;
	if (m->fd < 0)
		return;
	memset(&s->ctl, 0, sizeof(s->ctl));
	mh->msg_control = s->ctl.buf;
	mh->msg_controllen = sizeof(s->ctl.buf);
	cmsg = CMSG_FIRSTHDR(mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &m->fd, sizeof(int));
}

ssize_t
scm_send_many(int sock, enum scm_proto proto, const struct scm_msg *m,
    size_t n, size_t *part)
{
	struct scm_slot slot[SCM_BATCH_MAX];
	struct mmsghdr mm[SCM_BATCH_MAX];
	size_t i, size = scm_msg_size(proto);
	int sent;

	*part = 0;
	if (n > SCM_BATCH_MAX)
		n = SCM_BATCH_MAX;
	for (i = 0; i < n; i++) {
		scm_slot_fill(&slot[i], &mm[i].msg_hdr, proto, &m[i]);
		mm[i].msg_len = 0;
	}
	do {
		sent = sendmmsg(sock, mm, (unsigned int)n,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (sent == -1 && errno == EINTR);
	if (sent == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	/* A stream socket may take a message in part: it counts as sent. */
	if (sent > 0 && mm[sent - 1].msg_len < size) {
		*part = mm[sent - 1].msg_len;
		sent--;
	}
	return sent;
}

int
scm_send(int sock, enum scm_proto proto, int64_t value, int fd)
{
	size_t off = 0, size = scm_msg_size(proto);
	ssize_t n;

	while (off < size) {
		n = scm_send_part(sock, proto, value, off == 0 ? fd : SCM_NO_FD,
		    off);
		if (n == -1)
			return -1;
		if (n == 0) {
			/* A blocking caller on a full socket: wait, not spin. */
			if (scm_wait_writable(sock) == -1)
				return -1;
			continue;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Keep the first descriptor in *fd, close any others. */
static void
scm_take_fds(struct msghdr *msg, int *fd)
{
	struct cmsghdr *cmsg;
	size_t i, nfds;
	int got;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&got, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (*fd == SCM_NO_FD)
				*fd = got;
			else
				close(got);
		}
	}
}

int
scm_recv(int sock, enum scm_proto proto, int64_t *value, int *fd)
{
	unsigned char buf[SCM_MSG_MAX];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct iovec iov;
	size_t off = 0, size = scm_msg_size(proto);
	ssize_t n;

	*fd = SCM_NO_FD;
	while (off < size) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf + off;
		iov.iov_len = size - off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (scm_wait_readable(sock) == -1)
				goto fail;
			continue;
		}
		if (n == -1)
			goto fail;
		scm_take_fds(&msg, fd);
		if (msg.msg_flags & MSG_CTRUNC) {
			/* The kernel dropped a descriptor (EMFILE here): the
			 * message is useless without it, so say so. */
			errno = EMFILE;
			goto fail;
		}
		if (n == 0) {
			if (off == 0)
				return 0;
			errno = EPROTO;
			goto fail;
		}
		off += (size_t)n;
	}
	*value = scm_decode(proto, buf);
	return 1;
fail:
	if (*fd != SCM_NO_FD) {
		close(*fd);
		*fd = SCM_NO_FD;
	}
	return -1;
}

ssize_t
scm_drain(int sock)
{
	unsigned char buf[256];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;
	int fd = SCM_NO_FD;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do {
		n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n >= 0) {
		scm_take_fds(&msg, &fd);
		if (fd != SCM_NO_FD)
			close(fd);
	}
	return n;
}
