/*
 * stomp_conn.c - keep one STOMP 1.2 session with the first broker of the
 * list that answers (see stomp_conn.h).
 *
 * Attempts go down the --broker list; once every broker has failed in a
 * row, the next round waits a backoff that doubles from BACKOFF_MIN_MS to
 * BACKOFF_MAX_MS, with +-25% jitter so that many bridges that lost one
 * broker together do not come back in lockstep.  A session that reaches
 * CONNECTED and lasts STABLE_MS resets the backoff: a broker that accepts
 * the login and then refuses everything (a missing authorization, say)
 * is not hammered.
 *
 * The first broker is home: while on another, we knock at it every
 * HOME_MS (a bare TCP connect), and when it answers we leave the other
 * with a DISCONNECT and its receipt, so that nothing sent is cut off, and
 * go home.  A failover is for while the home broker is away.
 *
 * Heart-beats: we promise what we negotiated and send an EOL when we
 * have written nothing for that long; the broker must be heard from (a
 * frame or an EOL) within twice its interval, or the session is dead.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "mqbridge/relay/stomp_conn.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	30000
#define CONNECT_MS	10000	/* TCP connect and CONNECTED */
#define BYE_MS_MAX	5000
#define BEAT_GRACE	2	/* silence allowed: this many intervals */
#define HOME_MS		10000	/* knock at the first broker */
#define STABLE_MS	10000	/* a session this long resets the backoff */
#define FLUSH_BYTES	65536	/* queued output written without waiting */

static void	attempt(struct evloop *, struct ev_timer *);
static void	on_io(struct evloop *, struct ev_io *, uint32_t);
static void	leave(struct stomp_conn *);

/*
 * The exec: transport's command, if any, leaves with the session: its
 * whole process group (the shell may have forked the command), TERM then
 * KILL, never waiting on it.  One that is not gone yet is reaped later.
 */
static void
reap_child(struct stomp_conn *c)
{
	if (c->zombie > 0 && waitpid(c->zombie, NULL, WNOHANG) != 0)
		c->zombie = -1;
	if (c->child <= 0)
		return;
	kill(-c->child, SIGTERM);
	if (waitpid(c->child, NULL, WNOHANG) == 0) {
		kill(-c->child, SIGKILL);
		if (waitpid(c->child, NULL, WNOHANG) == 0)
			c->zombie = c->child;
	}
	c->child = -1;
	if (c->child_err != -1)
		close(c->child_err);
	c->child_err = -1;
}

/*
 * Why an exec: session ended, in the command's words: its exit status
 * and the last line it wrote to stderr, rather than the "connection
 * reset" that its end of the socket pair says.
 */
static const char *
exec_why(struct stomp_conn *c, const char *why, char *buf, size_t len)
{
	char err[2048], said[320], *line, *end;
	ssize_t n;
	int st, k;

	if (c->child <= 0)
		return why;
	n = c->child_err != -1 ? read(c->child_err, err, sizeof(err) - 1) : -1;
	err[n > 0 ? n : 0] = '\0';
	/* Its last two lines: openssl names the cause before the summary. */
	said[0] = '\0';
	for (k = 0; k < 2; k++) {
		while ((end = strrchr(err, '\n')) != NULL && end[1] == '\0')
			*end = '\0';
		if (err[0] == '\0')
			break;
		line = (end = strrchr(err, '\n')) != NULL ? end + 1 : err;
		snprintf(said + strlen(said), sizeof(said) - strlen(said),
		    "%s%.150s", k > 0 ? " <- " : "", line);
		*line = '\0';
	}
	if (waitpid(c->child, &st, WNOHANG) == c->child) {
		c->child = -1;
		snprintf(buf, len, "the command %s %d%s%s", WIFEXITED(st) ?
		    "exited with status" : "was killed by signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		    said[0] != '\0' ? ": " : "", said);
		return buf;
	}
	if (said[0] == '\0')
		return why;
	snprintf(buf, len, "%s; the command said: %s", why, said);
	return buf;
}

static void
teardown(struct stomp_conn *c)
{
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->deadline);
	ev_timer_stop(c->loop, &c->beat_out);
	ev_timer_stop(c->loop, &c->beat_in);
	ev_timer_stop(c->loop, &c->home);
	ev_timer_stop(c->loop, &c->flush);
	if (c->knock_io.active) {
		ev_io_stop(c->loop, &c->knock_io);
		close(c->knock_io.fd);
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	reap_child(c);
	c->out_len = c->out_off = 0;
	stomp_parser_reset(&c->parser);
}

static int64_t
jitter(int64_t ms)
{
	return ms * 3 / 4 + (int64_t)((uint64_t)random() % (uint64_t)(ms / 2 + 1));
}

/* After a failure: the next broker now, or the first after a backoff. */
static void
schedule(struct stomp_conn *c)
{
	int64_t wait = 0;

	c->state = SC_IDLE;
	if (c->stopping)
		return;
	c->cur = (c->cur + 1) % c->cfg.nbrokers;
	if (++c->tried >= c->cfg.nbrokers) {
		c->tried = 0;
		c->cur = 0;
		wait = jitter(c->backoff_ms);
		if ((c->backoff_ms *= 2) > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
	}
	ev_timer_start(c->loop, &c->retry, wait * 1000, attempt, c);
}

static void
fail(struct stomp_conn *c, const char *why)
{
	int was_up = c->state == SC_UP;
	char buf[512];

	c->st.failures++;
	why = exec_why(c, why, buf, sizeof(buf));
	teardown(c);
	if (was_up && clock_ms() - c->up_ms >= STABLE_MS)
		c->backoff_ms = BACKOFF_MIN_MS;
	if (was_up) {
		log_warn("broker %s: session lost: %s",
		    c->cfg.brokers[c->cur].url, why);
		/* Start the list again from the top. */
		c->tried = c->cfg.nbrokers - 1;
		c->cur = c->cfg.nbrokers - 1;
	} else
		log_warn("broker %s: %s", c->cfg.brokers[c->cur].url, why);
	schedule(c);
	if (was_up && c->ops->down != NULL)
		c->ops->down(c->arg, why);
}

void
stomp_conn_reset(struct stomp_conn *c, const char *why)
{
	if (c->state != SC_IDLE)
		fail(c, why);
}

static void
on_deadline(struct evloop *l, struct ev_timer *t)
{
	struct stomp_conn *c = t->arg;

	(void)l;
	if (c->state == SC_BYE) {
		leave(c);
		return;
	}
	fail(c, c->state == SC_TCP ? "no connection within 10 s" :
	    "no CONNECTED within 10 s");
}

/* ---- Output ----------------------------------------------------------- */

static int
want_out(struct stomp_conn *c)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP;

	if (c->out_len > c->out_off || c->state == SC_TCP)
		ev |= EPOLLOUT;
	return ev_io_set(c->loop, &c->io, ev);
}

static int
flush_out(struct stomp_conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			fail(c, strerror(errno));
			return -1;
		}
		c->out_off += (size_t)n;
		c->st.bytes_out += (uint64_t)n;
		c->wrote = 1;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (want_out(c) == -1) {
		fail(c, "epoll_ctl failed");
		return -1;
	}
	if (c->want_room && c->out_len < STOMP_CONN_OUT_MAX / 2 &&
	    c->state == SC_UP) {
		c->want_room = 0;
		if (c->ops->room != NULL)
			c->ops->room(c->arg);
	}
	return 0;
}

/* Append len bytes, compacting first; -1 if they do not fit. */
static int
queue_bytes(struct stomp_conn *c, const void *p, size_t len)
{
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > STOMP_CONN_OUT_MAX - c->out_len)
		return -1;
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	return 0;
}

static int
queue_frame(struct stomp_conn *c, const struct stomp_frame *f)
{
	size_t need, room;

	if (c->out_off > 0)
		(void)queue_bytes(c, "", 0);
	room = STOMP_CONN_OUT_MAX - c->out_len;
	if (stomp_encode(c->out + c->out_len, room, &need, f, 0) != STOMP_EOK)
		return -1;
	c->out_len += need;
	return 0;
}

static void
on_flush(struct evloop *l, struct ev_timer *t)
{
	struct stomp_conn *c = t->arg;

	(void)l;
	if (c->state == SC_UP || c->state == SC_BYE)
		(void)flush_out(c);
}

/*
 * Frames queued in one turn of the loop go out in one write at its end
 * (a timer due now fires after the descriptors), not one system call
 * and one TCP segment each; a full FLUSH_BYTES goes at once.
 */
int
stomp_conn_send(struct stomp_conn *c, const struct stomp_frame *f)
{
	if (c->state != SC_UP)
		return -1;
	if (queue_frame(c, f) == -1) {
		c->want_room = 1;
		return -1;
	}
	if (c->out_len - c->out_off >= FLUSH_BYTES)
		return flush_out(c) == -1 ? -1 : 0;
	if (!c->flush.active)
		ev_timer_start(c->loop, &c->flush, 0, on_flush, c);
	return 0;
}

size_t
stomp_conn_room(const struct stomp_conn *c)
{
	if (c->state != SC_UP)
		return 0;
	return STOMP_CONN_OUT_MAX - (c->out_len - c->out_off);
}

int
stomp_conn_is_up(const struct stomp_conn *c)
{
	return c->state == SC_UP;
}

const char *
stomp_conn_broker(const struct stomp_conn *c)
{
	return c->cfg.brokers[c->cur].url;
}

/* ---- Heart-beats ------------------------------------------------------ */

static void
beat_out(struct evloop *l, struct ev_timer *t)
{
	struct stomp_conn *c = t->arg;

	if (!c->wrote && c->out_len == c->out_off) {
		(void)queue_bytes(c, "\n", 1);
		if (flush_out(c) == -1)
			return;
	}
	c->wrote = 0;
	ev_timer_start(l, t, (int64_t)c->beat_out_ms * 1000, beat_out, c);
}

static void
beat_in(struct evloop *l, struct ev_timer *t)
{
	struct stomp_conn *c = t->arg;
	char why[80];

	(void)l;
	snprintf(why, sizeof(why), "no heart-beat from the broker in %u ms",
	    c->beat_in_ms * BEAT_GRACE);
	fail(c, why);
}

static void
heard(struct stomp_conn *c)
{
	if (c->beat_in_ms > 0 && c->state == SC_UP)
		ev_timer_start(c->loop, &c->beat_in,
		    (int64_t)c->beat_in_ms * BEAT_GRACE * 1000, beat_in, c);
}

/* ---- Going home ------------------------------------------------------- */

/* The session is closed: stop, or go to the first broker now. */
static void
leave(struct stomp_conn *c)
{
	int home = c->going_home;

	teardown(c);
	c->state = SC_IDLE;
	c->going_home = 0;
	if (!home || c->stopping)
		return;
	c->cur = 0;
	c->tried = 0;
	if (c->ops->down != NULL)
		c->ops->down(c->arg, "moving to the first broker");
	ev_timer_start(c->loop, &c->retry, 0, attempt, c);
}

static void	knock(struct evloop *, struct ev_timer *);

static void
knocked(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct stomp_conn *c = io->arg;
	struct stomp_hdr h[] = { { "receipt", "bye" } };
	struct stomp_frame f = { .command = "DISCONNECT", .headers = h,
	    .nheaders = 1 };
	socklen_t len = sizeof(int);
	int e = 1;

	(void)events;
	(void)getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &e, &len);
	ev_io_stop(l, io);
	close(io->fd);
	if (e != 0 || c->state != SC_UP) {
		ev_timer_start(l, &c->home, (int64_t)HOME_MS * 1000, knock, c);
		return;
	}
	log_info("broker %s answers again; leaving %s for it",
	    c->cfg.brokers[0].url, c->cfg.brokers[c->cur].url);
	c->going_home = 1;
	if (queue_frame(c, &f) == -1 || flush_out(c) == -1) {
		if (c->state != SC_IDLE)
			leave(c);
		return;
	}
	c->state = SC_BYE;
	ev_timer_stop(l, &c->beat_out);
	ev_timer_stop(l, &c->beat_in);
	ev_timer_start(l, &c->deadline, (int64_t)BYE_MS_MAX * 1000,
	    on_deadline, c);
}

static void
knock(struct evloop *l, struct ev_timer *t)
{
	struct stomp_conn *c = t->arg;
	char err[256];
	pid_t none;
	int fd;

	if (c->state != SC_UP || c->cur == 0)
		return;
	fd = broker_addr_open(&c->cfg.brokers[0], &none, NULL, err,
	    sizeof(err));
	if (fd == -1 || ev_io_start(l, &c->knock_io, fd, EPOLLOUT, knocked,
	    c) == -1) {
		if (fd != -1)
			close(fd);
		ev_timer_start(l, t, (int64_t)HOME_MS * 1000, knock, c);
	}
}

/* ---- Session ---------------------------------------------------------- */

static int
send_connect(struct stomp_conn *c)
{
	const struct broker_addr *b = &c->cfg.brokers[c->cur];
	struct stomp_hdr h[5];
	struct stomp_frame f = { .command = "CONNECT", .headers = h };
	char beat[32];

	snprintf(beat, sizeof(beat), "%u,%u", c->cfg.heartbeat_ms,
	    c->cfg.heartbeat_ms);
	h[f.nheaders++] = (struct stomp_hdr){ "accept-version", "1.2" };
	h[f.nheaders++] = (struct stomp_hdr){ "host", c->cfg.vhost != NULL ?
	    c->cfg.vhost : b->host[0] != '\0' ? b->host : "localhost" };
	h[f.nheaders++] = (struct stomp_hdr){ "heart-beat", beat };
	if (c->cfg.login != NULL) {
		h[f.nheaders++] = (struct stomp_hdr){ "login", c->cfg.login };
		h[f.nheaders++] = (struct stomp_hdr){ "passcode",
		    c->cfg.passcode != NULL ? c->cfg.passcode : "" };
	}
	if (queue_frame(c, &f) == -1)
		return -1;
	c->state = SC_LOGIN;
	return flush_out(c);
}

static void
on_connected(struct stomp_conn *c, const struct stomp_frame *f)
{
	const char *v = stomp_header(f, "version"), *srv;

	if (v == NULL || strcmp(v, "1.2") != 0) {
		fail(c, "the broker does not speak STOMP 1.2");
		return;
	}
	if (stomp_heartbeat_negotiate(c->cfg.heartbeat_ms, c->cfg.heartbeat_ms,
	    stomp_header(f, "heart-beat"), &c->beat_out_ms,
	    &c->beat_in_ms) != STOMP_EOK) {
		fail(c, "the broker sent a malformed heart-beat header");
		return;
	}
	srv = stomp_header(f, "server");
	snprintf(c->server, sizeof(c->server), "%s", srv != NULL ? srv : "?");
	ev_timer_stop(c->loop, &c->deadline);
	c->state = SC_UP;
	c->st.sessions++;
	c->up_ms = clock_ms();
	c->tried = 0;
	log_info("broker %s: connected (%s, heart-beats %u/%u ms)",
	    c->cfg.brokers[c->cur].url, c->server, c->beat_out_ms,
	    c->beat_in_ms);
	if (c->beat_out_ms > 0)
		ev_timer_start(c->loop, &c->beat_out,
		    (int64_t)c->beat_out_ms * 1000, beat_out, c);
	heard(c);
	if (c->cur != 0 && c->cfg.brokers[0].command == NULL)
		ev_timer_start(c->loop, &c->home, (int64_t)HOME_MS * 1000,
		    knock, c);
	if (c->ops->up != NULL)
		c->ops->up(c->arg);
}

/* An ERROR ends the session: STOMP says the server closes after it. */
static void
on_error_frame(struct stomp_conn *c, const struct stomp_frame *f)
{
	const char *m = stomp_header(f, "message");
	char why[200];

	c->st.errors++;
	snprintf(why, sizeof(why), "ERROR from the broker: %.150s",
	    m != NULL ? m : "(no message)");
	if (c->ops->frame != NULL && c->state == SC_UP)
		c->ops->frame(c->arg, f);
	if (c->state != SC_IDLE)
		fail(c, why);
}

/* One parsed frame; 0 to go on, -1 if the session ended. */
static int
dispatch(struct stomp_conn *c, const struct stomp_frame *f)
{
	if (strcmp(f->command, "CONNECTED") == 0) {
		if (c->state != SC_LOGIN) {
			fail(c, "a second CONNECTED");
			return -1;
		}
		on_connected(c, f);
	} else if (strcmp(f->command, "ERROR") == 0) {
		on_error_frame(c, f);
		return -1;
	} else if (c->state == SC_BYE) {
		if (strcmp(f->command, "RECEIPT") == 0) {
			leave(c);
			return -1;
		}
	} else if (c->state != SC_UP) {
		fail(c, "a frame before CONNECTED");
		return -1;
	} else if (c->ops->frame != NULL)
		c->ops->frame(c->arg, f);
	return c->state == SC_IDLE ? -1 : 0;
}

static void
feed(struct stomp_conn *c, const unsigned char *p, size_t n)
{
	struct stomp_frame f;
	uint64_t beats;
	size_t used;
	int rc;
	char why[96];

	while (n > 0) {
		rc = stomp_parse(&c->parser, p, n, &used, &f);
		p += used;
		n -= used;
		if (rc == STOMP_ERROR) {
			snprintf(why, sizeof(why), "malformed frame from the "
			    "broker: %s",
			    stomp_strerror(stomp_parser_error(&c->parser)));
			fail(c, why);
			return;
		}
		if (rc == STOMP_FRAME && dispatch(c, &f) == -1)
			return;
	}
	beats = stomp_parser_beats(&c->parser);
	c->beats_seen = beats;
}

static void
read_in(struct stomp_conn *c)
{
	unsigned char buf[STOMP_CONN_IN_CHUNK];
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < 16 && c->fd != -1; rounds++) {
		n = read(c->fd, buf, sizeof(buf));
		if (n == 0) {
			fail(c, stomp_parser_midframe(&c->parser) ?
			    "the broker closed the connection mid-frame" :
			    "the broker closed the connection");
			return;
		}
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				fail(c, strerror(errno));
			return;
		}
		c->st.bytes_in += (uint64_t)n;
		heard(c);
		feed(c, buf, (size_t)n);
		if ((size_t)n < sizeof(buf))
			return;
	}
}

static void
tcp_done(struct stomp_conn *c)
{
	socklen_t len = sizeof(int);
	int e = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	if (e != 0) {
		fail(c, strerror(e));
		return;
	}
	if (send_connect(c) == -1 && c->state != SC_IDLE)
		fail(c, "cannot queue CONNECT");
}

static void
on_io(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct stomp_conn *c = io->arg;

	(void)l;
	if (c->state == SC_TCP) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			tcp_done(c);
		return;
	}
	if ((events & EPOLLOUT) && flush_out(c) == -1)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		read_in(c);
}

static void
attempt(struct evloop *l, struct ev_timer *t)
{
	struct stomp_conn *c = t->arg;
	char err[256];

	(void)l;
	c->fd = broker_addr_open(&c->cfg.brokers[c->cur], &c->child,
	    &c->child_err, err, sizeof(err));
	if (c->fd == -1) {
		c->st.failures++;
		log_warn("broker %s", err);
		schedule(c);
		return;
	}
	if (ev_io_start(c->loop, &c->io, c->fd, EPOLLIN | EPOLLOUT |
	    EPOLLRDHUP, on_io, c) == -1) {
		fail(c, "epoll_ctl failed");
		return;
	}
	c->state = SC_TCP;
	ev_timer_start(c->loop, &c->deadline, (int64_t)CONNECT_MS * 1000,
	    on_deadline, c);
	if (c->cfg.brokers[c->cur].command != NULL)
		tcp_done(c);	/* a pipe to a command: no connect() */
}

int
stomp_conn_init(struct stomp_conn *c, struct evloop *l,
    const struct stomp_conn_cfg *cfg, const struct stomp_conn_ops *ops,
    void *arg, char *err, size_t len)
{
	struct stomp_limits lim = { .body = cfg->body_max };

	memset(c, 0, sizeof(*c));
	c->loop = l;
	c->cfg = *cfg;
	c->ops = ops;
	c->arg = arg;
	c->fd = -1;
	c->child = c->zombie = c->child_err = -1;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (cfg->nbrokers == 0)
		return errbuf(err, len, "no broker given");
	if ((c->out = malloc(STOMP_CONN_OUT_MAX)) == NULL ||
	    stomp_parser_init(&c->parser, &lim) == -1) {
		free(c->out);
		c->out = NULL;
		return errbuf(err, len, "out of memory for the broker session");
	}
	ev_timer_start(l, &c->retry, 0, attempt, c);
	return 0;
}

void
stomp_conn_close(struct stomp_conn *c, int timeout_ms)
{
	struct stomp_hdr h[] = { { "receipt", "bye" } };
	struct stomp_frame f = { .command = "DISCONNECT", .headers = h,
	    .nheaders = 1 };

	c->stopping = 1;
	ev_timer_stop(c->loop, &c->retry);
	if (c->state != SC_UP) {
		teardown(c);
		c->state = SC_IDLE;
		return;
	}
	if (queue_frame(c, &f) == -1 || flush_out(c) == -1) {
		teardown(c);
		c->state = SC_IDLE;
		return;
	}
	c->state = SC_BYE;
	ev_timer_stop(c->loop, &c->beat_out);
	ev_timer_stop(c->loop, &c->beat_in);
	if (timeout_ms > BYE_MS_MAX)
		timeout_ms = BYE_MS_MAX;
	ev_timer_start(c->loop, &c->deadline, (int64_t)timeout_ms * 1000,
	    on_deadline, c);
	while (c->state == SC_BYE)
		if (ev_run_once(c->loop, -1) == -1)
			break;
	if (c->state != SC_IDLE) {
		teardown(c);
		c->state = SC_IDLE;
	}
}

void
stomp_conn_free(struct stomp_conn *c)
{
	ev_timer_stop(c->loop, &c->retry);
	teardown(c);
	stomp_parser_free(&c->parser);
	free(c->out);
	c->out = NULL;
}
