// SPDX-License-Identifier: MIT
/*
 * The driver's host interface for the real process: PTEs are userfaultfd
 * CONTINUEs of the enclave window, a zap is MADV_DONTNEED of the user
 * mapping, the IPI is a real-time signal to each thread inside.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"
#include "stub.h"
#include "size_arg.h"
#include "mm_ops.h"
#include "softsgx/cpu.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
/* Linux 6.4; Debian 12's headers predate it. */
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif

struct shim shim = { .lock = PTHREAD_MUTEX_INITIALIZER, .uffd = -1 };

bool shim_map_lookup(unsigned long addr, struct shim_map *out)
{
	unsigned int seq;
	bool found;

	do {
		while ((seq = atomic_load_explicit(&shim.map_seq, memory_order_acquire)) & 1)
			;
		found = false;
		for (int i = 0; i < shim.nr_maps && i < SHIM_MAX_MAPS; i++) {
			struct shim_map m;

			m.start = __atomic_load_n(&shim.maps[i].start, __ATOMIC_RELAXED);
			m.end = __atomic_load_n(&shim.maps[i].end, __ATOMIC_RELAXED);
			if (addr < m.start || addr >= m.end)
				continue;
			m.vm_flags = __atomic_load_n(&shim.maps[i].vm_flags, __ATOMIC_RELAXED);
			m.f = __atomic_load_n(&shim.maps[i].f, __ATOMIC_RELAXED);
			*out = m;
			found = true;
			break;
		}
		atomic_thread_fence(memory_order_acquire);
	} while (atomic_load_explicit(&shim.map_seq, memory_order_relaxed) != seq);
	return found;
}

static void map_write_begin(void)
{
	atomic_fetch_add_explicit(&shim.map_seq, 1, memory_order_acq_rel);
}

static void map_write_end(void)
{
	atomic_fetch_add_explicit(&shim.map_seq, 1, memory_order_release);
}

static void map_store(int i, const struct shim_map *m)
{
	__atomic_store_n(&shim.maps[i].start, m->start, __ATOMIC_RELAXED);
	__atomic_store_n(&shim.maps[i].end, m->end, __ATOMIC_RELAXED);
	__atomic_store_n(&shim.maps[i].vm_flags, m->vm_flags, __ATOMIC_RELAXED);
	__atomic_store_n(&shim.maps[i].f, m->f, __ATOMIC_RELAXED);
}

/*
 * Cut [start, end) out of every mapping; the pieces left outside stay
 * (a mapping split in two takes a new slot).  Return -ENOMEM when full.
 */
static int map_cut(unsigned long start, unsigned long end)
{
	for (int i = 0; i < shim.nr_maps; i++) {
		struct shim_map m = shim.maps[i];

		if (end <= m.start || start >= m.end)
			continue;
		if (start > m.start && end < m.end) {
			struct shim_map hi = m;

			if (shim.nr_maps == SHIM_MAX_MAPS)
				return -ENOMEM;
			hi.start = end;
			m.end = start;
			map_store(i, &m);
			map_store(shim.nr_maps, &hi);
			__atomic_store_n(&shim.nr_maps, shim.nr_maps + 1, __ATOMIC_RELEASE);
			/* Each piece goes away on its own: the file must count both. */
			m.f->nmaps++;
		} else if (start <= m.start && end >= m.end) {
			m.f->nmaps--;
			map_store(i, &shim.maps[shim.nr_maps - 1]);
			__atomic_store_n(&shim.nr_maps, shim.nr_maps - 1, __ATOMIC_RELEASE);
			i--;
		} else if (start <= m.start) {
			m.start = end;
			map_store(i, &m);
		} else {
			m.end = start;
			map_store(i, &m);
		}
	}
	return 0;
}

int shim_map_add(unsigned long start, unsigned long end, unsigned long vm_flags,
		 struct shim_file *f)
{
	struct shim_map m = { start, end, vm_flags, f };
	int r;

	map_write_begin();
	r = map_cut(start, end);
	if (!r && shim.nr_maps == SHIM_MAX_MAPS)
		r = -ENOMEM;
	if (!r) {
		map_store(shim.nr_maps, &m);
		__atomic_store_n(&shim.nr_maps, shim.nr_maps + 1, __ATOMIC_RELEASE);
		f->nmaps++;
	}
	map_write_end();
	return r;
}

void shim_map_remove(unsigned long start, unsigned long end)
{
	map_write_begin();
	map_cut(start, end);
	map_write_end();
}

void shim_map_protect(unsigned long start, unsigned long end, unsigned long vm_flags)
{
	struct shim_map pieces[8];
	int n = 0;

	map_write_begin();
	for (int i = 0; i < shim.nr_maps && n < 8; i++) {
		struct shim_map m = shim.maps[i];

		if (end <= m.start || start >= m.end)
			continue;
		m.start = m.start > start ? m.start : start;
		m.end = m.end < end ? m.end : end;
		m.vm_flags = vm_flags;
		pieces[n++] = m;
	}
	map_cut(start, end);
	for (int i = 0; i < n && shim.nr_maps < SHIM_MAX_MAPS; i++) {
		map_store(shim.nr_maps, &pieces[i]);
		__atomic_store_n(&shim.nr_maps, shim.nr_maps + 1, __ATOMIC_RELEASE);
		pieces[i].f->nmaps++;
	}
	map_write_end();
}

struct sgx_epc_page *shim_pte(struct shim_file *f, unsigned long la)
{
	if (!f->pte || la < f->base || la - f->base >= f->size)
		return NULL;
	return atomic_load_explicit(&f->pte[(la - f->base) >> 12], memory_order_acquire);
}

/* The file whose ELRANGE holds @addr and which @encl owns (any mapping). */
static struct shim_file *file_of_encl(struct sgx_encl *encl, unsigned long addr)
{
	struct shim_map m;

	if (!shim_map_lookup(addr, &m) || m.f->encl != encl)
		return NULL;
	return m.f;
}

/* May the program's own instructions reach this page's bytes? */
static bool epcm_native(struct sgx_epc_page *epc, bool *writable)
{
	struct sgx_epcm_view v;

	if (sgx_cpu_epcm(shim.cpu, sgx_get_epc_virt_addr(epc), &v))
		return false;
	*writable = v.rwx & SGX_SECINFO_W;
	return v.valid && v.page_type == SGX_PAGE_TYPE_REG && !v.pending && !v.modified &&
	       !v.blocked && (v.rwx & SGX_SECINFO_R);
}

static int uffd_continue(unsigned long addr, bool wp)
{
	struct uffdio_continue c = {
		.range = { .start = addr, .len = 4096 },
		.mode = wp ? UFFDIO_CONTINUE_MODE_WP : 0,
	};

	return syscall(SYS_ioctl, shim.uffd, UFFDIO_CONTINUE, &c) ? -errno : 0;
}

static int uffd_unprotect(unsigned long addr)
{
	struct uffdio_writeprotect w = { .range = { .start = addr, .len = 4096 }, .mode = 0 };

	return syscall(SYS_ioctl, shim.uffd, UFFDIO_WRITEPROTECT, &w) ? -errno : 0;
}

/*
 * Mappings the shim makes without the driver.  The driver inserts a PTE
 * (h_insert_page()) only under encl->lock, on a resident page that is not
 * BUSY, of an enclave not NO_MEMORY; every zap of a page comes after a step
 * under that lock that keeps such inserts off it (the reclaimer's and
 * REMOVE_PAGES' BUSY, the OOM killer's NO_MEMORY and its lock round trip),
 * or runs under it (after EMODPR and EMODT).  So an insert's mapping is
 * either made before a zap's unmapping, which removes it, or not at all.
 * A page whose PTE is recorded but which is not mapped natively (unmapped
 * by the program, write-protected from an earlier EPCM state, mapped by an
 * EACCEPT) is mapped here without that lock, from the recorded PTE: a zap
 * may then unmap before our CONTINUE, and the mapping would outlive it --
 * through EWB, which scrubs the page in place (the enclave reads zeros, its
 * writes are lost at the next ELDU), or past an EPCM restriction.
 *
 * A zap counts itself begun on each page before it clears the page's PTE,
 * and done after it unmapped it.  The mapper reads the page's done count,
 * then its begun count, then the PTE: when both counts are equal no zap of
 * the page was under way at the second read (the ones begun by then were
 * all done at the first), so every earlier zap's NULL is seen and its
 * unmapping is over.  After mapping, it reads the begun count again: a zap
 * that began in between may have unmapped first, and the mapping is undone
 * (the next access faults through the driver); one that begins later
 * unmaps after our mapping and removes it.  An undo may remove a mapping
 * the driver just made: that costs only a fault.
 */

/*
 * The zap counts, per page hashed by address: pages that share a bucket
 * take a zap of one for a zap of each, an undo too many at worst.
 */
#define ZAP_BUCKETS 4096
static struct zap_count {
	_Atomic uint32_t begun, done;
} zap_counts[ZAP_BUCKETS];

static struct zap_count *zap_count(unsigned long page)
{
	return &zap_counts[(page >> 12) % ZAP_BUCKETS];
}

/* Record @page's zaps begun in *@snap; false when one is under way. */
static bool zaps_settled(unsigned long page, uint32_t *snap)
{
	uint32_t done = atomic_load(&zap_count(page)->done);

	*snap = atomic_load(&zap_count(page)->begun);
	return *snap == done;
}

/*
 * Map @page, resident and natively accessible (@w: writable) as the
 * EPCM said after zaps_settled() gave @snap, for a @write access or none;
 * write-protected without W.  Return 0 when it is mapped (or already was),
 * -EAGAIN when a zap raced the mapping (undone), else the CONTINUE's error.
 */
static int map_resident(unsigned long page, bool w, bool write, uint32_t snap)
{
	int r = uffd_continue(page, !w && !write);

	/* Mapped already: a write found it write-protected from an earlier EPCM state. */
	if (r == -EEXIST && write)
		r = uffd_unprotect(page);
	if (r == -EEXIST)
		return 0;
	if (r)
		return r;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&zap_count(page)->begun) == snap)
		return 0;
	madvise((void *)page, 4096, MADV_DONTNEED);
	return -EAGAIN;
}

/*
 * The page this thread's last insert mapped natively, with INSERTED_MAPPED
 * and INSERTED_W (writable) in its low bits; 0: none.  A fault that gets
 * its page mapped by its own insert has nothing left to map, so it skips
 * the second UFFDIO_CONTINUE, which could only answer EEXIST (about 0.9 us
 * of the 4.6 us the handler spent on a reload).
 */
#define INSERTED_MAPPED 1UL
#define INSERTED_W 2UL
static __thread unsigned long inserted_here;

static int h_insert_page(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
			 unsigned long addr, struct sgx_epc_page *epc)
{
	struct shim_file *f = file_of_encl(encl, addr);
	bool w;
	int r;

	(void)host;
	/* Only a fault inserts, and a fault is always of the caller's own address space. */
	if (!f || !f->pte || mm != shim.mm)
		return -EFAULT;
	atomic_store_explicit(&f->pte[(addr - f->base) >> 12], epc, memory_order_release);
	atomic_store_explicit(&f->young[(addr - f->base) >> 12], 1, memory_order_relaxed);
	/* A page the EPCM refuses stays unmapped natively: access is #PF|SGX. */
	if (!epcm_native(epc, &w))
		return 0;
	/* encl->lock held: no zap can overtake this (see map_resident()). */
	r = uffd_continue(addr, !w);
	/* EEXIST: mapped before, maybe write-protected from another EPCM state. */
	if (!r)
		inserted_here = addr | INSERTED_MAPPED | (w ? INSERTED_W : 0);
	return r == -EEXIST ? 0 : r;
}

void shim_zap_local(struct sgx_encl *encl, unsigned long addr, unsigned long len)
{
	for (unsigned long a = addr; a < addr + len; a += 4096) {
		struct shim_map m;
		unsigned long end;

		if (!shim_map_lookup(a, &m) || m.f->encl != encl)
			continue;
		end = m.end < addr + len ? m.end : addr + len;
		/* Begun before the PTE goes, done once unmapped: see map_resident(). */
		for (unsigned long p = a; p < end; p += 4096) {
			atomic_fetch_add(&zap_count(p)->begun, 1);
			if (m.f->pte && p >= m.f->base && p - m.f->base < m.f->size)
				atomic_store_explicit(&m.f->pte[(p - m.f->base) >> 12], NULL,
						      memory_order_release);
		}
		madvise((void *)a, end - a, MADV_DONTNEED);
		for (unsigned long p = a; p < end; p += 4096)
			atomic_fetch_add(&zap_count(p)->done, 1);
		a = end - 4096;
	}
	shim_wait_leaves();
}

static void h_zap(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		  unsigned long len)
{
	(void)host;
	if (mm != shim.mm)
		shim_forward_zap(mm, encl, addr, len);
	else
		shim_zap_local(encl, addr, len);
}

/*
 * SOFTSGX_TEST_MAP_RACE=1, for the race test: the reclaimer wins every race
 * with a mapping the fault path makes without the driver (a resident page
 * whose PTE it recorded): right before that mapping, the page is zapped,
 * EBLOCKed and written back, as ksgxd could do at that instant.  The thread
 * is out of the enclave there (AEX, or host code) and holds no lock, so it
 * runs the reclaimer itself, until the page is gone.  Read once at load.
 */
static bool test_map_race;

static void test_reclaim(struct shim_file *f, unsigned long page)
{
	for (int i = 0; i < 4096 && shim_pte(f, page); i++)
		sgx_reclaim_pages(shim.drv);
	if (shim_pte(f, page))
		shim_die("softsgx: SOFTSGX_TEST_MAP_RACE: the page was not reclaimed\n");
}

/* SOFTSGX_FAULT_AROUND=N: the driver's cfg.fault_around.  Read once at load. */
static unsigned int fault_around;

/*
 * SOFTSGX_YOUNG=off: every page is old to the reclaimer (plain FIFO), a
 * baseline for bench_host's young part.  Read once at load.
 */
static bool young_off;

/*
 * There is no accessed bit in user space: "young" means "inserted since the
 * last scan".  The fault path tests and clears it right after its insert,
 * as the kernel does (there the CPU's retried access sets the bit again;
 * here nothing does), so only a page mapped by EAUG reaches the reclaimer
 * young once.  A page in steady use is never seen again: reclaim is FIFO
 * (docs/running-programs.md, "Accessed bits", has the figures).
 */
static bool h_young(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr)
{
	struct shim_file *f;

	(void)host;
	(void)mm;
	if (young_off)
		return false;
	/*
	 * Fork sharing: the flag is the enclave's, whichever process's fault
	 * set it, and the caller's process need not map the enclave at all.
	 */
	if (shim_share) {
		struct shim_encl_rec *r = encl->host_priv;

		if (!r || !r->young || addr < encl->base || addr - encl->base >= encl->size)
			return false;
		return atomic_exchange_explicit(&r->young[(addr - encl->base) >> 12], 0,
						memory_order_relaxed);
	}
	f = file_of_encl(encl, addr);
	if (!f || !f->young || addr < f->base || addr - f->base >= f->size)
		return false;
	return atomic_exchange_explicit(&f->young[(addr - f->base) >> 12], 0,
					memory_order_relaxed);
}

static void h_kick(void *host, struct sgx_mm *mm, struct sgx_encl *encl)
{
	(void)host;
	if (mm != shim.mm)
		shim_forward_kick(mm, encl);
	else
		shim_kick_threads(encl);
}

static bool h_vma_is_encl(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
			  unsigned long addr)
{
	struct shim_map m;

	(void)host;
	/*
	 * Another process's mappings are its own: say yes, and its agent's
	 * zap finds nothing to unmap where it has no mapping.
	 */
	if (mm != shim.mm)
		return true;
	return shim_map_lookup(addr, &m) && m.f->encl == encl;
}

static bool h_signal_pending(void *host)
{
	(void)host;
	return false;
}

/*
 * User memory as the kernel's copy_from_user() reads it: a plain copy whose
 * fault is -EFAULT (usercopy.S).  Where this thread's mask blocks the fault
 * signals, through the kernel instead (process_vm_readv(), which pins each
 * page: about 0.3 us a page more here).
 */
static int h_copy_from_user(void *host, void *dst, uint64_t src, size_t n)
{
	struct iovec l = { dst, n }, r = { (void *)(uintptr_t)src, n };

	(void)host;
	if (!n)
		return 0;
	if (shim_user_copy_ok())
		return (int)softsgx_user_copy(dst, (const void *)(uintptr_t)src, n);
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

static int h_copy_to_user(void *host, uint64_t dst, const void *src, size_t n)
{
	struct iovec l = { (void *)src, n }, r = { (void *)(uintptr_t)dst, n };

	(void)host;
	if (!n)
		return 0;
	if (shim_user_copy_ok())
		return (int)softsgx_user_copy((void *)(uintptr_t)dst, src, n);
	return process_vm_writev(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/*
 * EADD's source: readable memory that is not an enclave mapping (the
 * kernel's get_user_pages refuses those).  The VM_MAYEXEC test of a noexec
 * mount is not made: it would need /proc/self/maps for every ioctl.
 */
static int h_src_check(void *host, struct sgx_mm *mm, uint64_t src)
{
	struct shim_map m;
	uint8_t b;

	(void)mm;
	if (shim_map_lookup(src, &m))
		return -EFAULT;
	return h_copy_from_user(host, &b, src, 1);
}

static void h_encl_released(void *host, struct sgx_encl *encl)
{
	(void)host;
	shim_encl_released(encl);
}

static bool h_fd_is_provision(void *host, uint64_t fd)
{
	struct shim_file *f;

	(void)host;
	if (fd >= SHIM_MAX_FDS)
		return false;
	f = shim_file_of((int)fd);
	return f && f->kind == SHIM_PROVISION;
}

static struct sgx_cgroup *h_current_cgroup(void *host);

const struct sgx_host_ops shim_host_ops = {
	.insert_page = h_insert_page,
	.zap = h_zap,
	.test_and_clear_young = h_young,
	.kick = h_kick,
	.mm_get = host_mm_get,
	.mm_put = host_mm_put,
	.mmap_read_lock = host_mmap_read_lock,
	.mmap_read_unlock = host_mmap_read_unlock,
	.vma_is_encl = h_vma_is_encl,
	.signal_pending = h_signal_pending,
	.copy_from_user = h_copy_from_user,
	.copy_to_user = h_copy_to_user,
	.src_check = h_src_check,
	.fd_is_provision = h_fd_is_provision,
	.current_cgroup = h_current_cgroup,
	.encl_released = h_encl_released,
};

int shim_encl_fault(unsigned long addr, bool write, uint32_t hw_err, bool native, bool *sigbus)
{
	unsigned long page = addr & ~4095UL;
	struct sgx_epc_page *epc;
	uint32_t zaps;
	struct shim_map m;
	vm_fault_t vf;
	bool w;

	*sigbus = false;
	if (!shim_map_lookup(addr, &m) || m.f->kind != SHIM_ENCL)
		return (int)(hw_err ? hw_err : X86_PF_USER | (write ? X86_PF_WRITE : 0));
	/* The mapping refuses it: the CPU's own error code (P only if mapped). */
	if (write && !(m.vm_flags & VM_WRITE))
		return (int)(hw_err ? hw_err : X86_PF_PROT | X86_PF_WRITE | X86_PF_USER);
	if (!(m.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)))
		return X86_PF_USER | (write ? X86_PF_WRITE : 0);

	/* Two rounds of map-or-fault; a "retry" answer does not use one up. */
	for (int round = 0, busy = 0; round < 2;) {
		bool settled = zaps_settled(page, &zaps);

		epc = shim_pte(m.f, page);
		if (epc && !native)
			return 0;
		if (epc) {
			if (!epcm_native(epc, &w) || (write && !w))
				return X86_PF_SGX | X86_PF_PROT | X86_PF_USER |
				       (write ? X86_PF_WRITE : 0);
			/* Our own insert just mapped it, in this very EPCM state. */
			if (round && inserted_here == (page | INSERTED_MAPPED |
						       (w ? INSERTED_W : 0)))
				return 0;
			if (test_map_race && !round)
				test_reclaim(m.f, page);
			/* Under a zap, or raced by one: the driver's path decides. */
			if (settled && !map_resident(page, w, write, zaps))
				return 0;
		}
		if (!m.f->encl)
			break;
		inserted_here = 0;
		pthread_rwlock_rdlock(&shim.mm->mmap_lock);
		vf = sgx_vma_fault(shim.mm, m.f->encl, page, m.vm_flags);
		if (vf == VM_FAULT_NOPAGE && native && fault_around > 1) {
			unsigned long mine = inserted_here;

			sgx_vma_fault_around(shim.mm, m.f->encl, page, m.vm_flags, m.end);
			inserted_here = mine;
		}
		pthread_rwlock_unlock(&shim.mm->mmap_lock);
		if (vf != VM_FAULT_NOPAGE)
			break;
		if (!shim_pte(m.f, page)) {
			/*
			 * "Retry the access": the page is being reclaimed or
			 * no EPC is free this instant.  Retrying here, after
			 * letting ksgxd run, spares the trip through the
			 * enclave (an ERESUME trap and a fault) that each retry
			 * costs otherwise; after a while, go through it anyway.
			 */
			if (++busy > 256) {
				/* Fork sharing: the process that ran ksgxd may be gone. */
				shim_ksgxd_nudge();
				return 0;
			}
			sched_yield();
			continue;
		}
		round++;
	}
	if (shim_pte(m.f, page))
		return 0;
	*sigbus = true;
	/* Not present, as the CPU saw it, with its W and I/D bits. */
	return (int)(X86_PF_USER | (write ? X86_PF_WRITE : 0) | (hw_err & X86_PF_INSTR));
}

void shim_encl_map_accepted(unsigned long addr)
{
	unsigned long page = addr & ~4095UL;
	struct sgx_epc_page *epc;
	uint32_t zaps;
	struct shim_map m;
	bool w;

	if (!shim_map_lookup(page, &m) || m.f->kind != SHIM_ENCL ||
	    !(m.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) || !zaps_settled(page, &zaps))
		return;
	epc = shim_pte(m.f, page);
	if (epc && epcm_native(epc, &w))
		map_resident(page, w, false, zaps);
}

int shim_uffd_register(unsigned long start, unsigned long len)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR |
			UFFDIO_REGISTER_MODE_WP,
	};

	return syscall(SYS_ioctl, shim.uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

static int uffd_open(void)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MISSING_SHMEM |
			    UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_ioctl, fd, UFFDIO_API, &api)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* A size from the environment; @def when unset or not a size. */
static uint64_t env_size(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v;

	return s && !softsgx_parse_size(s, &v) ? v : def;
}

bool shim_env_on(const char *name)
{
	const char *s = getenv(name);

	return s && s[0] == '1';
}

/* ---- EPC cgroups: SOFTSGX_CGROUPS and SOFTSGX_CGROUP_CONTROL ---- */

#define CG_MAX_SPECS 64
#define CG_PATH_MAX 256
#define CG_NAME_MAX 63 /* struct sgx_cgroup's name, less its NUL */

struct cg_spec {
	char path[CG_PATH_MAX];
	uint64_t max; /* UINT64_MAX: "max" */
};

/* Parsed at load; the tree is made in the driver at shim_init(). */
static struct cg_spec cg_specs[CG_MAX_SPECS];
static int nr_cg_specs;

/* The tree in creation order (parents first); written before shim.ready. */
static struct {
	char path[CG_PATH_MAX];
	struct sgx_cgroup *cg;
} cg_tree[CG_MAX_SPECS * 4];
static int nr_cg_tree;
/* Where the process's EPC is charged (the host's reference); NULL: the root. */
static struct sgx_cgroup *_Atomic cg_current;

/*
 * One "PATH:LIMIT" of @len bytes at @s: PATH is names joined by '/' (no
 * empty, "." or ".." name, each under 64 bytes), LIMIT is "max" or bytes
 * with an optional K, M or G suffix.  Return 0, or -EINVAL.
 */
static int cg_spec_parse(const char *s, size_t len, struct cg_spec *out)
{
	const char *colon = memchr(s, ':', len), *name = s;
	char num[32];
	size_t plen, nlen;
	uint64_t v;

	if (!colon || colon == s || (plen = (size_t)(colon - s)) >= CG_PATH_MAX)
		return -EINVAL;
	for (const char *p = s; p <= colon; p++) {
		if (p < colon && *p != '/') {
			if (*p <= ' ' || *p == ',' || *p == 0x7f)
				return -EINVAL;
			continue;
		}
		nlen = (size_t)(p - name);
		if (!nlen || nlen > CG_NAME_MAX || (nlen == 1 && name[0] == '.') ||
		    (nlen == 2 && name[0] == '.' && name[1] == '.'))
			return -EINVAL;
		name = p + 1;
	}
	len -= plen + 1;
	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, colon + 1, len);
	num[len] = 0;
	if (!strcmp(num, "max"))
		v = UINT64_MAX;
	else if (softsgx_parse_size(num, &v))
		return -EINVAL;
	memcpy(out->path, s, plen);
	out->path[plen] = 0;
	out->max = v;
	return 0;
}

/* SOFTSGX_CGROUPS="a/b:1M,c:max": a bad list is a usage error, as for the option. */
static void cg_specs_load(void)
{
	const char *env = getenv("SOFTSGX_CGROUPS"), *s = env;

	if (!env || !*env)
		return;
	for (;;) {
		size_t n = strcspn(s, ",");

		if (nr_cg_specs == CG_MAX_SPECS ||
		    cg_spec_parse(s, n, &cg_specs[nr_cg_specs])) {
			fprintf(stderr, "softsgx: SOFTSGX_CGROUPS=%s: bad entry '%.*s' (want "
				"PATH:LIMIT, at most %d, PATH like a/b, LIMIT bytes with K, M "
				"or G, or max)\n", env, (int)n, s, CG_MAX_SPECS);
			_exit(2);
		}
		nr_cg_specs++;
		if (!s[n])
			break;
		s += n + 1;
	}
}

/* SOFTSGX_CGROUP_POLICY=v5|v17: the series' revision the EPC cgroup follows. */
static enum sgx_cg_policy cg_policy;

static void cg_policy_load(void)
{
	const char *env = getenv("SOFTSGX_CGROUP_POLICY");

	if (env && *env && sgx_cg_policy_parse(env, &cg_policy)) {
		fprintf(stderr, "softsgx: SOFTSGX_CGROUP_POLICY=%s: want v5 or v17\n", env);
		_exit(2);
	}
}

static struct sgx_cgroup *cg_find(const char *path, size_t len)
{
	for (int i = 0; i < nr_cg_tree; i++)
		if (strlen(cg_tree[i].path) == len && !memcmp(cg_tree[i].path, path, len))
			return cg_tree[i].cg;
	return NULL;
}

static int cg_set_max(struct sgx_cgroup *cg, uint64_t max)
{
	char text[40];

	if (max == UINT64_MAX)
		snprintf(text, sizeof(text), "sgx_epc max");
	else
		snprintf(text, sizeof(text), "sgx_epc %llu", (unsigned long long)max);
	return sgx_cgroup_write(cg, "misc.max", text);
}

/*
 * Make each listed cgroup (and the ancestors not listed, without a limit)
 * under the root, set the limits in list order, and charge the process to
 * the last one.
 */
static int cg_tree_create(void)
{
	struct sgx_cgroup *cg = NULL;
	int err = 0;

	for (int i = 0; i < nr_cg_specs; i++) {
		const char *path = cg_specs[i].path;
		size_t len = 0;

		cg = &shim.drv->root_cg;
		do {
			struct sgx_cgroup *parent = cg;
			size_t start = len ? len + 1 : 0;
			char name[CG_NAME_MAX + 1];

			len = start + strcspn(path + start, "/");
			cg = cg_find(path, len);
			if (cg)
				continue;
			if (nr_cg_tree == (int)(sizeof(cg_tree) / sizeof(cg_tree[0])))
				return -ENOSPC;
			snprintf(name, sizeof(name), "%.*s", (int)(len - start), path + start);
			cg = sgx_cgroup_create(parent, name, &err);
			if (!cg)
				return err;
			memcpy(cg_tree[nr_cg_tree].path, path, len);
			cg_tree[nr_cg_tree].path[len] = 0;
			cg_tree[nr_cg_tree++].cg = cg;
		} while (path[len]);
		err = cg_set_max(cg, cg_specs[i].max);
		if (err)
			return err;
	}
	if (cg) {
		sgx_cgroup_get(cg);
		atomic_store(&cg_current, cg);
	}
	return 0;
}

static struct sgx_cgroup *h_current_cgroup(void *host)
{
	(void)host;
	return atomic_load_explicit(&cg_current, memory_order_acquire);
}

/*
 * SOFTSGX_CGROUP_CONTROL=FILE: lines "PATH:LIMIT" read from FILE (a named
 * pipe) set misc.max of a cgroup of the list at run time, as a write to
 * its cgroupfs file would.  Lowering it below the usage makes the driver
 * reclaim down to it, and kill an enclave when nothing is left to reclaim.
 */
static void cg_control_line(const char *line, size_t len)
{
	struct cg_spec spec;
	struct sgx_cgroup *cg;
	int r = -EINVAL;

	if (!cg_spec_parse(line, len, &spec)) {
		cg = cg_find(spec.path, strlen(spec.path));
		r = cg ? cg_set_max(cg, spec.max) : -ENOENT;
	}
	if (r)
		fprintf(stderr, "softsgx: SOFTSGX_CGROUP_CONTROL: '%.*s': %s\n", (int)len, line,
			r == -ENOENT ? "no such cgroup in SOFTSGX_CGROUPS" :
				       "want PATH:LIMIT");
}

static void *cg_control_thread(void *arg)
{
	char buf[512];
	size_t have = 0;
	sigset_t all;
	int fd = (int)(intptr_t)arg;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(buf, '\n', have))) {
			size_t len = (size_t)(nl - buf);

			if (len)
				cg_control_line(buf, len);
			have -= len + 1;
			memmove(buf, nl + 1, have);
		}
		if (have == sizeof(buf)) {
			cg_control_line(buf, have);
			have = 0;
		}
	}
	shim_sys_close(fd);
	return NULL;
}

/* The control file's fd, for a forked child to close (-1: none). */
static int cg_control_fd = -1;

static int cg_control_start(void)
{
	const char *path = getenv("SOFTSGX_CGROUP_CONTROL");
	pthread_t t;
	int fd;

	if (!path || !*path)
		return 0;
	/* Read-write: a pipe never reads EOF when a writer goes. */
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		fprintf(stderr, "softsgx: SOFTSGX_CGROUP_CONTROL=%s: %s\n", path, strerror(e));
		return -e;
	}
	if (pthread_create(&t, NULL, cg_control_thread, (void *)(intptr_t)fd)) {
		shim_sys_close(fd);
		return -EAGAIN;
	}
	cg_control_fd = fd;
	pthread_detach(t);
	return 0;
}

static void cg_print_stats(void)
{
	static const char *const files[] = { "misc.current", "misc.max", "misc.peak",
					     "misc.events" };

	for (int i = 0; i < nr_cg_tree; i++) {
		char line[512], text[64];
		int n = snprintf(line, sizeof(line), "softsgx: cgroup %s:", cg_tree[i].path);

		for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
			int t = sgx_cgroup_read(cg_tree[i].cg, files[f], text, sizeof(text));

			if (t > 0 && text[t - 1] == '\n')
				text[--t] = 0;
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%s %s %s",
				      f ? ";" : "", files[f], t > 0 ? text : "?");
		}
		fprintf(stderr, "%s\n", line);
	}
}

/*
 * What the program let go of may still be on its way out: ksgxd may hold
 * the last reference to an enclave, and it frees the page it just wrote
 * back only after it dropped that reference (as the kernel's reclaimer
 * does).  Wait a while for both, so that the counters show what the
 * program left behind.
 */
/* Fork sharing: this process runs the shared driver's ksgxd. */
static bool ksgxd_here;

static bool settled(void)
{
	struct sgx_driver_counters c;
	bool kept = false;

	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_file *f = atomic_load(&shim.files[i]);

		if (!f || f->kind == SHIM_PROVISION)
			continue;
		if (f->dead && f->encl)
			return false; /* a release under way */
		kept |= !f->dead;
	}
	/* The program (or, with fork sharing, another process of it) holds EPC still. */
	if (kept || (shim_share && shim_share_held()))
		return true;
	sgx_driver_counters(shim.drv, &c);
	for (int i = 0; i < nr_cg_tree; i++)
		if (atomic_load(&cg_tree[i].cg->usage))
			return false;
	return !c.enclaves && !c.used;
}

static void wait_releases(void)
{
	for (int ms = 0; ms < 10000 && !settled(); ms++)
		usleep(1000);
}

void shim_print_stats(void)
{
	struct sgx_driver_counters c;

	/*
	 * No driver here (a forked child's is its own, once it opened a
	 * device).  With fork sharing, the counters are the family's: the
	 * last process to leave prints them.
	 */
	if (!shim.drv || !shim.ready || (shim_share && !shim_share_last()))
		return;
	wait_releases();
	sgx_driver_counters(shim.drv, &c);
	fprintf(stderr,
		"softsgx: EPC pages total %llu free %llu used %llu leaked %llu; "
		"EWB %llu ELDU %llu EAUG %llu EREMOVE %llu; OOM kills %llu; "
		"ETRACK IPIs %llu\n",
		(unsigned long long)c.total, (unsigned long long)c.free,
		(unsigned long long)c.used, (unsigned long long)c.leaked,
		(unsigned long long)c.ewb, (unsigned long long)c.eldu,
		(unsigned long long)c.eaug, (unsigned long long)c.eremove,
		(unsigned long long)c.oom_kills, (unsigned long long)c.etrack_ipis);
	if (shim_stub_enabled())
		fprintf(stderr,
			"softsgx: fast ENCLU sites %llu; leaves fast %llu slow %llu; "
			"rewinds %llu deferred %llu forward %llu contended %llu; "
			"vDSO ERESUMEs %llu\n",
			(unsigned long long)shim_stub_stats.sites,
			(unsigned long long)shim_stub_stats.fast,
			(unsigned long long)shim_stub_stats.slow,
			(unsigned long long)shim_stub_stats.rewinds,
			(unsigned long long)shim_stub_stats.deferred,
			(unsigned long long)shim_stub_stats.forward,
			(unsigned long long)shim_stub_stats.contended,
			(unsigned long long)shim_stub_stats.eresume);
	cg_print_stats();
}

void shim_nofork(void *addr, unsigned long len)
{
	madvise(addr, len, MADV_DONTFORK);
}

/* A new platform for @cfg: its EPC stays out of any forked child. */
static int platform_create(const struct sgx_cpu_config *cfg)
{
	struct sgx_cpu *cpu;
	int err = 0;

	cpu = sgx_cpu_create(cfg, &err);
	if (!cpu)
		return err;
	for (unsigned int i = 0; i < sgx_cpu_nr_sections(cpu); i++) {
		uint64_t size;
		int node;
		void *base = sgx_cpu_section(cpu, i, &size, &node);

		/* Fork sharing: the child uses this very EPC. */
		if (!shim_share)
			shim_nofork(base, size);
	}
	shim.cpu = cpu;
	shim_stub_attach(cpu);
	return 0;
}

/*
 * What a forked child inherited of its parent's platform and driver (and
 * the vEPC files, which only the shim's own memory points to): their
 * threads and locks stayed in the parent, so they are never used again
 * (the CPUID answers aside), only kept reachable, since a leak checker
 * would report them otherwise.
 */
static void *frozen[64];

void shim_keep_frozen(void *p)
{
	for (size_t i = 0; p && i < sizeof(frozen) / sizeof(frozen[0]); i++) {
		if (frozen[i] == p)
			return;
		if (!frozen[i]) {
			frozen[i] = p;
			return;
		}
	}
}



/*
 * Fork sharing, in the child: the platform and the driver are the parent's
 * and stay in use.  What was the parent's alone is made anew: the shim's
 * lock, userfaultfd (registrations do not survive fork) and address space,
 * whose agent starts before any enclave's mm list can name it.
 */
static void share_after_fork(void)
{
	pthread_mutex_init(&shim.lock, NULL);
	ksgxd_here = false;
	if (cg_control_fd >= 0)
		shim_sys_close(cg_control_fd);
	cg_control_fd = -1;
	if (!shim.ready)
		return;
	if (shim.uffd >= 0)
		shim_sys_close(shim.uffd);
	shim.uffd = uffd_open();
	shim.mm = shim_mm_new();
	if (shim.uffd < 0 || !shim.mm || shim_agent_start())
		shim_die("softsgx: a forked child cannot take its share of the enclaves\n");
}

/**
 * shim_ksgxd_adopt() - run ksgxd here if the process that ran it is gone
 *
 * Fork sharing: ksgxd runs in one process; when that process exits, the
 * next one that enters the driver from a system call starts it again (a
 * signal handler cannot start a thread; the fault path reclaims directly
 * meanwhile, as the kernel's allocator does when ksgxd lags).
 */
void shim_ksgxd_adopt(void)
{
	if (!shim_share || ksgxd_here || !shim.ready || !shim_ksgxd_claim())
		return;
	if (!sgx_ksgxd_start(shim.drv))
		ksgxd_here = true;
}

/**
 * shim_real_before_exec() - fork sharing: an exec may kill ksgxd's thread
 *
 * Stops the ksgxd this process runs and hands it to another process of the
 * family.  Should the exec fail, that one keeps it.
 */
/* The ksgxd this process runs stops between two pages; another process starts it. */
static void ksgxd_leave(void)
{
	if (!ksgxd_here)
		return;
	sgx_ksgxd_stop(shim.drv);
	ksgxd_here = false;
	shim_ksgxd_release();
	shim_ksgxd_hand_over();
}

void shim_real_before_exec(void)
{
	if (shim_share && shim.ready && shim.mm && shim.mm->pid == getpid())
		ksgxd_leave();
}

/**
 * shim_real_exit() - fork sharing: this process leaves the shared driver
 *
 * Runs at exit: the files it still holds are let go (the last holder of an
 * enclave releases it, as the kernel's last fput() does), its address
 * space leaves every mm list, and its ksgxd stops, for the next process
 * to adopt.
 */
void shim_real_exit(void)
{
	/* A child of vfork runs on its parent's memory: nothing here is its own. */
	if (!shim_share || !shim.ready || shim.mm->pid != getpid())
		return;
	ksgxd_leave();
	shim_files_exit();
	shim_mm_leave();
	shim.ready = false; /* nothing of the family's is this process's any more */
}

/**
 * shim_real_after_fork() - a forked child lets go of its parent's driver
 *
 * Runs in the fork's child handler.  The next open of a device starts a
 * platform and a driver of the child's own (shim_init()), with the same
 * configuration and cgroup list as the parent's.
 */
void shim_real_after_fork(void)
{
	if (shim_share) {
		share_after_fork();
		return;
	}
	shim_keep_frozen(shim.cpu);
	shim_keep_frozen(shim.drv);
	pthread_mutex_init(&shim.lock, NULL);
	shim.ready = false;
	shim.drv = NULL;
	shim.init_err = 0;
	shim.cpu_inherited = shim.cpu != NULL;
	if (shim.uffd >= 0)
		shim_sys_close(shim.uffd);
	shim.uffd = -1;
	if (cg_control_fd >= 0)
		shim_sys_close(cg_control_fd);
	cg_control_fd = -1;
	nr_cg_tree = 0;
	atomic_store(&cg_current, NULL);
}

/*
 * The XFRM an enclave may ask for (CPUID.(12H,1):ECX/EDX): what XCR0 enables,
 * as on hardware, of the components whose place in this CPU's XSAVE image
 * is the SSA frame's (sgx_cpu_xfrm_backed()): enclave code runs on this
 * CPU's own registers.
 */
static uint64_t host_xfrm(void)
{
	unsigned int a, b, c, d, lo, hi;
	uint32_t off[10] = { 0 };

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
		return 0x3;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	for (unsigned int i = 2; i < 10; i++)
		if (__get_cpuid_count(0xd, i, &a, &b, &c, &d))
			off[i] = b;
	return sgx_cpu_xfrm_backed((uint64_t)hi << 32 | lo, off);
}

/* At load: the platform (CPUID answers need it before any device is open). */
int shim_platform_init(void)
{
	struct sgx_cpu_config cfg;
	int err;

	sgx_cpu_default_config(&cfg);
	cfg.epc_size = env_size("SOFTSGX_EPC", cfg.epc_size);
	cfg.nr_sections = (unsigned int)env_size("SOFTSGX_SECTIONS", 0);
	if (cfg.nr_sections > 1) {
		uint64_t per = (cfg.epc_size / cfg.nr_sections) & ~4095ULL;

		for (unsigned int i = 0; i < cfg.nr_sections && i < SGX_MAX_EPC_SECTIONS; i++)
			cfg.sections[i] = (struct sgx_epc_section_config){ per, (int)i };
	} else {
		cfg.nr_sections = 0;
	}
	if (shim_env_on("SOFTSGX_NO_SGX2"))
		cfg.sgx2 = false;
	cfg.xfrm_mask = host_xfrm();
	shim.stats = shim_env_on("SOFTSGX_STATS");
	test_map_race = shim_env_on("SOFTSGX_TEST_MAP_RACE");
	young_off = getenv("SOFTSGX_YOUNG") && !strcmp(getenv("SOFTSGX_YOUNG"), "off");
	fault_around = (unsigned int)env_size("SOFTSGX_FAULT_AROUND", 0);
	if (fault_around > 64)
		fault_around = 64;
	cg_specs_load();
	cg_policy_load();
	err = shim_share_load();
	if (err) {
		shim_log("softsgx: cannot map the memory fork sharing needs\n");
		return err;
	}
	return platform_create(&cfg);
}

/* First use of an SGX device in this process: the driver and userfaultfd. */
int shim_init(void)
{
	struct sgx_driver_config dcfg = { 0 };
	int err = 0;

	if (shim.ready)
		return 0;
	if (shim.init_err)
		return shim.init_err;
	if (!shim.cpu || !shim.exec_ready) {
		err = -ENODEV;
		goto fail;
	}
	if (shim.cpu_inherited) {
		/* A forked child: a platform of its own, configured as the parent's. */
		struct sgx_cpu_config cfg = *sgx_cpu_get_config(shim.cpu);

		err = platform_create(&cfg);
		if (err)
			goto fail;
		shim.cpu_inherited = false;
	}
	shim.uffd = uffd_open();
	if (shim.uffd < 0) {
		shim_log("softsgx: userfaultfd is not available; enclaves cannot run\n");
		err = shim.uffd;
		goto fail;
	}
	shim.mm = shim_mm_new();
	if (!shim.mm) {
		err = -ENOMEM;
		goto fail;
	}
	/* Fork sharing: a driver another process of the family started is ours too. */
	if (shim_share && (shim.drv = shim_shared_driver_lock())) {
		shim_shared_driver_unlock(NULL);
		goto ready;
	}
	dcfg.host_ops = &shim_host_ops;
	dcfg.host = &shim;
	dcfg.cg_policy = cg_policy;
	dcfg.fault_around = fault_around;
	/* The kernel's XFRM mask follows the host's XSAVE support (CPUID.1:ECX.OSXSAVE). */
	{
		unsigned int a, b, c, d;

		__cpuid(1, a, b, c, d);
		dcfg.no_osxsave = !(c & (1U << 27));
		(void)a; (void)b; (void)d;
	}
	shim.drv = sgx_driver_create(shim.cpu, &dcfg, &err);
	if (shim_share)
		shim_shared_driver_unlock(shim.drv);
	if (!shim.drv)
		goto fail;
	ksgxd_here = shim_share;
	/* The kernel registers its devices only after sanitizing the EPC. */
	while (!atomic_load(&shim.drv->sanitized))
		sched_yield();
	err = cg_tree_create();
	if (err) {
		shim_log("softsgx: cannot create the EPC cgroups of SOFTSGX_CGROUPS\n");
		goto fail;
	}
	err = cg_control_start();
	if (err)
		goto fail;
ready:
	err = shim_agent_start();
	if (err)
		goto fail;
	shim.ready = true;
	return 0;
fail:
	shim.init_err = err ? err : -ENODEV;
	return shim.init_err;
}
