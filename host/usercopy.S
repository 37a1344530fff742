/* SPDX-License-Identifier: MIT */
/*
 * The real host's copy_from_user() and copy_to_user(), made as the
 * kernel's: a plain copy, and when it faults (an unmapped, protected or
 * enclave page) the signal entry moves RIP from the copy to the fixup,
 * which returns -EFAULT: an exception table with one entry (exec.c,
 * shim_user_copy_fixup()).  real.c uses it only while the thread's kernel
 * mask lets SIGSEGV and SIGBUS in.
 */
	.text
	.globl softsgx_user_copy, softsgx_user_copy_insn, softsgx_user_copy_fault
	.hidden softsgx_user_copy, softsgx_user_copy_insn, softsgx_user_copy_fault

/* long softsgx_user_copy(void *dst, const void *src, size_t n): 0 or -EFAULT */
	.type softsgx_user_copy, @function
softsgx_user_copy:
	.cfi_startproc
	mov	%rdx, %rcx
softsgx_user_copy_insn:
	rep movsb
	xor	%eax, %eax
	ret
softsgx_user_copy_fault:
	mov	$-14, %rax			/* -EFAULT */
	ret
	.cfi_endproc
	.size softsgx_user_copy, .-softsgx_user_copy

	.section .note.GNU-stack, "", @progbits
