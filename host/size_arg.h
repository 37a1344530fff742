/* SPDX-License-Identifier: MIT */
/*
 * Sizes as `softsgx exec` and the preload shim read them (--epc 16M,
 * SOFTSGX_EPC=16M): one reading for both, so that an option and its
 * environment variable can never disagree.  Header-only: the CLI and the
 * shim share no object file.
 */
#ifndef SOFTSGX_HOST_SIZE_ARG_H
#define SOFTSGX_HOST_SIZE_ARG_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Bytes: digits (C prefixes: 0x, leading 0) and an optional K, M or G
 * suffix; no sign or space.  Return 0, or -EINVAL (also when the suffix
 * would wrap the value round to a small, valid one).
 */
static inline int softsgx_parse_size(const char *s, uint64_t *out)
{
	char *end;
	int shift = 0;
	uint64_t v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (errno || *end || v > UINT64_MAX >> shift)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

#endif
