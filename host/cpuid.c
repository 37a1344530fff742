// SPDX-License-Identifier: MIT
/*
 * CPUID as the emulated platform reports it, for CPUID instructions the
 * program executes itself (the Linux selftests ask leaf 0x12 for SGX2):
 * leaf 0x12 and leaf 7's SGX bits from the CPU model, everything else from
 * the real CPUID (per-CPU leaves such as APIC ids stay right).  Two ways to
 * get there, chosen by SOFTSGX_CPUID:
 *
 *   fault    CPUID faulting (ARCH_SET_CPUID): every CPUID raises SIGSEGV;
 *            the real one runs with faulting briefly off.  Faulting
 *            survives fork and is reset by exec, where the next shim turns
 *            it on again.
 *   rewrite  the CPUID instructions of the loaded code become UD2, which
 *            raises SIGILL (cpuid_patch.c), for CPUs without faulting
 *            (e.g. AMD).  The shim's own CPUID stays the real one.
 *   auto     (the default) fault where the CPU has it, else rewrite.
 *   off, 0   CPUID is the CPU's own.
 *
 * Either way RIP moves past the 2-byte instruction.
 */
#include <asm/prctl.h>
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "softsgx/cpu.h"

#ifndef ARCH_SET_CPUID
#define ARCH_SET_CPUID 0x1012
#endif

static enum { CPUID_OFF, CPUID_FAULT, CPUID_REWRITE } mode;

int shim_cpuid_init(void)
{
	const char *e = getenv("SOFTSGX_CPUID");
	bool any = !e || !*e || !strcmp(e, "auto");

	if (e && (!strcmp(e, "off") || !strcmp(e, "0")))
		return 0;
	if (!any && strcmp(e, "fault") && strcmp(e, "rewrite"))
		return -1;
	if (any || !strcmp(e, "fault")) {
		if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) == 0) {
			mode = CPUID_FAULT;
			return 0;
		}
		if (!any) {
			shim_log("softsgx: SOFTSGX_CPUID=fault: this CPU has no CPUID faulting; "
				 "CPUID is the CPU's own\n");
			return 0;
		}
	}
	if (shim_cpuid_patch_init() == 0)
		mode = CPUID_REWRITE;
	else
		shim_log("softsgx: cannot start the disassembler: CPUID is the CPU's own\n");
	return 0;
}

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	if (mode == CPUID_FAULT)
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
	if (mode == CPUID_FAULT)
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}

bool shim_cpuid_emulate(int sig, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	const uint8_t *ip = (const uint8_t *)(uintptr_t)g[REG_RIP];
	uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX], r[4];
	struct sgx_cpuid_regs m;

	if (sig == SIGSEGV) {
		if (mode != CPUID_FAULT || ip[0] != 0x0f || ip[1] != 0xa2)
			return false;
	} else if (sig == SIGILL && mode == CPUID_REWRITE && ip[0] == 0x0f && ip[1] == 0x0b) {
		if (shim_cpuid_loader_trap(uc))
			return true;
		/* A UD2 the shim did not write is the program's own. */
		if (!shim_cpuid_is_site((unsigned long)g[REG_RIP]))
			return false;
	} else {
		return false;
	}
	if (leaf == 0x12 && shim.cpu && sgx_cpu_cpuid(shim.cpu, leaf, sub, &m) == 0) {
		r[0] = m.eax; r[1] = m.ebx; r[2] = m.ecx; r[3] = m.edx;
	} else {
		real_cpuid(leaf, sub, r);
		if (leaf == 7 && sub == 0 && shim.cpu && sgx_cpu_cpuid(shim.cpu, 7, 0, &m) == 0) {
			r[1] = (r[1] & ~(1U << 2)) | m.ebx;
			r[2] = (r[2] & ~(1U << 30)) | m.ecx;
			r[3] = (r[3] & ~(1U << 1)) | m.edx;
		}
	}
	g[REG_RAX] = r[0];
	g[REG_RBX] = r[1];
	g[REG_RCX] = r[2];
	g[REG_RDX] = r[3];
	g[REG_RIP] += 2;
	return true;
}
