// SPDX-License-Identifier: MIT
/*
 * /dev/sgx_vepc: raw EPC for guests (the kernel's virt.c).
 *
 * A vEPC file hands EPC pages to a guest, which runs ENCLS on them itself; the
 * driver knows nothing of how the guest uses them.  Pages are allocated on the
 * first fault at each file offset, are never reclaimed (never on the active
 * list), and stay allocated until the file is released, even after munmap.
 *
 * Because the driver does not track SECS pages, EREMOVE of a vEPC page may
 * legitimately fail with SGX_CHILD_PRESENT: the page is a SECS whose children
 * live elsewhere, possibly in another vEPC file of the same guest.  Release
 * therefore runs two passes (children first, then the SECS pages whose
 * children were all here) and parks the pages that still fail on the
 * driver-wide zombie list, retried whenever another vEPC file goes away.
 *
 * As in the kernel, that includes pages whose EREMOVE fails for any other
 * reason (with the leak warning): SGX_ENCLAVE_ACT for a child whose enclave
 * a vCPU is still inside through the SECS and TCS in another file, or #GP
 * while an ENCLS of the guest holds the page.  Both are transient, and a
 * later release frees the page; leaked for good, it would keep the EPC from ever
 * being empty, and on a CPU with EUPDATESVN every later first open would
 * fail with -EIO.
 *
 * Like the kernel's, a file has no size: a mapping at any file offset works,
 * and the page store is keyed by file page index (vm_pgoff + page offset in
 * the VMA).
 *
 * Differences from the kernel:
 *   - The xarray is a radix tree of 64-slot nodes whose nodes come from an
 *     arena reserved at open (MAP_NORESERVE), so the fault path never calls
 *     the allocator.  Every slot holds an EPC page, and pages leave only at
 *     release, so a file never holds more than the EPC has pages; the arena
 *     is sized for that many entries at the most scattered indices (about
 *     8 nodes of 520 bytes per EPC page, i.e. the EPC's size again, in
 *     address space; memory only for the nodes used: one per 64 pages when
 *     they are dense).
 *   - A fault on an offset that is already populated inserts the PTE again
 *     (the kernel returns without one; docs/quirks.md, Q15).
 *   - A fault publishes a new page only after its PTE is in (the kernel
 *     stores first and erases on failure), and creates the nodes on its path
 *     only then, so every node leads to a page and the arena cannot run out.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "softsgx/uapi/sgx.h"
#include "mem.h"
#include "sgx.h"

#define VEPC_NODE_SHIFT 6
#define VEPC_NODE_SLOTS (1u << VEPC_NODE_SHIFT)
#define VEPC_NODE_MASK (VEPC_NODE_SLOTS - 1)
#define INDEX_BITS ((unsigned int)(sizeof(unsigned long) * 8))

/*
 * A node of the page store.  @shift is the number of index bits below each
 * slot: 0 in a leaf, whose slots are EPC pages; otherwise the slots are
 * nodes with @shift - 6.  A node with shift s covers 2^(s + 6) indices.
 */
struct vepc_node {
	unsigned int shift;
	void *slots[VEPC_NODE_SLOTS];
};

/*
 * The file's private state around the public struct.  @root covers indices
 * [0, 2^(root->shift + 6)); it grows upwards when a fault goes beyond.
 * @nodes is the arena, @nr_nodes of its @max_nodes are in use.  Writers
 * (faults) hold vepc->lock; REMOVE_ALL reads without it, so @root and every
 * slot are published with release stores after what they point to is
 * complete, and read with acquire loads.
 */
struct sgx_vepc_file {
	struct sgx_vepc vepc;
	struct vepc_node *root;
	struct vepc_node *nodes;
	unsigned long nr_nodes, max_nodes;
};

static inline struct sgx_vepc_file *to_vepc_file(struct sgx_vepc *vepc)
{
	return (struct sgx_vepc_file *)((char *)vepc - offsetof(struct sgx_vepc_file, vepc));
}

static inline void *vepc_load(void *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

static inline void vepc_publish(void **slot, void *entry)
{
	__atomic_store_n(slot, entry, __ATOMIC_RELEASE);
}

static inline bool vepc_node_covers(const struct vepc_node *node, unsigned long index)
{
	unsigned int bits = node->shift + VEPC_NODE_SHIFT;

	return bits >= INDEX_BITS || !(index >> bits);
}

/*
 * The most nodes a store of @nr_pages entries can need: at each shift s no
 * more than there are entries, nor than there are distinct index >> (s + 6).
 */
static unsigned long vepc_max_nodes(unsigned long nr_pages)
{
	unsigned long total = 0;

	for (unsigned int shift = 0; shift < INDEX_BITS; shift += VEPC_NODE_SHIFT) {
		unsigned int bits = shift + VEPC_NODE_SHIFT;
		unsigned long prefixes = bits >= INDEX_BITS ? 1 : 1UL << (INDEX_BITS - bits);

		total += prefixes < nr_pages ? prefixes : nr_pages;
	}
	return total;
}

/* A zeroed node from the arena (vepc->lock held), or NULL when it is used up. */
static struct vepc_node *vepc_node_alloc(struct sgx_vepc_file *file, unsigned int shift)
{
	struct vepc_node *node;

	if (file->nr_nodes == file->max_nodes)
		return NULL;
	node = &file->nodes[file->nr_nodes++];
	node->shift = shift;
	return node;
}

/**
 * sgx_vepc_load() - the page at a file page index (xa_load())
 * @vepc: the file's vEPC
 * @index: the file page index
 *
 * Lockless, as REMOVE_ALL reads: a page is seen only once its PTE is in.
 *
 * Return: the EPC page, or NULL when the offset was never touched.
 */
struct sgx_epc_page *sgx_vepc_load(struct sgx_vepc *vepc, unsigned long index)
{
	struct vepc_node *node = vepc_load((void **)&to_vepc_file(vepc)->root);

	if (!node || !vepc_node_covers(node, index))
		return NULL;
	for (;;) {
		void *entry = vepc_load(&node->slots[(index >> node->shift) & VEPC_NODE_MASK]);

		if (!node->shift || !entry)
			return entry;
		node = entry;
	}
}

/* The first page at an index >= @from under @node, which covers from @base. */
static struct sgx_epc_page *vepc_find_in(struct vepc_node *node, unsigned long base,
					 unsigned long from, unsigned long *index)
{
	unsigned long i = from > base ? (from - base) >> node->shift : 0;

	for (; i < VEPC_NODE_SLOTS; i++) {
		unsigned long start = base + (i << node->shift);
		void *entry = vepc_load(&node->slots[i]);
		struct sgx_epc_page *page;

		if (!entry)
			continue;
		if (!node->shift) {
			*index = start;
			return entry;
		}
		page = vepc_find_in(entry, start, from > start ? from : start, index);
		if (page)
			return page;
	}
	return NULL;
}

/**
 * sgx_vepc_find() - the first page at or after a file page index (xa_find())
 * @vepc: the file's vEPC
 * @index: where to start; set to the page's index when one is found
 *
 * Lockless, as sgx_vepc_load(); sgx_vepc_for_each_page() walks a file.
 *
 * Return: the EPC page, or NULL when there is none at or after *@index.
 */
struct sgx_epc_page *sgx_vepc_find(struct sgx_vepc *vepc, unsigned long *index)
{
	struct vepc_node *root = vepc_load((void **)&to_vepc_file(vepc)->root);

	if (!root || !vepc_node_covers(root, *index))
		return NULL;
	return vepc_find_in(root, 0, *index, index);
}

/*
 * Store @page at @index, which holds nothing (vepc->lock held): grow the
 * root until it covers @index, then create the missing nodes down to the
 * leaf.  Each new node is complete before it is published.  Return 0, or
 * -ENOMEM when the arena is used up, which its size rules out.
 */
static int vepc_store(struct sgx_vepc_file *file, unsigned long index, struct sgx_epc_page *page)
{
	struct vepc_node *node = file->root, *child;
	void **slot;

	if (!node) {
		unsigned int shift = 0;

		while (shift + VEPC_NODE_SHIFT < INDEX_BITS &&
		       index >> (shift + VEPC_NODE_SHIFT))
			shift += VEPC_NODE_SHIFT;
		node = vepc_node_alloc(file, shift);
		if (!node)
			return -ENOMEM;
		vepc_publish((void **)&file->root, node);
	}
	while (!vepc_node_covers(node, index)) {
		/* The old root becomes slot 0 of the new one: it covers from 0. */
		struct vepc_node *root = vepc_node_alloc(file, node->shift + VEPC_NODE_SHIFT);

		if (!root)
			return -ENOMEM;
		root->slots[0] = node;
		vepc_publish((void **)&file->root, root);
		node = root;
	}
	for (;;) {
		slot = &node->slots[(index >> node->shift) & VEPC_NODE_MASK];
		if (!node->shift)
			break;
		child = *slot;
		if (!child) {
			child = vepc_node_alloc(file, node->shift - VEPC_NODE_SHIFT);
			if (!child)
				return -ENOMEM;
			vepc_publish(slot, child);
		}
		node = child;
	}
	vepc_publish(slot, page);
	return 0;
}

/* Clear the slot of @index, which holds a page (at release: no reader left). */
static void vepc_erase(struct sgx_vepc_file *file, unsigned long index)
{
	struct vepc_node *node = file->root;

	while (node->shift)
		node = node->slots[(index >> node->shift) & VEPC_NODE_MASK];
	node->slots[index & VEPC_NODE_MASK] = NULL;
}

/**
 * sgx_vepc_open() - open(/dev/sgx_vepc)
 * @drv: the driver
 * @err: set to -errno on failure: -ENOENT (no /dev/sgx_vepc), -EAGAIN or
 *       -EIO from EUPDATESVN (see sgx_inc_usage_count()), -ENOMEM
 *
 * Like the kernel, the usage count goes up first (the first user runs
 * EUPDATESVN) and comes down again if the allocation fails.  The file has
 * no size: any offset can be mapped and faulted.
 *
 * Return: the new vEPC, or NULL.
 */
struct sgx_vepc *sgx_vepc_open(struct sgx_driver *drv, int *err)
{
	struct sgx_vepc_file *file;
	struct sgx_vepc *vepc;
	unsigned long max_nodes;
	void *arena;

	/* No device node when the configuration leaves vEPC out. */
	if (!drv->sgx_vepc_dev) {
		*err = -ENOENT;
		return NULL;
	}
	*err = sgx_inc_usage_count(drv);
	if (*err)
		return NULL;

	file = sgx_zalloc(sizeof(*file));
	if (!file)
		goto err_count;
	vepc = &file->vepc;
	vepc->drv = drv;

	max_nodes = vepc_max_nodes(drv->nr_total_pages);
	if (max_nodes > SIZE_MAX / sizeof(*file->nodes))
		goto err_file;
	/* Address space only: untouched nodes cost no memory. */
	arena = sgx_map(max_nodes * sizeof(*file->nodes));
	if (!arena)
		goto err_file;
	file->nodes = arena;
	file->max_nodes = max_nodes;
	return vepc;

err_file:
	sgx_free(file);
err_count:
	sgx_dec_usage_count(drv);
	*err = -ENOMEM;
	return NULL;
}

/**
 * sgx_vepc_mmap() - mmap of a vEPC file
 * @vepc: the file's vEPC
 * @shared: the mapping is MAP_SHARED
 *
 * A private mapping would let a copy-on-write page stand in for EPC.  The
 * host makes the mapping PFN-style, not dumped and not inherited by fork.
 *
 * Return: 0, or -EINVAL for a private mapping.
 */
int sgx_vepc_mmap(struct sgx_vepc *vepc, bool shared)
{
	(void)vepc;
	return shared ? 0 : -EINVAL;
}

/*
 * Populate file page @index mapped at @addr (vepc->lock held).  Return 0, or
 * -EBUSY / -ENOMEM from the allocator, or -EFAULT when the PTE cannot go in.
 */
static int __sgx_vepc_fault(struct sgx_vepc *vepc, struct sgx_mm *mm, unsigned long addr,
			    unsigned long index)
{
	struct sgx_driver *drv = vepc->drv;
	struct sgx_vepc_file *file = to_vepc_file(vepc);
	struct sgx_epc_page *epc_page;
	int ret;

	if (!sgx_mutex_is_locked(&vepc->lock))
		sgx_warn_once("%s: called without the vEPC lock", __func__);

	epc_page = sgx_vepc_load(vepc, index);
	if (epc_page) {
		/*
		 * Q15 (docs/quirks.md), fixed: the kernel returns success here
		 * without a PTE, so a second mapping of this offset (or a
		 * mapping made again after munmap) faults forever.  The page
		 * already
		 * belongs to this offset; map it again.  Mapping an EPC page
		 * twice is harmless: the guest's EPCM rules still apply.  On
		 * failure the page stays: it may hold the guest's state.
		 */
		ret = drv_host_call(drv, insert_page, mm, NULL, addr, epc_page);
		return ret ? -EFAULT : 0;
	}

	/* No reclaim: this runs under the mmap lock (and in signal context). */
	epc_page = sgx_alloc_epc_page(drv, vepc, false);
	if (IS_ERR(epc_page))
		return (int)PTR_ERR(epc_page);

	/*
	 * The kernel stores into the xarray first (which can fail) and erases
	 * again if the PTE cannot be inserted.  Here the PTE goes in first and
	 * the page is published only once it is certain to stay: REMOVE_ALL,
	 * walking without the lock, never sees a page that is about to be
	 * freed (and possibly reused by somebody else), and no node is made
	 * for a page that does not stay.
	 */
	ret = drv_host_call(drv, insert_page, mm, NULL, addr, epc_page);
	if (ret) {
		sgx_free_epc_page(drv, epc_page);
		return -EFAULT;
	}

	if (WARN_ON(vepc_store(file, index, epc_page))) {
		/* Ruled out by the arena's size.  Mapped, the page cannot go back. */
		atomic_fetch_add(&drv->stats.leaked, 1);
		return -ENOMEM;
	}
	return 0;
}

/**
 * sgx_vepc_fault() - a guest touched file page @index
 * @vepc: the file's vEPC
 * @mm: the faulting address space (its mmap lock is held for read)
 * @addr: the faulting address, page aligned
 * @index: the file page offset (vm_pgoff + page offset in the VMA)
 * @may_retry: the fault may be retried (the kernel's FAULT_FLAG_ALLOW_RETRY)
 *
 * Async-signal-safe.  With no free EPC the kernel releases the mmap lock and
 * returns VM_FAULT_RETRY; here the caller retries when it gets
 * VM_FAULT_NOPAGE without a PTE.
 *
 * Return: VM_FAULT_NOPAGE (mapped, or retry), or VM_FAULT_SIGBUS (no EPC and
 * nothing reclaimable, no EPC and no retry allowed, or a failed PTE
 * insertion).  Any @index is valid: the file has no size.
 */
vm_fault_t sgx_vepc_fault(struct sgx_vepc *vepc, struct sgx_mm *mm, unsigned long addr,
			  unsigned long index, bool may_retry)
{
	int ret;

	sgx_mutex_lock(&vepc->lock);
	ret = __sgx_vepc_fault(vepc, mm, addr, index);
	sgx_mutex_unlock(&vepc->lock);

	if (!ret)
		return VM_FAULT_NOPAGE;
	if (ret == -EBUSY && may_retry)
		return VM_FAULT_NOPAGE;
	return VM_FAULT_SIGBUS;
}

/* Plain EREMOVE of a vEPC page; the page stays allocated. */
static int sgx_vepc_remove_page(struct sgx_driver *drv, struct sgx_epc_page *epc_page)
{
	int ret = sgx_eremove(drv->cpu, sgx_get_epc_virt_addr(epc_page));

	if (!ret)
		atomic_fetch_add(&drv->stats.eremove, 1);
	return ret;
}

/*
 * EREMOVE and, on success, free.  SGX_CHILD_PRESENT is expected (a SECS with
 * children elsewhere) and silent; anything else means the page is in a state
 * the driver cannot explain, and gets the leak warning.  Return the EREMOVE
 * result: on failure the page was not freed and is the caller's to place.
 */
static int sgx_vepc_free_page(struct sgx_driver *drv, struct sgx_epc_page *epc_page)
{
	int ret = sgx_vepc_remove_page(drv, epc_page);

	if (ret) {
		if (ret != SGX_CHILD_PRESENT)
			sgx_warn_once(EREMOVE_ERROR_MESSAGE, ret, ret);
		return ret;
	}
	sgx_free_epc_page(drv, epc_page);
	return 0;
}

/*
 * SGX_IOC_VEPC_REMOVE_ALL: EREMOVE every page, as a guest reboot needs.  The
 * pages stay allocated to the file.  Walks without vepc->lock, as the
 * kernel does: a page a concurrent fault adds may or may not be seen.
 */
static long sgx_vepc_remove_all(struct sgx_vepc *vepc)
{
	struct sgx_epc_page *epc_page;
	long failures = 0;

	unsigned long index;

	sgx_vepc_for_each_page(vepc, index, epc_page) {
		int ret = sgx_vepc_remove_page(vepc->drv, epc_page);

		if (!ret)
			continue;
		if (ret == SGX_CHILD_PRESENT) {
			/* A SECS with children elsewhere: user space retries. */
			failures++;
			continue;
		}
		/*
		 * SGX_ENCLAVE_ACT (a vCPU is inside the enclave) and #GP
		 * (a concurrent EREMOVE on a page of the same enclave, e.g.
		 * REMOVE_ALL on two files at once) are user space's doing and
		 * only reported.  Another fault, #PF above all, means the
		 * driver or the platform is broken.
		 */
		if (encls_faulted(ret) && encls_trapnr(ret) != X86_TRAP_GP)
			sgx_warn_once("%s: EREMOVE faulted with trap %d", __func__,
				       encls_trapnr(ret));
		return -EBUSY;
	}
	/* The count tells user space to call again once the children are gone. */
	return failures;
}

/**
 * sgx_vepc_ioctl() - ioctl of a vEPC file
 * @vepc: the file's vEPC
 * @cmd: the ioctl number
 * @arg: the argument (must be 0 for SGX_IOC_VEPC_REMOVE_ALL)
 *
 * Return: for SGX_IOC_VEPC_REMOVE_ALL the number of SECS pages that still
 * have children (>= 0), -EBUSY when another EREMOVE failure stopped the walk,
 * -EINVAL when @arg is not 0; -ENOTTY for any other command.
 */
long sgx_vepc_ioctl(struct sgx_vepc *vepc, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case SGX_IOC_VEPC_REMOVE_ALL:
		if (arg)
			return -EINVAL;
		return sgx_vepc_remove_all(vepc);
	default:
		return -ENOTTY;
	}
}

/*
 * The final EREMOVE of a page failed: it goes on @zombies, for the zombie
 * list.  The file is going away: do not leave its address behind.
 */
static void sgx_vepc_park_page(struct sgx_epc_page *epc_page, struct cds_list_head *zombies)
{
	epc_page->owner = NULL;
	cds_list_add_tail(&epc_page->list, zombies);
}

/* list_splice_tail() of @pages onto the zombie list (its lock held). */
static void zombies_append(struct sgx_driver *drv, struct cds_list_head *pages)
{
	struct sgx_epc_page *epc_page, *tmp;

	cds_list_for_each_entry_safe(epc_page, tmp, pages, list) {
		cds_list_del(&epc_page->list);
		cds_list_add_tail(&epc_page->list, &drv->zombie_secs_pages);
	}
}

/**
 * sgx_vepc_release() - the last close of a vEPC file
 * @vepc: the file's vEPC; no mapping of it is left
 *
 * 1. EREMOVE and free every page; failures stay (SECS pages whose children
 *    come later in the walk, or live in another file).
 * 2. Try the rest again: SECS pages whose children were all here now go.
 *    A SECS that still has children has them in another file; it, and any
 *    page whose EREMOVE failed otherwise, becomes a zombie.
 * 3. Under the zombie lock, retry every zombie of earlier releases (step 1
 *    may have removed the last children that pinned one) and this file's
 *    new ones, and put what still fails on the zombie list.
 * 4. Free the file and drop the usage count.
 *
 * Deviation, a fix: the kernel does not retry its own new zombies in step 3.
 * When another file holding the last children is released between this
 * file's step 2 and step 3, that release finds no zombie to retry yet, and
 * this one parks a SECS that is free to go; it then stays in the EPC with no
 * user counted, which on a CPU with EUPDATESVN makes every later first open
 * fail with -EIO.  The step 3s are serialised by the lock and each comes
 * after its own step 1, so the later of two such releases frees the SECS.
 */
void sgx_vepc_release(struct sgx_vepc *vepc)
{
	struct sgx_vepc_file *file = to_vepc_file(vepc);
	struct sgx_driver *drv = vepc->drv;
	struct sgx_epc_page *epc_page, *tmp;
	CDS_LIST_HEAD(zombies);
	unsigned long index;

	sgx_vepc_for_each_page(vepc, index, epc_page) {
		/* Failures are expected for SECS pages: retried below. */
		if (!sgx_vepc_free_page(drv, epc_page))
			vepc_erase(file, index);
	}

	/* What is left is not looked up again: the store goes with the file. */
	sgx_vepc_for_each_page(vepc, index, epc_page) {
		if (sgx_vepc_free_page(drv, epc_page))
			sgx_vepc_park_page(epc_page, &zombies);
	}

	sgx_test_point(drv, SGX_TP_VEPC_ZOMBIES, NULL, 0);

	sgx_mutex_lock(&drv->zombie_secs_pages_lock);
	/* This file's zombies after the older ones: the order they died in. */
	zombies_append(drv, &zombies);
	cds_list_for_each_entry_safe(epc_page, tmp, &drv->zombie_secs_pages, list) {
		/* Off the list first: a successful free puts it on a free list. */
		cds_list_del_init(&epc_page->list);
		if (sgx_vepc_free_page(drv, epc_page))
			sgx_vepc_park_page(epc_page, &zombies);
	}
	zombies_append(drv, &zombies);
	sgx_mutex_unlock(&drv->zombie_secs_pages_lock);

	sgx_unmap(file->nodes, file->max_nodes * sizeof(*file->nodes));
	sgx_free(file);
	sgx_dec_usage_count(drv);
}
