// SPDX-License-Identifier: MIT
/*
 * The /dev/sgx_enclave device file: open, release and mmap (the kernel's
 * driver.c).  ioctl dispatch is sgx_ioctl() in ioctl.c.  The host layer owns
 * the file itself and calls these at the matching file operations.
 */
#include <errno.h>

#include "rcu.h"
#include "sgx.h"

/**
 * sgx_open() - open(/dev/sgx_enclave)
 * @drv: the driver
 * @err: set to -errno on failure: -ENOENT (no /dev/sgx_enclave), -EAGAIN or
 *       -EIO from EUPDATESVN (see sgx_inc_usage_count()), -ENOMEM
 *
 * Every open creates an independent, empty enclave; the reference it is born
 * with is the file's.  As in the kernel the usage count goes up first (the
 * first user runs EUPDATESVN) and comes down again if the allocation fails;
 * otherwise the enclave's release brings it down, so it counts live
 * enclaves, not open files.
 *
 * Return: the enclave, or NULL.
 */
struct sgx_encl *sgx_open(struct sgx_driver *drv, int *err)
{
	struct sgx_encl *encl;

	/*
	 * Without launch control or SGX1 the kernel registers no
	 * /dev/sgx_enclave, so open(2) finds no device node.
	 */
	if (!drv->sgx_enclave_dev) {
		*err = -ENOENT;
		return NULL;
	}
	*err = sgx_inc_usage_count(drv);
	if (*err)
		return NULL;
	encl = sgx_encl_alloc(drv, err);
	if (!encl)
		sgx_dec_usage_count(drv);
	return encl;
}

/**
 * sgx_release() - the last close of an enclave file
 * @encl: the file's enclave
 *
 * Every mapping holds a file reference, so no VMA of the enclave is left.
 * What may be left are the address spaces that mapped it and have not exited
 * yet: each sgx_encl_mm holds an enclave reference that would otherwise only
 * go when its mm exits.  Drain them in the kernel's order (unlink under
 * mm_lock, wait for the readers, free, drop the reference), then drop the
 * file's reference; the last reference runs sgx_encl_release().
 *
 * The kernel also unregisters each mm's mmu notifier here.  This driver has no
 * notifier object: the host reports an exiting mm through
 * sgx_encl_mm_release(), which looks the mm up on mm_list under mm_lock and
 * finds nothing once it has been drained here.
 */
void sgx_release(struct sgx_encl *encl)
{
	sgx_encl_mm_drain(encl);
	sgx_encl_put(encl);
}

/**
 * sgx_mmap() - mmap of the enclave file
 * @encl: the file's enclave
 * @mm: the address space the mapping is made in (its mmap lock held for write)
 * @start: first address of the new mapping
 * @len: its length in bytes
 * @vm_flags: VM_READ/VM_WRITE/VM_EXEC of the mapping
 * @shared: MAP_SHARED (or MAP_SHARED_VALIDATE)
 *
 * A private mapping is refused first (the kernel does it in
 * get_unmapped_area, before anything else), then the requested protection is
 * checked against every page already added, then @mm joins the enclave's
 * mm_list.  The file offset plays no part, and mapping before CREATE or INIT
 * is allowed (runtimes reserve ELRANGE early).  On success the host records
 * the VMA and points it at @encl.
 *
 * Return: 0, -EINVAL (private, or an empty or wrapping range, which mmap(2)
 * refuses before any driver code runs), -EACCES, -ENOMEM.
 */
int sgx_mmap(struct sgx_encl *encl, struct sgx_mm *mm, unsigned long start, unsigned long len,
	     unsigned long vm_flags, bool shared)
{
	int ret;

	if (!shared)
		return -EINVAL;
	if (!len || start + len < start)
		return -EINVAL;

	ret = sgx_encl_may_map(encl, start, start + len, vm_flags);
	if (ret)
		return ret;

	return sgx_encl_mm_add(encl, mm);
}
