/*
 * stomp_test.c - unit tests of the STOMP 1.2 codec (mqbridge/relay/stomp.c).
 *
 * "stomp_test" runs every test, "stomp_test NAME..." some, "-l" lists
 * them.  Each prints "ok NAME" or "not ok NAME: reason"; the exit status
 * is 1 if any failed.  Most parser tests describe what the parser made
 * of an input as one string and compare it with the expected one.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/relay/stomp.h"

static char why[512];		/* the running test's first failure */

static int
failf(int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (why[0] != '\0')
		return (0);
	n = snprintf(why, sizeof(why), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(why + n, sizeof(why) - (size_t)n, fmt, ap);
	va_end(ap);
	return (0);
}

static int
same(int line, const char *a, const char *b)
{
	if (a != NULL && b != NULL && strcmp(a, b) == 0)
		return (1);
	return (failf(line, "got \"%s\", want \"%s\"", a ? a : "(null)",
	    b ? b : "(null)"));
}

#define CHECK(c)	do {						\
	if (!(c)) {							\
		failf(__LINE__, "%s", #c);				\
		return;							\
	}								\
} while (0)
#define CHECK_EQ(a, b)	do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		failf(__LINE__, "%s == %s (%lld != %lld)", #a, #b, a_, b_); \
		return;							\
	}								\
} while (0)
#define CHECK_STR(a, b)	do { if (!same(__LINE__, (a), (b))) return; } while (0)

/* Strings with their lengths, so that NULs in literals count. */
#define S(lit)		lit, sizeof(lit) - 1

static const char *const errnames[] = {
	"EOK", "ECOMMAND", "ECTRL", "ELINE", "EHEADERS", "EHEAD", "ECOLON",
	"EESCAPE", "ELENGTH", "EBODY", "ENUL", "ESPACE", "EINVAL"
};

struct out {
	char	s[16384];
	size_t	n;
};

static void
out_add(struct out *o, const void *p, size_t len, int quote)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len && o->n + 5 < sizeof(o->s); i++) {
		if (quote && (c[i] < ' ' || c[i] > '~'))
			o->n += (size_t)snprintf(o->s + o->n, 5, "\\x%02x",
			    c[i]);
		else
			o->s[o->n++] = (char)c[i];
	}
	o->s[o->n] = '\0';
}

static void
out_str(struct out *o, const char *s, int quote)
{
	out_add(o, s, strlen(s), quote);
}

/* What run() saw last, beside the description it returns. */
static uint64_t last_beats;
static size_t last_errpos;
static int last_mid;

static void
describe(struct out *o, const struct stomp_frame *f)
{
	size_t i;

	out_str(o, f->command, 1);
	for (i = 0; i < f->nheaders; i++) {
		out_str(o, "[", 0);
		out_str(o, f->headers[i].name, 1);
		out_str(o, "=", 0);
		out_str(o, f->headers[i].value, 1);
		out_str(o, "]", 0);
	}
	out_str(o, "(", 0);
	out_add(o, f->body, f->body_len, 1);
	out_str(o, ")", 0);
}

/*
 * Parse in with the limits: first bytes [0, cut), then the rest in pieces
 * of step bytes (0: one piece).  Returns each frame described, then
 * "!ENAME" if the parser failed.
 */
static const char *
run(const struct stomp_limits *lim, const void *in, size_t len, size_t cut,
    size_t step)
{
	static struct out o;
	struct stomp_parser p;
	struct stomp_frame f;
	const char *b = in;
	size_t off = 0, end, used;
	int r;

	o.n = 0;
	o.s[0] = '\0';
	if (stomp_parser_init(&p, lim) == -1)
		return ("init failed");
	while (off <= len) {
		end = off < cut ? cut : step == 0 ? len : off + step;
		if (end > len)
			end = len;
		while ((r = stomp_parse(&p, b + off, end - off, &used, &f)) ==
		    STOMP_FRAME) {
			off += used;
			if (f.body[f.body_len] != '\0')
				out_str(&o, "<body not terminated>", 0);
			describe(&o, &f);
		}
		off += used;
		if (r == STOMP_ERROR) {
			out_str(&o, "!", 0);
			out_str(&o, errnames[stomp_parser_error(&p)], 0);
			last_errpos = off;
			break;
		}
		if (off == len)
			break;
	}
	last_beats = stomp_parser_beats(&p);
	last_mid = stomp_parser_midframe(&p);
	stomp_parser_free(&p);
	return (o.s);
}

/* In one piece. */
static const char *
run1(const struct stomp_limits *lim, const void *in, size_t len)
{
	return (run(lim, in, len, len, 0));
}

/*
 * Parser cases: the input, what it must give (see run()), and the beats
 * and the byte position of the error (-1: not checked).  table() runs the
 * rows of a test cut at every byte, and then fed byte by byte.
 */
#define D	{ 0, 0, 0, 0 }	/* default limits */

static const struct row {
	const char		*test;
	struct stomp_limits	 lim;
	const char		*in;
	size_t			 len;
	const char		*want;
	long			 beats, errpos;
} rows[] = {
	{ "split_every_byte", D, S("MESSAGE\ndestination:/queue/a\n"
	    "ack:ID\\cvm-1\\c1\ncontent-length:6\n\nab\0\ncd\0\n\r\nERROR\n"
	    "message:no\n\nsome text\0\n"), "MESSAGE[destination=/queue/a]"
	    "[ack=ID:vm-1:1][content-length=6](ab\\x00\\x0acd)ERROR"
	    "[message=no](some text)", 3, -1 },
	{ "several_frames", D, S("RECEIPT\nreceipt-id:1\n\n\0RECEIPT\n"
	    "receipt-id:2\n\n\0MESSAGE\n\nx\0"), "RECEIPT[receipt-id=1]()"
	    "RECEIPT[receipt-id=2]()MESSAGE(x)", 0, -1 },
	{ "heartbeats_lf", D, S("\n\nA\n\n\0\n\n\nB\n\n\0\n"), "A()B()", 6,
	    -1 },
	{ "heartbeats_lf", D, S("\n\n\n"), "", 3, -1 },
	{ "heartbeats_crlf", D, S("\r\n\r\nA\n\n\0\r\n\n"), "A()", 4, -1 },
	{ "heartbeats_crlf", D, S("\rA\n\n\0"), "!ECTRL", 0, 2 },
	{ "crlf_lines", D, S("SEND\r\ndest:/q\r\na:\r\n\r\nhi\0"),
	    "SEND[dest=/q][a=](hi)", 0, -1 },
	{ "crlf_lines", D, S("SEND\r\nx:1\n\r\n\0"), "SEND[x=1]()", 0, -1 },
	{ "binary_body", D, S("M\ncontent-length:5\n\na\0\nb\0\0"),
	    "M[content-length=5](a\\x00\\x0ab\\x00)", 0, -1 },
	{ "binary_body", D, S("M\ncontent-length:0\n\n\0"),
	    "M[content-length=0]()", 0, -1 },
	{ "binary_body", D, S("M\ncontent-length:003\n\n\0\0\0\0"),
	    "M[content-length=003](\\x00\\x00\\x00)", 0, -1 },
	{ "body_without_length", D, S("SEND\n\nhello\nworld\r\n\0\n"),
	    "SEND(hello\\x0aworld\\x0d\\x0a)", 1, -1 },
	{ "escapes", D, S("M\na\\cb:x\\ny\\rz\\\\w\\c\n\n\0"),
	    "M[a:b=x\\x0ay\\x0dz\\w:]()", 0, -1 },
	{ "escapes", D, S("M\nr:\\r\nn:\\n\nc:\\c\nb:\\\\\n\n\0"),
	    "M[r=\\x0d][n=\\x0a][c=:][b=\\]()", 0, -1 },
	/* A raw colon after the first is tolerated: brokers send them. */
	{ "escapes", D, S("M\na:b:c\n\n\0"), "M[a=b:c]()", 0, -1 },
	{ "escapes", D, S("M\n\\\\\\\\:\\\\\\c\n\n\0"), "M[\\\\=\\:]()", 0,
	    -1 },
	{ "escape_unknown", D, S("M\na:\\t\n\n\0"), "!EESCAPE", 0, 7 },
	{ "escape_unknown", D, S("M\na:x\\\n\n\0"), "!EESCAPE", 0, 7 },
	{ "escape_unknown", D, S("M\n\\x:1\n\n\0"), "!EESCAPE", 0, 7 },
	{ "escape_unknown", D, S("M\na:\\C\n\n\0"), "!EESCAPE", 0, 7 },
	{ "escape_unknown", D, S("M\nok:1\n\n\0SEND\na:\\R\n"),
	    "M[ok=1]()!EESCAPE", 0, 19 },
	{ "cap_line", { 10, 0, 0, 0 }, S("ABCDEFGHIJ\nabcd:12345\r\n\n\0"),
	    "ABCDEFGHIJ[abcd=12345]()", 0, -1 },
	{ "cap_line", { 10, 0, 0, 0 }, S("S\nabcd:123456\n"), "!ELINE", 0,
	    13 },
	{ "cap_line", { 10, 0, 0, 0 }, S("ABCDEFGHIJK\n"), "!ELINE", 0, 11 },
	{ "cap_headers", { 0, 2, 0, 0 }, S("S\na:1\nb:2\n\n\0"),
	    "S[a=1][b=2]()", 0, -1 },
	{ "cap_headers", { 0, 2, 0, 0 }, S("S\na:1\na:1\na:1\n"),
	    "!EHEADERS", 0, 14 },
	/* "SEND" + 1, "a:1" + 1, "b:2" + 1: 13 bytes. */
	{ "cap_head", { 0, 0, 13, 0 }, S("SEND\na:1\nb:2\n\n\0"),
	    "SEND[a=1][b=2]()", 0, -1 },
	{ "cap_head", { 0, 0, 13, 0 }, S("SEND\na:1\nb:23\n"), "!EHEAD", 0,
	    13 },
	{ "cap_head", { 0, 0, 13, 0 }, S("SEND\na:1\nb:2\nc\n"), "!EHEAD", 0,
	    14 },
	{ "cap_body", { 0, 0, 0, 4 }, S("S\ncontent-length:4\n\nabcd\0"),
	    "S[content-length=4](abcd)", 0, -1 },
	{ "cap_body", { 0, 0, 0, 4 }, S("S\ncontent-length:5\n"), "!EBODY",
	    0, 19 },
	{ "cap_body", { 0, 0, 0, 4 }, S("S\n\nabcd\0"), "S(abcd)", 0, -1 },
	{ "cap_body", { 0, 0, 0, 4 }, S("S\n\nabcde\0"), "!EBODY", 0, 8 },
	{ "cap_body", D, S("S\ncontent-length:65537\n"), "!EBODY", 0, 23 },
	{ "bad_length", D, S("S\ncontent-length:\n"), "!ELENGTH", 0, 18 },
	{ "bad_length", D, S("S\ncontent-length:-1\n"), "!ELENGTH", 0, 20 },
	{ "bad_length", D, S("S\ncontent-length:12a\n"), "!ELENGTH", 0, 21 },
	{ "bad_length", D, S("S\ncontent-length:+1\n"), "!ELENGTH", 0, 20 },
	{ "bad_length", D, S("S\ncontent-length: 1\n"), "!ELENGTH", 0, 20 },
	{ "bad_length", D, S("S\ncontent-length:1 \n"), "!ELENGTH", 0, 20 },
	{ "bad_length", D, S("S\ncontent-length:0x1\n"), "!ELENGTH", 0, 21 },
	{ "bad_length", D,		/* 2^64 */
	    S("S\ncontent-length:18446744073709551616\n"), "!ELENGTH", 0, 38 },
	{ "bad_length", D,		/* 2^64 - 1: a number, but too big */
	    S("S\ncontent-length:18446744073709551615\n"), "!EBODY", 0, 38 },
	{ "missing_nul", D, S("S\ncontent-length:2\n\nabX\0"), "!ENUL", 0,
	    23 },
	{ "missing_nul", D, S("S\ncontent-length:2\n\nab\n\0"), "!ENUL", 0,
	    23 },
	{ "connected_raw", D, S("CONNECTED\nsession:ID:vm-1:2\nx:a\\cb\\t\n"
	    "\n\0\n"), "CONNECTED[session=ID:vm-1:2][x=a\\cb\\t]()", 1, -1 },
	{ "connected_raw", D, S("CONNECT\nlogin:a\\\\b\n\n\0"),
	    "CONNECT[login=a\\\\b]()", 0, -1 },
	{ "connected_raw", D, S("STOMP\nlogin:a\\\\b\n\n\0"),
	    "STOMP[login=a\\\\b]()", 0, -1 },
	{ "connected_raw", D, S("CONNECTEDX\nx:a\\cb\n\n\0"),
	    "CONNECTEDX[x=a:b]()", 0, -1 },
	{ "header_no_colon", D, S("SEND\nfoo\n"), "!ECOLON", 0, 9 },
	{ "header_no_colon", D, S("SEND\n:x\n"), "!ECOLON", 0, 8 },
	{ "header_no_colon", D, S("SEND\n\\c\n"), "!ECOLON", 0, 8 },
	{ "bad_command", D, S("SE ND\n"), "!ECOMMAND", 0, 6 },
	{ "bad_command", D, S("\001X\n"), "!ECOMMAND", 0, 3 },
	{ "bad_command", D, S("\0"), "!ECOMMAND", 0, 1 },
	{ "bad_command", D, S("SEND\rX\n"), "!ECOMMAND", 0, 6 },
	{ "bad_command", D, S("S\xc3\xa9ND\n"), "!ECOMMAND", 0, 6 },
	{ "bad_command", D, S("SEND\na\0b\n"), "!ECTRL", 0, 7 },
	{ "bad_command", D, S("SEND\na:\rb\n"), "!ECTRL", 0, 9 },
	{ "bad_command", D, S("SEND\na:b\n\r\r\n"), "!ECTRL", 0, 11 },
	/* As ActiveMQ 5.17 sends them: each frame ends "\0\n". */
	{ "activemq_sample", D, S("CONNECTED\nserver:ActiveMQ/5.17.2\n"
	    "heart-beat:500,0\nsession:ID:host-1-2:1\nversion:1.2\n\n\0\n"
	    "MESSAGE\ncontent-length:3\nexpires:0\n"
	    "ack:ID\\chost-1-2\\c1\\c1\ndestination:/queue/0a0000000001\n"
	    "subscription:1\nmessage-id:ID\\chost-1-2\\c1\\c1\\c1\\c1\n\n"
	    "\x01\0\x02\0\n\n"), "CONNECTED[server=ActiveMQ/5.17.2]"
	    "[heart-beat=500,0][session=ID:host-1-2:1][version=1.2]()"
	    "MESSAGE[content-length=3][expires=0][ack=ID:host-1-2:1:1]"
	    "[destination=/queue/0a0000000001][subscription=1]"
	    "[message-id=ID:host-1-2:1:1:1:1](\\x01\\x00\\x02)", 3, -1 }
};

/* One row: if it is right in one piece, it must be right in any. */
static int
row_ok(const struct row *r, size_t cut, size_t step)
{
	const char *got;

	got = run(&r->lim, r->in, r->len, cut, step);
	if (strcmp(got, r->want) == 0 &&
	    (r->beats == -1 || last_beats == (uint64_t)r->beats) &&
	    (r->errpos == -1 || last_errpos == (size_t)r->errpos))
		return (1);
	return (failf(__LINE__, "row %zu cut %zu step %zu: got \"%s\", "
	    "%llu beats, error at %zu", (size_t)(r - rows), cut, step, got,
	    (unsigned long long)last_beats, last_errpos));
}

static void
check_row(const struct row *r)
{
	size_t cut;

	for (cut = 0; cut <= r->len; cut++)
		if (!row_ok(r, cut, 0))
			return;
	row_ok(r, 0, 1);
}

/* The rows of the test being run. */
static void
table(const char *test)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]) && why[0] == '\0'; i++)
		if (strcmp(rows[i].test, test) == 0)
			check_row(&rows[i]);
}

/* Every row of every test, fed one byte at a time. */
static void
t_byte_at_a_time(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (!row_ok(&rows[i], 0, 1))
			return;
}

static void
t_cap_line(void)
{
	static char big[8300];
	size_t n;

	/* The default, 8192 bytes: "x:" and 8190 more, then one more. */
	memcpy(big, "SEND\nx:", 7);
	memset(big + 7, 'v', 8190);
	n = 7 + 8190;
	memcpy(big + n, "\n\n", 3);
	CHECK(strncmp(run1(NULL, big, n + 3), "SEND[x=vvv", 10) == 0);
	big[n] = 'v';
	memcpy(big + n + 1, "\n\n", 3);
	CHECK_STR(run1(NULL, big, n + 4), "!ELINE");
}

static void
t_first_header_wins(void)
{
	struct stomp_parser p;
	struct stomp_frame f;
	static const char in[] = "MESSAGE\nfoo:1\nfoo:2\ncontent-length:1\n"
	    "content-length:3\ncontent-length:x\n\nA\0";
	size_t used;

	CHECK(stomp_parser_init(&p, NULL) == 0);
	CHECK_EQ(stomp_parse(&p, in, sizeof(in) - 1, &used, &f), STOMP_FRAME);
	CHECK_STR(stomp_header(&f, "foo"), "1");
	CHECK_STR(stomp_header(&f, "content-length"), "1");
	CHECK(stomp_header(&f, "bar") == NULL);
	CHECK(stomp_header(&f, "Foo") == NULL);
	CHECK_EQ(f.nheaders, 5);
	CHECK_EQ(f.body_len, 1);
	stomp_parser_free(&p);
}

static void
t_sticky_error(void)
{
	struct stomp_parser p;
	struct stomp_frame f;
	size_t used;

	CHECK(stomp_parser_init(&p, NULL) == 0);
	CHECK_EQ(stomp_parse(&p, S("SEND\nx\n\n\0"), &used, &f), STOMP_ERROR);
	CHECK_EQ(used, 7);
	CHECK_EQ(stomp_parser_error(&p), STOMP_ECOLON);
	CHECK_EQ(stomp_parse(&p, S("SEND\n\n\0"), &used, &f), STOMP_ERROR);
	CHECK_EQ(used, 0);
	stomp_parser_reset(&p);
	CHECK_EQ(stomp_parser_error(&p), STOMP_EOK);
	CHECK_EQ(stomp_parse(&p, S("SEND\n\n\0"), &used, &f), STOMP_FRAME);
	CHECK_STR(f.command, "SEND");
	stomp_parser_free(&p);
}

static void
t_midframe(void)
{
	struct stomp_parser p;
	struct stomp_frame f;
	size_t used;

	CHECK(stomp_parser_init(&p, NULL) == 0);
	CHECK_EQ(stomp_parser_midframe(&p), 0);
	CHECK_EQ(stomp_parse(&p, S("\r"), &used, &f), STOMP_MORE);
	CHECK_EQ(stomp_parser_midframe(&p), 0);
	CHECK_EQ(stomp_parse(&p, S("\nSEND\nde"), &used, &f), STOMP_MORE);
	CHECK_EQ(used, 8);
	CHECK_EQ(stomp_parser_midframe(&p), 1);
	CHECK_EQ(stomp_parse(&p, S("st:x\n\n\0\n"), &used, &f), STOMP_FRAME);
	CHECK_EQ(used, 7);
	CHECK_STR(stomp_header(&f, "dest"), "x");
	CHECK_EQ(stomp_parser_midframe(&p), 0);
	CHECK_EQ(stomp_parse(&p, S("\n"), &used, &f), STOMP_MORE);
	CHECK_EQ(stomp_parser_beats(&p), 2);
	stomp_parser_free(&p);
	CHECK_STR(run1(NULL, S("SEND\ncontent-length:2\n\nab")), "");
	CHECK_EQ(last_mid, 1);
}

static void
t_init_limits(void)
{
	struct stomp_parser p;
	struct stomp_limits l = { 0, SIZE_MAX, 0, 0 };

	errno = 0;
	CHECK_EQ(stomp_parser_init(&p, &l), -1);
	CHECK_EQ(errno, EINVAL);
	l.headers = 0;
	l.body = SIZE_MAX - 1;
	CHECK_EQ(stomp_parser_init(&p, &l), -1);
	CHECK_EQ(errno, EINVAL);
}

/* Encode f, check the exact bytes, parse them back, describe the frame. */
static const char *
roundtrip(const struct stomp_frame *f, int flags, const char *wire,
    size_t wire_len)
{
	static char buf[4096];
	size_t need;
	int err;

	if ((err = stomp_encode(buf, sizeof(buf), &need, f, flags)) !=
	    STOMP_EOK)
		return (errnames[err]);
	if (need != wire_len || memcmp(buf, wire, need) != 0)
		return ("wrong bytes");
	return (run1(NULL, buf, need));
}

static void
t_encode_roundtrip(void)
{
	static const struct stomp_hdr h[] = {
		{ "destination", "/queue/a" },
		{ "a:b\\", "x\ny\rz:" },
		{ "empty", "" }
	};
	static const unsigned char body[] = { 'b', 0, '\n', 0, 0xff };
	struct stomp_frame f = { "SEND", h, 3, body, sizeof(body) };

	CHECK_STR(roundtrip(&f, 0, S("SEND\ndestination:/queue/a\n"
	    "a\\cb\\\\:x\\ny\\rz\\c\nempty:\ncontent-length:5\n\n"
	    "b\0\n\0\xff\0")),
	    "SEND[destination=/queue/a][a:b\\=x\\x0ay\\x0dz:][empty=]"
	    "[content-length=5](b\\x00\\x0a\\x00\\xff)");
	f.nheaders = 0;
	f.body_len = 0;
	CHECK_STR(roundtrip(&f, 0, S("SEND\ncontent-length:0\n\n\0")),
	    "SEND[content-length=0]()");
	f.body = NULL;
	CHECK_STR(roundtrip(&f, 0, S("SEND\n\n\0")), "SEND()");
	f.command = "ACK";
	f.headers = &h[1];
	f.nheaders = 1;
	CHECK_STR(roundtrip(&f, 0, S("ACK\na\\cb\\\\:x\\ny\\rz\\c\n\n\0")),
	    "ACK[a:b\\=x\\x0ay\\x0dz:]()");
}

static void
t_encode_nolength(void)
{
	struct stomp_frame f = { "SEND", NULL, 0,
	    (const unsigned char *)"text", 4 };

	CHECK_STR(roundtrip(&f, STOMP_ENC_NOLENGTH, S("SEND\n\ntext\0")),
	    "SEND(text)");
	f.body = (const unsigned char *)"te\0t";
	CHECK_STR(roundtrip(&f, STOMP_ENC_NOLENGTH, S("")), "EINVAL");
}

static void
t_encode_connect_raw(void)
{
	struct stomp_hdr h[] = {
		{ "accept-version", "1.2" },
		{ "host", "/" },
		{ "passcode", "a:b\\c" },
		{ "heart-beat", "0,500" }
	};
	struct stomp_frame f = { "CONNECT", h, 4, NULL, 0 };

	CHECK_STR(roundtrip(&f, 0, S("CONNECT\naccept-version:1.2\nhost:/\n"
	    "passcode:a:b\\c\nheart-beat:0,500\n\n\0")),
	    "CONNECT[accept-version=1.2][host=/][passcode=a:b\\c]"
	    "[heart-beat=0,500]()");
	h[2].value = "a\nb";
	CHECK_STR(roundtrip(&f, 0, S("")), "EINVAL");
	h[2].value = "a\rb";
	CHECK_STR(roundtrip(&f, 0, S("")), "EINVAL");
	h[2].value = "x";
	h[2].name = "pass:code";
	CHECK_STR(roundtrip(&f, 0, S("")), "EINVAL");
	f.command = "STOMP";
	CHECK_STR(roundtrip(&f, 0, S("")), "EINVAL");
	f.command = "SEND";
	CHECK_STR(roundtrip(&f, 0, S("SEND\naccept-version:1.2\nhost:/\n"
	    "pass\\ccode:x\nheart-beat:0,500\n\n\0")),
	    "SEND[accept-version=1.2][host=/][pass:code=x]"
	    "[heart-beat=0,500]()");
}

/* Also the heart-beat encoder. */
static void
t_encode_small(void)
{
	static const struct stomp_hdr h[] = { { "a", ":" } };
	struct stomp_frame f = { "SEND", h, 1, (const unsigned char *)"xy",
	    2 };
	char buf[64];
	size_t need, want = sizeof("SEND\na:\\c\ncontent-length:2\n\nxy");
	size_t cap;

	memset(buf, '#', sizeof(buf));
	CHECK_EQ(stomp_encode(buf, 0, &need, &f, 0), STOMP_ESPACE);
	CHECK_EQ(need, want);
	CHECK_EQ(buf[0], '#');
	for (cap = 1; cap < want; cap++) {
		CHECK_EQ(stomp_encode(buf, cap, &need, &f, 0), STOMP_ESPACE);
		CHECK_EQ(need, want);
	}
	CHECK_EQ(buf[0], '#');
	CHECK_EQ(stomp_encode(NULL, 0, &need, &f, 0), STOMP_ESPACE);
	CHECK_EQ(stomp_encode(buf, want, &need, &f, 0), STOMP_EOK);
	CHECK_EQ(need, want);
	CHECK_EQ(buf[want - 1], '\0');
	CHECK_EQ(buf[want], '#');
	CHECK_EQ(stomp_encode_beat(buf, 0), 0);
	CHECK_EQ(buf[0], 'S');
	CHECK_EQ(stomp_encode_beat(buf, 1), 1);
	CHECK_EQ(buf[0], '\n');
	CHECK_EQ(buf[1], 'E');
}

static void
t_encode_invalid(void)
{
	struct stomp_hdr h[] = { { "a", "b" } };
	struct stomp_frame f = { "", h, 1, NULL, 0 };
	char buf[64];
	size_t need;

#define ENC()	stomp_encode(buf, sizeof(buf), &need, &f, 0)
	CHECK_EQ(ENC(), STOMP_EINVAL);
	f.command = "SE ND";
	CHECK_EQ(ENC(), STOMP_EINVAL);
	f.command = "SEND\n";
	CHECK_EQ(ENC(), STOMP_EINVAL);
	f.command = "SEND";
	h[0].name = "";
	CHECK_EQ(ENC(), STOMP_EINVAL);
	h[0].name = "content-length";
	CHECK_EQ(ENC(), STOMP_EINVAL);
	h[0].name = "a";
	f.body_len = 3;
	CHECK_EQ(ENC(), STOMP_EINVAL);
	f.body = (const unsigned char *)"abc";
	CHECK_EQ(ENC(), STOMP_EOK);
	f.body_len = SIZE_MAX - 10;
	CHECK_EQ(ENC(), STOMP_EINVAL);
#undef ENC
}

static void
t_heartbeat_parse(void)
{
	static const char *const bad[] = {
		"", ",", "1,", ",1", "1 ,2", "1,2 ", " 1,2", "-1,2", "+1,2",
		"1,2,3", "4294967296,0", "0,4294967296", "a,b", "1;2", "12"
	};
	uint32_t x, y;
	size_t i;

	CHECK_EQ(stomp_heartbeat_parse("0,0", &x, &y), STOMP_EOK);
	CHECK(x == 0 && y == 0);
	CHECK_EQ(stomp_heartbeat_parse("10000,500", &x, &y), STOMP_EOK);
	CHECK(x == 10000 && y == 500);
	CHECK_EQ(stomp_heartbeat_parse("4294967295,01", &x, &y), STOMP_EOK);
	CHECK(x == UINT32_MAX && y == 1);
	CHECK_EQ(stomp_heartbeat_parse(NULL, &x, &y), STOMP_EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (stomp_heartbeat_parse(bad[i], &x, &y) != STOMP_EINVAL) {
			failf(__LINE__, "accepted \"%s\"", bad[i]);
			return;
		}
}

static void
t_heartbeat_negotiate(void)
{
	static const struct {
		uint32_t	 ws, wr;
		const char	*srv;
		int		 err;
		uint32_t	 send, recv;
	} t[] = {
		{ 0, 0, "1000,1000", STOMP_EOK, 0, 0 },
		{ 1000, 0, "0,500", STOMP_EOK, 1000, 0 },
		{ 500, 1000, "2000,3000", STOMP_EOK, 3000, 2000 },
		{ 3000, 2000, "1000,500", STOMP_EOK, 3000, 2000 },
		{ 100, 100, NULL, STOMP_EOK, 0, 0 },
		{ 100, 100, "0,0", STOMP_EOK, 0, 0 },
		{ 0, 500, "500,0", STOMP_EOK, 0, 500 },	/* ActiveMQ */
		{ 30000, 10000, "5000,60000", STOMP_EOK, 60000, 10000 },
		{ 1, 1, "4294967295,4294967295", STOMP_EOK, UINT32_MAX,
		    UINT32_MAX },
		{ 100, 100, "x", STOMP_EINVAL, 0, 0 },
		{ 100, 100, "", STOMP_EINVAL, 0, 0 }
	};
	uint32_t send, recv;
	size_t i;
	int err;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		send = recv = 7;
		err = stomp_heartbeat_negotiate(t[i].ws, t[i].wr, t[i].srv,
		    &send, &recv);
		if (err != t[i].err || send != t[i].send ||
		    recv != t[i].recv) {
			failf(__LINE__, "row %zu: %d %u,%u", i, err, send,
			    recv);
			return;
		}
	}
}

static void
t_strerror(void)
{
	int i, j;

	for (i = 0; i <= STOMP_EINVAL; i++) {
		CHECK(stomp_strerror(i) != NULL && *stomp_strerror(i) != '\0');
		for (j = 0; j < i; j++)
			CHECK(strcmp(stomp_strerror(i), stomp_strerror(j)));
	}
	CHECK_STR(stomp_strerror(-1), "unknown error");
	CHECK_STR(stomp_strerror(STOMP_EINVAL + 1), "unknown error");
	CHECK_EQ(sizeof(errnames) / sizeof(errnames[0]), STOMP_EINVAL + 1);
}

static const struct {
	const char	*name;
	void		(*fn)(void);
} tests[] = {
	{ "split_every_byte", NULL },
	{ "byte_at_a_time", t_byte_at_a_time },
	{ "several_frames", NULL },
	{ "heartbeats_lf", NULL },
	{ "heartbeats_crlf", NULL },
	{ "crlf_lines", NULL },
	{ "binary_body", NULL },
	{ "body_without_length", NULL },
	{ "escapes", NULL },
	{ "escape_unknown", NULL },
	{ "cap_line", t_cap_line },
	{ "cap_headers", NULL },
	{ "cap_head", NULL },
	{ "cap_body", NULL },
	{ "bad_length", NULL },
	{ "missing_nul", NULL },
	{ "first_header_wins", t_first_header_wins },
	{ "connected_raw", NULL },
	{ "header_no_colon", NULL },
	{ "bad_command", NULL },
	{ "sticky_error", t_sticky_error },
	{ "midframe", t_midframe },
	{ "activemq_sample", NULL },
	{ "init_limits", t_init_limits },
	{ "encode_roundtrip", t_encode_roundtrip },
	{ "encode_nolength", t_encode_nolength },
	{ "encode_connect_raw", t_encode_connect_raw },
	{ "encode_small", t_encode_small },
	{ "encode_invalid", t_encode_invalid },
	{ "heartbeat_parse", t_heartbeat_parse },
	{ "heartbeat_negotiate", t_heartbeat_negotiate },
	{ "strerror", t_strerror }
};

#define NTESTS	(sizeof(tests) / sizeof(tests[0]))

static int
run_test(size_t i)
{
	why[0] = '\0';
	table(tests[i].name);
	if (tests[i].fn != NULL && why[0] == '\0')
		tests[i].fn();
	if (why[0] == '\0') {
		printf("ok %s\n", tests[i].name);
		return (0);
	}
	printf("not ok %s: %s\n", tests[i].name, why);
	return (1);
}

int
main(int argc, char **argv)
{
	size_t i;
	int a, bad = 0;

	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		for (i = 0; i < NTESTS; i++)
			printf("%s\n", tests[i].name);
		return (0);
	}
	for (i = 0; argc == 1 && i < NTESTS; i++)
		bad |= run_test(i);
	for (a = 1; a < argc; a++) {
		for (i = 0; i < NTESTS; i++)
			if (strcmp(argv[a], tests[i].name) == 0)
				break;
		if (i < NTESTS) {
			bad |= run_test(i);
			continue;
		}
		printf("not ok %s: no such test\n", argv[a]);
		bad = 1;
	}
	return (bad);
}
