/* SPDX-License-Identifier: MIT */
/*
 * A tiny enclave image for test_measure: three PT_LOAD segments shaped like
 * the Linux selftest's test_encl.elf (TCS page, code, data with an SSA page).
 * Rebuild with gen_fixture.sh; the test reads the committed ELF.
 */
	.section ".tcs", "aw"
	.balign	4096
tcs:
	.quad	0			/* STATE */
	.quad	0			/* FLAGS */
	.quad	ssa - tcs		/* OSSA */
	.long	0			/* CSSA */
	.long	1			/* NSSA */
	.quad	entry - tcs		/* OENTRY */
	.quad	0			/* AEP */
	.quad	0			/* OFSBASE */
	.quad	0			/* OGSBASE */
	.long	0xFFFFFFFF		/* FSLIMIT */
	.long	0xFFFFFFFF		/* GSLIMIT */
	.fill	4024, 1, 0

	.text
	.global	entry
entry:
	lea	message(%rip), %rax
	movb	(%rax), %bl
	mov	$4, %eax		/* EEXIT */
	.byte	0x0f, 0x01, 0xd7	/* ENCLU */
	ud2

	.data
	.balign	4096
ssa:
	.fill	4096, 1, 0
message:
	.ascii	"softsgx measurement fixture: data that crosses a 256-byte chunk "
	.rept	12
	.quad	0x0123456789abcdef, 0xfedcba9876543210, 0x1111111111111111, 0x2222222222222222
	.endr
	.ascii	"end of data"
