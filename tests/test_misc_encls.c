// SPDX-License-Identifier: MIT
/*
 * EREMOVE, EDBGRD and EDBGWR (the SDM's descriptions): success paths with the EPCM
 * before and after, and every error code and fault, with the EPCM (and page
 * contents, for EDBGWR) left unchanged on failure.
 *
 * The enclave from t_build_encl() uses frames 0-5 (SECS, TCS, SSA x2, data,
 * code); frames from 6 up are free.
 */
#include <string.h>

#include "helpers.h"
#include "internal.h"

#define NSNAP 16
#define FREE_FRAME 6
#define VA_FRAME 8

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

static struct sgx_cpu *setup(struct t_encl *e, uint64_t attributes)
{
	struct sgx_cpu *cpu = t_cpu(8);

	t_build_encl(cpu, e, attributes);
	return cpu;
}

static void *off(void *page, unsigned int o)
{
	return (uint8_t *)page + o;
}

static uint64_t page_qword(struct sgx_cpu *cpu, void *page, unsigned int o)
{
	uint64_t v;

	memcpy(&v, (uint8_t *)sgx_epc_page_bytes(cpu, page) + o, sizeof(v));
	return v;
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

static int eaug(struct sgx_cpu *cpu, const void *secs, void *page, uint64_t linaddr)
{
	struct sgx_pageinfo pi = { .addr = linaddr, .secs = (uint64_t)(uintptr_t)secs };

	return sgx_eaug(cpu, &pi, page);
}

static int emodt(struct sgx_cpu *cpu, uint64_t flags, void *page)
{
	struct sgx_secinfo si = { .flags = flags };

	return sgx_emodt(cpu, &si, page);
}

/*
 * EACCEPT lives in another file; "trim accepted" (PT_TRIM, MODIFIED = 0) is
 * reached by clearing MODIFIED in the EPCM directly, the only change EACCEPT
 * makes to a trimmed page.
 */
static void fake_accept(struct sgx_cpu *cpu, void *page)
{
	epcm_of(cpu, frame_of(cpu, page))->flags &= (uint8_t)~EPCM_MODIFIED;
}

/*
 * A VA page (EPA) in frame VA_FRAME with @slot0 in slot 0 and @slot5 in
 * slot 5.  The versions are written through the page bytes, standing in for
 * two EWBs.
 */
static void *va_page(struct sgx_cpu *cpu, uint64_t slot0, uint64_t slot5)
{
	void *va = t_page(cpu, VA_FRAME);
	uint64_t *slots;

	assert_leaf_ok(sgx_epa(cpu, SGX_PAGE_TYPE_VA, va));
	slots = sgx_epc_page_bytes(cpu, va);
	slots[0] = slot0;
	slots[5] = slot5;
	return va;
}

/* Pretend a logical processor is executing inside the enclave. */
static struct tcs_hidden lp_inside;

static void lp_enter(struct sgx_cpu *cpu, const struct t_encl *e)
{
	track_enter(hidden(cpu, e->secs), &lp_inside);
}

static void lp_leave(struct sgx_cpu *cpu, const struct t_encl *e)
{
	track_leave(hidden(cpu, e->secs), &lp_inside);
}

/* ------------------------------------------------------------- EREMOVE */

static void eremove_reg_success(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct sgx_cpu_stats st0, st1;
	struct sgx_epcm_view v, zero;
	uint64_t children = sgx_cpu_secs_children(cpu, e.secs);
	uint64_t touched;

	(void)state;
	v = view(cpu, e.data);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_REG);
	assert_int_equal(children, 5);
	touched = sgx_cpu_touched_frames(cpu);
	sgx_cpu_stats(cpu, &st0);

	assert_leaf_ok(sgx_eremove(cpu, e.data));

	v = view(cpu, e.data);
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&v, &zero, sizeof(v)); /* looks like a never-used frame */
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), children - 1);
	/* The frame keeps its host memory, as real EPC keeps its cells. */
	assert_int_equal(sgx_cpu_touched_frames(cpu), touched);
	sgx_cpu_stats(cpu, &st1);
	assert_int_equal(st1.eremove, st0.eremove + 1);
	/* The frame can be reused. */
	assert_leaf_ok(eaug(cpu, e.secs, e.data, e.base + 0x3000));
	assert_int_equal(page_qword(cpu, e.data, 0), 0);
	sgx_cpu_destroy(cpu);
}

static void eremove_tcs_and_pending_success(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	assert_leaf_ok(eaug(cpu, e.secs, page, e.base + 0x5000));
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 6);
	assert_leaf_ok(sgx_eremove(cpu, page));
	assert_false(view(cpu, page).valid);
	assert_leaf_ok(sgx_eremove(cpu, e.tcs));
	assert_false(view(cpu, e.tcs).valid);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 4);
	sgx_cpu_destroy(cpu);
}

static void eremove_invalid_noop(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct t_epcm_snap s;
	void *page = t_page(cpu, FREE_FRAME);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_false(view(cpu, page).valid);
	assert_leaf_ok(sgx_eremove(cpu, page));
	assert_leaf_ok(sgx_eremove(cpu, page));
	t_assert_snap_equal(cpu, &s);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 5);
	sgx_cpu_destroy(cpu);
}

static void eremove_misaligned_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(sgx_eremove(cpu, off(e.data, 8)));
	assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
	assert_gp(sgx_eremove(cpu, off(e.secs, 0x800)));
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eremove_not_epc_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_pf_nonepc(sgx_eremove(cpu, host_page), host_page);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void eremove_busy_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct epcm *ent = epcm_of(cpu, frame_of(cpu, e.data));
	struct t_epcm_snap s;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_true(page_lock_shared(ent));
	assert_gp(sgx_eremove(cpu, e.data));
	page_unlock_shared(ent);
	t_assert_snap_equal(cpu, &s);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 5);
	assert_leaf_ok(sgx_eremove(cpu, e.data));
	sgx_cpu_destroy(cpu);
}

static void eremove_va_success(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	void *va = va_page(cpu, 0x1234, 0);

	(void)state;
	lp_enter(cpu, &e); /* threads in some enclave do not matter to a VA page */
	assert_true(view(cpu, va).valid);
	assert_leaf_ok(sgx_eremove(cpu, va));
	assert_false(view(cpu, va).valid);
	assert_int_equal(page_qword(cpu, va, 0), 0);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 5);
	lp_leave(cpu, &e);
	sgx_cpu_destroy(cpu);
}

static void eremove_secs_child_present(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct sgx_epcm_view v;
	struct t_epcm_snap s;
	void *children[] = { e.tcs, e.ssa[0], e.ssa[1], e.data, e.code };

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(sgx_eremove(cpu, e.secs), SGX_CHILD_PRESENT);
	t_assert_snap_equal(cpu, &s);

	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(sgx_eremove(cpu, e.secs), SGX_CHILD_PRESENT);
		assert_leaf_ok(sgx_eremove(cpu, children[i]));
		assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 4 - i);
	}
	v = view(cpu, e.secs);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_SECS);

	assert_leaf_ok(sgx_eremove(cpu, e.secs));
	v = view(cpu, e.secs);
	assert_false(v.valid);
	/* The hidden SECS state went with the frame. */
	assert_int_equal(page_qword(cpu, e.secs, SECS_HIDDEN_OFFSET), 0);
	sgx_cpu_destroy(cpu);
}

static void eremove_enclave_active(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct t_epcm_snap s;
	void *pending = t_page(cpu, FREE_FRAME);

	(void)state;
	assert_leaf_ok(eaug(cpu, e.secs, pending, e.base + 0x5000));
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.ssa[1])); /* trim not accepted */
	lp_enter(cpu, &e);
	t_snap(cpu, &s, NSNAP);

	assert_int_equal(sgx_eremove(cpu, e.data), SGX_ENCLAVE_ACT);
	assert_int_equal(sgx_eremove(cpu, e.tcs), SGX_ENCLAVE_ACT);
	assert_int_equal(sgx_eremove(cpu, pending), SGX_ENCLAVE_ACT);
	assert_int_equal(sgx_eremove(cpu, e.ssa[1]), SGX_ENCLAVE_ACT);
	t_assert_snap_equal(cpu, &s);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 6);

	/* Once the last LP has left, the same pages go. */
	lp_leave(cpu, &e);
	assert_leaf_ok(sgx_eremove(cpu, e.data));
	assert_leaf_ok(sgx_eremove(cpu, e.ssa[1]));
	assert_false(view(cpu, e.data).valid);
	assert_false(view(cpu, e.ssa[1]).valid);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 4);
	sgx_cpu_destroy(cpu);
}

static void eremove_accepted_trim_while_active(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct sgx_epcm_view v;

	(void)state;
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.data));
	fake_accept(cpu, e.data);
	v = view(cpu, e.data);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_TRIM);
	assert_false(v.modified);

	lp_enter(cpu, &e);
	assert_leaf_ok(sgx_eremove(cpu, e.data));
	assert_false(view(cpu, e.data).valid);
	assert_int_equal(sgx_cpu_secs_children(cpu, e.secs), 4);
	lp_leave(cpu, &e);
	sgx_cpu_destroy(cpu);
}

/* ------------------------------------------------- the debugger's view */

struct dbg_seen {
	int calls;
	const void *secs;
	uint64_t la;
	bool write;
	uint8_t bytes[8];
};

/* Shows byte 0 of every word as 0xAA, and records each call. */
static void dbg_hook(void *ctx, const void *secs, uint64_t la, uint8_t bytes[8], bool write)
{
	struct dbg_seen *d = ctx;

	d->calls++;
	d->secs = secs;
	d->la = la;
	d->write = write;
	memcpy(d->bytes, bytes, 8);
	if (!write)
		bytes[0] = 0xAA;
}

static void dbg_view_hook(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct dbg_seen d = { 0 };
	struct sgx_epcm_view v;
	uint64_t word = 0;

	(void)state;
	sgx_cpu_set_dbg_view(cpu, dbg_hook, &d);
	assert_int_equal(sgx_cpu_epcm(cpu, e.data, &v), 0);
	/* EDBGRD of a REG page: the hook sees what was read and may change it. */
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.data, 0x108), &word));
	assert_int_equal(d.calls, 1);
	assert_ptr_equal(d.secs, e.secs);
	assert_int_equal(d.la, v.linaddr + 0x108);
	assert_false(d.write);
	assert_int_equal(d.bytes[0], (uint8_t)(0x108 * 7 + 1));
	assert_int_equal(word & 0xFF, 0xAA);
	/* The page itself is unchanged. */
	assert_int_equal(((uint8_t *)sgx_epc_page_bytes(cpu, e.data))[0x108],
			 (uint8_t)(0x108 * 7 + 1));
	/* EDBGWR: told before the write, with the new bytes. */
	assert_leaf_ok(sgx_edbgwr(cpu, off(e.data, 0x40), 0x1122334455667788ULL));
	assert_int_equal(d.calls, 2);
	assert_true(d.write);
	assert_int_equal(d.la, v.linaddr + 0x40);
	assert_int_equal(d.bytes[0], 0x88);
	assert_int_equal(page_qword(cpu, e.data, 0x40), 0x1122334455667788ULL);
	/* TCS pages are not the hook's: only REG pages are code or data. */
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.tcs, 8), &word));
	assert_int_equal(d.calls, 2);
	/* Without a hook, the bytes as they are. */
	sgx_cpu_set_dbg_view(cpu, NULL, NULL);
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.data, 0x108), &word));
	assert_int_equal(word & 0xFF, (uint8_t)(0x108 * 7 + 1));
	assert_int_equal(d.calls, 2);
	sgx_cpu_destroy(cpu);
}

/* -------------------------------------------------------------- EDBGRD */

static void edbgrd_reg_success(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	uint64_t v = 0, want = 0;

	(void)state;
	/* t_build_encl's data page holds byte i = i * 7 + 1. */
	for (int i = 7; i >= 0; i--)
		want = want << 8 | (uint8_t)((0x108 + i) * 7 + 1);
	t_snap(cpu, &s, NSNAP);
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.data, 0x108), &v));
	assert_int_equal(v, want);
	/* EPCM permissions do not matter: the TCS has none, the code page no W. */
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.code, 0xFF8), &v));
	assert_int_equal(v, 0xCCCCCCCCCCCCCCCCULL);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_tcs(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	uint64_t v = 0;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.tcs, offsetof(struct sgx_tcs, ssa_offset)), &v));
	assert_int_equal(v, 0x1000);
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.tcs, offsetof(struct sgx_tcs, entry_offset)), &v));
	assert_int_equal(v, 0x4000);
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.tcs, SGX_TCS_LIMIT - 8), &v));
	/* The hidden part of the TCS cannot be read. */
	v = 0x5555;
	assert_gp(sgx_edbgrd(cpu, off(e.tcs, SGX_TCS_LIMIT), &v));
	assert_gp(sgx_edbgrd(cpu, off(e.tcs, 0xFF8), &v));
	assert_int_equal(v, 0x5555);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_non_debug_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct t_epcm_snap s;
	uint64_t v = 0x5555;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(sgx_edbgrd(cpu, e.data, &v));
	assert_gp(sgx_edbgrd(cpu, off(e.tcs, 8), &v));
	assert_int_equal(v, 0x5555);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_misaligned_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	uint64_t v = 0x5555;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(sgx_edbgrd(cpu, off(e.data, 4), &v));
	assert_gp(sgx_edbgrd(cpu, off(e.data, 1), &v));
	assert_int_equal(v, 0x5555);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_not_epc_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	uint64_t v = 0x5555;

	(void)state;
	assert_pf_nonepc(sgx_edbgrd(cpu, off(host_page, 16), &v), off(host_page, 16));
	assert_int_equal(v, 0x5555);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_busy_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct epcm *ent = epcm_of(cpu, frame_of(cpu, e.data));
	uint64_t v = 0x5555;

	(void)state;
	assert_true(page_lock_excl(ent)); /* e.g. EWB is evicting the page */
	assert_gp(sgx_edbgrd(cpu, e.data, &v));
	page_unlock_excl(ent);
	assert_int_equal(v, 0x5555);
	/* Readers share the page. */
	assert_true(page_lock_shared(ent));
	assert_leaf_ok(sgx_edbgrd(cpu, e.data, &v));
	page_unlock_shared(ent);
	assert_int_equal(atomic_load(&ent->lock), 0);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_bad_page_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	void *invalid = t_page(cpu, FREE_FRAME);
	uint64_t v = 0x5555;

	(void)state;
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.ssa[1]));
	fake_accept(cpu, e.ssa[1]); /* a TRIM page that is neither PENDING nor MODIFIED */
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(sgx_edbgrd(cpu, off(invalid, 8), &v), off(invalid, 8));
	assert_pf_sgx(sgx_edbgrd(cpu, off(e.secs, 8), &v), off(e.secs, 8));
	assert_pf_sgx(sgx_edbgrd(cpu, off(e.ssa[1], 8), &v), off(e.ssa[1], 8));
	assert_int_equal(v, 0x5555);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_not_debuggable(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	void *pending = t_page(cpu, FREE_FRAME);
	uint64_t v = 0x5555;

	(void)state;
	assert_leaf_ok(eaug(cpu, e.secs, pending, e.base + 0x5000));
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TCS, e.ssa[1])); /* MODIFIED TCS */
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.data));  /* MODIFIED TRIM */
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(sgx_edbgrd(cpu, pending, &v), SGX_PAGE_NOT_DEBUGGABLE);
	assert_int_equal(sgx_edbgrd(cpu, e.ssa[1], &v), SGX_PAGE_NOT_DEBUGGABLE);
	/* MODIFIED is checked before the TCS offset limit. */
	assert_int_equal(sgx_edbgrd(cpu, off(e.ssa[1], SGX_TCS_LIMIT), &v),
			 SGX_PAGE_NOT_DEBUGGABLE);
	assert_int_equal(v, 0x5555);
	/* A TRIM page is not readable at all: the type check comes first. */
	assert_pf_sgx(sgx_edbgrd(cpu, e.data, &v), e.data);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgrd_va_slots(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0); /* VA pages need no DEBUG enclave */
	struct t_epcm_snap s;
	void *va = va_page(cpu, 0x123456789ULL, 1);
	uint64_t v;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	v = 7;
	assert_leaf_ok(sgx_edbgrd(cpu, va, &v));
	assert_int_equal(v, ~0ULL); /* occupied: all-ones, never the version */
	v = 7;
	assert_leaf_ok(sgx_edbgrd(cpu, off(va, 5 * 8), &v));
	assert_int_equal(v, ~0ULL);
	v = 7;
	assert_leaf_ok(sgx_edbgrd(cpu, off(va, 8), &v));
	assert_int_equal(v, 0);
	v = 7;
	assert_leaf_ok(sgx_edbgrd(cpu, off(va, 0xFF8), &v));
	assert_int_equal(v, 0);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

/* -------------------------------------------------------------- EDBGWR */

static void edbgwr_reg_success(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	uint64_t v = 0;

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_leaf_ok(sgx_edbgwr(cpu, off(e.data, 0x40), 0x1122334455667788ULL));
	assert_int_equal(page_qword(cpu, e.data, 0x40), 0x1122334455667788ULL);
	assert_leaf_ok(sgx_edbgrd(cpu, off(e.data, 0x40), &v));
	assert_int_equal(v, 0x1122334455667788ULL);
	/* Neighbouring bytes untouched. */
	assert_int_equal(((uint8_t *)sgx_epc_page_bytes(cpu, e.data))[0x48], (0x48 * 7 + 1) & 0xFF);
	/* EPCM W does not matter: the code page is R-X. */
	assert_leaf_ok(sgx_edbgwr(cpu, e.code, 0x90909090C3C3C3C3ULL));
	assert_int_equal(page_qword(cpu, e.code, 0), 0x90909090C3C3C3C3ULL);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgwr_tcs_flags_only(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	const unsigned int flags = offsetof(struct sgx_tcs, flags);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(page_qword(cpu, e.tcs, flags), 0);
	assert_leaf_ok(sgx_edbgwr(cpu, off(e.tcs, flags), SGX_TCS_DBGOPTIN));
	assert_int_equal(page_qword(cpu, e.tcs, flags), SGX_TCS_DBGOPTIN);

	assert_gp(sgx_edbgwr(cpu, off(e.tcs, 0), 1));
	assert_gp(sgx_edbgwr(cpu, off(e.tcs, offsetof(struct sgx_tcs, ssa_offset)), 0x2000));
	assert_gp(sgx_edbgwr(cpu, off(e.tcs, SGX_TCS_LIMIT), 1));
	assert_int_equal(page_qword(cpu, e.tcs, 0), 0);
	assert_int_equal(page_qword(cpu, e.tcs, offsetof(struct sgx_tcs, ssa_offset)), 0x1000);
	assert_int_equal(page_qword(cpu, e.tcs, SGX_TCS_LIMIT), 0);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgwr_non_debug_gp(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, 0);
	struct t_epcm_snap s;
	uint64_t before = page_qword(cpu, e.data, 0);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(sgx_edbgwr(cpu, e.data, 0xDEAD));
	assert_gp(sgx_edbgwr(cpu, off(e.tcs, 8), SGX_TCS_DBGOPTIN));
	assert_int_equal(page_qword(cpu, e.data, 0), before);
	assert_int_equal(page_qword(cpu, e.tcs, 8), 0);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgwr_misaligned_not_epc_busy(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct epcm *ent = epcm_of(cpu, frame_of(cpu, e.data));
	struct t_epcm_snap s;
	uint64_t q0 = page_qword(cpu, e.data, 0), q8 = page_qword(cpu, e.data, 8);

	(void)state;
	t_snap(cpu, &s, NSNAP);
	assert_gp(sgx_edbgwr(cpu, off(e.data, 4), 0xDEAD));
	assert_pf_nonepc(sgx_edbgwr(cpu, host_page, 0xDEAD), host_page);
	assert_true(page_lock_excl(ent));
	assert_gp(sgx_edbgwr(cpu, e.data, 0xDEAD));
	page_unlock_excl(ent);
	assert_int_equal(page_qword(cpu, e.data, 0), q0);
	assert_int_equal(page_qword(cpu, e.data, 8), q8);
	assert_int_equal(((uint64_t *)host_page)[0], 0);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgwr_bad_page_pf(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	void *invalid = t_page(cpu, FREE_FRAME);
	void *va = va_page(cpu, 0x42, 0);

	(void)state;
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TRIM, e.ssa[1]));
	fake_accept(cpu, e.ssa[1]);
	t_snap(cpu, &s, NSNAP);
	assert_pf_sgx(sgx_edbgwr(cpu, invalid, 1), invalid);
	assert_pf_sgx(sgx_edbgwr(cpu, off(e.secs, 0x10), 1), off(e.secs, 0x10));
	assert_pf_sgx(sgx_edbgwr(cpu, va, 1), va); /* VA: readable, never writable */
	assert_pf_sgx(sgx_edbgwr(cpu, e.ssa[1], 1), e.ssa[1]);
	assert_int_equal(page_qword(cpu, va, 0), 0x42);
	assert_int_equal(page_qword(cpu, e.secs, 0x10), 1); /* SSAFRAMESIZE untouched */
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

static void edbgwr_not_debuggable(void **state)
{
	struct t_encl e;
	struct sgx_cpu *cpu = setup(&e, SGX_ATTR_DEBUG);
	struct t_epcm_snap s;
	void *pending = t_page(cpu, FREE_FRAME);

	(void)state;
	assert_leaf_ok(eaug(cpu, e.secs, pending, e.base + 0x5000));
	assert_leaf_ok(emodt(cpu, SGX_SECINFO_TCS, e.ssa[1]));
	t_snap(cpu, &s, NSNAP);
	assert_int_equal(sgx_edbgwr(cpu, pending, 0xDEAD), SGX_PAGE_NOT_DEBUGGABLE);
	assert_int_equal(sgx_edbgwr(cpu, off(e.ssa[1], 8), 0xDEAD), SGX_PAGE_NOT_DEBUGGABLE);
	assert_int_equal(page_qword(cpu, pending, 0), 0);
	assert_int_equal(page_qword(cpu, e.ssa[1], 8), 0);
	t_assert_snap_equal(cpu, &s);
	sgx_cpu_destroy(cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dbg_view_hook),
		cmocka_unit_test(eremove_reg_success),
		cmocka_unit_test(eremove_tcs_and_pending_success),
		cmocka_unit_test(eremove_invalid_noop),
		cmocka_unit_test(eremove_misaligned_gp),
		cmocka_unit_test(eremove_not_epc_pf),
		cmocka_unit_test(eremove_busy_gp),
		cmocka_unit_test(eremove_va_success),
		cmocka_unit_test(eremove_secs_child_present),
		cmocka_unit_test(eremove_enclave_active),
		cmocka_unit_test(eremove_accepted_trim_while_active),
		cmocka_unit_test(edbgrd_reg_success),
		cmocka_unit_test(edbgrd_tcs),
		cmocka_unit_test(edbgrd_non_debug_gp),
		cmocka_unit_test(edbgrd_misaligned_gp),
		cmocka_unit_test(edbgrd_not_epc_pf),
		cmocka_unit_test(edbgrd_busy_gp),
		cmocka_unit_test(edbgrd_bad_page_pf),
		cmocka_unit_test(edbgrd_not_debuggable),
		cmocka_unit_test(edbgrd_va_slots),
		cmocka_unit_test(edbgwr_reg_success),
		cmocka_unit_test(edbgwr_tcs_flags_only),
		cmocka_unit_test(edbgwr_non_debug_gp),
		cmocka_unit_test(edbgwr_misaligned_not_epc_busy),
		cmocka_unit_test(edbgwr_bad_page_pf),
		cmocka_unit_test(edbgwr_not_debuggable),
	};

	return T_RUN(tests);
}
