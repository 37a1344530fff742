// SPDX-License-Identifier: MIT
/*
 * driver/epc_cgroup.c: the "sgx_epc" misc resource (files, charge and
 * uncharge up the tree, max, peak, events, capacity), limits enforced by
 * reclaim within a cgroup, asynchronous reclaim, the EPC OOM killer and what
 * a killed enclave may still do, and the races of docs/races.md, R6: the OOM
 * killer against the reclaimer holding the victim's pages, and against
 * faults.  Where v5 and v17 of the cgroup series differ, a test runs the
 * same scenario under both and pins each outcome.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drv_helpers.h"
#include "helpers.h"
#include "internal.h"
#include "softsgx/uapi/sgx.h"

#define PG 4096UL
#define BASE 0x400000000UL

static struct sgx_cgroup *mkcg(struct sgx_cgroup *parent, const char *name)
{
	int err = 0;
	struct sgx_cgroup *cg = sgx_cgroup_create(parent, name, &err);

	assert_non_null(cg);
	assert_int_equal(err, 0);
	return cg;
}

/* A driver whose EPC cgroup follows v5 of the series (the default is v17). */
static struct sgx_driver *mk_drv_v5(struct sim_host *h, unsigned long pages)
{
	struct sgx_driver *drv = mk_drv(h, pages, true);

	sgx_cg_set_policy(drv, SGX_CG_V5);
	return drv;
}

static void set_max(struct sgx_cgroup *cg, unsigned long pages)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "sgx_epc %lu\n", pages * PG);
	assert_int_equal(sgx_cgroup_write(cg, "misc.max", buf), 0);
}

static void expect_file(struct sgx_cgroup *cg, const char *file, const char *want)
{
	char buf[128];
	int n = sgx_cgroup_read(cg, file, buf, sizeof(buf));

	assert_true(n > 0);
	assert_string_equal(buf, want);
}

static uint64_t usage_pages(struct sgx_cgroup *cg)
{
	return atomic_load(&cg->usage) / PG;
}

static struct sgx_epc_page *alloc_in(struct sgx_driver *drv, struct sgx_cgroup *cg, bool reclaim)
{
	struct sgx_epc_page *p;

	sim_set_cgroup(cg);
	p = sgx_alloc_epc_page(drv, NULL, reclaim);
	sim_set_cgroup(NULL);
	return p;
}

/* One fault, no retry loop: the vm_fault_t of the handler (or 0 when a PTE exists). */
static int fault_once(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr)
{
	vm_fault_t r;

	if (sim_pte(mm, addr))
		return 0;
	pthread_rwlock_rdlock(&mm->mmap_lock);
	r = sgx_vma_fault(mm, encl, addr, VM_READ | VM_WRITE);
	pthread_rwlock_unlock(&mm->mmap_lock);
	return (int)r;
}

/* ---- the files ---- */

static void test_files_and_parsing(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 64, true);
	struct sgx_cgroup *root = &drv->root_cg, *a = mkcg(root, "a");
	char buf[64], tiny[8];

	(void)state;
	/* The root: capacity, current, peak; no max and no events files. */
	expect_file(root, "misc.capacity", "sgx_epc 262144\n");
	expect_file(root, "misc.current", "sgx_epc 0\n");
	expect_file(root, "misc.peak", "sgx_epc 0\n");
	assert_int_equal(sgx_cgroup_read(root, "misc.max", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(sgx_cgroup_read(root, "misc.events", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(sgx_cgroup_write(root, "misc.max", "sgx_epc 4096"), -ENOENT);
	/* A child: no capacity, an unlimited max, events at zero. */
	assert_int_equal(sgx_cgroup_read(a, "misc.capacity", buf, sizeof(buf)), -ENOENT);
	expect_file(a, "misc.max", "sgx_epc max\n");
	expect_file(a, "misc.events", "sgx_epc.max 0\n");
	expect_file(a, "misc.events.local", "sgx_epc.max 0\n");
	assert_int_equal(sgx_cgroup_read(a, "misc.nope", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(sgx_cgroup_read(a, "misc.max", tiny, sizeof(tiny)), -EOVERFLOW);

	/* Writes: a number of bytes, or "max"; anything else changes nothing. */
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 40960\n"), 0);
	expect_file(a, "misc.max", "sgx_epc 40960\n");
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc max"), 0);
	expect_file(a, "misc.max", "sgx_epc max\n");
	set_max(a, 3);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", ""), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sev 4096"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc -1"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 12ab"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 1 2"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 99999999999999999999999"),
			 -ERANGE);
	assert_int_equal(sgx_cgroup_write(a, "misc.current", "sgx_epc 0"), -ENOENT);
	expect_file(a, "misc.max", "sgx_epc 12288\n");
	/* As misc_cg_max_write(): kstrtou64(value, 0), one space, stripped ends. */
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 0x2000"), 0);
	expect_file(a, "misc.max", "sgx_epc 8192\n");
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 010"), 0);
	expect_file(a, "misc.max", "sgx_epc 8\n");
	assert_int_equal(sgx_cgroup_write(a, "misc.max", " \tsgx_epc +4096 \n"), 0);
	expect_file(a, "misc.max", "sgx_epc 4096\n");
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc\t4096"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc  4096"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 0X1A000"), 0);
	expect_file(a, "misc.max", "sgx_epc 106496\n");
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 4096"), 0);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 0x"), -EINVAL);
	{
		/* kernfs takes up to a page (4096 bytes) and refuses more with -E2BIG. */
		static char huge[4098];

		memset(huge, ' ', 4096);
		memcpy(huge, "sgx_epc 8192", 12);
		assert_int_equal(sgx_cgroup_write(a, "misc.max", huge), 0);
		expect_file(a, "misc.max", "sgx_epc 8192\n");
		huge[4096] = ' ';
		assert_int_equal(sgx_cgroup_write(a, "misc.max", huge), -E2BIG);
		expect_file(a, "misc.max", "sgx_epc 8192\n");
		assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 4096"), 0);
	}
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 08"), -EINVAL);
	/* The name is looked up before the number is parsed. */
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sev 99999999999999999999"), -EINVAL);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sgx_epc 99999999999999999999"),
			 -ERANGE);
	assert_int_equal(sgx_cgroup_write(a, "misc.max", "sev max"), -EINVAL);
	expect_file(a, "misc.max", "sgx_epc 4096\n");
	sgx_cgroup_run_work(drv);

	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

/* ---- charging ---- */

/*
 * Charges go up the tree; a limit hit counts events_local where it is and
 * events there and in every ancestor but the root; the usage is rolled back
 * everywhere; peaks stay.
 */
static void test_charge_hierarchy_and_events(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 64, true);
	struct sgx_cgroup *root = &drv->root_cg, *a = mkcg(root, "a"), *b = mkcg(a, "b");
	struct sgx_epc_page *p[4];

	(void)state;
	set_max(a, 3);
	set_max(b, 2);
	sgx_cgroup_run_work(drv);
	p[0] = alloc_in(drv, b, false);
	p[1] = alloc_in(drv, b, false);
	assert_false(IS_ERR(p[0]) || IS_ERR(p[1]));
	assert_int_equal(usage_pages(b), 2);
	assert_int_equal(usage_pages(a), 2);
	assert_int_equal(usage_pages(root), 2);
	assert_int_equal(sgx_cgroup_of_page(drv, p[0]), b);

	/* b is full, and nothing in it is reclaimable: -ENOMEM, b's event. */
	assert_ptr_equal(alloc_in(drv, b, true), ERR_PTR(-ENOMEM));
	assert_int_equal(usage_pages(b), 2);
	assert_int_equal(usage_pages(a), 2);
	assert_int_equal(usage_pages(root), 2);
	expect_file(b, "misc.events.local", "sgx_epc.max 1\n");
	expect_file(b, "misc.events", "sgx_epc.max 1\n");
	expect_file(a, "misc.events.local", "sgx_epc.max 0\n");
	expect_file(a, "misc.events", "sgx_epc.max 1\n");

	/* a has room for one more, charged to a itself; then a is full. */
	p[2] = alloc_in(drv, a, false);
	assert_false(IS_ERR(p[2]));
	assert_ptr_equal(alloc_in(drv, a, false), ERR_PTR(-ENOMEM));
	expect_file(a, "misc.events.local", "sgx_epc.max 1\n");
	expect_file(a, "misc.events", "sgx_epc.max 2\n");
	/* The root's own tasks are not limited by a. */
	p[3] = alloc_in(drv, NULL, false);
	assert_false(IS_ERR(p[3]));
	assert_int_equal(sgx_cgroup_of_page(drv, p[3]), root);
	expect_file(root, "misc.current", "sgx_epc 16384\n");

	for (int i = 0; i < 4; i++)
		sgx_free_epc_page(drv, p[i]);
	expect_file(root, "misc.current", "sgx_epc 0\n");
	expect_file(a, "misc.current", "sgx_epc 0\n");
	expect_file(a, "misc.peak", "sgx_epc 12288\n");
	expect_file(root, "misc.peak", "sgx_epc 16384\n");
	assert_int_equal(sgx_cgroup_destroy(b), 0);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

/*
 * misc.c's capacity test: with every EPC page charged, a cgroup's next
 * charge is refused by the charge itself (an event, no passing peak), not
 * by the empty free lists after it (checked to fail without the test).
 */
static void test_charge_capacity(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 64, true);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a");
	struct sgx_epc_page *p[64];

	(void)state;
	assert_int_equal(drv->nr_total_pages, 64);
	for (int i = 0; i < 64; i++) {
		p[i] = alloc_in(drv, a, false);
		assert_false(IS_ERR(p[i]));
	}
	assert_ptr_equal(alloc_in(drv, a, false), ERR_PTR(-ENOMEM));
	expect_file(a, "misc.events.local", "sgx_epc.max 1\n");
	expect_file(a, "misc.peak", "sgx_epc 262144\n");
	for (int i = 0; i < 64; i++)
		sgx_free_epc_page(drv, p[i]);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

/* Over the limit without reclaim but with something reclaimable: -EBUSY and queued work. */
static void test_no_reclaim_queues_work(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 256, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a");
	struct t_enc e;

	(void)state;
	sim_set_cgroup(a);
	enc_build(drv, mm, &e, BASE, 0x100000, 8, true, true); /* SECS + VA + 8 */
	sim_set_cgroup(NULL);
	assert_int_equal(usage_pages(a), 10);
	set_max(a, 10); /* v17: no work for a write */
	assert_false(atomic_load(&a->work_pending));

	/* An EAUG fault of a thread in a: -EBUSY inside, the fault is retried. */
	sim_set_cgroup(a);
	assert_int_equal(fault_once(mm, e.encl, BASE + 20 * PG), VM_FAULT_NOPAGE);
	assert_null(sim_pte(mm, BASE + 20 * PG));
	assert_true(atomic_load(&a->work_pending));
	assert_int_equal(atomic_load(&drv->cg_work), 1);
	assert_int_equal(usage_pages(a), 10);

	/* With reclaim allowed, a pending signal stops the charge: -ERESTARTSYS. */
	sim_set_cgroup(a);
	atomic_store(&h.signal_pending, true);
	assert_ptr_equal(sgx_alloc_epc_page(drv, NULL, true), ERR_PTR(-ERESTARTSYS));
	atomic_store(&h.signal_pending, false);
	assert_int_equal(usage_pages(a), 10);
	/*
	 * A fault's charge too: the series tests the signal before it looks
	 * at @reclaim, and the fault gets SIGBUS (it used to be retried).
	 */
	atomic_store(&h.signal_pending, true);
	assert_int_equal(fault_once(mm, e.encl, BASE + 21 * PG), VM_FAULT_SIGBUS);
	atomic_store(&h.signal_pending, false);
	assert_null(sim_pte(mm, BASE + 21 * PG));

	/* The work reclaims within a (none of its pages were accessed). */
	sgx_cgroup_run_work(drv);
	assert_false(atomic_load(&a->work_pending));
	assert_true(usage_pages(a) < 10);
	assert_true(st(&drv->stats.ewb) > 0);
	assert_int_equal(fault_once(mm, e.encl, BASE + 20 * PG), VM_FAULT_NOPAGE);
	assert_non_null(sim_pte(mm, BASE + 20 * PG));
	sim_set_cgroup(NULL);
	check_invariant(drv, &e.encl, 1, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(usage_pages(a), 0);
	sim_mm_free(mm);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

/*
 * A limit is kept by reclaiming inside the cgroup: building an enclave of 3x
 * its limit evicts only its own pages, never those of an enclave elsewhere,
 * and every page reads back intact.
 */
static void test_limit_reclaims_own_pages_only(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 512, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a"), *b = mkcg(&drv->root_cg, "b");
	struct sgx_encl *both[2];
	struct t_enc ea, eb;

	(void)state;
	set_max(a, 40);
	sgx_cgroup_run_work(drv);
	sim_set_cgroup(b);
	enc_build(drv, mm, &eb, BASE + 0x1000000, 0x100000, 30, true, true);
	sim_set_cgroup(a);
	enc_build(drv, mm, &ea, BASE, 0x100000, 120, true, true);
	assert_true(usage_pages(a) <= 40);
	assert_true(atomic_load(&ea.encl->nr_evicted) >= 80);
	assert_int_equal(atomic_load(&eb.encl->nr_evicted), 0);
	for (unsigned int i = 0; i < 30; i++)
		assert_true(enc_resident(&eb, i));
	/* Every charge that found a full cgroup counted, before it reclaimed. */
	assert_true(atomic_load(&a->events_local) > 0);
	assert_int_equal(atomic_load(&a->events), atomic_load(&a->events_local));
	assert_int_equal(atomic_load(&b->events), 0);

	/* Read all of a's pages back (direct reclaim makes room for each fault). */
	for (unsigned int i = 0; i < 120; i++) {
		int r;

		while ((r = fault_once(mm, ea.encl, BASE + i * PG)) == VM_FAULT_NOPAGE &&
		       !sim_pte(mm, BASE + i * PG))
			sgx_cgroup_run_work(drv);
		assert_int_equal(r, r == VM_FAULT_NOPAGE ? VM_FAULT_NOPAGE : 0);
		enc_check_contents(drv, &ea, i);
		assert_true(usage_pages(a) <= 40);
	}
	sim_set_cgroup(NULL);
	assert_int_equal(atomic_load(&eb.encl->nr_evicted), 0);
	both[0] = ea.encl;
	both[1] = eb.encl;
	check_invariant(drv, both, 2, 0);

	sim_mm_exit(mm);
	enc_release(&ea);
	enc_release(&eb);
	sim_mm_free(mm);
	assert_int_equal(usage_pages(&drv->root_cg), 0);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	assert_int_equal(sgx_cgroup_destroy(b), 0);
	sim_driver_destroy(drv);
}

/* Global reclaim goes round the cgroups: each batch comes from the next one. */
static void test_global_reclaim_round_robin(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 256, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a"), *b = mkcg(&drv->root_cg, "b");
	struct t_enc ea, eb;
	long ea0, eb0;

	(void)state;
	sim_set_cgroup(a);
	enc_build(drv, mm, &ea, BASE, 0x100000, 64, false, true);
	sim_set_cgroup(b);
	enc_build(drv, mm, &eb, BASE + 0x1000000, 0x100000, 64, false, true);
	sim_set_cgroup(NULL);
	/* The cursor starts at the root (nothing there), then a, then b. */
	sgx_reclaim_pages(drv);
	ea0 = atomic_load(&ea.encl->nr_evicted);
	eb0 = atomic_load(&eb.encl->nr_evicted);
	assert_int_equal(ea0 + eb0, SGX_NR_TO_SCAN);
	assert_true(ea0 > 0 && eb0 == 0);
	sgx_reclaim_pages(drv);
	assert_int_equal(atomic_load(&eb.encl->nr_evicted), SGX_NR_TO_SCAN);
	assert_int_equal(atomic_load(&ea.encl->nr_evicted), ea0);

	/* v5 walks the tree in pre-order from the root every time: a, and a again (v17: a, b). */
	sgx_cg_set_policy(drv, SGX_CG_V5);
	sgx_reclaim_pages(drv);
	sgx_reclaim_pages(drv);
	assert_int_equal(atomic_load(&ea.encl->nr_evicted), ea0 + 2 * SGX_NR_TO_SCAN);
	assert_int_equal(atomic_load(&eb.encl->nr_evicted), SGX_NR_TO_SCAN);

	enc_release(&ea);
	enc_release(&eb);
	sim_mm_free(mm);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	assert_int_equal(sgx_cgroup_destroy(b), 0);
	sim_driver_destroy(drv);
}

/*
 * vEPC pages are charged like any EPC page but never reclaimable: a guest
 * over its limit gets SIGBUS at once (-ENOMEM), with nothing queued; its
 * pages are uncharged when the file goes.
 */
static void test_vepc_charged(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 64, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *g = mkcg(&drv->root_cg, "guest");
	unsigned long base = 0x7000000000UL;
	struct sgx_vepc *v;
	int err = 0;

	(void)state;
	set_max(g, 4);
	sgx_cgroup_run_work(drv);
	v = sgx_vepc_open(drv, &err);
	assert_non_null(v);
	sim_set_cgroup(g);
	for (unsigned long i = 0; i < 4; i++) {
		pthread_rwlock_rdlock(&mm->mmap_lock);
		assert_int_equal(sgx_vepc_fault(v, mm, base + i * PG, i, true), VM_FAULT_NOPAGE);
		pthread_rwlock_unlock(&mm->mmap_lock);
		assert_non_null(sim_pte(mm, base + i * PG));
	}
	pthread_rwlock_rdlock(&mm->mmap_lock);
	assert_int_equal(sgx_vepc_fault(v, mm, base + 4 * PG, 4, true), VM_FAULT_SIGBUS);
	pthread_rwlock_unlock(&mm->mmap_lock);
	sim_set_cgroup(NULL);
	assert_int_equal(usage_pages(g), 4);
	assert_false(atomic_load(&g->work_pending));
	expect_file(g, "misc.events", "sgx_epc.max 1\n");

	/*
	 * With something reclaimable in the cgroup (an enclave of its own), a
	 * guest at the limit is told to retry (NOPAGE) while the work makes room.
	 */
	{
		struct t_enc e;

		set_max(g, 12);
		sim_set_cgroup(g);
		enc_build(drv, mm, &e, BASE, 0x100000, 6, false, true);
		assert_int_equal(usage_pages(g), 12);
		pthread_rwlock_rdlock(&mm->mmap_lock);
		assert_int_equal(sgx_vepc_fault(v, mm, base + 5 * PG, 5, false), VM_FAULT_SIGBUS);
		assert_int_equal(sgx_vepc_fault(v, mm, base + 5 * PG, 5, true), VM_FAULT_NOPAGE);
		pthread_rwlock_unlock(&mm->mmap_lock);
		assert_null(sim_pte(mm, base + 5 * PG));
		assert_true(atomic_load(&g->work_pending));
		sgx_cgroup_run_work(drv);
		pthread_rwlock_rdlock(&mm->mmap_lock);
		assert_int_equal(sgx_vepc_fault(v, mm, base + 5 * PG, 5, true), VM_FAULT_NOPAGE);
		pthread_rwlock_unlock(&mm->mmap_lock);
		assert_non_null(sim_pte(mm, base + 5 * PG));
		sim_set_cgroup(NULL);
		enc_release(&e);
	}

	sim_mm_exit(mm);
	sgx_vepc_release(v);
	assert_int_equal(usage_pages(g), 0);
	sim_mm_free(mm);
	assert_int_equal(sgx_cgroup_destroy(g), 0);
	sim_driver_destroy(drv);
}

/*
 * A parent at its limit because of one child: a charge from the empty
 * sibling gets -ENOMEM in both revisions, which reclaim only below the
 * charging cgroup (memcg would reclaim below the parent and evict the full
 * sibling's pages; softsgx did so before it followed the series).  The
 * sibling's own pages are reclaimed for it, so it can still run.  A
 * destroyed cgroup's pages: v17's round robin passes over it, v5's walk
 * does not.
 */
static void sibling_at_parent_limit(enum sgx_cg_policy policy)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 256, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *p = mkcg(&drv->root_cg, "p"), *c1 = mkcg(p, "c1"), *c2 = mkcg(p, "c2");
	struct t_enc e1;

	sgx_cg_set_policy(drv, policy);
	set_max(p, 22);
	sgx_cgroup_run_work(drv);
	sim_set_cgroup(c1);
	enc_build(drv, mm, &e1, BASE, 0x100000, 20, false, true);
	sim_set_cgroup(NULL);
	assert_int_equal(usage_pages(p), 22);
	assert_ptr_equal(alloc_in(drv, c2, true), ERR_PTR(-ENOMEM));
	assert_ptr_equal(alloc_in(drv, c2, false), ERR_PTR(-ENOMEM));
	assert_int_equal(atomic_load(&e1.encl->nr_evicted), 0);
	expect_file(p, "misc.events.local", "sgx_epc.max 2\n");
	assert_false(atomic_load(&c2->work_pending));

	/* c1 destroyed with its pages. */
	assert_int_equal(sgx_cgroup_destroy(c1), 0);
	for (int i = 0; i < 8; i++)
		sgx_reclaim_pages(drv);
	assert_int_equal(atomic_load(&e1.encl->nr_evicted), policy == SGX_CG_V5 ? 21 : 0);

	enc_release(&e1);
	sim_mm_free(mm);
	assert_int_equal(usage_pages(p), 0);
	assert_int_equal(sgx_cgroup_destroy(c2), 0);
	assert_int_equal(sgx_cgroup_destroy(p), 0);
	sgx_cgroup_run_work(drv);
	for (unsigned int i = 1; i < SGX_CG_MAX; i++)
		assert_null(atomic_load(&drv->cgroups[i]));
	sim_driver_destroy(drv);
}

static void test_sibling_at_parent_limit(void **state)
{
	(void)state;
	sibling_at_parent_limit(SGX_CG_V17);
	sibling_at_parent_limit(SGX_CG_V5);
}

/*
 * v17's threshold: at the limit for limits up to SGX_CG_LOW_LIMIT pages,
 * SGX_CG_MIN_FREE_PAGE below it above that; and the SGX2 ioctls' direct
 * reclaim starts with the caller's cgroup when it is there, however much
 * EPC is free.
 */
static void test_threshold_and_direct_reclaim(void **state)
{
	struct sgx_enclave_restrict_permissions rp = { .offset = 0, .length = PG,
						       .permissions = SGX_SECINFO_R };
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 512, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a"), *b = mkcg(&drv->root_cg, "b");
	struct t_enc e, eb;
	uint64_t ewb;

	(void)state;
	sim_set_cgroup(a);
	enc_build(drv, mm, &e, BASE, 0x200000, 170, true, true);
	assert_int_equal(usage_pages(a), 172);
	/* Above SGX_CG_LOW_LIMIT pages: SGX_CG_MIN_FREE_PAGE of headroom. */
	set_max(a, 205); /* 173 > 172 */
	assert_false(sgx_cgroup_should_reclaim(a));
	set_max(a, 204); /* 172 */
	assert_true(sgx_cgroup_should_reclaim(a));
	/* At or below it: the limit itself. */
	set_max(a, 128);
	assert_true(sgx_cgroup_should_reclaim(a));
	sim_set_cgroup(b);
	enc_build(drv, mm, &eb, BASE + 0x1000000, 0x100000, 98, false, true);
	assert_int_equal(usage_pages(b), 100);
	set_max(b, 101);
	assert_false(sgx_cgroup_should_reclaim(b));
	set_max(b, 100);
	assert_true(sgx_cgroup_should_reclaim(b));
	sim_set_cgroup(a);

	/* Plenty of free EPC, yet RESTRICT reclaims in a first. */
	set_max(a, 172);
	assert_true(nr_free(drv) > SGX_NR_LOW_PAGES);
	ewb = st(&drv->stats.ewb);
	assert_int_equal(sgx_ioctl(e.encl, mm, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
				   (unsigned long)&rp),
			 0);
	assert_true(st(&drv->stats.ewb) > ewb);
	/* v5's direct reclaim is mainline's: nothing while EPC is plentiful. */
	sgx_cg_set_policy(drv, SGX_CG_V5);
	ewb = st(&drv->stats.ewb);
	rp.offset = 100 * PG;
	rp.result = 0;
	rp.count = 0;
	assert_int_equal(sgx_ioctl(e.encl, mm, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
				   (unsigned long)&rp),
			 0);
	assert_int_equal(st(&drv->stats.ewb), ewb);
	sim_set_cgroup(NULL);

	sim_mm_exit(mm);
	enc_release(&e);
	enc_release(&eb);
	sim_mm_free(mm);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	assert_int_equal(sgx_cgroup_destroy(b), 0);
	sim_driver_destroy(drv);
}

/* ---- the tree ---- */

static void test_create_destroy(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 64, true);
	struct sgx_cgroup *root = &drv->root_cg, *a = mkcg(root, "a"), *b = mkcg(a, "b");
	struct sgx_cgroup *cgs[SGX_CG_MAX];
	struct sgx_epc_page *p;
	int err = 0, n = 0;

	(void)state;
	assert_int_equal(sgx_cgroup_destroy(root), -EINVAL);
	assert_int_equal(sgx_cgroup_destroy(a), -EBUSY); /* has a child */
	assert_null(sgx_cgroup_create(NULL, "x", &err));
	assert_int_equal(err, -EINVAL);

	/* A destroyed cgroup keeps its charges until its pages go. */
	p = alloc_in(drv, b, false);
	assert_false(IS_ERR(p));
	assert_int_equal(sgx_cgroup_destroy(b), 0);
	assert_int_equal(sgx_cgroup_destroy(b), -EINVAL);
	assert_null(sgx_cgroup_create(b, "under-dead", &err));
	assert_int_equal(err, -EINVAL);
	assert_int_equal(usage_pages(a), 1);
	/* Tasks still pointing at it are charged to its live parent instead. */
	{
		struct sgx_epc_page *q = alloc_in(drv, b, false);

		assert_false(IS_ERR(q));
		assert_ptr_equal(sgx_cgroup_of_page(drv, q), a);
		assert_int_equal(usage_pages(a), 2);
		sgx_free_epc_page(drv, q);
		assert_int_equal(usage_pages(a), 1);
	}
	sgx_free_epc_page(drv, p);
	assert_int_equal(usage_pages(a), 0);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sgx_cgroup_run_work(drv); /* reaps them */
	for (unsigned int i = 1; i < SGX_CG_MAX; i++)
		assert_null(atomic_load(&drv->cgroups[i]));

	/*
	 * A parent destroyed after its child, while the child still has a
	 * charged page and queued work: the child pins it, so the uncharge and
	 * the work can still walk up through it (found by the fuzzer).
	 */
	a = mkcg(root, "a2");
	b = mkcg(a, "b2");
	set_max(b, 8);
	p = alloc_in(drv, b, false);
	assert_false(IS_ERR(p));
	assert_int_equal(sgx_cgroup_destroy(b), 0);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sgx_cgroup_run_work(drv);
	assert_ptr_equal(atomic_load(&drv->cgroups[a->id]), a);
	assert_int_equal(usage_pages(a), 1);
	sgx_free_epc_page(drv, p);
	assert_int_equal(usage_pages(root), 0);
	sgx_cgroup_run_work(drv);
	for (unsigned int i = 1; i < SGX_CG_MAX; i++)
		assert_null(atomic_load(&drv->cgroups[i]));

	/* The table holds SGX_CG_MAX - 1 cgroups below the root. */
	while ((cgs[n] = sgx_cgroup_create(root, "many", &err)))
		n++;
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(n, SGX_CG_MAX - 1);
	for (int i = 0; i < n; i++)
		assert_int_equal(sgx_cgroup_destroy(cgs[i]), 0);
	sim_driver_destroy(drv);
}

/* ---- the OOM killer ---- */

struct oom_world {
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_mm *mm;
	struct sgx_cgroup *cg;
	struct t_enc e;
};

/* An initialized, mapped enclave of @nr pages in a cgroup of its own; v5. */
static void oom_world(struct oom_world *w, unsigned int nr)
{
	w->drv = mk_drv_v5(&w->h, 256);
	w->mm = sim_mm_new(&w->h, 1);
	w->cg = mkcg(&w->drv->root_cg, "victim");
	sim_set_cgroup(w->cg);
	enc_build(w->drv, w->mm, &w->e, BASE, 0x100000, nr, true, true);
	sim_set_cgroup(NULL);
	for (unsigned int i = 0; i < nr; i++)
		assert_int_equal(sim_access(w->mm, BASE + i * PG, VM_READ), 0);
}

static void oom_world_free(struct oom_world *w)
{
	sim_mm_exit(w->mm);
	if (w->e.encl)
		enc_release(&w->e);
	sim_mm_free(w->mm);
	assert_int_equal(usage_pages(w->cg), 0);
	assert_int_equal(usage_pages(&w->drv->root_cg), 0);
	assert_int_equal(st(&w->drv->stats.leaked), 0);
	assert_int_equal(nr_free(w->drv), (long)w->drv->nr_total_pages);
	assert_int_equal(sgx_cgroup_destroy(w->cg), 0);
	sim_driver_destroy(w->drv);
}

/* Evict every reclaimable page of the world's enclave (and so its SECS). */
static void evict_all(struct oom_world *w)
{
	for (int i = 0; i < 64 && atomic_load(&w->cg->subtree_reclaimable) > 0; i++)
		sgx_cgroup_reclaim(w->cg, SGX_NR_TO_SCAN);
	assert_int_equal(atomic_load(&w->cg->subtree_reclaimable), 0);
}

/*
 * misc.max lowered below the usage, v5: the write queues the work, which
 * reclaims down to the limit less one page; what is left at the limit (the
 * VA page) cannot be reclaimed, so the enclave is killed.  It keeps its EPC
 * until its file is released, but may no longer fault, reload, map, add,
 * init or run SGX2 operations, and ptrace sees nothing.  (The blend before
 * killed only strictly over the limit: at limit 1, no kill.)
 */
static void test_oom_kill_on_lowered_limit(void **state)
{
	struct sgx_enclave_remove_pages rm = { .offset = 0, .length = PG };
	struct sgx_mm *mm2;
	struct oom_world w;
	uint8_t word[8];

	(void)state;
	oom_world(&w, 20);
	assert_int_equal(usage_pages(w.cg), 22);
	assert_int_equal(sim_nr_ptes(w.mm), 20);

	/* 23: the usage is at the limit less one, nothing to do. */
	set_max(w.cg, 23);
	sgx_cgroup_run_work(w.drv);
	assert_int_equal(st(&w.drv->stats.ewb), 0);
	/*
	 * 22: one page over the goal; the request is clamped to 16 pages.  The
	 * first 16 were just accessed (aged, put back), the next 16 are 4
	 * unaged ones (put back) and 12 aged ones (written back).
	 */
	set_max(w.cg, 22);
	sgx_cgroup_run_work(w.drv);
	assert_int_equal(st(&w.drv->stats.ewb), 12);
	assert_int_equal(st(&w.drv->stats.oom_kills), 0);
	/* 1: everything reclaimed, the VA page is at the limit: killed. */
	set_max(w.cg, 1);
	sgx_cgroup_run_work(w.drv);
	assert_int_equal(st(&w.drv->stats.oom_kills), 1);
	assert_true(encl_test_flag(w.e.encl, SGX_ENCL_NO_MEMORY));
	/* Everything was evicted first (the SECS too): the VA page is what is left. */
	assert_int_equal(atomic_load(&w.e.encl->nr_evicted), 21);
	assert_null(w.e.encl->secs.epc_page);
	assert_int_equal(usage_pages(w.cg), 1);
	/* Zapped and forgotten by every address space. */
	assert_int_equal(sim_nr_ptes(w.mm), 0);
	assert_true(cds_list_empty(&w.e.encl->mm_list));

	/* What a killed enclave can no longer do. */
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE), VM_FAULT_SIGBUS);
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE + 40 * PG), VM_FAULT_SIGBUS);
	assert_int_equal(sgx_vma_access(w.e.encl, BASE, word, 8, false, VM_READ), -EFAULT);
	mm2 = sim_mm_new(&w.h, 2);
	assert_int_equal(sim_mmap(mm2, w.e.encl, BASE, 0x100000, VM_READ), -ENOMEM);
	sim_mm_free(mm2);
	assert_int_equal(sgx_ioctl(w.e.encl, w.mm, SGX_IOC_ENCLAVE_REMOVE_PAGES,
				   (unsigned long)&rm),
			 -ENOMEM);
	assert_int_equal(st(&w.drv->stats.eldu), 0);
	assert_int_equal(st(&w.drv->stats.eaug), 0);
	/* The victim's list entry is gone with the kill: asked again, no victim. */
	assert_false(sgx_cgroup_oom(w.cg));
	assert_int_equal(st(&w.drv->stats.oom_kills), 1);

	/* The release frees it all. */
	oom_world_free(&w);
}

/*
 * The same lowered limit under v17: the write does nothing; the enclave
 * keeps its pages and is never killed.  Its next fault that needs a page
 * queues the work, which reclaims all it can; then nothing is left to
 * reclaim and that fault gets SIGBUS from the charge.
 */
static void test_lowered_limit_v17(void **state)
{
	struct oom_world w;

	(void)state;
	oom_world(&w, 20);
	sgx_cg_set_policy(w.drv, SGX_CG_V17);
	set_max(w.cg, 0);
	assert_false(atomic_load(&w.cg->work_pending));
	sgx_cgroup_run_work(w.drv);
	assert_int_equal(st(&w.drv->stats.ewb), 0);
	assert_int_equal(usage_pages(w.cg), 22);
	assert_int_equal(sim_nr_ptes(w.mm), 20);
	/* A first touch past the last page, by a task of the cgroup: EAUG needs a page. */
	sim_set_cgroup(w.cg);
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE + 40 * PG), VM_FAULT_NOPAGE);
	assert_true(atomic_load(&w.cg->work_pending));
	sgx_cgroup_run_work(w.drv);
	assert_int_equal(atomic_load(&w.e.encl->nr_evicted), 21);
	assert_int_equal(usage_pages(w.cg), 1);
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE + 40 * PG), VM_FAULT_SIGBUS);
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE), VM_FAULT_SIGBUS);
	sim_set_cgroup(NULL);
	assert_int_equal(st(&w.drv->stats.oom_kills), 0);
	assert_false(encl_test_flag(w.e.encl, SGX_ENCL_NO_MEMORY));
	oom_world_free(&w);
}

/* v5's goal above 32 pages: the limit less one, less 8 more. */
static void test_v5_threshold(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv_v5(&h, 256);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a");
	struct t_enc e;

	(void)state;
	sim_set_cgroup(a);
	enc_build(drv, mm, &e, BASE, 0x100000, 33, false, true);
	sim_set_cgroup(NULL);
	assert_int_equal(usage_pages(a), 35);
	set_max(a, 44); /* goal 35 */
	sgx_cgroup_run_work(drv);
	assert_int_equal(st(&drv->stats.ewb), 0);
	set_max(a, 43); /* goal 34: one page, clamped to 16 */
	sgx_cgroup_run_work(drv);
	assert_int_equal(st(&drv->stats.ewb), 16);
	assert_int_equal(usage_pages(a), 19);
	/* v17 at the same limit: below its threshold (the limit itself up to 128 pages). */
	sgx_cg_set_policy(drv, SGX_CG_V17);
	set_max(a, 20);
	assert_false(sgx_cgroup_should_reclaim(a));
	set_max(a, 19);
	assert_true(sgx_cgroup_should_reclaim(a));

	enc_release(&e);
	sim_mm_free(mm);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

/*
 * Two enclaves, misc.max 0: v5's work kills the first, finds the usage
 * still over the limit (a kill frees nothing until the release) and goes
 * on to the next victim in the same run.  v17 kills nothing.  (Before, the
 * work stopped after one kill and nothing ran it again.)
 */
static void two_enclaves_limit_zero(enum sgx_cg_policy policy)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 256, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a");
	struct t_enc e1, e2;
	uint64_t kills = policy == SGX_CG_V5 ? 2 : 0;

	sgx_cg_set_policy(drv, policy);
	sim_set_cgroup(a);
	enc_build(drv, mm, &e1, BASE, 0x100000, 8, true, true);
	enc_build(drv, mm, &e2, BASE + 0x1000000, 0x100000, 8, true, true);
	sim_set_cgroup(NULL);
	set_max(a, 0);
	sgx_cgroup_run_work(drv);
	assert_int_equal(st(&drv->stats.oom_kills), kills);
	assert_int_equal(encl_test_flag(e1.encl, SGX_ENCL_NO_MEMORY), !!kills);
	assert_int_equal(encl_test_flag(e2.encl, SGX_ENCL_NO_MEMORY), !!kills);
	assert_false(atomic_load(&a->work_pending));

	sim_mm_exit(mm);
	enc_release(&e1);
	enc_release(&e2);
	sim_mm_free(mm);
	assert_int_equal(usage_pages(a), 0);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

static void test_two_enclaves_limit_zero(void **state)
{
	(void)state;
	two_enclaves_limit_zero(SGX_CG_V5);
	two_enclaves_limit_zero(SGX_CG_V17);
}

/*
 * Pages that are young every time the reclaimer looks (a hook touches each
 * one as it is isolated).  v5's work asks for min(usage - goal, 32) pages a
 * round: six rounds of 32 find them all young; after more than five failed
 * rounds age is ignored, and rounds seven and eight write back 32 and the
 * last 8 (and the SECS).  v17's work ages and keeps them, round after round.
 */
static struct oom_world *young_w;
static int young_isolated;

static void touch_when_isolated(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
				unsigned long addr)
{
	(void)ctx;
	if (tp != SGX_TP_RECLAIM_ISOLATED || encl != young_w->e.encl)
		return;
	young_isolated++;
	assert_int_equal(sim_access(young_w->mm, addr, VM_READ), 0);
}

static void always_young(enum sgx_cg_policy policy)
{
	struct oom_world w;

	oom_world(&w, 40);
	sgx_cg_set_policy(w.drv, policy);
	young_w = &w;
	young_isolated = 0;
	w.drv->cfg.test_point = touch_when_isolated;
	set_max(w.cg, 0);
	sgx_cgroup_queue_work(w.cg); /* v17 queues none for the write */
	sgx_cgroup_run_work(w.drv);
	w.drv->cfg.test_point = NULL;
	if (policy == SGX_CG_V5) {
		assert_int_equal(young_isolated, 7 * 32 + 8);
		assert_int_equal(st(&w.drv->stats.ewb), 41);
	} else {
		assert_int_equal(young_isolated, SGX_CG_WORK_ROUNDS * SGX_NR_TO_SCAN);
		assert_int_equal(st(&w.drv->stats.ewb), 0);
	}
	/* Not done yet (v5: its VA page is left to kill): queued again. */
	assert_true(atomic_load(&w.cg->work_pending));
	assert_int_equal(st(&w.drv->stats.oom_kills), 0);
	sgx_cgroup_run_work(w.drv);
	assert_int_equal(st(&w.drv->stats.oom_kills), policy == SGX_CG_V5);
	oom_world_free(&w);
}

static void test_always_young(void **state)
{
	(void)state;
	always_young(SGX_CG_V5);
	always_young(SGX_CG_V17);
}

/*
 * A charge that finds its cgroup full while all the cgroup's pages are in
 * a reclaimer's batch (nothing listed, nothing to take): v5 gives up with
 * -ENOMEM after more than five such rounds; v17 goes on until a signal
 * (here the host reports one at the 20th look) stops it with -ERESTARTSYS.
 */
static int inflight_checks;
static long inflight_result;

static bool signal_at_20th(void *host)
{
	(void)host;
	return ++inflight_checks >= 20;
}

static void charge_while_in_flight(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
				   unsigned long addr)
{
	struct oom_world *w = ctx;

	(void)addr;
	if (tp != SGX_TP_RECLAIM_BLOCKED || encl != w->e.encl || inflight_result)
		return;
	assert_int_equal(atomic_load(&w->cg->subtree_listed), 0);
	inflight_result = PTR_ERR(alloc_in(w->drv, w->cg, true));
}

static void charge_in_flight(enum sgx_cg_policy policy)
{
	struct oom_world w;

	oom_world(&w, 8);
	sgx_cg_set_policy(w.drv, policy);
	set_max(w.cg, 10);
	sgx_reclaim_pages(w.drv); /* ages them */
	inflight_checks = 0;
	inflight_result = 0;
	w.h.ops.signal_pending = signal_at_20th;
	w.drv->cfg.test_point = charge_while_in_flight;
	w.drv->cfg.test_ctx = &w;
	sgx_reclaim_pages(w.drv);
	w.drv->cfg.test_point = NULL;
	if (policy == SGX_CG_V5) {
		assert_int_equal(inflight_result, -ENOMEM);
		assert_int_equal(inflight_checks, 6);
	} else {
		assert_int_equal(inflight_result, -ERESTARTSYS);
		assert_int_equal(inflight_checks, 20);
	}
	assert_int_equal(st(&w.drv->stats.ewb), 9);
	oom_world_free(&w);
}

static void test_charge_in_flight(void **state)
{
	(void)state;
	charge_in_flight(SGX_CG_V5);
	charge_in_flight(SGX_CG_V17);
}

/*
 * A work that needs more than SGX_CG_WORK_ROUNDS rounds queues itself
 * again, and a later pass finishes it: the enclave is killed in the end.
 * (Found by the demo: the work gave up after its rounds and never ran
 * again, so a big enclave under misc.max 0 was never killed.)  Checked to
 * fail without the requeue.
 */
static void test_work_requeues(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv_v5(&h, 512);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a");
	struct t_enc e;
	int passes = 1;

	(void)state;
	sim_set_cgroup(a);
	enc_build(drv, mm, &e, BASE, 0x400000, 400, false, true);
	sim_set_cgroup(NULL);
	set_max(a, 0);
	sgx_cgroup_run_work(drv);
	assert_false(encl_test_flag(e.encl, SGX_ENCL_NO_MEMORY));
	assert_true(atomic_load(&a->work_pending));
	while (atomic_load(&a->work_pending) && passes++ < 100)
		sgx_cgroup_run_work(drv);
	assert_true(encl_test_flag(e.encl, SGX_ENCL_NO_MEMORY));
	assert_int_equal(usage_pages(a), 1); /* its VA page */

	sim_mm_exit(mm);
	enc_release(&e);
	sim_mm_free(mm);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

/* A kill in the middle of a multi-page ADD_PAGES: the pages before it count. */
static struct sgx_cgroup *kill_cg;
static int kill_calls;

static bool kill_on_third_check(void *host)
{
	(void)host;
	if (++kill_calls == 3)
		assert_true(sgx_cgroup_oom(kill_cg));
	return false;
}

/*
 * An enclave's release is under way: its children are gone (they no longer
 * count as reclaimable) but its SECS and VA page are still charged.  A limit
 * lowered now puts the cgroup over it with nothing reclaimable -- for an
 * instant.  The killer must wait for the release, not take the bystander
 * (review finding: the series skips the unpinnable enclave and kills the
 * next one).  Once the release is done the cgroup is within its limit; a
 * limit that is still too low then gets its kill.  Fails with the wait
 * compiled out (SGX_NO_OOM_RELEASE_WAIT_FIX): v5 kills the bystander.
 */
static struct sgx_cgroup *bystander_cg;
static int bystander_runs;

static void lower_limit_mid_release(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
				    unsigned long addr)
{
	struct sgx_driver *drv = ctx;

	(void)encl;
	(void)addr;
	if (tp != SGX_TP_RELEASE_CHILDREN || bystander_runs++)
		return;
	/* The bystander's VA page + the releasing enclave's SECS and VA page. */
	assert_int_equal(usage_pages(bystander_cg), 3);
	assert_int_equal(atomic_load(&bystander_cg->subtree_reclaimable), 0);
	set_max(bystander_cg, 2);
	sgx_cgroup_run_work(drv);
	assert_int_equal(st(&drv->stats.oom_kills), 0);
}

static void test_oom_waits_for_release(void **state)
{
	struct t_enc bystander, leaving;
	struct sgx_driver *drv;
	struct sgx_mm *mm;
	struct sim_host h;

	(void)state;
	drv = mk_drv_v5(&h, 256);
	mm = sim_mm_new(&h, 1);
	bystander_cg = mkcg(&drv->root_cg, "a");
	bystander_runs = 0;
	sim_set_cgroup(bystander_cg);
	enc_build(drv, mm, &bystander, BASE, 0x100000, 8, true, true);
	for (int i = 0; i < 64 && atomic_load(&bystander_cg->subtree_reclaimable) > 0; i++)
		sgx_cgroup_reclaim(bystander_cg, SGX_NR_TO_SCAN);
	assert_int_equal(usage_pages(bystander_cg), 1);
	enc_build(drv, mm, &leaving, BASE + 0x100000, 0x100000, 8, true, true);
	sim_set_cgroup(NULL);

	drv->cfg.test_point = lower_limit_mid_release;
	drv->cfg.test_ctx = drv;
	sim_mm_exit(mm);
	enc_release(&leaving);
	drv->cfg.test_point = NULL;
	assert_int_equal(bystander_runs, 1);
	assert_false(encl_test_flag(bystander.encl, SGX_ENCL_NO_MEMORY));
	assert_int_equal(usage_pages(bystander_cg), 1);

	/* The work queued while waiting finds the cgroup within its limit now. */
	sgx_cgroup_run_work(drv);
	assert_int_equal(st(&drv->stats.oom_kills), 0);
	/* Still too low after the release: the requeued work does kill. */
	set_max(bystander_cg, 0);
	sgx_cgroup_run_work(drv);
	assert_int_equal(st(&drv->stats.oom_kills), 1);
	assert_true(encl_test_flag(bystander.encl, SGX_ENCL_NO_MEMORY));

	enc_release(&bystander);
	sim_mm_free(mm);
	assert_int_equal(usage_pages(bystander_cg), 0);
	assert_int_equal(nr_free(drv), (long)drv->nr_total_pages);
	assert_int_equal(sgx_cgroup_destroy(bystander_cg), 0);
	sim_driver_destroy(drv);
}

/* An enclave killed before INIT: ADD_PAGES and INIT say -ENOMEM. */
static void test_oom_uninitialized(void **state)
{
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = T_RW };
	static uint8_t src[4 * 4096] __attribute__((aligned(4096)));
	struct sgx_enclave_add_pages ap = {
		.src = (uint64_t)(uintptr_t)src, .offset = 4 * PG, .length = PG,
		.secinfo = (uint64_t)(uintptr_t)&si,
	};
	struct sgx_enclave_init in = { .sigstruct = 0x1000 };
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 64, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *a = mkcg(&drv->root_cg, "a");
	struct t_enc e;

	(void)state;
	sim_set_cgroup(a);
	enc_build(drv, mm, &e, BASE, 0x100000, 2, true, false);
	sim_set_cgroup(NULL);
	/* Nothing of an uninitialized enclave is reclaimable but its children. */
	assert_true(sgx_cgroup_oom(a));
	assert_true(encl_test_flag(e.encl, SGX_ENCL_NO_MEMORY));
	assert_int_equal(sgx_ioctl(e.encl, mm, SGX_IOC_ENCLAVE_ADD_PAGES, (unsigned long)&ap),
			 -ENOMEM);
	assert_int_equal(ap.count, 0);
	assert_int_equal(sgx_ioctl(e.encl, mm, SGX_IOC_ENCLAVE_INIT, (unsigned long)&in),
			 -ENOMEM);
	/* The state checks still come first. */
	assert_int_equal(sgx_ioctl(e.encl, mm, SGX_IOC_ENCLAVE_CREATE, 0), -EINVAL);
	sim_mm_exit(mm);
	enc_release(&e);

	/* Killed between the 2nd and 3rd pages of one ADD_PAGES: -ENOMEM, count 2 pages. */
	sim_set_cgroup(a);
	enc_build(drv, mm, &e, BASE, 0x100000, 2, true, false);
	sim_set_cgroup(NULL);
	kill_cg = a;
	kill_calls = 0;
	h.ops.signal_pending = kill_on_third_check;
	ap.offset = 4 * PG;
	ap.length = 4 * PG;
	ap.count = 0;
	assert_int_equal(sgx_ioctl(e.encl, mm, SGX_IOC_ENCLAVE_ADD_PAGES, (unsigned long)&ap),
			 -ENOMEM);
	assert_int_equal(ap.count, 2 * PG);
	assert_true(encl_test_flag(e.encl, SGX_ENCL_NO_MEMORY));
	assert_null(sgx_encl_page_lookup(e.encl, BASE + 6 * PG));

	sim_mm_exit(mm);
	enc_release(&e);
	sim_mm_free(mm);
	assert_int_equal(usage_pages(a), 0);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	/* An empty cgroup has no victim. */
	a = mkcg(&drv->root_cg, "empty");
	assert_false(sgx_cgroup_oom(a));
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	sim_driver_destroy(drv);
}

/*
 * R6 (docs/races.md), the race of the series' v4 commit message: the
 * reclaimer holds the victim's last reclaimable pages, blocked, between
 * EBLOCK and EWB; they are on no list, so v5's work, run right then, finds
 * the cgroup at its limit with nothing reclaimable and kills the enclave.
 * The kill zaps and drains but frees nothing (the v3 fix), so the
 * reclaimer finishes writing its batch back, and the release then frees
 * every page: nothing lost, nothing used after free.  Fails with the fix
 * compiled out (SGX_NO_OOM_RACE_FIX: the kill frees the VA pages, as v2
 * did, and the batch cannot be written back).  v17 has no killer.
 */
static struct oom_world *race_w;
static int race_oom_runs;

static void work_in_reclaim(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
			    unsigned long addr)
{
	(void)ctx;
	(void)addr;
	if (tp != SGX_TP_RECLAIM_BLOCKED || encl != race_w->e.encl || race_oom_runs++)
		return;
	assert_int_equal(atomic_load(&race_w->cg->subtree_listed), 0);
	sgx_cgroup_run_work(race_w->drv);
	/* The work went on to the victim's other entry ("still going"), then stopped. */
	assert_int_equal(st(&race_w->drv->stats.oom_kills),
			 sgx_cg_policy(race_w->drv) == SGX_CG_V5 ? 1 : 0);
	assert_false(atomic_load(&race_w->cg->work_pending));
}

static void oom_races_reclaimer(enum sgx_cg_policy policy)
{
	struct oom_world w;

	oom_world(&w, 8);
	sgx_cg_set_policy(w.drv, policy);
	/* At its limit (v5's goal is a page below): v5 queues the work, not run yet. */
	set_max(w.cg, 10);
	sgx_reclaim_pages(w.drv); /* the pages were just accessed: aged, kept */
	assert_int_equal(st(&w.drv->stats.ewb), 0);
	race_w = &w;
	race_oom_runs = 0;
	w.drv->cfg.test_point = work_in_reclaim;
	sgx_reclaim_pages(w.drv);
	w.drv->cfg.test_point = NULL;
	assert_int_equal(race_oom_runs, 8);
	/* The batch of 8, then the SECS after the last child, all written back. */
	assert_int_equal(st(&w.drv->stats.ewb), 9);
	assert_int_equal(atomic_load(&w.e.encl->nr_evicted), 9);
	assert_int_equal(st(&w.drv->stats.leaked), 0);
	assert_int_equal(encl_test_flag(w.e.encl, SGX_ENCL_NO_MEMORY), policy == SGX_CG_V5);
	assert_int_equal(sim_nr_ptes(w.mm), 0);
	check_invariant(w.drv, &w.e.encl, 1, 0);
	oom_world_free(&w);
}

static void test_oom_races_reclaimer(void **state)
{
	(void)state;
	oom_races_reclaimer(SGX_CG_V5);
	oom_races_reclaimer(SGX_CG_V17);
}

/*
 * R6's other half, the series' v3 fix: a fault on the victim, whether it lands
 * between the kill's marking and its zap or after the kill, must neither
 * allocate nor reload a page nor map one into an address space that the
 * killer is draining.  Fails with SGX_NO_OOM_RACE_FIX.
 */
static void fault_in_kill(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
			  unsigned long addr)
{
	(void)ctx;
	(void)addr;
	if (tp != SGX_TP_OOM_MARKED)
		return;
	race_oom_runs++;
	/* An evicted page (ELDU) and a hole (EAUG). */
	assert_int_equal(fault_once(race_w->mm, encl, BASE), VM_FAULT_SIGBUS);
	assert_int_equal(fault_once(race_w->mm, encl, BASE + 50 * PG), VM_FAULT_SIGBUS);
}

/* A kill in the EAUG path's window: after the lockless check, before encl->lock. */
static void kill_in_eaug_window(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
				unsigned long addr)
{
	(void)ctx;
	(void)addr;
	if (tp != SGX_TP_EAUG_UNLOCKED || encl != race_w->e.encl || race_oom_runs++)
		return;
	race_w->drv->cfg.test_point = NULL;
	assert_true(sgx_cgroup_oom(race_w->cg));
}

static void test_oom_blocks_faults(void **state)
{
	struct oom_world w;
	long used;

	(void)state;
	oom_world(&w, 8);
	evict_all(&w);
	/* Room in the cgroup, so that only the kill can refuse the faults. */
	used = (long)usage_pages(w.cg);
	race_w = &w;
	race_oom_runs = 0;
	w.drv->cfg.test_point = fault_in_kill;
	assert_true(sgx_cgroup_oom(w.cg));
	w.drv->cfg.test_point = NULL;
	assert_int_equal(race_oom_runs, 1);
	/* And after the kill. */
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE + PG), VM_FAULT_SIGBUS);
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE + 51 * PG), VM_FAULT_SIGBUS);
	assert_int_equal(sim_nr_ptes(w.mm), 0);
	assert_int_equal((long)usage_pages(w.cg), used);
	assert_int_equal(st(&w.drv->stats.eldu), 0);
	assert_int_equal(st(&w.drv->stats.eaug), 0);
	oom_world_free(&w);
}

/*
 * A fault already past the lockless check when the kill comes (found by
 * review): the check under encl->lock, ordered by the killer's own round
 * trip through that lock, still refuses it.  A fix on top of the series;
 * fails with SGX_NO_OOM_RECHECK_FIX.
 */
static void test_oom_fault_recheck(void **state)
{
	struct oom_world w;

	(void)state;
	oom_world(&w, 8);
	race_w = &w;
	race_oom_runs = 0;
	w.drv->cfg.test_point = kill_in_eaug_window;
	assert_int_equal(fault_once(w.mm, w.e.encl, BASE + 60 * PG), VM_FAULT_SIGBUS);
	w.drv->cfg.test_point = NULL;
	assert_int_equal(race_oom_runs, 1);
	assert_int_equal(st(&w.drv->stats.oom_kills), 1);
	assert_int_equal(st(&w.drv->stats.eaug), 0);
	assert_null(sim_pte(w.mm, BASE + 60 * PG));
	assert_int_equal(sim_nr_ptes(w.mm), 0);
	oom_world_free(&w);
}

/*
 * The OOM killer walks the whole subtree.  In a cgroup whose first entry
 * belongs to an enclave whose CREATE has not finished, it takes that entry
 * off the list, as v5 does, and goes on to the next cgroup (it used to
 * skip the entry and leave it listed); it takes the first created enclave,
 * in whichever cgroup of the subtree it is.
 */
static void test_oom_walks_subtree(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 256, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cgroup *x = mkcg(&drv->root_cg, "x"), *y = mkcg(&drv->root_cg, "y");
	struct sgx_cgroup *y1 = mkcg(y, "y1");
	struct t_enc ex, ey;
	long listed;

	(void)state;
	sim_set_cgroup(x);
	enc_build(drv, mm, &ex, BASE, 0x100000, 4, true, true);
	sim_set_cgroup(y1);
	enc_build(drv, mm, &ey, BASE + 0x1000000, 0x100000, 4, true, true);
	sim_set_cgroup(NULL);
	/* ex as if its CREATE were still running: not a victim. */
	atomic_fetch_and(&ex.encl->flags, ~(unsigned long)SGX_ENCL_CREATED);
	listed = 0;
	{
		struct cds_list_head *pos;

		cds_list_for_each(pos, &x->lru.unreclaimable)
			listed++;
	}
	assert_int_equal(listed, 2); /* its SECS and VA page */
	assert_true(sgx_cgroup_oom(&drv->root_cg));
	assert_false(encl_test_flag(ex.encl, SGX_ENCL_NO_MEMORY));
	assert_true(encl_test_flag(ey.encl, SGX_ENCL_NO_MEMORY));
	{
		struct cds_list_head *pos;

		listed = 0;
		cds_list_for_each(pos, &x->lru.unreclaimable)
			listed++;
	}
	assert_int_equal(listed, 1);
	atomic_fetch_or(&ex.encl->flags, SGX_ENCL_CREATED);
	/* Asked again (only y's subtree now): y's other entry says "still going". */
	assert_true(sgx_cgroup_oom(y));
	assert_int_equal(st(&drv->stats.oom_kills), 1);
	/* The whole tree: ex is the next victim. */
	assert_true(sgx_cgroup_oom(&drv->root_cg));
	assert_true(encl_test_flag(ex.encl, SGX_ENCL_NO_MEMORY));
	assert_int_equal(st(&drv->stats.oom_kills), 2);

	sim_mm_exit(mm);
	enc_release(&ex);
	enc_release(&ey);
	sim_mm_free(mm);
	assert_int_equal(sgx_cgroup_destroy(y1), 0);
	assert_int_equal(sgx_cgroup_destroy(y), 0);
	assert_int_equal(sgx_cgroup_destroy(x), 0);
	sim_driver_destroy(drv);
}

/* ---- concurrency ---- */

struct cg_thread {
	struct sim_host *h;
	struct sgx_driver *drv;
	int id;
	struct sgx_cgroup *cg;
	const struct sgx_sigstruct *ss;
	unsigned long base;
	int err; /* the first failure; 0 when none */
};

#define CG_NR 32
#define CG_ROUNDS 3

/*
 * Build, read back through faults and the debugger path, and release an
 * enclave of CG_NR pages, CG_ROUNDS times, in the thread's cgroup.
 */
static void *cg_worker(void *arg)
{
	struct cg_thread *t = arg;

	sim_set_cgroup(t->cg);
	for (int round = 0; round < CG_ROUNDS && !t->err; round++) {
		/* A process per round: it maps, reads, exits, and then the file goes. */
		struct sgx_mm *mm = sim_mm_new(t->h, t->id * 100 + round);
		struct t_enc e;

		t->err = enc_try_build(t->drv, mm, &e, t->base, 0x100000, CG_NR, true, t->ss);
		for (unsigned int k = 0; k < CG_NR && !t->err; k++) {
			unsigned int i = (k * 7 + (unsigned int)round) % CG_NR;
			unsigned long addr = t->base + i * PG + 8 * k;
			uint64_t v = 0;

			if (sim_access(mm, addr, VM_READ))
				t->err = -EFAULT;
			else if (sgx_vma_access(e.encl, addr, &v, 8, false, VM_READ) != 8 ||
				 v != pattern(i, 8 * k))
				t->err = -EIO;
		}
		sim_mm_exit(mm);
		if (e.encl)
			enc_release(&e);
		sim_mm_free(mm);
	}
	sim_set_cgroup(NULL);
	return NULL;
}

/*
 * Three threads build and read enclaves larger than their limits, two of
 * them in children of one parent whose limit is the sum of theirs (with
 * the series' rule a child that finds only the parent full gets -ENOMEM,
 * so the parent's limit must not be the one that binds), while ksgxd runs the cgroups'
 * work and the main thread keeps raising and lowering the third's limit.
 * Every page reads back intact, no limit is ever passed (the peaks), nobody
 * is killed, and everything is given back.  Also run under TSan.
 */
static void test_concurrent_limits(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_cgroup *a, *a1, *b, *c;
	struct sgx_sigstruct *ss = aligned_alloc(4096, 4096);
	struct cg_thread t[3];
	pthread_t tid[3];
	uint64_t max_a = 0;

	(void)state;
	sim_host_init(&h);
	drv = sim_driver(&h, 128, false);
	assert_non_null(drv);
	sgx_sanitize_now(drv);
	a = mkcg(&drv->root_cg, "a");
	b = mkcg(&drv->root_cg, "b");
	a1 = mkcg(a, "a1");
	c = mkcg(a, "c");
	set_max(a, 24);
	set_max(a1, 12);
	set_max(c, 12);
	set_max(b, 20);
	assert_non_null(ss);
	enc_sigstruct(0x100000, CG_NR, ss);
	for (int i = 0; i < 3; i++) {
		t[i] = (struct cg_thread){ .h = &h, .drv = drv, .id = i + 1,
					   .cg = i == 0 ? a1 : i == 1 ? b : c, .ss = ss,
					   .base = BASE + (unsigned long)i * 0x1000000 };
		assert_int_equal(pthread_create(&tid[i], NULL, cg_worker, &t[i]), 0);
	}
	for (int i = 0; i < 200; i++) {
		struct timespec ts = { 0, 500000 };

		set_max(b, i & 1 ? 20 : 36);
		nanosleep(&ts, NULL);
		/*
		 * A charge adds, checks and rolls back, so a refused one shows
		 * for an instant: at most one page per thread charging below a
		 * (two of them) over its limit, ever.
		 */
		max_a = usage_pages(a) > max_a ? usage_pages(a) : max_a;
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		if (t[i].err)
			print_error("thread %d (cgroup %s): %d\n", i, t[i].cg->name, t[i].err);
		assert_int_equal(t[i].err, 0);
	}
	assert_true(atomic_load(&a->peak) <= 24 * PG);
	assert_true(max_a <= 24 + 2);
	/* misc.c raises a watermark only at the levels that took the charge. */
	assert_true(atomic_load(&c->peak) <= 12 * PG);
	assert_true(atomic_load(&a1->peak) <= 12 * PG);
	assert_true(atomic_load(&b->peak) <= 36 * PG);
	assert_int_equal(st(&drv->stats.oom_kills), 0);
	assert_int_equal(usage_pages(&drv->root_cg), 0);
	assert_int_equal(st(&drv->stats.leaked), 0);
	assert_int_equal(sgx_cgroup_destroy(c), 0);
	assert_int_equal(sgx_cgroup_destroy(a1), 0);
	assert_int_equal(sgx_cgroup_destroy(a), 0);
	assert_int_equal(sgx_cgroup_destroy(b), 0);
	free(ss);
	sim_driver_destroy(drv);
}

/*
 * Kills, limit changes and cgroup churn against enclaves that are being
 * built, faulted and released, with ksgxd running the work: the outcomes of
 * the enclave side vary (a killed enclave's faults SIGBUS, its ioctls say
 * -ENOMEM), but nothing may crash, hang, race (TSan) or be left charged.
 */
struct churn {
	struct sim_host *h;
	struct sgx_driver *drv;
	struct sgx_cgroup *cg;
	const struct sgx_sigstruct *ss;
	_Atomic bool go, stop;
	_Atomic long built, killed_seen;
};

static void *churn_enclaves(void *arg)
{
	struct churn *c = arg;

	sim_set_cgroup(c->cg);
	for (int round = 0; !atomic_load(&c->stop) && round < 200; round++) {
		struct sgx_mm *mm = sim_mm_new(c->h, 500 + round);
		struct t_enc e;
		int err = enc_try_build(c->drv, mm, &e, BASE, 0x100000, 12, true, c->ss);

		if (!err) {
			atomic_fetch_add(&c->built, 1);
			for (unsigned int i = 0; i < 24; i++)
				(void)fault_once(mm, e.encl, BASE + i * PG);
		}
		if (e.encl && encl_test_flag(e.encl, SGX_ENCL_NO_MEMORY))
			atomic_fetch_add(&c->killed_seen, 1);
		sim_mm_exit(mm);
		if (e.encl)
			enc_release(&e);
		sim_mm_free(mm);
	}
	sim_set_cgroup(NULL);
	return NULL;
}

static void *churn_cgroups(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->go))
		sched_yield();
	for (unsigned int n = 0; !atomic_load(&c->stop); n++) {
		struct timespec ts = { 0, 200000 };
		int err = 0;
		struct sgx_cgroup *d = sgx_cgroup_create(c->cg, "d", &err);
		struct sgx_epc_page *p;

		if (!d)
			continue;
		p = alloc_in(c->drv, d, true);
		assert_int_equal(sgx_cgroup_destroy(d), 0); /* d is gone for us from here on */
		if (!IS_ERR(p))
			sgx_free_epc_page(c->drv, p);
		if (!(n % 16))
			sgx_cgroup_oom(c->cg);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void concurrent_kills(enum sgx_cg_policy policy)
{
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_sigstruct *ss = aligned_alloc(4096, 4096);
	struct churn c;
	pthread_t t1, t2;

	sim_host_init(&h);
	drv = sim_driver(&h, 128, false);
	assert_non_null(drv);
	sgx_cg_set_policy(drv, policy); /* before any cgroup or enclave */
	sgx_sanitize_now(drv);
	assert_non_null(ss);
	enc_sigstruct(0x100000, 12, ss);
	memset(&c, 0, sizeof(c));
	c.h = &h;
	c.drv = drv;
	c.cg = mkcg(&drv->root_cg, "c");
	c.ss = ss;
	assert_int_equal(pthread_create(&t1, NULL, churn_enclaves, &c), 0);
	assert_int_equal(pthread_create(&t2, NULL, churn_cgroups, &c), 0);
	/* The churn starts once enclaves are known to build here at all. */
	set_max(c.cg, 40);
	for (int i = 0; i < 20000 && atomic_load(&c.built) < 2; i++) {
		struct timespec ts = { 0, 500000 };

		nanosleep(&ts, NULL);
	}
	assert_true(atomic_load(&c.built) >= 2);
	atomic_store(&c.go, true);
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 300000 };

		set_max(c.cg, i % 3 ? 40 : 0);
		nanosleep(&ts, NULL);
	}
	atomic_store(&c.stop, true);
	assert_int_equal(pthread_join(t1, NULL), 0);
	assert_int_equal(pthread_join(t2, NULL), 0);
	print_message("# %ld enclaves built, %ld seen killed, %llu kills\n",
		      (long)atomic_load(&c.built), (long)atomic_load(&c.killed_seen),
		      (unsigned long long)st(&drv->stats.oom_kills));
	assert_int_equal(usage_pages(&drv->root_cg), 0);
	assert_int_equal(st(&drv->stats.leaked), 0);
	assert_int_equal(atomic_load(&drv->nr_encls), 0);
	assert_int_equal(sgx_cgroup_destroy(c.cg), 0);
	free(ss);
	sim_driver_destroy(drv);
}

/* v5's work kills by itself when the limit drops to 0; v17's never does. */
static void test_concurrent_kills(void **state)
{
	(void)state;
	concurrent_kills(SGX_CG_V17);
	concurrent_kills(SGX_CG_V5);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_files_and_parsing),
		cmocka_unit_test(test_charge_hierarchy_and_events),
		cmocka_unit_test(test_charge_capacity),
		cmocka_unit_test(test_no_reclaim_queues_work),
		cmocka_unit_test(test_limit_reclaims_own_pages_only),
		cmocka_unit_test(test_global_reclaim_round_robin),
		cmocka_unit_test(test_vepc_charged),
		cmocka_unit_test(test_sibling_at_parent_limit),
		cmocka_unit_test(test_threshold_and_direct_reclaim),
		cmocka_unit_test(test_create_destroy),
		cmocka_unit_test(test_oom_kill_on_lowered_limit),
		cmocka_unit_test(test_lowered_limit_v17),
		cmocka_unit_test(test_v5_threshold),
		cmocka_unit_test(test_two_enclaves_limit_zero),
		cmocka_unit_test(test_work_requeues),
		cmocka_unit_test(test_always_young),
		cmocka_unit_test(test_charge_in_flight),
		cmocka_unit_test(test_oom_waits_for_release),
		cmocka_unit_test(test_oom_uninitialized),
		cmocka_unit_test(test_oom_races_reclaimer),
		cmocka_unit_test(test_oom_blocks_faults),
		cmocka_unit_test(test_oom_fault_recheck),
		cmocka_unit_test(test_oom_walks_subtree),
		cmocka_unit_test(test_concurrent_limits),
		cmocka_unit_test(test_concurrent_kills),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
