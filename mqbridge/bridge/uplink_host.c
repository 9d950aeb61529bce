/*
 * uplink_host.c - make the uplink and keep a relay on it.
 *
 * The area lives in a memfd that only we and the relay hold, sealed so
 * that neither can shrink or grow it under the other (no SIGBUS).  A relay
 * that dies is started again with a backoff that doubles from
 * UPLINK_RESTART_MIN_MS, and resets once one has lived for a minute.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "mqbridge/bridge/uplink_host.h"
#include "mqbridge/slot/ring_check.h"

#define ARGS_MAX	64
#define STABLE_MS	60000

static int
make_area(struct uplink_host *u, uint32_t mtu, char *err, size_t len)
{
	struct ring_params p = { 1, UPLINK_RING, UPLINK_RING, mtu };
	struct ring_geom g;
	int fmt, rc;

	if ((rc = ring_geom_init(&g, &p)) != RING_OK)
		return errbuf(err, len, "uplink: %s", ring_strerror(rc));
	u->memfd = memfd_create("mqbridge-uplink", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING);
	if (u->memfd == -1)
		return errbuf(err, len, "memfd_create: %s", strerror(errno));
	if (ftruncate(u->memfd, (off_t)g.area_size) == -1 ||
	    fcntl(u->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1)
		return errbuf(err, len, "uplink memfd: %s", strerror(errno));
	u->maplen = g.area_size;
	u->map = mmap(NULL, u->maplen, PROT_READ | PROT_WRITE, MAP_SHARED,
	    u->memfd, 0);
	if (u->map == MAP_FAILED) {
		u->map = NULL;
		return errbuf(err, len, "uplink mmap: %s", strerror(errno));
	}
	if ((rc = ring_format(&u->area, u->map, u->maplen, 0, &p, 0,
	    &fmt)) != RING_OK)
		return errbuf(err, len, "uplink: %s", ring_strerror(rc));
	return 0;
}

int
uplink_host_open(struct uplink_host *u, const struct relay_opts *o,
    const char *relay_path, uint32_t mtu, int verbosity, char *err,
    size_t len)
{
	memset(u, 0, sizeof(*u));
	u->o = o;
	u->relay_path = relay_path;
	u->verbosity = verbosity;
	u->memfd = u->bell_bridge = u->bell_relay = u->lifeline = -1;
	u->pid = -1;
	u->backoff_ms = UPLINK_RESTART_MIN_MS;
	/* The relay carries a struct uplink_meta before each frame. */
	mtu += UPLINK_META_LEN;
	if (mtu > RING_MTU_MAX)
		mtu = RING_MTU_MAX;
	if (make_area(u, mtu, err, len) == -1)
		return -1;
	u->bell_bridge = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	u->bell_relay = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->bell_bridge == -1 || u->bell_relay == -1)
		return errbuf(err, len, "eventfd: %s", strerror(errno));
	u->credfd = relay_credentials_open(o);
	return 0;
}

/* In the child: the descriptors the relay gets, then exec. */
static void
exec_relay(struct uplink_host *u, int life_r)
{
	char *argv[ARGS_MAX + 16], buf[8192], num[5][16];
	int n = 0, k;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Inherited across exec: exactly these, nothing else of ours. */
	fcntl(u->memfd, F_SETFD, 0);
	fcntl(u->bell_relay, F_SETFD, 0);
	fcntl(u->bell_bridge, F_SETFD, 0);
	fcntl(life_r, F_SETFD, 0);
	if (u->credfd != -1)
		fcntl(u->credfd, F_SETFD, 0);
	snprintf(num[0], sizeof(num[0]), "%d", u->memfd);
	snprintf(num[1], sizeof(num[1]), "%d,%d", u->bell_relay,
	    u->bell_bridge);
	snprintf(num[2], sizeof(num[2]), "%d", life_r);
	snprintf(num[3], sizeof(num[3]), "%d", u->credfd);
	argv[n++] = "mqrelay";
	argv[n++] = "--uplink";
	argv[n++] = num[0];
	argv[n++] = "--bells";
	argv[n++] = num[1];
	argv[n++] = "--lifeline";
	argv[n++] = num[2];
	if (u->credfd != -1) {
		argv[n++] = "--credentials-fd";
		argv[n++] = num[3];
	}
	if (u->o->user != NULL) {
		argv[n++] = "--relay-user";
		argv[n++] = (char *)u->o->user;
	}
	for (k = 0; k < u->verbosity && k < 3; k++)
		argv[n++] = "-v";
	if (relay_opts_argv(u->o, argv + n, ARGS_MAX, buf, sizeof(buf)) ==
	    -1)
		_exit(126);
	execv(u->relay_path, argv);
	fprintf(stderr, "mqbridge: cannot run %s: %s\n", u->relay_path,
	    strerror(errno));
	_exit(127);
}

int
uplink_host_spawn(struct uplink_host *u, int64_t now_ms)
{
	int life[2];
	pid_t pid;

	if (pipe2(life, O_CLOEXEC) == -1) {
		log_err("relay: pipe: %s", strerror(errno));
		u->restart_ms = now_ms + u->backoff_ms;
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_err("relay: fork: %s", strerror(errno));
		close(life[0]);
		close(life[1]);
		u->restart_ms = now_ms + u->backoff_ms;
		return -1;
	}
	if (pid == 0) {
		close(life[1]);
		exec_relay(u, life[0]);
	}
	close(life[0]);
	if (u->lifeline != -1)
		close(u->lifeline);
	u->lifeline = life[1];
	u->pid = pid;
	u->started_ms = now_ms;
	u->starts++;
	log_info("relay started: pid %ld, %s", (long)pid, u->relay_path);
	return 0;
}

static void
free_claim(struct uplink_host *u)
{
	struct ring_slot_view v;

	(void)ring_slot_view(&u->area, 0, &v);
	if (v.claim != RING_CLAIM_FREE && v.claim != RING_CLAIM_BUSY)
		(void)ring_slot_release(&u->area, 0, v.claim);
	ring_side_state(&u->area, 0, RING_NIC, RING_RESET);
}

int
uplink_host_reap(struct uplink_host *u, int64_t now_ms)
{
	int st;
	pid_t got;

	if (u->pid <= 0 || (got = waitpid(u->pid, &st, WNOHANG)) <= 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("relay (pid %ld) exited", (long)u->pid);
	else if (WIFEXITED(st))
		log_err("relay (pid %ld) exited with status %d", (long)u->pid,
		    WEXITSTATUS(st));
	else
		log_err("relay (pid %ld) killed by signal %d (%s)",
		    (long)u->pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
	u->pid = -1;
	free_claim(u);
	if (now_ms - u->started_ms > STABLE_MS)
		u->backoff_ms = UPLINK_RESTART_MIN_MS;
	u->restart_ms = now_ms + u->backoff_ms;
	log_info("relay: starting again in %lld ms",
	    (long long)u->backoff_ms);
	if ((u->backoff_ms *= 2) > UPLINK_RESTART_MAX_MS)
		u->backoff_ms = UPLINK_RESTART_MAX_MS;
	return 1;
}

int
uplink_host_due(const struct uplink_host *u, int64_t now_ms)
{
	return u->pid <= 0 && now_ms >= u->restart_ms;
}

int
uplink_host_ctl(struct ring *rx, const void *msg, uint32_t len)
{
	unsigned char *buf;

	if (ring_reserve(rx, &buf) != 1)
		return -1;
	memcpy(buf, msg, len);
	return ring_push_flags(rx, len, UPLINK_CTL) == RING_OK ? 0 : -1;
}

void
uplink_host_close(struct uplink_host *u, int timeout_ms)
{
	int64_t until = clock_ms() + timeout_ms;
	struct timespec nap = { 0, 10000000 };

	if (u->pid > 0) {
		kill(u->pid, SIGTERM);
		while (waitpid(u->pid, NULL, WNOHANG) == 0) {
			if (clock_ms() >= until) {
				kill(u->pid, SIGKILL);
				(void)waitpid(u->pid, NULL, 0);
				break;
			}
			nanosleep(&nap, NULL);
		}
		u->pid = -1;
	}
	if (u->map != NULL)
		munmap(u->map, u->maplen);
	u->map = NULL;
	if (u->memfd != -1)
		close(u->memfd);
	if (u->bell_bridge != -1)
		close(u->bell_bridge);
	if (u->bell_relay != -1)
		close(u->bell_relay);
	if (u->credfd != -1)
		close(u->credfd);
	if (u->lifeline != -1)
		close(u->lifeline);
	u->memfd = u->bell_bridge = u->bell_relay = u->credfd = -1;
	u->lifeline = -1;
}
