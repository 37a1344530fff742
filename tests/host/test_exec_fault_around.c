// SPDX-License-Identifier: MIT
/*
 * Fault-around (SOFTSGX_FAULT_AROUND=N): the big test enclave in a 1 MiB
 * EPC, its heap written once so that its first pages are evicted, then
 * read from inside one page per entry.  /proc/self/pagemap shows which
 * enclave pages are mapped, i.e. resident and inserted.
 * Usage: test_exec_fault_around ENCLAVE.sgxs ENCLAVE.sig AROUND
 * AROUND: the SOFTSGX_FAULT_AROUND the wrapper set (0: off).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "host_test.h"

#define SEED 0xfa17
#define RUN 16UL	/* pages of a run, well inside the heap's evicted start */

static struct encl e;
static uint64_t heap;
static int pagemap = -1;

static bool mapped(uint64_t addr)
{
	uint64_t v = 0;

	return pread(pagemap, &v, 8, (off_t)(addr / ENCL_PAGE_SIZE * 8)) == 8 && (v >> 63);
}

/* Pages of [first, first + n) mapped now. */
static unsigned long count_mapped(unsigned long first, unsigned long n)
{
	unsigned long c = 0;

	for (unsigned long p = first; p < first + n; p++)
		c += mapped(heap + p * ENCL_PAGE_SIZE);
	return c;
}

/* Read page @p of the heap from inside (one entry): its contents are right. */
static bool read_page(unsigned long p)
{
	struct encl_op op = ht_op(ENCL_OP_CHECK, heap + p * ENCL_PAGE_SIZE, SEED, ENCL_PAGE_SIZE);

	return ht_call(e.tcs[0], &op) && op.status == 0;
}

int main(int argc, char **argv)
{
	uint64_t around = ht_arg(argc, argv, 3, 0), heap_len;
	unsigned long want, got, base = 64, far = 512;
	struct encl_op fill;
	bool ok = true;

	ht_start(argc, argv, &e);
	heap = e.base + ENCL_HEAP_OFFSET;
	heap_len = e.added_end - ENCL_HEAP_OFFSET;
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap < 0 || heap_len < (far + 2 * RUN) * ENCL_PAGE_SIZE) {
		printf("Bail out! no pagemap, or a heap too small\n");
		return 1;
	}
	fill = ht_op(ENCL_OP_FILL, heap, SEED, heap_len);
	tap_ok(ht_call(e.tcs[0], &fill), "the %llu KiB heap written",
	       (unsigned long long)heap_len >> 10);
	/* Time for ksgxd to bring the free pages back over the low watermark. */
	usleep(50 * 1000);
	tap_ok(count_mapped(base, 2 * RUN) == 0 && count_mapped(far, 2 * RUN) == 0,
	       "the runs to read are evicted");

	/* Two faults in a row: the second continues a run. */
	ok = read_page(base) && read_page(base + 1);
	want = around > 1 ? around - 1 : 0;
	got = count_mapped(base + 2, RUN);
	tap_ok(ok && got == want, "a run of two faults maps the %lu pages after it (%lu)", want,
	       got);
	for (unsigned long p = base; ok && p < base + RUN; p++)
		ok = read_page(p);
	tap_ok(ok, "the run reads back intact");

	/* Faults that do not continue a run reload nothing more. */
	ok = read_page(far + RUN) && read_page(far);
	got = count_mapped(far + 1, RUN - 1) + count_mapped(far + RUN + 1, RUN - 1);
	tap_ok(ok && got == 0, "faults out of order map only their own pages (%lu more)", got);
	for (unsigned long p = far; ok && p < far + 2 * RUN; p++)
		ok = read_page(p);
	tap_ok(ok, "those pages read back intact");

	close(pagemap);
	encl_unload(&e);
	return tap_done();
}
