// SPDX-License-Identifier: MIT
/*
 * ENCLU core: EENTER, ERESUME, EEXIT, AEX, the leaf dispatch and the
 * in-enclave operand rule (the SDM's EENTER, ERESUME, EEXIT and "Enclave Exiting Events").
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "internal.h"
#include "softsgx/measure.h"

#define SITE 0x70000000ULL  /* the ENCLU outside the enclave */
#define AEP 0x70001000ULL
#define URSP 0x7fff0000ULL
#define URBP 0x7fff0100ULL
#define OUT_FS 0x11110000ULL
#define OUT_GS 0x22220000ULL
#define OFSBASE 0x3000
#define OGSBASE 0x2000
#define XS_SIZE 1024

static uint8_t host_page[4096] __attribute__((aligned(4096)));

struct encl_opts {
	uint64_t base;
	uint64_t attrs;
	uint32_t misc;
	uint64_t tcs_flags;
	uint32_t nssa;
	uint32_t ssa_pages; /* SECS.SSAFRAMESIZE (0: 1); 2 makes the two SSA pages one frame */
	bool no_einit;
	bool no_aexnotify; /* a platform without AEX-Notify (CPUID.(12H,0):EAX[11] clear) */
};

/*
 * The layout of t_build_encl (SECS frame 0, TCS at +0 frame 1 with OSSA
 * 0x1000, SSA pages +0x1000/+0x2000 frames 2/3, data +0x3000 frame 4, code
 * +0x4000 frame 5), with MISCSELECT, TCS flags, NSSA and the OFS/OGSBASE
 * offsets this file needs.
 */
static void build(struct sgx_cpu *cpu, struct t_encl *e, const struct encl_opts *o)
{
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	const uint64_t rx = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X;
	static uint8_t data[4096], code[4096];
	struct sgx_sigstruct ss;
	struct sgx_measure m;
	struct sgx_secs src;
	struct sgx_tcs tcs;

	memset(e, 0, sizeof(*e));
	e->base = o->base ? o->base : 0x100000000ULL;
	e->size = 0x10000;
	t_secs_src(&src, e->base, e->size, o->attrs);
	src.miscselect = o->misc;
	if (o->ssa_pages)
		src.ssa_frame_size = o->ssa_pages;
	e->secs = t_ecreate_src(cpu, 0, &src);
	sgx_measure_ecreate(&m, src.ssa_frame_size, e->size);

	t_tcs_src(&tcs, 0x1000, o->nssa ? o->nssa : 2, 0x4000);
	tcs.flags = o->tcs_flags;
	tcs.fs_offset = OFSBASE;
	tcs.gs_offset = OGSBASE;
	tcs.fs_limit = tcs.gs_limit = 0xFFF;
	assert_leaf_ok(t_eadd(cpu, e->secs, 1, e->base, SGX_SECINFO_TCS, &tcs));
	e->tcs = t_page(cpu, 1);
	sgx_measure_eadd(&m, 0, SGX_SECINFO_TCS);
	if (!o->no_einit) {
		t_eextend_page(cpu, e->secs, e->tcs);
		for (unsigned int i = 0; i < 16; i++)
			sgx_measure_eextend(&m, i * 256, (const uint8_t *)e->tcs + i * 256);
	}
	for (unsigned int i = 0; i < 2; i++) {
		assert_leaf_ok(t_eadd(cpu, e->secs, 2 + i, e->base + 0x1000 * (i + 1), rw, NULL));
		e->ssa[i] = t_page(cpu, 2 + i);
		sgx_measure_eadd(&m, 0x1000 * (i + 1), rw);
	}
	for (unsigned int i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7 + 1);
		code[i] = 0xCC;
	}
	assert_leaf_ok(t_eadd(cpu, e->secs, 4, e->base + 0x3000, rw, data));
	e->data = t_page(cpu, 4);
	sgx_measure_eadd(&m, 0x3000, rw);
	assert_leaf_ok(t_eadd(cpu, e->secs, 5, e->base + 0x4000, rx, code));
	e->code = t_page(cpu, 5);
	sgx_measure_eadd(&m, 0x4000, rx);
	sgx_measure_final(&m, e->mrenclave);
	if (o->no_einit)
		return;
	t_sigstruct(&ss, e->mrenclave, o->attrs, 3, t_key());
	assert_leaf_ok(t_einit(cpu, e->secs, &ss));
}

static void map_encl(struct t_mmu *mmu, const struct t_encl *e)
{
	t_mmu_init(mmu);
	t_mmu_map(mmu, e->base, e->tcs);
	t_mmu_map(mmu, e->base + 0x1000, e->ssa[0]);
	t_mmu_map(mmu, e->base + 0x2000, e->ssa[1]);
	t_mmu_map(mmu, e->base + 0x3000, e->data);
	t_mmu_map(mmu, e->base + 0x4000, e->code);
}

/* One test's world: a platform, an enclave, its page tables, two LPs. */
struct world {
	struct sgx_cpu *cpu;
	struct t_encl e;
	struct t_mmu mmu;
	struct sgx_lp lp, lp2;
	uint8_t xbuf[XS_SIZE] __attribute__((aligned(64)));
	struct sgx_xstate xs;
};

static void world_opts(struct world *w, const struct encl_opts *o)
{
	memset(w, 0, sizeof(*w));
	w->cpu = t_cpu_without(16, o->no_aexnotify ? SGX_ATTR_ASYNC_EXIT_NOTIFY : 0);
	build(w->cpu, &w->e, o);
	map_encl(&w->mmu, &w->e);
	sgx_lp_init(&w->lp);
	sgx_lp_init(&w->lp2);
	w->xs.buf = w->xbuf;
	w->xs.size = XS_SIZE;
}

static void world(struct world *w)
{
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT };

	world_opts(w, &o);
}

static void world_done(struct world *w)
{
	sgx_cpu_destroy(w->cpu);
}

static struct sgx_tcs *tcs_of(struct world *w)
{
	return (struct sgx_tcs *)w->e.tcs;
}

static struct sgx_gprsgx *gprsgx(struct world *w, unsigned int frame)
{
	return (struct sgx_gprsgx *)((uint8_t *)w->e.ssa[frame] + 4096 - SGX_SSA_GPRS_SIZE);
}

static struct sgx_exinfo *exinfo_of(struct world *w, unsigned int frame)
{
	return (struct sgx_exinfo *)((uint8_t *)gprsgx(w, frame) - SGX_SSA_MISC_EXINFO_SIZE);
}

static void enter_regs(struct world *w, struct sgx_regs *r, uint32_t leaf)
{
	memset(r, 0, sizeof(*r));
	r->rax = leaf;
	r->rbx = w->e.base;
	r->rcx = AEP;
	r->rip = SITE;
	r->rsp = URSP;
	r->rbp = URBP;
	r->rflags = 0x202;
	r->fsbase = OUT_FS;
	r->gsbase = OUT_GS;
	r->rsi = 0x5151;
	r->r12 = 0x1212;
}

static int eenter(struct world *w, struct sgx_lp *lp, struct sgx_regs *r)
{
	enter_regs(w, r, EENTER);
	return sgx_enclu(w->cpu, lp, &w->mmu.mmu, r, &w->xs);
}

/* Assert that an entry leaf faulted without touching anything. */
static void assert_entry_refused(struct world *w, int r, int expect,
				 const struct t_epcm_snap *snap)
{
	assert_int_equal(r, expect);
	assert_false(w->lp.in_enclave);
	assert_int_equal(tcs_of(w)->state, 0);
	t_assert_snap_equal(w->cpu, snap);
}

/* Run EENTER expecting @expect, check regs and state are untouched. */
static void eenter_fails(struct world *w, int expect)
{
	struct t_epcm_snap snap;
	struct sgx_regs r, before;
	struct sgx_cpu_stats st;
	int ret;

	t_snap(w->cpu, &snap, 8);
	enter_regs(w, &r, EENTER);
	before = r;
	ret = sgx_enclu(w->cpu, &w->lp, &w->mmu.mmu, &r, &w->xs);
	assert_entry_refused(w, ret, expect, &snap);
	assert_memory_equal(&r, &before, sizeof(r));
	sgx_cpu_stats(w->cpu, &st);
	assert_int_equal(st.eenter, 0);
}

static uint64_t trk_inside(struct world *w)
{
	uint32_t f = epc_frame(w->cpu, (uint64_t)(uintptr_t)w->e.secs);

	return TRK_INSIDE(atomic_load(&secs_hidden(w->cpu, f)->trk));
}

/* ---- EENTER ---- */

static void test_eenter_success(void **state)
{
	struct t_epcm_snap snap;
	struct sgx_cpu_stats st;
	struct world w;
	struct sgx_regs r;

	(void)state;
	world(&w);
	t_snap(w.cpu, &snap, 8);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_int_equal(r.rax, 0);                  /* CSSA */
	assert_int_equal(r.rcx, SITE + 3);
	assert_int_equal(r.rip, w.e.base + 0x4000);  /* OENTRY */
	assert_int_equal(r.rbx, w.e.base);
	assert_int_equal(r.rsp, URSP);
	assert_int_equal(r.rbp, URBP);
	assert_int_equal(r.rsi, 0x5151);
	assert_int_equal(r.r12, 0x1212);
	assert_int_equal(r.rflags, 0x202);
	assert_int_equal(r.fsbase, w.e.base + OFSBASE);
	assert_int_equal(r.gsbase, w.e.base + OGSBASE);
	assert_true(w.lp.in_enclave);
	assert_int_equal(w.lp.aep, AEP);
	assert_int_equal(w.lp.tcs_la, w.e.base);
	assert_int_equal(w.lp.outside_fsbase, OUT_FS);
	assert_int_equal(w.lp.outside_gsbase, OUT_GS);
	assert_int_equal(tcs_of(&w)->state, 1);
	assert_int_equal(tcs_of(&w)->exit_addr, AEP);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	assert_int_equal(gprsgx(&w, 0)->ursp, URSP);
	assert_int_equal(gprsgx(&w, 0)->urbp, URBP);
	assert_int_equal(gprsgx(&w, 1)->ursp, 0);
	assert_int_equal(trk_inside(&w), 1);
	t_assert_snap_equal(w.cpu, &snap);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.eenter, 1);
	world_done(&w);
}

static void test_eenter_upper_rax_ignored(void **state)
{
	struct world w;
	struct sgx_regs r;

	(void)state;
	world(&w);
	enter_regs(&w, &r, EENTER);
	r.rax = 0xFFFFFFFF00000000ULL | EENTER;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_true(w.lp.in_enclave);
	world_done(&w);
}

static void test_eenter_gp_tcs_unaligned(void **state)
{
	struct t_epcm_snap snap;
	struct world w;
	struct sgx_regs r;

	(void)state;
	world(&w);
	t_snap(w.cpu, &snap, 8);
	enter_regs(&w, &r, EENTER);
	r.rbx += 8;
	assert_entry_refused(&w, sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs), SGX_FAULT_GP,
			     &snap);
	assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
	world_done(&w);
}

static void test_eenter_pf_tcs_unmapped(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	t_mmu_map(&w.mmu, w.e.base, NULL);
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base);
	assert_false(sgx_last_fault()->errcd & X86_PF_SGX);
	world_done(&w);
}

static void test_eenter_pf_tcs_not_epc(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	t_mmu_map(&w.mmu, w.e.base, host_page);
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base);
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	world_done(&w);
}

static void test_eenter_gp_aep_noncanonical(void **state)
{
	struct t_epcm_snap snap;
	struct world w;
	struct sgx_regs r;

	(void)state;
	world(&w);
	t_snap(w.cpu, &snap, 8);
	enter_regs(&w, &r, EENTER);
	r.rcx = 0x0000800000000000ULL;
	assert_entry_refused(&w, sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs), SGX_FAULT_GP,
			     &snap);
	world_done(&w);
}

static void test_eenter_gp_tcs_busy_leaf(void **state)
{
	struct world w;
	struct epcm *te;

	(void)state;
	world(&w);
	te = epcm_of(w.cpu, 1);
	assert_true(page_lock_excl(te)); /* another leaf (say EBLOCK) holds the TCS */
	eenter_fails(&w, SGX_FAULT_GP);
	page_unlock_excl(te);
	world_done(&w);
}

static void test_eenter_pf_not_a_tcs(void **state)
{
	struct world w;
	struct sgx_regs r;

	(void)state;
	world(&w);
	enter_regs(&w, &r, EENTER);
	r.rbx = w.e.base + 0x3000; /* a REG page */
	t_assert_pf_at(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs), (void *)(uintptr_t)r.rbx);
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	assert_false(w.lp.in_enclave);
	world_done(&w);
}

static void test_eenter_pf_tcs_wrong_linaddr(void **state)
{
	struct world w;
	struct sgx_regs r;

	(void)state;
	world(&w);
	t_mmu_map(&w.mmu, w.e.base + 0x5000, w.e.tcs); /* an alias of the TCS */
	enter_regs(&w, &r, EENTER);
	r.rbx = w.e.base + 0x5000;
	t_assert_pf_at(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs), (void *)(uintptr_t)r.rbx);
	assert_int_equal(tcs_of(&w)->state, 0);
	world_done(&w);
}

static void test_eenter_pf_tcs_blocked(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(sgx_eblock(w.cpu, w.e.tcs));
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base);
	world_done(&w);
}

static void test_eenter_pf_tcs_modified(void **state)
{
	struct sgx_secinfo si = { .flags = SGX_SECINFO_TCS };
	struct world w;
	struct sgx_regs r;

	(void)state;
	world(&w);
	/* EMODT'd to TCS but not accepted: MODIFIED. */
	assert_leaf_ok(sgx_emodt(w.cpu, &si, w.e.data));
	enter_regs(&w, &r, EENTER);
	r.rbx = w.e.base + 0x3000;
	t_assert_pf_at(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs), (void *)(uintptr_t)r.rbx);
	assert_false(w.lp.in_enclave);
	world_done(&w);
}

static void test_eenter_gp_tcs_offsets_unaligned(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		struct world w;

		world(&w);
		if (i == 0)
			tcs_of(&w)->ssa_offset += 8;
		else if (i == 1)
			tcs_of(&w)->fs_offset += 8;
		else
			tcs_of(&w)->gs_offset += 8;
		eenter_fails(&w, SGX_FAULT_GP);
		world_done(&w);
	}
}

static void test_eenter_gp_fsgs_noncanonical(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct world w;
		uint64_t off = 0x0000800000000000ULL - 0x100000000ULL;

		world(&w);
		if (i == 0)
			tcs_of(&w)->fs_offset = off;
		else
			tcs_of(&w)->gs_offset = off;
		eenter_fails(&w, SGX_FAULT_GP);
		world_done(&w);
	}
}

static void test_eenter_gp_tcs_flags_reserved(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	tcs_of(&w)->flags = 1ULL << 5;
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

/*
 * TCS.FLAGS.AEXNOTIFY is a reserved bit where the platform does not
 * enumerate AEX-Notify: #GP even with DBGOPTIN, which lifts the
 * TCS/SECS agreement rule but not the reserved-bit check.
 */
static void test_eenter_gp_aexnotify_not_enumerated(void **state)
{
	const struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT, .no_aexnotify = true };
	struct world w;

	(void)state;
	world_opts(&w, &o);
	tcs_of(&w)->flags = SGX_TCS_AEXNOTIFY | SGX_TCS_DBGOPTIN;
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eenter_gp_aexnotify_mismatch(void **state)
{
	struct world w;
	struct sgx_regs r;

	(void)state;
	/* TCS opts in, the enclave does not. */
	world(&w);
	tcs_of(&w)->flags = SGX_TCS_AEXNOTIFY;
	eenter_fails(&w, SGX_FAULT_GP);
	/* A debugger's DBGOPTIN lifts the rule. */
	tcs_of(&w)->flags = SGX_TCS_AEXNOTIFY | SGX_TCS_DBGOPTIN;
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	world_done(&w);

	/* The enclave has AEXNOTIFY, the TCS does not. */
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT | SGX_ATTR_ASYNC_EXIT_NOTIFY };

	world_opts(&w, &o);
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eenter_gp_not_initialised(void **state)
{
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT, .no_einit = true };
	struct world w;

	(void)state;
	world_opts(&w, &o);
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eenter_gp_32bit_enclave(void **state)
{
	struct encl_opts o = { .base = 0x40000000ULL, .attrs = 0 };
	struct world w;

	(void)state;
	world_opts(&w, &o);
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eenter_gp_xstate_too_small(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	w.xs.size = 512; /* cannot hold XFRM = x87|SSE (576 bytes) */
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eenter_gp_cssa_ge_nssa(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	tcs_of(&w)->ssa_index = 2; /* NSSA = 2 */
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eenter_pf_ssa_unmapped(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	t_mmu_map(&w.mmu, w.e.base + 0x1000, NULL);
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base + 0x1000);
	assert_false(sgx_last_fault()->errcd & X86_PF_SGX);
	world_done(&w);
}

static void test_eenter_pf_ssa_not_epc(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	t_mmu_map(&w.mmu, w.e.base + 0x1000, host_page);
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base + 0x1000);
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	world_done(&w);
}

static void test_eenter_pf_ssa_wrong_page(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	/* The SSA address translates to another enclave page (ENCLAVEADDRESS differs). */
	t_mmu_map(&w.mmu, w.e.base + 0x1000, w.e.data);
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base + 0x1000);
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	world_done(&w);
}

static void test_eenter_pf_ssa_not_writable(void **state)
{
	struct sgx_secinfo si = { .flags = SGX_SECINFO_R };
	struct world w;

	(void)state;
	world(&w);
	/* EMODPR to read-only: the SSA must be R and W. */
	assert_leaf_ok(sgx_emodpr(w.cpu, &si, w.e.ssa[0]));
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base + 0x1000);
	world_done(&w);
}

static void test_eenter_pf_ssa_uses_cssa(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	tcs_of(&w)->ssa_index = 1;
	t_mmu_map(&w.mmu, w.e.base + 0x2000, NULL); /* frame 1 */
	eenter_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base + 0x2000);
	world_done(&w);
}

static void test_eenter_gp_target_noncanonical(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	tcs_of(&w)->entry_offset = 0x0000800000000000ULL;
	eenter_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eenter_gp_tcs_active(void **state)
{
	struct sgx_regs r, r2, before;
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	enter_regs(&w, &r2, EENTER);
	before = r2;
	assert_gp(sgx_enclu(w.cpu, &w.lp2, &w.mmu.mmu, &r2, &w.xs));
	assert_memory_equal(&r2, &before, sizeof(r2));
	assert_false(w.lp2.in_enclave);
	assert_int_equal(trk_inside(&w), 1);
	/* Free again after EEXIT. */
	r.rax = EEXIT;
	r.rbx = SITE + 3;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp2, &w.mmu.mmu, &r2, &w.xs));
	assert_true(w.lp2.in_enclave);
	world_done(&w);
}

static void test_eenter_gp_already_inside(void **state)
{
	struct sgx_regs r, r2;
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	enter_regs(&w, &r2, EENTER);
	assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r2, &w.xs));
	r2.rax = ERESUME;
	assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r2, &w.xs));
	assert_true(w.lp.in_enclave);
	assert_int_equal(tcs_of(&w)->state, 1);
	world_done(&w);
}

/* ---- EEXIT ---- */

static void test_eexit(void **state)
{
	struct sgx_cpu_stats st;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	r.rax = EEXIT;
	r.rbx = SITE + 3;
	r.rip = w.e.base + 0x4010;
	r.rsp = w.e.base + 0x3800;
	r.rdx = 0xD0D0;
	r.fsbase = 0xABC000;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_int_equal(r.rip, SITE + 3);
	assert_int_equal(r.rcx, AEP);
	assert_int_equal(r.rax, EEXIT);
	assert_int_equal(r.rbx, SITE + 3);
	assert_int_equal(r.rsp, w.e.base + 0x3800); /* scrubbing is software's job */
	assert_int_equal(r.rdx, 0xD0D0);
	assert_int_equal(r.fsbase, OUT_FS);
	assert_int_equal(r.gsbase, OUT_GS);
	assert_false(w.lp.in_enclave);
	assert_int_equal(tcs_of(&w)->state, 0);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	assert_int_equal(trk_inside(&w), 0);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.eexit, 1);
	world_done(&w);
}

static void test_eexit_gp_noncanonical(void **state)
{
	struct sgx_regs r, before;
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	r.rax = EEXIT;
	r.rbx = 0x0000800000000000ULL;
	before = r;
	assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_memory_equal(&r, &before, sizeof(r));
	assert_true(w.lp.in_enclave);
	assert_int_equal(tcs_of(&w)->state, 1);
	world_done(&w);
}

/* ---- AEX ---- */

/* Distinct enclave register values, as the code had them when the event hit. */
static void enclave_regs(struct world *w, struct sgx_regs *r)
{
	uint64_t *g = &r->rax;

	for (int i = 0; i < 16; i++)
		g[i] = 0x1000 + (uint64_t)i * 0x111;
	r->rflags = 0x202 | X86_EFLAGS_CF | X86_EFLAGS_ZF | X86_EFLAGS_SF | (1ULL << 16) |
		    (1ULL << 10);
	r->rip = w->e.base + 0x4123;
	r->fsbase = w->e.base + 0x3100; /* the enclave moved its FS base (WRFSBASE) */
	r->gsbase = w->e.base + 0x3200;
}

/* A valid XSAVE image with XSTATE_BV carrying a component outside XFRM. */
static void xsave_pattern(uint8_t *buf, uint32_t size)
{
	uint32_t mxcsr = 0x1F80 | 0x3F, mask = 0xFFFF;
	uint64_t bv = 0x7;

	for (uint32_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 13 + 5);
	memcpy(buf + 24, &mxcsr, 4);
	memcpy(buf + 28, &mask, 4);
	memset(buf + 512, 0, 64);
	memcpy(buf + 512, &bv, 8);
}

/*
 * The host's extended state after an AEX from an enclave with XFRM = 3
 * (SDM, AEX): x87 and SSE in their INIT state, and the host's own state
 * outside XFRM (@pattern's AVX component and its XSTATE_BV bit) untouched.
 */
static void assert_xs_init(const struct world *w, const uint8_t *pattern)
{
	uint64_t bv, host_bv;
	uint16_t fcw;
	uint32_t mxcsr;

	memcpy(&fcw, w->xbuf, 2);
	memcpy(&mxcsr, w->xbuf + 24, 4);
	assert_int_equal(fcw, 0x37F);
	assert_int_equal(mxcsr, 0x1F80);
	for (uint32_t i = 2; i < 464; i++)
		if (i < 24 || i >= 28)
			assert_int_equal(w->xbuf[i], 0);
	/* Bytes 464-511 are software's, not state: the host's stay. */
	assert_memory_equal(w->xbuf + 464, pattern + 464, 48);
	memcpy(&bv, w->xbuf + 512, 8);
	memcpy(&host_bv, pattern + 512, 8);
	assert_int_equal(bv, host_bv & ~3ULL);
	assert_memory_equal(w->xbuf + 520, pattern + 520, XS_SIZE - 520);
}

static void assert_aex_synthetic(struct world *w, const struct sgx_regs *r)
{
	assert_int_equal(r->rax, ERESUME);
	assert_int_equal(r->rbx, w->e.base);
	assert_int_equal(r->rcx, AEP);
	assert_int_equal(r->rip, AEP);
	assert_int_equal(r->rdx, 0);
	assert_int_equal(r->rsi, 0);
	assert_int_equal(r->rdi, 0);
	for (const uint64_t *p = &r->r8; p <= &r->r15; p++)
		assert_int_equal(*p, 0);
	assert_int_equal(r->rsp, URSP);
	assert_int_equal(r->rbp, URBP);
	/* Arithmetic flags and RF cleared, DF and IF kept. */
	assert_int_equal(r->rflags, 0x202 | (1ULL << 10));
	assert_int_equal(r->fsbase, OUT_FS);
	assert_int_equal(r->gsbase, OUT_GS);
	assert_false(w->lp.in_enclave);
	assert_int_equal(tcs_of(w)->state, 0);
	assert_int_equal(trk_inside(w), 0);
}

static void assert_gprsgx_saved(struct world *w, unsigned int frame, const struct sgx_regs *r)
{
	const struct sgx_gprsgx *g = gprsgx(w, frame);

	assert_memory_equal(&g->rax, &r->rax, 16 * 8);
	assert_int_equal(g->rflags, r->rflags);
	assert_int_equal(g->rip, r->rip);
	assert_int_equal(g->fsbase, r->fsbase);
	assert_int_equal(g->gsbase, r->gsbase);
	assert_int_equal(g->ursp, URSP);
	assert_int_equal(g->urbp, URBP);
}

static void aex_pf_case(bool with_exinfo)
{
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT,
			       .misc = with_exinfo ? SGX_MISC_EXINFO : 0 };
	const uint32_t errcd = X86_PF_PROT | X86_PF_WRITE | X86_PF_USER | X86_PF_SGX;
	struct sgx_exception ex = { .reported = true, .vector = X86_TRAP_PF,
				    .type = SGX_EXITINFO_HW_EXCEPTION, .errcd = errcd };
	struct t_epcm_snap snap;
	struct sgx_cpu_stats st;
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;
	uint64_t host = 1, bv;

	world_opts(&w, &o);
	t_snap(w.cpu, &snap, 8);
	memset(exinfo_of(&w, 0), 0xEE, SGX_SSA_MISC_EXINFO_SIZE);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	enclave_regs(&w, &r);
	saved = r;
	xsave_pattern(w.xbuf, XS_SIZE);
	memcpy(pattern, w.xbuf, XS_SIZE);
	ex.addr = w.e.base + 0x3123;

	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, &ex, &host));
	assert_int_equal(host, w.e.base + 0x3000);
	assert_gprsgx_saved(&w, 0, &saved);
	if (with_exinfo) {
		assert_int_equal(gprsgx(&w, 0)->exitinfo,
				 SGX_EXITINFO_VALID | (SGX_EXITINFO_HW_EXCEPTION << 8) | 14);
		assert_int_equal(exinfo_of(&w, 0)->maddr, w.e.base + 0x3123);
		assert_int_equal(exinfo_of(&w, 0)->errcd, errcd);
		assert_int_equal(exinfo_of(&w, 0)->reserved, 0);
	} else {
		/* #PF is not reported without EXINFO, and nothing is written below GPRSGX. */
		assert_int_equal(gprsgx(&w, 0)->exitinfo, 0);
		for (int i = 0; i < SGX_SSA_MISC_EXINFO_SIZE; i++)
			assert_int_equal(((uint8_t *)exinfo_of(&w, 0))[i], 0xEE);
	}
	/* XSAVE area: 576 bytes for XFRM = 3, XSTATE_BV limited to XFRM. */
	assert_memory_equal(w.e.ssa[0], pattern, 512);
	memcpy(&bv, (uint8_t *)w.e.ssa[0] + 512, 8);
	assert_int_equal(bv, 3);
	assert_memory_equal((uint8_t *)w.e.ssa[0] + 520, pattern + 520, 56);
	assert_int_equal(((uint8_t *)w.e.ssa[0])[576], 0); /* nothing beyond the area */
	assert_xs_init(&w, pattern);
	assert_aex_synthetic(&w, &r);
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	t_assert_snap_equal(w.cpu, &snap);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.aex, 1);
	world_done(&w);
}

static void test_aex_pf_exinfo(void **state)
{
	(void)state;
	aex_pf_case(true);
}

static void test_aex_pf_no_exinfo(void **state)
{
	(void)state;
	aex_pf_case(false);
}

static void test_aex_gp_exinfo(void **state)
{
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT, .misc = SGX_MISC_EXINFO };
	struct sgx_exception ex = { .reported = true, .vector = X86_TRAP_GP,
				    .type = SGX_EXITINFO_HW_EXCEPTION, .errcd = 0 };
	struct sgx_regs r;
	struct world w;
	uint64_t host = 1;

	(void)state;
	world_opts(&w, &o);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	enclave_regs(&w, &r);
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, &ex, &host));
	assert_int_equal(host, 0);
	assert_int_equal(gprsgx(&w, 0)->exitinfo,
			 SGX_EXITINFO_VALID | (SGX_EXITINFO_HW_EXCEPTION << 8) | 13);
	assert_int_equal(exinfo_of(&w, 0)->maddr, 0);
	assert_int_equal(exinfo_of(&w, 0)->errcd, 0);
	world_done(&w);
}

static void test_aex_interrupt(void **state)
{
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT, .misc = SGX_MISC_EXINFO };
	struct sgx_exception ex = { .reported = false, .vector = 0x20 };
	struct sgx_regs r, saved;
	struct world w;
	uint64_t host = 1;

	(void)state;
	world_opts(&w, &o);
	memset(exinfo_of(&w, 0), 0xEE, SGX_SSA_MISC_EXINFO_SIZE);
	gprsgx(&w, 0)->exitinfo = 0xFFFFFFFF;
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	enclave_regs(&w, &r);
	saved = r;
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, &ex, &host));
	assert_int_equal(host, 0);
	assert_int_equal(gprsgx(&w, 0)->exitinfo, 0);
	assert_int_equal(exinfo_of(&w, 0)->maddr, 0xEEEEEEEEEEEEEEEEULL);
	assert_gprsgx_saved(&w, 0, &saved);
	assert_aex_synthetic(&w, &r);
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	/* A NULL event is an interrupt too. */
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_int_equal(r.rax, 1);
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, &host));
	assert_int_equal(gprsgx(&w, 1)->exitinfo, 0);
	assert_int_equal(tcs_of(&w)->ssa_index, 2);
	world_done(&w);
}

/* AEX saves RFLAGS with TF clear (SDM AEX flow: SSA.RFLAGS.TF <- 0). */
static void test_aex_saves_tf_clear(void **state)
{
	struct sgx_regs r, saved;
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	enclave_regs(&w, &r);
	r.rflags |= X86_EFLAGS_TF;
	saved = r;
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, NULL));
	assert_int_equal(gprsgx(&w, 0)->rflags, saved.rflags & ~X86_EFLAGS_TF);
	world_done(&w);
}

static void test_aex_reported_exceptions(void **state)
{
	struct sgx_exception ud = { .reported = true, .vector = 6,
				    .type = SGX_EXITINFO_HW_EXCEPTION };
	struct sgx_exception bp = { .reported = true, .vector = 3,
				    .type = SGX_EXITINFO_SW_EXCEPTION };
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w); /* no EXINFO: other exceptions are reported anyway */
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, &ud, NULL));
	assert_int_equal(gprsgx(&w, 0)->exitinfo,
			 SGX_EXITINFO_VALID | (SGX_EXITINFO_HW_EXCEPTION << 8) | 6);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, &bp, NULL));
	assert_int_equal(gprsgx(&w, 1)->exitinfo,
			 SGX_EXITINFO_VALID | (SGX_EXITINFO_SW_EXCEPTION << 8) | 3);
	world_done(&w);
}

static void test_aex_gp_outside(void **state)
{
	struct sgx_regs r, before;
	struct world w;

	(void)state;
	world(&w);
	enter_regs(&w, &r, EENTER);
	before = r;
	assert_gp(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, NULL));
	assert_memory_equal(&r, &before, sizeof(r));
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	world_done(&w);
}

static void test_aex_no_xstate(void **state)
{
	struct sgx_regs r;
	struct world w;
	uint16_t fcw;
	uint64_t bv;

	(void)state;
	world(&w);
	memset(w.e.ssa[0], 0x55, 1024);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, NULL, NULL, NULL));
	/* Without a thread image the saved state is INIT. */
	memcpy(&fcw, w.e.ssa[0], 2);
	memcpy(&bv, (uint8_t *)w.e.ssa[0] + 512, 8);
	assert_int_equal(fcw, 0x37F);
	assert_int_equal(bv, 0);
	world_done(&w);
}

/* ---- ERESUME ---- */

static int eresume(struct world *w, struct sgx_lp *lp, struct sgx_regs *r)
{
	r->rax = ERESUME;
	r->rbx = w->e.base;
	r->rcx = AEP;
	r->rip = AEP;
	return sgx_enclu(w->cpu, lp, &w->mmu.mmu, r, &w->xs);
}

/* EENTER, run "enclave code" with @saved regs and the XSAVE pattern, AEX. */
static void enter_and_aex(struct world *w, struct sgx_regs *r, struct sgx_regs *saved,
			  uint8_t *pattern)
{
	assert_leaf_ok(eenter(w, &w->lp, r));
	enclave_regs(w, r);
	*saved = *r;
	xsave_pattern(w->xbuf, XS_SIZE);
	memcpy(pattern, w->xbuf, XS_SIZE);
	assert_leaf_ok(sgx_aex(w->cpu, &w->lp, r, &w->xs, NULL, NULL));
}

/* An AEX-Notify enclave (NSSA 2) and a TCS that asks for notifications. */
static const struct encl_opts notify_opts = {
	.attrs = SGX_ATTR_MODE64BIT | SGX_ATTR_ASYNC_EXIT_NOTIFY,
	.tcs_flags = SGX_TCS_AEXNOTIFY,
};

/* enter_and_aex() with the saved frame's AEXNOTIFY bit set: ERESUME notifies. */
static void enter_and_notify_aex(struct world *w, struct sgx_regs *r, struct sgx_regs *saved,
				 uint8_t *pattern)
{
	enter_and_aex(w, r, saved, pattern);
	gprsgx(w, 0)->aexnotify = 1;
}

/*
 * AEX for #MF/#XM presents the SDM's synthetic x87/SSE values instead of
 * INIT (FCW 037EH and FSW 8081H; MXCSR 1F01H), and marks the component
 * present in XSTATE_BV so that an XRSTOR of the image loads them.
 */
static void aex_fp_case(int vector, uint16_t fcw_want, uint16_t fsw_want, uint32_t mxcsr_want,
			uint64_t bv_want)
{
	struct sgx_exception ex = { .reported = true, .vector = (uint8_t)vector,
				    .type = SGX_EXITINFO_HW_EXCEPTION };
	struct sgx_regs r;
	struct world w;
	uint16_t fcw, fsw;
	uint32_t mxcsr;
	uint64_t bv;

	world(&w);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	xsave_pattern(w.xbuf, XS_SIZE);
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, &ex, NULL));
	memcpy(&fcw, w.xbuf, 2);
	memcpy(&fsw, w.xbuf + 2, 2);
	memcpy(&mxcsr, w.xbuf + 24, 4);
	memcpy(&bv, w.xbuf + 512, 8);
	assert_int_equal(fcw, fcw_want);
	assert_int_equal(fsw, fsw_want);
	assert_int_equal(mxcsr, mxcsr_want);
	/* The pattern's AVX bit (outside XFRM) stays the host's. */
	assert_int_equal(bv, bv_want | 4);
	world_done(&w);
}

static void test_aex_mf_fcw(void **state)
{
	(void)state;
	aex_fp_case(X86_TRAP_MF, 0x37E, 0x8081, 0x1F80, 1);
}

static void test_aex_xm_mxcsr(void **state)
{
	(void)state;
	aex_fp_case(X86_TRAP_XM, 0x37F, 0, 0x1F01, 2);
}

/*
 * AEX zeroes XSAVE header bytes 8-23 (XCOMP_BV and the first reserved
 * qword) in the SSA, whatever the live image held there, so the following
 * ERESUME's XRSTOR checks pass.
 */
static void test_aex_zeroes_xheader_rest(void **state)
{
	uint64_t junk[2] = { 0x8000000000000003ULL, 0x1234 };
	struct sgx_regs r;
	struct world w;
	uint8_t *ssa;

	(void)state;
	world(&w);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	xsave_pattern(w.xbuf, XS_SIZE);
	memcpy(w.xbuf + 520, junk, sizeof(junk));
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, NULL));
	ssa = w.e.ssa[0];
	for (unsigned int i = 520; i < 536; i++)
		assert_int_equal(ssa[i], 0);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	world_done(&w);
}

static void test_eresume_restores(void **state)
{
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct sgx_cpu_stats st;
	struct world w;
	uint64_t bv;

	(void)state;
	world(&w);
	enter_and_aex(&w, &r, &saved, pattern);
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	r.fsbase = OUT_FS + 0x1000; /* the host moved its own FS meanwhile */
	r.rflags = 0x202;
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_memory_equal(&r.rax, &saved.rax, 16 * 8);
	assert_int_equal(r.rip, saved.rip);
	assert_int_equal(r.rflags, saved.rflags);
	assert_int_equal(r.fsbase, saved.fsbase);
	assert_int_equal(r.gsbase, saved.gsbase);
	/*
	 * Extended state: the saved XFRM components come back, and the host's
	 * AVX state, which was never the enclave's (XFRM = 3), is still live.
	 */
	assert_memory_equal(w.xbuf, pattern, 512);
	memcpy(&bv, w.xbuf + 512, 8);
	assert_int_equal(bv, 7);
	assert_memory_equal(w.xbuf + 576, pattern + 576, XS_SIZE - 576);
	assert_true(w.lp.in_enclave);
	assert_int_equal(w.lp.outside_fsbase, OUT_FS + 0x1000);
	assert_int_equal(tcs_of(&w)->state, 1);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	assert_int_equal(tcs_of(&w)->exit_addr, AEP);
	assert_int_equal(trk_inside(&w), 1);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.eresume, 1);

	/* A second AEX lands in the same frame again; EEXIT restores the new outside FS. */
	r.rax = EEXIT;
	r.rbx = SITE + 3;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_int_equal(r.fsbase, OUT_FS + 0x1000);
	world_done(&w);
}

static void test_eresume_flags_policy(void **state)
{
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world(&w);
	enter_and_aex(&w, &r, &saved, pattern);
	/* The frame asks for TF and IF off, and VM; ERESUME takes none of them. */
	gprsgx(&w, 0)->rflags = X86_EFLAGS_CF | X86_EFLAGS_TF | (1ULL << 17) | 2;
	r.rflags = 0x202;
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rflags, 0x202 | X86_EFLAGS_CF);
	world_done(&w);
}

static void eresume_fails(struct world *w, int expect)
{
	struct sgx_regs r, before;
	uint32_t cssa = tcs_of(w)->ssa_index;
	uint8_t xb[XS_SIZE];

	memset(&r, 0, sizeof(r));
	r.rflags = 0x202;
	r.rax = ERESUME;
	r.rbx = w->e.base;
	r.rcx = AEP;
	r.rip = AEP;
	before = r;
	memcpy(xb, w->xbuf, XS_SIZE);
	assert_int_equal(sgx_enclu(w->cpu, &w->lp, &w->mmu.mmu, &r, &w->xs), expect);
	assert_memory_equal(&r, &before, sizeof(r));
	assert_memory_equal(xb, w->xbuf, XS_SIZE);
	assert_false(w->lp.in_enclave);
	assert_int_equal(tcs_of(w)->state, 0);
	assert_int_equal(tcs_of(w)->ssa_index, cssa);
	assert_int_equal(trk_inside(w), 0);
}

static void test_eresume_gp_cssa0(void **state)
{
	struct world w;

	(void)state;
	world(&w);
	eresume_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

static void test_eresume_gp_bad_xsave(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		struct sgx_regs r, saved;
		uint8_t pattern[XS_SIZE];
		struct world w;
		uint8_t *ssa;

		world(&w);
		enter_and_aex(&w, &r, &saved, pattern);
		ssa = w.e.ssa[0];
		if (i == 0)
			ssa[512] |= 4;     /* XSTATE_BV outside XFRM */
		else if (i == 1)
			ssa[527] = 0x80;   /* XCOMP_BV: compacted format */
		else
			ssa[26] = 1;       /* MXCSR reserved bit */
		eresume_fails(&w, SGX_FAULT_GP);
		world_done(&w);
	}
}

static void test_eresume_gp_bad_gprsgx(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		struct sgx_regs r, saved;
		uint8_t pattern[XS_SIZE];
		struct world w;

		world(&w);
		enter_and_aex(&w, &r, &saved, pattern);
		if (i == 0)
			gprsgx(&w, 0)->rip = 0x0000800000000000ULL;
		else if (i == 1)
			gprsgx(&w, 0)->fsbase = 0x0000800000000000ULL;
		else
			gprsgx(&w, 0)->gsbase = 0xFFFF000000000000ULL;
		eresume_fails(&w, SGX_FAULT_GP);
		world_done(&w);
	}
}

static void test_eresume_pf_ssa_unmapped(void **state)
{
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world(&w);
	enter_and_aex(&w, &r, &saved, pattern);
	t_mmu_map(&w.mmu, w.e.base + 0x1000, NULL); /* frame CSSA-1 = 0 */
	eresume_fails(&w, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, w.e.base + 0x1000);
	world_done(&w);
}

static void test_eresume_gp_tcs_active(void **state)
{
	struct sgx_regs r, saved, r2;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world(&w);
	enter_and_aex(&w, &r, &saved, pattern);
	/* Another LP enters the handler frame; ERESUME on this TCS must wait. */
	assert_leaf_ok(eenter(&w, &w.lp2, &r2));
	assert_int_equal(r2.rax, 1);
	r.rax = ERESUME;
	assert_gp(eresume(&w, &w.lp, &r));
	assert_false(w.lp.in_enclave);
	world_done(&w);
}

static void test_eenter_exception_handler(void **state)
{
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world(&w);
	enter_and_aex(&w, &r, &saved, pattern);
	/* The host runs the enclave's handler: EENTER with CSSA = 1. */
	enter_regs(&w, &r, EENTER);
	r.rsp = URSP - 0x800;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_int_equal(r.rax, 1);
	assert_int_equal(r.rip, w.e.base + 0x4000);
	assert_int_equal(gprsgx(&w, 1)->ursp, URSP - 0x800);
	assert_int_equal(gprsgx(&w, 0)->ursp, URSP); /* frame 0 holds the interrupted state */
	/* The handler fixes the interrupted RIP and exits. */
	gprsgx(&w, 0)->rip = saved.rip + 2;
	r.rax = EEXIT;
	r.rbx = SITE + 3;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rip, saved.rip + 2);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	world_done(&w);
}

static void test_eresume_aexnotify(void **state)
{
	const struct encl_opts o = notify_opts;
	struct sgx_regs r, saved, before;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world_opts(&w, &o);
	enter_and_notify_aex(&w, &r, &saved, pattern);
	r.rsp = URSP - 0x40;
	before = r;
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	/* Like EENTER into frame 1: the handler gets CSSA, nothing is restored. */
	assert_int_equal(r.rax, 1);
	assert_int_equal(r.rcx, AEP + 3);
	assert_int_equal(r.rip, w.e.base + 0x4000);
	assert_int_equal(r.rsp, URSP - 0x40);
	assert_int_equal(r.rdx, before.rdx);
	assert_int_equal(r.fsbase, w.e.base + OFSBASE);
	assert_int_equal(gprsgx(&w, 1)->ursp, URSP - 0x40);
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	assert_int_equal(tcs_of(&w)->state, 1);
	assert_xs_init(&w, pattern);
	/* An AEX now saves into frame 1. */
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, NULL));
	assert_int_equal(tcs_of(&w)->ssa_index, 2);
	assert_int_equal(gprsgx(&w, 1)->rip, w.e.base + 0x4000);
	world_done(&w);

	/* Without the frame's bit the normal path runs. */
	world_opts(&w, &o);
	enter_and_aex(&w, &r, &saved, pattern);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rip, saved.rip);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	world_done(&w);
}

/*
 * Tracking through the real entry and exit: with an LP inside (entered by
 * EENTER before the EBLOCK), EWB of an enclave page stays SGX_NOT_TRACKED
 * after ETRACK until that LP takes its AEX; then it succeeds, and ERESUME,
 * which needs only frame 0, still works.
 */
static void test_ewb_waits_for_the_lp_inside(void **state)
{
	static uint8_t blob[4096] __attribute__((aligned(4096)));
	static struct sgx_pcmd pcmd __attribute__((aligned(128)));
	struct sgx_pageinfo pi = { 0 };
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;
	void *va;

	(void)state;
	world(&w);
	va = t_page(w.cpu, 12);
	assert_leaf_ok(sgx_epa(w.cpu, SGX_PAGE_TYPE_VA, va));
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_leaf_ok(sgx_eblock(w.cpu, w.e.ssa[1]));
	assert_leaf_ok(sgx_etrack(w.cpu, w.e.secs));
	pi.contents = (uint64_t)(uintptr_t)blob;
	pi.metadata = (uint64_t)(uintptr_t)&pcmd;
	assert_int_equal(sgx_ewb(w.cpu, &pi, w.e.ssa[1], va), SGX_NOT_TRACKED);
	/* A second ETRACK must wait for the LP as well. */
	assert_int_equal(sgx_etrack(w.cpu, w.e.secs), SGX_PREV_TRK_INCMPL);

	enclave_regs(&w, &r);
	saved = r;
	xsave_pattern(w.xbuf, XS_SIZE);
	memcpy(pattern, w.xbuf, XS_SIZE);
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, NULL));
	assert_leaf_ok(sgx_ewb(w.cpu, &pi, w.e.ssa[1], va));
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rip, saved.rip);
	world_done(&w);
}

/*
 * A two-page SSA frame (SSAFRAMESIZE = 2, NSSA = 1): the XSAVE area is on
 * its first page and GPRSGX at the end of its last one.  EENTER checks the
 * last page too (#PF on it), and AEX writes GPRSGX and EXINFO there.
 */
static void test_two_page_ssa_frame(void **state)
{
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT, .misc = SGX_MISC_EXINFO, .nssa = 1,
			       .ssa_pages = 2 };
	struct sgx_exception ex = { .reported = true, .vector = X86_TRAP_PF,
				    .type = SGX_EXITINFO_HW_EXCEPTION, .errcd = X86_PF_USER };
	struct sgx_gprsgx *g;
	struct sgx_exinfo *xi;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world_opts(&w, &o);
	t_mmu_map(&w.mmu, w.e.base + 0x2000, NULL);
	enter_regs(&w, &r, EENTER);
	t_assert_pf_at(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs),
		       (void *)(uintptr_t)(w.e.base + 0x2000));
	assert_false(w.lp.in_enclave);
	t_mmu_map(&w.mmu, w.e.base + 0x2000, w.e.ssa[1]);

	assert_leaf_ok(eenter(&w, &w.lp, &r));
	r.rip = w.e.base + 0x4010;
	ex.addr = w.e.base + 0x3008;
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, &ex, NULL));
	g = (struct sgx_gprsgx *)((uint8_t *)w.e.ssa[1] + 4096 - SGX_SSA_GPRS_SIZE);
	xi = (struct sgx_exinfo *)((uint8_t *)g - SGX_SSA_MISC_EXINFO_SIZE);
	assert_int_equal(g->rip, w.e.base + 0x4010);
	assert_int_equal(xi->maddr, w.e.base + 0x3008);
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	/* Nothing of GPRSGX went to the first page's end. */
	assert_int_not_equal(gprsgx(&w, 0)->rip, w.e.base + 0x4010);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rip, w.e.base + 0x4010);
	world_done(&w);
}

/*
 * AEX-Notify failures after ERESUME took the TCS: an unusable next frame is
 * #PF on it and the TCS is free again; a TCS without FLAGS.AEXNOTIFY takes
 * the normal path even when the frame asks for a notification.
 */
static void test_eresume_aexnotify_failures(void **state)
{
	const struct encl_opts o = notify_opts;
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world_opts(&w, &o);
	enter_and_notify_aex(&w, &r, &saved, pattern);
	t_mmu_map(&w.mmu, w.e.base + 0x2000, NULL); /* frame 1 */
	t_assert_pf_at(eresume(&w, &w.lp, &r), (void *)(uintptr_t)(w.e.base + 0x2000));
	assert_false(w.lp.in_enclave);
	assert_int_equal(tcs_of(&w)->state, 0);
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	t_mmu_map(&w.mmu, w.e.base + 0x2000, w.e.ssa[1]);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rip, w.e.base + 0x4000);
	world_done(&w);

	/* A debugger's DBGOPTIN lets the TCS go without AEXNOTIFY (EADD cleared it). */
	world_opts(&w, &o);
	tcs_of(&w)->flags = SGX_TCS_DBGOPTIN;
	enter_and_notify_aex(&w, &r, &saved, pattern);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rip, saved.rip);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	world_done(&w);
}

/*
 * EDECCSSA (AEX-Notify): the handler entered by an AEX-Notify ERESUME gives
 * frame 0 back; the next AEX saves into frame 0 again, and a plain ERESUME
 * then resumes the handler.
 */
static void test_edeccssa(void **state)
{
	const struct encl_opts o = notify_opts;
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct sgx_cpu_stats st;
	struct sgx_cpuid_regs c;
	struct world w;
	uint64_t rip;

	(void)state;
	world_opts(&w, &o);
	assert_int_equal(sgx_cpu_cpuid(w.cpu, 0x12, 0, &c), 0);
	assert_true(c.eax & (1u << 11));
	enter_and_notify_aex(&w, &r, &saved, pattern);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(tcs_of(&w)->ssa_index, 1);

	/* The handler runs EDECCSSA at its entry point. */
	rip = r.rip;
	r.rax = EDECCSSA;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	assert_int_equal(r.rip, rip + 3);
	assert_true(w.lp.in_enclave);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.edeccssa, 1);
	/* CSSA is 0 now: a second one is #GP. */
	r.rax = EDECCSSA;
	assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_int_equal(tcs_of(&w)->ssa_index, 0);

	/* An AEX saves into frame 0 again, and ERESUME comes back to the handler. */
	r.rip = rip + 3;
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, NULL));
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	assert_int_equal(gprsgx(&w, 0)->rip, rip + 3);
	gprsgx(&w, 0)->aexnotify = 0;
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(r.rip, rip + 3);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	world_done(&w);
}

/*
 * SSA pages are not concurrency operands of EENTER, ERESUME and EDECCSSA
 * (the SDM's tables name only the TCS): another leaf holding an SSA page
 * (here: a writer's exclusive hold, as EBLOCK or EWB take it) does not make
 * them #GP, and they leave no hold behind.  (test_concurrency races EMODPR
 * of an SSA page against entries.)
 */
static void test_entry_ignores_ssa_page_locks(void **state)
{
	const struct encl_opts o = notify_opts;
	struct epcm *s0, *s1;
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world_opts(&w, &o);
	s0 = epcm_of(w.cpu, 2);
	s1 = epcm_of(w.cpu, 3);
	assert_true(page_lock_excl(s0));
	assert_true(page_lock_excl(s1));
	enter_and_notify_aex(&w, &r, &saved, pattern);
	/* AEX-Notify ERESUME checks both frames. */
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	r.rax = EDECCSSA;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r, &w.xs, NULL, NULL));
	gprsgx(&w, 0)->aexnotify = 0;
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	/* Nothing of the entries stayed on the pages. */
	assert_int_equal(atomic_load(&s0->lock), -1);
	assert_int_equal(atomic_load(&s1->lock), -1);
	page_unlock_excl(s0);
	page_unlock_excl(s1);
	world_done(&w);
}

/* EDECCSSA: #GP outside an enclave, #PF on an unusable frame, #UD without AEX-Notify. */
static void test_edeccssa_errors(void **state)
{
	const struct encl_opts o = notify_opts;
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct sgx_cpu *cpu;
	struct sgx_lp lp;
	struct world w;

	(void)state;
	world_opts(&w, &o);
	enter_regs(&w, &r, 0);
	r.rax = EDECCSSA;
	assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	/* Frame 0 reached at its address through another page: not a usable SSA page. */
	enter_and_notify_aex(&w, &r, &saved, pattern);
	assert_leaf_ok(eresume(&w, &w.lp, &r));
	t_mmu_map(&w.mmu, w.e.base + 0x1000, w.e.data);
	r.rax = EDECCSSA;
	t_assert_pf_at(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs), (void *)(uintptr_t)(w.e.base + 0x1000));
	assert_int_equal(tcs_of(&w)->ssa_index, 1);
	t_mmu_map(&w.mmu, w.e.base + 0x1000, w.e.ssa[0]);
	world_done(&w);

	/* A platform without AEX-Notify has no EDECCSSA: #UD. */
	cpu = t_cpu_without(1, SGX_ATTR_ASYNC_EXIT_NOTIFY);
	sgx_lp_init(&lp);
	memset(&r, 0, sizeof(r));
	r.rax = EDECCSSA;
	assert_int_equal(sgx_enclu(cpu, &lp, NULL, &r, NULL), SGX_FAULT_UD);
	{
		struct sgx_cpuid_regs c;

		assert_int_equal(sgx_cpu_cpuid(cpu, 0x12, 0, &c), 0);
		assert_int_equal(c.eax & (1u << 11), 0);
	}
	sgx_cpu_destroy(cpu);
}

static void test_eresume_aexnotify_gp_no_frame(void **state)
{
	struct encl_opts o = { .attrs = SGX_ATTR_MODE64BIT | SGX_ATTR_ASYNC_EXIT_NOTIFY,
			       .tcs_flags = SGX_TCS_AEXNOTIFY, .nssa = 1 };
	struct sgx_regs r, saved;
	uint8_t pattern[XS_SIZE];
	struct world w;

	(void)state;
	world_opts(&w, &o);
	enter_and_notify_aex(&w, &r, &saved, pattern);
	/* CSSA = NSSA = 1: no next frame for the notification. */
	eresume_fails(&w, SGX_FAULT_GP);
	world_done(&w);
}

/* ---- dispatch ---- */

static void test_inside_leaves_outside_gp(void **state)
{
	static const uint32_t leaves[] = { EREPORT, EGETKEY, EEXIT, EACCEPT, EMODPE, EACCEPTCOPY };
	struct world w;

	(void)state;
	world(&w);
	for (unsigned int i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		struct sgx_regs r, before;

		enter_regs(&w, &r, leaves[i]);
		before = r;
		assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
		assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
		assert_memory_equal(&r, &before, sizeof(r));
	}
	world_done(&w);
}

static void test_unknown_leaf_gp(void **state)
{
	static const uint64_t leaves[] = { 8, 0x0A, 0x20, 0xFFFFFFFF, 0x100000008ULL };
	struct sgx_regs r, before;
	struct world w;

	(void)state;
	world(&w);
	for (unsigned int i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		enter_regs(&w, &r, 0);
		r.rax = leaves[i];
		before = r;
		assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
		assert_memory_equal(&r, &before, sizeof(r));
	}
	/* Inside too. */
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	r.rax = 0x20;
	assert_gp(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	assert_true(w.lp.in_enclave);
	world_done(&w);
}

static void test_sgx2_leaves_ud_without_sgx2(void **state)
{
	static const uint32_t leaves[] = { EACCEPT, EMODPE, EACCEPTCOPY };
	struct sgx_cpu_config cfg;
	struct sgx_regs r;
	struct world w;
	int err;

	(void)state;
	memset(&w, 0, sizeof(w));
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 16 << 20;
	cfg.fixed_keys = true;
	cfg.seed = 42;
	cfg.sgx2 = false;
	w.cpu = sgx_cpu_create(&cfg, &err);
	assert_non_null(w.cpu);
	t_build_encl(w.cpu, &w.e, 0);
	map_encl(&w.mmu, &w.e);
	sgx_lp_init(&w.lp);
	w.xs.buf = w.xbuf;
	w.xs.size = XS_SIZE;
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	for (unsigned int i = 0; i < 3; i++) {
		r.rax = leaves[i];
		assert_int_equal(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs),
				 SGX_ENCLS_FAULT_FLAG | 6);
	}
	assert_true(w.lp.in_enclave);
	world_done(&w);
}

/* ---- enclu_operand ---- */

static void test_operand_rules(void **state)
{
	struct world w;
	struct sgx_regs r;
	uint8_t *p;
	uint32_t f;
	uint64_t b;

	(void)state;
	world(&w);
	b = w.e.base;
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	/* Usable: R on the data page, W on the data page, R on the code page. */
	assert_leaf_ok(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x3200, 512, false, &f, &p));
	assert_int_equal(f, 4);
	assert_ptr_equal(p, (uint8_t *)w.e.data + 0x200);
	assert_leaf_ok(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x3200, 512, true, &f, &p));
	assert_leaf_ok(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x4000, 16, false, &f, &p));
	/* Alignment and ELRANGE: #GP. */
	assert_gp(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x3010, 512, false, &f, &p));
	assert_gp(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x10000, 16, false, &f, &p));
	assert_gp(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b - 0x1000, 16, false, &f, &p));
	/* Write to the RX page: EPCM #PF with W and SGX. */
	t_assert_pf_at(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x4000, 16, true, &f, &p),
		       (void *)(uintptr_t)(b + 0x4000));
	assert_int_equal(sgx_last_fault()->errcd,
			 X86_PF_PROT | X86_PF_WRITE | X86_PF_USER | X86_PF_SGX);
	/* The TCS page is not a REG page. */
	t_assert_pf_at(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b, 16, false, &f, &p),
		       (void *)(uintptr_t)b);
	/* Not mapped: plain #PF. */
	t_mmu_map(&w.mmu, b + 0x3000, NULL);
	t_assert_pf_at(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x3040, 64, false, &f, &p),
		       (void *)(uintptr_t)(b + 0x3040));
	assert_int_equal(sgx_last_fault()->errcd, X86_PF_USER);
	/* Not EPC inside ELRANGE: SGX #PF. */
	t_mmu_map(&w.mmu, b + 0x3000, host_page);
	t_assert_pf_at(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x3040, 64, false, &f, &p),
		       (void *)(uintptr_t)(b + 0x3040));
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	/* An alias at another address (ENCLAVEADDRESS mismatch). */
	t_mmu_map(&w.mmu, b + 0x5000, w.e.data);
	t_assert_pf_at(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x5000, 64, false, &f, &p),
		       (void *)(uintptr_t)(b + 0x5000));
	/* A blocked page. */
	t_mmu_map(&w.mmu, b + 0x3000, w.e.data);
	assert_leaf_ok(sgx_eblock(w.cpu, w.e.data));
	t_assert_pf_at(enclu_operand(w.cpu, &w.lp, &w.mmu.mmu, b + 0x3040, 64, false, &f, &p),
		       (void *)(uintptr_t)(b + 0x3040));
	world_done(&w);
}

static void test_entry_exit_tracking(void **state)
{
	struct sgx_regs r1, r2;
	struct world w;

	(void)state;
	world(&w);
	/* One LP inside; ETRACK must then wait for it to leave (prev count). */
	assert_leaf_ok(eenter(&w, &w.lp, &r1));
	assert_leaf_ok(sgx_etrack(w.cpu, w.e.secs));
	assert_int_equal(sgx_etrack(w.cpu, w.e.secs), SGX_PREV_TRK_INCMPL);
	assert_leaf_ok(sgx_aex(w.cpu, &w.lp, &r1, &w.xs, NULL, NULL));
	assert_leaf_ok(sgx_etrack(w.cpu, w.e.secs));
	assert_leaf_ok(eresume(&w, &w.lp2, &r2));
	assert_int_equal(trk_inside(&w), 1);
	world_done(&w);
}

/*
 * An EREMOVE of a child that has announced itself but not decided (it has
 * not yet looked for LPs inside) does not refuse an entry: the entering LP
 * vetoes it, and its commit fails (SGX_ENCLAVE_ACT), as it would on
 * hardware with the LP inside.
 */
static void test_entry_vetoes_undecided_eremove(void **state)
{
	struct secs_hidden *h;
	struct sgx_regs r;
	struct world w;
	uint32_t gen;

	(void)state;
	world(&w);
	h = secs_hidden(w.cpu, 0);
	gen = remove_announce(h);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_false(remove_commit(h, gen));
	assert_int_equal(sgx_eremove(w.cpu, w.e.data), SGX_ENCLAVE_ACT);
	world_done(&w);
}

struct late_remove {
	struct secs_hidden *h;
	_Atomic int done;
};

static void *finish_remove_later(void *p)
{
	struct late_remove *lr = p;

	usleep(2000);
	atomic_store(&lr->done, 1);
	remove_done(lr->h);
	return NULL;
}

/*
 * An EREMOVE that decided no LP was inside before the entry counted itself
 * in is waited for, not refused: the entry succeeds once it is done.
 */
static void test_entry_waits_for_decided_eremove(void **state)
{
	struct late_remove lr;
	struct sgx_regs r;
	struct world w;
	pthread_t t;

	(void)state;
	world(&w);
	lr.h = secs_hidden(w.cpu, 0);
	atomic_init(&lr.done, 0);
	assert_true(remove_commit(lr.h, remove_announce(lr.h)));
	assert_int_equal(pthread_create(&t, NULL, finish_remove_later, &lr), 0);
	assert_leaf_ok(eenter(&w, &w.lp, &r));
	assert_true(atomic_load(&lr.done));
	pthread_join(t, NULL);
	world_done(&w);
}

/* ---- races on one TCS ---- */

#define RACE_THREADS 4
#define RACE_ITERS 2000

struct race {
	struct world *w;
	_Atomic int inside;
	_Atomic int violations;
};

static void race_enter_check(struct race *rc)
{
	if (atomic_fetch_add(&rc->inside, 1) != 0)
		atomic_fetch_add(&rc->violations, 1);
	atomic_fetch_sub(&rc->inside, 1);
}

/* A broken busy lock shows up as a thread that can never get back in: bound the spins. */
#define RACE_SPIN_LIMIT 2000000

static bool race_spin(struct race *rc, struct world *w, struct sgx_lp *lp, struct sgx_regs *r,
		      struct sgx_xstate *xs, uint32_t leaf)
{
	for (long n = 0; n < RACE_SPIN_LIMIT; n++) {
		struct sgx_regs rr = *r;

		if (leaf == EENTER)
			enter_regs(w, &rr, EENTER);
		if (sgx_enclu(w->cpu, lp, &w->mmu.mmu, &rr, xs) == 0) {
			*r = rr;
			race_enter_check(rc);
			return true;
		}
		if (n % 64 == 63)
			sched_yield();
	}
	atomic_fetch_add(&rc->violations, 1);
	return false;
}

static void *race_thread(void *arg)
{
	struct race *rc = arg;
	struct world *w = rc->w;
	uint8_t xb[XS_SIZE] __attribute__((aligned(64))) = { 0 };
	struct sgx_xstate xs = { .buf = xb, .size = XS_SIZE };
	struct sgx_lp lp;
	struct sgx_regs r;

	sgx_lp_init(&lp);
	for (int i = 0; i < RACE_ITERS; i++) {
		if (!race_spin(rc, w, &lp, &r, &xs, EENTER))
			return NULL;
		if (i & 1) {
			/* An interrupt, then ERESUME once the TCS is free again. */
			if (sgx_aex(w->cpu, &lp, &r, &xs, NULL, NULL))
				atomic_fetch_add(&rc->violations, 1);
			if (!race_spin(rc, w, &lp, &r, &xs, ERESUME))
				return NULL;
		}
		r.rax = EEXIT;
		r.rbx = SITE + 3;
		if (sgx_enclu(w->cpu, &lp, &w->mmu.mmu, &r, &xs))
			atomic_fetch_add(&rc->violations, 1);
	}
	return NULL;
}

static void test_race_one_tcs(void **state)
{
	pthread_t t[RACE_THREADS];
	struct sgx_cpu_stats st;
	struct race rc;
	struct world w;

	(void)state;
	world(&w);
	rc.w = &w;
	atomic_init(&rc.inside, 0);
	atomic_init(&rc.violations, 0);
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race_thread, &rc), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&rc.violations), 0);
	assert_int_equal(tcs_of(&w)->state, 0);
	assert_int_equal(tcs_of(&w)->ssa_index, 0);
	assert_int_equal(trk_inside(&w), 0);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.eexit, RACE_THREADS * RACE_ITERS);
	assert_int_equal(st.aex, st.eresume);
	world_done(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eenter_success),
		cmocka_unit_test(test_eenter_upper_rax_ignored),
		cmocka_unit_test(test_eenter_gp_tcs_unaligned),
		cmocka_unit_test(test_eenter_pf_tcs_unmapped),
		cmocka_unit_test(test_eenter_pf_tcs_not_epc),
		cmocka_unit_test(test_eenter_gp_aep_noncanonical),
		cmocka_unit_test(test_eenter_gp_tcs_busy_leaf),
		cmocka_unit_test(test_eenter_pf_not_a_tcs),
		cmocka_unit_test(test_eenter_pf_tcs_wrong_linaddr),
		cmocka_unit_test(test_eenter_pf_tcs_blocked),
		cmocka_unit_test(test_eenter_pf_tcs_modified),
		cmocka_unit_test(test_eenter_gp_tcs_offsets_unaligned),
		cmocka_unit_test(test_eenter_gp_fsgs_noncanonical),
		cmocka_unit_test(test_eenter_gp_tcs_flags_reserved),
		cmocka_unit_test(test_eenter_gp_aexnotify_mismatch),
		cmocka_unit_test(test_eenter_gp_aexnotify_not_enumerated),
		cmocka_unit_test(test_eenter_gp_not_initialised),
		cmocka_unit_test(test_eenter_gp_32bit_enclave),
		cmocka_unit_test(test_eenter_gp_xstate_too_small),
		cmocka_unit_test(test_eenter_gp_cssa_ge_nssa),
		cmocka_unit_test(test_eenter_pf_ssa_unmapped),
		cmocka_unit_test(test_eenter_pf_ssa_not_epc),
		cmocka_unit_test(test_eenter_pf_ssa_wrong_page),
		cmocka_unit_test(test_eenter_pf_ssa_not_writable),
		cmocka_unit_test(test_eenter_pf_ssa_uses_cssa),
		cmocka_unit_test(test_eenter_gp_target_noncanonical),
		cmocka_unit_test(test_eenter_gp_tcs_active),
		cmocka_unit_test(test_eenter_gp_already_inside),
		cmocka_unit_test(test_eexit),
		cmocka_unit_test(test_eexit_gp_noncanonical),
		cmocka_unit_test(test_aex_pf_exinfo),
		cmocka_unit_test(test_aex_pf_no_exinfo),
		cmocka_unit_test(test_aex_gp_exinfo),
		cmocka_unit_test(test_aex_interrupt),
		cmocka_unit_test(test_aex_mf_fcw),
		cmocka_unit_test(test_aex_xm_mxcsr),
		cmocka_unit_test(test_aex_saves_tf_clear),
		cmocka_unit_test(test_aex_zeroes_xheader_rest),
		cmocka_unit_test(test_aex_reported_exceptions),
		cmocka_unit_test(test_aex_gp_outside),
		cmocka_unit_test(test_aex_no_xstate),
		cmocka_unit_test(test_eresume_restores),
		cmocka_unit_test(test_eresume_flags_policy),
		cmocka_unit_test(test_eresume_gp_cssa0),
		cmocka_unit_test(test_eresume_gp_bad_xsave),
		cmocka_unit_test(test_eresume_gp_bad_gprsgx),
		cmocka_unit_test(test_eresume_pf_ssa_unmapped),
		cmocka_unit_test(test_eresume_gp_tcs_active),
		cmocka_unit_test(test_eenter_exception_handler),
		cmocka_unit_test(test_eresume_aexnotify),
		cmocka_unit_test(test_eresume_aexnotify_gp_no_frame),
		cmocka_unit_test(test_ewb_waits_for_the_lp_inside),
		cmocka_unit_test(test_two_page_ssa_frame),
		cmocka_unit_test(test_entry_ignores_ssa_page_locks),
		cmocka_unit_test(test_entry_vetoes_undecided_eremove),
		cmocka_unit_test(test_entry_waits_for_decided_eremove),
		cmocka_unit_test(test_eresume_aexnotify_failures),
		cmocka_unit_test(test_edeccssa),
		cmocka_unit_test(test_edeccssa_errors),
		cmocka_unit_test(test_inside_leaves_outside_gp),
		cmocka_unit_test(test_unknown_leaf_gp),
		cmocka_unit_test(test_sgx2_leaves_ud_without_sgx2),
		cmocka_unit_test(test_operand_rules),
		cmocka_unit_test(test_entry_exit_tracking),
		cmocka_unit_test(test_race_one_tcs),
	};

	return T_RUN(tests);
}
