// SPDX-License-Identifier: MIT
/*
 * driver/main.c: EPC enumeration, sanitization, the allocator, the active
 * list, memory failure, the reclaimer's four phases, EWB's ETRACK/IPI
 * fallbacks and ksgxd.  Runs against the simulated host (host/sim.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drv_helpers.h"
#include "sim.h"
#include "helpers.h"
#include "internal.h"
#include "softsgx/measure.h"
#include "softsgx/sign.h"
#include "softsgx/uapi/sgx.h"

#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif

/* ---- helpers ---- */


static struct sgx_cpu *mk_cpu(struct sgx_cpu_config *cfg)
{
	struct sgx_cpu *cpu;
	int err = 0;

	cfg->fixed_keys = true;
	cfg->seed = 7;
	cpu = sgx_cpu_create(cfg, &err);
	assert_non_null(cpu);
	return cpu;
}

/* A driver configuration on @h; with @sync no ksgxd. */
static struct sgx_driver_config drv_config(struct sim_host *h, bool sync)
{
	struct sgx_driver_config dcfg = { 0 };

	dcfg.host_ops = &h->ops;
	dcfg.host = h;
	dcfg.no_ksgxd = sync;
	return dcfg;
}

/* A driver on @cpu; with @sync no ksgxd and nothing sanitized yet. */
static struct sgx_driver *mk_drv_on(struct sim_host *h, struct sgx_cpu *cpu, bool sync)
{
	struct sgx_driver_config dcfg = drv_config(h, sync);
	struct sgx_driver *drv;
	int err = 0;

	drv = sgx_driver_create(cpu, &dcfg, &err);
	assert_non_null(drv);
	assert_int_equal(err, 0);
	return drv;
}

static long list_len(struct sgx_mutex *lock, struct cds_list_head *head)
{
	struct cds_list_head *pos;
	long n = 0;

	if (lock)
		sgx_mutex_lock(lock);
	cds_list_for_each(pos, head)
		n++;
	if (lock)
		sgx_mutex_unlock(lock);
	return n;
}

static bool on_list(struct sgx_mutex *lock, struct cds_list_head *head,
		    struct sgx_epc_page *page)
{
	struct cds_list_head *pos;
	bool found = false;

	sgx_mutex_lock(lock);
	cds_list_for_each(pos, head)
		found |= pos == &page->list;
	sgx_mutex_unlock(lock);
	return found;
}

static struct sgx_epc_page *first_on(struct sgx_mutex *lock, struct cds_list_head *head)
{
	struct sgx_epc_page *page = NULL;

	sgx_mutex_lock(lock);
	if (!cds_list_empty(head))
		page = cds_list_first_entry(head, struct sgx_epc_page, list);
	sgx_mutex_unlock(lock);
	return page;
}

static struct sgx_epc_page *alloc_ok(struct sgx_driver *drv, void *owner)
{
	struct sgx_epc_page *p = sgx_alloc_epc_page(drv, owner, false);

	assert_false(IS_ERR(p));
	return p;
}

/* ---- creation ---- */

static void create_sections_and_nodes(void **state)
{
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_cpu *cpu;
	const unsigned long pages[3] = { 64, 32, 16 };
	const int nodes[3] = { 0, 2, 2 };
	const char *log;
	char line[128];

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.nr_sections = 3;
	for (int i = 0; i < 3; i++) {
		cfg.sections[i].size = pages[i] * 4096;
		cfg.sections[i].node = nodes[i];
	}
	cpu = mk_cpu(&cfg);
	t_cap_start();
	drv = mk_drv_on(&h, cpu, true);
	log = t_cap_end();

	assert_int_equal(drv->nr_sections, 3);
	assert_int_equal(drv->nr_total_pages, 112);
	/* Sized by the highest node id + 1 and zeroed: node 1 has no EPC. */
	assert_int_equal(drv->nr_nodes, 3);
	assert_false(drv->nodes[1].has_epc);
	assert_int_equal(drv->nodes[1].size, 0);
	assert_true(drv->nodes[0].has_epc);
	assert_true(drv->nodes[2].has_epc);
	assert_int_equal(drv->nodes[0].size, 64 * 4096);
	assert_int_equal(drv->nodes[2].size, 48 * 4096);

	for (unsigned int i = 0; i < 3; i++) {
		struct sgx_epc_section *s = &drv->sections[i];
		uint64_t size;
		int node;
		void *base = sgx_cpu_section(cpu, i, &size, &node);
		uint64_t pa = (uint64_t)(uintptr_t)base;

		assert_ptr_equal(s->virt_addr, base);
		assert_int_equal(s->size, size);
		assert_ptr_equal(s->node, &drv->nodes[nodes[i]]);
		snprintf(line, sizeof(line), "sgx: EPC section 0x%llx-0x%llx\n",
			 (unsigned long long)pa, (unsigned long long)(pa + size - 1));
		assert_non_null(strstr(log, line));

		/* Address <-> descriptor, first and last page, any offset inside. */
		for (unsigned long k = 0; k < size >> 12; k += (size >> 12) - 1) {
			struct sgx_epc_page *p = &s->pages[k];
			uint8_t *va = (uint8_t *)base + k * 4096;

			assert_int_equal(p->section, i);
			assert_ptr_equal(sgx_get_epc_virt_addr(p), va);
			assert_ptr_equal(sgx_epc_page_of(drv, va), p);
			assert_ptr_equal(sgx_epc_page_of(drv, va + 4095), p);
		}
	}
	assert_null(sgx_epc_page_of(drv, &cfg));

	/* Every page starts dirty; sanitization frees them all. */
	assert_int_equal(nr_free(drv), 0);
	assert_int_equal(list_len(NULL, &drv->dirty_page_list), 112);
	sgx_sanitize_now(drv);
	assert_true(atomic_load(&drv->sanitized));
	assert_int_equal(nr_free(drv), 112);
	assert_true(cds_list_empty(&drv->dirty_page_list));
	assert_int_equal(list_len(&drv->nodes[0].lock, &drv->nodes[0].free_page_list), 64);
	assert_int_equal(list_len(&drv->nodes[2].lock, &drv->nodes[2].free_page_list), 48);
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

static void create_masks(void **state)
{
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_driver *drv;

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	drv = mk_drv_on(&h, mk_cpu(&cfg), true);
	assert_true(drv->sgx2);
	assert_int_equal(drv->misc_reserved_mask, ~cfg.miscselect_mask | 0xFFFFFFFEu);
	assert_int_equal(drv->attributes_reserved_mask,
			 ~cfg.attributes_mask | SGX_ATTR_RESERVED_MASK);
	assert_int_equal(drv->xfrm_reserved_mask, ~cfg.xfrm_mask);
	sim_driver_destroy(drv);

	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	cfg.sgx2 = false;
	cfg.miscselect_mask = 0;
	drv = mk_drv_on(&h, mk_cpu(&cfg), true);
	assert_false(drv->sgx2);
	assert_int_equal(drv->misc_reserved_mask, 0xFFFFFFFFu);
	sim_driver_destroy(drv);
}

/* Without OSXSAVE only x87 and SSE are allowed, whatever CPUID.(12H,1) says. */
static void create_xfrm_mask_without_osxsave(void **state)
{
	struct sgx_driver_config dcfg;
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_cpu *cpu;
	int err = 0;

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	cfg.xfrm_mask = 0x7; /* x87, SSE, AVX */
	cpu = mk_cpu(&cfg);
	dcfg = drv_config(&h, true);
	dcfg.no_osxsave = true;
	drv = sgx_driver_create(cpu, &dcfg, &err);
	assert_non_null(drv);
	assert_int_equal(drv->xfrm_reserved_mask, ~0x3ULL);
	sim_driver_destroy(drv);
}

/*
 * Without launch control there is no /dev/sgx_enclave, but the driver still
 * comes up for /dev/sgx_vepc: the kernel errors out only when both devices
 * fail, and then with the enclave driver's error.  (Missing SGX1 takes the
 * same path; the CPU model has no platform without SGX1.)
 */
static void create_vepc_only_without_lc(void **state)
{
	struct sgx_driver_config dcfg;
	struct sgx_cpu_config cfg;
	struct sgx_driver *drv;
	struct sgx_vepc *v;
	struct sgx_mm *mm;
	struct sim_host h;
	const char *log;
	int err = 0;

	(void)state;
	sim_host_init(&h);
	dcfg = drv_config(&h, true);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	cfg.flc = false;
	t_cap_start();
	drv = sgx_driver_create(mk_cpu(&cfg), &dcfg, &err);
	log = t_cap_end();
	assert_non_null(drv);
	assert_int_equal(err, 0);
	assert_non_null(strstr(log, "sgx: SGX disabled: SGX launch control CPU feature is not "
				    "available, /dev/sgx_enclave disabled.\n"));
	assert_false(drv->sgx_enclave_dev);
	assert_true(drv->sgx_vepc_dev);
	sgx_sanitize_now(drv);

	/* No device node: open(2) fails before anything is counted. */
	assert_null(sgx_open(drv, &err));
	assert_int_equal(err, -ENOENT);
	assert_int_equal(atomic_load(&drv->nr_encls), 0);

	/* vEPC works: a guest page is allocated on first touch. */
	v = sgx_vepc_open(drv, &err);
	assert_non_null(v);
	assert_int_equal(atomic_load(&drv->nr_encls), 1);
	mm = sim_mm_new(&h, 1);
	pthread_rwlock_rdlock(&mm->mmap_lock);
	assert_int_equal(sgx_vepc_fault(v, mm, 0x7f0000000000UL, 0, false), VM_FAULT_NOPAGE);
	pthread_rwlock_unlock(&mm->mmap_lock);
	assert_non_null(sim_pte(mm, 0x7f0000000000UL));
	assert_int_equal(nr_free(drv), 63);
	sgx_vepc_release(v);
	assert_int_equal(nr_free(drv), 64);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/* Neither device: -ENODEV (the enclave driver's error), nothing left behind. */
static void create_enodev_without_lc_or_vepc(void **state)
{
	struct sgx_driver_config dcfg;
	struct sgx_driver *drv;
	struct sgx_encl *encl;
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_cpu *cpu;
	const char *log;
	int err = 0;

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	cfg.flc = false;
	cpu = mk_cpu(&cfg);
	dcfg = drv_config(&h, true);
	dcfg.no_vepc = true;
	t_cap_start();
	assert_null(sgx_driver_create(cpu, &dcfg, &err));
	log = t_cap_end();
	assert_int_equal(err, -ENODEV);
	assert_non_null(strstr(log, "sgx: SGX disabled: SGX launch control CPU feature is not "
				    "available, /dev/sgx_enclave disabled.\n"));
	/* Also with ksgxd configured: nothing is left running or registered. */
	dcfg.no_ksgxd = false;
	assert_null(sgx_driver_create(cpu, &dcfg, &err));
	assert_int_equal(err, -ENODEV);
	sgx_cpu_destroy(cpu);

	/* With launch control but no vEPC: the enclave driver alone. */
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	cpu = mk_cpu(&cfg);
	dcfg.no_ksgxd = true;
	drv = sgx_driver_create(cpu, &dcfg, &err);
	assert_non_null(drv);
	assert_true(drv->sgx_enclave_dev);
	assert_false(drv->sgx_vepc_dev);
	assert_null(sgx_vepc_open(drv, &err));
	assert_int_equal(err, -ENOENT);
	assert_int_equal(atomic_load(&drv->nr_encls), 0);
	encl = sgx_open(drv, &err);
	assert_non_null(encl);
	sgx_release(encl);
	sim_driver_destroy(drv);
}

/* ---- sanitization ---- */

static void sanitize_with_ksgxd(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv;

	(void)state;
	sim_host_init(&h);
	drv = sim_driver(&h, 4096, false);
	assert_non_null(drv);
	assert_true(drv->ksgxd_started);
	sgx_sanitize_now(drv); /* waits for ksgxd */
	assert_true(atomic_load(&drv->sanitized));
	assert_int_equal(nr_free(drv), 4096);
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

/* Pages a previous user left initialised (kexec): children first or after their SECS. */
static void sanitize_leftovers_two_passes(void **state)
{
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_cpu *cpu;
	void *secs_a, *secs_b;
	const char *log;

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	cpu = mk_cpu(&cfg);
	/* A: SECS in frame 0, children in frames 1..3 (SECS fails pass 1). */
	secs_a = t_ecreate(cpu, 0, 0x100000000ULL, 0x10000, T_ATTR);
	for (unsigned int i = 1; i <= 3; i++)
		assert_leaf_ok(t_eadd(cpu, secs_a, i, 0x100000000ULL + i * 4096, T_RW, NULL));
	/* B: child in frame 10, SECS in frame 20 (all gone in pass 1). */
	secs_b = t_ecreate(cpu, 20, 0x200000000ULL, 0x10000, T_ATTR);
	assert_leaf_ok(t_eadd(cpu, secs_b, 10, 0x200000000ULL, T_RW, NULL));

	drv = mk_drv_on(&h, cpu, true);
	assert_int_equal(nr_free(drv), 0);
	t_cap_start();
	sgx_sanitize_now(drv);
	log = t_cap_end();
	assert_null(strstr(log, "WARNING"));
	assert_int_equal(nr_free(drv), 64);
	for (unsigned int i = 0; i < 64; i++)
		assert_false(epcm_valid(drv, &drv->sections[0].pages[i]));
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

/* A thread inside the leftover enclave: EREMOVE keeps failing, pass 2 warns. */
static void sanitize_warns_when_pages_remain(void **state)
{
	struct sgx_cpu_config cfg;
	struct tcs_hidden t = { 0 };
	struct sim_host h;
	struct sgx_driver *drv;
	struct secs_hidden *hid;
	struct sgx_cpu *cpu;
	const char *log;
	void *secs;

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	cpu = mk_cpu(&cfg);
	secs = t_ecreate(cpu, 0, 0x100000000ULL, 0x10000, T_ATTR);
	assert_leaf_ok(t_eadd(cpu, secs, 1, 0x100000000ULL, T_RW, NULL));
	hid = secs_hidden(cpu, epc_frame(cpu, (uint64_t)(uintptr_t)secs));
	track_enter(hid, &t);

	drv = mk_drv_on(&h, cpu, true);
	t_cap_start();
	sgx_sanitize_now(drv);
	log = t_cap_end();
	assert_non_null(strstr(log, "WARNING: at "));
	assert_int_equal(nr_free(drv), 62);
	assert_int_equal(list_len(NULL, &drv->dirty_page_list), 2);
	assert_true(epcm_valid(drv, &drv->sections[0].pages[0]));
	assert_true(epcm_valid(drv, &drv->sections[0].pages[1]));
	track_leave(hid, &t);
	sim_driver_destroy(drv);
}

static void sanitize_parks_poisoned_pages(void **state)
{
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_epc_page *p;

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64 * 4096;
	drv = mk_drv_on(&h, mk_cpu(&cfg), true);
	p = &drv->sections[0].pages[5];
	/* Poisoned while still dirty: neither free nor tracked, just flagged. */
	assert_int_equal(sgx_memory_failure(drv, sgx_get_epc_virt_addr(p)), 0);
	assert_int_equal(p->poison, 1);
	sgx_sanitize_now(drv);
	assert_int_equal(nr_free(drv), 63);
	assert_true(on_list(&drv->nodes[0].lock, &drv->nodes[0].sgx_poison_page_list, p));
	assert_false(on_list(&drv->nodes[0].lock, &drv->nodes[0].free_page_list, p));
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

/* ---- allocation ---- */

static void alloc_round_robin_nodes(void **state)
{
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_driver *drv;
	struct sgx_epc_page *p[64];

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.nr_sections = 2;
	cfg.sections[0] = (struct sgx_epc_section_config){ 48 * 4096, 0 };
	cfg.sections[1] = (struct sgx_epc_section_config){ 16 * 4096, 1 };
	drv = mk_drv_on(&h, mk_cpu(&cfg), true);
	sgx_sanitize_now(drv);

	/* Successive allocations alternate between the nodes ... */
	for (int i = 0; i < 32; i++) {
		p[i] = alloc_ok(drv, NULL);
		assert_int_equal(p[i]->section, (unsigned int)(i % 2));
		assert_ptr_equal(drv->sections[p[i]->section].node, &drv->nodes[i % 2]);
	}
	/* ... until node 1 runs dry: then its turns fall back to node 0. */
	assert_int_equal(list_len(&drv->nodes[1].lock, &drv->nodes[1].free_page_list), 0);
	for (int i = 32; i < 64; i++) {
		p[i] = alloc_ok(drv, NULL);
		assert_int_equal(p[i]->section, 0);
	}
	assert_int_equal(nr_free(drv), 0);
	assert_int_equal(PTR_ERR(sgx_alloc_epc_page(drv, NULL, true)), -ENOMEM);
	for (int i = 0; i < 64; i++)
		sgx_free_epc_page(drv, p[i]);
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

/* Node ids 0 and 2: node 1 has no EPC, its turn goes to the next node with EPC. */
static void alloc_round_robin_sparse_nodes(void **state)
{
	struct sgx_cpu_config cfg;
	struct sim_host h;
	struct sgx_driver *drv;
	const unsigned int expect[6] = { 0, 1, 1, 0, 1, 1 };

	(void)state;
	sim_host_init(&h);
	sgx_cpu_default_config(&cfg);
	cfg.nr_sections = 2;
	cfg.sections[0] = (struct sgx_epc_section_config){ 16 * 4096, 0 };
	cfg.sections[1] = (struct sgx_epc_section_config){ 16 * 4096, 2 };
	drv = mk_drv_on(&h, mk_cpu(&cfg), true);
	sgx_sanitize_now(drv);
	assert_int_equal(drv->nr_nodes, 3);
	for (int i = 0; i < 6; i++) {
		struct sgx_epc_page *p = alloc_ok(drv, NULL);

		assert_int_equal(p->section, expect[i]);
		sgx_free_epc_page(drv, p);
	}
	sim_driver_destroy(drv);
}

static void alloc_order_and_flags(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 16, true);
	struct sgx_epc_page *p[16], *q;
	int owner;

	(void)state;
	/* Sanitization freed the pages in order: allocation takes the head. */
	for (int i = 0; i < 16; i++) {
		p[i] = alloc_ok(drv, &owner);
		assert_ptr_equal(p[i], &drv->sections[0].pages[i]);
		assert_int_equal(p[i]->flags, 0);
		assert_ptr_equal(p[i]->owner, &owner);
		assert_true(cds_list_empty(&p[i]->list));
	}
	assert_int_equal(nr_free(drv), 0);
	/* Frees go to the head: the warmest frame is reused first (main.c). */
	sgx_free_epc_page(drv, p[7]);
	sgx_free_epc_page(drv, p[3]);
	sgx_free_epc_page(drv, p[11]);
	assert_int_equal(nr_free(drv), 3);
	assert_int_equal(p[3]->flags, SGX_EPC_PAGE_IS_FREE);
	assert_null(p[3]->owner);
	q = alloc_ok(drv, NULL);
	assert_ptr_equal(q, p[11]);
	q = alloc_ok(drv, NULL);
	assert_ptr_equal(q, p[3]);
	q = alloc_ok(drv, NULL);
	assert_ptr_equal(q, p[7]);
	for (int i = 0; i < 16; i++)
		sgx_free_epc_page(drv, p[i]);
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

static void alloc_enomem_nothing_reclaimable(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 8, true);
	struct sgx_epc_page *p[8];

	(void)state;
	for (int i = 0; i < 8; i++)
		p[i] = alloc_ok(drv, NULL);
	/* Nothing free and the active list empty: -ENOMEM either way. */
	assert_int_equal(PTR_ERR(sgx_alloc_epc_page(drv, NULL, true)), -ENOMEM);
	assert_int_equal(PTR_ERR(sgx_alloc_epc_page(drv, NULL, false)), -ENOMEM);
	/* ... and ksgxd is not woken: there is nothing for it to do. */
	assert_int_equal(st(&drv->stats.ksgxd_wakeups), 0);
	assert_int_equal(st(&drv->stats.direct_reclaims), 0);
	for (int i = 0; i < 8; i++)
		sgx_free_epc_page(drv, p[i]);
	sim_driver_destroy(drv);
}

static void alloc_ebusy_and_erestartsys(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 8, true);
	struct sgx_epc_page *p[8];

	(void)state;
	for (int i = 0; i < 8; i++)
		p[i] = alloc_ok(drv, NULL);
	sgx_mark_page_reclaimable(drv, p[0]);
	assert_true(sgx_should_reclaim(drv, SGX_NR_LOW_PAGES));

	/* Something reclaimable but no reclaim allowed: -EBUSY, and wake ksgxd. */
	assert_int_equal(PTR_ERR(sgx_alloc_epc_page(drv, NULL, false)), -EBUSY);
	assert_int_equal(st(&drv->stats.ksgxd_wakeups), 1);

	/* A pending signal stops the caller before any reclaim. */
	atomic_store(&h.signal_pending, true);
	assert_int_equal(PTR_ERR(sgx_alloc_epc_page(drv, NULL, true)), -ERESTARTSYS);
	assert_int_equal(st(&drv->stats.direct_reclaims), 0);
	assert_int_equal(st(&drv->stats.reclaim_batches), 0);
	assert_int_equal(st(&drv->stats.ksgxd_wakeups), 2);
	atomic_store(&h.signal_pending, false);

	assert_int_equal(sgx_unmark_page_reclaimable(drv, p[0]), 0);
	for (int i = 0; i < 8; i++)
		sgx_free_epc_page(drv, p[i]);
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

/* ---- free, poison, memory failure ---- */

static void free_poison_and_memory_failure(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 8, true);
	struct sgx_numa_node *node;
	struct sgx_epc_page *a, *b, *c, *p[8];
	int local, n = 0;

	(void)state;
	node = &drv->nodes[0];
	a = alloc_ok(drv, NULL);
	b = alloc_ok(drv, NULL);
	c = first_on(&node->lock, &node->free_page_list);
	assert_int_equal(nr_free(drv), 6);

	assert_int_equal(sgx_memory_failure(drv, &local), -ENXIO);

	/* In use and untracked: only flagged; quarantined when its user frees it. */
	assert_int_equal(sgx_memory_failure(drv, (uint8_t *)sgx_get_epc_virt_addr(a) + 100), 0);
	assert_int_equal(a->poison, 1);
	assert_int_equal(nr_free(drv), 6);
	sgx_free_epc_page(drv, a);
	assert_int_equal(nr_free(drv), 6);
	assert_int_equal(a->flags, SGX_EPC_PAGE_IS_FREE);
	assert_ptr_equal(first_on(&node->lock, &node->sgx_poison_page_list), a);

	/* Free: moves to the head of the poison list at once, no longer free. */
	assert_int_equal(sgx_memory_failure(drv, sgx_get_epc_virt_addr(c)), 0);
	assert_int_equal(nr_free(drv), 5);
	assert_ptr_equal(first_on(&node->lock, &node->sgx_poison_page_list), c);
	assert_false(on_list(&node->lock, &node->free_page_list, c));
	/* Twice: nothing changes. */
	assert_int_equal(sgx_memory_failure(drv, sgx_get_epc_virt_addr(c)), 0);
	assert_int_equal(nr_free(drv), 5);
	assert_int_equal(list_len(&node->lock, &node->sgx_poison_page_list), 2);

	/* In use and tracked: taken off the active list so reclaim skips it. */
	sgx_mark_page_reclaimable(drv, b);
	assert_int_equal(atomic_load(&drv->nr_active), 1);
	assert_int_equal(sgx_memory_failure(drv, sgx_get_epc_virt_addr(b)), 0);
	assert_int_equal(atomic_load(&drv->nr_active), 0);
	assert_false(b->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED);
	sgx_free_epc_page(drv, b);
	assert_ptr_equal(first_on(&node->lock, &node->sgx_poison_page_list), b);

	/* Poisoned pages are never handed out again. */
	while (!IS_ERR(p[n] = sgx_alloc_epc_page(drv, NULL, false))) {
		assert_false(p[n]->poison);
		n++;
	}
	assert_int_equal(PTR_ERR(p[n]), -ENOMEM);
	assert_int_equal(n, 5);
	check_invariant(drv, NULL, 0, n);
	while (n--)
		sgx_free_epc_page(drv, p[n]);
	check_invariant(drv, NULL, 0, 0);
	sim_driver_destroy(drv);
}

/* ---- the active list ---- */

static void mark_unmark(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 8, true);
	struct sgx_epc_page *p = alloc_ok(drv, NULL), *q = alloc_ok(drv, NULL);

	(void)state;
	sgx_mark_page_reclaimable(drv, p);
	sgx_mark_page_reclaimable(drv, q);
	assert_int_equal(atomic_load(&drv->nr_active), 2);
	assert_true(p->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED);
	/* Appended at the tail: p, then q. */
	assert_ptr_equal(first_on(&drv->reclaimer_lock, &drv->root_cg.lru.reclaimable), p);

	assert_int_equal(sgx_unmark_page_reclaimable(drv, p), 0);
	assert_int_equal(p->flags, 0);
	assert_int_equal(atomic_load(&drv->nr_active), 1);
	assert_ptr_equal(first_on(&drv->reclaimer_lock, &drv->root_cg.lru.reclaimable), q);
	/* Not tracked: nothing to do. */
	assert_int_equal(sgx_unmark_page_reclaimable(drv, p), 0);

	/* Isolated as the reclaimer's phase 1 does it: -EBUSY. */
	sgx_mutex_lock(&drv->reclaimer_lock);
	sgx_lru_del(drv, q);
	sgx_mutex_unlock(&drv->reclaimer_lock);
	assert_int_equal(sgx_unmark_page_reclaimable(drv, q), -EBUSY);
	assert_true(q->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED);
	/* Back on the list (a skipped page): unmark works again. */
	sgx_mutex_lock(&drv->reclaimer_lock);
	sgx_lru_add_tail(drv, q);
	sgx_mutex_unlock(&drv->reclaimer_lock);
	assert_int_equal(sgx_unmark_page_reclaimable(drv, q), 0);
	assert_int_equal(atomic_load(&drv->nr_active), 0);

	sgx_free_epc_page(drv, p);
	sgx_free_epc_page(drv, q);
	sim_driver_destroy(drv);
}

static void watermarks(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 100, true);
	struct sgx_epc_page *p[100];
	int n = 0;

	(void)state;
	while (nr_free(drv) > 40)
		p[n++] = alloc_ok(drv, NULL);
	/* Low on EPC but nothing reclaimable: no reclaim. */
	assert_false(sgx_should_reclaim(drv, SGX_NR_HIGH_PAGES));
	sgx_mark_page_reclaimable(drv, p[0]);
	assert_true(sgx_should_reclaim(drv, SGX_NR_HIGH_PAGES));
	assert_false(sgx_should_reclaim(drv, SGX_NR_LOW_PAGES));
	while (nr_free(drv) > 32)
		p[n++] = alloc_ok(drv, NULL);
	assert_false(sgx_should_reclaim(drv, SGX_NR_LOW_PAGES));
	assert_int_equal(st(&drv->stats.ksgxd_wakeups), 0);
	/* Below LOW: the allocation that got there wakes ksgxd. */
	p[n++] = alloc_ok(drv, NULL);
	assert_true(sgx_should_reclaim(drv, SGX_NR_LOW_PAGES));
	assert_int_equal(st(&drv->stats.ksgxd_wakeups), 1);
	assert_int_equal(sgx_unmark_page_reclaimable(drv, p[0]), 0);
	assert_false(sgx_should_reclaim(drv, SGX_NR_LOW_PAGES));
	while (n--)
		sgx_free_epc_page(drv, p[n]);
	sim_driver_destroy(drv);
}

/* ---- reclaim with real enclaves ---- */

/* Make room for a fault (it allocates without reclaim) in a ksgxd-less driver. */
static void make_room(struct sgx_driver *drv, long pages)
{
	for (int tries = 0; nr_free(drv) < pages && tries < 1000; tries++)
		sgx_reclaim_pages(drv);
	assert_true(nr_free(drv) >= pages);
}

static void reclaim_writes_batch_to_backing(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cpu_stats c0, c1;
	struct t_enc e;
	unsigned long offsets[16];
	long free0;
	void *secs_addr;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x40000, 32, true, true);
	check_invariant(drv, &e.encl, 1, 0);
	/* SECS + 32 pages + 1 VA page. */
	assert_int_equal(nr_free(drv), 128 - 34);
	assert_int_equal(atomic_load(&drv->nr_active), 32);
	assert_int_equal(e.encl->secs_child_cnt, 32);
	secs_addr = sgx_get_epc_virt_addr(e.encl->secs.epc_page);
	free0 = nr_free(drv);
	sgx_cpu_stats(drv->cpu, &c0);

	sgx_reclaim_pages(drv);

	sgx_cpu_stats(drv->cpu, &c1);
	assert_int_equal(st(&drv->stats.reclaim_batches), 1);
	assert_int_equal(st(&drv->stats.reclaimed), 16);
	assert_int_equal(st(&drv->stats.ewb), 16);
	assert_int_equal(atomic_load(&e.encl->nr_evicted), 16);
	assert_int_equal(nr_free(drv), free0 + 16);
	assert_int_equal(atomic_load(&drv->nr_active), 16);
	/* One ETRACK covers the whole batch; nobody was inside: no IPI. */
	assert_int_equal(c1.etrack - c0.etrack, 1);
	assert_int_equal(c1.eblock - c0.eblock, 16);
	assert_int_equal(c1.ewb - c0.ewb, 16);
	assert_int_equal(st(&drv->stats.etrack_ipis), 0);
	assert_int_equal(e.encl->secs_child_cnt, 16);
	assert_non_null(e.encl->secs.epc_page);

	/* The head of the active list went: pages 0..15, in order. */
	for (unsigned int i = 0; i < 32; i++) {
		struct sgx_encl_page *p = enc_page(&e, i);
		unsigned long desc = atomic_load(&p->desc);

		/* BUSY is clear; PCMD_BUSY shares bit 3 with the VA offset. */
		assert_false(desc & SGX_ENCL_PAGE_BUSY);
		if (i >= 16) {
			assert_false(desc & SGX_ENCL_PAGE_PCMD_BUSY);
			assert_non_null(p->epc_page);
			continue;
		}
		struct sgx_backing b;
		struct sgx_pcmd *pcmd;
		unsigned long off = desc & SGX_ENCL_PAGE_VA_OFFSET_MASK;

		assert_null(p->epc_page);
		assert_non_null(p->va_page);
		/* Distinct VA slots. */
		for (unsigned int k = 0; k < i; k++)
			assert_int_not_equal(offsets[k], off);
		offsets[i] = off;
		/* Ciphertext and PCMD are in the backing store. */
		assert_int_equal(sgx_encl_get_backing(e.encl, sgx_encl_page_index(e.encl, p), &b),
				 0);
		assert_int_not_equal(*(uint64_t *)b.contents, pattern(i, 0));
		pcmd = (struct sgx_pcmd *)((uint8_t *)b.pcmd + b.pcmd_offset);
		assert_int_equal(pcmd->secinfo.flags & 0xFFFF, T_RW);
		assert_int_equal(pcmd->enclave_id, sgx_cpu_secs_eid(drv->cpu, secs_addr));
		sgx_encl_put_backing(&b);
	}
	check_invariant(drv, &e.encl, 1, 0);

	/* Faults bring them back intact (ELDU). */
	assert_int_equal(sim_access(mm, e.base + 5 * 4096, VM_READ), 0);
	assert_true(enc_resident(&e, 5));
	enc_check_contents(drv, &e, 5);
	assert_ptr_equal(sim_pte(mm, e.base + 5 * 4096), enc_page(&e, 5)->epc_page);
	check_invariant(drv, &e.encl, 1, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(nr_free(drv), 128);
	check_invariant(drv, NULL, 0, 0);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/* The counters snapshot agrees with the driver's state at each step. */
static void counters_snapshot(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_driver_counters c;
	uint64_t resident, evicted;
	struct t_enc e;

	(void)state;
	sgx_driver_counters(drv, &c);
	assert_int_equal(c.total, 128);
	assert_int_equal(c.free, 128);
	assert_int_equal(c.used, 0);
	assert_int_equal(c.enclaves, 0);

	enc_build(drv, mm, &e, 0x400000000UL, 0x40000, 32, true, true);
	sgx_driver_counters(drv, &c);
	assert_int_equal(c.used, 34); /* SECS + 32 pages + 1 VA page */
	assert_int_equal(c.free + c.used + c.poisoned + c.leaked, c.total);
	assert_int_equal(c.reclaimable, 32);
	assert_int_equal(c.enclaves, 1);
	sgx_encl_counters(e.encl, &resident, &evicted);
	assert_int_equal(resident, 32);
	assert_int_equal(evicted, 0);

	sgx_reclaim_pages(drv);
	sgx_driver_counters(drv, &c);
	assert_int_equal(c.ewb, 16);
	assert_int_equal(c.reclaim_batches, 1);
	assert_int_equal(c.reclaimed, 16);
	assert_int_equal(c.reclaimable, 16);
	assert_int_equal(c.used, 18);
	/* 16 contents pages and the one PCMD page they share. */
	assert_int_equal(c.backing_allocs, 17);
	assert_int_equal(c.backing_truncates, 0);
	sgx_encl_counters(e.encl, &resident, &evicted);
	assert_int_equal(resident, 16);
	assert_int_equal(evicted, 16);

	assert_int_equal(sim_access(mm, e.base, VM_READ), 0); /* reload one */
	sgx_driver_counters(drv, &c);
	assert_int_equal(c.eldu, 1);
	sgx_encl_counters(e.encl, &resident, &evicted);
	assert_int_equal(resident, 17);
	assert_int_equal(evicted, 15);

	sim_mm_exit(mm); /* mappings go first: they keep the file open */
	enc_release(&e);
	sim_mm_free(mm);
	sgx_driver_counters(drv, &c);
	assert_int_equal(c.free, 128);
	assert_int_equal(c.enclaves, 0);
	assert_int_equal(c.leaked, 0);
	sim_driver_destroy(drv);
}

static void reclaim_evicts_secs_after_last_child(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct t_enc e, u;
	struct sgx_backing b;
	uint64_t eid;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x10000, 3, true, true);
	/* Not initialized: its SECS stays. */
	enc_build(drv, mm, &u, 0x500000000UL, 0x10000, 3, false, false);
	assert_int_equal(nr_free(drv), 128 - 2 * 5);
	eid = sgx_cpu_secs_eid(drv->cpu, sgx_get_epc_virt_addr(e.encl->secs.epc_page));

	sgx_reclaim_pages(drv);
	assert_int_equal(st(&drv->stats.reclaimed), 6);
	assert_int_equal(e.encl->secs_child_cnt, 0);
	assert_null(e.encl->secs.epc_page);
	/* 3 children + the SECS. */
	assert_int_equal(st(&drv->stats.ewb), 7);
	assert_int_equal(atomic_load(&e.encl->nr_evicted), 4);
	assert_int_equal(u.encl->secs_child_cnt, 0);
	assert_non_null(u.encl->secs.epc_page);
	assert_int_equal(atomic_load(&u.encl->nr_evicted), 3);
	/* Only the VA pages and the uninitialized SECS remain. */
	assert_int_equal(nr_free(drv), 128 - 3);
	/* The SECS went to its own slot, index size / 4096. */
	assert_int_equal(sgx_encl_get_backing(e.encl, e.size >> 12, &b), 0);
	assert_int_equal(((struct sgx_pcmd *)((uint8_t *)b.pcmd + b.pcmd_offset))->enclave_id,
			 eid);
	sgx_encl_put_backing(&b);
	check_invariant(drv, (struct sgx_encl *[]){ e.encl, u.encl }, 2, 0);

	/* A fault reloads the SECS first, then the page. */
	assert_int_equal(sim_access(mm, e.base + 4096, VM_READ | VM_WRITE), 0);
	assert_non_null(e.encl->secs.epc_page);
	assert_int_equal(e.encl->secs_child_cnt, 1);
	enc_check_contents(drv, &e, 1);
	check_invariant(drv, (struct sgx_encl *[]){ e.encl, u.encl }, 2, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	enc_release(&u);
	assert_int_equal(nr_free(drv), 128);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

static void reclaim_skips_young_pages(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct t_enc e;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x40000, 32, true, true);
	/* Touch pages 0..3: they get PTEs with the accessed bit set. */
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(sim_access(mm, e.base + i * 4096, VM_READ), 0);
	assert_int_equal(sim_nr_ptes(mm), 4);

	sgx_reclaim_pages(drv);
	assert_int_equal(st(&drv->stats.reclaimed), 12);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(enc_resident(&e, i), i < 4);
	/* Young pages keep their PTEs and go to the tail, still tracked. */
	assert_int_equal(sim_nr_ptes(mm), 4);
	assert_int_equal(atomic_load(&drv->nr_active), 20);
	assert_true(enc_page(&e, 0)->epc_page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED);

	/* Next batch: pages 16..31 come first, the old young pages are behind. */
	sgx_reclaim_pages(drv);
	assert_int_equal(st(&drv->stats.reclaimed), 28);
	for (unsigned int i = 16; i < 32; i++)
		assert_false(enc_resident(&e, i));
	for (unsigned int i = 0; i < 4; i++)
		assert_true(enc_resident(&e, i));

	/* Their accessed bits were cleared: now they go, PTEs zapped first. */
	sgx_reclaim_pages(drv);
	assert_int_equal(st(&drv->stats.reclaimed), 32);
	for (unsigned int i = 0; i < 4; i++)
		assert_false(enc_resident(&e, i));
	assert_int_equal(sim_nr_ptes(mm), 0);
	assert_null(e.encl->secs.epc_page);
	check_invariant(drv, &e.encl, 1, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(nr_free(drv), 128);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/* A simulated thread inside the enclave that leaves on the IPI (its AEX). */
struct inside {
	struct secs_hidden *hid;
	struct tcs_hidden tcs;
	bool in;
	bool leave_on_kick;
	int kicks;
};

static void on_kick_aex(struct sim_host *h, struct sgx_mm *mm, struct sgx_encl *encl)
{
	struct inside *t = h->ctx;

	(void)mm;
	(void)encl;
	t->kicks++;
	if (t->in && t->leave_on_kick) {
		track_leave(t->hid, &t->tcs);
		t->in = false;
	}
}

/*
 * A thread of @e's enclave is inside; the host's kick (the IPI) reaches it
 * through on_kick_aex(), and makes it leave when @leave_on_kick.
 */
static void thread_enter(struct sgx_driver *drv, struct sim_host *h, struct t_enc *e,
			 struct inside *t, bool leave_on_kick)
{
	void *secs = sgx_get_epc_virt_addr(e->encl->secs.epc_page);

	memset(t, 0, sizeof(*t));
	t->hid = secs_hidden(drv->cpu, epc_frame(drv->cpu, (uint64_t)(uintptr_t)secs));
	assert_true(track_enter(t->hid, &t->tcs));
	t->in = true;
	t->leave_on_kick = leave_on_kick;
	h->ctx = t;
	h->on_kick = on_kick_aex;
}

static void reclaim_not_tracked_etrack_then_ipi(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_cpu_stats c0, c1;
	struct inside t;
	struct t_enc e;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x40000, 32, true, true);
	thread_enter(drv, &h, &e, &t, true);
	sgx_cpu_stats(drv->cpu, &c0);

	/*
	 * EWB says NOT_TRACKED (the thread entered before the EBLOCKs), ETRACK
	 * starts a new epoch but the thread is still in the old one, so EWB
	 * fails again; the IPI makes it leave and the third EWB succeeds.  The
	 * other 15 pages ride on the same epoch.
	 */
	sgx_reclaim_pages(drv);
	sgx_cpu_stats(drv->cpu, &c1);
	assert_false(t.in);
	assert_int_equal(t.kicks, 1);
	assert_int_equal(atomic_load(&mm->kicks), 1);
	assert_int_equal(st(&drv->stats.etrack_ipis), 1);
	assert_int_equal(c1.etrack - c0.etrack, 1);
	assert_int_equal(st(&drv->stats.ewb), 16);
	assert_int_equal(st(&drv->stats.reclaimed), 16);
	for (unsigned int i = 0; i < 16; i++)
		assert_false(enc_resident(&e, i));

	/* Nobody inside any more: the next batch needs an ETRACK but no IPI. */
	sgx_reclaim_pages(drv);
	assert_int_equal(st(&drv->stats.etrack_ipis), 1);
	assert_int_equal(t.kicks, 1);
	check_invariant(drv, &e.encl, 1, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(nr_free(drv), 128);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/*
 * A failed EWB (quirk 13 of the kernel): when even the IPI does not complete
 * tracking (here the thread ignores it, as with a kick the host cannot
 * deliver), EWB fails for good.  As in the kernel the driver warns, frees
 * the VA slot and marks the page non-resident: the contents are lost.  The
 * kernel then frees the frame without EREMOVE, still valid and BLOCKED in
 * the EPCM, for the next user to fault on.  Here it is EREMOVEd first, and
 * with the thread still inside that fails: the frame is leaked with the
 * EREMOVE warning, never handed out.  The SECS, pinned by that child, fails
 * its EWB and EREMOVE and is leaked too.
 */
static void reclaim_ewb_failure_leaks_valid_frame(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_epc_page *epc, *secs, *all[128];
	struct sgx_encl_page *p;
	struct sgx_va_page *va;
	struct inside t;
	struct t_enc e;
	const char *log;
	long n = 0;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x10000, 1, true, true);
	thread_enter(drv, &h, &e, &t, false);
	p = enc_page(&e, 0);
	epc = p->epc_page;
	secs = e.encl->secs.epc_page;
	va = cds_list_first_entry(&e.encl->va_pages, struct sgx_va_page, list);

	t_cap_start();
	sgx_reclaim_pages(drv);
	log = t_cap_end();
	assert_non_null(strstr(log, "WARNING: EWB returned 11 (0xb)\n"));
	assert_non_null(strstr(log, "WARNING: EREMOVE returned 14 (0xe) and an EPC page was "
				    "leaked."));
	assert_int_equal(t.kicks, 1);
	assert_int_equal(st(&drv->stats.etrack_ipis), 1);
	assert_int_equal(st(&drv->stats.ewb), 0);
	assert_int_equal(st(&drv->stats.reclaimed), 0);
	assert_int_equal(atomic_load(&e.encl->nr_evicted), 0);
	assert_null(p->epc_page);
	assert_int_equal(atomic_load(&p->desc) & SGX_ENCL_PAGE_VA_OFFSET_MASK, 0);
	for (unsigned int i = 0; i < SGX_VA_SLOT_COUNT / 64; i++)
		assert_int_equal(va->slots[i], 0);
	assert_int_equal(e.encl->secs_child_cnt, 0);
	assert_null(e.encl->secs.epc_page);

	/* Both frames stay out of the allocator: no free frame is valid. */
	assert_int_equal(st(&drv->stats.leaked), 2);
	assert_false(epc->flags & (SGX_EPC_PAGE_IS_FREE | SGX_EPC_PAGE_RECLAIMER_TRACKED));
	assert_false(secs->flags & SGX_EPC_PAGE_IS_FREE);
	assert_true(epcm_valid(drv, epc));
	check_invariant(drv, &e.encl, 1, 0);
	for (;;) {
		struct sgx_epc_page *q = sgx_alloc_epc_page(drv, NULL, false);

		if (IS_ERR(q))
			break;
		assert_ptr_not_equal(q, epc);
		assert_false(epcm_valid(drv, q));
		all[n++] = q;
	}
	while (n)
		sgx_free_epc_page(drv, all[--n]);

	track_leave(t.hid, &t.tcs);
	sim_mm_exit(mm);
	enc_release(&e);
	check_invariant(drv, NULL, 0, 0);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/*
 * The OOM killer makes threads still inside the victim leave before it
 * forgets their address spaces (a review finding): otherwise the pages the
 * reclaimer takes afterwards fail EWB even after ETRACK and the IPI, which
 * reaches nobody, and are lost; their frames would go back to the free list
 * still valid in the EPCM.
 */
static void oom_kill_kicks_threads_inside(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct inside t;
	struct t_enc e;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x40000, 32, true, true);
	thread_enter(drv, &h, &e, &t, true);
	sgx_encl_get(e.encl); /* the reference sgx_encl_oom() consumes */
	assert_true(sgx_encl_oom(e.encl));
	assert_false(t.in);
	assert_int_equal(t.kicks, 1);
	assert_true(cds_list_empty(&e.encl->mm_list));

	/* Its pages still reclaim normally: no IPI needed, nothing lost. */
	sgx_reclaim_pages(drv);
	assert_int_equal(st(&drv->stats.etrack_ipis), 0);
	assert_int_equal(st(&drv->stats.ewb), 16);
	assert_int_equal(st(&drv->stats.reclaimed), 16);
	for (unsigned int i = 0; i < 16; i++)
		assert_true(enc_page(&e, i)->va_page != NULL);
	check_invariant(drv, &e.encl, 1, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(st(&drv->stats.leaked), 0);
	assert_int_equal(nr_free(drv), 128);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/* More enclave pages than EPC: ADD_PAGES reclaims directly, faults reload. */
static void reclaim_direct_beyond_capacity(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 64, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct t_enc e;
	unsigned int resident = 0;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x80000, 100, true, true);
	assert_true(st(&drv->stats.direct_reclaims) > 0);
	for (unsigned int i = 0; i < 100; i++)
		resident += enc_resident(&e, i);
	assert_int_equal(resident + atomic_load(&e.encl->nr_evicted), 100);
	assert_int_equal(resident, e.encl->secs_child_cnt);
	check_invariant(drv, &e.encl, 1, 0);

	/* Read every page back under pressure; contents survive EWB/ELDU. */
	for (unsigned int round = 0; round < 2; round++) {
		for (unsigned int i = 0; i < 100; i++) {
			make_room(drv, 4);
			assert_int_equal(sim_access(mm, e.base + i * 4096, VM_READ), 0);
			enc_check_contents(drv, &e, i);
		}
	}
	check_invariant(drv, &e.encl, 1, 0);

	/* sgx_reclaim_direct() only acts below the low watermark. */
	{
		uint64_t b = st(&drv->stats.reclaim_batches);

		if (nr_free(drv) >= SGX_NR_LOW_PAGES) {
			sgx_reclaim_direct(drv);
			assert_int_equal(st(&drv->stats.reclaim_batches), b);
		} else {
			sgx_reclaim_direct(drv);
			assert_int_equal(st(&drv->stats.reclaim_batches), b + 1);
		}
	}

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(nr_free(drv), 64);
	check_invariant(drv, NULL, 0, 0);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

static void ksgxd_reclaims_to_high_watermark(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 256, false);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct sgx_epc_page *p[256];
	struct t_enc e;
	int waited = 0, n = 0;

	(void)state;
	/* 240 pages + SECS + VA in a 256-page EPC: below LOW while adding. */
	enc_build(drv, mm, &e, 0x400000000UL, 0x100000, 240, false, false);
	assert_true(st(&drv->stats.ksgxd_wakeups) > 0);

	/*
	 * ksgxd sleeps once HIGH is reached and is woken only by an allocation
	 * that leaves fewer than LOW pages free.  Be that allocation.
	 */
	while (nr_free(drv) >= SGX_NR_LOW_PAGES) {
		p[n] = sgx_alloc_epc_page(drv, NULL, false);
		assert_false(IS_ERR(p[n]));
		n++;
	}
	while (nr_free(drv) < SGX_NR_HIGH_PAGES && waited < 10000) {
		usleep(1000);
		waited++;
	}
	assert_true(nr_free(drv) >= SGX_NR_HIGH_PAGES);
	/* ... and stops there: at most the batch that crossed it. */
	usleep(50000);
	assert_true(nr_free(drv) < SGX_NR_HIGH_PAGES + SGX_NR_TO_SCAN);
	assert_false(sgx_should_reclaim(drv, SGX_NR_HIGH_PAGES));
	assert_true(st(&drv->stats.reclaim_batches) > 0);
	assert_int_equal(st(&drv->stats.direct_reclaims), 0);
	check_invariant(drv, &e.encl, 1, n);

	while (n--)
		sgx_free_epc_page(drv, p[n]);
	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(nr_free(drv), 256);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/* Concurrent faults on an enclave twice the EPC, with ksgxd making room. */
struct stress_ctx {
	struct t_enc *e;
	unsigned int seed;
	int failures;
};

static int access_retry(struct sgx_mm *mm, unsigned long addr)
{
	int r = -1;

	/* sim_access gives up after many VM_FAULT_NOPAGE; ksgxd may be mid-batch. */
	for (int tries = 0; tries < 2000; tries++) {
		r = sim_access(mm, addr, VM_READ);
		if (r == 0)
			break;
		usleep(1000);
	}
	return r;
}

static void *stress_thread(void *arg)
{
	struct stress_ctx *c = arg;

	for (int i = 0; i < 400; i++) {
		unsigned int page = (unsigned int)rand_r(&c->seed) % c->e->nr;

		if (access_retry(c->e->mm, c->e->base + (unsigned long)page * 4096))
			c->failures++;
	}
	return NULL;
}

static void ksgxd_under_concurrent_faults(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, false);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct stress_ctx c[2];
	pthread_t th[2];
	struct t_enc e;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x100000, 256, true, true);
	for (int i = 0; i < 2; i++) {
		c[i] = (struct stress_ctx){ .e = &e, .seed = 1234u + (unsigned int)i };
		assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &c[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].failures, 0);
	}
	assert_true(st(&drv->stats.eldu) > 0);
	/* Let ksgxd settle, then check every page's contents. */
	for (unsigned int i = 0; i < e.nr; i++) {
		assert_int_equal(access_retry(mm, e.base + i * 4096), 0);
		sgx_mutex_lock(&e.encl->lock);
		if (enc_page(&e, i)->epc_page &&
		    !(atomic_load(&enc_page(&e, i)->desc) & SGX_ENCL_PAGE_BUSY))
			enc_check_contents(drv, &e, i);
		sgx_mutex_unlock(&e.encl->lock);
	}
	/* Quiescent once ksgxd has nothing to do and its last batch is done. */
	for (int waited = 0; sgx_should_reclaim(drv, SGX_NR_HIGH_PAGES) && waited < 10000; waited++)
		usleep(1000);
	usleep(50000);
	check_invariant(drv, &e.encl, 1, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(nr_free(drv), 128);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/* Test-point hooks: act on the pages of a batch while it is isolated. */
struct isolate_ctx {
	struct sgx_driver *drv;
	int calls, blocked_calls;
	int unmark_result;
	struct sgx_epc_page *poisoned;
};

static void tp_hook(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl, unsigned long addr)
{
	struct isolate_ctx *c = ctx;
	struct sgx_encl_page *p;

	if (tp == SGX_TP_RECLAIM_BLOCKED) {
		c->blocked_calls++;
		/* Blocked pages are BUSY (v6): loaders keep off. */
		p = sgx_encl_page_lookup(encl, addr);
		assert_true(atomic_load(&p->desc) & SGX_ENCL_PAGE_BUSY);
		assert_true(atomic_load(&p->desc) & SGX_ENCL_PAGE_PCMD_BUSY);
		return;
	}
	if (tp != SGX_TP_RECLAIM_ISOLATED || c->calls++)
		return;
	p = sgx_encl_page_lookup(encl, addr);
	c->unmark_result = sgx_unmark_page_reclaimable(c->drv, p->epc_page);
	c->poisoned = p->epc_page;
	assert_int_equal(sgx_memory_failure(c->drv, sgx_get_epc_virt_addr(p->epc_page)), 0);
}

static void reclaim_isolated_page_unmark_and_poison(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct isolate_ctx c = { .drv = drv };
	struct sgx_numa_node *node = &drv->nodes[0];
	struct t_enc e;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x40000, 32, true, true);
	drv->cfg.test_point = tp_hook;
	drv->cfg.test_ctx = &c;
	sgx_reclaim_pages(drv);
	drv->cfg.test_point = NULL;

	assert_int_equal(c.calls, 16);
	assert_int_equal(c.blocked_calls, 16);
	assert_int_equal(c.unmark_result, -EBUSY);
	/* The poisoned page finished reclaim and was quarantined by the free. */
	assert_int_equal(st(&drv->stats.reclaimed), 16);
	assert_false(enc_resident(&e, 0));
	assert_ptr_equal(first_on(&node->lock, &node->sgx_poison_page_list), c.poisoned);
	assert_false(on_list(&node->lock, &node->free_page_list, c.poisoned));
	check_invariant(drv, &e.encl, 1, 0);

	sim_mm_exit(mm);
	enc_release(&e);
	assert_int_equal(nr_free(drv), 127);
	check_invariant(drv, NULL, 0, 0);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

/* Isolation finds the enclave's refcount at zero: the page is left to release. */
static void reclaim_drops_pages_of_dying_enclave(void **state)
{
	struct sim_host h;
	struct sgx_driver *drv = mk_drv(&h, 128, true);
	struct sgx_mm *mm = sim_mm_new(&h, 1);
	struct t_enc e;
	long ref;

	(void)state;
	enc_build(drv, mm, &e, 0x400000000UL, 0x40000, 20, false, true);
	ref = atomic_exchange(&e.encl->refcount, 0);
	sgx_reclaim_pages(drv);
	atomic_store(&e.encl->refcount, ref);

	assert_int_equal(st(&drv->stats.reclaim_batches), 0);
	assert_int_equal(st(&drv->stats.reclaimed), 0);
	assert_int_equal(atomic_load(&drv->nr_active), 4);
	for (unsigned int i = 0; i < 16; i++) {
		assert_true(enc_resident(&e, i));
		assert_false(enc_page(&e, i)->epc_page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED);
	}
	/* Release EREMOVEs them as any resident page. */
	enc_release(&e);
	assert_int_equal(nr_free(drv), 128);
	check_invariant(drv, NULL, 0, 0);
	sim_mm_free(mm);
	sim_driver_destroy(drv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(create_sections_and_nodes),
		cmocka_unit_test(create_masks),
		cmocka_unit_test(create_xfrm_mask_without_osxsave),
		cmocka_unit_test(create_vepc_only_without_lc),
		cmocka_unit_test(create_enodev_without_lc_or_vepc),
		cmocka_unit_test(sanitize_with_ksgxd),
		cmocka_unit_test(sanitize_leftovers_two_passes),
		cmocka_unit_test(sanitize_warns_when_pages_remain),
		cmocka_unit_test(sanitize_parks_poisoned_pages),
		cmocka_unit_test(alloc_round_robin_nodes),
		cmocka_unit_test(alloc_round_robin_sparse_nodes),
		cmocka_unit_test(alloc_order_and_flags),
		cmocka_unit_test(alloc_enomem_nothing_reclaimable),
		cmocka_unit_test(alloc_ebusy_and_erestartsys),
		cmocka_unit_test(free_poison_and_memory_failure),
		cmocka_unit_test(mark_unmark),
		cmocka_unit_test(watermarks),
		cmocka_unit_test(reclaim_writes_batch_to_backing),
		cmocka_unit_test(counters_snapshot),
		cmocka_unit_test(reclaim_evicts_secs_after_last_child),
		cmocka_unit_test(reclaim_skips_young_pages),
		cmocka_unit_test(reclaim_not_tracked_etrack_then_ipi),
		cmocka_unit_test(oom_kill_kicks_threads_inside),
		cmocka_unit_test(reclaim_ewb_failure_leaks_valid_frame),
		cmocka_unit_test(reclaim_direct_beyond_capacity),
		cmocka_unit_test(ksgxd_reclaims_to_high_watermark),
		cmocka_unit_test(ksgxd_under_concurrent_faults),
		cmocka_unit_test(reclaim_isolated_page_unmark_and_poison),
		cmocka_unit_test(reclaim_drops_pages_of_dying_enclave),
	};

	return T_RUN(tests);
}
