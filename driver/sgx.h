/* SPDX-License-Identifier: MIT */
/*
 * The Linux SGX driver's enclave-memory system, in user space.  Names follow
 * arch/x86/kernel/cpu/sgx/ (sgx.h, encl.h) so that readers of the kernel find
 * their way; the file split follows it too:
 *   main.c   EPC sections, free lists, allocation, the reclaimer and ksgxd
 *   encl.c   enclave objects, page store, VA slots, backing store, ELDU,
 *            the page-fault handler (ELDU and EAUG paths), mm tracking, release
 *   ioctl.c  the /dev/sgx_enclave ioctls
 *   driver.c the device files: open, release, mmap, ioctl dispatch
 *   virt.c   /dev/sgx_vepc
 *
 * Differences from the kernel, all because this runs in user space:
 *   - Global state lives in struct sgx_driver, so several independent
 *     platforms can exist in one process (tests, the daemon).
 *   - The xarray of enclave pages is a flat sparse array indexed by page
 *     number (MAP_NORESERVE: untouched parts cost nothing): O(1), and the
 *     fault path never allocates.  SGX_ENCL_PAGE_PRESENT marks a slot in use.
 *   - VA page descriptors come from a per-enclave preallocated array, for
 *     the same reason.
 *   - The shmem backing file is a memfd mapped into the process.
 *   - SRCU is liburcu (bulletproof flavour, usable from any thread).
 */
#ifndef SOFTSGX_DRIVER_SGX_H
#define SOFTSGX_DRIVER_SGX_H

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <urcu/list.h>

#include "host.h"
#include "lock.h"
#include "softsgx/cpu.h"

#define SGX_NR_TO_SCAN 16
#define SGX_NR_LOW_PAGES 32
#define SGX_NR_HIGH_PAGES 64
#define SGX_EEXTEND_BLOCK_SIZE 256
#define SGX_EINIT_SPIN_COUNT 20
#define SGX_EINIT_SLEEP_COUNT 50
#define SGX_EINIT_SLEEP_TIME 20 /* ms */

/* Page-fault handler results (mm/memory.c vocabulary). */
typedef enum {
	VM_FAULT_NOPAGE = 0x100, /* mapped, or "retry the access" */
	VM_FAULT_SIGBUS = 0x002,
	VM_FAULT_OOM = 0x001,
} vm_fault_t;

/* ---- EPC pages, sections, nodes (main.c) ---- */

#define SGX_EPC_PAGE_RECLAIMER_TRACKED (1u << 0)
#define SGX_EPC_PAGE_IS_FREE (1u << 1)
/* On its cgroup's unreclaimable list (SECS, VA): the OOM killer's victims. */
#define SGX_EPC_PAGE_UNRECLAIMABLE (1u << 2)
/* @owner is the struct sgx_encl itself (a VA page), not an sgx_encl_page. */
#define SGX_EPC_OWNER_ENCL (1u << 3)

/* No cgroup charged (sanitized pages at start-up, a never-allocated frame). */
#define SGX_CG_NONE 0xFFFFu

/*
 * One per EPC frame, 32 bytes (0.8% of the EPC).  @list is on exactly one of:
 * the dirty list (start-up), a node's free or poison list, the reclaimer's
 * active list, or none (in use, or isolated in a reclaim batch).
 * Domain: node->lock for free/poison lists, IS_FREE and owner clearing;
 * drv->reclaimer_lock for the active list and RECLAIMER_TRACKED.
 */
struct sgx_epc_page {
	uint16_t section;
	uint16_t cg_id; /* the cgroup charged for it (drv->cgroups[]), or SGX_CG_NONE */
	uint16_t flags;
	uint16_t poison;
	void *owner; /* sgx_encl_page (REG/TCS/TRIM, SECS), sgx_vepc, sgx_encl (VA), or NULL */
	struct cds_list_head list;
};

struct sgx_numa_node {
	struct cds_list_head free_page_list;  /* FIFO: free appends, alloc takes head */
	struct cds_list_head sgx_poison_page_list;
	unsigned long size;                   /* bytes of EPC on the node */
	struct sgx_mutex lock;
	bool has_epc;
};

struct sgx_epc_section {
	void *virt_addr;   /* the CPU model's EPC address of the first frame */
	unsigned long size;
	struct sgx_epc_page *pages;
	struct sgx_numa_node *node;
};

/* ---- The EPC cgroup: the misc controller's "sgx_epc" (epc_cgroup.c) ---- */

#define SGX_CG_MAX 1024                          /* cgroups per driver, root included */
#define SGX_CG_MIN_FREE_PAGE SGX_NR_LOW_PAGES    /* headroom below a limit */
#define SGX_CG_LOW_LIMIT (4 * SGX_NR_LOW_PAGES)  /* limits above this keep the headroom */
/* Rounds of one cgroup's asynchronous work before it requeues itself. */
#define SGX_CG_WORK_ROUNDS 8

/*
 * Which revision of the unmerged EPC cgroup series the cgroup follows
 * (docs/architecture.md, "The EPC cgroup", says what each one does):
 *  - SGX_CG_V17 (the default): v17, August 2024.  No OOM killer; limits
 *    are enforced only when a page is charged; round-robin reclaim.
 *  - SGX_CG_V5: v5, September 2023.  Writing misc.max queues reclaim, the
 *    asynchronous work reclaims down to the limit less one page (less 8
 *    more above 32 pages) and kills enclaves when nothing is reclaimable.
 */
enum sgx_cg_policy {
	SGX_CG_V17 = 0,
	SGX_CG_V5 = 1,
};

/* A cgroup's pages.  Domain: drv->reclaimer_lock. */
struct sgx_epc_lru {
	struct cds_list_head reclaimable;   /* the kernel's active list, per cgroup */
	struct cds_list_head unreclaimable; /* SECS and VA pages */
};

/*
 * One cgroup of the EPC controller.  Amounts are bytes, as misc.* show them.
 * @parent, @id and @name never change; the tree links and @next_cg are
 * drv->cg_lock's; the counters are atomics, read and updated without a lock
 * (the fault path charges from signal context).
 */
struct sgx_cgroup {
	struct sgx_driver *drv;
	struct sgx_cgroup *parent;
	struct cds_list_head children, sibling;
	struct sgx_cgroup *next_cg;     /* round-robin reclaim cursor into the subtree */
	char name[64];
	uint16_t id;
	_Atomic uint64_t max;           /* UINT64_MAX: "max" */
	_Atomic uint64_t usage, peak;
	_Atomic uint64_t events;        /* this cgroup and its subtree hit a max */
	_Atomic uint64_t events_local;  /* this cgroup's own max was hit */
	_Atomic long subtree_reclaimable; /* RECLAIMER_TRACKED pages of the subtree: listed or isolated */
	_Atomic long subtree_listed;    /* of those, the ones on a reclaimable list (the series' test) */
	struct sgx_epc_lru lru;
	_Atomic long refs;              /* the tree's, each charged page's, each user's */
	_Atomic bool dying;
	_Atomic bool work_pending;      /* asynchronous reclaim queued for ksgxd */
};

/* Counters matching the kernel's; all updated atomically. */
struct sgx_stats {
	_Atomic uint64_t ewb, eldu, eaug, eremove, leaked, reclaim_batches, reclaimed;
	_Atomic uint64_t direct_reclaims, ksgxd_wakeups, etrack_ipis;
	_Atomic uint64_t backing_allocs, backing_truncates; /* host calls on the memfds */
	_Atomic uint64_t oom_kills;                         /* enclaves the EPC OOM killer took */
	_Atomic uint64_t add_helper_batches;  /* ADD_PAGES source batches read by the helper */
};

/* Test-only pause points between the steps of the racy flows (docs/races.md). */
enum sgx_test_point {
	SGX_TP_REMOVE_ZAP,      /* REMOVE_PAGES: encl->lock dropped around the PTE zap */
	SGX_TP_MODIFY_ZAP,      /* MODIFY_TYPES REG->TCS: same window */
	SGX_TP_EAUG_UNLOCKED,   /* fault: EAUG path after the lockless "no entry" check */
	SGX_TP_RECLAIM_ISOLATED,/* reclaimer: batch isolated, before aging */
	SGX_TP_RECLAIM_BLOCKED, /* reclaimer: pages blocked, before EWB */
	SGX_TP_ADD_EXTEND,      /* ADD_PAGES: page EADDed, before its EEXTENDs */
	SGX_TP_OOM_MARKED,      /* OOM killer: victim marked NO_MEMORY, not yet zapped */
	SGX_TP_RELEASE_CHILDREN,/* release: children freed, SECS and VA pages not yet */
	SGX_TP_VEPC_ZOMBIES,    /* vEPC release: both passes done, zombie lock not yet taken */
	SGX_TP_NR,
};

struct sgx_driver_config {
	const struct sgx_host_ops *host_ops;
	void *host;
	bool no_ksgxd;   /* tests: run reclaim and sanitization synchronously */
	/*
	 * Truncate backing pages after a reload exactly as the kernel does: the
	 * contents page always, the PCMD page once all its 32 PCMDs are zero
	 * and the reclaimer is not about to write one (PCMD_BUSY).  Off (the
	 * default), both stay allocated as warm slots for the next eviction
	 * and go with the enclave: on hosts where a hole punch in a mapped
	 * memfd and the next allocation cost ~11 us (more than EWB + ELDU),
	 * that is what keeps the per-page cost flat (docs/architecture.md).
	 */
	bool kernel_backing;
	/*
	 * ADD_PAGES of many pages reads the source ahead in a thread of its
	 * own (driver/ioctl.c, struct sgx_add_src), so that a second core
	 * copies while the ioctl's thread adds and measures.  Off (the
	 * default), the ioctl reads the source itself, a batch at a time.
	 */
	bool add_helper;
	/*
	 * Fault-around (sgx_vma_fault_around()): after a reload fault that
	 * continues a sequential run, reload and map up to this many evicted
	 * pages that follow it, as the kernel's readahead does for files (the
	 * kernel's SGX driver does not).  0 or 1 (the default): off.
	 */
	unsigned int fault_around;
	/*
	 * The OS has not enabled XSAVE (the kernel's X86_FEATURE_OSXSAVE, i.e.
	 * CR4.OSXSAVE, is clear): enclaves may then only use x87 and SSE
	 * state, whatever CPUID.(12H,1) allows.  Off (the default) on every
	 * host this runs on, which all enable XSAVE.
	 */
	bool no_osxsave;
	/*
	 * No /dev/sgx_vepc: a kernel built without CONFIG_X86_SGX_KVM, or a CPU
	 * without VMX.  Off (the default), the device exists.
	 */
	bool no_vepc;
	/* The EPC cgroup's revision of the series (SGX_CG_V17 when zeroed). */
	enum sgx_cg_policy cg_policy;
	/* Test hook called at each pause point (NULL: none). */
	void (*test_point)(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
			   unsigned long addr);
	void *test_ctx;
};

struct sgx_driver {
	struct sgx_cpu *cpu;
	const struct sgx_host_ops *host_ops;
	void *host;
	struct sgx_driver_config cfg;

	unsigned int nr_sections;
	struct sgx_epc_section sections[SGX_MAX_EPC_SECTIONS];
	struct sgx_numa_node *nodes; /* indexed by node id, sized max id + 1, zeroed */
	int nr_nodes;
	_Atomic unsigned int next_node;
	_Atomic long nr_free_pages;
	unsigned long nr_total_pages;

	struct sgx_mutex reclaimer_lock;         /* protects every cgroup's LRUs */
	_Atomic long nr_active;                  /* pages on the reclaimable LRUs */
	struct cds_list_head dirty_page_list;    /* start-up sanitization */

	pthread_t ksgxd;
	bool ksgxd_started;
	_Atomic bool ksgxd_stop;
	struct sgx_waitq ksgxd_waitq;
	_Atomic bool sanitized;

	/* Reserved masks for the INIT ioctl (computed by sgx_driver_create from CPUID). */
	uint64_t attributes_reserved_mask, xfrm_reserved_mask;
	uint32_t misc_reserved_mask;
	bool sgx2;
	bool eupdatesvn; /* CPUID.(12H,0):EAX[10] (X86_FEATURE_SGX_EUPDATESVN) */
	/* Which device files were registered (sgx_drv_init(), sgx_vepc_init()). */
	bool sgx_enclave_dev, sgx_vepc_dev;

	struct sgx_stats stats;
	/*
	 * The usage count (sgx_usage_count): live enclave and vEPC objects.
	 * Changed only under svn_lock, which serialises it with EUPDATESVN;
	 * read without it by the counters.
	 */
	_Atomic long nr_encls;
	struct sgx_mutex svn_lock;
	/* Enclave releases under way: the OOM killer waits for them (epc_cgroup.c). */
	_Atomic long nr_releasing;

	/* vEPC pages whose EREMOVE failed at release (SECS pages with children elsewhere, mostly) */
	struct sgx_mutex zombie_secs_pages_lock;
	struct cds_list_head zombie_secs_pages;

	/*
	 * The EPC cgroups.  The root is always there; every EPC page in use is
	 * charged to one (page->cg_id).  cg_lock guards the tree and is never
	 * taken with reclaimer_lock held (order: cg_lock -> reclaimer_lock).
	 */
	struct sgx_cgroup root_cg;
	struct sgx_cgroup *_Atomic cgroups[SGX_CG_MAX];
	struct sgx_mutex cg_lock;
	_Atomic long cg_work;            /* cgroups with work_pending set */
};

#define drv_host_call(drv, op, ...) ((drv)->host_ops->op((drv)->host, ##__VA_ARGS__))

static inline void sgx_test_point(struct sgx_driver *drv, enum sgx_test_point tp,
				  struct sgx_encl *encl, unsigned long addr)
{
	if (drv->cfg.test_point)
		drv->cfg.test_point(drv->cfg.test_ctx, tp, encl, addr);
}

/**
 * sgx_driver_create() - bring up the driver on a CPU model
 * @cpu: the platform (its EPC is sanitized and handed out by this driver)
 * @cfg: host operations and options (copied)
 * @err: set to -errno on failure (-ENODEV without SGX, or when neither
 *       /dev/sgx_enclave (launch control and SGX1) nor /dev/sgx_vepc can exist)
 *
 * Enumerates the sections through CPUID 0x12, builds the page arrays and
 * node lists, puts every page on the dirty list and starts ksgxd, which
 * sanitizes (EREMOVE, two passes) and then reclaims.  drv->sgx_enclave_dev
 * and drv->sgx_vepc_dev say which device files exist.
 */
struct sgx_driver *sgx_driver_create(struct sgx_cpu *cpu, const struct sgx_driver_config *cfg,
				     int *err);
/* Stop ksgxd and free the driver; every enclave must be released first. */
void sgx_driver_destroy(struct sgx_driver *drv);
int sgx_ksgxd_start(struct sgx_driver *drv);
void sgx_ksgxd_stop(struct sgx_driver *drv);

/* A snapshot of the driver's counters (what `softsgx stat` will print). */
struct sgx_driver_counters {
	uint64_t total, free, poisoned, used, reclaimable, leaked, oom_kills;
	uint64_t ewb, eldu, eaug, eremove, reclaim_batches, reclaimed;
	uint64_t direct_reclaims, ksgxd_wakeups, etrack_ipis;
	/* Backing pages allocated in / truncated from the enclaves' memfds. */
	uint64_t backing_allocs, backing_truncates;
	uint64_t enclaves; /* live enclave and vEPC objects */
};

/**
 * sgx_driver_counters() - read the counters
 * @drv: the driver
 * @c: filled in; "used" = total - free - poisoned - leaked, i.e. pages that
 *     hold an enclave, VA or vEPC page or are being handed out
 *
 * The values are read without stopping the driver, so under load they are
 * each exact but not a consistent cut.
 */
void sgx_driver_counters(struct sgx_driver *drv, struct sgx_driver_counters *c);

/**
 * sgx_inc_usage_count() - count a new SGX user (enclave or vEPC open)
 * @drv: the driver
 *
 * The first user -- the count was 0, so no enclave or vEPC holds EPC --
 * runs EUPDATESVN first, when the CPU has it, so that a microcode update
 * loaded at run time reaches CPUSVN before any enclave is built.
 *
 * Return: 0, -EAGAIN (the RNG ran dry on every try: the open may be
 * retried), or -EIO (any other EUPDATESVN failure, e.g. an EPC page leaked
 * by a failed EREMOVE keeps the EPC from ever being empty).  On failure the
 * count is unchanged.
 */
int sgx_inc_usage_count(struct sgx_driver *drv);
/* The last step of an enclave's or vEPC's release. */
void sgx_dec_usage_count(struct sgx_driver *drv);

/* With cfg.no_ksgxd: run sanitization to completion now. */
void sgx_sanitize_now(struct sgx_driver *drv);

void *sgx_get_epc_virt_addr(struct sgx_epc_page *page);
struct sgx_epc_page *sgx_epc_page_of(struct sgx_driver *drv, const void *epc_addr);

/**
 * sgx_alloc_epc_page() - allocate an EPC page
 * @drv: the driver
 * @owner: the owner recorded in the page
 * @reclaim: reclaim synchronously when nothing is free
 *
 * Return: the page, or ERR_PTR: -ENOMEM (nothing free, nothing reclaimable),
 * -EBUSY (nothing free and @reclaim false), -ERESTARTSYS (signal pending).
 * Callers with @reclaim must hold no mmap lock and no encl->lock.
 */
struct sgx_epc_page *sgx_alloc_epc_page(struct sgx_driver *drv, void *owner, bool reclaim);
/* Return an uninitialised (EREMOVEd or EWBed) page to its node's free list. */
void sgx_free_epc_page(struct sgx_driver *drv, struct sgx_epc_page *page);
void sgx_mark_page_reclaimable(struct sgx_driver *drv, struct sgx_epc_page *page);
/* Return: 0, or -EBUSY when the reclaimer has the page isolated. */
int sgx_unmark_page_reclaimable(struct sgx_driver *drv, struct sgx_epc_page *page);
/* One reclaim batch in the caller's context if free pages < SGX_NR_LOW_PAGES. */
void sgx_reclaim_direct(struct sgx_driver *drv);
/* One batch of up to SGX_NR_TO_SCAN pages (the kernel's sgx_reclaim_pages). */
void sgx_reclaim_pages(struct sgx_driver *drv);
unsigned int sgx_reclaim_pages_lru(struct sgx_driver *drv, struct sgx_cgroup *cg, unsigned int nr,
				   bool ignore_age, unsigned int *reclaimed);
void sgx_lru_add_tail(struct sgx_driver *drv, struct sgx_epc_page *page);
void sgx_lru_del(struct sgx_driver *drv, struct sgx_epc_page *page);
void sgx_record_unreclaimable(struct sgx_driver *drv, struct sgx_epc_page *page,
			      bool owner_encl);
void sgx_drop_unreclaimable(struct sgx_driver *drv, struct sgx_epc_page *page);

/* ---- EPC cgroups (epc_cgroup.c); kernel-doc at the definitions ---- */
void sgx_cgroup_init_root(struct sgx_driver *drv);
int sgx_cg_policy_parse(const char *s, enum sgx_cg_policy *policy);
void sgx_cg_set_policy(struct sgx_driver *drv, enum sgx_cg_policy policy);
enum sgx_cg_policy sgx_cg_policy(const struct sgx_driver *drv);
const char *sgx_cg_policy_name(enum sgx_cg_policy policy);
void sgx_cgroup_exit(struct sgx_driver *drv);
struct sgx_cgroup *sgx_cgroup_create(struct sgx_cgroup *parent, const char *name, int *err);
int sgx_cgroup_destroy(struct sgx_cgroup *cg);
void sgx_cgroup_get(struct sgx_cgroup *cg);
void sgx_cgroup_put(struct sgx_cgroup *cg);
struct sgx_cgroup *sgx_cgroup_current(struct sgx_driver *drv);
struct sgx_cgroup *sgx_cgroup_of_page(struct sgx_driver *drv, const struct sgx_epc_page *page);
int sgx_cgroup_try_charge(struct sgx_cgroup *cg, bool reclaim);
void sgx_cgroup_uncharge(struct sgx_cgroup *cg);
bool sgx_cgroup_should_reclaim(struct sgx_cgroup *cg);
unsigned int sgx_cgroup_reclaim(struct sgx_cgroup *root, unsigned int nr);
void sgx_cgroup_queue_work(struct sgx_cgroup *cg);
void sgx_cgroup_run_work(struct sgx_driver *drv);
bool sgx_cgroup_oom(struct sgx_cgroup *root);
int sgx_cgroup_read(struct sgx_cgroup *cg, const char *file, char *buf, size_t len);
int sgx_cgroup_write(struct sgx_cgroup *cg, const char *file, const char *buf);
bool sgx_should_reclaim(struct sgx_driver *drv, unsigned long watermark);
/* Memory failure on the EPC page at @epc_addr (kernel: arch_memory_failure). */
int sgx_memory_failure(struct sgx_driver *drv, const void *epc_addr);

/* The kernel's "restart the system call" errno (never seen by user space there). */
#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#endif

/* Kernel-style error pointers. */
#define MAX_ERRNO 4095
#define IS_ERR(p) ((uintptr_t)(p) >= (uintptr_t)-MAX_ERRNO)
#define PTR_ERR(p) ((long)(intptr_t)(p))
#define ERR_PTR(e) ((void *)(intptr_t)(e))

/* ENCLS result helpers (encls.h). */
#define encls_failed(r) (encls_faulted(r) ? encls_trapnr(r) != X86_TRAP_PF : (r) != 0)

/* ---- Enclaves (encl.c) ---- */

enum sgx_encl_flags {
	SGX_ENCL_IOCTL = 1u << 0,
	SGX_ENCL_DEBUG = 1u << 1,
	SGX_ENCL_CREATED = 1u << 2,
	SGX_ENCL_INITIALIZED = 1u << 3,
	/* Killed by the EPC OOM killer: no new EPC, mappings or reloads (R6, v5). */
	SGX_ENCL_NO_MEMORY = 1u << 4,
};

/* desc bits (encl.h), with the v6 fix series' BUSY/PCMD_BUSY split. */
#define SGX_ENCL_PAGE_PRESENT (1UL << 0)   /* slot in use (our xarray) */
#define SGX_ENCL_PAGE_BUSY (1UL << 2)      /* do not load or use this page */
#define SGX_ENCL_PAGE_PCMD_BUSY (1UL << 3) /* do not truncate the shared PCMD page */
#define SGX_ENCL_PAGE_VA_OFFSET_MASK 0xFF8UL /* bits 11:3, while evicted */
#define SGX_ENCL_PAGE_ADDR_MASK (~0xFFFUL)

struct sgx_va_page {
	struct sgx_epc_page *epc_page;
	uint64_t slots[SGX_VA_SLOT_COUNT / 64]; /* allocation bitmap */
	struct cds_list_head list;
};

/*
 * Domain: encl->lock for every field but the PRESENT bit of @desc, which
 * the fault path also reads without the lock (atomically).
 */
struct sgx_encl_page {
	_Atomic unsigned long desc;
	unsigned long vm_max_prot_bits : 8;
	unsigned long type : 16;
	struct sgx_epc_page *epc_page;
	struct sgx_encl *encl;
	struct sgx_va_page *va_page;
};

/* One per address space that maps the enclave (encl.h). */
struct sgx_encl_mm {
	struct sgx_encl *encl;
	struct sgx_mm *mm;
	struct cds_list_head list; /* RCU list on encl->mm_list */
};

struct sgx_encl {
	struct sgx_driver *drv;
	unsigned long base, size;
	_Atomic unsigned long flags;   /* enum sgx_encl_flags, atomic bit ops */
	unsigned int page_cnt;         /* SECS + all pages; drives VA growth */
	unsigned int secs_child_cnt;   /* resident children */
	/*
	 * lock: the page array and every descriptor in it, secs_child_cnt, SECS
	 * residency, the VA page list and slots (the descriptor pool is
	 * mm_lock's, see encl.c), every ENCLS on the enclave with its ETRACK
	 * and IPIs, publishing INITIALIZED, and page_cnt after INIT.  Taken
	 * after the mm's mmap lock, as in the kernel.
	 */
	struct sgx_mutex lock;
	struct sgx_encl_page *page_array; /* size >> 12 slots, sparse */
	unsigned long nr_slots;
	struct sgx_encl_page secs;
	uint64_t attributes, attributes_mask;
	_Atomic long refcount;

	struct cds_list_head va_pages;  /* pages with free slots at the head */
	struct sgx_va_page *va_array;   /* preallocated descriptors, sparse */
	unsigned long nr_va_array;
	struct cds_list_head va_free;   /* unused descriptors */
	unsigned long va_next;          /* first never-used descriptor */

	int backing_fd;                 /* memfd "SGX backing": E + E/32 bytes */
	long long backing_off;          /* where in it (a slice of a shared store) */
	void *host_priv;                /* the host's own record of the enclave (the driver's: never) */
	uint8_t *backing;               /* its mapping */
	unsigned long backing_size;
	_Atomic unsigned long *backing_present; /* bit per backing page known allocated */

	struct sgx_mutex mm_lock;       /* mm_list mutation, mm_list_version */
	struct cds_list_head mm_list;   /* RCU (urcu-bp) readers */
	_Atomic unsigned long mm_list_version;

	_Atomic long nr_evicted;        /* pages whose contents are in backing */
	/* Fault-around: where a sequential run of reload faults goes on next. */
	_Atomic unsigned long fault_around_next;
};

static inline bool encl_test_flag(struct sgx_encl *encl, unsigned long f)
{
	return atomic_load(&encl->flags) & f;
}

/* Per-enclave counters: resident child pages and pages held in backing. */
static inline void sgx_encl_counters(struct sgx_encl *encl, uint64_t *resident, uint64_t *evicted)
{
	sgx_mutex_lock(&encl->lock);
	*resident = encl->secs_child_cnt;
	sgx_mutex_unlock(&encl->lock);
	*evicted = (uint64_t)atomic_load(&encl->nr_evicted);
}

/* Allocate an empty enclave (open): refcount 1, nothing created. */
struct sgx_encl *sgx_encl_alloc(struct sgx_driver *drv, int *err);
/*
 * Create the page array, the VA descriptor array and the backing memfd once
 * encl->base and encl->size are known (ENCLAVE_CREATE).  Return 0 or -errno;
 * sgx_encl_release() frees them.
 */
int sgx_encl_init_storage(struct sgx_encl *encl);
void sgx_encl_get(struct sgx_encl *encl);
bool sgx_encl_get_unless_zero(struct sgx_encl *encl);
/* Drop a reference; the last one runs sgx_encl_release(). */
void sgx_encl_put(struct sgx_encl *encl);

/* Slot for @addr (inside ELRANGE) or NULL; present or not. */
struct sgx_encl_page *sgx_encl_page_slot(struct sgx_encl *encl, unsigned long addr);
/* The entry at @addr if present (kernel: xa_load), else NULL. */
struct sgx_encl_page *sgx_encl_page_lookup(struct sgx_encl *encl, unsigned long addr);
/*
 * Claim the slot for @addr (kernel: xa_insert).  Return the entry with
 * desc = addr | PRESENT and other fields set from the arguments, or ERR_PTR
 * -EBUSY if present, -EINVAL outside ELRANGE.  Under encl->lock.
 */
struct sgx_encl_page *sgx_encl_page_insert(struct sgx_encl *encl, unsigned long addr,
					   unsigned long vm_max_prot_bits);
/* Release the slot (kernel: xa_erase + kfree).  Under encl->lock. */
void sgx_encl_page_erase(struct sgx_encl_page *entry);

/* Allocate a VA page (EPA). Return it or ERR_PTR (-ENOMEM, -EBUSY, -EFAULT). */
struct sgx_va_page *sgx_alloc_va_page(struct sgx_encl *encl, bool reclaim);
struct sgx_epc_page *sgx_alloc_va_epc_page(struct sgx_encl *encl, bool reclaim);
struct sgx_va_page *sgx_encl_wrap_va_page(struct sgx_encl *encl, struct sgx_epc_page *epc_page);
/* REMOVE_PAGES left page_cnt on a multiple of 512: a descriptor for regrowth. */
void sgx_encl_va_reserve(struct sgx_encl *encl);
unsigned int sgx_alloc_va_slot(struct sgx_va_page *va_page);
void sgx_free_va_slot(struct sgx_va_page *va_page, unsigned int offset);
bool sgx_va_page_full(struct sgx_va_page *va_page);
/* Release a VA page's EPC page and descriptor. */
void sgx_encl_free_va_page(struct sgx_encl *encl, struct sgx_va_page *va_page);

/* Backing store: contents and PCMD of page index @index. */
struct sgx_backing {
	void *contents;
	void *pcmd;
	unsigned long pcmd_offset;
};
unsigned long sgx_encl_page_index(struct sgx_encl *encl, struct sgx_encl_page *page);
int sgx_encl_get_backing(struct sgx_encl *encl, unsigned long index, struct sgx_backing *b);
void sgx_encl_put_backing(struct sgx_backing *b);
/* Under encl->lock: is a page sharing @first_addr's PCMD page being written? */
bool reclaimer_writing_to_pcmd(struct sgx_encl *encl, unsigned long first_addr);

/*
 * Load the page at @addr for use (under encl->lock): -EFAULT no entry,
 * -EBUSY being reclaimed/removed or no free EPC right now, -ENOMEM nothing
 * free and nothing reclaimable; ELDU (SECS first) if evicted.
 */
struct sgx_encl_page *sgx_encl_load_page(struct sgx_encl *encl, unsigned long addr);
/* ... and check @vm_flags against the page's maximum protection (-EFAULT). */
struct sgx_encl_page *sgx_encl_load_page_in_vma(struct sgx_encl *encl, unsigned long addr,
						unsigned long vm_flags);
int sgx_encl_load_secs(struct sgx_encl *encl);

/**
 * sgx_vma_fault() - the page-fault handler
 * @mm: the faulting address space (its mmap lock is held for read)
 * @encl: the enclave mapped there (NULL: the mapping lost its enclave)
 * @addr: the faulting address, page aligned
 * @vm_flags: the mapping's VM_READ/VM_WRITE/VM_EXEC
 *
 * Async-signal-safe: called from the SIGBUS handler.
 * Return: VM_FAULT_NOPAGE or VM_FAULT_SIGBUS.  The kernel's EAUG path can
 * also give VM_FAULT_OOM when kzalloc() of the page descriptor fails; here
 * descriptors are preallocated slots, so that outcome does not exist.
 */
vm_fault_t sgx_vma_fault(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
			 unsigned long vm_flags);
/**
 * sgx_vma_fault_around() - reload the evicted pages after a reload fault
 * @mm: the faulting address space (its mmap lock is held for read)
 * @encl: the enclave mapped there (NULL: nothing to do)
 * @addr: the page sgx_vma_fault() just resolved, page aligned
 * @vm_flags: the mapping's VM_READ/VM_WRITE/VM_EXEC
 * @end: the end of the mapping, which has @vm_flags all the way
 *
 * A no-op unless cfg.fault_around is above 1.  Only when @addr continues
 * a run (the page after the previous fault, or the end of the previous
 * fault-around) does it reload and map the evicted pages that follow @addr,
 * up to cfg.fault_around - 1 of them, stopping at the first page that is
 * not evicted (absent, resident, or being reclaimed), and only from EPC
 * that is free above the low watermark and charged to the root cgroup: it
 * never makes work for the reclaimer or pushes a cgroup to its limit.
 * The pages start old.  Async-signal-safe.
 *
 * Return: the number of pages reloaded and mapped.
 */
unsigned int sgx_vma_fault_around(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
				  unsigned long vm_flags, unsigned long end);
/* The next present page at an index in [*idx, end), or NULL (encl->lock held). */
struct sgx_encl_page *sgx_encl_next_page(struct sgx_encl *encl, unsigned long *idx,
					 unsigned long end);
/**
 * sgx_vma_access() - a debugger's access to enclave memory (ptrace, /proc/pid/mem)
 * @encl: the enclave mapped there (NULL: the mapping lost its enclave)
 * @addr: first byte
 * @buf: bytes to write, or room for the bytes read
 * @len: number of bytes
 * @write: write instead of read
 * @vm_flags: the mapping's VM_READ/VM_WRITE/VM_EXEC, checked against each
 *            page's maximum protection
 *
 * Works through EDBGRD/EDBGWR in naturally aligned 8-byte words, one
 * encl->lock section per word, reloading evicted pages.  Not for signal
 * context (it may spin until the reclaimer lets go of a page).
 *
 * Return: @len, or a negative errno if any word failed (even after partial
 * progress): -EFAULT (no enclave, not a DEBUG enclave, no page, permissions),
 * -EIO (the leaf faulted), -ENOMEM (nothing to reload into).
 */
int sgx_vma_access(struct sgx_encl *encl, unsigned long addr, void *buf, int len, bool write,
		   unsigned long vm_flags);
/* mmap/mprotect check: 0 or -EACCES. */
int sgx_encl_may_map(struct sgx_encl *encl, unsigned long start, unsigned long end,
		     unsigned long vm_flags);
/* Add @mm to the enclave's mm_list (mmap, fork): 0 or -ENOMEM. */
int sgx_encl_mm_add(struct sgx_encl *encl, struct sgx_mm *mm);
/* The address space is going away (the mmu notifier's release). */
void sgx_encl_mm_release(struct sgx_encl *encl, struct sgx_mm *mm);
void sgx_encl_mm_drain(struct sgx_encl *encl);
bool sgx_encl_oom(struct sgx_encl *encl);
/* Zap @addr in every mm of the enclave.  No encl->lock held. */
void sgx_zap_enclave_ptes(struct sgx_encl *encl, unsigned long addr);
/* After EMODPR/EMODT: unmap @addr natively everywhere (encl->lock held). */
void sgx_encl_zap_epcm_change(struct sgx_encl *encl, unsigned long addr);
/* Kick every thread inside the enclave (the IPI of ETRACK flows). */
void sgx_encl_kick(struct sgx_encl *encl);
/* Age check: true if any mm accessed @page since the last check. */
bool sgx_encl_test_and_clear_young(struct sgx_encl *encl, struct sgx_encl_page *page);
/* EREMOVE and free; on failure warn with EREMOVE_ERROR_MESSAGE and leak. */
void sgx_encl_free_epc_page(struct sgx_driver *drv, struct sgx_epc_page *page);
/* ELDU of @encl_page from backing into a new EPC page (encl->lock held). */
struct sgx_epc_page *sgx_encl_eldu(struct sgx_encl_page *encl_page,
				   struct sgx_epc_page *secs_page);

/* EWB with the ETRACK and IPI fallbacks (main.c; encl->lock held). */
int sgx_encl_ewb(struct sgx_epc_page *epc_page, struct sgx_backing *backing);

/* ---- ioctls (ioctl.c) ---- */

struct sgx_va_page *sgx_encl_grow(struct sgx_encl *encl, bool reclaim);
void sgx_encl_shrink(struct sgx_encl *encl, struct sgx_va_page *va_page);
/**
 * sgx_ioctl() - the /dev/sgx_enclave ioctl entry
 * @encl: the file's enclave
 * @mm: the caller's address space
 * @cmd: the ioctl number (uapi/sgx.h)
 * @arg: the caller's argument (a user pointer for all enclave ioctls)
 *
 * Return: 0 or -errno as the kernel returns it (-ENOTTY unknown command).
 */
long sgx_ioctl(struct sgx_encl *encl, struct sgx_mm *mm, unsigned int cmd, unsigned long arg);

/* ---- device files (driver.c) ---- */

/* open(/dev/sgx_enclave): a new, empty enclave holding the file's reference. */
struct sgx_encl *sgx_open(struct sgx_driver *drv, int *err);
/* The file's last close: drain mm_list (kernel order), drop the reference. */
void sgx_release(struct sgx_encl *encl);
/*
 * mmap of the enclave file in @mm: -EINVAL for a private mapping, then
 * sgx_encl_may_map() and sgx_encl_mm_add().  The host records the VMA.
 */
int sgx_mmap(struct sgx_encl *encl, struct sgx_mm *mm, unsigned long start, unsigned long len,
	     unsigned long vm_flags, bool shared);

/* ---- virtual EPC (virt.c) ---- */

/*
 * One open /dev/sgx_vepc: raw EPC pages handed to a guest, indexed by file
 * page offset, with no bound (virt.c keeps them in a radix tree around this
 * struct).  Domain: @lock for population (faults); REMOVE_ALL walks without
 * it, as the kernel does.
 */
struct sgx_vepc {
	struct sgx_driver *drv;
	struct sgx_mutex lock;
};

/* open(/dev/sgx_vepc): -ENOENT without the device, -EAGAIN/-EIO (EUPDATESVN), -ENOMEM. */
struct sgx_vepc *sgx_vepc_open(struct sgx_driver *drv, int *err);
/* xa_load() of the page store: the page at file page @index, or NULL (lockless). */
struct sgx_epc_page *sgx_vepc_load(struct sgx_vepc *vepc, unsigned long index);
/* xa_find(): the first page at an index >= *@index (set to its index), or NULL. */
struct sgx_epc_page *sgx_vepc_find(struct sgx_vepc *vepc, unsigned long *index);
/* xa_for_each(): every page of @vepc in index order (lockless, as sgx_vepc_find()). */
#define sgx_vepc_for_each_page(vepc, index, page)                                      \
	for (bool more_ = ((index) = 0, true);                                         \
	     more_ && ((page) = sgx_vepc_find((vepc), &(index))) != NULL;              \
	     more_ = (index)++ != ULONG_MAX)
/* mmap: -EINVAL unless shared.  The host records the VMA (not inherited by fork). */
int sgx_vepc_mmap(struct sgx_vepc *vepc, bool shared);
/*
 * Fault at file page @index (vm_pgoff + offset in the VMA) mapped at @addr in
 * @mm; the PTE goes in through host insert_page with a NULL enclave.
 * Return: VM_FAULT_NOPAGE, or VM_FAULT_SIGBUS (-ENOMEM, or -EBUSY when the
 * caller cannot retry); -EBUSY with @may_retry gives VM_FAULT_NOPAGE (retry).
 */
vm_fault_t sgx_vepc_fault(struct sgx_vepc *vepc, struct sgx_mm *mm, unsigned long addr,
			  unsigned long index, bool may_retry);
/* SGX_IOC_VEPC_REMOVE_ALL and others: the count of SECS failures, or -errno. */
long sgx_vepc_ioctl(struct sgx_vepc *vepc, unsigned int cmd, unsigned long arg);
/* The file's release: the two passes and the zombie list (docs/races.md, R3). */
void sgx_vepc_release(struct sgx_vepc *vepc);

/* ---- messages ---- */

/* "sgx: " prefixed log and WARN-style reports on stderr (async-signal-safe). */
void sgx_pr(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* WARN_ONCE, pr_err_once: the first report from each call site, as the kernel's. */
#define sgx_once(fn, ...)                                                                 \
	do {                                                                              \
		static _Atomic bool once_;                                                \
		if (!atomic_exchange_explicit(&once_, true, memory_order_relaxed))        \
			fn(__VA_ARGS__);                                                  \
	} while (0)
#define sgx_warn_once(...) sgx_once(sgx_warn, __VA_ARGS__)
#define pr_err_once(...) sgx_once(sgx_pr, "", __VA_ARGS__)
/* ENCLS_WARN (encls.h): callers test encls_failed() first, as the kernel's do. */
#define ENCLS_WARN(r, name)                                                               \
	do {                                                                              \
		int r_ = (r);                                                             \
		if (r_)                                                                   \
			sgx_warn_once("%s returned %d (0x%x)", (name), r_, r_);           \
	} while (0)
/* A text-less WARN_ON: the kernel's splat names the place. */
#define WARN_ON(cond)                                                                     \
	({                                                                                \
		bool c_ = (cond);                                                         \
		if (c_)                                                                   \
			sgx_warn("at %s:%d %s()", __FILE__, __LINE__, __func__);          \
		c_;                                                                       \
	})
void sgx_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t sgx_log_format(char *buf, size_t size, const char *fmt, va_list ap);
#define EREMOVE_ERROR_MESSAGE                                                               \
	"EREMOVE returned %d (0x%x) and an EPC page was leaked. SGX may become unusable. " \
	"Refer to Documentation/arch/x86/sgx.rst for more information."

#endif
