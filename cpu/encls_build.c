// SPDX-License-Identifier: MIT
/*
 * Building an enclave: ECREATE, EADD, EEXTEND and EINIT (the SDM's ECREATE, EADD, EEXTEND and EINIT descriptions).
 * Each leaf validates into local copies first so that a failing leaf leaves
 * the EPC and the EPCM exactly as they were.
 */
#include "internal.h"

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static bool secinfo_reserved(const struct sgx_secinfo *si)
{
	return (si->flags & SGX_SECINFO_RESERVED_MASK) || !all_zero(si->reserved, 56);
}

static unsigned int secinfo_pt(const struct sgx_secinfo *si)
{
	return (unsigned int)((si->flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT);
}

/* The SECS checks ECREATE makes on the copied page (the SDM's ECREATE operation). */
static bool secs_valid(const struct sgx_cpu *cpu, const struct sgx_secs *s)
{
	bool is64 = s->attributes & SGX_ATTR_MODE64BIT;
	uint32_t max_log2 = is64 ? cpu->cfg.max_enclave_size_64 : cpu->cfg.max_enclave_size_32;

	if (!xfrm_valid(cpu, s->xfrm))
		return false;
	if (s->miscselect & ~cpu->cfg.miscselect_mask)
		return false;
	if ((uint64_t)s->ssa_frame_size * SGX_PAGE_SIZE <
	    (uint64_t)xsave_size(s->xfrm) + SGX_SSA_GPRS_SIZE + misc_size(s->miscselect))
		return false;
	if (is64 ? !canonical(s->base) : s->base >= (1ULL << 32))
		return false;
	if (max_log2 < 64 && s->size >= (1ULL << max_log2))
		return false;
	if (s->size < 8192 || (s->size & (s->size - 1)) || (s->base & (s->size - 1)))
		return false;
	if (s->attributes & ~cpu->cfg.attributes_mask)
		return false;
	if (!all_zero(s->reserved1, sizeof(s->reserved1)) ||
	    !all_zero(s->reserved2, sizeof(s->reserved2)) ||
	    !all_zero(s->reserved3, sizeof(s->reserved3)) ||
	    !all_zero(s->reserved4, sizeof(s->reserved4)))
		return false;
	if (!(s->attributes & SGX_ATTR_KSS) &&
	    (!all_zero(s->config_id, sizeof(s->config_id)) || s->config_svn))
		return false;
	return true;
}

int sgx_ecreate(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *secs_page)
{
	static __thread struct sgx_secs tmp; /* 4 KiB: keep it off small stacks */
	struct sgx_pageinfo pi;
	struct sgx_secinfo si;
	struct secs_hidden *h;
	struct epcm *e;
	uint32_t f;
	int r;

	if (!is_aligned(ptr_u64(pginfo), 32) || !is_aligned(ptr_u64(secs_page), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(secs_page));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(secs_page), 0);
	/* The PAGEINFO itself is a host operand: inside the EPC it is #GP (EMU-CHOICE). */
	r = host_operand(cpu, ptr_u64(pginfo), sizeof(*pginfo), false);
	if (r)
		return r;
	pi = *pginfo; /* hardware works on copies: the caller may change memory */
	if (!is_aligned(pi.contents, SGX_PAGE_SIZE) || !is_aligned(pi.metadata, 64))
		return fault_gp();
	if (pi.addr || pi.secs)
		return fault_gp();
	r = host_operands(cpu, pi.contents, SGX_PAGE_SIZE, pi.metadata, sizeof(si), false);
	if (r)
		return r;
	si = *(const struct sgx_secinfo *)(uintptr_t)pi.metadata;
	if (secinfo_reserved(&si) || secinfo_pt(&si) != SGX_PAGE_TYPE_SECS)
		return fault_gp();
	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	if (e->flags & EPCM_VALID) {
		page_unlock_excl(e);
		return fault_pf(ptr_u64(secs_page), X86_PF_SGX);
	}
	memcpy(&tmp, (const void *)(uintptr_t)pi.contents, sizeof(tmp));
	if (!secs_valid(cpu, &tmp)) {
		page_unlock_excl(e);
		return fault_gp();
	}

	/* Hardware computes these; whatever the source held is overwritten. */
	memset(tmp.mrenclave, 0, sizeof(tmp.mrenclave));
	memset(tmp.mrsigner, 0, sizeof(tmp.mrsigner));
	tmp.isv_prod_id = 0;
	tmp.isv_svn = 0;
	memcpy(frame_bytes(cpu, f), &tmp, sizeof(tmp));
	h = secs_hidden(cpu, f);
	h->eid = atomic_fetch_add(&cpu->next_eid, 1);
	sgx_measure_ecreate(&h->mr, tmp.ssa_frame_size, tmp.size);
	atomic_store(&h->children, 0);
	atomic_store(&h->trk, 0);
	atomic_store(&h->track_busy, 0);

	epcm_set(e, SGX_PAGE_TYPE_SECS, 0, 0, NO_FRAME, 0);
	page_unlock_excl(e);
	STAT_INC(cpu, ecreate);
	return 0;
}

/*
 * Take the SECS of an EADD/EEXTEND/EINIT: shared page lock plus the
 * measurement lock.  Return 0 or the fault to report.
 */
static int lock_secs_measure(struct sgx_cpu *cpu, uint32_t sf, uint64_t addr)
{
	struct epcm *s = epcm_of(cpu, sf);
	uint64_t z = 0;

	if (!page_lock_shared(s))
		return fault_gp();
	if (!(s->flags & EPCM_VALID) || s->pt != SGX_PAGE_TYPE_SECS) {
		page_unlock_shared(s);
		return fault_pf(addr, X86_PF_SGX);
	}
	if (!atomic_compare_exchange_strong(&s->measure_busy, &z, MEASURE_HELD)) {
		page_unlock_shared(s);
		return fault_gp();
	}
	return 0;
}

static void unlock_secs_measure(struct sgx_cpu *cpu, uint32_t sf)
{
	struct epcm *s = epcm_of(cpu, sf);

	atomic_store_explicit(&s->measure_busy, 0, memory_order_release);
	page_unlock_shared(s);
}

/*
 * EADD's TCS checks (the SDM's EADD operation): the reserved areas and, for a
 * 32-bit enclave, the FS/GS limits.  Reserved FLAGS bits are EENTER's and
 * ERESUME's to refuse, not EADD's.
 */
static bool tcs_valid_src(const struct sgx_tcs *t, bool is64)
{
	if (!all_zero(t->reserved, sizeof(t->reserved)))
		return false;
	if (!is64 && ((t->fs_limit & 0xFFF) != 0xFFF || (t->gs_limit & 0xFFF) != 0xFFF))
		return false;
	return true;
}

int sgx_eadd(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc)
{
	uint8_t *page;
	struct sgx_pageinfo pi;
	struct sgx_secinfo si;
	struct sgx_secs *secs;
	struct epcm *e;
	uint64_t flags;
	uint32_t f, sf;
	unsigned int pt;
	int r;

	if (!is_aligned(ptr_u64(pginfo), 32) || !is_aligned(ptr_u64(epc), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(epc));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(epc), 0);
	/* The PAGEINFO itself is a host operand: inside the EPC it is #GP (EMU-CHOICE). */
	r = host_operand(cpu, ptr_u64(pginfo), sizeof(*pginfo), false);
	if (r)
		return r;
	pi = *pginfo; /* one snapshot: what is measured is what is recorded */
	if (!is_aligned(pi.contents, SGX_PAGE_SIZE) || !is_aligned(pi.secs, SGX_PAGE_SIZE) ||
	    !is_aligned(pi.metadata, 64) || !is_aligned(pi.addr, SGX_PAGE_SIZE))
		return fault_gp();
	r = host_operands(cpu, pi.contents, SGX_PAGE_SIZE, pi.metadata, sizeof(si), false);
	if (r)
		return r;
	sf = epc_frame(cpu, pi.secs);
	if (sf == NO_FRAME)
		return fault_pf(pi.secs, 0);
	si = *(const struct sgx_secinfo *)(uintptr_t)pi.metadata;
	pt = secinfo_pt(&si);
	if (secinfo_reserved(&si) || (pt != SGX_PAGE_TYPE_REG && pt != SGX_PAGE_TYPE_TCS))
		return fault_gp();

	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	r = fault_pf(ptr_u64(epc), X86_PF_SGX);
	if (e->flags & EPCM_VALID)
		goto out_page;
	/* Target and SECS the same page: the SECS operand is an invalid page. */
	r = fault_pf(pi.secs, X86_PF_SGX);
	if (sf == f)
		goto out_page;
	r = lock_secs_measure(cpu, sf, pi.secs);
	if (r)
		goto out_page;
	secs = secs_of(cpu, sf);

	/*
	 * Copy straight into the frame: it is invalid and held exclusively, so
	 * nobody can see it; a failed check scrubs it again (out_scrub).
	 */
	if (pt == SGX_PAGE_TYPE_REG)
		frame_bind(cpu, f, sf, pi.addr);
	page = frame_bytes(cpu, f);
	memcpy(page, (const void *)(uintptr_t)pi.contents, SGX_PAGE_SIZE);
	flags = si.flags;
	r = fault_gp();
	if (pt == SGX_PAGE_TYPE_TCS) {
		if (!tcs_valid_src((const struct sgx_tcs *)page, secs->attributes & SGX_ATTR_MODE64BIT))
			goto out_scrub;
	} else if ((flags & SGX_SECINFO_W) && !(flags & SGX_SECINFO_R)) {
		goto out_scrub;
	}
	if (pi.addr < secs->base || pi.addr - secs->base >= secs->size)
		goto out_scrub;
	if (secs_hidden(cpu, sf)->initialized)
		goto out_scrub;

	if (pt == SGX_PAGE_TYPE_TCS) {
		struct sgx_tcs *t = (struct sgx_tcs *)page;

		/* Forced before measuring, so the signer must hash RWX = 0. */
		flags &= ~SGX_SECINFO_PERMISSION_MASK;
		t->flags &= ~SGX_TCS_DBGOPTIN;
		t->ssa_index = 0;
		t->exit_addr = 0;
		t->state = 0;
	}
	sgx_measure_eadd(&secs_hidden(cpu, sf)->mr, pi.addr - secs->base,
			 flags & (SGX_SECINFO_PAGE_TYPE_MASK | SGX_SECINFO_PERMISSION_MASK |
				  SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED | SGX_SECINFO_PR));

	epcm_set(e, (uint8_t)pt, (uint8_t)(flags & SGX_SECINFO_PERMISSION_MASK), pi.addr, sf, 0);
	atomic_fetch_add(&secs_hidden(cpu, sf)->children, 1);
	STAT_INC(cpu, eadd);
	r = 0;
out_scrub:
	if (r)
		frame_scrub(cpu, f);
	unlock_secs_measure(cpu, sf);
out_page:
	page_unlock_excl(e);
	return r;
}

/* EEXTEND's checks of the chunk's page (#PF) and of its SECS (#GP). */
static int eextend_check(const struct epcm *e, uint32_t sf, uint64_t c)
{
	if (!epcm_measurable(e))
		return fault_pf(c, X86_PF_SGX);
	return e->secs == sf ? 0 : fault_gp();
}

/*
 * EEXTEND from the chunk page's checks on, with the page held and the SECS's
 * measurement taken by the caller.
 */
static int eextend_held(struct sgx_cpu *cpu, const struct epcm *e, uint32_t f, uint32_t sf,
			uint64_t c)
{
	struct secs_hidden *h;
	const uint8_t *secs;
	int r = eextend_check(e, sf, c);

	if (r)
		return r;
	secs = frame_bytes(cpu, sf);
	h = (struct secs_hidden *)(secs + SECS_HIDDEN_OFFSET);
	if (h->initialized)
		return fault_gp();
	sgx_measure_eextend(&h->mr, e->linaddr - ((const struct sgx_secs *)secs)->base + (c & 0xFFF),
			    frame_bytes(cpu, f) + (c & 0xFFF));
	STAT_INC(cpu, eextend);
	return 0;
}

/*
 * The SDM's order of checks, with the page lock taken shared: what EEXTEND
 * does when the fast path in sgx_eextend() does not apply.
 */
static int eextend_locked(struct sgx_cpu *cpu, struct epcm *e, uint32_t f, uint32_t sf,
			  uint64_t c)
{
	struct epcm *s = epcm_of(cpu, sf);
	uint64_t z = 0;
	int r;

	if (!page_lock_shared(e))
		return fault_gp();
	r = eextend_check(e, sf, c);
	/*
	 * No SECS page lock needed: the chunk's page is a valid child held
	 * shared, so its SECS has a child and neither EREMOVE nor EWB can take
	 * it.  Only the measurement itself is exclusive.
	 */
	if (!r && !atomic_compare_exchange_strong(&s->measure_busy, &z, MEASURE_EXTEND(f)))
		r = fault_gp();
	else if (!r) {
		r = eextend_held(cpu, e, f, sf, c);
		atomic_store_explicit(&s->measure_busy, 0, memory_order_release);
	}
	page_unlock_shared(e);
	return r;
}

/*
 * EEXTEND is sixteen leaves per measured page, and each atomic it does costs
 * as much as a fifth of its own SHA-256 work.  So it holds the chunk's page
 * without the page lock: one compare-and-swap takes the SECS's measurement
 * word with the chunk's frame in it (MEASURE_EXTEND), then it reads the page
 * lock.  An exclusive taker of the page claims the lock, then reads that word
 * (leaf_lock_excl()); with both sides sequentially consistent, one of the two
 * sees the other and gives way, so EEXTEND conflicts with exactly the leaves
 * it conflicted with under a shared page lock, and still with none of the
 * shared holders.  Only where the entry, read ahead, says the page is a valid
 * child of @secs_page: anything else (and a busy measurement, whose fault
 * comes after the page's own checks) takes the locked path.  One difference
 * remains, in a race only: if the page stops being that SECS's child between
 * that look and the claim (EREMOVE or EWB of it at the same moment), the
 * EEXTEND fails as it should, but an EADD, EEXTEND or EINIT of the same
 * enclave that meets its short-lived claim fails too (#GP).
 */
int sgx_eextend(struct sgx_cpu *cpu, void *secs_page, void *chunk)
{
	uint64_t c = ptr_u64(chunk), z = 0;
	struct epcm *e, *s;
	uint32_t sf, f;
	int r;

	/* Fault records are written on the failure paths only: this leaf is hot. */
	r = epc_page_operand(cpu, secs_page, &sf);
	if (r)
		return r;
	if (!is_aligned(c, 256))
		return fault_gp();
	f = epc_frame(cpu, c);
	if (f == NO_FRAME)
		return fault_pf(c, 0);
	e = epcm_of(cpu, f);
	s = epcm_of(cpu, sf);
	if (!epcm_measurable(e) || e->secs != sf ||
	    !atomic_compare_exchange_strong(&s->measure_busy, &z, MEASURE_EXTEND(f)))
		return eextend_locked(cpu, e, f, sf, c);
	/* eextend_held() reads the entry again: it may have changed before the claim. */
	r = page_lock_settled(e) < 0 ? fault_gp() : eextend_held(cpu, e, f, sf, c);
	atomic_store_explicit(&s->measure_busy, 0, memory_order_release);
	return r;
}

/* Token checks and MAC (the SDM's EINIT operation, after the signature).  Return 0 or an SGX code. */
static int check_token(struct sgx_cpu *cpu, const struct sgx_einittoken *tok,
		       const struct sgx_secs *secs, const uint8_t mrenclave[32],
		       const uint8_t mrsigner[32], const uint64_t lehash[4])
{
	struct key_deps d;
	uint8_t key[16], mac[16], svn[16];

	if (!(tok->valid & 1))
		return memcmp(mrsigner, lehash, 32) ? SGX_INVALID_EINITTOKEN : 0;
	if ((tok->maskedattributesle & SGX_ATTR_DEBUG) && !(secs->attributes & SGX_ATTR_DEBUG))
		return SGX_INVALID_EINITTOKEN;
	if ((tok->valid & ~1u) || !all_zero(tok->reserved1, sizeof(tok->reserved1)) ||
	    !all_zero(tok->reserved2, sizeof(tok->reserved2)) ||
	    !all_zero(tok->reserved3, sizeof(tok->reserved3)) ||
	    !all_zero(tok->reserved4, sizeof(tok->reserved4)))
		return SGX_INVALID_EINITTOKEN;
	cpu_get_cpusvn(cpu, svn);
	if (cpusvn_cmp(tok->cpusvnle, svn) > 0)
		return SGX_INVALID_CPUSVN;
	memset(&d, 0, sizeof(d));
	d.keyname = SGX_KEYNAME_EINITTOKEN;
	d.isvprodid = tok->isvprodidle;
	d.isvsvn = tok->isvsvnle;
	memcpy(d.owner_epoch, cpu->owner_epoch, 16);
	d.attributes = tok->maskedattributesle;
	d.xfrm = tok->maskedxfrmle;
	d.miscselect = tok->maskedmiscselectle;
	memcpy(d.mrsigner, lehash, 32);
	memcpy(d.keyid, tok->keyid, 32);
	memcpy(d.cpusvn, tok->cpusvnle, 16);
	/* The SDM's EINIT also binds SEAL_KEY_FUSES, as EGETKEY(EINITTOKEN) does. */
	memcpy(d.seal_key_fuses, cpu->seal_key_fuses, 16);
	memcpy(d.padding, sgx_padding_const, 352);
	derive_key(cpu, &d, key);
	aes_cmac(key, tok, 192, mac);
	if (memcmp(mac, tok->mac, 16))
		return SGX_INVALID_EINITTOKEN;
	if (memcmp(tok->mrenclave, mrenclave, 32) || memcmp(tok->mrsigner, mrsigner, 32))
		return SGX_INVALID_MEASUREMENT;
	if (tok->attributes != secs->attributes || tok->xfrm != secs->xfrm)
		return SGX_INVALID_ATTRIBUTE; /* the SDM's undefined INVALID_EINIT_ATTRIBUTE */
	return 0;
}

int sgx_einit(struct sgx_cpu *cpu, const void *sigstruct, const void *token, void *secs_page)
{
	static __thread struct sgx_sigstruct ss;
	static __thread struct sgx_einittoken tok;
	uint8_t padding[352], mrenclave[32], mrsigner[32];
	uint64_t lehash[4];
	struct sgx_measure mr;
	struct secs_hidden *h;
	struct sgx_secs *secs;
	uint32_t sf;
	int r;

	if (!is_aligned(ptr_u64(sigstruct), SGX_PAGE_SIZE) ||
	    !is_aligned(ptr_u64(secs_page), SGX_PAGE_SIZE) || !is_aligned(ptr_u64(token), 512))
		return fault_gp();
	sf = epc_frame(cpu, ptr_u64(secs_page));
	if (sf == NO_FRAME)
		return fault_pf(ptr_u64(secs_page), 0);
	r = host_operands(cpu, ptr_u64(sigstruct), sizeof(ss), ptr_u64(token), sizeof(tok),
			  false);
	if (r)
		return r;
	memcpy(&ss, sigstruct, sizeof(ss));
	memcpy(&tok, token, sizeof(tok));

	r = sigstruct_check_format(cpu, &ss);
	if (r)
		return r;
	/* The event window opens with the RSA check (the SDM's EINIT operation). */
	for (uint64_t ev = atomic_load(&cpu->pending_events); ev;)
		if (atomic_compare_exchange_weak(&cpu->pending_events, &ev, ev - 1))
			return SGX_UNMASKED_EVENT;
	r = sigstruct_verify(&ss, padding);
	if (r)
		return r;

	r = lock_secs_measure(cpu, sf, ptr_u64(secs_page));
	if (r)
		return r;
	secs = secs_of(cpu, sf);
	h = secs_hidden(cpu, sf);
	r = SGX_INVALID_SIG_STRUCT;
	if (!(secs->attributes & SGX_ATTR_KSS) &&
	    (!all_zero(ss.body.isvfamilyid, 16) || !all_zero(ss.body.isvextprodid, 16)))
		goto out;
	r = fault_gp();
	if (h->initialized)
		goto out;

	mr = h->mr; /* finalise a copy: a failed EINIT changes nothing */
	sgx_measure_final(&mr, mrenclave);
	r = SGX_INVALID_MEASUREMENT;
	if (memcmp(mrenclave, ss.body.mrenclave, 32))
		goto out;
	sgx_sigstruct_mrsigner_raw(ss.modulus, mrsigner);
	cpu_lehash_snapshot(cpu, lehash);
	r = SGX_INVALID_ATTRIBUTE;
	if ((secs->attributes & SGX_ATTR_EINITTOKENKEY) && memcmp(mrsigner, lehash, 32))
		goto out;
	if ((secs->attributes & ss.body.attributes_mask) !=
		    (ss.body.attributes & ss.body.attributes_mask) ||
	    (secs->xfrm & ss.body.xfrm_mask) != (ss.body.xfrm & ss.body.xfrm_mask))
		goto out;
	if ((secs->miscselect & ss.body.misc_mask) != (ss.body.miscselect & ss.body.misc_mask))
		goto out;
	r = check_token(cpu, &tok, secs, mrenclave, mrsigner, lehash);
	if (r)
		goto out;

	memcpy(secs->mrenclave, mrenclave, 32);
	memcpy(secs->mrsigner, mrsigner, 32);
	secs->isv_prod_id = ss.body.isvprodid;
	secs->isv_svn = ss.body.isvsvn;
	memcpy(h->isvfamilyid, ss.body.isvfamilyid, 16);
	memcpy(h->isvextprodid, ss.body.isvextprodid, 16);
	memcpy(h->padding, padding, 352);
	secs->attributes |= SGX_ATTR_INIT;
	h->initialized = 1;
	STAT_INC(cpu, einit);
	r = 0;
out:
	unlock_secs_measure(cpu, sf);
	return r;
}
