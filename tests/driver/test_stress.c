// SPDX-License-Identifier: MIT
/*
 * Stress tests beyond the unit level (issue 3), against the simulated host and the
 * CPU model, every enclave built through the ioctls and signed over an
 * MRENCLAVE computed independently with softsgx/measure.h:
 *
 *   1. An enclave four times the EPC: ADD_PAGES reclaims while building,
 *      then every page is touched in a random order and its bytes compared
 *      with what was added; once with ksgxd doing the reclaim, once with
 *      direct reclaim only.
 *   2. Eight enclaves, each over a quarter of the EPC, each built and driven
 *      by its own thread while ksgxd runs; each released by its thread while
 *      the others still run.
 *   3. Enclaves released while the reclaimer holds their pages in a batch
 *      (SGX_TP_RECLAIM_ISOLATED / SGX_TP_RECLAIM_BLOCKED): the reclaimer's
 *      references keep the enclave alive, the last one releases it, nothing
 *      leaks.
 *   4. SGX2 ioctls (RESTRICT_PERMISSIONS, MODIFY_TYPES(TRIM) + the enclave's
 *      EACCEPT run on the CPU model + REMOVE_PAGES) against faults (ELDU and
 *      EAUG) against a reclaimer looping, for TSan.
 *   5. The reclaimer's skip path against REMOVE_PAGES + EAUG of the same
 *      page, laid out so that TSan sees the driver's unordered read there
 *      every time (see test_reclaim_skip_vs_remove_eaug(): expected to fail
 *      under TSan until driver/main.c is fixed).
 *
 * Outcomes never depend on timing: threads wait for each other through
 * flags, a quiescent state is reached by joining the thread that reclaims
 * (ksgxd is stopped as sgx_driver_destroy() stops it), and the only
 * deadlines are hang guards far beyond any normal run.  The random choices
 * come from one seed, printed at the start (SOFTSGX_STRESS_SEED repeats a
 * run).  Threads other than the test's main thread never call cmocka
 * assertions: they record their first failure and the main thread reports it.
 *
 * Every test also captures the driver's stderr and fails on any WARNING
 * (ENCLS failures, leaked pages, pages left behind by a release).  Sanitizer
 * reports bypass the capture (so that they survive halt_on_error) and fail
 * the run through the sanitizer's exit status.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu/list.h>

#include "sim.h"
#include "helpers.h"
#include "softsgx/measure.h"
#include "softsgx/uapi/sgx.h"

#define PG 4096UL
#define S_ATTR (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)
#define S_RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)
#define S_RX (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X)
#define S_CHUNK 32		/* pages per ADD_PAGES call */
#define S_HANG_SECS 60.0	/* hang guard: never reached by a working driver */

static uint64_t g_seed;

/* ------------------------------------------------------------------------ */
/* Small utilities                                                          */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait (sleeping) until @cond holds or the hang guard expires; the value of @cond. */
#define S_WAIT_UNTIL(cond)                                                    \
	({                                                                    \
		double end_ = now_s() + S_HANG_SECS;                          \
		while (!(cond) && now_s() < end_)                             \
			usleep(200);                                          \
		(bool)(cond);                                                 \
	})

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static unsigned long rnd_below(uint64_t *s, unsigned long n)
{
	return (unsigned long)(splitmix64(s) % n);
}

/* A stream for one test or thread, derived from the run's seed. */
static uint64_t rng_for(uint64_t salt)
{
	uint64_t s = g_seed ^ (salt * 0xD1B54A32D192ED03ULL);

	splitmix64(&s);
	return s;
}

/* The contents of page @idx of the enclave tagged @tag. */
static void s_fill(uint8_t *page, uint64_t tag, unsigned long idx)
{
	uint64_t s = tag * 0x100000001B3ULL + idx;

	for (unsigned long off = 0; off < PG; off += 8) {
		uint64_t v = splitmix64(&s);

		memcpy(page + off, &v, 8);
	}
}

static long nr_free(struct sgx_driver *drv)
{
	return atomic_load(&drv->nr_free_pages);
}

static uint64_t st(_Atomic uint64_t *c)
{
	return atomic_load(c);
}

static void *epc_va(struct sgx_epc_page *page)
{
	return sgx_get_epc_virt_addr(page);
}

/* ---- stderr capture: a test fails on any WARNING the driver prints ---- */

/* Where a sanitizer runtime, if there is one, sends its reports. */
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

static void sanitizer_reports_to_real_stderr(void)
{
	int fd;

	if (!__sanitizer_set_report_fd)
		return;
	fd = dup(STDERR_FILENO);
	if (fd >= 0)
		__sanitizer_set_report_fd((void *)(intptr_t)fd);
}

/* Ends the capture first, so that cmocka's own report is not captured. */
static void cap_end_no_warnings(void)
{
	const char *out = t_cap_end();

	if (strstr(out, "WARNING"))
		fail_msg("the driver warned (above)");
}

/* Every test runs captured; a failed one gets its output echoed at teardown. */
static int cap_setup(void **state)
{
	(void)state;
	t_cap_start();
	return 0;
}

static int cap_teardown(void **state)
{
	(void)state;
	t_cap_end();
	return 0;
}

/* ---- the simulated host, from a thread's point of view ---- */

/* The PTE of @encl's page at @addr in @mm, or NULL; marks it young when @touch. */
static struct sgx_epc_page *s_pte(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
				  bool touch)
{
	struct sgx_epc_page *epc = NULL;

	pthread_mutex_lock(&mm->pte_lock);
	for (int i = 0; i < mm->nr_ptes; i++) {
		if (mm->ptes[i].encl == encl && mm->ptes[i].addr == addr) {
			epc = mm->ptes[i].epc;
			if (touch)
				mm->ptes[i].young = true;
		}
	}
	pthread_mutex_unlock(&mm->pte_lock);
	return epc;
}

/*
 * A CPU access to @addr in @mm, as sim_access() does it, except that a
 * retried fault (VM_FAULT_NOPAGE without a PTE: no free EPC yet, or the page
 * is busy) yields before the next attempt so that whoever makes progress
 * (ksgxd, the reclaiming thread, an ioctl) gets the CPU.  Only the owner of
 * @mm's mappings changes them, so reading them unlocked is the owner's right.
 *
 * Return: 0 (mapped), the vm_fault_t that ended it, or -1 (no mapping).
 */
static int s_access(struct sgx_mm *mm, unsigned long addr, unsigned long vm_flags)
{
	unsigned long page = addr & ~(PG - 1), flags;
	int m = sim_map_at(mm, page);
	struct sgx_encl *encl;
	double end = 0;

	if (m < 0)
		return -1;
	encl = mm->maps[m].encl;
	flags = mm->maps[m].vm_flags;
	if (vm_flags & ~flags)
		return -1;
	for (unsigned long n = 0;; n++) {
		vm_fault_t r;

		if (s_pte(mm, encl, page, true))
			return 0;
		pthread_rwlock_rdlock(&mm->mmap_lock);
		r = sgx_vma_fault(mm, encl, page, flags);
		pthread_rwlock_unlock(&mm->mmap_lock);
		if (r != VM_FAULT_NOPAGE)
			return (int)r;
		if (s_pte(mm, encl, page, true))
			return 0;
		if (!(n % 256)) {
			if (!n)
				end = now_s() + S_HANG_SECS;
			else if (now_s() > end)
				return (int)VM_FAULT_SIGBUS;
		}
		sched_yield();
	}
}

/* ---- test points: who reclaims, and releasing an enclave in the middle of a batch ---- */

struct s_hook {
	_Atomic long ksgxd_isolated, other_isolated, blocked;

	/* Close @victim at the first @close_tp of one of its pages (state 0 -> 1). */
	bool close_armed;
	enum sgx_test_point close_tp;
	struct sgx_encl *victim;
	_Atomic int state;      /* 0 armed, 1 close requested, 2 closed, 3 reclaimer resumed */
	_Atomic int hits;       /* close_tp calls for the victim's pages */
	long refs_before, refs_after, encls_before, encls_after;
	bool timed_out;
};

static bool current_is_ksgxd(void)
{
	static _Thread_local int is_ksgxd = -1;

	if (is_ksgxd < 0) {
		char name[16] = "";

		pthread_getname_np(pthread_self(), name, sizeof(name));
		is_ksgxd = !strcmp(name, "ksgxd");
	}
	return is_ksgxd;
}

static void s_hook_fn(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl, unsigned long addr)
{
	struct s_hook *hk = ctx;

	(void)addr;
	if (tp == SGX_TP_RECLAIM_ISOLATED)
		atomic_fetch_add(current_is_ksgxd() ? &hk->ksgxd_isolated : &hk->other_isolated, 1);
	if (tp == SGX_TP_RECLAIM_BLOCKED)
		atomic_fetch_add(&hk->blocked, 1);

	if (!hk->close_armed || tp != hk->close_tp || encl != hk->victim)
		return;
	atomic_fetch_add(&hk->hits, 1);
	if (atomic_load(&hk->state))
		return;
	/* The reclaimer holds no lock here, only its enclave references. */
	hk->refs_before = atomic_load(&encl->refcount);
	hk->encls_before = atomic_load(&encl->drv->nr_encls);
	atomic_store(&hk->state, 1);
	hk->timed_out = !S_WAIT_UNTIL(atomic_load(&hk->state) == 2);
	/* Closed, and still alive: only the reclaimer's references are left. */
	hk->refs_after = atomic_load(&encl->refcount);
	hk->encls_after = atomic_load(&encl->drv->nr_encls);
	atomic_store(&hk->state, 3);
}

static void s_hook_install(struct sgx_driver *drv, struct s_hook *hk)
{
	drv->cfg.test_point = s_hook_fn;
	drv->cfg.test_ctx = hk;
}

/* ------------------------------------------------------------------------ */
/* Enclaves built through the ioctls                                        */

/*
 * @nr children: a TCS at page 0 and REG RW pages 1..nr-1 whose contents
 * s_fill(@tag) gives, all measured, in an ELRANGE of @size at @base.
 */
struct s_encl {
	struct sgx_driver *drv;
	struct sgx_encl *encl;
	struct sgx_mm *mm;
	unsigned long base, size;
	unsigned int nr;
	uint64_t tag;
	bool init;
	struct sgx_sigstruct ss;
	char err[256]; /* the first failure (threads cannot use cmocka asserts) */
};

__attribute__((format(printf, 2, 3))) static int s_fail(struct s_encl *e, const char *fmt, ...)
{
	va_list ap;

	if (!e->err[0]) {
		va_start(ap, fmt);
		vsnprintf(e->err, sizeof(e->err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void s_tcs_page(uint8_t *page)
{
	memset(page, 0, PG);
	/* Never entered: SSA frame in page 1, entry at 0. */
	t_tcs_src((struct sgx_tcs *)page, PG, 1, 0);
}

static void s_measure_page(struct sgx_measure *m, uint64_t off, uint64_t si_flags,
			   const uint8_t *page)
{
	sgx_measure_eadd(m, off, si_flags);
	for (unsigned int i = 0; i < 16; i++)
		sgx_measure_eextend(m, off + i * 256, page + i * 256);
}

/* Fill in @e and, for an enclave to be initialized, its SIGSTRUCT (main thread). */
static void s_prepare(struct s_encl *e, struct sgx_driver *drv, struct sgx_mm *mm,
		      unsigned long base, unsigned long size, unsigned int nr, uint64_t tag,
		      bool init)
{
	static uint8_t page[PG] __attribute__((aligned(4096)));
	struct sgx_measure m;
	uint8_t mr[32];

	memset(e, 0, sizeof(*e));
	e->drv = drv;
	e->mm = mm;
	e->base = base;
	e->size = size;
	e->nr = nr;
	e->tag = tag;
	e->init = init;
	assert_true(nr >= 1 && nr * PG <= size);
	if (!init)
		return;
	sgx_measure_ecreate(&m, 1, size);
	s_tcs_page(page);
	s_measure_page(&m, 0, SGX_SECINFO_TCS, page);
	for (unsigned int i = 1; i < nr; i++) {
		s_fill(page, tag, i);
		s_measure_page(&m, i * PG, S_RW, page);
	}
	sgx_measure_final(&m, mr);
	t_sigstruct(&e->ss, mr, S_ATTR, 3, t_key());
}

static int s_add(struct s_encl *e, unsigned int first, unsigned int n, const uint8_t *src,
		 uint64_t si_flags)
{
	struct sgx_secinfo si = { .flags = si_flags };
	unsigned long done = 0;

	while (done < n * PG) {
		struct sgx_enclave_add_pages ap = {
			.src = (uint64_t)(uintptr_t)src + done,
			.offset = first * PG + done,
			.length = n * PG - done,
			.secinfo = (uint64_t)(uintptr_t)&si,
			.flags = SGX_PAGE_MEASURE,
		};
		long r = sgx_ioctl(e->encl, e->mm, SGX_IOC_ENCLAVE_ADD_PAGES,
				   (unsigned long)(uintptr_t)&ap);

		done += ap.count;
		if (r)
			return s_fail(e, "ADD_PAGES at page %lu: %ld", first + done / PG, r);
	}
	return 0;
}

/*
 * mmap RW over ELRANGE in e->mm, then CREATE, ADD_PAGES, INIT (if asked).
 * Mapping first is what runtimes do: they reserve ELRANGE before CREATE.
 */
static int s_build(struct s_encl *e)
{
	struct sgx_secs *secs = aligned_alloc(PG, PG);
	uint8_t *src = aligned_alloc(PG, S_CHUNK * PG);
	struct sgx_enclave_create create;
	int err = 0, r = -1;
	long ret;

	if (!secs || !src) {
		s_fail(e, "out of memory");
		goto out;
	}
	e->encl = sgx_open(e->drv, &err);
	if (!e->encl) {
		s_fail(e, "open: %d", err);
		goto out;
	}
	ret = sim_mmap(e->mm, e->encl, e->base, e->size, VM_READ | VM_WRITE);
	if (ret) {
		s_fail(e, "mmap: %ld", ret);
		goto out;
	}
	t_secs_src(secs, e->base, e->size, S_ATTR);
	create.src = (uint64_t)(uintptr_t)secs;
	ret = sgx_ioctl(e->encl, e->mm, SGX_IOC_ENCLAVE_CREATE, (unsigned long)(uintptr_t)&create);
	if (ret) {
		s_fail(e, "CREATE: %ld", ret);
		goto out;
	}
	s_tcs_page(src);
	if (s_add(e, 0, 1, src, SGX_SECINFO_TCS))
		goto out;
	for (unsigned int i = 1; i < e->nr; i += S_CHUNK) {
		unsigned int n = e->nr - i < S_CHUNK ? e->nr - i : S_CHUNK;

		for (unsigned int k = 0; k < n; k++)
			s_fill(src + k * PG, e->tag, i + k);
		if (s_add(e, i, n, src, S_RW))
			goto out;
	}
	if (e->init) {
		struct sgx_enclave_init in = { .sigstruct = (uint64_t)(uintptr_t)&e->ss };

		ret = sgx_ioctl(e->encl, e->mm, SGX_IOC_ENCLAVE_INIT,
				(unsigned long)(uintptr_t)&in);
		if (ret) {
			s_fail(e, "INIT: %ld", ret);
			goto out;
		}
	}
	r = 0;
out:
	free(src);
	free(secs);
	return r;
}

static void s_build_ok(struct s_encl *e)
{
	if (s_build(e))
		fail_msg("building the enclave at %#lx: %s", e->base, e->err);
}

/* The process exits: its mappings go, then its files (exit_mm before exit_files). */
static void s_close(struct s_encl *e)
{
	if (e->mm)
		sim_mm_exit(e->mm);
	if (e->encl)
		sgx_release(e->encl);
	e->encl = NULL;
}

/*
 * Touch REG page @i and compare its bytes (and, through EDBGRD, one word of
 * them) with what was added.  The look happens under encl->lock with the PTE
 * still in place, so the reclaimer cannot take the page away meanwhile; if it
 * did between the access and the look, access again.  Under the lock a PTE
 * must map exactly the entry's resident page (a stale PTE is a driver bug).
 * *@missed (if given) says whether the page was not resident before.
 */
static int s_touch_verify(struct s_encl *e, unsigned int i, bool *missed)
{
	struct sgx_driver *drv = e->drv;
	unsigned long addr = e->base + i * PG;
	uint8_t expect[PG];
	struct sgx_encl_page *entry;

	s_fill(expect, e->tag, i);
	if (missed) {
		sgx_mutex_lock(&e->encl->lock);
		entry = sgx_encl_page_lookup(e->encl, addr);
		*missed = !entry || !entry->epc_page;
		sgx_mutex_unlock(&e->encl->lock);
	}
	for (int tries = 0; tries < 100000; tries++) {
		struct sgx_epc_page *pte;
		unsigned long off = (i * 8UL) % PG;
		uint64_t word = 0, want;
		bool same, busy;
		int r = s_access(e->mm, addr, VM_READ);

		if (r)
			return s_fail(e, "access to page %u: %d", i, r);
		sgx_mutex_lock(&e->encl->lock);
		entry = sgx_encl_page_lookup(e->encl, addr);
		pte = s_pte(e->mm, e->encl, addr, false);
		if (!pte) {
			/* Zapped since (the reclaimer took it): access again. */
			sgx_mutex_unlock(&e->encl->lock);
			continue;
		}
		if (!entry || entry->epc_page != pte) {
			sgx_mutex_unlock(&e->encl->lock);
			return s_fail(e, "page %u: stale PTE %p, the entry has %p", i, (void *)pte,
				      entry ? (void *)entry->epc_page : NULL);
		}
		same = !memcmp(sgx_epc_page_bytes(drv->cpu, epc_va(pte)), expect, PG);
		busy = atomic_load(&entry->desc) & SGX_ENCL_PAGE_BUSY;
		/* A page the reclaimer has marked may be blocked already: EDBGRD only others. */
		if (same && !busy)
			r = sgx_edbgrd(drv->cpu, (uint8_t *)epc_va(pte) + off, &word);
		sgx_mutex_unlock(&e->encl->lock);
		if (!same)
			return s_fail(e, "page %u: contents differ from what was added", i);
		memcpy(&want, expect + off, 8);
		if (!busy && (r || word != want))
			return s_fail(e, "page %u: EDBGRD gave %d, %#" PRIx64 ", not %#" PRIx64, i,
				      r, word, want);
		return 0;
	}
	return s_fail(e, "page %u never stayed resident long enough to be read", i);
}

/*
 * Bookkeeping of one enclave that holds under encl->lock even while a batch
 * is in flight: resident children == secs_child_cnt, every other child has
 * a VA slot, nr_evicted counts them (and the SECS when it is out), every
 * PTE in @mm maps its entry's resident page.  Thread-safe (no cmocka).
 */
static int s_check_locked(struct s_encl *e, long *resident_out)
{
	struct sgx_encl *encl = e->encl;
	long resident = 0, evicted = 0, secs_out, nr_evicted;
	unsigned int child_cnt;
	int r = 0;

	sgx_mutex_lock(&encl->lock);
	for (unsigned long i = 0; i < encl->nr_slots; i++) {
		struct sgx_encl_page *entry = &encl->page_array[i];
		unsigned long desc = atomic_load(&entry->desc);

		if (!(desc & SGX_ENCL_PAGE_PRESENT))
			continue;
		if (entry->epc_page)
			resident++;
		else if (entry->va_page)
			evicted++;
		else
			r = s_fail(e, "page %lu neither resident nor evicted", i);
	}
	secs_out = !encl->secs.epc_page;
	child_cnt = encl->secs_child_cnt;
	nr_evicted = atomic_load(&encl->nr_evicted);
	pthread_mutex_lock(&e->mm->pte_lock);
	for (int i = 0; i < e->mm->nr_ptes; i++) {
		struct sim_pte *p = &e->mm->ptes[i];
		struct sgx_encl_page *entry;

		if (p->encl != encl)
			continue;
		entry = sgx_encl_page_lookup(encl, p->addr);
		if (!entry || entry->epc_page != p->epc)
			r = s_fail(e, "stale PTE at %#lx", p->addr);
	}
	pthread_mutex_unlock(&e->mm->pte_lock);
	sgx_mutex_unlock(&encl->lock);

	if (resident + evicted != e->nr)
		r = s_fail(e, "%ld resident + %ld evicted children, %u added", resident, evicted,
			   e->nr);
	if (resident != child_cnt)
		r = s_fail(e, "%ld resident children, secs_child_cnt %u", resident, child_cnt);
	if (nr_evicted != evicted + secs_out)
		r = s_fail(e, "nr_evicted %ld, %ld children and %ld SECS out", nr_evicted, evicted,
			   secs_out);
	if (resident_out)
		*resident_out = resident;
	return r;
}

/* ---- quiescent checks (main thread, nothing in flight) ---- */

static bool epcm(struct sgx_driver *drv, void *epc, struct sgx_epcm_view *v)
{
	assert_int_equal(sgx_cpu_epcm(drv->cpu, epc, v), 0);
	return v->valid;
}

static long cpu_valid_frames(struct sgx_driver *drv)
{
	long n = 0;

	for (unsigned int s = 0; s < drv->nr_sections; s++) {
		uint64_t size;
		uint8_t *epc = sgx_cpu_section(drv->cpu, s, &size, NULL);
		struct sgx_epcm_view v;

		for (uint64_t i = 0; i < size / PG; i++)
			n += epcm(drv, epc + i * PG, &v);
	}
	return n;
}

/* One enclave against the CPU: every resident page valid, unblocked, its own. */
static long check_encl_quiescent(struct sgx_driver *drv, struct sgx_encl *encl, struct sgx_mm *mm,
				 long *resident_out)
{
	void *secs = encl->secs.epc_page ? epc_va(encl->secs.epc_page) : NULL;
	long resident = 0, evicted = 0, va = 0;
	struct sgx_va_page *va_page;
	struct sgx_epcm_view v;

	sgx_mutex_lock(&encl->lock);
	for (unsigned long i = 0; encl->page_array && i < encl->nr_slots; i++) {
		struct sgx_encl_page *entry = &encl->page_array[i];
		unsigned long desc = atomic_load(&entry->desc), addr = encl->base + i * PG;

		if (!(desc & SGX_ENCL_PAGE_PRESENT))
			continue;
		assert_int_equal(desc & SGX_ENCL_PAGE_ADDR_MASK, addr);
		/* PCMD_BUSY shares its bit with the VA offset of an evicted page. */
		assert_false(desc & SGX_ENCL_PAGE_BUSY);
		if (!entry->epc_page) {
			assert_non_null(entry->va_page);
			evicted++;
			continue;
		}
		resident++;
		assert_false(desc & SGX_ENCL_PAGE_PCMD_BUSY);
		assert_null(entry->va_page);
		assert_ptr_equal(entry->epc_page->owner, entry);
		assert_true(__atomic_load_n(&entry->epc_page->flags, __ATOMIC_RELAXED) &
			    SGX_EPC_PAGE_RECLAIMER_TRACKED);
		assert_true(epcm(drv, epc_va(entry->epc_page), &v));
		assert_false(v.blocked);
		assert_int_equal(v.linaddr, addr);
		assert_ptr_equal(v.secs, secs);
		assert_int_equal(v.page_type, entry->type);
	}
	assert_int_equal(resident, encl->secs_child_cnt);
	if (secs) {
		assert_true(epcm(drv, secs, &v));
		assert_int_equal(v.page_type, SGX_PAGE_TYPE_SECS);
		assert_int_equal(sgx_cpu_secs_children(drv->cpu, secs), resident);
	} else {
		assert_int_equal(resident, 0);
	}
	cds_list_for_each_entry(va_page, &encl->va_pages, list) {
		assert_true(epcm(drv, epc_va(va_page->epc_page), &v));
		assert_int_equal(v.page_type, SGX_PAGE_TYPE_VA);
		va++;
	}
	assert_int_equal(atomic_load(&encl->nr_evicted),
			 evicted + (encl_test_flag(encl, SGX_ENCL_CREATED) && !secs));
	if (mm) {
		pthread_mutex_lock(&mm->pte_lock);
		for (int i = 0; i < mm->nr_ptes; i++) {
			struct sgx_encl_page *entry;

			if (mm->ptes[i].encl != encl)
				continue;
			entry = sgx_encl_page_lookup(encl, mm->ptes[i].addr);
			assert_non_null(entry);
			assert_ptr_equal(entry->epc_page, mm->ptes[i].epc);
		}
		pthread_mutex_unlock(&mm->pte_lock);
	}
	sgx_mutex_unlock(&encl->lock);
	*resident_out = resident;
	return resident + va + (secs ? 1 : 0);
}

/*
 * The EPC accounting with nothing in flight: free (listed, invalid in the
 * EPCM) + in use by @encls + @extra + leaked == total, the CPU agrees on what
 * is valid, and every resident child is on the active list.
 */
static void check_quiescent(struct sgx_driver *drv, struct sgx_encl **encls,
			    struct sgx_mm **mms, int n, long extra)
{
	long in_use = extra, resident_all = 0, listed = 0;
	long leaked = (long)st(&drv->stats.leaked);
	struct sgx_epcm_view v;

	for (int i = 0; i < n; i++) {
		long resident;

		in_use += check_encl_quiescent(drv, encls[i], mms ? mms[i] : NULL, &resident);
		resident_all += resident;
	}
	for (int nid = 0; nid < drv->nr_nodes; nid++) {
		struct sgx_numa_node *node = &drv->nodes[nid];
		struct sgx_epc_page *p;

		sgx_mutex_lock(&node->lock);
		cds_list_for_each_entry(p, &node->free_page_list, list) {
			assert_true(p->flags & SGX_EPC_PAGE_IS_FREE);
			assert_null(p->owner);
			assert_false(epcm(drv, epc_va(p), &v));
			listed++;
		}
		sgx_mutex_unlock(&node->lock);
	}
	assert_int_equal(listed, nr_free(drv));
	assert_int_equal(nr_free(drv) + in_use + leaked, (long)drv->nr_total_pages);
	assert_int_equal(cpu_valid_frames(drv), in_use + leaked);
	assert_int_equal(atomic_load(&drv->nr_active), resident_all);
}

/* After every enclave is gone: all EPC is free and nothing leaked. */
static void check_all_free(struct sgx_driver *drv)
{
	assert_int_equal(atomic_load(&drv->nr_encls), 0);
	assert_int_equal(st(&drv->stats.leaked), 0);
	assert_int_equal(nr_free(drv), (long)drv->nr_total_pages);
	assert_int_equal(atomic_load(&drv->nr_active), 0);
	assert_int_equal(cpu_valid_frames(drv), 0);
}

static struct sgx_driver *s_driver(struct sim_host *h, unsigned long epc_pages, bool ksgxd)
{
	struct sgx_driver *drv;

	sim_host_init(h);
	drv = sim_driver(h, epc_pages, !ksgxd);
	assert_non_null(drv);
	sgx_sanitize_now(drv); /* with ksgxd: wait for its start-up passes */
	assert_int_equal(nr_free(drv), (long)epc_pages);
	return drv;
}

/* Make room for a fault (faults never reclaim) the way the ioctls do it. */
static void make_room(struct sgx_driver *drv, long pages)
{
	for (int i = 0; nr_free(drv) < pages; i++) {
		assert_true(i < 1000);
		sgx_reclaim_direct(drv);
	}
}

/* ======================================================================== */
/* 1. One enclave four times the EPC                                        */

#define BIG_EPC 256
#define BIG_NR 1024 /* children: TCS + 1023 REG pages = the whole ELRANGE */
#define BIG_BASE 0x1000000000UL

static void big_enclave(bool ksgxd)
{
	struct sim_host h;
	struct sgx_driver *drv = s_driver(&h, BIG_EPC, ksgxd);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct s_hook hk = { 0 };
	struct s_encl e;
	uint64_t rng = rng_for(ksgxd ? 11 : 12);
	unsigned int *order = malloc(sizeof(*order) * BIG_NR);
	uint64_t eldu0, direct0;
	long misses = 0, misses_round0 = 0, resident;

	assert_non_null(mm);
	assert_non_null(order);
	s_hook_install(drv, &hk);
	s_prepare(&e, drv, mm, BIG_BASE, BIG_NR * PG, BIG_NR, rng_for(13), true);

	s_build_ok(&e);
	/* Four times the EPC cannot be built without evicting. */
	assert_true(st(&drv->stats.ewb) >= BIG_NR - BIG_EPC);
	if (!ksgxd) {
		assert_true(st(&drv->stats.direct_reclaims) > 0);
		assert_true(atomic_load(&hk.other_isolated) > 0);
	}
	if (s_check_locked(&e, &resident))
		fail_msg("%s", e.err);
	assert_true(resident < BIG_EPC);

	/* Touch every REG page in a random order, twice, verifying each. */
	eldu0 = st(&drv->stats.eldu);
	direct0 = st(&drv->stats.direct_reclaims);
	for (unsigned int i = 0; i < BIG_NR - 1; i++)
		order[i] = i + 1;
	for (int round = 0; round < 2; round++) {
		for (unsigned int i = BIG_NR - 2; i > 0; i--) {
			unsigned int j = (unsigned int)rnd_below(&rng, i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (unsigned int i = 0; i < BIG_NR - 1; i++) {
			bool missed;

			if (!ksgxd)
				make_room(drv, 2); /* SECS + page */
			if (s_touch_verify(&e, order[i], &missed))
				fail_msg("round %d: %s", round, e.err);
			misses += missed;
		}
		if (!round)
			misses_round0 = misses;
	}
	/* At most the EPC's worth of pages can have been resident at the start. */
	assert_true(misses_round0 >= (BIG_NR - 1) - BIG_EPC);
	/* Each miss was one ELDU of the page, at most one more of the SECS. */
	assert_true(st(&drv->stats.eldu) - eldu0 >= (uint64_t)misses);

	if (ksgxd) {
		/*
		 * Nobody but ksgxd reclaims while touching.  It has been woken
		 * (allocations below the low watermark), and only ksgxd ever
		 * brings the free count up to the high watermark (a direct
		 * reclaim frees at most one batch, and only when nothing is
		 * free), so a woken ksgxd finds work and isolates pages: wait for
		 * that, then stop it so that nothing is in flight.  (Waiting for
		 * the high watermark would be wrong: an allocation that leaves
		 * the count between the watermarks does not wake ksgxd.)
		 */
		assert_int_equal(st(&drv->stats.direct_reclaims), direct0);
		assert_true(st(&drv->stats.ksgxd_wakeups) > 0);
		assert_true(S_WAIT_UNTIL(atomic_load(&hk.ksgxd_isolated) > 0));
		sgx_ksgxd_stop(drv); /* afterwards no batch is in flight */
	} else {
		assert_true(st(&drv->stats.eldu) - eldu0 <= 2 * (uint64_t)misses);
		assert_true(st(&drv->stats.direct_reclaims) > direct0);
		assert_int_equal(atomic_load(&hk.ksgxd_isolated), 0);
	}
	printf("# %s: %ld misses, ewb %" PRIu64 " eldu %" PRIu64 " batches %" PRIu64
	       " direct %" PRIu64 " ksgxd-isolated %ld other-isolated %ld\n",
	       ksgxd ? "ksgxd" : "direct", misses, st(&drv->stats.ewb), st(&drv->stats.eldu),
	       st(&drv->stats.reclaim_batches), st(&drv->stats.direct_reclaims),
	       atomic_load(&hk.ksgxd_isolated), atomic_load(&hk.other_isolated));

	check_quiescent(drv, &e.encl, &mm, 1, 0);
	/* One enclave: its evicted count is every EWB not undone by an ELDU. */
	assert_int_equal(atomic_load(&e.encl->nr_evicted),
			 (long)(st(&drv->stats.ewb) - st(&drv->stats.eldu)));
	/* EWB counts the reclaimed children and the SECS evictions. */
	assert_true(st(&drv->stats.ewb) >= st(&drv->stats.reclaimed));
	assert_int_equal(st(&drv->stats.eremove), 0);

	s_close(&e);
	check_all_free(drv);
	cap_end_no_warnings();
	free(order);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

static void test_big_enclave_direct(void **state)
{
	(void)state;
	big_enclave(false);
}

static void test_big_enclave_ksgxd(void **state)
{
	(void)state;
	big_enclave(true);
}

/* ======================================================================== */
/* 2. Many enclaves competing for the EPC, one thread each                  */

#define MANY_EPC 256
#define MANY_ENCLS 8
#define MANY_NR 96	/* children each: with SECS and VA, over a quarter of the EPC */
#define MANY_SIZE (128 * PG)
#define MANY_TOUCHES 2500

struct many_ctx {
	struct s_encl e;
	uint64_t rng;
	long misses;
	bool released;
	pthread_barrier_t *built; /* every enclave exists before anyone touches */
};

static void *many_thread(void *arg)
{
	struct many_ctx *c = arg;
	struct s_encl *e = &c->e;
	int r = s_build(e);
	bool missed;

	pthread_barrier_wait(c->built);
	if (r)
		return NULL;
	for (int k = 0; k < MANY_TOUCHES; k++) {
		if (s_touch_verify(e, 1 + (unsigned int)rnd_below(&c->rng, e->nr - 1), &missed))
			return NULL;
		c->misses += missed;
		/* Two CPUs here: without it each thread would run its loop alone. */
		sched_yield();
	}
	for (unsigned int i = 1; i < e->nr; i++)
		if (s_touch_verify(e, i, NULL))
			return NULL;
	if (s_check_locked(e, NULL))
		return NULL;
	/* Gone while the others still fault and ksgxd still reclaims. */
	s_close(e);
	c->released = true;
	return NULL;
}

static void many_enclaves(bool kernel_backing)
{
	struct sim_host h;
	struct sgx_driver *drv = s_driver(&h, MANY_EPC, true);
	struct many_ctx *c = calloc(MANY_ENCLS, sizeof(*c));
	pthread_t t[MANY_ENCLS];
	pthread_barrier_t built;
	struct s_hook hk = { 0 };
	long misses = 0;

	/* Before any enclave exists: the policy is read at each reload. */
	drv->cfg.kernel_backing = kernel_backing;
	assert_non_null(c);
	assert_int_equal(pthread_barrier_init(&built, NULL, MANY_ENCLS), 0);
	s_hook_install(drv, &hk);
	/* Signing and key loading stay in this thread. */
	for (int i = 0; i < MANY_ENCLS; i++) {
		struct sgx_mm *mm = sim_mm_new(&h, i + 1);

		assert_non_null(mm);
		s_prepare(&c[i].e, drv, mm, 0x2000000000UL + i * 0x10000000UL, MANY_SIZE, MANY_NR,
			  rng_for(100 + i), true);
		c[i].rng = rng_for(200 + i);
		c[i].built = &built;
	}
	for (int i = 0; i < MANY_ENCLS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, many_thread, &c[i]), 0);
	for (int i = 0; i < MANY_ENCLS; i++)
		pthread_join(t[i], NULL);
	sgx_ksgxd_stop(drv); /* afterwards no batch is in flight */
	pthread_barrier_destroy(&built);

	for (int i = 0; i < MANY_ENCLS; i++) {
		if (c[i].e.err[0] || !c[i].released) {
			/* Clean up what is left, then report. */
			for (int k = 0; k < MANY_ENCLS; k++)
				if (!c[k].released)
					s_close(&c[k].e);
			fail_msg("enclave %d: %s", i, c[i].e.err[0] ? c[i].e.err : "not released");
		}
		misses += c[i].misses;
	}
	printf("# %d enclaves: %ld misses, ewb %" PRIu64 " eldu %" PRIu64 " direct %" PRIu64
	       " ksgxd-isolated %ld other-isolated %ld\n",
	       MANY_ENCLS, misses, st(&drv->stats.ewb), st(&drv->stats.eldu),
	       st(&drv->stats.direct_reclaims), atomic_load(&hk.ksgxd_isolated),
	       atomic_load(&hk.other_isolated));
	/* Three times the EPC in use at once: there was eviction and reloading. */
	assert_true(st(&drv->stats.ewb) > 0);
	assert_true(st(&drv->stats.eldu) > 0);
	assert_true(st(&drv->stats.eldu) <= st(&drv->stats.ewb));
	check_all_free(drv);
	cap_end_no_warnings();
	for (int i = 0; i < MANY_ENCLS; i++)
		sim_mm_free(c[i].e.mm);
	free(c);
	/* The policy really was in force: reloads truncated only with it. */
	if (kernel_backing)
		assert_true(st(&drv->stats.backing_truncates) > 0);
	else
		assert_int_equal(st(&drv->stats.backing_truncates), 0);
	sim_driver_destroy(drv);
}

static void test_many_enclaves(void **state)
{
	(void)state;
	many_enclaves(false);
}

/* The kernel's backing truncation, PCMD_BUSY guard included, under load. */
static void test_many_enclaves_kernel_backing(void **state)
{
	(void)state;
	many_enclaves(true);
}

/* ======================================================================== */
/* 3. Enclaves released while the reclaimer holds their pages               */

#define MID_EPC 128
#define MID_OTHER_NR 40

/* Resident and mapped, but old: the next batch takes them. */
static void touch_all_then_age(struct s_encl *e)
{
	for (unsigned int i = 0; i < e->nr; i++)
		assert_int_equal(s_access(e->mm, e->base + i * PG, VM_READ), 0);
	pthread_mutex_lock(&e->mm->pte_lock);
	for (int i = 0; i < e->mm->nr_ptes; i++)
		e->mm->ptes[i].young = false;
	pthread_mutex_unlock(&e->mm->pte_lock);
}

static void *reclaim_once(void *arg)
{
	sgx_reclaim_pages(arg);
	return NULL;
}

static void close_victim(struct s_hook *hk, struct s_encl *v, bool mm_exit_first)
{
	assert_true(S_WAIT_UNTIL(atomic_load(&hk->state) == 1));
	if (mm_exit_first) {
		sim_mm_exit(v->mm);
		sgx_release(v->encl);
	} else {
		sgx_release(v->encl);
		sim_mm_exit(v->mm);
	}
	v->encl = NULL;
	atomic_store(&hk->state, 2);
}

/*
 * A victim enclave of @victim_nr children, built first so that its pages head
 * the active list, and another one after it; one batch of the reclaimer (a
 * thread standing in for ksgxd) stops at @tp on the victim's first page while
 * this thread closes the victim's file and its address space exits.
 */
static void release_mid_reclaim(enum sgx_test_point tp, unsigned int victim_nr, bool init,
				bool mm_exit_first)
{
	struct sim_host h;
	struct sgx_driver *drv = s_driver(&h, MID_EPC, false);
	struct s_hook hk = { 0 };
	struct s_encl v, o;
	long held = victim_nr < SGX_NR_TO_SCAN ? victim_nr : SGX_NR_TO_SCAN;
	uint64_t eremove0;
	pthread_t r;

	s_prepare(&v, drv, sim_mm_new(&h, 1), 0x3000000000UL, 64 * PG, victim_nr, rng_for(31),
		  init);
	s_prepare(&o, drv, sim_mm_new(&h, 2), 0x3100000000UL, 64 * PG, MID_OTHER_NR,
		  rng_for(32), true);
	s_build_ok(&v);
	s_build_ok(&o);
	assert_int_equal(st(&drv->stats.ewb), 0);
	/* Faulting an enclave's pages needs it initialized (EAUG aside). */
	if (init)
		touch_all_then_age(&v);
	touch_all_then_age(&o);
	check_quiescent(drv, (struct sgx_encl *[]){ v.encl, o.encl },
			(struct sgx_mm *[]){ v.mm, o.mm }, 2, 0);

	hk.close_armed = true;
	hk.close_tp = tp;
	hk.victim = v.encl;
	s_hook_install(drv, &hk);
	eremove0 = st(&drv->stats.eremove);
	assert_int_equal(pthread_create(&r, NULL, reclaim_once, drv), 0);
	close_victim(&hk, &v, mm_exit_first);
	pthread_join(r, NULL);

	assert_false(hk.timed_out);
	assert_int_equal(atomic_load(&hk.state), 3);
	assert_int_equal(atomic_load(&hk.hits), held);
	/* The close took the file's and the mm's references; the batch's kept it alive. */
	assert_int_equal(hk.refs_before, held + 2);
	assert_int_equal(hk.refs_after, held);
	assert_int_equal(hk.encls_after, hk.encls_before);
	assert_int_equal(hk.encls_before, 2);
	/* The batch finished (every page old: all written back), and the last put released it. */
	assert_int_equal(atomic_load(&drv->nr_encls), 1);
	assert_int_equal(st(&drv->stats.reclaimed), SGX_NR_TO_SCAN);
	assert_int_equal(st(&drv->stats.reclaim_batches), 1);
	/* Children the batch did not hold, the SECS (unless evicted) and the VA page: EREMOVEd. */
	assert_true(st(&drv->stats.eremove) - eremove0 >= (uint64_t)(victim_nr - held) + 1);
	check_quiescent(drv, &o.encl, &o.mm, 1, 0);
	for (unsigned int i = 1; i < o.nr; i++)
		if (s_touch_verify(&o, i, NULL))
			fail_msg("%s", o.err);

	s_close(&o);
	check_all_free(drv);
	cap_end_no_warnings();
	sim_mm_free(v.mm);
	sim_mm_free(o.mm);
	sim_driver_destroy(drv);
}

static void test_release_mid_reclaim_isolated(void **state)
{
	(void)state;
	/* All ten children and six of the other's in the batch; the SECS follows them out. */
	release_mid_reclaim(SGX_TP_RECLAIM_ISOLATED, 10, true, false);
}

static void test_release_mid_reclaim_blocked(void **state)
{
	(void)state;
	release_mid_reclaim(SGX_TP_RECLAIM_BLOCKED, 10, true, true);
}

static void test_release_mid_reclaim_blocked_partial(void **state)
{
	(void)state;
	/* Sixteen of 24 in the batch: the release EREMOVEs the other eight. */
	release_mid_reclaim(SGX_TP_RECLAIM_BLOCKED, 24, true, false);
}

static void test_release_mid_reclaim_uninitialized(void **state)
{
	(void)state;
	/* Closed before INIT: the reclaimer never evicts its SECS, the release does. */
	release_mid_reclaim(SGX_TP_RECLAIM_ISOLATED, 12, false, true);
}

/* The same with ksgxd as the reclaimer, woken by an allocation below the low watermark. */
static void test_release_mid_reclaim_ksgxd(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = s_driver(&h, MID_EPC, true);
	struct sgx_epc_page *raw[MID_EPC];
	struct s_hook hk = { 0 };
	struct s_encl v, o;
	int nraw = 0;

	(void)state;
	s_prepare(&v, drv, sim_mm_new(&h, 1), 0x3000000000UL, 64 * PG, 10, rng_for(41), true);
	s_prepare(&o, drv, sim_mm_new(&h, 2), 0x3100000000UL, 64 * PG, MID_OTHER_NR,
		  rng_for(42), true);
	s_build_ok(&v);
	s_build_ok(&o);
	/*
	 * The free count never went below the high watermark: ksgxd has had
	 * nothing to do yet, and the victim's pages head the active list.
	 */
	assert_true(nr_free(drv) >= SGX_NR_HIGH_PAGES);
	assert_int_equal(st(&drv->stats.reclaim_batches), 0);
	touch_all_then_age(&v);
	touch_all_then_age(&o);

	hk.close_armed = true;
	hk.close_tp = SGX_TP_RECLAIM_ISOLATED;
	hk.victim = v.encl;
	s_hook_install(drv, &hk);
	while (nr_free(drv) >= SGX_NR_LOW_PAGES) {
		raw[nraw] = sgx_alloc_epc_page(drv, NULL, false);
		assert_false(IS_ERR(raw[nraw]));
		nraw++;
	}
	close_victim(&hk, &v, false);
	assert_true(S_WAIT_UNTIL(atomic_load(&hk.state) == 3));
	assert_true(S_WAIT_UNTIL(!sgx_should_reclaim(drv, SGX_NR_HIGH_PAGES)));
	sgx_ksgxd_stop(drv); /* afterwards no batch is in flight */

	assert_false(hk.timed_out);
	assert_int_equal(hk.refs_before, 10 + 2);
	assert_int_equal(hk.refs_after, 10);
	assert_int_equal(hk.encls_after, 2);
	assert_int_equal(atomic_load(&drv->nr_encls), 1);
	assert_true(atomic_load(&hk.ksgxd_isolated) >= SGX_NR_TO_SCAN);
	assert_int_equal(atomic_load(&hk.other_isolated), 0);
	while (nraw)
		sgx_free_epc_page(drv, raw[--nraw]);
	check_quiescent(drv, &o.encl, &o.mm, 1, 0);
	for (unsigned int i = 1; i < o.nr; i++)
		if (s_touch_verify(&o, i, NULL))
			fail_msg("%s", o.err);

	s_close(&o);
	check_all_free(drv);
	cap_end_no_warnings();
	sim_mm_free(v.mm);
	sim_mm_free(o.mm);
	sim_driver_destroy(drv);
}

/* ======================================================================== */
/* 4. SGX2 ioctls vs faults vs reclaim                                      */

#define X_EPC 48	/* SECS, VA, 21 pages added, 43 to EAUG: reclaim is a must */
#define X_BASE 0x4000000000UL
#define X_SIZE (64 * PG)
#define X_NP 64
#define X_TCS 0x0000
#define X_SSA 0x1000	/* two SSA frames */
#define X_DATA 0x3000	/* the SECINFOs the enclave EACCEPTs with */
#define X_CODE 0x4000
#define X_DYN 0x5000	/* thread A's pages */
#define X_NR_DYN 16
#define X_HOLE (X_DYN + X_NR_DYN * PG) /* never added: thread B EAUGs them */
#define X_SITE 0x70000000ULL
#define X_AEP 0x70001000ULL
#define X_CYCLES 600
#define X_B_MIN 400
#define X_C_MIN 50

/* SECINFOs in the data page. */
#define SI_TRIM 0x000	/* TRIM | MODIFIED */
#define SI_AUG 0x040	/* REG | RW | PENDING */
#define SI_PR_R 0x0C0	/* REG | R | PR */

enum dyn_state { DYN_NORMAL, DYN_REMOVED };

struct s_mmu {
	struct sgx_mmu mmu;
	void *pa[X_NP];
};

struct sgx2_ctx {
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_mm *mm;
	struct sgx_encl *encl;
	struct s_encl ea, eb; /* error slots of threads A and B */

	/* Thread A: one logical processor running the enclave's EACCEPTs. */
	struct sgx_lp lp;
	struct sgx_xstate xs;
	struct s_mmu mmu;
	enum dyn_state dyn[X_NR_DYN];
	uint64_t rng_a, rng_b;
	long a_cycles, a_retries, a_accept_tries, a_reload_not_tracked;
	/* Times each dynamic page was blocked for EWB (the reclaimer's test point). */
	_Atomic unsigned long evictions[X_NR_DYN];
	unsigned long evictions_at_ioctl[X_NR_DYN];

	_Atomic bool stop_b, stop_c;
	long b_accesses, c_batches;

	uint8_t xbuf[4096] __attribute__((aligned(64)));
	uint8_t src[4096] __attribute__((aligned(4096)));
	uint8_t data[4096] __attribute__((aligned(4096)));
};

static int s_mmu_translate(void *ctx, uint64_t la, bool write, uint64_t *pa)
{
	struct s_mmu *m = ctx;

	(void)write;
	if (la >= X_BASE && la < X_BASE + X_SIZE) {
		void *p = m->pa[(la - X_BASE) / PG];

		if (!p)
			return -1;
		*pa = (uint64_t)(uintptr_t)p + (la & (PG - 1));
		return 0;
	}
	*pa = la; /* host memory: identity */
	return 0;
}

static void x_add(struct sgx2_ctx *c, struct sgx_measure *m, uint64_t off, const void *content,
		  uint64_t si_flags)
{
	struct sgx_secinfo si = { .flags = si_flags };
	struct sgx_enclave_add_pages a = {
		.src = (uint64_t)(uintptr_t)c->src,
		.offset = off,
		.length = PG,
		.secinfo = (uint64_t)(uintptr_t)&si,
		.flags = SGX_PAGE_MEASURE,
	};

	memcpy(c->src, content, PG);
	assert_int_equal(sgx_ioctl(c->encl, c->mm, SGX_IOC_ENCLAVE_ADD_PAGES,
				   (unsigned long)(uintptr_t)&a),
			 0);
	assert_int_equal(a.count, PG);
	s_measure_page(m, off, si_flags, content);
}

static void set_si(uint8_t *page, unsigned int off, uint64_t flags)
{
	struct sgx_secinfo *si = (struct sgx_secinfo *)(page + off);

	memset(si, 0, sizeof(*si));
	si->flags = flags;
}

/* The layout of test_ioctl.c's enclave, with sixteen pages to play with and a hole. */
static void x_build(struct sgx2_ctx *c)
{
	static struct sgx_secs secs __attribute__((aligned(4096)));
	static uint8_t page[PG] __attribute__((aligned(4096)));
	struct sgx_enclave_create create = { .src = (uint64_t)(uintptr_t)&secs };
	struct sgx_enclave_init in;
	struct sgx_sigstruct *ss = aligned_alloc(PG, PG);
	struct sgx_measure m;
	uint8_t mr[32];
	int err;

	assert_non_null(ss);
	c->encl = sgx_open(c->drv, &err);
	assert_non_null(c->encl);
	t_secs_src(&secs, X_BASE, X_SIZE, S_ATTR);
	assert_int_equal(sgx_ioctl(c->encl, c->mm, SGX_IOC_ENCLAVE_CREATE,
				   (unsigned long)(uintptr_t)&create),
			 0);
	sgx_measure_ecreate(&m, secs.ssa_frame_size, secs.size);

	memset(page, 0, PG);
	t_tcs_src((struct sgx_tcs *)page, X_SSA, 2, X_CODE);
	x_add(c, &m, X_TCS, page, SGX_SECINFO_TCS);
	memset(page, 0, PG);
	x_add(c, &m, X_SSA, page, S_RW);
	x_add(c, &m, X_SSA + PG, page, S_RW);
	memset(c->data, 0, PG);
	set_si(c->data, SI_TRIM, SGX_SECINFO_TRIM | SGX_SECINFO_MODIFIED);
	set_si(c->data, SI_AUG, S_RW | SGX_SECINFO_PENDING);
	set_si(c->data, SI_PR_R, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_PR);
	x_add(c, &m, X_DATA, c->data, S_RW);
	memset(page, 0xCC, PG);
	x_add(c, &m, X_CODE, page, S_RX);
	for (unsigned int i = 0; i < X_NR_DYN; i++) {
		s_fill(page, 77, i);
		x_add(c, &m, X_DYN + i * PG, page, S_RW);
	}
	sgx_measure_final(&m, mr);
	t_sigstruct(ss, mr, S_ATTR, 3, t_key());
	in.sigstruct = (uint64_t)(uintptr_t)ss;
	assert_int_equal(sgx_ioctl(c->encl, c->mm, SGX_IOC_ENCLAVE_INIT,
				   (unsigned long)(uintptr_t)&in),
			 0);
	free(ss);
	/* Read-only: the code page is R-X, the TCS RW, an EAUG page RWX. */
	assert_int_equal(sim_mmap(c->mm, c->encl, X_BASE, X_SIZE, VM_READ), 0);
	c->ea.mm = c->eb.mm = c->mm;
}

/*
 * What the enclave's runtime does after an SGX2 ioctl: EENTER, EACCEPT @target
 * with the SECINFO at @si of the data page, EEXIT.  The pages it needs are
 * faulted in first; the enclave then runs with encl->lock held, which stands
 * for "the reclaimer does not take these pages from under the running
 * thread": the test's page tables are a snapshot of the resident pages, and
 * the lock keeps that snapshot true (and keeps EWB's IPI away from a logical
 * processor this thread is driving).
 *
 * Return: the EACCEPT code (0 or an SGX error), or -1 (c->ea.err set).
 */
static long x_eaccept(struct sgx2_ctx *c, unsigned int si, uint64_t target)
{
	const uint64_t need[] = { X_TCS, X_SSA, X_SSA + PG, X_DATA, X_CODE, target };
	struct sgx_driver *drv = c->drv;
	double end = now_s() + S_HANG_SECS;

	while (now_s() < end) {
		struct sgx_regs r;
		bool ready = true;
		int ret;

		c->a_accept_tries++;
		for (unsigned int i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
			ret = s_access(c->mm, X_BASE + need[i], VM_READ);
			if (ret)
				return s_fail(&c->ea, "access to %#" PRIx64 " for EACCEPT: %d",
					      need[i], ret);
		}
		sgx_mutex_lock(&c->encl->lock);
		for (unsigned int i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
			struct sgx_encl_page *e = sgx_encl_page_lookup(c->encl, X_BASE + need[i]);

			if (!e || !e->epc_page || (atomic_load(&e->desc) & SGX_ENCL_PAGE_BUSY))
				ready = false;
		}
		if (!ready) {
			/* Evicted again (or being evicted) already: fault and look again. */
			sgx_mutex_unlock(&c->encl->lock);
			sched_yield();
			continue;
		}
		for (unsigned int i = 0; i < X_NP; i++) {
			struct sgx_encl_page *e = sgx_encl_page_lookup(c->encl, X_BASE + i * PG);

			c->mmu.pa[i] = e && e->epc_page &&
					       !(atomic_load(&e->desc) & SGX_ENCL_PAGE_BUSY)
					       ? epc_va(e->epc_page)
					       : NULL;
		}

		r = (struct sgx_regs){ .rax = EENTER, .rbx = X_BASE + X_TCS, .rcx = X_AEP,
				       .rip = X_SITE, .rflags = 0x202 };
		ret = sgx_enclu(drv->cpu, &c->lp, &c->mmu.mmu, &r, &c->xs);
		if (ret || !c->lp.in_enclave) {
			sgx_mutex_unlock(&c->encl->lock);
			return s_fail(&c->ea, "EENTER: %d", ret);
		}
		r = (struct sgx_regs){ .rax = EACCEPT, .rbx = X_BASE + X_DATA + si,
				       .rcx = X_BASE + target, .rip = X_BASE + X_CODE + 0x100,
				       .rflags = 0x202 };
		ret = sgx_enclu(drv->cpu, &c->lp, &c->mmu.mmu, &r, &c->xs);
		{
			struct sgx_regs x = { .rax = EEXIT, .rbx = X_SITE + 3,
					      .rip = X_BASE + X_CODE + 0x100 };
			int ex = sgx_enclu(drv->cpu, &c->lp, &c->mmu.mmu, &x, &c->xs);

			sgx_mutex_unlock(&c->encl->lock);
			if (ex || c->lp.in_enclave)
				return s_fail(&c->ea, "EEXIT: %d", ex);
		}
		if (ret)
			return s_fail(&c->ea, "EACCEPT(%#x) of %#" PRIx64 " faulted: %d", si,
				      target, ret);
		return (long)r.rax;
	}
	return s_fail(&c->ea, "the pages for EACCEPT of %#" PRIx64 " never stayed resident",
		      target);
}

/*
 * EACCEPT dynamic page @p, which must succeed, with one exception that the
 * CPU model makes: ELDU stamps a reloaded child with the current tracking
 * epoch (cpu/encls_paging.c, "A page reloaded blocked must see a new ETRACK"
 * applies to ELDU as well as ELDB), so a PR/MODIFIED page that was evicted and
 * reloaded after the ioctl's ETRACK gives SGX_NOT_TRACKED until the next
 * ETRACK of the enclave, which the reclaimer's next EWB issues.  That case is
 * told apart by the reclaimer's test point (the page was blocked for EWB
 * since the ioctl began) and retried; any other SGX_NOT_TRACKED fails.
 */
static int x_accept_ok(struct sgx2_ctx *c, unsigned int si, unsigned int p)
{
	uint64_t target = X_DYN + p * PG;
	double end = now_s() + S_HANG_SECS;

	while (now_s() < end) {
		long code = x_eaccept(c, si, target);

		if (code < 0)
			return -1;
		if (!code)
			return 0;
		if (code != SGX_NOT_TRACKED || si == SI_AUG ||
		    atomic_load(&c->evictions[p]) == c->evictions_at_ioctl[p])
			return s_fail(&c->ea, "EACCEPT(%#x) of %#" PRIx64 ": SGX error %ld", si,
				      target, code);
		c->a_reload_not_tracked++;
		sched_yield();
	}
	return s_fail(&c->ea, "EACCEPT(%#x) of %#" PRIx64 " never tracked", si, target);
}

static void x_hook(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl, unsigned long addr)
{
	struct sgx2_ctx *c = ctx;

	if (tp == SGX_TP_RECLAIM_BLOCKED && encl == c->encl && addr >= X_BASE + X_DYN &&
	    addr < X_BASE + X_HOLE)
		atomic_fetch_add(&c->evictions[(addr - X_BASE - X_DYN) / PG], 1);
}

/*
 * One SGX2 ioctl over [@first, @first + @n) of the dynamic pages, resumed
 * after -EAGAIN (page busy, or no free EPC right now) and -EBUSY (the
 * reclaimer holds it, REMOVE_PAGES) from where @count says it stopped.
 */
static int x_ioctl(struct sgx2_ctx *c, unsigned int cmd, unsigned int first, unsigned int n)
{
	unsigned long off = X_DYN + first * PG, len = n * PG;
	double end = now_s() + S_HANG_SECS;
	const char *name = cmd == SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS ? "RESTRICT_PERMISSIONS"
			   : cmd == SGX_IOC_ENCLAVE_MODIFY_TYPES    ? "MODIFY_TYPES"
								    : "REMOVE_PAGES";

	/* Taken before: the reclaimer may block a page the moment the ioctl lets it go. */
	for (unsigned int p = first; p < first + n; p++)
		c->evictions_at_ioctl[p] = atomic_load(&c->evictions[p]);
	while (now_s() < end) {
		union {
			struct sgx_enclave_restrict_permissions rp;
			struct sgx_enclave_modify_types mt;
			struct sgx_enclave_remove_pages rm;
		} u;
		uint64_t count, result = 0;
		long r;

		memset(&u, 0, sizeof(u));
		if (cmd == SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS) {
			u.rp.offset = off;
			u.rp.length = len;
			u.rp.permissions = SGX_SECINFO_R;
		} else if (cmd == SGX_IOC_ENCLAVE_MODIFY_TYPES) {
			u.mt.offset = off;
			u.mt.length = len;
			u.mt.page_type = SGX_PAGE_TYPE_TRIM;
		} else {
			u.rm.offset = off;
			u.rm.length = len;
		}
		r = sgx_ioctl(c->encl, c->mm, cmd, (unsigned long)(uintptr_t)&u);
		if (cmd == SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS) {
			count = u.rp.count;
			result = u.rp.result;
		} else if (cmd == SGX_IOC_ENCLAVE_MODIFY_TYPES) {
			count = u.mt.count;
			result = u.mt.result;
		} else {
			count = u.rm.count;
		}
		if (count > len || count % PG)
			return s_fail(&c->ea, "%s: count %" PRIu64 " of %lu", name, count, len);
		if (!r && count == len)
			return 0;
		if (r != -EAGAIN && r != -EBUSY)
			return s_fail(&c->ea, "%s at %#lx+%#lx: %ld (result %" PRIu64 ", count %"
				      PRIu64 ")", name, off, len, r, result, count);
		c->a_retries++;
		off += count;
		len -= count;
		sched_yield();
	}
	return s_fail(&c->ea, "%s never got through", name);
}

/* Thread A: restrict, accept, trim, accept, remove ranges of the dynamic pages; EAUG them back. */
static void *x_thread_a(void *arg)
{
	struct sgx2_ctx *c = arg;

	for (int cycle = 0; cycle < X_CYCLES; cycle++) {
		unsigned int first = (unsigned int)rnd_below(&c->rng_a, X_NR_DYN);
		unsigned int n = 1 + (unsigned int)rnd_below(&c->rng_a, 3);

		if (first + n > X_NR_DYN)
			n = X_NR_DYN - first;
		/* A removed page comes back through EAUG (its own fault or B's) and EACCEPT. */
		for (unsigned int p = first; p < first + n; p++) {
			if (c->dyn[p] != DYN_REMOVED)
				continue;
			if (x_accept_ok(c, SI_AUG, p))
				goto out;
			c->dyn[p] = DYN_NORMAL;
		}
		if (x_ioctl(c, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, first, n))
			goto out;
		for (unsigned int p = first; p < first + n; p++)
			if (x_accept_ok(c, SI_PR_R, p))
				goto out;
		if (x_ioctl(c, SGX_IOC_ENCLAVE_MODIFY_TYPES, first, n))
			goto out;
		for (unsigned int p = first; p < first + n; p++)
			if (x_accept_ok(c, SI_TRIM, p))
				goto out;
		if (x_ioctl(c, SGX_IOC_ENCLAVE_REMOVE_PAGES, first, n))
			goto out;
		for (unsigned int p = first; p < first + n; p++)
			c->dyn[p] = DYN_REMOVED;
		c->a_cycles++;
		sched_yield();
	}
out:
	return NULL;
}

/* One access by thread B, then the PTE it got checked under encl->lock. */
static int x_b_access(struct sgx2_ctx *c, uint64_t off)
{
	struct sgx_encl_page *entry;
	struct sgx_epc_page *pte;
	bool gone = false, other = false;
	int r = s_access(c->mm, X_BASE + off, VM_READ);

	if (r)
		return s_fail(&c->eb, "access to %#" PRIx64 ": %d", off, r);
	c->b_accesses++;
	/* Under the lock a PTE maps exactly the entry's resident page. */
	sgx_mutex_lock(&c->encl->lock);
	entry = sgx_encl_page_lookup(c->encl, X_BASE + off);
	pte = s_pte(c->mm, c->encl, X_BASE + off, false);
	if (pte) {
		gone = !entry;
		other = entry && entry->epc_page != pte;
	}
	sgx_mutex_unlock(&c->encl->lock);
	if (gone || other)
		return s_fail(&c->eb, "stale PTE at %#" PRIx64 " (entry %s)", off,
			      gone ? "gone" : "maps another page");
	return 0;
}

/* Thread B: every hole page once (EAUG), then random pages (ELDU, EAUG after removal). */
static void *x_thread_b(void *arg)
{
	struct sgx2_ctx *c = arg;

	for (uint64_t off = X_HOLE; off < X_SIZE; off += PG)
		if (x_b_access(c, off))
			return NULL;
	for (long n = 0; n < X_B_MIN || !atomic_load(&c->stop_b); n++) {
		if (x_b_access(c, rnd_below(&c->rng_b, X_NP) * PG))
			return NULL;
		sched_yield();
	}
	return NULL;
}

/* Thread C: the reclaimer, batch after batch. */
static void *x_thread_c(void *arg)
{
	struct sgx2_ctx *c = arg;

	while (c->c_batches < X_C_MIN || !atomic_load(&c->stop_c)) {
		sgx_reclaim_pages(c->drv);
		c->c_batches++;
		sched_yield();
	}
	return NULL;
}

/*
 * Thread A cycles ranges of the dynamic pages through RESTRICT_PERMISSIONS,
 * EACCEPT, MODIFY_TYPES(TRIM), EACCEPT, REMOVE_PAGES and back (EAUG,
 * EACCEPT); thread B faults everywhere (ELDU, EAUG, the pages A is working
 * on); thread C reclaims batch after batch.  -EAGAIN and -EBUSY are the only
 * errors an ioctl may give; every EACCEPT must succeed (but see
 * x_accept_ok()); under the lock every PTE maps its entry's page.
 *
 * Under ThreadSanitizer this test may also report the reclaimer's skip-path
 * race that test_reclaim_skip_vs_remove_eaug() exposes every time (B's EAUG
 * refilling a slot that C just skipped); it is the same driver bug.
 */
static void test_sgx2_ioctls_faults_reclaim(void **state)
{
	struct sgx2_ctx *c = aligned_alloc(4096, (sizeof(*c) + 4095) & ~4095UL);
	struct sgx_driver *drv;
	pthread_t ta, tb, tc;

	(void)state;
	assert_non_null(c);
	memset(c, 0, sizeof(*c));
	drv = c->drv = s_driver(&c->h, X_EPC, false);
	assert_true(drv->sgx2);
	c->mm = sim_mm_new(&c->h, 1);
	assert_non_null(c->mm);
	c->mmu.mmu.translate = s_mmu_translate;
	c->mmu.mmu.ctx = &c->mmu;
	sgx_lp_init(&c->lp);
	c->xs.buf = c->xbuf;
	c->xs.size = sizeof(c->xbuf);
	c->rng_a = rng_for(51);
	c->rng_b = rng_for(52);
	x_build(c);

	/* Before the race, and deterministically: one eviction and one reload. */
	sgx_reclaim_pages(drv);
	assert_int_equal(st(&drv->stats.ewb), SGX_NR_TO_SCAN);
	assert_int_equal(sim_access(c->mm, X_BASE + X_DYN, VM_READ), 0);
	assert_true(st(&drv->stats.eldu) >= 1);

	drv->cfg.test_point = x_hook;
	drv->cfg.test_ctx = c;
	assert_int_equal(pthread_create(&tc, NULL, x_thread_c, c), 0);
	assert_int_equal(pthread_create(&tb, NULL, x_thread_b, c), 0);
	assert_int_equal(pthread_create(&ta, NULL, x_thread_a, c), 0);
	pthread_join(ta, NULL);
	atomic_store(&c->stop_b, true);
	pthread_join(tb, NULL);
	/* Faults never reclaim: B needed C until its last access. */
	atomic_store(&c->stop_c, true);
	pthread_join(tc, NULL);

	printf("# sgx2: %ld cycles (%ld ioctl retries, %ld EACCEPT attempts, %ld not tracked "
	       "after a reload), %ld accesses, %ld batches; ewb %" PRIu64 " eldu %" PRIu64
	       " eaug %" PRIu64 " eremove %" PRIu64 "\n",
	       c->a_cycles, c->a_retries, c->a_accept_tries, c->a_reload_not_tracked,
	       c->b_accesses, c->c_batches,
	       st(&drv->stats.ewb), st(&drv->stats.eldu), st(&drv->stats.eaug),
	       st(&drv->stats.eremove));
	if (c->ea.err[0] || c->eb.err[0]) {
		sim_mm_exit(c->mm);
		sgx_release(c->encl);
		fail_msg("A: %s | B: %s", c->ea.err, c->eb.err);
	}
	assert_int_equal(c->a_cycles, X_CYCLES);
	assert_true(c->b_accesses >= X_B_MIN);
	/* Every hole page was EAUGed by B's first sweep. */
	assert_true(st(&drv->stats.eaug) >= (X_SIZE - X_HOLE) / PG);

	/*
	 * Quiescent now: free + in use + leaked == total, secs_child_cnt ==
	 * resident children == the CPU's count, every resident page valid and
	 * this enclave's with the type the driver records, every PTE to its
	 * entry's page, every evicted page counted.
	 */
	check_quiescent(drv, &c->encl, &c->mm, 1, 0);
	for (unsigned int p = 0; p < X_NR_DYN; p++) {
		struct sgx_encl_page *e = sgx_encl_page_lookup(c->encl, X_BASE + X_DYN + p * PG);

		if (c->dyn[p] == DYN_NORMAL) {
			assert_non_null(e);
			assert_int_equal(e->type, SGX_PAGE_TYPE_REG);
		} else if (e) {
			/* Removed, then EAUGed again by B: a fresh pending REG page. */
			assert_int_equal(e->type, SGX_PAGE_TYPE_REG);
			assert_int_equal(e->vm_max_prot_bits, VM_READ | VM_WRITE | VM_EXEC);
		}
	}
	{
		struct s_encl view = { .encl = c->encl, .mm = c->mm, .drv = drv };
		long n = 0;

		for (unsigned long i = 0; i < c->encl->nr_slots; i++)
			n += !!(atomic_load(&c->encl->page_array[i].desc) & SGX_ENCL_PAGE_PRESENT);
		view.nr = (unsigned int)n;
		if (s_check_locked(&view, NULL))
			fail_msg("%s", view.err);
	}

	sim_mm_exit(c->mm);
	sgx_release(c->encl);
	check_all_free(drv);
	cap_end_no_warnings();
	sim_mm_free(c->mm);
	sim_driver_destroy(drv);
	free(c);
}

/*
 * The reclaimer's skip path (phase 2, page young) against REMOVE_PAGES and an
 * EAUG of the same address: the page goes back on the active list, REMOVE
 * takes it off and frees it, and the fault EAUGs a new page into the same
 * page-store slot, while the reclaimer goes on with the rest of its batch.
 *
 * EXPECTED TO EXPOSE A DRIVER BUG under ThreadSanitizer (normal and ASan
 * builds pass): sgx_reclaim_pages() reads encl_page->encl for its
 * sgx_encl_put() *after* putting the page back on the active list and
 * dropping reclaimer_lock (driver/main.c, "skip:" in phase 2), when the page
 * may already belong to someone else: here sgx_encl_page_insert() rewrites
 * the slot's ->encl (driver/encl.c) with nothing ordering the two.  The value
 * is the same enclave (a slot only ever belongs to its enclave), so nothing
 * misbehaves here; in the kernel, where REMOVE_PAGES kfree()s the
 * descriptor, the same read is a use after free.  Reading the enclave before
 * the list_add (a local) fixes it.  The layout makes TSan see it every time:
 * the removed page is the last of the batch's skipped pages, and right after
 * it the reclaimer turns to the other enclave's pages, where this test's
 * host stops it at its first zap (of the other enclave's mm, before any ENCLS
 * or lock this thread also uses) until the EAUG is done; so nothing orders
 * the reclaimer's read before the EAUG's write.
 */
struct skip_ctx {
	struct sgx_encl *encl, *other;
	_Atomic int isolated, waited, done;
	_Atomic bool removed_page_isolated;
	bool timed_out;
	void (*zap)(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		    unsigned long len);
};

static void skip_hook(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
		      unsigned long addr)
{
	struct skip_ctx *k = ctx;

	if (tp != SGX_TP_RECLAIM_ISOLATED)
		return;
	if (encl == k->encl && addr == X_BASE + X_DYN)
		atomic_store(&k->removed_page_isolated, true);
	atomic_store(&k->isolated, 1);
}

/* The host's zap: the reclaimer's first zap of the other enclave waits for the EAUG. */
static void skip_zap(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		     unsigned long len)
{
	struct skip_ctx *k = ((struct sim_host *)host)->ctx;

	if (encl == k->other && !atomic_exchange(&k->waited, 1))
		k->timed_out = !S_WAIT_UNTIL(atomic_load(&k->done));
	k->zap(host, mm, encl, addr, len);
}

static void test_reclaim_skip_vs_remove_eaug(void **state)
{
	struct sgx2_ctx *c = aligned_alloc(4096, (sizeof(*c) + 4095) & ~4095UL);
	struct skip_ctx k = { 0 };
	struct sgx_driver *drv;
	struct sgx_encl_page *entry;
	struct sgx_epcm_view v;
	struct s_encl o;
	pthread_t r;
	long ret = -1;

	(void)state;
	assert_non_null(c);
	memset(c, 0, sizeof(*c));
	drv = c->drv = s_driver(&c->h, 128, false);
	c->mm = sim_mm_new(&c->h, 1);
	assert_non_null(c->mm);
	c->mmu.mmu.translate = s_mmu_translate;
	c->mmu.mmu.ctx = &c->mmu;
	sgx_lp_init(&c->lp);
	c->xs.buf = c->xbuf;
	c->xs.size = sizeof(c->xbuf);

	/*
	 * Active list: the other enclave's ten pages (old: blocked and
	 * written back), then this one's TCS, SSAs, data, code and first
	 * dynamic page (young: skipped); the batch is exactly those sixteen,
	 * the dynamic page last.
	 */
	s_prepare(&o, drv, sim_mm_new(&c->h, 2), 0x5000000000UL, 16 * PG, 10, rng_for(61), true);
	s_build_ok(&o);
	x_build(c);
	if (x_ioctl(c, SGX_IOC_ENCLAVE_MODIFY_TYPES, 0, 1) || x_accept_ok(c, SI_TRIM, 0))
		fail_msg("%s", c->ea.err);
	for (uint64_t off = 0; off <= X_DYN; off += PG)
		assert_int_equal(s_access(c->mm, X_BASE + off, VM_READ), 0);
	assert_int_equal(st(&drv->stats.ewb), 0);

	k.encl = c->encl;
	k.other = o.encl;
	k.zap = c->h.ops.zap;
	c->h.ctx = &k;
	c->h.ops.zap = skip_zap;
	drv->cfg.test_point = skip_hook;
	drv->cfg.test_ctx = &k;
	assert_int_equal(pthread_create(&r, NULL, reclaim_once, drv), 0);
	assert_true(S_WAIT_UNTIL(atomic_load(&k.isolated)));
	/* -EBUSY while the batch holds it; once skipped it is on the list again. */
	for (double end = now_s() + S_HANG_SECS; now_s() < end;) {
		struct sgx_enclave_remove_pages rm = { .offset = X_DYN, .length = PG };

		ret = sgx_ioctl(c->encl, c->mm, SGX_IOC_ENCLAVE_REMOVE_PAGES,
				(unsigned long)(uintptr_t)&rm);
		if (ret != -EBUSY)
			break;
		sched_yield();
	}
	assert_int_equal(ret, 0);
	/* The hole is refilled: EAUG into the same slot. */
	assert_int_equal(s_access(c->mm, X_BASE + X_DYN, VM_READ), 0);
	atomic_store(&k.done, 1);
	pthread_join(r, NULL);
	drv->cfg.test_point = NULL;
	c->h.ops.zap = k.zap;

	assert_true(atomic_load(&k.removed_page_isolated));
	assert_int_equal(atomic_load(&k.waited), 1);
	assert_false(k.timed_out);
	assert_int_equal(st(&drv->stats.reclaimed), 10);
	assert_int_equal(st(&drv->stats.eaug), 1);
	entry = sgx_encl_page_lookup(c->encl, X_BASE + X_DYN);
	assert_non_null(entry);
	assert_non_null(entry->epc_page);
	assert_true(epcm(drv, epc_va(entry->epc_page), &v));
	assert_true(v.pending);
	check_quiescent(drv, (struct sgx_encl *[]){ c->encl, o.encl },
			(struct sgx_mm *[]){ c->mm, o.mm }, 2, 0);

	sim_mm_exit(c->mm);
	sgx_release(c->encl);
	s_close(&o);
	check_all_free(drv);
	cap_end_no_warnings();
	sim_mm_free(c->mm);
	sim_mm_free(o.mm);
	sim_driver_destroy(drv);
	free(c);
}

/* Every test runs with the driver's stderr captured. */
#define T(test) cmocka_unit_test_setup_teardown(test, cap_setup, cap_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_big_enclave_direct),
		T(test_big_enclave_ksgxd),
		T(test_many_enclaves),
		T(test_many_enclaves_kernel_backing),
		T(test_release_mid_reclaim_isolated),
		T(test_release_mid_reclaim_blocked),
		T(test_release_mid_reclaim_blocked_partial),
		T(test_release_mid_reclaim_uninitialized),
		T(test_release_mid_reclaim_ksgxd),
		T(test_sgx2_ioctls_faults_reclaim),
		T(test_reclaim_skip_vs_remove_eaug),
	};
	const char *env = getenv("SOFTSGX_STRESS_SEED");

	if (env && *env)
		g_seed = strtoull(env, NULL, 0);
	else
		g_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	printf("# drv_stress seed %" PRIu64 " (SOFTSGX_STRESS_SEED=%" PRIu64 " repeats it)\n",
	       g_seed, g_seed);
	sanitizer_reports_to_real_stderr();
	fflush(stdout);
	return T_RUN(tests);
}
