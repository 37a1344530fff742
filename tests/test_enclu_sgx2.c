// SPDX-License-Identifier: MIT
/*
 * SGX2 ENCLU leaves: EACCEPT, EACCEPTCOPY, EMODPE (the SDM's descriptions),
 * driven together with EAUG/EMODPR/EMODT/ETRACK as the EDMM flows use them.
 */
#include <string.h>

#include "helpers.h"
#include "internal.h"

#define SITE 0x70000000ULL
#define AEP 0x70001000ULL
#define NFRAMES 24
#define SI_OFF 0x3000     /* SECINFO lives at the start of the data page */
#define AUG_OFF 0x5000    /* EAUG'd page, frame 6 */
#define AUG2_OFF 0x6000   /* second EAUG'd page, frame 7 */

static uint8_t host_page[4096] __attribute__((aligned(4096)));

struct world {
	struct sgx_cpu *cpu;
	struct t_encl e;
	struct t_mmu mmu;
	struct sgx_lp lp, lp2;
	uint8_t xbuf[1024] __attribute__((aligned(64)));
	struct sgx_xstate xs;
};

/* The enclave of t_build_encl on platform @cpu, mapped, with two LPs. */
static void world_on(struct world *w, struct sgx_cpu *cpu)
{
	memset(w, 0, sizeof(*w));
	w->cpu = cpu;
	t_build_encl(w->cpu, &w->e, 0);
	t_mmu_init(&w->mmu);
	t_mmu_map(&w->mmu, w->e.base, w->e.tcs);
	t_mmu_map(&w->mmu, w->e.base + 0x1000, w->e.ssa[0]);
	t_mmu_map(&w->mmu, w->e.base + 0x2000, w->e.ssa[1]);
	t_mmu_map(&w->mmu, w->e.base + 0x3000, w->e.data);
	t_mmu_map(&w->mmu, w->e.base + 0x4000, w->e.code);
	t_mmu_map(&w->mmu, w->e.base + AUG_OFF, t_page(w->cpu, 6));
	t_mmu_map(&w->mmu, w->e.base + AUG2_OFF, t_page(w->cpu, 7));
	sgx_lp_init(&w->lp);
	sgx_lp_init(&w->lp2);
	w->xs.buf = w->xbuf;
	w->xs.size = sizeof(w->xbuf);
}

static void world(struct world *w)
{
	world_on(w, t_cpu(16));
}

static void world_done(struct world *w)
{
	sgx_cpu_destroy(w->cpu);
}

static uint64_t la(struct world *w, uint64_t off)
{
	return w->e.base + off;
}

static void eaug(struct world *w, unsigned int frame, uint64_t off)
{
	struct sgx_pageinfo pi = { .addr = la(w, off), .secs = (uint64_t)(uintptr_t)w->e.secs };

	assert_leaf_ok(sgx_eaug(w->cpu, &pi, t_page(w->cpu, frame)));
}

static void enter(struct world *w, struct sgx_lp *lp)
{
	struct sgx_regs r = { .rax = EENTER, .rbx = w->e.base, .rcx = AEP, .rip = SITE,
			      .rflags = 0x202 };

	assert_leaf_ok(sgx_enclu(w->cpu, lp, &w->mmu.mmu, &r, &w->xs));
}

static void leave(struct world *w, struct sgx_lp *lp)
{
	struct sgx_regs r = { .rax = EEXIT, .rbx = SITE + 3, .rip = la(w, 0x4100) };

	assert_leaf_ok(sgx_enclu(w->cpu, lp, &w->mmu.mmu, &r, &w->xs));
}

/* AEX then ERESUME: what an ETRACK IPI does to a thread inside. */
static void kick(struct world *w, struct sgx_lp *lp)
{
	struct sgx_regs r = { .rip = la(w, 0x4100), .rflags = 0x202 };

	assert_leaf_ok(sgx_aex(w->cpu, lp, &r, &w->xs, NULL, NULL));
	assert_leaf_ok(sgx_enclu(w->cpu, lp, &w->mmu.mmu, &r, &w->xs));
	assert_true(lp->in_enclave);
}

static void set_secinfo(struct world *w, uint64_t off_in_data, uint64_t flags)
{
	struct sgx_secinfo *si = (struct sgx_secinfo *)((uint8_t *)w->e.data + off_in_data);

	memset(si, 0, sizeof(*si));
	si->flags = flags;
}

static void leaf_regs(struct world *w, struct sgx_regs *r, uint32_t leaf, uint64_t rbx,
		      uint64_t rcx, uint64_t rdx)
{
	memset(r, 0, sizeof(*r));
	r->rax = leaf;
	r->rbx = rbx;
	r->rcx = rcx;
	r->rdx = rdx;
	r->rip = la(w, 0x4100);
	r->rflags = 0x202 | X86_EFLAGS_CF | X86_EFLAGS_SF;
	r->rsi = 0x5151;
}

static int run(struct world *w, struct sgx_regs *r)
{
	return sgx_enclu(w->cpu, &w->lp, &w->mmu.mmu, r, &w->xs);
}

static int eaccept(struct world *w, struct sgx_regs *r, uint64_t target)
{
	leaf_regs(w, r, EACCEPT, la(w, SI_OFF), target, 0);
	return run(w, r);
}

/* A completed leaf with @code in RAX and ZF, other status flags clear. */
static void assert_result(struct world *w, const struct sgx_regs *r, uint64_t code)
{
	assert_int_equal(r->rax, code);
	assert_int_equal(r->rip, la(w, 0x4100) + 3);
	assert_int_equal(r->rflags, 0x202 | (code ? X86_EFLAGS_ZF : 0));
	assert_int_equal(r->rsi, 0x5151);
}

static void epcm(struct world *w, unsigned int frame, struct sgx_epcm_view *v)
{
	assert_int_equal(sgx_cpu_epcm(w->cpu, t_page(w->cpu, frame), v), 0);
}

/* Run @r expecting the fault @expect; regs and EPCM must be untouched. */
static void assert_refused(struct world *w, struct sgx_regs *r, int expect)
{
	struct t_epcm_snap snap;
	struct sgx_regs before = *r;

	t_snap(w->cpu, &snap, NFRAMES);
	assert_int_equal(run(w, r), expect);
	assert_memory_equal(r, &before, sizeof(*r));
	t_assert_snap_equal(w->cpu, &snap);
	assert_true(w->lp.in_enclave);
}

/* Run @r expecting a completed leaf with error @code and no EPCM change. */
static void assert_code(struct world *w, struct sgx_regs *r, int code)
{
	struct t_epcm_snap snap;

	t_snap(w->cpu, &snap, NFRAMES);
	assert_leaf_ok(run(w, r));
	assert_result(w, r, (uint64_t)code);
	t_assert_snap_equal(w->cpu, &snap);
}

/* ---- EACCEPT ---- */

static void test_eaccept_eaug_page(void **state)
{
	struct sgx_epcm_view v;
	struct sgx_cpu_stats st;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	epcm(&w, 6, &v);
	assert_true(v.valid && v.pending);
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_R | SGX_SECINFO_W);
	assert_leaf_ok(eaccept(&w, &r, la(&w, AUG_OFF)));
	assert_result(&w, &r, 0);
	epcm(&w, 6, &v);
	assert_true(v.valid);
	assert_false(v.pending || v.modified || v.pr || v.blocked);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_W);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_REG);
	assert_int_equal(v.linaddr, la(&w, AUG_OFF));
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.eaccept, 1);
	/* Accepting twice no longer matches (PENDING is compared). */
	assert_leaf_ok(eaccept(&w, &r, la(&w, AUG_OFF)));
	assert_result(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	world_done(&w);
}

static void test_eaccept_mismatch(void **state)
{
	static const uint64_t bad[] = {
		SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_R,           /* RWX */
		SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_R | SGX_SECINFO_W |
			SGX_SECINFO_X,
		SGX_SECINFO_REG | SGX_SECINFO_PR | SGX_SECINFO_R | SGX_SECINFO_W, /* PENDING */
		SGX_SECINFO_TRIM | SGX_SECINFO_MODIFIED,                          /* PT, MODIFIED */
	};
	struct sgx_cpu_stats st;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	enter(&w, &w.lp);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_secinfo(&w, 0, bad[i]);
		leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
		assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	}
	/* ENCLAVEADDRESS: the page reached through an alias. */
	t_mmu_map(&w.mmu, la(&w, AUG2_OFF), t_page(w.cpu, 6));
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_R | SGX_SECINFO_W);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG2_OFF), 0);
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.eaccept, 0);
	world_done(&w);
}

static void test_eaccept_emodpr_needs_tracking(void **state)
{
	struct sgx_secinfo si = { .flags = SGX_SECINFO_R };
	struct sgx_epcm_view v;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	enter(&w, &w.lp);
	/* The OS restricts the RX code page to R while the thread runs. */
	assert_leaf_ok(sgx_emodpr(w.cpu, &si, w.e.code));
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_PR | SGX_SECINFO_R);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, 0x4000), 0);
	assert_code(&w, &r, SGX_NOT_TRACKED);
	/* ETRACK alone is not enough: this LP was inside before it. */
	assert_leaf_ok(sgx_etrack(w.cpu, w.e.secs));
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, 0x4000), 0);
	assert_code(&w, &r, SGX_NOT_TRACKED);
	/* The IPI: AEX and ERESUME.  Now every stale translation is gone. */
	kick(&w, &w.lp);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, 0x4000), 0);
	assert_leaf_ok(run(&w, &r));
	assert_result(&w, &r, 0);
	epcm(&w, 5, &v);
	assert_false(v.pr);
	assert_int_equal(v.rwx, SGX_SECINFO_R);
	world_done(&w);
}

static void test_eaccept_emodpr_tracked_before_entry(void **state)
{
	struct sgx_secinfo si = { .flags = SGX_SECINFO_R };
	struct sgx_epcm_view v;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(sgx_emodpr(w.cpu, &si, w.e.code));
	assert_leaf_ok(sgx_etrack(w.cpu, w.e.secs));
	enter(&w, &w.lp);
	/* Attribute mismatch is reported before tracking is looked at. */
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_PR | SGX_SECINFO_R | SGX_SECINFO_X);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, 0x4000), 0);
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_PR | SGX_SECINFO_R);
	assert_leaf_ok(eaccept(&w, &r, la(&w, 0x4000)));
	assert_result(&w, &r, 0);
	epcm(&w, 5, &v);
	assert_false(v.pr);
	world_done(&w);
}

static void test_eaccept_not_tracked_before_mismatch_order(void **state)
{
	struct sgx_secinfo si = { .flags = SGX_SECINFO_R };
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	assert_leaf_ok(sgx_emodpr(w.cpu, &si, w.e.code));
	enter(&w, &w.lp);
	/* Untracked and mismatching: the mismatch wins (step 5 before 6). */
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_PR | SGX_SECINFO_R | SGX_SECINFO_W);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, 0x4000), 0);
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	world_done(&w);
}

/* EAUG + EACCEPT a RW page at AUG_OFF (frame 6), leaving the LP outside. */
static void aug_accepted(struct world *w)
{
	struct sgx_regs r;

	eaug(w, 6, AUG_OFF);
	enter(w, &w->lp);
	set_secinfo(w, 0, SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_R | SGX_SECINFO_W);
	assert_leaf_ok(eaccept(w, &r, la(w, AUG_OFF)));
	assert_int_equal(r.rax, 0);
	leave(w, &w->lp);
}

static void test_eaccept_trim(void **state)
{
	struct sgx_secinfo si = { .flags = SGX_SECINFO_TRIM };
	struct sgx_epcm_view v;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	aug_accepted(&w);
	assert_leaf_ok(sgx_emodt(w.cpu, &si, t_page(w.cpu, 6)));
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_TRIM | SGX_SECINFO_MODIFIED);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_code(&w, &r, SGX_NOT_TRACKED);
	leave(&w, &w.lp);
	assert_leaf_ok(sgx_etrack(w.cpu, w.e.secs));
	enter(&w, &w.lp);
	assert_leaf_ok(eaccept(&w, &r, la(&w, AUG_OFF)));
	assert_result(&w, &r, 0);
	epcm(&w, 6, &v);
	assert_true(v.valid);
	assert_false(v.modified || v.pending || v.pr);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_TRIM);
	assert_int_equal(v.rwx, 0);
	/* An accepted trim can be removed even with a thread inside. */
	assert_leaf_ok(sgx_eremove(w.cpu, t_page(w.cpu, 6)));
	world_done(&w);
}

/* Write TCS contents into the accepted REG page at AUG_OFF, EMODT it to TCS, track. */
static void tcs_candidate(struct world *w, void (*tweak)(struct sgx_tcs *))
{
	struct sgx_secinfo si = { .flags = SGX_SECINFO_TCS };
	struct sgx_tcs *t = (struct sgx_tcs *)t_page(w->cpu, 6);

	aug_accepted(w);
	t_tcs_src(t, 0x2000, 1, 0x4000);
	if (tweak)
		tweak(t);
	assert_leaf_ok(sgx_emodt(w->cpu, &si, t_page(w->cpu, 6)));
	assert_leaf_ok(sgx_etrack(w->cpu, w->e.secs));
	enter(w, &w->lp);
	set_secinfo(w, 0, SGX_SECINFO_TCS | SGX_SECINFO_MODIFIED);
}

static void test_eaccept_new_tcs(void **state)
{
	struct sgx_regs r = { .rax = EENTER, .rcx = AEP, .rip = SITE };
	struct sgx_epcm_view v;
	struct world w;

	(void)state;
	world(&w);
	tcs_candidate(&w, NULL);
	/* Not usable for EENTER before it is accepted. */
	r.rbx = la(&w, AUG_OFF);
	assert_pf(sgx_enclu(w.cpu, &w.lp2, &w.mmu.mmu, &r, &w.xs));
	assert_leaf_ok(eaccept(&w, &r, la(&w, AUG_OFF)));
	assert_result(&w, &r, 0);
	epcm(&w, 6, &v);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_TCS);
	assert_false(v.modified);
	/* A second thread enters through the new TCS. */
	memset(&r, 0, sizeof(r));
	r.rax = EENTER;
	r.rbx = la(&w, AUG_OFF);
	r.rcx = AEP;
	r.rip = SITE;
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp2, &w.mmu.mmu, &r, &w.xs));
	assert_int_equal(r.rip, la(&w, 0x4000));
	assert_int_equal(w.lp2.tcs_la, la(&w, AUG_OFF));
	world_done(&w);
}

static void tw_nssa0(struct sgx_tcs *t) { t->nr_ssa_frames = 0; }
static void tw_cssa(struct sgx_tcs *t) { t->ssa_index = 1; }
static void tw_aep(struct sgx_tcs *t) { t->exit_addr = 0x1234; }
static void tw_state(struct sgx_tcs *t) { t->state = 1; }
static void tw_dbgoptin(struct sgx_tcs *t) { t->flags = SGX_TCS_DBGOPTIN; }
static void tw_flags(struct sgx_tcs *t) { t->flags = 1ULL << 7; }
static void tw_reserved(struct sgx_tcs *t) { t->reserved[100] = 1; }

static void test_eaccept_new_tcs_invalid(void **state)
{
	static void (*const tweaks[])(struct sgx_tcs *) = {
		tw_nssa0, tw_cssa, tw_aep, tw_state, tw_dbgoptin, tw_flags, tw_reserved,
	};

	(void)state;
	for (unsigned int i = 0; i < sizeof(tweaks) / sizeof(tweaks[0]); i++) {
		struct sgx_epcm_view v;
		struct sgx_regs r;
		struct world w;

		world(&w);
		tcs_candidate(&w, tweaks[i]);
		leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
		assert_refused(&w, &r, SGX_FAULT_GP);
		epcm(&w, 6, &v);
		assert_true(v.modified);
		world_done(&w);
	}
}

/*
 * TCS.FLAGS.AEXNOTIFY is reserved where the platform does not enumerate
 * AEX-Notify: EACCEPT of such a new TCS is #GP there, and accepted where
 * the platform has it.
 */
static void tw_aexnotify(struct sgx_tcs *t) { t->flags = SGX_TCS_AEXNOTIFY; }

static void test_eaccept_new_tcs_aexnotify(void **state)
{
	struct sgx_epcm_view v;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world_on(&w, t_cpu_without(16, SGX_ATTR_ASYNC_EXIT_NOTIFY));
	tcs_candidate(&w, tw_aexnotify);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	epcm(&w, 6, &v);
	assert_true(v.modified);
	world_done(&w);

	world(&w);
	tcs_candidate(&w, tw_aexnotify);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_leaf_ok(sgx_enclu(w.cpu, &w.lp, &w.mmu.mmu, &r, &w.xs));
	epcm(&w, 6, &v);
	assert_false(v.modified);
	world_done(&w);
}

static void test_eaccept_gp(void **state)
{
	const uint64_t ok = SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_R | SGX_SECINFO_W;
	static const uint64_t illegal[] = {
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,             /* nothing to accept */
		SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED,
		SGX_SECINFO_TRIM,
		SGX_SECINFO_TRIM | SGX_SECINFO_MODIFIED | SGX_SECINFO_PR,
		SGX_SECINFO_TCS | SGX_SECINFO_MODIFIED | SGX_SECINFO_PENDING,
		SGX_SECINFO_SECS | SGX_SECINFO_MODIFIED,
		SGX_SECINFO_VA | SGX_SECINFO_MODIFIED,
	};
	struct sgx_regs r;
	struct world w;
	uint8_t *si;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	enter(&w, &w.lp);
	si = (uint8_t *)w.e.data;

	set_secinfo(&w, 0, ok);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF) + 8, la(&w, AUG_OFF), 0);  /* SECINFO align */
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPT, la(&w, 0x10000), la(&w, AUG_OFF), 0);    /* outside ELRANGE */
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF) + 0x10, 0); /* target align */
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), w.e.base - 0x1000, 0);    /* target range */
	assert_refused(&w, &r, SGX_FAULT_GP);

	set_secinfo(&w, 0, ok | (1ULL << 6));                                /* reserved flag */
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	set_secinfo(&w, 0, ok);
	si[40] = 1;                                                          /* reserved byte */
	assert_refused(&w, &r, SGX_FAULT_GP);

	for (unsigned int i = 0; i < sizeof(illegal) / sizeof(illegal[0]); i++) {
		set_secinfo(&w, 0, illegal[i]);
		leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
		assert_refused(&w, &r, SGX_FAULT_GP);
	}

	/* Target in use by another SGX instruction. */
	set_secinfo(&w, 0, ok);
	assert_true(page_lock_excl(epcm_of(w.cpu, 6)));
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	page_unlock_excl(epcm_of(w.cpu, 6));
	world_done(&w);
}

static void test_eaccept_pf(void **state)
{
	const uint64_t ok = SGX_SECINFO_REG | SGX_SECINFO_PENDING | SGX_SECINFO_R | SGX_SECINFO_W;
	struct sgx_regs r;
	struct world w;
	void *other_secs;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	eaug(&w, 7, AUG2_OFF);
	enter(&w, &w.lp);
	set_secinfo(&w, 0, ok);

	/* SECINFO on a page that is not usable (pending). */
	leaf_regs(&w, &r, EACCEPT, la(&w, AUG2_OFF), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, AUG2_OFF));
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	/* SECINFO on the TCS page (not a REG page). */
	leaf_regs(&w, &r, EACCEPT, la(&w, 0), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0));

	/* Target unmapped: plain #PF, the OS may fix it. */
	t_mmu_map(&w.mmu, la(&w, 0x8000), NULL);
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, 0x8000), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x8000));
	assert_false(sgx_last_fault()->errcd & X86_PF_SGX);
	/* Target not EPC. */
	t_mmu_map(&w.mmu, la(&w, 0x8000), host_page);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	/* Target invalid (a free frame). */
	t_mmu_map(&w.mmu, la(&w, 0x8000), t_page(w.cpu, 12));
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x8000));
	/* Target is the SECS. */
	t_mmu_map(&w.mmu, la(&w, 0x8000), w.e.secs);
	assert_refused(&w, &r, SGX_FAULT_PF);
	/* Target belongs to another enclave. */
	other_secs = t_ecreate(w.cpu, 20, 0x200000000ULL, 0x10000, SGX_ATTR_MODE64BIT);
	assert_leaf_ok(t_eadd(w.cpu, other_secs, 21, 0x200000000ULL,
			      SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, NULL));
	t_mmu_map(&w.mmu, la(&w, 0x8000), t_page(w.cpu, 21));
	assert_refused(&w, &r, SGX_FAULT_PF);
	/* Target blocked. */
	assert_leaf_ok(sgx_eblock(w.cpu, t_page(w.cpu, 6)));
	leaf_regs(&w, &r, EACCEPT, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, AUG_OFF));
	world_done(&w);
}

/* ---- EACCEPTCOPY ---- */

static int eacceptcopy(struct world *w, struct sgx_regs *r, uint64_t si, uint64_t dst,
		       uint64_t src)
{
	leaf_regs(w, r, EACCEPTCOPY, si, dst, src);
	return run(w, r);
}

static void test_eacceptcopy_success(void **state)
{
	struct sgx_epcm_view v;
	struct sgx_cpu_stats st;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X);
	assert_leaf_ok(eacceptcopy(&w, &r, la(&w, SI_OFF), la(&w, AUG_OFF), la(&w, 0x3000)));
	assert_result(&w, &r, 0);
	assert_memory_equal(t_page(w.cpu, 6), w.e.data, 4096);
	epcm(&w, 6, &v);
	assert_true(v.valid);
	assert_false(v.pending || v.modified || v.pr);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_X);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_REG);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.eacceptcopy, 1);
	world_done(&w);
}

static void test_eacceptcopy_gp(void **state)
{
	const uint64_t si = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	struct sgx_regs r;
	struct world w;
	uint64_t s, d, x;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	enter(&w, &w.lp);
	s = la(&w, SI_OFF);
	d = la(&w, AUG_OFF);
	x = la(&w, 0x3000);
	set_secinfo(&w, 0, si);

	leaf_regs(&w, &r, EACCEPTCOPY, s + 8, d, x);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPTCOPY, s, d + 8, x);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, x + 8);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPTCOPY, la(&w, 0x10000), d, x);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPTCOPY, s, la(&w, 0x10000), x);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, w.e.base - 0x1000);
	assert_refused(&w, &r, SGX_FAULT_GP);

	leaf_regs(&w, &r, EACCEPTCOPY, s, d, x);
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_W);   /* W without R */
	assert_refused(&w, &r, SGX_FAULT_GP);
	set_secinfo(&w, 0, SGX_SECINFO_TCS);                   /* not REG */
	assert_refused(&w, &r, SGX_FAULT_GP);
	set_secinfo(&w, 0, si | (1ULL << 16));                 /* reserved flag */
	assert_refused(&w, &r, SGX_FAULT_GP);
	set_secinfo(&w, 0, si);
	((uint8_t *)w.e.data)[63] = 1;                         /* reserved byte */
	assert_refused(&w, &r, SGX_FAULT_GP);

	/* Destination busy. */
	set_secinfo(&w, 0, si);
	assert_true(page_lock_excl(epcm_of(w.cpu, 6)));
	assert_refused(&w, &r, SGX_FAULT_GP);
	page_unlock_excl(epcm_of(w.cpu, 6));
	world_done(&w);
}

static void test_eacceptcopy_pf(void **state)
{
	struct sgx_regs r;
	struct world w;
	uint64_t s, d, x;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	eaug(&w, 7, AUG2_OFF);
	enter(&w, &w.lp);
	s = la(&w, SI_OFF);
	d = la(&w, AUG_OFF);
	x = la(&w, 0x3000);
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);

	/* SECINFO not usable. */
	leaf_regs(&w, &r, EACCEPTCOPY, la(&w, AUG2_OFF), d, x);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, AUG2_OFF));
	/* Destination unmapped / not EPC. */
	t_mmu_map(&w.mmu, la(&w, 0x8000), NULL);
	leaf_regs(&w, &r, EACCEPTCOPY, s, la(&w, 0x8000), x);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x8000));
	assert_false(sgx_last_fault()->errcd & X86_PF_SGX);
	t_mmu_map(&w.mmu, la(&w, 0x8000), host_page);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	/* Source unmapped. */
	t_mmu_map(&w.mmu, la(&w, 0x9000), NULL);
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, la(&w, 0x9000));
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x9000));
	/* Source is the TCS, or a pending page. */
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, la(&w, 0));
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0));
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, la(&w, AUG2_OFF));
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, AUG2_OFF));
	/*
	 * The source's own R decides (SDM-BUG: the pseudocode tests the
	 * destination's): the code page without R, while the destination is
	 * RW-, is refused.
	 */
	epcm_of(w.cpu, 5)->rwx = SGX_SECINFO_X;
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, la(&w, 0x4000));
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x4000));
	epcm_of(w.cpu, 5)->rwx = SGX_SECINFO_R | SGX_SECINFO_X;
	/* The source reached at another address (an alias of the code page). */
	t_mmu_map(&w.mmu, la(&w, 0x9000), t_page(w.cpu, 5));
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, la(&w, 0x9000));
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x9000));
	/* A blocked source. */
	assert_int_equal(sgx_eblock(w.cpu, t_page(w.cpu, 5)), 0);
	leaf_regs(&w, &r, EACCEPTCOPY, s, d, la(&w, 0x4000));
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x4000));
	world_done(&w);
}

static void test_eacceptcopy_mismatch(void **state)
{
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
	/* Destination not pending (the code page). */
	leaf_regs(&w, &r, EACCEPTCOPY, la(&w, SI_OFF), la(&w, 0x4000), la(&w, 0x3000));
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* Destination is a TCS. */
	leaf_regs(&w, &r, EACCEPTCOPY, la(&w, SI_OFF), la(&w, 0), la(&w, 0x3000));
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* Destination reached at the wrong address (alias). */
	t_mmu_map(&w.mmu, la(&w, AUG2_OFF), t_page(w.cpu, 6));
	leaf_regs(&w, &r, EACCEPTCOPY, la(&w, SI_OFF), la(&w, AUG2_OFF), la(&w, 0x3000));
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* Destination is not a page of this enclave (a free frame). */
	t_mmu_map(&w.mmu, la(&w, AUG2_OFF), t_page(w.cpu, 12));
	leaf_regs(&w, &r, EACCEPTCOPY, la(&w, SI_OFF), la(&w, AUG2_OFF), la(&w, 0x3000));
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* Destination blocked (SDM-BUG: the pseudocode tests the source's BLOCKED). */
	assert_int_equal(sgx_eblock(w.cpu, t_page(w.cpu, 6)), 0);
	leaf_regs(&w, &r, EACCEPTCOPY, la(&w, SI_OFF), la(&w, AUG_OFF), la(&w, 0x3000));
	assert_code(&w, &r, SGX_PAGE_ATTRIBUTES_MISMATCH);
	{
		struct sgx_epcm_view v;

		epcm(&w, 6, &v);
		assert_true(v.pending);
	}
	world_done(&w);
}

/* ---- EMODPE ---- */

static int emodpe(struct world *w, struct sgx_regs *r, uint64_t si, uint64_t target)
{
	leaf_regs(w, r, EMODPE, si, target, 0);
	return run(w, r);
}

static void test_emodpe_extends(void **state)
{
	struct sgx_epcm_view v;
	struct sgx_cpu_stats st;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_R | SGX_SECINFO_W);
	assert_leaf_ok(emodpe(&w, &r, la(&w, SI_OFF), la(&w, 0x4000)));
	/* No error code: RAX and flags untouched, RIP advanced. */
	assert_int_equal(r.rax, EMODPE);
	assert_int_equal(r.rflags, 0x202 | X86_EFLAGS_CF | X86_EFLAGS_SF);
	assert_int_equal(r.rip, la(&w, 0x4100) + 3);
	epcm(&w, 5, &v);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X);
	assert_false(v.pr || v.pending || v.modified);
	/* Never reduces. */
	set_secinfo(&w, 0, SGX_SECINFO_R);
	assert_leaf_ok(emodpe(&w, &r, la(&w, SI_OFF), la(&w, 0x3000)));
	epcm(&w, 4, &v);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_W);
	set_secinfo(&w, 0, 0);
	assert_leaf_ok(emodpe(&w, &r, la(&w, SI_OFF), la(&w, 0x4000)));
	epcm(&w, 5, &v);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X);
	sgx_cpu_stats(w.cpu, &st);
	assert_int_equal(st.emodpe, 3);
	world_done(&w);
}

static void test_emodpe_w_without_r(void **state)
{
	struct sgx_secinfo none = { .flags = 0 };
	struct sgx_epcm_view v;
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	aug_accepted(&w);
	/* Take every permission away and have the enclave accept that. */
	assert_leaf_ok(sgx_emodpr(w.cpu, &none, t_page(w.cpu, 6)));
	assert_leaf_ok(sgx_etrack(w.cpu, w.e.secs));
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_REG | SGX_SECINFO_PR);
	assert_leaf_ok(eaccept(&w, &r, la(&w, AUG_OFF)));
	assert_result(&w, &r, 0);
	epcm(&w, 6, &v);
	assert_int_equal(v.rwx, 0);

	set_secinfo(&w, 0, SGX_SECINFO_W);
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	set_secinfo(&w, 0, SGX_SECINFO_R | SGX_SECINFO_W);
	assert_leaf_ok(emodpe(&w, &r, la(&w, SI_OFF), la(&w, AUG_OFF)));
	epcm(&w, 6, &v);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_W);
	world_done(&w);
}

static void test_emodpe_gp(void **state)
{
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_X);
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF) + 32, la(&w, 0x4000), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, 0x4000) + 8, 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EMODPE, la(&w, 0x10000), la(&w, 0x4000), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, 0x10000), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	/* Reserved SECINFO bits and bytes. */
	set_secinfo(&w, 0, SGX_SECINFO_X | (1ULL << 7));
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, 0x4000), 0);
	assert_refused(&w, &r, SGX_FAULT_GP);
	set_secinfo(&w, 0, SGX_SECINFO_X);
	((uint8_t *)w.e.data)[8] = 1;
	assert_refused(&w, &r, SGX_FAULT_GP);
	/* Target busy. */
	set_secinfo(&w, 0, SGX_SECINFO_X);
	assert_true(page_lock_excl(epcm_of(w.cpu, 5)));
	assert_refused(&w, &r, SGX_FAULT_GP);
	page_unlock_excl(epcm_of(w.cpu, 5));
	world_done(&w);
}

static void test_emodpe_pf(void **state)
{
	struct sgx_regs r;
	struct world w;

	(void)state;
	world(&w);
	eaug(&w, 6, AUG_OFF);
	enter(&w, &w.lp);
	set_secinfo(&w, 0, SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X);

	/* Target pending, a TCS, not EPC, unmapped. */
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, AUG_OFF), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, AUG_OFF));
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, 0), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0));
	t_mmu_map(&w.mmu, la(&w, 0x8000), host_page);
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, 0x8000), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_true(sgx_last_fault()->errcd & X86_PF_SGX);
	t_mmu_map(&w.mmu, la(&w, 0x8000), NULL);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_false(sgx_last_fault()->errcd & X86_PF_SGX);
	/* SECINFO on a pending page. */
	leaf_regs(&w, &r, EMODPE, la(&w, AUG_OFF), la(&w, 0x4000), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, AUG_OFF));
	/* The target reached at another address (an alias of the code page). */
	t_mmu_map(&w.mmu, la(&w, 0x9000), t_page(w.cpu, 5));
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, 0x9000), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x9000));
	/* A blocked target. */
	assert_int_equal(sgx_eblock(w.cpu, t_page(w.cpu, 5)), 0);
	leaf_regs(&w, &r, EMODPE, la(&w, SI_OFF), la(&w, 0x4000), 0);
	assert_refused(&w, &r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->addr, la(&w, 0x4000));
	world_done(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eaccept_eaug_page),
		cmocka_unit_test(test_eaccept_mismatch),
		cmocka_unit_test(test_eaccept_emodpr_needs_tracking),
		cmocka_unit_test(test_eaccept_emodpr_tracked_before_entry),
		cmocka_unit_test(test_eaccept_not_tracked_before_mismatch_order),
		cmocka_unit_test(test_eaccept_trim),
		cmocka_unit_test(test_eaccept_new_tcs),
		cmocka_unit_test(test_eaccept_new_tcs_invalid),
		cmocka_unit_test(test_eaccept_new_tcs_aexnotify),
		cmocka_unit_test(test_eaccept_gp),
		cmocka_unit_test(test_eaccept_pf),
		cmocka_unit_test(test_eacceptcopy_success),
		cmocka_unit_test(test_eacceptcopy_gp),
		cmocka_unit_test(test_eacceptcopy_pf),
		cmocka_unit_test(test_eacceptcopy_mismatch),
		cmocka_unit_test(test_emodpe_extends),
		cmocka_unit_test(test_emodpe_w_without_r),
		cmocka_unit_test(test_emodpe_gp),
		cmocka_unit_test(test_emodpe_pf),
	};

	return T_RUN(tests);
}
