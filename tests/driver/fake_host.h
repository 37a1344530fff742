/* SPDX-License-Identifier: MIT */
/*
 * A fake host for driver tests: address spaces with mappings and a PTE table,
 * accessed bits, kicks, user-memory copies and signals, all in memory.  A
 * simulated CPU access (fake_access) goes through the PTE table and calls the
 * driver's fault handler exactly as the real SIGBUS path will.
 */
#ifndef SOFTSGX_FAKE_HOST_H
#define SOFTSGX_FAKE_HOST_H

#include <pthread.h>
#include <stdbool.h>

#include "sgx.h"

#define FAKE_MAX_MAPS 16
#define FAKE_MAX_PTES 8192

struct fake_pte {
	struct sgx_encl *encl;
	unsigned long addr;
	struct sgx_epc_page *epc;
	bool young;
};

struct sgx_mm {
	struct fake_host *host;
	int id;
	_Atomic int users;       /* 0 once exiting */
	pthread_rwlock_t mmap_lock;
	pthread_mutex_t pte_lock; /* the fake page table's own lock */
	struct {
		struct sgx_encl *encl;
		unsigned long start, end, vm_flags;
	} maps[FAKE_MAX_MAPS];
	int nr_maps;
	struct fake_pte ptes[FAKE_MAX_PTES];
	int nr_ptes;
	_Atomic int kicks;
};

struct fake_host {
	struct sgx_host_ops ops;
	_Atomic bool signal_pending;
	_Atomic int signal_after;       /* >0: signal becomes pending after N checks */
	uint64_t provision_fd;          /* the fd number that is /dev/sgx_provision */
	_Atomic int src_check_result;   /* what src_check returns (0, -EFAULT, -EACCES) */
	/* Called from kick (e.g. to let a simulated thread leave the enclave). */
	void (*on_kick)(struct fake_host *h, struct sgx_mm *mm, struct sgx_encl *encl);
	void *ctx;
	_Atomic int nr_zaps, nr_inserts;
};

/*
 * The EPC cgroup of the calling thread (NULL: the root).  The test keeps the
 * cgroup alive while a thread is in it, as a host must.
 */
void fake_set_cgroup(struct sgx_cgroup *cg);

/* User pointers below this, or inside [bad_lo, bad_hi), fault (-EFAULT). */
#define FAKE_USER_MIN 0x10000UL
extern unsigned long fake_bad_lo, fake_bad_hi;

void fake_host_init(struct fake_host *h);
/* A driver on a fresh CPU model of @epc_pages frames (fixed keys, no ksgxd if @sync). */
struct sgx_driver *fake_driver(struct fake_host *h, unsigned long epc_pages, bool sync);
void fake_driver_destroy(struct sgx_driver *drv);

struct sgx_mm *fake_mm_new(struct fake_host *h, int id);
void fake_mm_free(struct sgx_mm *mm);
/* mmap(): sgx_encl_may_map + sgx_encl_mm_add, then record the mapping. Return 0/-errno. */
int fake_mmap(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long start, unsigned long len,
	      unsigned long vm_flags);
/* The address space exits: drop PTEs and mappings, notify the driver. */
void fake_mm_exit(struct sgx_mm *mm);

/*
 * A CPU access to @addr: walk the fake page table; on a miss call
 * sgx_vma_fault() under the mmap read lock and retry while it returns
 * VM_FAULT_NOPAGE without a PTE (bounded).  Return 0 (mapped), or the
 * vm_fault_t that ended it (VM_FAULT_SIGBUS, VM_FAULT_OOM), or -1 when no
 * mapping of an enclave covers @addr.
 */
int fake_access(struct sgx_mm *mm, unsigned long addr, unsigned long vm_flags);
/* The EPC page the PTE for @addr maps, or NULL. */
struct sgx_epc_page *fake_pte(struct sgx_mm *mm, unsigned long addr);
int fake_nr_ptes(struct sgx_mm *mm);

#endif
