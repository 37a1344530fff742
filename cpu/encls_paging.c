// SPDX-License-Identifier: MIT
/*
 * Paging leaves: EPA, EBLOCK, ETRACK, EWB, ELDB and ELDU (the SDM's
 * descriptions of each leaf, and its chapter "Enclave Operation" for the
 * eviction flow).
 *
 * Locking.  The page a leaf changes is taken exclusively.  A VA page is taken
 * shared by EWB/ELDx that use one of its slots, so several slots of one VA
 * page can be used at once while EWB/EREMOVE of the VA page itself conflicts
 * (#GP); the slot itself is updated with one atomic exchange (EWB) or
 * compare-and-swap (ELDx), and an ELDx whose slot changed under it reports the
 * conflict as #GP, exactly as "VA slot being modified" would.  A child page's
 * SECS is taken shared by EWB (tracking state, EID, child count) and ELDx
 * (EID, child count); EWB/EREMOVE of a SECS take it exclusively, so a SECS
 * cannot leave the EPC while one of its children is being paged.
 *
 * The MAC header (implementation-defined, never visible; docs/architecture.md,
 * "Choices where the SDM is silent") is:
 *   0 EID, 8 SECINFO (64 bytes: FLAGS, reserved), 72 LINADDR,
 *   80 PCMD reserved (40 bytes), 120..127 zero.
 */
#include "internal.h"

struct mac_header {
	uint64_t eid;
	uint64_t secinfo_flags;
	uint8_t secinfo_reserved[56];
	uint64_t linaddr;
	uint8_t pcmd_reserved[40];
	uint8_t zero[8];
} __attribute__((packed));
_Static_assert(sizeof(struct mac_header) == 128, "MAC header is 128 bytes");
_Static_assert(offsetof(struct mac_header, linaddr) == 72, "MAC header LINADDR");

/* Pages that belong to an enclave (ENCLAVESECS set): everything but SECS and VA. */
static bool child_pt(unsigned int pt)
{
	return pt != SGX_PAGE_TYPE_SECS && pt != SGX_PAGE_TYPE_VA;
}

/* The SECINFO.FLAGS of an EPCM entry as EWB records them (BLOCKED is not recorded). */
static uint64_t epcm_secinfo_flags(const struct epcm *e)
{
	uint64_t f = ((uint64_t)e->pt << SGX_SECINFO_PAGE_TYPE_SHIFT) |
		     (e->rwx & SGX_SECINFO_PERMISSION_MASK);

	if (e->flags & EPCM_PENDING)
		f |= SGX_SECINFO_PENDING;
	if (e->flags & EPCM_MODIFIED)
		f |= SGX_SECINFO_MODIFIED;
	if (e->flags & EPCM_PR)
		f |= SGX_SECINFO_PR;
	return f;
}

/* Invalid entries read back as all zero, like never-used ones. */
static void epcm_clear(struct epcm *e)
{
	e->flags = 0;
	e->rwx = 0;
	e->pt = 0;
	e->secs = 0;
	e->bepoch = 0;
	e->linaddr = 0;
}

static uint32_t secs_epoch(struct sgx_cpu *cpu, uint32_t sf)
{
	return TRK_EPOCH(atomic_load(&secs_hidden(cpu, sf)->trk));
}

/* The 8-byte VA slot at @va_slot, inside VA frame @vf. */
static uint64_t *va_slot_ptr(struct sgx_cpu *cpu, uint32_t vf, const void *va_slot)
{
	return (uint64_t *)(frame_bytes(cpu, vf) + (ptr_u64(va_slot) & (SGX_PAGE_SIZE - 1)));
}

/**
 * sgx_epa() - turn a free EPC page into a Version Array page
 * @cpu: the platform
 * @rbx: must be PT_VA (3)
 * @epc: the EPC page
 *
 * Return: 0, #GP (bad RBX, misaligned, page busy) or #PF (not EPC, page valid).
 */
int sgx_epa(struct sgx_cpu *cpu, uint64_t rbx, void *epc)
{
	struct epcm *e;
	uint32_t f;

	if (rbx != SGX_PAGE_TYPE_VA || !is_aligned(ptr_u64(epc), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(epc));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(epc), 0);
	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	if (e->flags & EPCM_VALID) {
		page_unlock_excl(e);
		return fault_pf(ptr_u64(epc), X86_PF_SGX);
	}
	memset(frame_bytes(cpu, f), 0, SGX_PAGE_SIZE); /* every slot empty */
	epcm_set(e, SGX_PAGE_TYPE_VA, 0, 0, NO_FRAME, 0);
	page_unlock_excl(e);
	STAT_INC(cpu, epa);
	return 0;
}

/**
 * sgx_eblock() - mark a page BLOCKED so no new translations to it are made
 * @cpu: the platform
 * @epc: the EPC page
 *
 * Records the SECS's current tracking epoch in the page (docs/architecture.md,
 * "Tracking").
 *
 * Return: 0; SGX_EPC_PAGE_CONFLICT, SGX_PG_INVLD; the informational (CF=1)
 * codes SGX_PG_IS_SECS, SGX_NOTBLOCKABLE, SGX_BLKSTATE; #GP (misaligned) or
 * #PF (not EPC).
 */
int sgx_eblock(struct sgx_cpu *cpu, void *epc)
{
	struct epcm *e;
	uint32_t f;
	int r = 0;

	r = epc_page_operand(cpu, epc, &f);
	if (r)
		return r;
	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return SGX_EPC_PAGE_CONFLICT;
	if (!(e->flags & EPCM_VALID))
		r = SGX_PG_INVLD;
	else if (e->pt == SGX_PAGE_TYPE_SECS)
		r = SGX_PG_IS_SECS;
	else if (!child_pt(e->pt))
		r = SGX_NOTBLOCKABLE;
	else if (e->flags & EPCM_BLOCKED)
		r = SGX_BLKSTATE;
	if (r) {
		page_unlock_excl(e);
		return r;
	}
	/*
	 * No SECS lock needed: this valid child keeps the child count above
	 * zero, so its SECS can neither be evicted nor removed meanwhile.
	 */
	/*
	 * Block first, then read the epoch: an LP that enters after the read
	 * cannot have seen the page unblocked, so the stamp is never too new.
	 */
	e->flags |= EPCM_BLOCKED;
	atomic_thread_fence(memory_order_seq_cst);
	e->bepoch = secs_epoch(cpu, e->secs);
	page_unlock_excl(e);
	STAT_INC(cpu, eblock);
	return 0;
}

/**
 * sgx_etrack() - start a new tracking cycle for an enclave
 * @cpu: the platform
 * @secs: the enclave's SECS page
 *
 * Return: 0, SGX_PREV_TRK_INCMPL while an LP that was inside at the previous
 * ETRACK is still inside; #GP (misaligned, busy) or #PF (not EPC, not a SECS).
 */
int sgx_etrack(struct sgx_cpu *cpu, void *secs)
{
	struct secs_hidden *h;
	struct epcm *se;
	uint64_t o, n;
	uint32_t sf;
	int busy = 0, r;

	r = epc_page_operand(cpu, secs, &sf);
	if (r)
		return r;
	se = epcm_of(cpu, sf);
	/* Shared, so that the SECS (and its tracking state) stays put. */
	if (!page_lock_shared(se))
		return fault_gp();
	if (!(se->flags & EPCM_VALID) || se->pt != SGX_PAGE_TYPE_SECS) {
		page_unlock_shared(se);
		return fault_pf(ptr_u64(secs), X86_PF_SGX);
	}
	/*
	 * The tracking resource lives in the SECS, so it is only looked at once
	 * the page is known to be one; an invalid page has no tracking resource
	 * in use, so the #GP/#PF order of the SDM's pseudocode cannot
	 * differ.
	 */
	h = secs_hidden(cpu, sf);
	if (!atomic_compare_exchange_strong(&h->track_busy, &busy, 1)) {
		page_unlock_shared(se);
		return fault_gp();
	}
	o = atomic_load(&h->trk);
	do {
		r = SGX_PREV_TRK_INCMPL;
		if (TRK_PREV(o))
			break;
		/* Everyone inside now entered before the new epoch. */
		n = TRK_MAKE(TRK_EPOCH(o) + 1, TRK_INSIDE(o), TRK_INSIDE(o));
		r = 0;
	} while (!atomic_compare_exchange_weak(&h->trk, &o, n));
	atomic_store(&h->track_busy, 0);
	page_unlock_shared(se);
	if (!r)
		STAT_INC(cpu, etrack);
	return r;
}

/**
 * sgx_ewb() - evict an EPC page: encrypt it out, record its version in a VA slot
 * @cpu: the platform
 * @pginfo: LINADDR and SECS must be 0; SRCPGE receives the ciphertext, PCMD
 *          the metadata; LINADDR is written back with the page's address
 * @epc: the page to evict (REG/TCS/TRIM blocked and tracked, a SECS with no
 *       children, or a VA page)
 * @va_slot: an 8-byte slot in a VA page other than @epc
 *
 * Return: 0; SGX_VA_SLOT_OCCUPIED (informational, the page *was* evicted);
 * SGX_PAGE_NOT_BLOCKED, SGX_NOT_TRACKED, SGX_CHILD_PRESENT (nothing changed);
 * #GP (alignment, operands, busy) or #PF (not EPC, invalid page, bad VA page).
 */
int sgx_ewb(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	struct sgx_pcmd pcmd;
	struct sgx_pageinfo pi;
	struct mac_header hdr;
	struct epcm *e, *ve;
	uint64_t eid_hdr = 0, eid_pcmd = 0, flags, ver, old;
	uint32_t f, vf, sf = NO_FRAME;
	bool child;
	int r;

	if (!is_aligned(ptr_u64(pginfo), 32) || !is_aligned(ptr_u64(epc), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(epc));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(epc), 0);
	if (!is_aligned(ptr_u64(va_slot), 8))
		return fault_gp();
	vf = epc_frame(cpu, ptr_u64(va_slot));
	if (vf == NO_FRAME)
		return fault_pf(ptr_u64(va_slot), 0);
	if (vf == f)
		return fault_gp();
	/* The PAGEINFO itself is a host operand: inside the EPC it is #GP (EMU-CHOICE). */
	r = host_operand(cpu, ptr_u64(pginfo), sizeof(*pginfo), false);
	if (r)
		return r;
	pi = *pginfo;
	if (pi.addr || pi.secs)
		return fault_gp();
	if (!is_aligned(pi.metadata, 128) || !is_aligned(pi.contents, SGX_PAGE_SIZE))
		return fault_gp();
	r = host_operands(cpu, pi.metadata, sizeof(struct sgx_pcmd), pi.contents, SGX_PAGE_SIZE,
			  true);
	if (r)
		return r;

	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	ve = epcm_of(cpu, vf);
	if (!page_lock_shared(ve)) {
		page_unlock_excl(e);
		return fault_gp();
	}
	if (!(e->flags & EPCM_VALID)) {
		r = fault_pf(ptr_u64(epc), X86_PF_SGX);
		goto out_va;
	}
	if (!(ve->flags & EPCM_VALID) || ve->pt != SGX_PAGE_TYPE_VA) {
		r = fault_pf(ptr_u64(va_slot), X86_PF_SGX);
		goto out_va;
	}

	child = child_pt(e->pt);
	if (child) {
		struct secs_hidden *h;

		sf = e->secs;
		if (!page_lock_shared(epcm_of(cpu, sf))) {
			sf = NO_FRAME;
			r = fault_gp();
			goto out_va;
		}
		h = secs_hidden(cpu, sf);
		r = SGX_PAGE_NOT_BLOCKED;
		if (!(e->flags & EPCM_BLOCKED))
			goto out_secs;
		r = SGX_NOT_TRACKED;
		if (!page_tracked(h, e->bepoch))
			goto out_secs;
		eid_hdr = eid_pcmd = h->eid;
	} else if (e->pt == SGX_PAGE_TYPE_SECS) {
		struct secs_hidden *h = secs_hidden(cpu, f);

		r = SGX_CHILD_PRESENT;
		if (atomic_load(&h->children))
			goto out_va;
		eid_pcmd = h->eid; /* the header keeps EID 0 */
	}

	flags = epcm_secinfo_flags(e);
	memset(&hdr, 0, sizeof(hdr));
	hdr.eid = eid_hdr;
	hdr.secinfo_flags = flags;
	hdr.linaddr = e->linaddr;
	memset(&pcmd, 0, sizeof(pcmd));
	pcmd.secinfo.flags = flags;
	pcmd.enclave_id = eid_pcmd;

	/* Fresh, never zero (the counter starts at 1), never reused. */
	ver = atomic_fetch_add(&cpu->paging_version, 1);
	if (paging_encrypt(cpu, ver, (const uint8_t *)&hdr, frame_bytes(cpu, f),
			   (uint8_t *)(uintptr_t)pi.contents, pcmd.mac)) {
		r = fault_gp(); /* OpenSSL failed: nothing has changed yet */
		goto out_secs;
	}
	memcpy((void *)(uintptr_t)pi.metadata, &pcmd, sizeof(pcmd));
	pginfo->addr = e->linaddr;

	old = __atomic_exchange_n(va_slot_ptr(cpu, vf, va_slot), ver, __ATOMIC_ACQ_REL);
	epcm_clear(e);
	frame_scrub(cpu, f);
	if (child)
		atomic_fetch_sub(&secs_hidden(cpu, sf)->children, 1);
	STAT_INC(cpu, ewb);
	r = old ? SGX_VA_SLOT_OCCUPIED : 0;
out_secs:
	if (sf != NO_FRAME)
		page_unlock_shared(epcm_of(cpu, sf));
out_va:
	page_unlock_shared(ve);
	page_unlock_excl(e);
	return r;
}

/* ELDB and ELDU: identical but for BLOCKED on the reloaded child page. */
static int eld(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc, void *va_slot,
	       bool blocked)
{
	struct sgx_pcmd pcmd;
	struct sgx_pageinfo pi;
	struct mac_header hdr;
	struct epcm *e, *ve;
	uint64_t ver, *slot;
	uint32_t f, vf, sf = NO_FRAME;
	unsigned int pt;
	uint8_t *page;
	bool child;
	int r;

	if (!is_aligned(ptr_u64(pginfo), 32) || !is_aligned(ptr_u64(epc), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(epc));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(epc), 0);
	if (!is_aligned(ptr_u64(va_slot), 8))
		return fault_gp();
	vf = epc_frame(cpu, ptr_u64(va_slot));
	if (vf == NO_FRAME)
		return fault_pf(ptr_u64(va_slot), 0);
	/* The PAGEINFO itself is a host operand: inside the EPC it is #GP (EMU-CHOICE). */
	r = host_operand(cpu, ptr_u64(pginfo), sizeof(*pginfo), false);
	if (r)
		return r;
	pi = *pginfo;
	if (!is_aligned(pi.metadata, 128) || !is_aligned(pi.contents, SGX_PAGE_SIZE))
		return fault_gp();
	r = host_operands(cpu, pi.metadata, sizeof(struct sgx_pcmd), pi.contents, SGX_PAGE_SIZE,
			  false);
	if (r)
		return r;

	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	/*
	 * @va_slot inside @epc: not a conflict with ourselves but the SDM's
	 * page checks -- a valid target is #PF on it, an invalid one cannot be
	 * the VA page, #PF on the slot.
	 */
	if (vf == f) {
		r = (e->flags & EPCM_VALID) ? fault_pf(ptr_u64(epc), X86_PF_SGX) :
					      fault_pf(ptr_u64(va_slot), X86_PF_SGX);
		page_unlock_excl(e);
		return r;
	}
	ve = epcm_of(cpu, vf);
	if (!page_lock_shared(ve)) {
		page_unlock_excl(e);
		return fault_gp();
	}
	if (e->flags & EPCM_VALID) {
		r = fault_pf(ptr_u64(epc), X86_PF_SGX);
		goto out_va;
	}
	if (!(ve->flags & EPCM_VALID) || ve->pt != SGX_PAGE_TYPE_VA) {
		r = fault_pf(ptr_u64(va_slot), X86_PF_SGX);
		goto out_va;
	}

	/* Everything the MAC covers comes from PCMD and the operands, read once. */
	memcpy(&pcmd, (const void *)(uintptr_t)pi.metadata, sizeof(pcmd));
	memset(&hdr, 0, sizeof(hdr));
	hdr.secinfo_flags = pcmd.secinfo.flags;
	memcpy(hdr.secinfo_reserved, pcmd.secinfo.reserved, sizeof(hdr.secinfo_reserved));
	memcpy(hdr.pcmd_reserved, pcmd.reserved, sizeof(hdr.pcmd_reserved));
	hdr.linaddr = pi.addr;
	pt = (unsigned int)((pcmd.secinfo.flags & SGX_SECINFO_PAGE_TYPE_MASK) >>
			    SGX_SECINFO_PAGE_TYPE_SHIFT);
	/*
	 * Only the child types EWB can have written name a SECS; any other
	 * type (not SECS or VA) gets EID 0 and no SECS checks, as in the SDM,
	 * and then fails the MAC.
	 */
	child = pt == SGX_PAGE_TYPE_REG || pt == SGX_PAGE_TYPE_TCS || pt == SGX_PAGE_TYPE_TRIM;
	if (child) {
		struct epcm *se;

		if (!is_aligned(pi.secs, SGX_PAGE_SIZE)) {
			r = fault_gp();
			goto out_va;
		}
		sf = epc_frame(cpu, pi.secs);
		if (sf == NO_FRAME) {
			r = fault_pf(pi.secs, 0);
			goto out_va;
		}
		/* The (invalid) target itself, or the VA page: not a SECS, #PF. */
		if (sf == f || sf == vf) {
			sf = NO_FRAME;
			r = fault_pf(pi.secs, X86_PF_SGX);
			goto out_va;
		}
		se = epcm_of(cpu, sf);
		if (!page_lock_shared(se)) {
			sf = NO_FRAME;
			r = fault_gp();
			goto out_va;
		}
		if (!(se->flags & EPCM_VALID) || se->pt != SGX_PAGE_TYPE_SECS) {
			r = fault_pf(pi.secs, X86_PF_SGX);
			goto out_secs;
		}
		hdr.eid = secs_hidden(cpu, sf)->eid;
	}

	/* Copy first, then open in place: the source may change under us. */
	if (child && (pt == SGX_PAGE_TYPE_REG || pt == SGX_PAGE_TYPE_TRIM))
		frame_bind(cpu, f, sf, pi.addr);
	page = frame_bytes(cpu, f);
	memcpy(page, (const void *)(uintptr_t)pi.contents, SGX_PAGE_SIZE);
	slot = va_slot_ptr(cpu, vf, va_slot);
	ver = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (paging_decrypt(cpu, ver, (const uint8_t *)&hdr, page, page, pcmd.mac)) {
		frame_scrub(cpu, f); /* the page stays invalid, and empty */
		r = SGX_MAC_COMPARE_FAIL;
		goto out_secs;
	}
	/* Clearing the slot is what makes a replay of this blob fail. */
	if (!__atomic_compare_exchange_n(slot, &ver, 0, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		frame_scrub(cpu, f); /* the slot was modified meanwhile */
		r = fault_gp();
		goto out_secs;
	}

	e->pt = (uint8_t)pt;
	e->rwx = (uint8_t)(pcmd.secinfo.flags & SGX_SECINFO_PERMISSION_MASK);
	e->linaddr = pi.addr;
	e->secs = child ? sf : NO_FRAME;
	/*
	 * A page reloaded blocked (ELDB) must see a new ETRACK before its next
	 * EWB.  A page reloaded unblocked (ELDU) cannot have a stale mapping
	 * anywhere: its EWB already required every LP that might have one to
	 * leave.  So it counts as tracked, and a pending EMODPR/EMODT change
	 * restored from the PCMD can be EACCEPTed without another ETRACK.
	 */
	if (!child)
		e->bepoch = 0;
	else if (blocked)
		e->bepoch = secs_epoch(cpu, sf);
	else
		e->bepoch = secs_epoch(cpu, sf) - 2;
	/* One store, last: a lockless reader never sees VALID without the rest. */
	e->flags = (uint8_t)(EPCM_VALID |
			     (pcmd.secinfo.flags & SGX_SECINFO_PENDING ? EPCM_PENDING : 0) |
			     (pcmd.secinfo.flags & SGX_SECINFO_MODIFIED ? EPCM_MODIFIED : 0) |
			     (pcmd.secinfo.flags & SGX_SECINFO_PR ? EPCM_PR : 0) |
			     (blocked && child ? EPCM_BLOCKED : 0));
	if (child)
		atomic_fetch_add(&secs_hidden(cpu, sf)->children, 1);
	if (blocked)
		STAT_INC(cpu, eldb);
	else
		STAT_INC(cpu, eldu);
	r = 0;
out_secs:
	if (sf != NO_FRAME)
		page_unlock_shared(epcm_of(cpu, sf));
out_va:
	page_unlock_shared(ve);
	page_unlock_excl(e);
	return r;
}

/**
 * sgx_eldu() - reload an evicted page, unblocked
 * @cpu: the platform
 * @pginfo: LINADDR as EWB reported it, SRCPGE = ciphertext, PCMD, and for
 *          REG/TCS/TRIM pages the resident SECS of the enclave
 * @epc: a free EPC page
 * @va_slot: the slot EWB wrote the version to
 *
 * Return: 0; SGX_MAC_COMPARE_FAIL (wrong version, address, enclave, flags,
 * contents or tag; the page stays invalid and the slot untouched); #GP
 * (alignment, busy, slot modified meanwhile) or #PF (not EPC, page valid, bad
 * VA page, bad SECS).
 */
int sgx_eldu(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	return eld(cpu, pginfo, epc, va_slot, false);
}

/**
 * sgx_eldb() - reload an evicted page as BLOCKED (SECS and VA pages unblocked)
 * @cpu: the platform
 * @pginfo: as for sgx_eldu()
 * @epc: a free EPC page
 * @va_slot: the slot EWB wrote the version to
 *
 * Return: as sgx_eldu().
 */
int sgx_eldb(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	return eld(cpu, pginfo, epc, va_slot, true);
}
