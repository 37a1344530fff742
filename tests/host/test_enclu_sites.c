// SPDX-License-Identifier: MIT
/*
 * Which ENCLUs trap-free ENCLU takes over (host/enclu_sites.c), on code
 * bytes: the forms SDK code and compilers write, and each reason a site is
 * left to trap.  TAP on stdout.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "enclu_sites.h"

static int n_tests, n_failed;
static csh cs;
static cs_insn *in;

static void ok(bool c, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", c ? "" : "not ", ++n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	n_failed += !c;
}

#define ENCLU 0x0f, 0x01, 0xd7

/* The sites in @code, as it would sit at @la. */
static int find(const uint8_t *code, size_t len, uint64_t la, struct found_site *out, int max)
{
	uint64_t resume;

	return shim_enclu_sweep(cs, in, code, la, la + len, out, 0, max, &resume);
}

#define FIND(la, out, max, ...)                                                                \
	({                                                                                     \
		static const uint8_t c_[] = { __VA_ARGS__ };                                   \
		find(c_, sizeof(c_), la, out, max);                                            \
	})

int main(void)
{
	struct found_site s[4];
	int n;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		printf("Bail out! cs_open\n");
		return 1;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);

	n = FIND(0x1000, s, 4, 0xb8, 0x04, 0, 0, 0, ENCLU);
	ok(n == 1 && s[0].mov == 0x1000 && s[0].enclu == 0x1005 && s[0].leaf == 4 &&
	   s[0].mov_len == 5 && s[0].nreloc == 0, "mov $EEXIT, %%eax; enclu: a site");

	/* mov $5, %rax; mov %rdi, %rbx; mov %rsi, %rcx; enclu (an SDK's EACCEPT) */
	n = FIND(0x1000, s, 4, 0x48, 0xc7, 0xc0, 0x05, 0, 0, 0, 0x48, 0x89, 0xfb, 0x48, 0x89, 0xf1,
		 ENCLU);
	ok(n == 1 && s[0].leaf == 5 && s[0].mov_len == 7 && s[0].nreloc == 2 &&
	   s[0].reloc_from[0] == 7 && s[0].reloc_from[1] == 10 && s[0].enclu == 0x100d,
	   "mov $EACCEPT, %%rax and two moves before the enclu: a site, they are copied");

	/* A compiler's: mov $6, %eax; lea -0x38(%rsp), %rdx; mov %rdx, %rbx; enclu */
	n = FIND(0x7000, s, 4, 0xb8, 0x06, 0, 0, 0, 0x48, 0x8d, 0x54, 0x24, 0xc8, 0x48, 0x89, 0xd3,
		 ENCLU);
	ok(n == 1 && s[0].leaf == 6 && s[0].nreloc == 2 && s[0].reloc_from[0] == 5 &&
	   s[0].reloc_from[1] == 10, "a stack-relative lea between them: a site");

	n = FIND(0x1000, s, 4, 0xb8, 0x04, 0, 0, 0, 0x48, 0x8b, 0x1d, 0, 0, 0, 0, ENCLU);
	ok(n == 0, "a RIP-relative load between them: no site (it would read elsewhere)");
	n = FIND(0x1000, s, 4, 0xb8, 0x04, 0, 0, 0, 0x74, 0x00, ENCLU);
	ok(n == 0, "a branch between them: no site");
	n = FIND(0x1000, s, 4, 0xb8, 0x04, 0, 0, 0, 0x89, 0xd8, ENCLU);
	ok(n == 0, "a write of EAX between them: no site (the leaf is not the immediate)");
	n = FIND(0x1000, s, 4, 0xb8, 0x04, 0, 0, 0, 0x88, 0xdc, ENCLU);
	ok(n == 0, "a write of AH between them: no site");
	n = FIND(0x1000, s, 4, 0xb8, 0x02, 0, 0, 0, ENCLU);
	ok(n == 0, "EENTER's leaf: no site (a host-side leaf)");
	n = FIND(0x1000, s, 4, 0xb8, 0x63, 0, 0, 0, ENCLU);
	ok(n == 0, "an undefined leaf: no site (the trap reports it)");
	n = FIND(0x1000, s, 4, 0x48, 0x89, 0xf8, ENCLU);
	ok(n == 0, "the leaf in a register: no site");

	n = FIND(0x1000, s, 4, 0xb8, 0x04, 0, 0, 0, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, ENCLU);
	ok(n == 1 && s[0].nreloc == 6, "six instructions between: a site");
	n = FIND(0x1000, s, 4, 0xb8, 0x04, 0, 0, 0, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
		 ENCLU);
	ok(n == 0, "seven: no site");

	n = FIND(0x1ffe, s, 4, 0xb8, 0x04, 0, 0, 0, ENCLU);
	ok(n == 0, "a mov across a page boundary: no site (the jump is one write)");
	n = FIND(0x1ffb, s, 4, 0xb8, 0x04, 0, 0, 0, ENCLU);
	ok(n == 1 && s[0].enclu == 0x2000, "a mov that ends a page, its ENCLU on the next: a site");

	n = FIND(0x1000, s, 4, 0xb8, 0x05, 0, 0, 0, 0xb8, 0x04, 0, 0, 0, ENCLU);
	ok(n == 1 && s[0].leaf == 4 && s[0].mov == 0x1005, "two movs: the nearest one is the leaf");

	/* 0x06 is no instruction in 64-bit mode: decoding starts again after it. */
	n = FIND(0x1000, s, 4, 0x06, 0xb8, 0x04, 0, 0, 0, ENCLU, 0xc3, 0xb8, 0x00, 0, 0, 0, ENCLU);
	ok(n == 2 && s[0].mov == 0x1001 && s[1].leaf == 0 && s[1].mov == 0x100a,
	   "after a byte that is no instruction, and twice in a row: both sites");
	n = FIND(0x1000, s, 1, 0xb8, 0x04, 0, 0, 0, ENCLU, 0xb8, 0x04, 0, 0, 0, ENCLU);
	ok(n == 1, "no more sites than the room for them");

	{
		/* mov $4, %eax; enclu; then a mov $imm32, %eax cut after 3 bytes. */
		static const uint8_t cut[] = { 0xb8, 0x04, 0, 0, 0, ENCLU, 0xb8, 0x11, 0x22 };
		uint64_t resume = 0;

		n = shim_enclu_sweep(cs, in, cut, 0x1000, 0x1000 + sizeof(cut), s, 0, 4, &resume);
		ok(n == 1 && resume == 0x1008,
		   "an instruction cut by the end: the sweep says it starts at 0x1008 (0x%llx)",
		   (unsigned long long)resume);
		n = shim_enclu_sweep(cs, in, cut, 0x1000, 0x1008, s, 0, 4, &resume);
		ok(n == 1 && resume == 0x1008, "a sweep that ends between instructions: at its end");
	}
	cs_free(in, 1);
	cs_close(&cs);
	printf("1..%d\n", n_tests);
	return n_failed != 0;
}
