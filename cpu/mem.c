// SPDX-License-Identifier: MIT
/*
 * Private or fork-shared memory for the model and the driver (mem.h).
 *
 * The shared arena is one MAP_SHARED reservation carved into power-of-two
 * blocks with a free list per size: the driver allocates a few kinds of
 * small objects (enclaves, VA pages, mm entries, cgroups) and frees them
 * in the order it likes, and every process that shares the arena must see
 * one allocator.  Its state therefore sits at the start of the arena.
 * Allocation never happens in signal context (DESIGN: the fault and ENCLU
 * paths use preallocated memory), so a spinning lock is enough.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mem.h"

#define HDR 64UL                 /* header before each block's object */
#define MIN_SHIFT 7              /* smallest block: 128 bytes */
#define NR_CLASSES 12            /* up to 256 KiB; larger ones are mapped */
#define BIG_CLASS 0xffffffffU
#define MAGIC 0x5347584d454d4f4bULL

struct hdr {
	uint64_t magic;
	uint32_t cls;
	uint32_t off;            /* object start minus block start */
	uint64_t len;            /* mapped length of a big block */
};

#define STORE_FREE 256

struct arena {
	atomic_flag lock;
	uintptr_t next, end;
	void *free[NR_CLASSES];
	/* The store file: the next unused offset, and slices given back. */
	size_t store_next, store_size;
	struct { size_t off, len; } store_free[STORE_FREE];
	void *_Atomic roots[SGX_NR_ROOTS];
};

static struct arena *arena;
static int store_fd = -1;
static unsigned char *store;

static void *map_anon(size_t len, bool shared)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int sgx_mem_share(size_t len, size_t store_len)
{
	struct arena *a;
	void *p;
	int fd, e;

	if (arena)
		return -EBUSY;
	fd = memfd_create("softsgx_store", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)store_len)) {
		e = -errno;
		close(fd);
		return e;
	}
	p = mmap(NULL, store_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	a = map_anon(len, true);
	if (p == MAP_FAILED || !a) {
		if (p != MAP_FAILED)
			munmap(p, store_len);
		if (a)
			munmap(a, len);
		close(fd);
		return -ENOMEM;
	}
	a->next = ((uintptr_t)(a + 1) + 4095) & ~4095UL;
	a->end = (uintptr_t)a + len;
	a->store_size = store_len;
	atomic_flag_clear(&a->lock);
	store_fd = fd;
	store = p;
	arena = a;
	return 0;
}

int sgx_mem_store_fd(void)
{
	return store_fd;
}

void sgx_mem_store_moved(int fd)
{
	store_fd = fd;
}

bool sgx_mem_shared(void)
{
	return arena != NULL;
}

static void arena_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&arena->lock, memory_order_acquire))
		sched_yield();
}

static void arena_unlock(void)
{
	atomic_flag_clear_explicit(&arena->lock, memory_order_release);
}

/* A block of class @cls (64 << ... bytes), zeroed; NULL when the arena is full. */
static void *block_get(unsigned int cls)
{
	size_t size = 1UL << (cls + MIN_SHIFT);
	void *b;

	arena_lock();
	b = arena->free[cls];
	if (b) {
		arena->free[cls] = *(void **)b;
	} else if (arena->end - arena->next >= size) {
		b = (void *)arena->next;
		arena->next += size;
	}
	arena_unlock();
	if (b)
		memset(b, 0, size);
	return b;
}

static void *shared_alloc(size_t align, size_t n)
{
	size_t need = n + HDR + (align > HDR ? align - HDR : 0);
	unsigned int cls = 0;
	struct hdr *h;
	uint8_t *b, *obj;

	if (n > SIZE_MAX / 2)
		return NULL;
	while (cls < NR_CLASSES && (1UL << (cls + MIN_SHIFT)) < need)
		cls++;
	if (cls == NR_CLASSES) {
		/* Big: a slice of the store, the object page-aligned after a header page. */
		size_t len = ((n + 4095) & ~4095UL) + 4096;

		b = sgx_map(len);
		if (!b)
			return NULL;
		obj = b + 4096;
		h = (struct hdr *)(obj - HDR);
		*h = (struct hdr){ MAGIC, BIG_CLASS, 4096, len };
		return obj;
	}
	b = block_get(cls);
	if (!b)
		return NULL;
	obj = (uint8_t *)(((uintptr_t)b + HDR + align - 1) & ~(uintptr_t)(align - 1));
	h = (struct hdr *)(obj - HDR);
	*h = (struct hdr){ MAGIC, cls, (uint32_t)(obj - b), 0 };
	return obj;
}

void *sgx_zalloc_aligned(size_t align, size_t n)
{
	void *p;

	if (!align || (align & (align - 1)) || align > 4096)
		return NULL;
	if (arena)
		return shared_alloc(align < 16 ? 16 : align, n ? n : 1);
	n = (n + align - 1) & ~(align - 1);
	p = aligned_alloc(align, n ? n : align);
	if (p)
		memset(p, 0, n);
	return p;
}

void *sgx_mem_root(enum sgx_mem_root id, size_t size)
{
	void *p, *mine;

	if (!arena || id >= SGX_NR_ROOTS)
		return NULL;
	p = atomic_load(&arena->roots[id]);
	if (p)
		return p;
	mine = sgx_zalloc(size);
	if (!mine)
		return NULL;
	if (atomic_compare_exchange_strong(&arena->roots[id], &p, mine))
		return mine;
	sgx_free(mine);
	return p;
}

static void *kept[64];

void sgx_mem_keep(void *p)
{
	for (size_t i = 0; arena && p && i < sizeof(kept) / sizeof(kept[0]); i++)
		if (!kept[i] || kept[i] == p) {
			kept[i] = p;
			return;
		}
}

void *sgx_zalloc(size_t n)
{
	return arena ? shared_alloc(16, n ? n : 1) : calloc(1, n);
}

void sgx_free(void *p)
{
	struct hdr *h;
	uint8_t *b;

	if (!p)
		return;
	if (!arena) {
		free(p);
		return;
	}
	/* Once shared, every object is the arena's: a block, or a big mapping. */
	h = (struct hdr *)((uint8_t *)p - HDR);
	if (h->magic != MAGIC)
		abort();
	if (h->cls == BIG_CLASS) {
		sgx_unmap((uint8_t *)p - h->off, h->len);
		return;
	}
	if (h->cls >= NR_CLASSES)
		abort();
	b = (uint8_t *)p - h->off;
	h->magic = 0;
	arena_lock();
	*(void **)b = arena->free[h->cls];
	arena->free[h->cls] = b;
	arena_unlock();
}

/* 2 MiB apart, so that a slice never shares a huge page with another. */
static size_t slice_len(size_t len)
{
	return (len + (2UL << 20) - 1) & ~((2UL << 20) - 1);
}

/*
 * A slice of the store of @len bytes: from a given-back one (split), else
 * from the never-used end; -1: full.
 */
static long long store_take(size_t len)
{
	long long off = -1;

	arena_lock();
	for (int i = 0; i < STORE_FREE; i++)
		if (arena->store_free[i].len >= len) {
			off = (long long)arena->store_free[i].off;
			arena->store_free[i].off += len;
			arena->store_free[i].len -= len;
			break;
		}
	if (off < 0 && arena->store_size - arena->store_next >= len) {
		off = (long long)arena->store_next;
		arena->store_next += len;
	}
	arena_unlock();
	return off;
}

/*
 * Give [off, off + len) back: its memory at once (punched), its address
 * space merged with the free neighbours (or with the never-used end), so
 * that sizes that come and go do not splinter the store.
 */
static void store_give(size_t off, size_t len)
{
	(void)fallocate(store_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			(off_t)len);
	arena_lock();
	for (int i = 0; i < STORE_FREE; i++) {
		size_t o = arena->store_free[i].off, l = arena->store_free[i].len;

		if (!l)
			continue;
		if (o + l == off) {
			off = o;
			len += l;
			arena->store_free[i].len = 0;
		} else if (off + len == o) {
			len += l;
			arena->store_free[i].len = 0;
		}
	}
	if (off + len == arena->store_next) {
		arena->store_next = off;
	} else {
		for (int i = 0; i < STORE_FREE; i++)
			if (!arena->store_free[i].len) {
				arena->store_free[i].off = off;
				arena->store_free[i].len = len;
				break;
			}
	}
	arena_unlock();
}

int sgx_mem_file_get(const char *name, size_t len, struct sgx_mem_file *mf)
{
	void *p;
	int fd, e;

	mf->len = len;
	if (arena) {
		long long off = store_take(slice_len(len));

		if (off < 0)
			return -ENOMEM;
		mf->fd = SGX_MEM_STORE;
		mf->off = off;
		mf->addr = store + off;
		return 0;
	}
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		/* The kernel's shmem files take no descriptor: "too many files" is ENFILE. */
		return errno == EMFILE ? -ENFILE : -errno;
	if (ftruncate(fd, (off_t)len)) {
		e = -errno;
		close(fd);
		return e;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		e = -errno;
		close(fd);
		return e;
	}
	mf->fd = fd;
	mf->off = 0;
	mf->addr = p;
	return 0;
}

void sgx_mem_file_put(struct sgx_mem_file *mf)
{
	if (!mf->addr)
		return;
	if (mf->fd == SGX_MEM_STORE) {
		store_give((size_t)mf->off, slice_len(mf->len));
	} else {
		munmap(mf->addr, mf->len);
		close(mf->fd);
	}
	mf->addr = NULL;
	mf->fd = -1;
}

/*
 * Shared: a slice of the store.  A mapping made now would exist only in this
 * process and the children it forks later, and the processes forked before
 * reach the driver's objects too (a reclaim there walks the page array).
 */
void *sgx_map(size_t len)
{
	long long off;

	if (!arena)
		return map_anon(len, false);
	off = store_take(slice_len(len));
	return off < 0 ? NULL : store + off;
}

void sgx_unmap(void *p, size_t len)
{
	if (!p)
		return;
	if (arena && (unsigned char *)p >= store && (unsigned char *)p < store + arena->store_size)
		store_give((size_t)((unsigned char *)p - store), slice_len(len));
	else
		munmap(p, len);
}
