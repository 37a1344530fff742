/* SPDX-License-Identifier: MIT */
/*
 * int encl_vdso_call(rdi, rsi, rdx, function, r8, r9, run, fn): call the
 * vDSO's __vdso_sgx_enter_enclave (@fn) and return its result. The vDSO keeps
 * only RBX and RBP; after a reported exception the AEX has cleared R12-R15,
 * so this wrapper saves all callee-saved registers itself.
 */
	.text
	.global	encl_vdso_call
	.type	encl_vdso_call, @function
encl_vdso_call:
	push	%rbp
	mov	%rsp, %rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	pushq	16(%rbp)		/* run, the vDSO's 7th argument; RSP is 16-aligned */
	call	*24(%rbp)		/* fn */
	lea	-40(%rbp), %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
	.size	encl_vdso_call, . - encl_vdso_call

	.section .note.GNU-stack, "", @progbits
