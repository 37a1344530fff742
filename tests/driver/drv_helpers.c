// SPDX-License-Identifier: MIT
/* Shared helpers of the driver tests (see drv_helpers.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drv_helpers.h"
#include "helpers.h"
#include "softsgx/measure.h"
#include "softsgx/sign.h"
#include "softsgx/uapi/sgx.h"

long nr_free(struct sgx_driver *drv)
{
	return atomic_load(&drv->nr_free_pages);
}

uint64_t st(_Atomic uint64_t *c)
{
	return atomic_load(c);
}

bool epcm_valid(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	struct sgx_epcm_view v;

	assert_int_equal(sgx_cpu_epcm(drv->cpu, sgx_get_epc_virt_addr(page), &v), 0);
	return v.valid;
}

/* Pages of @encl that hold EPC: resident children, SECS, VA pages. */
long encl_epc_pages(struct sgx_encl *encl)
{
	struct sgx_va_page *va;
	long n = 0;

	sgx_mutex_lock(&encl->lock);
	for (unsigned long i = 0; encl->page_array && i < encl->nr_slots; i++) {
		struct sgx_encl_page *e = &encl->page_array[i];

		if ((atomic_load(&e->desc) & SGX_ENCL_PAGE_PRESENT) && e->epc_page)
			n++;
	}
	if (encl->secs.epc_page)
		n++;
	cds_list_for_each_entry(va, &encl->va_pages, list)
		n++;
	sgx_mutex_unlock(&encl->lock);
	return n;
}

/*
 * The EPC accounting invariant, in a quiescent state: every page is free
 * (on a free list, counted in nr_free_pages, EPCM-invalid), poisoned (on a
 * poison list), in use by one of @encls (or one of @extra pages the test
 * holds itself), or leaked after a failed EREMOVE.
 */
void check_invariant(struct sgx_driver *drv, struct sgx_encl **encls, int n, long extra)
{
	long free_listed = 0, poisoned = 0, in_use = extra, leaked;
	long is_free = 0;

	for (int nid = 0; nid < drv->nr_nodes; nid++) {
		struct sgx_numa_node *node = &drv->nodes[nid];
		struct sgx_epc_page *p;

		sgx_mutex_lock(&node->lock);
		cds_list_for_each_entry(p, &node->free_page_list, list) {
			assert_true(p->flags & SGX_EPC_PAGE_IS_FREE);
			assert_null(p->owner);
			free_listed++;
		}
		cds_list_for_each_entry(p, &node->sgx_poison_page_list, list)
			poisoned++;
		sgx_mutex_unlock(&node->lock);
	}
	for (unsigned int s = 0; s < drv->nr_sections; s++) {
		for (unsigned long i = 0; i < drv->sections[s].size >> 12; i++) {
			struct sgx_epc_page *p = &drv->sections[s].pages[i];

			if (p->flags & SGX_EPC_PAGE_IS_FREE) {
				is_free++;
				if (!p->poison)
					assert_false(epcm_valid(drv, p));
			}
		}
	}
	for (int i = 0; i < n; i++)
		in_use += encl_epc_pages(encls[i]);
	leaked = (long)st(&drv->stats.leaked);

	assert_int_equal(free_listed, nr_free(drv));
	assert_int_equal(is_free, free_listed + poisoned);
	assert_int_equal(free_listed + poisoned + in_use + leaked, (long)drv->nr_total_pages);
}

/* A sanitized driver with one section of @pages frames on node 0. */
struct sgx_driver *mk_drv(struct sim_host *h, unsigned long pages, bool sync)
{
	struct sgx_driver *drv;

	sim_host_init(h);
	drv = sim_driver(h, pages, sync);
	assert_non_null(drv);
	sgx_sanitize_now(drv);
	assert_int_equal(atomic_load(&drv->nr_free_pages), pages);
	return drv;
}


uint64_t pattern(unsigned int page, unsigned int off)
{
	return ((uint64_t)(page + 1) << 32) | off | 0x8000000000000000ULL;
}

/*
 * Build an enclave through the ioctls: @nr REG RW pages from offset 0 of a
 * @size ELRANGE at @base, mapped in @mm when @map, EINIT when @init.
 */
void enc_sigstruct(unsigned long size, unsigned int nr, struct sgx_sigstruct *ss)
{
	struct sgx_measure m;
	uint8_t mr[32];

	sgx_measure_ecreate(&m, 1, size);
	for (unsigned int i = 0; i < nr; i++)
		sgx_measure_eadd(&m, (uint64_t)i * 4096, T_RW);
	sgx_measure_final(&m, mr);
	t_sigstruct(ss, mr, T_ATTR, 3, t_key());
}

int enc_try_build(struct sgx_driver *drv, struct sgx_mm *mm, struct t_enc *e, unsigned long base,
		  unsigned long size, unsigned int nr, bool map, const struct sgx_sigstruct *ss)
{
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = T_RW };
	struct sgx_secs *secs = aligned_alloc(4096, 4096);
	uint8_t *src = aligned_alloc(4096, (size_t)nr * 4096);
	struct sgx_enclave_create create;
	unsigned long added = 0;
	int err = 0;
	long r;

	memset(e, 0, sizeof(*e));
	if (!secs || !src) {
		err = -ENOMEM;
		goto out;
	}
	e->mm = mm;
	e->base = base;
	e->size = size;
	e->nr = nr;
	e->encl = sgx_open(drv, &err);
	if (!e->encl)
		goto out;
	if (map && (err = sim_mmap(mm, e->encl, base, size, VM_READ | VM_WRITE)))
		goto out;

	t_secs_src(secs, base, size, T_ATTR);
	create.src = (uint64_t)(uintptr_t)secs;
	r = sgx_ioctl(e->encl, mm, SGX_IOC_ENCLAVE_CREATE, (unsigned long)&create);
	if (r) {
		err = (int)r;
		goto out;
	}

	for (unsigned int i = 0; i < nr; i++)
		for (unsigned int off = 0; off < 4096; off += 8)
			*(uint64_t *)(src + (size_t)i * 4096 + off) = pattern(i, off);
	while (added < (unsigned long)nr * 4096) {
		struct sgx_enclave_add_pages ap = {
			.src = (uint64_t)(uintptr_t)(src + added),
			.offset = added,
			.length = (uint64_t)nr * 4096 - added,
			.secinfo = (uint64_t)(uintptr_t)&si,
			.flags = 0,
		};

		r = sgx_ioctl(e->encl, mm, SGX_IOC_ENCLAVE_ADD_PAGES, (unsigned long)&ap);
		if (r || !ap.count) {
			err = r ? (int)r : -EIO;
			goto out;
		}
		added += ap.count;
	}

	if (ss) {
		struct sgx_enclave_init in = { .sigstruct = (uint64_t)(uintptr_t)ss };

		r = sgx_ioctl(e->encl, mm, SGX_IOC_ENCLAVE_INIT, (unsigned long)&in);
		if (r || !encl_test_flag(e->encl, SGX_ENCL_INITIALIZED))
			err = r ? (int)r : -EIO;
	}
out:
	free(src);
	free(secs);
	return err;
}

void enc_build(struct sgx_driver *drv, struct sgx_mm *mm, struct t_enc *e,
	       unsigned long base, unsigned long size, unsigned int nr, bool map, bool init)
{
	struct sgx_sigstruct *ss = NULL;

	if (init) {
		ss = aligned_alloc(4096, 4096);
		assert_non_null(ss);
		enc_sigstruct(size, nr, ss);
	}
	assert_int_equal(enc_try_build(drv, mm, e, base, size, nr, map, ss), 0);
	free(ss);
}

void enc_release(struct t_enc *e)
{
	sgx_release(e->encl);
	e->encl = NULL;
}

struct sgx_encl_page *enc_page(struct t_enc *e, unsigned int i)
{
	struct sgx_encl_page *p = sgx_encl_page_lookup(e->encl, e->base + (unsigned long)i * 4096);

	assert_non_null(p);
	return p;
}

bool enc_resident(struct t_enc *e, unsigned int i)
{
	return enc_page(e, i)->epc_page != NULL;
}

/* EDBGRD the page (resident) and compare a few words with its pattern. */
void enc_check_contents(struct sgx_driver *drv, struct t_enc *e, unsigned int i)
{
	struct sgx_epc_page *epc = enc_page(e, i)->epc_page;
	const unsigned int offs[3] = { 0, 2048, 4088 };

	assert_non_null(epc);
	for (int k = 0; k < 3; k++) {
		uint8_t *addr = (uint8_t *)sgx_get_epc_virt_addr(epc) + offs[k];
		uint64_t v = 0;

		assert_int_equal(sgx_edbgrd(drv->cpu, addr, &v), 0);
		assert_int_equal(v, pattern(i, offs[k]));
	}
}
