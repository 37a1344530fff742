/* SPDX-License-Identifier: MIT */
/*
 * How an SDK's untrusted runtime enters an enclave: its own ENCLU, which is
 * also its AEP, no vDSO.  uint64_t direct_enter(uint64_t tcs, void *arg)
 * returns RAX as the enclave's EEXIT left it.
 */
	.text
	.globl direct_enter
	.type direct_enter, @function
	.globl direct_aep
direct_enter:
	push	%rbp
	mov	%rsp, %rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	sub	$8, %rsp
	mov	%rdi, %rbx		/* TCS */
	mov	%rsi, %rdi		/* the op, as the test enclave takes it */
	lea	direct_aep(%rip), %rcx
	mov	$2, %eax		/* EENTER */
direct_aep:
	.byte	0x0f, 0x01, 0xd7
	/* EEXIT comes back right after the ENCLU, RSP/RBP as they were. */
	add	$8, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
	.size direct_enter, .-direct_enter

	.section .note.GNU-stack, "", @progbits
