/* SPDX-License-Identifier: MIT */
/*
 * The host operations on an address space's reference count and mmap lock,
 * shared by the hosts whose struct sgx_mm has `_Atomic int users` (0 once
 * the address space is exiting) and `pthread_rwlock_t mmap_lock`: the real
 * one (shim.h) and the simulated one (sim.h).  Include it after the host's
 * definition of struct sgx_mm.
 */
#ifndef SOFTSGX_HOST_MM_OPS_H
#define SOFTSGX_HOST_MM_OPS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Take a reference on a live @mm (false once it is exiting). */
static bool host_mm_get(void *host, struct sgx_mm *mm)
{
	int u = atomic_load(&mm->users);

	(void)host;
	while (u > 0)
		if (atomic_compare_exchange_weak(&mm->users, &u, u + 1))
			return true;
	return false;
}

static void host_mm_put(void *host, struct sgx_mm *mm)
{
	(void)host;
	atomic_fetch_sub(&mm->users, 1);
}

static void host_mmap_read_lock(void *host, struct sgx_mm *mm)
{
	(void)host;
	pthread_rwlock_rdlock(&mm->mmap_lock);
}

static void host_mmap_read_unlock(void *host, struct sgx_mm *mm)
{
	(void)host;
	pthread_rwlock_unlock(&mm->mmap_lock);
}

#endif
