/*
 * parse.h - strict parsing of command-line values: sizes, numbers, modes.
 *
 * Every parser rejects empty strings, trailing garbage, signs and
 * overflow, and returns 0 on success or -1 with a short reason in *why.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_PARSE_H
#define TM_PARSE_H

#include <stdint.h>

#define PARSE_BARE_BYTES	0	/* "4096" means 4096 bytes */
#define PARSE_BARE_MIB		20	/* "4" means 4 MiB, as -m always did */

/* "64", "64K", "16T" (binary units, case-insensitive, optional "iB"/"B"). */
int	parse_size(const char *s, int bare_shift, uint64_t *out,
	    const char **why);
/* A decimal (or 0x hex) integer in [min, max]. */
int	parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    const char **why);
/* An octal file mode such as 0660, at most 07777. */
int	parse_mode(const char *s, unsigned int *out, const char **why);
/* Exit with "OPT ARG: why; fix", the one shape of a bad-value message. */
void	parse_opt_fail(const char *opt, const char *arg, const char *why,
	    const char *fix) __attribute__((noreturn));
/* parse_u64() for an option value, or exit naming the range. */
uint64_t parse_opt_u64(const char *opt, const char *arg, uint64_t min,
	    uint64_t max);
/* Power of two, non-zero. */
int	is_pow2(uint64_t v);

#endif /* TM_PARSE_H */
