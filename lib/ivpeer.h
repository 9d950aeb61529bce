/*
 * ivpeer.h - be a peer of a tm_ivshmem_server (or QEMU's own server): the
 * handshake, the peer table of doorbell eventfds, and ringing them.
 *
 * The bridge and the host-side mqnic endpoint both join servers this way.
 * What the server says is read and checked by lib/greet (the one greeting
 * reader); every socket message goes through send_scm.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_IVPEER_H
#define TM_IVPEER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/greet.h"
#include "send_scm.h"

#define IVPEER_IDS	GREET_IDS
#define IVPEER_VECTORS_MAX GREET_VECTORS_MAX

struct ivpeer {
	int		 sock;
	enum scm_proto	 proto;
	int		 id;		/* ours */
	int		 region_fd;
	uint64_t	 size;		/* of the region */
	unsigned int	 nvec;		/* the server's -n */
	int		 own[IVPEER_VECTORS_MAX];	/* our doorbells */
	unsigned char	*nfds;		/* eventfds known per peer ID */
	int		*vfd;		/* [id * nvec + v], -1 unknown */
	struct greet	 greet;		/* reads the server, counts in nfds */
};

/* A peer event, for ivpeer_pump()'s callback. */
enum ivpeer_event {
	IVPEER_JOINED,		/* a peer's last vector arrived */
	IVPEER_LEFT
};

typedef void ivpeer_cb(void *arg, int id, enum ivpeer_event);

/*
 * Connect and complete the handshake: our ID, the region, and our own nvec
 * eventfds (nvec must equal the server's -n).  Waits at most timeout_ms.
 * Returns 0, or -1 with a one-line reason in err.
 */
int	ivpeer_connect(struct ivpeer *, const char *path, enum scm_proto,
	    unsigned int nvec, int timeout_ms, char *err, size_t errlen);
/*
 * Take every message that is waiting, without blocking; cb (may be NULL)
 * hears of joins and departures.  Returns 0, or -1 when the server is gone
 * or broke the protocol (reason in err).
 */
int	ivpeer_pump(struct ivpeer *, ivpeer_cb *cb, void *arg, char *err,
	    size_t errlen);
/* Ring vector v of peer id: 0, or -1 if that doorbell is unknown. */
int	ivpeer_ring(const struct ivpeer *, int id, unsigned int v);
/* Is peer id connected with all its vectors? */
int	ivpeer_known(const struct ivpeer *, int id);
/* Read and clear our own doorbell v: the count, 0 when not rung. */
uint64_t ivpeer_take(const struct ivpeer *, unsigned int v);
void	ivpeer_close(struct ivpeer *);

#endif /* TM_IVPEER_H */
