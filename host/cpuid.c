// SPDX-License-Identifier: MIT
/*
 * CPUID as the emulated platform reports it, for CPUID instructions the
 * program executes itself (the Linux selftests ask leaf 0x12 for SGX2).
 * Where the CPU has CPUID faulting (ARCH_SET_CPUID), every CPUID raises
 * SIGSEGV and the handler answers: leaf 0x12 and leaf 7's SGX bits from the
 * CPU model, everything else from the real CPUID, run with faulting briefly
 * off (per-CPU leaves such as APIC ids stay right).  Faulting survives fork
 * and is reset by exec, where the next shim turns it on again.
 * Without faulting (e.g. AMD) leaf 0x12 is not emulated: said once on stderr.
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

static bool faulting;

int shim_cpuid_init(void)
{
	const char *e = getenv("SOFTSGX_CPUID");

	if (e && *e == '0')
		return 0;
	if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) == 0)
		faulting = true;
	else if (getenv("SOFTSGX_VERBOSE"))
		shim_log("softsgx: no CPUID faulting here; CPUID leaf 0x12 is the CPU's own\n");
	return 0;
}

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
	syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}

bool shim_cpuid_emulate(ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	const uint8_t *ip = (const uint8_t *)(uintptr_t)g[REG_RIP];
	uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX], r[4];
	struct sgx_cpuid_regs m;

	if (!faulting || ip[0] != 0x0f || ip[1] != 0xa2)
		return false;
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
