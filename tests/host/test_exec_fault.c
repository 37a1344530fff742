// SPDX-License-Identifier: MIT
/*
 * Exceptions inside the enclave as Linux reports them: through the vDSO's
 * run struct (function ERESUME, vector, error code, address) for #UD, #DE and
 * #PF (a write to a PROT_READ mapping, a write the EPCM refuses after
 * RESTRICT_PERMISSIONS, a read of a TRIM page, a read of an unmapped page),
 * through the user handler, and #BP as a SIGTRAP (the vDSO never fixes #BP
 * up). After each one the enclave's exception entry (EENTER at CSSA 1)
 * redirects the faulting op and ERESUME finishes it.
 * Usage: test_exec_fault ENCLAVE.sgxs ENCLAVE.sig
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "host_test.h"

#define PF 14
#define UD 6
#define DE 0
#define PF_P 0x1
#define PF_W 0x2
#define PF_U 0x4
#define PF_SGX 0x8000
#define EXITINFO_VALID 0x80000000ULL
#define EXITINFO_HW 0x300ULL

static struct encl e;

static uint64_t heap_page(unsigned int i)
{
	return e.base + ENCL_HEAP_OFFSET + i * ENCL_PAGE_SIZE;
}

/* Run @op on @tcs, expect an exception, recover; check the thread record. */
static void expect_exception(const char *what, uint64_t tcs, struct encl_op *op,
			     uint16_t vector, uint16_t error, uint64_t addr, uint64_t exitinfo)
{
	struct sgx_enclave_run run;
	struct encl_thread_rec rec = { 0 };
	int rc = encl_enter(tcs, op, &run, NULL, 0);

	bool ok = tap_ok(ht_exception(rc, &run, vector, error, addr),
			 "%s: the vDSO reports vector %u, error code 0x%x", what, vector, error);

	/* Without an exception the TCS is not in its handler: nothing to resume. */
	ok = ok && ht_recover(&run, op) && ht_thread_rec(tcs, &rec);

	tap_ok(ok && rec.exitinfo == exitinfo, "%s: the exception entry sees EXITINFO 0x%llx "
	       "(got 0x%llx), ERESUME completes the op", what, (unsigned long long)exitinfo,
	       (unsigned long long)rec.exitinfo);
}

static void test_ud_de(void)
{
	struct encl_op op = ht_op(ENCL_OP_UD2, 0, 0, 0);

	/* #UD and #DE are always reported in EXITINFO; #PF only with MISCSELECT.EXINFO. */
	expect_exception("ud2", e.tcs[0], &op, UD, 0, 0, EXITINFO_VALID | EXITINFO_HW | UD);
	op = ht_op(ENCL_OP_DIV0, 5, 0, 0);
	expect_exception("divide by zero", e.tcs[0], &op, DE, 0, 0,
			 EXITINFO_VALID | EXITINFO_HW | DE);
}

static void test_pf_prot_read(void)
{
	uint64_t page = heap_page(1);
	struct encl_op op = ht_op(ENCL_OP_WRITE, page, 0x1111, 0);

	bool ok = ht_call(e.tcs[0], &op);

	ok = ok && !mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ);
	tap_ok(ok, "mprotect(PROT_READ) of a heap page");
	/* The read maps the page, so the write faults on a present PTE: P|W|U. */
	op = ht_op(ENCL_OP_READ_WRITE, page, 0x2222, 0);
	expect_exception("write to a PROT_READ page", e.tcs[0], &op, PF, PF_P | PF_W | PF_U,
			 page, 0);
	ok = !mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ | PROT_WRITE);
	op = ht_op(ENCL_OP_READ_WRITE, page, 0x3333, 0);
	ok = ok && ht_call(e.tcs[0], &op) && op.ret == 0x1111;
	op = ht_op(ENCL_OP_READ, page, 0, 0);
	tap_ok(ok && ht_call(e.tcs[0], &op) && op.ret == 0x3333,
	       "after mprotect(RW) the page is writable and kept its data");

	/* A page not mapped yet: the CPU's error code has no P bit, W|U. */
	page = heap_page(5);
	ok = !mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ);
	op = ht_op(ENCL_OP_WRITE, page, 0x4444, 0);
	if (ok)
		expect_exception("write to a PROT_READ page not mapped yet", e.tcs[0], &op, PF,
				 PF_W | PF_U, page, 0);
	else
		tap_ok(false, "mprotect(PROT_READ) of an untouched heap page");
	mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ | PROT_WRITE);
}

static void test_pf_epcm_write(void)
{
	uint64_t page = heap_page(2);
	struct encl_op op = ht_op(ENCL_OP_WRITE, page, 0x4444, 0);
	struct sgx_enclave_run run;
	uint64_t count, result;
	int rc;

	bool ok = ht_call(e.tcs[1], &op);

	rc = ht_restrict(&e, page, ENCL_PAGE_SIZE, ENCL_SI_R, &count, &result);
	tap_ok(ok && !rc && !result && count == ENCL_PAGE_SIZE,
	       "RESTRICT_PERMISSIONS to R (rc %d, result %llu, count 0x%llx)", rc,
	       (unsigned long long)result, (unsigned long long)count);
	op = ht_op(ENCL_OP_WRITE, page, 0x5555, 0);
	rc = encl_enter(e.tcs[1], &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, PF, PF_SGX | PF_P | PF_W | PF_U, page),
	       "write to a page whose EPCM lost W: #PF 0x8007");
	/* As a runtime does: accept the restriction and extend again from another TCS. */
	ok = ht_eaccept(e.tcs[2], page, ENCL_PAGE_SIZE, ENCL_SI_REG | ENCL_SI_PR | ENCL_SI_R) == 0;
	tap_ok(ok, "EACCEPT(REG|PR|R) of the restricted page");
	struct encl_op pe = ht_op(ENCL_OP_EMODPE, page, ENCL_SI_R | ENCL_SI_W, 0);

	tap_ok(ht_call(e.tcs[2], &pe), "EMODPE(R|W) of the page");
	rc = encl_resume(&run);
	struct encl_op rd = ht_op(ENCL_OP_READ, page, 0, 0);

	tap_ok(!rc && run.function == ENCL_EEXIT && op.ret == 0 && ht_call(e.tcs[2], &rd) &&
	       rd.ret == 0x5555, "ERESUME retries the write, which now succeeds");
}

static void test_pf_trim(void)
{
	uint64_t page = heap_page(3);
	struct encl_op op = ht_op(ENCL_OP_READ, page, 0, 0);
	uint64_t count, result;
	int rc = ht_modify_types(&e, page, ENCL_PAGE_SIZE, ENCL_SI_TRIM >> 8, &count,
				  &result);

	tap_ok(!rc && !result && count == ENCL_PAGE_SIZE, "MODIFY_TYPES of a heap page "
	       "to TRIM (rc %d)", rc);
	expect_exception("read of a TRIM page", e.tcs[3], &op, PF, PF_SGX | PF_P | PF_U, page, 0);
	bool ok = ht_eaccept(e.tcs[3], page, ENCL_PAGE_SIZE, ENCL_SI_TRIM | ENCL_SI_MODIFIED) == 0;

	rc = ht_remove_pages(&e, page, ENCL_PAGE_SIZE, &count);
	tap_ok(ok && !rc && count == ENCL_PAGE_SIZE, "EACCEPT(TRIM) and REMOVE_PAGES (rc %d)",
	       rc);
}

static void test_pf_unmapped(void)
{
	uint64_t page = heap_page(4);
	struct encl_op op = ht_op(ENCL_OP_WRITE, page, 0x6666, 0);
	bool ok = ht_call(e.tcs[0], &op) && !munmap((void *)page, ENCL_PAGE_SIZE);

	tap_ok(ok, "munmap of a written heap page");
	op = ht_op(ENCL_OP_READ, page, 0, 0);
	expect_exception("read of an unmapped page", e.tcs[0], &op, PF, PF_U, page, 0);
	ok = mmap((void *)page, ENCL_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		  e.fd, 0) == (void *)page;
	op = ht_op(ENCL_OP_READ, page, 0, 0);
	tap_ok(ok && ht_call(e.tcs[0], &op) && op.ret == 0x6666,
	       "mapped again, the page still holds its data");
}

static volatile sig_atomic_t traps;
static volatile uint64_t trap_rip;

static void on_sigtrap(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	(void)sig, (void)si;
	traps++;
	trap_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
}

static void test_int3(void)
{
	struct sigaction sa, old;
	struct encl_op op = ht_op(ENCL_OP_INT3, 0, 0, 0);
	struct encl_thread_rec before, after;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigtrap;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGTRAP, &sa, &old);
	bool ok = ht_thread_rec(e.tcs[1], &before) && ht_call(e.tcs[1], &op) && op.ret == 0 &&
		  ht_thread_rec(e.tcs[1], &after);

	sigaction(SIGTRAP, &old, NULL);
	tap_ok(ok && traps == 1 && (trap_rip < e.base || trap_rip >= e.base + e.size) &&
	       after.exceptions == before.exceptions,
	       "int3: a SIGTRAP at the AEP outside the enclave (traps %d), then the enclave "
	       "resumes and returns", (int)traps);
}

static int calls;
static long rdis[4];
static uint32_t functions[4];
static uint16_t vectors[4];

/* On #UD: EENTER (exception entry), then ERESUME, then return 0. */
static int fault_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			 struct sgx_enclave_run *run)
{
	static const int next[] = { ENCL_EENTER, ENCL_ERESUME, 0, 0 };

	(void)rsi, (void)rdx, (void)rsp, (void)r8, (void)r9;
	if (calls >= 4)
		return -1;
	rdis[calls] = rdi;
	functions[calls] = run->function;
	vectors[calls] = run->exception_vector;
	if (run->user_data)
		return (int)run->user_data;
	return next[calls++];
}

static void test_user_handler(void)
{
	struct encl_op op = ht_op(ENCL_OP_UD2, 0, 0, 0);
	struct sgx_enclave_run run;
	int rc;

	calls = 0;
	rc = encl_enter(e.tcs[2], &op, &run, fault_handler, 0);
	tap_ok(rc == 0 && calls == 3 && functions[0] == ENCL_ERESUME && vectors[0] == UD &&
	       rdis[0] == UD, "user handler: called for #UD with the trap number in RDI");
	tap_ok(calls == 3 && functions[1] == ENCL_EEXIT && rdis[1] == 1 &&
	       functions[2] == ENCL_EEXIT && (uint64_t)rdis[2] == ENCL_FAULTED &&
	       op.ret == ENCL_FAULTED,
	       "user handler: its EENTER and ERESUME results re-enter the enclave");

	calls = 0;
	op = ht_op(ENCL_OP_UD2, 0, 0, 0);
	rc = encl_enter(e.tcs[2], &op, &run, fault_handler, (uint64_t)-EFAULT);
	tap_ok(rc == -EFAULT && run.exception_vector == UD,
	       "user handler: a negative result ends the call with it (rc %d)", rc);
	run.user_handler = 0;	/* resume without it */
	run.user_data = 0;
	tap_ok(ht_recover(&run, &op), "... and the TCS can still be resumed");
}

/*
 * A store that faults (the page is read-only to the host's mapping), reported
 * through the vDSO; the program makes the page writable and ERESUMEs through
 * the vDSO (trap-free under softsgx exec): the enclave's registers, flags and
 * vector registers around the store must come back exactly.
 */
static void test_resume_exact(void)
{
	uint64_t page = heap_page(3);
	struct encl_op op = ht_op(ENCL_OP_STORE_REGS, 0x5eedull << 20, page + 0x40, 0);
	struct sgx_enclave_run run;
	int rc;

	if (mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ)) {
		tap_ok(false, "mprotect(PROT_READ) of a heap page");
		return;
	}
	rc = encl_enter(e.tcs[1], &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, PF, PF_P | PF_W | PF_U, page) ||
	       ht_exception(rc, &run, PF, PF_W | PF_U, page),
	       "a store to a read-only page: #PF through the vDSO");
	mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ | PROT_WRITE);
	rc = encl_resume(&run);
	tap_ok(!rc && run.function == ENCL_EEXIT && op.status == 0 &&
	       *(volatile uint64_t *)(page + 0x40) == (0x5eedull << 20),
	       "ERESUME after making it writable: the store is done, and R8-R15, RBP, "
	       "XMM0-15 and the flags are as before the fault (changed bits 0x%llx)",
	       (unsigned long long)op.status);
}

int main(int argc, char **argv)
{
	ht_start(argc, argv, &e);
	test_resume_exact();
	test_ud_de();
	test_pf_prot_read();
	test_pf_epcm_write();
	test_pf_trim();
	test_pf_unmapped();
	test_int3();
	test_user_handler();
	encl_unload(&e);
	return tap_done();
}
