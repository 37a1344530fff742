// SPDX-License-Identifier: MIT
/*
 * The driver's message formatter, which the fault path uses from a signal
 * handler instead of the printf family: for every conversion the driver
 * uses it prints what snprintf prints, it truncates without overflowing,
 * and it shows an unknown conversion literally.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "sgx.h"

static size_t fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = sgx_log_format(buf, size, f, ap);
	va_end(ap);
	return n;
}

#define SAME(...)                                                           \
	do {                                                                \
		char want_[256], got_[256];                                 \
		int wn_ = snprintf(want_, sizeof(want_), __VA_ARGS__);      \
		size_t gn_ = fmt(got_, sizeof(got_), __VA_ARGS__);          \
		assert_string_equal(got_, want_);                           \
		assert_int_equal(gn_, (size_t)wn_);                         \
	} while (0)

static void test_matches_snprintf(void **state)
{
	(void)state;
	SAME("plain text");
	SAME("%d %d %d %d", 0, -1, INT_MAX, INT_MIN);
	SAME("%u %x %X", 4000000000u, 0xdeadbeefu, 0xabcu);
	SAME("EREMOVE returned %d (0x%x) and leaked", 0x4000000e, 0x4000000e);
	SAME("%ld %lu %lx", -5L, 123456789012UL, 0xfffffffffffUL);
	SAME("%lld %llu %llx", LLONG_MIN, ULLONG_MAX, 0x7f0000001000ULL);
	SAME("%zu %zx", (size_t)4096, (size_t)4096);
	SAME("[%5d] [%-5d] [%05d] [%05d] [%08x]", 42, 42, 42, -42, 0x1fu);
	SAME("[%s] [%8s] [%-8s] [%c]", "abc", "abc", "abc", 'z');
	SAME("100%% at %s:%d %s()", "encl.c", 1432, "sgx_encl_free_epc_page");
	SAME("EPC section 0x%llx-0x%llx", 0x7f685b200000ULL, 0x7f685f1fffffULL);
}

static void test_pointer_and_null_string(void **state)
{
	char got[64];
	int x;

	(void)state;
	fmt(got, sizeof(got), "%s", (const char *)NULL);
	assert_string_equal(got, "(null)");
	char want[64];

	snprintf(want, sizeof(want), "%p", (void *)&x);
	fmt(got, sizeof(got), "%p", (void *)&x);
	assert_string_equal(got, want);
}

static void test_truncation(void **state)
{
	char got[8];
	size_t n;

	(void)state;
	memset(got, 'X', sizeof(got));
	n = fmt(got, sizeof(got), "%s-%d", "abcdef", 12345);
	assert_int_equal(n, 7);
	assert_string_equal(got, "abcdef-");
	n = fmt(got, 1, "anything");
	assert_int_equal(n, 0);
	assert_string_equal(got, "");
}

static void test_unknown_conversion_literal(void **state)
{
	char got[64];

	(void)state;
	/* Built at run time so that the compiler's format check stays quiet. */
	char f[] = "a %q b %";

	fmt(got, sizeof(got), f);
	assert_string_equal(got, "a %q b %");
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_matches_snprintf),
		cmocka_unit_test(test_pointer_and_null_string),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_unknown_conversion_literal),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
