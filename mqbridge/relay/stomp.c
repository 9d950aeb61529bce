/*
 * stomp.c - STOMP 1.2 frame codec: incremental parser, encoder and
 * heart-beat negotiation.
 *
 * The parser copies each frame into one buffer allocated at init, sized
 * by the caps, so a hostile peer can make it neither grow nor overflow:
 * every cap is checked before the byte that would break it is stored.
 * Header lines go byte by byte (they are short and split anywhere); the
 * body, where the volume is, goes by memcpy.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/relay/stomp.h"

enum {
	S_IDLE,		/* between frames: EOLs are heart-beats */
	S_IDLE_CR,	/* a CR between frames, its LF due */
	S_CMD,		/* in the command line */
	S_HDR,		/* in a header line, or the blank line */
	S_BODY_LEN,	/* body framed by content-length */
	S_NUL,		/* the NUL after a content-length body */
	S_BODY_NUL,	/* body up to the first NUL */
	S_READY		/* a frame is complete */
};

static const char *const reasons[] = {
	[STOMP_EOK] = "no error",
	[STOMP_ECOMMAND] = "command empty or not printable",
	[STOMP_ECTRL] = "NUL or bare CR outside a body",
	[STOMP_ELINE] = "header line too long",
	[STOMP_EHEADERS] = "too many headers",
	[STOMP_EHEAD] = "headers too large",
	[STOMP_ECOLON] = "header line without name and colon",
	[STOMP_EESCAPE] = "undefined escape sequence in header",
	[STOMP_ELENGTH] = "bad content-length",
	[STOMP_EBODY] = "body too large",
	[STOMP_ENUL] = "no NUL after body",
	[STOMP_ESPACE] = "buffer too small",
	[STOMP_EINVAL] = "invalid value"
};

const char *
stomp_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof(reasons) / sizeof(reasons[0]))
		return ("unknown error");
	return (reasons[err]);
}

/* Overflow-checked *acc += n. */
static int
add(size_t *acc, size_t n)
{
	if (n > SIZE_MAX - *acc)
		return (-1);
	*acc += n;
	return (0);
}

/* The spec leaves CONNECT (and its alias STOMP) and CONNECTED unescaped,
 * so that a 1.0 peer reads them the same way. */
static int
is_raw(const char *cmd)
{
	return (strcmp(cmd, "CONNECT") == 0 || strcmp(cmd, "STOMP") == 0 ||
	    strcmp(cmd, "CONNECTED") == 0);
}

static int
is_cmd_char(unsigned char c)
{
	return (c > ' ' && c < 0x7f);
}

int
stomp_parser_init(struct stomp_parser *p, const struct stomp_limits *lim)
{
	struct stomp_limits l = { 0, 0, 0, 0 };
	size_t hsz, total;
	unsigned char *mem;

	memset(p, 0, sizeof(*p));
	if (lim != NULL)
		l = *lim;
	if (l.line == 0)
		l.line = STOMP_LINE_MAX;
	if (l.headers == 0)
		l.headers = STOMP_HEADERS_MAX;
	if (l.head == 0)
		l.head = STOMP_HEAD_MAX;
	if (l.body == 0)
		l.body = STOMP_BODY_MAX;
	if (l.headers > SIZE_MAX / sizeof(struct stomp_hdr)) {
		errno = EINVAL;
		return (-1);
	}
	/* Header slots first, so that they are aligned; then head, body
	 * and the NUL appended after the body. */
	hsz = l.headers * sizeof(struct stomp_hdr);
	total = hsz;
	if (add(&total, l.head) == -1 || add(&total, l.body) == -1 ||
	    add(&total, 1) == -1) {
		errno = EINVAL;
		return (-1);
	}
	if ((mem = malloc(total)) == NULL)
		return (-1);
	p->lim = l;
	p->hdrs = (struct stomp_hdr *)(void *)mem;
	p->buf = mem + hsz;
	return (0);
}

void
stomp_parser_free(struct stomp_parser *p)
{
	free(p->hdrs);
	p->hdrs = NULL;
	p->buf = NULL;
}

static void
start_frame(struct stomp_parser *p)
{
	p->state = S_IDLE;
	p->nhdrs = 0;
	p->head_len = 0;
	p->line_start = 0;
	p->body_len = 0;
	p->body_want = 0;
	p->has_len = 0;
	p->escaped = 0;
	p->cr = 0;
}

void
stomp_parser_reset(struct stomp_parser *p)
{
	start_frame(p);
	p->err = STOMP_EOK;
	p->beats = 0;
}

int
stomp_parser_error(const struct stomp_parser *p)
{
	return (p->err);
}

uint64_t
stomp_parser_beats(const struct stomp_parser *p)
{
	return (p->beats);
}

int
stomp_parser_midframe(const struct stomp_parser *p)
{
	return (p->state != S_IDLE && p->state != S_IDLE_CR &&
	    p->state != S_READY);
}

static int
fail(struct stomp_parser *p, int err)
{
	p->err = err;
	return (-1);
}

/* Unescape in place; the result is never longer than the input. */
static int
unescape(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		switch (r[1]) {
		case 'r':
			*w++ = '\r';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 'c':
			*w++ = ':';
			break;
		case '\\':
			*w++ = '\\';
			break;
		default:	/* includes a backslash ending the string */
			return (-1);
		}
		r += 2;
	}
	*w = '\0';
	return (0);
}

/* Plain decimal digits only: no sign, no blanks, no overflow. */
static int
parse_length(const char *s, size_t max, size_t *out)
{
	uint64_t v = 0, d;

	if (*s == '\0')
		return (STOMP_ELENGTH);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (STOMP_ELENGTH);
		d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return (STOMP_ELENGTH);
		v = v * 10 + d;
	}
	if (v > max)
		return (STOMP_EBODY);
	*out = (size_t)v;
	return (STOMP_EOK);
}

static int
end_command(struct stomp_parser *p)
{
	size_t i;

	for (i = p->line_start; i < p->head_len; i++)
		if (!is_cmd_char(p->buf[i]))
			return (fail(p, STOMP_ECOMMAND));
	p->buf[p->head_len++] = '\0';
	p->escaped = !is_raw((const char *)p->buf);
	p->line_start = p->head_len;
	p->state = S_HDR;
	return (0);
}

static int
end_header(struct stomp_parser *p)
{
	char *name, *colon;
	int err;

	name = (char *)p->buf + p->line_start;
	p->buf[p->head_len] = '\0';
	/* An escaped colon is "\c", so the first raw one separates. */
	colon = memchr(name, ':', p->head_len - p->line_start);
	if (colon == NULL || colon == name)
		return (fail(p, STOMP_ECOLON));
	if (p->nhdrs == p->lim.headers)
		return (fail(p, STOMP_EHEADERS));
	*colon = '\0';
	if (p->escaped && (unescape(name) == -1 || unescape(colon + 1) == -1))
		return (fail(p, STOMP_EESCAPE));
	/* Later repeats are kept for the caller but ignored here, as the
	 * first occurrence is the one that counts. */
	if (!p->has_len && strcmp(name, "content-length") == 0) {
		err = parse_length(colon + 1, p->lim.body, &p->body_want);
		if (err != STOMP_EOK)
			return (fail(p, err));
		p->has_len = 1;
	}
	p->hdrs[p->nhdrs].name = name;
	p->hdrs[p->nhdrs].value = colon + 1;
	p->nhdrs++;
	p->line_start = ++p->head_len;
	return (0);
}

static int
end_line(struct stomp_parser *p)
{
	if (p->state == S_CMD)
		return (end_command(p));
	if (p->head_len > p->line_start)
		return (end_header(p));
	/* The blank line: the body starts right after the head. */
	if (!p->has_len)
		p->state = S_BODY_NUL;
	else if (p->body_want == 0)
		p->state = S_NUL;
	else
		p->state = S_BODY_LEN;
	return (0);
}

static int
head_byte(struct stomp_parser *p, unsigned char c)
{
	int bad = p->state == S_CMD ? STOMP_ECOMMAND : STOMP_ECTRL;

	if (p->cr) {
		if (c != '\n')
			return (fail(p, bad));
		p->cr = 0;
		return (end_line(p));
	}
	if (c == '\n')
		return (end_line(p));
	if (c == '\r') {
		p->cr = 1;
		return (0);
	}
	if (c == '\0')
		return (fail(p, bad));
	if (p->head_len - p->line_start >= p->lim.line)
		return (fail(p, STOMP_ELINE));
	/* Keep room for this byte and the NUL that will end its line. */
	if (p->head_len + 1 >= p->lim.head)
		return (fail(p, STOMP_EHEAD));
	p->buf[p->head_len++] = c;
	return (0);
}

static int
step(struct stomp_parser *p, unsigned char c)
{
	switch (p->state) {
	case S_IDLE:
		if (c == '\n') {
			p->beats++;
			return (0);
		}
		if (c == '\r') {
			p->state = S_IDLE_CR;
			return (0);
		}
		p->state = S_CMD;
		return (head_byte(p, c));
	case S_IDLE_CR:
		if (c != '\n')
			return (fail(p, STOMP_ECTRL));
		p->beats++;
		p->state = S_IDLE;
		return (0);
	case S_NUL:
		if (c != '\0')
			return (fail(p, STOMP_ENUL));
		p->state = S_READY;
		return (0);
	default:
		return (head_byte(p, c));
	}
}

static size_t
body_by_length(struct stomp_parser *p, const unsigned char *in, size_t n)
{
	size_t k = p->body_want - p->body_len;

	if (k > n)
		k = n;
	memcpy(p->buf + p->head_len + p->body_len, in, k);
	p->body_len += k;
	if (p->body_len == p->body_want)
		p->state = S_NUL;
	return (k);
}

/* Consumed bytes, the NUL included; on overflow, up to the first byte
 * beyond the cap, so that the error lands on the same byte however the
 * input was split. */
static size_t
body_to_nul(struct stomp_parser *p, const unsigned char *in, size_t n)
{
	const unsigned char *z;
	size_t k, room;

	z = memchr(in, '\0', n);
	k = z != NULL ? (size_t)(z - in) : n;
	room = p->lim.body - p->body_len;
	if (k > room) {
		fail(p, STOMP_EBODY);
		return (room + 1);
	}
	memcpy(p->buf + p->head_len + p->body_len, in, k);
	p->body_len += k;
	if (z == NULL)
		return (k);
	p->state = S_READY;
	return (k + 1);
}

int
stomp_parse(struct stomp_parser *p, const void *data, size_t len,
    size_t *used, struct stomp_frame *f)
{
	const unsigned char *in = data;
	size_t i = 0;

	*used = 0;
	if (p->err != STOMP_EOK)
		return (STOMP_ERROR);
	if (p->state == S_READY)
		start_frame(p);
	while (i < len && p->state != S_READY) {
		if (p->state == S_BODY_LEN)
			i += body_by_length(p, in + i, len - i);
		else if (p->state == S_BODY_NUL)
			i += body_to_nul(p, in + i, len - i);
		else
			step(p, in[i++]);
		if (p->err != STOMP_EOK) {
			*used = i;
			return (STOMP_ERROR);
		}
	}
	*used = i;
	if (p->state != S_READY)
		return (STOMP_MORE);
	p->buf[p->head_len + p->body_len] = '\0';
	f->command = (const char *)p->buf;
	f->headers = p->hdrs;
	f->nheaders = p->nhdrs;
	f->body = p->buf + p->head_len;
	f->body_len = p->body_len;
	return (STOMP_FRAME);
}

const char *
stomp_header(const struct stomp_frame *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->nheaders; i++)
		if (strcmp(f->headers[i].name, name) == 0)
			return (f->headers[i].value);
	return (NULL);
}

/* Bytes s takes on the wire. */
static size_t
wire_len(const char *s, int esc)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += esc && strchr("\\\n\r:", *s) != NULL ? 2 : 1;
	return (n);
}

static char *
put(char *w, const char *s, int esc)
{
	for (; *s != '\0'; s++) {
		if (!esc) {
			*w++ = *s;
			continue;
		}
		switch (*s) {
		case '\\':
			*w++ = '\\';
			*w++ = '\\';
			break;
		case '\n':
			*w++ = '\\';
			*w++ = 'n';
			break;
		case '\r':
			*w++ = '\\';
			*w++ = 'r';
			break;
		case ':':
			*w++ = '\\';
			*w++ = 'c';
			break;
		default:
			*w++ = *s;
		}
	}
	return (w);
}

/* What the wire cannot carry: raw frames have no escapes, so no EOL in
 * them and no colon in a name; the encoder owns content-length. */
static int
check_frame(const struct stomp_frame *f, int raw, int flags)
{
	const struct stomp_hdr *h;
	const char *s;
	size_t i;

	if (f->command == NULL || *f->command == '\0')
		return (STOMP_EINVAL);
	for (s = f->command; *s != '\0'; s++)
		if (!is_cmd_char((unsigned char)*s))
			return (STOMP_EINVAL);
	for (i = 0; i < f->nheaders; i++) {
		h = &f->headers[i];
		if (h->name == NULL || h->value == NULL || *h->name == '\0' ||
		    strcmp(h->name, "content-length") == 0)
			return (STOMP_EINVAL);
		if (raw && (strpbrk(h->name, ":\r\n") != NULL ||
		    strpbrk(h->value, "\r\n") != NULL))
			return (STOMP_EINVAL);
	}
	if (f->body == NULL && f->body_len != 0)
		return (STOMP_EINVAL);
	if ((flags & STOMP_ENC_NOLENGTH) && f->body != NULL &&
	    memchr(f->body, '\0', f->body_len) != NULL)
		return (STOMP_EINVAL);
	return (STOMP_EOK);
}

static int
frame_size(const struct stomp_frame *f, int esc, const char *clen,
    size_t *need)
{
	const struct stomp_hdr *h;
	size_t n, i;

	n = strlen(f->command) + 1;
	for (i = 0; i < f->nheaders; i++) {
		h = &f->headers[i];
		if (add(&n, wire_len(h->name, esc)) == -1 ||
		    add(&n, wire_len(h->value, esc)) == -1 || add(&n, 2) == -1)
			return (-1);
	}
	if (*clen != '\0' &&
	    add(&n, strlen("content-length:") + strlen(clen) + 1) == -1)
		return (-1);
	if (add(&n, f->body_len) == -1 || add(&n, 2) == -1)
		return (-1);
	*need = n;
	return (0);
}

int
stomp_encode(void *buf, size_t cap, size_t *need, const struct stomp_frame *f,
    int flags)
{
	const struct stomp_hdr *h;
	char clen[24] = "", *w;
	size_t i, n;
	int esc, err;

	*need = 0;
	esc = f->command != NULL && !is_raw(f->command);
	if ((err = check_frame(f, !esc, flags)) != STOMP_EOK)
		return (err);
	if (f->body != NULL && !(flags & STOMP_ENC_NOLENGTH))
		snprintf(clen, sizeof(clen), "%zu", f->body_len);
	if (frame_size(f, esc, clen, &n) == -1)
		return (STOMP_EINVAL);
	*need = n;
	if (cap < n)
		return (STOMP_ESPACE);
	w = put(buf, f->command, 0);
	*w++ = '\n';
	for (i = 0; i < f->nheaders; i++) {
		h = &f->headers[i];
		w = put(w, h->name, esc);
		*w++ = ':';
		w = put(w, h->value, esc);
		*w++ = '\n';
	}
	if (*clen != '\0') {
		w = put(w, "content-length:", 0);
		w = put(w, clen, 0);
		*w++ = '\n';
	}
	*w++ = '\n';
	if (f->body_len > 0) {
		memcpy(w, f->body, f->body_len);
		w += f->body_len;
	}
	*w = '\0';
	return (STOMP_EOK);
}

size_t
stomp_encode_beat(void *buf, size_t cap)
{
	if (cap == 0)
		return (0);
	*(char *)buf = '\n';
	return (1);
}

static int
parse_ms(const char **sp, uint32_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return (-1);
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return (-1);
	}
	*out = (uint32_t)v;
	*sp = s;
	return (0);
}

int
stomp_heartbeat_parse(const char *s, uint32_t *x, uint32_t *y)
{
	if (s == NULL || parse_ms(&s, x) == -1 || *s++ != ',' ||
	    parse_ms(&s, y) == -1 || *s != '\0')
		return (STOMP_EINVAL);
	return (STOMP_EOK);
}

static uint32_t
interval(uint32_t a, uint32_t b)
{
	if (a == 0 || b == 0)
		return (0);
	return (a > b ? a : b);
}

int
stomp_heartbeat_negotiate(uint32_t want_send, uint32_t want_recv,
    const char *server, uint32_t *send, uint32_t *recv)
{
	uint32_t sx = 0, sy = 0;

	*send = 0;
	*recv = 0;
	if (server != NULL && stomp_heartbeat_parse(server, &sx, &sy) !=
	    STOMP_EOK)
		return (STOMP_EINVAL);
	/* The server sends every sx ms and wants ours every sy ms. */
	*send = interval(want_send, sy);
	*recv = interval(want_recv, sx);
	return (STOMP_EOK);
}
