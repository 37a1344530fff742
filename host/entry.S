/* SPDX-License-Identifier: MIT */
/*
 * Two pieces of the real host that C cannot be trusted with.
 *
 * softsgx_vdso_enter: the function __vdso_sgx_enter_enclave names, with
 * Linux's ABI and behaviour (frame on RBP, run at 16(%rbp), reserved-area
 * check, one ENCLU that is both the entry and the AEP, a user handler that
 * may re-enter).  Its ENCLU traps; the signal handler performs the leaf.
 *
 * softsgx_sigentry: every signal handler of the shim.  A signal may land
 * while a thread runs enclave code with the enclave's FS/GS bases, so the
 * entry finds the thread's slot from RSP (the slots are one reserved area
 * of sigaltstacks), saves the interrupted FS/GS on the stack, installs the
 * host's before any C runs (C reads TLS and the stack canary through FS),
 * and on the way out installs whatever the C handler left in that pair.
 */
#include "stub.h"

	.text

/* The fast EENTER frame (struct fast_frame in exec.c). */
#define F_RAX 0
#define F_RCX 8
#define F_TARGET 16
#define F_FS 24
#define F_GS 32
#define F_RDX 40
#define F_RSI 48
#define F_RDI 56
#define F_R8 64
#define F_R9 72
#define F_R10 80
#define F_R11 88
#define F_R12 96
#define F_R13 104
#define F_R14 112
#define F_R15 120
#define F_RBX 128
#define F_RBP 136
#define F_RSP 144
#define F_MASK 152
#define F_SLOT 160
#define F_LEAF 168	/* EENTER or ERESUME */
#define F_IRET 176	/* ERESUME's way out: RIP, CS, RFLAGS, RSP, SS */
#define FRAME 232	/* keeps RSP 16-aligned at the call; FRAME-8 is the jump slot */

/*
 * The argument and scratch registers the calls in between clobbered; RBX,
 * RBP and R12-R15 survive them (the C ABI, and softsgx_set_fsgs touches
 * none of them), so the frame's copies are only for the C side.
 */
	.macro reload_scratch
	mov	F_RDX(%rsp), %rdx
	mov	F_RSI(%rsp), %rsi
	mov	F_RDI(%rsp), %rdi
	mov	F_R8(%rsp), %r8
	mov	F_R9(%rsp), %r9
	mov	F_R10(%rsp), %r10
	mov	F_R11(%rsp), %r11
	.endm

	.globl softsgx_vdso_enter
	.hidden softsgx_vdso_enter
	.type softsgx_vdso_enter, @function
	.globl softsgx_vdso_enclu
	.hidden softsgx_vdso_enclu
	.globl softsgx_vdso_exception
	.hidden softsgx_vdso_exception
softsgx_vdso_enter:
	.cfi_startproc
	push	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	push	%rbx
	.cfi_rel_offset %rbx, -8
.Lenter:
	mov	%ecx, %eax
	cmp	$2, %eax		/* EENTER */
	jb	.Linval
	cmp	$3, %eax		/* ERESUME */
	ja	.Linval
	mov	16(%rbp), %rcx		/* run */
	mov	$40, %ebx
1:	cmpq	$0, (%rcx, %rbx)
	jne	.Linval
	add	$8, %ebx
	cmp	$256, %ebx
	jb	1b
	mov	(%rcx), %rbx		/* run->tcs */
	/*
	 * EENTER or ERESUME without a trap: save every GPR in a frame below
	 * RSP, let softsgx_fast_enter() run the leaf on them; on success it
	 * leaves the entry state in the frame (ERESUME's extended state in the
	 * slot's XSAVE image) and the slot's BUSY byte set, so that
	 * asynchronous signals wait (exec.c) until the byte is cleared.
	 */
	sub	$FRAME, %rsp
	mov	%rax, F_LEAF(%rsp)
	mov	%rdx, F_RDX(%rsp)
	mov	%rsi, F_RSI(%rsp)
	mov	%rdi, F_RDI(%rsp)
	mov	%r8, F_R8(%rsp)
	mov	%r9, F_R9(%rsp)
	mov	%r10, F_R10(%rsp)
	mov	%r11, F_R11(%rsp)
	mov	%r12, F_R12(%rsp)
	mov	%r13, F_R13(%rsp)
	mov	%r14, F_R14(%rsp)
	mov	%r15, F_R15(%rsp)
	mov	%rbx, F_RBX(%rsp)
	mov	%rbp, F_RBP(%rsp)
	lea	FRAME(%rsp), %rax
	mov	%rax, F_RSP(%rsp)	/* RSP at the ENCLU */
	mov	%rsp, %rdi
	call	softsgx_fast_enter
	test	%eax, %eax
	jz	.Lslow
	lea	F_FS(%rsp), %rdi
	call	softsgx_set_fsgs	/* from here on: no C, no TLS */
	mov	F_SLOT(%rsp), %rax
	cmpq	$3, F_LEAF(%rsp)
	jne	2f
	mov	%rax, %rcx		/* ERESUME: the SSA's extended state */
	mov	softsgx_stub_rfbm(%rip), %eax
	mov	softsgx_stub_rfbm+4(%rip), %edx
	xrstor64 STUB_XSAVE_OFF(%rcx)
	mov	%rcx, %rax
2:	movb	$0, SF_BUSY(%rax)
	.globl softsgx_fast_tail
	.hidden softsgx_fast_tail
softsgx_fast_tail:
	/*
	 * A signal landing from here to the jump finds the LP inside already:
	 * the handler takes the frame's entry state as the interrupted one
	 * (and lets in the signals that waited).  Otherwise they are let in
	 * here: they were kept blocked, queued again.
	 */
	mov	SF_DEFERRED(%rax), %rsi
	test	%rsi, %rsi
	jz	1f
	mov	%rsi, F_MASK(%rsp)
	mov	$14, %eax		/* rt_sigprocmask(SIG_UNBLOCK, &held, NULL, 8) */
	mov	$1, %edi
	lea	F_MASK(%rsp), %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
	mov	F_SLOT(%rsp), %rax
	movq	$0, SF_DEFERRED(%rax)
1:	cmpq	$3, F_LEAF(%rsp)
	je	3f
	reload_scratch
	mov	F_RCX(%rsp), %rcx
	mov	F_TARGET(%rsp), %rax
	mov	%rax, FRAME-8(%rsp)
	mov	F_RAX(%rsp), %rax
	add	$FRAME-8, %rsp
	ret				/* to OENTRY, RSP back at the ENCLU's */
3:	/* ERESUME: every register the SSA held, RSP and RFLAGS by IRETQ. */
	reload_scratch
	mov	F_RCX(%rsp), %rcx
	mov	F_R12(%rsp), %r12
	mov	F_R13(%rsp), %r13
	mov	F_R14(%rsp), %r14
	mov	F_R15(%rsp), %r15
	mov	F_RBX(%rsp), %rbx
	mov	F_RBP(%rsp), %rbp
	mov	F_RAX(%rsp), %rax
	lea	F_IRET(%rsp), %rsp
	iretq
	.globl softsgx_fast_tail_end
	.hidden softsgx_fast_tail_end
softsgx_fast_tail_end:
.Lslow:
	reload_scratch
	mov	F_LEAF(%rsp), %rax
	add	$FRAME, %rsp
	lea	softsgx_vdso_enclu(%rip), %rcx	/* AEP: the ENCLU itself */
softsgx_vdso_enclu:
	.byte	0x0f, 0x01, 0xd7
	/* EEXIT lands here (the enclave returns to the RCX EENTER gave it). */
	mov	16(%rbp), %rbx
	mov	%eax, 8(%rbx)		/* run->function */
	jmp	.Lhandler
softsgx_vdso_exception:
	/* The "fixup": RDI = vector, RSI = error code, RDX = address. */
	mov	16(%rbp), %rbx
	mov	%eax, 8(%rbx)
	mov	%di, 12(%rbx)
	mov	%si, 14(%rbx)
	mov	%rdx, 16(%rbx)
.Lhandler:
	cmpq	$0, 24(%rbx)
	jne	.Lcall
	xor	%eax, %eax
.Lout:
	pop	%rbx
	leave
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_def_cfa %rbp, 16
.Linval:
	mov	$-22, %eax
	jmp	.Lout
.Lcall:
	mov	%rsp, %rcx		/* 4th argument: RSP at exit */
	mov	%rsp, %rbx		/* kept across the call */
	and	$-16, %rsp
	sub	$8, %rsp
	pushq	16(%rbp)		/* 7th argument: run */
	cld
	mov	16(%rbp), %rax
	lfence
	call	*24(%rax)
	mov	%rbx, %rsp
	cmp	$0, %eax
	jle	.Lout
	mov	%eax, %ecx
	jmp	.Lenter
	.cfi_endproc
	.size softsgx_vdso_enter, .-softsgx_vdso_enter

/* void softsgx_get_fsgs(uint64_t out[2]) */
	.globl softsgx_get_fsgs
	.hidden softsgx_get_fsgs
	.type softsgx_get_fsgs, @function
softsgx_get_fsgs:
	.cfi_startproc
	cmpl	$0, softsgx_have_fsgsbase(%rip)
	je	1f
	rdfsbase %rax
	mov	%rax, (%rdi)
	rdgsbase %rax
	mov	%rax, 8(%rdi)
	ret
1:	push	%rdi
	.cfi_adjust_cfa_offset 8
	mov	%rdi, %rsi
	mov	$0x1003, %edi		/* ARCH_GET_FS */
	mov	$158, %eax		/* arch_prctl */
	syscall
	mov	(%rsp), %rsi
	add	$8, %rsi
	mov	$0x1004, %edi		/* ARCH_GET_GS */
	mov	$158, %eax
	syscall
	pop	%rdi
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size softsgx_get_fsgs, .-softsgx_get_fsgs

/* void softsgx_set_fsgs(const uint64_t in[2]) */
	.globl softsgx_set_fsgs
	.hidden softsgx_set_fsgs
	.type softsgx_set_fsgs, @function
softsgx_set_fsgs:
	.cfi_startproc
	cmpl	$0, softsgx_have_fsgsbase(%rip)
	je	1f
	mov	(%rdi), %rax
	wrfsbase %rax
	mov	8(%rdi), %rax
	wrgsbase %rax
	ret
1:	push	%rdi
	.cfi_adjust_cfa_offset 8
	mov	(%rdi), %rsi
	mov	$0x1002, %edi		/* ARCH_SET_FS */
	mov	$158, %eax
	syscall
	mov	(%rsp), %rdi
	mov	8(%rdi), %rsi
	mov	$0x1001, %edi		/* ARCH_SET_GS */
	mov	$158, %eax
	syscall
	pop	%rdi
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size softsgx_set_fsgs, .-softsgx_set_fsgs

/* void softsgx_sigentry(int sig, siginfo_t *si, void *uc) */
	.globl softsgx_sigentry
	.hidden softsgx_sigentry
	.type softsgx_sigentry, @function
softsgx_sigentry:
	.cfi_startproc
	mov	%rsp, %rax
	sub	softsgx_slots_base(%rip), %rax
	cmp	softsgx_slots_span(%rip), %rax
	jae	.Lplain
	push	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%edi, %r12d
	mov	%rsi, %r13
	mov	%rdx, %r14
	and	$-SLOT_SIZE, %rax
	add	softsgx_slots_base(%rip), %rax
	mov	%rax, %r15		/* the slot; its first 16 bytes: host FS, GS */
	sub	$16, %rsp
	and	$-16, %rsp
	mov	%rsp, %rdi
	call	softsgx_get_fsgs
	mov	%r15, %rdi
	call	softsgx_set_fsgs
	mov	%r12d, %edi
	mov	%r13, %rsi
	mov	%r14, %rdx
	mov	%r15, %rcx
	mov	%rsp, %r8
	call	softsgx_signal
	mov	%rsp, %rdi
	call	softsgx_set_fsgs
	lea	-32(%rbp), %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	.cfi_def_cfa %rsp, 8
	ret
.Lplain:
	xor	%ecx, %ecx
	xor	%r8d, %r8d
	jmp	softsgx_signal
	.cfi_endproc
	.size softsgx_sigentry, .-softsgx_sigentry

/* Where a program's handler returns to: rt_sigreturn on the frame above. */
	.globl softsgx_app_restorer
	.hidden softsgx_app_restorer
	.type softsgx_app_restorer, @function
softsgx_app_restorer:
	/* RSP is the frame's ucontext, 16-byte aligned: the shim takes its mask first. */
	mov	%rsp, %rdi
	call	softsgx_app_return
	mov	$15, %eax
	syscall
	.size softsgx_app_restorer, .-softsgx_app_restorer

	.section .note.GNU-stack, "", @progbits
