// SPDX-License-Identifier: MIT
/*
 * The shim maps a resident page itself, without the driver's fault handler,
 * when the page's PTE is recorded but its native mapping is missing: after
 * the program's own MADV_DONTNEED, or a write to a page write-protected
 * before EMODPE gave it W.  Run with SOFTSGX_TEST_MAP_RACE=1, the reclaimer
 * takes the page (zap, EBLOCK, EWB, which scrubs it in place) right before
 * that mapping, as ksgxd can at that instant.  The enclave must still see
 * its page as it left it: a read must not find EWB's zeros, and a write
 * must not land on the scrubbed copy, to be overwritten at the next ELDU.
 * Run with an EPC the enclave fits in (--epc 2M): then the only EWBs are
 * the hook's.
 * Usage: test_exec_map_race ENCLAVE.sgxs ENCLAVE.sig
 */
#include <stdio.h>
#include <sys/mman.h>

#include "host_test.h"

static struct encl e;

static uint64_t heap_page(unsigned int i)
{
	return e.base + ENCL_HEAP_OFFSET + i * ENCL_PAGE_SIZE;
}

/* Reload @page through a leaf (EMODPE without a change): the CPU model's view. */
static bool reload_by_leaf(uint64_t page)
{
	struct encl_op pe = ht_op(ENCL_OP_EMODPE, page, ENCL_SI_R | ENCL_SI_W, 0);

	return ht_call(e.tcs[1], &pe);
}

static void test_read_after_dontneed(void)
{
	uint64_t page = heap_page(0);
	struct encl_op fill = ht_op(ENCL_OP_FILL, page, 0x7ead, ENCL_PAGE_SIZE);
	struct encl_op check = ht_op(ENCL_OP_CHECK, page, 0x7ead, ENCL_PAGE_SIZE);

	tap_ok(ht_call(e.tcs[0], &fill) && ht_page_mapped(page), "a heap page written, mapped");
	tap_ok(!madvise((void *)page, ENCL_PAGE_SIZE, MADV_DONTNEED) && !ht_page_mapped(page),
	       "MADV_DONTNEED drops its native mapping (the driver keeps it resident)");
	bool ok = ht_call(e.tcs[0], &check);

	tap_ok(ok && check.status == 0,
	       "read with the reclaimer in the shim's mapping: the page as written, "
	       "not EWB's zeros (%llu bytes differ)", (unsigned long long)check.status);
}

static void test_write_after_emodpe(void)
{
	uint64_t page = heap_page(1), count = 0, result = 0;
	struct encl_op wr = ht_op(ENCL_OP_WRITE, page, 0x1111, 0);
	struct encl_op rd = ht_op(ENCL_OP_READ, page, 0, 0);
	struct encl_op pe = ht_op(ENCL_OP_EMODPE, page, ENCL_SI_R | ENCL_SI_W, 0);
	int rc;

	bool ok = ht_call(e.tcs[0], &wr);

	rc = ht_restrict(&e, page, ENCL_PAGE_SIZE, ENCL_SI_R, &count, &result);
	ok &= !rc && !result && count == ENCL_PAGE_SIZE;
	ok &= ht_eaccept(e.tcs[0], page, ENCL_PAGE_SIZE, ENCL_SI_REG | ENCL_SI_PR | ENCL_SI_R) == 0;
	tap_ok(ok && ht_page_mapped(page), "a heap page restricted to R, accepted, mapped");
	tap_ok(ht_call(e.tcs[0], &pe), "EMODPE(R|W): its mapping is write-protected still");
	wr = ht_op(ENCL_OP_WRITE, page, 0x2222, 0);
	ok = ht_call(e.tcs[0], &wr) && wr.ret != ENCL_FAULTED;
	/* The write must be in the page the driver reloads, not in a scrubbed copy. */
	ok &= reload_by_leaf(page) && ht_call(e.tcs[0], &rd);
	tap_ok(ok && rd.ret == 0x2222,
	       "a write with the reclaimer in the shim's unprotect survives the page's "
	       "reload (read 0x%llx)", (unsigned long long)rd.ret);
}

int main(int argc, char **argv)
{
	ht_start(argc, argv, &e);
	test_read_after_dontneed();
	test_write_after_emodpe();
	encl_unload(&e);
	return tap_done();
}
