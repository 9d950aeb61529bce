/*
 * parse.c - strict parsing of command-line values.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/parse.h"

int
is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* Digits only: strtoull alone would take "-1", " 1" and "+1". */
static int
parse_digits(const char *s, int base, uint64_t *out, char **end,
    const char **why)
{
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)s[0])) {
		*why = "not a number";
		return -1;
	}
	errno = 0;
	v = strtoull(s, end, base);
	if (errno == ERANGE) {
		*why = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    const char **why)
{
	uint64_t v;
	char *end;
	int base = 10;

	if (s != NULL && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (parse_digits(s, base, &v, &end, why) == -1)
		return -1;
	if (*end != '\0') {
		*why = "trailing characters after the number";
		return -1;
	}
	if (v < min || v > max) {
		*why = "out of range";
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_size(const char *s, int bare_shift, uint64_t *out, const char **why)
{
	uint64_t v;
	char *end;
	int shift;

	if (parse_digits(s, 10, &v, &end, why) == -1)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		shift = bare_shift;
		break;
	case 'B':
		shift = 0;
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		*why = "unknown unit (use K, M, G or T)";
		return -1;
	}
	if (*end != '\0' && toupper((unsigned char)*end) != 'B') {
		end++;
		if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
			end += strlen(end);
	} else if (*end != '\0')
		end++;
	if (*end != '\0') {
		*why = "trailing characters after the size";
		return -1;
	}
	if (shift > 0 && v > (UINT64_MAX >> shift)) {
		*why = "too large";
		return -1;
	}
	*out = v << shift;
	return 0;
}

int
parse_mode(const char *s, unsigned int *out, const char **why)
{
	uint64_t v;
	char *end;

	if (parse_digits(s, 8, &v, &end, why) == -1)
		return -1;
	if (*end != '\0' || v > 07777) {
		*why = "not an octal mode such as 0660";
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

void
parse_opt_fail(const char *opt, const char *arg, const char *why,
    const char *fix)
{
	fatal("%s %s: %s; %s", opt, arg, why, fix);
}

uint64_t
parse_opt_u64(const char *opt, const char *arg, uint64_t min, uint64_t max)
{
	const char *why;
	char fix[64];
	uint64_t v;

	if (parse_u64(arg, min, max, &v, &why) == -1) {
		snprintf(fix, sizeof(fix), "give a number from %" PRIu64
		    " to %" PRIu64, min, max);
		parse_opt_fail(opt, arg, why, fix);
	}
	return v;
}
