/*
 * log.c - leveled logging to stderr (foreground) or syslog (daemon).
 *
 * Verbosity 0 shows errors, warnings and notices of what happened (info);
 * each -v adds debug detail.  A negative verbosity (-q) keeps errors only.
 *
 * When stderr is the journal (systemd says so in JOURNAL_STREAM, the
 * device and inode of the stream it gave us), each line starts with the
 * "<N>" priority prefix sd-daemon(3) defines, so the journal keeps the
 * levels.  TM_LOG_SYSLOG=1 in the environment sends a program's lines to
 * syslog: mqbridge --syslog sets it for the relay it starts, which has
 * no terminal of its own to log to.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/stat.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static const char *log_progname = "tm_ivshmem";
static int log_verbosity;
static int log_syslog;
static int log_journal;

/* Is stderr the stream systemd connected to the journal? */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char end;

	if (v == NULL || sscanf(v, "%ju:%ju%c", &dev, &ino, &end) != 2 ||
	    fstat(2, &st) == -1)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void
log_init(const char *progname, int verbosity, int use_syslog)
{
	const char *slash = strrchr(progname, '/'), *v;

	log_progname = slash != NULL ? slash + 1 : progname;
	log_verbosity = verbosity;
	if (!use_syslog && (v = getenv("TM_LOG_SYSLOG")) != NULL &&
	    strcmp(v, "1") == 0)
		use_syslog = 1;
	if (use_syslog && !log_syslog)
		openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = use_syslog;
	log_journal = !use_syslog && stderr_is_journal();
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
	static const char prio[][4] = {
		"<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>"
	};
	char line[1024];

	if (!log_wanted(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		syslog(level, "%s", line);
		return;
	}
	/* One write per line: the relay shares our stderr. */
	fprintf(stderr, "%s%s: %s%s%s\n", log_journal ? prio[level & 7] : "",
	    log_progname,
	    level == LOG_INFO ? "" : names[level & 7],
	    level == LOG_INFO ? "" : ": ", line);
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
