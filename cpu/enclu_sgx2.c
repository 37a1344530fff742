// SPDX-License-Identifier: MIT
/*
 * SGX2 ENCLU leaves run by enclave code: EACCEPT (accept an EAUG, EMODPR or
 * EMODT the OS made), EACCEPTCOPY (accept a pending page with contents and
 * final permissions) and EMODPE (extend permissions).  Checks follow the SDM's
 * EACCEPT, EMODPE and EACCEPTCOPY descriptions in order; sgx_enclu() has
 * already checked that the LP is inside an enclave and that the platform has
 * SGX2.
 *
 * EACCEPT and EACCEPTCOPY report errors as RAX = code with ZF=1; every
 * completed leaf moves RIP past ENCLU.  Async-signal-safe: these run from the
 * host's SIGILL handler.
 */
#include "internal.h"
#include "softsgx/enclu.h"

#define RFLAGS_RESULT (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | \
		       X86_EFLAGS_SF | X86_EFLAGS_OF)

static uint8_t secinfo_pt(const struct sgx_secinfo *si)
{
	return (uint8_t)((si->flags & SGX_SECINFO_PAGE_TYPE_MASK) >> SGX_SECINFO_PAGE_TYPE_SHIFT);
}

static bool secinfo_reserved_clear(const struct sgx_secinfo *si)
{
	return !(si->flags & SGX_SECINFO_RESERVED_MASK) &&
	       all_zero(si->reserved, sizeof(si->reserved));
}

/* Valid, unblocked, accepted REG page of @secs_frame at @la (no permission test). */
static bool reg_page_ok(const struct epcm *e, uint32_t secs_frame, uint64_t la)
{
	return (e->flags & (EPCM_VALID | EPCM_BLOCKED | EPCM_PENDING | EPCM_MODIFIED)) ==
		       EPCM_VALID &&
	       e->pt == SGX_PAGE_TYPE_REG && e->secs == secs_frame && e->linaddr == la;
}

/* Complete the leaf: RAX = @code, ZF = (@code != 0), other status flags clear. */
static void leaf_result(struct sgx_regs *regs, int code)
{
	regs->rflags &= ~RFLAGS_RESULT;
	if (code)
		regs->rflags |= X86_EFLAGS_ZF;
	regs->rax = (uint64_t)code;
	regs->rip += ENCLU_INSN_LEN;
}

/* Read the SECINFO operand at @la (64-aligned, usable with R). */
static int read_secinfo(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
			uint64_t la, struct sgx_secinfo *si)
{
	uint8_t *p;
	uint32_t f;
	int r = enclu_operand(cpu, lp, mmu, la, 64, false, &f, &p);

	if (!r)
		memcpy(si, p, sizeof(*si));
	return r;
}

/* EACCEPT step 4: the target must be a live REG/TCS/TRIM page of this enclave. */
static bool accept_target_ok(const struct epcm *e, uint32_t secs_frame)
{
	if ((e->flags & (EPCM_VALID | EPCM_BLOCKED)) != EPCM_VALID || e->secs != secs_frame)
		return false;
	return e->pt == SGX_PAGE_TYPE_REG || e->pt == SGX_PAGE_TYPE_TCS ||
	       e->pt == SGX_PAGE_TYPE_TRIM;
}

/* EACCEPT step 3: the only requests that make sense. */
static bool accept_request_legal(const struct sgx_secinfo *si)
{
	bool pend = si->flags & SGX_SECINFO_PENDING, mod = si->flags & SGX_SECINFO_MODIFIED;
	bool pr = si->flags & SGX_SECINFO_PR;

	switch (secinfo_pt(si)) {
	case SGX_PAGE_TYPE_REG:
		return (pend || pr) && !mod;
	case SGX_PAGE_TYPE_TCS:
	case SGX_PAGE_TYPE_TRIM:
		return !pend && !pr && mod;
	default:
		return false;
	}
}

/* EACCEPT step 5: the SECINFO must describe the page exactly (PR is not compared). */
static bool accept_attrs_match(const struct epcm *e, const struct sgx_secinfo *si, uint64_t la)
{
	return e->linaddr == la &&
	       !(e->flags & EPCM_PENDING) == !(si->flags & SGX_SECINFO_PENDING) &&
	       !(e->flags & EPCM_MODIFIED) == !(si->flags & SGX_SECINFO_MODIFIED) &&
	       e->rwx == (si->flags & SGX_SECINFO_PERMISSION_MASK) && e->pt == secinfo_pt(si);
}

/* EACCEPT step 7: a page about to become a usable TCS. */
static bool new_tcs_valid(const struct sgx_cpu *cpu, const struct sgx_tcs *tcs)
{
	return !(tcs->flags & (tcs_reserved_mask(cpu) | SGX_TCS_DBGOPTIN)) &&
	       all_zero(tcs->reserved, sizeof(tcs->reserved)) &&
	       tcs->ssa_index < tcs->nr_ssa_frames && tcs->exit_addr == 0 && tcs->state == 0;
}

/**
 * enclu_eaccept() - ENCLU[EACCEPT]: accept a pending change to a page
 * @cpu: the platform
 * @lp: the logical processor (inside the enclave)
 * @mmu: its page tables
 * @regs: RBX = SECINFO, RCX = the page
 *
 * Clears PENDING (EAUG), PR (EMODPR) or MODIFIED (EMODT) once SECINFO matches
 * the EPCM exactly; restrictions and type changes must have been tracked
 * (ETRACK plus every LP that was inside leaving) first.  Accepting a new TCS
 * validates its contents.  32-bit FS/GS limits are not checked: the model
 * only runs 64-bit enclaves.
 *
 * Return: 0 with RAX = 0, SGX_PAGE_ATTRIBUTES_MISMATCH or SGX_NOT_TRACKED
 * (ZF set for the codes), or SGX_FAULT_GP / SGX_FAULT_PF.
 */
int enclu_eaccept(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  struct sgx_regs *regs)
{
	const struct sgx_secs *secs = secs_of(cpu, lp->secs_frame);
	uint64_t la = regs->rcx;
	struct sgx_secinfo si;
	struct epcm *e;
	uint32_t f;
	int r, code;

	/* 1. SECINFO. */
	r = read_secinfo(cpu, lp, mmu, regs->rbx, &si);
	if (r)
		return r;
	/* 2. SECINFO reserved; the target address. */
	if (!secinfo_reserved_clear(&si))
		return fault_gp();
	if (!is_aligned(la, SGX_PAGE_SIZE) || !in_elrange(secs, la))
		return fault_gp();
	r = enclu_page(cpu, mmu, la, false, &f);
	if (r)
		return r;
	/* 3. Legal request. */
	if (!accept_request_legal(&si))
		return fault_gp();
	/* 4. The target page, then its lock, then again under the lock. */
	e = epcm_of(cpu, f);
	if (!accept_target_ok(e, lp->secs_frame))
		return pf_epcm(la, false);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	if (!accept_target_ok(e, lp->secs_frame)) {
		r = pf_epcm(la, false);
		goto out;
	}
	/* 5. Attributes. */
	if (!accept_attrs_match(e, &si, la)) {
		code = SGX_PAGE_ATTRIBUTES_MISMATCH;
		goto done;
	}
	/* 6. EMODPR/EMODT must be tracked; EAUG'd pages need nothing. */
	if ((e->flags & (EPCM_PR | EPCM_MODIFIED)) &&
	    !page_tracked(secs_hidden(cpu, lp->secs_frame), e->bepoch)) {
		code = SGX_NOT_TRACKED;
		goto done;
	}
	/* 7. A new TCS. */
	if (secinfo_pt(&si) == SGX_PAGE_TYPE_TCS &&
	    !new_tcs_valid(cpu, (const struct sgx_tcs *)frame_bytes(cpu, f))) {
		r = fault_gp();
		goto out;
	}
	/* 8. Commit. */
	e->flags &= (uint8_t)~(EPCM_PENDING | EPCM_MODIFIED | EPCM_PR);
	STAT_INC(cpu, eaccept);
	code = 0;
done:
	leaf_result(regs, code);
	r = 0;
out:
	page_unlock_excl(e);
	return r;
}

/*
 * EACCEPTCOPY's destination: a pending, unmodified, unblocked REG page of
 * this enclave.  SDM-BUG: the pseudocode's destination check tests BLOCKED
 * of RDX, the source, which was already required unblocked; the
 * destination's is meant, as EACCEPT and EMODPE refuse a blocked target.
 * A blocked destination is SGX_PAGE_ATTRIBUTES_MISMATCH.
 */
static bool copy_dest_ok(const struct epcm *e, uint32_t secs_frame)
{
	return (e->flags & (EPCM_VALID | EPCM_PENDING | EPCM_MODIFIED | EPCM_BLOCKED)) ==
		       (EPCM_VALID | EPCM_PENDING) &&
	       e->pt == SGX_PAGE_TYPE_REG && e->secs == secs_frame;
}

/**
 * enclu_eacceptcopy() - ENCLU[EACCEPTCOPY]: fill and accept an EAUG'd page
 * @cpu: the platform
 * @lp: the logical processor (inside the enclave)
 * @mmu: its page tables
 * @regs: RBX = SECINFO (REG with the final RWX), RCX = the pending
 *        destination page, RDX = a readable source page of the enclave
 *
 * Return: 0 with RAX = 0 or SGX_PAGE_ATTRIBUTES_MISMATCH (ZF set), or
 * SGX_FAULT_GP / SGX_FAULT_PF.
 */
int enclu_eacceptcopy(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		      struct sgx_regs *regs)
{
	const struct sgx_secs *secs = secs_of(cpu, lp->secs_frame);
	uint64_t si_la = regs->rbx, dst_la = regs->rcx, src_la = regs->rdx;
	uint32_t sif, df, sf;
	struct sgx_secinfo si;
	struct epcm *de;
	int r, code;

	/* Alignment and ELRANGE of all three operands. */
	if (!is_aligned(si_la, 64) || !is_aligned(dst_la, SGX_PAGE_SIZE) ||
	    !is_aligned(src_la, SGX_PAGE_SIZE) || !in_elrange(secs, si_la) ||
	    !in_elrange(secs, dst_la) || !in_elrange(secs, src_la))
		return fault_gp();
	/* Each must resolve to EPC. */
	r = enclu_page(cpu, mmu, si_la, false, &sif);
	if (!r)
		r = enclu_page(cpu, mmu, dst_la, true, &df);
	if (!r)
		r = enclu_page(cpu, mmu, src_la, false, &sf);
	if (r)
		return r;
	/* SECINFO usable with R, then its contents. */
	r = read_secinfo(cpu, lp, mmu, si_la, &si);
	if (r)
		return r;
	if (!secinfo_reserved_clear(&si) ||
	    ((si.flags & SGX_SECINFO_W) && !(si.flags & SGX_SECINFO_R)) ||
	    secinfo_pt(&si) != SGX_PAGE_TYPE_REG)
		return fault_gp();
	/* Source: a readable REG page of this enclave (the SDM's EPCM(RCX).R is a typo). */
	if (!reg_page_ok(epcm_of(cpu, sf), lp->secs_frame, src_la) ||
	    !(epcm_of(cpu, sf)->rwx & SGX_SECINFO_R))
		return pf_epcm(src_la, false);
	/* Destination. */
	de = epcm_of(cpu, df);
	if (!copy_dest_ok(de, lp->secs_frame)) {
		leaf_result(regs, SGX_PAGE_ATTRIBUTES_MISMATCH);
		return 0;
	}
	if (!leaf_lock_excl(cpu, de))
		return fault_gp();
	if (!copy_dest_ok(de, lp->secs_frame) ||
	    de->rwx != (SGX_SECINFO_R | SGX_SECINFO_W) || de->linaddr != dst_la) {
		code = SGX_PAGE_ATTRIBUTES_MISMATCH;
		goto done;
	}
	memcpy(frame_bytes(cpu, df), frame_bytes(cpu, sf), SGX_PAGE_SIZE);
	de->rwx = (uint8_t)(si.flags & SGX_SECINFO_PERMISSION_MASK);
	de->flags &= (uint8_t)~EPCM_PENDING;
	STAT_INC(cpu, eacceptcopy);
	code = 0;
done:
	leaf_result(regs, code);
	page_unlock_excl(de);
	return 0;
}

/**
 * enclu_emodpe() - ENCLU[EMODPE]: extend the EPCM permissions of a page
 * @cpu: the platform
 * @lp: the logical processor (inside the enclave)
 * @mmu: its page tables
 * @regs: RBX = SECINFO with the permissions to add, RCX = the page
 *
 * Permissions only grow (R |= , W |= , X |= ); no tracking, no error codes.
 * RAX and the flags are left alone.
 *
 * Return: 0 (RIP advanced), or SGX_FAULT_GP / SGX_FAULT_PF.
 */
int enclu_emodpe(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		 struct sgx_regs *regs)
{
	const struct sgx_secs *secs = secs_of(cpu, lp->secs_frame);
	uint64_t si_la = regs->rbx, la = regs->rcx;
	uint32_t sif, f;
	struct sgx_secinfo si;
	struct epcm *e;
	uint8_t add;
	int r;

	if (!is_aligned(si_la, 64) || !is_aligned(la, SGX_PAGE_SIZE) ||
	    !in_elrange(secs, si_la) || !in_elrange(secs, la))
		return fault_gp();
	r = enclu_page(cpu, mmu, si_la, false, &sif);
	if (!r)
		r = enclu_page(cpu, mmu, la, false, &f);
	if (r)
		return r;
	r = read_secinfo(cpu, lp, mmu, si_la, &si);
	if (r)
		return r;
	if (!secinfo_reserved_clear(&si))
		return fault_gp();

	e = epcm_of(cpu, f);
	if (!reg_page_ok(e, lp->secs_frame, la))
		return pf_epcm(la, false);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();
	if (!reg_page_ok(e, lp->secs_frame, la)) {
		r = pf_epcm(la, false);
		goto out;
	}
	add = (uint8_t)(si.flags & SGX_SECINFO_PERMISSION_MASK);
	/* The result may not be W without R. */
	if (!((e->rwx | add) & SGX_SECINFO_R) && (add & SGX_SECINFO_W)) {
		r = fault_gp();
		goto out;
	}
	e->rwx |= add;
	regs->rip += ENCLU_INSN_LEN;
	STAT_INC(cpu, emodpe);
	r = 0;
out:
	page_unlock_excl(e);
	return r;
}
