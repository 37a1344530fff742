// SPDX-License-Identifier: MIT
/*
 * The remaining SGX1 management leaves: EREMOVE (free an EPC page) and the
 * debugger's EDBGRD/EDBGWR, with the checks in the order of the SDM's
 * description of each leaf.
 */
#include "internal.h"

/* Power-on state of an entry: an invalid page looks like a never-used one. */
static void epcm_clear(struct epcm *e)
{
	e->flags = 0;
	e->rwx = 0;
	e->pt = 0;
	e->secs = 0;
	e->bepoch = 0;
	e->linaddr = 0;
}

/**
 * sgx_eremove() - ENCLS[EREMOVE]: make an EPC page invalid
 * @cpu: the platform
 * @epc: the page (4K-aligned EPC address)
 *
 * An invalid page is a no-op success.  VA pages and trimmed pages the
 * enclave has accepted (TRIM, MODIFIED = 0) are freed even while threads
 * run in the enclave; a SECS only once it has no children; every other
 * child page only while no logical processor is inside its enclave.  The
 * frame is scrubbed (its contents read as zero) and keeps its host memory.
 *
 * Return: 0, SGX_CHILD_PRESENT, SGX_ENCLAVE_ACT, or a #GP/#PF fault.
 */
int sgx_eremove(struct sgx_cpu *cpu, void *epc)
{
	struct secs_hidden *h, *announced = NULL;
	struct epcm *e;
	uint32_t f, sf = NO_FRAME, gen;
	int ret = 0;

	ret = epc_page_operand(cpu, epc, &f);
	if (ret)
		return ret;
	e = epcm_of(cpu, f);
	if (!leaf_lock_excl(cpu, e))
		return fault_gp();

	if (!(e->flags & EPCM_VALID))
		goto done;

	switch ((uint8_t)e->pt) {
	case SGX_PAGE_TYPE_VA:
		break;
	case SGX_PAGE_TYPE_SECS:
		if (atomic_load(&secs_hidden(cpu, f)->children)) {
			ret = SGX_CHILD_PRESENT;
			goto out;
		}
		break;
	case SGX_PAGE_TYPE_TRIM:
		if (!(e->flags & EPCM_MODIFIED)) {
			/* Accepted trim: the enclave promised not to touch it. */
			sf = e->secs;
			break;
		}
		/* fall through */
	default:
		sf = e->secs;
		/*
		 * Announce the removal, then look for LPs inside; an entering
		 * LP counts itself in, then vetoes undecided removals and
		 * waits for decided ones (remove_announce()).  So no LP is
		 * inside while the page goes, and entries are never refused
		 * for it.
		 */
		announced = secs_hidden(cpu, sf);
		gen = remove_announce(announced);
		if (TRK_INSIDE(atomic_load(&announced->trk))) {
			remove_withdraw(announced);
			ret = SGX_ENCLAVE_ACT;
			goto out;
		}
		if (!remove_commit(announced, gen)) {
			ret = SGX_ENCLAVE_ACT; /* an LP entered meanwhile */
			goto out;
		}
		break;
	}

	epcm_clear(e);
	if (sf != NO_FRAME) {
		h = secs_hidden(cpu, sf);
		atomic_fetch_sub(&h->children, 1);
	}
	/* Entries wait for this; the scrub needs only the page lock. */
	if (announced)
		remove_done(announced);
	frame_scrub(cpu, f);
done:
	STAT_INC(cpu, eremove);
out:
	page_unlock_excl(e);
	return ret;
}

/*
 * Common front half of EDBGRD/EDBGWR up to (not including) the TCS offset
 * and DEBUG checks.  On success the page is held shared and *@frame is set.
 */
static void dbg_unlock(struct epcm *e, bool write)
{
	if (write)
		page_unlock_excl(e);
	else
		page_unlock_shared(e);
}

static int edbg_begin(struct sgx_cpu *cpu, uint64_t addr, bool write, uint32_t *frame)
{
	struct epcm *e;
	uint32_t f;
	bool pt_ok;

	if (!is_aligned(addr, 8))
		return fault_gp();
	f = epc_frame(cpu, addr);
	if (f == NO_FRAME)
		return fault_pf(addr, 0);
	e = epcm_of(cpu, f);
	/*
	 * A read shares the page; a write holds it exclusively so that no
	 * EEXTEND (shared) can hash half-written bytes.
	 */
	if (!(write ? leaf_lock_excl(cpu, e) : page_lock_shared(e)))
		return fault_gp();

	pt_ok = e->pt == SGX_PAGE_TYPE_REG || e->pt == SGX_PAGE_TYPE_TCS ||
		(!write && e->pt == SGX_PAGE_TYPE_VA);
	if (!(e->flags & EPCM_VALID) || !pt_ok) {
		dbg_unlock(e, write);
		return fault_pf(addr, X86_PF_SGX);
	}
	if (e->flags & (EPCM_PENDING | EPCM_MODIFIED)) {
		dbg_unlock(e, write);
		return SGX_PAGE_NOT_DEBUGGABLE;
	}
	*frame = f;
	return 0;
}

/* The linear address of byte @off of @e's page. */
static uint64_t a_linaddr(const struct epcm *e, uint64_t off)
{
	return atomic_load(&e->linaddr) + off;
}

void sgx_cpu_set_dbg_view(struct sgx_cpu *cpu, sgx_dbg_view_fn fn, void *ctx)
{
	cpu->dbg_view_ctx = ctx;
	cpu->dbg_view = fn;
}

static bool encl_debug(struct sgx_cpu *cpu, const struct epcm *e)
{
	return secs_of(cpu, e->secs)->attributes & SGX_ATTR_DEBUG;
}

/**
 * sgx_edbgrd() - ENCLS[EDBGRD]: read 8 bytes of a debug enclave's page
 * @cpu: the platform
 * @addr: 8-byte aligned EPC address inside a REG, TCS or VA page
 * @data: receives the bytes (unchanged on failure)
 *
 * TCS reads stop at SGX_TCS_LIMIT (the hidden part is never revealed).  A VA
 * slot reads as all-ones when it holds a version and 0 when empty, so
 * versions never leak.  REG/TCS pages need an enclave with ATTRIBUTES.DEBUG.
 *
 * Return: 0, SGX_PAGE_NOT_DEBUGGABLE, or a #GP/#PF fault.
 */
int sgx_edbgrd(struct sgx_cpu *cpu, void *addr, uint64_t *data)
{
	uint64_t a = ptr_u64(addr), off = a & (SGX_PAGE_SIZE - 1), v;
	struct epcm *e;
	uint32_t f;
	int ret;

	ret = edbg_begin(cpu, a, false, &f);
	if (ret)
		return ret;
	e = epcm_of(cpu, f);
	if (e->pt == SGX_PAGE_TYPE_TCS && off >= SGX_TCS_LIMIT) {
		ret = fault_gp();
		goto out;
	}
	if (e->pt != SGX_PAGE_TYPE_VA && !encl_debug(cpu, e)) {
		ret = fault_gp();
		goto out;
	}
	memcpy(&v, frame_bytes(cpu, f) + off, sizeof(v));
	if (e->pt == SGX_PAGE_TYPE_VA)
		v = v ? ~0ULL : 0;
	else if (e->pt == SGX_PAGE_TYPE_REG && cpu->dbg_view)
		cpu->dbg_view(cpu->dbg_view_ctx, frame_addr(cpu, e->secs), a_linaddr(e, off),
			      (uint8_t *)&v, false);
	*data = v;
out:
	page_unlock_shared(e);
	return ret;
}

/**
 * sgx_edbgwr() - ENCLS[EDBGWR]: write 8 bytes into a debug enclave's page
 * @cpu: the platform
 * @addr: 8-byte aligned EPC address inside a REG or TCS page
 * @data: the bytes to write
 *
 * In a TCS only the FLAGS word (offset 8) is writable, which is how a
 * debugger sets DBGOPTIN.  EPCM permissions are ignored; the enclave must
 * have ATTRIBUTES.DEBUG.
 *
 * Return: 0, SGX_PAGE_NOT_DEBUGGABLE, or a #GP/#PF fault.
 */
int sgx_edbgwr(struct sgx_cpu *cpu, void *addr, uint64_t data)
{
	uint64_t a = ptr_u64(addr), off = a & (SGX_PAGE_SIZE - 1);
	struct epcm *e;
	uint32_t f;
	int ret;

	ret = edbg_begin(cpu, a, true, &f);
	if (ret)
		return ret;
	e = epcm_of(cpu, f);
	if (e->pt == SGX_PAGE_TYPE_TCS && off != offsetof(struct sgx_tcs, flags)) {
		ret = fault_gp();
		goto out;
	}
	if (!encl_debug(cpu, e)) {
		ret = fault_gp();
		goto out;
	}
	if (e->pt == SGX_PAGE_TYPE_REG && cpu->dbg_view)
		cpu->dbg_view(cpu->dbg_view_ctx, frame_addr(cpu, e->secs), a_linaddr(e, off),
			      (uint8_t *)&data, true);
	memcpy(frame_bytes(cpu, f) + off, &data, sizeof(data));
out:
	page_unlock_excl(e);
	return ret;
}
