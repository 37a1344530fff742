// SPDX-License-Identifier: MIT
/*
 * What a program reaches through raw syscall() and other back doors of
 * libc: the enclave built, mapped and entered with only syscall() for open,
 * ioctl, mmap, munmap and close (the loader is built with ENCL_LOAD_RAW);
 * the driver's and the kernel's errnos through syscall(); openat2 and
 * rt_sigaction; device paths relative to a directory fd; and the auxiliary
 * vector read from /proc (open, fopen, openat, raw syscall) and prctl, whose
 * AT_SYSINFO_EHDR must be the vDSO getauxval() returns.
 * Usage: test_exec_rawsys ENCLAVE.sgxs ENCLAVE.sig
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host_test.h"

#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856
#endif

static struct encl e;

/* syscall() failed with @err. */
static bool fails(long r, int err)
{
	return r == -1 && errno == err;
}

/* @fd is the character device 10:@minor, as fstat() sees it. */
static bool is_node(int fd, unsigned int minor)
{
	struct stat st;

	return fd >= 0 && !fstat(fd, &st) && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 &&
	       minor(st.st_rdev) == minor;
}

static void test_enclave(void)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 0x7777, 0, 0);
	struct sgx_enclave_init init = { .sigstruct = (uint64_t)(uintptr_t)e.sigstruct };
	struct stat st;
	char buf[8];

	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (0x7777 ^ ENCL_RETURN_MAGIC),
	       "an enclave built with raw syscalls runs");
	/* The driver answers, not the kernel's memfd (ENOTTY, a mapping, data). */
	tap_ok(fails(syscall(SYS_ioctl, e.fd, SGX_IOC_ENCLAVE_INIT, &init), EINVAL),
	       "syscall(SYS_ioctl): a second ENCLAVE_INIT is EINVAL");
	tap_ok(fails(syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_PRIVATE, e.fd, 0), EINVAL),
	       "syscall(SYS_mmap): a private mapping of the enclave is EINVAL");
	tap_ok(fails(syscall(SYS_mmap, e.base + 1, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, e.fd,
			     0), EINVAL),
	       "syscall(SYS_mmap): an unaligned address is EINVAL");
	tap_ok(fails(syscall(SYS_mprotect, e.base, 4096, PROT_READ | PROT_WRITE), EACCES),
	       "syscall(SYS_mprotect): W on a page without EPCM W is EACCES");
	tap_ok(fails(syscall(SYS_read, e.fd, buf, sizeof(buf)), EINVAL),
	       "syscall(SYS_read) of the enclave fd is EINVAL");
	tap_ok(fails(syscall(SYS_lseek, e.fd, 0, SEEK_SET), ESPIPE),
	       "syscall(SYS_lseek) of the enclave fd is ESPIPE");
	tap_ok(fails(syscall(SYS_fallocate, e.fd, 0, 0, 4096), ENODEV) &&
	       fails(syscall(SYS_sendfile, 1, e.fd, NULL, 16), EINVAL) &&
	       fails(syscall(SYS_copy_file_range, e.fd, NULL, 1, NULL, 16, 0), EINVAL),
	       "syscall(SYS_fallocate): ENODEV; SYS_sendfile, SYS_copy_file_range: EINVAL");
	tap_ok(!syscall(SYS_fstat, e.fd, &st) && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(10, 125), "syscall(SYS_fstat) sees the device 10:125");
	tap_ok(!syscall(SYS_newfstatat, e.fd, "", &st, AT_EMPTY_PATH) && S_ISCHR(st.st_mode),
	       "syscall(SYS_newfstatat, AT_EMPTY_PATH) too");
	tap_ok(!syscall(SYS_stat, "/dev/sgx_provision", &st) && st.st_rdev == makedev(10, 126),
	       "syscall(SYS_stat) of /dev/sgx_provision: 10:126");
	tap_ok(!syscall(SYS_access, "/dev/sgx_vepc", R_OK | W_OK) &&
	       !syscall(SYS_faccessat2, AT_FDCWD, "/dev/sgx_enclave", R_OK, AT_EACCESS),
	       "syscall(SYS_access), syscall(SYS_faccessat2) find the nodes");
	tap_ok(fails(syscall(SYS_openat, AT_FDCWD, "/dev/sgx_enclave", O_RDWR | O_CREAT | O_EXCL,
			     0600), EEXIST),
	       "syscall(SYS_openat, O_CREAT | O_EXCL) of a node is EEXIST");
	tap_ok(fails(syscall(SYS_close, 1 << 20), EBADF) && fails(syscall(SYS_ioctl, -1, 0, 0), EBADF),
	       "syscall(SYS_close), syscall(SYS_ioctl) of a bad fd: EBADF");

	int c = creat("/dev/sgx_provision", 0600);

	tap_ok(is_node(c, 126) && (fcntl(c, F_GETFL) & O_ACCMODE) == O_WRONLY,
	       "creat(\"/dev/sgx_provision\") opens the node write-only");
	if (c >= 0)
		close(c);
	c = (int)syscall(SYS_creat, "/dev/sgx_provision", 0600);
	tap_ok(is_node(c, 126), "syscall(SYS_creat) too");
	if (c >= 0)
		close(c);

	int d = (int)syscall(SYS_fcntl, e.fd, F_DUPFD_CLOEXEC, 10);

	tap_ok(d >= 10 && is_node(d, 125) && !syscall(SYS_close, d) &&
	       fails(syscall(SYS_close, d), EBADF),
	       "syscall(SYS_fcntl, F_DUPFD_CLOEXEC) dups the enclave fd; close closes it");
}

/* The fast path: numbers the shim does not route, with all six arguments. */
static void test_passthrough(void)
{
	char src[16] = "passed through", dst[16] = { 0 };
	struct iovec l = { dst, sizeof(dst) }, r = { src, sizeof(src) };

	int p[2];

	tap_ok(!pipe(p) && syscall(SYS_write, p[1], "pipe", 4) == 4 &&
	       syscall(SYS_read, p[0], dst, sizeof(dst)) == 4 && !memcmp(dst, "pipe", 4),
	       "syscall(SYS_write), syscall(SYS_read) of a pipe");
	close(p[0]);
	close(p[1]);
	memset(dst, 0, sizeof(dst));
	tap_ok(syscall(SYS_getpid) == getpid(), "syscall(SYS_getpid) is getpid()");
	tap_ok(fails(syscall(-1L), ENOSYS) && fails(syscall(100000L), ENOSYS) &&
	       fails(syscall(SYS_faccessat2 + 1000), ENOSYS), "unknown numbers: ENOSYS");
	/* process_vm_readv's sixth argument, flags, must be 0. */
	tap_ok(fails(syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 1), EINVAL),
	       "the sixth argument reaches the kernel (flags 1: EINVAL)");
	tap_ok(syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0) == sizeof(src) &&
	       !memcmp(src, dst, sizeof(src)), "... and with 0 the copy is made");

	/* A routed number on an ordinary file, with an offset in the sixth argument. */
	int fd = memfd_create("rawsys", 0);
	char page[4096];
	void *m;

	memset(page, 'b', sizeof(page));
	m = fd >= 0 && !ftruncate(fd, 8192) && pwrite(fd, page, 4096, 4096) == 4096 ?
		    (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096) :
		    MAP_FAILED;
	tap_ok(m != MAP_FAILED && ((char *)m)[0] == 'b' && !syscall(SYS_munmap, m, 4096),
	       "syscall(SYS_mmap) of another file at an offset maps it");
	if (fd >= 0)
		close(fd);
}

static void test_openat2(void)
{
	struct open_how how = { .flags = O_RDWR | O_CLOEXEC };
	int dev = open("/dev", O_PATH | O_DIRECTORY), fd;

	fd = (int)syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how));
	tap_ok(is_node(fd, 125) && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	       "openat2 opens /dev/sgx_enclave (O_CLOEXEC kept)");
	if (fd >= 0)
		close(fd);
	how.resolve = RESOLVE_BENEATH;
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how)), EXDEV),
	       "openat2 RESOLVE_BENEATH of an absolute path: EXDEV");
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS;
	fd = (int)syscall(SYS_openat2, dev, "sgx_vepc", &how, sizeof(how));
	tap_ok(is_node(fd, 124), "openat2(/dev fd, \"sgx_vepc\", BENEATH | NO_XDEV) opens it");
	if (fd >= 0)
		close(fd);
	tap_ok(fails(syscall(SYS_openat2, dev, "../dev/sgx_vepc", &how, sizeof(how)), EXDEV),
	       "... \"../dev/sgx_vepc\" leaves the fd: EXDEV");
	how.resolve = RESOLVE_NO_XDEV;
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_vepc", &how, sizeof(how)), EXDEV),
	       "openat2 RESOLVE_NO_XDEV from / into /dev: EXDEV");
	how.resolve = RESOLVE_IN_ROOT;
	fd = (int)syscall(SYS_openat2, dev, "/sgx_enclave", &how, sizeof(how));
	tap_ok(is_node(fd, 125), "openat2 RESOLVE_IN_ROOT at /dev: \"/sgx_enclave\" is the node");
	if (fd >= 0)
		close(fd);
	how.resolve = RESOLVE_CACHED;
	how.flags = O_RDWR | O_CREAT;
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how)), EAGAIN),
	       "openat2 RESOLVE_CACHED | O_CREAT: EAGAIN");
	how = (struct open_how){ .flags = O_RDWR, .mode = 0600 };
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how)), EINVAL),
	       "openat2 with a mode but no O_CREAT: EINVAL");
	how = (struct open_how){ .flags = O_RDWR | (1ULL << 40) };
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how)), EINVAL),
	       "openat2 with an unknown flag: EINVAL");
	/* The struct's checks come before the walk: EINVAL or EAGAIN, not EXDEV. */
	how.resolve = RESOLVE_BENEATH;
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how)), EINVAL),
	       "openat2 with an unknown flag and RESOLVE_BENEATH of an absolute path: EINVAL");
	how = (struct open_how){ .flags = O_RDWR | O_CREAT,
				 .resolve = RESOLVE_CACHED | RESOLVE_NO_XDEV };
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how)), EAGAIN),
	       "openat2 RESOLVE_CACHED | RESOLVE_NO_XDEV, O_CREAT, from /: EAGAIN");
	how = (struct open_how){ .flags = O_PATH | O_RDWR };
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, sizeof(how)), EINVAL),
	       "openat2 O_PATH | O_RDWR: EINVAL");
	struct {
		struct open_how how;
		uint64_t more;
	} big = { { .flags = O_RDWR }, 1 };
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &big, sizeof(big)), E2BIG),
	       "openat2 with non-zero bytes past struct open_how: E2BIG");
	tap_ok(fails(syscall(SYS_openat2, AT_FDCWD, "/dev/sgx_enclave", &how, 16), EINVAL),
	       "openat2 with a short struct: EINVAL");
	if (dev >= 0)
		close(dev);
}

/* Paths relative to a directory fd or to the working directory. */
static void test_relative(void)
{
	int dev = open("/dev", O_RDONLY | O_DIRECTORY), root = open("/", O_PATH), fd;
	char cwd[4096];
	struct stat st;

	fd = openat(dev, "sgx_enclave", O_RDWR);
	tap_ok(is_node(fd, 125), "openat(/dev fd, \"sgx_enclave\") opens the device");
	if (fd >= 0)
		close(fd);
	fd = (int)syscall(SYS_openat, root, "dev/./sgx_provision", O_RDONLY, 0);
	tap_ok(is_node(fd, 126), "syscall(SYS_openat, / fd, \"dev/./sgx_provision\") too");
	if (fd >= 0)
		close(fd);
	tap_ok(!fstatat(dev, "sgx_vepc", &st, 0) && st.st_rdev == makedev(10, 124) &&
	       !faccessat(dev, "sgx_enclave", R_OK, 0), "fstatat and faccessat at the /dev fd");
	tap_ok(fails(openat(dev, "sgx_enclave", O_RDWR | O_DIRECTORY), ENOTDIR),
	       "openat(/dev fd, \"sgx_enclave\", O_DIRECTORY): ENOTDIR");
	tap_ok(getcwd(cwd, sizeof(cwd)) && !chdir("/dev"), "chdir(\"/dev\")");
	fd = open("sgx_enclave", O_RDWR);
	tap_ok(is_node(fd, 125) && !stat("../dev/sgx_vepc", &st) && st.st_rdev == makedev(10, 124),
	       "open(\"sgx_enclave\") and stat(\"../dev/sgx_vepc\") in /dev");
	if (fd >= 0)
		close(fd);
	tap_ok(!chdir(cwd), "chdir back");
	tap_ok(fails(openat(dev, "sgx_nonesuch", O_RDONLY), ENOENT),
	       "a name that is no node still goes to the kernel (ENOENT)");
	if (dev >= 0)
		close(dev);
	if (root >= 0)
		close(root);
}

/* AT_SYSINFO_EHDR of an auxv read from @fd (0: none); *@same: other entries agree. */
static unsigned long auxv_vdso(int fd, bool *same)
{
	uint64_t v[512];
	ssize_t n = fd >= 0 ? read(fd, v, sizeof(v)) : -1;
	unsigned long vdso = 0;

	*same = n > 0 && n % 16 == 0;
	for (ssize_t i = 0; *same && (i + 2) * 8 <= n && v[i] != AT_NULL; i += 2) {
		if (v[i] == AT_SYSINFO_EHDR)
			vdso = v[i + 1];
		else if (v[i] == AT_PAGESZ || v[i] == AT_PHDR || v[i] == AT_ENTRY ||
			 v[i] == AT_RANDOM || v[i] == AT_UID)
			*same = v[i + 1] == getauxval(v[i]);
	}
	if (fd >= 0)
		close(fd);
	return vdso;
}

/* The kernel's vDSO, from /proc/self/maps. */
static unsigned long real_vdso(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long start = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]"))
			start = strtoul(line, NULL, 16);
	if (f)
		fclose(f);
	return start;
}

static void test_auxv(void)
{
	unsigned long want = getauxval(AT_SYSINFO_EHDR), got;
	char path[64];
	bool same;
	int proc = open("/proc/self", O_PATH | O_DIRECTORY), fd;
	FILE *f;

	tap_ok(want && want != real_vdso(), "getauxval(AT_SYSINFO_EHDR) is the shim's vDSO image");
	got = auxv_vdso(open("/proc/self/auxv", O_RDONLY), &same);
	tap_ok(got == want && same, "open(\"/proc/self/auxv\"): AT_SYSINFO_EHDR as getauxval, "
	       "the rest as the kernel's (0x%lx)", got);
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)getpid());
	got = auxv_vdso((int)syscall(SYS_open, path, O_RDONLY, 0), &same);
	tap_ok(got == want && same, "syscall(SYS_open, \"/proc/PID/auxv\") too");
	got = auxv_vdso((int)syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/auxv", O_RDONLY, 0),
			&same);
	tap_ok(got == want && same, "syscall(SYS_openat, \"/proc/thread-self/auxv\") too");
	got = auxv_vdso(openat(proc, "auxv", O_RDONLY | O_CLOEXEC), &same);
	tap_ok(got == want && same, "openat(/proc/self fd, \"auxv\") too");
	struct open_how how = { .flags = O_RDONLY };
	got = auxv_vdso((int)syscall(SYS_openat2, AT_FDCWD, "/proc/self/auxv", &how, sizeof(how)),
			&same);
	tap_ok(got == want && same, "syscall(SYS_openat2, \"/proc/self/auxv\") too");
	f = fopen("/proc/self/auxv", "re");
	got = f ? auxv_vdso(dup(fileno(f)), &same) : 0;
	tap_ok(got == want && same, "fopen(\"/proc/self/auxv\") too");
	if (f)
		fclose(f);
	fd = open("/proc/self/auxv", O_RDONLY);
	tap_ok(fd >= 0 && fails(write(fd, "x", 1), EBADF) && (fcntl(fd, F_GETFL) & O_ACCMODE) ==
	       O_RDONLY, "the auxv fd is read-only");
	if (fd >= 0)
		close(fd);

	uint64_t v[256] = { 0 };
	long n = prctl(PR_GET_AUXV, v, sizeof(v), 0, 0);

	if (n < 0 && errno == EINVAL) {
		tap_skip("the kernel has no PR_GET_AUXV", "prctl(PR_GET_AUXV)");
	} else {
		bool found = false;

		for (long i = 0; (i + 2) * 8 <= n && v[i] != AT_NULL; i += 2)
			found |= v[i] == AT_SYSINFO_EHDR && v[i + 1] == want;
		tap_ok(n > 0 && found, "prctl(PR_GET_AUXV): AT_SYSINFO_EHDR as getauxval");
		memset(v, 0, sizeof(v));
		n = syscall(SYS_prctl, PR_GET_AUXV, v, sizeof(v), 0, 0);
		found = false;
		for (long i = 0; (i + 2) * 8 <= n && v[i] != AT_NULL; i += 2)
			found |= v[i] == AT_SYSINFO_EHDR && v[i + 1] == want;
		tap_ok(n > 0 && found, "syscall(SYS_prctl, PR_GET_AUXV) too");
	}
	if (proc >= 0)
		close(proc);
}

static volatile sig_atomic_t raw_handled;

static void raw_handler(int sig)
{
	static const char msg[] = "Bail out! the program's handler got the shim's signals\n";

	(void)sig;
	/* A trap of ENCLU here would come back for ever: fail now, not at the timeout. */
	if (++raw_handled > 100) {
		(void)!write(1, msg, sizeof(msg) - 1);
		_exit(1);
	}
}

/* rt_sigaction in the kernel's layout (handler, flags, restorer, 64-bit mask). */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void test_sigaction(void)
{
	struct ksigaction ka = { .handler = raw_handler }, old[2];
	struct sigaction sa;
	struct encl_op op = ht_op(ENCL_OP_RETURN, 5, 0, 0);
	bool all = true;

	/* Over the signals ENCLU traps with: the shim must keep them. */
	tap_ok(!syscall(SYS_rt_sigaction, SIGSEGV, &ka, &old[0], 8) &&
	       !syscall(SYS_rt_sigaction, SIGILL, &ka, &old[1], 8),
	       "syscall(SYS_rt_sigaction) over SIGSEGV and SIGILL");
	for (int i = 0; i < 100 && all; i++)
		all = ht_call(e.tcs[1], &op) && op.ret == (5 ^ ENCL_RETURN_MAGIC);
	tap_ok(all && !raw_handled, "the enclave still runs, and the handler saw no ENCLU trap");
	tap_ok(!sigaction(SIGSEGV, NULL, &sa) && sa.sa_handler == raw_handler,
	       "sigaction() reports the program's handler");
	raise(SIGSEGV);
	tap_ok(raw_handled == 1, "a SIGSEGV of the program reaches its handler");
	tap_ok(fails(syscall(SYS_rt_sigaction, SIGSEGV, &ka, NULL, 4), EINVAL),
	       "a sigsetsize of 4: EINVAL");
	syscall(SYS_rt_sigaction, SIGSEGV, &old[0], NULL, 8);
	syscall(SYS_rt_sigaction, SIGILL, &old[1], NULL, 8);
}

int main(int argc, char **argv)
{
	int fd = open("/dev/sgx_enclave", O_RDWR), raw;

	/* Under the shim the loader's raw opens must work, not skip the test. */
	raw = fd >= 0 ? (int)syscall(SYS_open, "/dev/sgx_enclave", O_RDWR, 0) : -1;
	if (fd >= 0 && raw < 0) {
		printf("Bail out! open() finds /dev/sgx_enclave, syscall(SYS_open) does not: %s\n",
		       strerror(errno));
		return 1;
	}
	if (fd >= 0)
		close(fd);
	if (raw >= 0)
		close(raw);
	ht_start(argc, argv, &e);
	test_enclave();
	test_passthrough();
	test_openat2();
	test_relative();
	test_auxv();
	test_sigaction();
	encl_unload(&e);
	return tap_done();
}
