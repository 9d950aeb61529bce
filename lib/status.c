/*
 * status.c - status files rewritten atomically, in text or in
 * Prometheus' text exposition format.
 *
 * The temporary file gets a name nobody can guess and is created with
 * O_EXCL (mkstemp), so a symlink planted in a shared directory is never
 * followed: a predictable FILE.PID.tmp would let anyone who can write
 * there make us overwrite a file of their choosing.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/status.h"

enum status_fmt
status_fmt_of(const char *path)
{
	size_t n = strlen(path);

	return n > 5 && strcmp(path + n - 5, ".prom") == 0 ? STATUS_PROM :
	    STATUS_TEXT;
}

/* A new temporary file beside path: a stream, or NULL with errno. */
static FILE *
tmp_open(const char *path, char *tmp, size_t len)
{
	static mode_t mode;
	FILE *f;
	int fd, saved;

	if (mode == 0) {
		mode = umask(0);
		umask(mode);
		mode = 0666 & ~mode;
	}
	if ((size_t)snprintf(tmp, len, "%s.XXXXXX", path) >= len) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return NULL;
	/* mkstemp makes it 0600; readers (node_exporter) expect what fopen
	 * would give. */
	if (fchmod(fd, mode) == -1 || (f = fdopen(fd, "w")) == NULL) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return NULL;
	}
	return f;
}

void
status_write(struct status_file *sf, status_fill_fn *fill, void *arg)
{
	char tmp[4096];
	FILE *f;
	int bad;

	if (sf->path == NULL)
		return;
	if ((f = tmp_open(sf->path, tmp, sizeof(tmp))) == NULL) {
		bad = errno;
		goto fail;
	}
	bad = fill(f, sf->fmt, arg) == -1 || ferror(f) ? EIO : 0;
	if (fclose(f) != 0 && bad == 0)
		bad = errno;
	if (bad == 0 && rename(tmp, sf->path) == -1)
		bad = errno;
	if (bad == 0) {
		sf->warned = 0;
		return;
	}
	unlink(tmp);
fail:
	/* Once per failure streak: the file is rewritten every second. */
	if (!sf->warned)
		log_warn("cannot write status file %s: %s; check the "
		    "directory", sf->path, strerror(bad));
	sf->warned = 1;
}

void
prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
prom_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in != '\0' && o + 3 < len; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else
			out[o++] = *in;
	}
	out[o] = '\0';
}
