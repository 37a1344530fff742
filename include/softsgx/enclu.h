/* SPDX-License-Identifier: MIT */
/*
 * ENCLU leaves as functions over a saved-register structure, so they can be
 * tested without signals; the host layer binds them to real execution (the
 * SIGILL handler for in-enclave leaves, the vDSO entry for EENTER/ERESUME, the
 * fault handlers for AEX).
 *
 * Conventions: on entry regs->rip points at the 3-byte ENCLU instruction.
 * A leaf that completes returns 0 with @regs updated as the SDM says (RIP
 * moved past ENCLU, or to the entry/exit target).  A leaf that faults returns
 * SGX_FAULT_GP or SGX_FAULT_PF, leaves @regs untouched and records the details
 * in sgx_last_fault(); inside an enclave the caller then performs the AEX.
 *
 * Everything here is async-signal-safe: no allocation, no locks, no stdio.
 */
#ifndef SOFTSGX_ENCLU_H
#define SOFTSGX_ENCLU_H

#include "cpu.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sgx_regs {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags, rip;
	uint64_t fsbase, gsbase;
};

/* The thread's extended (XSAVE, non-compacted) state image. */
struct sgx_xstate {
	void *buf;
	uint32_t size;
};

/*
 * The page tables the thread runs under.  @translate returns 0 and the
 * address backing @la (an EPC address when the page is EPC), or -1 when @la
 * is not mapped (a plain #PF, without the SGX bit).
 */
struct sgx_mmu {
	int (*translate)(void *ctx, uint64_t la, bool write, uint64_t *pa);
	void *ctx;
};

/* One logical processor (a host thread). */
struct sgx_lp {
	bool in_enclave;
	uint32_t secs_frame, tcs_frame;
	uint64_t tcs_la;
	uint64_t aep;
	uint64_t outside_fsbase, outside_gsbase;
};

void sgx_lp_init(struct sgx_lp *lp);

/**
 * sgx_enclu() - execute ENCLU on @lp with leaf regs->rax
 * @cpu: the platform
 * @lp: the logical processor
 * @mmu: its page tables
 * @regs: saved registers, updated on success
 * @xs: extended state (used by ERESUME to restore the SSA XSAVE area)
 *
 * @cpu, @lp, @mmu and @regs stand for the processor itself and must be
 * valid (a precondition, not an architectural outcome); @xs may be NULL.
 * Memory operands reach the model only as linear addresses in @regs, which
 * @mmu translates: an unmapped one is a #PF.
 *
 * Return: 0, SGX_FAULT_GP or SGX_FAULT_PF.  Leaves with an error code
 * (EGETKEY, EACCEPT, EACCEPTCOPY) put it in regs->rax and ZF, returning 0.
 */
int sgx_enclu(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
	      struct sgx_regs *regs, struct sgx_xstate *xs);

/* An event that interrupts enclave execution. */
struct sgx_exception {
	bool reported;    /* an exception the SDM reports in EXITINFO (VALID=1) */
	uint8_t vector;
	uint8_t type;     /* SGX_EXITINFO_HW_EXCEPTION or _SW_EXCEPTION */
	uint64_t addr;    /* #PF: faulting address (full, into EXINFO.MADDR) */
	uint32_t errcd;   /* #PF/#GP error code */
};

/**
 * sgx_aex() - asynchronous enclave exit of @lp
 *
 * Saves @regs and the XSAVE image into the current SSA frame (plus EXITINFO and
 * EXINFO), increments CSSA, marks the TCS inactive, and replaces @regs and @xs
 * with the synthetic state the host sees (SDM, "Enclave Exiting Events"):
 * RAX=ERESUME, RBX=TCS, RCX=RIP=AEP, RSP/RBP from URSP/URBP, the others zero,
 * extended state in INIT form.  For a #PF the address the host sees has its low
 * 12 bits cleared; *@host_addr receives it.
 *
 * @cpu, @lp and @regs must be valid; @xs, @ex and @host_addr may be NULL.
 *
 * Return: 0, or SGX_FAULT_GP when @lp is not inside an enclave.
 */
int sgx_aex(struct sgx_cpu *cpu, struct sgx_lp *lp, struct sgx_regs *regs,
	    struct sgx_xstate *xs, const struct sgx_exception *ex, uint64_t *host_addr);

/* RFLAGS.ZF, set by leaves that report an error code. */
#define X86_EFLAGS_CF (1ULL << 0)
#define X86_EFLAGS_PF (1ULL << 2)
#define X86_EFLAGS_AF (1ULL << 4)
#define X86_EFLAGS_ZF (1ULL << 6)
#define X86_EFLAGS_SF (1ULL << 7)
#define X86_EFLAGS_TF (1ULL << 8)
#define X86_EFLAGS_OF (1ULL << 11)

#ifdef __cplusplus
}
#endif

#endif
