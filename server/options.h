/*
 * options.h - the server's command line: what each option means, its
 * default, and the one-line refusal of a bad value.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_OPTIONS_H
#define TM_OPTIONS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"
#include "send_scm.h"
#include "server/region.h"

#define ALLOW_MAX	64
#define PER_UID_DEFAULT	1024	/* -C */

struct options {
	struct region_opts region;
	const char	*sock_path;
	const char	*pidfile;
	const char	*status[2];	/* -i, by enum status_fmt */
	int		 sock_given;	/* -p */
	int		 mode_given;	/* -S */
	const char	*owner;		/* -o USER[:GROUP] */
	const char	*run_as;	/* -u USER */
	unsigned int	 sock_mode;
	unsigned int	 vectors;
	size_t		 max_peers;
	size_t		 max_per_uid;	/* -C; root is not counted */
	int64_t		 stall_ms;
	int		 daemonize;
	int		 verbosity;
	enum scm_proto	 proto;
	uid_t		 allow_uid[ALLOW_MAX];
	gid_t		 allow_gid[ALLOW_MAX];
	size_t		 nallow_uid, nallow_gid;
};

/* Parse argv into o, or exit with a message naming the bad option. */
void	options_parse(int argc, char **argv, struct options *o);
/* Does the allow-list (-U, -G) admit this peer?  Empty lists admit all. */
int	options_allowed(const struct options *, uid_t, gid_t);
/* "-o USER[:GROUP]" into ids; -1 for a part not given. */
void	options_owner(const char *spec, uid_t *, gid_t *);

#endif /* TM_OPTIONS_H */
