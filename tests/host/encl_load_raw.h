/* SPDX-License-Identifier: MIT */
/*
 * encl_load.c built with -DENCL_LOAD_RAW: every open, ioctl, mmap, munmap and
 * close of the loader is a raw syscall(), as in a program that bypasses
 * libc's wrappers (test_exec_rawsys).  Included after the system headers.
 */
#ifndef SOFTSGX_TEST_ENCL_LOAD_RAW_H
#define SOFTSGX_TEST_ENCL_LOAD_RAW_H

#include <sys/syscall.h>

/* The legacy open(2), not openat: the shim must route both. */
static inline int raw_open(const char *path, int flags, ...)
{
	return (int)syscall(SYS_open, path, flags, 0);
}

static inline int raw_ioctl(int fd, unsigned long cmd, void *arg)
{
	return (int)syscall(SYS_ioctl, fd, cmd, arg);
}

static inline void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static inline int raw_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static inline int raw_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

#define open(...) raw_open(__VA_ARGS__)
#define ioctl(fd, cmd, arg) raw_ioctl(fd, cmd, arg)
#define mmap raw_mmap
#define munmap raw_munmap
#define close raw_close

#endif
