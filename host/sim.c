// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sim.h"
#include "mm_ops.h"

unsigned long sim_bad_lo, sim_bad_hi;

static bool bad_user(uint64_t p, size_t n)
{
	if (p < SIM_USER_MIN || p + n < p)
		return true;
	return sim_bad_hi && p < sim_bad_hi && p + n > sim_bad_lo;
}

/* Bucket of the page at @addr; pte_cap is a power of two. */
static int pte_bucket(const struct sgx_mm *mm, unsigned long addr)
{
	uint64_t h = (uint64_t)(addr >> 12) * 0x9E3779B97F4A7C15ULL;

	return (int)(h >> 32) & (mm->pte_cap - 1);
}

static void pte_link(struct sgx_mm *mm, int i)
{
	int b = pte_bucket(mm, mm->ptes[i].addr);

	mm->pte_next[i] = mm->pte_head[b];
	mm->pte_head[b] = i;
}

/* Rebuild the index from the array (after a resize, or a test's reset of nr_ptes). */
static void pte_reindex(struct sgx_mm *mm)
{
	for (int b = 0; b < mm->pte_cap; b++)
		mm->pte_head[b] = -1;
	for (int i = 0; i < mm->nr_ptes; i++)
		pte_link(mm, i);
	mm->pte_indexed = mm->nr_ptes;
}

static void pte_sync(struct sgx_mm *mm)
{
	if (mm->pte_indexed != mm->nr_ptes)
		pte_reindex(mm);
}

/*
 * Double the PTE array.  The driver calls insert_page with its own locks
 * (and the mmap lock) held; allocating there is fine for the simulated
 * host, which never runs in signal context.  Return 0 or -ENOMEM.
 */
static int pte_grow(struct sgx_mm *mm)
{
	int cap = mm->pte_cap ? mm->pte_cap * 2 : 64;
	struct sim_pte *ptes;
	int *next, *head;

	if (mm->pte_cap > INT_MAX / 4)
		return -ENOMEM;
	ptes = realloc(mm->ptes, (size_t)cap * sizeof(*ptes));
	if (!ptes)
		return -ENOMEM;
	mm->ptes = ptes;
	next = realloc(mm->pte_next, (size_t)cap * sizeof(*next));
	if (!next)
		return -ENOMEM;
	mm->pte_next = next;
	head = malloc((size_t)cap * sizeof(*head));
	if (!head)
		return -ENOMEM;
	free(mm->pte_head);
	mm->pte_head = head;
	mm->pte_cap = cap;
	pte_reindex(mm);
	return 0;
}

/* The entry for (@encl, @addr), or with !@any_encl for @addr in any enclave; or -1. */
static int pte_find(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr, bool any_encl)
{
	if (!mm->pte_cap)
		return -1;
	for (int i = mm->pte_head[pte_bucket(mm, addr)]; i >= 0; i = mm->pte_next[i])
		if (mm->ptes[i].addr == addr && (any_encl || mm->ptes[i].encl == encl))
			return i;
	return -1;
}

/* Point whatever links to entry @from at @to instead. */
static void pte_relink(struct sgx_mm *mm, int from, int to)
{
	int *link = &mm->pte_head[pte_bucket(mm, mm->ptes[from].addr)];

	while (*link != from)
		link = &mm->pte_next[*link];
	*link = to;
}

/* Drop entry @i; the last entry moves into its place. */
static void pte_remove(struct sgx_mm *mm, int i)
{
	int last = mm->nr_ptes - 1;

	pte_relink(mm, i, mm->pte_next[i]);
	if (i != last) {
		pte_relink(mm, last, i);
		mm->ptes[i] = mm->ptes[last];
		mm->pte_next[i] = mm->pte_next[last];
	}
	mm->pte_indexed = --mm->nr_ptes;
}

static int f_insert_page(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
			 unsigned long addr, struct sgx_epc_page *epc)
{
	struct sim_host *h = host;
	int i, r = 0;

	pthread_mutex_lock(&mm->pte_lock);
	pte_sync(mm);
	i = pte_find(mm, encl, addr, false);
	if (i >= 0) {
		mm->ptes[i].epc = epc;
		goto out;
	}
	if (mm->nr_ptes == mm->pte_cap) {
		r = pte_grow(mm);
		if (r)
			goto out;
	}
	i = mm->nr_ptes++;
	mm->ptes[i] = (struct sim_pte){ encl, addr, epc, true };
	pte_link(mm, i);
	mm->pte_indexed = mm->nr_ptes;
	atomic_fetch_add(&h->nr_inserts, 1);
out:
	pthread_mutex_unlock(&mm->pte_lock);
	return r;
}

static void f_zap(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		  unsigned long len)
{
	struct sim_host *h = host;

	pthread_mutex_lock(&mm->pte_lock);
	pte_sync(mm);
	if (len / 4096 <= (unsigned long)mm->nr_ptes) {
		/* The PTEs of the pages that start inside the range, as below. */
		for (unsigned long a = (addr + 0xFFFUL) & ~0xFFFUL; a < addr + len; a += 4096)
			for (int i; (i = pte_find(mm, encl, a, false)) >= 0;)
				pte_remove(mm, i);
	} else {
		/* Downwards: the entry moved into a freed slot has been seen already. */
		for (int i = mm->nr_ptes - 1; i >= 0; i--)
			if (mm->ptes[i].encl == encl && mm->ptes[i].addr >= addr &&
			    mm->ptes[i].addr < addr + len)
				pte_remove(mm, i);
	}
	pthread_mutex_unlock(&mm->pte_lock);
	atomic_fetch_add(&h->nr_zaps, 1);
}

static bool f_young(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr)
{
	bool y = false;
	int i;

	(void)host;
	pthread_mutex_lock(&mm->pte_lock);
	pte_sync(mm);
	i = pte_find(mm, encl, addr, false);
	if (i >= 0) {
		y = mm->ptes[i].young;
		mm->ptes[i].young = false;
	}
	pthread_mutex_unlock(&mm->pte_lock);
	return y;
}

static void f_kick(void *host, struct sgx_mm *mm, struct sgx_encl *encl)
{
	struct sim_host *h = host;

	atomic_fetch_add(&mm->kicks, 1);
	if (h->on_kick)
		h->on_kick(h, mm, encl);
}

static bool f_vma_is_encl(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
			  unsigned long addr)
{
	(void)host;
	for (int i = 0; i < mm->nr_maps; i++)
		if (mm->maps[i].encl == encl && addr >= mm->maps[i].start &&
		    addr < mm->maps[i].end)
			return true;
	return false;
}

static bool f_signal_pending(void *host)
{
	struct sim_host *h = host;
	int n = atomic_load(&h->signal_after);

	if (n > 0 && atomic_fetch_sub(&h->signal_after, 1) == 1)
		atomic_store(&h->signal_pending, true);
	return atomic_load(&h->signal_pending);
}

/*
 * User memory is this process's own, read and written through the kernel
 * so that an address nothing is mapped at (an enclave range of a simulated
 * address space, say) gives -EFAULT as copy_from_user() would, not SIGSEGV.
 */
static int user_copy(void *local, uint64_t remote, size_t n, bool write)
{
	struct iovec l = { local, n }, r = { (void *)(uintptr_t)remote, n };
	ssize_t done;

	if (!n)
		return 0;
	done = write ? process_vm_writev(getpid(), &l, 1, &r, 1, 0) :
		       process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return done == (ssize_t)n ? 0 : -EFAULT;
}

static int f_copy_from_user(void *host, void *dst, uint64_t src, size_t n)
{
	(void)host;
	if (bad_user(src, n))
		return -EFAULT;
	return user_copy(dst, src, n, false);
}

static int f_copy_to_user(void *host, uint64_t dst, const void *src, size_t n)
{
	(void)host;
	if (bad_user(dst, n))
		return -EFAULT;
	return user_copy((void *)src, dst, n, true);
}

static int f_src_check(void *host, struct sgx_mm *mm, uint64_t src)
{
	struct sim_host *h = host;

	if (bad_user(src, 4096))
		return -EFAULT;
	/* An enclave mapping is VM_IO | VM_PFNMAP: get_user_pages() refuses it. */
	for (int i = 0; mm && i < mm->nr_maps; i++)
		if (src + 4096 > mm->maps[i].start && src < mm->maps[i].end)
			return -EFAULT;
	return atomic_load(&h->src_check_result);
}

static bool f_fd_is_provision(void *host, uint64_t fd)
{
	struct sim_host *h = host;

	return h->provision_fd && fd == h->provision_fd;
}

static __thread struct sgx_cgroup *sim_cur_cg;

void sim_set_cgroup(struct sgx_cgroup *cg)
{
	sim_cur_cg = cg;
}

static struct sgx_cgroup *f_current_cgroup(void *host)
{
	(void)host;
	return sim_cur_cg;
}

void sim_host_init(struct sim_host *h)
{
	memset(h, 0, sizeof(*h));
	h->ops.insert_page = f_insert_page;
	h->ops.zap = f_zap;
	h->ops.test_and_clear_young = f_young;
	h->ops.kick = f_kick;
	h->ops.mm_get = host_mm_get;
	h->ops.mm_put = host_mm_put;
	h->ops.mmap_read_lock = host_mmap_read_lock;
	h->ops.mmap_read_unlock = host_mmap_read_unlock;
	h->ops.vma_is_encl = f_vma_is_encl;
	h->ops.signal_pending = f_signal_pending;
	h->ops.copy_from_user = f_copy_from_user;
	h->ops.copy_to_user = f_copy_to_user;
	h->ops.src_check = f_src_check;
	h->ops.fd_is_provision = f_fd_is_provision;
	h->ops.current_cgroup = f_current_cgroup;
	h->provision_fd = 77;
}

void sim_cpu_config(struct sgx_cpu_config *cfg, unsigned long epc_pages)
{
	sgx_cpu_default_config(cfg);
	cfg->epc_size = epc_pages * 4096;
	cfg->fixed_keys = true;
	cfg->seed = 7;
}

struct sgx_driver *sim_driver(struct sim_host *h, unsigned long epc_pages, bool sync)
{
	struct sgx_cpu_config cfg;

	sim_cpu_config(&cfg, epc_pages);
	return sim_driver_cfg(h, &cfg, sync);
}

struct sgx_driver *sim_driver_cfg(struct sim_host *h, const struct sgx_cpu_config *cfg, bool sync)
{
	struct sgx_driver_config dcfg = { 0 };
	struct sgx_driver *drv;
	struct sgx_cpu *cpu;
	int err;

	cpu = sgx_cpu_create(cfg, &err);
	if (!cpu)
		return NULL;
	dcfg.host_ops = &h->ops;
	dcfg.host = h;
	dcfg.no_ksgxd = sync;
	drv = sgx_driver_create(cpu, &dcfg, &err);
	if (!drv) {
		sgx_cpu_destroy(cpu);
		return NULL;
	}
	if (sync)
		sgx_sanitize_now(drv);
	return drv;
}

void sim_driver_destroy(struct sgx_driver *drv)
{
	struct sgx_cpu *cpu = drv->cpu;

	sgx_driver_destroy(drv);
	sgx_cpu_destroy(cpu);
}

struct sgx_mm *sim_mm_new(struct sim_host *h, int id)
{
	struct sgx_mm *mm = calloc(1, sizeof(*mm));

	if (!mm)
		return NULL;
	mm->host = h;
	mm->id = id;
	atomic_store(&mm->users, 1);
	pthread_rwlock_init(&mm->mmap_lock, NULL);
	pthread_mutex_init(&mm->pte_lock, NULL);
	return mm;
}

void sim_mm_free(struct sgx_mm *mm)
{
	pthread_rwlock_destroy(&mm->mmap_lock);
	pthread_mutex_destroy(&mm->pte_lock);
	free(mm->ptes);
	free(mm->pte_head);
	free(mm->pte_next);
	free(mm);
}

void sim_add_map(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long start,
		 unsigned long len, unsigned long vm_flags)
{
	mm->maps[mm->nr_maps].encl = encl;
	mm->maps[mm->nr_maps].start = start;
	mm->maps[mm->nr_maps].end = start + len;
	mm->maps[mm->nr_maps].vm_flags = vm_flags;
	mm->nr_maps++;
}

int sim_map_at(struct sgx_mm *mm, unsigned long addr)
{
	for (int i = mm->nr_maps - 1; i >= 0; i--)
		if (addr >= mm->maps[i].start && addr < mm->maps[i].end)
			return i;
	return -1;
}

int sim_mmap(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long start, unsigned long len,
	      unsigned long vm_flags)
{
	int r;

	if (mm->nr_maps == SIM_MAX_MAPS)
		return -ENOMEM;
	pthread_rwlock_wrlock(&mm->mmap_lock);
	r = sgx_encl_may_map(encl, start, start + len, vm_flags);
	if (!r)
		r = sgx_encl_mm_add(encl, mm);
	if (!r)
		sim_add_map(mm, encl, start, len, vm_flags);
	pthread_rwlock_unlock(&mm->mmap_lock);
	return r;
}

void sim_mm_exit(struct sgx_mm *mm)
{
	struct sgx_encl *seen[SIM_MAX_MAPS];
	int n = 0;

	atomic_store(&mm->users, 0);
	pthread_rwlock_wrlock(&mm->mmap_lock);
	for (int i = 0; i < mm->nr_maps; i++) {
		bool dup = false;

		for (int k = 0; k < n; k++)
			dup |= seen[k] == mm->maps[i].encl;
		if (!dup)
			seen[n++] = mm->maps[i].encl;
	}
	mm->nr_maps = 0;
	pthread_mutex_lock(&mm->pte_lock);
	mm->nr_ptes = 0;
	pte_reindex(mm);
	pthread_mutex_unlock(&mm->pte_lock);
	pthread_rwlock_unlock(&mm->mmap_lock);
	for (int k = 0; k < n; k++)
		sgx_encl_mm_release(seen[k], mm);
}

struct sgx_epc_page *sim_pte(struct sgx_mm *mm, unsigned long addr)
{
	struct sgx_epc_page *epc = NULL;
	int i;

	pthread_mutex_lock(&mm->pte_lock);
	pte_sync(mm);
	i = pte_find(mm, NULL, addr & ~0xFFFUL, true);
	if (i >= 0)
		epc = mm->ptes[i].epc;
	pthread_mutex_unlock(&mm->pte_lock);
	return epc;
}

int sim_nr_ptes(struct sgx_mm *mm)
{
	int n;

	pthread_mutex_lock(&mm->pte_lock);
	n = mm->nr_ptes;
	pthread_mutex_unlock(&mm->pte_lock);
	return n;
}

static void mark_young(struct sgx_mm *mm, unsigned long addr)
{
	pthread_mutex_lock(&mm->pte_lock);
	pte_sync(mm);
	if (mm->pte_cap)
		for (int i = mm->pte_head[pte_bucket(mm, addr)]; i >= 0; i = mm->pte_next[i])
			if (mm->ptes[i].addr == addr)
				mm->ptes[i].young = true;
	pthread_mutex_unlock(&mm->pte_lock);
}

int sim_access(struct sgx_mm *mm, unsigned long addr, unsigned long vm_flags)
{
	unsigned long page = addr & ~0xFFFUL;
	int m = sim_map_at(mm, page);
	struct sgx_encl *encl;
	unsigned long flags;

	if (m < 0)
		return -1;
	encl = mm->maps[m].encl;
	flags = mm->maps[m].vm_flags;
	if (vm_flags & ~flags)
		return -1;
	/*
	 * "Retry the access" until it succeeds, as a CPU would; the bound is
	 * a hang guard in time, not in tries: on a loaded machine ksgxd may
	 * not run for a while, and 100000 quick yields once ran out (CI).
	 */
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long tries = 0;; tries++) {
		vm_fault_t r;

		if (sim_pte(mm, page)) {
			mark_young(mm, page);
			return 0;
		}
		pthread_rwlock_rdlock(&mm->mmap_lock);
		r = sgx_vma_fault(mm, encl, page, flags);
		pthread_rwlock_unlock(&mm->mmap_lock);
		if (r != VM_FAULT_NOPAGE)
			return (int)r;
		/* Give ksgxd (or the cgroup work) a chance first. */
		if (tries > 16)
			sched_yield();
		if (tries % 1024 == 1023) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec > 30)
				break;
		}
	}
	return (int)VM_FAULT_SIGBUS;
}
