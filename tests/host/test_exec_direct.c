// SPDX-License-Identifier: MIT
/*
 * A program that executes ENCLU itself, as the Intel SGX SDK's untrusted
 * runtime, Gramine and Open Enclave do: EENTER through its own ENCLU (its
 * AEP), and an exception inside the enclave reaching its own signal handler
 * as Linux delivers it after the AEX: RIP = AEP, RAX = ERESUME, RBX = TCS,
 * the #PF address and error code in siginfo/ucontext.  The handler runs the
 * enclave's exception entry (a nested EENTER at CSSA 1) and returns with
 * RIP at the AEP, which resumes the enclave.
 * Usage: test_exec_direct ENCLAVE.sgxs ENCLAVE.sig
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "host_test.h"

uint64_t direct_enter(uint64_t tcs, void *arg);
extern char direct_aep[];

static struct encl e;

static volatile sig_atomic_t got_sig;
static volatile uint64_t got_rip, got_rax, got_rbx, got_addr, got_err;
static volatile int handler_entry_ok;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	got_sig = sig;
	got_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	got_rax = (uint64_t)uc->uc_mcontext.gregs[REG_RAX];
	got_rbx = (uint64_t)uc->uc_mcontext.gregs[REG_RBX];
	got_err = (uint64_t)uc->uc_mcontext.gregs[REG_ERR];
	got_addr = (uint64_t)(uintptr_t)si->si_addr;
	/* The exception entry: a NULL op makes the enclave redirect the fault. */
	direct_enter(got_rbx, NULL);
	handler_entry_ok = 1;
	/* Returning with RIP at the AEP (RAX = ERESUME) resumes the enclave. */
}

static void install(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, NULL);
}

static void reset(void)
{
	got_sig = 0;
	got_rip = got_rax = got_rbx = got_addr = got_err = 0;
	handler_entry_ok = 0;
}

int main(int argc, char **argv)
{
	uint64_t page;
	struct encl_op op;

	ht_start(argc, argv, &e);
	install(SIGILL);
	install(SIGSEGV);

	op = ht_op(ENCL_OP_RETURN, 21, 0, 0);
	direct_enter(e.tcs[0], &op);
	tap_ok(op.ret == (21 ^ ENCL_RETURN_MAGIC) && op.status == 0,
	       "EENTER/EEXIT through the program's own ENCLU");

	reset();
	op = ht_op(ENCL_OP_UD2, 0, 0, 0);
	direct_enter(e.tcs[1], &op);
	tap_ok(got_sig == SIGILL && got_rip == (uint64_t)(uintptr_t)direct_aep && got_rax == 3 &&
	       got_rbx == e.tcs[1],
	       "#UD in the enclave: SIGILL with RIP = AEP, RAX = ERESUME, RBX = TCS "
	       "(sig %d, rip %s, rax %llu)", (int)got_sig,
	       got_rip == (uint64_t)(uintptr_t)direct_aep ? "AEP" : "other",
	       (unsigned long long)got_rax);
	tap_ok(handler_entry_ok && op.ret == ENCL_FAULTED,
	       "the handler's nested EENTER and the return to the AEP resume the enclave");

	page = e.base + ENCL_HEAP_OFFSET;
	reset();
	op = ht_op(ENCL_OP_WRITE, page + 0x18, 1, 0);
	if (mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ)) {
		tap_ok(false, "mprotect");
	} else {
		direct_enter(e.tcs[2], &op);
		tap_ok(got_sig == SIGSEGV && got_rip == (uint64_t)(uintptr_t)direct_aep &&
		       got_rax == 3 && got_addr == page && got_err == 0x6,
		       "#PF in the enclave: SIGSEGV at the page (low 12 bits clear), error 0x6 "
		       "(W|U: the page was not mapped yet), RIP = AEP (sig %d, addr %s, err 0x%llx)", (int)got_sig,
		       got_addr == page ? "page" : "other", (unsigned long long)got_err);
		tap_ok(handler_entry_ok && op.ret == ENCL_FAULTED, "... and the enclave resumes");
		mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ | PROT_WRITE);
	}

	/*
	 * A leaf that faults (EMODPE of an address outside the enclave) takes
	 * the same way to the handler; returning from it at the AEP resumes
	 * the enclave past the leaf (its exception entry skips it).  Under
	 * softsgx exec that EMODPE is a rewritten site: the handler's frame
	 * comes from the stub, not from a kernel signal.
	 */
	reset();
	op = ht_op(ENCL_OP_EMODPE, (uint64_t)(uintptr_t)&got_sig & ~4095ULL, 3, 0);
	direct_enter(e.tcs[2], &op);
	tap_ok(got_sig == SIGSEGV && got_rip == (uint64_t)(uintptr_t)direct_aep && got_rax == 3 &&
	       handler_entry_ok && op.ret == ENCL_FAULTED,
	       "a faulting EMODPE: SIGSEGV at the AEP, and the handler's return resumes the "
	       "enclave (sig %d, rip %s, ret 0x%llx)", (int)got_sig,
	       got_rip == (uint64_t)(uintptr_t)direct_aep ? "AEP" : "other",
	       (unsigned long long)op.ret);

	op = ht_op(ENCL_OP_RETURN, 4, 0, 0);
	direct_enter(e.tcs[2], &op);
	tap_ok(op.ret == (4 ^ ENCL_RETURN_MAGIC), "the TCS works again afterwards");
	encl_unload(&e);
	return tap_done();
}
