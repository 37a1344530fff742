// SPDX-License-Identifier: MIT
/*
 * Enclave objects (the kernel's encl.c): lifetime and release, the page
 * store, VA pages and slots, the shmem-style backing store, ELDU, the
 * page-fault handler with its ELDU and EAUG paths, and mm tracking.
 *
 * Storage.  sgx_encl_init_storage() runs once ENCLAVE_CREATE knows the
 * enclave's base and size (and again if a failed CREATE is retried).  It
 * creates, all sized from encl->size and all freed by sgx_encl_release():
 *   - page_array: one struct sgx_encl_page per page of ELRANGE in a
 *     MAP_NORESERVE anonymous mapping (untouched parts cost nothing), followed
 *     by a bitmap with one bit per group of 64 slots that ever held an entry,
 *     so that walks (release, may_map) skip the empty parts of a huge
 *     ELRANGE without reading them;
 *   - va_array: (size >> 12) / 512 + 2 VA page descriptors, handed out
 *     through encl->va_free and the encl->va_next bump index, so that the
 *     fault path (EAUG grows the VA pool) never allocates; descriptors that
 *     ioctls take from the heap beyond it, and the spares REMOVE_PAGES
 *     leaves for regrowth (sgx_encl_va_reserve()), also return to va_free
 *     and are freed only with the storage;
 *   - the backing store: a memfd "SGX backing" of E + E/32 bytes with
 *     E = size + 4096, mapped shared into the process (layout in
 *     sgx_encl_get_backing()).
 *
 * Signal context.  sgx_vma_fault() runs in the SIGBUS handler.  Everything
 * it reaches here (load, ELDU, EAUG, VA descriptors from the pool, backing
 * access, messages) uses no malloc/free and no stdio, and takes only
 * sgx_mutex locks; system calls are limited to fallocate/lseek on the
 * backing memfd, and errno is preserved for the interrupted code.  Until
 * CREATED is set the fault path does not look at the storage at all (the
 * kernel reaches the same SIGBUS through an empty xarray).
 *
 * Counters: sgx_encl_eldu() counts every reload, SECS included, in
 * drv->stats.eldu and takes it off encl->nr_evicted (the reclaimer's EWB
 * adds to it for children and SECS alike); the EAUG path counts
 * drv->stats.eaug; sgx_encl_free_epc_page() counts drv->stats.eremove, or
 * drv->stats.leaked when EREMOVE fails.
 *
 * mm_list walkers (zap, kick, age) take host mm references with mm_get()
 * and drop them with mm_put() inside the RCU read section, as the kernel
 * does with mmput_async(): the host must never run an mm's teardown (and so
 * sgx_encl_mm_release(), which synchronizes RCU) from mm_put().
 *
 * The VA descriptor pool (va_free, va_next) is protected by encl->mm_lock:
 * sgx_alloc_va_page() runs both without encl->lock (ADD_PAGES, CREATE grow
 * before locking) and with it (the EAUG fault path), so it needs a lock that
 * nests inside encl->lock, and mm_lock is the enclave's innermost lock.
 * Nothing else is ever taken while it is held.
 *
 * Decisions on the kernel's quirks (docs/quirks.md, Qn) that live in this
 * file:
 *   5  fixed: sgx_encl_mm_add() takes the enclave reference only once
 *      nothing can fail any more, so no error path leaks it.
 *   6  kept:  release skips a page the reclaimer still has isolated (it
 *      cannot happen: the reclaimer holds an enclave reference).  As the
 *      kernel leaks that descriptor, the page array is then left mapped so
 *      that the reclaimer never touches freed memory.
 *   9  fixed: the concurrent-EAUG loser gets VM_FAULT_NOPAGE (docs/races.md,
 *      R2), unless built with -DSGX_NO_EAUG_RACE_FIX, which reproduces the
 *      kernel's SIGBUS for tests.  The REMOVE/MODIFY race is closed by BUSY,
 *      which the loader honours (the ioctls set it).
 *  10  fixed: an ELDU failure leaves the backing copy (contents and PCMD)
 *      and the VA slot intact, so a transient failure can be retried; only a
 *      successful reload truncates the backing.
 *  14  fixed: sgx_encl_may_map() with no enclave returns -EACCES.
 *  16  fixed: the mm notifier's release drops the enclave reference in the
 *      caller's (sleepable) context after synchronize_rcu, never in an RCU
 *      callback.
 * One more deviation, for the same class of race as 9: when the fault path
 * finds no entry under encl->lock although the lockless check saw one (the
 * page was removed meanwhile), an SGX2 platform retries the access
 * (VM_FAULT_NOPAGE, which then takes the EAUG path) instead of SIGBUS.
 * Kept as the kernel has it: on SGX2, a fault whose lockless check finds no
 * entry on an uninitialized enclave gets SIGBUS even when ADD_PAGES adds the
 * page before the EAUG path looks at the state; the fault is ordered before
 * the add, and nothing may touch an enclave's pages before EINIT anyway
 * (found by the long fuzz run; the harness accepts it).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <unistd.h>

#include "rcu.h"
#include "mem.h"
#include "sgx.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096UL
#define PCMD_SIZE sizeof(struct sgx_pcmd)
#define PCMDS_PER_PAGE (PAGE_SIZE / PCMD_SIZE)
#define SLOT_GROUP 64		/* slots per bit of the page-array summary map */
#define MAY_MAP_BATCH 4096	/* entries between lock breaks (XA_CHECK_SCHED) */

static void sgx_encl_release(struct sgx_encl *encl);

/* ---------------------------------------------------------------------- */
/* Storage                                                                */

static size_t page_array_map_words(unsigned long nr_slots)
{
	unsigned long groups = (nr_slots + SLOT_GROUP - 1) / SLOT_GROUP;

	return (groups + 63) / 64;
}

static size_t page_array_bytes(unsigned long nr_slots)
{
	size_t n = nr_slots * sizeof(struct sgx_encl_page) + page_array_map_words(nr_slots) * 8;

	return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* The summary bitmap lives right after the slots. */
static uint64_t *page_array_map(struct sgx_encl *encl)
{
	return (uint64_t *)(encl->page_array + encl->nr_slots);
}

static size_t va_array_bytes(unsigned long nr)
{
	return (nr * sizeof(struct sgx_va_page) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

static void *map_anon(size_t len)
{
	return sgx_map(len);
}

static size_t backing_bitmap_bytes(unsigned long backing_size)
{
	unsigned long pages = (backing_size + PAGE_SIZE - 1) >> PAGE_SHIFT;

	return (pages + 63) / 64 * sizeof(unsigned long);
}

/* The next entry at index >= *@idx and < @end, or NULL; advances *@idx. */
static struct sgx_encl_page *next_present(struct sgx_encl *encl, unsigned long *idx,
					  unsigned long end)
{
	const uint64_t *map = page_array_map(encl);
	unsigned long i = *idx;

	while (i < end) {
		unsigned long g = i / SLOT_GROUP;
		uint64_t w = __atomic_load_n(&map[g / 64], __ATOMIC_ACQUIRE);

		if (!w) {
			i = (g / 64 + 1) * 64 * SLOT_GROUP;
			continue;
		}
		if (!(w & (1ULL << (g % 64)))) {
			i = (g + 1) * SLOT_GROUP;
			continue;
		}
		if (atomic_load_explicit(&encl->page_array[i].desc, memory_order_acquire) &
		    SGX_ENCL_PAGE_PRESENT) {
			*idx = i + 1;
			return &encl->page_array[i];
		}
		i++;
	}
	*idx = end;
	return NULL;
}

static bool va_desc_in_pool(struct sgx_encl *encl, struct sgx_va_page *va_page)
{
	return encl->va_array && va_page >= encl->va_array &&
	       va_page < encl->va_array + encl->nr_va_array;
}

static void sgx_encl_free_storage(struct sgx_encl *encl)
{
	if (encl->page_array)
		sgx_unmap(encl->page_array, page_array_bytes(encl->nr_slots));
	encl->page_array = NULL;
	encl->nr_slots = 0;
	/* Free the heap spares of sgx_encl_va_reserve(); pool entries go with va_array. */
	while (!cds_list_empty(&encl->va_free)) {
		struct sgx_va_page *va = cds_list_first_entry(&encl->va_free, struct sgx_va_page,
							      list);

		cds_list_del(&va->list);
		if (!va_desc_in_pool(encl, va))
			sgx_free(va);
	}
	if (encl->va_array)
		sgx_unmap(encl->va_array, va_array_bytes(encl->nr_va_array));
	encl->va_array = NULL;
	encl->nr_va_array = 0;
	encl->va_next = 0;
	CDS_INIT_LIST_HEAD(&encl->va_free);
	if (encl->backing) {
		struct sgx_mem_file mf = { encl->backing_fd, encl->backing_off, encl->backing,
					   encl->backing_size };

		sgx_mem_file_put(&mf);
	}
	if (encl->backing_present)
		sgx_unmap(encl->backing_present, backing_bitmap_bytes(encl->backing_size));
	encl->backing_present = NULL;
	encl->backing = NULL;
	encl->backing_size = 0;
	encl->backing_off = 0;
	encl->backing_fd = -1;
}

/* Are any descriptors of the current storage in use? */
static bool sgx_encl_storage_busy(struct sgx_encl *encl)
{
	struct cds_list_head *pos;
	unsigned long nr_free = 0, idx = 0;

	if (encl->page_array && next_present(encl, &idx, encl->nr_slots))
		return true;
	cds_list_for_each(pos, &encl->va_free)
		if (va_desc_in_pool(encl, cds_list_entry(pos, struct sgx_va_page, list)))
			nr_free++;
	return encl->va_next != nr_free;
}

/**
 * sgx_encl_init_storage() - create the enclave's page store, VA pool and backing
 * @encl: an enclave whose @base and @size are set (ENCLAVE_CREATE)
 *
 * Called again by a CREATE retried after a failure, it replaces the storage
 * (which must then be unused).
 *
 * Return: 0, -EINVAL (size not a multiple of the page size), -EBUSY (the
 * old storage is still in use), -ENOMEM, or the memfd/ftruncate/mmap error.
 */
int sgx_encl_init_storage(struct sgx_encl *encl)
{
	unsigned long nr_slots = encl->size >> PAGE_SHIFT;
	unsigned long e = encl->size + PAGE_SIZE;
	int err;

	if (!nr_slots || (encl->size & (PAGE_SIZE - 1)))
		return -EINVAL;
	if (encl->page_array || encl->va_array || encl->backing) {
		if (sgx_encl_storage_busy(encl))
			return -EBUSY;
		sgx_encl_free_storage(encl);
	}

	encl->page_array = map_anon(page_array_bytes(nr_slots));
	if (!encl->page_array)
		return -ENOMEM;
	encl->nr_slots = nr_slots;

	encl->nr_va_array = nr_slots / SGX_VA_SLOT_COUNT + 2;
	encl->va_array = map_anon(va_array_bytes(encl->nr_va_array));
	if (!encl->va_array) {
		err = -ENOMEM;
		goto err;
	}
	encl->va_next = 0;
	CDS_INIT_LIST_HEAD(&encl->va_free);

	{
		struct sgx_mem_file mf;

		err = sgx_mem_file_get("SGX backing", e + e / 32, &mf);
		if (err)
			goto err;
		encl->backing_fd = mf.fd;
		encl->backing_off = mf.off;
		encl->backing = mf.addr;
		encl->backing_size = e + e / 32;
	}
	encl->backing_present = map_anon(backing_bitmap_bytes(encl->backing_size));
	if (!encl->backing_present) {
		err = -ENOMEM;
		goto err;
	}
	return 0;
err:
	sgx_encl_free_storage(encl);
	return err;
}

/* ---------------------------------------------------------------------- */
/* Enclave objects                                                        */

/**
 * sgx_encl_alloc() - allocate an empty enclave
 * @drv: the driver
 * @err: set to -ENOMEM on failure
 *
 * The enclave holds one reference (the file's).  The caller has counted it
 * with sgx_inc_usage_count(); its release uncounts it, as its last step.
 *
 * Return: the enclave, or NULL.
 */
struct sgx_encl *sgx_encl_alloc(struct sgx_driver *drv, int *err)
{
	struct sgx_encl *encl = sgx_zalloc(sizeof(*encl));

	if (!encl) {
		*err = -ENOMEM;
		return NULL;
	}
	encl->drv = drv;
	atomic_init(&encl->refcount, 1);
	encl->lock = (struct sgx_mutex)SGX_MUTEX_INIT;
	encl->mm_lock = (struct sgx_mutex)SGX_MUTEX_INIT;
	CDS_INIT_LIST_HEAD(&encl->va_pages);
	CDS_INIT_LIST_HEAD(&encl->va_free);
	CDS_INIT_LIST_HEAD(&encl->mm_list);
	encl->backing_fd = -1;
	encl->secs.encl = encl;
	*err = 0;
	return encl;
}

void sgx_encl_get(struct sgx_encl *encl)
{
	atomic_fetch_add_explicit(&encl->refcount, 1, memory_order_relaxed);
}

/* kref_get_unless_zero(): fails once the release has begun. */
bool sgx_encl_get_unless_zero(struct sgx_encl *encl)
{
	long c = atomic_load_explicit(&encl->refcount, memory_order_relaxed);

	while (c > 0) {
		if (atomic_compare_exchange_weak_explicit(&encl->refcount, &c, c + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

void sgx_encl_put(struct sgx_encl *encl)
{
	if (atomic_fetch_sub_explicit(&encl->refcount, 1, memory_order_acq_rel) == 1)
		sgx_encl_release(encl);
}

/*
 * The last reference is gone (Linux's sgx_encl_release()): children first, then
 * the SECS (EREMOVE of a SECS with children fails), then the VA pages, then the
 * backing.  Evicted pages need no EPC work; their data dies with the backing.
 */
static void sgx_encl_release(struct sgx_encl *encl)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_va_page *va_page, *tmp;
	struct sgx_encl_page *entry;
	unsigned long idx = 0;
	bool leak_array = false;

	atomic_fetch_add(&drv->nr_releasing, 1);
	while (encl->page_array && (entry = next_present(encl, &idx, encl->nr_slots))) {
		if (entry->epc_page) {
			/*
			 * The reclaimer holds an enclave reference while it owns
			 * a page, so this cannot fail; if it ever does, leave
			 * the page (and its descriptor) to the reclaimer.
			 */
			if (sgx_unmark_page_reclaimable(drv, entry->epc_page)) {
				leak_array = true;
				continue;
			}
			sgx_encl_free_epc_page(drv, entry->epc_page);
			encl->secs_child_cnt--;
			entry->epc_page = NULL;
		}
		sgx_encl_page_erase(entry);
	}
	if (leak_array) {
		sgx_warn("%s: a page owned by the reclaimer was left behind", __func__);
		encl->page_array = NULL; /* keep it mapped: see Q6 above */
	}
	sgx_test_point(drv, SGX_TP_RELEASE_CHILDREN, encl, encl->base);

	if (!encl->secs_child_cnt && encl->secs.epc_page) {
		sgx_encl_free_epc_page(drv, encl->secs.epc_page);
		encl->secs.epc_page = NULL;
	} else if (encl->secs.epc_page &&
		   (encl->secs.epc_page->flags & SGX_EPC_PAGE_UNRECLAIMABLE)) {
		/* Kept for its children (warned below): off the OOM killer's list. */
		sgx_drop_unreclaimable(drv, encl->secs.epc_page);
	}

	cds_list_for_each_entry_safe(va_page, tmp, &encl->va_pages, list)
		sgx_encl_free_va_page(encl, va_page);

	sgx_encl_free_storage(encl);
	/* No leaf touches the enclave's pages any more: the host may drop them. */
	if (drv->host_ops->encl_released)
		drv_host_call(drv, encl_released, encl);

	if (!cds_list_empty(&encl->mm_list))
		sgx_warn("%s: mm_list not empty", __func__);
	if (encl->secs_child_cnt || encl->secs.epc_page)
		sgx_warn("%s: %u resident children, SECS %s", __func__, encl->secs_child_cnt,
			 encl->secs.epc_page ? "resident" : "gone");
	sgx_free(encl);
	atomic_fetch_sub(&drv->nr_releasing, 1);
	/* Last, after the EPC is gone: a new first user may then run EUPDATESVN. */
	sgx_dec_usage_count(drv);
}

/* ---------------------------------------------------------------------- */
/* Page store                                                             */

/**
 * sgx_encl_next_page() - walk the pages an enclave has
 * @encl: the enclave (its lock held)
 * @idx: the first page index to look at; set past the page returned
 * @end: one past the last index to look at
 *
 * Return: the next present page at an index in [*@idx, @end), or NULL.
 */
struct sgx_encl_page *sgx_encl_next_page(struct sgx_encl *encl, unsigned long *idx,
					 unsigned long end)
{
	return next_present(encl, idx, end);
}

/**
 * sgx_encl_page_slot() - the page-store slot of an address
 * @encl: the enclave
 * @addr: a linear address
 *
 * Return: the slot (present or not) of the page holding @addr, or NULL when
 * @addr lies outside ELRANGE or the enclave has no storage yet.
 */
struct sgx_encl_page *sgx_encl_page_slot(struct sgx_encl *encl, unsigned long addr)
{
	if (!encl->page_array || addr < encl->base || addr - encl->base >= encl->size)
		return NULL;
	return &encl->page_array[(addr - encl->base) >> PAGE_SHIFT];
}

/*
 * Lockless readers (the fault path's EAUG check) see PRESENT through an
 * acquire load; everything else holds encl->lock.
 */
struct sgx_encl_page *sgx_encl_page_lookup(struct sgx_encl *encl, unsigned long addr)
{
	struct sgx_encl_page *slot = sgx_encl_page_slot(encl, addr);

	if (!slot || !(atomic_load_explicit(&slot->desc, memory_order_acquire) &
		       SGX_ENCL_PAGE_PRESENT))
		return NULL;
	return slot;
}

struct sgx_encl_page *sgx_encl_page_insert(struct sgx_encl *encl, unsigned long addr,
					   unsigned long vm_max_prot_bits)
{
	struct sgx_encl_page *slot = sgx_encl_page_slot(encl, addr);
	unsigned long g;

	if (!slot)
		return ERR_PTR(-EINVAL);
	if (atomic_load_explicit(&slot->desc, memory_order_relaxed) & SGX_ENCL_PAGE_PRESENT)
		return ERR_PTR(-EBUSY);
	slot->vm_max_prot_bits = vm_max_prot_bits & VM_PROT_MASK;
	slot->type = 0;
	slot->epc_page = NULL;
	slot->encl = encl;
	slot->va_page = NULL;
	g = (unsigned long)(slot - encl->page_array) / SLOT_GROUP;
	__atomic_fetch_or(&page_array_map(encl)[g / 64], 1ULL << (g % 64), __ATOMIC_RELEASE);
	atomic_store_explicit(&slot->desc, (addr & SGX_ENCL_PAGE_ADDR_MASK) | SGX_ENCL_PAGE_PRESENT,
			      memory_order_release);
	return slot;
}

void sgx_encl_page_erase(struct sgx_encl_page *entry)
{
	atomic_store_explicit(&entry->desc, 0, memory_order_release);
	entry->vm_max_prot_bits = 0;
	entry->type = 0;
	entry->epc_page = NULL;
	entry->va_page = NULL;
}

/* ---------------------------------------------------------------------- */
/* VA pages                                                               */

/* A descriptor from the pool; heap only outside signal context (@may_alloc). */
static struct sgx_va_page *va_desc_get(struct sgx_encl *encl, bool may_alloc)
{
	struct sgx_va_page *va_page = NULL;

	sgx_mutex_lock(&encl->mm_lock);
	if (!cds_list_empty(&encl->va_free)) {
		va_page = cds_list_first_entry(&encl->va_free, struct sgx_va_page, list);
		cds_list_del(&va_page->list);
	} else if (encl->va_array && encl->va_next < encl->nr_va_array) {
		va_page = &encl->va_array[encl->va_next++];
	}
	sgx_mutex_unlock(&encl->mm_lock);

	/*
	 * The pool covers every VA page the growth invariant allows, but
	 * REMOVE_PAGES never frees VA pages, so add/remove cycles can ask for
	 * more; ioctls may then use the heap, and the fault path the spares
	 * that REMOVE_PAGES leaves (sgx_encl_va_reserve()).  Heap descriptors
	 * return to va_free like pool ones (va_desc_put()).
	 */
	if (!va_page && may_alloc)
		va_page = sgx_zalloc(sizeof(*va_page));
	if (va_page) {
		memset(va_page, 0, sizeof(*va_page));
		CDS_INIT_LIST_HEAD(&va_page->list);
	}
	return va_page;
}

/*
 * Back to the free list, heap descriptors too: this runs in the fault path
 * (an EAUG that fails after growing), which must not free().  Heap ones go
 * with the storage (sgx_encl_free_storage()).
 */
static void va_desc_put(struct sgx_encl *encl, struct sgx_va_page *va_page)
{
	sgx_mutex_lock(&encl->mm_lock);
	cds_list_add(&va_page->list, &encl->va_free);
	sgx_mutex_unlock(&encl->mm_lock);
}

/**
 * sgx_encl_va_reserve() - a VA descriptor for regrowing across a boundary
 * @encl: the enclave
 *
 * REMOVE_PAGES lowers page_cnt but, as in the kernel, frees no VA page, so
 * each time it leaves page_cnt on a multiple of 512, growing past that
 * point again (an EAUG fault) allocates one more VA page than the pool
 * sized at CREATE accounts for, and the fault path cannot allocate a
 * descriptor.  Called there, outside signal context, this puts one heap
 * descriptor on the free list for it.  Allocation failure is harmless: that
 * fault then fails as it would have.
 */
void sgx_encl_va_reserve(struct sgx_encl *encl)
{
	struct sgx_va_page *va_page = sgx_zalloc(sizeof(*va_page));

	if (!va_page)
		return;
	sgx_mutex_lock(&encl->mm_lock);
	cds_list_add(&va_page->list, &encl->va_free);
	sgx_mutex_unlock(&encl->mm_lock);
}

/**
 * sgx_alloc_va_epc_page() - an EPC page turned into a VA page with EPA
 * @encl: the enclave it is for, its owner (so that the OOM killer can find
 *        the enclave from the page; docs/races.md, R6)
 * @reclaim: reclaim EPC if none is free (callers without locks only)
 *
 * The page goes on its cgroup's unreclaimable list.  Async-signal-safe when
 * @reclaim is false.
 *
 * Return: the EPC page, or ERR_PTR: -ENOMEM, -EBUSY, -ERESTARTSYS from the
 * allocation, -EFAULT when EPA fails.
 */
struct sgx_epc_page *sgx_alloc_va_epc_page(struct sgx_encl *encl, bool reclaim)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_epc_page *epc_page = sgx_alloc_epc_page(drv, encl, reclaim);
	int ret;

	if (IS_ERR(epc_page))
		return epc_page;
	ret = sgx_epa(drv->cpu, SGX_PAGE_TYPE_VA, sgx_get_epc_virt_addr(epc_page));
	if (ret) {
		sgx_warn_once("EPA returned %d (0x%x)", ret, ret);
		sgx_encl_free_epc_page(drv, epc_page);
		return ERR_PTR(-EFAULT);
	}
	sgx_record_unreclaimable(drv, epc_page, true);
	return epc_page;
}

/**
 * sgx_encl_wrap_va_page() - give a VA EPC page its descriptor
 * @encl: the enclave it is for (its storage exists)
 * @epc_page: from sgx_alloc_va_epc_page()
 *
 * CREATE allocates its first VA page before the storage that holds the
 * descriptors exists, as the kernel orders it, and wraps it afterwards.
 *
 * Return: the VA page, or NULL when no descriptor can be had (-ENOMEM).
 */
struct sgx_va_page *sgx_encl_wrap_va_page(struct sgx_encl *encl, struct sgx_epc_page *epc_page)
{
	struct sgx_va_page *va_page = va_desc_get(encl, true);

	if (va_page)
		va_page->epc_page = epc_page;
	return va_page;
}

/**
 * sgx_alloc_va_page() - allocate a Version Array page
 * @encl: the enclave it is for
 * @reclaim: reclaim EPC if none is free (callers without locks only)
 *
 * Allocates an EPC page (no owner) and turns it into a VA page with EPA.
 * The caller links it into @encl->va_pages under encl->lock.
 * Async-signal-safe when @reclaim is false.
 *
 * Return: the VA page, or ERR_PTR: -ENOMEM, -EBUSY, -ERESTARTSYS (from the
 * EPC allocation or no descriptor), -EFAULT (EPA failed).
 */
struct sgx_va_page *sgx_alloc_va_page(struct sgx_encl *encl, bool reclaim)
{
	struct sgx_epc_page *epc_page;
	struct sgx_va_page *va_page;

	va_page = va_desc_get(encl, reclaim);
	if (!va_page)
		return ERR_PTR(-ENOMEM);

	epc_page = sgx_alloc_va_epc_page(encl, reclaim);
	if (IS_ERR(epc_page)) {
		va_desc_put(encl, va_page);
		return (struct sgx_va_page *)epc_page;
	}
	va_page->epc_page = epc_page;
	return va_page;
}

/* First free slot: set it and return its byte offset (4096 when full). */
unsigned int sgx_alloc_va_slot(struct sgx_va_page *va_page)
{
	for (unsigned int w = 0; w < SGX_VA_SLOT_COUNT / 64; w++) {
		uint64_t free_bits = ~va_page->slots[w];

		if (free_bits) {
			unsigned int bit = (unsigned int)__builtin_ctzll(free_bits);

			va_page->slots[w] |= 1ULL << bit;
			return (w * 64 + bit) << 3;
		}
	}
	return SGX_VA_SLOT_COUNT << 3;
}

void sgx_free_va_slot(struct sgx_va_page *va_page, unsigned int offset)
{
	unsigned int slot = offset >> 3;

	va_page->slots[slot / 64] &= ~(1ULL << (slot % 64));
}

bool sgx_va_page_full(struct sgx_va_page *va_page)
{
	for (unsigned int w = 0; w < SGX_VA_SLOT_COUNT / 64; w++)
		if (~va_page->slots[w])
			return false;
	return true;
}

/**
 * sgx_encl_free_va_page() - release a VA page
 * @encl: its enclave
 * @va_page: the page; unlinked from @encl->va_pages if it is on it (a caller
 *           that unlinks it first must use cds_list_del_init())
 *
 * EREMOVE and free the EPC page (leaked with a warning if EREMOVE fails) and
 * return the descriptor.  Under encl->lock, or at release.
 */
void sgx_encl_free_va_page(struct sgx_encl *encl, struct sgx_va_page *va_page)
{
	cds_list_del_init(&va_page->list);
	if (va_page->epc_page)
		sgx_encl_free_epc_page(encl->drv, va_page->epc_page);
	va_page->epc_page = NULL;
	va_desc_put(encl, va_page);
}

/* ---------------------------------------------------------------------- */
/* Backing store                                                          */

/* Backing index of a page: its page number in ELRANGE; the SECS follows them. */
unsigned long sgx_encl_page_index(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	if (page == &encl->secs)
		return encl->size >> PAGE_SHIFT;
	return ((atomic_load_explicit(&page->desc, memory_order_relaxed) &
		 SGX_ENCL_PAGE_ADDR_MASK) - encl->base) >> PAGE_SHIFT;
}

static unsigned long pcmd_byte_offset(struct sgx_encl *encl, unsigned long index)
{
	return encl->size + PAGE_SIZE + index * PCMD_SIZE;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * Make sure the file has a page at @off, so that a later store cannot
 * SIGBUS, and remember it: allocating backing memory (11.6 us for a first
 * write fault on the development VM) and punching a mapped page (37 us)
 * dwarf EWB itself, so a page's slot is allocated once and kept (see
 * sgx_encl_eldu()).  MADV_POPULATE_WRITE allocates and maps in one call;
 * kernels before 5.14 fall back to fallocate.
 */
static int backing_populate(struct sgx_encl *encl, unsigned long off)
{
	unsigned long bit = off >> PAGE_SHIFT;
	_Atomic unsigned long *w = &encl->backing_present[bit / 64];
	unsigned long m = 1UL << (bit % 64);

	if (atomic_load_explicit(w, memory_order_acquire) & m)
		return 0;
	if (madvise(encl->backing + off, PAGE_SIZE, MADV_POPULATE_WRITE) &&
	    fallocate(sgx_mem_fd(encl->backing_fd), 0, (off_t)(encl->backing_off + off), PAGE_SIZE))
		return errno == ENOSPC || errno == EFAULT ? -ENOMEM : -errno;
	atomic_fetch_or_explicit(w, m, memory_order_release);
	atomic_fetch_add_explicit(&encl->drv->stats.backing_allocs, 1, memory_order_relaxed);
	return 0;
}

static void backing_forget(struct sgx_encl *encl, unsigned long off)
{
	unsigned long bit = off >> PAGE_SHIFT;

	atomic_fetch_and_explicit(&encl->backing_present[bit / 64], ~(1UL << (bit % 64)),
				  memory_order_release);
}

/**
 * sgx_encl_get_backing() - locate the backing of one page
 * @encl: the enclave
 * @index: sgx_encl_page_index() of the page
 * @b: filled with the contents page, the PCMD page and the PCMD's offset
 *     in it (the PCMD itself is at @b->pcmd + @b->pcmd_offset)
 *
 * Layout (as Linux's sgx_encl_get_backing()): page @index of the file holds the
 * encrypted contents (index size/4096 is the SECS); the PCMDs follow from byte
 * size + 4096, 128 bytes each, 32 to a page.  Both pages are allocated in the
 * file now, so failures show up here rather than as SIGBUS on first store.
 * Async-signal-safe.
 *
 * Return: 0, -EINVAL (no backing or index out of range), -ENOMEM.
 */
int sgx_encl_get_backing(struct sgx_encl *encl, unsigned long index, struct sgx_backing *b)
{
	unsigned long pcmd_off = pcmd_byte_offset(encl, index);
	unsigned long pcmd_page = pcmd_off & ~(PAGE_SIZE - 1);
	int ret;

	if (!encl->backing || index > (encl->size >> PAGE_SHIFT))
		return -EINVAL;
	ret = backing_populate(encl, index << PAGE_SHIFT);
	if (!ret)
		ret = backing_populate(encl, pcmd_page);
	if (ret)
		return ret;
	b->contents = encl->backing + (index << PAGE_SHIFT);
	b->pcmd = encl->backing + pcmd_page;
	b->pcmd_offset = pcmd_off & (PAGE_SIZE - 1);
	return 0;
}

/* Nothing is pinned in this model: the pointers simply stop being used. */
void sgx_encl_put_backing(struct sgx_backing *b)
{
	b->contents = NULL;
	b->pcmd = NULL;
}

/**
 * reclaimer_writing_to_pcmd() - is the PCMD page of @first_addr in flight?
 * @encl: the enclave (encl->lock held)
 * @first_addr: address of the first of the 32 pages sharing one PCMD page
 *
 * The reclaimer locates a page's backing in one encl->lock section and
 * writes the PCMD in a later one; it marks the page PCMD_BUSY in between.
 * The SECS never uses the flag (it is evicted in a single section), so the
 * walk stops at the end of ELRANGE.
 */
bool reclaimer_writing_to_pcmd(struct sgx_encl *encl, unsigned long first_addr)
{
	for (unsigned long i = 0; i < PCMDS_PER_PAGE; i++) {
		unsigned long addr = first_addr + i * PAGE_SIZE;
		struct sgx_encl_page *entry;

		if (addr >= encl->base + encl->size)
			break;
		entry = sgx_encl_page_lookup(encl, addr);
		if (entry && entry->epc_page &&
		    (atomic_load_explicit(&entry->desc, memory_order_relaxed) &
		     SGX_ENCL_PAGE_PCMD_BUSY))
			return true;
	}
	return false;
}

static bool mem_is_zero(const void *p, size_t n)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < n / 8; i++)
		if (w[i])
			return false;
	return true;
}

static void backing_punch(struct sgx_encl *encl, unsigned long off)
{
	backing_forget(encl, off);
	atomic_fetch_add_explicit(&encl->drv->stats.backing_truncates, 1, memory_order_relaxed);
	/* Punching a hole cannot fail on a memfd we created; nothing to undo. */
	(void)fallocate(sgx_mem_fd(encl->backing_fd), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(encl->backing_off + off), PAGE_SIZE);
}

/*
 * The kernel re-checks the truncated PCMD page through an extra reference to
 * catch a write that raced with the truncation.  Here such a write would
 * re-create the page in the file: look for data there without faulting it
 * in (a read fault on a hole would allocate).
 */
static bool backing_page_has_data(struct sgx_encl *encl, unsigned long off)
{
	off_t at = (off_t)(encl->backing_off + off);
	off_t d = lseek(sgx_mem_fd(encl->backing_fd), at, SEEK_DATA);

	return d >= 0 && d < at + (off_t)PAGE_SIZE &&
	       !mem_is_zero(encl->backing + off, PAGE_SIZE);
}

/* ---------------------------------------------------------------------- */
/* ELDU                                                                   */

/**
 * sgx_encl_eldu() - reload an evicted page
 * @encl_page: the page (a child, or &encl->secs)
 * @secs_page: the resident SECS for a child, NULL for the SECS itself
 *
 * Allocates without reclaim, ELDUs from the backing, then (on success only)
 * frees the VA slot and zeroes the PCMD.  With cfg.kernel_backing it then
 * truncates the contents page, and the PCMD page once all of its 32 PCMDs
 * are zero and the reclaimer is not about to write one of them; otherwise
 * both stay allocated for the next eviction.  encl->lock held;
 * async-signal-safe.
 *
 * Return: the new EPC page (not yet recorded in @encl_page->epc_page), or
 * ERR_PTR: -EBUSY/-ENOMEM (allocation), backing errors, -EFAULT (ELDU).
 */
struct sgx_epc_page *sgx_encl_eldu(struct sgx_encl_page *encl_page,
				   struct sgx_epc_page *secs_page)
{
	struct sgx_encl *encl = encl_page->encl;
	struct sgx_driver *drv = encl->drv;
	unsigned long desc = atomic_load_explicit(&encl_page->desc, memory_order_relaxed);
	unsigned int va_offset = (unsigned int)(desc & SGX_ENCL_PAGE_VA_OFFSET_MASK);
	struct sgx_va_page *va_page = encl_page->va_page;
	unsigned long index = sgx_encl_page_index(encl, encl_page);
	unsigned long first_addr, pcmd_page_off;
	struct sgx_pageinfo pginfo = { 0 };
	struct sgx_epc_page *epc_page;
	struct sgx_backing b;
	uint8_t *pcmd;
	bool pcmd_page_empty;
	int ret;

	if (!va_page)
		return ERR_PTR(-EFAULT);

	epc_page = sgx_alloc_epc_page(drv, encl_page, false);
	if (IS_ERR(epc_page))
		return epc_page;

	ret = sgx_encl_get_backing(encl, index, &b);
	if (ret) {
		sgx_encl_free_epc_page(drv, epc_page);
		return ERR_PTR(ret);
	}
	pcmd = (uint8_t *)b.pcmd + b.pcmd_offset;

	pginfo.addr = encl_page == &encl->secs ? 0 : desc & SGX_ENCL_PAGE_ADDR_MASK;
	pginfo.contents = (uint64_t)(uintptr_t)b.contents;
	pginfo.metadata = (uint64_t)(uintptr_t)pcmd;
	pginfo.secs = secs_page ? (uint64_t)(uintptr_t)sgx_get_epc_virt_addr(secs_page) : 0;

	ret = sgx_eldu(drv->cpu, &pginfo, sgx_get_epc_virt_addr(epc_page),
		       (uint8_t *)sgx_get_epc_virt_addr(va_page->epc_page) + va_offset);
	if (ret) {
		if (encls_failed(ret))
			sgx_warn_once("%s returned %d (0x%x)", "ELDU", ret, ret);
		sgx_encl_put_backing(&b);
		/* Q10 fixed: the backing copy stays for a retry. */
		sgx_encl_free_epc_page(drv, epc_page);
		return ERR_PTR(-EFAULT);
	}

	memset(pcmd, 0, PCMD_SIZE);
	pcmd_page_empty = drv->cfg.kernel_backing && mem_is_zero(b.pcmd, PAGE_SIZE);
	pcmd_page_off = (unsigned long)((uint8_t *)b.pcmd - encl->backing);
	sgx_encl_put_backing(&b);

	/*
	 * Deviation from the kernel by default, measured: the contents page and
	 * the PCMD page stay allocated as warm slots for the next eviction (a
	 * rewrite costs 0.17 us; a hole punch in the mapped memfd plus the next
	 * allocation ~11 us here, and the TLB flush of each punch slows what
	 * follows).  The memfd never holds more than evicting the whole enclave
	 * would, and goes at release.  cfg.kernel_backing restores the kernel's
	 * truncation, with its PCMD_BUSY guard (docs/races.md, R1, fix v4+).
	 */
	if (drv->cfg.kernel_backing) {
		backing_punch(encl, index << PAGE_SHIFT);
		first_addr = encl->base + ((index & ~(PCMDS_PER_PAGE - 1)) << PAGE_SHIFT);
		if (pcmd_page_empty && !reclaimer_writing_to_pcmd(encl, first_addr)) {
			backing_punch(encl, pcmd_page_off);
			if (backing_page_has_data(encl, pcmd_page_off))
				sgx_pr(NULL, "PCMD page not empty after truncate.");
		}
	}

	sgx_free_va_slot(va_page, va_offset);
	cds_list_move(&va_page->list, &encl->va_pages);
	atomic_fetch_and_explicit(&encl_page->desc, ~SGX_ENCL_PAGE_VA_OFFSET_MASK,
				  memory_order_relaxed);
	encl_page->va_page = NULL;
	atomic_fetch_sub(&encl->nr_evicted, 1);
	atomic_fetch_add(&drv->stats.eldu, 1);
	return epc_page;
}

/* Make the SECS resident (encl->lock held).  Return 0 or the ELDU error. */
int sgx_encl_load_secs(struct sgx_encl *encl)
{
	struct sgx_epc_page *epc_page;

	if (encl->secs.epc_page)
		return 0;
	epc_page = sgx_encl_eldu(&encl->secs, NULL);
	if (IS_ERR(epc_page))
		return (int)PTR_ERR(epc_page);
	encl->secs.epc_page = epc_page;
	sgx_record_unreclaimable(encl->drv, epc_page, false);
	return 0;
}

/* The load step shared by faults, ptrace and the SGX2 ioctls (encl->lock held). */
static struct sgx_encl_page *__sgx_encl_load_page(struct sgx_encl *encl,
						  struct sgx_encl_page *entry)
{
	struct sgx_epc_page *epc_page;
	int ret;

	/* BUSY (bit 2) never overlaps the VA offset, so no residency test is needed. */
	if (atomic_load_explicit(&entry->desc, memory_order_relaxed) & SGX_ENCL_PAGE_BUSY)
		return ERR_PTR(-EBUSY);
	if (entry->epc_page)
		return entry;

	ret = sgx_encl_load_secs(encl);
	if (ret)
		return ERR_PTR(ret);
	epc_page = sgx_encl_eldu(entry, encl->secs.epc_page);
	if (IS_ERR(epc_page))
		return (struct sgx_encl_page *)epc_page;

	entry->epc_page = epc_page;
	encl->secs_child_cnt++;
	sgx_mark_page_reclaimable(encl->drv, epc_page);
	return entry;
}

struct sgx_encl_page *sgx_encl_load_page(struct sgx_encl *encl, unsigned long addr)
{
	struct sgx_encl_page *entry = sgx_encl_page_lookup(encl, addr);

	if (!entry)
		return ERR_PTR(-EFAULT);
	return __sgx_encl_load_page(encl, entry);
}

struct sgx_encl_page *sgx_encl_load_page_in_vma(struct sgx_encl *encl, unsigned long addr,
						unsigned long vm_flags)
{
	unsigned long prot = vm_flags & VM_PROT_MASK;
	struct sgx_encl_page *entry = sgx_encl_page_lookup(encl, addr);

	if (!entry)
		return ERR_PTR(-EFAULT);
	if ((prot & entry->vm_max_prot_bits) != prot)
		return ERR_PTR(-EFAULT);
	return __sgx_encl_load_page(encl, entry);
}

/* ---------------------------------------------------------------------- */
/* Page faults                                                            */

static vm_fault_t busy_or_sigbus(long err)
{
	return err == -EBUSY ? VM_FAULT_NOPAGE : VM_FAULT_SIGBUS;
}

/*
 * First touch of an absent page of an initialized SGX2 enclave: EAUG a
 * PENDING page that the enclave then EACCEPTs (Linux's sgx_encl_eaug_page(),
 * with the fix of docs/races.md, R2).  Descriptors get RWX: the enclave
 * decides through EACCEPT/EMODPE.
 */
static vm_fault_t sgx_encl_eaug_page(struct sgx_mm *mm, struct sgx_encl *encl,
				     unsigned long addr)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_pageinfo pginfo = { 0 };
	struct sgx_encl_page *slot, *entry;
	struct sgx_epc_page *epc_page;
	struct sgx_va_page *va_page;
	vm_fault_t vmret = VM_FAULT_SIGBUS;
	int ret;

	if (!encl_test_flag(encl, SGX_ENCL_INITIALIZED))
		return VM_FAULT_SIGBUS;
	/* Outside ELRANGE EAUG would #GP: the same SIGBUS, without the work. */
	slot = sgx_encl_page_slot(encl, addr);
	if (!slot)
		return VM_FAULT_SIGBUS;

	sgx_mutex_lock(&encl->lock);
#ifndef SGX_NO_OOM_RECHECK_FIX
	if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY)) {
		sgx_mutex_unlock(&encl->lock);
		return VM_FAULT_SIGBUS;
	}
#endif

#ifndef SGX_NO_EAUG_RACE_FIX
	/*
	 * Another thread may have added the page since the lockless check:
	 * let the access retry and find it instead of failing our insert.
	 */
	if (sgx_encl_page_lookup(encl, addr)) {
		sgx_mutex_unlock(&encl->lock);
		return VM_FAULT_NOPAGE;
	}
#endif

	ret = sgx_encl_load_secs(encl);
	if (ret) {
		vmret = busy_or_sigbus(ret);
		goto out_unlock;
	}

	epc_page = sgx_alloc_epc_page(drv, slot, false);
	if (IS_ERR(epc_page)) {
		vmret = busy_or_sigbus(PTR_ERR(epc_page));
		goto out_unlock;
	}

	va_page = sgx_encl_grow(encl, false);
	if (IS_ERR(va_page)) {
		vmret = busy_or_sigbus(PTR_ERR(va_page));
		goto err_free_epc;
	}
	if (va_page)
		cds_list_add(&va_page->list, &encl->va_pages);

	/* The descriptor claim; without the fix above the race loser fails here. */
	entry = sgx_encl_page_insert(encl, addr, VM_READ | VM_WRITE | VM_EXEC);
	if (IS_ERR(entry))
		goto err_shrink;

	pginfo.secs = (uint64_t)(uintptr_t)sgx_get_epc_virt_addr(encl->secs.epc_page);
	pginfo.addr = addr;
	ret = sgx_eaug(drv->cpu, &pginfo, sgx_get_epc_virt_addr(epc_page));
	if (ret)
		goto err_erase;

	entry->encl = encl;
	entry->epc_page = epc_page;
	entry->type = SGX_PAGE_TYPE_REG;
	encl->secs_child_cnt++;
	sgx_mark_page_reclaimable(drv, epc_page);
	atomic_fetch_add(&drv->stats.eaug, 1);

	/* On failure the page stays: the next fault maps it through the normal path. */
	ret = drv_host_call(drv, insert_page, mm, encl, addr, epc_page);
	sgx_mutex_unlock(&encl->lock);
	return ret ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;

err_erase:
	sgx_encl_page_erase(entry);
err_shrink:
	sgx_encl_shrink(encl, va_page);
err_free_epc:
	sgx_encl_free_epc_page(drv, epc_page);
out_unlock:
	sgx_mutex_unlock(&encl->lock);
	return vmret;
}

static vm_fault_t __sgx_vma_fault(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
				  unsigned long vm_flags)
{
	unsigned long prot = vm_flags & VM_PROT_MASK;
	struct sgx_driver *drv = encl->drv;
	struct sgx_encl_page *entry;
	int ret;

	/*
	 * Before CREATE there are no pages (the kernel gets here to the same
	 * SIGBUS through an empty xarray), and the storage may be being
	 * replaced by a retried CREATE: do not look at it.
	 */
	if (!encl_test_flag(encl, SGX_ENCL_CREATED))
		return VM_FAULT_SIGBUS;
#ifndef SGX_NO_OOM_RACE_FIX
	/*
	 * Killed by the EPC OOM killer (docs/races.md, R6; the series'
	 * v3 fix): a fault racing the kill must not allocate or reload a page,
	 * nor map one into an address space the killer is zapping and draining.
	 */
	if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY))
		return VM_FAULT_SIGBUS;
#endif

	if (drv->sgx2 && !sgx_encl_page_lookup(encl, addr)) {
		sgx_test_point(drv, SGX_TP_EAUG_UNLOCKED, encl, addr);
		return sgx_encl_eaug_page(mm, encl, addr);
	}

	sgx_mutex_lock(&encl->lock);
#ifndef SGX_NO_OOM_RECHECK_FIX
	/* Killed after the check above: the killer's lock round trip orders us. */
	if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY)) {
		sgx_mutex_unlock(&encl->lock);
		return VM_FAULT_SIGBUS;
	}
#endif

	entry = sgx_encl_page_lookup(encl, addr);
	if (!entry) {
		/* Removed since the lockless check: SGX2 retries into EAUG. */
		sgx_mutex_unlock(&encl->lock);
		return drv->sgx2 ? VM_FAULT_NOPAGE : VM_FAULT_SIGBUS;
	}
	if ((prot & entry->vm_max_prot_bits) != prot) {
		sgx_mutex_unlock(&encl->lock);
		return VM_FAULT_SIGBUS;
	}
	entry = __sgx_encl_load_page(encl, entry);
	if (IS_ERR(entry)) {
		sgx_mutex_unlock(&encl->lock);
		return busy_or_sigbus(PTR_ERR(entry));
	}

	ret = drv_host_call(drv, insert_page, mm, encl, addr, entry->epc_page);
	if (ret) {
		sgx_mutex_unlock(&encl->lock);
		return VM_FAULT_SIGBUS;
	}
	/* The page starts "old" so that the reclaimer's age check means something. */
	drv_host_call(drv, test_and_clear_young, mm, encl, addr);
	sgx_mutex_unlock(&encl->lock);
	return VM_FAULT_NOPAGE;
}

vm_fault_t sgx_vma_fault(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
			 unsigned long vm_flags)
{
	int saved_errno = errno; /* the interrupted code's, in a signal handler */
	vm_fault_t ret;

	if (!encl)
		return VM_FAULT_SIGBUS;
	ret = __sgx_vma_fault(mm, encl, addr & SGX_ENCL_PAGE_ADDR_MASK, vm_flags);
	errno = saved_errno;
	return ret;
}

/*
 * Fault-around.  The cost of a reload fault that is not the ELDU itself
 * (the signal and its return, the AEX and ERESUME, the locks) is paid
 * once for a run of pages instead of once a page; the pages it reloads
 * ahead are the ones a sequential reader is about to fault on.  A fault
 * that does not continue a run only moves the run's mark, so random
 * access reloads nothing extra.
 */
unsigned int sgx_vma_fault_around(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
				  unsigned long vm_flags, unsigned long end)
{
	unsigned long prot = vm_flags & VM_PROT_MASK, a;
	struct sgx_driver *drv;
	struct sgx_cgroup *cg;
	unsigned int n, done = 0;
	int saved_errno = errno;

	if (!encl || encl->drv->cfg.fault_around <= 1)
		return 0;
	drv = encl->drv;
	n = drv->cfg.fault_around;
	addr &= SGX_ENCL_PAGE_ADDR_MASK;
	/* Not a run: remember where one would go on, and stop. */
	if (atomic_exchange_explicit(&encl->fault_around_next, addr + PAGE_SIZE,
				     memory_order_relaxed) != addr)
		return 0;
	if (!encl_test_flag(encl, SGX_ENCL_CREATED))
		return 0;
	cg = sgx_cgroup_current(drv);
	if (cg != &drv->root_cg) {
		sgx_cgroup_put(cg);
		return 0;
	}
	sgx_cgroup_put(cg);
	sgx_mutex_lock(&encl->lock);
	for (a = addr + PAGE_SIZE; done + 1 < n && a < end && a - encl->base < encl->size;
	     a += PAGE_SIZE) {
		struct sgx_encl_page *entry;

		if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY) ||
		    atomic_load(&drv->nr_free_pages) <= SGX_NR_LOW_PAGES)
			break;
		entry = sgx_encl_page_lookup(encl, a);
		if (!entry || entry->epc_page || !entry->va_page ||
		    (atomic_load_explicit(&entry->desc, memory_order_relaxed) & SGX_ENCL_PAGE_BUSY) ||
		    (prot & entry->vm_max_prot_bits) != prot)
			break;
		entry = __sgx_encl_load_page(encl, entry);
		if (IS_ERR(entry))
			break;
		/* Mapped or not, the page is resident now; the next fault maps it. */
		if (drv_host_call(drv, insert_page, mm, encl, a, entry->epc_page))
			break;
		drv_host_call(drv, test_and_clear_young, mm, encl, a);
		done++;
	}
	atomic_store_explicit(&encl->fault_around_next, a, memory_order_relaxed);
	sgx_mutex_unlock(&encl->lock);
	errno = saved_errno;
	return done;
}

/* EDBGRD/EDBGWR of the aligned word at @addr of a resident page: 0 or -EIO. */
static int sgx_encl_debug_rw(struct sgx_encl *encl, struct sgx_encl_page *page,
			     unsigned long addr, uint64_t *data, bool write)
{
	uint8_t *p = (uint8_t *)sgx_get_epc_virt_addr(page->epc_page) + (addr & (PAGE_SIZE - 1));
	int ret = write ? sgx_edbgwr(encl->drv->cpu, p, *data) : sgx_edbgrd(encl->drv->cpu, p, data);

	return ret ? -EIO : 0;
}

int sgx_vma_access(struct sgx_encl *encl, unsigned long addr, void *buf, int len, bool write,
		   unsigned long vm_flags)
{
	struct sgx_encl_page *entry = NULL;
	int i, cnt, ret = 0;

	if (!encl)
		return -EFAULT;
	if (!encl_test_flag(encl, SGX_ENCL_DEBUG) || encl_test_flag(encl, SGX_ENCL_NO_MEMORY))
		return -EFAULT;

	/*
	 * @buf is the debugger's memory and may itself fault into this driver
	 * (a hole of an enclave window), which takes encl->lock: it is read
	 * before and written after each locked step, never under the lock.
	 */
	for (i = 0; i < len; i += cnt) {
		unsigned long a = addr + (unsigned long)i;
		unsigned long align = a & ~7UL;
		int offset = (int)(a & 7);
		uint8_t in[8];
		uint64_t data;

		cnt = len - i < 8 - offset ? len - i : 8 - offset;
		if (write)
			memcpy(in, (uint8_t *)buf + i, (size_t)cnt);
		sgx_mutex_lock(&encl->lock);
		/* Being reclaimed, or no EPC to reload into yet: as the kernel, retry. */
		for (;;) {
			entry = sgx_encl_load_page_in_vma(encl, a & SGX_ENCL_PAGE_ADDR_MASK, vm_flags);
			if (PTR_ERR(entry) != -EBUSY)
				break;
			sgx_mutex_unlock(&encl->lock);
			sched_yield();
			sgx_mutex_lock(&encl->lock);
		}
		if (IS_ERR(entry)) {
			ret = (int)PTR_ERR(entry);
			sgx_mutex_unlock(&encl->lock);
			break;
		}
		ret = sgx_encl_debug_rw(encl, entry, align, &data, false);
		if (!ret && write) {
			memcpy((uint8_t *)&data + offset, in, (size_t)cnt);
			ret = sgx_encl_debug_rw(encl, entry, align, &data, true);
		}
		sgx_mutex_unlock(&encl->lock);
		if (ret)
			break;
		if (!write)
			memcpy((uint8_t *)buf + i, (uint8_t *)&data + offset, (size_t)cnt);
	}
	return ret < 0 ? ret : i;
}

/* ---------------------------------------------------------------------- */
/* Mappings and address spaces                                            */

#ifdef SGX_TSAN
char sgx_rcu_gp_token;
#endif

/**
 * sgx_encl_may_map() - may [@start, @end) be mapped with @vm_flags?
 * @encl: the enclave (NULL: a mapping that lost its enclave)
 * @start: first address
 * @end: end address (exclusive)
 * @vm_flags: requested VM_READ/VM_WRITE/VM_EXEC
 *
 * An initialized enclave may only be mapped inside ELRANGE; a
 * READ_IMPLIES_EXEC process may not map it at all; and every existing page
 * in the range must allow all requested bits.  Pages without an entry
 * impose nothing (EAUG gives them RWX).
 *
 * Return: 0 or -EACCES.
 */
int sgx_encl_may_map(struct sgx_encl *encl, unsigned long start, unsigned long end,
		     unsigned long vm_flags)
{
	unsigned long prot = vm_flags & VM_PROT_MASK;
	unsigned long idx, last, count = 0;
	struct sgx_encl_page *entry;
	int pers, ret = 0;

	if (!encl)
		return -EACCES; /* Q14 fixed */

	if (encl_test_flag(encl, SGX_ENCL_INITIALIZED) &&
	    (start < encl->base || end > encl->base + encl->size || end < start))
		return -EACCES;

	/* The calling process's personality, as current->personality. */
	pers = personality(0xffffffff);
	if (pers != -1 && (pers & READ_IMPLIES_EXEC))
		return -EACCES;

	if (end <= start)
		return 0;

	/* No pages before CREATE, whose storage may be being replaced. */
	if (!encl_test_flag(encl, SGX_ENCL_CREATED))
		return 0;

	sgx_mutex_lock(&encl->lock);
	if (!encl->page_array || end <= encl->base || start >= encl->base + encl->size)
		goto out;
	idx = start > encl->base ? (start - encl->base) >> PAGE_SHIFT : 0;
	last = (end - 1 - encl->base) >> PAGE_SHIFT;
	if (last >= encl->nr_slots)
		last = encl->nr_slots - 1;

	while ((entry = next_present(encl, &idx, last + 1))) {
		if ((prot & entry->vm_max_prot_bits) != prot) {
			ret = -EACCES;
			break;
		}
		/* Long walks let the lock go now and then. */
		if (++count % MAY_MAP_BATCH == 0) {
			sgx_mutex_unlock(&encl->lock);
			sched_yield();
			sgx_mutex_lock(&encl->lock);
		}
	}
out:
	sgx_mutex_unlock(&encl->lock);
	return ret;
}

/**
 * sgx_encl_mm_add() - track an address space that maps the enclave
 * @encl: the enclave
 * @mm: the address space (its mmap lock held for write by the host)
 *
 * Adding an mm that is already tracked is a no-op (the write-held mmap lock
 * means it cannot be added twice concurrently).  Each tracked mm holds an
 * enclave reference until sgx_encl_mm_release().
 *
 * Return: 0, or -ENOMEM (no memory, or the enclave was OOM-killed).
 */
int sgx_encl_mm_add(struct sgx_encl *encl, struct sgx_mm *mm)
{
	struct sgx_encl_mm *encl_mm;
	bool found = false;

	/* No new address space for an enclave the OOM killer took (docs/races.md, R6). */
	if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY))
		return -ENOMEM;

	sgx_rcu_read_lock();
	sgx_list_for_each_entry_rcu(encl_mm, &encl->mm_list, list) {
		if (encl_mm->mm == mm) {
			found = true;
			break;
		}
	}
	sgx_rcu_read_unlock();
	if (found)
		return 0;

	encl_mm = sgx_zalloc(sizeof(*encl_mm));
	if (!encl_mm)
		return -ENOMEM;
	encl_mm->encl = encl;
	encl_mm->mm = mm;
	/* Q5 fixed: the reference is taken once nothing can fail. */
	sgx_encl_get(encl);

	sgx_mutex_lock(&encl->mm_lock);
	sgx_list_add_rcu(&encl_mm->list, &encl->mm_list);
	/* Publish the entry before the version that zappers compare. */
	atomic_fetch_add_explicit(&encl->mm_list_version, 1, memory_order_release);
	sgx_mutex_unlock(&encl->mm_lock);
	return 0;
}

/**
 * sgx_encl_mm_release() - the address space @mm is going away
 * @encl: an enclave it mapped
 * @mm: the address space
 *
 * The mmu notifier's release: unlink @mm's entry (if the file release has
 * not done so already), wait for every mm_list reader, then free it and
 * drop its enclave reference, possibly the last one.  Must not be called
 * inside an RCU read-side section (nor from a host mm_put() made by one).
 *
 * The host's side of the contract (the kernel's mmu notifier gives it for
 * free): call this for every enclave sgx_encl_mm_add() was ever called with
 * for @mm, whether or not @mm still maps it, and hold a reference on @encl
 * (sgx_encl_get()) across the call, because the file release can drain the
 * entry and drop the last reference concurrently.
 */
void sgx_encl_mm_release(struct sgx_encl *encl, struct sgx_mm *mm)
{
	struct sgx_encl_mm *encl_mm, *found = NULL;

	sgx_mutex_lock(&encl->mm_lock);
	cds_list_for_each_entry(encl_mm, &encl->mm_list, list) {
		if (encl_mm->mm == mm) {
			found = encl_mm;
			sgx_list_del_rcu(&encl_mm->list);
			break;
		}
	}
	sgx_mutex_unlock(&encl->mm_lock);

	/*
	 * Wait for the readers even when a drain (the file's release, the OOM
	 * killer) unlinked the entry first: it may still be waiting for a
	 * walker that holds @mm, and the host frees @mm once this returns.  In
	 * the kernel the notifier's mmgrab() keeps the mm_struct alive across
	 * that grace period.
	 */
	sgx_synchronize_rcu();
	if (!found)
		return;
	sgx_free(found);
	sgx_encl_put(encl);
}

static bool encl_mm_get(struct sgx_driver *drv, struct sgx_encl_mm *encl_mm);

/*
 * Zap [@addr, @addr + @len) of @encl in every live mm on its mm_list, under
 * each mm's mmap lock (so encl->lock must not be held), only where an
 * enclave mapping covers @addr when @check_vma.  An mm added during the walk
 * bumps mm_list_version, and the walk restarts so that it cannot miss it.
 */
static void zap_in_every_mm(struct sgx_encl *encl, unsigned long addr, unsigned long len,
			    bool check_vma)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_encl_mm *encl_mm;
	unsigned long version;

	do {
		version = atomic_load_explicit(&encl->mm_list_version, memory_order_acquire);

		sgx_rcu_read_lock();
		sgx_list_for_each_entry_rcu(encl_mm, &encl->mm_list, list) {
			struct sgx_mm *mm = encl_mm->mm;

			if (!encl_mm_get(drv, encl_mm))
				continue;
			drv_host_call(drv, mmap_read_lock, mm);
			if (!check_vma || drv_host_call(drv, vma_is_encl, mm, encl, addr))
				drv_host_call(drv, zap, mm, encl, addr, len);
			drv_host_call(drv, mmap_read_unlock, mm);
			drv_host_call(drv, mm_put, mm);
		}
		sgx_rcu_read_unlock();
	} while (version != atomic_load_explicit(&encl->mm_list_version, memory_order_acquire));
}

/**
 * sgx_encl_mm_drain() - forget every address space on @encl's mm_list
 * @encl: the enclave
 *
 * Unlink each entry under mm_lock, wait for the readers (zap, age, kick) that
 * may still be walking over it, free it and drop its enclave reference.  The
 * file release does this for the mms that have not exited yet, and the OOM
 * killer for its victim.  Not inside an RCU read-side section; the caller
 * holds a reference of its own.
 */
void sgx_encl_mm_drain(struct sgx_encl *encl)
{
	struct sgx_encl_mm *encl_mm;

	for (;;) {
		encl_mm = NULL;
		sgx_mutex_lock(&encl->mm_lock);
		if (!cds_list_empty(&encl->mm_list)) {
			encl_mm = cds_list_first_entry(&encl->mm_list, struct sgx_encl_mm, list);
			sgx_list_del_rcu(&encl_mm->list);
		}
		sgx_mutex_unlock(&encl->mm_lock);

		if (!encl_mm)
			break;

		sgx_synchronize_rcu();
		sgx_free(encl_mm);
		sgx_encl_put(encl);
	}
}

#ifdef SGX_NO_OOM_RACE_FIX
/*
 * The kill before the series' v3 (docs/races.md, R6): free at once the
 * enclave's EPC that the reclaimer does not track -- its VA pages, and its
 * SECS when no child is resident -- under encl->lock.  A reclaimer holding
 * the enclave's last pages then finds no VA page for their EWB.
 */
static void oom_free_unreclaimable(struct sgx_encl *encl)
{
	struct sgx_va_page *va_page, *tmp;

	sgx_mutex_lock(&encl->lock);
	cds_list_for_each_entry_safe(va_page, tmp, &encl->va_pages, list)
		sgx_encl_free_va_page(encl, va_page);
	if (!encl->secs_child_cnt && encl->secs.epc_page) {
		sgx_encl_free_epc_page(encl->drv, encl->secs.epc_page);
		encl->secs.epc_page = NULL;
	}
	sgx_mutex_unlock(&encl->lock);
}
#endif

/**
 * sgx_encl_oom() - the EPC OOM killer's work on one victim (v5; docs/races.md, R6)
 * @encl: the victim, with a reference the caller hands over
 *
 * Mark the enclave NO_MEMORY, so that nothing allocates, reloads or maps
 * its pages any more; zap it from every address space (re-walking if one
 * joins meanwhile); and drain mm_list.  Its EPC is not freed here: pages the
 * reclaimer holds finish their EWB, and the release frees everything once the
 * last reference goes (the v2 series freed it here, under encl->lock, and
 * deadlocked).  No lock may be held.
 *
 * Return: true when @encl was (or already had been) killed, false when it was
 * never created.
 */
bool sgx_encl_oom(struct sgx_encl *encl)
{
	struct sgx_driver *drv = encl->drv;
	bool ret = true;

	if (!encl_test_flag(encl, SGX_ENCL_CREATED)) {
		ret = false;
		goto out;
	}
	/* Killed before, still waiting for its reclaims: do not pick another victim. */
	if (atomic_fetch_or(&encl->flags, SGX_ENCL_NO_MEMORY) & SGX_ENCL_NO_MEMORY)
		goto out;
	atomic_fetch_add(&drv->stats.oom_kills, 1);
	sgx_test_point(drv, SGX_TP_OOM_MARKED, encl, encl->base);
#ifdef SGX_NO_OOM_RACE_FIX
	oom_free_unreclaimable(encl);
#endif
#ifndef SGX_NO_OOM_RECHECK_FIX
	/*
	 * A fault past its lockless NO_MEMORY check either holds encl->lock
	 * now, and its PTE goes with the zap below, or takes it after this
	 * and sees the flag.  (The series checks once, without the lock, and
	 * a fault in between maps a page into an mm the drain then forgets.)
	 */
	sgx_mutex_lock(&encl->lock);
	sgx_mutex_unlock(&encl->lock);
#endif

	/* The whole range, in each mm: the host zaps only this enclave's mappings. */
	zap_in_every_mm(encl, encl->base, encl->size, false);
	/*
	 * Threads still inside leave now, while their mms are still listed:
	 * after the drain the EWB fallback's IPI could not reach them, and
	 * every page the reclaimer then takes would fail EWB for good and be
	 * lost (Q13).  In the kernel the zap's TLB-shootdown IPIs do
	 * this.  They cannot come back: their TCS is unmapped and faults
	 * SIGBUS from now on.
	 */
	sgx_encl_kick(encl);
	sgx_encl_mm_drain(encl);
out:
	sgx_encl_put(encl);
	return ret;
}

/*
 * A reference on a live mm for one step of a walk (mmget_not_zero).  It is
 * dropped inside the read section, so the host's mm_put() must defer the
 * mm's teardown (mmput_async), as sgx_encl_mm_release() synchronizes RCU.
 */
static bool encl_mm_get(struct sgx_driver *drv, struct sgx_encl_mm *encl_mm)
{
	return drv_host_call(drv, mm_get, encl_mm->mm);
}

/**
 * sgx_zap_enclave_ptes() - remove @addr's PTEs from every mm of the enclave
 * @encl: the enclave
 * @addr: the page
 *
 * Takes each live mm's mmap lock for read, so encl->lock must not be held.
 * An mm added during the walk bumps mm_list_version, and the walk restarts
 * so that it cannot miss the zap.
 */
void sgx_zap_enclave_ptes(struct sgx_encl *encl, unsigned long addr)
{
	zap_in_every_mm(encl, addr & SGX_ENCL_PAGE_ADDR_MASK, PAGE_SIZE, true);
}

/* Each live mm of @encl once, under RCU: @addr's zap, or (@kick) the IPI. */
static void for_each_live_mm(struct sgx_encl *encl, bool kick, unsigned long addr)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_encl_mm *encl_mm;

	sgx_rcu_read_lock();
	sgx_list_for_each_entry_rcu(encl_mm, &encl->mm_list, list) {
		if (!encl_mm_get(drv, encl_mm))
			continue;
		if (kick)
			drv_host_call(drv, kick, encl_mm->mm, encl);
		else
			drv_host_call(drv, zap, encl_mm->mm, encl, addr, PAGE_SIZE);
		drv_host_call(drv, mm_put, encl_mm->mm);
	}
	sgx_rcu_read_unlock();
}

/**
 * sgx_encl_zap_epcm_change() - drop @addr's host PTEs after an EPCM restriction
 * @encl: the enclave (encl->lock held)
 * @addr: the page EMODPR or EMODT just changed
 *
 * Not in the kernel, where the CPU checks the EPCM on every access.  Here
 * enclave code reaches its pages natively, past the EPCM, so a restriction
 * only takes effect once the page is unmapped: its next access faults and
 * the host reports the EPCM's verdict.  This runs before the change is
 * tracked (ETRACK), so no EACCEPT can succeed while a stale mapping remains.
 * The host's zap is called without the mmap lock (it nests outside
 * encl->lock); both hosts' zaps only need their own page-table locks.
 */
void sgx_encl_zap_epcm_change(struct sgx_encl *encl, unsigned long addr)
{
	for_each_live_mm(encl, false, addr & SGX_ENCL_PAGE_ADDR_MASK);
}

/* The IPI: make every thread of every live mm leave the enclave once. */
void sgx_encl_kick(struct sgx_encl *encl)
{
	for_each_live_mm(encl, true, 0);
}

/**
 * sgx_encl_test_and_clear_young() - the reclaimer's age check
 * @encl: the enclave
 * @page: a resident page
 *
 * Walks the live mms (no encl->lock held: this takes mmap locks) and
 * test-and-clears the accessed state of @page's PTE in each enclave
 * mapping, stopping at the first mm that had it set.
 *
 * Return: true if the page was accessed since the last check.
 */
bool sgx_encl_test_and_clear_young(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	unsigned long addr = atomic_load_explicit(&page->desc, memory_order_relaxed) &
			     SGX_ENCL_PAGE_ADDR_MASK;
	struct sgx_driver *drv = encl->drv;
	struct sgx_encl_mm *encl_mm;
	bool young = false;

	sgx_rcu_read_lock();
	sgx_list_for_each_entry_rcu(encl_mm, &encl->mm_list, list) {
		struct sgx_mm *mm = encl_mm->mm;

		if (!encl_mm_get(drv, encl_mm))
			continue;
		drv_host_call(drv, mmap_read_lock, mm);
		if (drv_host_call(drv, vma_is_encl, mm, encl, addr))
			young = drv_host_call(drv, test_and_clear_young, mm, encl, addr);
		drv_host_call(drv, mmap_read_unlock, mm);
		drv_host_call(drv, mm_put, mm);
		if (young)
			break;
	}
	sgx_rcu_read_unlock();
	return young;
}

/**
 * sgx_encl_free_epc_page() - EREMOVE an enclave's EPC page and free it
 * @drv: the driver
 * @page: the page (off the reclaimer's list)
 *
 * A failing EREMOVE means the page may still be in use by an enclave (a
 * driver bug, in effect a use-after-free of EPC): warn and leak the page
 * rather than hand it out again.
 */
void sgx_encl_free_epc_page(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	int ret;

	if (page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED)
		sgx_warn_once("%s: freeing a reclaimer-tracked EPC page",
			      __func__);

	ret = sgx_eremove(drv->cpu, sgx_get_epc_virt_addr(page));
	if (ret) {
		sgx_warn_once(EREMOVE_ERROR_MESSAGE, ret, ret);
		atomic_fetch_add(&drv->stats.leaked, 1);
		/*
		 * Leaked, it stays charged, but it leaves the OOM killer's
		 * list: its owner is about to be freed.
		 */
		if (page->flags & SGX_EPC_PAGE_UNRECLAIMABLE)
			sgx_drop_unreclaimable(drv, page);
		return;
	}
	atomic_fetch_add(&drv->stats.eremove, 1);
	sgx_free_epc_page(drv, page);
}
