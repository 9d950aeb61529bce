/*
 * lib_test.c - unit tests of the pieces in lib/ that every daemon leans
 * on: the event loop (timers in due order, no starvation by a timer that
 * re-arms itself, waits cut short by the soonest timer, a handle stopped
 * inside a callback) and doorbells that no other process can block.
 *
 * "lib_test" runs every test, "lib_test NAME..." some, "-l" lists them;
 * each prints "ok NAME" or "not ok NAME: why".
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <fcntl.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/doorbell.h"
#include "lib/evloop.h"

static const char *failed;

#define CHECK(c) do { if (!(c)) { failed = #c; return; } } while (0)

static char order[64];
static int norder;

static void
note(struct evloop *l, struct ev_timer *t)
{
	(void)l;
	order[norder++] = *(const char *)t->arg;
}

static void
t_order(void)
{
	struct ev_timer a = { 0 }, b = { 0 }, c = { 0 };
	struct evloop l;

	CHECK(ev_init(&l) == 0);
	norder = 0;
	ev_timer_start(&l, &a, 30000, note, "a");
	ev_timer_start(&l, &b, 10000, note, "b");
	ev_timer_start(&l, &c, 20000, note, "c");
	ev_timer_stop(&l, &c);
	ev_timer_start(&l, &c, 20000, note, "c");
	while (norder < 3)
		CHECK(ev_run_once(&l, -1) >= 0);
	CHECK(memcmp(order, "bca", 3) == 0);
	CHECK(ev_timer_left(&l) == -1);
	ev_free(&l);
}

static int spins;

static void
respin(struct evloop *l, struct ev_timer *t)
{
	spins++;
	ev_timer_start(l, t, 0, respin, NULL);
}

static int heard;

static void
hear(struct evloop *l, struct ev_io *w, uint32_t events)
{
	uint64_t v;

	(void)l;
	(void)events;
	heard++;
	(void)read(w->fd, &v, sizeof(v));
}

/* A timer that re-arms itself with no delay fires at most once a turn,
 * so descriptors keep being served. */
static void
t_rearm_waits_a_turn(void)
{
	struct ev_timer t = { 0 };
	struct evloop l;
	struct ev_io w;
	uint64_t one = 1;
	int fd = eventfd(0, EFD_NONBLOCK), turn;

	CHECK(ev_init(&l) == 0);
	CHECK(ev_io_start(&l, &w, fd, EPOLLIN, hear, NULL) == 0);
	spins = heard = 0;
	ev_timer_start(&l, &t, 0, respin, NULL);
	for (turn = 1; turn <= 100; turn++) {
		CHECK(write(fd, &one, 8) == 8);
		CHECK(ev_run_once(&l, 0) >= 1);
		CHECK(spins <= turn);
		CHECK(heard == turn);
	}
	CHECK(spins > 0);
	ev_io_stop(&l, &w);
	close(fd);
	ev_free(&l);
}

static void
t_wait_bounded_by_timer(void)
{
	struct ev_timer t = { 0 };
	struct evloop l;
	int64_t t0;

	CHECK(ev_init(&l) == 0);
	norder = 0;
	ev_timer_start(&l, &t, 20000, note, "t");
	t0 = clock_us();
	CHECK(ev_run_once(&l, 5000000) >= 0);
	while (norder == 0)
		CHECK(ev_run_once(&l, 5000000) >= 0);
	CHECK(clock_us() - t0 < 1000000);
	CHECK(clock_us() - t0 >= 20000);
	/* Nothing armed: a zero wait returns at once. */
	t0 = clock_us();
	CHECK(ev_run_once(&l, 0) == 0);
	CHECK(clock_us() - t0 < 100000);
	ev_free(&l);
}

static int calls[2];
static struct ev_io io[2];

static void
kill_other(struct evloop *l, struct ev_io *me, uint32_t events)
{
	int i = me == &io[0] ? 0 : 1;
	uint64_t v;

	(void)events;
	calls[i]++;
	(void)read(me->fd, &v, sizeof(v));
	ev_io_stop(l, &io[1 - i]);
}

static void
t_stop_inside_batch(void)
{
	struct evloop l;
	uint64_t one = 1;
	int fd[2];

	CHECK(ev_init(&l) == 0);
	fd[0] = eventfd(0, EFD_NONBLOCK);
	fd[1] = eventfd(0, EFD_NONBLOCK);
	calls[0] = calls[1] = 0;
	CHECK(ev_io_start(&l, &io[0], fd[0], EPOLLIN, kill_other, NULL) == 0);
	CHECK(ev_io_start(&l, &io[1], fd[1], EPOLLIN, kill_other, NULL) == 0);
	CHECK(write(fd[0], &one, 8) == 8 && write(fd[1], &one, 8) == 8);
	CHECK(ev_run_once(&l, 1000000) == 1);
	CHECK(calls[0] + calls[1] == 1);
	/* The stopped one stays stopped; the other still works. */
	CHECK(ev_io_set(&l, calls[0] ? &io[1] : &io[0], EPOLLIN) == -1);
	close(fd[0]);
	close(fd[1]);
	ev_free(&l);
}

static void
t_io_set(void)
{
	struct evloop l;
	struct ev_io w;
	int fd = eventfd(0, EFD_NONBLOCK);

	CHECK(ev_init(&l) == 0);
	calls[0] = 0;
	CHECK(ev_io_start(&l, &w, fd, EPOLLIN, kill_other, NULL) == 0);
	/* An eventfd is always writable: EPOLLOUT fires at once. */
	io[1].active = 0;
	w.fn = kill_other;
	CHECK(ev_io_set(&l, &w, EPOLLIN | EPOLLOUT) == 0);
	CHECK(ev_run_once(&l, 1000000) == 1);
	CHECK(ev_io_set(&l, &w, EPOLLIN) == 0);
	CHECK(ev_run_once(&l, 0) == 0);
	ev_io_stop(&l, &w);
	close(fd);
	ev_free(&l);
}

/*
 * Another holder of the eventfd's open file description clears
 * O_NONBLOCK and fills the counter: a ring must come back within the
 * bound instead of blocking, and reading an empty one must not wait.
 */
static void
t_doorbell_hostile(void)
{
	uint64_t full = UINT64_C(0xfffffffffffffffe);
	int fd = eventfd(0, EFD_NONBLOCK), rc;
	int64_t t0;

	CHECK(fd != -1);
	CHECK(doorbell_ring(fd) == 0);
	CHECK(doorbell_take(fd) == 1);
	CHECK(fcntl(fd, F_SETFL, 0) == 0);	/* blocking, as a peer made it */
	t0 = clock_us();
	CHECK(doorbell_take(fd) == 0);		/* empty: would block */
	CHECK(clock_us() - t0 < 100000);
	CHECK(write(fd, &full, sizeof(full)) == sizeof(full));
	t0 = clock_us();
	rc = doorbell_ring(fd);			/* full: would block */
	CHECK(clock_us() - t0 < 500000);
	CHECK(rc == -1);
	CHECK(doorbell_take(fd) == full);
	CHECK(doorbell_ring(fd) == 0);
	CHECK(doorbell_take(fd) == 1);
	close(fd);
}

static const struct {
	const char	*name;
	void		(*fn)(void);
} tests[] = {
	{ "order", t_order },
	{ "rearm_waits_a_turn", t_rearm_waits_a_turn },
	{ "wait_bounded_by_timer", t_wait_bounded_by_timer },
	{ "stop_inside_batch", t_stop_inside_batch },
	{ "io_set", t_io_set },
	{ "doorbell_hostile", t_doorbell_hostile },
};

#define NTESTS	(sizeof(tests) / sizeof(tests[0]))

int
main(int argc, char **argv)
{
	size_t i;
	int j, rc = 0, want;

	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		for (i = 0; i < NTESTS; i++)
			puts(tests[i].name);
		return 0;
	}
	for (i = 0; i < NTESTS; i++) {
		want = argc == 1;
		for (j = 1; j < argc; j++)
			want |= strcmp(argv[j], tests[i].name) == 0;
		if (!want)
			continue;
		failed = NULL;
		tests[i].fn();
		if (failed != NULL) {
			printf("not ok %s: %s\n", tests[i].name, failed);
			rc = 1;
		} else
			printf("ok %s\n", tests[i].name);
	}
	return rc;
}
