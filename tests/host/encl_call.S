/* SPDX-License-Identifier: MIT */
/*
 * int encl_vdso_call_on(rdi, rsi, rdx, function, r8, r9, run, fn, stack_top):
 * call the vDSO's __vdso_sgx_enter_enclave (@fn) on the stack that ends at
 * @stack_top (16-byte aligned) and return its result.
 *
 * Why a stack of its own: an enclave saves the untrusted RSP/RBP when it is
 * entered and EEXITs back to them; after an exception the vDSO returned to
 * its caller and a later ERESUME continues that same entry, so its EEXIT
 * lands in the vDSO frame of the first call. Calling the vDSO always from the
 * same per-thread stack position makes that frame identical whatever the
 * call site (real runtimes get the same by resuming from one fixed place).
 * The vDSO keeps only RBX and RBP, and an AEX leaves R12-R15 zero, so every
 * callee-saved register is saved here.
 */
	.text
	.global	encl_vdso_call_on
	.type	encl_vdso_call_on, @function
encl_vdso_call_on:
	push	%rbp
	mov	%rsp, %rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	32(%rbp), %rax		/* stack_top */
	mov	%rbp, -8(%rax)		/* this frame, found again after the call */
	mov	16(%rbp), %r10		/* run */
	mov	24(%rbp), %r11		/* fn */
	lea	-24(%rax), %rsp
	push	%r10			/* run, the vDSO's 7th argument; RSP 16-aligned */
	call	*%r11
	mov	24(%rsp), %rbp		/* stack_top - 8 */
	lea	-40(%rbp), %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
	.size	encl_vdso_call_on, . - encl_vdso_call_on

	.section .note.GNU-stack, "", @progbits
