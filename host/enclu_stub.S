/* SPDX-License-Identifier: MIT */
/*
 * Trap-free ENCLU: the per-site stub's template and the code every stub
 * shares.  enclu_patch.c rewrites "mov $leaf, %eax" before an enclave's
 * ENCLU into a jump to a copy of the template (after a copy of that mov and
 * of the instructions between it and the ENCLU), patching the fields
 * marked f_* below.
 *
 * The stub runs in enclave mode with every register the enclave's, and
 * may change only RAX (the leaf is an immediate it knows) until it has
 * saved the rest: no stack below the enclave's RSP (its red zone), and no
 * instruction that changes a flag.  Its thread is named by DS: in 64-bit
 * mode the selector is ignored, so the shim gives each slot an LDT entry
 * of its own and loads it into DS when a thread takes the slot; neither
 * the kernel nor an enclave touches DS.  Two tables indexed by the
 * selector (in the low 2 GiB) say whether it is a slot's and which: the
 * stub saves RCX in that slot's frame and goes on to the common code.
 * Where the LDT is not to be had (a kernel without modify_ldt, a seccomp
 * filter that refuses it), DS is 0, and the stub finds its thread the old
 * way, in three steps:
 *  1. lock a bucket chosen by the page of RSP (an xchg, with the "was it
 *     free" answer turned into a jump target, since no flag may be set);
 *  2. save RCX and R11 there and ask the kernel for the thread id (SYSCALL
 *     keeps the flags; it clobbers only RCX and R11);
 *  3. the thread table (in the low 2 GiB, so that a disp32 can name it)
 *     gives the slot; move RCX and R11 into the slot's frame, unlock.
 * A busy bucket or a thread without a slot jumps to the ENCLU itself: the
 * trap does the leaf.  exec.c's handler knows every instruction here: a
 * signal before the slot's BUSY byte is set rewinds to the enclave's own
 * code (shim_stub_rewind()); one while it is set waits (deferred); one in
 * the tail takes the final state.
 */
#include "stub.h"

/* RAX = the address of this RSP page's bucket lock, plus one. */
	.macro bucket f
	mov	%rsp, %rax
	rorx	$12, %rax, %rax
	movzwl	%ax, %eax
	lea	0(,%rax,8), %rax
	lea	0(,%rax,8), %rax
	lea	0x7ffffff0(,%rax,4), %rax	/* + the bucket table, plus one */
\f:
	.endm

	.text
	.globl softsgx_stub_tmpl, softsgx_stub_tmpl_end
	.hidden softsgx_stub_tmpl, softsgx_stub_tmpl_end
	.globl softsgx_stub_t_xchg, softsgx_stub_t_movz, softsgx_stub_t_disp
	.hidden softsgx_stub_t_xchg, softsgx_stub_t_movz, softsgx_stub_t_disp
	.globl softsgx_stub_t_busy, softsgx_stub_t_claimed, softsgx_stub_t_after
	.hidden softsgx_stub_t_busy, softsgx_stub_t_claimed, softsgx_stub_t_after
	.globl softsgx_stub_t_unlock, softsgx_stub_t_go, softsgx_stub_t_noslot
	.hidden softsgx_stub_t_unlock, softsgx_stub_t_go, softsgx_stub_t_noslot
	.globl softsgx_stub_t_unlock2, softsgx_stub_t_nsl2
	.hidden softsgx_stub_t_unlock2, softsgx_stub_t_nsl2
	.globl softsgx_stub_f_lea1, softsgx_stub_f_disp, softsgx_stub_f_leaf1
	.hidden softsgx_stub_f_lea1, softsgx_stub_f_disp, softsgx_stub_f_leaf1
	.globl softsgx_stub_f_rel1, softsgx_stub_f_lea2, softsgx_stub_f_tid
	.hidden softsgx_stub_f_rel1, softsgx_stub_f_lea2, softsgx_stub_f_tid
	.globl softsgx_stub_f_lea3, softsgx_stub_f_site, softsgx_stub_f_leaf2
	.hidden softsgx_stub_f_lea3, softsgx_stub_f_site, softsgx_stub_f_leaf2
	.globl softsgx_stub_f_rel2
	.hidden softsgx_stub_f_rel2
	.globl softsgx_stub_t_dsclaimed, softsgx_stub_t_dsrcx, softsgx_stub_t_dsslot
	.hidden softsgx_stub_t_dsclaimed, softsgx_stub_t_dsrcx, softsgx_stub_t_dsslot
	.globl softsgx_stub_t_dsgo, softsgx_stub_t_old
	.hidden softsgx_stub_t_dsgo, softsgx_stub_t_old
	.globl softsgx_stub_f_dsvalid, softsgx_stub_f_dsdisp, softsgx_stub_f_dsslot
	.hidden softsgx_stub_f_dsvalid, softsgx_stub_f_dsdisp, softsgx_stub_f_dsslot
	.globl softsgx_stub_f_site2
	.hidden softsgx_stub_f_site2

/* Field labels mark the end of the instruction whose last 4 bytes they patch. */
softsgx_stub_tmpl:
	mov	%ds, %eax
	movzwl	%ax, %eax
	movzbl	0x7ffffff0(%rax), %eax		/* 1: DS is a slot's */
softsgx_stub_f_dsvalid:
	jmp	*0x7ffffff0(,%rax,8)		/* [old way, DS way] of this site */
softsgx_stub_f_dsdisp:
softsgx_stub_t_dsclaimed:
	mov	%ds, %eax
	movzwl	%ax, %eax
	mov	0x7ffffff0(,%rax,8), %rax	/* the slot */
softsgx_stub_f_dsslot:
	mov	%rcx, SF_RCX(%rax)
softsgx_stub_t_dsrcx:
	mov	%rax, %rcx
softsgx_stub_t_dsslot:
	mov	%r11, SF_R11(%rcx)
	movl	$0x7ffffff0, SF_SITE(%rcx)
softsgx_stub_f_site2:
softsgx_stub_t_dsgo:
	jmp	*SF_COMMON(%rcx)
softsgx_stub_t_old:
	bucket	softsgx_stub_f_lea1
softsgx_stub_t_xchg:
	xchg	%rax, -1(%rax)			/* lock; RAX = 0 if it was free */
softsgx_stub_t_movz:
	movzbl	%al, %eax			/* 0 free, 1 held */
softsgx_stub_t_disp:
	jmp	*0x7ffffff0(,%rax,8)		/* [claimed, busy] of this site */
softsgx_stub_f_disp:
softsgx_stub_t_busy:
	mov	$0x7ffffff0, %eax
softsgx_stub_f_leaf1:
	.byte	0xe9
	.long	0				/* jmp to the ENCLU: the trap */
softsgx_stub_f_rel1:
softsgx_stub_t_claimed:
	bucket	softsgx_stub_f_lea2
	mov	%rcx, B_RCX-1(%rax)
	mov	%r11, B_R11-1(%rax)
	mov	$186, %eax			/* gettid */
	syscall
softsgx_stub_t_after:
	mov	0x7ffffff0(,%rax,8), %rcx	/* the thread table: the slot, or 0 */
softsgx_stub_f_tid:
	bucket	softsgx_stub_f_lea3
	jrcxz	softsgx_stub_t_noslot
	mov	B_RCX-1(%rax), %r11
	mov	%r11, SF_RCX(%rcx)
	mov	B_R11-1(%rax), %r11
	mov	%r11, SF_R11(%rcx)
	movl	$0x7ffffff0, SF_SITE(%rcx)
softsgx_stub_f_site:
softsgx_stub_t_unlock:
	movq	$0, -1(%rax)
softsgx_stub_t_go:
	jmp	*SF_COMMON(%rcx)
softsgx_stub_t_noslot:
	mov	B_RCX-1(%rax), %rcx
	mov	B_R11-1(%rax), %r11
softsgx_stub_t_unlock2:
	movq	$0, -1(%rax)
softsgx_stub_t_nsl2:
	mov	$0x7ffffff0, %eax
softsgx_stub_f_leaf2:
	.byte	0xe9
	.long	0
softsgx_stub_f_rel2:
softsgx_stub_tmpl_end:

/* The frame's GPRs but RBX and RSP, from the slot (RBX); no flag changes. */
	.macro frame_gprs
	mov	SF_RAX(%rbx), %rax
	mov	SF_RCX(%rbx), %rcx
	mov	SF_RDX(%rbx), %rdx
	mov	SF_RBP(%rbx), %rbp
	mov	SF_RSI(%rbx), %rsi
	mov	SF_RDI(%rbx), %rdi
	mov	SF_R8(%rbx), %r8
	mov	SF_R9(%rbx), %r9
	mov	SF_R10(%rbx), %r10
	mov	SF_R11(%rbx), %r11
	mov	SF_R12(%rbx), %r12
	mov	SF_R13(%rbx), %r13
	mov	SF_R14(%rbx), %r14
	mov	SF_R15(%rbx), %r15
	.endm

/*
 * The live extended state into the slot's (RBX) XSAVE image, which is then
 * the one to leave with (SF_XIMG); uses RAX and RDX.
 */
	.macro live_to_image insn=xsave64
	mov	softsgx_stub_rfbm(%rip), %eax
	mov	softsgx_stub_rfbm+4(%rip), %edx
	\insn	STUB_XSAVE_OFF(%rbx)
	movb	$1, SF_XIMG(%rbx)
	.endm

/* FS and GS bases from the words at @fs and @gs of the slot (RBX); uses RAX. */
	.macro fsgs_from fs, gs
	mov	\fs(%rbx), %rax
	wrfsbase %rax
	mov	\gs(%rbx), %rax
	wrgsbase %rax
	.endm

/*
 * Every stub continues here with RCX = its thread's slot, RCX and R11 of
 * the enclave in the frame, every other register the enclave's but RAX.
 */
	.globl softsgx_stub_common, softsgx_stub_busy
	.hidden softsgx_stub_common, softsgx_stub_busy
	.globl softsgx_stub_tail, softsgx_stub_tail_end, softsgx_stub_sr, softsgx_stub_sr_end
	.hidden softsgx_stub_tail, softsgx_stub_tail_end, softsgx_stub_sr, softsgx_stub_sr_end
	.type softsgx_stub_common, @function
softsgx_stub_common:
	mov	%rdx, SF_RDX(%rcx)
	mov	%rbx, SF_RBX(%rcx)
	mov	%rsp, SF_RSP(%rcx)
	mov	%rbp, SF_RBP(%rcx)
	mov	%rsi, SF_RSI(%rcx)
	mov	%rdi, SF_RDI(%rcx)
	mov	%r8, SF_R8(%rcx)
	mov	%r9, SF_R9(%rcx)
	mov	%r10, SF_R10(%rcx)
	mov	%r12, SF_R12(%rcx)
	mov	%r13, SF_R13(%rcx)
	mov	%r14, SF_R14(%rcx)
	mov	%r15, SF_R15(%rcx)
	movq	$0, SF_DEFERRED(%rcx)		/* stale outside a busy stretch */
softsgx_stub_busy:
	movb	$1, SF_BUSY(%rcx)		/* from here on, signals wait */
	lea	STUB_AREA_OFF(%rcx), %rsp	/* the top of the alternate stack */
	pushfq
	popq	SF_RFLAGS(%rcx)
	pushq	$2			/* C runs with AC, DF and TF clear */
	popfq
	rdfsbase %rax
	mov	%rax, SF_FS(%rcx)
	rdgsbase %rax
	mov	%rax, SF_GS(%rcx)
	mov	%rcx, %rbx
	call	*softsgx_stub_vsave(%rip)	/* the vector registers C may use */
	fsgs_from 0, 8				/* the slot's host FS and GS */
	mov	%rbx, %rdi
	call	softsgx_stub_leaf		/* 0, or an rt_sigreturn frame */
.Lfinal:
	/* The final extended state, FS and GS (no C from here); R12 = RAX. */
	mov	%rax, %r12
	cmpb	$0, SF_XIMG(%rbx)
	jne	1f
	call	*softsgx_stub_vrest(%rip)
	jmp	2f
1:	mov	softsgx_stub_rfbm(%rip), %eax
	mov	softsgx_stub_rfbm+4(%rip), %edx
	xrstor64 STUB_XSAVE_OFF(%rbx)
	/* The final FS and GS; EEXIT's are the host's, in place already. */
2:	mov	SF_FS(%rbx), %rax
	cmp	0(%rbx), %rax
	je	3f
	wrfsbase %rax
3:	mov	SF_GS(%rbx), %rax
	cmp	8(%rbx), %rax
	je	4f
	wrgsbase %rax
4:
	test	%r12, %r12
	jnz	.Lsigret
	movb	$0, SF_BUSY(%rbx)
softsgx_stub_tail:
	/* A signal from here on takes the frame's final state as its own. */
	cmpb	$0, SF_STEP(%rbx)
	jne	.Lstep
.Lstepped:
	cmpq	$0, SF_DEFERRED(%rbx)
	jne	.Lwaited
	/*
	 * EEXIT's way out: RIP is the final RBX.  POPFQ and a jump through
	 * RBX then do what IRETQ does, for a tenth of its cost; a final TF
	 * (a debugger's single-step) keeps IRETQ, which traps after the
	 * first instruction there.
	 */
	mov	SF_RIP(%rbx), %rax
	cmp	SF_RBX(%rbx), %rax
	jne	.Liret
	testl	$0x100, SF_RFLAGS(%rbx)
	jnz	.Liret
	lea	SF_RFLAGS(%rbx), %rsp
	frame_gprs
	popfq
	mov	SF_RSP(%rbx), %rsp
	mov	SF_RBX(%rbx), %rbx
	jmp	*%rbx
.Liret:
	lea	SF_IRET(%rbx), %rsp
	frame_gprs
	mov	SF_RBX(%rbx), %rbx
	iretq
.Lstep:
	/* SOFTSGX_TEST_STUB_STEP: single-step the rest (exec.c). */
	movb	$0, SF_STEP(%rbx)
	pushfq
	orq	$0x100, (%rsp)
	popfq
	jmp	.Lstepped
.Lwaited:
	/* A signal waited: rt_sigreturn installs the state and lets it in. */
	movb	$1, SF_BUSY(%rbx)
	fsgs_from 0, 8
	lea	STUB_AREA_OFF(%rbx), %rsp
	/* rt_sigreturn takes the extended state from the image: the live one. */
	cmpb	$0, SF_XIMG(%rbx)
	jne	1f
	live_to_image
1:	mov	%rbx, %rdi
	call	softsgx_stub_sigframe
	jmp	.Lfinal
softsgx_stub_tail_end:
.Lsigret:
	/* R12 = the frame; FS and GS are in place (rt_sigreturn restores neither). */
	mov	%r12, %rsp
	mov	$15, %eax			/* rt_sigreturn */
	movb	$0, SF_BUSY(%rbx)
softsgx_stub_sr:
	syscall
softsgx_stub_sr_end:
	ud2
	.size softsgx_stub_common, .-softsgx_stub_common

/*
 * Saving the enclave's extended state around the C side.  XSAVE and XRSTOR
 * cost about 300 cycles a pair, more than the rest of a leaf; C touches only
 * the vector registers (and the opmasks, in glibc's EVEX string functions),
 * never x87 state or MXCSR, so the stub saves just those with plain moves,
 * by what the CPU has (enclu_patch.c picks the pair).  Whenever the C side
 * needs an XSAVE image (an AEX, a signal frame), softsgx_stub_vimage() makes
 * one from them.  Upper halves that were in their initial state (XINUSE)
 * are put back with VZEROUPPER, so that legacy SSE code after the leaf runs
 * as it did before it.
 *
 * Each routine: RBX = the slot; the save may change RAX, RCX, RDX and the
 * flags, the restore only the flags and the registers it restores.
 */
	.macro	xinuse_to_frame
	mov	$-1, %eax
	cmpb	$0, softsgx_stub_have_xinuse(%rip)
	je	1f
	mov	$1, %ecx
	xgetbv
1:	mov	%eax, SF_XINUSE(%rbx)
	movb	$0, SF_XIMG(%rbx)
	.endm

	.macro	xmm_loads
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	SF_VEC+64*\i(%rbx), %xmm\i
	.endr
	.endm

	.globl softsgx_stub_vsave_sse, softsgx_stub_vrest_sse
	.hidden softsgx_stub_vsave_sse, softsgx_stub_vrest_sse
	.globl softsgx_stub_vsave_avx, softsgx_stub_vrest_avx
	.hidden softsgx_stub_vsave_avx, softsgx_stub_vrest_avx
	.globl softsgx_stub_vsave_avx512, softsgx_stub_vrest_avx512
	.hidden softsgx_stub_vsave_avx512, softsgx_stub_vrest_avx512
	.globl softsgx_stub_vimage, softsgx_stub_vsave_xsave
	.hidden softsgx_stub_vimage, softsgx_stub_vsave_xsave

	/* XSAVEOPT straight into the image, which the tail then restores. */
	.type softsgx_stub_vsave_xsave, @function
softsgx_stub_vsave_xsave:
	live_to_image xsaveopt64
	ret
	.size softsgx_stub_vsave_xsave, .-softsgx_stub_vsave_xsave

	.type softsgx_stub_vsave_sse, @function
softsgx_stub_vsave_sse:
	movl	$-1, SF_XINUSE(%rbx)
	movb	$0, SF_XIMG(%rbx)
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	%xmm\i, SF_VEC+64*\i(%rbx)
	.endr
	ret
	.size softsgx_stub_vsave_sse, .-softsgx_stub_vsave_sse

	.type softsgx_stub_vrest_sse, @function
softsgx_stub_vrest_sse:
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	SF_VEC+64*\i(%rbx), %xmm\i
	.endr
	ret
	.size softsgx_stub_vrest_sse, .-softsgx_stub_vrest_sse

	.type softsgx_stub_vsave_avx, @function
softsgx_stub_vsave_avx:
	xinuse_to_frame
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	%ymm\i, SF_VEC+64*\i(%rbx)
	.endr
	ret
	.size softsgx_stub_vsave_avx, .-softsgx_stub_vsave_avx

	.type softsgx_stub_vrest_avx, @function
softsgx_stub_vrest_avx:
	testb	$0x04, SF_XINUSE(%rbx)		/* YMM_Hi128 */
	jz	1f
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	SF_VEC+64*\i(%rbx), %ymm\i
	.endr
	ret
1:	vzeroupper
	xmm_loads
	ret
	.size softsgx_stub_vrest_avx, .-softsgx_stub_vrest_avx

	.type softsgx_stub_vsave_avx512, @function
softsgx_stub_vsave_avx512:
	xinuse_to_frame
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 %zmm\i, SF_VEC+64*\i(%rbx)
	.endr
	.irp	i,0,1,2,3,4,5,6,7
	kmovq	%k\i, SF_VEC_K+8*\i(%rbx)
	.endr
	ret
	.size softsgx_stub_vsave_avx512, .-softsgx_stub_vsave_avx512

	.type softsgx_stub_vrest_avx512, @function
softsgx_stub_vrest_avx512:
	testb	$0x44, SF_XINUSE(%rbx)		/* YMM_Hi128, ZMM_Hi256 */
	jz	1f
	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu64 SF_VEC+64*\i(%rbx), %zmm\i
	.endr
	jmp	2f
1:	vzeroupper
	xmm_loads
2:	.irp	i,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 SF_VEC+64*\i(%rbx), %zmm\i
	.endr
	.irp	i,0,1,2,3,4,5,6,7
	kmovq	SF_VEC_K+8*\i(%rbx), %k\i
	.endr
	ret
	.size softsgx_stub_vrest_avx512, .-softsgx_stub_vrest_avx512

/*
 * void softsgx_stub_vclobber(void): test only (SOFTSGX_TEST_STUB_CLOBBER=1),
 * all ones in every vector register of softsgx_stub_vwidth, the opmasks
 * too: all that any pair keeps on this CPU.  They belong to the caller.
 */
	.globl softsgx_stub_vclobber
	.hidden softsgx_stub_vclobber
	.type softsgx_stub_vclobber, @function
softsgx_stub_vclobber:
	cmpb	$3, softsgx_stub_vwidth(%rip)
	je	3f
	cmpb	$2, softsgx_stub_vwidth(%rip)
	je	2f
	pcmpeqd	%xmm0, %xmm0
	.irp	i,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqa	%xmm0, %xmm\i
	.endr
	ret
2:	vpcmpeqd %ymm0, %ymm0, %ymm0
	.irp	i,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqa	%ymm0, %ymm\i
	.endr
	ret
3:	.irp	i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vpternlogd $0xff, %zmm\i, %zmm\i, %zmm\i
	.endr
	mov	$-1, %rax
	.irp	i,0,1,2,3,4,5,6,7
	kmovq	%rax, %k\i
	.endr
	ret
	.size softsgx_stub_vclobber, .-softsgx_stub_vclobber

/*
 * void softsgx_stub_vimage(struct slot *s): the XSAVE image of the state
 * the stub saved (the vector registers it holds, x87 and MXCSR as they are,
 * untouched by C), for the C side's AEX or signal frame; the tail then
 * leaves with the image.  Changes every vector register: they belong to
 * the caller.
 */
	.type softsgx_stub_vimage, @function
softsgx_stub_vimage:
	push	%rbx
	mov	%rdi, %rbx
	cmpb	$0, SF_XIMG(%rbx)
	jne	1f
	call	*softsgx_stub_vrest(%rip)
	live_to_image
1:	pop	%rbx
	ret
	.size softsgx_stub_vimage, .-softsgx_stub_vimage

	.section .note.GNU-stack, "", @progbits
