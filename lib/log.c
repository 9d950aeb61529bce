/*
 * log.c - leveled logging to stderr (foreground) or syslog (daemon).
 *
 * Verbosity 0 shows errors, warnings and notices of what happened (info);
 * each -v adds debug detail.  A negative verbosity (-q) keeps errors only.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static const char *log_progname = "tm_ivshmem";
static int log_verbosity;
static int log_syslog;

void
log_init(const char *progname, int verbosity, int use_syslog)
{
	const char *slash = strrchr(progname, '/');

	log_progname = slash != NULL ? slash + 1 : progname;
	log_verbosity = verbosity;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static int
log_wanted(int level)
{
	if (level <= LOG_ERR)
		return 1;
	if (log_verbosity < 0)
		return 0;
	if (level <= LOG_INFO)
		return 1;
	return log_verbosity > 0;
}

static void
log_vmsg(int level, const char *fmt, va_list ap)
{
	static const char *names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice",
		"info", "debug"
	};
	char line[1024];

	if (!log_wanted(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		syslog(level, "%s", line);
		return;
	}
	if (level == LOG_INFO)
		fprintf(stderr, "%s: %s\n", log_progname, line);
	else
		fprintf(stderr, "%s: %s: %s\n", log_progname, names[level & 7],
		    line);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

int
errbuf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return -1;
}
