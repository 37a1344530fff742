// SPDX-License-Identifier: MIT
/*
 * The driver's messages on stderr: pr_*-style lines with the "sgx: " prefix
 * and WARN-style reports without it, as the kernel prints them.  Formatting
 * goes into a stack buffer and out with one write(2), so the fault path may
 * log too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "sgx.h"

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s", prefix);

	if (n < 0)
		return;
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (n >= (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	if (buf[n - 1] != '\n')
		buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

void sgx_pr(const char *level, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "sgx: %s", level ? level : "");
	va_start(ap, fmt);
	emit(prefix, fmt, ap);
	va_end(ap);
}

void sgx_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("WARNING: ", fmt, ap);
	va_end(ap);
}
