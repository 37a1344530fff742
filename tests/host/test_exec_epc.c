// SPDX-License-Identifier: MIT
/*
 * An enclave many times the EPC (run with a small EPC: `softsgx exec --epc 1M`
 * and the big test enclave, 16 MiB of heap): its heap written from inside,
 * read back intact from inside and through the host, then THREADS threads,
 * one TCS each, entering ITERATIONS times to rewrite and check their own
 * slice of the heap, so pages are evicted and reloaded under every thread.
 * Usage: test_exec_epc ENCLAVE.sgxs ENCLAVE.sig [THREADS] [ITERATIONS] [HEAP_KIB]
 * HEAP_KIB limits how much of the enclave's heap is used (default: all of it).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_test.h"

static struct encl e;
static uint64_t heap, heap_len;

static void test_whole_heap(void)
{
	struct encl_op fill = ht_op(ENCL_OP_FILL, heap, 0xabc, heap_len);
	struct encl_op check = ht_op(ENCL_OP_CHECK, heap, 0xabc, heap_len);
	struct encl_op again = ht_op(ENCL_OP_CHECK, heap, 0xabc, heap_len);

	tap_ok(ht_call(e.tcs[0], &fill), "every page of a %llu KiB heap written",
	       (unsigned long long)heap_len >> 10);
	bool read = ht_call(e.tcs[1], &check);

	/* Called first: the message must show the status the call left. */
	tap_ok(read && check.status == 0, "read back intact from inside (%llu bytes differ)",
	       (unsigned long long)check.status);
	tap_ok(ht_call(e.tcs[2], &again) && again.status == 0 && again.ret == check.ret,
	       "a second pass gives the same checksum");

	/* Through the host, a chunk at a time, compared with the pattern here. */
	size_t chunk = 256 * 1024, bad = 0;
	uint64_t *buf = malloc(chunk);
	bool ok = buf != NULL;

	for (uint64_t off = 0; ok && off < heap_len; off += chunk) {
		size_t n = heap_len - off < chunk ? heap_len - off : chunk;
		struct encl_op out = ht_op(ENCL_OP_COPY_OUT, heap + off, (uint64_t)buf, n);

		ok = ht_call(e.tcs[3], &out);
		for (size_t i = 0; ok && i < n / 8; i++)
			bad += buf[i] != encl_pattern(heap + off + 8 * i - e.base, 0xabc);
	}
	free(buf);
	tap_ok(ok && !bad, "copied out to the host, every word is right (%zu wrong)", bad);
}

struct worker {
	pthread_t thread;
	unsigned int idx;
	uint64_t iterations, start, len;
	uint64_t failures, entries;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (uint64_t it = 0; it < w->iterations; it++) {
		uint64_t seed = (uint64_t)w->idx << 32 | it;
		struct encl_op fill = ht_op(ENCL_OP_FILL, w->start, seed, w->len);
		struct encl_op check = ht_op(ENCL_OP_CHECK, w->start, seed, w->len);
		struct encl_op ret = ht_op(ENCL_OP_RETURN, seed, 0, 0);

		if (!ht_call(e.tcs[w->idx], &fill) || !ht_call(e.tcs[w->idx], &check) ||
		    check.status)
			w->failures++;
		for (int i = 0; i < 50; i++)
			if (!ht_call(e.tcs[w->idx], &ret) || ret.ret != (seed ^ ENCL_RETURN_MAGIC))
				w->failures++;
		w->entries += 52;
	}
	return NULL;
}

static void test_threads(unsigned int n, uint64_t iterations)
{
	struct worker w[ENCL_NR_TCS];
	uint64_t slice = heap_len / n / ENCL_PAGE_SIZE * ENCL_PAGE_SIZE, failures = 0, entries = 0;
	bool started = true;

	for (unsigned int i = 0; i < n; i++) {
		w[i] = (struct worker){ .idx = i, .iterations = iterations,
					.start = heap + i * slice, .len = slice };
		if (pthread_create(&w[i].thread, NULL, work, &w[i])) {
			started = false;
			n = i;
			break;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		failures += w[i].failures;
		entries += w[i].entries;
	}
	tap_ok(started && !failures, "%u threads, a TCS each, %llu entries rewriting and "
	       "checking their heap slices (%llu failures)", n, (unsigned long long)entries,
	       (unsigned long long)failures);

	/* The slices are intact as a whole after the threads are gone. */
	bool ok = true;

	for (unsigned int i = 0; i < n; i++) {
		struct encl_op check = ht_op(ENCL_OP_CHECK, w[i].start,
					     (uint64_t)i << 32 | (iterations - 1), slice);

		ok &= ht_call(e.tcs[0], &check) && !check.status;
	}
	tap_ok(ok, "each slice holds its thread's last pattern");
}

int main(int argc, char **argv)
{
	uint64_t threads = ht_arg(argc, argv, 3, 4), iterations = ht_arg(argc, argv, 4, 3);
	uint64_t heap_kib = ht_arg(argc, argv, 5, ~0ULL >> 10);

	ht_start(argc, argv, &e);
	heap = e.base + ENCL_HEAP_OFFSET;
	heap_len = e.added_end - ENCL_HEAP_OFFSET;
	if (heap_kib << 10 < heap_len)
		heap_len = (heap_kib << 10) & ~(ENCL_PAGE_SIZE - 1);
	if (threads < 1 || threads > e.nr_tcs || threads > ENCL_NR_TCS || !iterations ||
	    heap_len < threads * ENCL_PAGE_SIZE) {
		printf("Bail out! THREADS must be 1..%u, ITERATIONS at least 1, HEAP_KIB at "
		       "least 4 per thread\n", e.nr_tcs);
		return 1;
	}
	tap_diag("heap of %llu pages; the EPC is whatever the wrapper set (e.g. --epc 1M)",
		 (unsigned long long)heap_len / ENCL_PAGE_SIZE);
	test_whole_heap();
	test_threads((unsigned int)threads, iterations);
	encl_unload(&e);
	return tap_done();
}
