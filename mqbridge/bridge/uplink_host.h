/*
 * uplink_host.h - the bridge's end of the uplink (mqbridge/slot/uplink.h):
 * make the sealed memfd with its one-slot NIC area and the two private
 * doorbells, start mqrelay on them (again, after it dies), and pass it
 * control messages.
 *
 * It knows nothing of the switch: the bridge serves the uplink's slot as
 * one more port, and tests drive a relay through this alone.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_UPLINK_HOST_H
#define TM_UPLINK_HOST_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "mqbridge/relay/relay_opts.h"
#include "mqbridge/slot/ring.h"
#include "mqbridge/slot/uplink.h"

#define UPLINK_RESTART_MIN_MS	200
#define UPLINK_RESTART_MAX_MS	30000

struct uplink_host {
	const struct relay_opts *o;
	const char	*relay_path;	/* the mqrelay binary */
	int		 verbosity;
	int		 memfd;
	unsigned char	*map;
	size_t		 maplen;
	struct ring_area area;
	int		 bell_bridge;	/* the relay rings it, we read it */
	int		 bell_relay;	/* we ring it */
	int		 credfd;	/* --credentials, open; -1 none */
	int		 lifeline;	/* our end; the relay sees EOF if we die */
	pid_t		 pid;		/* the relay, or -1 */
	int64_t		 restart_ms;	/* when to start it again, 0 now */
	int64_t		 backoff_ms;
	int64_t		 started_ms;
	unsigned int	 starts;
};

/*
 * Make the area for frames up to mtu (the largest of the regions),
 * formatted with one slot, sealed against shrinking and growing, and the
 * doorbells; open --credentials.  0, or -1 with a reason in err.
 */
int	uplink_host_open(struct uplink_host *, const struct relay_opts *,
	    const char *relay_path, uint32_t mtu, int verbosity, char *err,
	    size_t errlen);
/* Start the relay; 0, or -1 (logged) to try again later. */
int	uplink_host_spawn(struct uplink_host *, int64_t now_ms);
/*
 * Has the relay exited?  Then log how, free its claim on the slot (the
 * rings keep their indices, so nothing it had not sent is lost) and
 * schedule a restart with backoff: 1.  Else 0.
 */
int	uplink_host_reap(struct uplink_host *, int64_t now_ms);
/* Time to start a new relay? */
int	uplink_host_due(const struct uplink_host *, int64_t now_ms);
/* Push one control message into the relay's ring: 0, or -1 if full. */
int	uplink_host_ctl(struct ring *rx, const void *msg, uint32_t len);
/* Stop the relay (SIGTERM, then SIGKILL after timeout_ms) and free. */
void	uplink_host_close(struct uplink_host *, int timeout_ms);

#endif /* TM_UPLINK_HOST_H */
