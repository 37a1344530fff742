// SPDX-License-Identifier: MIT
/*
 * The /dev/sgx_enclave ioctls (the kernel's ioctl.c): building an enclave
 * (CREATE, ADD_PAGES, INIT), PROVISION, and the SGX2 page operations
 * (RESTRICT_PERMISSIONS, MODIFY_TYPES, REMOVE_PAGES).  Every check, its order
 * and its errno follow the kernel's ioctl.c; where the kernel has a known
 * defect the decision taken here is written next to the code ("Qn" is
 * quirk n of docs/quirks.md).
 *
 * None of this runs in signal context except sgx_encl_grow()/sgx_encl_shrink(),
 * which the EAUG fault path also calls: with reclaim off they allocate and
 * free nothing on the heap (VA descriptors come from and return to the
 * enclave's free list).
 *
 * Decisions on the quirks (docs/quirks.md) that live in this file:
 *   1  fixed: ADD_PAGES decrements secs_child_cnt when EEXTEND fails.
 *   2  kept:  the source's VMA test is the host's src_check(), which answers
 *      for the VMA find_vma() returns (possibly one starting above @src), as
 *      the kernel checks only that one's VM_MAYEXEC (driver/host.h).
 *   3  kept:  a signal after the first page ends ADD_PAGES with 0 and a short
 *      count (runtimes loop on count; -ERESTARTSYS only before any page).
 *   4  kept:  CREATE resets attributes_mask, so a PROVISION before CREATE is
 *      lost (the ABI SDKs are written against).
 *   7  kept:  a page held by the reclaimer gives -EAGAIN in the load step and
 *      in MODIFY_TYPES, but -EBUSY in REMOVE_PAGES, as the kernel returns.
 *   8  kept:  MODIFY_TYPES does not restore vm_max_prot_bits when ETRACK fails
 *      after EMODT succeeded (the type change has happened in the EPCM).
 *   9  fixed (REMOVE/MODIFY half): the entry is BUSY while encl->lock is
 *      dropped for the zap (docs/races.md, R1); -DSGX_NO_REMOVE_RACE_FIX builds
 *      the kernel's behaviour for the race tests.
 *  19  the code returns -ERESTARTSYS (the kernel's kernel-doc says -EINTR);
 *      the comments here say what the code does.
 * Every check, its order and its errno are the kernel's, with three
 * deviations, each explained where it is made: sgx_encl_create() orders its
 * allocations differently; ADD_PAGES copies the source before taking the
 * mmap lock and encl->lock, 16 pages at a time (the kernel's
 * get_user_pages() runs under them, a page at a time; the errnos and their
 * order are unchanged: see struct sgx_add_src) and checks the OOM kill
 * before every page, not only before the first (a killed enclave gets
 * -ENOMEM with the count of the pages already added).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#include "softsgx/uapi/sgx.h"
#include "sgx.h"

#ifndef ERESTARTSYS
#define ERESTARTSYS 512 /* kernel-internal: "restart the system call after the signal" */
#endif

#define PAGE_SIZE 4096UL
#define IS_ALIGNED(x, a) (((x) & ((a) - 1)) == 0)

/*
 * The kernel's SGX_SECINFO_RESERVED_MASK: everything but R/W/X (2:0) and the
 * page type (15:8).  arch.h's mask is the architectural one, which leaves the
 * PENDING/MODIFIED/PR bits (5:3) to the CPU; userspace may not set those at
 * EADD time either.
 */
#define SGX_SECINFO_ADD_RESERVED_MASK (~(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PAGE_TYPE_MASK))
#define SGX_PAGE_TYPE_MASK 0xFFUL

_Static_assert(SGX_VA_SLOT_COUNT == (SGX_ENCL_PAGE_VA_OFFSET_MASK >> 3) + 1,
	      "one VA slot per value of the desc VA offset field");


/*
 * pr_debug: off unless asked for, like the kernel's dynamic debug.  Set
 * SOFTSGX_DEBUG in the environment to see these messages.
 */
#define sgx_pr_debug(fmt, ...)                                         \
	do {                                                           \
		const char *__e = getenv("SOFTSGX_DEBUG");             \
		if (__e && *__e)                                       \
			sgx_pr("", fmt, ##__VA_ARGS__);                \
	} while (0)

static inline void *epc_addr(struct sgx_epc_page *page)
{
	return sgx_get_epc_virt_addr(page);
}

static inline unsigned long encl_page_addr(struct sgx_encl_page *entry)
{
	return atomic_load(&entry->desc) & SGX_ENCL_PAGE_ADDR_MASK;
}

static int copy_from_user(struct sgx_driver *drv, void *dst, uint64_t src, size_t n)
{
	return drv_host_call(drv, copy_from_user, dst, src, n);
}

static int copy_to_user(struct sgx_driver *drv, uint64_t dst, const void *src, size_t n)
{
	return drv_host_call(drv, copy_to_user, dst, src, n);
}

static bool signal_pending(struct sgx_driver *drv)
{
	return drv_host_call(drv, signal_pending);
}

/**
 * sgx_encl_grow() - account one more enclave page, adding a VA page if needed
 * @encl: the enclave
 * @reclaim: may the EPC allocation reclaim (no mmap lock, no encl->lock held)
 *
 * Every page that can be evicted (the SECS and every child) needs a VA slot;
 * page_cnt counts them and a new VA page is allocated whenever it crosses a
 * multiple of SGX_VA_SLOT_COUNT, so VA slots >= page_cnt always holds.
 * The caller links a returned VA page at the head of encl->va_pages under
 * encl->lock and passes it to sgx_encl_shrink() when it unwinds.
 * Async-signal-safe (the EAUG fault path calls it with @reclaim false).
 *
 * Return: the new VA page, NULL when none was needed, or ERR_PTR (-ENOMEM,
 * -EBUSY without @reclaim, -ERESTARTSYS, -EFAULT when EPA fails).
 */
struct sgx_va_page *sgx_encl_grow(struct sgx_encl *encl, bool reclaim)
{
	struct sgx_va_page *va_page = NULL;

	if (!(encl->page_cnt % SGX_VA_SLOT_COUNT)) {
		va_page = sgx_alloc_va_page(encl, reclaim);
		if (IS_ERR(va_page))
			return va_page;
		/* Growth is serialized by the callers; a change here is a bug. */
		WARN_ON(encl->page_cnt % SGX_VA_SLOT_COUNT);
	}
	encl->page_cnt++;
	return va_page;
}

/**
 * sgx_encl_shrink() - undo sgx_encl_grow()
 * @encl: the enclave
 * @va_page: the VA page that sgx_encl_grow() returned (linked on va_pages),
 *           or NULL
 *
 * Async-signal-safe.
 */
void sgx_encl_shrink(struct sgx_encl *encl, struct sgx_va_page *va_page)
{
	encl->page_cnt--;

	if (va_page) {
		cds_list_del_init(&va_page->list);
		sgx_encl_free_va_page(encl, va_page);
	}
}

/* ---- SGX_IOC_ENCLAVE_CREATE ---- */

static int sgx_encl_create(struct sgx_encl *encl, struct sgx_secs *secs)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_epc_page *secs_epc, *va_epc;
	struct sgx_secinfo secinfo;
	struct sgx_pageinfo pginfo;
	struct sgx_va_page *va_page;
	uint64_t e, backing_size;
	int ret;

	/*
	 * The only SECS check done in software: a power-of-two size keeps the
	 * size arithmetic below from overflowing.  ECREATE checks the rest.
	 */
	if (!secs->size || (secs->size & (secs->size - 1)))
		return -EINVAL;

	/*
	 * The kernel's order, so that every combination of a short EPC and a
	 * bad SECS gets its errno: the first VA page (its slot accounts for
	 * the SECS), the backing file, the SECS page, ECREATE.  The VA page's
	 * descriptor and the backing memfd live in host storage sized from
	 * SECS.SIZE, which is only built once ECREATE has vetted the size;
	 * what the kernel's shmem_file_setup() refuses up front — a size
	 * beyond the largest file offset — is refused here in its place.
	 */
	va_epc = sgx_alloc_va_epc_page(encl, true);
	if (IS_ERR(va_epc))
		return PTR_ERR(va_epc);
	encl->page_cnt++;

	e = secs->size + PAGE_SIZE;
	backing_size = e + e / 32;
	if (backing_size > (uint64_t)INT64_MAX) {
		ret = -EINVAL;
		goto err_out_va;
	}

	secs_epc = sgx_alloc_epc_page(drv, &encl->secs, true);
	if (IS_ERR(secs_epc)) {
		ret = (int)PTR_ERR(secs_epc);
		goto err_out_va;
	}
	encl->secs.epc_page = secs_epc;

	memset(&secinfo, 0, sizeof(secinfo));
	memset(&pginfo, 0, sizeof(pginfo));
	pginfo.addr = 0;
	pginfo.contents = (uint64_t)(uintptr_t)secs;
	pginfo.metadata = (uint64_t)(uintptr_t)&secinfo;
	pginfo.secs = 0;
	if (sgx_ecreate(drv->cpu, &pginfo, epc_addr(secs_epc))) {
		/* No warning: a bad SECS from userspace is not a kernel bug. */
		ret = -EIO;
		goto err_out;
	}

	/*
	 * Where the kernel drops the backing file when CREATE fails, the
	 * storage stays (unused) here: a retried CREATE replaces it and the
	 * release frees it.  encl->base and encl->size go back to 0 until
	 * CREATE succeeds, so nothing reaches it meanwhile.
	 */
	encl->base = secs->base;
	encl->size = secs->size;
	ret = sgx_encl_init_storage(encl);
	if (ret)
		goto err_out_range;

	va_page = sgx_encl_wrap_va_page(encl, va_epc);
	if (!va_page) {
		ret = -ENOMEM;
		goto err_out_range;
	}
	cds_list_add(&va_page->list, &encl->va_pages);

	if (secs->attributes & SGX_ATTR_DEBUG)
		atomic_fetch_or(&encl->flags, SGX_ENCL_DEBUG);

	encl->secs.encl = encl;
	encl->secs.type = SGX_PAGE_TYPE_SECS;
	sgx_record_unreclaimable(drv, secs_epc, false);
	encl->attributes = secs->attributes;
	/* Q4 (kept): this drops a PROVISION done before CREATE, as the kernel does. */
	encl->attributes_mask = SGX_ATTR_UNPRIV_MASK;

	/*
	 * Set last, without encl->lock: CREATED publishes everything above to
	 * the ioctls and the fault path (sequentially consistent atomic).
	 */
	atomic_fetch_or(&encl->flags, SGX_ENCL_CREATED);

	/* The SECS is not reclaimable on its own: it goes with its last child. */
	return 0;

err_out_range:
	encl->base = 0;
	encl->size = 0;
err_out:
	/* EREMOVE of a SECS without children (or of a page ECREATE refused). */
	sgx_encl_free_epc_page(drv, encl->secs.epc_page);
	encl->secs.epc_page = NULL;
err_out_va:
	sgx_encl_free_epc_page(drv, va_epc);
	encl->page_cnt--;
	return ret;
}

/**
 * sgx_ioc_enclave_create() - handler for %SGX_IOC_ENCLAVE_CREATE
 * @encl: the enclave
 * @arg: user address of a struct sgx_enclave_create
 *
 * Allocate the first VA page, then ECREATE the SECS from the 4096-byte page
 * at @arg->src into a new EPC page, then create the enclave's page store and
 * backing store.
 *
 * Return: 0, -EINVAL (already created, size not a power of two, a backing
 * size beyond the largest file offset), -EFAULT (bad pointers, EPA failed),
 * -ENOMEM, -ENFILE, -ERESTARTSYS, -EIO (ECREATE refused the SECS).
 */
static long sgx_ioc_enclave_create(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_enclave_create create_arg;
	struct sgx_secs *secs;
	long ret;

	if (encl_test_flag(encl, SGX_ENCL_CREATED))
		return -EINVAL;

	if (copy_from_user(drv, &create_arg, arg, sizeof(create_arg)))
		return -EFAULT;

	secs = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	if (!secs)
		return -ENOMEM;

	if (copy_from_user(drv, secs, create_arg.src, PAGE_SIZE))
		ret = -EFAULT;
	else
		ret = sgx_encl_create(encl, secs);

	free(secs);
	return ret;
}

/* ---- SGX_IOC_ENCLAVE_ADD_PAGES ---- */

static int sgx_validate_secinfo(const struct sgx_secinfo *secinfo)
{
	uint64_t perm = secinfo->flags & SGX_SECINFO_PERMISSION_MASK;
	uint64_t pt = secinfo->flags & SGX_SECINFO_PAGE_TYPE_MASK;
	size_t i;

	if (pt != SGX_SECINFO_REG && pt != SGX_SECINFO_TCS)
		return -EINVAL;

	if ((perm & SGX_SECINFO_W) && !(perm & SGX_SECINFO_R))
		return -EINVAL;

	/*
	 * The CPU silently zeroes a TCS's permissions at EADD, which would make
	 * the measurement differ from what the signer hashed: refuse instead.
	 */
	if (pt == SGX_SECINFO_TCS && perm)
		return -EINVAL;

	if (secinfo->flags & SGX_SECINFO_ADD_RESERVED_MASK)
		return -EINVAL;

	for (i = 0; i < sizeof(secinfo->reserved); i++)
		if (secinfo->reserved[i])
			return -EINVAL;

	return 0;
}

/* Shared by ADD_PAGES and the SGX2 ioctls. */
static int sgx_validate_offset_length(struct sgx_encl *encl, unsigned long offset,
				      unsigned long length)
{
	if (!IS_ALIGNED(offset, PAGE_SIZE))
		return -EINVAL;

	if (!length || !IS_ALIGNED(length, PAGE_SIZE))
		return -EINVAL;

	if (offset + length < offset)
		return -EINVAL;

	if (offset + length - PAGE_SIZE >= encl->size)
		return -EINVAL;

	return 0;
}

static unsigned long secinfo_vm_max_prot_bits(const struct sgx_secinfo *secinfo)
{
	uint64_t pt = secinfo->flags & SGX_SECINFO_PAGE_TYPE_MASK;
	unsigned long prot = 0;

	/* The CPU needs a TCS mappable RW even though its EPCM permissions are 0. */
	if (pt == SGX_SECINFO_TCS)
		return VM_READ | VM_WRITE;

	if (secinfo->flags & SGX_SECINFO_R)
		prot |= VM_READ;
	if (secinfo->flags & SGX_SECINFO_W)
		prot |= VM_WRITE;
	if (secinfo->flags & SGX_SECINFO_X)
		prot |= VM_EXEC;
	return prot;
}

/*
 * EADD from the source page, after the checks the kernel makes on the way to
 * get_user_pages(): a VMA must be found at @src (-EFAULT) and it must be
 * allowed to become executable (-EACCES, e.g. a noexec mount), and the page
 * must be readable (@copy_ret, the result of copying it earlier, -EFAULT).
 */
static int __sgx_encl_add_page(struct sgx_encl *encl, struct sgx_mm *mm,
			       struct sgx_encl_page *encl_page, struct sgx_epc_page *epc_page,
			       struct sgx_secinfo *secinfo, unsigned long src, const void *src_page,
			       int copy_ret)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_pageinfo pginfo;
	int ret;

	ret = drv_host_call(drv, src_check, mm, src);
	if (ret)
		return ret;

	if (copy_ret)
		return -EFAULT;

	memset(&pginfo, 0, sizeof(pginfo));
	pginfo.secs = (uint64_t)(uintptr_t)epc_addr(encl->secs.epc_page);
	pginfo.addr = encl_page_addr(encl_page);
	pginfo.metadata = (uint64_t)(uintptr_t)secinfo;
	pginfo.contents = (uint64_t)(uintptr_t)src_page;

	/* No warning for an EADD fault either: the page came from userspace. */
	ret = sgx_eadd(drv->cpu, &pginfo, epc_addr(epc_page));
	return ret ? -EIO : 0;
}

/* EEXTEND the whole page in SGX_EEXTEND_BLOCK_SIZE chunks. */
static int __sgx_encl_extend(struct sgx_encl *encl, struct sgx_epc_page *epc_page)
{
	struct sgx_driver *drv = encl->drv;
	uint8_t *page = epc_addr(epc_page);
	unsigned long offset;
	int ret;

	for (offset = 0; offset < PAGE_SIZE; offset += SGX_EEXTEND_BLOCK_SIZE) {
		ret = sgx_eextend(drv->cpu, epc_addr(encl->secs.epc_page), page + offset);
		if (ret) {
			if (encls_failed(ret))
				ENCLS_WARN(ret, "EEXTEND");
			return -EIO;
		}
	}

	return 0;
}

/*
 * Add one page.  The EPC page and the VA page are allocated (possibly with
 * direct reclaim) before any lock is taken, and the caller has copied the
 * source (@src_page, with @copy_ret the copy's result, which only counts once
 * the checks that precede it have passed) before that: reclaim takes mmap
 * locks and encl->lock, and reading user memory with encl->lock held could
 * fault into this very enclave.
 */
static int sgx_encl_add_page(struct sgx_encl *encl, struct sgx_mm *mm, unsigned long src,
			     unsigned long offset, struct sgx_secinfo *secinfo, unsigned long flags,
			     const void *src_page, int copy_ret)
{
	struct sgx_driver *drv = encl->drv;
	unsigned long addr = encl->base + offset;
	struct sgx_encl_page *encl_page;
	struct sgx_epc_page *epc_page;
	struct sgx_va_page *va_page;
	int ret;

	/*
	 * The kernel allocates the descriptor here; our descriptor is the slot
	 * itself (claimed under encl->lock below), which is what the EPC page's
	 * owner points at.  The page is not on the reclaimer's list until the
	 * add has succeeded, so nobody follows the owner before then.
	 */
	epc_page = sgx_alloc_epc_page(drv, sgx_encl_page_slot(encl, addr), true);
	if (IS_ERR(epc_page))
		return PTR_ERR(epc_page);

	va_page = sgx_encl_grow(encl, true);
	if (IS_ERR(va_page)) {
		ret = PTR_ERR(va_page);
		goto err_out_free;
	}

	drv_host_call(drv, mmap_read_lock, mm);
	sgx_mutex_lock(&encl->lock);

	/* Linked before anything can fail so that sgx_encl_shrink() may unlink it. */
	if (va_page)
		cds_list_add(&va_page->list, &encl->va_pages);

	/*
	 * Claim the slot before EADD: EADD extends MRENCLAVE and cannot be
	 * undone, while a taken slot is a plain error.
	 */
	encl_page = sgx_encl_page_insert(encl, addr, secinfo_vm_max_prot_bits(secinfo));
	if (IS_ERR(encl_page)) {
		ret = PTR_ERR(encl_page);
		goto err_out_unlock;
	}
	epc_page->owner = encl_page;

	ret = __sgx_encl_add_page(encl, mm, encl_page, epc_page, secinfo, src, src_page,
				  copy_ret);
	if (ret)
		goto err_out;

	encl_page->encl = encl;
	encl_page->epc_page = epc_page;
	encl_page->type = (secinfo->flags & SGX_SECINFO_PAGE_TYPE_MASK) >> 8;
	encl->secs_child_cnt++;

	if (flags & SGX_PAGE_MEASURE) {
		sgx_test_point(drv, SGX_TP_ADD_EXTEND, encl, addr);
		ret = __sgx_encl_extend(encl, epc_page);
		if (ret) {
			/*
			 * Q1 (fixed): the kernel leaves secs_child_cnt one
			 * too high here although the page is EREMOVEd below.
			 */
			encl->secs_child_cnt--;
			encl_page->epc_page = NULL;
			goto err_out;
		}
	}

	sgx_mark_page_reclaimable(drv, epc_page);
	sgx_mutex_unlock(&encl->lock);
	drv_host_call(drv, mmap_read_unlock, mm);
	return 0;

err_out:
	sgx_encl_page_erase(encl_page);

err_out_unlock:
	sgx_encl_shrink(encl, va_page);
	sgx_mutex_unlock(&encl->lock);
	drv_host_call(drv, mmap_read_unlock, mm);

err_out_free:
	sgx_encl_free_epc_page(drv, epc_page);
	return ret;
}

/*
 * The source pages of one ADD_PAGES call, read in batches: one
 * copy_from_user() of SGX_ADD_BATCH pages costs the host one system call
 * where a page each cost sixteen (on the hosts here that call was a fifth of
 * loading a measured page).  A batch whose copy fails is read again page by
 * page, so that every page gets its own result, which counts only where the
 * kernel's get_user_pages() would have been reached for that page.
 *
 * With cfg.add_helper a thread of the driver reads batches ahead, up to
 * SGX_ADD_SLOTS of them, while the ioctl adds and measures, so that on a
 * second core the copies run beside the hash chain, which cannot be split.
 * Batches are claimed in order by whichever thread gets there first: when
 * the helper lags (its core is busy elsewhere) the ioctl reads the next
 * batch itself instead of waiting, so a helper never makes a load slower
 * than none by more than the wake-ups.  The helper sleeps until half the
 * slots are free, so it is woken once per SGX_ADD_SLOTS / 2 batches.
 * Reading ahead only reads the range the caller passed; no page is added,
 * and no result used, before the page's turn.
 */
#define SGX_ADD_BATCH 16
#define SGX_ADD_SLOTS 8
/* Fewer pages than this are not worth a thread. */
#define SGX_ADD_HELPER_MIN (4 * SGX_ADD_BATCH)

struct sgx_add_src {
	struct sgx_driver *drv;
	uint64_t src;            /* user address of the call's first page */
	unsigned long nr;        /* pages in the call */
	unsigned long batch;     /* pages per batch: SGX_ADD_BATCH, or 1 */
	unsigned long slots;     /* batches buffered: SGX_ADD_SLOTS with a helper, else 1 */
	unsigned long nr_batches;
	uint8_t *buf;            /* @slots batches of @batch pages */
	bool allocated;          /* @buf is on the heap */
	int ret[SGX_ADD_SLOTS][SGX_ADD_BATCH];
	/*
	 * With the helper, under @lock: batches below @next are claimed (being
	 * read or read), the ioctl is done with those below @consumed, and
	 * @ready[slot] is 1 + the batch whose pages the slot holds.
	 */
	bool helper;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long next, consumed, ready[SGX_ADD_SLOTS];
	bool stop, helper_waits, ioctl_waits;
};

static void sgx_add_src_read(struct sgx_add_src *s, unsigned long b)
{
	unsigned long first = b * s->batch;
	unsigned long n = s->nr - first < s->batch ? s->nr - first : s->batch;
	uint8_t *buf = s->buf + (b % s->slots) * s->batch * PAGE_SIZE;
	int *ret = s->ret[b % s->slots];
	int r = copy_from_user(s->drv, buf, s->src + first * PAGE_SIZE, n * PAGE_SIZE);

	for (unsigned long i = 0; i < n; i++)
		ret[i] = r && n > 1 ? copy_from_user(s->drv, buf + i * PAGE_SIZE,
						     s->src + (first + i) * PAGE_SIZE, PAGE_SIZE) : r;
}

static void *sgx_add_helper(void *arg)
{
	struct sgx_add_src *s = arg;
	unsigned long b;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		/* Sleep while fewer than half the slots are free. */
		while (!s->stop && s->next < s->nr_batches &&
		       s->next - s->consumed > s->slots / 2) {
			s->helper_waits = true;
			pthread_cond_wait(&s->cond, &s->lock);
		}
		/* Then fill every free slot before sleeping again. */
		while (!s->stop && s->next < s->nr_batches && s->next - s->consumed < s->slots) {
			b = s->next++;
			pthread_mutex_unlock(&s->lock);
			sgx_add_src_read(s, b);
			atomic_fetch_add_explicit(&s->drv->stats.add_helper_batches, 1,
						  memory_order_relaxed);
			pthread_mutex_lock(&s->lock);
			s->ready[b % s->slots] = b + 1;
			if (s->ioctl_waits)
				pthread_cond_broadcast(&s->cond);
		}
		if (s->stop || s->next >= s->nr_batches)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The ioctl starts on batch @b: the helper's copy of it, or its own. */
static void sgx_add_src_take(struct sgx_add_src *s, unsigned long b)
{
	pthread_mutex_lock(&s->lock);
	s->consumed = b;
	if (s->helper_waits && s->next - s->consumed <= s->slots / 2) {
		s->helper_waits = false;
		pthread_cond_broadcast(&s->cond);
	}
	if (s->next <= b) {
		/* The helper lags: read it here (batches are claimed in order). */
		s->next = b + 1;
		pthread_mutex_unlock(&s->lock);
		sgx_add_src_read(s, b);
		return;
	}
	while (s->ready[b % s->slots] != b + 1) {
		s->ioctl_waits = true;
		pthread_cond_wait(&s->cond, &s->lock);
	}
	s->ioctl_waits = false;
	pthread_mutex_unlock(&s->lock);
}

/*
 * Set up the reader of @nr pages at @src.  @bounce is one page the reader
 * falls back to when nothing can be allocated (then it reads a page at a
 * time, as the kernel does).
 */
static void sgx_add_src_start(struct sgx_add_src *s, struct sgx_driver *drv, uint64_t src,
			      unsigned long nr, uint8_t *bounce)
{
	bool helper = drv->cfg.add_helper && nr >= SGX_ADD_HELPER_MIN;
	unsigned long slots = helper ? SGX_ADD_SLOTS : 1;
	sigset_t all, old;

	memset(s, 0, sizeof(*s));
	s->drv = drv;
	s->src = src;
	s->nr = nr;
	s->batch = 1;
	s->slots = 1;
	s->buf = bounce;
	s->nr_batches = nr;
	if (nr < 2)
		return;
	/* EADD takes page-aligned sources only. */
	s->buf = aligned_alloc(PAGE_SIZE, slots * SGX_ADD_BATCH * PAGE_SIZE);
	if (!s->buf) {
		s->buf = bounce;
		return;
	}
	s->allocated = true;
	s->batch = SGX_ADD_BATCH;
	s->slots = slots;
	s->nr_batches = (nr + SGX_ADD_BATCH - 1) / SGX_ADD_BATCH;
	if (!helper)
		return;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	/* Signals are the ioctl thread's to take: the helper blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->helper = !pthread_create(&s->thread, NULL, sgx_add_helper, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->helper) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		s->slots = 1; /* read in the ioctl's thread instead */
	}
}

/* Page @i of the call: its copy in the reader's buffer and the copy's result in @copy_ret. */
static const void *sgx_add_src_page(struct sgx_add_src *s, unsigned long i, int *copy_ret)
{
	unsigned long b = i / s->batch, k = i % s->batch;

	if (!k) {
		if (s->helper)
			sgx_add_src_take(s, b);
		else
			sgx_add_src_read(s, b);
	}
	*copy_ret = s->ret[b % s->slots][k];
	return s->buf + ((b % s->slots) * s->batch + k) * PAGE_SIZE;
}

static void sgx_add_src_stop(struct sgx_add_src *s)
{
	if (s->helper) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
	}
	if (s->allocated)
		free(s->buf);
}

/**
 * sgx_ioc_enclave_add_pages() - handler for %SGX_IOC_ENCLAVE_ADD_PAGES
 * @encl: the enclave
 * @mm: the caller's address space (the source pages live there)
 * @arg: user address of a struct sgx_enclave_add_pages
 *
 * Add @length bytes of pages at @offset from the source at @src, all with the
 * SECINFO at @secinfo, and EEXTEND them when @flags has SGX_PAGE_MEASURE.
 * @count returns the bytes added, also when an error stops the loop.
 *
 * Q3 (kept, it is the ABI runtimes loop on): a signal before the first
 * page gives -ERESTARTSYS, a signal later gives 0 with a short @count.
 * Q19 (fixed in this comment): the kernel's kernel-doc promises -EINTR;
 * the code, and this one, return -ERESTARTSYS.
 *
 * Return: 0, -EINVAL (state, alignment, range, SECINFO), -EFAULT, -EACCES
 * (source VMA may not be executable), -EBUSY (page already added), -ENOMEM,
 * -ERESTARTSYS, -EIO (EADD or EEXTEND failed).
 */
static long sgx_ioc_enclave_add_pages(struct sgx_encl *encl, struct sgx_mm *mm,
				      unsigned long arg)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_enclave_add_pages add_arg;
	struct sgx_secinfo secinfo;
	struct sgx_add_src rd;
	unsigned long c;
	uint8_t bounce[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	const void *src_page;
	int copy_ret;
	long ret = 0;

	if (!encl_test_flag(encl, SGX_ENCL_CREATED) ||
	    encl_test_flag(encl, SGX_ENCL_INITIALIZED))
		return -EINVAL;

	/* Killed by the EPC OOM killer (docs/races.md, R6). */
	if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY))
		return -ENOMEM;

	if (copy_from_user(drv, &add_arg, arg, sizeof(add_arg)))
		return -EFAULT;

	if (!IS_ALIGNED(add_arg.src, PAGE_SIZE))
		return -EINVAL;

	if (sgx_validate_offset_length(encl, add_arg.offset, add_arg.length))
		return -EINVAL;

	if (copy_from_user(drv, &secinfo, add_arg.secinfo, sizeof(secinfo)))
		return -EFAULT;

	if (sgx_validate_secinfo(&secinfo))
		return -EINVAL;

	/*
	 * The pinned user pages of the kernel: batches read ahead into a
	 * buffer, or, when none can be allocated, one page-aligned bounce
	 * buffer on the stack (an ioctl, not signal context: the page of stack
	 * is affordable).
	 */
	sgx_add_src_start(&rd, drv, add_arg.src, add_arg.length / PAGE_SIZE, bounce);

	for (c = 0; c < add_arg.length; c += PAGE_SIZE) {
		if (signal_pending(drv)) {
			if (!c)
				ret = -ERESTARTSYS;
			break;
		}
		/*
		 * Killed by the EPC OOM killer meanwhile: stop taking EPC for it
		 * (the series checks only once, before the loop).
		 */
		if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY)) {
			ret = -ENOMEM;
			break;
		}

		src_page = sgx_add_src_page(&rd, c / PAGE_SIZE, &copy_ret);
		ret = sgx_encl_add_page(encl, mm, add_arg.src + c, add_arg.offset + c, &secinfo,
					add_arg.flags, src_page, copy_ret);
		if (ret)
			break;
	}
	sgx_add_src_stop(&rd);

	add_arg.count = c;
	if (copy_to_user(drv, arg, &add_arg, sizeof(add_arg)))
		return -EFAULT;

	return ret;
}

/* ---- SGX_IOC_ENCLAVE_INIT ---- */

/* Point the launch-enclave key hash at the signer: EINIT then needs no token. */
static void sgx_update_lepubkeyhash(struct sgx_driver *drv, const uint64_t *lepubkeyhash)
{
	int i;

	/*
	 * The driver only registers with flexible launch control, so these
	 * writes cannot fail; if they did, EINIT reports it.
	 */
	for (i = 0; i < 4; i++)
		(void)sgx_cpu_wrmsr(drv->cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, lepubkeyhash[i]);
}

/* Sleep @ms milliseconds (msleep_interruptible; the signal is checked after). */
static void sgx_msleep(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int sgx_encl_init(struct sgx_encl *encl, struct sgx_sigstruct *sigstruct, void *token)
{
	struct sgx_driver *drv = encl->drv;
	uint64_t mrsigner[4];
	int ret = 0;
	int i, j;

	/* MRSIGNER: the digest's bytes, read as four little-endian words. */
	SHA256(sigstruct->modulus, SGX_MODULUS_SIZE, (unsigned char *)mrsigner);

	sgx_mutex_lock(&encl->lock);

	/*
	 * EINIT may be interrupted by a pending event (SGX_UNMASKED_EVENT): spin
	 * a little, then sleep, and give up only on a signal or after
	 * SGX_EINIT_SLEEP_COUNT rounds.  The CPU model interrupts EINIT only
	 * when asked to (sgx_cpu_raise_events()), which is how this is tested.
	 */
	for (i = 0; i < SGX_EINIT_SLEEP_COUNT; i++) {
		for (j = 0; j < SGX_EINIT_SPIN_COUNT; j++) {
			/* Not evictable before INIT while encl->lock is held; re-read anyway. */
			void *secs = epc_addr(encl->secs.epc_page);

			/* The MSRs are per CPU: written right before every attempt. */
			sgx_update_lepubkeyhash(drv, mrsigner);
			ret = sgx_einit(drv->cpu, sigstruct, token, secs);
			if (ret != SGX_UNMASKED_EVENT)
				break;
		}

		if (ret != SGX_UNMASKED_EVENT)
			break;

		sgx_msleep(SGX_EINIT_SLEEP_TIME);

		if (signal_pending(drv)) {
			ret = -ERESTARTSYS;
			goto err_out;
		}
	}

	if (encls_faulted(ret)) {
		if (encls_failed(ret))
			ENCLS_WARN(ret, "EINIT");
		ret = -EIO;
	} else if (ret) {
		sgx_pr_debug("EINIT returned %d\n", ret);
		ret = -EPERM;
	} else {
		atomic_fetch_or(&encl->flags, SGX_ENCL_INITIALIZED);
	}

err_out:
	sgx_mutex_unlock(&encl->lock);
	return ret;
}

/**
 * sgx_ioc_enclave_init() - handler for %SGX_IOC_ENCLAVE_INIT
 * @encl: the enclave
 * @arg: user address of a struct sgx_enclave_init
 *
 * Check the SIGSTRUCT against what the driver enforces itself (vendor,
 * privileged attributes, reserved bits the signer requires), then EINIT with
 * the launch key hash set to MRSIGNER and an all-zero token.  A failed INIT
 * leaves the enclave CREATED, so it may be retried.
 *
 * Return: 0, -EINVAL (state, vendor, reserved bits), -EFAULT, -ENOMEM,
 * -EACCES (attribute not allowed, e.g. PROVISIONKEY without PROVISION),
 * -ERESTARTSYS, -EIO (EINIT faulted), -EPERM (EINIT returned an SGX error).
 */
static long sgx_ioc_enclave_init(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_sigstruct *sigstruct;
	struct sgx_enclave_init init_arg;
	uint8_t *initp_page;
	void *token;
	long ret;

	if (!encl_test_flag(encl, SGX_ENCL_CREATED) ||
	    encl_test_flag(encl, SGX_ENCL_INITIALIZED))
		return -EINVAL;

	if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY))
		return -ENOMEM;

	if (copy_from_user(drv, &init_arg, arg, sizeof(init_arg)))
		return -EFAULT;

	/* SIGSTRUCT at 0, the 512-byte-aligned EINITTOKEN at 2048. */
	initp_page = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	if (!initp_page)
		return -ENOMEM;

	sigstruct = (struct sgx_sigstruct *)initp_page;
	token = initp_page + PAGE_SIZE / 2;
	memset(token, 0, SGX_LAUNCH_TOKEN_SIZE);

	if (copy_from_user(drv, sigstruct, init_arg.sigstruct, sizeof(*sigstruct))) {
		ret = -EFAULT;
		goto out;
	}

	/*
	 * A legacy vendor value of 0x8086 is allowed besides 0x0000.  The
	 * hardware does not check it (nothing else in the header is checked in
	 * software: EINIT does that).
	 */
	if (sigstruct->header.vendor != 0x0000 && sigstruct->header.vendor != 0x8086) {
		ret = -EINVAL;
		goto out;
	}

	/* PROVISIONKEY needs a prior PROVISION; EINITTOKENKEY is never allowed. */
	if (encl->attributes & ~encl->attributes_mask) {
		ret = -EACCES;
		goto out;
	}

	/*
	 * Enforce the reserved bits only where the signer requires them (value
	 * and mask both set), not on everything the SIGSTRUCT mentions.
	 */
	if (sigstruct->body.attributes & sigstruct->body.attributes_mask &
	    drv->attributes_reserved_mask) {
		ret = -EINVAL;
		goto out;
	}

	if (sigstruct->body.miscselect & sigstruct->body.misc_mask & drv->misc_reserved_mask) {
		ret = -EINVAL;
		goto out;
	}

	if (sigstruct->body.xfrm & sigstruct->body.xfrm_mask & drv->xfrm_reserved_mask) {
		ret = -EINVAL;
		goto out;
	}

	ret = sgx_encl_init(encl, sigstruct, token);

out:
	free(initp_page);
	return ret;
}

/* ---- SGX_IOC_ENCLAVE_PROVISION ---- */

/* The kernel's sgx_set_attribute(): an open /dev/sgx_provision is the proof. */
static int sgx_set_attribute(struct sgx_driver *drv, uint64_t *allowed_attributes,
			     unsigned int attribute_fd)
{
	if (!drv_host_call(drv, fd_is_provision, attribute_fd))
		return -EINVAL;

	*allowed_attributes |= SGX_ATTR_PROVISIONKEY;
	return 0;
}

/**
 * sgx_ioc_enclave_provision() - handler for %SGX_IOC_ENCLAVE_PROVISION
 * @encl: the enclave
 * @arg: user address of a struct sgx_enclave_provision
 *
 * Allow SGX_ATTR_PROVISIONKEY when @fd is an open /dev/sgx_provision.  No
 * state check (Q4, kept: CREATE resets the mask, so only a PROVISION
 * between CREATE and INIT has an effect).  The fd is taken as an unsigned
 * int, as the kernel passes it on.
 *
 * Return: 0, -EFAULT, -EINVAL (not a provision fd).
 */
static long sgx_ioc_enclave_provision(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_enclave_provision params;

	if (copy_from_user(encl->drv, &params, arg, sizeof(params)))
		return -EFAULT;

	return sgx_set_attribute(encl->drv, &encl->attributes_mask, (unsigned int)params.fd);
}

/* ---- SGX2 ---- */

/*
 * The ETRACK flow after EMODPR/EMODT, under encl->lock: start a tracking
 * cycle, then kick every thread out of the enclave so that each has seen the
 * change before the enclave EACCEPTs it.  ETRACK refuses while a previous
 * cycle is incomplete: kick first, then try once more.
 */
static int sgx_enclave_etrack(struct sgx_encl *encl)
{
	struct sgx_driver *drv = encl->drv;
	void *epc_virt;
	int ret;

	epc_virt = epc_addr(encl->secs.epc_page);
	ret = sgx_etrack(drv->cpu, epc_virt);
	if (ret) {
		/* Only an OS issue gets here, e.g. two ETRACKs without the IPIs between. */
		pr_err_once("ETRACK returned %d (0x%x)", ret, ret);
		atomic_fetch_add(&drv->stats.etrack_ipis, 1);
		sgx_encl_kick(encl);
		ret = sgx_etrack(drv->cpu, epc_virt);
		if (ret) {
			pr_err_once("ETRACK repeat returned %d (0x%x)", ret, ret);
			return -EFAULT;
		}
	}
	atomic_fetch_add(&drv->stats.etrack_ipis, 1);
	sgx_encl_kick(encl);

	return 0;
}

/* "SGX2 ready": checked first, before the argument is even copied. */
static int sgx_ioc_sgx2_ready(struct sgx_encl *encl)
{
	if (!encl->drv->sgx2)
		return -ENODEV;

	if (!encl_test_flag(encl, SGX_ENCL_INITIALIZED))
		return -EINVAL;

	if (encl_test_flag(encl, SGX_ENCL_NO_MEMORY))
		return -ENOMEM;

	return 0;
}

/*
 * The load step of every SGX2 page operation, under encl->lock: bring the
 * page in (ELDU without reclaim if evicted).  -EBUSY (being reclaimed, being
 * removed, or no free EPC right now) means "try again"; every other failure
 * is reported as -EFAULT, as the kernel does.
 */
static struct sgx_encl_page *sgx2_load_page(struct sgx_encl *encl, unsigned long addr, long *ret)
{
	struct sgx_encl_page *entry = sgx_encl_load_page(encl, addr);

	if (IS_ERR(entry))
		*ret = PTR_ERR(entry) == -EBUSY ? -EAGAIN : -EFAULT;
	return entry;
}

static long sgx_enclave_restrict_permissions(struct sgx_encl *encl,
					     struct sgx_enclave_restrict_permissions *modp)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_encl_page *entry;
	struct sgx_secinfo secinfo;
	unsigned long addr;
	unsigned long c;
	long ret;

	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = modp->permissions & SGX_SECINFO_PERMISSION_MASK;

	for (c = 0; c < modp->length; c += PAGE_SIZE) {
		addr = encl->base + modp->offset + c;

		/* Make room for the reload below, which may not reclaim. */
		sgx_reclaim_direct(drv);

		sgx_mutex_lock(&encl->lock);

		entry = sgx2_load_page(encl, addr, &ret);
		if (IS_ERR(entry))
			goto out_unlock;

		/* EPCM permissions exist only on regular pages. */
		if (entry->type != SGX_PAGE_TYPE_REG) {
			ret = -EINVAL;
			goto out_unlock;
		}

		/*
		 * EMODPR only takes permissions away (extra bits are ignored by
		 * the CPU), so vm_max_prot_bits and the PTEs stay as they are;
		 * the enclave EACCEPTs the restriction.
		 */
		ret = sgx_emodpr(drv->cpu, &secinfo, epc_addr(entry->epc_page));
		if (encls_faulted(ret)) {
			pr_err_once("EMODPR encountered exception %d\n", (int)encls_trapnr(ret));
			ret = -EFAULT;
			goto out_unlock;
		}
		if (encls_failed(ret)) {
			modp->result = ret;
			ret = -EFAULT;
			goto out_unlock;
		}
		sgx_encl_zap_epcm_change(encl, addr);

		ret = sgx_enclave_etrack(encl);
		if (ret) {
			ret = -EFAULT;
			goto out_unlock;
		}

		sgx_mutex_unlock(&encl->lock);
	}

	ret = 0;
	goto out;

out_unlock:
	sgx_mutex_unlock(&encl->lock);
out:
	modp->count = c;
	return ret;
}

/**
 * sgx_ioc_enclave_restrict_permissions() - handler for
 *                                          %SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS
 * @encl: the enclave
 * @arg: user address of a struct sgx_enclave_restrict_permissions
 *
 * EMODPR every page of the range to @permissions and track the change.
 * @result receives the SGX error code of a failed EMODPR, @count the bytes
 * done; both are written back also on failure.
 *
 * Return: 0, -ENODEV (no SGX2), -EINVAL (state, range, permissions, non-zero
 * @result/@count, not a REG page), -EFAULT (copy, no page there, EMODPR or
 * ETRACK failed), -EAGAIN (page busy or no free EPC right now).
 */
static long sgx_ioc_enclave_restrict_permissions(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_enclave_restrict_permissions params;
	long ret;

	ret = sgx_ioc_sgx2_ready(encl);
	if (ret)
		return ret;

	if (copy_from_user(drv, &params, arg, sizeof(params)))
		return -EFAULT;

	if (sgx_validate_offset_length(encl, params.offset, params.length))
		return -EINVAL;

	if (params.permissions & ~SGX_SECINFO_PERMISSION_MASK)
		return -EINVAL;

	/* W without R would make EMODPR fault: refuse it up front. */
	if ((params.permissions & SGX_SECINFO_W) && !(params.permissions & SGX_SECINFO_R))
		return -EINVAL;

	if (params.result || params.count)
		return -EINVAL;

	ret = sgx_enclave_restrict_permissions(encl, &params);

	if (copy_to_user(drv, arg, &params, sizeof(params)))
		return -EFAULT;

	return ret;
}

static long sgx_enclave_modify_types(struct sgx_encl *encl,
				     struct sgx_enclave_modify_types *modt)
{
	struct sgx_driver *drv = encl->drv;
	unsigned long max_prot_restore;
	struct sgx_encl_page *entry;
	struct sgx_secinfo secinfo;
	unsigned long page_type;
	unsigned long addr;
	unsigned long c;
	long ret;

	page_type = modt->page_type & SGX_PAGE_TYPE_MASK;

	/* The only types EMODT can produce. */
	if (page_type != SGX_PAGE_TYPE_TCS && page_type != SGX_PAGE_TYPE_TRIM)
		return -EINVAL;

	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = page_type << 8;

	for (c = 0; c < modt->length; c += PAGE_SIZE) {
		addr = encl->base + modt->offset + c;

		sgx_reclaim_direct(drv);

		sgx_mutex_lock(&encl->lock);

		entry = sgx2_load_page(encl, addr, &ret);
		if (IS_ERR(entry))
			goto out_unlock;

		/* REG may become TCS or TRIM; a TCS may only be trimmed. */
		if (!(entry->type == SGX_PAGE_TYPE_REG ||
		      (entry->type == SGX_PAGE_TYPE_TCS && page_type == SGX_PAGE_TYPE_TRIM))) {
			ret = -EINVAL;
			goto out_unlock;
		}

		max_prot_restore = entry->vm_max_prot_bits;

		/*
		 * A TCS is RW for the kernel (and unreachable by the enclave's
		 * own accesses), and a TCS cannot go back to REG: the new
		 * maximum is RW, which must not exceed what was vetted when the
		 * page was added.
		 */
		if (entry->type == SGX_PAGE_TYPE_REG && page_type == SGX_PAGE_TYPE_TCS) {
			if (~entry->vm_max_prot_bits & (VM_READ | VM_WRITE)) {
				ret = -EPERM;
				goto out_unlock;
			}
			entry->vm_max_prot_bits = VM_READ | VM_WRITE;

			/* Keep the reclaimer off the page while the lock is dropped. */
			if (sgx_unmark_page_reclaimable(drv, entry->epc_page)) {
				/* Q7 (kept): -EAGAIN here, -EBUSY in REMOVE_PAGES. */
				ret = -EAGAIN;
				goto out_entry_changed;
			}

#ifndef SGX_NO_REMOVE_RACE_FIX
			/*
			 * Race fix (docs/races.md, R1): mappings of the page are
			 * zapped without encl->lock, and a fault in that window
			 * would map it again right before it becomes a TCS.
			 * BUSY makes the fault handler back off (NOPAGE) until
			 * the lock is retaken and BUSY cleared.
			 */
			atomic_fetch_or(&entry->desc, SGX_ENCL_PAGE_BUSY);
#endif
			/* Zapping takes mmap locks, which nest outside encl->lock. */
			sgx_mutex_unlock(&encl->lock);

			sgx_test_point(drv, SGX_TP_MODIFY_ZAP, encl, addr);
			sgx_zap_enclave_ptes(encl, addr);

			sgx_mutex_lock(&encl->lock);
#ifndef SGX_NO_REMOVE_RACE_FIX
			atomic_fetch_and(&entry->desc, ~SGX_ENCL_PAGE_BUSY);
#endif
			sgx_mark_page_reclaimable(drv, entry->epc_page);
		}

		ret = sgx_emodt(drv->cpu, &secinfo, epc_addr(entry->epc_page));
		if (encls_faulted(ret)) {
			pr_err_once("EMODT encountered exception %d\n", (int)encls_trapnr(ret));
			ret = -EFAULT;
			goto out_entry_changed;
		}
		if (encls_failed(ret)) {
			modt->result = ret;
			ret = -EFAULT;
			goto out_entry_changed;
		}
		sgx_encl_zap_epcm_change(encl, addr);

		ret = sgx_enclave_etrack(encl);
		if (ret) {
			/*
			 * Q8 (kept): vm_max_prot_bits is not restored here.
			 * EMODT has already happened and cannot be undone; for a
			 * TCS the RW maximum is the right one, and going back to
			 * the REG page's maximum could re-allow X on a TCS.
			 */
			ret = -EFAULT;
			goto out_unlock;
		}

		entry->type = page_type;

		sgx_mutex_unlock(&encl->lock);
	}

	ret = 0;
	goto out;

out_entry_changed:
	entry->vm_max_prot_bits = max_prot_restore;
out_unlock:
	sgx_mutex_unlock(&encl->lock);
out:
	modt->count = c;
	return ret;
}

/**
 * sgx_ioc_enclave_modify_types() - handler for %SGX_IOC_ENCLAVE_MODIFY_TYPES
 * @encl: the enclave
 * @arg: user address of a struct sgx_enclave_modify_types
 *
 * EMODT every page of the range to @page_type (TCS or TRIM) and track the
 * change.  REG->TCS adds a thread to an initialized enclave; ->TRIM is the
 * first step of removing a page (then EACCEPT, then REMOVE_PAGES).
 * @result and @count are written back also on failure.
 *
 * Return: 0, -ENODEV (no SGX2), -EINVAL (state, range, type, non-zero
 * @result/@count, transition not allowed), -EPERM (REG->TCS of a page never
 * allowed RW), -EFAULT (copy, no page there, EMODT or ETRACK failed),
 * -EAGAIN (page busy or no free EPC right now).
 */
static long sgx_ioc_enclave_modify_types(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_enclave_modify_types params;
	long ret;

	ret = sgx_ioc_sgx2_ready(encl);
	if (ret)
		return ret;

	if (copy_from_user(drv, &params, arg, sizeof(params)))
		return -EFAULT;

	if (sgx_validate_offset_length(encl, params.offset, params.length))
		return -EINVAL;

	if (params.page_type & ~SGX_PAGE_TYPE_MASK)
		return -EINVAL;

	if (params.result || params.count)
		return -EINVAL;

	ret = sgx_enclave_modify_types(encl, &params);

	if (copy_to_user(drv, arg, &params, sizeof(params)))
		return -EFAULT;

	return ret;
}

static long sgx_encl_remove_pages(struct sgx_encl *encl,
				  struct sgx_enclave_remove_pages *params)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_encl_page *entry;
	struct sgx_secinfo secinfo;
	unsigned long addr;
	unsigned long c;
	long ret;

	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X;

	for (c = 0; c < params->length; c += PAGE_SIZE) {
		addr = encl->base + params->offset + c;

		sgx_reclaim_direct(drv);

		sgx_mutex_lock(&encl->lock);

		entry = sgx2_load_page(encl, addr, &ret);
		if (IS_ERR(entry))
			goto out_unlock;

		if (entry->type != SGX_PAGE_TYPE_TRIM) {
			ret = -EPERM;
			goto out_unlock;
		}

		/*
		 * EMODPR as a probe that changes nothing: on a trimmed page the
		 * enclave has not EACCEPTed yet it returns
		 * SGX_PAGE_NOT_MODIFIABLE, on an accepted one it takes a #PF.
		 * Anything but the #PF means "not accepted yet".
		 */
		ret = sgx_emodpr(drv->cpu, &secinfo, epc_addr(entry->epc_page));
		if (!encls_faulted(ret) || encls_trapnr(ret) != X86_TRAP_PF) {
			ret = -EPERM;
			goto out_unlock;
		}

		if (sgx_unmark_page_reclaimable(drv, entry->epc_page)) {
			/* Q7 (kept): -EBUSY here, -EAGAIN everywhere else. */
			ret = -EBUSY;
			goto out_unlock;
		}

#ifndef SGX_NO_REMOVE_RACE_FIX
		/*
		 * Race fix (docs/races.md, R1): the page stays in the page
		 * array and resident while encl->lock is dropped for the zap, so
		 * a fault in that window would map the page right before it is
		 * EREMOVEd, leaving a PTE to an EPC page the enclave no longer
		 * owns.  BUSY makes the fault handler (and every loader) back
		 * off; once the entry is gone the retried fault takes the EAUG
		 * path.  Never cleared: the entry is erased below.
		 */
		atomic_fetch_or(&entry->desc, SGX_ENCL_PAGE_BUSY);
#endif
		/* Zapping takes mmap locks, which nest outside encl->lock. */
		sgx_mutex_unlock(&encl->lock);

		sgx_test_point(drv, SGX_TP_REMOVE_ZAP, encl, addr);
		sgx_zap_enclave_ptes(encl, addr);

		sgx_mutex_lock(&encl->lock);

		sgx_encl_free_epc_page(drv, entry->epc_page);
		encl->secs_child_cnt--;
		entry->epc_page = NULL;
		sgx_encl_page_erase(entry);
		/* Its VA slot stays: VA pages are only freed with the enclave. */
		sgx_encl_shrink(encl, NULL);
		if (!(encl->page_cnt % SGX_VA_SLOT_COUNT))
			sgx_encl_va_reserve(encl);

		sgx_mutex_unlock(&encl->lock);
	}

	ret = 0;
	goto out;

out_unlock:
	sgx_mutex_unlock(&encl->lock);
out:
	params->count = c;
	return ret;
}

/**
 * sgx_ioc_enclave_remove_pages() - handler for %SGX_IOC_ENCLAVE_REMOVE_PAGES
 * @encl: the enclave
 * @arg: user address of a struct sgx_enclave_remove_pages
 *
 * Remove trimmed pages that the enclave has EACCEPTed: zap their mappings,
 * EREMOVE them and forget them.  A later access to such an address takes
 * the EAUG path.  @count is written back also on failure.
 *
 * Return: 0, -ENODEV (no SGX2), -EINVAL (state, range, non-zero @count),
 * -EPERM (not a TRIM page, or not accepted yet), -EFAULT (copy, no page
 * there), -EAGAIN (page busy or no free EPC right now), -EBUSY (the
 * reclaimer holds the page).
 */
static long sgx_ioc_enclave_remove_pages(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_driver *drv = encl->drv;
	struct sgx_enclave_remove_pages params;
	long ret;

	ret = sgx_ioc_sgx2_ready(encl);
	if (ret)
		return ret;

	if (copy_from_user(drv, &params, arg, sizeof(params)))
		return -EFAULT;

	if (sgx_validate_offset_length(encl, params.offset, params.length))
		return -EINVAL;

	if (params.count)
		return -EINVAL;

	ret = sgx_encl_remove_pages(encl, &params);

	if (copy_to_user(drv, arg, &params, sizeof(params)))
		return -EFAULT;

	return ret;
}

/**
 * sgx_ioctl() - the /dev/sgx_enclave ioctl entry
 * @encl: the file's enclave
 * @mm: the caller's address space
 * @cmd: the ioctl number (uapi/sgx.h); the full value must match, so a
 *       wrong size or direction encoding is an unknown command
 * @arg: the caller's argument (a user pointer for all enclave ioctls)
 *
 * One ioctl per enclave at a time: a second one is refused at once with
 * -EBUSY (it does not wait), whatever its command.
 *
 * Return: 0 or -errno as the kernel returns it; -ENOTTY for an unknown
 * command (the kernel's -ENOIOCTLCMD as userspace sees it).
 */
long sgx_ioctl(struct sgx_encl *encl, struct sgx_mm *mm, unsigned int cmd, unsigned long arg)
{
	long ret;

	if (atomic_fetch_or(&encl->flags, SGX_ENCL_IOCTL) & SGX_ENCL_IOCTL)
		return -EBUSY;

	switch (cmd) {
	case SGX_IOC_ENCLAVE_CREATE:
		ret = sgx_ioc_enclave_create(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_ADD_PAGES:
		ret = sgx_ioc_enclave_add_pages(encl, mm, arg);
		break;
	case SGX_IOC_ENCLAVE_INIT:
		ret = sgx_ioc_enclave_init(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_PROVISION:
		ret = sgx_ioc_enclave_provision(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS:
		ret = sgx_ioc_enclave_restrict_permissions(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_MODIFY_TYPES:
		ret = sgx_ioc_enclave_modify_types(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_REMOVE_PAGES:
		ret = sgx_ioc_enclave_remove_pages(encl, arg);
		break;
	default:
		ret = -ENOTTY;
		break;
	}

	atomic_fetch_and(&encl->flags, ~(unsigned long)SGX_ENCL_IOCTL);

	return ret;
}
