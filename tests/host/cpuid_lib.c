// SPDX-License-Identifier: MIT
/*
 * A library test_exec_cpuid dlopen()s after it started: CPUID in its
 * constructor, which runs inside dlopen, and in a function it exports.
 */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT uint32_t cpuid_lib_ctor[4];
EXPORT const uint8_t *cpuid_lib_ctor_site;

/* CPUID @leaf/@sub into @r; the address of the instruction. */
static const uint8_t *do_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	const uint8_t *site;

	__asm__ volatile("lea 1f(%%rip), %4\n1:\tcpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]), "=&r"(site)
			 : "0"(leaf), "2"(sub));
	return site;
}

EXPORT const uint8_t *cpuid_lib(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	return do_cpuid(leaf, sub, r);
}

__attribute__((constructor)) static void cpuid_lib_init(void)
{
	cpuid_lib_ctor_site = do_cpuid(0x12, 0, cpuid_lib_ctor);
}
