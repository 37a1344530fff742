/* SPDX-License-Identifier: MIT */
/*
 * Paired measurements for the benchmarks.  A ratio of two timings is only as
 * good as the moment each was taken at: a best-of-N floor from one second
 * and a best-of-N model time from another can come out faster than their
 * own lower bound on a loaded machine.  So the benchmarks take floor and
 * work as interleaved samples (floor, work, floor, work, ...), report the
 * ratio of the medians, and judge it by the spread of the per-pair ratios:
 * a run whose spread is too wide says so instead of printing a figure.
 */
#ifndef SOFTSGX_BENCH_STATS_H
#define SOFTSGX_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Per-pair ratios whose interquartile range exceeds this share of the ratio. */
#define BENCH_MAX_SPREAD 0.10

/**
 * bench_now() - the time
 *
 * Return: seconds on the monotonic clock.
 */
double bench_now(void);

/*
 * One thing to time.  @run does @iters iterations and returns the seconds
 * per iteration of its timed part (setup and teardown it excludes itself).
 */
struct bench_case {
	double (*run)(void *ctx, unsigned long iters);
	void *ctx;
};

/**
 * bench_interleave() - time @n cases in @rounds interleaved rounds
 * @cases: what to time, in the order each round runs them (put a floor just
 *         before the work it judges)
 * @n: number of cases
 * @rounds: rounds; every case is sampled once per round
 * @iters: iterations per sample
 * @samples: out, @n * @rounds seconds per iteration: case c's sample of
 *           round r is samples[c * rounds + r]
 *
 * Samples of the same round were taken moments apart, so any two cases
 * form pairs round by round (see bench_ratio()).
 */
void bench_interleave(const struct bench_case *cases, int n, int rounds, unsigned long iters,
		      double *samples);

/**
 * bench_median() - the median of @v[0..@n)
 * @v: the samples, left as they were
 * @n: how many (at least 1)
 *
 * Return: the median (the mean of the middle two for even @n).
 */
double bench_median(const double *v, int n);

/* A ratio of two paired series and how far it can be trusted. */
struct bench_ratio {
	double num, den;     /* the medians of each series */
	double ratio;        /* num / den */
	double q1, mid, q3;  /* quartiles of the per-pair ratios num[i] / den[i] */
	double spread;       /* (q3 - q1) / ratio */
	int pairs;
	bool noisy;          /* spread > BENCH_MAX_SPREAD: the ratio means little */
};

/**
 * bench_ratio() - the ratio of medians of two paired series, with its spread
 * @r: out
 * @num: numerator samples (num[i] was taken next to den[i])
 * @den: denominator samples
 * @n: pairs (at least 1)
 */
void bench_ratio(struct bench_ratio *r, const double *num, const double *den, int n);

/**
 * bench_verdict() - a ratio judged against its target, honestly
 * @r: the ratio
 * @target: the target value
 * @at_most: the target is an upper bound (else a lower bound)
 * @bound: the least the ratio can physically be (0: none); a ratio below it
 *         can only be noise
 *
 * Return: a static string: "met", "missed", "undecided (target inside the
 * IQR)", or, before any of those, a flag that the run is too noisy or
 * impossible to mean anything.
 */
const char *bench_verdict(const struct bench_ratio *r, double target, bool at_most, double bound);

/**
 * bench_fmt() - a ratio as the benchmarks print it
 * @buf: out, e.g. "1.093 [pairs: median 1.095, IQR 1.071..1.118 of 41]"
 * @len: size of @buf
 * @r: the ratio
 *
 * Return: @buf.
 */
char *bench_fmt(char *buf, size_t len, const struct bench_ratio *r);

/*
 * Machine-readable lines for bench/report.sh, printed beside the human text
 * when the environment has SOFTSGX_BENCH_RECORD=1, one per figure, fields
 * separated by tabs (the human text is free to change; these are not):
 *   @ratio ID NUM DEN RATIO Q1 Q3 PAIRS TARGET VERDICT WHAT
 *     NUM, DEN in seconds (the medians of the work and of its floor);
 *     TARGET "<=1.10", ">=0.50" or "-"; VERDICT one word: met, missed,
 *     undecided, noisy, impossible or info
 *   @value ID VALUE UNIT LO HI WHAT
 *     LO, HI a range around VALUE (its IQR or min..max; "-" if none)
 * ID is a dotted name without spaces; WHAT is free text without tabs.
 */
#define BENCH_RECORD_ENV "SOFTSGX_BENCH_RECORD"

/**
 * bench_verdict_word() - bench_verdict() as one word for a record
 * @r: the ratio
 * @target: the target (0: none, "info")
 * @at_most: the target is an upper bound
 * @bound: as for bench_verdict()
 *
 * Return: a static string: "met", "missed", "undecided", "noisy",
 * "impossible" or "info".
 */
const char *bench_verdict_word(const struct bench_ratio *r, double target, bool at_most,
			       double bound);

/**
 * bench_record_ratio() - an @ratio line on @f
 * @f: where to write it
 * @id: the figure's name
 * @what: a description
 * @r: the ratio
 * @target: the target (0: none)
 * @at_most: the target is an upper bound
 * @bound: as for bench_verdict()
 */
void bench_record_ratio(FILE *f, const char *id, const char *what, const struct bench_ratio *r,
			double target, bool at_most, double bound);

/**
 * bench_record_value() - an @value line on @f
 * @f: where to write it
 * @id: the figure's name
 * @what: a description
 * @v: the value
 * @unit: its unit, e.g. "s", "B", "pages"
 * @lo: the low end of its range, or NAN for none
 * @hi: the high end of its range, or NAN for none
 */
void bench_record_value(FILE *f, const char *id, const char *what, double v, const char *unit,
			double lo, double hi);

/**
 * bench_records() - where the records go
 *
 * Return: stdout when SOFTSGX_BENCH_RECORD=1 is in the environment, else
 * NULL, which both bench_record_*() take as "print nothing".
 */
FILE *bench_records(void);

#endif
