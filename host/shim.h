/* SPDX-License-Identifier: MIT */
/*
 * The real host: what `softsgx exec` preloads into an unmodified program.
 * One process, one address space (struct sgx_mm), the driver and the CPU
 * model created on the first open of an SGX device.
 *
 *   real.c    the driver's host interface (driver/host.h) for this process:
 *             enclave windows, userfaultfd, PTE bookkeeping, kicks
 *   files.c   device files and their mappings (open/ioctl/mmap/... logic)
 *   exec.c    enclave execution: per-thread logical processors, the signal
 *             handler (ENCLU, AEX, faults, chaining to the program's handlers)
 *   entry.S   the vDSO function and the signal entry (FS/GS switch)
 *   enclu_patch.c  trap-free ENCLU: an enclave's ENCLU sites found and
 *             rewritten into jumps to stubs; where a signal in a stub goes
 *   enclu_stub.S   the stubs' template and the code they share (stub.h)
 *   vdso.c    the vDSO image getauxval(AT_SYSINFO_EHDR) returns
 *   cpuid.c   CPUID leaf 0x12/0x7 for code the program executes itself
 *   cpuid_patch.c  its CPUID instructions rewritten to trap, without faulting
 *   preload.c the interposed libc entry points
 *   rawsys.S  syscall(): the shim's numbers to rawsys.c, the rest to the kernel
 *   rawsys.c  those numbers, to preload.c's interposers; openat2, rt_sigaction;
 *             paths relative to a directory fd (rawsys.h)
 *   auxv.c    /proc/self/auxv, prctl(PR_GET_AUXV) and fopen with our vDSO
 *   sigmask.c the program's signal mask, kept apart from the signals the
 *             shim needs (ENCLU traps, exceptions, kicks)
 *
 *   share.c   fork sharing: the family's shared state, each process's
 *             address space and its agent thread, reaping ended processes
 *
 * fork: the program's enclave and vEPC mappings are MADV_DONTFORK, so a
 * child never has them.  By default (fork sharing) the platform, the
 * driver, the windows and backing stores are shared memory of the whole
 * family and the child's handler maps its enclave ranges again under its
 * own userfaultfd and address space (share.c, files.c).  With
 * SOFTSGX_FORK=detach it turns each inherited enclave range into an abort
 * range (all ones, filled on first read, writes dropped by single-stepping
 * them), marks the inherited files "orphan", closes the shim's own fds and
 * leaves the parent's driver frozen: a first open in the child starts a
 * platform and driver of its own.  The parent holds shim.lock across the
 * fork.
 *
 * Locking: shim.lock (a mutex) guards the file and mapping tables' writers;
 * it is only taken with every signal blocked, so a handler on the same
 * thread can never find it held.  Readers in signal context use the
 * mapping table's sequence count instead.
 */
#ifndef SOFTSGX_HOST_SHIM_H
#define SOFTSGX_HOST_SHIM_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <ucontext.h>

#include "lock.h"
#include "mem.h"
#include "sgx.h"
#include "softsgx/enclu.h"

#define SHIM_API __attribute__((visibility("default")))

/*
 * The process's address space as the driver sees it.  With fork sharing
 * (share.c) each process that shares the driver has one, in shared memory,
 * and serves the driver's calls on it that only it can make (zap, kick)
 * through its agent thread: the request below.
 */
struct sgx_mm {
	_Atomic int users;
	pthread_rwlock_t mmap_lock;
	pid_t pid;
	_Atomic pid_t agent;             /* the agent thread's tid (0: none yet) */
	struct sgx_mutex req_lock;       /* one request at a time */
	_Atomic uint32_t req_seq, done_seq;
	struct {
		int op;
		struct sgx_encl *encl;
		unsigned long addr, len;
	} req;
	_Atomic uint32_t nudge;          /* ksgxd may be gone: the agent looks (share.c) */
	_Atomic uint32_t wake;           /* moved by every request, nudge and quit */
	_Atomic uint32_t quit;           /* the agent ends (its process leaves) */
	/* The enclave records (share.c) this process holds, by index. */
	_Atomic uint64_t held[4096 / 64];
};

enum shim_kind { SHIM_ENCL = 1, SHIM_VEPC, SHIM_PROVISION };

/*
 * One open device file (shared by dup'd fds).  A file is never freed while
 * the process lives: signal handlers may hold a pointer to it; a released
 * one is marked dead.
 */
struct shim_file {
	enum shim_kind kind;
	int accmode;                 /* O_RDONLY, O_WRONLY or O_RDWR, from open */
	int nfds;                    /* fds of ours naming it (shim.lock) */
	int nmaps;                   /* mappings of it (shim.lock) */
	bool dead;
	bool orphan;                 /* inherited across fork: its driver is the parent's */
	bool opath;                  /* an O_PATH fd of the node: no file of the device */
	struct sgx_encl *encl;
	struct sgx_vepc *vepc;
	int wfd;                     /* our own reference to the window memfd */
	uint8_t *window;             /* the CPU model's mapping of it */
	unsigned long base, size;    /* ELRANGE, after CREATE */
	long long woff;              /* the window's offset in wfd */
	struct shim_encl_rec *rec;   /* fork sharing: what the processes share of it */
	/* Where the ENCLU sweep of pages added next goes on decoding (enclu_patch.c). */
	unsigned long stub_resume;
	/* Per page of ELRANGE: the EPC page the "PTE" maps (NULL: none). */
	struct sgx_epc_page *_Atomic *pte;
	_Atomic uint8_t *young;
};

/*
 * Fork sharing: what the processes that hold an enclave file share of it
 * (in shared memory; share.c).
 */
struct shim_encl_rec {
	_Atomic int procs;           /* processes holding the file (fds or mappings) */
	struct sgx_encl *encl;       /* an enclave file's, or */
	struct sgx_vepc *vepc;       /* a vEPC file's */
	struct sgx_mem_file window;  /* the window's slice of the store */
	_Atomic bool window_ready;   /* window, young and pages are set */
	_Atomic uint8_t *young;      /* per page: inserted since the reclaimer looked */
	size_t pages;
	int idx;                     /* in the family's table, and in sgx_mm.held */
};

struct shim_map {
	unsigned long start, end, vm_flags;
	struct shim_file *f;
};

#define SHIM_MAX_MAPS 1024
#define SHIM_MAX_FDS 65536
#define SHIM_MAX_FILES 4096

struct shim {
	bool ready;       /* the driver is up */
	bool cpu_inherited; /* shim.cpu is a forked parent's: only its CPUID answers are used */
	bool exec_ready;  /* signal handlers and slots are in place */
	int init_err;
	struct sgx_cpu *cpu;
	struct sgx_driver *drv;
	struct sgx_mm *mm;        /* this process's (shim_init()) */
	int uffd;
	pthread_mutex_t lock;
	struct shim_file *_Atomic *fdtab;
	/* Every open file, until the driver's release of its enclave. */
	struct shim_file *_Atomic files[SHIM_MAX_FILES];
	_Atomic unsigned int map_seq;
	struct shim_map maps[SHIM_MAX_MAPS];
	int nr_maps;
	int kick_sig;
	bool test_tail_signal; /* SOFTSGX_TEST_TAIL_SIGNAL=1: see exec.c */
	bool test_stub_clobber; /* SOFTSGX_TEST_STUB_CLOBBER=1: see exec.c */
	int test_stub_step;    /* SOFTSGX_TEST_STUB_STEP=1 or 2: see exec.c */
	bool stats;
	bool fsgsbase;
};

extern struct shim shim;

/* ---- real.c ---- */
extern const struct sgx_host_ops shim_host_ops;
int shim_init(void);
int shim_platform_init(void);
/* The environment variable @name is set and starts with '1'. */
bool shim_env_on(const char *name);
/* The mapping covering @addr, copied out consistently (false: none). */
bool shim_map_lookup(unsigned long addr, struct shim_map *out);
/* Record / forget mappings (shim.lock held). */
int shim_map_add(unsigned long start, unsigned long end, unsigned long vm_flags,
		 struct shim_file *f);
void shim_map_remove(unsigned long start, unsigned long end);
void shim_map_protect(unsigned long start, unsigned long end, unsigned long vm_flags);
/* The EPC page mapped at @la of @f (NULL: none). */
struct sgx_epc_page *shim_pte(struct shim_file *f, unsigned long la);
/*
 * Resolve an access to enclave memory at @addr as the kernel's page-fault
 * path would: for a @native access (the program's own instruction) the page
 * must end up mapped in the window, for a leaf of the CPU model only in its
 * page tables.  Return 0 when the access can be retried, otherwise the #PF
 * error code to report, with *@sigbus telling a driver SIGBUS apart from an
 * EPCM refusal (X86_PF_SGX set).  Async-signal-safe.
 */
int shim_encl_fault(unsigned long addr, bool write, uint32_t hw_err, bool native, bool *sigbus);
/*
 * A leaf (EACCEPT, EACCEPTCOPY) may have made the resident page at @addr
 * natively accessible: map it now, as the kernel's EAUG fault did, rather
 * than at the enclave's next access, which would fault for it.  Nothing
 * happens when the page is not resident or the EPCM still refuses native
 * access.  Async-signal-safe.
 */
void shim_encl_map_accepted(unsigned long addr);
/* libc's own sigaction (ours interposes it). */
extern int (*shim_real_sigaction)(int, const struct sigaction *, struct sigaction *);
void shim_kick_threads(struct sgx_encl *encl);
/* Wait until no other thread runs a leaf that may have translated a zapped page. */
void shim_wait_leaves(void);
/* Register @start..@end with userfaultfd. */
int shim_uffd_register(unsigned long start, unsigned long len);
void shim_print_stats(void);
/* In a forked child: forget the parent's driver (frozen) and its fds. */
void shim_real_after_fork(void);
/* Keep @p, an object of a forked parent's driver, reachable (leak checkers). */
void shim_keep_frozen(void *p);
/* Madvise @len bytes at @addr MADV_DONTFORK: a forked child never has them. */
void shim_nofork(void *addr, unsigned long len);

/* ---- files.c ---- */
int shim_dev_open(const char *path, int flags);
bool shim_is_dev_path(const char *path, enum shim_kind *kind);
bool shim_proc_pid_own(const char **p);
bool shim_path_lexical(const char *path, char *out, size_t size);
bool shim_is_internal_link(const char *path);
const char *shim_dev_link_target(const char *path);
/* The device file behind @fd: NULL for none, and for an O_PATH fd of a node. */
struct shim_file *shim_file_of(int fd);
/* Any record of @fd, O_PATH fds too (stat, close and dup bookkeeping). */
struct shim_file *shim_fd_record(int fd);
long shim_ioctl(struct shim_file *f, int fd, unsigned long cmd, unsigned long arg);
void *shim_mmap(struct shim_file *f, void *addr, size_t len, int prot, int flags, off_t off);
int shim_munmap(void *addr, size_t len, bool *handled);
long shim_mremap(void *old_addr, size_t old_len, size_t new_len, int flags, void *new_addr,
		 bool *handled);
/* The program mapped something else over [addr, addr + len): forget ours there. */
void shim_unmapped(void *addr, size_t len);
/* Is @fd one the shim opened for itself (never the program's)? */
bool shim_fd_internal(int fd);
/* Count @fd among the shim's own (fork sharing's store). */
void shim_fd_hide(int fd);
bool shim_fd_evict(int fd);
int shim_mprotect(void *addr, size_t len, int prot, bool *handled);
int shim_close(int fd, bool *handled);
int shim_close_by(int fd, bool *handled, int (*closer)(void *), void *arg);
int shim_dup(int oldfd, int newfd);
void shim_encl_released(struct sgx_encl *encl);
void shim_fake_stat(enum shim_kind kind, struct stat *st);
/* In a forked child (shim.lock held by the parent's fork): see preload.c. */
void shim_files_after_fork(void);
/*
 * A SIGSEGV at @addr (#PF error code @err) on an enclave range a forked
 * child inherited: 0 when the access can be retried (*@step: single-step
 * it, it is a write to drop), else the signal to deliver (SIGSEGV or
 * SIGBUS); -1 when @addr is no such range.
 */
int shim_orphan_fault(unsigned long addr, uint32_t err, bool *step);
/* After that single step: the written pages are all ones again (false: none). */
bool shim_orphan_write_done(void);

/* ---- exec.c ---- */
int shim_exec_init(void);
/* In a forked child: only the calling thread is left. */
void shim_exec_after_fork(void);
int shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* usercopy.S: 0, or -EFAULT when a page faulted (see shim_user_copy_fixup()). */
long softsgx_user_copy(void *dst, const void *src, size_t n);
/* May this thread take a fault in softsgx_user_copy() (exec.c)? */
bool shim_user_copy_ok(void);
/* How deep this thread is in shim_block() (preload.c). */
extern __thread int shim_blocked_depth;
/* The program's sigaltstack(): see exec.c. */
int shim_sigaltstack(const stack_t *ss, stack_t *old);
/* The vDSO function's labels (entry.S). */
extern char softsgx_vdso_enter[], softsgx_vdso_enclu[], softsgx_vdso_exception[];
void softsgx_sigentry(int sig, siginfo_t *si, void *uc);
void softsgx_get_fsgs(uint64_t out[2]);
void softsgx_set_fsgs(const uint64_t in[2]);
extern int softsgx_have_fsgsbase;
extern unsigned long softsgx_slots_base, softsgx_slots_span;

/* ---- vdso.c ---- */
unsigned long shim_vdso_image(void);

/* ---- cpuid.c, cpuid_patch.c ---- */
/* SOFTSGX_CPUID's mode, set up; -1 for a value that is not one. */
int shim_cpuid_init(void);
/*
 * Emulate the CPUID that raised @sig at uc's RIP: a CPUID under faulting
 * (SIGSEGV) or a rewritten one (SIGILL); false when it is neither.
 */
bool shim_cpuid_emulate(int sig, ucontext_t *uc);
int shim_cpuid_patch_init(void);
/* Is @rip a CPUID the shim rewrote?  Lock-free, for the handler. */
bool shim_cpuid_is_site(unsigned long rip);
bool shim_cpuid_loader_trap(ucontext_t *uc);
/* In a forked child: only the calling thread is left. */
void shim_cpuid_after_fork(void);

/* Every asynchronous signal, for masks. */
void shim_async_mask(sigset_t *set);
/* ---- sigmask.c ---- */
void shim_sigmask_init(void);
void shim_sigmask_resolve(void);
void shim_sigmask_adopt(sigset_t *kmask);
void shim_sigmask_reopen(void);
unsigned int shim_sigmask_wish(void);
void shim_sigmask_frame_return(unsigned int wish, sigset_t *mask);
void softsgx_app_return(ucontext_t *uc);
void shim_sigmask_after_fork(void);
int shim_sig_blocked_for_app(int sig, const siginfo_t *si);
int shim_sigtimedwait_sys(const sigset_t *set, siginfo_t *info, const struct timespec *ts);
/* Block every asynchronous signal (restore with shim_unblock). */
void shim_block(sigset_t *old);
void shim_unblock(const sigset_t *old);
/* Raw syscalls, never our interposers. */
long shim_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int shim_sys_munmap(void *addr, size_t len);
int shim_sys_mprotect(void *addr, size_t len, int prot);
int shim_sys_close(int fd);
void shim_die(const char *msg);
void shim_log(const char *msg);

/* ---- share.c: fork sharing ---- */
extern bool shim_share;      /* SOFTSGX_FORK=share */
int shim_share_load(void);
struct sgx_mm *shim_mm_new(void);
int shim_agent_start(void);
/* Before a fork: the child's agent stack (share.c). */
void shim_agent_fork_prepare(void);
struct shim_encl_rec *shim_rec_new(struct sgx_encl *encl);
void shim_rec_released(struct sgx_encl *encl);
void shim_rec_free(struct shim_encl_rec *r);
void shim_rec_drop(struct shim_encl_rec *r);
void shim_rec_let_go(struct shim_encl_rec *r, struct sgx_mm *mm);
/* The driver's zap and kick on another process's address space. */
void shim_forward_zap(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		      unsigned long len);
void shim_forward_kick(struct sgx_mm *mm, struct sgx_encl *encl);
struct sgx_driver *shim_shared_driver_lock(void);
void shim_shared_driver_unlock(struct sgx_driver *created);
bool shim_ksgxd_claim(void);
void shim_ksgxd_release(void);
/* Is this the family's last process with a share of the driver? */
bool shim_share_last(void);
/* Does any process of the family hold an enclave file? */
bool shim_share_held(void);
/* This process holds @r / lets go of it. */
void shim_rec_hold(struct shim_encl_rec *r);
void shim_rec_unhold(struct shim_encl_rec *r);
/* Let go of what processes that ended without doing so held. */
void shim_share_reap(void);
/* At exit: this process's address space leaves the family (after its files). */
void shim_mm_leave(void);
/* Ask this process's agent to run ksgxd if its process is gone (async-signal-safe). */
void shim_ksgxd_nudge(void);
/* At exit: have another live process of the family run ksgxd. */
void shim_ksgxd_hand_over(void);
/* real.c: ksgxd for a family whose ksgxd process left; leaving at exit. */
void shim_ksgxd_adopt(void);
void shim_real_exit(void);
void shim_real_before_exec(void);
/* files.c: the files this process holds, let go at exit; a child's share. */
void shim_files_exit(void);
void shim_files_share_child(void);
void shim_files_fork_prepare(void);
void shim_files_fork_failed(void);
/* real.c: the zap in this process's address space. */
void shim_zap_local(struct sgx_encl *encl, unsigned long addr, unsigned long len);

#endif
