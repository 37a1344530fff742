/* SPDX-License-Identifier: MIT */
/*
 * Test enclave: thread slots (TCS, SSA frames, stacks), the entry stub that
 * EENTER lands on, and the "faulting ops", leaf functions whose faults the
 * exception entry can recover from. Layout: encl_ops.h.
 */
#define ENCLU .byte 0x0f, 0x01, 0xd7
#define EEXIT 4

/*
 * One thread slot: the TCS page, then zeros up to ENCL_SLOT_SIZE (0x10000).
 * The image is linked at 0, so symbol values are the enclave offsets.
 */
	.macro	SLOT n
	.balign	4096
encl_tcs\n:
	.quad	0				/* STATE */
	.quad	0				/* FLAGS */
	.quad	encl_tcs\n + 0x1000		/* OSSA */
	.long	0				/* CSSA */
	.long	2				/* NSSA */
	.quad	encl_entry			/* OENTRY */
	.quad	0				/* AEP */
	.quad	encl_tcs\n + 0x3000	/* OFSBASE: the thread record */
	.quad	encl_tcs\n + 0x3000	/* OGSBASE */
	.long	0xFFFFFFFF			/* FSLIMIT */
	.long	0xFFFFFFFF			/* GSLIMIT */
	.fill	4024, 1, 0
	.fill	0xF000, 1, 0
	.endm

	.section ".slots", "aw"
	SLOT 0
	SLOT 1
	SLOT 2
	SLOT 3
	SLOT 4
	SLOT 5
	SLOT 6
	SLOT 7

	.text
/*
 * EENTER: RAX = CSSA, RBX = TCS, RCX = the address after the host's ENCLU,
 * RDI/RSI = the host's arguments. RSP and RBP are still the host's. Nothing
 * else the host left in a register is trusted or needed.
 */
	.global	encl_entry
	.type	encl_entry, @function
encl_entry:
	/* Stack top = TCS + 0x10000 for CSSA 0, TCS + 0xA000 for CSSA 1. */
	mov	%rax, %r10
	imul	$0x6000, %rax, %rax
	lea	0x10000(%rbx), %r11
	sub	%rax, %r11
	xchg	%r11, %rsp
	push	%r11				/* the host's RSP */
	push	%rbp				/* the host's RBP */
	push	%rcx				/* where EEXIT returns to */
	push	%rbx				/* keeps RSP 16-byte aligned for the call */
	xor	%ebp, %ebp
	cld
	test	%r10, %r10
	jnz	1f
	mov	%rbx, %rdx
	call	encl_body			/* (rdi, rsi, tcs) */
	jmp	2f
1:	mov	%r10, %rdi
	mov	%rbx, %rsi
	call	encl_exception			/* (cssa, tcs) */
2:	pop	%rbx
	pop	%rbx				/* EEXIT target */
	pop	%rbp
	pop	%rsp
	mov	%rax, %rdi			/* the result, for a user handler */
	/* Leave nothing of the enclave's in the scratch registers. */
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	mov	$EEXIT, %eax
	ENCLU
	ud2
	.size	encl_entry, . - encl_entry

/*
 * Faulting ops: leaf functions that touch nothing but registers before the
 * faulting instruction, so that when the exception entry sees an interrupted
 * RIP inside [encl_faulting_start, encl_faulting_end) it can move that RIP to
 * encl_fault_landing, which returns ENCL_FAULTED to the caller.
 */
	.global	encl_faulting_start, encl_faulting_end, encl_fault_landing
	.global	encl_read64, encl_write64, encl_read_write64
	.global	encl_ud2, encl_div0, encl_int3
encl_faulting_start:
encl_read64:				/* u64 encl_read64(u64 *p) */
	mov	(%rdi), %rax
	ret
encl_write64:				/* u64 encl_write64(u64 *p, u64 v) */
	mov	%rsi, (%rdi)
	xor	%eax, %eax
	ret
encl_read_write64:			/* u64 encl_read_write64(u64 *p, u64 v) */
	mov	(%rdi), %rax
	mov	%rsi, (%rdi)
	ret
encl_ud2:				/* u64 encl_ud2(void) */
	ud2
	xor	%eax, %eax
	ret
encl_div0:				/* u64 encl_div0(u64 n) */
	xor	%edx, %edx
	mov	%rdi, %rax
	xor	%ecx, %ecx
	div	%rcx
	ret
encl_int3:				/* u64 encl_int3(void): 0 after the trap */
	int3
	xor	%eax, %eax
	ret
encl_fault_landing:
	movabs	$0xfa017ed0fa017ed0, %rax	/* ENCL_FAULTED */
	ret
encl_faulting_end:

/*
 * One function per in-enclave leaf, u64 encl_<leaf>(u64 rbx, u64 rcx,
 * u64 rdx), returning RAX after the ENCLU.  The leaf is an immediate a few
 * instructions before the ENCLU, as an SDK writes it, so softsgx exec's
 * trap-free ENCLU rewrites these sites (docs/running-programs.md).
 */
	.macro	LEAF name, leaf
	.global	\name, \name\()_enclu
	.type	\name, @function
\name:
	push	%rbx
	mov	$\leaf, %eax
	mov	%rdi, %rbx
	mov	%rsi, %rcx
\name\()_enclu:
	ENCLU
	pop	%rbx
	ret
	.size	\name, . - \name
	.endm

	LEAF	encl_ereport, 0
	LEAF	encl_egetkey, 1
	LEAF	encl_eaccept, 5
	LEAF	encl_emodpe, 6

	/* The callee-saved registers, RBX first; POP_CALLEE_RET takes them back. */
	.macro	PUSH_CALLEE
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	.endm

	/* The callee-saved registers pushed at the start (RBX first), and return. */
	.macro	POP_CALLEE_RET
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret
	.endm

/*
 * Around one event (a leaf, a store that may fault and be resumed): R8-R15,
 * RBP, XMM0-15 and CF, PF and ZF set from a seed in R15, then checked.
 * REGS_SET takes the seed from \seed and saves the callee-saved registers;
 * REGS_FLAGS, first after the event, starts RAX with the flags that changed;
 * REGS_CHECK ORs in the bits of every other register that changed (0 when
 * each came back as it was) and returns.  Whatever performs the event (a
 * trap, a stub, an AEX and ERESUME) must be invisible to it.
 */
	.macro	REGS_SET seed
	PUSH_CALLEE
	mov	\seed, %r15
	.irp	r,14,13,12,11,10,9,8
	lea	15-\r(%r15), %r\r
	.endr
	lea	8(%r15), %rbp
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	lea	16+\i(%r15), %rax
	movq	%rax, %xmm\i
	punpcklqdq %xmm\i, %xmm\i
	.endr
	xor	%eax, %eax			/* ZF, PF */
	stc					/* CF */
	.endm

	.macro	REGS_FLAGS
	pushfq
	pop	%rax
	and	$0x45, %eax
	xor	$0x45, %eax
	.endm

	.macro	REGS_CHECK
	.irp	r,14,13,12,11,10,9,8
	lea	15-\r(%r15), %rbx
	xor	%rbx, %r\r
	or	%r\r, %rax
	.endr
	lea	8(%r15), %rbx
	xor	%rbx, %rbp
	or	%rbp, %rax
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	lea	16+\i(%r15), %rbx
	movq	%xmm\i, %rcx
	xor	%rbx, %rcx
	or	%rcx, %rax
	pextrq	$1, %xmm\i, %rcx
	xor	%rbx, %rcx
	or	%rcx, %rax
	.endr
	POP_CALLEE_RET
	.endm

/* u64 encl_ereport_regs(u64 ti, u64 data, u64 report, u64 seed): EREPORT. */
	.global	encl_ereport_regs
	.type	encl_ereport_regs, @function
encl_ereport_regs:
	REGS_SET %rcx
	mov	$0, %eax			/* EREPORT */
	mov	%rdi, %rbx
	mov	%rsi, %rcx
	ENCLU
	REGS_FLAGS
	/* RBX and RCX are the leaf's inputs: they must come back too. */
	xor	%rdi, %rbx
	or	%rbx, %rax
	xor	%rsi, %rcx
	or	%rcx, %rax
	REGS_CHECK
	.size	encl_ereport_regs, . - encl_ereport_regs

/* u64 encl_store_regs(u64 *p, u64 seed): the store of @seed at @p. */
	.global	encl_store_regs
	.type	encl_store_regs, @function
encl_store_regs:
	REGS_SET %rsi
	mov	%r15, (%rdi)
	REGS_FLAGS
	REGS_CHECK
	.size	encl_store_regs, . - encl_store_regs

/*
 * u64 encl_leaf_wide(u64 leaf, u64 rbx, u64 rcx, u64 seed, u64 width, u64 rdx):
 * EREPORT (@leaf 0) or EACCEPT (5) on RBX, RCX and RDX, with every vector
 * register of @width set from @seed around it (1: XMM0-15, 2: YMM0-15,
 * 3: ZMM0-31 and k0-k7; each 64-bit lane its own value), MXCSR's rounding
 * and flush-to-zero changed and the x87 control word's precision.  Returns
 * the number of lanes and control registers that came back different, with
 * the leaf's RAX in bits 32 and up.  Widths 2 and 3 need an XFRM with AVX
 * (and AVX-512).  Frame, 64-byte aligned: the expected lanes at 0, the
 * lanes found at 2048, k0-k7 at 4096, then MXCSR and FCW saved, set, found,
 * then RDX.
 */
	.global	encl_leaf_wide
	.type	encl_leaf_wide, @function
encl_leaf_wide:
	PUSH_CALLEE
	mov	%rsp, %rbp
	sub	$4608, %rsp
	and	$-64, %rsp
	mov	%rdi, %r12			/* leaf */
	mov	%rsi, %r13			/* RBX */
	mov	%rdx, %r11			/* RCX */
	mov	%rcx, %r15			/* seed */
	mov	%r8, %r14			/* width */
	mov	%r9, 4184(%rsp)			/* RDX */
	/* Lane j of register i: seed + 0x100 + i, its top 16 bits j + 1. */
	xor	%ecx, %ecx
1:	mov	%ecx, %eax
	shr	$3, %eax
	lea	0x100(%r15, %rax), %rax
	mov	%ecx, %edx
	and	$7, %edx
	inc	%edx
	shl	$48, %rdx
	xor	%rdx, %rax
	mov	%rax, (%rsp, %rcx, 8)
	inc	%ecx
	cmp	$256, %ecx
	jb	1b
	stmxcsr	4160(%rsp)
	fnstcw	4164(%rsp)
	movl	$0xff80, 4168(%rsp)		/* round toward zero, FZ, all masked */
	movw	$0x007f, 4172(%rsp)		/* single precision */
	ldmxcsr	4168(%rsp)
	fldcw	4172(%rsp)
	cmp	$2, %r14
	je	2f
	ja	3f
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	64*\i(%rsp), %xmm\i
	.endr
	jmp	4f
2:	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	64*\i(%rsp), %ymm\i
	.endr
	jmp	4f
3:	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 64*\i(%rsp), %zmm\i
	.endr
	.irp	i,0,1,2,3,4,5,6,7
	mov	8*\i(%rsp), %rax
	kmovq	%rax, %k\i
	.endr
4:	mov	%r13, %rbx
	mov	%r11, %rcx
	mov	4184(%rsp), %rdx
	cmp	$5, %r12
	je	5f
	mov	$0, %eax			/* EREPORT */
	ENCLU
	jmp	6f
5:	mov	$5, %eax			/* EACCEPT */
	ENCLU
6:	mov	%rax, %r13			/* the leaf's RAX */
	stmxcsr	4176(%rsp)
	fnstcw	4180(%rsp)
	cmp	$2, %r14
	je	2f
	ja	3f
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	%xmm\i, 2048+64*\i(%rsp)
	.endr
	mov	$2, %r8d			/* lanes a register */
	mov	$16, %r9d			/* registers */
	jmp	4f
2:	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	%ymm\i, 2048+64*\i(%rsp)
	.endr
	mov	$4, %r8d
	mov	$16, %r9d
	jmp	4f
3:	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 %zmm\i, 2048+64*\i(%rsp)
	.endr
	.irp	i,0,1,2,3,4,5,6,7
	kmovq	%k\i, %rax
	mov	%rax, 4096+8*\i(%rsp)
	.endr
	mov	$8, %r8d
	mov	$32, %r9d
4:	cmp	$1, %r14
	je	11f
	vzeroupper
11:
	ldmxcsr	4160(%rsp)
	fldcw	4164(%rsp)
	xor	%r10d, %r10d			/* differences */
	xor	%ecx, %ecx			/* register */
7:	xor	%edx, %edx			/* lane */
8:	mov	%ecx, %eax
	shl	$3, %eax
	add	%edx, %eax
	mov	(%rsp, %rax, 8), %rsi
	cmp	2048(%rsp, %rax, 8), %rsi
	setne	%sil
	movzbl	%sil, %esi
	add	%rsi, %r10
	inc	%edx
	cmp	%r8d, %edx
	jb	8b
	inc	%ecx
	cmp	%r9d, %ecx
	jb	7b
	cmp	$3, %r14
	jb	9f
	xor	%ecx, %ecx
10:	mov	(%rsp, %rcx, 8), %rsi
	cmp	4096(%rsp, %rcx, 8), %rsi
	setne	%sil
	movzbl	%sil, %esi
	add	%rsi, %r10
	inc	%ecx
	cmp	$8, %ecx
	jb	10b
9:	mov	4176(%rsp), %eax
	cmp	$0xff80, %eax
	setne	%al
	movzbl	%al, %eax
	add	%rax, %r10
	movzwl	4180(%rsp), %eax
	cmp	$0x007f, %eax
	setne	%al
	movzbl	%al, %eax
	add	%rax, %r10
	shl	$32, %r13
	lea	(%r10, %r13), %rax
	mov	%rbp, %rsp
	POP_CALLEE_RET
	.size	encl_leaf_wide, . - encl_leaf_wide

	.section .note.GNU-stack, "", @progbits
