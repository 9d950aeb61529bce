/*
 * status.h - status files a daemon rewrites while it runs: written whole
 * into a fresh file beside their name and renamed over it, as plain text
 * or (a name ending in ".prom") in Prometheus' text exposition format,
 * for node_exporter's textfile collector.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_STATUS_H
#define TM_STATUS_H

#include <stdint.h>
#include <stdio.h>

enum status_fmt { STATUS_TEXT, STATUS_PROM };

/* One status file and its failure streak (warned once per streak). */
struct status_file {
	const char	*path;
	enum status_fmt	 fmt;
	int		 warned;
};

/* The format a name selects: ".prom" at its end is Prometheus'. */
enum status_fmt status_fmt_of(const char *path);

/* Fills f in sf->fmt; 0, or -1 on a write error. */
typedef int status_fill_fn(FILE *f, enum status_fmt, void *arg);

/*
 * Rewrite sf->path through fill: a mkstemp file beside it (a symbolic
 * link planted in a shared directory is never followed), renamed over
 * it, so a reader sees the old file or the new one, never half.  A
 * failure is logged once per streak and leaves the old file.
 */
void	status_write(struct status_file *, status_fill_fn *, void *arg);

/* Prometheus: "# HELP" and "# TYPE" lines opening one metric family. */
void	prom_family(FILE *, const char *name, const char *type,
	    const char *help);
/* A label value as the format wants it: \, " and newline escaped. */
void	prom_escape(const char *in, char *out, size_t len);

#endif /* TM_STATUS_H */
