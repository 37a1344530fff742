// SPDX-License-Identifier: MIT
/*
 * The extended state a leaf inside an enclave must leave alone: every
 * vector register this CPU has (XMM0-15; YMM0-15 with AVX; ZMM0-31 and
 * k0-k7 with AVX-512), MXCSR and the x87 control word, set by the enclave
 * before the ENCLU and checked after it, lane by lane (ENCL_OP_WIDE_REGS).
 * A trap-free stub saves only the vector registers, with plain moves, and
 * relies on its C side never touching x87 state or MXCSR; an EACCEPT whose
 * page is EAUGed on its fault goes through the stub's slow way (an XSAVE
 * image made from the saved registers, AEX, ERESUME from the SSA).  The
 * enclave whose XFRM covers the widest registers is the one used: AVX code
 * in an enclave without them in XFRM would be #UD on hardware.  Where the
 * platform offers no XFRM with AVX-512 (a CPU whose XSAVE image puts it
 * elsewhere than the SSA frame does: AMD's), ZMM and the opmasks are checked
 * in the enclave with AVX: its code runs on this CPU's registers whatever
 * XFRM says, so the stubs must keep all of them.
 * Usage: test_exec_vregs ENCL.sgxs ENCL.sig AVX.sgxs AVX.sig AVX512.sgxs AVX512.sig
 */
#include <cpuid.h>

#include "host_test.h"

#define PAGE 4096ULL
#define ROUNDS 200
#define ACCEPTS 16

static struct encl e;

/* The widest registers this CPU and kernel give a program: 1, 2 or 3. */
static unsigned int cpu_width(void)
{
	unsigned int a, b, c, d, lo, hi;
	uint64_t xcr0;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
		return 1;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = (uint64_t)hi << 32 | lo;
	if ((xcr0 & 0xe6) == 0xe6 && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
	    (b & (1u << 16)) && (b & (1u << 30))) /* AVX512F, AVX512BW (KMOVQ) */
		return 3;
	return (xcr0 & 0x6) == 0x6 ? 2 : 1;
}

static void check_width(const struct encl *en, unsigned int width, const char *what)
{
	unsigned long changed = 0, failed = 0, bad_rax = 0;
	uint64_t page = en->base + en->added_end;

	for (unsigned int i = 0; i < ROUNDS; i++) {
		struct encl_op op = ht_op(ENCL_OP_WIDE_REGS, 0x7700000000ULL + i * 7919ULL, width, 0);

		if (!ht_call(en->tcs[0], &op)) {
			failed++;
			continue;
		}
		changed += op.status;
	}
	tap_ok(!failed && !changed, "%s: %d EREPORTs leave the vector registers of width %u, "
	       "MXCSR and the x87 control word alone (%lu lanes changed, %lu entries failed)",
	       what, ROUNDS, width, changed, failed);

	changed = failed = 0;
	for (unsigned int i = 0; i < ACCEPTS; i++) {
		struct encl_op op = ht_op(ENCL_OP_WIDE_REGS, 0x6600000000ULL + i * 104729ULL, width,
					  page + i * PAGE);

		if (!ht_call(en->tcs[0], &op)) {
			failed++;
			continue;
		}
		changed += op.status;
		bad_rax += op.ret != 0;
	}
	tap_ok(!failed && !changed && !bad_rax,
	       "%s: %d EACCEPTs of pages EAUGed on their fault (AEX and ERESUME around the "
	       "leaf) leave them alone too (%lu lanes changed, %lu EACCEPTs failed, %lu "
	       "entries failed)", what, ACCEPTS, changed, bad_rax, failed);
}

int main(int argc, char **argv)
{
	unsigned int width = cpu_width();
	struct encl wide;

	if (argc < 7) {
		tap_diag("usage: test_exec_vregs ENCL.sgxs ENCL.sig AVX.sgxs AVX.sig "
			 "AVX512.sgxs AVX512.sig");
		return 2;
	}
	ht_start(argc, argv, &e);
	tap_diag("this CPU's widest vector registers: %s",
		 width == 3 ? "ZMM (AVX-512)" : width == 2 ? "YMM (AVX)" : "XMM (SSE)");
	check_width(&e, 1, "XFRM x87|SSE");
	if (width == 1) {
		tap_skip("no AVX on this CPU", "wider registers, EREPORT");
		tap_skip("no AVX on this CPU", "wider registers, EACCEPT");
	} else {
		const char *what = "XFRM with AVX-512";
		int err = width == 3 ? encl_load(&wide, argv[5], argv[6]) : -1;

		if (err) {
			if (width == 3)
				tap_diag("no XFRM with AVX-512 on this platform (ECREATE: %d): "
					 "ZMM in the enclave with AVX", err);
			what = width == 3 ? "XFRM with AVX, ZMM used" : "XFRM with AVX";
			err = encl_load(&wide, argv[3], argv[4]);
		}
		if (err) {
			tap_ok(false, "the enclave with AVX in XFRM loads (%d)", err);
			tap_ok(false, "(not run)");
		} else {
			check_width(&wide, width, what);
			encl_unload(&wide);
		}
	}
	encl_unload(&e);
	return tap_done();
}
