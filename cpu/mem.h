/* SPDX-License-Identifier: MIT */
/*
 * Memory of the CPU model and the driver, private or shared across fork.
 *
 * On Linux a forked child shares its parent's enclaves: one EPC, one driver.
 * Here both live in the process, so for a child to share them every object
 * they allocate must sit in memory the fork shares (MAP_SHARED) at the same
 * address in both processes.  sgx_mem_share() switches all of the calls
 * below to such memory; until then they are calloc/free and private mmaps.
 * Not exported: the library's users never see it.
 */
#ifndef SOFTSGX_CPU_MEM_H
#define SOFTSGX_CPU_MEM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * sgx_mem_share() - from now on, allocate in memory that fork shares
 * @arena: bytes of address space reserved for small objects (NORESERVE)
 * @store: bytes of address space for file slices (sgx_mem_file_get())
 *
 * Call once, before any platform or driver exists.  Return 0 or -errno.
 */
int sgx_mem_share(size_t arena, size_t store);
/* True once sgx_mem_share() succeeded. */
bool sgx_mem_shared(void);
/* The store file's fd in this process (-1: not shared). */
int sgx_mem_store_fd(void);
/* The host moved it to @fd (its number was wanted by the program). */
void sgx_mem_store_moved(int fd);
/*
 * What sgx_mem_file_get() puts in fd for a slice of the store: fd numbers
 * are each process's own, so shared objects name the store by this, and
 * sgx_mem_fd() turns it into this process's number.
 */
#define SGX_MEM_STORE (-2)
static inline int sgx_mem_fd(int fd)
{
	return fd == SGX_MEM_STORE ? sgx_mem_store_fd() : fd;
}

/*
 * Objects a process-wide static would hold, for every process of a family
 * that shares: the first caller allocates @size zeroed bytes; every caller,
 * in any process, gets the same.  NULL: out of memory, or not shared.
 */
enum sgx_mem_root { SGX_ROOT_EPC_REGISTRY, SGX_ROOT_RCU, SGX_NR_ROOTS };
void *sgx_mem_root(enum sgx_mem_root id, size_t size);

/*
 * @p is private memory (malloc) that only shared memory points to: keep it
 * reachable from this process's own data, since a leak checker does not
 * look into shared mappings.  No-op when not shared.
 */
void sgx_mem_keep(void *p);

/* Zeroed memory for an object (NULL: out of memory); @align at most 4096. */
void *sgx_zalloc(size_t n);
void *sgx_zalloc_aligned(size_t align, size_t n);
/* Free what sgx_zalloc*() gave (NULL is ignored). */
void sgx_free(void *p);

/* Zeroed, page-aligned, NORESERVE anonymous memory (NULL: failure). */
void *sgx_map(size_t len);
void sgx_unmap(void *p, size_t len);

/*
 * Bytes that live in a file (an enclave's window, the driver's backing
 * store): the host maps them again elsewhere (fd, off) and punches holes.
 * Private: a memfd of its own, mapped at @addr.  Shared: a slice of one
 * store file that every process has mapped at the same place since load,
 * so that an enclave created after a fork is reachable from each process
 * that runs the driver (a reclaim there writes its pages back).
 */
struct sgx_mem_file {
	int fd;
	long long off;
	unsigned char *addr;
	size_t len;
};

/* @name names a private memfd.  Return 0 or -errno (-ENFILE for EMFILE). */
int sgx_mem_file_get(const char *name, size_t len, struct sgx_mem_file *mf);
/* Give the bytes back: unmap and close a private memfd, punch a slice. */
void sgx_mem_file_put(struct sgx_mem_file *mf);

#endif
