/* SPDX-License-Identifier: MIT */
/*
 * syscall(3), interposed.  The numbers the shim implements (a bitmap,
 * rawsys.c) go to shim_syscall_routed(); every other one is made here
 * exactly as libc's syscall() makes it, with no stack frame, lock or call:
 * the calling convention is the same as a seven-argument function's, so
 * the routed case is a plain tail jump with the arguments where they were.
 *
 * __wrap_syscall is the same path without the bitmap.  The shim is linked
 * with --wrap=syscall, so that its own syscall() calls (and those of the
 * driver and the CPU model inside it) always reach the kernel, never the
 * shim's interposers again.
 */
#include "rawsys.h"

	.text
	.globl syscall
	.type syscall, @function
	.globl __wrap_syscall
	.hidden __wrap_syscall
	.type __wrap_syscall, @function
syscall:
	.cfi_startproc
	cmp	$(SHIM_SYS_WORDS * 64), %rdi
	jae	__wrap_syscall		/* unsigned: a negative number too */
	mov	%rdi, %rax
	shr	$6, %rax
	lea	shim_sys_routed(%rip), %r11
	mov	(%r11, %rax, 8), %r11
	bt	%rdi, %r11		/* the bit of the number, modulo 64 */
	jc	shim_syscall_routed
__wrap_syscall:
	mov	%rdi, %rax
	mov	%rsi, %rdi
	mov	%rdx, %rsi
	mov	%rcx, %rdx
	mov	%r8, %r10
	mov	%r9, %r8
	mov	8(%rsp), %r9		/* the sixth argument, as libc reads it */
	syscall
	cmp	$-4095, %rax
	jae	1f
	ret
1:	mov	%rax, %rdi
	jmp	shim_syscall_error	/* errno = -rax, return -1 */
	.cfi_endproc
	.size syscall, .-syscall
	.size __wrap_syscall, .-__wrap_syscall

	.section .note.GNU-stack, "", @progbits
