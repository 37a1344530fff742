// SPDX-License-Identifier: MIT
/*
 * SGX2 through the uapi: the enclave grows by EACCEPTing pages of its unadded
 * area on first touch (the driver EAUGs them in its fault handler), an access
 * before EACCEPT faults with the SGX bit, pages shrink by MODIFY_TYPES(TRIM),
 * EACCEPT and REMOVE_PAGES, and a TCS built at run time (EAUG, MODIFY_TYPES to
 * TCS, EACCEPT) is entered and later removed.
 * Usage: test_exec_sgx2 ENCLAVE.sgxs ENCLAVE.sig [PAGES]
 * PAGES (default 512) is how many pages to grow by: above the EPC size to
 * make the driver page while it EAUGs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host_test.h"

#define PF 14
#define PF_READ_SGX 0x8005
#define PT_TCS (ENCL_SI_TCS >> 8)
#define PT_TRIM (ENCL_SI_TRIM >> 8)
#define ACCEPT_NEW (ENCL_SI_REG | ENCL_SI_PENDING | ENCL_SI_R | ENCL_SI_W)
#define ACCEPT_TRIM (ENCL_SI_TRIM | ENCL_SI_MODIFIED)

static struct encl e;

static int modify_types(uint64_t addr, uint64_t len, uint64_t type, uint64_t *count)
{
	uint64_t result;
	int rc = ht_modify_types(&e, addr, len, type, count, &result);

	if (rc || result)
		tap_diag("MODIFY_TYPES(%llu): rc %d, result %llu", (unsigned long long)type, rc,
			 (unsigned long long)result);
	return rc ? rc : (int)result;
}

static bool fill_check(uint64_t tcs, uint64_t addr, uint64_t len, uint64_t seed)
{
	struct encl_op fill = ht_op(ENCL_OP_FILL, addr, seed, len);
	struct encl_op check = ht_op(ENCL_OP_CHECK, addr, seed, len);

	return ht_call(tcs, &fill) && ht_call(tcs, &check) && check.status == 0;
}

static void test_grow_shrink(uint64_t pages)
{
	uint64_t start = e.base + e.added_end, len = pages * ENCL_PAGE_SIZE, count;
	int rc;

	tap_ok(ht_eaccept(e.tcs[0], start, len, ACCEPT_NEW) == 0,
	       "EACCEPT of %llu unadded pages: each first touch EAUGs it", (unsigned long long)pages);
	/* As the kernel maps an EAUGed page at once: no fault of its own at first use. */
	tap_ok(ht_page_mapped(start + len - ENCL_PAGE_SIZE),
	       "the last page accepted is mapped before the enclave uses it");
	tap_ok(fill_check(e.tcs[1], start, len, 0x5eed), "the new pages hold what is written");

	rc = modify_types(start, len, PT_TRIM, &count);
	tap_ok(!rc && count == len, "MODIFY_TYPES(TRIM) of all of them (count 0x%llx)",
	       (unsigned long long)count);
	rc = ht_remove_pages(&e, start, ENCL_PAGE_SIZE, &count);
	tap_ok(rc == -EPERM && count == 0, "REMOVE_PAGES before EACCEPT: EPERM (rc %d)", rc);
	tap_ok(ht_eaccept(e.tcs[2], start, len, ACCEPT_TRIM) == 0, "EACCEPT(TRIM|MODIFIED)");
	rc = ht_remove_pages(&e, start, len, &count);
	tap_ok(!rc && count == len, "REMOVE_PAGES of all of them (rc %d, count 0x%llx)", rc,
	       (unsigned long long)count);

	/* Removed for real: touching the first page again EAUGs a fresh zero page. */
	struct encl_op op = ht_op(ENCL_OP_READ, start, 0, 0);
	struct sgx_enclave_run run;

	rc = encl_enter(e.tcs[3], &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, PF, PF_READ_SGX, start),
	       "a read before EACCEPT: EAUG on the fault, then #PF 0x8005 (PENDING)");
	tap_ok(ht_eaccept(e.tcs[0], start, ENCL_PAGE_SIZE, ACCEPT_NEW) == 0,
	       "EACCEPT of that page from another TCS");
	rc = encl_resume(&run);
	tap_ok(!rc && run.function == ENCL_EEXIT && op.ret == 0,
	       "ERESUME: the read completes and finds zeros (ret 0x%llx)",
	       (unsigned long long)op.ret);
}

static void test_runtime_tcs(uint64_t pages)
{
	/* A slot-aligned slot past the pages the growth test used. */
	uint64_t end = e.added_end + (pages + 1) * ENCL_PAGE_SIZE;
	uint64_t slot = e.base + ((end + ENCL_SLOT_SIZE - 1) & ~(ENCL_SLOT_SIZE - 1)), count;
	struct encl_op op;
	int rc;

	bool ok = ht_eaccept(e.tcs[0], slot, ENCL_SLOT_SIZE, ACCEPT_NEW) == 0;

	op = ht_op(ENCL_OP_INIT_TCS, slot, 0, 0);
	tap_ok(ok && ht_call(e.tcs[0], &op), "a new slot EAUGed and accepted, TCS written");
	rc = modify_types(slot, ENCL_PAGE_SIZE, PT_TCS, &count);
	tap_ok(!rc && count == ENCL_PAGE_SIZE, "MODIFY_TYPES(TCS) of its first page");
	tap_ok(ht_eaccept(e.tcs[0], slot, ENCL_PAGE_SIZE, ENCL_SI_TCS | ENCL_SI_MODIFIED) == 0,
	       "EACCEPT(TCS|MODIFIED)");

	bool all = true;

	for (uint64_t i = 0; i < 100 && all; i++) {
		op = ht_op(ENCL_OP_RETURN, i, 0, 0);
		all = ht_call(slot, &op) && op.ret == (i ^ ENCL_RETURN_MAGIC);
	}
	struct encl_thread_rec rec;

	tap_ok(all && ht_thread_rec(slot, &rec) && rec.entries == 101,
	       "100 entries through the run-time TCS (entries %llu)",
	       (unsigned long long)rec.entries);

	struct sgx_enclave_run run;

	op = ht_op(ENCL_OP_UD2, 0, 0, 0);
	rc = encl_enter(slot, &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, 6, 0, 0) && ht_recover(&run, &op),
	       "an exception on the run-time TCS uses its SSA frames");

	rc = modify_types(slot, ENCL_PAGE_SIZE, PT_TRIM, &count);
	ok = !rc && ht_eaccept(e.tcs[0], slot, ENCL_PAGE_SIZE, ACCEPT_TRIM) == 0;
	rc = ht_remove_pages(&e, slot, ENCL_PAGE_SIZE, &count);
	tap_ok(ok && !rc && count == ENCL_PAGE_SIZE, "the TCS trimmed and removed");
}

int main(int argc, char **argv)
{
	uint64_t pages = ht_arg(argc, argv, 3, 512);

	ht_start(argc, argv, &e);
	if (e.added_end + (pages + 1) * ENCL_PAGE_SIZE + 2 * ENCL_SLOT_SIZE > e.size) {
		printf("Bail out! %llu pages do not fit in ELRANGE\n", (unsigned long long)pages);
		return 1;
	}
	test_grow_shrink(pages);
	test_runtime_tcs(pages);
	encl_unload(&e);
	return tap_done();
}
