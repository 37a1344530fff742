// SPDX-License-Identifier: MIT
/*
 * The pairing and statistics the benchmarks report with: rounds sample the
 * cases in order, ratios are of medians with the per-pair quartiles, and a
 * ratio is judged "met" or "missed" only when the whole IQR is on one side
 * of the target -- never when it is too spread or below its own bound.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench_stats.h"

static char order[32];
static int calls;

static double record(void *ctx, unsigned long iters)
{
	order[calls++] = *(const char *)ctx;
	return (double)iters * (calls);
}

static void interleave_alternates_floor_and_work(void **state)
{
	static const char f = 'f', w = 'w';
	const struct bench_case cases[] = { { record, (void *)&f }, { record, (void *)&w } };
	double s[6];

	(void)state;
	calls = 0;
	bench_interleave(cases, 2, 3, 2, s);
	assert_int_equal(calls, 6);
	assert_memory_equal(order, "fwfwfw", 6);
	/* Case-major: floor's rounds first, each the value of its own call. */
	assert_true(s[0] == 2 && s[1] == 6 && s[2] == 10);
	assert_true(s[3] == 4 && s[4] == 8 && s[5] == 12);
}

static void ratio_of_medians_and_quartiles(void **state)
{
	const double num[] = { 11, 12, 13, 14, 100 }, den[] = { 10, 10, 10, 10, 10 };
	struct bench_ratio r;

	(void)state;
	bench_ratio(&r, num, den, 5);
	assert_true(r.num == 13 && r.den == 10);
	assert_true(r.ratio > 1.2999 && r.ratio < 1.3001);
	/* Quartiles of 1.1 1.2 1.3 1.4 10: the outlier moves none of them. */
	assert_true(r.q1 > 1.1999 && r.q1 < 1.2001);
	assert_true(r.mid > 1.2999 && r.mid < 1.3001);
	assert_true(r.q3 > 1.3999 && r.q3 < 1.4001);
	assert_int_equal(r.pairs, 5);
	assert_true(r.noisy); /* IQR 0.2 is 15% of 1.3 */
	assert_true(bench_median(num, 4) == 12.5);
}

static struct bench_ratio tight(double lo, double mid, double hi)
{
	struct bench_ratio r = { .num = mid, .den = 1, .ratio = mid, .q1 = lo, .mid = mid,
				 .q3 = hi, .pairs = 9 };

	r.spread = (hi - lo) / mid;
	r.noisy = r.spread > BENCH_MAX_SPREAD;
	return r;
}

static void verdicts(void **state)
{
	struct bench_ratio r;

	(void)state;
	r = tight(1.05, 1.06, 1.08);
	assert_string_equal(bench_verdict(&r, 1.10, true, 1.0), "met");
	assert_string_equal(bench_verdict(&r, 1.00, true, 1.0), "missed");
	assert_string_equal(bench_verdict(&r, 1.07, true, 1.0),
			    "undecided (target inside the IQR)");
	assert_string_equal(bench_verdict(&r, 1.00, false, 0), "met");
	assert_string_equal(bench_verdict(&r, 1.10, false, 0), "missed");
	/* The run that printed an overhead of 0.92x: below its own bound. */
	r = tight(0.91, 0.92, 0.93);
	assert_non_null(strstr(bench_verdict(&r, 1.10, true, 1.0), "IMPOSSIBLE"));
	r = tight(0.9, 1.2, 1.5);
	assert_non_null(strstr(bench_verdict(&r, 1.10, true, 1.0), "NOISY"));
}

static void format(void **state)
{
	struct bench_ratio r = tight(1.071, 1.093, 1.118);
	char buf[96];

	(void)state;
	assert_string_equal(bench_fmt(buf, sizeof(buf), &r),
			    "1.093 [pairs: median 1.093, IQR 1.071..1.118 of 9]");
}

/* What bench/report.sh parses: one tab-separated line per figure. */
static void records(void **state)
{
	struct bench_ratio r = tight(1.071, 1.093, 1.118);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	r.num = 2.186e-6;
	r.den = 2e-6;
	bench_record_ratio(f, "cpu.eadd", "EADD over its work", &r, 1.20, true, 1.0);
	bench_record_ratio(f, "x.info", "no target", &r, 0, true, 0);
	r = tight(0.9, 1.2, 1.5);
	bench_record_ratio(f, "x.noisy", "wide", &r, 1.10, false, 0);
	bench_record_value(f, "drv.reclaim", "per page", 3.5e-6, "s", 3e-6, 4e-6);
	bench_record_value(f, "drv.meta", "bytes", 72, "B", NAN, NAN);
	fclose(f);
	assert_string_equal(buf,
		"@ratio\tcpu.eadd\t2.186e-06\t2e-06\t1.093\t1.071\t1.118\t9\t<=1.20\tmet\t"
		"EADD over its work\n"
		"@ratio\tx.info\t2.186e-06\t2e-06\t1.093\t1.071\t1.118\t9\t-\tinfo\tno target\n"
		"@ratio\tx.noisy\t1.2\t1\t1.2\t0.9\t1.5\t9\t>=1.10\tnoisy\twide\n"
		"@value\tdrv.reclaim\t3.5e-06\ts\t3e-06\t4e-06\tper page\n"
		"@value\tdrv.meta\t72\tB\t-\t-\tbytes\n");
	free(buf);
	/* Only when asked for: the human output stays as it was. */
	unsetenv(BENCH_RECORD_ENV);
	assert_null(bench_records());
	setenv(BENCH_RECORD_ENV, "1", 1);
	assert_ptr_equal(bench_records(), stdout);
}

static void verdict_words(void **state)
{
	struct bench_ratio r = tight(1.05, 1.06, 1.08);

	(void)state;
	assert_string_equal(bench_verdict_word(&r, 1.10, true, 1.0), "met");
	assert_string_equal(bench_verdict_word(&r, 1.00, true, 1.0), "missed");
	assert_string_equal(bench_verdict_word(&r, 1.07, true, 1.0), "undecided");
	assert_string_equal(bench_verdict_word(&r, 0, true, 0), "info");
	r = tight(0.91, 0.92, 0.93);
	assert_string_equal(bench_verdict_word(&r, 1.10, true, 1.0), "impossible");
	assert_string_equal(bench_verdict_word(&r, 0, true, 1.0), "impossible");
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(interleave_alternates_floor_and_work),
		cmocka_unit_test(ratio_of_medians_and_quartiles),
		cmocka_unit_test(verdicts),
		cmocka_unit_test(format),
		cmocka_unit_test(records),
		cmocka_unit_test(verdict_words),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
