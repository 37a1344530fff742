// SPDX-License-Identifier: MIT
/*
 * syscall(3) for the numbers the shim interposes at the libc level: each is
 * handed to that same interposer, so that syscall(SYS_openat, ...) on
 * /dev/sgx_enclave or syscall(SYS_mmap, ...) of an enclave fd does what
 * openat() and mmap() do, with syscall()'s convention (the result, or -1
 * and errno).  Also the calls only syscall() reaches: openat2, and
 * rt_sigaction with the kernel's struct.  And paths relative to a
 * directory fd, for every open and stat of the device nodes.
 */
/* The 64-bit names below are separate symbols: no redirection in the headers. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

/*
 * Every number routed below.  A number in this list without a case in
 * shim_syscall_routed() still reaches the kernel, only more slowly.
 */
#define ROUTED(X, w)                                                                       \
	(X(SYS_read, w) | X(SYS_write, w) | X(SYS_open, w) | X(SYS_close, w) |             \
	 X(SYS_stat, w) | X(SYS_fstat, w) | X(SYS_lstat, w) | X(SYS_lseek, w) |            \
	 X(SYS_mmap, w) | X(SYS_mprotect, w) | X(SYS_munmap, w) | X(SYS_rt_sigaction, w) | \
	 X(SYS_ioctl, w) | X(SYS_pread64, w) | X(SYS_pwrite64, w) | X(SYS_readv, w) |      \
	 X(SYS_writev, w) | X(SYS_access, w) | X(SYS_mremap, w) | X(SYS_dup, w) |          \
	 X(SYS_dup2, w) | X(SYS_sendfile, w) | X(SYS_fcntl, w) | X(SYS_fsync, w) |         \
	 X(SYS_fdatasync, w) | X(SYS_ftruncate, w) | X(SYS_creat, w) | X(SYS_prctl, w) |   \
	 X(SYS_openat, w) | X(SYS_newfstatat, w) | X(SYS_faccessat, w) | X(SYS_splice, w) | \
	 X(SYS_fallocate, w) | X(SYS_dup3, w) | X(SYS_preadv, w) | X(SYS_pwritev, w) |     \
	 X(SYS_preadv2, w) | X(SYS_pwritev2, w) | X(SYS_statx, w) |                        \
	 X(SYS_copy_file_range, w) | X(SYS_close_range, w) | X(SYS_openat2, w) |           \
	 X(SYS_faccessat2, w) | X(SYS_rt_sigprocmask, w) | X(SYS_readlink, w) |            \
	 X(SYS_readlinkat, w) | X(SYS_execve, w) | X(SYS_execveat, w) |                   \
	 X(SYS_rt_sigpending, w) | X(SYS_rt_sigtimedwait, w) | X(SYS_sigaltstack, w))
#define ROUTED_BIT(n, w) ((n) / 64 == (w) ? 1ULL << ((n) % 64) : 0)

_Static_assert(SHIM_SYS_WORDS == 7, "one initializer per word");
_Static_assert(SYS_faccessat2 < SHIM_SYS_WORDS * 64 && SYS_openat2 < SHIM_SYS_WORDS * 64,
	       "every routed number has its bit");

const uint64_t shim_sys_routed[SHIM_SYS_WORDS] = {
	ROUTED(ROUTED_BIT, 0), ROUTED(ROUTED_BIT, 1), ROUTED(ROUTED_BIT, 2),
	ROUTED(ROUTED_BIT, 3), ROUTED(ROUTED_BIT, 4), ROUTED(ROUTED_BIT, 5),
	ROUTED(ROUTED_BIT, 6),
};

/* The kernel's failure, as syscall() reports it (rawsys.S jumps here). */
long shim_syscall_error(long r)
{
	errno = (int)-r;
	return -1;
}

/*
 * The directory @dirfd names (AT_FDCWD: the working directory), from
 * /proc/self, into @buf.  False when it has no absolute name.
 */
static bool dir_name(int dirfd, char *buf, size_t size)
{
	char link[40];
	long n;

	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/self/cwd");
	else if (dirfd >= 0)
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	else
		return false;
	n = syscall(SYS_readlinkat, AT_FDCWD, link, buf, size - 1);
	if (n <= 0 || buf[0] != '/')
		return false;
	buf[n] = 0;
	return true;
}

/* @dir, '/' and @path, lexically resolved, into @buf (which may be @dir, not @path). */
static bool join(const char *dir, const char *path, char *buf, size_t size)
{
	size_t d = strlen(dir), p = strlen(path);

	if (d + 1 + p >= size)
		return false;
	memmove(buf, dir, d);
	buf[d] = '/';
	memcpy(buf + d + 1, path, p + 1);
	return shim_path_lexical(buf, buf, size);
}

const char *shim_at_path(int dirfd, const char *path, char *buf, size_t size)
{
	if (!path || path[0] == '/')
		return path;
	/* Only names that can reach a node cost a readlink. */
	if (!strstr(path, "sgx_"))
		return NULL;
	if (!dir_name(dirfd, buf, size) || !join(buf, path, buf, size))
		return NULL;
	return buf;
}

/* creat(): libc's opens the file itself, past our open(). */
SHIM_API int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

SHIM_API int creat64(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* ---- openat2(2) ---- */

#define OPEN_FLAGS_VALID                                                                  \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | \
	 O_ASYNC | O_DIRECT | 0100000 /* O_LARGEFILE */ | O_DIRECTORY | O_NOFOLLOW |          \
	 O_NOATIME | O_CLOEXEC | O_PATH | __O_TMPFILE | O_SYNC)
#define RESOLVE_VALID                                                                     \
	(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |    \
	 RESOLVE_IN_ROOT | RESOLVE_CACHED)

/* The kernel's checks of struct open_how, in its order (0: valid). */
static int open_how_check(const struct open_how *how)
{
	if (how->flags & ~(uint64_t)OPEN_FLAGS_VALID)
		return -EINVAL;
	if (how->resolve & ~(uint64_t)RESOLVE_VALID)
		return -EINVAL;
	if ((how->resolve & RESOLVE_BENEATH) && (how->resolve & RESOLVE_IN_ROOT))
		return -EINVAL;
	if (how->flags & (O_CREAT | __O_TMPFILE)) {
		if (how->mode & ~(uint64_t)07777)
			return -EINVAL;
	} else if (how->mode) {
		return -EINVAL;
	}
	if ((how->flags & (O_DIRECTORY | O_CREAT)) == (O_DIRECTORY | O_CREAT))
		return -EINVAL;
	if ((how->flags & __O_TMPFILE) &&
	    ((how->flags & (__O_TMPFILE | O_CREAT)) != __O_TMPFILE || !(how->flags & O_ACCMODE)))
		return -EINVAL;
	if ((how->flags & O_PATH) && (how->flags & ~(uint64_t)(O_PATH | O_DIRECTORY | O_NOFOLLOW |
							       O_CLOEXEC)))
		return -EINVAL;
	if ((how->resolve & RESOLVE_CACHED) && (how->flags & (O_TRUNC | O_CREAT | __O_TMPFILE)))
		return -EAGAIN;
	return 0;
}

/*
 * Which device node (dirfd, path) reaches under @resolve, as an absolute
 * path in @buf: NULL when none; *@err set when the walk itself fails.  The
 * nodes sit on their own mount (devtmpfs at /dev) and are no links.
 */
static const char *openat2_node(int dirfd, const char *path, uint64_t resolve, char *buf,
				size_t size, int *err)
{
	char dir[PATH_MAX];
	enum shim_kind k;
	const char *p;

	*err = 0;
	if (resolve & RESOLVE_IN_ROOT) {
		/* Rooted at dirfd: "/" and ".." stop there. */
		if (!strstr(path, "sgx_") || !dir_name(dirfd, buf, size) ||
		    !join("", path, dir, sizeof(dir)) || !join(buf, dir, buf, size))
			return NULL;
		p = buf;
	} else {
		p = shim_at_path(dirfd, path, buf, size);
	}
	if (!p || !shim_is_dev_path(p, &k))
		return NULL;
	/* A device fd's /proc/self/fd link is a magic link. */
	if ((resolve & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)) && shim_dev_link_target(p))
		*err = -ELOOP;
	if (resolve & RESOLVE_BENEATH) {
		/* Absolute, or above dirfd: the walk leaves it. */
		if (path[0] == '/' || !join("/\x01", path, dir, sizeof(dir)) ||
		    strncmp(dir, "/\x01/", 3))
			*err = -EXDEV;
	}
	if (resolve & RESOLVE_NO_XDEV) {
		/* Only a walk that starts in /dev and stays there crosses no mount. */
		if ((path[0] == '/' && !(resolve & RESOLVE_IN_ROOT)) ||
		    !dir_name(dirfd, dir, sizeof(dir)) || strcmp(dir, "/dev") ||
		    !join("/\x01", path, dir, sizeof(dir)) || strncmp(dir, "/\x01/", 3))
			*err = -EXDEV;
	}
	return p;
}

static long raw_openat2(int dirfd, const char *path, const struct open_how *uhow, size_t size)
{
	char buf[PATH_MAX];
	struct open_how how;
	const char *node;
	int err;

	if (!path || size < sizeof(how) || size > 4096)
		return syscall(SYS_openat2, dirfd, path, uhow, size);
	memcpy(&how, uhow, sizeof(how));
	node = openat2_node(dirfd, path, how.resolve, buf, sizeof(buf), &err);
	if (!node) {
		long fd = syscall(SYS_openat2, dirfd, path, uhow, size);

		return fd < 0 ? fd : shim_auxv_fixup((int)fd, path, (int)how.flags);
	}
	/* A larger struct from a newer program: its extra bytes must be zero. */
	for (size_t i = sizeof(how); i < size; i++)
		if (((const char *)uhow)[i])
			return shim_syscall_error(-E2BIG);
	/* The struct is checked before the walk starts. */
	if (open_how_check(&how))
		err = open_how_check(&how);
	if (err)
		return shim_syscall_error(err);
	return openat(AT_FDCWD, node, (int)how.flags, (mode_t)how.mode);
}

/* ---- rt_sigaction(2): the kernel's struct ---- */

struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static long raw_sigaction(int sig, const struct ksigaction *act, struct ksigaction *old,
			  size_t setsize)
{
	struct sigaction a, o;
	int r = 1;

	if (setsize == sizeof(act->mask)) {
		memset(&a, 0, sizeof(a));
		if (act) {
			a.sa_handler = act->handler;
			a.sa_flags = (int)act->flags;
			a.sa_restorer = act->restorer;
			memcpy(&a.sa_mask, &act->mask, sizeof(act->mask));
		}
		r = shim_sigaction(sig, act ? &a : NULL, &o);
	}
	/* Not a signal the shim holds (or a bad size): the kernel's own answer. */
	if (r == 1)
		return syscall(SYS_rt_sigaction, sig, act, old, setsize);
	if (!r && old) {
		old->handler = o.sa_handler;
		old->flags = (unsigned int)o.sa_flags;
		old->restorer = o.sa_restorer;
		memcpy(&old->mask, &o.sa_mask, sizeof(old->mask));
	}
	return r;
}

/* The kernel's 8-byte sigset in and out of sigprocmask(), which sigmask.c holds. */
static long raw_sigprocmask(int how, const void *set, void *old, size_t setsize)
{
	sigset_t s, o;

	if (setsize != 8)
		return syscall(SYS_rt_sigprocmask, how, set, old, setsize);
	memset(&s, 0, sizeof(s));
	if (set)
		memcpy(&s, set, 8);
	if (sigprocmask(how, set ? &s : NULL, &o))
		return -1;
	if (old)
		memcpy(old, &o, 8);
	return 0;
}

/* The kernel's 8-byte sigset out of sigpending(). */
static long raw_sigpending(void *set, size_t setsize)
{
	sigset_t s;

	if (setsize > 8)
		return syscall(SYS_rt_sigpending, set, setsize);
	if (sigpending(&s))
		return -1;
	memcpy(set, &s, setsize);
	return 0;
}

/* The kernel's 8-byte sigset: a signal sigmask.c holds is taken first. */
static long raw_sigtimedwait(const void *set, siginfo_t *info, const struct timespec *ts,
			     size_t setsize)
{
	sigset_t s;

	if (setsize != 8 || !set)
		return syscall(SYS_rt_sigtimedwait, set, info, ts, setsize);
	memset(&s, 0, sizeof(s));
	memcpy(&s, set, 8);
	return shim_sigtimedwait_sys(&s, info, ts);
}

/* AT_EMPTY_PATH with a NULL path (Linux 6.11): the same as "". */
static const char *empty_path(const char *path, long flags)
{
	return !path && (flags & AT_EMPTY_PATH) ? "" : path;
}

/*
 * Does the I/O call on @fd fail before the kernel sees it?  On a device
 * file with @err; on one of the shim's own fds (@own) with EBADF.
 */
static bool io_refused(int fd, int err, bool own)
{
	if (own && shim_fd_internal(fd))
		err = EBADF;
	else if (!shim_file_of(fd))
		return false;
	errno = err;
	return true;
}

#define A(i, type) ((type)(a##i))

long shim_syscall_routed(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	switch (nr) {
	/*
	 * The I/O calls the device files refuse (preload.c): after the same
	 * checks, the kernel's own call, as syscall() makes it (libc's read()
	 * and fsync() are cancellation points, syscall() is not).
	 */
	case SYS_read: case SYS_write: case SYS_pread64: case SYS_pwrite64:
	case SYS_readv: case SYS_writev: case SYS_preadv: case SYS_pwritev:
	case SYS_preadv2: case SYS_pwritev2: case SYS_fsync: case SYS_fdatasync:
	case SYS_ftruncate:
		if (io_refused(A(1, int), EINVAL, true))
			return -1;
		break;
	case SYS_lseek:
		if (io_refused(A(1, int), ESPIPE, false))
			return -1;
		break;
	case SYS_fallocate:
		if (io_refused(A(1, int), ENODEV, false))
			return -1;
		break;
	case SYS_sendfile: /* out, in */
		if (io_refused(A(1, int), EINVAL, true) || io_refused(A(2, int), EINVAL, true))
			return -1;
		break;
	case SYS_splice: case SYS_copy_file_range: /* in, .., out: out first */
		if (io_refused(A(3, int), EINVAL, true) || io_refused(A(1, int), EINVAL, true))
			return -1;
		break;
	case SYS_open:
		return open(A(1, const char *), A(2, int), A(3, mode_t));
	case SYS_creat:
		return open(A(1, const char *), O_CREAT | O_WRONLY | O_TRUNC, A(2, mode_t));
	case SYS_openat:
		return openat(A(1, int), A(2, const char *), A(3, int), A(4, mode_t));
	case SYS_openat2:
		return raw_openat2(A(1, int), A(2, const char *), A(3, const struct open_how *),
				   A(4, size_t));
	case SYS_stat:
		return stat(A(1, const char *), A(2, struct stat *));
	case SYS_lstat:
		return lstat(A(1, const char *), A(2, struct stat *));
	case SYS_fstat:
		return fstat(A(1, int), A(2, struct stat *));
	case SYS_newfstatat:
		return fstatat(A(1, int), empty_path(A(2, const char *), a4), A(3, struct stat *),
			       A(4, int));
	case SYS_statx:
		return statx(A(1, int), empty_path(A(2, const char *), a3), A(3, int),
			     A(4, unsigned int), A(5, struct statx *));
	case SYS_execve:
		return execve(A(1, const char *), A(2, char *const *), A(3, char *const *));
	case SYS_execveat:
		return execveat(A(1, int), A(2, const char *), A(3, char *const *),
				A(4, char *const *), A(5, int));
	case SYS_readlink:
		return readlink(A(1, const char *), A(2, char *), A(3, size_t));
	case SYS_readlinkat:
		return readlinkat(A(1, int), A(2, const char *), A(3, char *), A(4, size_t));
	case SYS_access:
		return access(A(1, const char *), A(2, int));
	case SYS_faccessat:
		return faccessat(A(1, int), A(2, const char *), A(3, int), 0);
	case SYS_faccessat2:
		return faccessat(A(1, int), A(2, const char *), A(3, int), A(4, int));
	case SYS_ioctl:
		return ioctl(A(1, int), A(2, unsigned long), a3);
	case SYS_mmap:
		return (long)mmap(A(1, void *), A(2, size_t), A(3, int), A(4, int), A(5, int),
				  A(6, off_t));
	case SYS_mprotect:
		return mprotect(A(1, void *), A(2, size_t), A(3, int));
	case SYS_munmap:
		return munmap(A(1, void *), A(2, size_t));
	case SYS_mremap:
		return (long)mremap(A(1, void *), A(2, size_t), A(3, size_t), A(4, int),
				    A(5, void *));
	case SYS_close:
		return close(A(1, int));
	case SYS_close_range:
		return close_range(A(1, unsigned int), A(2, unsigned int), A(3, int));
	case SYS_dup:
		return dup(A(1, int));
	case SYS_dup2:
		return dup2(A(1, int), A(2, int));
	case SYS_dup3:
		return dup3(A(1, int), A(2, int), A(3, int));
	case SYS_fcntl:
		return fcntl(A(1, int), A(2, int), a3);
	case SYS_rt_sigaction:
		return raw_sigaction(A(1, int), A(2, const struct ksigaction *),
				     A(3, struct ksigaction *), A(4, size_t));
	case SYS_rt_sigprocmask:
		return raw_sigprocmask(A(1, int), A(2, const void *), A(3, void *), A(4, size_t));
	case SYS_rt_sigpending:
		return raw_sigpending(A(1, void *), A(2, size_t));
	case SYS_sigaltstack:
		return shim_sigaltstack(A(1, const stack_t *), A(2, stack_t *));
	case SYS_rt_sigtimedwait:
		return raw_sigtimedwait(A(1, const void *), A(2, siginfo_t *),
					A(3, const struct timespec *), A(4, size_t));
	case SYS_prctl:
		return shim_prctl(A(1, int), a2, a3, a4, a5);
	default:
		break;
	}
	return syscall(nr, a1, a2, a3, a4, a5, a6);
}
