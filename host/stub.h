/* SPDX-License-Identifier: MIT */
/*
 * Trap-free ENCLU: the layout that the per-site stubs (enclu_patch.c), the
 * common stub code (enclu_stub.S) and the C side (exec.c) share.  Included
 * from assembly too, so only preprocessor constants above the C part.
 *
 * Each thread's slot (exec.c) is SLOT_SIZE bytes, aligned to its size:
 *   +0x0000  struct slot
 *   +0x1000  guard page
 *   +0x2000  the alternate signal stack, up to STUB_AREA_OFF; the stub's C
 *            side runs at its top, so a signal nests below it
 *   +STUB_AREA_OFF  the stub frame (struct stub_frame), then the XSAVE
 *            image, then the rt_sigreturn frame the stub may leave by
 */
#ifndef SOFTSGX_HOST_STUB_H
#define SOFTSGX_HOST_STUB_H

#define SLOT_SIZE 0x20000
#define SLOT_STACK_OFF 0x2000
#define STUB_AREA_OFF 0x1A000
#define STUB_XSAVE_OFF (STUB_AREA_OFF + 0x1000)
#define STUB_XSAVE_MAX 0x3000   /* AMX's 11 KiB fit */
#define STUB_UC_OFF (STUB_AREA_OFF + 0x4000)

/* struct stub_frame, from the slot's base (the registers are struct sgx_regs). */
#define SF_RAX (STUB_AREA_OFF + 0)
#define SF_RCX (STUB_AREA_OFF + 8)
#define SF_RDX (STUB_AREA_OFF + 16)
#define SF_RBX (STUB_AREA_OFF + 24)
#define SF_RSP (STUB_AREA_OFF + 32)
#define SF_RBP (STUB_AREA_OFF + 40)
#define SF_RSI (STUB_AREA_OFF + 48)
#define SF_RDI (STUB_AREA_OFF + 56)
#define SF_R8 (STUB_AREA_OFF + 64)
#define SF_R9 (STUB_AREA_OFF + 72)
#define SF_R10 (STUB_AREA_OFF + 80)
#define SF_R11 (STUB_AREA_OFF + 88)
#define SF_R12 (STUB_AREA_OFF + 96)
#define SF_R13 (STUB_AREA_OFF + 104)
#define SF_R14 (STUB_AREA_OFF + 112)
#define SF_R15 (STUB_AREA_OFF + 120)
#define SF_RFLAGS (STUB_AREA_OFF + 128)
#define SF_RIP (STUB_AREA_OFF + 136)
#define SF_FS (STUB_AREA_OFF + 144)
#define SF_GS (STUB_AREA_OFF + 152)
#define SF_SITE (STUB_AREA_OFF + 160)
#define SF_COMMON (STUB_AREA_OFF + 168)
#define SF_DEFERRED (STUB_AREA_OFF + 176)
#define SF_BUSY (STUB_AREA_OFF + 184)
#define SF_STEP (STUB_AREA_OFF + 185)
#define SF_XIMG (STUB_AREA_OFF + 186)
#define SF_XINUSE (STUB_AREA_OFF + 188)
#define SF_IRET (STUB_AREA_OFF + 192)
/*
 * The enclave's vector registers as the stub saved them (XMM, YMM or ZMM
 * and the opmasks, by what the CPU has): 32 x 64 bytes, then k0-k7.
 */
#define SF_VEC (STUB_AREA_OFF + 0x400)
#define SF_VEC_K (SF_VEC + 2048)
#define SF_VEC_END (SF_VEC_K + 64)

/*
 * The bucket a per-site stub locks while it finds its thread: one per 4 KiB
 * page of the stack pointer (16 bits of it), BUCKET_SIZE apart so that the
 * lock word's address plus one always ends in the byte 0x01.
 */
#define BUCKET_SIZE 256
#define NR_BUCKETS 65536
#define B_LOCK 0
#define B_RCX 8
#define B_R11 16

#ifndef __ASSEMBLER__
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "softsgx/enclu.h"

struct stub_frame {
	/* Entry state (phase A/B), replaced by the final state at commit. */
	struct sgx_regs r;
	uint32_t site;          /* global index of the site (enclu_patch.c) */
	uint32_t pad;
	uint64_t common;        /* softsgx_stub_common, for the site's jump */
	/* Signals (bit sig - 1) the handler blocked to let them wait. */
	_Atomic uint64_t deferred_set;
	_Atomic uint8_t busy;   /* the C side runs: asynchronous signals wait */
	uint8_t step;           /* test only: single-step the tail (exec.c) */
	/*
	 * The XSAVE image holds the state to leave with (the tail restores
	 * it); when 0, the saved vector registers at SF_VEC do.
	 */
	uint8_t ximg;
	uint8_t pad2;
	uint32_t xinuse;        /* XINUSE (XGETBV 1) at the stub, or all ones */
	uint64_t iret[5];       /* RIP, CS, RFLAGS, RSP, SS for the way out */
	uint64_t mask;          /* the mask the final state runs with, when mask_set */
	uint64_t mask_set;
};
_Static_assert(__builtin_offsetof(struct stub_frame, site) == 160, "SF_SITE");
_Static_assert(__builtin_offsetof(struct stub_frame, common) == 168, "SF_COMMON");
_Static_assert(__builtin_offsetof(struct stub_frame, deferred_set) == 176, "SF_DEFERRED");
_Static_assert(__builtin_offsetof(struct stub_frame, busy) == 184, "SF_BUSY");
_Static_assert(__builtin_offsetof(struct stub_frame, iret) == 192, "SF_IRET");
_Static_assert(__builtin_offsetof(struct stub_frame, ximg) == 186, "SF_XIMG");
_Static_assert(__builtin_offsetof(struct stub_frame, xinuse) == 188, "SF_XINUSE");
_Static_assert(sizeof(struct stub_frame) <= SF_VEC - STUB_AREA_OFF, "SF_VEC");
_Static_assert(SF_VEC_END <= STUB_XSAVE_OFF, "the saved vector registers fit");
_Static_assert(__builtin_offsetof(struct stub_frame, r.rflags) == 128, "SF_RFLAGS");
_Static_assert(__builtin_offsetof(struct stub_frame, r.gsbase) == 152, "SF_GS");

/* The template and common code (enclu_stub.S). */
extern char softsgx_stub_tmpl[], softsgx_stub_tmpl_end[];
extern char softsgx_stub_t_xchg[], softsgx_stub_t_movz[], softsgx_stub_t_disp[];
extern char softsgx_stub_t_busy[], softsgx_stub_t_claimed[], softsgx_stub_t_after[];
extern char softsgx_stub_t_unlock[], softsgx_stub_t_go[], softsgx_stub_t_noslot[];
extern char softsgx_stub_t_unlock2[], softsgx_stub_t_nsl2[];
extern char softsgx_stub_f_lea1[], softsgx_stub_f_disp[], softsgx_stub_f_leaf1[];
extern char softsgx_stub_f_rel1[], softsgx_stub_f_lea2[], softsgx_stub_f_tid[];
extern char softsgx_stub_f_lea3[], softsgx_stub_f_site[], softsgx_stub_f_leaf2[];
extern char softsgx_stub_f_rel2[];
extern char softsgx_stub_t_dsclaimed[], softsgx_stub_t_dsrcx[], softsgx_stub_t_dsslot[];
extern char softsgx_stub_t_dsgo[], softsgx_stub_t_old[];
extern char softsgx_stub_f_dsvalid[], softsgx_stub_f_dsdisp[], softsgx_stub_f_dsslot[];
extern char softsgx_stub_f_site2[];
extern char softsgx_stub_common[], softsgx_stub_busy[];
extern char softsgx_stub_tail[], softsgx_stub_tail_end[];
extern char softsgx_stub_sr[], softsgx_stub_sr_end[];

/* ---- enclu_patch.c ---- */
struct shim_file;

/* Set up at load (SOFTSGX_FAST_ENCLU and what the CPU offers). */
void shim_stub_init(void);
struct sgx_cpu;
/* Show EDBGRD/EDBGWR of @cpu's enclaves the original code. */
void shim_stub_attach(struct sgx_cpu *cpu);
/* Is trap-free ENCLU in use in this process? */
bool shim_stub_enabled(void);
/* In a forked child: no stub of the parent's is live. */
void shim_stub_after_fork(void);
void shim_stub_fork_prepare(void);
void shim_stub_fork_parent(void);
/* Rewrite the ENCLU sites of pages [@start, @end) of @f (see enclu_patch.c). */
void shim_stub_patch(struct shim_file *f, unsigned long start, unsigned long end, bool init);
/* The enclave is gone: its stubs too. */
void shim_stub_release(struct shim_file *f);
/* Is @rip in a per-site stub? */
bool shim_stub_pc(uint64_t rip);
/*
 * Test only: when @rip is a stub's xchg that takes the bucket lock, the
 * lock word of the bucket of @rsp (for SOFTSGX_TEST_STUB_STEP=2), else NULL.
 */
uint64_t *shim_stub_test_lock(uint64_t rip, uint64_t rsp);
/* The thread table the stubs find their slot in. */
void shim_stub_set_tid(int tid, void *slot);
void shim_stub_clear_tid(int tid, void *slot);
/*
 * The calling thread takes slot @idx at @slot: its own LDT entry in DS, by
 * which the stubs know it (or DS 0, the thread table's way).  Clearing is
 * done by the thread too, as it leaves the slot.
 */
void shim_stub_set_ds(unsigned int idx, void *slot);
void shim_stub_clear_ds(unsigned int idx);

struct stub_site_info {
	uint64_t enclu;     /* the ENCLU's address */
	uint32_t leaf;
	struct shim_file *f;
};
/* The site @k, for the C side (false: no such site). */
bool shim_stub_site(uint32_t k, struct stub_site_info *out);

/*
 * A signal landed at RIP inside a per-site stub before it found its slot:
 * put @uc back to the state at an instruction of the enclave's own code
 * (releasing the stub's lock when it held it).  @slot_base is the thread's
 * slot (for the frame), or 0.  True when RIP was in a stub.
 */
bool shim_stub_rewind(ucontext_t *uc, unsigned long slot_base);

struct stub_stats {
	_Atomic uint64_t sites, fast, slow, rewinds, deferred, forward;
	_Atomic uint64_t contended; /* SOFTSGX_TEST_STUB_STEP=2: buckets found held */
	_Atomic uint64_t eresume;   /* ERESUMEs of the vDSO without a trap */
};
extern struct stub_stats shim_stub_stats;
extern uint32_t shim_xsave_size;
extern uint64_t softsgx_stub_rfbm;

/* The stubs' save and restore of the vector registers (enclu_stub.S). */
extern void (*softsgx_stub_vsave)(void), (*softsgx_stub_vrest)(void);
extern uint8_t softsgx_stub_have_xinuse;
/* This CPU's widest vector registers plain moves keep: 1 XMM, 2 YMM, 3 ZMM and k0-k7. */
extern uint8_t softsgx_stub_vwidth;
void softsgx_stub_vimage(void *slot);
/* Test only: overwrite every register of that width (enclu_stub.S). */
void softsgx_stub_vclobber(void);
#endif
#endif
