/*
 * evloop.c - one epoll set and a list of timers, dispatched in turns.
 *
 * Timers are few in every program (ticks, heart-beats, backoffs), so they
 * sit in one list kept in due order; arming costs a walk, firing is O(1).
 * A timer armed while timers fire waits for the next turn, so one that
 * re-arms itself with no delay cannot starve the descriptors.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/evloop.h"

int
ev_init(struct evloop *l)
{
	memset(l, 0, sizeof(*l));
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	return l->ep == -1 ? -1 : 0;
}

void
ev_free(struct evloop *l)
{
	if (l->ep != -1)
		close(l->ep);
	l->ep = -1;
	l->timers = NULL;
}

int
ev_io_start(struct evloop *l, struct ev_io *io, int fd, uint32_t events,
    ev_io_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->events = events;
	io->fn = fn;
	io->arg = arg;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		io->active = 0;
		return -1;
	}
	io->active = 1;
	return 0;
}

int
ev_io_set(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!io->active) {
		errno = EBADF;
		return -1;
	}
	if (io->events == events)
		return 0;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		return -1;
	io->events = events;
	return 0;
}

void
ev_io_stop(struct evloop *l, struct ev_io *io)
{
	struct epoll_event *batch = l->batch;
	int i;

	if (!io->active)
		return;
	io->active = 0;
	(void)epoll_ctl(l->ep, EPOLL_CTL_DEL, io->fd, NULL);
	/* Its owner may be freed before the rest of the batch runs. */
	for (i = l->ibatch + 1; batch != NULL && i < l->nbatch; i++)
		if (batch[i].data.ptr == io)
			batch[i].data.ptr = NULL;
}

static void
timer_unlink(struct evloop *l, struct ev_timer *t)
{
	struct ev_timer **pp;

	for (pp = &l->timers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->next = NULL;
	t->active = 0;
}

void
ev_timer_start(struct evloop *l, struct ev_timer *t, int64_t after_us,
    ev_timer_fn *fn, void *arg)
{
	struct ev_timer **pp;

	if (t->active)
		timer_unlink(l, t);
	t->fn = fn;
	t->arg = arg;
	t->due_us = clock_us() + (after_us > 0 ? after_us : 0);
	if (l->fire_us != 0 && t->due_us <= l->fire_us)
		t->due_us = l->fire_us + 1;	/* not in this turn */
	for (pp = &l->timers; *pp != NULL && (*pp)->due_us <= t->due_us;
	    pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->active = 1;
}

void
ev_timer_stop(struct evloop *l, struct ev_timer *t)
{
	if (t->active)
		timer_unlink(l, t);
}

int64_t
ev_timer_left(const struct evloop *l)
{
	int64_t left;

	if (l->timers == NULL)
		return -1;
	left = l->timers->due_us - clock_us();
	return left > 0 ? left : 0;
}

/* epoll_wait with microseconds; before Linux 5.11, whole milliseconds. */
static int
wait_us(int ep, struct epoll_event *ev, int64_t us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };
	int n;

	if ((n = epoll_pwait2(ep, ev, EV_BATCH, us < 0 ? NULL : &ts,
	    NULL)) != -1 || errno != ENOSYS)
		return n;
	return epoll_wait(ep, ev, EV_BATCH, us < 0 ? -1 :
	    (int)((us + 999) / 1000));
}

/* Every timer due now; those armed meanwhile wait for the next turn. */
static int
fire_timers(struct evloop *l)
{
	struct ev_timer *t;
	int n = 0;

	l->fire_us = clock_us();
	while ((t = l->timers) != NULL && t->due_us <= l->fire_us) {
		timer_unlink(l, t);
		t->fn(l, t);
		n++;
	}
	l->fire_us = 0;
	return n;
}

int
ev_run_once(struct evloop *l, int64_t max_us)
{
	struct epoll_event ev[EV_BATCH];
	struct ev_io *io;
	int64_t left = ev_timer_left(l);
	int n, ran = 0;

	if (left >= 0 && (max_us < 0 || left < max_us))
		max_us = left;
	if ((n = wait_us(l->ep, ev, max_us)) == -1) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	l->batch = ev;
	l->nbatch = n;
	for (l->ibatch = 0; l->ibatch < n && !l->stop; l->ibatch++) {
		if ((io = ev[l->ibatch].data.ptr) == NULL)
			continue;
		io->fn(l, io, ev[l->ibatch].events);
		ran++;
	}
	l->batch = NULL;
	l->nbatch = l->ibatch = 0;
	if (!l->stop)
		ran += fire_timers(l);
	return ran;
}

int
ev_run(struct evloop *l)
{
	while (!l->stop)
		if (ev_run_once(l, -1) == -1)
			return -1;
	return 0;
}

void
ev_stop(struct evloop *l)
{
	l->stop = 1;
}
