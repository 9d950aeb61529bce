/*
 * send_scm.h - the one wire layer of the ivshmem server protocol.
 *
 * Every message on an ivshmem server socket is one signed integer, with at
 * most one file descriptor attached as SCM_RIGHTS.  Two encodings exist:
 *
 *   SCM_PROTO_V0      QEMU >= 2.5: 8-byte little-endian int64; the server
 *                     opens with the protocol version (0).
 *   SCM_PROTO_LEGACY  QEMU < 2.5: a native C long; no version message.
 *
 * This file owns encoding, decoding and the sendmsg/recvmsg calls.  It does
 * not know what a message means; the server and the client tool do.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef SEND_SCM_H
#define SEND_SCM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum scm_proto {
	SCM_PROTO_V0 = 0,
	SCM_PROTO_LEGACY = 1
};

#define SCM_PROTOCOL_VERSION	0	/* what SCM_PROTO_V0 announces */
#define SCM_MSG_MAX		8	/* largest encoded message, in bytes */
#define SCM_NO_FD		(-1)

/* Bytes one message takes on the wire in this encoding. */
size_t	scm_msg_size(enum scm_proto);

/* Encode value into buf (at least SCM_MSG_MAX bytes); returns the size. */
size_t	scm_encode(enum scm_proto, int64_t value, unsigned char *buf);

/* Decode one message of scm_msg_size() bytes. */
int64_t	scm_decode(enum scm_proto, const unsigned char *buf);

/*
 * Send bytes [off, size) of the encoded message 'value' on a socket that
 * may be non-blocking.  fd (or SCM_NO_FD) rides with the first byte only,
 * so pass it when off == 0.  Returns the number of bytes written (> 0),
 * 0 when the socket would block, -1 with errno set on error.  Never raises
 * SIGPIPE.
 */
ssize_t	scm_send_part(int sock, enum scm_proto, int64_t value, int fd,
	    size_t off);

/* One message of a batch: its value and its descriptor (or SCM_NO_FD). */
struct scm_msg {
	int64_t		 value;
	int		 fd;
};

#define SCM_BATCH_MAX	256	/* messages per scm_send_many() call */

/*
 * Send up to SCM_BATCH_MAX whole messages with one sendmmsg(): each is
 * its own sendmsg with its own SCM_RIGHTS, so a receiver reading one
 * message per recvmsg (QEMU) sees exactly what scm_send_part() would
 * have sent.  Returns the number of messages that went out whole (0 when
 * the socket is full); *part gets the bytes of the next one that went out
 * in part (its fd went with them), else 0.  -1 with errno on an error
 * before the first message.  Never raises SIGPIPE.
 */
ssize_t	scm_send_many(int sock, enum scm_proto, const struct scm_msg *,
	    size_t n, size_t *part);

/* Blocking send of one whole message; 0 on success, -1 with errno. */
int	scm_send(int sock, enum scm_proto, int64_t value, int fd);

/*
 * Blocking receive of one whole message.  *fd gets the descriptor that came
 * with it, or SCM_NO_FD; extra descriptors are closed.  Returns 1 on a
 * message, 0 on a clean EOF before its first byte, -1 with errno on error
 * (EPROTO for EOF inside a message, EMFILE when the kernel had to drop a
 * descriptor because we are out of them).
 */
int	scm_recv(int sock, enum scm_proto, int64_t *value, int *fd);

/*
 * Read and discard whatever a peer sent, closing any descriptors that came
 * with it.  The server treats any byte as a hang-up, so this only reports:
 * > 0 bytes were read, 0 EOF, -1 error (errno EAGAIN: nothing there).
 */
ssize_t	scm_drain(int sock);

#endif /* SEND_SCM_H */
