// SPDX-License-Identifier: MIT
/*
 * driver/virt.c: /dev/sgx_vepc (Linux's virt.c).  The "guest" here uses vEPC pages
 * as raw EPC and runs ENCLS leaves on them directly, as a VM would: ECREATE
 * into one vEPC page, EADD children into others, possibly in another vEPC
 * file.  Runs against the simulated host (host/sim.c).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"
#include "helpers.h"
#include "internal.h"
#include "softsgx/uapi/sgx.h"

#define T_PAGES 64
#define T_ATTR (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)
#define T_RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)
#define T_BASE 0x100000000ULL
#define T_SIZE 0x100000ULL
/* Guest-physical style addresses of the simulated mappings. */
#define MAP_A 0x7f0000000000UL
#define MAP_B 0x7f1000000000UL
#define MAP_C 0x7f2000000000UL

/* ---- helpers ---- */

struct t_ctx {
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_mm *mm;
};

/* A driver with @pages of EPC, on a CPU with or without EUPDATESVN. */
static void setup_cpu(struct t_ctx *c, unsigned long pages, bool eupdatesvn)
{
	struct sgx_cpu_config cfg;

	sim_host_init(&c->h);
	sim_cpu_config(&cfg, pages);
	cfg.eupdatesvn = eupdatesvn;
	c->drv = sim_driver_cfg(&c->h, &cfg, true);
	assert_non_null(c->drv);
	assert_int_equal(atomic_load(&c->drv->nr_free_pages), pages);
	assert_int_equal(c->drv->nr_total_pages, pages);
	/*
	 * sgx_driver_create() (main.c) must have initialised the zombie
	 * list; a zeroed list head would crash the first release.
	 */
	if (!c->drv->zombie_secs_pages.next)
		fail_msg("main.c: drv->zombie_secs_pages is not initialised (CDS_INIT_LIST_HEAD)");
	assert_true(cds_list_empty(&c->drv->zombie_secs_pages));
	c->mm = sim_mm_new(&c->h, 1);
	assert_non_null(c->mm);
}

static void setup(struct t_ctx *c, unsigned long pages)
{
	setup_cpu(c, pages, false);
}

static void teardown(struct t_ctx *c)
{
	assert_int_equal(atomic_load(&c->drv->nr_encls), 0);
	sim_mm_free(c->mm);
	sim_driver_destroy(c->drv);
}

static long nr_free(struct t_ctx *c)
{
	return atomic_load(&c->drv->nr_free_pages);
}

static struct sgx_vepc *vopen(struct t_ctx *c)
{
	int err = 0;
	struct sgx_vepc *v = sgx_vepc_open(c->drv, &err);

	assert_non_null(v);
	assert_int_equal(err, 0);
	return v;
}

/* The host's side of a guest access: fault under the mmap read lock. */
static vm_fault_t vfault(struct sgx_mm *mm, struct sgx_vepc *v, unsigned long addr,
			 unsigned long index, bool may_retry)
{
	vm_fault_t r;

	pthread_rwlock_rdlock(&mm->mmap_lock);
	r = sgx_vepc_fault(v, mm, addr, index, may_retry);
	pthread_rwlock_unlock(&mm->mmap_lock);
	return r;
}

/* Fault file page @index in at @base + index pages; return its EPC page. */
static struct sgx_epc_page *vtouch(struct t_ctx *c, struct sgx_vepc *v, unsigned long base,
				   unsigned long index)
{
	unsigned long addr = base + index * 4096;

	assert_int_equal(vfault(c->mm, v, addr, index, true), VM_FAULT_NOPAGE);
	assert_non_null(sim_pte(c->mm, addr));
	assert_ptr_equal(sim_pte(c->mm, addr), sgx_vepc_load(v, index));
	return sgx_vepc_load(v, index);
}

static void *epc(struct sgx_epc_page *page)
{
	void *p = sgx_get_epc_virt_addr(page);

	assert_non_null(p);
	return p;
}

static bool epcm_valid(struct t_ctx *c, struct sgx_epc_page *page)
{
	struct sgx_epcm_view v;

	assert_int_equal(sgx_cpu_epcm(c->drv->cpu, epc(page), &v), 0);
	return v.valid;
}

static bool page_is_free(struct sgx_epc_page *page)
{
	return __atomic_load_n(&page->flags, __ATOMIC_RELAXED) & SGX_EPC_PAGE_IS_FREE;
}

/* The guest: ECREATE a SECS into a vEPC page. */
static void guest_ecreate(struct t_ctx *c, struct sgx_epc_page *page, uint64_t base)
{
	static struct sgx_secs src __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pi = { 0 };

	t_secs_src(&src, base, T_SIZE, T_ATTR);
	pi.contents = (uint64_t)(uintptr_t)&src;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	assert_int_equal(sgx_ecreate(c->drv->cpu, &pi, epc(page)), 0);
}

/* The guest: EADD a RW page at offset @off of @secs's enclave into @page. */
static void guest_eadd(struct t_ctx *c, struct sgx_epc_page *secs, struct sgx_epc_page *page,
		       uint64_t base, uint64_t off)
{
	static uint8_t src[4096] __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = T_RW };
	struct sgx_pageinfo pi = { 0 };

	pi.addr = base + off;
	pi.contents = (uint64_t)(uintptr_t)src;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	pi.secs = (uint64_t)(uintptr_t)epc(secs);
	assert_int_equal(sgx_eadd(c->drv->cpu, &pi, epc(page)), 0);
}

static long nr_zombies(struct t_ctx *c)
{
	struct cds_list_head *pos;
	long n = 0;

	sgx_mutex_lock(&c->drv->zombie_secs_pages_lock);
	cds_list_for_each(pos, &c->drv->zombie_secs_pages)
		n++;
	sgx_mutex_unlock(&c->drv->zombie_secs_pages_lock);
	return n;
}

static bool is_zombie(struct t_ctx *c, struct sgx_epc_page *page)
{
	struct cds_list_head *pos;
	bool found = false;

	sgx_mutex_lock(&c->drv->zombie_secs_pages_lock);
	cds_list_for_each(pos, &c->drv->zombie_secs_pages)
		found |= pos == &page->list;
	sgx_mutex_unlock(&c->drv->zombie_secs_pages_lock);
	return found;
}

static long nr_populated(struct sgx_vepc *v)
{
	struct sgx_epc_page *page;
	unsigned long index;
	long n = 0;

	sgx_vepc_for_each_page(v, index, page)
		n++;
	return n;
}

/* free + in use + leaked == total, with @in_use counted by the test. */
static void assert_accounting(struct t_ctx *c, long in_use)
{
	assert_int_equal(nr_free(c) + in_use + (long)atomic_load(&c->drv->stats.leaked),
			 (long)c->drv->nr_total_pages);
}

static struct epcm *epcm_entry(struct t_ctx *c, struct sgx_epc_page *page)
{
	uint32_t f = epc_frame(c->drv->cpu, (uint64_t)(uintptr_t)epc(page));

	assert_true(f != NO_FRAME);
	return epcm_of(c->drv->cpu, f);
}

static struct secs_hidden *secs_state(struct t_ctx *c, struct sgx_epc_page *secs)
{
	return secs_hidden(c->drv->cpu, epc_frame(c->drv->cpu, (uint64_t)(uintptr_t)epc(secs)));
}


static int fail_insert(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		       struct sgx_epc_page *page)
{
	(void)host, (void)mm, (void)encl, (void)addr, (void)page;
	return -ENOMEM;
}

/* ---- open, mmap ---- */

static void open_mmap_and_usage_count(void **state)
{
	struct sgx_vepc *v1, *v2, *v0;
	unsigned long index = 0;
	struct t_ctx c;

	(void)state;
	setup(&c, T_PAGES);

	v1 = vopen(&c);
	assert_int_equal(atomic_load(&c.drv->nr_encls), 1);
	assert_ptr_equal(v1->drv, c.drv);
	assert_int_equal(sgx_vepc_mmap(v1, false), -EINVAL);
	assert_int_equal(sgx_vepc_mmap(v1, true), 0);
	/* Nothing is allocated before the first fault. */
	assert_int_equal(nr_free(&c), T_PAGES);

	v2 = vopen(&c);
	assert_int_equal(atomic_load(&c.drv->nr_encls), 2);

	/* An untouched file: nothing to find, nothing to remove. */
	v0 = vopen(&c);
	assert_null(sgx_vepc_load(v0, 0));
	assert_null(sgx_vepc_find(v0, &index));
	assert_int_equal(sgx_vepc_ioctl(v0, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	sgx_vepc_release(v0);
	assert_int_equal(atomic_load(&c.drv->nr_encls), 2);

	sgx_vepc_release(v2);
	assert_int_equal(atomic_load(&c.drv->nr_encls), 1);
	sgx_vepc_release(v1);
	assert_int_equal(nr_free(&c), T_PAGES);
	teardown(&c);
}

/* ---- faults ---- */

static void fault_allocates_lazily(void **state)
{
	struct sgx_epc_page *p0, *p3;
	struct sgx_mm *mm2;
	struct sgx_vepc *v;
	struct t_ctx c;
	int inserts;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);

	p0 = vtouch(&c, v, MAP_A, 0);
	assert_int_equal(nr_free(&c), T_PAGES - 1);
	p3 = vtouch(&c, v, MAP_A, 3);
	assert_int_equal(nr_free(&c), T_PAGES - 2);
	assert_ptr_not_equal(p0, p3);
	assert_int_equal(nr_populated(v), 2);

	/* Raw EPC for the guest: owned by the file, EPCM invalid, untracked. */
	assert_ptr_equal(p0->owner, v);
	assert_false(epcm_valid(&c, p0));
	assert_false(p0->flags & (SGX_EPC_PAGE_RECLAIMER_TRACKED | SGX_EPC_PAGE_IS_FREE));
	assert_int_equal(atomic_load(&c.drv->nr_active), 0);

	/*
	 * The same offset through a second mapping: no allocation, and (the
	 * Q15 fix, docs/quirks.md) a PTE for the existing page.
	 */
	inserts = atomic_load(&c.h.nr_inserts);
	assert_int_equal(vfault(c.mm, v, MAP_B, 0, true), VM_FAULT_NOPAGE);
	assert_ptr_equal(sim_pte(c.mm, MAP_B), p0);
	assert_int_equal(atomic_load(&c.h.nr_inserts), inserts + 1);
	assert_int_equal(nr_free(&c), T_PAGES - 2);

	/* munmap and map again: the PTE comes back, the page is the same. */
	c.h.ops.zap(&c.h, c.mm, NULL, MAP_A, 8 * 4096);
	assert_null(sim_pte(c.mm, MAP_A));
	assert_ptr_equal(vtouch(&c, v, MAP_A, 0), p0);
	assert_int_equal(nr_free(&c), T_PAGES - 2);

	/* Another address space sees the same pages. */
	mm2 = sim_mm_new(&c.h, 2);
	assert_int_equal(vfault(mm2, v, MAP_C + 3 * 4096, 3, false), VM_FAULT_NOPAGE);
	assert_ptr_equal(sim_pte(mm2, MAP_C + 3 * 4096), p3);
	assert_int_equal(nr_free(&c), T_PAGES - 2);

	assert_accounting(&c, 2);

	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_true(page_is_free(p0) && page_is_free(p3));
	sim_mm_free(mm2);
	teardown(&c);
}

/*
 * A vEPC file has no size, as in the kernel: the page at any file offset
 * (vm_pgoff + offset, up to ULONG_MAX) is allocated on its first touch, and
 * walks see the pages in index order.
 */
static void fault_at_any_offset(void **state)
{
	static const unsigned long idx[] = {
		ULONG_MAX, 0, 1UL << 30, 63, 64, (1UL << 51) + 5, 4096, ULONG_MAX - 1, 7,
	};
	const unsigned long n = sizeof(idx) / sizeof(idx[0]);
	struct sgx_epc_page *page, *p[sizeof(idx) / sizeof(idx[0])];
	unsigned long index, prev = 0;
	struct sgx_vepc *v;
	struct t_ctx c;
	long seen = 0;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);
	for (unsigned long i = 0; i < n; i++) {
		p[i] = vtouch(&c, v, MAP_A + i * 4096 - idx[i] * 4096, idx[i]);
		assert_ptr_equal(p[i]->owner, v);
	}
	assert_int_equal(nr_free(&c), T_PAGES - (long)n);
	for (unsigned long i = 0; i < n; i++)
		assert_ptr_equal(sgx_vepc_load(v, idx[i]), p[i]);
	assert_null(sgx_vepc_load(v, 1));
	assert_null(sgx_vepc_load(v, 1UL << 31));
	assert_null(sgx_vepc_load(v, ULONG_MAX - 2));

	/* In index order, each once, ending after ULONG_MAX. */
	sgx_vepc_for_each_page(v, index, page) {
		bool known = false;

		assert_true(!seen || index > prev);
		for (unsigned long i = 0; i < n; i++)
			known |= idx[i] == index && p[i] == page;
		assert_true(known);
		prev = index;
		seen++;
	}
	assert_int_equal(seen, n);
	index = 65;
	assert_ptr_equal(sgx_vepc_find(v, &index), p[6]);
	assert_int_equal(index, 4096);

	/*
	 * REMOVE_ALL walks in index order too: a SECS at offset 0 with its
	 * child at 2^30 fails once, a SECS at ULONG_MAX after its child at
	 * ULONG_MAX - 1 does not.
	 */
	guest_ecreate(&c, p[1], T_BASE);
	guest_eadd(&c, p[1], p[2], T_BASE, 0);
	guest_ecreate(&c, p[0], 2 * T_BASE);
	guest_eadd(&c, p[0], p[7], 2 * T_BASE, 0);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 1);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);

	guest_ecreate(&c, p[0], 2 * T_BASE);
	guest_eadd(&c, p[0], p[3], 2 * T_BASE, 0);
	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_int_equal(nr_zombies(&c), 0);
	teardown(&c);
}

/*
 * Every EPC page in one file, each at an offset of its own far from the
 * others: the most nodes the store can need.  None of the faults fails.
 */
static void fault_fills_epc_at_scattered_offsets(void **state)
{
	struct sgx_epc_page *page;
	unsigned long index, i = 0;
	struct sgx_vepc *v;
	struct t_ctx c;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);
	for (unsigned long k = 0; k < T_PAGES; k++) {
		index = k << 58 | k;
		assert_int_equal(vfault(c.mm, v, MAP_A + k * 4096, index, false), VM_FAULT_NOPAGE);
	}
	assert_int_equal(nr_free(&c), 0);
	assert_int_equal(atomic_load(&c.drv->stats.leaked), 0);
	sgx_vepc_for_each_page(v, index, page) {
		assert_int_equal(index, i << 58 | i);
		assert_ptr_equal(sim_pte(c.mm, MAP_A + i * 4096), page);
		i++;
	}
	assert_int_equal(i, T_PAGES);
	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	teardown(&c);
}

static void fault_with_epc_exhausted(void **state)
{
	struct sgx_epc_page *held[T_PAGES], *p0, *p1;
	int (*insert)(void *, struct sgx_mm *, struct sgx_encl *, unsigned long,
		      struct sgx_epc_page *);
	struct sgx_vepc *v;
	struct t_ctx c;
	int n = 0;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);

	/* Somebody else takes every page; nothing is reclaimable. */
	for (;;) {
		struct sgx_epc_page *p = sgx_alloc_epc_page(c.drv, NULL, false);

		if (IS_ERR(p)) {
			assert_int_equal(PTR_ERR(p), -ENOMEM);
			break;
		}
		held[n++] = p;
	}
	assert_int_equal(n, T_PAGES);
	assert_int_equal(nr_free(&c), 0);

	/* -ENOMEM is a SIGBUS, retry or not. */
	assert_int_equal(vfault(c.mm, v, MAP_A, 0, true), VM_FAULT_SIGBUS);
	assert_int_equal(vfault(c.mm, v, MAP_A, 0, false), VM_FAULT_SIGBUS);
	assert_null(sgx_vepc_load(v, 0));
	assert_null(sim_pte(c.mm, MAP_A));

	/* Something reclaimable: -EBUSY, a retry when allowed, else SIGBUS. */
	sgx_mark_page_reclaimable(c.drv, held[0]);
	assert_int_equal(vfault(c.mm, v, MAP_A, 0, true), VM_FAULT_NOPAGE);
	assert_null(sgx_vepc_load(v, 0));
	assert_null(sim_pte(c.mm, MAP_A));
	assert_int_equal(vfault(c.mm, v, MAP_A, 0, false), VM_FAULT_SIGBUS);
	assert_null(sgx_vepc_load(v, 0));
	assert_int_equal(sgx_unmark_page_reclaimable(c.drv, held[0]), 0);

	/* A page comes free: the retried fault succeeds. */
	sgx_free_epc_page(c.drv, held[--n]);
	p0 = vtouch(&c, v, MAP_A, 0);
	assert_int_equal(nr_free(&c), 0);

	/* The PTE cannot go in: the new page is given back, SIGBUS. */
	sgx_free_epc_page(c.drv, held[--n]);
	insert = c.h.ops.insert_page;
	c.h.ops.insert_page = fail_insert;
	assert_int_equal(vfault(c.mm, v, MAP_A + 4096, 1, true), VM_FAULT_SIGBUS);
	assert_null(sgx_vepc_load(v, 1));
	assert_int_equal(nr_free(&c), 1);
	/* ... and for an existing page the page stays where it is. */
	assert_int_equal(vfault(c.mm, v, MAP_B, 0, true), VM_FAULT_SIGBUS);
	assert_ptr_equal(sgx_vepc_load(v, 0), p0);
	assert_int_equal(nr_free(&c), 1);
	c.h.ops.insert_page = insert;
	p1 = vtouch(&c, v, MAP_A, 1);
	assert_ptr_not_equal(p0, p1);
	assert_int_equal(nr_free(&c), 0);
	assert_accounting(&c, n + 2);

	sgx_vepc_release(v);
	while (n)
		sgx_free_epc_page(c.drv, held[--n]);
	assert_int_equal(nr_free(&c), T_PAGES);
	teardown(&c);
}

struct fault_thread {
	struct t_ctx *c;
	struct sgx_vepc *v;
	unsigned long base;
};

static void *fault_thread_fn(void *arg)
{
	struct fault_thread *t = arg;

	for (unsigned long i = 0; i < 16; i++) {
		if (vfault(t->c->mm, t->v, t->base + i * 4096, i, true) != VM_FAULT_NOPAGE)
			return (void *)1;
	}
	return NULL;
}

static void fault_concurrent_same_offsets(void **state)
{
	struct fault_thread t[4];
	pthread_t th[4];
	struct sgx_vepc *v;
	struct t_ctx c;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);
	for (int k = 0; k < 4; k++) {
		t[k] = (struct fault_thread){ &c, v, MAP_A + (unsigned long)k * 0x100000 };
		assert_int_equal(pthread_create(&th[k], NULL, fault_thread_fn, &t[k]), 0);
	}
	for (int k = 0; k < 4; k++) {
		void *r;

		pthread_join(th[k], &r);
		assert_null(r);
	}
	/* One page per offset, mapped at every thread's address. */
	assert_int_equal(nr_free(&c), T_PAGES - 16);
	for (int k = 0; k < 4; k++)
		for (unsigned long i = 0; i < 16; i++)
			assert_ptr_equal(sim_pte(c.mm, t[k].base + i * 4096), sgx_vepc_load(v, i));
	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	teardown(&c);
}

/* ---- SGX_IOC_VEPC_REMOVE_ALL ---- */

static void remove_all_resets_epcm(void **state)
{
	struct sgx_epc_page *p[8];
	struct sgx_vepc *v;
	struct t_ctx c;
	uint64_t eremoves;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);
	for (unsigned long i = 0; i < 8; i++)
		p[i] = vtouch(&c, v, MAP_A, i);

	/* Enclave 1: SECS before its children in the walk. */
	guest_ecreate(&c, p[0], T_BASE);
	guest_eadd(&c, p[0], p[1], T_BASE, 0);
	guest_eadd(&c, p[0], p[2], T_BASE, 0x1000);
	/* Enclave 2: SECS after its child. */
	guest_ecreate(&c, p[5], 2 * T_BASE);
	guest_eadd(&c, p[5], p[4], 2 * T_BASE, 0);
	/* p[3], p[6], p[7] stay raw. */

	/* Bad argument, unknown commands: nothing happens. */
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 1), -EINVAL);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, MAP_A), -EINVAL);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_ENCLAVE_CREATE, 0), -ENOTTY);
	assert_int_equal(sgx_vepc_ioctl(v, 0, 0), -ENOTTY);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL | 0x10000, 0), -ENOTTY);
	assert_true(epcm_valid(&c, p[0]) && epcm_valid(&c, p[1]) && epcm_valid(&c, p[5]));

	/* The first SECS still had children when the walk reached it. */
	eremoves = atomic_load(&c.drv->stats.eremove);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 1);
	assert_int_equal(atomic_load(&c.drv->stats.eremove), eremoves + 7);
	assert_true(epcm_valid(&c, p[0]));
	for (int i = 1; i < 8; i++)
		assert_false(epcm_valid(&c, p[i]));
	/* User space calls again: now everything is gone. */
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	for (int i = 0; i < 8; i++)
		assert_false(epcm_valid(&c, p[i]));

	/* The pages stay allocated and mapped. */
	assert_int_equal(nr_free(&c), T_PAGES - 8);
	for (unsigned long i = 0; i < 8; i++) {
		assert_ptr_equal(sgx_vepc_load(v, i), p[i]);
		assert_ptr_equal(sim_pte(c.mm, MAP_A + i * 4096), p[i]);
		assert_false(page_is_free(p[i]));
	}

	/* The guest reboots and builds again in the same pages. */
	guest_ecreate(&c, p[1], T_BASE);
	guest_eadd(&c, p[1], p[0], T_BASE, 0);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);

	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	teardown(&c);
}

static void remove_all_counts_secs_with_children_elsewhere(void **state)
{
	struct sgx_epc_page *s1, *s2, *c1, *c2, *c3;
	struct sgx_vepc *a, *b;
	struct t_ctx c;

	(void)state;
	setup(&c, T_PAGES);
	a = vopen(&c);
	b = vopen(&c);
	s1 = vtouch(&c, a, MAP_A, 0);
	s2 = vtouch(&c, a, MAP_A, 1);
	c1 = vtouch(&c, b, MAP_B, 0);
	c2 = vtouch(&c, b, MAP_B, 1);
	c3 = vtouch(&c, b, MAP_B, 2);
	guest_ecreate(&c, s1, T_BASE);
	guest_ecreate(&c, s2, 2 * T_BASE);
	guest_eadd(&c, s1, c1, T_BASE, 0);
	guest_eadd(&c, s2, c2, 2 * T_BASE, 0);
	guest_eadd(&c, s2, c3, 2 * T_BASE, 0x1000);

	/* The protocol: every file, then again those that returned non-zero. */
	assert_int_equal(sgx_vepc_ioctl(a, SGX_IOC_VEPC_REMOVE_ALL, 0), 2);
	assert_int_equal(sgx_vepc_ioctl(b, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	assert_int_equal(sgx_vepc_ioctl(a, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	assert_false(epcm_valid(&c, s1) || epcm_valid(&c, s2));
	assert_false(epcm_valid(&c, c1) || epcm_valid(&c, c2) || epcm_valid(&c, c3));
	assert_int_equal(nr_free(&c), T_PAGES - 5);

	sgx_vepc_release(a);
	sgx_vepc_release(b);
	assert_int_equal(nr_zombies(&c), 0);
	assert_int_equal(nr_free(&c), T_PAGES);
	teardown(&c);
}

static void remove_all_ebusy(void **state)
{
	struct sgx_epc_page *secs, *reg, *raw;
	struct tcs_hidden lp = { 0 };
	struct sgx_vepc *v;
	struct t_ctx c;
	const char *out;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);
	secs = vtouch(&c, v, MAP_A, 0);
	reg = vtouch(&c, v, MAP_A, 1);
	raw = vtouch(&c, v, MAP_A, 2);
	guest_ecreate(&c, secs, T_BASE);
	guest_eadd(&c, secs, reg, T_BASE, 0);

	/* A vCPU is inside the enclave: EREMOVE of its REG page is refused. */
	track_enter(secs_state(&c, secs), &lp);
	t_cap_start();
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), -EBUSY);
	out = t_cap_end();
	assert_null(strstr(out, "WARNING"));
	assert_true(epcm_valid(&c, secs) && epcm_valid(&c, reg));
	track_leave(secs_state(&c, secs), &lp);

	/* An EREMOVE running on the page elsewhere (#GP): -EBUSY, no warning. */
	assert_true(page_lock_excl(epcm_entry(&c, reg)));
	t_cap_start();
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), -EBUSY);
	out = t_cap_end();
	assert_null(strstr(out, "WARNING"));
	page_unlock_excl(epcm_entry(&c, reg));
	assert_true(epcm_valid(&c, reg));

	/* Once the vCPU has left, the usual two rounds. */
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 1);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	assert_false(epcm_valid(&c, secs) || epcm_valid(&c, reg) || epcm_valid(&c, raw));

	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_int_equal(atomic_load(&c.drv->stats.leaked), 0);
	teardown(&c);
}

static void *populate_fn(void *arg)
{
	struct fault_thread *t = arg;

	for (unsigned long i = 0; i < 32; i++) {
		if (vfault(t->c->mm, t->v, t->base + i * 4096, i, true) != VM_FAULT_NOPAGE)
			return (void *)1;
	}
	return NULL;
}

/* REMOVE_ALL walks without the lock while faults populate the file. */
static void remove_all_races_faults(void **state)
{
	struct fault_thread t;
	struct sgx_vepc *v;
	struct t_ctx c;
	pthread_t th;
	void *r;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);
	t = (struct fault_thread){ &c, v, MAP_A };
	assert_int_equal(pthread_create(&th, NULL, populate_fn, &t), 0);
	while (nr_populated(v) < 32)
		assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	pthread_join(th, &r);
	assert_null(r);
	assert_int_equal(sgx_vepc_ioctl(v, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	assert_int_equal(nr_free(&c), T_PAGES - 32);
	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	teardown(&c);
}

/* ---- release ---- */

static void release_frees_every_page(void **state)
{
	struct sgx_epc_page *p[8];
	struct sgx_vepc *v;
	struct t_ctx c;

	(void)state;
	setup(&c, T_PAGES);
	v = vopen(&c);
	for (unsigned long i = 0; i < 8; i++)
		p[i] = vtouch(&c, v, MAP_A, i);
	/* SECS first (fails in pass 1, goes in pass 2) and SECS last. */
	guest_ecreate(&c, p[0], T_BASE);
	for (int i = 1; i < 4; i++)
		guest_eadd(&c, p[0], p[i], T_BASE, (uint64_t)i * 0x1000);
	guest_ecreate(&c, p[6], 2 * T_BASE);
	guest_eadd(&c, p[6], p[5], 2 * T_BASE, 0);
	guest_eadd(&c, p[6], p[4], 2 * T_BASE, 0x1000);
	assert_int_equal(nr_free(&c), T_PAGES - 8);
	assert_accounting(&c, 8);

	sgx_vepc_release(v);
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_int_equal(nr_zombies(&c), 0);
	assert_int_equal(atomic_load(&c.drv->stats.leaked), 0);
	for (int i = 0; i < 8; i++) {
		assert_true(page_is_free(p[i]));
		assert_null(p[i]->owner);
		assert_false(epcm_valid(&c, p[i]));
	}
	teardown(&c);
}

static void release_parks_zombie_secs(void **state)
{
	struct sgx_epc_page *secs, *raw, *k1, *k2, *k3;
	struct sgx_vepc *a, *b, *d;
	struct t_ctx c;

	(void)state;
	setup(&c, T_PAGES);
	a = vopen(&c);
	b = vopen(&c);
	d = vopen(&c);
	secs = vtouch(&c, a, MAP_A, 0);
	raw = vtouch(&c, a, MAP_A, 1);
	k1 = vtouch(&c, b, MAP_B, 0);
	k2 = vtouch(&c, b, MAP_B, 1);
	k3 = vtouch(&c, d, MAP_C, 0);
	guest_ecreate(&c, secs, T_BASE);
	guest_eadd(&c, secs, k1, T_BASE, 0);
	guest_eadd(&c, secs, k2, T_BASE, 0x1000);
	guest_eadd(&c, secs, k3, T_BASE, 0x2000);

	/* The SECS has children elsewhere: it becomes a zombie. */
	sgx_vepc_release(a);
	assert_int_equal(nr_zombies(&c), 1);
	assert_true(is_zombie(&c, secs));
	assert_true(epcm_valid(&c, secs));
	assert_false(page_is_free(secs));
	assert_true(page_is_free(raw));
	assert_int_equal(nr_free(&c), T_PAGES - 4);
	assert_accounting(&c, 3 + 1);

	/* Its children in b go, but one is left in d: still a zombie. */
	sgx_vepc_release(b);
	assert_int_equal(nr_zombies(&c), 1);
	assert_true(is_zombie(&c, secs));
	assert_int_equal(nr_free(&c), T_PAGES - 2);

	/* The last child goes: the zombie is freed too. */
	sgx_vepc_release(d);
	assert_int_equal(nr_zombies(&c), 0);
	assert_true(page_is_free(secs));
	assert_false(epcm_valid(&c, secs));
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_int_equal(atomic_load(&c.drv->stats.leaked), 0);
	teardown(&c);
}

/*
 * Two releases race: a's SECS has its only child in b, and b is released
 * completely between a's second pass and a's zombie step (a test point).
 * b finds no zombie to retry yet; a must retry its own new zombie and free
 * it (the kernel parks it for good -- a review finding).
 */
static struct t_ctx *race_c;
static struct sgx_vepc *race_b;

static void release_b_in_window(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
				unsigned long addr)
{
	(void)ctx;
	(void)encl;
	(void)addr;
	if (tp != SGX_TP_VEPC_ZOMBIES || !race_b)
		return;
	struct sgx_vepc *b = race_b;

	race_b = NULL;
	sgx_vepc_release(b);
	assert_int_equal(nr_zombies(race_c), 0);
}

static void release_race_frees_own_zombie(void **state)
{
	struct sgx_epc_page *secs, *kid;
	struct sgx_vepc *a, *b;
	struct t_ctx c;

	(void)state;
	setup(&c, T_PAGES);
	a = vopen(&c);
	b = vopen(&c);
	secs = vtouch(&c, a, MAP_A, 0);
	kid = vtouch(&c, b, MAP_B, 0);
	guest_ecreate(&c, secs, T_BASE);
	guest_eadd(&c, secs, kid, T_BASE, 0);

	race_c = &c;
	race_b = b;
	c.drv->cfg.test_point = release_b_in_window;
	sgx_vepc_release(a);
	c.drv->cfg.test_point = NULL;
	assert_null(race_b);
	assert_int_equal(nr_zombies(&c), 0);
	assert_true(page_is_free(secs));
	assert_false(epcm_valid(&c, secs));
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_int_equal(atomic_load(&c.drv->nr_encls), 0);
	teardown(&c);
}

/*
 * A page whose EREMOVE fails at release for a reason other than
 * SGX_CHILD_PRESENT gets the leak warning and, as in the kernel, goes on the
 * zombie list with the pinned SECS pages: the next vEPC release retries it.
 * Leaked for good, it would keep the EPC from being empty, and on a CPU with
 * EUPDATESVN every later first open would fail with -EIO.
 */
static void release_parks_failed_eremove_as_zombie(void **state)
{
	struct sgx_epc_page *stuck, *other, *secs, *kid;
	struct tcs_hidden lp = { 0 };
	struct sgx_vepc *v, *keep, *a, *b;
	struct t_ctx c;
	const char *out;

	(void)state;
	setup_cpu(&c, T_PAGES, true);

	/*
	 * An ENCLS of the guest holds the page (its EPCM lock) for the whole
	 * release: EREMOVE #GPs in both passes and at the zombie retry.
	 */
	v = vopen(&c);
	keep = vopen(&c);
	stuck = vtouch(&c, v, MAP_A, 0);
	other = vtouch(&c, v, MAP_A, 1);
	guest_ecreate(&c, stuck, T_BASE);
	assert_true(page_lock_excl(epcm_entry(&c, stuck)));
	t_cap_start();
	sgx_vepc_release(v);
	out = t_cap_end();
	assert_non_null(strstr(out, "WARNING: EREMOVE returned 1073741837 (0x4000000d) and an EPC "
				    "page was leaked. SGX may become unusable."));
	assert_true(is_zombie(&c, stuck));
	assert_null(stuck->owner);
	assert_false(page_is_free(stuck));
	assert_true(page_is_free(other));
	assert_int_equal(atomic_load(&c.drv->stats.leaked), 0);
	assert_accounting(&c, 1);
	page_unlock_excl(epcm_entry(&c, stuck));

	/* The next release retries it: the EPC is empty again. */
	sgx_vepc_release(keep);
	assert_int_equal(nr_zombies(&c), 0);
	assert_true(page_is_free(stuck));
	assert_false(epcm_valid(&c, stuck));
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_int_equal(atomic_load(&c.drv->nr_encls), 0);
	/* So the next first open's EUPDATESVN succeeds. */
	v = vopen(&c);
	sgx_vepc_release(v);

	/*
	 * A vCPU is inside an enclave whose SECS is in b and one child in a:
	 * releasing a gets SGX_ENCLAVE_ACT for the child.  Once the vCPU has
	 * left, b's release frees the child and then its SECS.
	 */
	a = vopen(&c);
	b = vopen(&c);
	kid = vtouch(&c, a, MAP_A, 0);
	secs = vtouch(&c, b, MAP_B, 0);
	guest_ecreate(&c, secs, 2 * T_BASE);
	guest_eadd(&c, secs, kid, 2 * T_BASE, 0);
	track_enter(secs_state(&c, secs), &lp);
	sgx_vepc_release(a);
	assert_true(is_zombie(&c, kid));
	assert_true(epcm_valid(&c, kid));
	track_leave(secs_state(&c, secs), &lp);
	sgx_vepc_release(b);
	assert_int_equal(nr_zombies(&c), 0);
	assert_true(page_is_free(kid) && page_is_free(secs));
	assert_int_equal(nr_free(&c), T_PAGES);
	assert_int_equal(atomic_load(&c.drv->stats.leaked), 0);
	teardown(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_mmap_and_usage_count),
		cmocka_unit_test(fault_allocates_lazily),
		cmocka_unit_test(fault_at_any_offset),
		cmocka_unit_test(fault_fills_epc_at_scattered_offsets),
		cmocka_unit_test(fault_with_epc_exhausted),
		cmocka_unit_test(fault_concurrent_same_offsets),
		cmocka_unit_test(remove_all_resets_epcm),
		cmocka_unit_test(remove_all_counts_secs_with_children_elsewhere),
		cmocka_unit_test(release_race_frees_own_zombie),
		cmocka_unit_test(remove_all_ebusy),
		cmocka_unit_test(remove_all_races_faults),
		cmocka_unit_test(release_frees_every_page),
		cmocka_unit_test(release_parks_zombie_secs),
		cmocka_unit_test(release_parks_failed_eremove_as_zombie),
	};

	return T_RUN(tests);
}
