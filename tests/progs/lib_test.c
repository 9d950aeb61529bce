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
#include <sys/socket.h>
#include <sys/un.h>

#include <fcntl.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/doorbell.h"
#include "lib/evloop.h"
#include "lib/svc.h"

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

/* A datagram socket where the "manager" listens: path, or abstract. */
static int
manager(const char *name, char *env, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t sl;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", name);
	snprintf(env, len, "%s", name);
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	else
		unlink(name);
	if (bind(fd, (struct sockaddr *)&sun, sl) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
t_svc_notify(void)
{
	char env[108], buf[128], name[64];
	ssize_t n;
	int fd, i;

	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), i ? "@tm-lib-test-%d" :
		    "/tmp/tm-lib-test-%d.sock", (int)getpid());
		CHECK((fd = manager(name, env, sizeof(env))) != -1);
		setenv("NOTIFY_SOCKET", env, 1);
		CHECK(svc_notify("READY=1\nSTATUS=%s", "serving 3 peers") == 0);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		CHECK(n > 0);
		buf[n > 0 ? n : 0] = '\0';
		CHECK(strcmp(buf, "READY=1\nSTATUS=serving 3 peers") == 0);
		close(fd);
		if (!i)
			unlink(name);
	}
	unsetenv("NOTIFY_SOCKET");
	CHECK(svc_notify("READY=1") == -1);	/* no manager: no-op */
}

static void
t_svc_env(void)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_PID", "1", 1);		/* someone else's */
	CHECK(svc_listen_fds() == 0);
	setenv("LISTEN_PID", pid, 1);
	CHECK(svc_listen_fds() == 2);
	CHECK(getenv("LISTEN_FDS") == NULL);	/* once: not for children */
	CHECK(svc_listen_fds() == 0);
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(svc_watchdog_us() == 3000000);
	setenv("WATCHDOG_PID", "1", 1);
	CHECK(svc_watchdog_us() == 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "soon", 1);
	CHECK(svc_watchdog_us() == 0);
	unsetenv("WATCHDOG_USEC");
}

/* Pings come from the loop's timers, at half the interval, and stop
 * when the loop stops turning. */
static void
t_svc_watchdog(void)
{
	char env[108], buf[64], name[64], pid[16];
	struct evloop l;
	int64_t t0;
	ssize_t n;
	int fd, pings = 0;

	snprintf(name, sizeof(name), "@tm-lib-wd-%d", (int)getpid());
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	CHECK((fd = manager(name, env, sizeof(env))) != -1);
	setenv("NOTIFY_SOCKET", env, 1);
	setenv("WATCHDOG_USEC", "100000", 1);	/* a ping every 50 ms */
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(ev_init(&l) == 0);
	svc_watchdog_start(&l);
	/* Nothing before the loop turns. */
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1);
	t0 = clock_ms();
	while (clock_ms() - t0 < 230)
		ev_run_once(&l, 10000);
	while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		CHECK(strcmp(buf, "WATCHDOG=1") == 0);
		pings++;
	}
	/* At 0, 50, ..., 200 ms: 5, with room for a slow machine. */
	CHECK(pings >= 3 && pings <= 6);
	/* A loop that does not turn sends none: no thread pings for it. */
	usleep(200000);
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1);
	ev_free(&l);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
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
	{ "svc_notify", t_svc_notify },
	{ "svc_env", t_svc_env },
	{ "svc_watchdog", t_svc_watchdog },
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
