/* SPDX-License-Identifier: MIT */
/*
 * The simulated host: the driver's host interface (driver/host.h) over
 * address spaces that exist only in memory -- mappings, a PTE table with
 * accessed bits, kicks, user-memory copies and pending signals.  A simulated
 * CPU access (sim_access) walks the PTE table and calls the driver's fault
 * handler as the real SIGBUS path will.  The demo, the driver tests, the
 * benchmarks and the fuzzer run the driver on it; the knobs in struct
 * sim_host (pending signals, src_check's answer, faulting user ranges, a
 * kick callback) let tests reach every branch the real host can take.
 *
 * It defines struct sgx_mm for its own address spaces; a TU that includes
 * this header must not also see another host's definition.
 */
#ifndef SOFTSGX_HOST_SIM_H
#define SOFTSGX_HOST_SIM_H

#include <pthread.h>
#include <stdbool.h>

#include "sgx.h"

#define SIM_MAX_MAPS 16

struct sim_pte {
	struct sgx_encl *encl;
	unsigned long addr;
	struct sgx_epc_page *epc;
	bool young;
};

struct sgx_mm {
	struct sim_host *host;
	int id;
	_Atomic int users;       /* 0 once exiting */
	pthread_rwlock_t mmap_lock;
	pthread_mutex_t pte_lock; /* the fake page table's own lock */
	struct {
		struct sgx_encl *encl;
		unsigned long start, end, vm_flags;
	} maps[SIM_MAX_MAPS];
	int nr_maps;
	/*
	 * The PTEs, nr_ptes of them in no order, in an array that grows as
	 * pages are inserted (pte_lock).  Tests may read them and reset
	 * nr_ptes to 0; the hash index below then rebuilds itself.
	 */
	struct sim_pte *ptes;
	int nr_ptes;
	int pte_cap;      /* entries allocated, and buckets in pte_head */
	int *pte_head;    /* per bucket: the first entry of its chain, or -1 */
	int *pte_next;    /* per entry: the next one in its bucket, or -1 */
	int pte_indexed;  /* nr_ptes as the index last saw it */
	_Atomic int kicks;
};

struct sim_host {
	struct sgx_host_ops ops;
	_Atomic bool signal_pending;
	_Atomic int signal_after;       /* >0: signal becomes pending after N checks */
	uint64_t provision_fd;          /* the fd number that is /dev/sgx_provision */
	_Atomic int src_check_result;   /* what src_check returns (0, -EFAULT, -EACCES) */
	/* Called from kick (e.g. to let a simulated thread leave the enclave). */
	void (*on_kick)(struct sim_host *h, struct sgx_mm *mm, struct sgx_encl *encl);
	void *ctx;
	_Atomic int nr_zaps, nr_inserts;
};

/*
 * The EPC cgroup of the calling thread (NULL: the root).  The test keeps the
 * cgroup alive while a thread is in it, as a host must.
 */
void sim_set_cgroup(struct sgx_cgroup *cg);

/* User pointers below this, or inside [bad_lo, bad_hi), fault (-EFAULT). */
#define SIM_USER_MIN 0x10000UL
extern unsigned long sim_bad_lo, sim_bad_hi;

void sim_host_init(struct sim_host *h);
/* The default platform with @epc_pages frames and fixed keys (seed 7). */
void sim_cpu_config(struct sgx_cpu_config *cfg, unsigned long epc_pages);
/* A driver on a fresh CPU model of @epc_pages frames (fixed keys, no ksgxd if @sync). */
struct sgx_driver *sim_driver(struct sim_host *h, unsigned long epc_pages, bool sync);
/* The same on a platform configured by @cfg; sanitized already when @sync. */
struct sgx_driver *sim_driver_cfg(struct sim_host *h, const struct sgx_cpu_config *cfg, bool sync);
void sim_driver_destroy(struct sgx_driver *drv);

struct sgx_mm *sim_mm_new(struct sim_host *h, int id);
void sim_mm_free(struct sgx_mm *mm);
/* mmap(): sgx_encl_may_map + sgx_encl_mm_add, then record the mapping. Return 0/-errno. */
int sim_mmap(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long start, unsigned long len,
	      unsigned long vm_flags);
/* Record a mapping the driver accepted (@mm's mmap lock held for write). */
void sim_add_map(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long start,
		 unsigned long len, unsigned long vm_flags);
/* The index of the mapping of @mm covering @addr (the newest), or -1. */
int sim_map_at(struct sgx_mm *mm, unsigned long addr);
/* The address space exits: drop PTEs and mappings, notify the driver. */
void sim_mm_exit(struct sgx_mm *mm);

/*
 * A CPU access to @addr: walk the fake page table; on a miss call
 * sgx_vma_fault() under the mmap read lock and retry while it returns
 * VM_FAULT_NOPAGE without a PTE (bounded).  Return 0 (mapped), or the
 * vm_fault_t that ended it (VM_FAULT_SIGBUS, VM_FAULT_OOM), or -1 when no
 * mapping of an enclave covers @addr.
 */
int sim_access(struct sgx_mm *mm, unsigned long addr, unsigned long vm_flags);
/* The EPC page the PTE for @addr maps, or NULL. */
struct sgx_epc_page *sim_pte(struct sgx_mm *mm, unsigned long addr);
int sim_nr_ptes(struct sgx_mm *mm);

#endif
