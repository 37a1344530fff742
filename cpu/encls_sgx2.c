// SPDX-License-Identifier: MIT
/*
 * SGX2 ENCLS leaves: EAUG (add a pending page to an initialised enclave),
 * EMODPR (restrict permissions) and EMODT (change the page type to TCS or
 * TRIM).  Checks follow the SDM's EAUG, EMODPR and EMODT
 * descriptions in order.  EMODPR and EMODT stamp the
 * page with the SECS's tracking epoch so that EACCEPT can tell when the change
 * has been seen by every logical processor (docs/architecture.md, "Tracking").
 *
 * None of these run in signal context, but they allocate nothing anyway.
 */
#include "internal.h"

static bool encl_initialized(struct sgx_cpu *cpu, uint32_t secs_frame)
{
	return secs_hidden(cpu, secs_frame)->initialized;
}

static uint32_t secs_epoch(struct sgx_cpu *cpu, uint32_t secs_frame)
{
	return TRK_EPOCH(atomic_load(&secs_hidden(cpu, secs_frame)->trk));
}

static bool secinfo_reserved_clear(const struct sgx_secinfo *si)
{
	return !(si->flags & SGX_SECINFO_RESERVED_MASK) &&
	       all_zero(si->reserved, sizeof(si->reserved));
}

/**
 * sgx_eaug() - ENCLS[EAUG]: add a zeroed, PENDING REG page to an enclave
 * @cpu: the platform
 * @pginfo: PAGEINFO (32-byte aligned): LINADDR, SRCPGE = 0, SECINFO = 0,
 *          SECS = the enclave's SECS page
 * @epc: the free EPC page to add
 *
 * The page becomes REG with RW- and PENDING until the enclave EACCEPTs it.
 * A non-zero SECINFO would ask for a CET shadow-stack page, which this
 * platform does not support: #GP.
 *
 * Return: 0, or a #GP/#PF fault (#UD without SGX2).
 */
int sgx_eaug(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc)
{
	struct sgx_pageinfo pi;
	struct epcm *e, *se;
	struct sgx_secs *secs;
	uint32_t f, sf;
	int ret;

	if (!cpu->cfg.sgx2)
		return fault_ud();
	if (!is_aligned(ptr_u64(pginfo), 32) || !is_aligned(ptr_u64(epc), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(epc));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(epc), 0);

	/* The PAGEINFO itself is a host operand: inside the EPC it is #GP (EMU-CHOICE). */
	ret = host_operand(cpu, ptr_u64(pginfo), sizeof(*pginfo), false);
	if (ret)
		return ret;
	pi = *pginfo;
	if (!is_aligned(pi.secs, SGX_PAGE_SIZE) || !is_aligned(pi.addr, SGX_PAGE_SIZE))
		return fault_gp();
	if (pi.contents != 0 || pi.metadata != 0)
		return fault_gp();
	sf = epc_frame(cpu, pi.secs);
	if (sf == NO_FRAME)
		return fault_pf(pi.secs, 0);

	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	if (e->flags & EPCM_VALID) {
		ret = fault_pf(ptr_u64(epc), X86_PF_SGX);
		goto out_page;
	}

	/* PAGEINFO.SECS is the (invalid) target itself: not a SECS, #PF. */
	if (sf == f) {
		ret = fault_pf(pi.secs, X86_PF_SGX);
		goto out_page;
	}
	se = epcm_of(cpu, sf);
	if (!page_lock_shared(se)) {
		ret = fault_gp();
		goto out_page;
	}
	if (!(se->flags & EPCM_VALID) || se->pt != SGX_PAGE_TYPE_SECS) {
		ret = fault_pf(pi.secs, X86_PF_SGX);
		goto out_secs;
	}
	if (!encl_initialized(cpu, sf)) {
		ret = fault_gp();
		goto out_secs;
	}
	secs = secs_of(cpu, sf);
	if (pi.addr < secs->base || pi.addr - secs->base >= secs->size) {
		ret = fault_gp();
		goto out_secs;
	}

	frame_bind(cpu, f, sf, pi.addr);
	memset(frame_bytes(cpu, f), 0, SGX_PAGE_SIZE);
	e->pt = SGX_PAGE_TYPE_REG;
	e->rwx = SGX_SECINFO_R | SGX_SECINFO_W;
	e->linaddr = pi.addr;
	e->secs = sf;
	e->bepoch = 0;
	e->flags = EPCM_VALID | EPCM_PENDING;
	atomic_fetch_add(&secs_hidden(cpu, sf)->children, 1);
	STAT_INC(cpu, eaug);
	ret = 0;
out_secs:
	page_unlock_shared(se);
out_page:
	page_unlock_excl(e);
	return ret;
}

/**
 * sgx_emodpr() - ENCLS[EMODPR]: restrict the EPCM permissions of a REG page
 * @cpu: the platform
 * @secinfo: SECINFO (64-byte aligned) with the permissions to keep
 * @epc: the page
 *
 * New RWX = old RWX & SECINFO RWX (permissions can only go away), PR is set
 * and the page is stamped with the current epoch for EACCEPT.  A page in use
 * by another leaf yields SGX_EPC_PAGE_CONFLICT (checked before VALID, since
 * the model needs the page lock to read the entry).  PENDING/MODIFIED pages
 * are refused before the page type is checked: a trimmed page the enclave
 * has not accepted yet gives SGX_PAGE_NOT_MODIFIABLE, an accepted one a #PF
 * (Linux probes trims this way).
 *
 * Return: 0, SGX_EPC_PAGE_CONFLICT, SGX_PAGE_NOT_MODIFIABLE, or a #GP/#PF
 * fault (#UD without SGX2).
 */
int sgx_emodpr(struct sgx_cpu *cpu, struct sgx_secinfo *secinfo, void *epc)
{
	struct sgx_secinfo si;
	struct epcm *e;
	uint32_t f;
	int ret;

	if (!cpu->cfg.sgx2)
		return fault_ud();
	if (!is_aligned(ptr_u64(secinfo), 64) || !is_aligned(ptr_u64(epc), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(epc));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(epc), 0);

	/* The SECINFO is a host operand: inside the EPC it is #GP (EMU-CHOICE). */
	ret = host_operand(cpu, ptr_u64(secinfo), sizeof(*secinfo), false);
	if (ret)
		return ret;
	si = *secinfo;
	if (!secinfo_reserved_clear(&si))
		return fault_gp();
	if ((si.flags & SGX_SECINFO_W) && !(si.flags & SGX_SECINFO_R))
		return fault_gp();

	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return SGX_EPC_PAGE_CONFLICT;
	if (!(e->flags & EPCM_VALID)) {
		ret = fault_pf(ptr_u64(epc), X86_PF_SGX);
		goto out;
	}
	if (e->flags & (EPCM_PENDING | EPCM_MODIFIED)) {
		ret = SGX_PAGE_NOT_MODIFIABLE;
		goto out;
	}
	if (e->pt != SGX_PAGE_TYPE_REG) {
		ret = fault_pf(ptr_u64(epc), X86_PF_SGX);
		goto out;
	}
	if (!encl_initialized(cpu, e->secs)) {
		ret = fault_gp();
		goto out;
	}

	e->rwx &= (uint8_t)(si.flags & SGX_SECINFO_PERMISSION_MASK);
	e->flags |= EPCM_PR;
	/*
	 * As in EBLOCK: the change is visible before the epoch is read, so an
	 * LP entering after a later ETRACK (not counted by it) already sees it.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	e->bepoch = secs_epoch(cpu, e->secs);
	STAT_INC(cpu, emodpr);
	ret = 0;
out:
	page_unlock_excl(e);
	return ret;
}

/* EMODT's legal transitions (the SDM's EMODT description). */
static bool emodt_allowed(uint8_t from, uint8_t to)
{
	if (from == SGX_PAGE_TYPE_REG)
		return to == SGX_PAGE_TYPE_TCS || to == SGX_PAGE_TYPE_TRIM;
	return from == SGX_PAGE_TYPE_TCS && to == SGX_PAGE_TYPE_TRIM;
}

/**
 * sgx_emodt() - ENCLS[EMODT]: change a page's type to TCS or TRIM
 * @cpu: the platform
 * @secinfo: SECINFO (64-byte aligned) whose PAGE_TYPE is TCS or TRIM
 * @epc: the page
 *
 * Allowed: REG -> TCS, REG -> TRIM, TCS -> TRIM.  The page loses all
 * permissions, becomes MODIFIED (unusable until the enclave EACCEPTs the
 * change) and is stamped with the current epoch.
 *
 * Return: 0, SGX_EPC_PAGE_CONFLICT, SGX_PAGE_NOT_MODIFIABLE, or a #GP/#PF
 * fault (#UD without SGX2).
 */
int sgx_emodt(struct sgx_cpu *cpu, struct sgx_secinfo *secinfo, void *epc)
{
	struct sgx_secinfo si;
	struct epcm *e;
	uint8_t pt;
	uint32_t f;
	int ret;

	if (!cpu->cfg.sgx2)
		return fault_ud();
	if (!is_aligned(ptr_u64(secinfo), 64) || !is_aligned(ptr_u64(epc), SGX_PAGE_SIZE))
		return fault_gp();
	f = epc_frame(cpu, ptr_u64(epc));
	if (f == NO_FRAME)
		return fault_pf(ptr_u64(epc), 0);

	/* The SECINFO is a host operand: inside the EPC it is #GP (EMU-CHOICE). */
	ret = host_operand(cpu, ptr_u64(secinfo), sizeof(*secinfo), false);
	if (ret)
		return ret;
	si = *secinfo;
	pt = (uint8_t)((si.flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT);
	if (!secinfo_reserved_clear(&si) ||
	    (pt != SGX_PAGE_TYPE_TCS && pt != SGX_PAGE_TYPE_TRIM))
		return fault_gp();

	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return SGX_EPC_PAGE_CONFLICT;
	if (!(e->flags & EPCM_VALID) || !emodt_allowed(e->pt, pt)) {
		ret = fault_pf(ptr_u64(epc), X86_PF_SGX);
		goto out;
	}
	if (e->flags & (EPCM_PENDING | EPCM_MODIFIED)) {
		ret = SGX_PAGE_NOT_MODIFIABLE;
		goto out;
	}
	if (!encl_initialized(cpu, e->secs)) {
		ret = fault_gp();
		goto out;
	}

	e->pt = pt;
	e->rwx = 0;
	e->flags = (uint8_t)((e->flags & ~EPCM_PR) | EPCM_MODIFIED);
	atomic_thread_fence(memory_order_seq_cst); /* as in EMODPR */
	e->bepoch = secs_epoch(cpu, e->secs);
	STAT_INC(cpu, emodt);
	ret = 0;
out:
	page_unlock_excl(e);
	return ret;
}
