// SPDX-License-Identifier: MIT
/*
 * Trap-free ENCLU: finding an enclave's ENCLU sites and rewriting them.
 *
 * After each ADD_PAGES and before EINIT (the pages are measured, and no
 * thread can run the code yet), Capstone sweeps the enclave's resident,
 * executable REG pages for the sites enclu_sites.c describes.  Each site's
 * mov (5 or 7 bytes) becomes a jump to its stub: a copy of the mov and of
 * the instructions in between, then the template of enclu_stub.S with the
 * site's fields filled in.  The ENCLU itself is left alone, so every way to
 * it that skips the mov still traps, and every stub falls back to it.
 *
 * An enclave that reads its own code sees the jump in place of the mov;
 * EDBGRD shows the original bytes (sgx_cpu_set_dbg_view()), and EDBGWR from
 * a site's mov to its ENCLU puts the original back first.
 * SOFTSGX_FAST_ENCLU=0 (softsgx exec --no-fast-enclu) rewrites nothing.
 *
 * The stubs need FSGSBASE (the switch to host FS/GS), BMI2 (RORX shifts
 * without touching a flag), XSAVEOPT, an XSAVE image that fits the slot, and
 * a mapping in the low 2 GiB for the tables they address with a disp32
 * (MAP_32BIT): without any of them, ENCLU traps as before.
 */
#include <asm/ldt.h>
#include <capstone/capstone.h>
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "enclu_sites.h"
#include "stub.h"
#include "softsgx/cpu.h"

#define STUB_SLOT 512          /* bytes of code per site */
#define MAX_SITES (1 << 18)    /* in the process, at once */
#define SET_SITES 256          /* per enclave */
#define MAX_SETS 1024
#define TID_ENTRIES (1UL << 22) /* PID_MAX_LIMIT */
/*
 * Zeros before the thread table: a gettid that a seccomp filter answers
 * with -errno reads one of them, a thread without a slot, and traps.
 */
#define TID_GAP (4096UL * 8)
#define DS_SELECTORS 65536UL
/* Slots get LDT entries from here up: the top of the LDT, away from a program's own. */
#define STUB_DS_FIRST (8192 - STUB_DS_SLOTS)
#define STUB_DS_SLOTS 512
/* The tables the stubs read; after_fork() empties them all but the dispatch. */
#define LOW_STATE_SIZE ((unsigned long)NR_BUCKETS * BUCKET_SIZE + TID_GAP + TID_ENTRIES * 8 + \
			DS_SELECTORS + DS_SELECTORS * 8)
#define DISP_PER_SITE 32 /* [claimed, busy] of the bucket way, [old way, DS way] */

struct site {
	uint64_t mov;          /* the mov's address in the enclave */
	uint64_t enclu;        /* the ENCLU's */
	uint64_t stub;         /* the stub's code */
	uint32_t leaf;
	uint8_t mov_len, tmpl_off, nreloc;
	bool live;             /* the jump is in the enclave's bytes */
	uint8_t orig[8], jump[8];
	/* Relocated instruction i: at stub offset reloc_off[i], originally at mov + reloc_from[i]. */
	uint8_t reloc_off[MAX_RELOC], reloc_from[MAX_RELOC];
	struct stub_set *set;
};

/* One enclave's sites and their code. */
struct stub_set {
	_Atomic unsigned long start, end; /* the stub code; 0 when free */
	struct shim_file *f;      /* NULL: a free set */
	uint64_t eid;
	uint32_t first, n;
	bool done;                /* EINIT came: the stubs are executable */
};

struct stub_stats shim_stub_stats;
uint32_t shim_xsave_size;
uint64_t softsgx_stub_rfbm; /* the components the stubs save (enclu_stub.S) */
void (*softsgx_stub_vsave)(void), (*softsgx_stub_vrest)(void);
uint8_t softsgx_stub_have_xinuse;
uint8_t softsgx_stub_vwidth;
static bool enabled;
static bool debug; /* SOFTSGX_DEBUG=1: a line per enclave rewritten */
static struct site *sites;               /* MAX_SITES, mmap'd */
static struct stub_set sets[MAX_SETS];
static _Atomic int sets_hwm;
static uint8_t *site_used;               /* per site: taken by a set */
/* The low tables: bucket locks, the thread table, the dispatch pairs. */
static uint8_t *low;
static unsigned long low_size;
static uint64_t locks_at, tids_at, disp_at;
/* By DS selector: 1 where it is a slot's, and that slot (see enclu_stub.S). */
static uint64_t ds_valid_at, ds_slots_at;
static bool ds_on;                    /* slots get LDT entries */
static uint8_t ds_ldt[STUB_DS_SLOTS]; /* 1: entry written, 2: refused */
static pthread_mutex_t patch_lock = PTHREAD_MUTEX_INITIALIZER;

static void dbg_view(void *ctx, const void *secs, uint64_t la, uint8_t bytes[8], bool write);

bool shim_stub_enabled(void)
{
	return enabled;
}

/*
 * The XSAVE components and the image size of a kernel signal frame of
 * this process: XCR0 less the dynamic components (AMX tiles) it has no
 * permission for, which the kernel leaves out of its frames and refuses
 * in rt_sigreturn's.  The stubs save exactly those.
 */
static bool xsave_layout(void)
{
	unsigned int a, b, c, d, lo, hi;
	uint64_t xcr0, perm, size = 576;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = (uint64_t)hi << 32 | lo;
	if (syscall(SYS_arch_prctl, 0x1022 /* ARCH_GET_XCOMP_PERM */, &perm))
		perm = xcr0; /* before 5.16: no dynamic components */
	softsgx_stub_rfbm = xcr0 & perm;
	for (unsigned int i = 2; i < 63; i++) {
		if (!(softsgx_stub_rfbm >> i & 1) || !__get_cpuid_count(0xd, i, &a, &b, &c, &d))
			continue;
		if ((uint64_t)b + a > size)
			size = (uint64_t)b + a;
	}
	/* The image, its end marker and the 64-byte alignment fit the slot. */
	if (size + 4 > STUB_XSAVE_MAX)
		return false;
	shim_xsave_size = (uint32_t)size;
	return true;
}

extern char softsgx_stub_vsave_sse[], softsgx_stub_vrest_sse[];
extern char softsgx_stub_vsave_avx[], softsgx_stub_vrest_avx[];
extern char softsgx_stub_vsave_avx512[], softsgx_stub_vrest_avx512[];
extern char softsgx_stub_vsave_xsave[];

/*
 * How the stubs keep the enclave's vector registers from the C side: plain
 * moves of exactly the registers this CPU and XCR0 have, or XSAVEOPT and
 * XRSTOR where the layout is one the moves do not cover (opmasks without
 * AVX512BW's 64-bit KMOVQ).  SOFTSGX_TEST_STUB_VSAVE=xsave makes the
 * tests take the latter on any CPU.  A narrower pair than the CPU's would
 * lose what glibc's string functions leave in the wider registers.
 */
static void vsave_pick(void)
{
	/* By softsgx_stub_vwidth; [0] is XSAVE's, whose image the tail restores itself. */
	static char *const pairs[4][2] = {
		{ softsgx_stub_vsave_xsave, NULL },
		{ softsgx_stub_vsave_sse, softsgx_stub_vrest_sse },
		{ softsgx_stub_vsave_avx, softsgx_stub_vrest_avx },
		{ softsgx_stub_vsave_avx512, softsgx_stub_vrest_avx512 },
	};
	uint64_t zmm = softsgx_stub_rfbm & 0xe0;
	unsigned int a, b, cx, d, pair;
	bool bw = __get_cpuid_count(7, 0, &a, &b, &cx, &d) && (b & (1u << 30));
	const char *want = getenv("SOFTSGX_TEST_STUB_VSAVE");

	softsgx_stub_have_xinuse = __get_cpuid_count(0xd, 1, &a, &b, &cx, &d) && (a & 4);
	softsgx_stub_vwidth = zmm == 0xe0 && bw ? 3 : softsgx_stub_rfbm & 0x04 ? 2 : 1;
	pair = softsgx_stub_vwidth;
	if ((zmm && softsgx_stub_vwidth != 3) || (want && !strcmp(want, "xsave")))
		pair = 0;
	softsgx_stub_vsave = (void (*)(void))pairs[pair][0];
	softsgx_stub_vrest = (void (*)(void))pairs[pair][1];
}

static bool cpu_ok(void)
{
	unsigned int a, b, c, d;

	if (!softsgx_have_fsgsbase)
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 8))) /* BMI2 */
		return false;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
		return false;
	if (!__get_cpuid_count(0xd, 1, &a, &b, &c, &d) || !(a & 1)) /* XSAVEOPT */
		return false;
	if (!xsave_layout())
		return false;
	vsave_pick();
	return (size_t)(softsgx_stub_tmpl_end - softsgx_stub_tmpl) + 8 + 64 <= STUB_SLOT;
}

/**
 * shim_stub_init() - decide whether ENCLU sites get stubs in this process
 *
 * Needs the slots (shim_exec_init()) and the CPU model for the debug hook,
 * so it runs when the platform is created.
 */
void shim_stub_init(void)
{
	const char *e = getenv("SOFTSGX_FAST_ENCLU");
	long p;

	if (enabled || (e && e[0] == '0') || !cpu_ok())
		return;
	debug = shim_env_on("SOFTSGX_DEBUG");
	low_size = LOW_STATE_SIZE + MAX_SITES * (unsigned long)DISP_PER_SITE;
	p = shim_sys_mmap(NULL, low_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_32BIT, -1, 0);
	if (p < 0)
		return;
	if ((unsigned long)p + low_size > 0x7fff0000UL) {
		shim_sys_munmap((void *)p, low_size);
		return;
	}
	low = (uint8_t *)p;
	locks_at = (uint64_t)p;
	tids_at = locks_at + (uint64_t)NR_BUCKETS * BUCKET_SIZE + TID_GAP;
	ds_valid_at = tids_at + TID_ENTRIES * 8;
	ds_slots_at = ds_valid_at + DS_SELECTORS;
	disp_at = locks_at + LOW_STATE_SIZE;
	ds_on = !shim_env_on("SOFTSGX_TEST_STUB_GETTID");
	p = shim_sys_mmap(NULL, MAX_SITES * (sizeof(struct site) + 1), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p < 0)
		return;
	sites = (struct site *)p;
	site_used = (uint8_t *)(sites + MAX_SITES);
	enabled = true;
	shim_stub_attach(shim.cpu);
}

/* A platform of this process (the first, or a forked child's own). */
void shim_stub_attach(struct sgx_cpu *cpu)
{
	if (enabled && cpu)
		sgx_cpu_set_dbg_view(cpu, dbg_view, NULL);
}

void shim_stub_set_tid(int tid, void *slot)
{
	if (enabled && tid > 0 && (unsigned long)tid < TID_ENTRIES)
		__atomic_store_n((uint64_t *)(uintptr_t)(tids_at + (uint64_t)tid * 8),
				 (uint64_t)(uintptr_t)slot, __ATOMIC_RELEASE);
}

void shim_stub_clear_tid(int tid, void *slot)
{
	uint64_t want = (uint64_t)(uintptr_t)slot;

	if (enabled && tid > 0 && (unsigned long)tid < TID_ENTRIES)
		__atomic_compare_exchange_n((uint64_t *)(uintptr_t)(tids_at + (uint64_t)tid * 8),
					    &want, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

static uint16_t ds_selector(unsigned int idx)
{
	return (uint16_t)((STUB_DS_FIRST + idx) << 3 | 4 | 3); /* LDT, RPL 3 */
}

static void load_ds(uint16_t sel)
{
	__asm__ volatile("mov %0, %%ds" : : "r"(sel));
}

/* A flat, writable data segment: DS's base and limit mean nothing in 64-bit mode. */
static bool ldt_entry(unsigned int idx)
{
	struct user_desc d = { .entry_number = STUB_DS_FIRST + idx, .limit = 0xfffff,
			       .seg_32bit = 1, .limit_in_pages = 1, .useable = 1 };

	return !syscall(SYS_modify_ldt, 0x11, &d, sizeof(d));
}

void shim_stub_set_ds(unsigned int idx, void *slot)
{
	uint16_t sel;

	/* SOFTSGX_TEST_STUB_STEP=2 needs the buckets: every stub finds its own held. */
	if (!enabled || !ds_on || shim.test_stub_step > 1 || idx >= STUB_DS_SLOTS) {
		load_ds(0); /* not a selector another thread gave it */
		return;
	}
	if (!ds_ldt[idx])
		ds_ldt[idx] = ldt_entry(idx) ? 1 : 2;
	if (ds_ldt[idx] != 1) {
		load_ds(0);
		return;
	}
	sel = ds_selector(idx);
	__atomic_store_n((uint64_t *)(uintptr_t)(ds_slots_at + (uint64_t)sel * 8),
			 (uint64_t)(uintptr_t)slot, __ATOMIC_RELAXED);
	__atomic_store_n((uint8_t *)(uintptr_t)(ds_valid_at + sel), 1, __ATOMIC_RELEASE);
	load_ds(sel);
}

void shim_stub_clear_ds(unsigned int idx)
{
	uint16_t sel = ds_selector(idx);

	if (!enabled || idx >= STUB_DS_SLOTS)
		return;
	load_ds(0);
	__atomic_store_n((uint8_t *)(uintptr_t)(ds_valid_at + sel), 0, __ATOMIC_RELEASE);
	__atomic_store_n((uint64_t *)(uintptr_t)(ds_slots_at + (uint64_t)sel * 8), 0,
			 __ATOMIC_RELAXED);
}

/*
 * Around a fork: a patch that found its enclave held by this process alone
 * must finish before a child can hold it too, or its jumps would lead the
 * child to stubs it does not have.
 */
void shim_stub_fork_prepare(void)
{
	if (enabled)
		pthread_mutex_lock(&patch_lock);
}

void shim_stub_fork_parent(void)
{
	if (enabled)
		pthread_mutex_unlock(&patch_lock);
}

/**
 * shim_stub_after_fork() - a forked child: no stub of the parent's is live
 *
 * The locks other threads held, and the thread table's entries, are the
 * parent's: both start empty.  The sets' code stays mapped (the child's
 * inherited enclave ranges read as all ones, so nothing jumps there); with
 * fork sharing the sets stay too, since the child enters those enclaves.
 */
void shim_stub_after_fork(void)
{
	if (!enabled)
		return;
	pthread_mutex_init(&patch_lock, NULL);
	madvise(low, LOW_STATE_SIZE, MADV_DONTNEED);
	/* Fork sharing: the child runs the same enclaves, through the same stubs. */
	if (shim_share)
		return;
	for (int i = 0; i < atomic_load(&sets_hwm); i++) {
		atomic_store(&sets[i].start, 0);
		atomic_store(&sets[i].end, 0);
		sets[i].f = NULL;
		sets[i].done = false;
	}
	memset(site_used, 0, MAX_SITES);
	atomic_store(&sets_hwm, 0);
}

/* ---- writing the stubs ---- */

static void put32(uint8_t *code, const char *field_end, uint32_t v)
{
	memcpy(code + (field_end - softsgx_stub_tmpl) - 4, &v, 4);
}

static unsigned long near_area(unsigned long base, unsigned long size, unsigned long len)
{
	/* Below the enclave first, then above it, 64 KiB steps, within 1 GiB. */
	for (unsigned long d = 0x10000; d < (1UL << 30); d += 0x10000) {
		unsigned long tries[2] = { base - d - len, base + size + d };

		for (int t = 0; t < 2; t++) {
			long p;

			if (tries[t] < 0x10000 || tries[t] > (1UL << 47))
				continue;
			p = shim_sys_mmap((void *)tries[t], len, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (p == (long)tries[t])
				return (unsigned long)p;
			if (p >= 0)
				shim_sys_munmap((void *)p, len);
		}
	}
	return 0;
}

static long rel32(uint64_t from_end, uint64_t to)
{
	return (long)(to - from_end);
}

static bool fits32(long v)
{
	return v > -(1L << 31) + 4096 && v < (1L << 31) - 4096;
}

/* The code of site @k (whose fields are set) at @code. */
static void write_stub(struct site *s, uint32_t k, uint8_t *code, const uint8_t *win,
		       const struct found_site *fs)
{
	uint8_t *p = code;
	uint8_t *t;
	uint64_t tmpl_at;
	uint64_t *disp = (uint64_t *)(uintptr_t)(disp_at + (uint64_t)k * DISP_PER_SITE);
	uint32_t lock1 = (uint32_t)(locks_at + 1);

	memcpy(p, win, fs->mov_len);
	p += fs->mov_len;
	for (int i = 0; i < fs->nreloc; i++) {
		uint8_t from = fs->reloc_from[i];
		uint8_t to = i + 1 < fs->nreloc ? fs->reloc_from[i + 1]
						 : (uint8_t)(fs->enclu - fs->mov);

		s->reloc_off[i] = (uint8_t)(p - code);
		s->reloc_from[i] = from;
		memcpy(p, win + from, (size_t)(to - from));
		p += to - from;
	}
	s->nreloc = fs->nreloc;
	s->tmpl_off = (uint8_t)(p - code);
	t = p;
	memcpy(t, softsgx_stub_tmpl, (size_t)(softsgx_stub_tmpl_end - softsgx_stub_tmpl));
	tmpl_at = s->stub + s->tmpl_off;
	put32(t, softsgx_stub_f_lea1, lock1);
	put32(t, softsgx_stub_f_lea2, lock1);
	put32(t, softsgx_stub_f_lea3, lock1);
	put32(t, softsgx_stub_f_disp, (uint32_t)(uintptr_t)disp);
	put32(t, softsgx_stub_f_leaf1, s->leaf);
	put32(t, softsgx_stub_f_leaf2, s->leaf);
	put32(t, softsgx_stub_f_tid, (uint32_t)tids_at);
	put32(t, softsgx_stub_f_site, k);
	put32(t, softsgx_stub_f_site2, k);
	put32(t, softsgx_stub_f_dsvalid, (uint32_t)ds_valid_at);
	put32(t, softsgx_stub_f_dsdisp, (uint32_t)(uintptr_t)(disp + 2));
	put32(t, softsgx_stub_f_dsslot, (uint32_t)ds_slots_at);
	put32(t, softsgx_stub_f_rel1,
	      (uint32_t)rel32(tmpl_at + (uint64_t)(softsgx_stub_f_rel1 - softsgx_stub_tmpl), s->enclu));
	put32(t, softsgx_stub_f_rel2,
	      (uint32_t)rel32(tmpl_at + (uint64_t)(softsgx_stub_f_rel2 - softsgx_stub_tmpl), s->enclu));
	disp[0] = tmpl_at + (uint64_t)(softsgx_stub_t_claimed - softsgx_stub_tmpl);
	disp[1] = tmpl_at + (uint64_t)(softsgx_stub_t_busy - softsgx_stub_tmpl);
	disp[2] = tmpl_at + (uint64_t)(softsgx_stub_t_old - softsgx_stub_tmpl);
	disp[3] = tmpl_at + (uint64_t)(softsgx_stub_t_dsclaimed - softsgx_stub_tmpl);
}

/* A run of free site indices for @n sites, or -1 (patch_lock held). */
static int take_sites(uint32_t n)
{
	uint32_t run = 0;

	for (uint32_t i = 0; i < MAX_SITES; i++) {
		run = site_used[i] ? 0 : run + 1;
		if (run == n) {
			memset(site_used + i + 1 - n, 1, n);
			return (int)(i + 1 - n);
		}
	}
	return -1;
}

static struct stub_set *set_of(struct shim_file *f)
{
	for (int i = 0; i < atomic_load(&sets_hwm); i++)
		if (sets[i].f == f)
			return &sets[i];
	return NULL;
}

/* A set for @f with room for SET_SITES stubs near its ELRANGE (patch_lock held). */
static struct stub_set *set_new(struct shim_file *f)
{
	unsigned long len = (unsigned long)SET_SITES * STUB_SLOT, area;
	struct stub_set *set = NULL;
	int first;

	for (int i = 0; i < MAX_SETS && !set; i++)
		if (!sets[i].f) {
			set = &sets[i];
			if (i >= atomic_load(&sets_hwm))
				atomic_store(&sets_hwm, i + 1);
		}
	if (!set)
		return NULL;
	area = near_area(f->base, f->size, len);
	if (!area)
		return NULL;
	first = take_sites(SET_SITES);
	if (first < 0) {
		shim_sys_munmap((void *)area, len);
		return NULL;
	}
	set->f = f;
	set->eid = sgx_cpu_secs_eid(shim.cpu, sgx_get_epc_virt_addr(f->encl->secs.epc_page));
	set->first = (uint32_t)first;
	set->n = 0;
	atomic_store(&set->end, area + len);
	atomic_store(&set->start, area);
	return set;
}

/*
 * Page @p is code the sweep may read and rewrite: resident, REG,
 * executable, and neither pending nor modified.
 */
static bool code_page(const struct sgx_encl_page *p)
{
	struct sgx_epcm_view v;

	if (!p->epc_page)
		return false;
	if (sgx_cpu_epcm(shim.cpu, sgx_get_epc_virt_addr(p->epc_page), &v))
		return false;
	return v.valid && v.page_type == SGX_PAGE_TYPE_REG && (v.rwx & SGX_SECINFO_X) &&
	       !v.pending && !v.modified;
}

/* The page before page @run of @f, or NULL when there is none. */
static struct sgx_encl_page *page_before(struct shim_file *f, unsigned long run)
{
	unsigned long idx = run - 1;

	return run ? sgx_encl_next_page(f->encl, &idx, run) : NULL;
}

/*
 * Does code begin at page @run of @f, as far as the enclave shows?  Only
 * when the page before holds no code: none there, or a page that is not
 * executable.  An instruction may go on from a code page before, resident
 * or not.
 */
static bool run_starts_code(struct shim_file *f, unsigned long run)
{
	struct sgx_encl_page *p = page_before(f, run);

	if (!p)
		return true;
	return p->epc_page ? !code_page(p) : !(p->vm_max_prot_bits & VM_EXEC);
}

/* Is the page before @run resident code (its bytes in the window)? */
static bool prev_code_resident(struct shim_file *f, unsigned long run)
{
	struct sgx_encl_page *p = page_before(f, run);

	return p && code_page(p);
}

/* Add the site @fs to @set and rewrite it (the enclave's lock held). */
static void add_site(struct stub_set *set, const struct found_site *fs)
{
	struct shim_file *f = set->f;
	uint32_t k = set->first + set->n;
	struct site *s = &sites[k];
	uint8_t *win = f->window + (fs->mov - f->base);
	long jmp;

	for (uint32_t i = 0; i < set->n; i++)
		if (sites[set->first + i].mov == fs->mov)
			return;
	if (set->n == SET_SITES)
		return;
	memset(s, 0, sizeof(*s));
	s->set = set;
	s->mov = fs->mov;
	s->enclu = fs->enclu;
	s->leaf = fs->leaf;
	s->mov_len = fs->mov_len;
	s->stub = atomic_load(&set->start) + (unsigned long)set->n * STUB_SLOT;
	jmp = rel32(s->mov + 5, s->stub);
	if (!fits32(jmp) || !fits32(rel32(s->stub + STUB_SLOT, s->enclu)))
		return;
	write_stub(s, k, (uint8_t *)s->stub, win, fs);
	memcpy(s->orig, win, s->mov_len);
	s->jump[0] = 0xe9;
	memcpy(s->jump + 1, &(int32_t){ (int32_t)jmp }, 4);
	memset(s->jump + 5, 0xcc, sizeof(s->jump) - 5);
	memcpy(win, s->jump, s->mov_len);
	s->live = true;
	set->n++;
	atomic_fetch_add(&shim_stub_stats.sites, 1);
}

/**
 * shim_stub_patch() - rewrite the ENCLU sites of some of an enclave's pages
 * @f: the enclave's file
 * @start: first page index of ELRANGE to sweep
 * @end: one past the last
 * @init: EINIT follows: the stubs become executable
 *
 * Called after ADD_PAGES (the pages are measured; they are resident now,
 * while a later sweep might find them evicted) and before EINIT (the
 * whole enclave, for sites a batch boundary cut).  No thread can run the
 * enclave's code before EINIT, so no one sees a site half rewritten.
 */
/* One disassembler for every sweep, opened at the first code page (patch_lock held). */
static bool disasm(csh *cs, cs_insn **in)
{
	static csh h;
	static cs_insn *buf;

	if (!buf) {
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
			return false;
		cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
		buf = cs_malloc(h);
		if (!buf) {
			cs_close(&h);
			return false;
		}
	}
	*cs = h;
	*in = buf;
	return true;
}

void shim_stub_patch(struct shim_file *f, unsigned long start, unsigned long end, bool init)
{
	static struct found_site found[SET_SITES];
	struct stub_set *set;
	cs_insn *in;
	csh cs;
	int n = 0;

	if (!enabled || !f->window || !f->encl || !f->encl->page_array)
		return;
	/*
	 * Another process holds the enclave too (fork sharing): a jump written
	 * now would lead to stubs only this process has.  Its ENCLUs trap.
	 */
	if (f->rec && atomic_load(&f->rec->procs) > 1)
		return;
	if (end > f->size >> 12)
		end = f->size >> 12;
	pthread_mutex_lock(&patch_lock);
	set = set_of(f);
	if (set && set->done)
		goto out;
	sgx_mutex_lock(&f->encl->lock);
	if (!f->encl->secs.epc_page)
		goto unlock;
	/*
	 * Runs of consecutive code pages.  Most ADD_PAGES calls add data:
	 * those never get to the disassembler.  A linear sweep must start at
	 * an instruction: a run that goes on from the pages the last call
	 * swept starts where that sweep stopped, one whose code may begin on
	 * the page before (executable, not resident) is not swept at all.
	 */
	for (unsigned long idx = start, run = start, next = start; n < SET_SITES;) {
		struct sgx_encl_page *p = sgx_encl_next_page(f->encl, &idx, end);
		unsigned long i = idx - 1;

		if (p && code_page(p) && next == i && next > run) {
			next = idx;
			continue;
		}
		if (next > run) {
			uint64_t from = f->base + (run << 12), resume;

			if (f->stub_resume >= from && f->stub_resume < from + 15)
				from = f->stub_resume;
			else if (f->stub_resume + 15 > from && f->stub_resume < from &&
				 prev_code_resident(f, run))
				from = f->stub_resume; /* an instruction across the page boundary */
			else if (!run_starts_code(f, run))
				from = 0;
			if (from && disasm(&cs, &in)) {
				n = shim_enclu_sweep(cs, in, f->window + (from - f->base), from,
						     f->base + (next << 12), found, n, SET_SITES,
						     &resume);
				f->stub_resume = resume;
			}
		}
		if (!p)
			break;
		if (code_page(p)) {
			run = i;
			next = idx;
		} else {
			run = next = idx;
		}
	}
	if (n && !set)
		set = set_new(f);
	for (int i = 0; set && i < n; i++)
		add_site(set, &found[i]);
	if (set && init) {
		if (debug) {
			char line[128];

			snprintf(line, sizeof(line),
				 "softsgx: %u ENCLU sites rewritten in the enclave at 0x%lx\n",
				 set->n, f->base);
			shim_log(line);
		}
		set->done = true;
		shim_sys_mprotect((void *)atomic_load(&set->start),
				  atomic_load(&set->end) - atomic_load(&set->start),
				  PROT_READ | PROT_EXEC);
	}
unlock:
	sgx_mutex_unlock(&f->encl->lock);
out:
	pthread_mutex_unlock(&patch_lock);
}

/* Put the original bytes of @s back, if the jump is still there. */
static void unpatch_site(struct site *s, uint8_t *window, uint64_t base)
{
	uint8_t *at = window + (s->mov - base);

	if (s->live && !memcmp(at, s->jump, s->mov_len))
		memcpy(at, s->orig, s->mov_len);
	s->live = false;
}

static void set_free(struct stub_set *set)
{
	unsigned long start = atomic_load(&set->start), end = atomic_load(&set->end);

	atomic_store(&set->start, 0);
	atomic_store(&set->end, 0);
	if (start)
		shim_sys_munmap((void *)start, end - start);
	memset(site_used + set->first, 0, SET_SITES);
	set->done = false;
	set->f = NULL;
}

void shim_stub_release(struct shim_file *f)
{
	struct stub_set *set;

	if (!enabled)
		return;
	pthread_mutex_lock(&patch_lock);
	set = set_of(f);
	if (set)
		set_free(set);
	pthread_mutex_unlock(&patch_lock);
}

/*
 * EDBGRD shows the mov where the jump is; EDBGWR over any byte of a site
 * puts the whole original back first, so that what the debugger writes
 * lands in the enclave's own code.  Runs with the page held by the leaf.
 */
static void dbg_view(void *ctx, const void *secs, uint64_t la, uint8_t bytes[8], bool write)
{
	uint64_t eid = sgx_cpu_secs_eid(shim.cpu, secs);

	(void)ctx;
	for (int i = 0; i < atomic_load(&sets_hwm); i++) {
		struct stub_set *set = &sets[i];

		if (!atomic_load(&set->start) || set->eid != eid || !set->f || !set->f->window)
			continue;
		for (uint32_t k = 0; k < set->n; k++) {
			struct site *s = &sites[set->first + k];
			uint8_t *at;

			/*
			 * A write anywhere from the mov to the ENCLU undoes the
			 * site: the stub runs its own copy of those bytes, so a
			 * breakpoint there would never be hit.
			 */
			if (!s->live || (write ? s->enclu + 3 : s->mov + s->mov_len) <= la ||
			    s->mov >= la + 8)
				continue;
			at = set->f->window + (s->mov - set->f->base);
			if (memcmp(at, s->jump, s->mov_len)) {
				s->live = false; /* the enclave wrote over it itself */
				continue;
			}
			if (write) {
				unpatch_site(s, set->f->window, set->f->base);
				continue;
			}
			for (unsigned int b = 0; b < s->mov_len; b++) {
				uint64_t x = s->mov + b;

				if (x >= la && x < la + 8)
					bytes[x - la] = s->orig[b];
			}
		}
	}
}

/* ---- what the C side and the signal handler ask ---- */

bool shim_stub_site(uint32_t k, struct stub_site_info *out)
{
	struct site *s;

	if (!enabled || k >= MAX_SITES)
		return false;
	s = &sites[k];
	out->enclu = s->enclu;
	out->leaf = s->leaf;
	out->f = s->set ? s->set->f : NULL;
	return true;
}

static uint64_t *bucket_of(uint64_t rsp)
{
	return (uint64_t *)(uintptr_t)(locks_at + ((rsp >> 12) & 0xffff) * BUCKET_SIZE);
}

static struct site *site_at(uint64_t rip)
{
	for (int i = 0; i < atomic_load(&sets_hwm); i++) {
		struct stub_set *set = &sets[i];
		unsigned long start = atomic_load(&set->start);

		if (start && rip >= start && rip < atomic_load(&set->end)) {
			uint32_t k = (uint32_t)((rip - start) / STUB_SLOT);

			return k < set->n ? &sites[set->first + k] : NULL;
		}
	}
	return NULL;
}

bool shim_stub_pc(uint64_t rip)
{
	return enabled && site_at(rip);
}

uint64_t *shim_stub_test_lock(uint64_t rip, uint64_t rsp)
{
	struct site *s = enabled ? site_at(rip) : NULL;

	if (!s || rip - s->stub < s->tmpl_off ||
	    rip - s->stub - s->tmpl_off != (uint64_t)(softsgx_stub_t_xchg - softsgx_stub_tmpl))
		return NULL;
	return bucket_of(rsp) + B_LOCK / 8;
}

static void rewind_to_enclu(greg_t *g, const struct site *s)
{
	g[REG_RIP] = (greg_t)s->enclu;
	g[REG_RAX] = (greg_t)s->leaf;
	atomic_fetch_add_explicit(&shim_stub_stats.rewinds, 1, memory_order_relaxed);
}

bool shim_stub_rewind(ucontext_t *uc, unsigned long slot_base)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = (uint64_t)g[REG_RIP];
	uint64_t *b;
	struct site *s;
	uint64_t off, t;

	if (!enabled)
		return false;
	if (rip >= (uint64_t)(uintptr_t)softsgx_stub_common &&
	    rip <= (uint64_t)(uintptr_t)softsgx_stub_busy) {
		/* Saving the registers: only RCX is not the enclave's any more. */
		const struct stub_frame *f;

		if (!slot_base)
			return false;
		f = (const struct stub_frame *)(slot_base + STUB_AREA_OFF);
		if (f->site >= MAX_SITES)
			return false;
		g[REG_RCX] = (greg_t)f->r.rcx;
		rewind_to_enclu(g, &sites[f->site]);
		return true;
	}
	s = site_at(rip);
	if (!s)
		return false;
	off = rip - s->stub;
	if (off < s->tmpl_off) {
		/*
		 * At the copied mov, the jump has just run: that is the state
		 * after the mov (a single step gets past it, as on hardware).
		 * Or at a copied instruction: that one, not run yet.
		 */
		g[REG_RIP] = (greg_t)(s->mov + s->mov_len);
		g[REG_RAX] = (greg_t)s->leaf;
		for (int i = 0; i < s->nreloc; i++)
			if (off >= s->reloc_off[i])
				g[REG_RIP] = (greg_t)(s->mov + s->reloc_from[i]);
		atomic_fetch_add_explicit(&shim_stub_stats.rewinds, 1, memory_order_relaxed);
		return true;
	}
	t = (uint64_t)(uintptr_t)softsgx_stub_tmpl + (off - s->tmpl_off);
	b = bucket_of((uint64_t)g[REG_RSP]);
#define AT(l) (t == (uint64_t)(uintptr_t)(l))
#define IN(a, z) (t >= (uint64_t)(uintptr_t)(a) && t < (uint64_t)(uintptr_t)(z))
	if (IN(softsgx_stub_t_dsslot, softsgx_stub_t_old) || AT(softsgx_stub_t_go)) {
		/* RCX is the slot, the enclave's RCX in its frame (unlocked, or DS's way). */
		g[REG_RCX] = (greg_t)((const struct stub_frame *)(uintptr_t)(
			(uint64_t)g[REG_RCX] + STUB_AREA_OFF))->r.rcx;
	} else if (IN(softsgx_stub_tmpl, softsgx_stub_t_dsslot)) {
		/* Only RAX is not the enclave's. */
	} else if (AT(softsgx_stub_t_movz) || AT(softsgx_stub_t_disp)) {
		/* After the xchg: RAX says whether this thread took the lock. */
		if (g[REG_RAX] == 0)
			__atomic_store_n(b + B_LOCK / 8, 0, __ATOMIC_RELEASE);
	} else if (IN(softsgx_stub_t_claimed, softsgx_stub_t_after)) {
		__atomic_store_n(b + B_LOCK / 8, 0, __ATOMIC_RELEASE);
	} else if (IN(softsgx_stub_t_after, softsgx_stub_t_go) ||
		   IN(softsgx_stub_t_noslot, softsgx_stub_t_nsl2)) {
		/* The lock is held, RCX and R11 are in the bucket. */
		g[REG_RCX] = (greg_t)b[B_RCX / 8];
		g[REG_R11] = (greg_t)b[B_R11 / 8];
		__atomic_store_n(b + B_LOCK / 8, 0, __ATOMIC_RELEASE);
	}
#undef AT
#undef IN
	rewind_to_enclu(g, s);
	return true;
}
