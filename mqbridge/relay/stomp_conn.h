/*
 * stomp_conn.h - one STOMP 1.2 session with a broker, kept up: the broker
 * list tried in order, non-blocking connect, CONNECT and CONNECTED,
 * heart-beats both ways with a grace margin, a bounded output buffer,
 * reconnects with exponential backoff and jitter, a return to the first
 * broker once it answers again, and a clean DISCONNECT.
 *
 * It runs inside the caller's event loop and never blocks it (name
 * resolution aside, which the relay process alone pays for).  Frames go
 * out through stomp_conn_send() and come in through the callbacks.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_STOMP_CONN_H
#define TM_STOMP_CONN_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "lib/evloop.h"
#include "mqbridge/relay/broker_addr.h"
#include "mqbridge/relay/stomp.h"

#define STOMP_CONN_OUT_MAX	(4u << 20)	/* queued output, bytes */
#define STOMP_CONN_IN_CHUNK	65536		/* one read */

enum stomp_conn_state {
	SC_IDLE,		/* waiting to (re)connect */
	SC_TCP,			/* connect() under way */
	SC_LOGIN,		/* CONNECT sent, waiting for CONNECTED */
	SC_UP,			/* session open */
	SC_BYE			/* DISCONNECT sent, waiting for its receipt */
};

struct stomp_conn_ops {
	/* The session is open (after CONNECTED). */
	void	(*up)(void *arg);
	/* A frame other than CONNECTED: MESSAGE, RECEIPT, ERROR. */
	void	(*frame)(void *arg, const struct stomp_frame *);
	/* The session is gone (why says so); a reconnect is scheduled. */
	void	(*down)(void *arg, const char *why);
	/* Room in the output buffer again after stomp_conn_send() failed. */
	void	(*room)(void *arg);
};

struct stomp_conn_cfg {
	const struct broker_addr *brokers;
	unsigned int	 nbrokers;
	const char	*login;		/* NULL: no login header */
	const char	*passcode;
	const char	*vhost;		/* NULL: each broker's host name */
	uint32_t	 heartbeat_ms;	/* wanted both ways; 0 off */
	size_t		 body_max;	/* largest MESSAGE body we accept */
};

struct stomp_conn_stats {
	uint64_t	 sessions;	/* CONNECTED received */
	uint64_t	 failures;	/* attempts or sessions that ended badly */
	uint64_t	 errors;	/* ERROR frames from the broker */
	uint64_t	 bytes_out, bytes_in;
};

struct stomp_conn {
	struct evloop	*loop;
	struct stomp_conn_cfg cfg;
	const struct stomp_conn_ops *ops;
	void		*arg;
	enum stomp_conn_state state;
	unsigned int	 cur;		/* broker being tried or used */
	unsigned int	 tried;		/* brokers tried since the last session */
	int		 fd;
	pid_t		 child;		/* exec: the command, else -1 */
	pid_t		 zombie;	/* a command not reaped yet */
	int		 child_err;	/* its stderr, to say why it ended */
	int64_t		 up_ms;		/* when the session opened */
	struct ev_io	 io;
	struct ev_timer	 retry;		/* next attempt */
	struct ev_timer	 deadline;	/* connect, login or goodbye timeout */
	struct ev_timer	 beat_out;	/* send a heart-beat if idle */
	struct ev_timer	 beat_in;	/* the broker went silent */
	struct ev_timer	 home;		/* knock at the first broker */
	struct ev_timer	 flush;		/* write what this turn queued */
	struct ev_io	 knock_io;	/* a knock under way */
	int		 going_home;
	uint32_t	 beat_out_ms, beat_in_ms;	/* negotiated */
	int64_t		 backoff_ms;
	int		 wrote;		/* since the last beat_out */
	uint64_t	 beats_seen;
	int		 want_room;	/* tell ops->room when it drains */
	int		 stopping;	/* no reconnect after this session */
	unsigned char	*out;
	size_t		 out_len, out_off;
	struct stomp_parser parser;
	char		 server[64];	/* the CONNECTED server header */
	struct stomp_conn_stats st;
};

/* 0, or -1 with a reason in err.  Starts connecting at once. */
int	stomp_conn_init(struct stomp_conn *, struct evloop *,
	    const struct stomp_conn_cfg *, const struct stomp_conn_ops *,
	    void *arg, char *err, size_t errlen);
/* Queue one frame; 0, or -1 when the session is not up or the output
 * buffer has no room (ops->room follows when it has). */
int	stomp_conn_send(struct stomp_conn *, const struct stomp_frame *);
/* Bytes stomp_conn_send() can still queue. */
size_t	stomp_conn_room(const struct stomp_conn *);
int	stomp_conn_is_up(const struct stomp_conn *);
/* The broker in use, as given on the command line. */
const char *stomp_conn_broker(const struct stomp_conn *);
/* Drop the session now and reconnect after the backoff (a protocol
 * error of ours, say). */
void	stomp_conn_reset(struct stomp_conn *, const char *why);
/*
 * Leave: DISCONNECT with a receipt and wait for it (or for timeout_ms)
 * in the loop; returns once the session is closed.  No reconnect.
 */
void	stomp_conn_close(struct stomp_conn *, int timeout_ms);
void	stomp_conn_free(struct stomp_conn *);

#endif /* TM_STOMP_CONN_H */
