// SPDX-License-Identifier: MIT
/*
 * Paging leaves (EPA, EBLOCK, ETRACK, EWB, ELDU, ELDB) and the paging crypto:
 * every outcome the SDM lists for each leaf, round trips of every page type,
 * anti-replay and binding (version, slot, address, enclave, PCMD, tag), the
 * tracking model, and that encrypt/decrypt never allocate.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "helpers.h"
#include "internal.h"

/* Frames: t_build_encl uses 0..5; VA pages at 10 and 11; free frames from 20. */
#define VA_IDX 10
#define VA2_IDX 11
#define FREE_IDX 20
#define NSNAP 64

struct fx {
	struct sgx_cpu *cpu;
	struct t_encl e;
	void *va, *va2;
	/* Contents of the enclave's pages right after the build. */
	uint8_t data_plain[4096], code_plain[4096], tcs_plain[4096];
};

struct blob {
	uint8_t page[4096] __attribute__((aligned(4096)));
	struct sgx_pcmd pcmd;
	uint64_t linaddr;
};

static struct blob blobs[4];

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cpu = t_cpu(8);
	t_build_encl(f->cpu, &f->e, 0);
	f->va = t_page(f->cpu, VA_IDX);
	f->va2 = t_page(f->cpu, VA2_IDX);
	assert_leaf_ok(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, f->va));
	assert_leaf_ok(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, f->va2));
	memcpy(f->data_plain, sgx_epc_page_bytes(f->cpu, f->e.data), 4096);
	memcpy(f->code_plain, sgx_epc_page_bytes(f->cpu, f->e.code), 4096);
	memcpy(f->tcs_plain, sgx_epc_page_bytes(f->cpu, f->e.tcs), 4096);
	memset(blobs, 0, sizeof(blobs));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sgx_cpu_destroy(f->cpu);
	free(f);
	return 0;
}

static uint64_t u64p(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void *page(struct fx *f, unsigned int idx)
{
	return t_page(f->cpu, idx);
}

/* EPC address of VA slot @i (the RDX operand). */
static void *slot(void *va, unsigned int i)
{
	return (uint8_t *)va + 8 * i;
}

/* The value stored in a VA slot, read through the model. */
static uint64_t slot_val(struct fx *f, void *va, unsigned int i)
{
	return ((uint64_t *)sgx_epc_page_bytes(f->cpu, va))[i];
}

static struct epcm *ent(struct fx *f, const void *p)
{
	return epcm_of(f->cpu, epc_frame(f->cpu, u64p(p)));
}

static struct sgx_epcm_view view(struct fx *f, const void *p)
{
	struct sgx_epcm_view v;

	assert_int_equal(sgx_cpu_epcm(f->cpu, p, &v), 0);
	return v;
}

/* Field by field: the views' padding bytes are indeterminate. */
static void assert_view_equal(struct sgx_epcm_view a, struct sgx_epcm_view b)
{
	assert_int_equal(a.valid, b.valid);
	assert_int_equal(a.blocked, b.blocked);
	assert_int_equal(a.pending, b.pending);
	assert_int_equal(a.modified, b.modified);
	assert_int_equal(a.pr, b.pr);
	assert_int_equal(a.rwx, b.rwx);
	assert_int_equal(a.page_type, b.page_type);
	assert_ptr_equal(a.secs, b.secs);
	assert_int_equal(a.linaddr, b.linaddr);
}

static struct secs_hidden *hid(struct fx *f, const void *secs)
{
	return secs_hidden(f->cpu, epc_frame(f->cpu, u64p(secs)));
}

static uint8_t *bytes(struct fx *f, void *p)
{
	return sgx_epc_page_bytes(f->cpu, p);
}

static void assert_pf_err(int r, const void *addr, uint32_t errcd)
{
	t_assert_pf_at(r, addr);
	assert_int_equal(sgx_last_fault()->errcd, errcd);
}

static void assert_gp_fault(int r)
{
	assert_gp(r);
	assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
}

/* A PAGEINFO that lies inside the EPC is #GP (EMU-CHOICE, as for the PCMD and contents). */
static void paging_pageinfo_in_epc_gp(void **state)
{
	struct fx *f = *state;
	uint8_t *inside = t_page(f->cpu, FREE_IDX);
	struct sgx_pageinfo pi = { 0 };
	struct t_epcm_snap s;

	pi.contents = (uint64_t)(uintptr_t)blobs[0].page;
	pi.metadata = (uint64_t)(uintptr_t)&blobs[0].pcmd;
	memcpy(inside, &pi, sizeof(pi));
	t_snap(f->cpu, &s, NSNAP);
	assert_gp_fault(sgx_ewb(f->cpu, (struct sgx_pageinfo *)(void *)inside, f->e.data, f->va));
	pi.addr = f->e.base + 0x3000;
	pi.secs = (uint64_t)(uintptr_t)f->e.secs;
	memcpy(inside, &pi, sizeof(pi));
	assert_gp_fault(sgx_eldu(f->cpu, (struct sgx_pageinfo *)(void *)inside,
				 t_page(f->cpu, FREE_IDX + 1), f->va));
	assert_gp_fault(sgx_eldb(f->cpu, (struct sgx_pageinfo *)(void *)inside,
				 t_page(f->cpu, FREE_IDX + 1), f->va));
	t_assert_snap_equal(f->cpu, &s);
	memset(inside, 0, sizeof(pi));
}

static struct sgx_cpu_stats stats(struct fx *f)
{
	struct sgx_cpu_stats s;

	sgx_cpu_stats(f->cpu, &s);
	return s;
}

static int ewb(struct fx *f, void *p, void *va_slot, struct blob *b)
{
	struct sgx_pageinfo pi = { 0 };
	int r;

	pi.contents = u64p(b->page);
	pi.metadata = u64p(&b->pcmd);
	r = sgx_ewb(f->cpu, &pi, p, va_slot);
	b->linaddr = pi.addr;
	return r;
}

static int eld(struct fx *f, bool blocked, const struct blob *b, void *secs, void *p,
	       void *va_slot)
{
	struct sgx_pageinfo pi = { 0 };

	pi.addr = b->linaddr;
	pi.contents = u64p(b->page);
	pi.metadata = u64p(&b->pcmd);
	pi.secs = u64p(secs);
	return blocked ? sgx_eldb(f->cpu, &pi, p, va_slot) : sgx_eldu(f->cpu, &pi, p, va_slot);
}

static int eldu(struct fx *f, const struct blob *b, void *secs, void *p, void *va_slot)
{
	return eld(f, false, b, secs, p, va_slot);
}

/* The Linux eviction sequence for one child page, every step succeeding. */
static void evict(struct fx *f, void *p, void *va_slot, struct blob *b)
{
	assert_leaf_ok(sgx_eblock(f->cpu, p));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_leaf_ok(ewb(f, p, va_slot, b));
}

/*
 * ELDU of a page with a pending EMODPR: the eviction already required every
 * LP to leave, so the page counts as tracked (EACCEPT needs no new ETRACK);
 * ELDB of the same page must see a new ETRACK before its next EWB.
 */
static void eldu_reloaded_page_is_tracked(void **state)
{
	struct fx *f = *state;
	struct sgx_secinfo ro __attribute__((aligned(64))) = { .flags = SGX_SECINFO_R };
	struct secs_hidden *h = hid(f, f->e.secs);

	(void)state;
	assert_leaf_ok(sgx_emodpr(f->cpu, &ro, f->e.data));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	evict(f, f->e.data, slot(f->va, 3), &blobs[0]);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, f->e.data, slot(f->va, 3)));
	assert_true(view(f, f->e.data).pr);
	assert_true(page_tracked(h, ent(f, f->e.data)->bepoch));

	evict(f, f->e.data, slot(f->va, 4), &blobs[1]);
	assert_leaf_ok(eld(f, true, &blobs[1], f->e.secs, f->e.data, slot(f->va, 4)));
	assert_false(page_tracked(h, ent(f, f->e.data)->bepoch));
	assert_int_equal(ewb(f, f->e.data, slot(f->va, 5), &blobs[2]), SGX_NOT_TRACKED);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 5), &blobs[2]));
}

/* ------------------------------------------------------------------ EPA */

static void epa_success(void **state)
{
	struct fx *f = *state;
	void *p = page(f, FREE_IDX);
	struct sgx_epcm_view v = view(f, p);
	uint64_t n = stats(f).epa;

	assert_false(v.valid);
	memset(bytes(f, p), 0xA5, SGX_PAGE_SIZE); /* stale contents of a free frame */
	assert_leaf_ok(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, p));
	v = view(f, p);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_VA);
	assert_int_equal(v.rwx, 0);
	assert_null(v.secs);
	assert_int_equal(v.linaddr, 0);
	assert_false(v.blocked || v.pending || v.modified || v.pr);
	for (unsigned int i = 0; i < SGX_VA_SLOT_COUNT; i++)
		assert_int_equal(slot_val(f, p, i), 0);
	assert_int_equal(stats(f).epa, n + 1);
}

static void epa_bad_rbx(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_gp_fault(sgx_epa(f->cpu, SGX_PAGE_TYPE_REG, page(f, FREE_IDX)));
	assert_gp_fault(sgx_epa(f->cpu, 0x103, page(f, FREE_IDX)));
	t_assert_snap_equal(f->cpu, &s);
}

static void epa_misaligned(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_gp_fault(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, (uint8_t *)page(f, FREE_IDX) + 8));
	t_assert_snap_equal(f->cpu, &s);
}

static void epa_not_epc(void **state)
{
	struct fx *f = *state;
	static uint8_t host[4096] __attribute__((aligned(4096)));
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_pf_err(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, host), host, 0);
	t_assert_snap_equal(f->cpu, &s);
}

static void epa_busy(void **state)
{
	struct fx *f = *state;
	void *p = page(f, FREE_IDX);
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_true(page_lock_shared(ent(f, p)));
	assert_gp_fault(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, p));
	page_unlock_shared(ent(f, p));
	t_assert_snap_equal(f->cpu, &s);
}

static void epa_valid_page(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_pf_err(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, f->e.data), f->e.data, X86_PF_SGX);
	assert_pf_err(sgx_epa(f->cpu, SGX_PAGE_TYPE_VA, f->va), f->va, X86_PF_SGX);
	t_assert_snap_equal(f->cpu, &s);
}

/* --------------------------------------------------------------- EBLOCK */

static void eblock_success_reg(void **state)
{
	struct fx *f = *state;
	struct sgx_epcm_view before = view(f, f->e.data), after;
	uint64_t n = stats(f).eblock;

	assert_false(before.blocked);
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	after = view(f, f->e.data);
	assert_true(after.blocked);
	after.blocked = false;
	assert_view_equal(before, after); /* nothing else changed */
	assert_int_equal(ent(f, f->e.data)->bepoch, 0);
	assert_int_equal(stats(f).eblock, n + 1);
}

static void eblock_success_tcs(void **state)
{
	struct fx *f = *state;

	assert_false(view(f, f->e.tcs).blocked);
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.tcs));
	assert_true(view(f, f->e.tcs).blocked);
	assert_int_equal(view(f, f->e.tcs).page_type, SGX_PAGE_TYPE_TCS);
}

static void eblock_success_trim(void **state)
{
	struct fx *f = *state;
	struct sgx_secinfo si = { .flags = SGX_SECINFO_TRIM };

	assert_leaf_ok(sgx_emodt(f->cpu, &si, f->e.code));
	assert_int_equal(view(f, f->e.code).page_type, SGX_PAGE_TYPE_TRIM);
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.code));
	assert_true(view(f, f->e.code).blocked);
}

static void eblock_stamps_current_epoch(void **state)
{
	struct fx *f = *state;

	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_int_equal(TRK_EPOCH(atomic_load(&hid(f, f->e.secs)->trk)), 2);
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_int_equal(ent(f, f->e.data)->bepoch, 2);
}

static void eblock_misaligned(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_gp_fault(sgx_eblock(f->cpu, (uint8_t *)f->e.data + 64));
	t_assert_snap_equal(f->cpu, &s);
}

static void eblock_not_epc(void **state)
{
	struct fx *f = *state;
	static uint8_t host[4096] __attribute__((aligned(4096)));
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_pf_err(sgx_eblock(f->cpu, host), host, 0);
	t_assert_snap_equal(f->cpu, &s);
}

static void eblock_conflict(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_true(page_lock_shared(ent(f, f->e.data)));
	assert_int_equal(sgx_eblock(f->cpu, f->e.data), SGX_EPC_PAGE_CONFLICT);
	page_unlock_shared(ent(f, f->e.data));
	t_assert_snap_equal(f->cpu, &s);
}

static void eblock_invalid(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_int_equal(sgx_eblock(f->cpu, page(f, FREE_IDX)), SGX_PG_INVLD);
	t_assert_snap_equal(f->cpu, &s);
}

static void eblock_secs(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_int_equal(sgx_eblock(f->cpu, f->e.secs), SGX_PG_IS_SECS);
	t_assert_snap_equal(f->cpu, &s);
}

static void eblock_va_not_blockable(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_int_equal(sgx_eblock(f->cpu, f->va), SGX_NOTBLOCKABLE);
	t_assert_snap_equal(f->cpu, &s);
}

static void eblock_already_blocked(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	uint32_t bepoch;

	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	bepoch = ent(f, f->e.data)->bepoch;
	t_snap(f->cpu, &s, NSNAP);
	assert_int_equal(sgx_eblock(f->cpu, f->e.data), SGX_BLKSTATE);
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(ent(f, f->e.data)->bepoch, bepoch); /* not re-stamped */
}

/* --------------------------------------------------------------- ETRACK */

static void etrack_success(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	uint64_t n = stats(f).etrack;

	t_snap(f->cpu, &s, NSNAP);
	assert_int_equal(atomic_load(&hid(f, f->e.secs)->trk), 0);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_int_equal(atomic_load(&hid(f, f->e.secs)->trk), TRK_MAKE(1, 0, 0));
	assert_int_equal(atomic_load(&hid(f, f->e.secs)->track_busy), 0);
	t_assert_snap_equal(f->cpu, &s); /* the EPCM is not touched */
	assert_int_equal(stats(f).etrack, n + 1);
}

static void etrack_misaligned(void **state)
{
	struct fx *f = *state;

	assert_gp_fault(sgx_etrack(f->cpu, (uint8_t *)f->e.secs + 8));
	assert_int_equal(atomic_load(&hid(f, f->e.secs)->trk), 0);
}

static void etrack_not_epc(void **state)
{
	struct fx *f = *state;
	static uint8_t host[4096] __attribute__((aligned(4096)));

	assert_pf_err(sgx_etrack(f->cpu, host), host, 0);
}

static void etrack_busy_tracking(void **state)
{
	struct fx *f = *state;
	struct secs_hidden *h = hid(f, f->e.secs);

	atomic_store(&h->track_busy, 1); /* another ETRACK in flight */
	assert_gp_fault(sgx_etrack(f->cpu, f->e.secs));
	assert_int_equal(atomic_load(&h->trk), 0);
	atomic_store(&h->track_busy, 0);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
}

static void etrack_busy_page(void **state)
{
	struct fx *f = *state;

	assert_true(page_lock_excl(ent(f, f->e.secs)));
	assert_gp_fault(sgx_etrack(f->cpu, f->e.secs));
	page_unlock_excl(ent(f, f->e.secs));
	assert_int_equal(atomic_load(&hid(f, f->e.secs)->trk), 0);
}

static void etrack_invalid(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	void *p = page(f, FREE_IDX);

	t_snap(f->cpu, &s, NSNAP);
	assert_pf_err(sgx_etrack(f->cpu, p), p, X86_PF_SGX);
	t_assert_snap_equal(f->cpu, &s);
}

static void etrack_not_secs(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_pf_err(sgx_etrack(f->cpu, f->e.data), f->e.data, X86_PF_SGX);
	assert_pf_err(sgx_etrack(f->cpu, f->va), f->va, X86_PF_SGX);
	t_assert_snap_equal(f->cpu, &s);
}

/*
 * Tracking (docs/architecture.md), two ETRACKs after the EBLOCK: an LP that
 * entered after the first one cannot hold a translation from before the block,
 * so EWB succeeds while it is still inside.
 */
static void ewb_after_two_etracks_with_late_lp(void **state)
{
	struct fx *f = *state;
	struct secs_hidden *h = hid(f, f->e.secs);
	struct tcs_hidden *t = tcs_hidden(f->cpu, epc_frame(f->cpu, u64p(f->e.tcs)));

	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_true(track_enter(h, t)); /* enters after the first ETRACK */
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs)); /* it is counted by this one */
	assert_int_equal(TRK_PREV(atomic_load(&h->trk)), 1);
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
	track_leave(h, t);
}

/* An LP inside, simulated with the model's own EENTER/EEXIT bookkeeping. */
static void etrack_prev_incomplete(void **state)
{
	struct fx *f = *state;
	struct secs_hidden *h = hid(f, f->e.secs);
	struct tcs_hidden *t = tcs_hidden(f->cpu, epc_frame(f->cpu, u64p(f->e.tcs)));

	track_enter(h, t);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_int_equal(atomic_load(&h->trk), TRK_MAKE(1, 1, 1));
	assert_int_equal(sgx_etrack(f->cpu, f->e.secs), SGX_PREV_TRK_INCMPL);
	assert_int_equal(atomic_load(&h->trk), TRK_MAKE(1, 1, 1)); /* unchanged */
	track_leave(h, t);
	assert_int_equal(atomic_load(&h->trk), TRK_MAKE(1, 0, 0));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_int_equal(atomic_load(&h->trk), TRK_MAKE(2, 0, 0));
}

/* ------------------------------------------------------------------ EWB */

static void ewb_success_reg(void **state)
{
	struct fx *f = *state;
	struct blob *b = &blobs[0];
	struct sgx_epcm_view before = view(f, f->e.data);
	uint64_t eid = sgx_cpu_secs_eid(f->cpu, f->e.secs);
	uint64_t children = sgx_cpu_secs_children(f->cpu, f->e.secs);
	uint64_t touched, n = stats(f).ewb;
	uint8_t plain[4096];

	memcpy(plain, bytes(f, f->e.data), sizeof(plain));
	assert_true(before.valid);
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	touched = sgx_cpu_touched_frames(f->cpu);
	assert_int_equal(slot_val(f, f->va, 7), 0);
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 7), b));

	assert_false(view(f, f->e.data).valid);
	assert_int_equal(sgx_cpu_secs_children(f->cpu, f->e.secs), children - 1);
	assert_int_equal(b->linaddr, f->e.base + 0x3000);
	assert_int_equal(b->pcmd.secinfo.flags, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
	assert_true(all_zero(b->pcmd.secinfo.reserved, sizeof(b->pcmd.secinfo.reserved)));
	assert_int_equal(b->pcmd.enclave_id, eid);
	assert_true(all_zero(b->pcmd.reserved, sizeof(b->pcmd.reserved)));
	assert_false(all_zero(b->pcmd.mac, sizeof(b->pcmd.mac)));
	assert_memory_not_equal(b->page, plain, sizeof(plain));
	assert_int_not_equal(slot_val(f, f->va, 7), 0);
	/* The frame keeps its host memory (as EPC does) but holds zeros now. */
	assert_int_equal(sgx_cpu_touched_frames(f->cpu), touched);
	assert_true(all_zero(sgx_epc_page_bytes(f->cpu, f->e.data), 4096));
	assert_int_equal(stats(f).ewb, n + 1);
}

/* The blob is exactly AES-128-GCM(key, 0^32 || le64(version), header, page). */
static void ewb_blob_format(void **state)
{
	struct fx *f = *state;
	struct blob *b = &blobs[0];
	uint8_t plain[4096], out[4096], hdr[128] = { 0 }, iv[12] = { 0 };
	uint64_t eid = sgx_cpu_secs_eid(f->cpu, f->e.secs), ver, flags;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len;

	memcpy(plain, bytes(f, f->e.data), sizeof(plain));
	evict(f, f->e.data, slot(f->va, 0), b);
	ver = slot_val(f, f->va, 0);
	flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	memcpy(hdr, &eid, 8);
	memcpy(hdr + 8, &flags, 8);
	memcpy(hdr + 72, &b->linaddr, 8);
	memcpy(iv + 4, &ver, 8);
	assert_non_null(c);
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, f->cpu->paging_key, iv), 1);
	assert_int_equal(EVP_DecryptUpdate(c, NULL, &len, hdr, sizeof(hdr)), 1);
	assert_int_equal(EVP_DecryptUpdate(c, out, &len, b->page, sizeof(out)), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, b->pcmd.mac), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, out, &len), 1);
	EVP_CIPHER_CTX_free(c);
	assert_memory_equal(out, plain, sizeof(plain));
}

static void ewb_versions_unique(void **state)
{
	struct fx *f = *state;

	evict(f, f->e.data, slot(f->va, 0), &blobs[0]);
	evict(f, f->e.code, slot(f->va, 1), &blobs[1]);
	assert_int_not_equal(slot_val(f, f->va, 0), 0);
	assert_int_not_equal(slot_val(f, f->va, 1), 0);
	assert_int_not_equal(slot_val(f, f->va, 0), slot_val(f, f->va, 1));
}

static void ewb_slot_occupied_still_evicts(void **state)
{
	struct fx *f = *state;
	uint64_t v0, children = sgx_cpu_secs_children(f->cpu, f->e.secs);

	evict(f, f->e.data, slot(f->va, 3), &blobs[0]);
	v0 = slot_val(f, f->va, 3);
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.code));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_int_equal(ewb(f, f->e.code, slot(f->va, 3), &blobs[1]), SGX_VA_SLOT_OCCUPIED);
	/* The eviction completed: page gone, new version in the slot, blob usable. */
	assert_false(view(f, f->e.code).valid);
	assert_int_equal(sgx_cpu_secs_children(f->cpu, f->e.secs), children - 2);
	assert_int_not_equal(slot_val(f, f->va, 3), v0);
	assert_int_equal(blobs[1].linaddr, f->e.base + 0x4000);
	/* The overwritten version is lost for good; the new blob loads. */
	assert_int_equal(eldu(f, &blobs[0], f->e.secs, page(f, FREE_IDX), slot(f->va, 3)),
			 SGX_MAC_COMPARE_FAIL);
	assert_leaf_ok(eldu(f, &blobs[1], f->e.secs, page(f, FREE_IDX), slot(f->va, 3)));
	assert_int_equal(slot_val(f, f->va, 3), 0);
	assert_memory_equal(bytes(f, page(f, FREE_IDX)), f->code_plain, 4096);
}

/* Every EWB refusal: EPCM, the VA slot and the caller's PAGEINFO stay as they were. */
struct ewb_case {
	struct t_epcm_snap s;
	uint64_t slot0;
};

static void ewb_pre(struct fx *f, struct ewb_case *c)
{
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	t_snap(f->cpu, &c->s, NSNAP);
	c->slot0 = slot_val(f, f->va, 0);
}

static void ewb_post(struct fx *f, const struct ewb_case *c)
{
	t_assert_snap_equal(f->cpu, &c->s);
	assert_int_equal(slot_val(f, f->va, 0), c->slot0);
	/* And the page is still perfectly evictable. */
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 0), &blobs[3]));
}

static void ewb_misaligned_pageinfo(void **state)
{
	struct fx *f = *state;
	static uint8_t raw[128] __attribute__((aligned(64)));
	struct sgx_pageinfo *pi = (struct sgx_pageinfo *)(raw + 16);
	struct ewb_case c;

	ewb_pre(f, &c);
	memset(raw, 0, sizeof(raw));
	assert_gp_fault(sgx_ewb(f->cpu, pi, f->e.data, slot(f->va, 0)));
	ewb_post(f, &c);
}

static void ewb_misaligned_page(void **state)
{
	struct fx *f = *state;
	struct ewb_case c;

	ewb_pre(f, &c);
	assert_gp_fault(ewb(f, (uint8_t *)f->e.data + 16, slot(f->va, 0), &blobs[0]));
	ewb_post(f, &c);
}

static void ewb_page_not_epc(void **state)
{
	struct fx *f = *state;
	static uint8_t host[4096] __attribute__((aligned(4096)));
	struct ewb_case c;

	ewb_pre(f, &c);
	assert_pf_err(ewb(f, host, slot(f->va, 0), &blobs[0]), host, 0);
	ewb_post(f, &c);
}

static void ewb_misaligned_slot(void **state)
{
	struct fx *f = *state;
	struct ewb_case c;

	ewb_pre(f, &c);
	assert_gp_fault(ewb(f, f->e.data, (uint8_t *)f->va + 4, &blobs[0]));
	ewb_post(f, &c);
}

static void ewb_slot_not_epc(void **state)
{
	struct fx *f = *state;
	static uint64_t host_slot;
	struct ewb_case c;

	ewb_pre(f, &c);
	assert_pf_err(ewb(f, f->e.data, &host_slot, &blobs[0]), &host_slot, 0);
	ewb_post(f, &c);
}

static void ewb_slot_in_same_page(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_gp_fault(ewb(f, f->va, slot(f->va, 5), &blobs[0]));
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 5), 0);
}

static void ewb_linaddr_nonzero(void **state)
{
	struct fx *f = *state;
	struct sgx_pageinfo pi = { 0 };
	struct ewb_case c;

	ewb_pre(f, &c);
	pi.addr = f->e.base + 0x3000;
	pi.contents = u64p(blobs[0].page);
	pi.metadata = u64p(&blobs[0].pcmd);
	assert_gp_fault(sgx_ewb(f->cpu, &pi, f->e.data, slot(f->va, 0)));
	assert_int_equal(pi.addr, f->e.base + 0x3000);
	ewb_post(f, &c);
}

static void ewb_secs_nonzero(void **state)
{
	struct fx *f = *state;
	struct sgx_pageinfo pi = { 0 };
	struct ewb_case c;

	ewb_pre(f, &c);
	pi.secs = u64p(f->e.secs);
	pi.contents = u64p(blobs[0].page);
	pi.metadata = u64p(&blobs[0].pcmd);
	assert_gp_fault(sgx_ewb(f->cpu, &pi, f->e.data, slot(f->va, 0)));
	ewb_post(f, &c);
}

static void ewb_misaligned_pcmd(void **state)
{
	struct fx *f = *state;
	struct sgx_pageinfo pi = { 0 };
	struct ewb_case c;

	ewb_pre(f, &c);
	pi.contents = u64p(blobs[0].page);
	pi.metadata = u64p(&blobs[0].pcmd) + 64;
	assert_gp_fault(sgx_ewb(f->cpu, &pi, f->e.data, slot(f->va, 0)));
	ewb_post(f, &c);
}

static void ewb_misaligned_srcpge(void **state)
{
	struct fx *f = *state;
	struct sgx_pageinfo pi = { 0 };
	struct ewb_case c;

	ewb_pre(f, &c);
	pi.contents = u64p(blobs[0].page) + 512;
	pi.metadata = u64p(&blobs[0].pcmd);
	assert_gp_fault(sgx_ewb(f->cpu, &pi, f->e.data, slot(f->va, 0)));
	ewb_post(f, &c);
}

static void ewb_page_busy(void **state)
{
	struct fx *f = *state;
	struct ewb_case c;

	ewb_pre(f, &c);
	assert_true(page_lock_shared(ent(f, f->e.data)));
	assert_gp_fault(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
	page_unlock_shared(ent(f, f->e.data));
	ewb_post(f, &c);
}

static void ewb_va_busy(void **state)
{
	struct fx *f = *state;
	struct ewb_case c;

	ewb_pre(f, &c);
	assert_true(page_lock_excl(ent(f, f->va))); /* e.g. the VA page being evicted */
	assert_gp_fault(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
	page_unlock_excl(ent(f, f->va));
	ewb_post(f, &c);
}

static void ewb_secs_busy(void **state)
{
	struct fx *f = *state;
	struct ewb_case c;

	ewb_pre(f, &c);
	assert_true(page_lock_excl(ent(f, f->e.secs))); /* e.g. EREMOVE of the SECS */
	assert_gp_fault(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
	page_unlock_excl(ent(f, f->e.secs));
	ewb_post(f, &c);
}

static void ewb_page_invalid(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	void *p = page(f, FREE_IDX);

	t_snap(f->cpu, &s, NSNAP);
	assert_pf_err(ewb(f, p, slot(f->va, 0), &blobs[0]), p, X86_PF_SGX);
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 0), 0);
}

static void ewb_va_invalid(void **state)
{
	struct fx *f = *state;
	struct ewb_case c;
	void *bad = slot(page(f, FREE_IDX), 2);

	ewb_pre(f, &c);
	assert_pf_err(ewb(f, f->e.data, bad, &blobs[0]), bad, X86_PF_SGX);
	ewb_post(f, &c);
}

static void ewb_va_not_va(void **state)
{
	struct fx *f = *state;
	struct ewb_case c;
	void *bad = slot(f->e.ssa[0], 0);
	uint8_t ssa[4096];

	ewb_pre(f, &c);
	memcpy(ssa, bytes(f, f->e.ssa[0]), sizeof(ssa));
	assert_pf_err(ewb(f, f->e.data, bad, &blobs[0]), bad, X86_PF_SGX);
	assert_memory_equal(bytes(f, f->e.ssa[0]), ssa, sizeof(ssa));
	ewb_post(f, &c);
}

static void ewb_not_blocked(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_int_equal(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]), SGX_PAGE_NOT_BLOCKED);
	assert_int_equal(ewb(f, f->e.tcs, slot(f->va, 0), &blobs[0]), SGX_PAGE_NOT_BLOCKED);
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 0), 0);
	assert_memory_equal(bytes(f, f->e.data), f->data_plain, 4096);
}

static void ewb_not_tracked(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	t_snap(f->cpu, &s, NSNAP);
	/* Blocked in the current epoch: an ETRACK must come first. */
	assert_int_equal(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]), SGX_NOT_TRACKED);
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 0), 0);
	assert_memory_equal(bytes(f, f->e.data), f->data_plain, 4096);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
}

static void ewb_secs_child_present(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;

	t_snap(f->cpu, &s, NSNAP);
	assert_int_equal(ewb(f, f->e.secs, slot(f->va, 0), &blobs[0]), SGX_CHILD_PRESENT);
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 0), 0);
	assert_int_equal(sgx_cpu_secs_children(f->cpu, f->e.secs), 5);
}

/* ------------------------------------------------------------ round trips */

static void check_reloaded(struct fx *f, void *p, const struct sgx_epcm_view *orig, bool blocked)
{
	struct sgx_epcm_view want = *orig;

	want.blocked = blocked;
	assert_view_equal(view(f, p), want);
}

static void eldu_round_trip_reg(void **state)
{
	struct fx *f = *state;
	struct sgx_epcm_view orig = view(f, f->e.data);
	uint64_t children = sgx_cpu_secs_children(f->cpu, f->e.secs), n = stats(f).eldu;
	void *p = page(f, FREE_IDX);

	evict(f, f->e.data, slot(f->va, 9), &blobs[0]);
	assert_false(view(f, p).valid);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, p, slot(f->va, 9)));
	check_reloaded(f, p, &orig, false);
	assert_memory_equal(bytes(f, p), f->data_plain, 4096);
	assert_int_equal(slot_val(f, f->va, 9), 0); /* cleared: no replay */
	assert_int_equal(sgx_cpu_secs_children(f->cpu, f->e.secs), children);
	assert_int_equal(stats(f).eldu, n + 1);
	/* Back into its original frame, too. */
	evict(f, p, slot(f->va, 9), &blobs[1]);
	assert_leaf_ok(eldu(f, &blobs[1], f->e.secs, f->e.data, slot(f->va, 9)));
	check_reloaded(f, f->e.data, &orig, false);
	assert_memory_equal(bytes(f, f->e.data), f->data_plain, 4096);
}

static void eldb_round_trip_reg(void **state)
{
	struct fx *f = *state;
	struct sgx_epcm_view orig = view(f, f->e.code);
	uint64_t n = stats(f).eldb;
	void *p = page(f, FREE_IDX);

	evict(f, f->e.code, slot(f->va, 0), &blobs[0]);
	assert_leaf_ok(eld(f, true, &blobs[0], f->e.secs, p, slot(f->va, 0)));
	check_reloaded(f, p, &orig, true);
	assert_memory_equal(bytes(f, p), f->code_plain, 4096);
	assert_int_equal(slot_val(f, f->va, 0), 0);
	assert_int_equal(stats(f).eldb, n + 1);
	/* Reloaded blocked in this epoch: the next EWB needs a new ETRACK. */
	assert_int_equal(sgx_eblock(f->cpu, p), SGX_BLKSTATE);
	assert_int_equal(ewb(f, p, slot(f->va, 0), &blobs[1]), SGX_NOT_TRACKED);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_leaf_ok(ewb(f, p, slot(f->va, 0), &blobs[1]));
}

static void eldb_round_trip_tcs(void **state)
{
	struct fx *f = *state;
	struct sgx_epcm_view orig = view(f, f->e.tcs);
	void *p = page(f, FREE_IDX);

	evict(f, f->e.tcs, slot(f->va, 0), &blobs[0]);
	assert_int_equal(blobs[0].pcmd.secinfo.flags, SGX_SECINFO_TCS);
	assert_int_equal(blobs[0].linaddr, f->e.base);
	assert_leaf_ok(eld(f, true, &blobs[0], f->e.secs, p, slot(f->va, 0)));
	check_reloaded(f, p, &orig, true);
	assert_memory_equal(bytes(f, p), f->tcs_plain, 4096);
}

static void eldu_round_trip_pending(void **state)
{
	struct fx *f = *state;
	struct sgx_pageinfo pi = { 0 };
	struct sgx_epcm_view orig;
	void *aug = page(f, 6), *p = page(f, FREE_IDX);

	pi.addr = f->e.base + 0x5000;
	pi.secs = u64p(f->e.secs);
	assert_leaf_ok(sgx_eaug(f->cpu, &pi, aug));
	orig = view(f, aug);
	assert_true(orig.pending);
	evict(f, aug, slot(f->va, 0), &blobs[0]);
	assert_int_equal(blobs[0].pcmd.secinfo.flags,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, p, slot(f->va, 0)));
	check_reloaded(f, p, &orig, false);
	assert_true(all_zero(bytes(f, p), 4096));
}

static void eldu_round_trip_trim_and_pr(void **state)
{
	struct fx *f = *state;
	struct sgx_secinfo trim = { .flags = SGX_SECINFO_TRIM };
	struct sgx_secinfo ro = { .flags = SGX_SECINFO_R };
	struct sgx_epcm_view o_code, o_data;

	assert_leaf_ok(sgx_emodt(f->cpu, &trim, f->e.code));
	assert_leaf_ok(sgx_emodpr(f->cpu, &ro, f->e.data));
	o_code = view(f, f->e.code);
	o_data = view(f, f->e.data);
	assert_true(o_code.modified);
	assert_true(o_data.pr);
	evict(f, f->e.code, slot(f->va, 0), &blobs[0]);
	evict(f, f->e.data, slot(f->va, 1), &blobs[1]);
	assert_int_equal(blobs[0].pcmd.secinfo.flags, SGX_SECINFO_TRIM | SGX_SECINFO_MODIFIED);
	assert_int_equal(blobs[1].pcmd.secinfo.flags,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_PR);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, page(f, FREE_IDX), slot(f->va, 0)));
	assert_leaf_ok(eldu(f, &blobs[1], f->e.secs, page(f, FREE_IDX + 1), slot(f->va, 1)));
	check_reloaded(f, page(f, FREE_IDX), &o_code, false);
	check_reloaded(f, page(f, FREE_IDX + 1), &o_data, false);
}

/* SECS eviction only once every child is out; then SECS first, children after. */
static void secs_evict_and_reload(void **state)
{
	struct fx *f = *state;
	void *children[5] = { f->e.tcs, f->e.ssa[0], f->e.ssa[1], f->e.data, f->e.code };
	uint64_t eid = sgx_cpu_secs_eid(f->cpu, f->e.secs);
	struct sgx_epcm_view o_secs = view(f, f->e.secs), o_data = view(f, f->e.data);
	static struct blob cb[5];
	struct blob *sb = &blobs[0];
	void *ns = page(f, FREE_IDX), *nd = page(f, FREE_IDX + 1);
	struct t_epcm_snap s;
	uint64_t slot5;

	for (unsigned int i = 0; i < 5; i++)
		assert_leaf_ok(sgx_eblock(f->cpu, children[i]));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(ewb(f, f->e.secs, slot(f->va, 5), sb), SGX_CHILD_PRESENT);
		assert_leaf_ok(ewb(f, children[i], slot(f->va, i), &cb[i]));
	}
	assert_int_equal(sgx_cpu_secs_children(f->cpu, f->e.secs), 0);
	assert_leaf_ok(ewb(f, f->e.secs, slot(f->va, 5), sb));
	assert_false(view(f, f->e.secs).valid);
	assert_int_equal(sb->linaddr, 0);
	assert_int_equal(sb->pcmd.secinfo.flags, SGX_SECINFO_SECS);
	assert_int_equal(sb->pcmd.enclave_id, eid);

	/* A child cannot come back while its SECS is out. */
	t_snap(f->cpu, &s, NSNAP);
	assert_pf_err(eldu(f, &cb[3], f->e.secs, nd, slot(f->va, 3)), f->e.secs, X86_PF_SGX);
	t_assert_snap_equal(f->cpu, &s);

	/* SECS (no SECS operand needed), into another frame; hidden state comes along. */
	slot5 = slot_val(f, f->va, 5);
	assert_int_not_equal(slot5, 0);
	assert_leaf_ok(eldu(f, sb, NULL, ns, slot(f->va, 5)));
	check_reloaded(f, ns, &o_secs, false);
	assert_int_equal(sgx_cpu_secs_eid(f->cpu, ns), eid);
	assert_int_equal(sgx_cpu_secs_children(f->cpu, ns), 0);
	assert_true(hid(f, ns)->initialized);
	assert_int_equal(slot_val(f, f->va, 5), 0);

	/* Then a child, against the reloaded SECS. */
	assert_leaf_ok(eldu(f, &cb[3], ns, nd, slot(f->va, 3)));
	o_data.secs = ns;
	check_reloaded(f, nd, &o_data, false);
	assert_memory_equal(bytes(f, nd), f->data_plain, 4096);
	assert_int_equal(sgx_cpu_secs_children(f->cpu, ns), 1);
	/* The reloaded SECS is a full SECS again: no more eviction while a child is in. */
	assert_int_equal(ewb(f, ns, slot(f->va, 5), sb), SGX_CHILD_PRESENT);
}

static void eldb_secs_not_blocked(void **state)
{
	struct fx *f = *state;
	void *secs = t_ecreate(f->cpu, 30, 0x200000000ULL, 0x10000, SGX_ATTR_MODE64BIT);
	struct sgx_epcm_view o = view(f, secs);

	assert_leaf_ok(ewb(f, secs, slot(f->va, 0), &blobs[0]));
	assert_leaf_ok(eld(f, true, &blobs[0], NULL, page(f, FREE_IDX), slot(f->va, 0)));
	check_reloaded(f, page(f, FREE_IDX), &o, false);
}

/* A VA page goes out into a slot of another VA page and takes its versions along. */
static void va_evict_and_reload(void **state)
{
	struct fx *f = *state;
	struct sgx_epcm_view o = view(f, f->va);
	void *nva = page(f, FREE_IDX), *p = page(f, FREE_IDX + 1);
	uint64_t v3;

	evict(f, f->e.data, slot(f->va, 3), &blobs[0]);
	v3 = slot_val(f, f->va, 3);
	/* No EBLOCK/ETRACK needed for VA pages. */
	assert_leaf_ok(ewb(f, f->va, slot(f->va2, 0), &blobs[1]));
	assert_false(view(f, f->va).valid);
	assert_int_equal(blobs[1].pcmd.secinfo.flags, SGX_SECINFO_VA);
	assert_int_equal(blobs[1].pcmd.enclave_id, 0);
	assert_int_equal(blobs[1].linaddr, 0);

	assert_leaf_ok(eld(f, true, &blobs[1], NULL, nva, slot(f->va2, 0)));
	check_reloaded(f, nva, &o, false); /* ELDB leaves VA pages unblocked */
	assert_int_equal(slot_val(f, nva, 3), v3);
	assert_int_equal(slot_val(f, f->va2, 0), 0);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, p, slot(nva, 3)));
	assert_memory_equal(bytes(f, p), f->data_plain, 4096);
	assert_int_equal(slot_val(f, nva, 3), 0);
}

/* ------------------------------------------------------- ELDU refusals */

/*
 * Setup for the ELDU error cases: the data page evicted into VA slot 0;
 * the EPCM and the slot are snapshotted, and the post-check proves the
 * refusal changed nothing by loading the blob successfully afterwards.
 */
struct eld_case {
	struct t_epcm_snap s;
	uint64_t slots[4];
	void *target;
};

static void eld_pre(struct fx *f, struct eld_case *c)
{
	evict(f, f->e.data, slot(f->va, 0), &blobs[0]);
	evict(f, f->e.code, slot(f->va, 1), &blobs[1]);
	t_snap(f->cpu, &c->s, NSNAP);
	for (unsigned int i = 0; i < 4; i++)
		c->slots[i] = slot_val(f, f->va, i);
	c->target = page(f, FREE_IDX);
}

static void eld_post(struct fx *f, const struct eld_case *c)
{
	t_assert_snap_equal(f->cpu, &c->s);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(slot_val(f, f->va, i), c->slots[i]);
	assert_true(all_zero(bytes(f, c->target), 4096)); /* nothing left behind */
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, c->target, slot(f->va, 0)));
	assert_memory_equal(bytes(f, c->target), f->data_plain, 4096);
	assert_leaf_ok(eldu(f, &blobs[1], f->e.secs, page(f, FREE_IDX + 1), slot(f->va, 1)));
}

static void eld_pi(struct fx *f, const struct blob *b, struct sgx_pageinfo *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->addr = b->linaddr;
	pi->contents = u64p(b->page);
	pi->metadata = u64p(&b->pcmd);
	pi->secs = u64p(f->e.secs);
}

static void eldu_misaligned_pageinfo(void **state)
{
	struct fx *f = *state;
	static uint8_t raw[128] __attribute__((aligned(64)));
	struct sgx_pageinfo *pi = (struct sgx_pageinfo *)(raw + 8), good;
	struct eld_case c;

	eld_pre(f, &c);
	eld_pi(f, &blobs[0], &good);
	memcpy(raw + 8, &good, sizeof(good)); /* a valid PAGEINFO, just misaligned */
	assert_gp_fault(sgx_eldu(f->cpu, pi, c.target, slot(f->va, 0)));
	assert_gp_fault(sgx_eldb(f->cpu, pi, c.target, slot(f->va, 0)));
	eld_post(f, &c);
}

static void eldu_misaligned_page(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	assert_gp_fault(eldu(f, &blobs[0], f->e.secs, (uint8_t *)c.target + 8, slot(f->va, 0)));
	eld_post(f, &c);
}

static void eldu_page_not_epc(void **state)
{
	struct fx *f = *state;
	static uint8_t host[4096] __attribute__((aligned(4096)));
	struct eld_case c;

	eld_pre(f, &c);
	assert_pf_err(eldu(f, &blobs[0], f->e.secs, host, slot(f->va, 0)), host, 0);
	eld_post(f, &c);
}

static void eldu_misaligned_slot(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	assert_gp_fault(eldu(f, &blobs[0], f->e.secs, c.target, (uint8_t *)f->va + 1));
	eld_post(f, &c);
}

static void eldu_slot_not_epc(void **state)
{
	struct fx *f = *state;
	static uint64_t host_slot;
	struct eld_case c;

	eld_pre(f, &c);
	assert_pf_err(eldu(f, &blobs[0], f->e.secs, c.target, &host_slot), &host_slot, 0);
	eld_post(f, &c);
}

static void eldu_misaligned_pcmd(void **state)
{
	struct fx *f = *state;
	struct sgx_pageinfo pi;
	struct eld_case c;

	eld_pre(f, &c);
	eld_pi(f, &blobs[0], &pi);
	pi.metadata += 32;
	assert_gp_fault(sgx_eldu(f->cpu, &pi, c.target, slot(f->va, 0)));
	eld_post(f, &c);
}

static void eldu_misaligned_srcpge(void **state)
{
	struct fx *f = *state;
	struct sgx_pageinfo pi;
	struct eld_case c;

	eld_pre(f, &c);
	eld_pi(f, &blobs[0], &pi);
	pi.contents += 128;
	assert_gp_fault(sgx_eldu(f->cpu, &pi, c.target, slot(f->va, 0)));
	eld_post(f, &c);
}

static void eldu_page_busy(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	assert_true(page_lock_shared(ent(f, c.target)));
	assert_gp_fault(eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	page_unlock_shared(ent(f, c.target));
	eld_post(f, &c);
}

static void eldu_va_busy(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	assert_true(page_lock_excl(ent(f, f->va)));
	assert_gp_fault(eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	page_unlock_excl(ent(f, f->va));
	eld_post(f, &c);
}

static void eldu_page_valid(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	void *busy_page = f->e.ssa[0];

	eld_pre(f, &c);
	assert_pf_err(eldu(f, &blobs[0], f->e.secs, busy_page, slot(f->va, 0)), busy_page,
		      X86_PF_SGX);
	eld_post(f, &c);
}

static void eldu_va_invalid(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	void *bad = slot(page(f, FREE_IDX + 2), 0);

	eld_pre(f, &c);
	assert_pf_err(eldu(f, &blobs[0], f->e.secs, c.target, bad), bad, X86_PF_SGX);
	eld_post(f, &c);
}

static void eldu_va_not_va(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	void *bad = slot(f->e.ssa[1], 0);

	eld_pre(f, &c);
	assert_pf_err(eldu(f, &blobs[0], f->e.secs, c.target, bad), bad, X86_PF_SGX);
	eld_post(f, &c);
}

static void eldu_secs_misaligned(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	assert_gp_fault(eldu(f, &blobs[0], (uint8_t *)f->e.secs + 32, c.target, slot(f->va, 0)));
	eld_post(f, &c);
}

static void eldu_secs_not_epc(void **state)
{
	struct fx *f = *state;
	static uint8_t host[4096] __attribute__((aligned(4096)));
	struct eld_case c;

	eld_pre(f, &c);
	assert_pf_err(eldu(f, &blobs[0], host, c.target, slot(f->va, 0)), host, 0);
	eld_post(f, &c);
}

static void eldu_secs_busy(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	assert_true(page_lock_excl(ent(f, f->e.secs)));
	assert_gp_fault(eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	page_unlock_excl(ent(f, f->e.secs));
	eld_post(f, &c);
}

static void eldu_secs_not_secs(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	void *inv = page(f, FREE_IDX + 3);

	eld_pre(f, &c);
	assert_pf_err(eldu(f, &blobs[0], f->e.ssa[0], c.target, slot(f->va, 0)), f->e.ssa[0],
		      X86_PF_SGX);
	assert_pf_err(eldu(f, &blobs[0], inv, c.target, slot(f->va, 0)), inv, X86_PF_SGX);
	eld_post(f, &c);
}

/* ----------------------------------------------- MAC binding / anti-replay */

static void mac_fail(struct fx *f, int r)
{
	assert_int_equal(r, SGX_MAC_COMPARE_FAIL);
	(void)f;
}

static void eldu_replay_same_blob(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	void *p2 = page(f, FREE_IDX + 1);

	evict(f, f->e.data, slot(f->va, 0), &blobs[0]);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, page(f, FREE_IDX), slot(f->va, 0)));
	t_snap(f->cpu, &s, NSNAP);
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, p2, slot(f->va, 0)));
	mac_fail(f, eld(f, true, &blobs[0], f->e.secs, p2, slot(f->va, 0)));
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 0), 0);
	assert_true(all_zero(bytes(f, p2), 4096));
}

/*
 * A PCMD whose page type EWB can never have written (7): no SECS is
 * looked at (EID 0, even with PAGEINFO.SECS = 0) and the MAC fails.
 */
static void eldu_unknown_page_type(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	void *p = page(f, FREE_IDX);

	evict(f, f->e.data, slot(f->va, 0), &blobs[0]);
	blobs[0].pcmd.secinfo.flags = (blobs[0].pcmd.secinfo.flags & ~SGX_SECINFO_PAGE_TYPE_MASK) |
				      (7ULL << SGX_SECINFO_PAGE_TYPE_SHIFT);
	t_snap(f->cpu, &s, NSNAP);
	mac_fail(f, eldu(f, &blobs[0], NULL, p, slot(f->va, 0)));
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 0) != 0, 1);
}

/*
 * Operands that overlap the target: the SDM's page checks decide (#PF), not
 * a conflict of the leaf with itself (#GP).
 */
static void eldu_overlapping_operands_pf(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	uint8_t *p = page(f, FREE_IDX);

	evict(f, f->e.data, slot(f->va, 0), &blobs[0]);
	t_snap(f->cpu, &s, NSNAP);
	/* The VA slot inside the (free) target: it is no VA page. */
	t_assert_pf_at(eldu(f, &blobs[0], f->e.secs, p, p + 8), p + 8);
	/* PAGEINFO.SECS is the target, or the VA page: neither is a SECS. */
	t_assert_pf_at(eldu(f, &blobs[0], p, p, slot(f->va, 0)), p);
	t_assert_pf_at(eldu(f, &blobs[0], f->va, p, slot(f->va, 0)), f->va);
	t_assert_snap_equal(f->cpu, &s);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, p, slot(f->va, 0)));
}

static void eldu_replay_stale_version(void **state)
{
	struct fx *f = *state;
	struct t_epcm_snap s;
	void *p = page(f, FREE_IDX);
	uint64_t v;

	evict(f, f->e.data, slot(f->va, 0), &blobs[0]);
	assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, p, slot(f->va, 0)));
	memset(bytes(f, p), 0x77, 4096); /* the enclave changes the page */
	evict(f, p, slot(f->va, 0), &blobs[1]);
	v = slot_val(f, f->va, 0);
	t_snap(f->cpu, &s, NSNAP);
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, p, slot(f->va, 0))); /* the old blob */
	t_assert_snap_equal(f->cpu, &s);
	assert_int_equal(slot_val(f, f->va, 0), v);
	assert_leaf_ok(eldu(f, &blobs[1], f->e.secs, p, slot(f->va, 0)));
	for (unsigned int i = 0; i < 4096; i++)
		assert_int_equal(bytes(f, p)[i], 0x77);
}

static void eldu_swapped_blobs(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	struct blob *mix = &blobs[2];

	eld_pre(f, &c);
	/* data's blob against code's slot, and code's ciphertext with data's PCMD. */
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 1)));
	mac_fail(f, eldu(f, &blobs[1], f->e.secs, c.target, slot(f->va, 0)));
	memcpy(mix->page, blobs[1].page, 4096);
	mix->pcmd = blobs[0].pcmd;
	mix->linaddr = blobs[0].linaddr;
	mac_fail(f, eldu(f, mix, f->e.secs, c.target, slot(f->va, 0)));
	memcpy(mix->page, blobs[0].page, 4096);
	mix->pcmd = blobs[1].pcmd;
	mix->linaddr = blobs[0].linaddr;
	mac_fail(f, eldu(f, mix, f->e.secs, c.target, slot(f->va, 0)));
	eld_post(f, &c);
}

static void eldu_wrong_slot(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 2))); /* empty slot */
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va2, 0)));
	eld_post(f, &c);
}

static void eldu_wrong_linaddr(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	struct blob *b = &blobs[2];

	eld_pre(f, &c);
	*b = blobs[0];
	b->linaddr += 0x1000;
	mac_fail(f, eldu(f, b, f->e.secs, c.target, slot(f->va, 0)));
	b->linaddr = blobs[0].linaddr + 8; /* unaligned address is just another address */
	mac_fail(f, eldu(f, b, f->e.secs, c.target, slot(f->va, 0)));
	eld_post(f, &c);
}

static void eldu_wrong_secs(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	void *other;

	/* Another enclave, same layout; only its EID differs. */
	other = t_ecreate(f->cpu, 30, f->e.base, f->e.size, SGX_ATTR_MODE64BIT);
	eld_pre(f, &c);
	assert_int_not_equal(sgx_cpu_secs_eid(f->cpu, other), sgx_cpu_secs_eid(f->cpu, f->e.secs));
	mac_fail(f, eldu(f, &blobs[0], other, c.target, slot(f->va, 0)));
	assert_int_equal(sgx_cpu_secs_children(f->cpu, other), 0);
	eld_post(f, &c);
}

static void eldu_tampered_ciphertext(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	blobs[0].page[100] ^= 1;
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].page[100] ^= 1;
	blobs[0].page[4095] ^= 0x80;
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].page[4095] ^= 0x80;
	eld_post(f, &c);
}

static void eldu_tampered_tag(void **state)
{
	struct fx *f = *state;
	struct eld_case c;

	eld_pre(f, &c);
	blobs[0].pcmd.mac[15] ^= 0x01;
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].pcmd.mac[15] ^= 0x01;
	eld_post(f, &c);
}

static void eldu_tampered_pcmd(void **state)
{
	struct fx *f = *state;
	struct eld_case c;
	struct sgx_pcmd orig;

	eld_pre(f, &c);
	orig = blobs[0].pcmd;
	blobs[0].pcmd.secinfo.flags |= SGX_SECINFO_X; /* ask for more permissions */
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].pcmd = orig;
	blobs[0].pcmd.secinfo.flags = SGX_SECINFO_TCS; /* another page type */
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].pcmd = orig;
	blobs[0].pcmd.secinfo.flags |= SGX_SECINFO_PENDING;
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].pcmd = orig;
	blobs[0].pcmd.secinfo.reserved[10] = 1;
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].pcmd = orig;
	blobs[0].pcmd.reserved[39] = 1;
	mac_fail(f, eldu(f, &blobs[0], f->e.secs, c.target, slot(f->va, 0)));
	blobs[0].pcmd = orig;
	/* A child blob relabelled as a SECS page: no SECS operand, EID 0. */
	blobs[0].pcmd.secinfo.flags = SGX_SECINFO_SECS;
	mac_fail(f, eldu(f, &blobs[0], NULL, c.target, slot(f->va, 0)));
	blobs[0].pcmd = orig;
	eld_post(f, &c);
}

/* ------------------------------------------------------------- tracking */

static void tracking_ewb_after_eblock(void **state)
{
	struct fx *f = *state;

	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_int_equal(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]), SGX_NOT_TRACKED);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs)); /* nobody inside */
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
}

static void tracking_block_after_etrack(void **state)
{
	struct fx *f = *state;

	/* An ETRACK issued before the EBLOCK does not cover the page. */
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_int_equal(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]), SGX_NOT_TRACKED);
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
}

static void tracking_lp_inside(void **state)
{
	struct fx *f = *state;
	struct secs_hidden *h = hid(f, f->e.secs);
	struct tcs_hidden *t = tcs_hidden(f->cpu, epc_frame(f->cpu, u64p(f->e.tcs)));
	struct tcs_hidden late = { 0 };

	track_enter(h, t); /* an LP that may hold a translation */
	assert_leaf_ok(sgx_eblock(f->cpu, f->e.data));
	assert_leaf_ok(sgx_etrack(f->cpu, f->e.secs));
	assert_int_equal(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]), SGX_NOT_TRACKED);
	assert_int_equal(sgx_etrack(f->cpu, f->e.secs), SGX_PREV_TRK_INCMPL);
	assert_int_equal(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]), SGX_NOT_TRACKED);
	assert_true(view(f, f->e.data).valid);
	/* An LP entering after the ETRACK cannot see the blocked page: irrelevant. */
	track_enter(h, &late);
	track_leave(h, t); /* the IPI's AEX */
	assert_leaf_ok(ewb(f, f->e.data, slot(f->va, 0), &blobs[0]));
	track_leave(h, &late);
	assert_int_equal(atomic_load(&h->trk), TRK_MAKE(1, 0, 0));
}

/* ---------------------------------------------------------- paging crypto */

static _Atomic long crypto_allocs;
static int mem_hooked;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	crypto_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	crypto_allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void crypto_kat_iv_layout(void **state)
{
	struct fx *f = *state;
	static uint8_t in[4096], out[4096], ref[4096];
	uint8_t aad[128], tag[16], rtag[16], iv[12] = { 0 };
	const uint64_t ver = 0x0102030405060708ULL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len;

	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i ^ (i >> 8));
	for (unsigned int i = 0; i < sizeof(aad); i++)
		aad[i] = (uint8_t)(0x80 + i);
	assert_int_equal(paging_encrypt(f->cpu, ver, aad, in, out, tag), 0);

	/* IV = 00 00 00 00 || le64(version). */
	memcpy(iv + 4, &ver, 8);
	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, f->cpu->paging_key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &len, aad, sizeof(aad)), 1);
	assert_int_equal(EVP_EncryptUpdate(c, ref, &len, in, sizeof(in)), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, ref, &len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, rtag), 1);
	EVP_CIPHER_CTX_free(c);
	assert_memory_equal(out, ref, sizeof(ref));
	assert_memory_equal(tag, rtag, sizeof(tag));
}

static void crypto_round_trip_and_rejects(void **state)
{
	struct fx *f = *state;
	static uint8_t in[4096], ct[4096], out[4096];
	uint8_t aad[128] = { 1, 2, 3 }, tag[16];

	memset(in, 0x3C, sizeof(in));
	assert_int_equal(paging_encrypt(f->cpu, 5, aad, in, ct, tag), 0);
	assert_int_equal(paging_decrypt(f->cpu, 5, aad, ct, out, tag), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(paging_decrypt(f->cpu, 6, aad, ct, out, tag), -1);
	assert_int_equal(paging_decrypt(f->cpu, 5ULL << 32, aad, ct, out, tag), -1);
	aad[127] ^= 1;
	assert_int_equal(paging_decrypt(f->cpu, 5, aad, ct, out, tag), -1);
	aad[127] ^= 1;
	tag[0] ^= 1;
	assert_int_equal(paging_decrypt(f->cpu, 5, aad, ct, out, tag), -1);
	tag[0] ^= 1;
	/* In place, both ways. */
	memcpy(out, in, sizeof(in));
	assert_int_equal(paging_encrypt(f->cpu, 9, aad, out, out, tag), 0);
	assert_int_equal(paging_decrypt(f->cpu, 9, aad, out, out, tag), 0);
	assert_memory_equal(out, in, sizeof(in));
}

static void crypto_no_allocation(void **state)
{
	struct fx *f = *state;
	static uint8_t in[4096], ct[4096], out[4096];
	uint8_t aad[128] = { 0 }, tag[16];
	long before;

	assert_int_equal(mem_hooked, 1);
	assert_true(crypto_allocs > 0); /* the hook is live: building the pool went through it */
	memset(in, 0x11, sizeof(in));
	before = crypto_allocs;
	for (uint64_t v = 1; v <= 200; v++) {
		assert_int_equal(paging_encrypt(f->cpu, v, aad, in, ct, tag), 0);
		assert_int_equal(paging_decrypt(f->cpu, v, aad, ct, out, tag), 0);
		tag[3] ^= 0x40;
		assert_int_equal(paging_decrypt(f->cpu, v, aad, ct, out, tag), -1);
	}
	/* Whole leaves too: EWB, a failing ELDU, a good ELDU, many times over. */
	for (unsigned int i = 0; i < 50; i++) {
		void *p = i % 2 ? page(f, FREE_IDX) : f->e.data;
		void *q = i % 2 ? f->e.data : page(f, FREE_IDX);

		evict(f, p, slot(f->va, 0), &blobs[0]);
		blobs[0].pcmd.mac[0] ^= 1;
		mac_fail(f, eldu(f, &blobs[0], f->e.secs, q, slot(f->va, 0)));
		blobs[0].pcmd.mac[0] ^= 1;
		assert_leaf_ok(eldu(f, &blobs[0], f->e.secs, q, slot(f->va, 0)));
	}
	assert_int_equal(crypto_allocs, before);
}

struct stress_arg {
	struct sgx_cpu *cpu;
	unsigned int id;
	int failures;
};

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	uint8_t in[4096], ct[4096], out[4096], aad[128] = { 0 }, tag[16];

	aad[0] = (uint8_t)a->id;
	for (unsigned int i = 0; i < 100; i++) {
		uint64_t v = ((uint64_t)a->id << 32) | (i + 1);

		memset(in, (int)(a->id + i), sizeof(in));
		if (paging_encrypt(a->cpu, v, aad, in, ct, tag) ||
		    paging_decrypt(a->cpu, v, aad, ct, out, tag) || memcmp(in, out, sizeof(in)))
			a->failures++;
		tag[0] ^= 1;
		if (paging_decrypt(a->cpu, v, aad, ct, out, tag) != -1)
			a->failures++;
	}
	return NULL;
}

/* More threads than pool contexts: claims must contend and still all succeed. */
static void crypto_pool_contention(void **state)
{
	struct fx *f = *state;
	enum { N = 96 };
	static pthread_t th[N];
	static struct stress_arg args[N];
	pthread_attr_t attr;

	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
	for (unsigned int i = 0; i < N; i++) {
		args[i] = (struct stress_arg){ .cpu = f->cpu, .id = i };
		assert_int_equal(pthread_create(&th[i], &attr, stress_thread, &args[i]), 0);
	}
	for (unsigned int i = 0; i < N; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	pthread_attr_destroy(&attr);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	/* Before anything allocates through OpenSSL, so every allocation is counted. */
	mem_hooked = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(eldu_reloaded_page_is_tracked, setup, teardown),
		T(epa_success),
		T(paging_pageinfo_in_epc_gp),
		T(eldu_unknown_page_type),
		T(eldu_overlapping_operands_pf),
		T(ewb_after_two_etracks_with_late_lp),
		T(epa_bad_rbx),
		T(epa_misaligned),
		T(epa_not_epc),
		T(epa_busy),
		T(epa_valid_page),
		T(eblock_success_reg),
		T(eblock_success_tcs),
		T(eblock_success_trim),
		T(eblock_stamps_current_epoch),
		T(eblock_misaligned),
		T(eblock_not_epc),
		T(eblock_conflict),
		T(eblock_invalid),
		T(eblock_secs),
		T(eblock_va_not_blockable),
		T(eblock_already_blocked),
		T(etrack_success),
		T(etrack_misaligned),
		T(etrack_not_epc),
		T(etrack_busy_tracking),
		T(etrack_busy_page),
		T(etrack_invalid),
		T(etrack_not_secs),
		T(etrack_prev_incomplete),
		T(ewb_success_reg),
		T(ewb_blob_format),
		T(ewb_versions_unique),
		T(ewb_slot_occupied_still_evicts),
		T(ewb_misaligned_pageinfo),
		T(ewb_misaligned_page),
		T(ewb_page_not_epc),
		T(ewb_misaligned_slot),
		T(ewb_slot_not_epc),
		T(ewb_slot_in_same_page),
		T(ewb_linaddr_nonzero),
		T(ewb_secs_nonzero),
		T(ewb_misaligned_pcmd),
		T(ewb_misaligned_srcpge),
		T(ewb_page_busy),
		T(ewb_va_busy),
		T(ewb_secs_busy),
		T(ewb_page_invalid),
		T(ewb_va_invalid),
		T(ewb_va_not_va),
		T(ewb_not_blocked),
		T(ewb_not_tracked),
		T(ewb_secs_child_present),
		T(eldu_round_trip_reg),
		T(eldb_round_trip_reg),
		T(eldb_round_trip_tcs),
		T(eldu_round_trip_pending),
		T(eldu_round_trip_trim_and_pr),
		T(secs_evict_and_reload),
		T(eldb_secs_not_blocked),
		T(va_evict_and_reload),
		T(eldu_misaligned_pageinfo),
		T(eldu_misaligned_page),
		T(eldu_page_not_epc),
		T(eldu_misaligned_slot),
		T(eldu_slot_not_epc),
		T(eldu_misaligned_pcmd),
		T(eldu_misaligned_srcpge),
		T(eldu_page_busy),
		T(eldu_va_busy),
		T(eldu_page_valid),
		T(eldu_va_invalid),
		T(eldu_va_not_va),
		T(eldu_secs_misaligned),
		T(eldu_secs_not_epc),
		T(eldu_secs_busy),
		T(eldu_secs_not_secs),
		T(eldu_replay_same_blob),
		T(eldu_replay_stale_version),
		T(eldu_swapped_blobs),
		T(eldu_wrong_slot),
		T(eldu_wrong_linaddr),
		T(eldu_wrong_secs),
		T(eldu_tampered_ciphertext),
		T(eldu_tampered_tag),
		T(eldu_tampered_pcmd),
		T(tracking_ewb_after_eblock),
		T(tracking_block_after_etrack),
		T(tracking_lp_inside),
		T(crypto_kat_iv_layout),
		T(crypto_round_trip_and_rejects),
		T(crypto_no_allocation),
		T(crypto_pool_contention),
	};

	return T_RUN(tests);
}
