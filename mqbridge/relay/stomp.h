/*
 * stomp.h - STOMP 1.2 frame codec: an incremental parser with hard caps,
 * an encoder into a caller's buffer, and the heart-beat helpers.
 *
 * No I/O, no clocks, no logging: the caller reads and writes the socket,
 * keeps the timers and logs stomp_strerror() of the code it got.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_STOMP_H
#define TM_STOMP_H

#include <stddef.h>
#include <stdint.h>

/* Defaults of struct stomp_limits, used for any field left 0. */
#define STOMP_LINE_MAX		8192	/* one command or header line */
#define STOMP_HEADERS_MAX	64	/* header lines in one frame */
#define STOMP_HEAD_MAX		32768	/* command and all headers */
#define STOMP_BODY_MAX		65536	/* one body */

/* What stomp_parse() returns. */
#define STOMP_MORE	0	/* all input consumed, no frame yet */
#define STOMP_FRAME	1	/* a frame is ready */
#define STOMP_ERROR	(-1)	/* protocol error: drop the connection */

enum stomp_err {
	STOMP_EOK = 0,
	STOMP_ECOMMAND,		/* command not printable ASCII, or has NUL/CR */
	STOMP_ECTRL,		/* NUL or bare CR outside a body */
	STOMP_ELINE,		/* command or header line too long */
	STOMP_EHEADERS,		/* too many headers */
	STOMP_EHEAD,		/* command and headers too large */
	STOMP_ECOLON,		/* header line without ':' or with empty name */
	STOMP_EESCAPE,		/* undefined escape sequence in a header */
	STOMP_ELENGTH,		/* content-length not a plain decimal */
	STOMP_EBODY,		/* body larger than the cap */
	STOMP_ENUL,		/* no NUL right after a content-length body */
	STOMP_ESPACE,		/* encoder: buffer too small, see *need */
	STOMP_EINVAL		/* encoder, helpers: cannot be represented */
};

struct stomp_hdr {
	const char	*name;
	const char	*value;
};

/*
 * A parsed frame points into the parser and stays valid until the next
 * stomp_parse(), stomp_parser_reset() or stomp_parser_free().  The
 * strings are NUL-terminated and unescaped; the body is followed by an
 * extra NUL not counted in body_len.  For stomp_encode() the same struct
 * describes the frame to write; body NULL means no body.
 */
struct stomp_frame {
	const char		*command;
	const struct stomp_hdr	*headers;
	size_t			 nheaders;
	const unsigned char	*body;
	size_t			 body_len;
};

/* Caps on one frame; 0 in a field means its default. */
struct stomp_limits {
	size_t	line;		/* bytes of one line, EOL excluded */
	size_t	headers;	/* header lines */
	size_t	head;		/* all lines but the blank one, +1 byte each */
	size_t	body;		/* body bytes */
};

/* The fields are private; they are here so that callers can embed it. */
struct stomp_parser {
	struct stomp_limits	 lim;
	struct stomp_hdr	*hdrs;
	unsigned char		*buf;
	size_t			 nhdrs;
	size_t			 head_len;
	size_t			 line_start;
	size_t			 body_len;
	size_t			 body_want;
	uint64_t		 beats;
	int			 state;
	int			 err;
	int			 has_len;
	int			 escaped;
	int			 cr;
};

/* 0, or -1 with errno EINVAL (limits overflow) or ENOMEM.  lim may be NULL. */
int	 stomp_parser_init(struct stomp_parser *, const struct stomp_limits *);
void	 stomp_parser_free(struct stomp_parser *);
/* Forget any partial frame and error, for a new connection. */
void	 stomp_parser_reset(struct stomp_parser *);

/*
 * Consume up to len bytes.  *used says how many were consumed: all of
 * them (STOMP_MORE), those up to and including the frame's NUL
 * (STOMP_FRAME: call again with the rest), or those up to and including
 * the offending byte (STOMP_ERROR).  After an error every call fails.
 */
int	 stomp_parse(struct stomp_parser *, const void *, size_t, size_t *,
	    struct stomp_frame *);
/* enum stomp_err of the error that stopped the parser, or 0. */
int	 stomp_parser_error(const struct stomp_parser *);
/* EOLs seen between frames: heart-beats, and the LF after each frame. */
uint64_t stomp_parser_beats(const struct stomp_parser *);
/* 1 if a frame has begun and not ended: EOF now means truncation. */
int	 stomp_parser_midframe(const struct stomp_parser *);

/* The first header of that name, or NULL. */
const char *stomp_header(const struct stomp_frame *, const char *);
/* A fixed reason string for an enum stomp_err. */
const char *stomp_strerror(int);

/* Flags of stomp_encode(). */
#define STOMP_ENC_NOLENGTH	0x1	/* no content-length: body has no NUL */

/*
 * Write the frame into buf, ending in its NUL; nothing is written unless
 * it all fits, so buf may be NULL when cap is 0.  *need is set to the
 * frame's size on success and on STOMP_ESPACE.  A body gets an automatic
 * content-length header, so callers must not pass one.  Returns
 * STOMP_EOK, STOMP_ESPACE or STOMP_EINVAL.
 */
int	 stomp_encode(void *, size_t, size_t *, const struct stomp_frame *,
	    int);
/* A heart-beat (one LF): 1, or 0 if cap is 0. */
size_t	 stomp_encode_beat(void *, size_t);

/* Parse "cx,cy" strictly (decimal milliseconds): STOMP_EOK or STOMP_EINVAL. */
int	 stomp_heartbeat_parse(const char *, uint32_t *, uint32_t *);
/*
 * Negotiate from our wanted send and receive intervals and the server's
 * CONNECTED heart-beat value (NULL if absent, meaning 0,0).  0 means no
 * beats that way.  STOMP_EOK, or STOMP_EINVAL with both set to 0.
 */
int	 stomp_heartbeat_negotiate(uint32_t, uint32_t, const char *,
	    uint32_t *, uint32_t *);

#endif /* TM_STOMP_H */
