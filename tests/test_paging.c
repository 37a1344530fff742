// SPDX-License-Identifier: MIT
/*
 * Paging leaves (EPA, EBLOCK, ETRACK, EWB, ELDU, ELDB) and the paging crypto:
 * every outcome the spec lists for each leaf, round trips of every page type,
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
	assert_memory_equal(&before, &after, sizeof(before)); /* nothing else changed */
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
	assert_int_equal(sgx_cpu_touched_frames(f->cpu), touched - 1); /* frame given back */
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
