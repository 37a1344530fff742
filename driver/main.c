// SPDX-License-Identifier: MIT
/*
 * EPC sections, NUMA nodes and free lists, the page allocator, the reclaimer
 * (active list, sgx_reclaim_pages(), EWB with its ETRACK/IPI fallbacks) and
 * ksgxd, which sanitizes the EPC at start-up and then keeps the free count
 * above the high watermark.  Mirrors arch/x86/kernel/cpu/sgx/main.c.
 *
 * Decisions on the kernel's quirks (docs/quirks.md):
 *  - Q20 (node array sized by the number of nodes, indexed by id, not
 *    zeroed): fixed.  drv->nodes has max node id + 1 entries, zeroed, and
 *    every entry's lists are initialised.
 *  - Q21: the kernel counts poisoned pages as free: sgx_free_epc_page() bumps
 *    sgx_nr_free_pages for a page it parks on the poison list, and memory
 *    failure on a free page moves it to the poison list without dropping the
 *    count, so the watermarks see pages nobody can allocate.  Fixed:
 *    nr_free_pages is exactly the number of pages on the free lists.
 *  - Q13 (a failed EWB loses the page: the caller still marks it
 *    non-resident, drops secs_child_cnt and frees the EPC page without
 *    EREMOVE): the data loss is kept -- the warning says so, and it is what
 *    the kernel's users would observe -- but the frame is freed only after
 *    an EREMOVE succeeds, and leaked like any page whose EREMOVE fails
 *    otherwise.  The kernel hands out a frame that is still valid and
 *    BLOCKED in the EPCM; its next user's EADD/EPA/ECREATE fault on it, and
 *    the SECS stays pinned by a child nobody tracks.  Here EWB fails for
 *    good when a thread ignores the IPI (a host whose kick cannot reach it),
 *    so this is reachable and not only a driver bug.
 *  - The reclaimer's phases are mainline's; the desc bits are the v6 fix
 *    series' (docs/races.md, R1): phase 2 sets BUSY and PCMD_BUSY where
 *    mainline sets BEING_RECLAIMED, and sgx_encl_ewb() clears both.
 *  - Pages the sanitizer parks on a poison list get IS_FREE like any page a
 *    free parks there (the kernel leaves their flags 0); nothing reads it but
 *    the memory-failure path, which stops at the poison test first.
 *
 * Everything that the fault path can reach from here (allocation without
 * reclaim, free, the page <-> address lookups, waking ksgxd) is
 * async-signal-safe: sgx_mutex locks, atomics, futex wakes, no allocation.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "rcu.h"
#include "sgx.h"

#define SGX_CPUID 0x12
#define SGX_CPUID_EPC 2
#define SGX_CPUID_EPC_MASK 0xFu
#define SGX_CPUID_EPC_INVALID 0x0u
#define SGX_CPUID_EPC_SECTION 0x1u
/* MISCSELECT bits 31:1 are reserved (SGX_MISC_RESERVED_MASK as a u32). */
#define SGX_MISC_RESERVED_MASK_U32 0xFFFFFFFEu

#define PFN_DOWN(x) ((x) >> 12)

/* The kernel's internal "restart the system call" errno (not in libc). */
#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif


/*
 * Flags and poison of an EPC page are plain u16 fields guarded by two
 * different locks (node lock: IS_FREE, poison; reclaimer lock: TRACKED) and
 * read locklessly at a few benign places (the sanitizer's poison test,
 * memory failure's IS_FREE test on a page the reclaimer is finishing).
 * Accessing them with __atomic builtins keeps those reads well defined.
 */
static inline uint16_t page_flags(const struct sgx_epc_page *page)
{
	return __atomic_load_n(&page->flags, __ATOMIC_RELAXED);
}

static inline void page_set_flags(struct sgx_epc_page *page, uint16_t flags)
{
	__atomic_store_n(&page->flags, flags, __ATOMIC_RELAXED);
}

static inline void page_clear_flags(struct sgx_epc_page *page, uint16_t flags)
{
	__atomic_fetch_and(&page->flags, (uint16_t)~flags, __ATOMIC_RELAXED);
}

static inline void page_or_flags(struct sgx_epc_page *page, uint16_t flags)
{
	__atomic_fetch_or(&page->flags, flags, __ATOMIC_RELAXED);
}

static inline bool page_poisoned(const struct sgx_epc_page *page)
{
	return __atomic_load_n(&page->poison, __ATOMIC_RELAXED) != 0;
}

static inline void stat_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void list_move_tail(struct cds_list_head *elem, struct cds_list_head *head)
{
	cds_list_del(elem);
	cds_list_add_tail(elem, head);
}

/*
 * ---- EPC page <-> address ----
 *
 * The kernel finds a page's address through the global section array and
 * page->section.  Here the sections live in their driver and
 * sgx_get_epc_virt_addr() gets only the page, so every section's page array
 * is entered in a small process-wide registry of page-array ranges.  Entries
 * are read under a sequence count (no lock, no allocation: the fault path
 * uses this) and scanned up to the highest slot ever used, which is the
 * number of sections of all live drivers in practice.
 */
#define EPC_REGISTRY_SLOTS 256

struct epc_registry_entry {
	_Atomic bool used;
	_Atomic uint32_t seq;
	_Atomic uintptr_t first, end; /* the page array: [first, end) */
	_Atomic uintptr_t virt;       /* EPC address of the first page */
};

struct epc_registry {
	struct epc_registry_entry entry[EPC_REGISTRY_SLOTS];
	_Atomic unsigned int top;
};

static struct epc_registry local_registry;

/*
 * A platform shared across fork has one registry for all its processes,
 * whichever of them starts the driver (cpu/mem.h); set up before any page
 * address is looked up, so the fault path only reads the pointer.
 */
static struct epc_registry *registry;

static struct epc_registry *registry_get(void)
{
	struct epc_registry *r = registry;

	if (r)
		return r;
	r = sgx_mem_shared() ? sgx_mem_root(SGX_ROOT_EPC_REGISTRY, sizeof(*r)) : &local_registry;
	if (r)
		registry = r;
	return r;
}

#define epc_registry (registry_get()->entry)
#define epc_registry_top (registry_get()->top)

static void registry_write(struct epc_registry_entry *e, uintptr_t first, uintptr_t end,
			   uintptr_t virt)
{
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&e->first, first, memory_order_relaxed);
	atomic_store_explicit(&e->end, end, memory_order_relaxed);
	atomic_store_explicit(&e->virt, virt, memory_order_relaxed);
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

static int registry_add(struct sgx_epc_section *section)
{
	unsigned long nr = section->size >> 12;

	if (!registry_get())
		return -ENOMEM;

	for (unsigned int i = 0; i < EPC_REGISTRY_SLOTS; i++) {
		struct epc_registry_entry *e = &epc_registry[i];
		bool unused = false;
		unsigned int top;

		if (!atomic_compare_exchange_strong(&e->used, &unused, true))
			continue;
		registry_write(e, (uintptr_t)section->pages, (uintptr_t)(section->pages + nr),
			       (uintptr_t)section->virt_addr);
		top = atomic_load(&epc_registry_top);
		while (top < i + 1 && !atomic_compare_exchange_weak(&epc_registry_top, &top, i + 1))
			;
		return 0;
	}
	return -ENOMEM;
}

static void registry_del(struct sgx_epc_section *section)
{
	unsigned int top = atomic_load(&epc_registry_top);

	for (unsigned int i = 0; i < top; i++) {
		struct epc_registry_entry *e = &epc_registry[i];

		if (atomic_load(&e->used) &&
		    atomic_load_explicit(&e->first, memory_order_relaxed) ==
			    (uintptr_t)section->pages) {
			registry_write(e, 0, 0, 0);
			atomic_store(&e->used, false);
			return;
		}
	}
}

/**
 * sgx_get_epc_virt_addr() - the EPC address of a page
 * @page: an EPC page of a live driver
 *
 * Async-signal-safe.
 * Return: the address the CPU model's ENCLS leaves take, or NULL if @page
 * belongs to no live driver (a bug in the caller).
 */
void *sgx_get_epc_virt_addr(struct sgx_epc_page *page)
{
	uintptr_t p = (uintptr_t)page;
	unsigned int top = atomic_load_explicit(&epc_registry_top, memory_order_acquire);

	for (unsigned int i = 0; i < top; i++) {
		struct epc_registry_entry *e = &epc_registry[i];
		uintptr_t first, end, virt;
		uint32_t s1, s2;

		/*
		 * The entry of a live page never changes while the page is
		 * used, so an entry caught mid-update is somebody else's: skip
		 * it rather than wait (the caller may be a signal handler that
		 * interrupted the writer).
		 */
		s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		first = atomic_load_explicit(&e->first, memory_order_relaxed);
		end = atomic_load_explicit(&e->end, memory_order_relaxed);
		virt = atomic_load_explicit(&e->virt, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
		if ((s1 & 1) || s1 != s2)
			continue;
		if (p >= first && p < end)
			return (void *)(virt + (p - first) / sizeof(struct sgx_epc_page) * 4096);
	}
	return NULL;
}

/**
 * sgx_epc_page_of() - the page descriptor of an EPC address
 * @drv: the driver
 * @epc_addr: any address inside an EPC page of @drv's platform
 *
 * Async-signal-safe.
 * Return: the descriptor, or NULL when @epc_addr is not EPC.
 */
struct sgx_epc_page *sgx_epc_page_of(struct sgx_driver *drv, const void *epc_addr)
{
	uintptr_t a = (uintptr_t)epc_addr;

	for (unsigned int i = 0; i < drv->nr_sections; i++) {
		struct sgx_epc_section *s = &drv->sections[i];
		uintptr_t base = (uintptr_t)s->virt_addr;

		if (a >= base && a - base < s->size)
			return &s->pages[(a - base) >> 12];
	}
	return NULL;
}

static inline struct sgx_numa_node *page_node(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	return drv->sections[page->section].node;
}

/* ---- Free lists and allocation ---- */

/**
 * sgx_free_epc_page() - return a page to its node
 * @drv: the driver
 * @page: an EPC page that is uninitialised (EREMOVEd or EWBed)
 *
 * A poisoned page is quarantined at the head of the node's poison list and
 * is not counted free.  Async-signal-safe.
 */
/*
 * Deviation from the kernel, measured: frees go to the head of the free list
 * (the kernel appends them), so a just-freed frame is reused first.  A frame's
 * host memory is allocated on first use (the sparse EPC), and that first
 * touch costs ~11 us on the development VM against ~1 us for EWB or ELDU; the
 * kernel's FIFO would walk a large EPC's never-used frames again and again.
 * Sanitized frames still go to the tail, in address order.
 */
static void __sgx_free_epc_page(struct sgx_driver *drv, struct sgx_epc_page *page, bool cold)
{
	struct sgx_numa_node *node = page_node(drv, page);
	bool poisoned;

	if (page_flags(page) & SGX_EPC_PAGE_UNRECLAIMABLE)
		sgx_drop_unreclaimable(drv, page);
	if (page->cg_id != SGX_CG_NONE) {
		struct sgx_cgroup *cg = sgx_cgroup_of_page(drv, page);

		page->cg_id = SGX_CG_NONE;
		sgx_cgroup_uncharge(cg);
		sgx_cgroup_put(cg);
	}

	sgx_mutex_lock(&node->lock);
	page->owner = NULL;
	poisoned = page_poisoned(page);
	if (poisoned)
		cds_list_add(&page->list, &node->sgx_poison_page_list);
	else if (cold)
		cds_list_add_tail(&page->list, &node->free_page_list);
	else
		cds_list_add(&page->list, &node->free_page_list);
	page_set_flags(page, SGX_EPC_PAGE_IS_FREE);
	sgx_mutex_unlock(&node->lock);
	if (!poisoned)
		atomic_fetch_add(&drv->nr_free_pages, 1);
}

void sgx_free_epc_page(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	__sgx_free_epc_page(drv, page, false);
}

static struct sgx_epc_page *__sgx_alloc_epc_page_from_node(struct sgx_driver *drv, int nid)
{
	struct sgx_numa_node *node = &drv->nodes[nid];
	struct sgx_epc_page *page;

	sgx_mutex_lock(&node->lock);
	if (cds_list_empty(&node->free_page_list)) {
		sgx_mutex_unlock(&node->lock);
		return NULL;
	}
	page = cds_list_first_entry(&node->free_page_list, struct sgx_epc_page, list);
	cds_list_del_init(&page->list);
	page_set_flags(page, 0);
	sgx_mutex_unlock(&node->lock);
	atomic_fetch_sub(&drv->nr_free_pages, 1);
	return page;
}

/* The next node after @nid (wrapping) that has EPC; there is at least one. */
static int next_epc_node(struct sgx_driver *drv, int nid)
{
	for (int i = 1; i <= drv->nr_nodes; i++) {
		int n = (nid + i) % drv->nr_nodes;

		if (drv->nodes[n].has_epc)
			return n;
	}
	return nid;
}

/*
 * Try every node with EPC exactly once.  The kernel starts at the current
 * CPU's node (or the next node with EPC); user space has no "current node",
 * so a rotating counter plays that part and spreads allocations round robin.
 */
static struct sgx_epc_page *__sgx_alloc_epc_page(struct sgx_driver *drv)
{
	int cur = (int)(atomic_fetch_add(&drv->next_node, 1) % (unsigned int)drv->nr_nodes);
	int nid_start, nid;

	nid_start = drv->nodes[cur].has_epc ? cur : next_epc_node(drv, cur);
	nid = nid_start;
	do {
		struct sgx_epc_page *page = __sgx_alloc_epc_page_from_node(drv, nid);

		if (page)
			return page;
		nid = next_epc_node(drv, nid);
	} while (nid != nid_start);
	return ERR_PTR(-ENOMEM);
}

/**
 * sgx_should_reclaim() - is reclaim needed and possible?
 * @drv: the driver
 * @watermark: SGX_NR_LOW_PAGES or SGX_NR_HIGH_PAGES
 *
 * Return: true when fewer than @watermark pages are free and the active list
 * is not empty (read without the reclaimer lock, as the kernel does).
 */
bool sgx_should_reclaim(struct sgx_driver *drv, unsigned long watermark)
{
	return atomic_load(&drv->nr_free_pages) < (long)watermark &&
	       atomic_load(&drv->nr_active) > 0;
}

static void wake_ksgxd(struct sgx_driver *drv)
{
	stat_inc(&drv->stats.ksgxd_wakeups);
	sgx_waitq_wake_all(&drv->ksgxd_waitq);
}

/**
 * sgx_alloc_epc_page() - allocate an EPC page
 * @drv: the driver
 * @owner: recorded in the page
 * @reclaim: reclaim synchronously when nothing is free
 *
 * Without @reclaim this is async-signal-safe (the fault path uses it).
 * Callers with @reclaim hold no mmap lock and no encl->lock.
 *
 * The page is charged to the caller's EPC cgroup first (v17): over a limit
 * that reclaim within the cgroup cannot get under, the allocation fails
 * without touching the free lists.
 *
 * Return: the page, or ERR_PTR(-ENOMEM) when nothing is free and nothing is
 * reclaimable (or the cgroup is over its limit with nothing to reclaim),
 * -EBUSY when nothing is free (or the cgroup is at its limit) and @reclaim
 * is false, -ERESTARTSYS when a signal is pending.
 */
struct sgx_epc_page *sgx_alloc_epc_page(struct sgx_driver *drv, void *owner, bool reclaim)
{
	struct sgx_cgroup *cg = sgx_cgroup_current(drv);
	struct sgx_epc_page *page;
	int ret;

	ret = sgx_cgroup_try_charge(cg, reclaim);
	if (ret) {
		sgx_cgroup_put(cg);
		return ERR_PTR(ret);
	}

	for (;;) {
		page = __sgx_alloc_epc_page(drv);
		if (!IS_ERR(page)) {
			page->owner = owner;
			/* The charge and the reference go with the page until it is freed. */
			page->cg_id = cg->id;
			break;
		}
		/* Nothing reclaimable: fail at once, without waking ksgxd. */
		if (atomic_load(&drv->nr_active) == 0) {
			page = ERR_PTR(-ENOMEM);
			break;
		}
		if (!reclaim) {
			page = ERR_PTR(-EBUSY);
			break;
		}
		if (drv_host_call(drv, signal_pending)) {
			page = ERR_PTR(-ERESTARTSYS);
			break;
		}
		stat_inc(&drv->stats.direct_reclaims);
		sgx_reclaim_pages(drv);
		sched_yield();
	}
	if (IS_ERR(page)) {
		sgx_cgroup_uncharge(cg);
		sgx_cgroup_put(cg);
		if (PTR_ERR(page) == -ENOMEM)
			return page;
	}
	if (sgx_should_reclaim(drv, SGX_NR_LOW_PAGES))
		wake_ksgxd(drv);
	return page;
}

/* ---- The active lists: one reclaimable LRU per EPC cgroup ---- */

/*
 * A page starting (+1) or ending (-1) its time as RECLAIMER_TRACKED, in its
 * cgroup and every ancestor.  Pages isolated in a batch still count: they
 * are about to be freed, so a cgroup whose pages are all in reclaim is not
 * "empty" (its charges wait, its tasks are not killed).
 */
static void cg_tracked_count(struct sgx_cgroup *cg, long d)
{
	for (struct sgx_cgroup *c = cg; c; c = c->parent)
		atomic_fetch_add(&c->subtree_reclaimable, d);
}

static void tracked_count(struct sgx_driver *drv, const struct sgx_epc_page *page, long d)
{
	cg_tracked_count(sgx_cgroup_of_page(drv, page), d);
}

/**
 * sgx_lru_add_tail() - put a page at the tail of its cgroup's reclaimable LRU
 * @drv: the driver
 * @page: a RECLAIMER_TRACKED page that is on no list (reclaimer_lock held)
 */
void sgx_lru_add_tail(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	struct sgx_cgroup *cg = sgx_cgroup_of_page(drv, page);

	cds_list_add_tail(&page->list, &cg->lru.reclaimable);
	atomic_fetch_add(&drv->nr_active, 1);
	for (struct sgx_cgroup *c = cg; c; c = c->parent)
		atomic_fetch_add(&c->subtree_listed, 1);
}

/**
 * sgx_lru_del() - take a page off its LRU, as the reclaimer isolates one
 * @drv: the driver
 * @page: a page on its cgroup's reclaimable LRU (reclaimer_lock held); its
 *        node points at itself afterwards
 */
void sgx_lru_del(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	cds_list_del_init(&page->list);
	atomic_fetch_sub(&drv->nr_active, 1);
	for (struct sgx_cgroup *c = sgx_cgroup_of_page(drv, page); c; c = c->parent)
		atomic_fetch_sub(&c->subtree_listed, 1);
}

/**
 * sgx_mark_page_reclaimable() - put a resident enclave page on the active list
 * @drv: the driver
 * @page: a REG/TCS/TRIM page whose owner is its struct sgx_encl_page
 *
 * The list is the reclaimable LRU of the cgroup the page is charged to.
 */
void sgx_mark_page_reclaimable(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	sgx_mutex_lock(&drv->reclaimer_lock);
	page_or_flags(page, SGX_EPC_PAGE_RECLAIMER_TRACKED);
	tracked_count(drv, page, 1);
	sgx_lru_add_tail(drv, page);
	sgx_mutex_unlock(&drv->reclaimer_lock);
}

/**
 * sgx_record_unreclaimable() - put a SECS or VA page on its cgroup's
 * unreclaimable list, where the EPC OOM killer looks for victims
 * @drv: the driver
 * @page: the page
 * @owner_encl: its owner is the struct sgx_encl (a VA page), not the
 *              enclave's SECS descriptor
 */
void sgx_record_unreclaimable(struct sgx_driver *drv, struct sgx_epc_page *page,
			      bool owner_encl)
{
	struct sgx_cgroup *cg = sgx_cgroup_of_page(drv, page);

	sgx_mutex_lock(&drv->reclaimer_lock);
	page_or_flags(page, SGX_EPC_PAGE_UNRECLAIMABLE | (owner_encl ? SGX_EPC_OWNER_ENCL : 0));
	cds_list_add_tail(&page->list, &cg->lru.unreclaimable);
	sgx_mutex_unlock(&drv->reclaimer_lock);
}

/**
 * sgx_drop_unreclaimable() - take a SECS or VA page off its unreclaimable list
 * @drv: the driver
 * @page: the page; one the OOM killer already unlinked has a self-pointing
 *        node, which this leaves as it is
 */
void sgx_drop_unreclaimable(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	sgx_mutex_lock(&drv->reclaimer_lock);
	cds_list_del_init(&page->list);
	page_clear_flags(page, SGX_EPC_PAGE_UNRECLAIMABLE);
	sgx_mutex_unlock(&drv->reclaimer_lock);
}

/**
 * sgx_unmark_page_reclaimable() - take a page off the active list
 * @drv: the driver
 * @page: the page
 *
 * Return: 0 (also when the page was not tracked), or -EBUSY when the
 * reclaimer has it isolated in a batch.
 */
int sgx_unmark_page_reclaimable(struct sgx_driver *drv, struct sgx_epc_page *page)
{
	sgx_mutex_lock(&drv->reclaimer_lock);
	if (page_flags(page) & SGX_EPC_PAGE_RECLAIMER_TRACKED) {
		/* Isolated pages have a self-pointing list node. */
		if (cds_list_empty(&page->list)) {
			sgx_mutex_unlock(&drv->reclaimer_lock);
			return -EBUSY;
		}
		sgx_lru_del(drv, page);
		page_clear_flags(page, SGX_EPC_PAGE_RECLAIMER_TRACKED);
		tracked_count(drv, page, -1);
	}
	sgx_mutex_unlock(&drv->reclaimer_lock);
	return 0;
}

/* ---- Eviction ---- */

static int __sgx_encl_ewb(struct sgx_cpu *cpu, struct sgx_epc_page *epc_page, void *va_slot,
			  struct sgx_backing *backing)
{
	struct sgx_pageinfo pginfo;

	memset(&pginfo, 0, sizeof(pginfo));
	pginfo.contents = (uint64_t)(uintptr_t)backing->contents;
	pginfo.metadata = (uint64_t)(uintptr_t)((uint8_t *)backing->pcmd + backing->pcmd_offset);
	/* The backing is a shared mapping of the memfd: no dirtying needed. */
	return sgx_ewb(cpu, &pginfo, sgx_get_epc_virt_addr(epc_page), va_slot);
}

/**
 * sgx_encl_ewb() - write a page out with the ETRACK and IPI fallbacks
 * @epc_page: a blocked child page, or a SECS without resident children;
 *            its owner is its struct sgx_encl_page
 * @backing: the page's backing (contents and PCMD)
 *
 * Tries EWB; when the enclave's TLB tracking is not done, ETRACK and retry;
 * when threads that entered before the ETRACK are still inside, kick them out
 * (the IPI, under encl->lock so that it completes before any new ETRACK) and
 * retry a last time.  On success the VA slot offset goes into desc and the VA
 * page into va_page; on failure the slot is freed again and the page's
 * contents are lost (a driver bug, hence the warning).  encl->lock held.
 *
 * Return: 0, an SGX error code, or an ENCLS fault encoding.
 */
int sgx_encl_ewb(struct sgx_epc_page *epc_page, struct sgx_backing *backing)
{
	struct sgx_encl_page *encl_page = epc_page->owner;
	struct sgx_encl *encl = encl_page->encl;
	struct sgx_driver *drv = encl->drv;
	struct sgx_cpu *cpu = drv->cpu;
	struct sgx_va_page *va_page;
	unsigned int va_offset;
	void *va_slot;
	int ret;

	/* v6: BUSY and PCMD_BUSY overlap the VA offset about to be stored. */
	atomic_fetch_and(&encl_page->desc, ~(SGX_ENCL_PAGE_BUSY | SGX_ENCL_PAGE_PCMD_BUSY));

	if (WARN_ON(cds_list_empty(&encl->va_pages)))
		return -ENOMEM; /* broken VA invariant: the page stays lost */
	va_page = cds_list_first_entry(&encl->va_pages, struct sgx_va_page, list);
	va_offset = sgx_alloc_va_slot(va_page);
	va_slot = (uint8_t *)sgx_get_epc_virt_addr(va_page->epc_page) + va_offset;
	if (sgx_va_page_full(va_page))
		list_move_tail(&va_page->list, &encl->va_pages);

	ret = __sgx_encl_ewb(cpu, epc_page, va_slot, backing);
	if (ret == SGX_NOT_TRACKED) {
		ret = sgx_etrack(cpu, sgx_get_epc_virt_addr(encl->secs.epc_page));
		if (ret) {
			if (encls_failed(ret))
				ENCLS_WARN(ret, "ETRACK");
		}

		ret = __sgx_encl_ewb(cpu, epc_page, va_slot, backing);
		if (ret == SGX_NOT_TRACKED) {
			/*
			 * Threads that entered before the ETRACK are still
			 * inside: make each of them take an AEX (the IPI),
			 * then the epoch completes.  The set of threads is
			 * taken after the ETRACK, so none entering in between
			 * is missed.
			 */
			stat_inc(&drv->stats.etrack_ipis);
			sgx_encl_kick(encl);
			ret = __sgx_encl_ewb(cpu, epc_page, va_slot, backing);
		}
	}

	if (ret) {
		if (encls_failed(ret))
			ENCLS_WARN(ret, "EWB");
		/* A VA page moved to the tail above stays there (as in the kernel). */
		sgx_free_va_slot(va_page, va_offset);
	} else {
		atomic_fetch_or(&encl_page->desc, (unsigned long)va_offset);
		encl_page->va_page = va_page;
		stat_inc(&drv->stats.ewb);
		atomic_fetch_add(&encl->nr_evicted, 1);
	}
	return ret;
}

/* Phase 2's age test: false when any mm touched the page since the last pass. */
static bool sgx_reclaimer_age(struct sgx_epc_page *epc_page)
{
	struct sgx_encl_page *page = epc_page->owner;

	return !sgx_encl_test_and_clear_young(page->encl, page);
}

/* The enclave of a reclaimable (REG, TCS or TRIM) page. */
static inline struct sgx_encl *owner_encl(struct sgx_epc_page *epc_page)
{
	struct sgx_encl_page *encl_page = epc_page->owner;

	return encl_page->encl;
}

static inline unsigned long owner_addr(struct sgx_epc_page *epc_page)
{
	struct sgx_encl_page *encl_page = epc_page->owner;

	return atomic_load(&encl_page->desc) & SGX_ENCL_PAGE_ADDR_MASK;
}

/*
 * Phase 3: unmap each page everywhere, then EBLOCK it.  @n consecutive
 * pages of one enclave are EBLOCKed in one hold of encl->lock: see
 * sgx_reclaim_pages_lru() for why.
 */
static void sgx_reclaimer_block(struct sgx_driver *drv, struct sgx_epc_page **pages, int n)
{
	struct sgx_encl *encl = owner_encl(pages[0]);
	int ret;

	for (int i = 0; i < n; i++)
		sgx_zap_enclave_ptes(encl, owner_addr(pages[i]));

	sgx_mutex_lock(&encl->lock);
	for (int i = 0; i < n; i++) {
		ret = sgx_eblock(drv->cpu, sgx_get_epc_virt_addr(pages[i]));
		if (encls_failed(ret))
			ENCLS_WARN(ret, "EBLOCK");
	}
	sgx_mutex_unlock(&encl->lock);
}

/*
 * A child page whose EWB failed is still valid (and BLOCKED) in the EPCM:
 * EREMOVE it so that the frame can be reused, or leak it with the kernel's
 * warning if even that fails (a thread is still inside the enclave, the
 * case where the IPI did not reach it).  encl->lock held.  Return true when
 * the caller may free the frame.
 */
static bool sgx_reclaimer_remove_unwritten(struct sgx_driver *drv, struct sgx_epc_page *epc_page)
{
	int ret = sgx_eremove(drv->cpu, sgx_get_epc_virt_addr(epc_page));

	if (ret) {
		sgx_warn_once(EREMOVE_ERROR_MESSAGE, ret, ret);
		atomic_fetch_add(&drv->stats.leaked, 1);
		return false;
	}
	atomic_fetch_add(&drv->stats.eremove, 1);
	return true;
}

/*
 * Phase 4: EWB the page, and the SECS after the enclave's last resident
 * child.  encl->lock held.  Return true when the page's frame may go back
 * to the free list, false when it was leaked.
 */
static bool sgx_reclaimer_write(struct sgx_driver *drv, struct sgx_epc_page *epc_page,
				struct sgx_backing *backing)
{
	struct sgx_encl_page *encl_page = epc_page->owner;
	struct sgx_encl *encl = encl_page->encl;
	struct sgx_backing secs_backing;
	bool reusable = true;

	/* Before the SECS EWB below: a child left valid would make it fail. */
	if (sgx_encl_ewb(epc_page, backing))
		reusable = sgx_reclaimer_remove_unwritten(drv, epc_page);
	encl_page->epc_page = NULL;
	encl->secs_child_cnt--;
	sgx_encl_put_backing(backing);

	if (!encl->secs_child_cnt && encl_test_flag(encl, SGX_ENCL_INITIALIZED) &&
	    !sgx_encl_get_backing(encl, PFN_DOWN(encl->size), &secs_backing)) {
		sgx_encl_ewb(encl->secs.epc_page, &secs_backing);

		sgx_encl_free_epc_page(drv, encl->secs.epc_page);
		encl->secs.epc_page = NULL;

		sgx_encl_put_backing(&secs_backing);
	}
	return reusable;
}

/* Put an isolated page back on its LRU and drop the batch's reference. */
static void sgx_reclaimer_skip(struct sgx_driver *drv, struct sgx_epc_page **slot)
{
	/*
	 * Read the enclave before the page goes back on the list: from then on
	 * REMOVE_PAGES may take it and an EAUG may reuse the descriptor (in the
	 * kernel, a use-after-free of the freed one).
	 */
	struct sgx_encl *encl = owner_encl(*slot);

	sgx_mutex_lock(&drv->reclaimer_lock);
	sgx_lru_add_tail(drv, *slot);
	sgx_mutex_unlock(&drv->reclaimer_lock);

	sgx_encl_put(encl);
	*slot = NULL;
}

/*
 * Step to the next run of pages of one enclave in @chunk, skipping the slots
 * emptied on the way: the run is [*i, *i + *n).  Start with *i = *n = 0.
 */
static bool next_encl_run(struct sgx_epc_page **chunk, int cnt, int *i, int *n)
{
	*i += *n;
	while (*i < cnt && !chunk[*i])
		(*i)++;
	if (*i >= cnt)
		return false;
	*n = 1;
	while (*i + *n < cnt && chunk[*i + *n] &&
	       owner_encl(chunk[*i + *n]) == owner_encl(chunk[*i]))
		(*n)++;
	return true;
}

/**
 * sgx_reclaim_pages() - reclaim one batch of up to SGX_NR_TO_SCAN pages
 * @drv: the driver
 *
 * Global reclaim: round robin over the cgroups, as ksgxd and the allocator
 * do it (with no cgroup below the root, one batch from the root's list).
 */
void sgx_reclaim_pages(struct sgx_driver *drv)
{
	sgx_cgroup_reclaim(&drv->root_cg, SGX_NR_TO_SCAN);
}

/**
 * sgx_reclaim_pages_lru() - reclaim one batch from one cgroup's LRU
 * @drv: the driver
 * @cg: the cgroup whose own reclaimable list is scanned
 * @nr: pages to isolate at most, up to SGX_NR_TO_SCAN
 * @ignore_age: write back young pages too (the v5 cgroup reclaim's
 *              "ignore_age" after repeated failures)
 * @reclaimed: if not NULL, set to the number of pages written back and freed
 *
 * Isolate pages from the head of the list (holding an enclave reference for
 * each), skip the young ones and those without backing, zap and EBLOCK the
 * rest, then EWB them (one ETRACK/IPI round covers the batch) and free their
 * EPC pages.  Must be called without encl->lock or any mmap lock: it takes
 * both.
 *
 * Return: the number of pages isolated (reclaimed or put back).
 */
unsigned int sgx_reclaim_pages_lru(struct sgx_driver *drv, struct sgx_cgroup *cg, unsigned int nr,
				   bool ignore_age, unsigned int *reclaimed)
{
	unsigned int nr_freed = 0;
	struct sgx_epc_page *chunk[SGX_NR_TO_SCAN];
	struct sgx_backing backing[SGX_NR_TO_SCAN];
	bool reusable[SGX_NR_TO_SCAN];
	bool failed[SGX_NR_TO_SCAN];
	struct sgx_encl_page *encl_page;
	struct sgx_epc_page *epc_page;
	struct sgx_encl *encl;
	unsigned int isolated;
	int cnt = 0;
	int i, n;

	/* Phase 1: isolate. */
	sgx_mutex_lock(&drv->reclaimer_lock);
	for (i = 0; i < (int)nr && i < SGX_NR_TO_SCAN; i++) {
		if (cds_list_empty(&cg->lru.reclaimable))
			break;

		epc_page = cds_list_first_entry(&cg->lru.reclaimable, struct sgx_epc_page, list);
		/* Self-pointing: sgx_unmark_page_reclaimable() now says -EBUSY. */
		sgx_lru_del(drv, epc_page);
		encl_page = epc_page->owner;

		if (sgx_encl_get_unless_zero(encl_page->encl))
			chunk[cnt++] = epc_page;
		else {
			/* The enclave is being released; it frees the page. */
			page_clear_flags(epc_page, SGX_EPC_PAGE_RECLAIMER_TRACKED);
			tracked_count(drv, epc_page, -1);
		}
	}
	sgx_mutex_unlock(&drv->reclaimer_lock);
	isolated = (unsigned int)i;
	if (reclaimed)
		*reclaimed = 0;

	if (!cnt)
		return isolated;
	stat_inc(&drv->stats.reclaim_batches);

	/* Called per page, once the whole batch is isolated. */
	for (i = 0; i < cnt; i++) {
		encl_page = chunk[i]->owner;
		sgx_test_point(drv, SGX_TP_RECLAIM_ISOLATED, encl_page->encl,
			       atomic_load(&encl_page->desc) & SGX_ENCL_PAGE_ADDR_MASK);
	}

	/*
	 * Phases 2-4 take encl->lock once per run of pages of one enclave, not
	 * once per page: the kernel's order with no other thread getting the
	 * lock in between, which its mutex allows.  A ksgxd that waited for the
	 * lock per page, behind an ioctl that holds it for most of each step,
	 * kept its batch BUSY for 48 of the ioctl's steps; the SGX2 ioctls then
	 * caught the batch and returned EAGAIN (docs/running-programs.md).
	 */

	/* Phase 2: age, and pin the backing while the page is still resident. */
	for (i = 0; i < cnt; i++) {
		if (!sgx_reclaimer_age(chunk[i]) && !ignore_age)
			sgx_reclaimer_skip(drv, &chunk[i]);
	}
	for (i = 0, n = 0; next_encl_run(chunk, cnt, &i, &n);) {
		encl = owner_encl(chunk[i]);
		sgx_mutex_lock(&encl->lock);
		for (int j = i; j < i + n; j++) {
			encl_page = chunk[j]->owner;
			if (sgx_encl_get_backing(encl, sgx_encl_page_index(encl, encl_page),
						 &backing[j])) {
				failed[j] = true;
				continue;
			}
			failed[j] = false;
			/* v6: BUSY keeps loaders off, PCMD_BUSY keeps the PCMD page. */
			atomic_fetch_or(&encl_page->desc,
					SGX_ENCL_PAGE_BUSY | SGX_ENCL_PAGE_PCMD_BUSY);
		}
		sgx_mutex_unlock(&encl->lock);
		for (int j = i; j < i + n; j++) {
			if (failed[j])
				sgx_reclaimer_skip(drv, &chunk[j]);
		}
	}

	/* Phase 3: block. */
	for (i = 0, n = 0; next_encl_run(chunk, cnt, &i, &n);)
		sgx_reclaimer_block(drv, &chunk[i], n);

	for (i = 0; i < cnt; i++) {
		if (!chunk[i])
			continue;
		encl_page = chunk[i]->owner;
		sgx_test_point(drv, SGX_TP_RECLAIM_BLOCKED, encl_page->encl,
			       atomic_load(&encl_page->desc) & SGX_ENCL_PAGE_ADDR_MASK);
	}

	/* Phase 4: write back, then free. */
	for (i = 0, n = 0; next_encl_run(chunk, cnt, &i, &n);) {
		encl = owner_encl(chunk[i]);
		sgx_mutex_lock(&encl->lock);
		for (int j = i; j < i + n; j++)
			reusable[j] = sgx_reclaimer_write(drv, chunk[j], &backing[j]);
		sgx_mutex_unlock(&encl->lock);

		for (int j = i; j < i + n; j++) {
			struct sgx_cgroup *page_cg;

			epc_page = chunk[j];
			/* May release the enclave; encl_page is not touched after this. */
			sgx_encl_put(encl);
			page_clear_flags(epc_page, SGX_EPC_PAGE_RECLAIMER_TRACKED);
			page_cg = sgx_cgroup_of_page(drv, epc_page);
			if (!reusable[j]) {
				/*
				 * Leaked: it stays charged, as a leaked enclave
				 * page does, and keeps no pointer to the freed
				 * descriptor.
				 */
				epc_page->owner = NULL;
				cg_tracked_count(page_cg, -1);
				continue;
			}
			/*
			 * Uncharge (in the free) before the page stops counting
			 * as reclaimable: the other way round, the cgroup work
			 * could see usage over a limit with nothing reclaimable
			 * for an instant and kill an enclave for a page that is
			 * already going.
			 */
			sgx_cgroup_get(page_cg);
			sgx_free_epc_page(drv, epc_page);
			cg_tracked_count(page_cg, -1);
			sgx_cgroup_put(page_cg);
			stat_inc(&drv->stats.reclaimed);
			nr_freed++;
		}
	}
	if (reclaimed)
		*reclaimed = nr_freed;
	return isolated;
}

/**
 * sgx_reclaim_direct() - reclaim in the caller's context when EPC is low
 * @drv: the driver
 *
 * One batch when fewer than SGX_NR_LOW_PAGES pages are free.  The SGX2
 * ioctls call it per page, holding no lock.
 */
void sgx_reclaim_direct(struct sgx_driver *drv)
{
	struct sgx_cgroup *cg = sgx_cgroup_current(drv);

	/* v17: the caller's cgroup first, when it is at its threshold (v5: mainline's). */
	if (sgx_cg_policy(drv) == SGX_CG_V17 && cg != &drv->root_cg &&
	    sgx_cgroup_should_reclaim(cg))
		sgx_cgroup_reclaim(cg, SGX_NR_TO_SCAN);
	sgx_cgroup_put(cg);
	if (sgx_should_reclaim(drv, SGX_NR_LOW_PAGES)) {
		stat_inc(&drv->stats.direct_reclaims);
		sgx_reclaim_pages(drv);
	}
}

/* ---- Memory failure ---- */

/**
 * sgx_memory_failure() - quarantine a poisoned EPC page
 * @drv: the driver
 * @epc_addr: an address inside the page
 *
 * Marks the page poisoned.  A free page moves to the poison list at once;
 * an allocated one is taken off the active list (so the reclaimer will not
 * pick it) and lands on the poison list when its user frees it.  A page the
 * reclaimer holds isolated finishes reclaim first (the -EBUSY is ignored).
 * Unlike the kernel this sends no SIGBUS (the host signals the consumer).
 *
 * Return: 0, or -ENXIO when @epc_addr is not EPC of this driver.
 */
int sgx_memory_failure(struct sgx_driver *drv, const void *epc_addr)
{
	struct sgx_epc_page *page = sgx_epc_page_of(drv, epc_addr);
	struct sgx_numa_node *node;

	if (!page)
		return -ENXIO;

	node = page_node(drv, page);
	sgx_mutex_lock(&node->lock);

	if (page_poisoned(page))
		goto out;

	__atomic_store_n(&page->poison, 1, __ATOMIC_RELAXED);

	if (page_flags(page) & SGX_EPC_PAGE_IS_FREE) {
		cds_list_del(&page->list);
		cds_list_add(&page->list, &node->sgx_poison_page_list);
		/* No longer allocatable (the kernel keeps counting it free). */
		atomic_fetch_sub(&drv->nr_free_pages, 1);
		goto out;
	}

	/* Lock order node -> reclaimer, as in the kernel. */
	sgx_unmark_page_reclaimable(drv, page);

out:
	sgx_mutex_unlock(&node->lock);
	return 0;
}

/* ---- Start-up sanitization and ksgxd ---- */

static bool ksgxd_should_stop(struct sgx_driver *drv)
{
	return atomic_load(&drv->ksgxd_stop);
}

/*
 * One pass over the dirty list: EREMOVE every page and free it; failures
 * (a SECS whose children come later in the list) stay on the list for the
 * next pass.  Poisoned pages go to their node's poison list.
 *
 * Return: the number of pages left dirty (0 when asked to stop).
 */
static unsigned long __sgx_sanitize_pages(struct sgx_driver *drv, struct cds_list_head *dirty)
{
	unsigned long left_dirty = 0;
	unsigned long n = 0;
	CDS_LIST_HEAD(still_dirty);

	while (!cds_list_empty(dirty)) {
		struct sgx_epc_page *page;
		int ret;

		if (ksgxd_should_stop(drv))
			return 0;

		page = cds_list_first_entry(dirty, struct sgx_epc_page, list);

		/*
		 * Tested without the node lock: a page poisoned right after
		 * this is EREMOVEd and freed, and the free parks it.
		 */
		if (page_poisoned(page)) {
			struct sgx_numa_node *node = page_node(drv, page);

			/* Parked like a poisoned page that gets freed (IS_FREE). */
			sgx_mutex_lock(&node->lock);
			cds_list_del(&page->list);
			cds_list_add(&page->list, &node->sgx_poison_page_list);
			page_set_flags(page, SGX_EPC_PAGE_IS_FREE);
			sgx_mutex_unlock(&node->lock);
			continue;
		}

		ret = sgx_eremove(drv->cpu, sgx_get_epc_virt_addr(page));
		if (!ret) {
			cds_list_del(&page->list);
			__sgx_free_epc_page(drv, page, true);
		} else {
			list_move_tail(&page->list, &still_dirty);
			left_dirty++;
		}

		/* cond_resched(): let the allocating threads in now and then. */
		if (!(++n % 1024))
			sched_yield();
	}

	cds_list_splice(&still_dirty, dirty);
	return left_dirty;
}

static void sgx_sanitize(struct sgx_driver *drv)
{
	unsigned long left;

	/*
	 * The first pass EREMOVEs the children; a SECS fails it with
	 * SGX_CHILD_PRESENT while they exist and goes in the second pass.
	 */
	__sgx_sanitize_pages(drv, &drv->dirty_page_list);
	left = __sgx_sanitize_pages(drv, &drv->dirty_page_list);
	WARN_ON(left);
	atomic_store(&drv->sanitized, true);
}

static void *ksgxd(void *arg)
{
	struct sgx_driver *drv = arg;

	pthread_setname_np(pthread_self(), "ksgxd");

	sgx_sanitize(drv);

	while (!ksgxd_should_stop(drv)) {
		uint32_t seq = sgx_waitq_seq(&drv->ksgxd_waitq);

		if (ksgxd_should_stop(drv))
			break;
		/*
		 * The EPC cgroups' asynchronous reclaim ("sgx_cg_wq") runs here
		 * too, one pass at a time, alternating with global reclaim so
		 * that neither starves the other.
		 */
		if (atomic_load(&drv->cg_work) > 0)
			sgx_cgroup_run_work(drv);
		if (!sgx_should_reclaim(drv, SGX_NR_HIGH_PAGES)) {
			if (atomic_load(&drv->cg_work) > 0) {
				sched_yield();
				continue;
			}
			sgx_waitq_wait(&drv->ksgxd_waitq, seq, 0);
			continue;
		}
		sgx_reclaim_pages(drv);
		sched_yield();
	}
	return NULL;
}

/**
 * sgx_sanitize_now() - finish start-up sanitization before returning
 * @drv: the driver
 *
 * With cfg.no_ksgxd runs both passes in the caller.  With ksgxd, waits until
 * ksgxd has finished them.
 */
void sgx_sanitize_now(struct sgx_driver *drv)
{
	if (!drv->ksgxd_started) {
		if (!atomic_load(&drv->sanitized))
			sgx_sanitize(drv);
		return;
	}
	while (!atomic_load(&drv->sanitized) && !ksgxd_should_stop(drv))
		usleep(1000);
}

/* ---- Creation ---- */

struct epc_section_info {
	uint64_t pa, size;
	int node;
};

/*
 * Enumerate CPUID.(12H, 2+i).  Return the number of usable sections; stop at
 * the first invalid entry, and at an unknown type (logged once).
 */
static unsigned int sgx_enum_sections(struct sgx_cpu *cpu, struct epc_section_info *info)
{
	unsigned int nr = 0;

	for (unsigned int i = 0; i < SGX_MAX_EPC_SECTIONS; i++) {
		struct sgx_cpuid_regs r;
		unsigned int type;
		uint64_t size;
		int node;

		if (sgx_cpu_cpuid(cpu, SGX_CPUID, SGX_CPUID_EPC + i, &r))
			break;
		type = r.eax & SGX_CPUID_EPC_MASK;
		if (type == SGX_CPUID_EPC_INVALID)
			break;
		if (type != SGX_CPUID_EPC_SECTION) {
			static atomic_bool once;

			if (!atomic_exchange(&once, true))
				sgx_pr("", "Unknown EPC section type: %u", type);
			break;
		}
		info[nr].pa = (r.eax & 0xFFFFF000u) + ((uint64_t)(r.ebx & 0xFFFFFu) << 32);
		info[nr].size = (r.ecx & 0xFFFFF000u) + ((uint64_t)(r.edx & 0xFFFFFu) << 32);

		/* The model reports each section's node with its address. */
		if (sgx_cpu_section(cpu, i, &size, &node) != (void *)(uintptr_t)info[nr].pa ||
		    size != info[nr].size)
			node = -1;
		if (node < 0) {
			sgx_pr("", "[Firmware Bug]: Unable to map EPC section to online node. "
				   "Fallback to the NUMA node 0.");
			node = 0;
		}
		info[nr].node = node;
		nr++;
	}
	return nr;
}

static void sgx_free_sections(struct sgx_driver *drv)
{
	for (unsigned int i = 0; i < drv->nr_sections; i++) {
		registry_del(&drv->sections[i]);
		sgx_free(drv->sections[i].pages);
		drv->sections[i].pages = NULL;
	}
	drv->nr_sections = 0;
}

static bool sgx_setup_epc_section(struct sgx_driver *drv, const struct epc_section_info *info,
				  unsigned int index)
{
	struct sgx_epc_section *section = &drv->sections[index];
	unsigned long nr_pages = info->size >> 12;

	section->pages = sgx_zalloc(nr_pages * sizeof(struct sgx_epc_page));
	if (!section->pages)
		return false;
	section->virt_addr = (void *)(uintptr_t)info->pa;
	section->size = info->size;
	if (registry_add(section)) {
		sgx_free(section->pages);
		section->pages = NULL;
		return false;
	}

	for (unsigned long i = 0; i < nr_pages; i++) {
		section->pages[i].section = (uint16_t)index;
		section->pages[i].cg_id = SGX_CG_NONE;
		section->pages[i].flags = 0;
		section->pages[i].owner = NULL;
		section->pages[i].poison = 0;
		cds_list_add_tail(&section->pages[i].list, &drv->dirty_page_list);
	}
	return true;
}

static bool sgx_page_cache_init(struct sgx_driver *drv)
{
	struct epc_section_info info[SGX_MAX_EPC_SECTIONS];
	unsigned int nr = sgx_enum_sections(drv->cpu, info);
	int max_node = 0;

	for (unsigned int i = 0; i < nr; i++)
		if (info[i].node > max_node)
			max_node = info[i].node;

	/* Indexed by node id: sized max id + 1, zeroed (Q20 fixed). */
	drv->nr_nodes = max_node + 1;
	drv->nodes = sgx_zalloc((size_t)drv->nr_nodes * sizeof(*drv->nodes));
	if (!drv->nodes)
		return false;
	for (int n = 0; n < drv->nr_nodes; n++) {
		CDS_INIT_LIST_HEAD(&drv->nodes[n].free_page_list);
		CDS_INIT_LIST_HEAD(&drv->nodes[n].sgx_poison_page_list);
	}

	for (unsigned int i = 0; i < nr; i++) {
		struct sgx_numa_node *node = &drv->nodes[info[i].node];

		sgx_pr("", "EPC section 0x%llx-0x%llx", (unsigned long long)info[i].pa,
		       (unsigned long long)(info[i].pa + info[i].size - 1));

		if (!sgx_setup_epc_section(drv, &info[i], drv->nr_sections)) {
			sgx_pr("", "No free memory for an EPC section");
			break;
		}
		if (!node->has_epc) {
			node->has_epc = true;
			node->size = 0;
		}
		node->size += info[i].size;
		drv->sections[drv->nr_sections].node = node;
		drv->nr_total_pages += info[i].size >> 12;
		drv->nr_sections++;
	}

	if (!drv->nr_sections) {
		sgx_pr("", "There are zero EPC sections.");
		return false;
	}
	return true;
}

/* The reserved masks INIT checks SIGSTRUCT and SECS against (sgx_drv_init()). */
static void sgx_init_masks(struct sgx_driver *drv)
{
	struct sgx_cpuid_regs r0, r1;

	sgx_cpu_cpuid(drv->cpu, SGX_CPUID, 0, &r0);
	sgx_cpu_cpuid(drv->cpu, SGX_CPUID, 1, &r1);

	drv->sgx2 = r0.eax & 2;
	drv->misc_reserved_mask = ~r0.ebx | SGX_MISC_RESERVED_MASK_U32;
	drv->attributes_reserved_mask =
		~(((uint64_t)r1.ebx << 32) | r1.eax) | SGX_ATTR_RESERVED_MASK;
	/*
	 * Without XSAVE enabled by the OS only x87 and SSE state can be saved
	 * across an AEX; with it, XFRM is limited to what CPUID.(12H,1) reports.
	 */
	drv->xfrm_reserved_mask = ~0x3ULL;
	if (!drv->cfg.no_osxsave)
		drv->xfrm_reserved_mask = ~(((uint64_t)r1.edx << 32) | r1.ecx);
}

/*
 * sgx_drv_init(): /dev/sgx_enclave needs launch control (the driver sets the
 * launch key hash to each signer) and SGX1.  Return 0 or -ENODEV.
 */
static int sgx_drv_init(struct sgx_driver *drv, const struct sgx_cpuid_regs *r7)
{
	struct sgx_cpuid_regs r12;

	if (!(r7->ecx & (1u << 30))) {
		sgx_pr("", "SGX disabled: SGX launch control CPU feature is not available, "
			   "/dev/sgx_enclave disabled.");
		return -ENODEV;
	}
	sgx_cpu_cpuid(drv->cpu, SGX_CPUID, 0, &r12);
	if (!(r12.eax & 1)) {
		sgx_pr("", "SGX disabled: SGX1 instruction support not available, "
			   "/dev/sgx_enclave disabled.");
		return -ENODEV;
	}
	sgx_init_masks(drv);
	drv->sgx_enclave_dev = true;
	return 0;
}

/* sgx_vepc_init(): /dev/sgx_vepc unless the configuration leaves it out. */
static int sgx_vepc_init(struct sgx_driver *drv)
{
	if (drv->cfg.no_vepc)
		return -ENODEV;
	drv->sgx_vepc_dev = true;
	return 0;
}

/**
 * sgx_driver_create() - bring up the driver on a CPU model
 * @cpu: the platform
 * @cfg: host operations and options (copied)
 * @err: set to -errno on failure
 *
 * As in the kernel, the driver comes up when either device can: without
 * launch control or SGX1 there is no /dev/sgx_enclave (sgx_open() fails as
 * opening a missing device node does), but /dev/sgx_vepc works.
 *
 * Return: the driver, or NULL with *@err = -ENODEV (no SGX; or neither
 * /dev/sgx_enclave nor /dev/sgx_vepc: the former's error) or -ENOMEM (no
 * EPC section, no memory, no thread).
 */
struct sgx_driver *sgx_driver_create(struct sgx_cpu *cpu, const struct sgx_driver_config *cfg,
				     int *err)
{
	struct sgx_cpuid_regs r7, r12;
	struct sgx_driver *drv;
	int e, e_vepc;

	if (sgx_cpu_cpuid(cpu, 0x7, 0, &r7) || !(r7.ebx & (1u << 2))) {
		*err = -ENODEV;
		return NULL;
	}

	drv = sgx_zalloc(sizeof(*drv));
	if (!drv) {
		*err = -ENOMEM;
		return NULL;
	}
	drv->cpu = cpu;
	drv->cfg = *cfg;
	drv->host_ops = cfg->host_ops;
	drv->host = cfg->host;
	CDS_INIT_LIST_HEAD(&drv->dirty_page_list);
	CDS_INIT_LIST_HEAD(&drv->zombie_secs_pages);

	if (!sgx_page_cache_init(drv)) {
		e = -ENOMEM;
		goto err_sections;
	}

	/* Error out only if both devices fail, with the enclave driver's error. */
	e = sgx_drv_init(drv, &r7);
	e_vepc = sgx_vepc_init(drv);
	if (e && e_vepc)
		goto err_sections;

	sgx_cpu_cpuid(cpu, SGX_CPUID, 0, &r12);
	drv->eupdatesvn = r12.eax & (1u << 10);
	drv->svn_lock = (struct sgx_mutex)SGX_MUTEX_INIT;
	/* Last, as the series does: the capacity is the EPC just enumerated. */
	sgx_cgroup_init_root(drv);

	if (sgx_mem_shared() && sgx_rcu_share()) {
		e = -ENOMEM;
		goto err_sections;
	}
	if (!cfg->no_ksgxd && sgx_ksgxd_start(drv)) {
		e = -ENOMEM;
		goto err_sections;
	}
	return drv;

err_sections:
	sgx_free_sections(drv);
	sgx_free(drv->nodes);
	sgx_free(drv);
	*err = e;
	return NULL;
}

/**
 * sgx_ksgxd_start() - run ksgxd in the calling process
 * @drv: the driver, with no ksgxd running
 *
 * A driver shared across fork has one ksgxd, in the process that started
 * it; when that process leaves, another one starts it again.
 * Return: 0 or -errno.
 */
int sgx_ksgxd_start(struct sgx_driver *drv)
{
	atomic_store(&drv->ksgxd_stop, false);
	if (pthread_create(&drv->ksgxd, NULL, ksgxd, drv))
		return -ENOMEM;
	drv->ksgxd_started = true;
	return 0;
}

/**
 * sgx_ksgxd_stop() - stop the ksgxd this process runs, if any
 * @drv: the driver
 *
 * Returns once the thread is gone: it holds no lock and no page then.
 */
void sgx_ksgxd_stop(struct sgx_driver *drv)
{
	if (!drv->ksgxd_started)
		return;
	atomic_store(&drv->ksgxd_stop, true);
	sgx_waitq_wake_all(&drv->ksgxd_waitq);
	pthread_join(drv->ksgxd, NULL);
	drv->ksgxd_started = false;
}

/**
 * sgx_driver_destroy() - stop ksgxd and free the driver
 * @drv: the driver; every enclave has been released
 */
void sgx_driver_destroy(struct sgx_driver *drv)
{
	if (!drv)
		return;
	sgx_ksgxd_stop(drv);
	sgx_cgroup_exit(drv);
	sgx_free_sections(drv);
	sgx_free(drv->nodes);
	sgx_free(drv);
}

/* The kernel's RDRAND_RETRY_LOOPS: how often EUPDATESVN is retried for entropy. */
#define SGX_SVN_RETRIES 10

/* sgx_update_svn(): EUPDATESVN for the first user.  Called with svn_lock held. */
static int sgx_update_svn(struct sgx_driver *drv)
{
	int ret = SGX_INSUFFICIENT_ENTROPY;

	if (!drv->eupdatesvn)
		return 0;
	/* Cannot fire as called (only at 0), as in the kernel. */
	if (atomic_load(&drv->nr_encls))
		sgx_warn("Elevated usage count when calling EUPDATESVN");
	for (int i = 0; i < SGX_SVN_RETRIES && ret == SGX_INSUFFICIENT_ENTROPY; i++)
		ret = sgx_eupdatesvn(drv->cpu);
	switch (ret) {
	case 0:
		sgx_pr("", "SVN updated successfully");
		return 0;
	case SGX_NO_UPDATE:
		return 0;
	case SGX_INSUFFICIENT_ENTROPY:
		return -EAGAIN;
	default:
		ENCLS_WARN(ret, "EUPDATESVN");
		return -EIO;
	}
}

int sgx_inc_usage_count(struct sgx_driver *drv)
{
	int ret = 0;

	sgx_mutex_lock(&drv->svn_lock);
	if (!atomic_load(&drv->nr_encls))
		ret = sgx_update_svn(drv);
	if (!ret)
		atomic_fetch_add(&drv->nr_encls, 1);
	sgx_mutex_unlock(&drv->svn_lock);
	return ret;
}

void sgx_dec_usage_count(struct sgx_driver *drv)
{
	sgx_mutex_lock(&drv->svn_lock);
	atomic_fetch_sub(&drv->nr_encls, 1);
	sgx_mutex_unlock(&drv->svn_lock);
}

void sgx_driver_counters(struct sgx_driver *drv, struct sgx_driver_counters *c)
{
	uint64_t poisoned = 0;

	for (int n = 0; n < drv->nr_nodes; n++) {
		struct sgx_numa_node *node = &drv->nodes[n];
		struct cds_list_head *pos;

		if (!node->has_epc)
			continue;
		sgx_mutex_lock(&node->lock);
		cds_list_for_each(pos, &node->sgx_poison_page_list)
			poisoned++;
		sgx_mutex_unlock(&node->lock);
	}
	c->total = drv->nr_total_pages;
	c->free = (uint64_t)atomic_load(&drv->nr_free_pages);
	c->poisoned = poisoned;
	c->leaked = atomic_load(&drv->stats.leaked);
	c->oom_kills = atomic_load(&drv->stats.oom_kills);
	c->used = c->total - c->free - c->poisoned - c->leaked;
	c->reclaimable = (uint64_t)atomic_load(&drv->nr_active);
	c->ewb = atomic_load(&drv->stats.ewb);
	c->eldu = atomic_load(&drv->stats.eldu);
	c->eaug = atomic_load(&drv->stats.eaug);
	c->eremove = atomic_load(&drv->stats.eremove);
	c->reclaim_batches = atomic_load(&drv->stats.reclaim_batches);
	c->reclaimed = atomic_load(&drv->stats.reclaimed);
	c->direct_reclaims = atomic_load(&drv->stats.direct_reclaims);
	c->ksgxd_wakeups = atomic_load(&drv->stats.ksgxd_wakeups);
	c->etrack_ipis = atomic_load(&drv->stats.etrack_ipis);
	c->backing_allocs = atomic_load(&drv->stats.backing_allocs);
	c->backing_truncates = atomic_load(&drv->stats.backing_truncates);
	c->enclaves = (uint64_t)atomic_load(&drv->nr_encls);
}
