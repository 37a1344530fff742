// SPDX-License-Identifier: MIT
/*
 * The platform: configuration, EPC sections and frames, the EPCM, CPUID and
 * the launch-control MSRs, per-page instruction locks, fault reporting and the
 * tracking-epoch model.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <openssl/rand.h>
#include <openssl/evp.h>

#include "internal.h"
#include "mem.h"

static _Atomic uint64_t next_cpu_id = 1;
static __thread struct sgx_fault last_fault __attribute__((tls_model("initial-exec")));

const struct sgx_fault *sgx_last_fault(void)
{
	return &last_fault;
}

int fault_ud(void)
{
	last_fault.vector = X86_TRAP_UD;
	last_fault.addr = 0;
	last_fault.errcd = 0;
	return SGX_FAULT_UD;
}

int fault_gp(void)
{
	last_fault.vector = X86_TRAP_GP;
	last_fault.addr = 0;
	last_fault.errcd = 0;
	return SGX_FAULT_GP;
}

int fault_pf(uint64_t addr, uint32_t errcd)
{
	last_fault.vector = X86_TRAP_PF;
	last_fault.addr = addr;
	last_fault.errcd = errcd;
	return SGX_FAULT_PF;
}

/* Intel's launch-enclave key hash: the IA32_SGXLEPUBKEYHASH reset value. */
static const uint64_t intel_le_hash[4] = {
	0xa6053e051270b7acULL, 0x6cfbe8ba8b3b413dULL,
	0xc4916d99f2b3735dULL, 0xd4f8c05909f9bb3bULL,
};

void sgx_cpu_default_config(struct sgx_cpu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->epc_size = 128ULL << 20;
	cfg->sgx1 = true;
	cfg->sgx2 = true;
	cfg->miscselect_mask = SGX_MISC_EXINFO;
	cfg->attributes_mask = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT | SGX_ATTR_PROVISIONKEY |
			       SGX_ATTR_EINITTOKENKEY | SGX_ATTR_KSS | SGX_ATTR_ASYNC_EXIT_NOTIFY;
	cfg->xfrm_mask = 0x7;
	cfg->max_enclave_size_32 = 31;
	cfg->max_enclave_size_64 = 36;
	cfg->flc = true;
	memcpy(cfg->lepubkeyhash, intel_le_hash, sizeof(intel_le_hash));
	cfg->cpusvn[0] = 1;
}

/* Random secrets, or with fixed_keys SHA-256(seed || label); false on failure. */
static bool derive_secret(const struct sgx_cpu_config *cfg, const char *label, uint8_t *out,
			  size_t n)
{
	uint8_t d[32];
	EVP_MD_CTX *c;
	bool ok;

	if (!cfg->fixed_keys)
		return RAND_bytes(out, (int)n) == 1; /* never a predictable fallback */
	c = EVP_MD_CTX_new();
	ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(c, &cfg->seed, sizeof(cfg->seed)) == 1 &&
	     EVP_DigestUpdate(c, label, strlen(label)) == 1 && EVP_DigestFinal_ex(c, d, NULL) == 1;
	EVP_MD_CTX_free(c);
	if (ok)
		memcpy(out, d, n);
	return ok;
}

static void *reserve(uint64_t size)
{
	return sgx_map(size);
}

struct sgx_cpu *sgx_cpu_create(const struct sgx_cpu_config *cfg, int *err)
{
	struct sgx_cpu *cpu;
	unsigned int i;
	int dummy;

	if (!err)
		err = &dummy;
	*err = -EINVAL;
	if (cfg->nr_sections > SGX_MAX_EPC_SECTIONS || !cfg->sgx1)
		return NULL;
	if (cfg->sgx2 && !cfg->sgx1)
		return NULL;
	if ((cfg->xfrm_mask & 3) != 3 || (cfg->xfrm_mask & ~0x2FFULL) ||
	    cfg->max_enclave_size_64 > 63 ||
	    cfg->max_enclave_size_32 > 32)
		return NULL;

	/* Over-aligned (stats shards): calloc does not promise 64 bytes. */
	cpu = sgx_zalloc_aligned(_Alignof(struct sgx_cpu), sizeof(*cpu));
	if (!cpu) {
		*err = -ENOMEM;
		return NULL;
	}
	cpu->cfg = *cfg;
	if (cfg->nr_sections == 0) {
		cpu->cfg.nr_sections = 1;
		cpu->cfg.sections[0].size = cfg->epc_size;
		cpu->cfg.sections[0].node = 0;
	}
	cpu->nr_sections = cpu->cfg.nr_sections;
	for (i = 0; i < cpu->nr_sections; i++) {
		uint64_t sz = cpu->cfg.sections[i].size;

		if (sz == 0 || (sz & (SGX_PAGE_SIZE - 1)) || sz / SGX_PAGE_SIZE >= NO_FRAME ||
		    cpu->nr_frames + sz / SGX_PAGE_SIZE >= NO_FRAME)
			goto fail;
		cpu->sections[i].base = reserve(sz);
		if (!cpu->sections[i].base) {
			*err = -ENOMEM;
			goto fail;
		}
		cpu->sections[i].size = sz;
		cpu->sections[i].node = cpu->cfg.sections[i].node;
		cpu->sections[i].first_frame = cpu->nr_frames;
		cpu->nr_frames += sz / SGX_PAGE_SIZE;
	}
	cpu->epcm = reserve(cpu->nr_frames * sizeof(struct epcm));
	cpu->touched_map = reserve(cpu->nr_frames);
	cpu->frame_home = reserve(cpu->nr_frames * sizeof(*cpu->frame_home));
	if (!cpu->epcm || !cpu->touched_map || !cpu->frame_home) {
		*err = -ENOMEM;
		goto fail;
	}
	memcpy(cpu->lepubkeyhash, cpu->cfg.lepubkeyhash, sizeof(cpu->lepubkeyhash));
	cpu_set_cpusvn(cpu, cpu->cfg.cpusvn);
	{
		/* Forked children that share the platform take it too. */
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		if (sgx_mem_shared())
			pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_mutex_init(&cpu->svn_lock, &a);
		pthread_mutexattr_destroy(&a);
	}
	cpu->svn_lock_ready = true;
	cpu->id = atomic_fetch_add(&next_cpu_id, 1);
	atomic_store(&cpu->next_eid, 1);
	atomic_store(&cpu->paging_version, 1);
	if (!derive_secret(&cpu->cfg, "root", cpu->root_key, 16) ||
	    !derive_secret(&cpu->cfg, "ownerepoch", cpu->owner_epoch, 16) ||
	    !derive_secret(&cpu->cfg, "fuses", cpu->seal_key_fuses, 16) ||
	    !derive_secret(&cpu->cfg, "keyid", cpu->report_keyid, 32) ||
	    !derive_secret(&cpu->cfg, "paging", cpu->paging_key, 16)) {
		*err = -EIO;
		goto fail;
	}
	if (paging_crypto_init(cpu) || keys_init(cpu)) {
		*err = -ENOMEM;
		goto fail;
	}
	/* Private per process, in a platform that may be shared (mem.h). */
	sgx_mem_keep(cpu->paging_ctx);
	sgx_mem_keep(cpu->keys_ctx);
	*err = 0;
	return cpu;
fail:
	sgx_cpu_destroy(cpu);
	return NULL;
}

void sgx_cpu_destroy(struct sgx_cpu *cpu)
{
	if (!cpu)
		return;
	paging_crypto_fini(cpu);
	keys_fini(cpu);
	for (unsigned int i = 0; i < cpu->nr_sections; i++)
		if (cpu->sections[i].base)
			sgx_unmap(cpu->sections[i].base, cpu->sections[i].size);
	if (cpu->epcm)
		sgx_unmap(cpu->epcm, cpu->nr_frames * sizeof(struct epcm));
	if (cpu->touched_map)
		sgx_unmap(cpu->touched_map, cpu->nr_frames);
	if (cpu->frame_home)
		sgx_unmap(cpu->frame_home, cpu->nr_frames * sizeof(*cpu->frame_home));
	if (cpu->svn_lock_ready)
		pthread_mutex_destroy(&cpu->svn_lock);
	sgx_free(cpu);
}

const struct sgx_cpu_config *sgx_cpu_get_config(const struct sgx_cpu *cpu)
{
	return &cpu->cfg;
}

int sgx_cpu_cpuid(const struct sgx_cpu *cpu, uint32_t leaf, uint32_t subleaf,
		  struct sgx_cpuid_regs *out)
{
	memset(out, 0, sizeof(*out));
	if (leaf == 0x7) {
		if (subleaf != 0)
			return 0;
		out->ebx = 1u << 2;                 /* SGX */
		out->ecx = cpu->cfg.flc ? 1u << 30 : 0; /* SGX_LC */
		out->edx = 1u << 1;                 /* SGX-KEYS */
		return 0;
	}
	if (leaf != 0x12)
		return -EINVAL;
	if (subleaf == 0) {
		out->eax = (cpu->cfg.sgx1 ? 1u : 0) | (cpu->cfg.sgx2 ? 2u : 0) |
			   (cpu->cfg.eupdatesvn ? 1u << 10 : 0) |
			   (cpu_has_aexnotify(cpu) ? 1u << 11 : 0);
		out->ebx = cpu->cfg.miscselect_mask;
		out->edx = cpu->cfg.max_enclave_size_32 |
			   ((uint32_t)cpu->cfg.max_enclave_size_64 << 8);
	} else if (subleaf == 1) {
		uint64_t a = cpu->cfg.attributes_mask, x = cpu->cfg.xfrm_mask;

		out->eax = (uint32_t)a;
		out->ebx = (uint32_t)(a >> 32);
		out->ecx = (uint32_t)x;
		out->edx = (uint32_t)(x >> 32);
	} else if (subleaf - 2 < cpu->nr_sections) {
		const struct epc_section *s = &cpu->sections[subleaf - 2];
		uint64_t base = ptr_u64(s->base);

		out->eax = (uint32_t)(base & 0xFFFFF000u) | 1u;
		out->ebx = (uint32_t)(base >> 32) & 0xFFFFF;
		out->ecx = (uint32_t)(s->size & 0xFFFFF000u) | 1u;
		out->edx = (uint32_t)(s->size >> 32) & 0xFFFFF;
	}
	return 0;
}

/*
 * IA32_SGXLEPUBKEYHASH0..3 belong to each logical processor, as on hardware:
 * Linux rewrites them on the current CPU right before every EINIT, and two
 * EINITs for different signers on two CPUs must not see each other's values.
 * Here a logical processor is a thread, and a thread may drive several
 * platforms: it keeps one bank per platform (told apart by the unique
 * cpu->id) for the last LEHASH_BANKS platforms it used; a platform it comes
 * back to after more than that starts again from the reset values.
 */
#define LEHASH_BANKS 8

static __thread struct {
	uint64_t cpu_id; /* 0: unused (ids start at 1) */
	uint64_t v[4];
} lp_lehash[LEHASH_BANKS] __attribute__((tls_model("initial-exec")));
static __thread unsigned int lp_lehash_next __attribute__((tls_model("initial-exec")));

static uint64_t *lehash_of_this_lp(const struct sgx_cpu *cpu)
{
	unsigned int i;

	for (i = 0; i < LEHASH_BANKS; i++)
		if (lp_lehash[i].cpu_id == cpu->id)
			return lp_lehash[i].v;
	i = lp_lehash_next++ % LEHASH_BANKS;
	lp_lehash[i].cpu_id = cpu->id;
	memcpy(lp_lehash[i].v, cpu->lepubkeyhash, sizeof(lp_lehash[i].v));
	return lp_lehash[i].v;
}

void cpu_lehash_snapshot(const struct sgx_cpu *cpu, uint64_t out[4])
{
	memcpy(out, lehash_of_this_lp(cpu), 4 * sizeof(uint64_t));
}

int sgx_cpu_rdmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t *val)
{
	if (msr < MSR_IA32_SGXLEPUBKEYHASH0 || msr > MSR_IA32_SGXLEPUBKEYHASH0 + 3)
		return -EINVAL;
	*val = lehash_of_this_lp(cpu)[msr - MSR_IA32_SGXLEPUBKEYHASH0];
	return 0;
}

int sgx_cpu_wrmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t val)
{
	if (msr < MSR_IA32_SGXLEPUBKEYHASH0 || msr > MSR_IA32_SGXLEPUBKEYHASH0 + 3)
		return -EINVAL;
	if (!cpu->cfg.flc)
		return -EPERM;
	lehash_of_this_lp(cpu)[msr - MSR_IA32_SGXLEPUBKEYHASH0] = val;
	return 0;
}

int sgx_cpu_trust_signer(struct sgx_cpu *cpu, const uint8_t mrsigner[32])
{
	uint64_t w[4];
	int i, ret;

	/* Byte 8i + j of the digest is byte j (bits 8j..8j+7) of MSR 0x8C + i. */
	for (i = 0; i < 4; i++) {
		w[i] = 0;
		for (int j = 7; j >= 0; j--)
			w[i] = w[i] << 8 | mrsigner[8 * i + j];
	}
	for (i = 0; i < 4; i++) {
		ret = sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, w[i]);
		if (ret)
			return ret;
	}
	return 0;
}

unsigned int sgx_cpu_nr_sections(const struct sgx_cpu *cpu)
{
	return cpu->nr_sections;
}

void *sgx_cpu_section(const struct sgx_cpu *cpu, unsigned int i, uint64_t *size, int *node)
{
	if (i >= cpu->nr_sections)
		return NULL;
	if (size)
		*size = cpu->sections[i].size;
	if (node)
		*node = cpu->sections[i].node;
	return cpu->sections[i].base;
}

uint64_t sgx_cpu_nr_frames(const struct sgx_cpu *cpu)
{
	return cpu->nr_frames;
}



int host_operand(const struct sgx_cpu *cpu, uint64_t addr, uint64_t len, bool write)
{
	if (addr < SGX_PAGE_SIZE)
		return fault_pf(addr, write ? X86_PF_WRITE : 0);
	for (unsigned int i = 0; i < cpu->nr_sections; i++) {
		uint64_t b = ptr_u64(cpu->sections[i].base);

		if (addr < b + cpu->sections[i].size && addr + len > b)
			return fault_gp();
	}
	return 0;
}

int host_operands(const struct sgx_cpu *cpu, uint64_t a, uint64_t alen, uint64_t b,
		  uint64_t blen, bool write)
{
	int r = host_operand(cpu, a, alen, write);

	return r ? r : host_operand(cpu, b, blen, write);
}

bool sgx_cpu_is_epc(const struct sgx_cpu *cpu, const void *addr)
{
	return epc_frame(cpu, ptr_u64(addr)) != NO_FRAME;
}

void *sgx_epc_page_bytes(struct sgx_cpu *cpu, void *epc)
{
	uint32_t f = epc_frame(cpu, ptr_u64(epc));

	return f == NO_FRAME ? NULL : frame_bytes(cpu, f);
}


void frame_scrub(struct sgx_cpu *cpu, uint32_t frame)
{
	uint8_t *home = atomic_exchange_explicit(&cpu->frame_home[frame], NULL,
						 memory_order_relaxed);

	/* A window page is scrubbed in place: its mappings are gone already. */
	memset(home ? home : frame_addr(cpu, frame), 0, SGX_PAGE_SIZE);
}

void frame_bind(struct sgx_cpu *cpu, uint32_t f, uint32_t secs_frame, uint64_t la)
{
	const struct sgx_secs *secs = secs_of(cpu, secs_frame);
	uint64_t w = secs_hidden(cpu, secs_frame)->window;

	if (!w || la < secs->base || la - secs->base >= secs->size)
		return;
	atomic_store_explicit(&cpu->frame_home[f],
			      (uint8_t *)(uintptr_t)(w + ((la - secs->base) & SGX_PAGE_MASK)),
			      memory_order_relaxed);
}

int sgx_cpu_set_window(struct sgx_cpu *cpu, const void *secs_epc, void *window)
{
	uint32_t f = epc_frame(cpu, ptr_u64(secs_epc));

	if (f == NO_FRAME || !(cpu->epcm[f].flags & EPCM_VALID) ||
	    cpu->epcm[f].pt != SGX_PAGE_TYPE_SECS)
		return -EINVAL;
	secs_hidden(cpu, f)->window = ptr_u64(window);
	return 0;
}

uint64_t sgx_cpu_touched_frames(const struct sgx_cpu *cpu)
{
	return atomic_load_explicit(&cpu->touched, memory_order_relaxed);
}

void sgx_cpu_raise_events(struct sgx_cpu *cpu, uint64_t n)
{
	atomic_fetch_add(&cpu->pending_events, n);
}

int sgx_cpu_epcm(const struct sgx_cpu *cpu, const void *epc_page, struct sgx_epcm_view *out)
{
	uint32_t f = epc_frame(cpu, ptr_u64(epc_page));
	const struct epcm *e;

	if (f == NO_FRAME)
		return -EINVAL;
	e = &cpu->epcm[f];
	out->valid = e->flags & EPCM_VALID;
	out->blocked = e->flags & EPCM_BLOCKED;
	out->pending = e->flags & EPCM_PENDING;
	out->modified = e->flags & EPCM_MODIFIED;
	out->pr = e->flags & EPCM_PR;
	out->rwx = e->rwx;
	out->page_type = e->pt;
	out->secs = out->valid && e->secs != NO_FRAME && e->pt != SGX_PAGE_TYPE_SECS &&
			    e->pt != SGX_PAGE_TYPE_VA
		? frame_addr(cpu, e->secs)
		: NULL;
	out->linaddr = e->linaddr;
	return 0;
}

static int valid_secs_frame(const struct sgx_cpu *cpu, const void *secs)
{
	uint32_t f = epc_frame(cpu, ptr_u64(secs));

	if (f == NO_FRAME || !(cpu->epcm[f].flags & EPCM_VALID) ||
	    cpu->epcm[f].pt != SGX_PAGE_TYPE_SECS)
		return -1;
	return (int)f;
}

uint64_t sgx_cpu_secs_children(const struct sgx_cpu *cpu, const void *secs)
{
	int f = valid_secs_frame(cpu, secs);

	if (f < 0)
		return 0;
	return atomic_load(&secs_hidden((struct sgx_cpu *)cpu, (uint32_t)f)->children);
}

uint64_t sgx_cpu_secs_eid(const struct sgx_cpu *cpu, const void *secs)
{
	int f = valid_secs_frame(cpu, secs);

	if (f < 0)
		return 0;
	return secs_hidden((struct sgx_cpu *)cpu, (uint32_t)f)->eid;
}

__thread int stat_shard_idx __attribute__((tls_model("initial-exec"))) = -1;

/*
 * Hand this thread a private shard for life (shards are not recycled; late
 * threads share the last one).  Async-signal-safe: a handler that races the
 * first call only wastes an index.
 */
int stat_shard_init(void)
{
	static _Atomic int next;
	int s = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);

	if (s >= STAT_SHARDS - 1 || s < 0) {
		s = STAT_SHARDS - 1;
		atomic_store_explicit(&next, STAT_SHARDS, memory_order_relaxed);
	}
	stat_shard_idx = s;
	return s;
}

void sgx_cpu_stats(const struct sgx_cpu *cpu, struct sgx_cpu_stats *out)
{
	size_t n = sizeof(*out) / sizeof(uint64_t);
	uint64_t *dst = (uint64_t *)out;

	_Static_assert(offsetof(struct cpu_stats, edeccssa) + sizeof(uint64_t) ==
			       sizeof(struct sgx_cpu_stats),
		       "stats layout");
	memset(out, 0, sizeof(*out));
	for (unsigned int s = 0; s < STAT_SHARDS; s++) {
		const _Atomic uint64_t *src = (const _Atomic uint64_t *)&cpu->st[s];

		for (size_t i = 0; i < n; i++)
			dst[i] += atomic_load_explicit(&src[i], memory_order_relaxed);
	}
}

bool page_lock_excl(struct epcm *e)
{
	int32_t z = 0;

	return atomic_compare_exchange_strong(&e->lock, &z, -1);
}

/*
 * Pauses a locker spends on a page whose exclusive taker is deciding: that
 * takes a few loads, so only a taker descheduled (or interrupted) in the
 * middle runs out the bound, and then the page counts as busy, as it was.
 */
#define CLAIM_SPINS 4096

int32_t page_lock_settled(struct epcm *e)
{
	int32_t v = atomic_load(&e->lock);

	for (unsigned int i = 0; v == PAGE_LOCK_CLAIM && i < CLAIM_SPINS; i++) {
		__builtin_ia32_pause();
		v = atomic_load(&e->lock);
	}
	return v == PAGE_LOCK_CLAIM ? -1 : v;
}

/* Does an EEXTEND hold the page of @e (through its SECS's measurement word)? */
static bool page_in_eextend(const struct sgx_cpu *cpu, const struct epcm *e)
{
	uint32_t sf;

	if (!epcm_measurable(e))
		return false;
	sf = e->secs;
	return sf < cpu->nr_frames &&
	       atomic_load(&cpu->epcm[sf].measure_busy) == MEASURE_EXTEND(e - cpu->epcm);
}

/*
 * Claim the page, then look for an EEXTEND holding it.  EEXTEND announces
 * itself first and reads the page lock after (sgx_eextend()); both sides
 * are sequentially consistent, so at least one of the two sees the other.
 * A taker that sees the EEXTEND gives way; an EEXTEND that sees a claim
 * waits for the taker's decision and gives way only if it kept the page.
 * So of the two exactly one gets the page, as with a shared page lock.
 */
bool leaf_lock_excl(const struct sgx_cpu *cpu, struct epcm *e)
{
	int32_t z = 0;

	if (!atomic_compare_exchange_strong(&e->lock, &z, PAGE_LOCK_CLAIM))
		return false;
	if (page_in_eextend(cpu, e)) {
		atomic_store_explicit(&e->lock, 0, memory_order_release);
		return false;
	}
	atomic_store_explicit(&e->lock, -1, memory_order_relaxed);
	return true;
}

bool page_lock_shared(struct epcm *e)
{
	int32_t v = page_lock_settled(e);

	while (v >= 0) {
		if (atomic_compare_exchange_weak(&e->lock, &v, v + 1))
			return true;
		if (v == PAGE_LOCK_CLAIM)
			v = page_lock_settled(e);
	}
	return false;
}

void page_unlock_excl(struct epcm *e)
{
	atomic_store_explicit(&e->lock, 0, memory_order_release);
}

void page_unlock_shared(struct epcm *e)
{
	atomic_fetch_sub_explicit(&e->lock, 1, memory_order_release);
}

/* Standard-format offsets and sizes of the XSAVE components above SSE. */
static const struct {
	uint32_t off, size;
} xsave_comp[] = {
	[2] = { 576, 256 },  [3] = { 960, 64 },    [4] = { 1024, 64 },
	[5] = { 1088, 64 },  [6] = { 1152, 512 },  [7] = { 1664, 1024 },
	[9] = { 2688, 8 },
};

/*
 * Non-compacted XSAVE layout, Intel's offsets (the SDM's SSA frame layout): the
 * area ends at the highest enabled component; 576 bytes of legacy region plus
 * header.
 */
uint32_t xsave_size(uint64_t xfrm)
{
	uint32_t end = 576;

	for (unsigned int i = 2; i < sizeof(xsave_comp) / sizeof(xsave_comp[0]); i++)
		if ((xfrm & (1ULL << i)) && xsave_comp[i].size &&
		    xsave_comp[i].off + xsave_comp[i].size > end)
			end = xsave_comp[i].off + xsave_comp[i].size;
	return end;
}

bool xsave_component(unsigned int i, uint32_t *off, uint32_t *size)
{
	if (i < 2 || i >= sizeof(xsave_comp) / sizeof(xsave_comp[0]) || !xsave_comp[i].size)
		return false;
	*off = xsave_comp[i].off;
	*size = xsave_comp[i].size;
	return true;
}

uint64_t sgx_cpu_xfrm_backed(uint64_t xcr0, const uint32_t off[10])
{
	uint64_t x = (xcr0 & 0x2FFULL) | 0x3;

	for (unsigned int i = 2; i < 10; i++)
		if ((x >> i & 1) && (!xsave_comp[i].size || off[i] != xsave_comp[i].off))
			x &= ~(1ULL << i);
	if ((x & 0xE0) != 0xE0 || !(x & 0x4))
		x &= ~0xE0ULL;
	if (((x >> 3) & 1) != ((x >> 4) & 1))
		x &= ~0x18ULL;
	return x;
}

bool xfrm_valid(const struct sgx_cpu *cpu, uint64_t xfrm)
{
	if ((xfrm & 3) != 3 || (xfrm & ~cpu->cfg.xfrm_mask))
		return false;
	/* Only components the XSAVE-size table knows (x87..PKRU) are modelled. */
	if (xfrm & ~0x2FFULL)
		return false;
	/* XSETBV consistency: AVX needs SSE; AVX-512 state is all-or-none and needs AVX. */
	if ((xfrm & 0xE0) && ((xfrm & 0xE0) != 0xE0 || !(xfrm & 4)))
		return false;
	/* MPX components come in pairs. */
	if (((xfrm >> 3) & 1) != ((xfrm >> 4) & 1))
		return false;
	return true;
}

uint32_t misc_size(uint32_t miscselect)
{
	return (miscselect & SGX_MISC_EXINFO) ? SGX_SSA_MISC_EXINFO_SIZE : 0;
}

/*
 * Tracking model (docs/architecture.md, "Tracking"; the SDM's ETRACK
 * description).  A page blocked at epoch b is tracked once an
 * ETRACK started after b has seen every LP that was inside leave.
 */
bool page_tracked(const struct secs_hidden *h, uint32_t bepoch)
{
	uint64_t t = atomic_load(&((struct secs_hidden *)h)->trk);
	uint32_t d = TRK_EPOCH(t) - bepoch;

	return d >= 2 || (d == 1 && TRK_PREV(t) == 0);
}

#define RM_ANNOUNCED 1ULL
#define RM_COMMITTED (1ULL << 16)
#define RM_GEN (1ULL << 32)
#define RM_NR_ANNOUNCED(v) ((v) & 0xFFFF)
#define RM_NR_COMMITTED(v) (((v) >> 16) & 0xFFFF)
#define RM_GEN_OF(v) ((uint32_t)((v) >> 32))
/*
 * How long an entry waits for committed removals: they only clear an EPCM
 * entry, so only a descheduled (or interrupted) EREMOVE thread takes long.
 */
#define RM_WAIT_NS 100000000LL

uint32_t remove_announce(struct secs_hidden *h)
{
	return RM_GEN_OF(atomic_fetch_add(&h->removing, RM_ANNOUNCED));
}

void remove_withdraw(struct secs_hidden *h)
{
	atomic_fetch_sub(&h->removing, RM_ANNOUNCED);
}

bool remove_commit(struct secs_hidden *h, uint32_t gen)
{
	uint64_t o = atomic_load(&h->removing);

	do {
		if (RM_GEN_OF(o) != gen) {
			remove_withdraw(h);
			return false;
		}
	} while (!atomic_compare_exchange_weak(&h->removing, &o,
					       o - RM_ANNOUNCED + RM_COMMITTED));
	return true;
}

void remove_done(struct secs_hidden *h)
{
	atomic_fetch_sub(&h->removing, RM_COMMITTED);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Called by an LP that has just counted itself inside: veto the removals
 * that have not decided yet (they fail with SGX_ENCLAVE_ACT, as they would
 * on hardware with this LP inside), then wait for the ones that decided
 * before the count went up.  No new commit can start meanwhile, so the
 * wait is bounded by those few stores; false only when one's thread
 * stalls past RM_WAIT_NS.
 */
static bool removals_settled(struct secs_hidden *h)
{
	uint64_t o = atomic_load(&h->removing);
	int64_t deadline = 0;

	while (RM_NR_ANNOUNCED(o) && !atomic_compare_exchange_weak(&h->removing, &o, o + RM_GEN))
		;
	for (unsigned int spin = 0; RM_NR_COMMITTED(atomic_load(&h->removing)); spin++) {
		if (spin < 256) {
			__builtin_ia32_pause();
			continue;
		}
		if (!deadline)
			deadline = now_ns() + RM_WAIT_NS;
		else if (now_ns() > deadline)
			return false;
		sched_yield();
	}
	return true;
}

bool track_enter(struct secs_hidden *h, struct tcs_hidden *t)
{
	uint64_t o = atomic_load(&h->trk), n;

	do {
		/* The count is 16 bits wide: the limit is checked in the same CAS. */
		if (TRK_INSIDE(o) == 0xFFFF)
			return false;
		n = TRK_MAKE(TRK_EPOCH(o), TRK_PREV(o), TRK_INSIDE(o) + 1);
	} while (!atomic_compare_exchange_weak(&h->trk, &o, n));
	t->entry_epoch = TRK_EPOCH(o);
	/* An EREMOVE of a child under way may not have seen us. */
	if (!removals_settled(h)) {
		track_leave(h, t);
		return false;
	}
	return true;
}

void track_leave(struct secs_hidden *h, const struct tcs_hidden *t)
{
	uint64_t o = atomic_load(&h->trk), n;

	do {
		uint32_t prev = TRK_PREV(o);

		if (t->entry_epoch != TRK_EPOCH(o) && prev)
			prev--;
		n = TRK_MAKE(TRK_EPOCH(o), prev, TRK_INSIDE(o) - 1);
	} while (!atomic_compare_exchange_weak(&h->trk, &o, n));
}
