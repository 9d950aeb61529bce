/*
 * log.h - the one logging helper: leveled lines to stderr or syslog.
 *
 * Messages follow err(3): "progname: text", one line each.  Before
 * log_init() everything goes to stderr at LOG_INFO.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_LOG_H
#define TM_LOG_H

#include <stddef.h>
#include <syslog.h>

void	log_init(const char *progname, int verbosity, int use_syslog);
void	log_msg(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Log at LOG_ERR and exit(1): for errors before or outside the loop. */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* Format a one-line reason into buf for a caller to report; returns -1,
 * so library code can "return errbuf(err, len, ...)". */
int	errbuf(char *buf, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* TM_LOG_H */
