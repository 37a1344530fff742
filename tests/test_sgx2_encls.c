// SPDX-License-Identifier: MIT
/*
 * EAUG, EMODPR, EMODT (the SDM's descriptions): the success path with the EPCM
 * before and after, and every error code and fault each leaf can report,
 * with the EPCM left unchanged on failure.
 *
 * The enclave from t_build_encl() uses frames 0-5 (SECS, TCS, SSA x2, data,
 * code) and linear pages base+0x0000..base+0x4000 of a 64 KiB ELRANGE;
 * EAUG tests use frames from 6 up and linear pages from base+0x5000 up.
 */
#include <string.h>

#include "helpers.h"
#include "internal.h"

#define NSNAP 16
#define FREE_FRAME 6
#define SX_UD (SGX_ENCLS_FAULT_FLAG | 6)

static uint8_t host_page[4096] __attribute__((aligned(4096)));

static uint32_t frame_of(struct sgx_cpu *cpu, const void *p)
{
	return epc_frame(cpu, (uint64_t)(uintptr_t)p);
}

static struct sgx_epcm_view view(struct sgx_cpu *cpu, const void *p)
{
	struct sgx_epcm_view v;

	memset(&v, 0, sizeof(v));
	assert_int_equal(sgx_cpu_epcm(cpu, p, &v), 0);
	return v;
}

static struct secs_hidden *hidden(struct sgx_cpu *cpu, const void *secs)
{
	return secs_hidden(cpu, frame_of(cpu, secs));
}

static struct sgx_cpu *setup(struct t_encl *e)
{
	struct sgx_cpu *cpu = t_cpu(8);

	t_build_encl(cpu, e, SGX_ATTR_DEBUG);
	return cpu;
}

static struct sgx_cpu *setup_no_sgx2(struct t_encl *e)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	int err;

	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 8ULL << 20;
	cfg.fixed_keys = true;
	cfg.seed = 42;
	cfg.sgx2 = false;
	cpu = sgx_cpu_create(&cfg, &err);
	assert_non_null(cpu);
	t_build_encl(cpu, e, SGX_ATTR_DEBUG);
	return cpu;
}

static void set_pginfo(struct sgx_pageinfo *pi, const void *secs, uint64_t linaddr)
{
	memset(pi, 0, sizeof(*pi));
	pi->addr = linaddr;
	pi->secs = (uint64_t)(uintptr_t)secs;
}

static int eaug(struct sgx_cpu *cpu, const void *secs, void *page, uint64_t linaddr)
{
	struct sgx_pageinfo pi;

	set_pginfo(&pi, secs, linaddr);
	return sgx_eaug(cpu, &pi, page);
}

static int emodpr(struct sgx_cpu *cpu, uint64_t flags, void *page)
{
	struct sgx_secinfo si = { .flags = flags };

	return sgx_emodpr(cpu, &si, page);
}

static int emodt(struct sgx_cpu *cpu, uint64_t flags, void *page)
{
	struct sgx_secinfo si = { .flags = flags };

	return sgx_emodt(cpu, &si, page);
}

static void set_epoch(struct sgx_cpu *cpu, const void *secs, uint32_t epoch)
{
	atomic_store(&hidden(cpu, secs)->trk, TRK_MAKE(epoch, 0, 0));
}

static uint32_t bepoch(struct sgx_cpu *cpu, const void *page)
{
	return epcm_of(cpu, frame_of(cpu, page))->bepoch;
}

/*
 * EACCEPT lives in another file; to reach "trim accepted" (PT_TRIM,
 * MODIFIED = 0) the tests clear MODIFIED in the EPCM directly, which is the
 * only change EACCEPT makes to a trimmed page.
 */
static void fake_accept(struct sgx_cpu *cpu, void *page)
{
	epcm_of(cpu, frame_of(cpu, page))->flags &= (uint8_t)~EPCM_MODIFIED;
}

/* An uninitialised enclave (ECREATE + one REG page, no EINIT) in frames 10, 11. */
static void *uninit_encl(struct sgx_cpu *cpu, void **reg)
{
	void *secs = t_ecreate(cpu, 10, 0x200000000ULL, 0x10000,
			       SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);

	assert_leaf_ok(t_eadd(cpu, secs, 11, 0x200000000ULL,
			      SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, NULL));
	*reg = t_page(cpu, 11);
	return secs;
}

static void assert_pf_sgx(int r, const void *addr)
{
	t_assert_pf_at(r, addr);
	assert_int_equal(sgx_last_fault()->errcd, X86_PF_SGX);
}

static void assert_pf_nonepc(int r, const void *addr)
{
	t_assert_pf_at(r, addr);
	assert_int_equal(sgx_last_fault()->errcd, 0);
}

/* ---------------------------------------------------------------- EAUG */

static void eaug_success(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_cpu_stats st0, st1;
	void *page = t_page(cpu, FREE_FRAME);
	uint8_t *bytes = sgx_epc_page_bytes(cpu, page);
	uint64_t la = e.base + 0x5000;
	uint64_t children = sgx_cpu_secs_children(cpu, e.secs);
	struct sgx_epcm_view v;

	(void)state;
	memset(bytes, 0xA5, 4096); /* stale contents must not survive EAUG */
	v = view(cpu, page);
	assert_false(v.valid);
	sgx_cpu_stats(cpu, &st0);

	assert_leaf_ok(eaug(cpu, e.secs, page, la));

	v = view(cpu, page);
	assert_true(v.valid);
	assert_true(v.pending);
	assert_false(v.modified);
	assert_false(v.pr);
	assert_false(v.blocked);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_REG);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_W);
	assert_int_equal(v.linaddr, la);
	assert_ptr_equal(v.secs, e.secs);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), children + 1);
	bytes = sgx_epc_page_bytes(cpu, page);
	for (unsigned int i = 0; i < 4096; i++)
		assert_int_equal(bytes[i], 0);
	sgx_cpu_stats(cpu, &st1);
	assert_int_equal(st1.eaug, st0.eaug + 1);

	/* The first and last pages of ELRANGE are fine too. */
	assert_leaf_ok(eaug(cpu, e.secs, t_page(cpu, FREE_FRAME + 1), e.base + e.size - 0x1000));
	assert_int_equal(view(cpu, t_page(cpu, FREE_FRAME + 1)).linaddr, e.base + e.size - 0x1000);
	sgx_cpu_destroy(cpu);
}

static void eaug_no_sgx2_ud(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup_no_sgx2(&e);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(eaug(cpu, e.secs, t_page(cpu, FREE_FRAME), e.base + 0x5000), SX_UD);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eaug_misaligned_operands_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	static uint8_t buf[128] __attribute__((aligned(64)));
	struct sgx_pageinfo pi;
	uint8_t *page = t_page(cpu, FREE_FRAME);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	/* A PAGEINFO at +8: build it bytewise, the type promises 32-byte alignment. */
	set_pginfo(&pi, e.secs, e.base + 0x5000);
	memcpy(buf + 8, &pi, sizeof(pi));
	assert_gp(sgx_eaug(cpu, (struct sgx_pageinfo *)(void *)(buf + 8), page));
	assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
	assert_gp(eaug(cpu, e.secs, page + 0x800, e.base + 0x5000));
	assert_gp(eaug(cpu, (uint8_t *)e.secs + 0x40, page, e.base + 0x5000));
	assert_gp(eaug(cpu, e.secs, page, e.base + 0x5010));
	t_assert_snap_equal(cpu, &s);
	assert_false(view(cpu, page).valid);
	sgx_cpu_destroy(cpu);
}

/* A PAGEINFO or SECINFO that lies inside the EPC is #GP (EMU-CHOICE, as for EADD's). */
static void sgx2_operands_in_epc_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	uint8_t *page = t_page(cpu, FREE_FRAME);
	uint8_t *inside = t_page(cpu, FREE_FRAME + 1);
	struct sgx_secinfo *si = (struct sgx_secinfo *)(void *)inside;
	struct sgx_pageinfo pi;
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	set_pginfo(&pi, e.secs, e.base + 0x5000);
	memcpy(inside, &pi, sizeof(pi));
	assert_gp(sgx_eaug(cpu, (struct sgx_pageinfo *)(void *)inside, page));
	memset(inside, 0, 64);
	si->flags = SGX_SECINFO_R;
	assert_gp(sgx_emodpr(cpu, si, e.data));
	si->flags = SGX_SECINFO_TRIM;
	assert_gp(sgx_emodt(cpu, si, e.data));
	t_assert_snap_equal(cpu, &s);
	assert_false(view(cpu, page).valid);
	/* PAGEINFO.SECS is the (free) target itself: no SECS there, #PF on it. */
	t_assert_pf_at(eaug(cpu, page, page, e.base + 0x5000), page);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eaug_srcpge_nonzero_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_pageinfo pi;
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	set_pginfo(&pi, e.secs, e.base + 0x5000);
	pi.contents = (uint64_t)(uintptr_t)host_page;
	assert_gp(sgx_eaug(cpu, &pi, t_page(cpu, FREE_FRAME)));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eaug_secinfo_nonzero_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_secinfo si = { .flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W };
	struct sgx_pageinfo pi;
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	/* Any SECINFO asks for a CET shadow-stack page: not supported here. */
	set_pginfo(&pi, e.secs, e.base + 0x5000);
	pi.metadata = (uint64_t)(uintptr_t)&si;
	assert_gp(sgx_eaug(cpu, &pi, t_page(cpu, FREE_FRAME)));
	si.flags = (uint64_t)SGX_PAGE_TYPE_SS_FIRST << 8 | SGX_SECINFO_R | SGX_SECINFO_W;
	assert_gp(sgx_eaug(cpu, &pi, t_page(cpu, FREE_FRAME)));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eaug_not_epc_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_nonepc(eaug(cpu, e.secs, host_page, e.base + 0x5000), host_page);
	/* SECS operand outside the EPC. */
	assert_pf_nonepc(eaug(cpu, host_page, t_page(cpu, FREE_FRAME), e.base + 0x5000),
			 host_page);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eaug_target_busy_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	void *page = t_page(cpu, FREE_FRAME);
	struct epcm *ent = epcm_of(cpu, frame_of(cpu, page));
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_true(page_lock_shared(ent)); /* another leaf is using the page */
	assert_gp(eaug(cpu, e.secs, page, e.base + 0x5000));
	page_unlock_shared(ent);
	t_assert_snap_equal(cpu, &s);
	assert_leaf_ok(eaug(cpu, e.secs, page, e.base + 0x5000));
	sgx_cpu_destroy(cpu);
}

static void eaug_target_valid_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	uint64_t children = sgx_cpu_secs_children(cpu, e.secs);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(eaug(cpu, e.secs, e.data, e.base + 0x5000), e.data);
	/* The target's #PF comes before any SECS check. */
	assert_pf_sgx(eaug(cpu, e.data, e.code, e.base + 0x5000), e.code);
	t_assert_snap_equal(cpu, &s);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), children);
	sgx_cpu_destroy(cpu);
}

static void eaug_secs_busy_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct epcm *se = epcm_of(cpu, frame_of(cpu, e.secs));
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_true(page_lock_excl(se)); /* e.g. ETRACK or EWB holds the SECS */
	assert_gp(eaug(cpu, e.secs, t_page(cpu, FREE_FRAME), e.base + 0x5000));
	page_unlock_excl(se);
	t_assert_snap_equal(cpu, &s);
	/* The target lock was released on the failure path. */
	assert_int_equal(atomic_load(&epcm_of(cpu, FREE_FRAME)->lock), 0);
	sgx_cpu_destroy(cpu);
}

static void eaug_secs_not_secs_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(eaug(cpu, e.data, page, e.base + 0x5000), e.data);
	assert_pf_sgx(eaug(cpu, e.tcs, page, e.base + 0x5000), e.tcs);
	/* An invalid frame as SECS. */
	assert_pf_sgx(eaug(cpu, t_page(cpu, 20), page, e.base + 0x5000), t_page(cpu, 20));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eaug_uninitialized_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *reg, *secs = uninit_encl(cpu, &reg);
	uint64_t children = sgx_cpu_secs_children(cpu, secs);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(eaug(cpu, secs, t_page(cpu, FREE_FRAME), 0x200000000ULL + 0x1000));
	t_assert_snap_equal(cpu, &s);
	assert_int_equal(sgx_cpu_secs_children(cpu, secs), children);
	sgx_cpu_destroy(cpu);
}

static void eaug_outside_elrange_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(eaug(cpu, e.secs, page, e.base - 0x1000));
	assert_gp(eaug(cpu, e.secs, page, e.base + e.size));
	assert_gp(eaug(cpu, e.secs, page, 0));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

/* -------------------------------------------------------------- EMODPR */

static void emodpr_success(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_cpu_stats st0, st1;
	struct sgx_epcm_view before, after;

	(void)state;
	set_epoch(cpu, e.secs, 7);
	before = view(cpu, e.data);
	assert_true(before.valid);
	assert_false(before.pr);
	assert_int_equal(before.rwx, SGX_SECINFO_R | SGX_SECINFO_W);
	sgx_cpu_stats(cpu, &st0);

	assert_leaf_ok(emodpr(cpu, SGX_SECINFO_R, e.data));

	after = view(cpu, e.data);
	assert_true(after.valid);
	assert_true(after.pr);
	assert_false(after.pending);
	assert_false(after.modified);
	assert_int_equal(after.rwx, SGX_SECINFO_R);
	assert_int_equal(after.page_type, SGX_PAGE_TYPE_REG);
	assert_int_equal(after.linaddr, before.linaddr);
	assert_ptr_equal(after.secs, e.secs);
	assert_int_equal(bepoch(cpu, e.data), 7);
	sgx_cpu_stats(cpu, &st1);
	assert_int_equal(st1.emodpr, st0.emodpr + 1);

	/* A second restriction is allowed while PR is still set. */
	set_epoch(cpu, e.secs, 9);
	assert_leaf_ok(emodpr(cpu, 0, e.data));
	assert_int_equal(view(cpu, e.data).rwx, 0);
	assert_int_equal(bepoch(cpu, e.data), 9);
	sgx_cpu_destroy(cpu);
}

static void emodpr_cannot_extend(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_epcm_view v;

	(void)state;
	/* Code page is R-X: asking for RW- only removes X; W is not added. */
	assert_leaf_ok(emodpr(cpu, SGX_SECINFO_R | SGX_SECINFO_W, e.code));
	v = view(cpu, e.code);
	assert_int_equal(v.rwx, SGX_SECINFO_R);
	assert_true(v.pr);
	sgx_cpu_destroy(cpu);
}

static void emodpr_no_sgx2_ud(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup_no_sgx2(&e);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(emodpr(cpu, SGX_SECINFO_R, e.data), SX_UD);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_misaligned_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_secinfo sis[2] = { { .flags = SGX_SECINFO_R }, { .flags = SGX_SECINFO_R } };
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(sgx_emodpr(cpu, (struct sgx_secinfo *)((uint8_t *)sis + 32), e.data));
	assert_gp(emodpr(cpu, SGX_SECINFO_R, (uint8_t *)e.data + 64));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_not_epc_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_nonepc(emodpr(cpu, SGX_SECINFO_R, host_page), host_page);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_bad_secinfo_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_secinfo si = { .flags = SGX_SECINFO_R };
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(emodpr(cpu, SGX_SECINFO_R | (1ULL << 6), e.data));
	assert_gp(emodpr(cpu, SGX_SECINFO_R | (1ULL << 16), e.data));
	assert_gp(emodpr(cpu, SGX_SECINFO_R | (1ULL << 63), e.data));
	si.reserved[55] = 1;
	assert_gp(sgx_emodpr(cpu, &si, e.data));
	/* W without R. */
	assert_gp(emodpr(cpu, SGX_SECINFO_W, e.data));
	assert_gp(emodpr(cpu, SGX_SECINFO_W | SGX_SECINFO_X, e.data));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_busy_conflict(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct epcm *ent = epcm_of(cpu, frame_of(cpu, e.data));
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_true(page_lock_shared(ent));
	assert_int_equal(emodpr(cpu, SGX_SECINFO_R, e.data), SGX_EPC_PAGE_CONFLICT);
	page_unlock_shared(ent);
	assert_true(page_lock_excl(ent));
	assert_int_equal(emodpr(cpu, SGX_SECINFO_R, e.data), SGX_EPC_PAGE_CONFLICT);
	page_unlock_excl(ent);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_invalid_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(emodpr(cpu, SGX_SECINFO_R, page), page);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_pending_not_modifiable(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	assert_leaf_ok(eaug(cpu, e.secs, page, e.base + 0x5000));
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(emodpr(cpu, SGX_SECINFO_R, page), SGX_PAGE_NOT_MODIFIABLE);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_unaccepted_trim_not_modifiable(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	const uint64_t rwx = SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X;

	(void)state;
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.data));
	t_snap(cpu, &s, NSNAP);
	/* Linux's probe: MODIFIED is checked before the page type. */
	assert_int_equal(emodpr(cpu, rwx, e.data), SGX_PAGE_NOT_MODIFIABLE);
	t_assert_snap_equal(cpu, &s);
	/* Also for a TCS built by EMODT and not yet accepted. */
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TCS, e.ssa[1]));
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(emodpr(cpu, rwx, e.ssa[1]), SGX_PAGE_NOT_MODIFIABLE);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_accepted_trim_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	const uint64_t rwx = SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X;

	(void)state;
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.data));
	fake_accept(cpu, e.data);
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(emodpr(cpu, rwx, e.data), e.data);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_not_reg_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(emodpr(cpu, SGX_SECINFO_R, e.tcs), e.tcs);
	assert_pf_sgx(emodpr(cpu, SGX_SECINFO_R, e.secs), e.secs);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodpr_uninitialized_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *reg;

	(void)state;
	uninit_encl(cpu, &reg);
	t_snap(cpu, &s, NSNAP);
	assert_gp(emodpr(cpu, SGX_SECINFO_R, reg));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

/* --------------------------------------------------------------- EMODT */

static void emodt_reg_to_tcs(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_cpu_stats st0, st1;
	struct sgx_epcm_view before, after;

	(void)state;
	set_epoch(cpu, e.secs, 3);
	before = view(cpu, e.ssa[1]);
	assert_int_equal(before.page_type, SGX_PAGE_TYPE_REG);
	assert_false(before.modified);
	sgx_cpu_stats(cpu, &st0);

	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TCS, e.ssa[1]));

	after = view(cpu, e.ssa[1]);
	assert_true(after.valid);
	assert_int_equal(after.page_type, SGX_PAGE_TYPE_TCS);
	assert_true(after.modified);
	assert_false(after.pending);
	assert_false(after.pr);
	assert_int_equal(after.rwx, 0);
	assert_int_equal(after.linaddr, before.linaddr);
	assert_ptr_equal(after.secs, e.secs);
	assert_int_equal(bepoch(cpu, e.ssa[1]), 3);
	sgx_cpu_stats(cpu, &st1);
	assert_int_equal(st1.emodt, st0.emodt + 1);
	sgx_cpu_destroy(cpu);
}

static void emodt_reg_to_trim(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_epcm_view v;

	(void)state;
	/* A pending permission restriction (PR) is dropped by EMODT. */
	assert_leaf_ok(emodpr(cpu, SGX_SECINFO_R, e.data));
	assert_true(view(cpu, e.data).pr);
	set_epoch(cpu, e.secs, 11);

	/* Permission bits in the SECINFO are ignored. */
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM | SGX_SECINFO_R, e.data));

	v = view(cpu, e.data);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_TRIM);
	assert_true(v.modified);
	assert_false(v.pr);
	assert_int_equal(v.rwx, 0);
	assert_int_equal(v.linaddr, e.base + 0x3000);
	assert_int_equal(bepoch(cpu, e.data), 11);
	sgx_cpu_destroy(cpu);
}

static void emodt_tcs_to_trim(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_epcm_view v;

	(void)state;
	v = view(cpu, e.tcs);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_TCS);
	assert_false(v.modified);
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.tcs));
	v = view(cpu, e.tcs);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_TRIM);
	assert_true(v.modified);
	assert_int_equal(v.rwx, 0);
	assert_int_equal(v.linaddr, e.base);
	sgx_cpu_destroy(cpu);
}

static void emodt_refused_transitions_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;

	(void)state;
	/* e.data -> accepted TRIM (PT_TRIM, MODIFIED = 0). */
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.data));
	fake_accept(cpu, e.data);
	t_snap(cpu, &s, NSNAP);

	assert_pf_sgx(emodt(cpu, SGX_SECINFO_TCS, e.tcs), e.tcs);     /* TCS -> TCS */
	assert_pf_sgx(emodt(cpu, SGX_SECINFO_TRIM, e.data), e.data);  /* TRIM -> TRIM */
	assert_pf_sgx(emodt(cpu, SGX_SECINFO_TCS, e.data), e.data);   /* TRIM -> TCS */
	assert_pf_sgx(emodt(cpu, SGX_SECINFO_TRIM, e.secs), e.secs);  /* SECS -> TRIM */
	assert_pf_sgx(emodt(cpu, SGX_SECINFO_TCS, e.secs), e.secs);   /* SECS -> TCS */
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_transition_before_modified(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;

	(void)state;
	/* An un-accepted TRIM page: the illegal transition (#PF) wins. */
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.data));
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(emodt(cpu, SGX_SECINFO_TRIM, e.data), e.data);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_bad_secinfo_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct sgx_secinfo si = { .flags = SGX_SECINFO_TRIM };
	struct sgx_secinfo sis[2];
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(emodt(cpu, SGX_SECINFO_REG, e.data));
	assert_gp(emodt(cpu, SGX_SECINFO_SECS, e.data));
	assert_gp(emodt(cpu, SGX_SECINFO_VA, e.data));
	assert_gp(emodt(cpu, (uint64_t)SGX_PAGE_TYPE_SS_FIRST << 8, e.data));
	assert_gp(emodt(cpu, SGX_SECINFO_TRIM | (1ULL << 7), e.data));
	assert_gp(emodt(cpu, SGX_SECINFO_TRIM | (1ULL << 40), e.data));
	si.reserved[0] = 1;
	assert_gp(sgx_emodt(cpu, &si, e.data));
	memset(sis, 0, sizeof(sis));
	assert_gp(sgx_emodt(cpu, (struct sgx_secinfo *)((uint8_t *)sis + 16), e.data));
	assert_gp(emodt(cpu, SGX_SECINFO_TRIM, (uint8_t *)e.data + 8));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_not_epc_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_nonepc(emodt(cpu, SGX_SECINFO_TRIM, host_page), host_page);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_busy_conflict(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct epcm *ent = epcm_of(cpu, frame_of(cpu, e.data));
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_true(page_lock_excl(ent));
	assert_int_equal(emodt(cpu, SGX_SECINFO_TRIM, e.data), SGX_EPC_PAGE_CONFLICT);
	page_unlock_excl(ent);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_invalid_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(emodt(cpu, SGX_SECINFO_TRIM, page), page);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_pending_not_modifiable(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	assert_leaf_ok(eaug(cpu, e.secs, page, e.base + 0x5000));
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(emodt(cpu, SGX_SECINFO_TRIM, page), SGX_PAGE_NOT_MODIFIABLE);
	assert_int_equal(emodt(cpu, SGX_SECINFO_TCS, page), SGX_PAGE_NOT_MODIFIABLE);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_modified_not_modifiable(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;

	(void)state;
	/* REG -> TCS, not accepted: TCS -> TRIM is legal but MODIFIED refuses. */
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TCS, e.ssa[1]));
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(emodt(cpu, SGX_SECINFO_TRIM, e.ssa[1]), SGX_PAGE_NOT_MODIFIABLE);
	t_assert_snap_equal(cpu, &s);
	/* Once accepted, it goes through. */
	fake_accept(cpu, e.ssa[1]);
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.ssa[1]));
	assert_int_equal(view(cpu, e.ssa[1]).page_type, SGX_PAGE_TYPE_TRIM);
	sgx_cpu_destroy(cpu);
}

static void emodt_uninitialized_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e);
	struct t_epcm_snap s;
	void *reg;

	(void)state;
	uninit_encl(cpu, &reg);
	t_snap(cpu, &s, NSNAP);
	assert_gp(emodt(cpu, SGX_SECINFO_TRIM, reg));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void emodt_no_sgx2_ud(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup_no_sgx2(&e);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(emodt(cpu, SGX_SECINFO_TRIM, e.data), SX_UD);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eaug_success),
		cmocka_unit_test(eaug_no_sgx2_ud),
		cmocka_unit_test(eaug_misaligned_operands_gp),
		cmocka_unit_test(sgx2_operands_in_epc_gp),
		cmocka_unit_test(eaug_srcpge_nonzero_gp),
		cmocka_unit_test(eaug_secinfo_nonzero_gp),
		cmocka_unit_test(eaug_not_epc_pf),
		cmocka_unit_test(eaug_target_busy_gp),
		cmocka_unit_test(eaug_target_valid_pf),
		cmocka_unit_test(eaug_secs_busy_gp),
		cmocka_unit_test(eaug_secs_not_secs_pf),
		cmocka_unit_test(eaug_uninitialized_gp),
		cmocka_unit_test(eaug_outside_elrange_gp),
		cmocka_unit_test(emodpr_success),
		cmocka_unit_test(emodpr_cannot_extend),
		cmocka_unit_test(emodpr_no_sgx2_ud),
		cmocka_unit_test(emodpr_misaligned_gp),
		cmocka_unit_test(emodpr_not_epc_pf),
		cmocka_unit_test(emodpr_bad_secinfo_gp),
		cmocka_unit_test(emodpr_busy_conflict),
		cmocka_unit_test(emodpr_invalid_pf),
		cmocka_unit_test(emodpr_pending_not_modifiable),
		cmocka_unit_test(emodpr_unaccepted_trim_not_modifiable),
		cmocka_unit_test(emodpr_accepted_trim_pf),
		cmocka_unit_test(emodpr_not_reg_pf),
		cmocka_unit_test(emodpr_uninitialized_gp),
		cmocka_unit_test(emodt_reg_to_tcs),
		cmocka_unit_test(emodt_reg_to_trim),
		cmocka_unit_test(emodt_tcs_to_trim),
		cmocka_unit_test(emodt_refused_transitions_pf),
		cmocka_unit_test(emodt_transition_before_modified),
		cmocka_unit_test(emodt_bad_secinfo_gp),
		cmocka_unit_test(emodt_not_epc_pf),
		cmocka_unit_test(emodt_busy_conflict),
		cmocka_unit_test(emodt_invalid_pf),
		cmocka_unit_test(emodt_pending_not_modifiable),
		cmocka_unit_test(emodt_modified_not_modifiable),
		cmocka_unit_test(emodt_uninitialized_gp),
		cmocka_unit_test(emodt_no_sgx2_ud),
	};

	return T_RUN(tests);
}
