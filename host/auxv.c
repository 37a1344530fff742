// SPDX-License-Identifier: MIT
/*
 * The auxiliary vector as the program reads it from the kernel: the file
 * /proc/self/auxv (by any of this process's names for it) and
 * prctl(PR_GET_AUXV) show AT_SYSINFO_EHDR at the shim's vDSO image, as
 * getauxval() does, and every other entry as the kernel has it.
 */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856
#endif

/* Far more than the kernel's saved vector (AT_VECTOR_SIZE entries). */
#define AUXV_MAX 4096

/* The entries in the first @n bytes of @v, with AT_SYSINFO_EHDR ours. */
static void auxv_patch(uint64_t *v, size_t n)
{
	unsigned long image = shim_vdso_image();

	if (!image)
		return;
	for (size_t i = 0; (i + 2) * sizeof(*v) <= n && v[i] != AT_NULL; i += 2)
		if (v[i] == AT_SYSINFO_EHDR)
			v[i + 1] = image;
}

/* Decimal digits at *@s, skipped; false when there are none. */
static bool number(const char **s, long *v)
{
	char *end;

	if (**s < '0' || **s > '9')
		return false;
	*v = strtol(*s, &end, 10);
	*s = end;
	return true;
}

/* Does @name, an fd's link in /proc/self/fd, name this process's auxv? */
static bool own_auxv(const char *name)
{
	const char *p = name + 6;
	long tid;

	if (strncmp(name, "/proc/", 6) || !shim_proc_pid_own(&p))
		return false;
	if (!strncmp(p, "/task/", 6)) {
		/* Any thread's: the kernel found it in this process at the open. */
		p += 6;
		if (!number(&p, &tid))
			return false;
	}
	return !strcmp(p, "/auxv");
}

/* Put a sealed, read-only memfd of the patched vector in place of @fd. */
static int auxv_replace(int fd, int flags)
{
	char link[40], name[64];
	uint64_t v[AUXV_MAX / sizeof(uint64_t)];
	size_t n = 0;
	long r;
	int mfd, ro = -1, err = 0;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	r = syscall(SYS_readlinkat, AT_FDCWD, link, name, sizeof(name) - 1);
	if (r <= 0)
		return 0;
	name[r] = 0;
	if (!own_auxv(name))
		return 0;
	while (n < sizeof(v) && (r = syscall(SYS_read, fd, (char *)v + n, sizeof(v) - n)) > 0)
		n += (size_t)r;
	if (r < 0)
		return -errno;
	auxv_patch(v, n);
	mfd = memfd_create("auxv", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	if (syscall(SYS_write, mfd, v, n) != (long)n ||
	    syscall(SYS_fcntl, mfd, F_ADD_SEALS,
		    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
		err = -errno;
	/*
	 * A new open of it with the open's access mode (the kernel granted it):
	 * F_GETFL agrees, and a read-only fd refuses writes as the real one.
	 */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", mfd);
	if (!err)
		ro = (int)syscall(SYS_openat, AT_FDCWD, link,
				  (flags & O_ACCMODE) | O_CLOEXEC | (flags & O_NONBLOCK));
	if (!err && ro < 0)
		err = -errno;
	if (!err && syscall(SYS_dup3, ro, fd, flags & O_CLOEXEC) < 0)
		err = -errno;
	if (ro >= 0)
		shim_sys_close(ro);
	shim_sys_close(mfd);
	return err;
}

int shim_auxv_fixup(int fd, const char *path, int flags)
{
	int err;

	/* Only a name with "auxv" in it can reach the file: no readlink for others. */
	if (!path || !strstr(path, "auxv") || (flags & O_PATH))
		return fd;
	err = auxv_replace(fd, flags);
	if (!err)
		return fd;
	shim_sys_close(fd);
	errno = -err;
	return -1;
}

long shim_prctl(int op, long a2, long a3, long a4, long a5)
{
	uint64_t v[AUXV_MAX / sizeof(uint64_t)];
	long r = syscall(SYS_prctl, op, a2, a3, a4, a5), all;

	if (op != PR_GET_AUXV || r <= 0 || !a2 || !a3)
		return r;
	/* The kernel copied min(size, r) bytes of it; the same bytes, patched. */
	all = syscall(SYS_prctl, PR_GET_AUXV, v, sizeof(v), 0, 0);
	if (all != r || (size_t)all > sizeof(v))
		return r;
	auxv_patch(v, (size_t)all);
	memcpy((void *)a2, v, (size_t)a3 < (size_t)r ? (size_t)a3 : (size_t)r);
	return r;
}

SHIM_API int prctl(int op, ...)
{
	unsigned long a[4];
	va_list ap;

	va_start(ap, op);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)shim_prctl(op, (long)a[0], (long)a[1], (long)a[2], (long)a[3]);
}

/* ---- fopen: libc's opens the file itself, past our open() ---- */

/* open(2) flags for an fopen() mode; -1 for a bad one. */
static int fopen_flags(const char *mode)
{
	int f;

	switch (mode[0]) {
	case 'r': f = O_RDONLY; break;
	case 'w': f = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': f = O_WRONLY | O_CREAT | O_APPEND; break;
	default: return -1;
	}
	for (const char *p = mode + 1; *p && *p != ','; p++) {
		if (*p == '+')
			f = (f & ~O_ACCMODE) | O_RDWR;
		else if (*p == 'e')
			f |= O_CLOEXEC;
		else if (*p == 'x')
			f |= O_EXCL;
	}
	return f;
}

typedef FILE *fopen_fn(const char *, const char *);
static fopen_fn *real_fopen, *real_fopen64;

static FILE *do_fopen(const char *path, const char *mode, fopen_fn **real, const char *real_name)
{
	char buf[PATH_MAX];
	const char *p = shim_at_path(AT_FDCWD, path, buf, sizeof(buf));
	int flags = fopen_flags(mode), fd, err;
	enum shim_kind k;
	FILE *f;

	if (flags >= 0 && p && shim_is_dev_path(p, &k)) {
		/* A device node: our open, then a stream on it. */
		fd = open(p, flags, 0666);
		if (fd < 0)
			return NULL;
		f = fdopen(fd, mode);
		if (!f) {
			err = errno;
			close(fd);
			errno = err;
		}
		return f;
	}
	if (!*real)
		*real = (fopen_fn *)dlsym(RTLD_NEXT, real_name);
	if (!*real) {
		errno = ENOSYS;
		return NULL;
	}
	f = (*real)(path, mode);
	if (!f || !strstr(path, "auxv") || flags < 0 || (err = auxv_replace(fileno(f), flags)) == 0)
		return f;
	fclose(f);
	errno = -err;
	return NULL;
}

SHIM_API FILE *fopen(const char *path, const char *mode)
{
	return do_fopen(path, mode, &real_fopen, "fopen");
}

SHIM_API FILE *fopen64(const char *path, const char *mode)
{
	return do_fopen(path, mode, &real_fopen64, "fopen64");
}
