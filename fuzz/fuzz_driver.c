// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the driver (issue 3): sequences of ioctls, mmaps,
 * faults, debugger accesses, reclaim passes, enclave releases, address-space
 * exits and vEPC operations with arbitrary arguments, checked after every single step
 * against the invariants of the EPC and of every live enclave.
 *
 * Set-up.  One driver per process on a fresh CPU model of EPC_PAGES frames
 * (sim_driver(), synchronous: no ksgxd thread, so every input runs
 * deterministically), created on the first input.  Each input opens 1-3
 * enclaves and NR_MM simulated address spaces, runs its program, then tears
 * everything down and checks that the whole EPC is free again, nothing
 * leaked and no object is left (LeakSanitizer checks host memory).
 *
 * Invariants checked after every operation (abort() on violation, with the
 * operation's index and name on stderr):
 *   - EPC accounting: pages flagged IS_FREE (and not poisoned) ==
 *     drv->nr_free_pages == the length of the free lists; every free page is
 *     invalid in the EPCM; every other page is owned by exactly one object
 *     (a SECS, a resident child, a VA page of a live enclave, a vEPC slot or
 *     a zombie SECS): free + in use == total, stats.leaked == 0;
 *   - the active list is exactly the set of resident children of live
 *     enclaves (RECLAIMER_TRACKED, owner = the descriptor), nr_active agrees;
 *   - per enclave: secs_child_cnt == resident children (PRESENT slots with
 *     an epc_page) == the CPU's child count of the SECS; each resident page's
 *     EPCM entry is valid, unblocked, of the descriptor's type, owned by the
 *     enclave's SECS at the descriptor's address; no BUSY/PCMD_BUSY bit is
 *     left behind; every evicted page holds exactly one VA slot (the VA
 *     bitmaps equal the set of evicted pages, SECS included) and
 *     nr_evicted agrees; page_cnt == 1 + present entries and VA slots cover
 *     page_cnt; the SECS is resident unless the enclave is initialized and
 *     childless; refcount == 1 + tracked address spaces;
 *   - every PTE of every address space maps the page the driver holds for
 *     that (enclave, address) — the stale-PTE race of docs/races.md, R1 —
 *     or the vEPC page of that file offset;
 *   - every ioctl returns 0 or one of the errnos the kernel's ioctl.c
 *     returns for it, -ENOTTY for anything else; state-machine errors are
 *     exact (CREATE twice, ADD/INIT outside CREATED, SGX2 before INIT:
 *     -EINVAL);
 *     errors of the argument checks are exact and in the kernel's order
 *     (-EFAULT/-EINVAL), and valid arguments never give -EINVAL where only
 *     those checks can; success means what it says (count == length, pages
 *     there or gone, types changed, flags set, the added page holds the
 *     source bytes and the SECINFO permissions, RESTRICT only removes
 *     permissions), and an INIT with a SIGSTRUCT signed over the MRENCLAVE
 *     the harness mirrors must succeed;
 *   - a debugger access (ptrace) returns the whole length or -EFAULT/-EIO/
 *     -ENOMEM, -EFAULT without a DEBUG enclave, and a successful write
 *     reads back;
 *   - a fault's outcome is the one Linux's sgx_vma_fault() gives whenever it is determined
 *     (resident page within its permissions: mapped; no page before INIT,
 *     outside ELRANGE, or beyond the page's permissions: SIGBUS; EAUG or
 *     ELDU with free EPC: mapped).
 *
 * Input encoding.  Byte 0 is the header: bits 0-1 = number of enclaves
 * opened up front minus one (3 means 1), bit 2 = tear-down order (0: close
 * the enclave files first, 1: exit the address spaces first), bit 3 = the
 * kernel's backing truncation (cfg.kernel_backing) for this input, bit 4 =
 * the EPC cgroup's revision of the series (0: v17, 1: v5).  Then a
 * sequence of operations, each an opcode byte (taken modulo OP_SLOTS, 32;
 * values past the last operation are no-ops, so that new operations keep
 * old inputs' meaning) followed
 * by its argument bytes; multi-byte values are little-endian; reading past
 * the end yields zeros, and the program stops there (at most MAX_OPS
 * operations).  Most arguments are "specs": one selector byte that picks a
 * sane value most of the time and an edge case or a raw value read from the
 * input otherwise (see pick_offset(), pick_length(), ...), so that both
 * deep states and every check are reachable.  Common argument bytes: E =
 * enclave slot (mod NR_ENCL), M = address space (mod NR_MM), V = vEPC slot.
 *
 *   op  name        arguments
 *    0  CREATE      E F K [size u64 if F&0x10] [base u64 if F&0x20]
 *                   [attributes u64, xfrm u64, ssa u32, misc u32 if F&0x40]
 *                   [trouble byte if F&0x80]
 *                   F bits 0-3: DEBUG, PROVISIONKEY, KSS, AEXNOTIFY;
 *                   K: size 2^(13 + K%8), bit 5 EXINFO, 6 ssa 2, 7 AVX
 *    1  ADD_PAGES   E M offset length S C X  (S: SECINFO, C: contents,
 *                   X bit 0 measure, bits 1-3 source, 0xF0 bad argument)
 *    2  INIT        E N [extra]  (N%8 0-4 signed over the mirrored
 *                   MRENCLAVE, 5 another cached SIGSTRUCT, 6 one byte
 *                   corrupted, 7 bad pointers / reserved bits)
 *    3  PROVISION   E P [fd u64]
 *    4  RESTRICT    E offset length P X
 *    5  MODIFY      E offset length T X
 *    6  REMOVE      E offset length X
 *    7  RAW_IOCTL   E M C [cmd u32] argument bytes...
 *    8  MMAP        M E start length P
 *    9  MUNMAP      M I
 *   10  MPROTECT    M I P
 *   11  ACCESS      M A [addr u64]
 *   12  RECLAIM     N                  (N%4 + 1 sgx_reclaim_pages batches)
 *   13  RECLAIM_DIRECT
 *   14  EACCEPT     E offset N         (stand-in for the enclave's EACCEPT)
 *   15  RELEASE     E                  (munmap everywhere, close the file)
 *   16  OPEN        E
 *   17  MM_EXIT     M
 *   18  SIGNAL      N                  (a signal for the next operation)
 *   19  SRC_CHECK   N                  (noexec/-EFAULT source for the next op)
 *   20  BAD_RANGE   N                  (source page N%32 unreadable, next op)
 *   21  VEPC_OPEN   V N [pgoff u64]     (mapped: 1 + N%64 pages, at pgoff if N >= 0xF0)
 *   22  VEPC_FAULT  V M I
 *   23  VEPC_IOCTL  V C [cmd u32, arg u64]
 *   24  VEPC_CLOSE  V
 *   25  VEPC_GUEST  V S I J [K]        (guest ECREATE / EADD in vEPC pages)
 *   26  BUILD       E M K N            (CREATE + TCS + N pages + INIT + mmap)
 *   27  TOUCH       M A N              (ACCESS of N consecutive pages)
 *   28  HOOK        T S L program[L]   (a nested program, see below)
 *   29  PTRACE      M A W L [addr u64]  (a debugger read or write)
 *   30  CGROUP      K X [N | L bytes[L]] (EPC cgroups, slot X mod NR_CG, 0 the
 *                   root; K%8: 0 create under X, 1 destroy X, 2 misc.max of X
 *                   = N%40 pages (39: "max"), 3 misc.max of X = the L%24 raw
 *                   bytes, 4 allocate as a task of X from now on, 5 run the
 *                   asynchronous work (reclaim, OOM kill), 6 OOM-kill in X's
 *                   subtree, 7 read X's files)
 *   31  SVN         N                  (N bit 7: stage a newer CPUSVN; else the
 *                   next N%16 EUPDATESVNs find no entropy.  The platform has
 *                   EUPDATESVN, so every open by a first user runs it: it
 *                   must succeed, or fail with -EAGAIN after ten dry tries,
 *                   and a staged CPUSVN must then be current.)
 *
 * Interleavings.  The driver stops at test pause points inside its
 * unlocked windows (enum sgx_test_point: the REMOVE_PAGES and MODIFY_TYPES
 * zap windows, the EAUG path between its lockless check and encl->lock,
 * the reclaimer after isolating and after blocking a batch).  HOOK arms a
 * nested program of L bytes that runs, once, the (S%16)-th time pause
 * point T%5 is reached: faults on the window's page, SGX2 ioctls on it,
 * reclaim, releases, vEPC use...  (run_nested() lists its encoding).  This
 * is how a single thread, deterministically, puts a second thread's
 * operation inside another's window: the races R1 and R2 of
 * docs/races.md.  Extra oracles there: no fault in a REMOVE/MODIFY window may
 * map the page (R1), and a fault may not SIGBUS when the page is
 * present, resident, not BUSY and within its permissions (the EAUG race,
 * R2).  Both fire on a build with -Drace_fixes=false, from the race_*
 * seeds at once and from the other seeds within minutes of fuzzing.
 *
 * The EACCEPT stand-in clears PENDING/MODIFIED/PR in the EPCM of resident
 * pages once their change is tracked, as the enclave's EACCEPT would (a new
 * TCS only if its contents are valid); it lets REMOVE_PAGES and the other
 * SGX2 flows complete without running enclave code.
 *
 * Not exercised: memory failure (a poisoned page never comes back, which
 * would carry state from one input to the next), ksgxd and real threads.
 *
 * Environment: FUZZ_DRIVER_TRACE=1 prints every operation and result (to
 * read a crash input), FUZZ_DRIVER_STATS=1 prints outcome counts at exit.
 * libFuzzer only sees coverage of code built with -fsanitize=fuzzer: for
 * feedback from the driver itself configure with
 * -Dc_args=-fsanitize=fuzzer-no-link as well.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "internal.h"
#include "softsgx/measure.h"
#include "softsgx/sign.h"
#include "softsgx/uapi/sgx.h"

#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif

#define PG 4096UL
#define EPC_PAGES 96
#define NR_ENCL 3
#define NR_MM 2
#define NR_VEPC 2
#define NR_CG 4 /* cgroup slots; 0 is the root */
#define MAX_DEAD_MM 8
#define MAX_OPS 192
#define SRC_PAGES 32
#define MAX_LEN_PAGES 32
#define FULL_WALK_SLOTS 512 /* enclaves up to this many pages are walked slot by slot */
#define MAX_CAND 2048
#define VEPC_REGION(v) (0x7e0000000000UL + ((unsigned long)(v) << 32))
/*
 * Fault retries, with one reclaim batch between them: enough to go round the
 * whole active list twice (the first round may only clear accessed bits;
 * EAUG'd pages start young).  Running out of them is a livelock.
 */
#define ACCESS_TRIES (2 * (EPC_PAGES / SGX_NR_TO_SCAN + 1) + 2)
#define SIGN_CACHE 256
#define PROVISION_FD 77

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- process-wide state ---- */

static struct sim_host host;
static struct sgx_driver *drv;
static EVP_PKEY *sign_key;
static bool trace;

/* FUZZ_DRIVER_STATS: outcome counts over the run, printed at exit. */
enum { ST_OK, ST_ERR, ST_NR };
static unsigned long ioctl_stats[8][ST_NR];
static unsigned long fault_stats[3], vepc_remove_failures, inputs;

struct sign_entry {
	bool used;
	uint8_t mr[32];
	uint64_t attributes, xfrm;
	struct sgx_sigstruct ss;
};
static struct sign_entry sign_cache[SIGN_CACHE];

/*
 * "User memory": source pages, SECS, SECINFO, SIGSTRUCT and raw argument
 * images in one object, with a tail, so that every pointer the harness
 * hands the driver has at least two pages readable behind it.
 */
static struct {
	uint8_t src[SRC_PAGES][PG];
	struct sgx_secs secs;
	struct sgx_sigstruct sig __attribute__((aligned(64)));
	struct sgx_secinfo si;
	uint8_t raw[256] __attribute__((aligned(64)));
	uint8_t tail[2 * PG];
} umem __attribute__((aligned(4096)));
#define src_pages umem.src
#define secs_buf umem.secs
#define secinfo_buf umem.si
#define sig_buf umem.sig
#define raw_buf umem.raw

/* ---- per-input state ---- */

struct henc {
	struct sgx_encl *encl;
	struct sgx_secs secs;       /* the SECS of the successful CREATE */
	bool created;               /* the harness's view of CREATED */
	bool provisioned;           /* PROVISION succeeded after CREATE */
	struct sgx_measure m;       /* MRENCLAVE mirrored from the ioctls */
	bool measure_ok;            /* the mirror is exact */
	unsigned long cand[MAX_CAND]; /* slot indices ever touched (big enclaves) */
	int nr_cand;
	bool cand_overflow;
};

/* A vEPC file, mapped at VEPC_REGION: @max pages from file page @pgoff on. */
struct hvepc {
	struct sgx_vepc *v;
	unsigned long max, pgoff;
};

static struct {
	struct henc e[NR_ENCL];
	struct sgx_mm *mm[NR_MM];
	struct sgx_mm *dead[MAX_DEAD_MM];
	int nr_dead;
	int mm_ids;
	struct hvepc v[NR_VEPC];
	struct sgx_cgroup *cg[NR_CG];
	bool limited;          /* some cgroup got a limit: allocations may be refused */
	unsigned int dry;      /* EUPDATESVNs still to find no entropy (mirror of the CPU's) */
	bool svn_staged;       /* a newer CPUSVN is staged for the next first user */
	bool pre_killed;       /* the enclave of the last ioctl was OOM-killed before it */
	/* Arms for the next operation. */
	int arm_signal;        /* 0 none, -1 pending now, n > 0 after n checks */
	int arm_src_check;     /* 0 none, else the errno src_check returns */
	int arm_bad_page;      /* -1 none, else the source page made unreadable */
	bool signal_live, src_live, bad_live;
	/*
	 * A nested program run inside one of the driver's unlocked windows
	 * (a test pause point): armed by OP_HOOK, fired once, on the
	 * hook_skip-th time pause point hook_tp is reached.
	 */
	int hook_tp;
	int hook_skip;
	const uint8_t *hook_prog;
	size_t hook_len;
	int depth;                   /* > 0 inside a nested program */
	unsigned long nested_runs;   /* how many nested programs ran so far */
	bool ioctl_busy[NR_ENCL];    /* an ioctl of this enclave is in flight */
	int fault_busy[NR_ENCL];     /* faults of this enclave in flight */
	int rdlocked;                /* mmap locks held for read by faults in flight */
	bool busy_skip;              /* the last ioctl met another one in flight (-EBUSY) */
	int window_tp;               /* the pause point of the running nested program */
	struct sgx_encl *window_encl;
	unsigned long window_addr;
	bool window_new_pte;         /* a fault in the window mapped window_addr */
	bool incomplete;             /* an enclave's slots could not all be walked */
	/* Diagnostics. */
	int op_index;
	const char *op_name;
} S;

/* The cgroup the harness's "task" allocates in (NULL: the root). */
static struct sgx_cgroup *host_cg;

/* ---- failure reporting ---- */

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_driver: INVARIANT VIOLATED (%s:%d): ", __FILE__, \
				__LINE__);                                                 \
			fprintf(stderr, __VA_ARGS__);                                      \
			fprintf(stderr, "\n  after op #%d %s%s\n", S.op_index,             \
				S.op_name ? S.op_name : "(setup)",                         \
				S.depth ? " (in its nested program)" : "");                \
			abort();                                                           \
		}                                                                          \
	} while (0)

#define TRACE(...)                                                                         \
	do {                                                                               \
		if (trace)                                                                 \
			fprintf(stderr, __VA_ARGS__);                                      \
	} while (0)

/* ---- input reader ---- */

struct in {
	const uint8_t *p;
	size_t n, i;
};

static uint8_t u8(struct in *in)
{
	return in->i < in->n ? in->p[in->i++] : 0;
}

static uint16_t u16(struct in *in)
{
	uint16_t v = u8(in);

	return (uint16_t)(v | (uint16_t)u8(in) << 8);
}

static uint32_t u32(struct in *in)
{
	uint32_t v = u16(in);

	return v | (uint32_t)u16(in) << 16;
}

static uint64_t u64(struct in *in)
{
	uint64_t v = u32(in);

	return v | (uint64_t)u32(in) << 32;
}

/* ---- small helpers ---- */

static uint64_t uptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Would the simulated host's user copy of [@p, @p + @n) succeed? */
static bool user_ok(uint64_t p, uint64_t n)
{
	if (p < SIM_USER_MIN || p + n < p)
		return false;
	return !(sim_bad_hi && p < sim_bad_hi && p + n > sim_bad_lo);
}

/* A user pointer that faults (below SIM_USER_MIN). */
static uint64_t bad_ptr(uint8_t b)
{
	return (uint64_t)b * 0x40;
}

static bool errno_in(long r, const long *set)
{
	for (; *set != 1; set++)
		if (r == *set)
			return true;
	return false;
}

static unsigned long encl_flags(struct sgx_encl *encl)
{
	return atomic_load(&encl->flags);
}

static unsigned long sane_base(int slot)
{
	return (unsigned long)(slot + 1) << 36;
}

static struct sgx_mm *new_mm(void)
{
	struct sgx_mm *mm = sim_mm_new(&host, ++S.mm_ids);

	CHECK(mm, "sim_mm_new failed");
	return mm;
}

static int page_index_of(struct sgx_epc_page *p)
{
	int base = 0;

	for (unsigned int s = 0; s < drv->nr_sections; s++) {
		unsigned long n = drv->sections[s].size >> 12;

		if (p >= drv->sections[s].pages && p < drv->sections[s].pages + n)
			return base + (int)(p - drv->sections[s].pages);
		base += (int)n;
	}
	return -1;
}

static struct sgx_epcm_view epcm_of_page(struct sgx_epc_page *p)
{
	struct sgx_epcm_view v;

	CHECK(sgx_cpu_epcm(drv->cpu, sgx_get_epc_virt_addr(p), &v) == 0,
	      "EPC page %p has no EPCM entry", (void *)p);
	return v;
}

static int live_slot_of(struct sgx_encl *encl)
{
	for (int i = 0; i < NR_ENCL; i++)
		if (encl && S.e[i].encl == encl)
			return i;
	return -1;
}

static void add_cand(struct henc *he, unsigned long idx)
{
	for (int i = 0; i < he->nr_cand; i++)
		if (he->cand[i] == idx)
			return;
	if (he->nr_cand == MAX_CAND) {
		he->cand_overflow = true;
		return;
	}
	he->cand[he->nr_cand++] = idx;
}

/* Record the slots of [off, off + len) of a created enclave (clamped). */
static void add_cand_range(struct henc *he, uint64_t off, uint64_t len)
{
	struct sgx_encl *encl = he->encl;

	if (!encl || !encl->nr_slots || off >= encl->size)
		return;
	for (uint64_t o = off & ~(PG - 1); o < off + len && o < encl->size &&
					   o < off + MAX_LEN_PAGES * PG;
	     o += PG)
		add_cand(he, o >> 12);
}

/* ---- invariants ---- */

static uint8_t page_mark[EPC_PAGES * 2];
static int nr_marked;

static void mark_page(struct sgx_epc_page *p, const char *what)
{
	int idx = page_index_of(p);

	CHECK(idx >= 0 && idx < (int)sizeof(page_mark), "%s: %p is not an EPC page", what,
	      (void *)p);
	CHECK(!(p->flags & SGX_EPC_PAGE_IS_FREE), "%s: EPC page %d is in use but IS_FREE", what,
	      idx);
	CHECK(!page_mark[idx], "%s: EPC page %d owned twice", what, idx);
	page_mark[idx] = 1;
	nr_marked++;
}

static bool va_on_list(struct sgx_encl *encl, struct sgx_va_page *va)
{
	struct sgx_va_page *it;

	cds_list_for_each_entry(it, &encl->va_pages, list)
		if (it == va)
			return true;
	return false;
}

#define MAX_VA_CHECK 16

struct va_check {
	struct sgx_va_page *va[MAX_VA_CHECK];
	uint64_t bits[MAX_VA_CHECK][SGX_VA_SLOT_COUNT / 64];
	int n;
};

static void va_claim(struct sgx_encl *encl, struct va_check *vc, struct sgx_va_page *va,
		     unsigned long off, unsigned long addr)
{
	unsigned int slot = (unsigned int)(off >> 3);
	int k;

	CHECK(va, "evicted page 0x%lx has no VA page", addr);
	CHECK(va_on_list(encl, va), "evicted page 0x%lx: VA page not on va_pages", addr);
	for (k = 0; k < vc->n; k++)
		if (vc->va[k] == va)
			break;
	if (k == vc->n) {
		CHECK(vc->n < MAX_VA_CHECK, "too many VA pages");
		vc->va[vc->n++] = va;
	}
	CHECK(!(vc->bits[k][slot / 64] & (1ULL << (slot % 64))),
	      "VA slot %u used by two evicted pages (0x%lx)", slot, addr);
	vc->bits[k][slot / 64] |= 1ULL << (slot % 64);
	CHECK(va->slots[slot / 64] & (1ULL << (slot % 64)),
	      "evicted page 0x%lx: its VA slot %u is free", addr, slot);
}

struct encl_count {
	unsigned long present, resident, evicted;
};

static void check_entry(struct sgx_encl *encl, struct sgx_encl_page *e, unsigned long idx,
			struct encl_count *c, struct va_check *vc, void *secs_addr)
{
	unsigned long desc = atomic_load(&e->desc);
	unsigned long addr = encl->base + idx * PG;

	if (!(desc & SGX_ENCL_PAGE_PRESENT))
		return;
	c->present++;
	CHECK((desc & SGX_ENCL_PAGE_ADDR_MASK) == addr, "slot %lu: desc 0x%lx, address 0x%lx",
	      idx, desc, addr);
	CHECK(e->encl == encl, "slot %lu: entry of another enclave", idx);
	CHECK(e->type == SGX_PAGE_TYPE_REG || e->type == SGX_PAGE_TYPE_TCS ||
		      e->type == SGX_PAGE_TYPE_TRIM,
	      "slot %lu: type %u", idx, (unsigned int)e->type);
	if (e->epc_page) {
		struct sgx_epcm_view v = epcm_of_page(e->epc_page);

		c->resident++;
		CHECK(!(desc & (SGX_ENCL_PAGE_BUSY | SGX_ENCL_PAGE_PCMD_BUSY |
				SGX_ENCL_PAGE_VA_OFFSET_MASK)),
		      "resident page 0x%lx: stray desc bits 0x%lx", addr, desc);
		CHECK(!e->va_page, "resident page 0x%lx still holds a VA page", addr);
		mark_page(e->epc_page, "child");
		CHECK(e->epc_page->owner == e, "resident page 0x%lx: EPC owner %p, not %p", addr,
		      e->epc_page->owner, (void *)e);
		CHECK(e->epc_page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED,
		      "resident page 0x%lx is not reclaimer-tracked", addr);
		CHECK(v.valid && !v.blocked, "resident page 0x%lx: EPCM valid %d blocked %d", addr,
		      v.valid, v.blocked);
		CHECK(v.secs == secs_addr, "resident page 0x%lx: EPCM SECS %p, enclave's %p", addr,
		      v.secs, secs_addr);
		CHECK(v.linaddr == addr, "resident page 0x%lx: EPCM address 0x%llx", addr,
		      (unsigned long long)v.linaddr);
		CHECK(v.page_type == e->type, "resident page 0x%lx: EPCM type %u, driver type %u",
		      addr, v.page_type, (unsigned int)e->type);
	} else {
		c->evicted++;
		CHECK(!(desc & (SGX_ENCL_PAGE_BUSY)), "evicted page 0x%lx is BUSY", addr);
		va_claim(encl, vc, e->va_page, desc & SGX_ENCL_PAGE_VA_OFFSET_MASK, addr);
	}
}

static unsigned long nr_va_of(struct sgx_encl *encl)
{
	struct sgx_va_page *va;
	unsigned long n = 0;

	cds_list_for_each_entry(va, &encl->va_pages, list)
		n++;
	return n;
}

static unsigned long count_mm_list(struct sgx_encl *encl)
{
	struct sgx_encl_mm *it;
	unsigned long n = 0;

	cds_list_for_each_entry(it, &encl->mm_list, list)
		n++;
	return n;
}

/* Return the number of EPC pages the enclave holds. */
static unsigned long check_encl(struct henc *he, unsigned long *children)
{
	struct sgx_encl *encl = he->encl;
	unsigned long flags = encl_flags(encl);
	struct encl_count c = { 0 };
	struct va_check vc;
	struct sgx_va_page *va;
	unsigned long nr_va = 0, held = 0, va_bits = 0;
	void *secs_addr = NULL;

	memset(&vc, 0, sizeof(vc));
	CHECK(!(flags & SGX_ENCL_IOCTL), "IOCTL flag left set");
	CHECK(atomic_load(&encl->refcount) == (long)(1 + count_mm_list(encl)),
	      "refcount %ld, tracked mms %lu", (long)atomic_load(&encl->refcount),
	      count_mm_list(encl));
	CHECK(!!(flags & SGX_ENCL_CREATED) == he->created, "CREATED %d, expected %d",
	      !!(flags & SGX_ENCL_CREATED), he->created);
	if (!(flags & SGX_ENCL_CREATED)) {
		CHECK(!(flags & SGX_ENCL_INITIALIZED), "initialized but not created");
		CHECK(!encl->secs.epc_page, "SECS page without CREATE");
		CHECK(encl->page_cnt == 0, "page_cnt %u before CREATE", encl->page_cnt);
		CHECK(cds_list_empty(&encl->va_pages), "VA pages before CREATE");
		CHECK(encl->secs_child_cnt == 0, "children before CREATE");
		return 0;
	}
	CHECK(encl->base == he->secs.base && encl->size == he->secs.size,
	      "base/size 0x%lx/0x%lx, SECS 0x%llx/0x%llx", encl->base, encl->size,
	      (unsigned long long)he->secs.base, (unsigned long long)he->secs.size);

	if (encl->secs.epc_page) {
		struct sgx_epcm_view v = epcm_of_page(encl->secs.epc_page);

		secs_addr = sgx_get_epc_virt_addr(encl->secs.epc_page);
		mark_page(encl->secs.epc_page, "SECS");
		held++;
		CHECK(encl->secs.epc_page->owner == &encl->secs, "SECS page owner %p",
		      encl->secs.epc_page->owner);
		CHECK(encl->secs.epc_page->flags & SGX_EPC_PAGE_UNRECLAIMABLE,
		      "SECS page not recorded for the OOM killer");
		CHECK(!(encl->secs.epc_page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED),
		      "SECS page is reclaimer-tracked");
		CHECK(v.valid && v.page_type == SGX_PAGE_TYPE_SECS, "SECS EPCM valid %d type %u",
		      v.valid, v.page_type);
		CHECK(!(atomic_load(&encl->secs.desc) & SGX_ENCL_PAGE_VA_OFFSET_MASK) &&
			      !encl->secs.va_page,
		      "resident SECS holds a VA slot");
	} else {
		CHECK(flags & SGX_ENCL_INITIALIZED, "SECS evicted before INIT");
		CHECK(encl->secs_child_cnt == 0, "SECS evicted with %u resident children",
		      encl->secs_child_cnt);
		va_claim(encl, &vc, encl->secs.va_page,
			 atomic_load(&encl->secs.desc) & SGX_ENCL_PAGE_VA_OFFSET_MASK, 0);
	}

	if (encl->nr_slots <= FULL_WALK_SLOTS) {
		for (unsigned long i = 0; i < encl->nr_slots; i++)
			check_entry(encl, &encl->page_array[i], i, &c, &vc, secs_addr);
	} else {
		for (int k = 0; k < he->nr_cand; k++)
			check_entry(encl, &encl->page_array[he->cand[k]], he->cand[k], &c, &vc,
				    secs_addr);
		/* Too many slots touched to follow: the totals below are partial. */
		if (he->cand_overflow) {
			S.incomplete = true;
			*children += encl->secs_child_cnt;
			return held + encl->secs_child_cnt + nr_va_of(encl);
		}
	}

	CHECK(c.resident == encl->secs_child_cnt, "secs_child_cnt %u, resident children %lu",
	      encl->secs_child_cnt, c.resident);
	if (secs_addr)
		CHECK(sgx_cpu_secs_children(drv->cpu, secs_addr) == encl->secs_child_cnt,
		      "CPU counts %llu children, driver %u",
		      (unsigned long long)sgx_cpu_secs_children(drv->cpu, secs_addr),
		      encl->secs_child_cnt);
	held += c.resident;
	*children += c.resident;

	cds_list_for_each_entry(va, &encl->va_pages, list) {
		struct sgx_epcm_view v;

		CHECK(va->epc_page, "VA descriptor without a page");
		v = epcm_of_page(va->epc_page);
		mark_page(va->epc_page, "VA");
		CHECK(va->epc_page->owner == encl && (va->epc_page->flags & SGX_EPC_OWNER_ENCL),
		      "VA page not owned by its enclave");
		CHECK(va->epc_page->flags & SGX_EPC_PAGE_UNRECLAIMABLE,
		      "VA page not recorded for the OOM killer");
		CHECK(!(va->epc_page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED),
		      "VA page is reclaimer-tracked");
		CHECK(v.valid && v.page_type == SGX_PAGE_TYPE_VA, "VA EPCM valid %d type %u",
		      v.valid, v.page_type);
		for (int w = 0; w < SGX_VA_SLOT_COUNT / 64; w++)
			va_bits += (unsigned long)__builtin_popcountll(va->slots[w]);
		nr_va++;
		held++;
	}
	CHECK(nr_va * SGX_VA_SLOT_COUNT >= encl->page_cnt, "%lu VA pages for page_cnt %u", nr_va,
	      encl->page_cnt);
	{
		CHECK(encl->page_cnt == 1 + c.present, "page_cnt %u, present entries %lu",
		      encl->page_cnt, c.present);
		CHECK(va_bits == c.evicted + !encl->secs.epc_page,
		      "%lu VA slots in use, %lu evicted pages (SECS %s)", va_bits, c.evicted,
		      encl->secs.epc_page ? "resident" : "evicted");
		CHECK(atomic_load(&encl->nr_evicted) == (long)(c.evicted + !encl->secs.epc_page),
		      "nr_evicted %ld, evicted %lu", (long)atomic_load(&encl->nr_evicted),
		      c.evicted + !encl->secs.epc_page);
	}
	return held;
}

/* The enclave mapped at @addr in @mm, if one of its mappings covers it. */
static void check_ptes(struct sgx_mm *mm)
{
	for (int i = 0; i < mm->nr_ptes; i++) {
		struct sim_pte *pte = &mm->ptes[i];

		if (pte->encl) {
			struct sgx_encl_page *e;
			int m;

			CHECK(live_slot_of(pte->encl) >= 0, "mm %d: PTE 0x%lx of a dead enclave",
			      mm->id, pte->addr);
			m = sim_map_at(mm, pte->addr);
			CHECK(m >= 0 && mm->maps[m].encl == pte->encl,
			      "mm %d: PTE 0x%lx outside the enclave's mappings", mm->id, pte->addr);
			e = sgx_encl_page_lookup(pte->encl, pte->addr);
			CHECK(e, "mm %d: PTE 0x%lx maps EPC page %d, the enclave has no page there",
			      mm->id, pte->addr, page_index_of(pte->epc));
			CHECK(e->epc_page == pte->epc,
			      "mm %d: stale PTE 0x%lx -> EPC page %d, the enclave's page is %d",
			      mm->id, pte->addr, page_index_of(pte->epc),
			      e->epc_page ? page_index_of(e->epc_page) : -1);
		} else {
			bool ok = false;

			for (int v = 0; v < NR_VEPC; v++) {
				struct hvepc *hv = &S.v[v];
				unsigned long idx = (pte->addr - VEPC_REGION(v)) >> 12;

				if (!hv->v || pte->addr < VEPC_REGION(v) || idx >= hv->max)
					continue;
				ok = sgx_vepc_load(hv->v, hv->pgoff + idx) == pte->epc;
			}
			CHECK(ok, "mm %d: vEPC PTE 0x%lx maps no page of its file", mm->id,
			      pte->addr);
		}
	}
}

/*
 * The EPC cgroups' books: every cgroup's usage is the pages charged to it and
 * its descendants (destroyed ones included, as their charges stay), and its
 * subtree_reclaimable the reclaimer-tracked ones among them; a page in use is
 * charged to a cgroup that exists, a free page to none.
 */
static void check_cgroups(void)
{
	static uint64_t charged[SGX_CG_MAX], tracked[SGX_CG_MAX];

	memset(charged, 0, sizeof(charged));
	memset(tracked, 0, sizeof(tracked));
	for (unsigned int s = 0; s < drv->nr_sections; s++) {
		for (unsigned long i = 0; i < drv->sections[s].size >> 12; i++) {
			struct sgx_epc_page *p = &drv->sections[s].pages[i];
			struct sgx_cgroup *cg;

			if (p->flags & SGX_EPC_PAGE_IS_FREE) {
				CHECK(p->cg_id == SGX_CG_NONE, "free page %d charged to cgroup %u",
				      page_index_of(p), p->cg_id);
				continue;
			}
			if (p->cg_id == SGX_CG_NONE)
				continue; /* start-up pages not sanitized yet */
			CHECK(p->cg_id < SGX_CG_MAX && atomic_load(&drv->cgroups[p->cg_id]),
			      "page %d charged to missing cgroup %u", page_index_of(p), p->cg_id);
			for (cg = atomic_load(&drv->cgroups[p->cg_id]); cg; cg = cg->parent) {
				charged[cg->id]++;
				if (p->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED)
					tracked[cg->id]++;
			}
		}
	}
	for (unsigned int c = 0; c < SGX_CG_MAX; c++) {
		struct sgx_cgroup *cg = atomic_load(&drv->cgroups[c]);
		struct sgx_epc_page *p;

		if (!cg)
			continue;
		/* The OOM killer's lists hold SECS and VA pages of live enclaves only. */
		cds_list_for_each_entry(p, &cg->lru.unreclaimable, list) {
			struct sgx_encl *encl = (p->flags & SGX_EPC_OWNER_ENCL) ?
							p->owner :
							((struct sgx_encl_page *)p->owner)->encl;

			CHECK(p->flags & SGX_EPC_PAGE_UNRECLAIMABLE,
			      "page %d on an unreclaimable list without the flag", page_index_of(p));
			CHECK(sgx_cgroup_of_page(drv, p) == cg,
			      "page %d on the unreclaimable list of a cgroup it is not charged to",
			      page_index_of(p));
			CHECK(live_slot_of(encl) >= 0 &&
				      ((p->flags & SGX_EPC_OWNER_ENCL) || encl->secs.epc_page == p),
			      "page %d on an unreclaimable list is no SECS or VA page of a live "
			      "enclave", page_index_of(p));
		}
		CHECK(atomic_load(&cg->usage) == charged[c] * PG,
		      "cgroup %u: usage %llu bytes, %llu pages charged", c,
		      (unsigned long long)atomic_load(&cg->usage), (unsigned long long)charged[c]);
		CHECK(atomic_load(&cg->subtree_reclaimable) == (long)tracked[c],
		      "cgroup %u: subtree_reclaimable %ld, %llu pages tracked", c,
		      (long)atomic_load(&cg->subtree_reclaimable), (unsigned long long)tracked[c]);
		CHECK(atomic_load(&cg->peak) >= atomic_load(&cg->usage), "cgroup %u: peak < usage",
		      c);
	}
	/* Every cgroup, destroyed ones too, is in the tree that reclaim walks. */
	{
		unsigned int in_table = 0, in_tree = 0;
		struct sgx_cgroup *cg = &drv->root_cg;

		for (unsigned int c = 0; c < SGX_CG_MAX; c++)
			in_table += atomic_load(&drv->cgroups[c]) != NULL;
		do {
			in_tree++;
			if (!cds_list_empty(&cg->children)) {
				cg = cds_list_first_entry(&cg->children, struct sgx_cgroup, sibling);
				continue;
			}
			while (cg->parent && cg->sibling.next == &cg->parent->children)
				cg = cg->parent;
			if (cg->parent)
				cg = cds_list_entry(cg->sibling.next, struct sgx_cgroup, sibling);
		} while (cg->parent && in_tree <= SGX_CG_MAX);
		CHECK(in_tree == in_table, "%u cgroups in the tree, %u in the table", in_tree,
		      in_table);
	}
}

static void check_all(void)
{
	unsigned long nfree = 0, nfree_poison = 0, nonfree = 0, children = 0, held = 0;
	unsigned long list_free = 0, nactive = 0;
	long live = 0;
	struct sgx_epc_page *p;
	int idx = 0;

	memset(page_mark, 0, sizeof(page_mark));
	nr_marked = 0;
	S.incomplete = false;

	for (unsigned int s = 0; s < drv->nr_sections; s++) {
		unsigned long n = drv->sections[s].size >> 12;

		for (unsigned long i = 0; i < n; i++, idx++) {
			p = &drv->sections[s].pages[i];
			if (p->flags & SGX_EPC_PAGE_IS_FREE) {
				struct sgx_epcm_view v = epcm_of_page(p);

				CHECK(!v.valid, "free EPC page %d is valid in the EPCM (type %u)",
				      idx, v.page_type);
				CHECK(!(p->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED),
				      "free EPC page %d is reclaimer-tracked", idx);
				if (p->poison)
					nfree_poison++;
				else
					nfree++;
			} else {
				nonfree++;
			}
		}
	}
	CHECK((long)nfree == atomic_load(&drv->nr_free_pages), "free pages %lu, nr_free_pages %ld",
	      nfree, (long)atomic_load(&drv->nr_free_pages));
	CHECK(!nfree_poison, "poisoned pages without memory failure");
	for (int n = 0; n < drv->nr_nodes; n++) {
		cds_list_for_each_entry(p, &drv->nodes[n].free_page_list, list) {
			CHECK(p->flags & SGX_EPC_PAGE_IS_FREE, "page %d on a free list is not free",
			      page_index_of(p));
			list_free++;
		}
	}
	CHECK(list_free == nfree, "free lists hold %lu pages, %lu are free", list_free, nfree);
	CHECK(atomic_load(&drv->stats.leaked) == 0, "%llu EPC pages leaked",
	      (unsigned long long)atomic_load(&drv->stats.leaked));

	for (int i = 0; i < NR_ENCL; i++) {
		if (!S.e[i].encl)
			continue;
		held += check_encl(&S.e[i], &children);
		live++;
	}
	for (int v = 0; v < NR_VEPC; v++) {
		struct hvepc *hv = &S.v[v];
		unsigned long k;

		if (!hv->v)
			continue;
		live++;
		sgx_vepc_for_each_page(hv->v, k, p) {
			CHECK(k - hv->pgoff < hv->max, "vEPC page at %lu, outside the mapping", k);
			mark_page(p, "vEPC");
			CHECK(p->owner == hv->v, "vEPC page with owner %p", p->owner);
			CHECK(!(p->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED), "vEPC page is tracked");
			held++;
		}
	}
	cds_list_for_each_entry(p, &drv->zombie_secs_pages, list) {
		struct sgx_epcm_view v = epcm_of_page(p);

		/* Mostly SECS pages; any page whose EREMOVE failed at release can be one. */
		mark_page(p, "vEPC zombie");
		CHECK(v.valid, "vEPC zombie is not valid in the EPCM");
		held++;
	}
	/* With an enclave too big to walk, "held" is its own counters. */
	CHECK(S.incomplete || held == (unsigned long)nr_marked, "held %lu, marked %d", held,
	      nr_marked);
	CHECK(nfree + nonfree == drv->nr_total_pages, "free %lu + in use %lu != total %lu", nfree,
	      nonfree, drv->nr_total_pages);
	CHECK(nonfree == held, "%lu EPC pages in use, %lu owned (free %lu, total %lu)", nonfree,
	      held, nfree, drv->nr_total_pages);
	CHECK(atomic_load(&drv->nr_encls) == live, "nr_encls %ld, live objects %ld",
	      (long)atomic_load(&drv->nr_encls), live);

	for (unsigned int c = 0; c < SGX_CG_MAX; c++) {
		struct sgx_cgroup *cg = atomic_load(&drv->cgroups[c]);

		if (!cg)
			continue;
		cds_list_for_each_entry(p, &cg->lru.reclaimable, list) {
			struct sgx_encl_page *e = p->owner;

			CHECK(p->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED,
			      "active page %d not tracked", page_index_of(p));
			CHECK(!(p->flags & SGX_EPC_PAGE_IS_FREE), "active page %d is free",
			      page_index_of(p));
			CHECK(sgx_cgroup_of_page(drv, p) == cg,
			      "active page %d on the LRU of a cgroup it is not charged to",
			      page_index_of(p));
			CHECK(e && live_slot_of(e->encl) >= 0 && e->epc_page == p &&
				      (atomic_load(&e->desc) & SGX_ENCL_PAGE_PRESENT),
			      "active page %d is not a resident child of a live enclave",
			      page_index_of(p));
			nactive++;
		}
	}
	check_cgroups();
	CHECK((long)nactive == atomic_load(&drv->nr_active), "active list %lu, nr_active %ld",
	      nactive, (long)atomic_load(&drv->nr_active));
	CHECK(nactive == children, "active list %lu, resident children %lu", nactive, children);

	for (int m = 0; m < NR_MM; m++)
		check_ptes(S.mm[m]);
	for (int m = 0; m < S.nr_dead; m++)
		CHECK(S.dead[m]->nr_ptes == 0 && S.dead[m]->nr_maps == 0, "exited mm has PTEs");
}

/* ---- host-side helpers: mappings and accesses ---- */

static void remove_map(struct sgx_mm *mm, int i)
{
	pthread_rwlock_wrlock(&mm->mmap_lock);
	host.ops.zap(&host, mm, mm->maps[i].encl, mm->maps[i].start,
		     mm->maps[i].end - mm->maps[i].start);
	mm->maps[i] = mm->maps[--mm->nr_maps];
	pthread_rwlock_unlock(&mm->mmap_lock);
}

/* munmap every mapping of @encl in every live address space. */
static void unmap_encl(struct sgx_encl *encl)
{
	for (int m = 0; m < NR_MM; m++)
		for (int i = S.mm[m]->nr_maps - 1; i >= 0; i--)
			if (S.mm[m]->maps[i].encl == encl)
				remove_map(S.mm[m], i);
}

static struct sim_pte *find_pte(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr)
{
	for (int i = 0; i < mm->nr_ptes; i++)
		if (mm->ptes[i].encl == encl && mm->ptes[i].addr == addr)
			return &mm->ptes[i];
	return NULL;
}

enum { X_MAPPED, X_SIGBUS, X_UNKNOWN };

/*
 * What Linux's sgx_vma_fault() gives for a fault at @addr, when it is
 * determined.  ELDU needs at most two pages (SECS and child), EAUG three (SECS,
 * page, VA page).
 */
static int expect_fault(struct sgx_encl *encl, unsigned long addr, unsigned long vm_flags)
{
	unsigned long prot = vm_flags & VM_PROT_MASK;
	struct sgx_encl_page *e;
	/* Free pages, and pages the retries' reclaim batches can free. */
	long nfree = atomic_load(&drv->nr_free_pages) + atomic_load(&drv->nr_active);

	if (!(encl_flags(encl) & SGX_ENCL_CREATED))
		return X_SIGBUS;
	if (encl_flags(encl) & SGX_ENCL_NO_MEMORY)
		return X_SIGBUS;
	if (addr < encl->base || addr - encl->base >= encl->size)
		return X_SIGBUS;
	/* A cgroup limit may refuse the EPC a fault needs. */
	if (S.limited)
		nfree = 0;
	e = sgx_encl_page_lookup(encl, addr);
	if (e) {
		if ((prot & e->vm_max_prot_bits) != prot)
			return X_SIGBUS;
		if (e->epc_page)
			return X_MAPPED;
		return nfree >= 2 ? X_MAPPED : X_UNKNOWN;
	}
	if (!(encl_flags(encl) & SGX_ENCL_INITIALIZED))
		return X_SIGBUS;
	return nfree >= 3 ? X_MAPPED : X_UNKNOWN;
}

/*
 * A CPU access to @addr in @mm (sim_access with a bounded retry): on a PTE
 * miss call the fault handler; a NOPAGE that mapped nothing means "retry"
 * (the page is busy or no EPC is free), and ksgxd would reclaim meanwhile,
 * so run one reclaim batch before retrying.
 */
static int do_access(struct sgx_mm *mm, unsigned long addr)
{
	unsigned long page = addr & ~(PG - 1);
	unsigned long nested_before = S.nested_runs;
	int m = sim_map_at(mm, page);
	struct sgx_encl *encl;
	unsigned long flags;
	int expect = X_UNKNOWN;
	int result = -1;
	int slot;

	if (m < 0)
		return -1;
	encl = mm->maps[m].encl;
	flags = mm->maps[m].vm_flags;
	if (!(flags & VM_PROT_MASK))
		return -1; /* PROT_NONE: a SIGSEGV, the driver is not asked */
	slot = live_slot_of(encl);
	if (slot >= 0 && encl->nr_slots && page >= encl->base && page - encl->base < encl->size)
		add_cand(&S.e[slot], (page - encl->base) >> 12);
	if (!find_pte(mm, encl, page))
		expect = expect_fault(encl, page, flags);

	for (int tries = 0; tries < ACCESS_TRIES; tries++) {
		struct sim_pte *pte;
		vm_fault_t r;

		/* Each retry is a new access: the mapping may have gone meanwhile. */
		m = sim_map_at(mm, page);
		if (m < 0 || mm->maps[m].encl != encl || mm->maps[m].vm_flags != flags) {
			result = -2;
			break;
		}
		pte = find_pte(mm, encl, page);
		if (pte) {
			pte->young = true;
			result = 0;
			break;
		}
		/* An SGX2 fault on an absent page of an uninitialized enclave. */
		bool absent_uninit = (encl_flags(encl) & SGX_ENCL_CREATED) &&
				     !(encl_flags(encl) & SGX_ENCL_INITIALIZED) &&
				     encl->drv->sgx2 && !sgx_encl_page_lookup(encl, page);

		pthread_rwlock_rdlock(&mm->mmap_lock);
		S.rdlocked++;
		S.fault_busy[slot]++;
		r = sgx_vma_fault(mm, encl, page, flags);
		S.fault_busy[slot]--;
		S.rdlocked--;
		pthread_rwlock_unlock(&mm->mmap_lock);
		CHECK(r == VM_FAULT_NOPAGE || r == VM_FAULT_SIGBUS,
		      "fault at 0x%lx returned 0x%x", page, (unsigned int)r);
		if (S.window_encl == encl && S.window_addr == page && find_pte(mm, encl, page))
			S.window_new_pte = true;
		if (r == VM_FAULT_SIGBUS) {
			struct sgx_encl_page *e = (encl_flags(encl) & SGX_ENCL_CREATED) ?
							  sgx_encl_page_lookup(encl, page) :
							  NULL;

			/*
			 * E.g. the loser of two concurrent EAUGs (R2 of
			 * docs/races.md); or, as in the kernel (kept), a page
			 * added by ADD_PAGES after the lockless lookup sent the
			 * fault to the EAUG path, which refuses an
			 * uninitialized enclave.
			 */
			CHECK(!e || !e->epc_page || absent_uninit ||
				      (encl_flags(encl) & SGX_ENCL_NO_MEMORY) ||
				      (atomic_load(&e->desc) & SGX_ENCL_PAGE_BUSY) ||
				      (flags & VM_PROT_MASK & ~e->vm_max_prot_bits),
			      "fault at 0x%lx gave SIGBUS, but the page is there, resident and "
			      "allowed (flags %lu, max %lu)",
			      page, flags, e ? (unsigned long)e->vm_max_prot_bits : 0);
			result = VM_FAULT_SIGBUS;
			break;
		}
		if (!find_pte(mm, encl, page)) {
			TRACE("      retry: free %ld active %ld\n",
			      (long)atomic_load(&drv->nr_free_pages),
			      (long)atomic_load(&drv->nr_active));
			/* Inside a window the page may stay busy: do not wait for it. */
			if (S.depth && tries >= 2)
				break;
			sgx_reclaim_pages(drv);
			/* ...and ksgxd would run the cgroups' work (not inside a window). */
			if (!S.depth)
				sgx_cgroup_run_work(drv);
		}
	}
	TRACE("    access mm%d 0x%lx flags %lu -> %d (expected %d)%s\n", mm->id, page, flags,
	      result, expect, S.depth ? " [nested]" : "");
	fault_stats[result == 0 ? 0 : result == VM_FAULT_SIGBUS ? 1 : 2]++;
	/* Nested programs change the state under the fault: no oracle then. */
	if (S.depth || S.nested_runs != nested_before || result == -2)
		return result;
	CHECK(result != -1 || S.limited,
	      "fault at 0x%lx: VM_FAULT_NOPAGE %d times without a mapping, "
	      "with a reclaim batch between each (free %ld, active %ld)", page, ACCESS_TRIES,
	      (long)atomic_load(&drv->nr_free_pages), (long)atomic_load(&drv->nr_active));
	if (expect == X_MAPPED)
		CHECK(result == 0, "fault at 0x%lx (flags %lu) should map the page, got %d", page,
		      flags, result);
	if (expect == X_SIGBUS)
		CHECK(result == VM_FAULT_SIGBUS, "fault at 0x%lx (flags %lu) should SIGBUS, got %d",
		      page, flags, result);
	return result;
}

/* ---- SIGSTRUCTs ---- */

static void make_sigstruct(struct sgx_sigstruct *ss, const uint8_t mr[32], uint64_t attributes,
			   uint64_t xfrm)
{
	unsigned int h = 0;
	struct sign_entry *se;

	for (int i = 0; i < 32; i++)
		h = h * 31 + mr[i];
	h ^= (unsigned int)(attributes * 2654435761u) ^ (unsigned int)(xfrm << 7);
	se = &sign_cache[h % SIGN_CACHE];
	if (se->used && !memcmp(se->mr, mr, 32) && se->attributes == attributes &&
	    se->xfrm == xfrm) {
		*ss = se->ss;
		return;
	}
	sgx_sigstruct_init(ss);
	ss->header.date = 0x20261122;
	ss->body.attributes = attributes;
	ss->body.xfrm = xfrm;
	ss->body.attributes_mask = ~0ULL & ~(uint64_t)SGX_ATTR_INIT;
	ss->body.xfrm_mask = ~0ULL;
	memcpy(ss->body.mrenclave, mr, 32);
	ss->body.isvprodid = 7;
	ss->body.isvsvn = 3;
	CHECK(sgx_sigstruct_sign(ss, sign_key) == 0, "signing failed");
	se->used = true;
	memcpy(se->mr, mr, 32);
	se->attributes = attributes;
	se->xfrm = xfrm;
	se->ss = *ss;
}

/* ---- argument pickers ---- */

static uint64_t encl_size_hint(struct henc *he)
{
	return he->created ? he->secs.size : 16 * PG;
}

static uint64_t pick_offset(struct in *in, struct henc *he)
{
	uint8_t b = u8(in);
	uint64_t size = encl_size_hint(he);

	if (b >= 0xF8)
		return u64(in);
	if (b >= 0xF0)
		return size - (uint64_t)(b - 0xF0 + 1) * PG;
	if (b >= 0xE8)
		return (uint64_t)(b & 7) * PG + 8;
	return (uint64_t)b * PG % size;
}

static uint64_t pick_length(struct in *in)
{
	uint8_t b = u8(in);
	uint64_t raw;

	if (b < 0xC0)
		return (uint64_t)(1 + b % 4) * PG;
	if (b < 0xF0)
		return (uint64_t)(1 + b % MAX_LEN_PAGES) * PG;
	switch (b) {
	case 0xF0:
		return 0;
	case 0xF1:
		return PG - 1;
	case 0xF2:
		return PG + 1;
	case 0xF3:
		return -PG;
	case 0xF4:
		return 1ULL << 36;
	default:
		raw = u64(in);
		/* Valid-looking huge lengths would add or walk millions of pages. */
		if (!(raw & (PG - 1)) && raw > MAX_LEN_PAGES * PG && raw < (1ULL << 62))
			raw = MAX_LEN_PAGES * PG;
		return raw;
	}
}

/* ---- arming the host for the next operation ---- */

static void arm_before(void)
{
	if (S.arm_signal) {
		if (S.arm_signal < 0)
			atomic_store(&host.signal_pending, true);
		else
			atomic_store(&host.signal_after, S.arm_signal);
		S.arm_signal = 0;
		S.signal_live = true;
	}
	if (S.arm_src_check) {
		atomic_store(&host.src_check_result, S.arm_src_check);
		S.arm_src_check = 0;
		S.src_live = true;
	}
	if (S.arm_bad_page >= 0) {
		sim_bad_lo = uptr(src_pages[S.arm_bad_page]);
		sim_bad_hi = sim_bad_lo + PG;
		S.arm_bad_page = -1;
		S.bad_live = true;
	}
}

static void disarm(void)
{
	atomic_store(&host.signal_pending, false);
	atomic_store(&host.signal_after, 0);
	atomic_store(&host.src_check_result, 0);
	sim_bad_lo = sim_bad_hi = 0;
	S.signal_live = S.src_live = S.bad_live = false;
}

/* ---- ioctls ---- */

static const long create_ok[] = { 0, -EINVAL, -EFAULT, -ENOMEM, -EIO, 1 };
static const long add_ok[] = { 0, -EINVAL, -EFAULT, -EACCES, -EBUSY, -ENOMEM, -EIO, 1 };
static const long init_ok[] = { 0, -EINVAL, -EFAULT, -ENOMEM, -EACCES, -EIO, -EPERM, 1 };
static const long provision_ok[] = { 0, -EFAULT, -EINVAL, 1 };
/* -ENOMEM: an enclave the EPC OOM killer took. */
static const long restrict_ok[] = { 0, -ENODEV, -EINVAL, -EFAULT, -EAGAIN, -ENOMEM, 1 };
static const long modify_ok[] = { 0, -ENODEV, -EINVAL, -EPERM, -EFAULT, -EAGAIN, -ENOMEM, 1 };
static const long remove_ok[] = { 0,	   -ENODEV, -EINVAL, -EPERM, -EFAULT,
				  -EAGAIN, -EBUSY,  -ENOMEM, 1 };

static long ioctl_checked(struct henc *he, struct sgx_mm *mm, unsigned int cmd, uint64_t arg)
{
	unsigned long before = encl_flags(he->encl);
	int slot = (int)(he - S.e);
	bool sig = S.signal_live;
	const long *ok;
	long r;

	/* One ioctl per enclave at a time: a second one is refused at once. */
	S.busy_skip = S.ioctl_busy[slot];
	if (S.busy_skip) {
		r = sgx_ioctl(he->encl, mm, cmd, (unsigned long)arg);
		TRACE("    ioctl 0x%x -> %ld [another in flight]\n", cmd, r);
		CHECK(r == -EBUSY, "ioctl 0x%x during another ioctl: %ld", cmd, r);
		return r;
	}
	S.ioctl_busy[slot] = true;
	/*
	 * Nested programs in the ioctl's windows may kill it: look before.
	 * Their own ioctls set S.pre_killed for their enclaves, so it is set
	 * again for this one once they are done.
	 */
	r = sgx_ioctl(he->encl, mm, cmd, (unsigned long)arg);
	S.pre_killed = before & SGX_ENCL_NO_MEMORY;
	S.ioctl_busy[slot] = false;
	S.busy_skip = false; /* whatever nested ioctls met */
	TRACE("    ioctl 0x%x -> %ld%s\n", cmd, r, S.depth ? " [nested]" : "");
	if ((cmd & 0xFF00) == 0xA400 && (cmd & 0xFF) < 8)
		ioctl_stats[cmd & 0xFF][r ? ST_ERR : ST_OK]++;

	switch (cmd) {
	case SGX_IOC_ENCLAVE_CREATE:
		ok = create_ok;
		if (before & SGX_ENCL_CREATED)
			CHECK(r == -EINVAL, "CREATE of a created enclave: %ld", r);
		break;
	case SGX_IOC_ENCLAVE_ADD_PAGES:
		ok = add_ok;
		if (!(before & SGX_ENCL_CREATED) || (before & SGX_ENCL_INITIALIZED))
			CHECK(r == -EINVAL, "ADD_PAGES in state 0x%lx: %ld", before, r);
		break;
	case SGX_IOC_ENCLAVE_INIT:
		ok = init_ok;
		if (!(before & SGX_ENCL_CREATED) || (before & SGX_ENCL_INITIALIZED))
			CHECK(r == -EINVAL, "INIT in state 0x%lx: %ld", before, r);
		break;
	case SGX_IOC_ENCLAVE_PROVISION:
		ok = provision_ok;
		break;
	case SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS:
	case SGX_IOC_ENCLAVE_MODIFY_TYPES:
	case SGX_IOC_ENCLAVE_REMOVE_PAGES:
		ok = cmd == SGX_IOC_ENCLAVE_REMOVE_PAGES	       ? remove_ok :
		     cmd == SGX_IOC_ENCLAVE_MODIFY_TYPES ? modify_ok :
							   restrict_ok;
		if (!(before & SGX_ENCL_INITIALIZED))
			CHECK(r == -EINVAL, "SGX2 ioctl 0x%x before INIT: %ld", cmd, r);
		break;
	default:
		CHECK(r == -ENOTTY, "unknown ioctl 0x%x returned %ld", cmd, r);
		return r;
	}
	CHECK(errno_in(r, ok) ||
		      (sig && r == -ERESTARTSYS &&
		       (cmd == SGX_IOC_ENCLAVE_CREATE || cmd == SGX_IOC_ENCLAVE_ADD_PAGES ||
			cmd == SGX_IOC_ENCLAVE_INIT)),
	      "ioctl 0x%x returned %ld, not an errno the kernel returns", cmd, r);
	if (cmd == SGX_IOC_ENCLAVE_CREATE && !r)
		CHECK(encl_flags(he->encl) & SGX_ENCL_CREATED, "CREATE succeeded, not CREATED");
	if (cmd == SGX_IOC_ENCLAVE_INIT && !r)
		CHECK(encl_flags(he->encl) & SGX_ENCL_INITIALIZED,
		      "INIT succeeded, not INITIALIZED");
	if (cmd == SGX_IOC_ENCLAVE_INIT && r)
		CHECK(!(encl_flags(he->encl) & SGX_ENCL_INITIALIZED) ||
			      (before & SGX_ENCL_INITIALIZED),
		      "INIT failed (%ld) but INITIALIZED", r);
	return r;
}

/* The offset/length validation shared by ADD_PAGES and the SGX2 ioctls. */
static bool range_ok(uint64_t size, uint64_t offset, uint64_t length)
{
	return !(offset & (PG - 1)) && length && !(length & (PG - 1)) &&
	       offset + length >= offset && offset + length - PG < size;
}

/* The SECINFO checks of ADD_PAGES (Linux's sgx_validate_secinfo()). */
static bool add_secinfo_ok(uint64_t flags, bool reserved_bytes)
{
	uint64_t perm = flags & SGX_SECINFO_PERMISSION_MASK;
	uint64_t pt = flags & SGX_SECINFO_PAGE_TYPE_MASK;

	if (pt != SGX_SECINFO_REG && pt != SGX_SECINFO_TCS)
		return false;
	if ((perm & SGX_SECINFO_W) && !(perm & SGX_SECINFO_R))
		return false;
	if (pt == SGX_SECINFO_TCS && perm)
		return false;
	return !(flags & ~(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PAGE_TYPE_MASK)) &&
	       !reserved_bytes;
}

/*
 * Compare a result with what the checks before the page loop must give:
 * @pre is that errno when the harness knows one fails, else 0, and then
 * -EINVAL may not come back unless the loop itself can produce it.
 */
static void check_pre(const char *what, long r, long pre, bool loop_may_einval)
{
	/* Killed by the OOM killer: -ENOMEM right after the state checks. */
	if (S.pre_killed) {
		CHECK(r == -ENOMEM, "%s on an OOM-killed enclave: %ld", what, r);
		return;
	}
	if (pre)
		CHECK(r == pre, "%s: expected %ld from the argument checks, got %ld", what, pre, r);
	else if (!loop_may_einval)
		CHECK(r != -EINVAL, "%s: -EINVAL for valid arguments", what);
}

enum { PRE_NONE = 1, PRE_COMPUTE = 2 };

/*
 * CREATE from secs_buf.  @pre: PRE_COMPUTE (the argument is good and the
 * SECS image at @src is secs_buf's: the copy, then the size decide the
 * errno, as in sgx_ioc_enclave_create()), PRE_NONE, or the exact errno.
 */
static long do_create(struct henc *he, struct sgx_mm *mm, const struct sgx_secs *secs,
		      uint64_t arg_override, bool use_override, long pre, uint64_t src)
{
	struct sgx_enclave_create c = { .src = uptr(&secs_buf) };
	bool was_created = encl_flags(he->encl) & SGX_ENCL_CREATED;
	struct sgx_secs img; /* a nested program may reuse secs_buf */
	uint64_t size;
	long r;

	if (secs != &secs_buf)
		secs_buf = *secs;
	img = secs_buf;
	size = img.size;
	r = ioctl_checked(he, mm, SGX_IOC_ENCLAVE_CREATE, use_override ? arg_override : uptr(&c));
	if (S.busy_skip)
		return r;
	if (!was_created && pre == PRE_COMPUTE && user_ok(src, PG) && size == 1ULL << 63)
		/* After the first VA page: shmem refuses a file beyond the largest offset. */
		CHECK(r == -EINVAL || r == -ENOMEM || r == -ERESTARTSYS || S.pre_killed,
		      "CREATE of a 2^63-byte enclave: %ld", r);
	else if (!was_created && pre == PRE_COMPUTE)
		check_pre("CREATE", r,
			  !user_ok(src, PG)		   ? -EFAULT :
			  !size || (size & (size - 1)) ? -EINVAL :
							 0,
			  false);
	else if (!was_created && pre != PRE_NONE)
		check_pre("CREATE", r, pre, false);
	if (!r) {
		he->created = true;
		he->provisioned = false;
		he->secs = img;
		he->nr_cand = 0;
		he->cand_overflow = false;
		sgx_measure_ecreate(&he->m, img.ssa_frame_size, img.size);
		he->measure_ok = true;
		CHECK(he->encl->secs_child_cnt == 0 && he->encl->page_cnt == 1,
		      "fresh enclave: %u children, page_cnt %u", he->encl->secs_child_cnt,
		      he->encl->page_cnt);
	}
	return r;
}

/* Fill the source pages for an ADD of @n pages (contents mode @c). */
static void fill_src(struct in *in, uint8_t c, unsigned int n)
{
	uint8_t pat[16];

	if ((c & 7) == 4)
		for (int i = 0; i < 16; i++)
			pat[i] = u8(in);
	for (unsigned int i = 0; i < n && i < SRC_PAGES; i++) {
		uint8_t *p = src_pages[i];
		struct sgx_tcs *tcs = (struct sgx_tcs *)p;

		switch (c & 7) {
		case 0:
			memset(p, 0, PG);
			break;
		case 2:
		case 3:
			memset(p, 0, PG);
			tcs->ssa_offset = PG;
			tcs->nr_ssa_frames = 1 + (c >> 6);
			tcs->entry_offset = 2 * PG;
			if ((c & 7) == 3)
				tcs->reserved[0] = 1; /* reserved: EADD refuses the TCS */
			break;
		case 4:
			for (unsigned int k = 0; k < PG; k++)
				p[k] = pat[k % 16];
			break;
		default:
			memset(p, (int)(0x11 * i + c), PG);
			break;
		}
	}
}

static const uint64_t secinfo_table[16] = {
	SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X,
	SGX_SECINFO_REG | SGX_SECINFO_R,
	SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X,
	SGX_SECINFO_TCS,
	SGX_SECINFO_TCS,
	SGX_SECINFO_REG,
	SGX_SECINFO_REG | SGX_SECINFO_W,
	SGX_SECINFO_TCS | SGX_SECINFO_R,
	SGX_SECINFO_TRIM | SGX_SECINFO_R,
	SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING,
	SGX_SECINFO_SECS,
	SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, /* + a reserved byte */
	SGX_SECINFO_VA,
};

/*
 * What EADD makes of the source page at @src: a TCS gets DBGOPTIN, CSSA,
 * the exit address and the state cleared (what the model's EADD does, and
 * what EEXTEND then measures).  Returns a static copy for a TCS.
 */
static const uint8_t *added_image(uint64_t src, bool tcs)
{
	static uint8_t img[PG] __attribute__((aligned(64)));
	struct sgx_tcs *t = (struct sgx_tcs *)img;

	if (!tcs)
		return (const uint8_t *)(uintptr_t)src;
	memcpy(img, (const void *)(uintptr_t)src, PG);
	t->flags &= ~SGX_TCS_DBGOPTIN;
	t->ssa_index = 0;
	t->exit_addr = 0;
	t->state = 0;
	return img;
}

/*
 * ADD_PAGES of @length bytes at @offset from the source pages (already
 * filled), then mirror what was added into the expected MRENCLAVE.
 */
static long do_add(struct henc *he, struct sgx_mm *mm, uint64_t offset, uint64_t length,
		   uint64_t si_flags, bool si_reserved, uint64_t flags, uint64_t src, uint64_t arg,
		   bool use_arg)
{
	struct sgx_enclave_add_pages a = {
		.src = src,
		.offset = offset,
		.length = length,
		.secinfo = uptr(&secinfo_buf),
		.flags = flags,
		.count = 0xdeadbeefULL,
	};
	unsigned long nested_before = S.nested_runs;
	bool sig = S.signal_live;
	uint64_t count;
	long r;

	memset(&secinfo_buf, 0, sizeof(secinfo_buf));
	secinfo_buf.flags = si_flags;
	if (si_reserved)
		secinfo_buf.reserved[17] = 1;
	r = ioctl_checked(he, mm, SGX_IOC_ENCLAVE_ADD_PAGES, use_arg ? arg : uptr(&a));
	if (S.busy_skip)
		return r;
	if (!he->created || (encl_flags(he->encl) & SGX_ENCL_INITIALIZED) || he->secs.size == 0)
		; /* the state check decided (checked in ioctl_checked) */
	else if (use_arg)
		check_pre("ADD_PAGES", r, -EFAULT, false);
	else
		check_pre("ADD_PAGES", r,
			  (src & (PG - 1)) || !range_ok(he->encl->size, offset, length) ||
					  !add_secinfo_ok(si_flags, si_reserved) ?
				  -EINVAL :
				  0,
			  false);
	if (use_arg)
		return r;
	count = a.count;
	add_cand_range(he, offset, length);
	/* Another "thread" (a nested program) may have rewritten the sources. */
	if (S.nested_runs != nested_before)
		he->measure_ok = false;
	if (count == 0xdeadbeefULL) {
		CHECK(r, "ADD_PAGES succeeded without writing count");
		return r;
	}
	CHECK(count <= length && !(count & (PG - 1)), "ADD_PAGES count 0x%llx of 0x%llx (%ld)",
	      (unsigned long long)count, (unsigned long long)length, r);
	if (!r && !sig)
		CHECK(count == length, "ADD_PAGES succeeded with count 0x%llx of 0x%llx",
		      (unsigned long long)count, (unsigned long long)length);
	/*
	 * The loop's own signal check gives -ERESTARTSYS only before the first
	 * page; a later page's EPC allocation, interrupted during direct
	 * reclaim, returns it with count short (the kernel returns the
	 * failing page's error).  Either way a signal must have been raised.
	 */
	if (r == -ERESTARTSYS)
		CHECK(sig, "-ERESTARTSYS after adding 0x%llx bytes with no signal",
		      (unsigned long long)count);
	for (uint64_t c = 0; c < count; c += PG) {
		unsigned long addr = he->encl->base + offset + c;
		struct sgx_encl_page *e = sgx_encl_page_lookup(he->encl, addr);

		CHECK(S.nested_runs != nested_before ||
			      (e && e->type == (si_flags & SGX_SECINFO_PAGE_TYPE_MASK) >> 8),
		      "added page 0x%llx missing or of the wrong type",
		      (unsigned long long)(offset + c));
		/* Still resident (later pages may have evicted it): EADD's result. */
		if (e && e->epc_page && S.nested_runs == nested_before) {
			struct sgx_epcm_view v = epcm_of_page(e->epc_page);
			void *epc = sgx_get_epc_virt_addr(e->epc_page);
			const uint8_t *bytes = sgx_epc_page_bytes(drv->cpu, epc);
			bool tcs = e->type == SGX_PAGE_TYPE_TCS;

			CHECK(v.rwx == (tcs ? 0 : (si_flags & SGX_SECINFO_PERMISSION_MASK)),
			      "added page 0x%llx: EPCM permissions %u, SECINFO 0x%llx",
			      (unsigned long long)(offset + c), v.rwx,
			      (unsigned long long)si_flags);
			CHECK(!memcmp(bytes, added_image(src + c, tcs), tcs ? 72 : PG),
			      "added page 0x%llx does not hold source page %llu",
			      (unsigned long long)(offset + c), (unsigned long long)(c / PG));
		}
		if (!he->measure_ok)
			continue;
		sgx_measure_eadd(&he->m, offset + c, si_flags);
		if (flags & SGX_PAGE_MEASURE) {
			const uint8_t *page =
				added_image(src + c, (si_flags & SGX_SECINFO_PAGE_TYPE_MASK) ==
							     SGX_SECINFO_TCS);

			for (unsigned int k = 0; k < 16; k++)
				sgx_measure_eextend(&he->m, offset + c + k * 256, page + k * 256);
		}
	}
	/* A page whose EEXTEND failed half way was measured in part. */
	if (r == -EIO && (flags & SGX_PAGE_MEASURE))
		he->measure_ok = false;
	return r;
}

/* INIT with a SIGSTRUCT over the mirrored MRENCLAVE; @mode picks variants. */
static long do_init(struct henc *he, struct sgx_mm *mm, struct in *in, uint8_t mode)
{
	struct sgx_enclave_init init = { .sigstruct = uptr(&sig_buf) };
	struct sgx_encl *encl = he->encl;
	uint64_t arg = uptr(&init);
	bool valid = false;
	uint8_t mr[32];
	long r;

	memset(&sig_buf, 0, sizeof(sig_buf));
	if ((mode % 8) <= 4 || (mode % 8) >= 6) {
		if (he->created && he->measure_ok) {
			struct sgx_measure m = he->m;

			sgx_measure_final(&m, mr);
			make_sigstruct(&sig_buf, mr, he->secs.attributes, he->secs.xfrm);
			valid = true;
		}
		if ((mode % 8) == 4) {
			/* The header is signed: EINIT refuses it, the driver must not. */
			sig_buf.header.vendor = 0x8086;
			valid = false;
		}
	}
	switch (mode % 8) {
	case 5: {
		struct sign_entry *se = &sign_cache[u8(in) % SIGN_CACHE];

		if (se->used)
			sig_buf = se->ss;
		break;
	}
	case 6: {
		unsigned int pos = u16(in) % sizeof(sig_buf);
		uint8_t val = u8(in);

		if (((uint8_t *)&sig_buf)[pos] != val)
			valid = false;
		((uint8_t *)&sig_buf)[pos] = val;
		break;
	}
	case 7:
		valid = false;
		switch ((mode >> 3) % 6) {
		case 0:
			arg = bad_ptr(mode);
			break;
		case 1:
			init.sigstruct = bad_ptr(u8(in));
			break;
		case 2:
			sig_buf.body.attributes |= 1ULL << 8;
			sig_buf.body.attributes_mask |= 1ULL << 8;
			break;
		case 3:
			sig_buf.body.xfrm |= 1ULL << 9;
			sig_buf.body.xfrm_mask |= 1ULL << 9;
			break;
		case 4:
			sig_buf.body.miscselect = 2;
			sig_buf.body.misc_mask = 2;
			break;
		default:
			sig_buf.header.vendor = u32(in) | 1;
			break;
		}
		break;
	default:
		break;
	}
	r = ioctl_checked(he, mm, SGX_IOC_ENCLAVE_INIT, arg);
	if (S.busy_skip)
		return r;
	if ((mode % 8) == 4 && he->created && r == -EINVAL)
		CHECK(encl_flags(encl) & SGX_ENCL_INITIALIZED, "vendor 0x8086 refused");
	if (S.pre_killed && he->created && !(encl_flags(encl) & SGX_ENCL_INITIALIZED))
		CHECK(r == -ENOMEM, "INIT of an OOM-killed enclave: %ld", r);
	else if (valid && he->created && !(encl_flags(encl) & SGX_ENCL_INITIALIZED) && r != 0) {
		uint64_t allowed = SGX_ATTR_UNPRIV_MASK;

		if (he->provisioned)
			allowed |= SGX_ATTR_PROVISIONKEY;

		if (he->secs.attributes & ~allowed)
			CHECK(r == -EACCES, "INIT with attributes 0x%llx not allowed: %ld",
			      (unsigned long long)he->secs.attributes, r);
		else if (!S.signal_live)
			CHECK(0, "INIT signed over the mirrored MRENCLAVE failed: %ld", r);
	}
	return r;
}

static long do_mmap(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long start,
		    unsigned long len, unsigned long vm_flags, bool shared)
{
	long r;

	if (mm->nr_maps == SIM_MAX_MAPS)
		remove_map(mm, 0);
	pthread_rwlock_wrlock(&mm->mmap_lock);
	r = sgx_mmap(encl, mm, start, len, vm_flags, shared);
	pthread_rwlock_unlock(&mm->mmap_lock);
	TRACE("    mmap mm%d 0x%lx+0x%lx flags %lu shared %d -> %ld\n", mm->id, start, len,
	      vm_flags, shared, r);
	CHECK(r == 0 || r == -EINVAL || r == -EACCES || r == -ENOMEM, "mmap returned %ld", r);
	if (!shared)
		CHECK(r == -EINVAL, "private mapping accepted: %ld", r);
	if (r)
		return r;
	CHECK(start + len > start, "wrapping mapping accepted");
	/* MAP_FIXED replaces whatever was mapped there. */
	for (int i = mm->nr_maps - 1; i >= 0; i--)
		if (mm->maps[i].start < start + len && start < mm->maps[i].end)
			remove_map(mm, i);
	pthread_rwlock_wrlock(&mm->mmap_lock);
	sim_add_map(mm, encl, start, len, vm_flags);
	pthread_rwlock_unlock(&mm->mmap_lock);
	return 0;
}

/* ---- operations ---- */

enum {
	OP_CREATE,
	OP_ADD,
	OP_INIT,
	OP_PROVISION,
	OP_RESTRICT,
	OP_MODIFY,
	OP_REMOVE,
	OP_RAW_IOCTL,
	OP_MMAP,
	OP_MUNMAP,
	OP_MPROTECT,
	OP_ACCESS,
	OP_RECLAIM,
	OP_RECLAIM_DIRECT,
	OP_EACCEPT,
	OP_RELEASE,
	OP_OPEN,
	OP_MM_EXIT,
	OP_SIGNAL,
	OP_SRC_CHECK,
	OP_BAD_RANGE,
	OP_VEPC_OPEN,
	OP_VEPC_FAULT,
	OP_VEPC_IOCTL,
	OP_VEPC_CLOSE,
	OP_VEPC_GUEST,
	OP_BUILD,
	OP_TOUCH,
	OP_HOOK,
	OP_PTRACE,
	OP_CGROUP,
	OP_SVN,
	OP_NR,
};

/*
 * Opcode bytes are taken modulo OP_SLOTS, not OP_NR, and the slots past the
 * last operation are no-ops: a new operation takes a free slot and every
 * existing input keeps its meaning.
 */
#define OP_SLOTS 32
_Static_assert(OP_NR <= OP_SLOTS, "out of opcode slots");

static const char *const op_names[OP_NR] = {
	"CREATE",    "ADD_PAGES",  "INIT",	  "PROVISION",  "RESTRICT",	"MODIFY",
	"REMOVE",    "RAW_IOCTL",  "MMAP",	  "MUNMAP",	"MPROTECT",	"ACCESS",
	"RECLAIM",   "RECLAIM_DIRECT", "EACCEPT", "RELEASE",	"OPEN",		"MM_EXIT",
	"SIGNAL",    "SRC_CHECK",  "BAD_RANGE",  "VEPC_OPEN",	"VEPC_FAULT",	"VEPC_IOCTL",
	"VEPC_CLOSE", "VEPC_GUEST", "BUILD",	  "TOUCH",	"HOOK",		"PTRACE",
	"CGROUP",    "SVN",
};

static struct henc *encl_arg(struct in *in)
{
	struct henc *he = &S.e[u8(in) % NR_ENCL];

	return he->encl ? he : NULL;
}

static struct sgx_mm *mm_arg(struct in *in)
{
	return S.mm[u8(in) % NR_MM];
}

/* The CPUSVN the next OP_SVN stages: always newer than any before it. */
static uint8_t svn_next[16] = { 1 };

/*
 * What an open must do about EUPDATESVN (Linux's sgx_inc_usage_count()): the
 * first user (no enclave or vEPC alive) runs it.  The EPC is then empty by the
 * invariants, so anything but success or -EAGAIN (ten dry tries) means a page
 * is in use that nobody accounts for.  Return the errno the open must fail with
 * (0: it must succeed), and update the mirrors as the CPU will.
 */
static int svn_expect(void)
{
	if (atomic_load(&drv->nr_encls))
		return 0;
	if (S.dry >= 10) {
		S.dry -= 10;
		return -EAGAIN;
	}
	S.dry = 0;
	return 0;
}

/* After a successful first open: a staged CPUSVN is now current. */
static void svn_check_applied(bool first)
{
	uint8_t svn[16];

	if (!first || !S.svn_staged)
		return;
	sgx_cpu_cpusvn(drv->cpu, svn);
	CHECK(!memcmp(svn, svn_next, 16), "the first open did not apply the staged CPUSVN");
	S.svn_staged = false;
}

static void svn_bump(void)
{
	for (int i = 0; i < 16 && !++svn_next[i]; i++)
		;
}

static void open_encl(struct henc *he)
{
	bool first = !atomic_load(&drv->nr_encls);
	int want = svn_expect(), err = 0;

	memset(he, 0, sizeof(*he));
	he->encl = sgx_open(drv, &err);
	if (want) {
		CHECK(!he->encl && err == want, "sgx_open returned %d, wanted %d", err, want);
		return;
	}
	CHECK(he->encl && !err, "sgx_open failed: %d", err);
	svn_check_applied(first);
}

/* OP_SVN: N bit 7 stages a newer CPUSVN, else the next N%16 EUPDATESVNs run dry. */
static void op_svn(struct in *in)
{
	uint8_t n = u8(in);

	if (n & 0x80) {
		if (!S.svn_staged)
			svn_bump();
		sgx_cpu_stage_svn(drv->cpu, svn_next);
		S.svn_staged = true;
	} else {
		S.dry = n % 16;
		sgx_cpu_drain_entropy(drv->cpu, S.dry);
	}
}

/*
 * munmap everywhere, then the file's last close.  Inside a window, the
 * reclaimer may hold references: the release then completes when it drops
 * them, before the outer operation returns (check_all() counts objects).
 */
static void close_encl(struct henc *he)
{
	long before = atomic_load(&drv->nr_encls);

	unmap_encl(he->encl);
	sgx_release(he->encl);
	memset(he, 0, sizeof(*he));
	if (!S.depth)
		CHECK(atomic_load(&drv->nr_encls) == before - 1,
		      "enclave not released (%ld -> %ld)", before,
		      (long)atomic_load(&drv->nr_encls));
}

/* May the file be closed now?  Not while an ioctl or a fault holds it. */
static bool may_close(struct henc *he)
{
	int slot = (int)(he - S.e);

	/* munmap needs the mmap locks for write: not while a fault holds one. */
	return !S.ioctl_busy[slot] && !S.fault_busy[slot] && !S.rdlocked;
}

static void op_create(struct in *in)
{
	struct henc *he = encl_arg(in);
	struct sgx_mm *mm = S.mm[0];
	int slot = (int)(he - S.e);
	uint8_t f = u8(in), k = u8(in);
	uint64_t arg = 0, src = uptr(&secs_buf);
	bool use_arg = false;
	long pre = PRE_COMPUTE;

	if (!he)
		return;
	memset(&secs_buf, 0, sizeof(secs_buf));
	secs_buf.size = 1ULL << (13 + k % 8);
	secs_buf.base = sane_base(slot);
	secs_buf.ssa_frame_size = 1 + ((k >> 6) & 1);
	secs_buf.miscselect = (k >> 5) & 1;
	secs_buf.xfrm = (k & 0x80) ? 7 : 3;
	secs_buf.attributes = SGX_ATTR_MODE64BIT;
	if (f & 1)
		secs_buf.attributes |= SGX_ATTR_DEBUG;
	if (f & 2)
		secs_buf.attributes |= SGX_ATTR_PROVISIONKEY;
	if (f & 4)
		secs_buf.attributes |= SGX_ATTR_KSS;
	if (f & 8)
		secs_buf.attributes |= SGX_ATTR_ASYNC_EXIT_NOTIFY;
	if (f & 0x10)
		secs_buf.size = u64(in);
	if (f & 0x20)
		secs_buf.base = u64(in);
	if (f & 0x40) {
		secs_buf.attributes = u64(in);
		secs_buf.xfrm = u64(in);
		secs_buf.ssa_frame_size = u32(in);
		secs_buf.miscselect = u32(in);
	}
	if (f & 0x80) {
		uint8_t t = u8(in);

		switch (t % 8) {
		case 0:
			arg = bad_ptr(t);
			use_arg = true;
			pre = -EFAULT;
			break;
		case 1: {
			static struct sgx_enclave_create c;

			c.src = bad_ptr(t);
			arg = uptr(&c);
			use_arg = true;
			pre = -EFAULT;
			break;
		}
		case 2: {
			static struct sgx_enclave_create c;

			/* An unaligned SECS image (the kernel copies it as is). */
			memcpy(src_pages[0] + 64, &secs_buf, sizeof(secs_buf));
			c.src = uptr(src_pages[0]) + 64;
			src = c.src;
			arg = uptr(&c);
			use_arg = true;
			break;
		}
		case 3:
			secs_buf.reserved4[t % sizeof(secs_buf.reserved4)] = t;
			break;
		case 4:
			secs_buf.attributes |= SGX_ATTR_EINITTOKENKEY;
			break;
		case 5:
			secs_buf.attributes &= ~(uint64_t)SGX_ATTR_MODE64BIT;
			secs_buf.base &= 0xFFFFFFFFULL;
			break;
		case 6:
			secs_buf.config_id[t % 64] = t;
			secs_buf.config_svn = t;
			break;
		default:
			secs_buf.size |= PG; /* not a power of two */
			break;
		}
	}
	do_create(he, mm, &secs_buf, arg, use_arg, pre, src);
}

static void op_add(struct in *in)
{
	struct henc *he = encl_arg(in);
	struct sgx_mm *mm = mm_arg(in);
	uint64_t offset, length, si, src;
	uint8_t s, c, x;

	if (!he)
		return;
	offset = pick_offset(in, he);
	length = pick_length(in);
	s = u8(in);
	c = u8(in);
	x = u8(in);
	si = s >= 0xF0 ? u64(in) : secinfo_table[s % 16];
	fill_src(in, c, (unsigned int)(length / PG < SRC_PAGES ? length / PG : SRC_PAGES));
	src = uptr(src_pages[0]);
	switch ((x >> 1) & 7) {
	case 6:
		src += 8;
		break;
	case 7:
		src = bad_ptr(x);
		break;
	default:
		break;
	}
	do_add(he, mm, offset, length, si, s < 0xF0 && s % 16 == 14,
	       (x & 1) | ((x & 0x10) ? 0xFFF0 : 0), src, bad_ptr(x), (x & 0xF0) == 0xF0);
}

static void op_init(struct in *in)
{
	struct henc *he = encl_arg(in);
	uint8_t mode = u8(in);

	if (he)
		do_init(he, S.mm[0], in, mode);
}

static void op_provision(struct in *in)
{
	struct henc *he = encl_arg(in);
	struct sgx_enclave_provision p = { .fd = PROVISION_FD };
	uint8_t mode = u8(in);
	uint64_t arg = uptr(&p);
	long r;

	if (!he)
		return;
	if (mode >= 0xE0)
		p.fd = u64(in);
	if (mode == 0xFF)
		arg = bad_ptr(mode);
	r = ioctl_checked(he, S.mm[0], SGX_IOC_ENCLAVE_PROVISION, arg);
	if (S.busy_skip)
		return;
	if (arg != uptr(&p))
		CHECK(r == -EFAULT, "PROVISION with a bad pointer: %ld", r);
	else
		CHECK(r == ((unsigned int)p.fd == PROVISION_FD ? 0 : -EINVAL),
		      "PROVISION of fd %llu: %ld", (unsigned long long)p.fd, r);
	if (!r && he->created)
		he->provisioned = true;
}

/* The SGX2 ioctls share offset/length/count handling. */
static void sgx2_post(struct henc *he, unsigned int cmd, long r, uint64_t offset, uint64_t length,
		      uint64_t count, uint64_t result, uint64_t param, unsigned long nested_before)
{
	struct sgx_encl *encl = he->encl;

	add_cand_range(he, offset, length);
	CHECK(count <= length && !(count & (PG - 1)), "SGX2 ioctl 0x%x count 0x%llx of 0x%llx",
	      cmd, (unsigned long long)count, (unsigned long long)length);
	if (r)
		return;
	CHECK(count == length, "SGX2 ioctl 0x%x succeeded with count 0x%llx of 0x%llx", cmd,
	      (unsigned long long)count, (unsigned long long)length);
	CHECK(result == 0, "SGX2 ioctl 0x%x succeeded with result %llu", cmd,
	      (unsigned long long)result);
	/* A nested program may have changed pages done earlier in the range. */
	if (S.nested_runs != nested_before)
		return;
	for (uint64_t c = 0; c < length; c += PG) {
		struct sgx_encl_page *e = sgx_encl_page_lookup(encl, encl->base + offset + c);

		if (cmd == SGX_IOC_ENCLAVE_REMOVE_PAGES)
			CHECK(!e, "REMOVE_PAGES succeeded, page 0x%llx still there",
			      (unsigned long long)(offset + c));
		else if (cmd == SGX_IOC_ENCLAVE_MODIFY_TYPES)
			CHECK(e && e->type == (param & 0xFF),
			      "MODIFY_TYPES succeeded, page 0x%llx has type %d",
			      (unsigned long long)(offset + c), e ? (int)e->type : -1);
		else
			CHECK(e, "RESTRICT succeeded on a missing page");
		/* EMODPR can only take permissions away. */
		if (cmd == SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS && e->epc_page)
			CHECK(!(epcm_of_page(e->epc_page).rwx & ~param),
			      "RESTRICT to %llu left EPCM permissions %u",
			      (unsigned long long)param, epcm_of_page(e->epc_page).rwx);
	}
}

/* Bad pointers and non-zero outputs for the SGX2 ioctls: X byte 0xFF, 0x2x, 0x4x. */
static bool sgx2_bad_arg(uint8_t x)
{
	return x == 0xFF;
}

/* Common checks after an SGX2 ioctl on an initialized enclave; false if done. */
static bool sgx2_arg_checked(const char *what, struct henc *he, long r, bool bad_arg)
{
	if (S.busy_skip)
		return false;
	if (!(encl_flags(he->encl) & SGX_ENCL_INITIALIZED))
		return false; /* -EINVAL, checked in ioctl_checked() */
	if (S.pre_killed) {
		CHECK(r == -ENOMEM || !he->encl->drv->sgx2, "%s on an OOM-killed enclave: %ld", what,
		      r);
		return false;
	}
	if (bad_arg) {
		CHECK(r == -EFAULT, "%s with a bad pointer: %ld", what, r);
		return false;
	}
	return true;
}

static void op_restrict(struct in *in)
{
	struct henc *he = encl_arg(in);
	struct sgx_enclave_restrict_permissions p = { 0 }, q;
	unsigned long nb = S.nested_runs;
	uint8_t pb, x;
	long r;

	if (!he)
		return;
	p.offset = pick_offset(in, he);
	p.length = pick_length(in);
	pb = u8(in);
	x = u8(in);
	p.permissions = pb >= 0xF8 ? u64(in) : pb % 8;
	if ((x & 0xE0) == 0x20)
		p.result = 1;
	if ((x & 0xE0) == 0x40)
		p.count = PG;
	q = p;
	r = ioctl_checked(he, S.mm[0], SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
			  sgx2_bad_arg(x) ? bad_ptr(x) : uptr(&p));
	if (!sgx2_arg_checked("RESTRICT", he, r, sgx2_bad_arg(x)))
		return;
	/* A page that is not REG gives -EINVAL from inside the loop. */
	check_pre("RESTRICT", r,
		  !range_ok(he->encl->size, q.offset, q.length) || (q.permissions & ~7ULL) ||
				  (q.permissions & 3) == 2 || q.result || q.count ?
			  -EINVAL :
			  0,
		  true);
	if (!q.result && !q.count)
		sgx2_post(he, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, r, q.offset, q.length, p.count,
			  p.result, q.permissions, nb);
}

static void op_modify(struct in *in)
{
	struct henc *he = encl_arg(in);
	struct sgx_enclave_modify_types p = { 0 }, q;
	unsigned long nb = S.nested_runs;
	uint8_t t, x;
	long r;

	if (!he)
		return;
	p.offset = pick_offset(in, he);
	p.length = pick_length(in);
	t = u8(in);
	x = u8(in);
	p.page_type = t >= 0xE0 ? u64(in) : (t & 1) ? SGX_PAGE_TYPE_TCS : SGX_PAGE_TYPE_TRIM;
	if ((x & 0xE0) == 0x20)
		p.result = 1;
	if ((x & 0xE0) == 0x40)
		p.count = PG;
	q = p;
	r = ioctl_checked(he, S.mm[0], SGX_IOC_ENCLAVE_MODIFY_TYPES,
			  sgx2_bad_arg(x) ? bad_ptr(x) : uptr(&p));
	if (!sgx2_arg_checked("MODIFY_TYPES", he, r, sgx2_bad_arg(x)))
		return;
	/* A transition that is not allowed gives -EINVAL from inside the loop. */
	check_pre("MODIFY_TYPES", r,
		  !range_ok(he->encl->size, q.offset, q.length) || (q.page_type & ~0xFFULL) ||
				  q.result || q.count ||
				  (q.page_type != SGX_PAGE_TYPE_TCS &&
				   q.page_type != SGX_PAGE_TYPE_TRIM) ?
			  -EINVAL :
			  0,
		  true);
	if (!q.result && !q.count)
		sgx2_post(he, SGX_IOC_ENCLAVE_MODIFY_TYPES, r, q.offset, q.length, p.count,
			  p.result, q.page_type, nb);
}

static void op_remove(struct in *in)
{
	struct henc *he = encl_arg(in);
	struct sgx_enclave_remove_pages p = { 0 }, q;
	unsigned long nb = S.nested_runs;
	uint8_t x;
	long r;

	if (!he)
		return;
	p.offset = pick_offset(in, he);
	p.length = pick_length(in);
	x = u8(in);
	if ((x & 0xE0) == 0x40)
		p.count = PG;
	q = p;
	r = ioctl_checked(he, S.mm[0], SGX_IOC_ENCLAVE_REMOVE_PAGES,
			  sgx2_bad_arg(x) ? bad_ptr(x) : uptr(&p));
	if (!sgx2_arg_checked("REMOVE_PAGES", he, r, sgx2_bad_arg(x)))
		return;
	check_pre("REMOVE_PAGES", r,
		  !range_ok(he->encl->size, q.offset, q.length) || q.count ? -EINVAL : 0, false);
	if (!q.count)
		sgx2_post(he, SGX_IOC_ENCLAVE_REMOVE_PAGES, r, q.offset, q.length, p.count, 0, 0,
			  nb);
}

static const unsigned int known_cmds[] = {
	SGX_IOC_ENCLAVE_CREATE,		      SGX_IOC_ENCLAVE_ADD_PAGES,
	SGX_IOC_ENCLAVE_INIT,		      SGX_IOC_ENCLAVE_PROVISION,
	SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, SGX_IOC_ENCLAVE_MODIFY_TYPES,
	SGX_IOC_ENCLAVE_REMOVE_PAGES,	      SGX_IOC_VEPC_REMOVE_ALL,
};

/* A pointer-sized field of a raw argument: something safe to dereference or a bad one. */
static uint64_t raw_pointer(uint64_t v)
{
	switch (v & 7) {
	case 0:
		return uptr(src_pages[(v >> 3) % SRC_PAGES]);
	case 1:
		return uptr(&secinfo_buf);
	case 2:
		return uptr(&sig_buf);
	case 3:
		return uptr(&secs_buf);
	case 4:
		return uptr(src_pages[0]) + ((v >> 3) & 0xFF8);
	default:
		return (v >> 3) & 0xFFFF;
	}
}

static void op_raw_ioctl(struct in *in)
{
	struct henc *he = encl_arg(in);
	struct sgx_mm *mm = mm_arg(in);
	uint8_t c = u8(in);
	unsigned int cmd;
	uint64_t *w = (uint64_t *)raw_buf;
	uint64_t arg = uptr(raw_buf);

	if (!he)
		return;
	if (c < 0x80)
		cmd = known_cmds[c % 8];
	else if (c < 0xC0)
		cmd = (u32(in) & ~0xFFu) | 0xA4u << 8 | (c & 0xF); /* wrong size/direction */
	else
		cmd = u32(in);
	for (unsigned int i = 0; i < sizeof(raw_buf) / 8; i++)
		w[i] = i < 6 ? u64(in) : 0;
	switch (cmd) {
	case SGX_IOC_ENCLAVE_CREATE:
	case SGX_IOC_ENCLAVE_INIT:
		w[0] = raw_pointer(w[0]);
		break;
	case SGX_IOC_ENCLAVE_ADD_PAGES:
		w[0] = raw_pointer(w[0]);
		w[3] = raw_pointer(w[3]);
		if (w[2] > MAX_LEN_PAGES * PG && w[2] < (1ULL << 62))
			w[2] = MAX_LEN_PAGES * PG;
		break;
	case SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS:
	case SGX_IOC_ENCLAVE_MODIFY_TYPES:
	case SGX_IOC_ENCLAVE_REMOVE_PAGES:
		if (w[1] > MAX_LEN_PAGES * PG && w[1] < (1ULL << 62))
			w[1] = MAX_LEN_PAGES * PG;
		break;
	case SGX_IOC_ENCLAVE_PROVISION:
		break;
	default:
		arg = u64(in); /* never to be dereferenced */
		break;
	}
	if (c & 0x40 && c < 0x80)
		arg = bad_ptr(c);
	/* The measurement mirror cannot follow raw ADD_PAGES. */
	if (cmd == SGX_IOC_ENCLAVE_ADD_PAGES) {
		he->measure_ok = false;
		add_cand_range(he, w[1], w[2]);
	}
	if (cmd == SGX_IOC_ENCLAVE_CREATE && !(encl_flags(he->encl) & SGX_ENCL_CREATED) &&
	    arg == uptr(raw_buf) && w[0] == uptr(&secs_buf)) {
		do_create(he, mm, &secs_buf, arg, true, PRE_COMPUTE, uptr(&secs_buf));
		return;
	}
	if (ioctl_checked(he, mm, cmd, arg) || S.busy_skip)
		return;
	if (cmd == SGX_IOC_ENCLAVE_CREATE) {
		/* Created from an image the harness did not vet: adopt it. */
		he->created = true;
		he->provisioned = false;
		he->secs.base = he->encl->base;
		he->secs.size = he->encl->size;
		he->nr_cand = 0;
		he->cand_overflow = false;
		he->measure_ok = false;
	}
	if (cmd == SGX_IOC_ENCLAVE_PROVISION && he->created)
		he->provisioned = true;
}

static void op_mmap(struct in *in)
{
	struct sgx_mm *mm = mm_arg(in);
	struct henc *he = encl_arg(in);
	uint8_t sb = u8(in), lb = u8(in), pb = u8(in);
	unsigned long base, start, len;

	if (!he)
		return;
	base = he->created ? he->secs.base : sane_base((int)(he - S.e));
	start = sb < 0xE0 ? base + (sb % 16) * PG : u64(in) & ~(PG - 1);
	if (lb >= 0xE0)
		len = u64(in) & ~(PG - 1);
	else if (!(lb & 1))
		len = (1 + lb % 16) * PG;
	else if (start >= base && start - base < encl_size_hint(he))
		len = encl_size_hint(he) - (start - base); /* to the end of ELRANGE */
	else
		len = encl_size_hint(he);
	do_mmap(mm, he->encl, start, len, pb & 7, !(pb & 0x80));
}

static void op_munmap(struct in *in)
{
	struct sgx_mm *mm = mm_arg(in);
	uint8_t i = u8(in);

	if (mm->nr_maps)
		remove_map(mm, i % mm->nr_maps);
}

static void op_mprotect(struct in *in)
{
	struct sgx_mm *mm = mm_arg(in);
	uint8_t i = u8(in), pb = u8(in);
	int r;

	if (!mm->nr_maps)
		return;
	i %= mm->nr_maps;
	pthread_rwlock_wrlock(&mm->mmap_lock);
	r = sgx_encl_may_map(mm->maps[i].encl, mm->maps[i].start, mm->maps[i].end, pb & 7);
	if (!r)
		mm->maps[i].vm_flags = pb & 7;
	pthread_rwlock_unlock(&mm->mmap_lock);
	CHECK(r == 0 || r == -EACCES, "mprotect returned %d", r);
}

static unsigned long pick_addr(struct in *in, struct sgx_mm *mm)
{
	uint8_t a = u8(in);

	if (mm->nr_maps && a < 0xF0) {
		int m = a % mm->nr_maps;
		unsigned long pages = (mm->maps[m].end - mm->maps[m].start) / PG;
		uint16_t p = u16(in);

		return mm->maps[m].start + (pages ? p % pages : 0) * PG;
	}
	return u64(in);
}

static void op_access(struct in *in)
{
	struct sgx_mm *mm = mm_arg(in);

	do_access(mm, pick_addr(in, mm));
}

static void op_touch(struct in *in)
{
	struct sgx_mm *mm = mm_arg(in);
	unsigned long addr = pick_addr(in, mm);
	unsigned int n = 1 + u8(in) % 48;

	for (unsigned int i = 0; i < n; i++) {
		do_access(mm, addr + i * PG);
		if (!S.depth)
			check_all();
	}
}

/*
 * Must a debugger access of [@addr, @addr + @len) succeed?  Yes when the
 * enclave is a DEBUG one and every page is a resident REG page, not busy,
 * within the mapping's permissions and neither PENDING nor MODIFIED (which
 * EDBGRD refuses with SGX_PAGE_NOT_DEBUGGABLE).
 */
static bool ptrace_determined(struct sgx_encl *encl, unsigned long addr, int len,
			      unsigned long flags)
{
	if (!encl || !(encl_flags(encl) & SGX_ENCL_DEBUG) ||
	    !(encl_flags(encl) & SGX_ENCL_CREATED) || (encl_flags(encl) & SGX_ENCL_NO_MEMORY))
		return false;
	for (unsigned long p = addr & ~(PG - 1); p < addr + (unsigned long)len; p += PG) {
		struct sgx_encl_page *e = sgx_encl_page_lookup(encl, p);
		struct sgx_epcm_view v;

		if (!e || !e->epc_page || e->type != SGX_PAGE_TYPE_REG ||
		    (atomic_load(&e->desc) & SGX_ENCL_PAGE_BUSY) ||
		    (flags & VM_PROT_MASK & ~e->vm_max_prot_bits))
			return false;
		if (sgx_cpu_epcm(drv->cpu, sgx_get_epc_virt_addr(e->epc_page), &v) || !v.valid ||
		    v.page_type != SGX_PAGE_TYPE_REG || v.pending || v.modified)
			return false;
	}
	return true;
}

/*
 * A debugger's read or write through a mapping (.access: ptrace,
 * /proc/pid/mem), clamped to the mapping as the core splits by VMA.  Not in
 * a window: it waits for busy pages, which the interrupted flow holds.
 */
static bool cg_room(unsigned int pages);

static void op_ptrace(struct in *in)
{
	struct sgx_mm *mm = mm_arg(in);
	unsigned long addr = pick_addr(in, mm) + u16(in) % PG;
	int len = 1 + u8(in) % 24;
	bool write = u8(in) & 1;
	uint8_t buf[24], back[24];
	bool ptrace_must_work;
	struct sgx_encl *encl;
	unsigned long flags;
	int m = sim_map_at(mm, addr);
	int r;

	for (int i = 0; i < len; i++)
		buf[i] = u8(in);
	if (S.depth || m < 0)
		return;
	/* With no ksgxd here, make room for a reload (SECS and page, twice). */
	for (int k = 0; k < 8 && atomic_load(&drv->nr_free_pages) < 4 &&
			atomic_load(&drv->nr_active) > 0; k++)
		sgx_reclaim_pages(drv);
	if (atomic_load(&drv->nr_free_pages) < 4)
		return;
	/*
	 * The same under the task's cgroup limits: the debugger path retries
	 * -EBUSY for as long as it lasts, and here no ksgxd ends it.
	 */
	if (!cg_room(4))
		return;
	/*
	 * Only now look at the mapping: the reclaim above may have run a
	 * nested program that released the enclave and unmapped it.
	 */
	m = sim_map_at(mm, addr);
	if (m < 0)
		return;
	encl = mm->maps[m].encl;
	flags = mm->maps[m].vm_flags;
	if (addr + (unsigned long)len > mm->maps[m].end)
		len = (int)(mm->maps[m].end - addr);
	ptrace_must_work = ptrace_determined(encl, addr, len, flags);

	r = sgx_vma_access(encl, addr, buf, len, write, flags);
	if (ptrace_must_work)
		CHECK(r == len, "ptrace %s at 0x%lx+%d on resident, debuggable REG pages within "
		      "the mapping's permissions returned %d", write ? "write" : "read", addr, len,
		      r);
	TRACE("    ptrace %s 0x%lx+%d -> %d\n", write ? "write" : "read", addr, len, r);
	CHECK(r == len || r == -EFAULT || r == -EIO || r == -ENOMEM,
	      "ptrace %s at 0x%lx+%d returned %d", write ? "write" : "read", addr, len, r);
	if (!encl || !(encl_flags(encl) & SGX_ENCL_DEBUG) ||
	    (encl_flags(encl) & SGX_ENCL_NO_MEMORY))
		CHECK(r == -EFAULT, "ptrace on a %s enclave returned %d",
		      !encl ? "lost" : (encl_flags(encl) & SGX_ENCL_NO_MEMORY) ? "killed" : "non-debug",
		      r);
	if (r == len && write && atomic_load(&drv->nr_free_pages) >= 4) {
		r = sgx_vma_access(encl, addr, back, len, false, flags);
		CHECK(r == len && !memcmp(back, buf, (size_t)len),
		      "ptrace read-back at 0x%lx+%d after a write: %d, bytes %s", addr, len, r,
		      r == len ? "differ" : "not read");
	}
}

static bool new_tcs_valid(const struct sgx_tcs *tcs)
{
	for (size_t i = 0; i < sizeof(tcs->reserved); i++)
		if (tcs->reserved[i])
			return false;
	return !(tcs->flags & (SGX_TCS_RESERVED_MASK | SGX_TCS_DBGOPTIN)) &&
	       tcs->ssa_index < tcs->nr_ssa_frames && tcs->exit_addr == 0 && tcs->state == 0;
}

/*
 * The enclave's EACCEPT, done on the EPCM directly: accept whatever change
 * is pending on each resident page of the range, once it is tracked.
 */
static void op_eaccept(struct in *in)
{
	struct henc *he = encl_arg(in);
	uint64_t offset;
	unsigned int n;

	if (!he)
		return;
	offset = pick_offset(in, he);
	n = 1 + u8(in) % 8;
	if (!(encl_flags(he->encl) & SGX_ENCL_CREATED))
		return;
	for (unsigned int i = 0; i < n; i++) {
		struct sgx_encl_page *e = sgx_encl_page_lookup(he->encl,
							       he->encl->base + offset + i * PG);
		struct sgx_cpu *cpu = drv->cpu;
		struct epcm *ep;
		uint32_t f;

		if (!e || !e->epc_page)
			continue;
		f = epc_frame(cpu, uptr(sgx_get_epc_virt_addr(e->epc_page)));
		ep = epcm_of(cpu, f);
		if ((ep->flags & (EPCM_VALID | EPCM_BLOCKED)) != EPCM_VALID || ep->secs == NO_FRAME)
			continue;
		if ((ep->flags & (EPCM_PR | EPCM_MODIFIED)) &&
		    !page_tracked(secs_hidden(cpu, ep->secs), ep->bepoch))
			continue;
		if (ep->pt == SGX_PAGE_TYPE_TCS && (ep->flags & EPCM_MODIFIED) &&
		    !new_tcs_valid((const struct sgx_tcs *)frame_bytes(cpu, f)))
			continue;
		ep->flags &= (uint8_t)~(EPCM_PENDING | EPCM_MODIFIED | EPCM_PR);
	}
}

static void op_mm_exit(struct in *in)
{
	int m = u8(in) % NR_MM;

	if (S.nr_dead == MAX_DEAD_MM)
		return;
	sim_mm_exit(S.mm[m]);
	S.dead[S.nr_dead++] = S.mm[m];
	S.mm[m] = new_mm();
}

/* ---- vEPC ---- */

static void vepc_unmap(int v)
{
	for (int m = 0; m < NR_MM; m++)
		host.ops.zap(&host, S.mm[m], NULL, VEPC_REGION(v), 1UL << 32);
}

static void vepc_close(int v)
{
	long before = atomic_load(&drv->nr_encls);

	vepc_unmap(v);
	sgx_vepc_release(S.v[v].v);
	S.v[v].v = NULL;
	CHECK(atomic_load(&drv->nr_encls) == before - 1, "vEPC not released");
}

static void op_vepc_open(struct in *in)
{
	int v = u8(in) % NR_VEPC;
	uint8_t n = u8(in);
	unsigned long max = 1 + n % 64, pgoff = n < 0xF0 ? 0 : u64(in);
	struct sgx_vepc *vepc;
	int err = 0, want;
	bool first;

	if (S.v[v].v)
		return;
	first = !atomic_load(&drv->nr_encls);
	want = svn_expect();
	vepc = sgx_vepc_open(drv, &err);
	if (want) {
		CHECK(!vepc && err == want, "vEPC open returned %d, wanted %d", err, want);
		return;
	}
	if (!vepc) {
		CHECK(err == -ENOMEM, "vEPC open failed with %d", err);
		return;
	}
	svn_check_applied(first);
	CHECK(sgx_vepc_mmap(vepc, false) == -EINVAL && sgx_vepc_mmap(vepc, true) == 0,
	      "vEPC mmap checks");
	/* The file has no size; any offset a mapping can reach works (to ULONG_MAX). */
	S.v[v].v = vepc;
	S.v[v].max = max;
	S.v[v].pgoff = pgoff > ULONG_MAX - (max - 1) ? ULONG_MAX - (max - 1) : pgoff;
}

static void op_vepc_fault(struct in *in)
{
	int v = u8(in) % NR_VEPC;
	struct sgx_mm *mm = mm_arg(in);
	uint16_t i = u16(in);
	unsigned long idx;
	vm_fault_t r;

	if (!S.v[v].v)
		return;
	idx = i % S.v[v].max;
	pthread_rwlock_rdlock(&mm->mmap_lock);
	r = sgx_vepc_fault(S.v[v].v, mm, VEPC_REGION(v) + idx * PG, S.v[v].pgoff + idx,
			   i & 0x100);
	pthread_rwlock_unlock(&mm->mmap_lock);
	CHECK(r == VM_FAULT_NOPAGE || r == VM_FAULT_SIGBUS, "vEPC fault returned 0x%x",
	      (unsigned int)r);
	if ((atomic_load(&drv->nr_free_pages) > 0 && !S.limited) ||
	    sgx_vepc_load(S.v[v].v, S.v[v].pgoff + idx))
		CHECK(r == VM_FAULT_NOPAGE && sgx_vepc_load(S.v[v].v, S.v[v].pgoff + idx),
		      "vEPC fault with free EPC failed");
}

static void op_vepc_ioctl(struct in *in)
{
	int v = u8(in) % NR_VEPC;
	uint8_t c = u8(in);
	unsigned int cmd = SGX_IOC_VEPC_REMOVE_ALL;
	unsigned long arg = 0;
	long r;

	if (!S.v[v].v)
		return;
	if (c >= 0xC0) {
		cmd = u32(in);
		arg = u64(in);
	} else if (c >= 0x80) {
		arg = c;
	}
	r = sgx_vepc_ioctl(S.v[v].v, cmd, arg);
	TRACE("    vepc ioctl 0x%x 0x%lx -> %ld\n", cmd, arg, r);
	if (cmd != SGX_IOC_VEPC_REMOVE_ALL)
		CHECK(r == -ENOTTY, "unknown vEPC ioctl 0x%x: %ld", cmd, r);
	else if (arg)
		CHECK(r == -EINVAL, "REMOVE_ALL with argument: %ld", r);
	else
		CHECK(r >= 0 || r == -EBUSY, "REMOVE_ALL returned %ld", r);
	if (r > 0)
		vepc_remove_failures++;
}

/* A vEPC page of slot @i, faulted in (NULL when that is impossible). */
static void *vepc_page(int v, unsigned long i)
{
	struct hvepc *hv = &S.v[v];
	struct sgx_epc_page *page;

	if (!hv->v)
		return NULL;
	i %= hv->max;
	page = sgx_vepc_load(hv->v, hv->pgoff + i);
	if (!page) {
		pthread_rwlock_rdlock(&S.mm[0]->mmap_lock);
		sgx_vepc_fault(hv->v, S.mm[0], VEPC_REGION(v) + i * PG, hv->pgoff + i, true);
		pthread_rwlock_unlock(&S.mm[0]->mmap_lock);
		page = sgx_vepc_load(hv->v, hv->pgoff + i);
	}
	return page ? sgx_get_epc_virt_addr(page) : NULL;
}

/* What a guest does with its EPC: ECREATE a SECS, EADD children to it. */
static void op_vepc_guest(struct in *in)
{
	int v = u8(in) % NR_VEPC;
	uint8_t s = u8(in), i = u8(in), j = u8(in);
	static struct sgx_secs gsecs __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64)));
	struct sgx_pageinfo pi;
	void *a, *b;
	int r;

	memset(&pi, 0, sizeof(pi));
	memset(&si, 0, sizeof(si));
	if (s & 1) {
		a = vepc_page(v, i);
		if (!a)
			return;
		memset(&gsecs, 0, sizeof(gsecs));
		gsecs.size = 16 * PG;
		gsecs.base = 0x40000000;
		gsecs.ssa_frame_size = 1;
		gsecs.xfrm = 3;
		gsecs.attributes = SGX_ATTR_MODE64BIT;
		si.flags = SGX_SECINFO_SECS;
		pi.contents = uptr(&gsecs);
		pi.metadata = uptr(&si);
		r = sgx_ecreate(drv->cpu, &pi, a);
	} else {
		/* SECS in vEPC v slot i, child in vEPC (s >> 1) slot j. */
		a = vepc_page(v, i);
		b = vepc_page((s >> 1) % NR_VEPC, j);
		if (!a || !b)
			return;
		memset(src_pages[0], 0, PG);
		si.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
		pi.addr = 0x40000000 + (u8(in) % 16) * PG;
		pi.contents = uptr(src_pages[0]);
		pi.metadata = uptr(&si);
		pi.secs = uptr(a);
		r = sgx_eadd(drv->cpu, &pi, b);
	}
	TRACE("    guest %s -> 0x%x\n", (s & 1) ? "ECREATE" : "EADD", r);
}

static void op_vepc_close(struct in *in)
{
	int v = u8(in) % NR_VEPC;

	if (S.v[v].v)
		vepc_close(v);
}

/* ---- BUILD: a whole, initialized, mapped enclave in four bytes ---- */

static void op_build(struct in *in)
{
	int slot = u8(in) % NR_ENCL;
	struct henc *he = &S.e[slot];
	struct sgx_mm *mm = mm_arg(in);
	uint8_t k = u8(in), n = u8(in);
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	unsigned int pages;
	struct sgx_secs secs;

	if (!he->encl)
		open_encl(he);
	if (!he->encl) /* -EAGAIN from EUPDATESVN (OP_SVN) */
		return;
	memset(&secs, 0, sizeof(secs));
	secs.size = (16 * PG) << (k % 5);
	secs.base = sane_base(slot);
	secs.ssa_frame_size = 1;
	secs.xfrm = 3;
	secs.attributes = SGX_ATTR_MODE64BIT | ((k & 8) ? SGX_ATTR_DEBUG : 0);
	if (do_create(he, mm, &secs, 0, false, PRE_COMPUTE, uptr(&secs_buf)))
		return;
	check_all();

	fill_src(in, 2, 1);
	if (do_add(he, mm, 0, PG, SGX_SECINFO_TCS, false, SGX_PAGE_MEASURE, uptr(src_pages[0]), 0,
		   false))
		return;
	check_all();

	pages = 1 + n % 24;
	if (pages > secs.size / PG - 1)
		pages = (unsigned int)(secs.size / PG - 1);
	fill_src(in, (uint8_t)(5 + (k & 0x10)), pages);
	if (do_add(he, mm, PG, pages * PG, rw, false, (n & 0x80) ? 0 : SGX_PAGE_MEASURE,
		   uptr(src_pages[0]), 0, false))
		return;
	check_all();

	if (do_init(he, mm, in, 0))
		return;
	check_all();

	do_mmap(mm, he->encl, secs.base, secs.size, (k & 0x20) ? VM_READ : VM_READ | VM_WRITE,
		true);
}

/* ---- nested programs in the driver's unlocked windows ---- */

static void run_op(struct in *in, uint8_t op);

static const char *const tp_names[SGX_TP_NR] = {
	"REMOVE_ZAP",	   "MODIFY_ZAP", "EAUG_UNLOCKED", "RECLAIM_ISOLATED",
	"RECLAIM_BLOCKED", "ADD_EXTEND", "OOM_MARKED",
};

/*
 * The pause points a nested program may run at: the first five, the
 * driver's unlocked windows, indexed T % 5 as inputs have always been.
 * ADD_EXTEND holds encl->lock (it is for a unit test's own use), and the OOM
 * killer's window is left to the unit tests, so that no input changes
 * meaning.
 */
#define NR_HOOK_TPS (SGX_TP_RECLAIM_BLOCKED + 1)
_Static_assert(NR_HOOK_TPS == 5, "hookable pause points keep their numbers");

/* Operations that need no mmap write lock (a fault may hold a read lock). */
static bool nested_allowed(uint8_t op)
{
	switch (op) {
	case OP_MMAP:
	case OP_MUNMAP:
	case OP_MPROTECT:
	case OP_MM_EXIT:
	case OP_SIGNAL:
	case OP_SRC_CHECK:
	case OP_BAD_RANGE:
	case OP_BUILD:
	case OP_HOOK:
		return false;
	default:
		return true;
	}
}

/* Run op @op with the argument bytes @b (an input of its own). */
static void run_synth(uint8_t op, const uint8_t *b, size_t n)
{
	struct in sub = { .p = b, .n = n, .i = 0 };

	run_op(&sub, op);
}

static void put64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/*
 * The nested program, at a pause point for page @addr of @encl.  Its
 * operations (at most 8), each a selector byte:
 *   0 ACCESS_TP M      fault on @addr in address space M (or the other one)
 *   1 OP <op> args     any operation that takes no mmap lock for write
 *   2 REMOVE_TP        REMOVE_PAGES of @addr
 *   3 MODIFY_TP T      MODIFY_TYPES of @addr to TCS (T odd) or TRIM
 *   4 RESTRICT_TP P    RESTRICT_PERMISSIONS of @addr to P & 7
 *   5 EACCEPT_TP       the EACCEPT stand-in on @addr
 *   6 RELEASE_TP       close @encl's file (if no ioctl or fault holds it)
 *   7 RECLAIM          one reclaim batch
 *   8 ZAP_TP           zap @addr everywhere now (as the window's own zap will)
 *   9 ACCESS_TP M      as 0
 *
 * In the REMOVE_PAGES / MODIFY_TYPES windows (R1) no fault may map the
 * page: a PTE to it that the nested program created is the stale-PTE race.
 */
static void run_nested(struct in *in, struct sgx_encl *encl, unsigned long addr)
{
	int slot = live_slot_of(encl);
	uint64_t off = slot >= 0 ? addr - encl->base : 0;
	uint8_t b[16];

	for (int k = 0; k < 8 && in->i < in->n; k++) {
		uint8_t sel = u8(in) % 10, op;

		TRACE("   nested #%d: %u\n", k, sel);
		if (sel == 1) {
			op = u8(in) % OP_SLOTS;
			if (op >= OP_NR)
				continue;
			TRACE("   nested op %s\n", op_names[op]);
			if (nested_allowed(op))
				run_op(in, op);
			continue;
		}
		if (sel == 7) {
			sgx_reclaim_pages(drv);
			continue;
		}
		if (sel == 8) {
			sgx_zap_enclave_ptes(encl, addr);
			continue;
		}
		slot = live_slot_of(encl);
		if (slot < 0)
			continue; /* the enclave's file is closed */
		memset(b, 0, sizeof(b));
		b[0] = (uint8_t)slot;
		b[1] = 0xF8; /* pick_offset(): a raw offset follows */
		put64(b + 2, off);
		/* b[10] = 0: one page */
		switch (sel) {
		case 0:
		case 9: {
			struct sgx_mm *mm = S.mm[u8(in) % NR_MM];
			int m = sim_map_at(mm, addr);

			if (m < 0 || mm->maps[m].encl != encl)
				mm = S.mm[(mm == S.mm[0]) ? 1 : 0];
			do_access(mm, addr);
			break;
		}
		case 2:
			run_synth(OP_REMOVE, b, 12);
			break;
		case 3:
			b[11] = u8(in) & 1;
			run_synth(OP_MODIFY, b, 13);
			break;
		case 4:
			b[11] = u8(in) & 7;
			run_synth(OP_RESTRICT, b, 13);
			break;
		case 5:
			run_synth(OP_EACCEPT, b, 11);
			break;
		case 6:
			if (may_close(&S.e[slot]))
				close_encl(&S.e[slot]);
			break;
		default:
			break;
		}
	}
}

static void tp_hook(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl, unsigned long addr)
{
	struct in prog;

	(void)ctx;
	if (S.depth || !S.hook_prog || (int)tp != S.hook_tp)
		return;
	if (S.hook_skip-- > 0)
		return;
	prog = (struct in){ .p = S.hook_prog, .n = S.hook_len, .i = 0 };
	S.hook_prog = NULL;
	S.nested_runs++;
	S.depth++;
	TRACE("  >> nested program at %s, page 0x%lx\n", tp_names[tp], addr);
	S.window_tp = (int)tp;
	S.window_encl = encl;
	S.window_addr = addr;
	S.window_new_pte = false;
	run_nested(&prog, encl, addr);
	if (tp == SGX_TP_REMOVE_ZAP || tp == SGX_TP_MODIFY_ZAP)
		CHECK(!S.window_new_pte,
		      "a fault in the %s window (encl->lock dropped for the zap) mapped page "
		      "0x%lx, which is about to be %s",
		      tp_names[tp], addr, tp == SGX_TP_REMOVE_ZAP ? "EREMOVEd" : "made a TCS");
	S.window_encl = NULL;
	TRACE("  << back in the window\n");
	S.depth--;
}

/* OP_HOOK: TP SKIP LEN, then LEN bytes of nested program. */
static void op_hook(struct in *in)
{
	uint8_t tp = u8(in), skip = u8(in);
	size_t len = u8(in) % 48;

	if (len > in->n - in->i)
		len = in->n - in->i;
	S.hook_tp = tp % NR_HOOK_TPS;
	S.hook_skip = skip % 16;
	S.hook_prog = in->p + in->i;
	S.hook_len = len;
	in->i += len;
}

/* ---- EPC cgroups ---- */

/*
 * Is there room for @pages more pages under every limit above the harness's
 * task, after reclaiming below its own cgroup as the charge and its work
 * would (the series reclaims only there, whichever limit is full)?
 */
static bool cg_room(unsigned int pages)
{
	struct sgx_cgroup *self = host_cg ? host_cg : &drv->root_cg;

	for (int k = 0; k < 8; k++) {
		bool full = false;

		for (struct sgx_cgroup *c = self; c; c = c->parent)
			if (atomic_load(&c->usage) + pages * PG > atomic_load(&c->max))
				full = true;
		if (!full)
			return true;
		if (atomic_load(&self->subtree_reclaimable) <= 0)
			return false;
		sgx_cgroup_reclaim(self, SGX_NR_TO_SCAN);
	}
	return false;
}

static void op_cgroup(struct in *in)
{
	uint8_t k = u8(in) % 8, x = u8(in) % NR_CG;
	struct sgx_cgroup *cg = S.cg[x];
	char buf[64];
	int r, err = 0;

	switch (k) {
	case 0: { /* create under X, in the first free slot */
		int slot = 1;

		while (slot < NR_CG && S.cg[slot])
			slot++;
		if (slot == NR_CG || !cg)
			return;
		S.cg[slot] = sgx_cgroup_create(cg, "fuzz", &err);
		CHECK(S.cg[slot] && !err, "cgroup create failed: %d", err);
		TRACE("    cgroup %d created under %d\n", slot, x);
		break;
	}
	case 1: /* destroy X */
		if (!x || !cg)
			return;
		{
			/* Destroyed children (still charged) do not keep it. */
			bool live_children = false;
			struct sgx_cgroup *child;

			cds_list_for_each_entry(child, &cg->children, sibling)
				live_children |= !atomic_load(&child->dying);
			r = sgx_cgroup_destroy(cg); /* may free it */
			CHECK(r == (live_children ? -EBUSY : 0), "cgroup destroy returned %d", r);
		}
		if (!r) {
			if (host_cg == cg)
				sim_set_cgroup(host_cg = NULL);
			S.cg[x] = NULL;
		}
		break;
	case 2: { /* a sane limit */
		uint8_t n = u8(in) % 40;

		if (!x || !cg)
			return;
		if (n == 39)
			snprintf(buf, sizeof(buf), "sgx_epc max");
		else
			snprintf(buf, sizeof(buf), "sgx_epc %u\n", n * 4096u);
		CHECK(sgx_cgroup_write(cg, "misc.max", buf) == 0, "misc.max \"%s\" refused", buf);
		S.limited |= n != 39;
		break;
	}
	case 3: { /* raw bytes */
		uint8_t l = u8(in) % 24;
		uint64_t before;

		for (uint8_t i = 0; i < l; i++) {
			buf[i] = (char)u8(in);
			if (!buf[i])
				buf[i] = ' ';
		}
		buf[l] = 0;
		if (!cg)
			return;
		before = atomic_load(&cg->max);
		r = sgx_cgroup_write(cg, "misc.max", buf);
		CHECK(r == 0 || r == -EINVAL || r == -ERANGE || (r == -ENOENT && !x),
		      "misc.max write returned %d", r);
		CHECK(r == 0 || atomic_load(&cg->max) == before, "a refused write changed misc.max");
		if (!r && atomic_load(&cg->max) != UINT64_MAX)
			S.limited = true;
		break;
	}
	case 4: /* the current task moves to X */
		if (!cg)
			return;
		sim_set_cgroup(host_cg = x ? cg : NULL);
		break;
	case 5:
		sgx_cgroup_run_work(drv);
		break;
	case 6:
		if (cg)
			sgx_cgroup_oom(cg);
		break;
	case 7: { /* the files agree with the counters */
		unsigned long long v;
		char name[16];

		if (!cg)
			return;
		r = sgx_cgroup_read(cg, "misc.current", buf, sizeof(buf));
		CHECK(r > 0 && sscanf(buf, "%15s %llu", name, &v) == 2 && !strcmp(name, "sgx_epc") &&
			      v == atomic_load(&cg->usage),
		      "misc.current \"%s\"", buf);
		r = sgx_cgroup_read(cg, "misc.max", buf, sizeof(buf));
		CHECK(x ? r > 0 : r == -ENOENT, "misc.max read returned %d", r);
		r = sgx_cgroup_read(cg, "misc.events", buf, sizeof(buf));
		CHECK(x ? r > 0 : r == -ENOENT, "misc.events read returned %d", r);
		break;
	}
	}
}

/* ---- driver of one input ---- */

static void run_op(struct in *in, uint8_t op)
{
	switch (op) {
	case OP_CREATE:
		op_create(in);
		break;
	case OP_ADD:
		op_add(in);
		break;
	case OP_INIT:
		op_init(in);
		break;
	case OP_PROVISION:
		op_provision(in);
		break;
	case OP_RESTRICT:
		op_restrict(in);
		break;
	case OP_MODIFY:
		op_modify(in);
		break;
	case OP_REMOVE:
		op_remove(in);
		break;
	case OP_RAW_IOCTL:
		op_raw_ioctl(in);
		break;
	case OP_MMAP:
		op_mmap(in);
		break;
	case OP_MUNMAP:
		op_munmap(in);
		break;
	case OP_MPROTECT:
		op_mprotect(in);
		break;
	case OP_ACCESS:
		op_access(in);
		break;
	case OP_RECLAIM: {
		unsigned int n = 1 + u8(in) % 4;

		for (unsigned int i = 0; i < n; i++)
			sgx_reclaim_pages(drv);
		break;
	}
	case OP_RECLAIM_DIRECT:
		sgx_reclaim_direct(drv);
		break;
	case OP_EACCEPT:
		op_eaccept(in);
		break;
	case OP_RELEASE: {
		struct henc *he = encl_arg(in);

		if (he && may_close(he))
			close_encl(he);
		break;
	}
	case OP_OPEN: {
		struct henc *he = &S.e[u8(in) % NR_ENCL];

		if (!he->encl)
			open_encl(he);
		break;
	}
	case OP_MM_EXIT:
		op_mm_exit(in);
		break;
	case OP_SIGNAL: {
		uint8_t n = u8(in);

		S.arm_signal = (n & 0x80) ? -1 : 1 + n % 8;
		break;
	}
	case OP_SRC_CHECK:
		S.arm_src_check = (u8(in) & 1) ? -EACCES : -EFAULT;
		break;
	case OP_BAD_RANGE:
		S.arm_bad_page = u8(in) % SRC_PAGES;
		break;
	case OP_VEPC_OPEN:
		op_vepc_open(in);
		break;
	case OP_VEPC_FAULT:
		op_vepc_fault(in);
		break;
	case OP_VEPC_IOCTL:
		op_vepc_ioctl(in);
		break;
	case OP_VEPC_CLOSE:
		op_vepc_close(in);
		break;
	case OP_VEPC_GUEST:
		op_vepc_guest(in);
		break;
	case OP_BUILD:
		op_build(in);
		break;
	case OP_TOUCH:
		op_touch(in);
		break;
	case OP_HOOK:
		op_hook(in);
		break;
	case OP_PTRACE:
		op_ptrace(in);
		break;
	case OP_CGROUP:
		op_cgroup(in);
		break;
	case OP_SVN:
		op_svn(in);
		break;
	default:
		break;
	}
}

static bool is_arm_op(uint8_t op)
{
	return op == OP_SIGNAL || op == OP_SRC_CHECK || op == OP_BAD_RANGE;
}

static void teardown(bool mm_first)
{
	S.op_name = "teardown";
	disarm();
	if (mm_first) {
		for (int m = 0; m < NR_MM; m++) {
			sim_mm_exit(S.mm[m]);
			check_all();
		}
	}
	for (int i = 0; i < NR_ENCL; i++) {
		if (S.e[i].encl) {
			close_encl(&S.e[i]);
			check_all();
		}
	}
	for (int v = 0; v < NR_VEPC; v++) {
		if (S.v[v].v) {
			vepc_close(v);
			check_all();
		}
	}
	if (!mm_first)
		for (int m = 0; m < NR_MM; m++)
			sim_mm_exit(S.mm[m]);

	CHECK(atomic_load(&drv->nr_encls) == 0, "%ld objects left",
	      (long)atomic_load(&drv->nr_encls));
	CHECK(atomic_load(&drv->nr_free_pages) == (long)drv->nr_total_pages,
	      "%ld of %lu EPC pages free after tear-down", (long)atomic_load(&drv->nr_free_pages),
	      drv->nr_total_pages);
	CHECK(cds_list_empty(&drv->root_cg.lru.reclaimable) && atomic_load(&drv->nr_active) == 0,
	      "active list not empty after tear-down");
	CHECK(cds_list_empty(&drv->zombie_secs_pages), "zombie SECS pages after tear-down");
	check_all();

	/* Nothing is charged any more: every cgroup goes, leaves first. */
	sim_set_cgroup(host_cg = NULL);
	for (int pass = 0; pass < NR_CG; pass++)
		for (int c = NR_CG - 1; c > 0; c--)
			if (S.cg[c] && !sgx_cgroup_destroy(S.cg[c]))
				S.cg[c] = NULL;
	for (int c = 1; c < NR_CG; c++)
		CHECK(!S.cg[c], "cgroup %d could not be destroyed", c);
	sgx_cgroup_run_work(drv);
	CHECK(atomic_load(&drv->root_cg.usage) == 0, "root cgroup still charged after tear-down");
	for (unsigned int c = 1; c < SGX_CG_MAX; c++)
		CHECK(!atomic_load(&drv->cgroups[c]), "cgroup %u not reaped after tear-down", c);

	for (int m = 0; m < NR_MM; m++)
		sim_mm_free(S.mm[m]);
	for (int m = 0; m < S.nr_dead; m++)
		sim_mm_free(S.dead[m]);
}

static void print_stats(void)
{
	static const char *const names[8] = { "CREATE", "ADD_PAGES", "INIT", "PROVISION",
					      "(vepc)", "RESTRICT", "MODIFY", "REMOVE" };

	fprintf(stderr, "fuzz_driver stats over %lu inputs:\n", inputs);
	for (int i = 0; i < 8; i++)
		fprintf(stderr, "  %-10s ok %8lu  error %8lu\n", names[i], ioctl_stats[i][ST_OK],
			ioctl_stats[i][ST_ERR]);
	fprintf(stderr, "  accesses mapped %lu, SIGBUS %lu, gave up %lu\n", fault_stats[0],
		fault_stats[1], fault_stats[2]);
	fprintf(stderr, "  driver: ewb %llu eldu %llu eaug %llu eremove %llu reclaimed %llu "
			"batches %llu direct %llu etrack_ipis %llu; vEPC REMOVE_ALL with SECS "
			"failures %lu\n",
		(unsigned long long)drv->stats.ewb, (unsigned long long)drv->stats.eldu,
		(unsigned long long)drv->stats.eaug, (unsigned long long)drv->stats.eremove,
		(unsigned long long)drv->stats.reclaimed,
		(unsigned long long)drv->stats.reclaim_batches,
		(unsigned long long)drv->stats.direct_reclaims,
		(unsigned long long)drv->stats.etrack_ipis, vepc_remove_failures);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_DRIVER_TRACE") != NULL;
	if (getenv("FUZZ_DRIVER_STATS"))
		atexit(print_stats);
	sim_host_init(&host);
	{
		struct sgx_cpu_config cfg;

		sim_cpu_config(&cfg, EPC_PAGES);
		cfg.eupdatesvn = true;
		drv = sim_driver_cfg(&host, &cfg, true);
	}
	if (!drv) {
		fprintf(stderr, "fuzz_driver: no driver\n");
		abort();
	}
	/* Pause points run the input's nested programs (OP_HOOK). */
	drv->cfg.test_point = tp_hook;
	drv->cfg.test_ctx = NULL;
	sign_key = sgx_sign_generate_key();
	if (!sign_key) {
		fprintf(stderr, "fuzz_driver: no signing key\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct in in = { .p = data, .n = len, .i = 0 };
	uint8_t hdr = u8(&in);
	int nr_open = (hdr & 3) == 3 ? 1 : 1 + (hdr & 3);

	memset(&S, 0, sizeof(S));
	S.cg[0] = &drv->root_cg;
	inputs++;
	/* Entropy failures and a staged CPUSVN do not carry over between inputs. */
	sgx_cpu_drain_entropy(drv->cpu, 0);
	sgx_cpu_stage_svn(drv->cpu, (const uint8_t[16]){ 0 });
	/* No enclave exists between inputs, so the policy can change here. */
	drv->cfg.kernel_backing = hdr & 8;
	/* And the EPC cgroup's revision of the series: v5 (with the OOM killer) or v17. */
	sgx_cg_set_policy(drv, hdr & 16 ? SGX_CG_V5 : SGX_CG_V17);
	S.arm_bad_page = -1;
	disarm();
	for (int m = 0; m < NR_MM; m++)
		S.mm[m] = new_mm();
	for (int i = 0; i < nr_open; i++)
		open_encl(&S.e[i]);
	check_all();

	for (S.op_index = 0; S.op_index < MAX_OPS && in.i < in.n; S.op_index++) {
		uint8_t op = u8(&in) % OP_SLOTS;

		if (op >= OP_NR)
			continue;
		S.op_name = op_names[op];
		TRACE("op #%d %s\n", S.op_index, S.op_name);
		if (!is_arm_op(op))
			arm_before();
		run_op(&in, op);
		if (!is_arm_op(op))
			disarm();
		check_all();
	}
	teardown(hdr & 4);
	return 0;
}
