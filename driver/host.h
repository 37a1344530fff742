/* SPDX-License-Identifier: MIT */
/*
 * What the driver needs from the host (page tables, address spaces, threads,
 * user memory).  host/ implements it for real execution; tests implement it
 * with the simulated host (host/sim.c).  The driver never touches a signal
 * or a host page table except through these calls.
 *
 * An address space is an opaque struct sgx_mm owned by the host: the
 * embedded mode has one (the process), the daemon mode one per client, and
 * tests as many as they like.
 */
#ifndef SOFTSGX_DRIVER_HOST_H
#define SOFTSGX_DRIVER_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sgx_mm;
struct sgx_cgroup;
struct sgx_encl;
struct sgx_epc_page;

/* VMA protection bits, as the kernel's VM_READ/VM_WRITE/VM_EXEC. */
#define VM_READ 0x1UL
#define VM_WRITE 0x2UL
#define VM_EXEC 0x4UL
#define VM_PROT_MASK (VM_READ | VM_WRITE | VM_EXEC)

struct sgx_host_ops {
	/*
	 * PTE insertion: make @epc (an EPC page of @encl) visible at @addr in
	 * @mm with the VMA's protection.  Called with mm's mmap lock held for
	 * read and encl->lock held.  Return 0 or -errno.
	 */
	int (*insert_page)(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
			   unsigned long addr, struct sgx_epc_page *epc);
	/* Remove the mappings of [@addr, @addr + @len) of @encl in @mm. */
	void (*zap)(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		    unsigned long len);
	/* Test and clear the accessed state of @addr in @mm ("young"). */
	bool (*test_and_clear_young)(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
				     unsigned long addr);
	/*
	 * The IPI: every thread of @mm that may be executing inside @encl
	 * takes an AEX; return once each has (or was not inside).  Called
	 * with encl->lock held, so a thread that faulted inside the enclave
	 * and now waits for that lock in the fault handler must already have
	 * left enclave mode: the host performs the AEX before it calls
	 * sgx_vma_fault(), never after.
	 */
	void (*kick)(void *host, struct sgx_mm *mm, struct sgx_encl *encl);
	/* Take a reference on a live @mm (false once it is exiting). */
	bool (*mm_get)(void *host, struct sgx_mm *mm);
	void (*mm_put)(void *host, struct sgx_mm *mm);
	void (*mmap_read_lock)(void *host, struct sgx_mm *mm);
	void (*mmap_read_unlock)(void *host, struct sgx_mm *mm);
	/* True when @addr lies in a mapping of @encl in @mm (find_vma + vm_ops check). */
	bool (*vma_is_encl)(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
			    unsigned long addr);
	/* The calling thread has a signal pending (-ERESTARTSYS points). */
	bool (*signal_pending)(void *host);
	/*
	 * User memory of the calling process: return 0 or -EFAULT for memory
	 * that is not mapped (with the needed access).
	 */
	int (*copy_from_user)(void *host, void *dst, uint64_t src, size_t n);
	int (*copy_to_user)(void *host, uint64_t dst, const void *src, size_t n);
	/*
	 * EADD's source check, as the kernel's find_vma() + VM_MAYEXEC test
	 * and get_user_pages() make it: 0, -EFAULT (no VMA at or above @src,
	 * or a mapping GUP refuses -- an enclave mapping, VM_IO|VM_PFNMAP), or
	 * -EACCES (the VMA may never be executable, e.g. a noexec mount).
	 * docs/quirks.md, Q2: the kernel checks the first VMA that ends above
	 * @src, which may start above it; a host answers for that VMA.
	 */
	int (*src_check)(void *host, struct sgx_mm *mm, uint64_t src);
	/* Is @fd of the calling process an open /dev/sgx_provision? */
	bool (*fd_is_provision)(void *host, uint64_t fd);
	/*
	 * Optional: the EPC cgroup of the calling task (NULL: the root).  The
	 * host keeps a reference (sgx_cgroup_get()) on every cgroup it can
	 * return, for as long as it can return it.  Async-signal-safe.
	 */
	struct sgx_cgroup *(*current_cgroup)(void *host);
	/*
	 * Optional: @encl's last EPC page is gone (the end of its release, on
	 * whichever thread dropped the last reference).  The CPU model no
	 * longer reaches the enclave's window, so the host can free it.
	 */
	void (*encl_released)(void *host, struct sgx_encl *encl);
};

#endif
