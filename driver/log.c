// SPDX-License-Identifier: MIT
/*
 * The driver's messages on stderr: pr_*-style lines with the "sgx: " prefix
 * and WARN-style reports without it, as the kernel prints them.
 *
 * The fault handler runs in a signal handler and can warn (EREMOVE leaks, an
 * ELDU failure), so nothing here may allocate, lock or touch stdio: the
 * printf family is not async-signal-safe.  A small formatter writes into a
 * stack buffer and the line goes out with one write(2).  It knows the
 * conversions the driver uses: %d %i %u %x %X %s %c %p %% with the l, ll, z
 * length modifiers, and '0'/'-' flags with a width.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "sgx.h"

#define LOG_LINE 512

struct out {
	char buf[LOG_LINE];
	size_t n;
};

static void put(struct out *o, char c)
{
	if (o->n < LOG_LINE - 1) /* room for the newline */
		o->buf[o->n++] = c;
}

static void puts_padded(struct out *o, const char *s, size_t len, int width, bool left, char pad)
{
	size_t fill = width > 0 && (size_t)width > len ? (size_t)width - len : 0;

	if (!left)
		while (fill--)
			put(o, pad);
	while (len--)
		put(o, *s++);
	if (left)
		while (fill--)
			put(o, ' ');
}

static void put_number(struct out *o, unsigned long long v, bool neg, unsigned int base,
		       bool upper, int width, bool left, bool zero)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = digits[v % base];
		v /= base;
	} while (v);
	if (neg) {
		if (zero && !left) { /* sign before the zero padding, as printf does */
			put(o, '-');
			width = width > 0 ? width - 1 : 0;
		} else {
			tmp[--i] = '-';
		}
	}
	puts_padded(o, tmp + i, sizeof(tmp) - i, width, left, zero && !left ? '0' : ' ');
}

/**
 * sgx_log_format() - format @fmt into @buf without allocating or locking
 * @buf: destination, always NUL-terminated
 * @size: its size, at least 1
 * @fmt: a printf format restricted to the conversions listed above
 * @ap: the arguments
 *
 * Unknown conversions are copied through literally.
 *
 * Return: the length written, excluding the NUL.
 */
size_t sgx_log_format(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o;
	size_t n;

	o.n = 0;
	for (const char *p = fmt; *p; p++) {
		bool left = false, zero = false, upper = false;
		int width = 0, lng = 0;
		unsigned long long u;
		long long s;

		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		const char *start = p++;

		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				zero = true;
			else
				break;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		for (; *p == 'l' || *p == 'z'; p++)
			lng++; /* z is size_t: long on every target we build for */
		switch (*p) {
		case 'd':
		case 'i':
			s = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
			u = s < 0 ? 0ULL - (unsigned long long)s : (unsigned long long)s;
			put_number(&o, u, s < 0, 10, false, width, left, zero);
			break;
		case 'u':
		case 'x':
		case 'X':
			u = lng >= 2 ? va_arg(ap, unsigned long long) :
			    lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			upper = *p == 'X';
			put_number(&o, u, false, *p == 'u' ? 10 : 16, upper, width, left, zero);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, 0, false, false);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			size_t len = 0;

			if (!str)
				str = "(null)";
			while (str[len])
				len++;
			puts_padded(&o, str, len, width, left, ' ');
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default: /* not ours: show it as written */
			for (const char *q = start; q <= p && *q; q++)
				put(&o, *q);
			if (!*p)
				p--;
			break;
		}
	}
	n = o.n < size - 1 ? o.n : size - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = o.buf[i];
	buf[n] = '\0';
	return n;
}

static size_t copy_str(char *dst, size_t room, const char *s)
{
	size_t n = 0;

	while (s && s[n] && n < room)
		dst[n] = s[n], n++;
	return n;
}

static void emit(const char *p1, const char *p2, const char *fmt, va_list ap)
{
	char buf[LOG_LINE + 1];
	size_t n = copy_str(buf, 64, p1);

	n += copy_str(buf + n, 64, p2);
	n += sgx_log_format(buf + n, LOG_LINE - n, fmt, ap);
	if (!n || buf[n - 1] != '\n')
		buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

void sgx_pr(const char *level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("sgx: ", level, fmt, ap);
	va_end(ap);
}

void sgx_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("WARNING: ", NULL, fmt, ap);
	va_end(ap);
}
