/*
 * client_cmd.h - the client tool's command line: where to connect, how
 * long to wait, and the one command to run with its arguments.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_CLIENT_CMD_H
#define TM_CLIENT_CMD_H

#include <stdint.h>

#include "send_scm.h"

#define CLIENT_MAX_ID		65535
#define CLIENT_MAX_VECTORS	64

enum cmd_kind {
	CMD_INFO, CMD_MONITOR, CMD_RAW, CMD_RING, CMD_WAIT, CMD_READ,
	CMD_WRITE
};

struct cmd {
	enum cmd_kind	 kind;
	uint64_t	 peer, vec, count, off, len;
	int		 any_vec;
};

struct client_opts {
	enum scm_proto	 proto;
	const char	*path;
	unsigned int	 nvec;
	uint64_t	 wait_s;	/* 0: wait forever */
};

/* Parse argv into o and cmd, or exit with a one-line reason. */
void	client_parse(int argc, char **argv, struct client_opts *,
	    struct cmd *);

#endif /* TM_CLIENT_CMD_H */
