// SPDX-License-Identifier: MIT
/*
 * A program linked with libsoftsgx.so that happens to define a name the
 * library uses internally (here fault_gp, which every leaf calls to raise
 * #GP) must not change what the library does: the library's own calls stay
 * inside it.  Exit 0 when the library raised its #GP itself.
 */
#include <stdio.h>
#include <stdlib.h>

#include "softsgx/cpu.h"

static int taken_over;

/* Same name as the library's internal helper, different meaning. */
int fault_gp(void);
int fault_gp(void)
{
	taken_over = 1;
	return 12345;
}

int main(void)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	int err, ret, ok;

	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	cpu = sgx_cpu_create(&cfg, &err);
	if (!cpu) {
		printf("Bail out! sgx_cpu_create: %d\n", err);
		return 1;
	}
	/* EREMOVE of an address that is not page-aligned is #GP. */
	ret = sgx_eremove(cpu, (char *)sgx_cpu_section(cpu, 0, NULL, NULL) + 8);
	ok = ret == SGX_FAULT_GP && sgx_last_fault()->vector == X86_TRAP_GP && !taken_over;
	printf("1..1\n%s 1 - the library's #GP is its own (EREMOVE returned %#x%s)\n",
	       ok ? "ok" : "not ok", (unsigned int)ret,
	       taken_over ? ", the program's fault_gp() ran" : "");
	sgx_cpu_destroy(cpu);
	return ok ? 0 : 1;
}
