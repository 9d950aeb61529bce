/*
 * fuzz_stomp.c - libFuzzer target for the STOMP 1.2 codec
 * (mqbridge/relay/stomp.c).
 *
 * Input: byte 0 picks the limits and the feeding, bytes 1-4 pick where
 * the stream is split, the rest is the stream.  The stream is parsed in
 * one piece and again in pieces; both must give the same frames, the
 * same error at the same byte, the same heart-beat count.  Each frame is
 * checked against a plain, non-incremental re-reading of its raw bytes,
 * which also checks the unescaping.  Then the stream's first bytes are
 * a server heart-beat value to negotiate, and the rest a frame that is
 * encoded, parsed back and compared.  ASan makes any out-of-bounds
 * access a crash; the checks abort().
 * Build: clang -fsanitize=fuzzer,address,undefined.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/relay/stomp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NCUTS	4

#define ASSERT(c)	do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz_stomp.c:%d: %s\n", __LINE__, #c);	\
		abort();						\
	}								\
} while (0)

/* A record of everything a run produced, to compare two runs. */
struct rec {
	unsigned char	*p;
	size_t		 n, cap;
};

static void
rec_add(struct rec *r, const void *p, size_t n)
{
	if (r->n + n > r->cap) {
		r->cap = (r->n + n) * 2;
		r->p = realloc(r->p, r->cap);
		ASSERT(r->p != NULL);
	}
	memcpy(r->p + r->n, p, n);
	r->n += n;
}

static void
rec_num(struct rec *r, uint64_t v)
{
	rec_add(r, &v, sizeof(v));
}

static void
rec_str(struct rec *r, const char *s)
{
	rec_add(r, s, strlen(s) + 1);
}

static int
is_raw(const char *cmd)
{
	return (strcmp(cmd, "CONNECT") == 0 || strcmp(cmd, "STOMP") == 0 ||
	    strcmp(cmd, "CONNECTED") == 0);
}

/* One line of s[*i, n), EOL stripped; the line must end in LF. */
static void
ref_line(const uint8_t *s, size_t n, size_t *i, size_t *start, size_t *len)
{
	const uint8_t *lf;

	lf = memchr(s + *i, '\n', n - *i);
	ASSERT(lf != NULL);
	*start = *i;
	*len = (size_t)(lf - s) - *i;
	if (*len > 0 && s[*start + *len - 1] == '\r')
		(*len)--;
	*i = (size_t)(lf - s) + 1;
}

/* The spec's unescaping, done the obvious way; the result must equal
 * the parser's string. */
static void
ref_same(const uint8_t *s, size_t n, int esc, const char *got)
{
	size_t i, k = 0;
	char c;

	for (i = 0; i < n; i++, k++) {
		c = (char)s[i];
		if (esc && c == '\\') {
			ASSERT(i + 1 < n);
			switch (s[++i]) {
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			case 'c': c = ':'; break;
			case '\\': c = '\\'; break;
			default: ASSERT(0);
			}
		}
		ASSERT(got[k] == c);
	}
	ASSERT(got[k] == '\0');
}

/* Re-read the raw bytes of one frame, leading EOLs included, and compare
 * them and the caps with what the parser returned. */
static void
check_frame(const struct stomp_limits *lim, const uint8_t *s, size_t n,
    const struct stomp_frame *f)
{
	const uint8_t *colon;
	size_t i = 0, ls, ll, h, head = 0, cl;
	int esc;

	while (i < n && (s[i] == '\n' || (s[i] == '\r' && i + 1 < n &&
	    s[i + 1] == '\n')))
		i += s[i] == '\n' ? 1 : 2;
	ref_line(s, n, &i, &ls, &ll);
	ASSERT(ll > 0 && ll <= lim->line);
	for (h = 0; h < ll; h++)
		ASSERT(s[ls + h] > ' ' && s[ls + h] < 0x7f);
	ref_same(s + ls, ll, 0, f->command);
	head += ll + 1;
	esc = !is_raw(f->command);
	for (h = 0;; h++) {
		ref_line(s, n, &i, &ls, &ll);
		if (ll == 0)
			break;
		ASSERT(ll <= lim->line && h < f->nheaders);
		head += ll + 1;
		colon = memchr(s + ls, ':', ll);
		ASSERT(colon != NULL && colon > s + ls);
		ref_same(s + ls, (size_t)(colon - s) - ls, esc,
		    f->headers[h].name);
		ref_same(colon + 1, ls + ll - (size_t)(colon + 1 - s), esc,
		    f->headers[h].value);
	}
	ASSERT(h == f->nheaders && h <= lim->headers && head <= lim->head);
	ASSERT(n >= i + 1 && s[n - 1] == '\0');
	ASSERT(f->body_len == n - 1 - i && f->body_len <= lim->body);
	ASSERT(memcmp(f->body, s + i, f->body_len) == 0);
	ASSERT(f->body[f->body_len] == '\0');
	if (stomp_header(f, "content-length") == NULL) {
		ASSERT(memchr(f->body, '\0', f->body_len) == NULL);
		return;
	}
	cl = (size_t)strtoull(stomp_header(f, "content-length"), NULL, 10);
	ASSERT(cl == f->body_len);
}

/* Parse s[0, n) in pieces ending at cuts[], the last being n. */
static void
drive(const struct stomp_limits *lim, const uint8_t *s, size_t n,
    const size_t *cuts, size_t ncuts, struct rec *r)
{
	struct stomp_parser p;
	struct stomp_frame f;
	size_t off = 0, start = 0, used, c, h;
	int ret = STOMP_MORE;

	ASSERT(stomp_parser_init(&p, lim) == 0);
	for (c = 0; c < ncuts && ret != STOMP_ERROR; c++) {
		do {
			ret = stomp_parse(&p, s + off, cuts[c] - off, &used,
			    &f);
			ASSERT(used <= cuts[c] - off);
			off += used;
			if (ret != STOMP_FRAME)
				continue;
			check_frame(lim, s + start, off - start, &f);
			start = off;
			rec_str(r, f.command);
			rec_num(r, f.nheaders);
			for (h = 0; h < f.nheaders; h++) {
				rec_str(r, f.headers[h].name);
				rec_str(r, f.headers[h].value);
			}
			rec_num(r, f.body_len);
			rec_add(r, f.body, f.body_len);
		} while (ret == STOMP_FRAME);
		if (ret == STOMP_MORE)
			ASSERT(off == cuts[c]);
	}
	rec_num(r, (uint64_t)stomp_parser_error(&p));
	rec_num(r, off);
	rec_num(r, stomp_parser_beats(&p));
	rec_num(r, (uint64_t)stomp_parser_midframe(&p));
	if (ret == STOMP_ERROR) {
		ASSERT(stomp_parser_error(&p) != STOMP_EOK);
		ASSERT(stomp_parse(&p, s, n, &used, &f) == STOMP_ERROR &&
		    used == 0);
	}
	stomp_parser_free(&p);
}

struct input {
	const uint8_t	*p;
	size_t		 left;
};

static uint8_t
take_byte(struct input *in)
{
	if (in->left == 0)
		return (0);
	in->left--;
	return (*in->p++);
}

/* A NUL-terminated string of up to max bytes, cut at an input NUL. */
static char *
take_str(struct input *in, size_t max)
{
	size_t n = take_byte(in) % (max + 1);
	char *s;

	if (n > in->left)
		n = in->left;
	s = malloc(n + 1);
	ASSERT(s != NULL);
	memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n;
	in->left -= n;
	return (s);
}

static int
encodable(const struct stomp_frame *f, int flags)
{
	size_t i;
	int raw = is_raw(f->command);

	for (i = 0; i < f->nheaders; i++) {
		if (f->headers[i].name[0] == '\0' ||
		    strcmp(f->headers[i].name, "content-length") == 0)
			return (0);
		if (raw && (strpbrk(f->headers[i].name, ":\r\n") != NULL ||
		    strpbrk(f->headers[i].value, "\r\n") != NULL))
			return (0);
	}
	return (!((flags & STOMP_ENC_NOLENGTH) && f->body != NULL &&
	    memchr(f->body, '\0', f->body_len) != NULL));
}

static void
check_parsed(const struct stomp_frame *want, const struct stomp_frame *got,
    int flags)
{
	char clen[24];
	size_t i, extra;

	extra = want->body != NULL && !(flags & STOMP_ENC_NOLENGTH);
	ASSERT(strcmp(want->command, got->command) == 0);
	ASSERT(got->nheaders == want->nheaders + extra);
	for (i = 0; i < want->nheaders; i++) {
		ASSERT(!strcmp(want->headers[i].name, got->headers[i].name));
		ASSERT(!strcmp(want->headers[i].value, got->headers[i].value));
	}
	if (extra) {
		snprintf(clen, sizeof(clen), "%zu", want->body_len);
		ASSERT(strcmp(got->headers[i].name, "content-length") == 0);
		ASSERT(strcmp(got->headers[i].value, clen) == 0);
	}
	ASSERT(got->body_len == want->body_len);
	ASSERT(want->body_len == 0 ||
	    memcmp(got->body, want->body, want->body_len) == 0);
}

/* Encode a frame made of fuzz bytes, parse it back, compare. */
static void
roundtrip(struct input *in)
{
	static const char *const cmds[] = {
		"SEND", "MESSAGE", "CONNECT", "CONNECTED", "STOMP", "ERROR",
		"ACK", "X-1"
	};
	struct stomp_hdr h[4];
	struct stomp_frame f, got;
	struct stomp_limits lim;
	struct stomp_parser p;
	char *buf;
	size_t nh, i, need, need2, used;
	uint8_t b;
	int flags;

	b = take_byte(in);
	f.command = cmds[b % 8];
	nh = (size_t)(b >> 3) % 5;
	for (i = 0; i < nh; i++) {
		h[i].name = take_str(in, 8);
		h[i].value = take_str(in, 24);
	}
	f.headers = h;
	f.nheaders = nh;
	b = take_byte(in);
	flags = b & 2 ? STOMP_ENC_NOLENGTH : 0;
	f.body = b & 1 ? in->p : NULL;
	f.body_len = b & 1 ? in->left : 0;
	if (!encodable(&f, flags)) {
		ASSERT(stomp_encode(NULL, 0, &need, &f, flags) == STOMP_EINVAL);
		goto out;
	}
	ASSERT(stomp_encode(NULL, 0, &need, &f, flags) == STOMP_ESPACE);
	buf = malloc(need);
	ASSERT(buf != NULL);
	ASSERT(stomp_encode(buf, need - 1, &need2, &f, flags) == STOMP_ESPACE);
	ASSERT(need2 == need);
	ASSERT(stomp_encode(buf, need, &need2, &f, flags) == STOMP_EOK);
	ASSERT(need2 == need && buf[need - 1] == '\0');
	lim.line = need;
	lim.headers = nh + 1;
	lim.head = need + nh + 2;
	lim.body = f.body_len + 1;
	ASSERT(stomp_parser_init(&p, &lim) == 0);
	ASSERT(stomp_parse(&p, buf, need, &used, &got) == STOMP_FRAME);
	ASSERT(used == need);
	check_parsed(&f, &got, flags);
	stomp_parser_free(&p);
	free(buf);
out:
	for (i = 0; i < nh; i++) {
		free((char *)(uintptr_t)h[i].name);
		free((char *)(uintptr_t)h[i].value);
	}
}

/* The server's heart-beat header is untrusted too: check the strict
 * parse against strtoul and the negotiation against its rule. */
static void
heartbeat(struct input *in)
{
	char *v = take_str(in, 24), *e;
	unsigned long x, y;
	uint32_t send, recv;
	int ok;

	ok = v[0] >= '0' && v[0] <= '9';
	x = strtoul(v, &e, 10);
	ok = ok && *e == ',' && e[1] >= '0' && e[1] <= '9';
	y = ok ? strtoul(e + 1, &e, 10) : 0;
	ok = ok && *e == '\0' && x <= UINT32_MAX && y <= UINT32_MAX;
	if (stomp_heartbeat_negotiate(500, 0, v, &send, &recv) != STOMP_EOK) {
		ASSERT(!ok && send == 0 && recv == 0);
	} else {
		ASSERT(ok && recv == 0);
		ASSERT(send == (y == 0 ? 0 : y > 500 ? y : 500));
	}
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct stomp_limits small = { 16, 4, 48, 32 };
	static const struct stomp_limits wide = { STOMP_LINE_MAX,
	    STOMP_HEADERS_MAX, STOMP_HEAD_MAX, 4096 };
	const struct stomp_limits *lim;
	struct rec one = { NULL, 0, 0 }, split = { NULL, 0, 0 };
	struct input in;
	size_t cuts[NCUTS + 1], one_cut[1], n, i, j, t;
	const uint8_t *s;
	uint8_t cfg;

	if (size < 1 + NCUTS)
		return (0);
	cfg = data[0];
	s = data + 1 + NCUTS;
	n = size - 1 - NCUTS;
	lim = cfg & 1 ? &small : &wide;
	for (i = 0; i < NCUTS; i++)
		cuts[i] = (size_t)data[1 + i] * n / 255;
	cuts[NCUTS] = n;
	for (i = 1; i <= NCUTS; i++)	/* insertion sort */
		for (j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
			t = cuts[j];
			cuts[j] = cuts[j - 1];
			cuts[j - 1] = t;
		}
	one_cut[0] = n;
	drive(lim, s, n, one_cut, 1, &one);
	drive(lim, s, n, cuts, NCUTS + 1, &split);
	ASSERT(one.n == split.n && memcmp(one.p, split.p, one.n) == 0);
	if (cfg & 2 && n <= 512) {
		size_t *bytes = malloc((n + 1) * sizeof(*bytes));

		ASSERT(bytes != NULL);
		for (i = 0; i <= n; i++)
			bytes[i] = i;
		split.n = 0;
		drive(lim, s, n, bytes, n + 1, &split);
		ASSERT(one.n == split.n && memcmp(one.p, split.p, one.n) == 0);
		free(bytes);
	}
	free(one.p);
	free(split.p);
	in.p = s;
	in.left = n;
	heartbeat(&in);
	roundtrip(&in);
	return (0);
}
