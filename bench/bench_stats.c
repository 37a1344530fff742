// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_stats.h"

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_interleave(const struct bench_case *cases, int n, int rounds, unsigned long iters,
		      double *samples)
{
	for (int r = 0; r < rounds; r++)
		for (int c = 0; c < n; c++)
			samples[c * rounds + r] = cases[c].run(cases[c].ctx, iters);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The @q quantile of sorted @v (linear interpolation between neighbours). */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

static double *sorted_copy(const double *v, int n)
{
	double *s = malloc((size_t)n * sizeof(*s));

	if (!s) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return s;
}

double bench_median(const double *v, int n)
{
	double *s = sorted_copy(v, n), m = quantile(s, n, 0.5);

	free(s);
	return m;
}

void bench_ratio(struct bench_ratio *r, const double *num, const double *den, int n)
{
	double *q = malloc((size_t)n * sizeof(*q)), *s;

	if (!q) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++)
		q[i] = num[i] / den[i];
	s = sorted_copy(q, n);
	r->num = bench_median(num, n);
	r->den = bench_median(den, n);
	r->ratio = r->num / r->den;
	r->q1 = quantile(s, n, 0.25);
	r->mid = quantile(s, n, 0.5);
	r->q3 = quantile(s, n, 0.75);
	r->spread = (r->q3 - r->q1) / r->ratio;
	r->pairs = n;
	r->noisy = r->spread > BENCH_MAX_SPREAD;
	free(s);
	free(q);
}

const char *bench_verdict(const struct bench_ratio *r, double target, bool at_most, double bound)
{
	if (bound > 0 && r->ratio < bound)
		return "IMPOSSIBLE (below its own lower bound): noise, no verdict";
	if (r->noisy)
		return "NOISY (IQR wider than 10% of the ratio): no verdict";
	if (at_most ? r->q3 <= target : r->q1 >= target)
		return "met";
	if (at_most ? r->q1 > target : r->q3 < target)
		return "missed";
	return "undecided (target inside the IQR)";
}

char *bench_fmt(char *buf, size_t len, const struct bench_ratio *r)
{
	snprintf(buf, len, "%.3f [pairs: median %.3f, IQR %.3f..%.3f of %d]", r->ratio, r->mid,
		 r->q1, r->q3, r->pairs);
	return buf;
}

const char *bench_verdict_word(const struct bench_ratio *r, double target, bool at_most,
			       double bound)
{
	const char *v;

	if (bound > 0 && r->ratio < bound)
		return "impossible";
	if (target <= 0)
		return "info";
	v = bench_verdict(r, target, at_most, bound);
	if (!strncmp(v, "NOISY", 5))
		return "noisy";
	if (!strncmp(v, "undecided", 9))
		return "undecided";
	return v;
}

FILE *bench_records(void)
{
	const char *e = getenv(BENCH_RECORD_ENV);

	return e && !strcmp(e, "1") ? stdout : NULL;
}

void bench_record_ratio(FILE *f, const char *id, const char *what, const struct bench_ratio *r,
			double target, bool at_most, double bound)
{
	char t[32] = "-";

	if (!f)
		return;
	if (target > 0)
		snprintf(t, sizeof(t), "%s%.2f", at_most ? "<=" : ">=", target);
	fprintf(f, "@ratio\t%s\t%.9g\t%.9g\t%.6g\t%.6g\t%.6g\t%d\t%s\t%s\t%s\n", id, r->num,
		r->den, r->ratio, r->q1, r->q3, r->pairs, t,
		bench_verdict_word(r, target, at_most, bound), what);
	fflush(f);
}

void bench_record_value(FILE *f, const char *id, const char *what, double v, const char *unit,
			double lo, double hi)
{
	if (!f)
		return;
	fprintf(f, "@value\t%s\t%.9g\t%s\t", id, v, unit);
	if (isnan(lo) || isnan(hi))
		fprintf(f, "-\t-\t%s\n", what);
	else
		fprintf(f, "%.9g\t%.9g\t%s\n", lo, hi, what);
	fflush(f);
}
