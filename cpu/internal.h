/* SPDX-License-Identifier: MIT */
/*
 * Private state of the CPU model shared by the leaf files.  Leaves find EPC
 * frames, EPCM entries and the hidden SECS/TCS state through these helpers
 * and report faults with fault_gp()/fault_pf().
 */
#ifndef SOFTSGX_CPU_INTERNAL_H
#define SOFTSGX_CPU_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "softsgx/cpu.h"
#include "softsgx/measure.h"

#define NO_FRAME UINT32_MAX

/* EPCM flag bits (struct epcm.flags). */
#define EPCM_VALID (1u << 0)
#define EPCM_BLOCKED (1u << 1)
#define EPCM_PENDING (1u << 2)
#define EPCM_MODIFIED (1u << 3)
#define EPCM_PR (1u << 4)

/*
 * One EPCM entry.  32 bytes a frame; the array is a sparse NORESERVE mapping,
 * so entries of never-used frames (all zero = invalid) cost nothing.
 * `lock` is the per-page "in use by an SGX instruction" state: 0 free,
 * > 0 shared holders, -1 exclusive, PAGE_LOCK_CLAIM an exclusive taker still
 * deciding (leaf_lock_excl()); an EEXTEND holds its page through its SECS's
 * `measure_busy` instead.  All other fields are written only by a
 * leaf that holds the page exclusively.  The fields that decide whether a
 * page is usable (flags, rwx, pt, secs, linaddr) are atomic because the
 * entry leaves check SSA pages without the page lock (the SDM's concurrency
 * tables do not make SSA pages operands): a writer stores FLAGS last when a
 * page becomes valid and first when it is removed, and lockless readers
 * load FLAGS first, so they never see a new VALID with old contents.
 */
struct epcm {
	_Atomic uint8_t flags;
	_Atomic uint8_t rwx;
	_Atomic uint8_t pt;
	uint8_t pad;
	_Atomic int32_t lock;
	_Atomic uint32_t secs; /* frame index of the owning SECS, NO_FRAME if none */
	uint32_t bepoch;       /* tracking epoch stamped by EBLOCK/EMODPR/EMODT */
	_Atomic uint64_t linaddr;
	/*
	 * In a SECS's entry: the measurement lock (EADD, EEXTEND and EINIT are
	 * exclusive on a SECS).  0 free, MEASURE_HELD by EADD or EINIT,
	 * MEASURE_EXTEND(f) by an EEXTEND of a chunk of frame f, which holds
	 * that page through this word rather than through its page lock (see
	 * sgx_eextend()).  In the EPCM, not in the SECS page, because EEXTEND
	 * takes it on a look at the chunk's entry that may be stale by then,
	 * when RBX may no longer be a SECS: in any other entry the word is
	 * unused, and such a claim touches no page's bytes.
	 */
	_Atomic uint64_t measure_busy;
};
_Static_assert(sizeof(struct epcm) <= 64, "EPCM metadata must stay within 64 bytes");

/*
 * Hidden SECS state, kept in the SECS page's reserved tail as hardware does.
 * EWB of a SECS therefore encrypts it along with the visible part.
 *
 * `trk` packs the tracking state so that EENTER/AEX/EEXIT (which run in
 * signal context) and ETRACK update it with one lock-free CAS:
 *   bits 31:0  epoch (modular), bits 47:32 LPs inside that entered before the
 *   latest ETRACK (prev_count), bits 63:48 LPs currently inside.
 */
struct secs_hidden {
	uint64_t eid;
	struct sgx_measure mr;  /* running MRENCLAVE */
	uint8_t padding[352];
	uint8_t isvfamilyid[16];
	uint8_t isvextprodid[16];
	uint8_t initialized;
	uint8_t pad[7];
	_Atomic uint64_t children;
	_Atomic uint64_t trk;
	_Atomic int track_busy;   /* ETRACK exclusion */
	/*
	 * EREMOVEs of children against entries (see remove_announce()):
	 * bits 15:0 announced and undecided, bits 31:16 committed and not
	 * yet done, bits 63:32 veto generation.
	 */
	_Atomic uint64_t removing;
	uint64_t window;          /* host address of the enclave window (0: none) */
};
#define SECS_HIDDEN_OFFSET 2048
_Static_assert(sizeof(struct secs_hidden) <= 4096 - SECS_HIDDEN_OFFSET, "hidden SECS");

#define TRK_EPOCH(t) ((uint32_t)(t))
#define TRK_PREV(t) ((uint32_t)(((t) >> 32) & 0xFFFF))
#define TRK_INSIDE(t) ((uint32_t)((t) >> 48))
#define TRK_MAKE(e, p, i) ((uint64_t)(uint32_t)(e) | ((uint64_t)(p) << 32) | ((uint64_t)(i) << 48))

/*
 * Hidden TCS state, beyond SGX_TCS_LIMIT (EDBGRD cannot read it, EADD/EACCEPT
 * require it zero on the way in, and it is zero whenever EEXTEND can run).
 */
#define SGX_TCS_LIMIT 2048
struct tcs_hidden {
	uint32_t entry_epoch; /* epoch at EENTER/ERESUME of the LP on this TCS */
	uint32_t pad;
};

struct epc_section {
	uint8_t *base;
	uint64_t size;
	uint64_t first_frame;
	int node;
};

/* Per-thread leaf-counter shards (the last one is shared). */
#define STAT_SHARDS 64

struct sgx_cpu {
	struct sgx_cpu_config cfg;
	unsigned int nr_sections;
	struct epc_section sections[SGX_MAX_EPC_SECTIONS];
	uint64_t nr_frames;
	struct epcm *epcm; /* nr_frames entries, sparse */
	_Atomic uint64_t touched;
	uint8_t *touched_map; /* one byte per frame: has host memory behind it */
	/*
	 * Per frame: where the bytes of a REG/TRIM page live when its enclave
	 * has a window (sgx_cpu_set_window()), else NULL.  Written only by a
	 * leaf that holds the frame's EPCM entry exclusively.
	 */
	uint8_t *_Atomic *frame_home;

	_Atomic uint64_t next_eid;
	_Atomic uint64_t pending_events; /* EINITs still to end in SGX_UNMASKED_EVENT */
	_Atomic uint64_t paging_version;
	uint64_t lepubkeyhash[4]; /* reset value of every LP's LE hash MSRs */

	/*
	 * CPUSVN as two little-endian words, read without a lock because
	 * EREPORT and EGETKEY run in signal context.  Inside a leaf that has
	 * an enclave the pair cannot change (EUPDATESVN needs an empty EPC),
	 * so it reads consistently there; sgx_cpu_cpusvn() takes svn_lock.
	 * svn_lock serialises EUPDATESVN with itself and guards the staged
	 * value.
	 */
	_Atomic uint64_t cpusvn[2];
	pthread_mutex_t svn_lock;
	bool svn_lock_ready;
	uint8_t staged_svn[16];
	_Atomic uint64_t entropy_failures; /* EUPDATESVNs still to find no entropy */
	uint64_t id;              /* unique per platform, for per-thread MSR banks */

	/* Platform secrets (docs/architecture.md, "Keys" choice). */
	uint8_t root_key[16];
	uint8_t owner_epoch[16];
	uint8_t seal_key_fuses[16];
	uint8_t report_keyid[32];
	uint8_t paging_key[16];

	sgx_dbg_view_fn dbg_view; /* sgx_cpu_set_dbg_view() */
	void *dbg_view_ctx;

	void *paging_ctx; /* owned by paging_crypto.c */
	void *keys_ctx;   /* owned by keys.c */

	/*
	 * Leaf counters, one shard per thread: a single shared cache line
	 * would bounce between every core running leaves, and a locked add
	 * per leaf is a measurable share of EEXTEND.  Threads beyond the
	 * private shards share the last one and add atomically.
	 */
	struct cpu_stats {
		_Atomic uint64_t ecreate, eadd, eextend, einit, eremove, epa, eblock, etrack;
		_Atomic uint64_t ewb, eldu, eldb, eaug, emodpr, emodt;
		_Atomic uint64_t eenter, eresume, eexit, aex;
		_Atomic uint64_t eaccept, eacceptcopy, emodpe, ereport, egetkey;
		_Atomic uint64_t eupdatesvn, edeccssa;
	} __attribute__((aligned(64))) st[STAT_SHARDS];
};

/* This thread's stats shard; -1 until its first leaf (see stat_shard_init). */
extern __thread int stat_shard_idx __attribute__((tls_model("initial-exec")));
int stat_shard_init(void);

/*
 * Count one leaf success.  A private shard has one writer, this thread, and
 * a single non-locked increment instruction cannot be torn by a signal
 * handler on the same thread, so no lock prefix is needed.
 */
static inline void stat_add(_Atomic uint64_t *c, bool shared)
{
	if (shared)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
	else
		__asm__ volatile("incq %0" : "+m"(*(uint64_t *)c));
}

#define STAT_INC(cpu, f)                                                        \
	do {                                                                    \
		int s_ = stat_shard_idx;                                        \
		if (s_ < 0)                                                     \
			s_ = stat_shard_init();                                 \
		stat_add(&(cpu)->st[s_].f, s_ == STAT_SHARDS - 1);              \
	} while (0)

/* Fault reporting: record the details on this thread, return the encoding. */
int fault_ud(void);
int fault_gp(void);
int fault_pf(uint64_t addr, uint32_t errcd);

/*
 * Frame lookup: NO_FRAME when @addr is not inside the EPC.  Inline: every
 * leaf calls these several times and they were a measurable share of
 * EEXTEND's cost.
 */
static inline uint32_t epc_frame(const struct sgx_cpu *cpu, uint64_t addr)
{
	for (unsigned int i = 0; i < cpu->nr_sections; i++) {
		uint64_t b = (uint64_t)(uintptr_t)cpu->sections[i].base;

		if (addr >= b && addr - b < cpu->sections[i].size)
			return (uint32_t)(cpu->sections[i].first_frame + (addr - b) / SGX_PAGE_SIZE);
	}
	return NO_FRAME;
}

static inline void *frame_addr(const struct sgx_cpu *cpu, uint32_t frame)
{
	for (unsigned int i = 0; i < cpu->nr_sections; i++) {
		const struct epc_section *s = &cpu->sections[i];

		if (frame >= s->first_frame && frame - s->first_frame < s->size / SGX_PAGE_SIZE)
			return s->base + (frame - s->first_frame) * SGX_PAGE_SIZE;
	}
	return NULL;
}

static inline struct epcm *epcm_of(const struct sgx_cpu *cpu, uint32_t frame)
{
	return &cpu->epcm[frame];
}

/*
 * Bytes of a frame, counting frames that got host memory.  The single point
 * where the host layer will later redirect REG pages into enclave windows.
 */
static inline uint8_t *frame_bytes(struct sgx_cpu *cpu, uint32_t frame)
{
	uint8_t *home = atomic_load_explicit(&cpu->frame_home[frame], memory_order_relaxed);

	if (home)
		return home;
	if (!__atomic_load_n(&cpu->touched_map[frame], __ATOMIC_RELAXED) &&
	    !__atomic_exchange_n(&cpu->touched_map[frame], 1, __ATOMIC_RELAXED))
		atomic_fetch_add_explicit(&cpu->touched, 1, memory_order_relaxed);
	return frame_addr(cpu, frame);
}
/*
 * Zero a frame's bytes.  A frame keeps its host memory once used, as real
 * EPC does: giving it back on every EWB/EREMOVE (madvise) and refaulting it on
 * reuse cost ~20x the paging crypto itself.  Only a never-used frame is free.
 */
void frame_scrub(struct sgx_cpu *cpu, uint32_t frame);
/*
 * Give frame @f (about to become page @la of the enclave of @secs_frame,
 * REG or TRIM) its home in that enclave's window, when it has one.  The
 * caller holds the frame's entry exclusively; frame_scrub() ends it.
 */
void frame_bind(struct sgx_cpu *cpu, uint32_t f, uint32_t secs_frame, uint64_t la);

/* Values of struct epcm.measure_busy. */
#define MEASURE_HELD 1ULL
#define MEASURE_EXTEND(f) ((uint64_t)(f) + 2)

/*
 * Per-page instruction locks.  Return true on success; they never block,
 * but wait a bounded moment on a page whose exclusive taker is still
 * deciding (PAGE_LOCK_CLAIM), so that its decision, not the race, tells
 * who gets the page.
 *
 * page_lock_excl() is the bare lock (tests use it to stand for another
 * leaf holding a page); a leaf takes a page exclusively with
 * leaf_lock_excl(), which also fails while an EEXTEND holds the page.
 */
#define PAGE_LOCK_CLAIM (-2)
bool page_lock_excl(struct epcm *e);
bool leaf_lock_excl(const struct sgx_cpu *cpu, struct epcm *e);
bool page_lock_shared(struct epcm *e);
void page_unlock_excl(struct epcm *e);
void page_unlock_shared(struct epcm *e);
/* The page lock's value once no exclusive taker is deciding (or after the bound). */
int32_t page_lock_settled(struct epcm *e);

static inline struct secs_hidden *secs_hidden(struct sgx_cpu *cpu, uint32_t secs_frame)
{
	return (struct secs_hidden *)(frame_bytes(cpu, secs_frame) + SECS_HIDDEN_OFFSET);
}
static inline struct sgx_secs *secs_of(struct sgx_cpu *cpu, uint32_t secs_frame)
{
	return (struct sgx_secs *)frame_bytes(cpu, secs_frame);
}
static inline struct tcs_hidden *tcs_hidden(struct sgx_cpu *cpu, uint32_t tcs_frame)
{
	return (struct tcs_hidden *)(frame_bytes(cpu, tcs_frame) + SGX_TCS_LIMIT);
}

/*
 * A non-EPC operand (source page, SECINFO, PCMD, SIGSTRUCT...) of @len bytes
 * at @addr, read (or written when @write) by the leaf.  In the NULL page it
 * is #PF, as an access to an unmapped page is on hardware (the model cannot
 * probe other addresses; it relies on the caller for them).  In the EPC it
 * is #GP: hardware gives such accesses abort-page semantics; the model
 * refuses them (EMU-CHOICE) rather than leak or corrupt EPC bytes.
 * Return: 0 or the fault.
 */
int host_operand(const struct sgx_cpu *cpu, uint64_t addr, uint64_t len, bool write);
/* host_operand() of two operands, the first one's fault first. */
int host_operands(const struct sgx_cpu *cpu, uint64_t a, uint64_t alen, uint64_t b,
		  uint64_t blen, bool write);
/* The calling LP's IA32_SGXLEPUBKEYHASH0..3, read at once. */
void cpu_lehash_snapshot(const struct sgx_cpu *cpu, uint64_t out[4]);

static inline bool is_aligned(uint64_t v, uint64_t a) { return (v & (a - 1)) == 0; }
static inline uint64_t ptr_u64(const void *p) { return (uint64_t)(uintptr_t)p; }
/* Eight bytes at a time: EADD checks 56 reserved SECINFO bytes per page. */
static inline bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= b[i];
	return !acc;
}

/*
 * The common first checks on a page operand: 4K-aligned (#GP) and in the EPC
 * (#PF, no SGX bit).  Return 0 and the frame, or the fault.
 */
static inline int epc_page_operand(const struct sgx_cpu *cpu, const void *addr, uint32_t *frame)
{
	if (!is_aligned(ptr_u64(addr), SGX_PAGE_SIZE))
		return fault_gp();
	*frame = epc_frame(cpu, ptr_u64(addr));
	if (*frame == NO_FRAME)
		return fault_pf(ptr_u64(addr), 0);
	return 0;
}

/*
 * Make @e a valid entry (caller holds the page exclusively).  FLAGS last,
 * with release: a lockless reader that loads VALID sees the rest.  Plain
 * stores otherwise: a sequentially consistent store is a locked exchange on
 * x86, and each one would wait for the caller's page copy to reach the cache.
 */
static inline void epcm_set(struct epcm *e, uint8_t pt, uint8_t rwx, uint64_t linaddr,
			    uint32_t secs, uint8_t flags)
{
	atomic_store_explicit(&e->pt, pt, memory_order_relaxed);
	atomic_store_explicit(&e->rwx, rwx, memory_order_relaxed);
	atomic_store_explicit(&e->linaddr, linaddr, memory_order_relaxed);
	atomic_store_explicit(&e->secs, secs, memory_order_relaxed);
	e->bepoch = 0;
	atomic_store_explicit(&e->flags, (uint8_t)(EPCM_VALID | flags), memory_order_release);
}

/* A page EEXTEND can measure: a valid REG or TCS page. */
static inline bool epcm_measurable(const struct epcm *e)
{
	unsigned int pt;

	if (!(e->flags & EPCM_VALID)) /* first, as every lockless reader does */
		return false;
	pt = e->pt;
	return pt == SGX_PAGE_TYPE_REG || pt == SGX_PAGE_TYPE_TCS;
}

/* Bytes of the ENCLU instruction (0f 01 d7): what RIP moves past. */
#define ENCLU_INSN_LEN 3

/* AEX-Notify, and with it EDECCSSA (CPUID.(12H,0):EAX[11]), is on the platform. */
static inline bool cpu_has_aexnotify(const struct sgx_cpu *cpu)
{
	return cpu->cfg.attributes_mask & SGX_ATTR_ASYNC_EXIT_NOTIFY;
}

/* Reserved TCS.FLAGS bits: AEXNOTIFY (bit 1) too where AEX-Notify is not enumerated. */
static inline uint64_t tcs_reserved_mask(const struct sgx_cpu *cpu)
{
	return SGX_TCS_RESERVED_MASK | (cpu_has_aexnotify(cpu) ? 0 : SGX_TCS_AEXNOTIFY);
}

/* Size of the XSAVE area for @xfrm in the non-compacted format (SDM, SSA frame). */
uint32_t xsave_size(uint64_t xfrm);
/* Standard-format place of XSAVE component @i (>= 2); false when not modelled. */
bool xsave_component(unsigned int i, uint32_t *off, uint32_t *size);
/* True when @xfrm is a legal, supported XCR0 value for this platform. */
bool xfrm_valid(const struct sgx_cpu *cpu, uint64_t xfrm);
/* MISC region size for @miscselect. */
uint32_t misc_size(uint32_t miscselect);

/* CPUSVN (cpu/encls_svn.c): read and replace, word by word. */
void cpu_get_cpusvn(const struct sgx_cpu *cpu, uint8_t svn[16]);
void cpu_set_cpusvn(struct sgx_cpu *cpu, const uint8_t svn[16]);
/* -1, 0, 1 as @a is older than, equal to or newer than @b (byte 15 first). */
int cpusvn_cmp(const uint8_t a[16], const uint8_t b[16]);

/* Tracking (docs/architecture.md, "Tracking"). */
bool page_tracked(const struct secs_hidden *h, uint32_t bepoch);
/*
 * Count an LP in; false (nothing changed) when 0xFFFF are inside already,
 * or when an EREMOVE of a child that had decided no LP was inside does not
 * finish within a bound (its thread stalled).
 */
bool track_enter(struct secs_hidden *h, struct tcs_hidden *t);
void track_leave(struct secs_hidden *h, const struct tcs_hidden *t);

/*
 * EREMOVE of a child while entries may run, without a lock:
 *   gen = remove_announce(h); if an LP is inside: remove_withdraw(h), fail;
 *   if (!remove_commit(h, gen)) fail (an entering LP vetoed it);
 *   clear the EPCM entry; remove_done(h).
 * An entering LP counts itself in, then vetoes every announced, undecided
 * removal and waits for the committed ones to finish (track_enter()).  All
 * sequentially consistent: a removal either sees the LP inside, or is
 * vetoed by it, or finishes before the LP's entry does, so it is atomic
 * with respect to entries, as EREMOVE is on hardware.
 */
uint32_t remove_announce(struct secs_hidden *h);
void remove_withdraw(struct secs_hidden *h);
bool remove_commit(struct secs_hidden *h, uint32_t gen);
void remove_done(struct secs_hidden *h);

/*
 * SIGSTRUCT checks for EINIT (cpu/sigstruct.c).  Return 0 or
 * SGX_INVALID_SIG_STRUCT / SGX_INVALID_SIGNATURE; a good signature yields the
 * 352-byte PADDING (top of the encoded message).
 */
int sigstruct_check_format(const struct sgx_cpu *cpu, const struct sgx_sigstruct *ss);
int sigstruct_verify(const struct sgx_sigstruct *ss, uint8_t padding[352]);
/* MRSIGNER = SHA-256 of the 384 modulus bytes as stored. */
void sgx_sigstruct_mrsigner_raw(const uint8_t modulus[SGX_MODULUS_SIZE], uint8_t out[32]);

/*
 * Key derivation (cpu/keys.c).  KEYDEPENDENCIES as one packed structure;
 * fields a key does not use stay zero.  Key = AES-128-CMAC(root key, deps).
 */
struct key_deps {
	uint16_t keyname;
	uint16_t keypolicy;
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t config_svn;
	uint8_t pad[6];
	uint8_t owner_epoch[16];
	uint64_t attributes, xfrm;
	uint64_t attributes_mask, xfrm_mask;
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint8_t keyid[32];
	uint8_t seal_key_fuses[16];
	uint8_t cpusvn[16];
	uint8_t padding[352];
	uint32_t miscselect;
	uint32_t miscmask;
	uint8_t config_id[64];
	uint8_t isvfamilyid[16];
	uint8_t isvextprodid[16];
} __attribute__((packed));

int keys_init(struct sgx_cpu *cpu);
void keys_fini(struct sgx_cpu *cpu);
/* Async-signal-safe (no allocation after sgx_cpu_create). */
void derive_key(struct sgx_cpu *cpu, const struct key_deps *d, uint8_t key[16]);
/* AES-128-CMAC (RFC 4493) of @len bytes.  Async-signal-safe. */
void aes_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16]);
/* The 352-byte PKCS#1 v1.5 SHA-256 padding constant (SDM, SIGSTRUCT). */
extern const uint8_t sgx_padding_const[352];

/*
 * ENCLU internals (cpu/enclu.c).  enclu_operand() checks an in-enclave
 * operand as the SDM's "usable enclave page" rule does: inside ELRANGE and
 * aligned to @align (else #GP), translated to a valid, unblocked, accepted REG
 * page of the current enclave at that address with R (and W when @write)
 * (else #PF on @la).  On success *@bytes points at the operand.
 */
struct sgx_lp;
struct sgx_mmu;
struct sgx_regs;
int enclu_operand(struct sgx_cpu *cpu, const struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  uint64_t la, uint64_t align, bool write, uint32_t *frame, uint8_t **bytes);
/* Shared by the ENCLU files (cpu/enclu.c). */
bool in_elrange(const struct sgx_secs *secs, uint64_t la);
/* #PF for an EPCM refusal as ENCLU reports it: user access, P, SGX (+W). */
int pf_epcm(uint64_t la, bool write);
/* Translate @la: plain #PF when unmapped, SGX #PF when not EPC; else its frame. */
int enclu_page(struct sgx_cpu *cpu, const struct sgx_mmu *mmu, uint64_t la, bool write,
	       uint32_t *frame);
/* Leaves in cpu/keys.c and cpu/enclu_sgx2.c, dispatched by sgx_enclu(). */
int enclu_ereport(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  struct sgx_regs *regs);
int enclu_egetkey(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  struct sgx_regs *regs);
int enclu_eaccept(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  struct sgx_regs *regs);
int enclu_eacceptcopy(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		      struct sgx_regs *regs);
int enclu_emodpe(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		 struct sgx_regs *regs);

/*
 * Paging crypto (cpu/paging_crypto.c).  AES-128-GCM under the platform paging
 * key, IV = 4 zero bytes || le64(version), AAD = the 128-byte MAC header.
 * Async-signal-safe: contexts are preallocated at sgx_cpu_create().
 * Return: 0, or -1 when the tag does not verify (decrypt).
 */
int paging_crypto_init(struct sgx_cpu *cpu);
void paging_crypto_fini(struct sgx_cpu *cpu);
int paging_encrypt(struct sgx_cpu *cpu, uint64_t version, const uint8_t aad[128],
		   const uint8_t *in, uint8_t *out, uint8_t tag[16]);
int paging_decrypt(struct sgx_cpu *cpu, uint64_t version, const uint8_t aad[128],
		   const uint8_t *in, uint8_t *out, const uint8_t tag[16]);

#endif
