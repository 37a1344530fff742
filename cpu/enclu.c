// SPDX-License-Identifier: MIT
/*
 * The ENCLU core: leaf dispatch, the in-enclave operand rule, enclave entry
 * (EENTER, ERESUME incl. the AEX-Notify path), EEXIT and the asynchronous
 * exit (AEX).  Checks follow, in order, the SDM's EENTER, ERESUME and EEXIT
 * descriptions and its chapter "Enclave Exiting Events".
 *
 * The model runs 64-bit enclave code only: a SECS without MODE64BIT cannot be
 * entered (#GP at EENTER/ERESUME, the "mode differs from ATTRIBUTES.MODE64BIT"
 * check), so none of the 32-bit segment rules exist here.  Debug opt-out
 * (saving and clearing RFLAGS.TF, breakpoint suppression) is not modelled.
 *
 * Everything here runs in signal context in the host layer: no allocation,
 * no stdio, no blocking locks.  The per-page instruction locks only ever fail.
 *
 * Where hardware caches the physical addresses of the current SSA frame at
 * entry, the model keeps the frame numbers in the TCS's hidden area (beyond
 * SGX_TCS_LIMIT, after struct tcs_hidden): the TCS is busy for exactly as
 * long as the logical processor is inside, so per-TCS is per-LP, and AEX (which
 * has no page tables to walk) finds the frame there.
 */
#include "internal.h"
#include "softsgx/enclu.h"


#define RFLAGS_IF (1ULL << 9)
#define RFLAGS_DF (1ULL << 10)
#define RFLAGS_NT (1ULL << 14)
#define RFLAGS_RF (1ULL << 16)
#define RFLAGS_VM (1ULL << 17)
#define RFLAGS_AC (1ULL << 18)
#define RFLAGS_ID (1ULL << 21)
#define RFLAGS_IOPL_SHIFT 12
#define RFLAGS_ARITH (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | \
		      X86_EFLAGS_SF | X86_EFLAGS_OF)
/* What ERESUME takes back from GPRSGX.RFLAGS (SDM ERESUME). */
#define RFLAGS_RESUME (RFLAGS_ARITH | RFLAGS_DF | RFLAGS_NT | RFLAGS_RF | RFLAGS_AC | RFLAGS_ID)

/* x87/SSE INIT values of the legacy XSAVE region. */
#define XSAVE_FCW_INIT 0x037F
#define XSAVE_MXCSR_INIT 0x1F80
#define XSAVE_FSW_OFF 2
#define XSAVE_MXCSR_OFF 24
/*
 * AEX's synthetic values instead of INIT (SDM Table "GPR, x87 Synthetic
 * States on Asynchronous Enclave Exit"): an unmasked invalid-operation
 * exception pending, so the host's #MF/#XM handler sees a plausible cause.
 */
#define AEX_MF_FCW 0x037E
#define AEX_MF_FSW 0x8081
#define AEX_XM_MXCSR 0x1F01
#define XSAVE_HDR_OFF 512
#define XSAVE_SW_OFF 464 /* bytes 464-511: for software, not state */
/* MXCSR bits 31:16 are reserved: XRSTOR #GPs on them (MXCSR_MASK 0xFFFF). */
#define XSAVE_MXCSR_RESERVED 0xFFFF0000u

/* The SSA frame pages the model can cache: XSAVE pages plus the GPRSGX page. */
#define SSA_MAX_XPAGES 3

/* Pages of one SSA frame that entry validated and AEX writes. */
struct ssa_map {
	uint32_t xframe[SSA_MAX_XPAGES]; /* EPC frames of the XSAVE-area pages */
	uint32_t nx;                     /* number of XSAVE-area pages */
	uint32_t gframe;                 /* EPC frame of the page holding GPRSGX */
	uint64_t la;                     /* linear address of the frame's first page */
	uint64_t gla;                    /* linear address of the GPRSGX page */
};

/* Hidden per-TCS entry state, the model's copy of the cached SSA address. */
struct tcs_entry {
	struct ssa_map ssa;
};
#define TCS_ENTRY_OFFSET (SGX_TCS_LIMIT + 64)
_Static_assert(sizeof(struct tcs_hidden) <= 64, "tcs_hidden overlaps the entry cache");
_Static_assert(TCS_ENTRY_OFFSET + sizeof(struct tcs_entry) <= SGX_PAGE_SIZE, "tcs_entry");

static bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

bool in_elrange(const struct sgx_secs *secs, uint64_t la)
{
	return la >= secs->base && la - secs->base < secs->size;
}

static struct tcs_entry *tcs_entry(struct sgx_cpu *cpu, uint32_t tcs_frame)
{
	return (struct tcs_entry *)(frame_bytes(cpu, tcs_frame) + TCS_ENTRY_OFFSET);
}

static struct sgx_gprsgx *ssa_gprsgx(struct sgx_cpu *cpu, const struct ssa_map *m)
{
	return (struct sgx_gprsgx *)(frame_bytes(cpu, m->gframe) + SGX_PAGE_SIZE -
				     SGX_SSA_GPRS_SIZE);
}

/* #PF error codes: the access came from user mode; EPCM refusals add P and SGX. */
static int pf_unmapped(uint64_t la, bool write)
{
	return fault_pf(la, X86_PF_USER | (write ? X86_PF_WRITE : 0));
}

int pf_epcm(uint64_t la, bool write)
{
	return fault_pf(la, X86_PF_PROT | X86_PF_USER | X86_PF_SGX | (write ? X86_PF_WRITE : 0));
}

/*
 * Translate @la through the thread's page tables: a plain #PF when it is not
 * mapped, an SGX #PF when it does not resolve to EPC (the SDM's access-control
 * rules for enclave code).
 */
int enclu_page(struct sgx_cpu *cpu, const struct sgx_mmu *mmu, uint64_t la, bool write,
	       uint32_t *frame)
{
	uint64_t pa;

	if (mmu->translate(mmu->ctx, la, write, &pa))
		return pf_unmapped(la, write);
	*frame = epc_frame(cpu, pa);
	if (*frame == NO_FRAME)
		return pf_epcm(la, write);
	return 0;
}

/* The SDM's "usable enclave page" test, R always, W when @write. */
static bool page_usable(const struct epcm *e, uint32_t secs_frame, uint64_t la, bool write)
{
	if ((e->flags & (EPCM_VALID | EPCM_BLOCKED | EPCM_PENDING | EPCM_MODIFIED)) != EPCM_VALID)
		return false;
	if (e->pt != SGX_PAGE_TYPE_REG || e->secs != secs_frame ||
	    e->linaddr != (la & SGX_PAGE_MASK))
		return false;
	if (!(e->rwx & SGX_SECINFO_R) || (write && !(e->rwx & SGX_SECINFO_W)))
		return false;
	return true;
}

int enclu_operand(struct sgx_cpu *cpu, const struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  uint64_t la, uint64_t align, bool write, uint32_t *frame, uint8_t **bytes)
{
	const struct sgx_secs *secs = secs_of(cpu, lp->secs_frame);
	uint32_t f;
	int r;

	if (!is_aligned(la, align) || !in_elrange(secs, la))
		return fault_gp();
	r = enclu_page(cpu, mmu, la, write, &f);
	if (r)
		return r;
	if (!page_usable(epcm_of(cpu, f), lp->secs_frame, la, write))
		return pf_epcm(la, write);
	*frame = f;
	*bytes = frame_bytes(cpu, f) + (la & ~SGX_PAGE_MASK);
	return 0;
}

void sgx_lp_init(struct sgx_lp *lp)
{
	memset(lp, 0, sizeof(*lp));
	lp->secs_frame = NO_FRAME;
	lp->tcs_frame = NO_FRAME;
}

/*
 * One page of an SSA frame: a usable R/W REG page of the enclave.  SSA pages
 * are not concurrency operands of the entry leaves (the SDM's tables name
 * only the TCS), so no page lock is taken: an EBLOCK, EMODPR, EWB... of an
 * SSA page runs alongside, and the EPCM is read without the lock (its fields
 * are atomic).  What keeps the frame from going away under an LP is the
 * order of entry_commit(): the LP counts itself inside first and checks the
 * pages again afterwards.
 */
static int ssa_page(struct sgx_cpu *cpu, const struct sgx_mmu *mmu, uint32_t secs_frame,
		    uint64_t la, uint32_t *frame)
{
	int r = enclu_page(cpu, mmu, la, true, frame);

	if (r)
		return r;
	if (!page_usable(epcm_of(cpu, *frame), secs_frame, la, true))
		return pf_epcm(la, true);
	return 0;
}

/*
 * EENTER step 10: every page the XSAVE area spans and the page holding GPRSGX
 * of SSA frame @idx must be usable R/W REG pages of the enclave (#PF on the
 * first one that is not).
 */
static int ssa_frame_check(struct sgx_cpu *cpu, const struct sgx_mmu *mmu, uint32_t secs_frame,
			   const struct sgx_secs *secs, const struct sgx_tcs *tcs, uint32_t idx,
			   struct ssa_map *m)
{
	uint64_t fsize = (uint64_t)secs->ssa_frame_size * SGX_PAGE_SIZE;
	uint64_t la = secs->base + tcs->ssa_offset + (uint64_t)idx * fsize;
	uint32_t xsz = xsave_size(secs->xfrm);
	uint32_t last = secs->ssa_frame_size - 1;
	int r;

	m->nx = (uint32_t)((xsz + SGX_PAGE_SIZE - 1) / SGX_PAGE_SIZE);
	/* ECREATE guarantees the frame holds XSAVE + GPRSGX; more pages than this never occur. */
	if (m->nx > SSA_MAX_XPAGES || secs->ssa_frame_size == 0)
		return fault_gp();
	m->la = la;
	m->gla = la + (uint64_t)last * SGX_PAGE_SIZE;
	for (uint32_t i = 0; i < m->nx; i++) {
		r = ssa_page(cpu, mmu, secs_frame, la + i * SGX_PAGE_SIZE, &m->xframe[i]);
		if (r)
			return r;
	}
	if (last < m->nx) {
		m->gframe = m->xframe[last];
		return 0;
	}
	return ssa_page(cpu, mmu, secs_frame, m->gla, &m->gframe);
}

/*
 * The same pages again, by the frames found before (hardware caches their
 * physical addresses): called once the LP counts as inside, so that a page
 * blocked, restricted, trimmed or removed meanwhile is seen here, and any
 * later change of it must wait for this LP through tracking (EWB, EACCEPT)
 * or fails on it (EREMOVE's ENCLAVE_ACT).
 */
static int ssa_frame_recheck(struct sgx_cpu *cpu, uint32_t secs_frame, const struct ssa_map *m)
{
	for (uint32_t i = 0; i < m->nx; i++) {
		uint64_t la = m->la + (uint64_t)i * SGX_PAGE_SIZE;

		if (!page_usable(epcm_of(cpu, m->xframe[i]), secs_frame, la, true))
			return pf_epcm(la, true);
	}
	if (!page_usable(epcm_of(cpu, m->gframe), secs_frame, m->gla, true))
		return pf_epcm(m->gla, true);
	return 0;
}

/* Copy @len bytes at offset @off of the SSA frame's XSAVE pages. */
static void ssa_xsave_rw(struct sgx_cpu *cpu, const struct ssa_map *m, uint32_t off, void *buf,
			 uint32_t len, bool to_ssa)
{
	uint8_t *b = buf;

	while (len) {
		uint32_t pg = off / SGX_PAGE_SIZE, po = off % SGX_PAGE_SIZE;
		uint32_t n = (uint32_t)SGX_PAGE_SIZE - po;
		uint8_t *p;

		if (n > len)
			n = len;
		p = frame_bytes(cpu, m->xframe[pg]) + po;
		if (to_ssa)
			memcpy(p, b, n);
		else
			memcpy(b, p, n);
		off += n;
		b += n;
		len -= n;
	}
}

/* The XSAVE fields XRSTOR checks, read once so that what is checked is what loads. */
struct xsave_ctl {
	uint8_t hdr[24]; /* XSTATE_BV, XCOMP_BV, first reserved qword */
	uint32_t mxcsr;
};

/* XRSTOR's checks on the saved image (SDM ERESUME): header and MXCSR. */
static bool ssa_xsave_valid(struct sgx_cpu *cpu, const struct ssa_map *m, uint64_t xfrm,
			    struct xsave_ctl *c)
{
	uint64_t bv;

	ssa_xsave_rw(cpu, m, XSAVE_HDR_OFF, c->hdr, sizeof(c->hdr), false);
	ssa_xsave_rw(cpu, m, XSAVE_MXCSR_OFF, &c->mxcsr, 4, false);
	memcpy(&bv, c->hdr, 8);
	if (bv & ~xfrm || !all_zero(c->hdr + 8, 16))
		return false;
	return !(c->mxcsr & XSAVE_MXCSR_RESERVED);
}

/*
 * A zeroed x87/SSE image of @size bytes with the INIT control words, or
 * AEX's synthetic ones for exception @vector (-1: none).
 */
static void xsave_init_image(uint8_t *buf, uint32_t size, int vector)
{
	bool mf = vector == X86_TRAP_MF, xm = vector == X86_TRAP_XM;
	uint16_t fcw = mf ? AEX_MF_FCW : XSAVE_FCW_INIT, fsw = mf ? AEX_MF_FSW : 0;
	uint32_t mxcsr = xm ? AEX_XM_MXCSR : XSAVE_MXCSR_INIT;

	memset(buf, 0, size);
	if (size >= XSAVE_MXCSR_OFF + 4) {
		memcpy(buf, &fcw, 2);
		memcpy(buf + XSAVE_FSW_OFF, &fsw, 2);
		memcpy(buf + XSAVE_MXCSR_OFF, &mxcsr, 4);
	}
}

/*
 * AEX's XRSTOR-with-INIT of the enclave's features (SDM, AEX): x87 and SSE
 * (always in XFRM) get their INIT values except FCW 037EH and FSW 8081H
 * after #MF, MXCSR 1F01H after #XM; each other XFRM component is zeroed
 * and marked INIT in XSTATE_BV.  x87 (bit 0) and SSE (bit 1) are marked
 * present when they hold such a synthetic value, as XSAVE would mark them:
 * with the bit clear an XRSTOR of the image would load INIT and lose it.
 * Components outside XFRM were never the enclave's (XCR0 was XFRM inside):
 * they keep the host's state, bytes and XSTATE_BV bits alike.
 */
static void xsave_init_xfrm(uint8_t *buf, uint32_t size, uint64_t xfrm, int vector)
{
	uint8_t sw[XSAVE_HDR_OFF - XSAVE_SW_OFF];
	uint64_t bv;

	if (size < XSAVE_HDR_OFF + 64) {
		xsave_init_image(buf, size, vector);
		return;
	}
	/*
	 * Bytes 464-511 of the legacy area are not state (XSAVE and XRSTOR
	 * leave them alone); a signal frame keeps the kernel's description of
	 * the image there, which must survive.
	 */
	memcpy(sw, buf + XSAVE_SW_OFF, sizeof(sw));
	xsave_init_image(buf, XSAVE_HDR_OFF, vector);
	memcpy(buf + XSAVE_SW_OFF, sw, sizeof(sw));
	memcpy(&bv, buf + XSAVE_HDR_OFF, 8);
	bv &= ~xfrm;
	bv |= (vector == X86_TRAP_MF ? 1ULL : 0) | (vector == X86_TRAP_XM ? 2ULL : 0);
	memcpy(buf + XSAVE_HDR_OFF, &bv, 8);
	for (unsigned int i = 2; i < 64; i++) {
		uint32_t off, len;

		if ((xfrm & (1ULL << i)) && xsave_component(i, &off, &len) && off < size)
			memset(buf + off, 0, off + len <= size ? len : size - off);
	}
}

static uint64_t *tcs_state(struct sgx_cpu *cpu, uint32_t tcs_frame)
{
	return (uint64_t *)frame_bytes(cpu, tcs_frame); /* STATE is the qword at 0 */
}

/*
 * CSSA moves on AEX/ERESUME by the LP that owns the TCS while other LPs may
 * be looking at the TCS to enter it; the release store after the SSA writes
 * pairs with the acquire load before the SSA reads.
 */
static uint32_t *tcs_cssa(struct sgx_cpu *cpu, uint32_t tcs_frame)
{
	return (uint32_t *)(frame_bytes(cpu, tcs_frame) + offsetof(struct sgx_tcs, ssa_index));
}

static uint32_t cssa_load(struct sgx_cpu *cpu, uint32_t tcs_frame)
{
	return __atomic_load_n(tcs_cssa(cpu, tcs_frame), __ATOMIC_ACQUIRE);
}

static void cssa_store(struct sgx_cpu *cpu, uint32_t tcs_frame, uint32_t v)
{
	__atomic_store_n(tcs_cssa(cpu, tcs_frame), v, __ATOMIC_RELEASE);
}

/*
 * Latch the entry on @lp (the effects in the SDM's EENTER); the LP already
 * counts as inside (entry_commit()).
 */
static void lp_enter(struct sgx_cpu *cpu, struct sgx_lp *lp, uint32_t secs_frame,
		     uint32_t tcs_frame, uint64_t tcs_la, uint64_t aep, const struct ssa_map *m,
		     struct sgx_regs *regs)
{
	struct sgx_tcs *tcs = (struct sgx_tcs *)frame_bytes(cpu, tcs_frame);

	tcs->exit_addr = aep;
	tcs_entry(cpu, tcs_frame)->ssa = *m;
	lp->in_enclave = true;
	lp->secs_frame = secs_frame;
	lp->tcs_frame = tcs_frame;
	lp->tcs_la = tcs_la;
	lp->aep = aep;
	lp->outside_fsbase = regs->fsbase;
	lp->outside_gsbase = regs->gsbase;
}

/*
 * Count the LP inside the enclave (docs/architecture.md, "Tracking"), then
 * check SSA frame @m again.  In this order, every change of an SSA page is
 * either seen here or made after the count went up, and then tracking keeps the
 * page until this LP leaves.  Return 0, or the fault with the count back down.
 */
static int entry_commit(struct sgx_cpu *cpu, uint32_t secs_frame, uint32_t tcs_frame,
			const struct ssa_map *m)
{
	int r;

	if (!track_enter(secs_hidden(cpu, secs_frame), tcs_hidden(cpu, tcs_frame)))
		return fault_gp();
	r = ssa_frame_recheck(cpu, secs_frame, m);
	if (r)
		track_leave(secs_hidden(cpu, secs_frame), tcs_hidden(cpu, tcs_frame));
	return r;
}

/*
 * Leave enclave mode.  The TCS is released before the tracking state drops
 * this LP: once track_leave() runs, EWB may consider the TCS tracked and
 * EREMOVE may free and reuse its frame, so nothing may touch the TCS after it.
 */
static void lp_leave(struct sgx_cpu *cpu, struct sgx_lp *lp)
{
	const struct tcs_hidden saved = *tcs_hidden(cpu, lp->tcs_frame);
	struct secs_hidden *h = secs_hidden(cpu, lp->secs_frame);

	memset(tcs_entry(cpu, lp->tcs_frame), 0, sizeof(struct tcs_entry));
	__atomic_store_n(tcs_state(cpu, lp->tcs_frame), 0, __ATOMIC_RELEASE);
	track_leave(h, &saved);
	sgx_lp_init(lp);
}

/* EENTER-style transfer into frame @m: RCX, RAX, RIP, URSP/URBP, FS/GS from the TCS. */
static void enter_at_oentry(struct sgx_cpu *cpu, const struct sgx_secs *secs,
			    const struct sgx_tcs *tcs, uint32_t cssa, const struct ssa_map *m,
			    struct sgx_regs *regs)
{
	struct sgx_gprsgx *gpr = ssa_gprsgx(cpu, m);

	gpr->ursp = regs->rsp;
	gpr->urbp = regs->rbp;
	regs->rcx = regs->rip + ENCLU_INSN_LEN;
	regs->rax = cssa;
	regs->rip = secs->base + tcs->entry_offset;
	regs->fsbase = secs->base + tcs->fs_offset;
	regs->gsbase = secs->base + tcs->gs_offset;
}

/*
 * ERESUME's normal path: restore what AEX saved in frame @m.  @gpr and @c
 * are the snapshot the checks ran on (enclave threads can write the SSA).
 */
static void resume_from_frame(struct sgx_cpu *cpu, const struct sgx_secs *secs,
			      const struct ssa_map *m, const struct sgx_gprsgx *gpr,
			      const struct xsave_ctl *c, struct sgx_regs *regs,
			      struct sgx_xstate *xs)
{
	uint64_t mask = RFLAGS_RESUME;

	if (xs && xs->buf) {
		uint32_t xsz = xsave_size(secs->xfrm);
		uint8_t *buf = xs->buf;
		uint64_t host_bv, bv;

		uint8_t sw[XSAVE_HDR_OFF - XSAVE_SW_OFF];

		/* XRSTOR with RFBM = XFRM: components outside XFRM keep the host's state. */
		memcpy(&host_bv, buf + XSAVE_HDR_OFF, 8);
		/* Bytes 464-511 are software's (the kernel's frame keeps its own there). */
		memcpy(sw, buf + XSAVE_SW_OFF, sizeof(sw));
		ssa_xsave_rw(cpu, m, 0, buf, xsz, false);
		memcpy(buf + XSAVE_SW_OFF, sw, sizeof(sw));
		memcpy(buf + XSAVE_HDR_OFF, c->hdr, sizeof(c->hdr));
		memcpy(buf + XSAVE_MXCSR_OFF, &c->mxcsr, 4);
		memcpy(&bv, c->hdr, 8);
		bv = (bv & secs->xfrm) | (host_bv & ~secs->xfrm);
		memcpy(buf + XSAVE_HDR_OFF, &bv, 8);
	}
	if (((regs->rflags >> RFLAGS_IOPL_SHIFT) & 3) == 3)
		mask |= RFLAGS_IF;
	regs->rflags = ((regs->rflags & ~mask) | (gpr->rflags & mask)) & ~RFLAGS_VM;
	regs->rax = gpr->rax;
	regs->rcx = gpr->rcx;
	regs->rdx = gpr->rdx;
	regs->rbx = gpr->rbx;
	regs->rsp = gpr->rsp;
	regs->rbp = gpr->rbp;
	regs->rsi = gpr->rsi;
	regs->rdi = gpr->rdi;
	regs->r8 = gpr->r8;
	regs->r9 = gpr->r9;
	regs->r10 = gpr->r10;
	regs->r11 = gpr->r11;
	regs->r12 = gpr->r12;
	regs->r13 = gpr->r13;
	regs->r14 = gpr->r14;
	regs->r15 = gpr->r15;
	regs->rip = gpr->rip;
	regs->fsbase = gpr->fsbase;
	regs->gsbase = gpr->gsbase;
}

/*
 * EENTER and ERESUME (the SDM's descriptions of each).  The preamble (the TCS,
 * SECS and SSA checks) is shared; they differ in the SSA frame they use and in
 * what they load.
 */
static int enclave_entry(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
			 struct sgx_regs *regs, struct sgx_xstate *xs, bool resume)
{
	struct ssa_map m, next;
	const struct ssa_map *cur = &m;
	struct sgx_gprsgx gpr = { 0 };
	struct xsave_ctl xctl = { { 0 }, 0 };
	uint64_t tcs_la = regs->rbx, aep = regs->rcx, expected = 0, target = 0;
	struct sgx_secs *secs;
	struct sgx_tcs *tcs;
	uint32_t tf, sf, cssa;
	bool notify = false;
	struct epcm *te;
	int r;

	/* 2. TCS operand and AEP. */
	if (!is_aligned(tcs_la, SGX_PAGE_SIZE))
		return fault_gp();
	r = enclu_page(cpu, mmu, tcs_la, false, &tf);
	if (r)
		return r;
	if (!canonical(aep))
		return fault_gp();

	/*
	 * 3. TCS busy with another SGX instruction.  Held until the end: no
	 * EREMOVE of the TCS can be under way while this LP counts itself in.
	 */
	te = epcm_of(cpu, tf);
	if (!page_lock_shared(te))
		return fault_gp();

	/* 4. EPCM(TCS). */
	if (!(te->flags & EPCM_VALID) ||
	    (te->flags & (EPCM_BLOCKED | EPCM_PENDING | EPCM_MODIFIED)) ||
	    te->linaddr != tcs_la || te->pt != SGX_PAGE_TYPE_TCS) {
		r = pf_epcm(tcs_la, false);
		goto out;
	}
	sf = te->secs;
	secs = secs_of(cpu, sf);
	tcs = (struct sgx_tcs *)frame_bytes(cpu, tf);
	cssa = cssa_load(cpu, tf);

	/* 5. Alignment of the TCS offsets. */
	if (!is_aligned(tcs->ssa_offset, SGX_PAGE_SIZE) ||
	    !is_aligned(tcs->fs_offset, SGX_PAGE_SIZE) ||
	    !is_aligned(tcs->gs_offset, SGX_PAGE_SIZE))
		goto gp;
	/* 6. 64-bit: FS/GS bases canonical. */
	if (!canonical(secs->base + tcs->fs_offset) || !canonical(secs->base + tcs->gs_offset))
		goto gp;
	/* 7. TCS.FLAGS. */
	if (tcs->flags & tcs_reserved_mask(cpu))
		goto gp;
	if (!(tcs->flags & SGX_TCS_DBGOPTIN) &&
	    !(tcs->flags & SGX_TCS_AEXNOTIFY) != !(secs->attributes & SGX_ATTR_ASYNC_EXIT_NOTIFY))
		goto gp;
	/*
	 * 8. Initialised; 64-bit mode (the only mode the model runs); the
	 * thread's extended state must hold XFRM (the model's XFRM ⊆ XCR0).
	 */
	if (!secs_hidden(cpu, sf)->initialized || !(secs->attributes & SGX_ATTR_MODE64BIT))
		goto gp;
	if (xs && xs->buf && xs->size < xsave_size(secs->xfrm))
		goto gp;

	/* 9. A free frame (EENTER) or a frame to resume from (ERESUME). */
	if (resume ? cssa == 0 : cssa >= tcs->nr_ssa_frames)
		goto gp;

	/* 10. The SSA frame. */
	r = ssa_frame_check(cpu, mmu, sf, secs, tcs, resume ? cssa - 1 : cssa, &m);
	if (r)
		goto out;

	/* 11. EENTER's target. */
	if (!resume && !canonical(secs->base + tcs->entry_offset))
		goto gp;

	/*
	 * 12. TCS.STATE is the busy lock: one LP per TCS.  An LP that was
	 * inside may have left (AEX moves CSSA) between our checks and the CAS:
	 * the TCS was busy when we looked, so #GP.
	 */
	if (!__atomic_compare_exchange_n(tcs_state(cpu, tf), &expected, 1, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		goto gp;
	if (cssa_load(cpu, tf) != cssa)
		goto gp_release;
	r = entry_commit(cpu, sf, tf, &m);
	if (r)
		goto release;

	/*
	 * ERESUME reads the frame's contents only now that it owns the TCS and
	 * counts as inside: before, the LP that owned it could still be writing
	 * that frame, or the frame could be on its way out.  A failure here is
	 * indistinguishable from the SDM's order except that a busy TCS wins
	 * over a bad frame.
	 */
	if (resume) {
		memcpy(&gpr, ssa_gprsgx(cpu, &m), sizeof(gpr));
		notify = (tcs->flags & SGX_TCS_AEXNOTIFY) && (gpr.aexnotify & 1);
		if (notify) {
			/* AEX-Notify: enter the next frame like EENTER does. */
			if (cssa >= tcs->nr_ssa_frames)
				goto gp_leave;
			/* Checked while counted inside: no second look needed. */
			r = ssa_frame_check(cpu, mmu, sf, secs, tcs, cssa, &next);
			if (r)
				goto leave;
			cur = &next;
			target = secs->base + tcs->entry_offset;
		} else {
			target = gpr.rip;
			if (!canonical(gpr.fsbase) || !canonical(gpr.gsbase))
				goto gp_leave;
		}
		if (!canonical(target))
			goto gp_leave;
		if (!notify && !ssa_xsave_valid(cpu, &m, secs->xfrm, &xctl))
			goto gp_leave;
	}

	lp_enter(cpu, lp, sf, tf, tcs_la, aep, cur, regs);
	if (resume && !notify) {
		resume_from_frame(cpu, secs, &m, &gpr, &xctl, regs, xs);
		cssa_store(cpu, tf, cssa - 1);
	} else {
		enter_at_oentry(cpu, secs, tcs, cssa, cur, regs);
	}
	if (resume)
		STAT_INC(cpu, eresume);
	else
		STAT_INC(cpu, eenter);
	r = 0;
	goto out;
gp_leave:
	r = fault_gp();
leave:
	/* Before STATE, unlike lp_leave(): the TCS page lock still keeps the TCS. */
	track_leave(secs_hidden(cpu, sf), tcs_hidden(cpu, tf));
	goto release;
gp_release:
	r = fault_gp();
release:
	__atomic_store_n(tcs_state(cpu, tf), 0, __ATOMIC_RELEASE);
	goto out;
gp:
	r = fault_gp();
out:
	page_unlock_shared(te);
	return r;
}

/*
 * EDECCSSA (the SDM's EDECCSSA, AEX-Notify): the handler an AEX-Notify ERESUME
 * entered gives the interrupted frame back to the TCS: CSSA goes down by
 * one, and the next AEX saves into frame CSSA - 1 again.  That frame's
 * pages are checked as EENTER checks the frame it will use (#PF for a page
 * that is not a usable SSA page; #GP if CSSA is 0).  The TCS belongs to
 * this LP while it is inside, so CSSA cannot move under it.  No page lock:
 * the LP counts as inside, so the frame cannot go before it leaves.
 */
static int enclu_edeccssa(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
			  struct sgx_regs *regs)
{
	uint32_t tf = lp->tcs_frame, sf = lp->secs_frame;
	const struct sgx_tcs *tcs = (const struct sgx_tcs *)frame_bytes(cpu, tf);
	uint32_t cssa = cssa_load(cpu, tf);
	struct ssa_map m;
	int r;

	if (cssa == 0)
		return fault_gp();
	r = ssa_frame_check(cpu, mmu, sf, secs_of(cpu, sf), tcs, cssa - 1, &m);
	if (!r) {
		tcs_entry(cpu, tf)->ssa = m;
		cssa_store(cpu, tf, cssa - 1);
		regs->rip += ENCLU_INSN_LEN;
		STAT_INC(cpu, edeccssa);
	}
	return r;
}

/* EEXIT (SDM EEXIT): back to RBX, RCX = AEP, outside FS/GS, TCS inactive. */
static int enclu_eexit(struct sgx_cpu *cpu, struct sgx_lp *lp, struct sgx_regs *regs)
{
	if (!canonical(regs->rbx))
		return fault_gp();
	regs->rcx = lp->aep;
	regs->rip = regs->rbx;
	regs->fsbase = lp->outside_fsbase;
	regs->gsbase = lp->outside_gsbase;
	lp_leave(cpu, lp);
	STAT_INC(cpu, eexit);
	return 0;
}

static bool is_sgx2_leaf(uint32_t leaf)
{
	return leaf == EACCEPT || leaf == EMODPE || leaf == EACCEPTCOPY;
}

int sgx_enclu(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
	      struct sgx_regs *regs, struct sgx_xstate *xs)
{
	uint32_t leaf = (uint32_t)regs->rax;

	if (is_sgx2_leaf(leaf) && !cpu->cfg.sgx2)
		return fault_ud();
	/* EDECCSSA comes with AEX-Notify (CPUID.(12H,0):EAX[11]). */
	if (leaf == EDECCSSA && !cpu_has_aexnotify(cpu))
		return fault_ud();

	switch (leaf) {
	case EENTER:
	case ERESUME:
		if (lp->in_enclave)
			return fault_gp();
		return enclave_entry(cpu, lp, mmu, regs, xs, leaf == ERESUME);
	case EREPORT:
	case EGETKEY:
	case EEXIT:
	case EACCEPT:
	case EMODPE:
	case EACCEPTCOPY:
	case EDECCSSA:
		if (!lp->in_enclave)
			return fault_gp();
		break;
	default:
		return fault_gp();
	}

	switch (leaf) {
	case EREPORT:
		return enclu_ereport(cpu, lp, mmu, regs);
	case EGETKEY:
		return enclu_egetkey(cpu, lp, mmu, regs);
	case EEXIT:
		return enclu_eexit(cpu, lp, regs);
	case EACCEPT:
		return enclu_eaccept(cpu, lp, mmu, regs);
	case EMODPE:
		return enclu_emodpe(cpu, lp, mmu, regs);
	case EDECCSSA:
		return enclu_edeccssa(cpu, lp, mmu, regs);
	default:
		return enclu_eacceptcopy(cpu, lp, mmu, regs);
	}
}

static bool is_pf_or_gp(const struct sgx_exception *ex)
{
	return ex && ex->type == SGX_EXITINFO_HW_EXCEPTION &&
	       (ex->vector == X86_TRAP_PF || ex->vector == X86_TRAP_GP);
}

/*
 * EXITINFO (the SDM's SSA frame, EXITINFO): VALID only for a reported
 * exception; #PF and #GP are reported only when the enclave selected EXINFO.
 */
static uint32_t exitinfo(const struct sgx_exception *ex, bool exinfo)
{
	if (!ex || !ex->reported)
		return 0;
	if (is_pf_or_gp(ex) && !exinfo)
		return 0;
	return SGX_EXITINFO_VALID | ((uint32_t)(ex->type & 7) << 8) | ex->vector;
}

int sgx_aex(struct sgx_cpu *cpu, struct sgx_lp *lp, struct sgx_regs *regs,
	    struct sgx_xstate *xs, const struct sgx_exception *ex, uint64_t *host_addr)
{
	const struct sgx_secs *secs;
	struct sgx_gprsgx *gpr;
	struct ssa_map m;
	uint32_t xsz;
	bool exinfo;

	if (!lp->in_enclave)
		return fault_gp();
	secs = secs_of(cpu, lp->secs_frame);
	m = tcs_entry(cpu, lp->tcs_frame)->ssa;
	gpr = ssa_gprsgx(cpu, &m);
	xsz = xsave_size(secs->xfrm);
	exinfo = secs->miscselect & SGX_MISC_EXINFO;

	/* 1. XSAVE of the XFRM features; only XFRM components are marked present. */
	if (xs && xs->buf) {
		uint32_t n = xs->size < xsz ? xs->size : xsz;
		uint64_t bv;

		ssa_xsave_rw(cpu, &m, 0, xs->buf, n, true);
		/* A short image (never accepted at entry) leaves the rest zero. */
		for (uint32_t off = n; off < xsz; off++)
			ssa_xsave_rw(cpu, &m, off, &(uint8_t){ 0 }, 1, true);
		ssa_xsave_rw(cpu, &m, XSAVE_HDR_OFF, &bv, 8, false);
		bv &= secs->xfrm;
		ssa_xsave_rw(cpu, &m, XSAVE_HDR_OFF, &bv, 8, true);
		/*
		 * The SDM's AEX zeroes the 16 header bytes after XSTATE_BV
		 * (XCOMP_BV and a reserved qword): the SSA holds the standard
		 * format whatever the host's image uses, and ERESUME's XRSTOR
		 * refuses anything else there.
		 */
		ssa_xsave_rw(cpu, &m, XSAVE_HDR_OFF + 8, (uint8_t[16]){ 0 }, 16, true);
	} else {
		/* No extended state supplied: the thread's state is INIT. */
		uint8_t init[XSAVE_HDR_OFF + 64];

		xsave_init_image(init, sizeof(init), -1);
		ssa_xsave_rw(cpu, &m, 0, init, sizeof(init), true);
	}

	/* 2. GPRSGX; URSP/URBP keep what EENTER stored, AEXNOTIFY is software's. */
	gpr->rax = regs->rax;
	gpr->rcx = regs->rcx;
	gpr->rdx = regs->rdx;
	gpr->rbx = regs->rbx;
	gpr->rsp = regs->rsp;
	gpr->rbp = regs->rbp;
	gpr->rsi = regs->rsi;
	gpr->rdi = regs->rdi;
	gpr->r8 = regs->r8;
	gpr->r9 = regs->r9;
	gpr->r10 = regs->r10;
	gpr->r11 = regs->r11;
	gpr->r12 = regs->r12;
	gpr->r13 = regs->r13;
	gpr->r14 = regs->r14;
	gpr->r15 = regs->r15;
	gpr->rflags = regs->rflags & ~X86_EFLAGS_TF; /* the SDM's AEX flow saves TF as 0 */
	gpr->rip = regs->rip;
	gpr->fsbase = regs->fsbase;
	gpr->gsbase = regs->gsbase;
	gpr->exitinfo = exitinfo(ex, exinfo);

	/* 3. MISC: EXINFO right below GPRSGX for a reported #PF/#GP. */
	if (exinfo && is_pf_or_gp(ex) && ex->reported) {
		struct sgx_exinfo *xi = (struct sgx_exinfo *)((uint8_t *)gpr -
							      SGX_SSA_MISC_EXINFO_SIZE);

		xi->maddr = ex->vector == X86_TRAP_PF ? ex->addr : 0;
		xi->errcd = ex->errcd;
		xi->reserved = 0;
	}

	/* The synthetic state the host sees (SDM, AEX). */
	if (host_addr)
		*host_addr = is_pf_or_gp(ex) && ex->vector == X86_TRAP_PF ?
				     ex->addr & SGX_PAGE_MASK : 0;
	if (xs && xs->buf)
		xsave_init_xfrm(xs->buf, xs->size, secs->xfrm, ex ? ex->vector : -1);
	regs->rax = ERESUME;
	regs->rbx = lp->tcs_la;
	regs->rcx = lp->aep;
	regs->rip = lp->aep;
	regs->rdx = regs->rsi = regs->rdi = 0;
	regs->r8 = regs->r9 = regs->r10 = regs->r11 = 0;
	regs->r12 = regs->r13 = regs->r14 = regs->r15 = 0;
	regs->rsp = gpr->ursp;
	regs->rbp = gpr->urbp;
	regs->rflags &= ~(RFLAGS_ARITH | RFLAGS_RF);
	regs->fsbase = lp->outside_fsbase;
	regs->gsbase = lp->outside_gsbase;

	cssa_store(cpu, lp->tcs_frame, cssa_load(cpu, lp->tcs_frame) + 1);
	lp_leave(cpu, lp);
	STAT_INC(cpu, aex);
	return 0;
}
