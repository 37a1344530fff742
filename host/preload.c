// SPDX-License-Identifier: MIT
/*
 * The libc entry points the shim interposes (LD_PRELOAD).  Each one hands
 * SGX device files and enclave memory to files.c and passes everything
 * else straight to the kernel or to libc's own function, untouched.  Errors
 * are the kernel's: -1 with errno.
 */
/* The 64-bit names below are separate symbols: no redirection in the headers. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <linux/close_range.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>
#include <urcu-bp.h>

#include "rawsys.h"
#include "shim.h"
#include "stub.h"

int (*shim_real_sigaction)(int, const struct sigaction *, struct sigaction *);
static unsigned long (*real_getauxval)(unsigned long);
static int (*real_fcntl)(int, int, ...);
static int (*real_stat)(const char *, struct stat *);
static int (*real_lstat)(const char *, struct stat *);
static int (*real_fstat)(int, struct stat *);
static int (*real_fstatat)(int, const char *, struct stat *, int);
static int (*real_xstat)(int, const char *, struct stat *);
static int (*real_fxstat)(int, int, struct stat *);
static int (*real_access)(const char *, int);
static int (*real_faccessat)(int, const char *, int, int);
static int (*real_statx)(int, const char *, int, unsigned int, struct statx *);

long shim_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	return r == -1 ? -errno : r;
}

int shim_sys_munmap(void *addr, size_t len)
{
	return syscall(SYS_munmap, addr, len) ? -errno : 0;
}

int shim_sys_mprotect(void *addr, size_t len, int prot)
{
	return syscall(SYS_mprotect, addr, len, prot) ? -errno : 0;
}

int shim_sys_close(int fd)
{
	return syscall(SYS_close, fd) ? -errno : 0;
}

/*
 * Every asynchronous signal.  Synchronous ones stay open: the kernel kills
 * a thread that raises a blocked one, and code in here does raise them
 * (CPUID under CPUID faulting, a fault on enclave memory).
 */
void shim_async_mask(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGTRAP);
}

/* Inside shim_block(): SIGSEGV and SIGBUS are open (shim_user_copy_ok()). */
__thread int shim_blocked_depth __attribute__((tls_model("initial-exec")));

/* The kernel's mask itself: the program's view (sigmask.c) is not ours. */
void shim_block(sigset_t *old)
{
	sigset_t all;

	shim_async_mask(&all);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, _NSIG / 8);
	shim_blocked_depth++;
}

void shim_unblock(const sigset_t *old)
{
	shim_blocked_depth--;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, _NSIG / 8);
}

void shim_log(const char *msg)
{
	(void)!write(2, msg, strlen(msg));
}

void shim_die(const char *msg)
{
	shim_log(msg);
	syscall(SYS_exit_group, 127); /* not our _exit(): nothing more may run */
	for (;;)
		;
}

static int ret_errno(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

/*
 * fork: the tables must be whole in the child, so the parent holds
 * shim.lock (with every signal blocked, as always) across the fork.
 */
static sigset_t fork_mask;

/*
 * The driver's RCU (liburcu-bp) keeps a registry of reader threads: a
 * child would inherit the entries of threads it does not have, one of them
 * maybe inside a read section for good, and its driver's first grace period
 * would wait forever.  liburcu asks for its fork handlers around any fork
 * whose child goes on without exec.  Its lock goes first: a thread waiting
 * in a grace period must not wait for shim.lock through a reader.
 */
static void fork_prepare(void)
{
	sigset_t old;

	shim_agent_fork_prepare();
	urcu_bp_before_fork();
	shim_block(&old);
	pthread_mutex_lock(&shim.lock);
	fork_mask = old;
	shim_stub_fork_prepare();
	shim_files_fork_prepare();
}

static void fork_parent(void)
{
	sigset_t old = fork_mask;

	shim_stub_fork_parent();
	pthread_mutex_unlock(&shim.lock);
	shim_unblock(&old);
	urcu_bp_after_fork_parent();
}

/*
 * The child.  Its enclave and vEPC mappings were MADV_DONTFORK (userfaultfd
 * registrations do not survive a fork, so an inherited window mapping would
 * show the enclave without the driver, and let the child fill its holes).
 * With fork sharing (the default) the child keeps the family's platform and
 * driver, and maps its enclave ranges again under its own userfaultfd and
 * address space (share.c).  Detached, each enclave range becomes one that
 * reads as all ones, the way EPC reads outside enclave mode, and the
 * parent's driver is frozen here: the child's first open starts its own.
 * The order matters: files.c still needs the shim's fds listed, and the
 * child's enclave ranges need its new userfaultfd and address space.
 */
static void child_after_fork(void)
{
	sigset_t old = fork_mask;

	shim_files_after_fork();
	shim_real_after_fork(); /* also makes shim.lock a new, free mutex */
	shim_files_share_child(); /* fork sharing: needs the child's own address space */
	shim_exec_after_fork();
	shim_sigmask_after_fork();
	shim_cpuid_after_fork();
	shim_unblock(&old);
	/*
	 * Last: it restores the mask it saved through sigprocmask(), ours,
	 * which must know this is the child already.  Nothing before it
	 * uses RCU (the child's driver starts at its first open).
	 */
	urcu_bp_after_fork_child();
}

/*
 * fork() itself, for what its handlers cannot tell: whether there is a
 * child.  Fork sharing counted the child's files before the fork; a failed
 * fork gives the counts back.
 */
SHIM_API pid_t fork(void)
{
	static pid_t (*real_fork)(void);
	pid_t pid;

	if (!real_fork)
		real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	if (!real_fork) {
		errno = ENOSYS;
		return -1;
	}
	pid = real_fork();
	if (pid < 0 && shim_share) {
		int e = errno;

		shim_files_fork_failed();
		errno = e;
	}
	return pid;
}

/*
 * _exit() and _Exit() skip atexit: with fork sharing this process must
 * still leave the family's driver cleanly (its ksgxd stopped between two
 * pages, not killed holding a lock; its files let go).  Forked children
 * often end so.
 */
SHIM_API void _exit(int status)
{
	shim_real_exit();
	syscall(SYS_exit_group, status);
	for (;;)
		;
}

SHIM_API void _Exit(int status)
{
	_exit(status);
}

/* Enclaves whose last reference is gone but whose release is still running. */
static bool releases_pending(void)
{
	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_file *f = atomic_load(&shim.files[i]);

		if (f && f->dead)
			return true;
	}
	return false;
}

static void io_resolve(void);
static void resolve_early(void);
static void shim_load(void);

static void at_exit_stats(void)
{
	/* Fork sharing: children that ended by _exit leave their share to us. */
	if (shim.ready)
		shim_share_reap();
	if (!shim.stats) {
		shim_real_exit();
		return;
	}
	/*
	 * The driver's last put of an enclave may fall to ksgxd, which still
	 * holds it for a reclaim batch: let those releases end (at most 5 s),
	 * so that the counters show what the program left, not a race.
	 */
	for (int i = 0; i < 5000 && releases_pending(); i++)
		usleep(1000);
	shim_print_stats();
	shim_real_exit();
}

static void shim_load_once(void)
{
	resolve_early();
	real_fcntl = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
	real_stat = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT, "stat");
	real_lstat = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT, "lstat");
	real_fstat = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
	real_fstatat = (int (*)(int, const char *, struct stat *, int))dlsym(RTLD_NEXT, "fstatat");
	real_xstat = (int (*)(int, const char *, struct stat *))dlsym(RTLD_NEXT, "__xstat");
	real_fxstat = (int (*)(int, int, struct stat *))dlsym(RTLD_NEXT, "__fxstat");
	real_access = (int (*)(const char *, int))dlsym(RTLD_NEXT, "access");
	real_faccessat = (int (*)(int, const char *, int, int))dlsym(RTLD_NEXT, "faccessat");
	real_statx = (int (*)(int, const char *, int, unsigned int, struct statx *))
		dlsym(RTLD_NEXT, "statx");
	io_resolve();
	if (!shim_real_sigaction)
		shim_die("softsgx: cannot find libc's sigaction\n");
	if (shim_platform_init())
		shim_die("softsgx: cannot create the SGX platform (check SOFTSGX_EPC)\n");
	if (shim_exec_init())
		shim_die("softsgx: cannot set up enclave execution\n");
	shim_stub_init();
	shim_sigmask_init();
	shim_sigmask_resolve();
	if (shim_cpuid_init()) {
		/* A usage error, as for a bad SOFTSGX_CGROUPS. */
		shim_log("softsgx: SOFTSGX_CPUID: want auto, fault, rewrite or off\n");
		_exit(2);
	}
	pthread_atfork(fork_prepare, fork_parent, child_after_fork);
	atexit(at_exit_stats);
}

/*
 * Our constructor, or earlier: a device opened from the constructor of a
 * library the loader initialises before us needs the platform and the
 * signal handlers already.
 */
__attribute__((constructor)) static void shim_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, shim_load_once);
}

/* ---- open ---- */

static int do_open(int dirfd, const char *path, int flags, mode_t mode)
{
	char buf[PATH_MAX];
	const char *node = shim_at_path(dirfd, path, buf, sizeof(buf));
	enum shim_kind k;
	int fd;

	/* A device fd's /proc/self/fd link, not followed: the kernel's link itself. */
	if (node && (flags & (O_NOFOLLOW | O_PATH)) == (O_NOFOLLOW | O_PATH) &&
	    shim_dev_link_target(node))
		node = NULL;
	if (node && shim_is_dev_path(node, &k)) {
		if (!shim.exec_ready)
			shim_load();
		/* O_PATH keeps these flags alone (open(2)). */
		if (flags & O_PATH)
			flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		/* The node exists and is no directory. */
		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
			return ret_errno(-EEXIST);
		if (flags & O_DIRECTORY)
			return ret_errno(-ENOTDIR);
		/* ... and a /proc/self/fd link is a (magic) symbolic link. */
		if ((flags & O_NOFOLLOW) && shim_dev_link_target(node))
			return ret_errno(-ELOOP);
		return ret_errno(shim_dev_open(node, flags));
	}
	/* The shim's own fds are not there for the program (nor on Linux). */
	if (shim_is_internal_link(node))
		return ret_errno(-ENOENT);
	fd = (int)syscall(SYS_openat, dirfd, path, flags, mode);
	return fd < 0 ? fd : shim_auxv_fixup(fd, path, flags);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

SHIM_API int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, m);
}

/* The same entry on x86-64, where off_t is 64 bits (glibc aliases them too). */
SHIM_API int open64(const char *path, int flags, ...) __attribute__((alias("open")));

SHIM_API int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, m);
}

SHIM_API int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

SHIM_API int __open_2(const char *path, int flags)
{
	return do_open(AT_FDCWD, path, flags, 0);
}

SHIM_API int __open64_2(const char *path, int flags)
{
	return do_open(AT_FDCWD, path, flags, 0);
}

SHIM_API int __openat_2(int dirfd, const char *path, int flags)
{
	return do_open(dirfd, path, flags, 0);
}

SHIM_API int __openat64_2(int dirfd, const char *path, int flags)
{
	return do_open(dirfd, path, flags, 0);
}

/* ---- stat ---- */

/* Does (@dirfd, @path) name a device node? */
static bool dev_at(int dirfd, const char *path, enum shim_kind *k)
{
	char buf[PATH_MAX];
	const char *node = shim_at_path(dirfd, path, buf, sizeof(buf));

	return node && shim_is_dev_path(node, k);
}

static bool dev_stat(int dirfd, const char *path, struct stat *st)
{
	enum shim_kind k;

	if (!dev_at(dirfd, path, &k))
		return false;
	shim_fake_stat(k, st);
	return true;
}

/* An fd of ours: 1 and *@st filled, -1 (EBADF) for the shim's own, else 0. */
static int fd_stat(int fd, struct stat *st)
{
	struct shim_file *f = shim_fd_record(fd);

	if (shim_fd_internal(fd))
		return ret_errno(-EBADF);
	if (!f)
		return 0;
	shim_fake_stat(f->kind, st);
	return 1;
}

SHIM_API int stat(const char *path, struct stat *st)
{
	if (dev_stat(AT_FDCWD, path, st))
		return 0;
	return real_stat ? real_stat(path, st) : (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

SHIM_API int stat64(const char *path, struct stat64 *st)
{
	return stat(path, (struct stat *)st);
}

/*
 * A /proc/self/fd link of a device fd, not followed: the link itself (the
 * kernel's answer for our memfd's link is a link too).
 */
static bool dev_link_nofollow(int flags, const char *path)
{
	return (flags & AT_SYMLINK_NOFOLLOW) && shim_dev_link_target(path);
}

SHIM_API int lstat(const char *path, struct stat *st)
{
	if (!dev_link_nofollow(AT_SYMLINK_NOFOLLOW, path) && dev_stat(AT_FDCWD, path, st))
		return 0;
	return real_lstat ? real_lstat(path, st) :
			    (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

SHIM_API int lstat64(const char *path, struct stat64 *st)
{
	return lstat(path, (struct stat *)st);
}

SHIM_API int fstat(int fd, struct stat *st)
{
	int h = fd_stat(fd, st);

	if (h)
		return h > 0 ? 0 : -1;
	return real_fstat ? real_fstat(fd, st) : (int)syscall(SYS_fstat, fd, st);
}

SHIM_API int fstat64(int fd, struct stat64 *st)
{
	return fstat(fd, (struct stat *)st);
}

static int do_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	int h = (flags & AT_EMPTY_PATH) && path && !*path ? fd_stat(dirfd, st) : 0;

	if (h)
		return h > 0 ? 0 : -1;
	if (!dev_link_nofollow(flags, path) && dev_stat(dirfd, path, st))
		return 0;
	return real_fstatat ? real_fstatat(dirfd, path, st, flags) :
			      (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

SHIM_API int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return do_fstatat(dirfd, path, st, flags);
}

SHIM_API int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return do_fstatat(dirfd, path, (struct stat *)st, flags);
}

int __xstat(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);

SHIM_API int __xstat(int ver, const char *path, struct stat *st)
{
	if (dev_stat(AT_FDCWD, path, st))
		return 0;
	return real_xstat ? real_xstat(ver, path, st) : stat(path, st);
}

SHIM_API int __xstat64(int ver, const char *path, struct stat64 *st)
{
	return __xstat(ver, path, (struct stat *)st);
}

SHIM_API int __fxstat(int ver, int fd, struct stat *st)
{
	int h = fd_stat(fd, st);

	if (h)
		return h > 0 ? 0 : -1;
	return real_fxstat ? real_fxstat(ver, fd, st) : fstat(fd, st);
}

SHIM_API int __fxstat64(int ver, int fd, struct stat64 *st)
{
	return __fxstat(ver, fd, (struct stat *)st);
}

/* statx(2) of the device nodes, from what stat(2) says of them. */
static void fake_statx(enum shim_kind kind, struct statx *sx)
{
	struct stat st;

	shim_fake_stat(kind, &st);
	memset(sx, 0, sizeof(*sx));
	sx->stx_mask = STATX_BASIC_STATS;
	sx->stx_blksize = (uint32_t)st.st_blksize;
	sx->stx_nlink = (uint32_t)st.st_nlink;
	sx->stx_uid = st.st_uid;
	sx->stx_gid = st.st_gid;
	sx->stx_mode = (uint16_t)st.st_mode;
	sx->stx_ino = st.st_ino;
	sx->stx_rdev_major = major(st.st_rdev);
	sx->stx_rdev_minor = minor(st.st_rdev);
	sx->stx_dev_major = major(st.st_dev);
	sx->stx_dev_minor = minor(st.st_dev);
}

SHIM_API int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
	struct shim_file *f;
	enum shim_kind k;

	if ((flags & AT_EMPTY_PATH) && !*path && shim_fd_internal(dirfd))
		return ret_errno(-EBADF);
	if ((flags & AT_EMPTY_PATH) && !*path && (f = shim_fd_record(dirfd))) {
		fake_statx(f->kind, sx);
		return 0;
	}
	if (!dev_link_nofollow(flags, path) && dev_at(dirfd, path, &k)) {
		fake_statx(k, sx);
		return 0;
	}
	return real_statx ? real_statx(dirfd, path, flags, mask, sx) :
			    (int)syscall(SYS_statx, dirfd, path, flags, mask, sx);
}

/* readlink(2): a /proc/self/fd link of a device fd points to the node. */
SHIM_API ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	const char *target = (ssize_t)size > 0 ? shim_dev_link_target(path) : NULL;
	size_t n;

	if (!target)
		return syscall(SYS_readlinkat, dirfd, path, buf, size);
	n = strlen(target) < size ? strlen(target) : size;
	memcpy(buf, target, n);
	return (ssize_t)n;
}

SHIM_API ssize_t readlink(const char *path, char *buf, size_t size)
{
	return readlinkat(AT_FDCWD, path, buf, size);
}

/* access(2) of a device node: no execute bit, else allowed (open is). */
static int dev_access(int mode)
{
	return ret_errno((mode & X_OK) ? -EACCES : 0);
}

SHIM_API int access(const char *path, int mode)
{
	enum shim_kind k;

	if (dev_at(AT_FDCWD, path, &k))
		return dev_access(mode);
	return real_access ? real_access(path, mode) :
			     (int)syscall(SYS_faccessat, AT_FDCWD, path, mode);
}

SHIM_API int faccessat(int dirfd, const char *path, int mode, int flags)
{
	enum shim_kind k;

	if (dev_at(dirfd, path, &k))
		return dev_access(mode);
	return real_faccessat ? real_faccessat(dirfd, path, mode, flags) :
				(int)syscall(SYS_faccessat2, dirfd, path, mode, flags);
}

/*
 * ---- read, write, lseek, ftruncate, fallocate, fsync ----
 * The device files have none of these operations; behind an enclave fd is
 * the memfd that holds the enclave's pages, which must stay out of reach.
 * Linux: read/write EINVAL (no read or write method), lseek ESPIPE (no
 * llseek), ftruncate EINVAL (not a regular file), fallocate ENODEV, fsync
 * EINVAL.  Other fds go to libc's own functions (cancellation points).
 */
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_preadv2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static void io_resolve(void)
{
	real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_pread = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread64");
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	real_readv = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "readv");
	real_writev = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	real_preadv2 = (ssize_t (*)(int, const struct iovec *, int, off_t, int))
		dlsym(RTLD_NEXT, "preadv64v2");
	real_pwritev2 = (ssize_t (*)(int, const struct iovec *, int, off_t, int))
		dlsym(RTLD_NEXT, "pwritev64v2");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
}

#define DEV_FD_FAILS(fd, err)                                   \
	do {                                                    \
		if (shim_file_of(fd))                           \
			return ret_errno(-(err));               \
	} while (0)

/*
 * ...and the shim's own fds are not there at all (EBADF).  Not for lseek
 * and fallocate: the driver calls them itself on its backing store's fd.
 */
#define DEV_OR_OWN_FD_FAILS(fd, err)                            \
	do {                                                    \
		if (shim_fd_internal(fd))                       \
			return ret_errno(-EBADF);               \
		DEV_FD_FAILS(fd, err);                          \
	} while (0)

SHIM_API ssize_t read(int fd, void *buf, size_t n)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_read ? real_read(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

SHIM_API ssize_t write(int fd, const void *buf, size_t n)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_write ? real_write(fd, buf, n) : syscall(SYS_write, fd, buf, n);
}

SHIM_API ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_pread ? real_pread(fd, buf, n, off) : syscall(SYS_pread64, fd, buf, n, off);
}

SHIM_API ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return pread64(fd, buf, n, off);
}

SHIM_API ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_pwrite ? real_pwrite(fd, buf, n, off) : syscall(SYS_pwrite64, fd, buf, n, off);
}

SHIM_API ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite64(fd, buf, n, off);
}

SHIM_API ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_readv ? real_readv(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt);
}

SHIM_API ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_writev ? real_writev(fd, iov, cnt) : syscall(SYS_writev, fd, iov, cnt);
}

/*
 * The positioned vector forms.  @off -1 means the file position only for
 * the v2 calls; preadv/pwritev refuse any negative offset.
 */
static ssize_t vec_io(bool wr, int fd, const struct iovec *iov, int cnt, off_t off, int flags,
		      bool v2)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	if (!v2 && off < 0)
		return ret_errno(-EINVAL);
	if (wr)
		return real_pwritev2 ? real_pwritev2(fd, iov, cnt, off, flags) :
				       syscall(SYS_pwritev2, fd, iov, cnt, off, 0, flags);
	return real_preadv2 ? real_preadv2(fd, iov, cnt, off, flags) :
			      syscall(SYS_preadv2, fd, iov, cnt, off, 0, flags);
}

SHIM_API ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return vec_io(false, fd, iov, cnt, off, flags, true);
}

SHIM_API ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
	__attribute__((alias("preadv64v2")));

SHIM_API ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return vec_io(false, fd, iov, cnt, off, 0, false);
}

SHIM_API ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
	__attribute__((alias("preadv64")));

SHIM_API ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return vec_io(true, fd, iov, cnt, off, flags, true);
}

SHIM_API ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
	__attribute__((alias("pwritev64v2")));

SHIM_API ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return vec_io(true, fd, iov, cnt, off, 0, false);
}

SHIM_API ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
	__attribute__((alias("pwritev64")));

SHIM_API off_t lseek64(int fd, off_t off, int whence)
{
	DEV_FD_FAILS(fd, ESPIPE);
	return syscall(SYS_lseek, fd, off, whence);
}

SHIM_API off_t lseek(int fd, off_t off, int whence)
{
	return lseek64(fd, off, whence);
}

SHIM_API int ftruncate64(int fd, off_t len)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return (int)syscall(SYS_ftruncate, fd, len);
}

SHIM_API int ftruncate(int fd, off_t len)
{
	return ftruncate64(fd, len);
}

SHIM_API int fallocate64(int fd, int mode, off_t off, off_t len)
{
	DEV_FD_FAILS(fd, ENODEV);
	return (int)syscall(SYS_fallocate, fd, mode, off, len);
}

SHIM_API int fallocate(int fd, int mode, off_t off, off_t len)
{
	return fallocate64(fd, mode, off, len);
}

SHIM_API int fsync(int fd)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_fsync ? real_fsync(fd) : (int)syscall(SYS_fsync, fd);
}

SHIM_API int fdatasync(int fd)
{
	DEV_OR_OWN_FD_FAILS(fd, EINVAL);
	return real_fdatasync ? real_fdatasync(fd) : (int)syscall(SYS_fdatasync, fd);
}

/* In-kernel copies: no splice methods on the devices, not regular files. */
SHIM_API ssize_t sendfile64(int out, int in, off_t *off, size_t n)
{
	DEV_OR_OWN_FD_FAILS(out, EINVAL);
	DEV_OR_OWN_FD_FAILS(in, EINVAL);
	return syscall(SYS_sendfile, out, in, off, n);
}

SHIM_API ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	return sendfile64(out, in, off, n);
}

SHIM_API ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
			unsigned int flags)
{
	DEV_OR_OWN_FD_FAILS(out, EINVAL);
	DEV_OR_OWN_FD_FAILS(in, EINVAL);
	return syscall(SYS_splice, in, off_in, out, off_out, n, flags);
}

SHIM_API ssize_t copy_file_range(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
				 unsigned int flags)
{
	DEV_OR_OWN_FD_FAILS(out, EINVAL);
	DEV_OR_OWN_FD_FAILS(in, EINVAL);
	return syscall(SYS_copy_file_range, in, off_in, out, off_out, n, flags);
}

/* ---- ioctl, mmap, mprotect, munmap ---- */

SHIM_API int ioctl(int fd, unsigned long req, ...)
{
	struct shim_file *f = shim_file_of(fd);
	unsigned long arg;
	va_list ap;

	va_start(ap, req);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	/* The shim's own fds (its userfaultfd too) do not exist for the program. */
	if (shim_fd_internal(fd))
		return ret_errno(-EBADF);
	if (!f)
		return (int)syscall(SYS_ioctl, fd, req, arg);
	return ret_errno(shim_ioctl(f, fd, req, arg));
}

SHIM_API void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shim_file *f = (flags & MAP_ANONYMOUS) ? NULL : shim_file_of(fd);
	long r;

	if (!(flags & MAP_ANONYMOUS) && shim_fd_internal(fd)) {
		errno = EBADF;
		return MAP_FAILED;
	}
	if (!f) {
		r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
		/* MAP_FIXED replaced whatever was there, enclave mappings too. */
		if (r != -1 && (flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE))
			shim_unmapped((void *)r, len);
		return (void *)r;
	}
	r = (long)shim_mmap(f, addr, len, prot, flags, off);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

SHIM_API void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return mmap(addr, len, prot, flags, fd, (off_t)off);
}

SHIM_API void *mremap(void *old_addr, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	bool handled;
	long r;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	r = shim_mremap(old_addr, old_len, new_len, flags, new_addr, &handled);
	if (!handled) {
		r = syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr);
		/* Moved over enclave memory: that mapping is gone. */
		if (r != -1 && (flags & MREMAP_FIXED))
			shim_unmapped((void *)r, new_len);
		return (void *)r;
	}
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

SHIM_API int munmap(void *addr, size_t len)
{
	bool handled;
	int r = shim_munmap(addr, len, &handled);

	if (!handled)
		return (int)syscall(SYS_munmap, addr, len);
	return ret_errno(r);
}

SHIM_API int mprotect(void *addr, size_t len, int prot)
{
	bool handled;
	int r = shim_mprotect(addr, len, prot, &handled);

	if (!handled)
		return (int)syscall(SYS_mprotect, addr, len, prot);
	return ret_errno(r);
}

/* ---- close and dup ---- */

SHIM_API int close(int fd)
{
	bool handled;
	int r = shim_close(fd, &handled);

	if (!handled)
		return (int)syscall(SYS_close, fd);
	return ret_errno(r);
}

static int (*real_fclose)(FILE *);

static int fclose_file(void *fp)
{
	return real_fclose(fp) ? -errno : 0;
}

/*
 * fclose() closes its fd inside libc, past our close(): a FILE over one of
 * our fds (fdopen() of one, or fopen() of a device node) must drop the
 * shim's record of the fd with it, or the number stays ours once reused.
 */
SHIM_API int fclose(FILE *fp)
{
	int fd = fp ? fileno(fp) : -1;
	bool handled = false;
	int r;

	if (!real_fclose)
		real_fclose = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
	if (fd < 0 || !shim_fd_record(fd))
		return real_fclose(fp);
	r = shim_close_by(fd, &handled, fclose_file, fp);
	if (!handled)
		return real_fclose(fp);
	if (r) {
		errno = -r;
		return EOF;
	}
	return 0;
}

/*
 * freopen() closes the old fd inside libc as fclose() does, and puts the
 * new file under the same number: the record of a device fd goes with it.
 * (A device node as the new path is not recognised: libc opens it itself.)
 */
struct reopen {
	FILE *(*real)(const char *, const char *, FILE *);
	const char *path, *mode;
	FILE *fp, *res;
};

static int reopen_file(void *arg)
{
	struct reopen *r = arg;

	r->res = r->real(r->path, r->mode, r->fp);
	return r->res ? 0 : -errno;
}

typedef FILE *freopen_t(const char *, const char *, FILE *);

static FILE *do_freopen(freopen_t **real, const char *name, const char *path, const char *mode,
			FILE *fp)
{
	struct reopen r = { .path = path, .mode = mode, .fp = fp };
	int fd = fp ? fileno(fp) : -1;
	bool handled = false;
	int e;

	if (!*real)
		*real = (freopen_t *)dlsym(RTLD_NEXT, name);
	r.real = *real;
	if (!r.real) {
		errno = ENOSYS;
		return NULL;
	}
	if (fd < 0 || !shim_fd_record(fd))
		return r.real(path, mode, fp);
	e = shim_close_by(fd, &handled, reopen_file, &r);
	if (!handled)
		return r.real(path, mode, fp);
	if (e)
		errno = -e;
	return r.res;
}

SHIM_API FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	static freopen_t *real;

	return do_freopen(&real, "freopen", path, mode, fp);
}

SHIM_API FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	static freopen_t *real;

	return do_freopen(&real, "freopen64", path, mode, fp);
}

/*
 * close_range(2): ours one by one (the shim's own fds stay open: the program
 * never had them), the rest in one go between them.
 */
SHIM_API int close_range(unsigned int first, unsigned int last, int flags)
{
	unsigned int from = first;

	if (flags & ~CLOSE_RANGE_CLOEXEC & ~CLOSE_RANGE_UNSHARE)
		return ret_errno(-EINVAL);
	if (first > last)
		return ret_errno(-EINVAL);
	if (flags & CLOSE_RANGE_UNSHARE) {
		/* Unshare first, so that the loop below works on the new table. */
		if (syscall(SYS_unshare, CLONE_FILES))
			return -1;
		flags &= ~CLOSE_RANGE_UNSHARE;
	}
	for (unsigned int fd = first; fd <= last && fd < SHIM_MAX_FDS; fd++) {
		bool handled;

		if (shim_fd_internal((int)fd)) {
			if (fd > from)
				syscall(SYS_close_range, from, fd - 1, flags);
			from = fd + 1;
		} else if (!(flags & CLOSE_RANGE_CLOEXEC) && shim_fd_record((int)fd)) {
			shim_close((int)fd, &handled);
		}
	}
	if (from > last)
		return 0;
	return (int)syscall(SYS_close_range, from, last, flags);
}

SHIM_API int dup(int fd)
{
	int r;

	if (shim_fd_internal(fd))
		return ret_errno(-EBADF);
	r = (int)syscall(SYS_dup, fd);

	if (r >= 0)
		shim_dup(fd, r);
	return r;
}

/* dup2/dup3 onto @nfd, which may be one of the shim's own numbers. */
static int dup_onto(int fd, int nfd, int flags, bool three)
{
	bool moved;
	int r;

	if (shim_fd_internal(fd))
		return ret_errno(-EBADF);
	moved = fd != nfd && shim_fd_evict(nfd);
	r = three ? (int)syscall(SYS_dup3, fd, nfd, flags) : (int)syscall(SYS_dup2, fd, nfd);

	if (r >= 0) {
		shim_dup(fd, r);
	} else if (moved) {
		int e = errno;

		shim_sys_close(nfd); /* it was never open, as far as the program knows */
		errno = e;
	}
	return r;
}

SHIM_API int dup2(int fd, int nfd)
{
	return dup_onto(fd, nfd, 0, false);
}

SHIM_API int dup3(int fd, int nfd, int flags)
{
	return dup_onto(fd, nfd, flags, true);
}

SHIM_API int fcntl(int fd, int cmd, ...)
{
	struct shim_file *f;
	va_list ap;
	long arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	/* The shim's own fds do not exist for the program. */
	if (shim_fd_internal(fd))
		return ret_errno(-EBADF);
	r = (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		shim_dup(fd, r);
	/* The memfd is read-write whatever the open asked for. */
	if (r >= 0 && cmd == F_GETFL && (f = shim_file_of(fd)))
		r = (r & ~O_ACCMODE) | f->accmode;
	return r;
}

SHIM_API int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}

/* ---- signals and the vDSO ---- */

/*
 * The constructors of the program's libraries run before ours (the loader
 * initialises preloaded objects after them): what they call must not need
 * shim_load() to have run.
 */
static void resolve_early(void)
{
	if (!shim_real_sigaction)
		shim_real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))
			dlsym(RTLD_NEXT, "sigaction");
	if (!real_getauxval)
		real_getauxval = (unsigned long (*)(unsigned long))dlsym(RTLD_NEXT, "getauxval");
}

SHIM_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int r = shim_sigaction(sig, act, old);

	if (r != 1)
		return r;
	if (!shim_real_sigaction)
		resolve_early();
	return shim_real_sigaction(sig, act, old);
}

SHIM_API int sigaltstack(const stack_t *ss, stack_t *old)
{
	return shim_sigaltstack(ss, old);
}

SHIM_API sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old))
		return SIG_ERR;
	return old.sa_handler;
}

SHIM_API unsigned long getauxval(unsigned long type)
{
	if (type == AT_SYSINFO_EHDR) {
		unsigned long v = shim_vdso_image();

		if (v)
			return v;
	}
	if (!real_getauxval)
		resolve_early();
	return real_getauxval ? real_getauxval(type) : 0;
}
