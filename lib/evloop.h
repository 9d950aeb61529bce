/*
 * evloop.h - the one event loop every daemon runs: descriptors watched
 * through epoll, timers on the one monotonic clock (lib/clock.h), and
 * nothing else.
 *
 * Handles are owned by the caller and embedded in its own structures (a
 * peer, a slot, a connection), so the loop allocates nothing per
 * descriptor and scales to as many as epoll does.  Callbacks run from
 * ev_run_once(); a handle stopped inside a callback gets no further event
 * from the batch being dispatched, so a callback may free another
 * handle's owner.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_EVLOOP_H
#define TM_EVLOOP_H

#include <stdint.h>

#define EV_BATCH	256	/* events taken per epoll_wait */

struct evloop;
struct ev_io;
struct ev_timer;

/* events: the EPOLL* bits that fired. */
typedef void ev_io_fn(struct evloop *, struct ev_io *, uint32_t events);
typedef void ev_timer_fn(struct evloop *, struct ev_timer *);

struct ev_io {
	int		 fd;
	uint32_t	 events;	/* what we asked for */
	int		 active;
	ev_io_fn	*fn;
	void		*arg;		/* the owner, for fn */
};

struct ev_timer {
	int64_t		 due_us;	/* clock_us() when it fires */
	int		 active;
	ev_timer_fn	*fn;
	void		*arg;
	struct ev_timer	*next;		/* in due order */
};

struct evloop {
	int		 ep;
	int		 stop;
	struct ev_timer	*timers;	/* soonest first */
	int64_t		 fire_us;	/* while timers fire: when we began */
	/* The batch being dispatched, so that ev_io_stop() can void it. */
	void		*batch;
	int		 nbatch, ibatch;
};

/* 0, or -1 with errno. */
int	ev_init(struct evloop *);
void	ev_free(struct evloop *);

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...); 0, or -1 with errno
 * (ENOSPC: the user's epoll watch limit; ENOMEM). */
int	ev_io_start(struct evloop *, struct ev_io *, int fd, uint32_t events,
	    ev_io_fn *, void *arg);
/* Change what a started handle waits for; 0, or -1 with errno. */
int	ev_io_set(struct evloop *, struct ev_io *, uint32_t events);
/* Stop watching (before the caller closes the fd or frees the handle). */
void	ev_io_stop(struct evloop *, struct ev_io *);

/* (Re)arm a timer to fire once, after_us from now (0: at the next turn). */
void	ev_timer_start(struct evloop *, struct ev_timer *, int64_t after_us,
	    ev_timer_fn *, void *arg);
void	ev_timer_stop(struct evloop *, struct ev_timer *);
/* Microseconds until the soonest timer, 0 if one is due, -1 if none. */
int64_t	ev_timer_left(const struct evloop *);

/*
 * Wait at most max_us (-1: until something happens, 0: not at all, and
 * never past the soonest timer), dispatch the descriptors that are ready,
 * then every timer that is due.  Returns the number of callbacks run, or
 * -1 with errno on an epoll error other than EINTR.
 */
int	ev_run_once(struct evloop *, int64_t max_us);
/* ev_run_once() until ev_stop(); 0, or -1 on an epoll error. */
int	ev_run(struct evloop *);
void	ev_stop(struct evloop *);

#endif /* TM_EVLOOP_H */
