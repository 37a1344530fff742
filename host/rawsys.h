/* SPDX-License-Identifier: MIT */
/*
 * The interposed syscall() (rawsys.S, rawsys.c), paths relative to a
 * directory fd, and /proc/self/auxv (auxv.c).
 */
#ifndef SOFTSGX_HOST_RAWSYS_H
#define SOFTSGX_HOST_RAWSYS_H

/* Words of the bitmap of routed numbers: numbers 0 to 64 * this - 1. */
#define SHIM_SYS_WORDS 7

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* Bit n: syscall(n, ...) goes to shim_syscall_routed(), not straight to the kernel. */
extern const uint64_t shim_sys_routed[SHIM_SYS_WORDS];
long shim_syscall_routed(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
long shim_syscall_error(long r);

/**
 * shim_at_path() - the absolute path (dirfd, path) names, if it may be a node
 * @dirfd: the directory fd of an *at() call, or AT_FDCWD
 * @path: the path given to it
 * @buf: room for the joined path
 * @size: its size
 *
 * An absolute @path is returned as it is.  A relative one that could name a
 * device node is joined, lexically, to the name of @dirfd's directory
 * (read from /proc/self/fd, or /proc/self/cwd) in @buf.
 *
 * Return: @path, @buf, or NULL when (dirfd, path) cannot name a node.
 */
const char *shim_at_path(int dirfd, const char *path, char *buf, size_t size);

/**
 * shim_auxv_fixup() - an fd just opened: our auxv gets AT_SYSINFO_EHDR patched
 * @fd: the fd the kernel opened
 * @path: the path it was opened by
 * @flags: the open's flags
 *
 * When @fd is this process's /proc/PID/auxv (or a thread's), it is replaced,
 * under the same number, by a read-only sealed memfd holding the auxiliary
 * vector with AT_SYSINFO_EHDR pointing at the shim's vDSO image.
 *
 * Return: @fd, or -1 with errno (then @fd is closed).
 */
int shim_auxv_fixup(int fd, const char *path, int flags);

/* prctl(2) with PR_GET_AUXV answered as getauxval() answers. */
long shim_prctl(int op, long a2, long a3, long a4, long a5);
#endif

#endif
