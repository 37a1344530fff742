// SPDX-License-Identifier: MIT
/*
 * Bad input to the SGX device files, answered as Linux answers it: ioctls on
 * bad, closed and foreign fds, mmap/mprotect/munmap of enclave memory with
 * what the kernel refuses (each refusal leaves the enclave and the mappings
 * as they were), dup'd fds, closing while a thread is inside, and what
 * stat(2) and friends say of the device nodes.  The EPC must be whole again
 * at exit: exec_stats.sh checks the counters `softsgx exec --stats` prints.
 * Usage: test_exec_badinput ENCLAVE.sgxs ENCLAVE.sig
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host_test.h"

#define PF 14
#define PF_U 0x4
#define PAGE ENCL_PAGE_SIZE

static struct encl e;

static uint64_t heap_page(unsigned int i)
{
	return e.base + ENCL_HEAP_OFFSET + i * PAGE;
}

/* -1 with errno @want. */
static bool fails(long r, int want)
{
	if (r == -1 && errno == want)
		return true;
	tap_diag("got %ld errno %d (%s), want -1 errno %d (%s)", r, r == -1 ? errno : 0,
		 r == -1 ? strerror(errno) : "-", want, strerror(want));
	return false;
}

static bool map_fails(void *p, int want)
{
	return fails(p == MAP_FAILED ? -1 : (long)p, want);
}

/* Whether anything is mapped at @a. */
static bool mapped(uint64_t a)
{
	return msync((void *)a, PAGE, MS_ASYNC) == 0;
}

/* The enclave still answers, and the heap page @i holds @v. */
static bool encl_alive(unsigned int i, uint64_t v)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 42, 0, 0);
	struct encl_op rd = ht_op(ENCL_OP_READ, heap_page(i), 0, 0);

	return ht_call(e.tcs[0], &op) && op.ret == (42 ^ ENCL_RETURN_MAGIC) &&
	       ht_call(e.tcs[0], &rd) && rd.ret == v;
}

/* Store @v at @addr from inside; an exception fails it (and is recovered from). */
static bool encl_write(uint64_t addr, uint64_t v)
{
	struct encl_op op = ht_op(ENCL_OP_WRITE, addr, v, 0);
	struct sgx_enclave_run run;
	int rc = encl_enter(e.tcs[0], &op, &run, NULL, 0);

	if (!rc && run.function == ENCL_ERESUME) {
		tap_diag("write of 0x%llx: vector %u, error code 0x%x", (unsigned long long)addr,
			 run.exception_vector, run.exception_error_code);
		ht_recover(&run, &op);
		return false;
	}
	return !rc && run.function == ENCL_EEXIT && op.ret != ENCL_FAULTED;
}

/* ---- host accesses that may fault ---- */

static sigjmp_buf touch_env;
static volatile sig_atomic_t touch_sig;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)si, (void)uc;
	touch_sig = sig;
	siglongjmp(touch_env, 1);
}

/* The signal a host read (or write) of @a raises, 0 if none. */
static int touch(uint64_t a, bool write)
{
	struct sigaction sa, o1, o2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &o1);
	sigaction(SIGBUS, &sa, &o2);
	touch_sig = 0;
	if (!sigsetjmp(touch_env, 1)) {
		if (write)
			*(volatile uint8_t *)a = 0x5a;
		else
			(void)*(volatile uint8_t *)a;
	}
	sigaction(SIGSEGV, &o1, NULL);
	sigaction(SIGBUS, &o2, NULL);
	return touch_sig;
}

/* ---- stat ---- */

static const struct {
	const char path[24];
	unsigned int minor;
} nodes[] = {
	{ "/dev/sgx_enclave", 125 },
	{ "/dev/sgx_provision", 126 },
	{ "/dev/sgx_vepc", 124 },
};

static bool is_node(const struct stat *st, unsigned int minor)
{
	if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 10 && minor(st->st_rdev) == minor)
		return true;
	tap_diag("mode 0%o rdev %u:%u, want a character device 10:%u", st->st_mode,
		 major(st->st_rdev), minor(st->st_rdev), minor);
	return false;
}

static void test_stat(void)
{
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		const char *p = nodes[i].path;
		struct stat st, st2;
		struct statx sx;
		int fd = open(p, O_RDWR);

		memset(&st, 0, sizeof(st));
		tap_ok(!stat(p, &st) && is_node(&st, nodes[i].minor) && !lstat(p, &st2) &&
		       is_node(&st2, nodes[i].minor), "stat/lstat %s: char device 10:%u", p,
		       nodes[i].minor);
		tap_ok(!fstatat(AT_FDCWD, p, &st, 0) && is_node(&st, nodes[i].minor) &&
		       !fstatat(AT_FDCWD, p, &st2, AT_SYMLINK_NOFOLLOW) &&
		       is_node(&st2, nodes[i].minor), "fstatat %s", p);
		memset(&sx, 0, sizeof(sx));
		tap_ok(!statx(AT_FDCWD, p, 0, STATX_BASIC_STATS, &sx) && S_ISCHR(sx.stx_mode) &&
		       sx.stx_rdev_major == 10 && sx.stx_rdev_minor == nodes[i].minor,
		       "statx %s: char device 10:%u (mode 0%o, rdev %u:%u)", p, nodes[i].minor,
		       sx.stx_mode, sx.stx_rdev_major, sx.stx_rdev_minor);
		tap_ok(fd >= 0 && !fstat(fd, &st) && is_node(&st, nodes[i].minor) &&
		       !fstatat(fd, "", &st2, AT_EMPTY_PATH) && is_node(&st2, nodes[i].minor),
		       "fstat and fstatat(AT_EMPTY_PATH) of an open %s", p);
		memset(&sx, 0, sizeof(sx));
		tap_ok(fd >= 0 && !statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) &&
		       S_ISCHR(sx.stx_mode) && sx.stx_rdev_minor == nodes[i].minor,
		       "statx(AT_EMPTY_PATH) of an open %s (mode 0%o)", p, sx.stx_mode);
		tap_ok(!access(p, F_OK) && !access(p, R_OK | W_OK) &&
		       !faccessat(AT_FDCWD, p, R_OK | W_OK, 0),
		       "access/faccessat %s: exists, readable and writable", p);
		/* No execute bit on a device node: EACCES, even for root. */
		tap_ok(fails(access(p, X_OK), EACCES) &&
		       fails(faccessat(AT_FDCWD, p, X_OK, 0), EACCES), "access %s X_OK: EACCES",
		       p);
		if (fd >= 0)
			close(fd);
	}
	struct stat st;

	int fd = open("/dev//./sgx_enclave", O_RDWR);

	tap_ok(!stat("//dev/../dev/sgx_provision", &st) && is_node(&st, 126) && fd >= 0 &&
	       !fstat(fd, &st) && is_node(&st, 125) && !close(fd),
	       "the device paths with //, /./ and /../ in them");
	tap_ok(fails(stat("/dev/sgx_no_such_device", &st), ENOENT),
	       "stat of another /dev/sgx_* name: ENOENT");
	tap_ok(fails(open("/dev/sgx_enclave", O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST),
	       "open(O_CREAT|O_EXCL) of /dev/sgx_enclave: EEXIST");
	tap_ok(fails(open("/dev/sgx_enclave", O_RDONLY | O_DIRECTORY), ENOTDIR),
	       "open(O_DIRECTORY) of /dev/sgx_enclave: ENOTDIR");

	/* O_PATH: the node, no file of the device. */
	struct sgx_enclave_create create = { 0 };
	char buf[8];
	int p = open("/dev/sgx_enclave", O_PATH), flags = p >= 0 ? fcntl(p, F_GETFL) : 0;

	tap_ok(p >= 0 && !fstat(p, &st) && is_node(&st, 125) && (flags & O_PATH),
	       "open(O_PATH) of /dev/sgx_enclave: fstat shows the node, F_GETFL O_PATH (%#x)",
	       flags);
	tap_ok(p >= 0 && fails(ioctl(p, SGX_IOC_ENCLAVE_CREATE, &create), EBADF) &&
	       fails(syscall(SYS_ioctl, p, SGX_IOC_ENCLAVE_CREATE, &create), EBADF) &&
	       mmap(NULL, 4096, PROT_READ, MAP_SHARED, p, 0) == MAP_FAILED && errno == EBADF &&
	       fails(read(p, buf, sizeof(buf)), EBADF),
	       "ioctl, mmap and read of the O_PATH fd: EBADF");
	tap_ok(p >= 0 && !close(p), "and it closes");
	p = open("/dev/sgx_provision", O_PATH);
	fd = open("/dev/sgx_enclave", O_RDWR);
	{
		struct sgx_enclave_provision prov = { .fd = (uint64_t)p };

		tap_ok(p >= 0 && fd >= 0 &&
		       fails(ioctl(fd, SGX_IOC_ENCLAVE_PROVISION, &prov), EINVAL),
		       "ENCLAVE_PROVISION with an O_PATH fd of /dev/sgx_provision: EINVAL");
	}
	if (p >= 0)
		close(p);
	if (fd >= 0)
		close(fd);
}

/* ---- ioctl ---- */

static void test_ioctl(void)
{
	struct sgx_enclave_init init = { .sigstruct = (uint64_t)e.sigstruct };
	struct sgx_enclave_create create = { 0 };
	int fd, flags;

	tap_ok(fails(ioctl(-1, SGX_IOC_ENCLAVE_INIT, &init), EBADF) &&
	       fails(ioctl(4000, SGX_IOC_ENCLAVE_INIT, &init), EBADF),
	       "ioctl on a bad fd: EBADF");
	fd = open("/dev/sgx_enclave", O_RDWR);
	tap_ok(fd >= 0 && !close(fd) && fails(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create), EBADF),
	       "ioctl on a closed enclave fd: EBADF");
	tap_ok(fails(ioctl(e.fd, _IO(SGX_MAGIC, 0x30), 0), ENOTTY) &&
	       fails(ioctl(e.fd, SGX_IOC_VEPC_REMOVE_ALL, 0), ENOTTY) &&
	       fails(ioctl(e.fd, _IOW(SGX_MAGIC, 0, uint32_t), &create), ENOTTY) &&
	       fails(ioctl(e.fd, TCGETS, &create), ENOTTY),
	       "unknown ioctls on the enclave fd (other number, the vEPC's, wrong size, "
	       "a tty's): ENOTTY");
	tap_ok(fails(ioctl(e.fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, NULL), EFAULT) &&
	       fails(ioctl(e.fd, SGX_IOC_ENCLAVE_MODIFY_TYPES, (void *)8), EFAULT) &&
	       fails(ioctl(e.fd, SGX_IOC_ENCLAVE_REMOVE_PAGES, (void *)-4096L), EFAULT),
	       "SGX2 ioctls with a bad argument pointer: EFAULT");
	tap_ok(fails(ioctl(e.fd, SGX_IOC_ENCLAVE_CREATE, &create), EINVAL) &&
	       fails(ioctl(e.fd, SGX_IOC_ENCLAVE_INIT, &init), EINVAL),
	       "CREATE and INIT again on an initialized enclave: EINVAL");

	/* The VFS answers these itself, for every file. */
	tap_ok(!ioctl(e.fd, FIOCLEX) && (fcntl(e.fd, F_GETFD) & FD_CLOEXEC) &&
	       !ioctl(e.fd, FIONCLEX) && !(fcntl(e.fd, F_GETFD) & FD_CLOEXEC),
	       "FIOCLEX/FIONCLEX on the enclave fd set and clear close-on-exec");
	flags = fcntl(e.fd, F_GETFL);
	int on = 1, off = 0;

	tap_ok(!ioctl(e.fd, FIONBIO, &on) && (fcntl(e.fd, F_GETFL) & O_NONBLOCK) &&
	       !ioctl(e.fd, FIONBIO, &off) && fcntl(e.fd, F_GETFL) == flags,
	       "FIONBIO on the enclave fd sets and clears O_NONBLOCK");

	/* The enclave's pages are behind no file operation. */
	char buf[64] = { 0 };
	struct iovec iov = { buf, sizeof(buf) };

	tap_ok(fails(read(e.fd, buf, sizeof(buf)), EINVAL) &&
	       fails(write(e.fd, buf, sizeof(buf)), EINVAL) &&
	       fails(pread(e.fd, buf, sizeof(buf), 0), EINVAL) &&
	       fails(pwrite(e.fd, buf, sizeof(buf), (off_t)ENCL_HEAP_OFFSET), EINVAL) &&
	       fails(readv(e.fd, &iov, 1), EINVAL) && fails(writev(e.fd, &iov, 1), EINVAL) &&
	       fails(pwritev(e.fd, &iov, 1, 0), EINVAL),
	       "read/write and their p/v forms on the enclave fd: EINVAL");
	int mfd = memfd_create("plain", 0);

	tap_ok(mfd >= 0 && fails(preadv(mfd, &iov, 1, -1), EINVAL) &&
	       fails(pwritev(mfd, &iov, 1, -1), EINVAL) && pwritev(mfd, &iov, 1, 0) == 64 &&
	       preadv(mfd, &iov, 1, 0) == 64,
	       "preadv/pwritev of another file: a negative offset is still EINVAL");
	close(mfd);
	tap_ok(fails(lseek(e.fd, 0, SEEK_END), ESPIPE) && fails(ftruncate(e.fd, 0), EINVAL) &&
	       fails(fallocate(e.fd, 0, 0, 4096), ENODEV) && fails(fsync(e.fd), EINVAL) &&
	       fails(fdatasync(e.fd), EINVAL),
	       "lseek ESPIPE, ftruncate EINVAL, fallocate ENODEV, fsync EINVAL");
	int pfd[2] = { -1, -1 };
	loff_t o = 0;

	tap_ok(!pipe(pfd) && fails(sendfile(pfd[1], e.fd, NULL, 64), EINVAL) &&
	       fails(splice(e.fd, &o, pfd[1], NULL, 64, 0), EINVAL) &&
	       fails(copy_file_range(e.fd, &o, pfd[1], NULL, 64, 0), EINVAL),
	       "sendfile/splice/copy_file_range from the enclave fd: EINVAL");
	close(pfd[0]);
	close(pfd[1]);
	tap_ok(encl_alive(0, 0), "the enclave still runs after them");

	fd = open("/dev/sgx_vepc", O_RDWR);
	tap_ok(fd >= 0 && fails(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create), ENOTTY) &&
	       fails(ioctl(fd, SGX_IOC_ENCLAVE_INIT, &init), ENOTTY),
	       "enclave ioctls on /dev/sgx_vepc: ENOTTY");
	tap_ok(fd >= 0 && !ioctl(fd, SGX_IOC_VEPC_REMOVE_ALL, 0) &&
	       fails(ioctl(fd, SGX_IOC_VEPC_REMOVE_ALL, 1), EINVAL),
	       "VEPC_REMOVE_ALL: 0 with argument 0, EINVAL with another");
	tap_ok(fd >= 0 && map_fails(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0), EINVAL),
	       "private mapping of /dev/sgx_vepc: EINVAL");
	int rd = open("/dev/sgx_enclave", O_RDONLY), wr = open("/dev/sgx_enclave", O_WRONLY);
	void *m = rd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ, MAP_SHARED, rd, 0);

	tap_ok((fcntl(rd, F_GETFL) & O_ACCMODE) == O_RDONLY &&
	       (fcntl(wr, F_GETFL) & O_ACCMODE) == O_WRONLY &&
	       (fcntl(e.fd, F_GETFL) & O_ACCMODE) == O_RDWR,
	       "F_GETFL shows the access mode of the open");
	{
		int nb = open("/dev/sgx_provision", O_RDONLY | O_NONBLOCK | O_APPEND), fl;

		fl = nb >= 0 ? fcntl(nb, F_GETFL) : 0;
		tap_ok(nb >= 0 && (fl & O_NONBLOCK) && (fl & O_APPEND),
		       "F_GETFL shows O_NONBLOCK and O_APPEND given to open (%#o)", fl);
		if (nb >= 0)
			close(nb);
	}
	tap_ok(m != MAP_FAILED && fails(mprotect(m, PAGE, PROT_READ | PROT_WRITE), EACCES) &&
	       map_fails(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, rd, 0), EACCES),
	       "an O_RDONLY enclave fd: no shared writable mapping (mmap, mprotect: EACCES)");
	tap_ok(wr >= 0 && map_fails(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, wr, 0), EACCES),
	       "an O_WRONLY enclave fd: no mapping at all (EACCES)");
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	close(rd);
	close(wr);
	if (fd >= 0)
		close(fd);
	fd = open("/dev/sgx_provision", O_RDONLY);
	tap_ok(fd >= 0 && fails(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create), ENOTTY) &&
	       fails(ioctl(fd, SGX_IOC_VEPC_REMOVE_ALL, 0), ENOTTY),
	       "ioctls on /dev/sgx_provision: ENOTTY");
	tap_ok(fd >= 0 && !ioctl(fd, FIOCLEX) && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	       "FIOCLEX on /dev/sgx_provision");
	struct sgx_enclave_provision prov = { .fd = (uint64_t)fd };
	struct sgx_enclave_provision bad = { .fd = 4000 };
	struct sgx_enclave_provision notprov = { .fd = (uint64_t)e.fd };

	tap_ok(fd >= 0 && !ioctl(e.fd, SGX_IOC_ENCLAVE_PROVISION, &prov) &&
	       fails(ioctl(e.fd, SGX_IOC_ENCLAVE_PROVISION, &bad), EINVAL) &&
	       fails(ioctl(e.fd, SGX_IOC_ENCLAVE_PROVISION, &notprov), EINVAL),
	       "ENCLAVE_PROVISION: a /dev/sgx_provision fd 0, a closed fd or another file EINVAL");
	tap_ok(fd >= 0 && map_fails(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0), ENODEV),
	       "mmap of /dev/sgx_provision: ENODEV");
	if (fd >= 0)
		close(fd);
	tap_ok(encl_alive(0, 0), "the enclave still runs after the refused ioctls");
}

/* ---- mmap ---- */

/* A page of the program's own at @end (ELRANGE's end), or NULL and a skip of @what. */
static uint8_t *page_after(uint64_t end, const char *what)
{
	uint8_t *p = mmap((void *)end, PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == (void *)end)
		return p;
	tap_skip("the page after ELRANGE is taken", "%s", what);
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	return NULL;
}

static void test_mmap(void)
{
	uint64_t h = heap_page(1), code = e.base;
	uint64_t end = e.base + e.size;
	void *p;

	tap_ok(encl_write(h, 0x1111) && encl_alive(1, 0x1111), "a heap page written");
	p = mmap((void *)h, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, e.fd, 0);
	tap_ok(map_fails(p, EINVAL) && encl_alive(1, 0x1111),
	       "MAP_PRIVATE of the enclave: EINVAL, the mapping there stays");
	p = mmap((void *)(h + 8), PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
	tap_ok(map_fails(p, EINVAL) && encl_alive(1, 0x1111),
	       "MAP_FIXED at an unaligned address: EINVAL");
	p = mmap((void *)h, 0, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
	tap_ok(map_fails(p, EINVAL) && encl_alive(1, 0x1111), "zero length: EINVAL");
	p = mmap((void *)h, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 100);
	tap_ok(map_fails(p, EINVAL) && encl_alive(1, 0x1111), "an unaligned offset: EINVAL");
	p = mmap(NULL, (size_t)-4096 + 1, PROT_READ, MAP_SHARED, e.fd, 0);
	tap_ok(map_fails(p, ENOMEM), "a length that wraps when rounded up: ENOMEM");
	p = mmap((void *)h, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_FIXED,
		 e.fd, 0);
	tap_ok(map_fails(p, EACCES) && encl_alive(1, 0x1111) && encl_write(h, 0x1112),
	       "PROT_EXEC on a data page: EACCES, the RW mapping stays");
	p = mmap((void *)code, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_FIXED,
		 e.fd, 0);
	tap_ok(map_fails(p, EACCES) && encl_alive(1, 0x1112),
	       "PROT_WRITE on a code page: EACCES, the code still runs");
	p = mmap((void *)h, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
	tap_ok(p == (void *)h && encl_alive(1, 0x1112) && encl_write(h + PAGE, 0x2222) &&
	       encl_alive(2, 0x2222), "MAP_FIXED over an enclave mapping replaces it; the "
	       "pages keep their contents");
	p = mmap((void *)h, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, e.fd, 0);
	tap_ok(map_fails(p, EEXIST) && encl_alive(1, 0x1112) && encl_write(h, 0x1113),
	       "MAP_FIXED_NOREPLACE over an enclave mapping: EEXIST, it stays RW");
	p = mmap((void *)h, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC |
		 MAP_FIXED, e.fd, 0);
	tap_ok(map_fails(p, EOPNOTSUPP) && encl_alive(1, 0x1113),
	       "MAP_SHARED_VALIDATE|MAP_SYNC (no DAX here): EOPNOTSUPP");
	p = mmap((void *)h, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_FIXED, e.fd,
		 0);
	tap_ok(p == (void *)h && encl_alive(1, 0x1113), "MAP_SHARED_VALIDATE alone maps");
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, e.fd, 0);
	tap_ok(map_fails(p, EACCES), "after INIT, a mapping outside ELRANGE: EACCES");

	/* Something of the program's own right after ELRANGE. */
	uint8_t *after = page_after(end, "mappings across ELRANGE's end");

	if (!after)
		return;
	after[0] = 0x77;
	p = mmap((void *)(end - PAGE), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 e.fd, 0);
	tap_ok(map_fails(p, EACCES) && mapped(end - PAGE) && after[0] == 0x77,
	       "MAP_FIXED straddling ELRANGE's end: EACCES; both old mappings stay");
	p = mmap((void *)end, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0);
	tap_ok(map_fails(p, EACCES) && after[0] == 0x77,
	       "MAP_FIXED just past ELRANGE: EACCES; the program's page there stays");
	munmap(after, PAGE);
}

/* Mappings of an enclave where no enclave page can show: any access is SIGBUS. */
static void test_no_pages(void)
{
	int fd = open("/dev/sgx_enclave", O_RDWR);
	uint8_t *p = fd < 0 ? MAP_FAILED :
			      mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

	tap_ok(p != MAP_FAILED, "a mapping of an enclave before CREATE");
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return;
	}
	tap_ok(touch((uint64_t)p, false) == SIGBUS, "a host read there: SIGBUS");
	tap_ok(!mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE) && touch((uint64_t)p, true) == SIGBUS &&
	       touch((uint64_t)p + PAGE, false) == SIGBUS,
	       "made writable by mprotect, a write is still SIGBUS (no memory behind it)");
	tap_ok(!mprotect(p, PAGE, PROT_NONE) && touch((uint64_t)p, false) == SIGSEGV,
	       "PROT_NONE: SIGSEGV");
	tap_ok(!munmap(p, 2 * PAGE) && !close(fd), "unmapped and closed");
}

/* ---- mprotect ---- */

static void test_mprotect(void)
{
	uint64_t h = heap_page(3), end = e.base + e.size;
	struct sgx_enclave_run run;
	struct encl_op op;
	int rc;

	tap_ok(fails(mprotect((void *)(e.base + 8), PAGE, PROT_READ | PROT_WRITE), EINVAL) &&
	       fails(mprotect((void *)h, PAGE, PROT_READ | 0x100), EINVAL) &&
	       encl_write(h, 0x3332),
	       "mprotect at an unaligned address or with unknown bits: EINVAL before EACCES");
	tap_ok(fails(mprotect((void *)h, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), EACCES) &&
	       encl_write(h, 0x3333) && encl_alive(3, 0x3333),
	       "mprotect PROT_EXEC on a data page: EACCES, still writable");
	tap_ok(fails(mprotect((void *)e.base, PAGE, PROT_READ | PROT_WRITE), EACCES) &&
	       encl_alive(3, 0x3333), "mprotect PROT_WRITE on a code page: EACCES");
	tap_ok(fails(mprotect((void *)h, 2 * PAGE, PROT_READ | PROT_EXEC), EACCES) &&
	       encl_write(h, 0x3334) && encl_write(h + PAGE, 0x4444),
	       "mprotect PROT_EXEC over two data pages: EACCES, both still writable");

	uint64_t last = end - PAGE;

	/* The last page is left for EAUG: make it a present, accepted page. */
	tap_ok(!ht_eaccept(e.tcs[2], last, PAGE, ENCL_SI_REG | ENCL_SI_PENDING | ENCL_SI_R |
			   ENCL_SI_W) && encl_write(last, 0x5554),
	       "the last page of ELRANGE EAUG'd and accepted");
	if (!page_after(end, "mprotect/munmap across ELRANGE's end"))
		return;
	tap_ok(!mprotect((void *)last, 2 * PAGE, PROT_READ) && touch(end, true) == SIGSEGV &&
	       touch(end, false) == 0,
	       "mprotect PROT_READ across enclave and program memory: both read-only");
	op = ht_op(ENCL_OP_WRITE, last, 1, 0);
	rc = encl_enter(e.tcs[1], &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, PF, PF_U | 0x2 | 0x1, last) && ht_recover(&run, &op),
	       "an enclave write to the read-only enclave page: #PF");
	tap_ok(!mprotect((void *)last, 2 * PAGE, PROT_READ | PROT_WRITE) &&
	       touch(end, true) == 0 && encl_write(last, 0x5555),
	       "mprotect back to RW: both writable");
	tap_ok(!munmap((void *)last, 2 * PAGE) && !mapped(last) && !mapped(end),
	       "munmap across enclave and program memory unmaps both");
	tap_ok(touch(end, false) == SIGSEGV && touch(last, false) == SIGSEGV,
	       "host accesses to both: SIGSEGV");
	op = ht_op(ENCL_OP_READ, last, 0, 0);
	rc = encl_enter(e.tcs[1], &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, PF, PF_U, last) && ht_recover(&run, &op),
	       "an enclave read of the unmapped page: #PF");
	op = ht_op(ENCL_OP_READ, last, 0, 0);
	tap_ok(mmap((void *)last, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0) ==
	       (void *)last && encl_alive(3, 0x3334) && ht_call(e.tcs[0], &op) &&
	       op.ret == 0x5555, "mapped again, the page holds its data");
}

/* ---- munmap of part of a mapping ---- */

static void test_munmap(void)
{
	uint64_t h = heap_page(10);
	struct sgx_enclave_run run;
	struct encl_op op;
	int rc;

	tap_ok(encl_write(h, 0xaaaa) && encl_write(h + PAGE, 0xbbbb) && !munmap((void *)h, PAGE),
	       "munmap of one page in the middle of the heap mapping");
	tap_ok(!mapped(h) && mapped(h + PAGE) && mapped(h - PAGE) && touch(h, false) == SIGSEGV,
	       "only that page is gone: a host access is SIGSEGV");
	op = ht_op(ENCL_OP_READ, h, 0, 0);
	rc = encl_enter(e.tcs[1], &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, PF, PF_U, h) && ht_recover(&run, &op) && encl_alive(11, 0xbbbb),
	       "an enclave read of it: #PF; its neighbour still works");
	tap_ok(fails(mprotect((void *)h, PAGE, PROT_READ), ENOMEM) &&
	       fails(mprotect((void *)(h - PAGE), 3 * PAGE, PROT_READ | PROT_WRITE), ENOMEM),
	       "mprotect of the hole: ENOMEM");
	tap_ok(mmap((void *)h, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0) ==
	       (void *)h && encl_alive(10, 0xaaaa), "mapped again, it holds its data");
}

/* ---- mremap ---- */

static void test_mremap(void)
{
	uint64_t h = heap_page(30), end = e.base + e.size;
	struct sgx_enclave_run run;
	struct encl_op op;
	void *p;
	int rc;

	tap_ok(encl_write(h, 0x3030) && encl_write(h + PAGE, 0x3131) &&
	       map_fails(mremap((void *)h, PAGE, 2 * PAGE, 0), EFAULT) &&
	       map_fails(mremap((void *)h, PAGE, 2 * PAGE, MREMAP_MAYMOVE), EFAULT) &&
	       encl_alive(30, 0x3030) && encl_alive(31, 0x3131),
	       "mremap growing enclave memory: EFAULT, nothing moves");
	p = mremap((void *)h, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (void *)end);
	tap_ok(map_fails(p, EINVAL) && encl_alive(30, 0x3030), "MREMAP_DONTUNMAP: EINVAL");
	p = mremap((void *)h, 2 * PAGE, PAGE, 0);
	tap_ok(p == (void *)h && mapped(h) && !mapped(h + PAGE) && encl_alive(30, 0x3030),
	       "mremap shrinking unmaps the tail");
	p = mremap((void *)h, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)end);
	tap_ok(p == (void *)end && !mapped(h), "mremap moving a page out of ELRANGE");
	op = ht_op(ENCL_OP_READ, h, 0, 0);
	rc = encl_enter(e.tcs[1], &op, &run, NULL, 0);
	tap_ok(ht_exception(rc, &run, PF, PF_U, h) && ht_recover(&run, &op),
	       "an enclave read of the old place: #PF");
	tap_ok(p == (void *)end && !munmap(p, PAGE) &&
	       mmap((void *)h, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0) ==
	       (void *)h && encl_alive(30, 0x3030) && encl_alive(31, 0x3131),
	       "mapped again, both pages hold their data");
}

/* ---- dup and close ---- */

static volatile uint64_t go;
static struct encl_op spin_op;

static void *spinner(void *arg)
{
	struct encl_op fill = ht_op(ENCL_OP_FILL, heap_page(20), 7, 40 * PAGE);
	struct encl_op check = ht_op(ENCL_OP_CHECK, heap_page(20), 7, 40 * PAGE);
	bool ok;

	(void)arg;
	ok = ht_call(e.tcs[5], &fill);
	spin_op = ht_op(ENCL_OP_SPIN, 0, (uint64_t)&go, 0);
	ok = ok && ht_call(e.tcs[5], &spin_op);
	for (int i = 0; i < 20 && ok; i++)
		ok = ht_call(e.tcs[5], &check) && check.status == 0;
	return (void *)(uintptr_t)ok;
}

/* pread64 made by an inline system call, which no interposer sees. */
static long inline_pread(int fd, void *buf, size_t len, off_t off)
{
	long ret;
	register long r10 __asm__("r10") = off;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_pread64), "D"((long)fd), "S"(buf), "d"(len), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The file behind the enclave fd holds no enclave byte; its magic link reopens the device. */
static void test_fd_file(void)
{
	uint8_t buf[4096];
	struct stat st;
	char path[64];
	long n;
	int fd2;

	tap_ok(encl_alive(10, 0xaaaa), "the enclave runs, its heap written");
	n = inline_pread(e.fd, buf, sizeof(buf), (off_t)(heap_page(10) - e.base));
	tap_ok(n == 0, "an inline pread of the enclave fd reads no byte (%ld)", n);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", e.fd);
	fd2 = open(path, O_RDWR);
	tap_ok(fd2 >= 0 && !fstat(fd2, &st) && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10,
	       "%s opens the device again, as its magic link does on Linux", path);
	tap_ok(fd2 >= 0 && fails(read(fd2, buf, 8), EINVAL) &&
	       inline_pread(fd2, buf, sizeof(buf), 0) == 0, "the new file reads nothing either");
	if (fd2 >= 0)
		close(fd2);
	snprintf(path, sizeof(path), "/dev/fd/%d", e.fd);
	tap_ok(!stat(path, &st) && S_ISCHR(st.st_mode), "%s stats as the device", path);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), e.fd);
	tap_ok(!stat(path, &st) && S_ISCHR(st.st_mode), "%s (this process) stats as the device",
	       path);
	/* A pid above any the kernel gives: only a wrong match could make this stat work. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", 99999999, e.fd);
	tap_ok(fails(stat(path, &st), ENOENT), "%s (not this process) is not taken for ours",
	       path);

	/* The large-file spellings are the same entries (aliases in the shim). */
	int o64 = open64("/dev/sgx_enclave", O_RDWR), oat64 = openat64(AT_FDCWD, "/dev/sgx_enclave",
								      O_RDWR);

	tap_ok(o64 >= 0 && oat64 >= 0 && !fstat(o64, &st) && major(st.st_rdev) == 10 &&
	       !fstat(oat64, &st) && major(st.st_rdev) == 10 && fails(read(o64, buf, 8), EINVAL),
	       "open64 and openat64 of the node open the device");
	if (o64 >= 0)
		close(o64);
	if (oat64 >= 0)
		close(oat64);
	/* The link itself: a symbolic link to the node. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", e.fd);
	tap_ok(!lstat(path, &st) && S_ISLNK(st.st_mode) &&
	       !fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode),
	       "lstat and fstatat(AT_SYMLINK_NOFOLLOW) of %s: a symbolic link", path);
	{
		char target[64] = { 0 }, raw[64] = { 0 };
		long l = readlink(path, target, sizeof(target) - 1);
		long lr = syscall(SYS_readlinkat, AT_FDCWD, path, raw, sizeof(raw) - 1);

		tap_ok(l == 16 && !strcmp(target, "/dev/sgx_enclave") && lr == 16 &&
		       !strcmp(raw, "/dev/sgx_enclave") && readlink(path, target, 4) == 4 &&
		       !memcmp(target, "/dev", 4) && fails(readlink(path, target, 0), EINVAL),
		       "readlink of %s (and a raw readlinkat) is /dev/sgx_enclave (%s)", path,
		       target);
	}
	{
		/* A link that must not be followed: ELOOP. */
		struct open_how how = { .flags = O_RDWR, .resolve = RESOLVE_NO_MAGICLINKS };
		bool loop = fails(open(path, O_RDWR | O_NOFOLLOW), ELOOP) &&
			    fails(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how)), ELOOP);

		how.resolve = RESOLVE_NO_SYMLINKS;
		loop &= fails(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how)), ELOOP);
		how = (struct open_how){ .flags = O_RDWR | O_NOFOLLOW };
		loop &= fails(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how)), ELOOP);
		tap_ok(loop, "%s with O_NOFOLLOW, RESOLVE_NO_MAGICLINKS or RESOLVE_NO_SYMLINKS: "
		       "ELOOP", path);
	}

	/* stdio: fread reads nothing; fclose closes inside libc, past close(). */
	int d = dup(e.fd), again;
	FILE *fp = d >= 0 ? fdopen(d, "r") : NULL;
	size_t got = fp ? fread(buf, 1, sizeof(buf), fp) : 1;

	tap_ok(fp && got == 0, "fdopen and fread of the enclave fd read no byte (%zu)", got);
	tap_ok(fp && fclose(fp) == 0, "fclose of it succeeds");
	again = open("/dev/zero", O_RDONLY);
	tap_ok(again == d && read(again, buf, 8) == 8,
	       "the fd number fclose freed is an ordinary file when reused (fd %d, was %d)", again,
	       d);
	if (again >= 0)
		close(again);

	/* freopen closes the device's fd inside libc too, and opens another file there. */
	fp = fopen("/dev/sgx_enclave", "r");
	d = fp ? fileno(fp) : -1;
	fp = fp ? freopen("/dev/zero", "r", fp) : NULL;
	tap_ok(fp && fread(buf, 1, 8, fp) == 8 && fileno(fp) == d && !fstat(d, &st) &&
	       S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && read(d, buf, 8) == 8,
	       "freopen of a device stream onto /dev/zero: its fd (%d) is /dev/zero's, for "
	       "fstat and read too", d);
	if (fp)
		fclose(fp);
}

static void test_dup(void)
{
	int d1 = dup(e.fd), d2, d3, d4;
	struct sgx_enclave_create create = { 0 };
	pthread_t t;
	void *res = NULL;

	tap_ok(d1 >= 0 && !close(e.fd) && encl_alive(10, 0xaaaa) &&
	       fails(ioctl(d1, SGX_IOC_ENCLAVE_CREATE, &create), EINVAL),
	       "dup, close the original: the enclave runs, the dup is its fd");
	d2 = dup2(d1, 100);
	d3 = fcntl(d1, F_DUPFD, 200);
	d4 = fcntl(d1, F_DUPFD_CLOEXEC, 300);
	tap_ok(d2 == 100 && d3 >= 200 && d4 >= 300 && !close(d1) && !close(d2) && !close(d3) &&
	       fails(ioctl(d1, SGX_IOC_ENCLAVE_CREATE, &create), EBADF) &&
	       fails(ioctl(d4, SGX_IOC_ENCLAVE_CREATE, &create), EINVAL) && encl_alive(10, 0xaaaa),
	       "dup2 and F_DUPFD(_CLOEXEC) copies; closing all but one keeps it");

	go = 0;
	tap_ok(!pthread_create(&t, NULL, spinner, NULL), "a thread enters the enclave");
	while (!spin_op.op)
		usleep(1000);
	usleep(50000);
	tap_ok(!close(d4) && fails(fcntl(d4, F_GETFD), EBADF),
	       "the last fd closed while the thread is inside");
	go = 1;
	pthread_join(t, &res);
	tap_ok(res != NULL && spin_op.ret > 0, "the thread comes out and keeps faulting its "
	       "pages in and out of the EPC (the mappings hold the enclave)");
	tap_ok(encl_alive(10, 0xaaaa), "the enclave runs with no fd at all");
	tap_ok(!munmap((void *)e.base, e.size) && !mapped(e.base + ENCL_HEAP_OFFSET),
	       "munmap of all of ELRANGE: the last reference goes");
}

/* A second enclave in the EPC the first gave back; then mapped over. */
static void test_again(char **argv)
{
	struct encl e2;
	int r = encl_load(&e2, argv[1], argv[2]);
	struct encl_op op = ht_op(ENCL_OP_RETURN, 5, 0, 0);
	uint8_t *p;

	tap_ok(!r && ht_call(e2.tcs[0], &op) && op.ret == (5 ^ ENCL_RETURN_MAGIC),
	       "a second enclave builds and runs in the EPC the first gave back");
	if (r)
		return;
	/* Anonymous memory over all of ELRANGE: the enclave loses its mappings. */
	p = mmap((void *)e2.base, e2.size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	tap_ok(p == (void *)e2.base && !close(e2.fd) && touch(e2.base, true) == 0 &&
	       p[0] == 0x5a && touch(e2.base + e2.size - 1, true) == 0,
	       "anonymous MAP_FIXED over the enclave, its fd closed: plain memory there");
	tap_ok(!mprotect(p + ENCL_HEAP_OFFSET, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) &&
	       !mprotect(p, PAGE, PROT_READ | PROT_WRITE),
	       "mprotect there knows nothing of the enclave's page permissions");
	munmap(p, e2.size);
}

/* ELRANGE unmapped and the fd closed while a thread spins inside. */
static struct encl e4;
static volatile uint64_t go4;
static struct sgx_enclave_run run4;
static struct encl_op spin4;

static void *spinner4(void *arg)
{
	(void)arg;
	spin4 = ht_op(ENCL_OP_SPIN, 0, (uint64_t)&go4, 0);
	return (void *)(intptr_t)encl_enter(e4.tcs[0], &spin4, &run4, NULL, 0);
}

static void test_unmap_inside(char **argv)
{
	int r = encl_load(&e4, argv[1], argv[2]);
	pthread_t t;
	void *res = NULL;

	tap_ok(!r && !pthread_create(&t, NULL, spinner4, NULL), "a thread spins in an enclave");
	if (r)
		return;
	while (!spin4.op)
		usleep(1000);
	usleep(50000);
	tap_ok(!munmap((void *)e4.base, e4.size) && !close(e4.fd),
	       "all of ELRANGE unmapped and the fd closed meanwhile");
	go4 = 1;
	pthread_join(t, &res);
	tap_ok(res == NULL && run4.function == ENCL_ERESUME && run4.exception_vector == PF,
	       "the thread comes out with a #PF, as the vDSO reports it (rc %d, function %u, "
	       "vector %u, addr 0x%llx)", (int)(intptr_t)res, run4.function,
	       run4.exception_vector, (unsigned long long)run4.exception_addr);
}

/* The fds the program got from its parent: its own, not the shim's. */
static bool inherited[1024];

static void note_inherited(void)
{
	for (int fd = 0; fd < 1024; fd++)
		inherited[fd] = fcntl(fd, F_GETFD) >= 0;
}

/* A program that closes every fd it may have, as daemons do. */
static void test_close_all(char **argv)
{
	struct encl e3;
	int r = encl_load(&e3, argv[1], argv[2]);
	struct encl_op op = ht_op(ENCL_OP_RETURN, 6, 0, 0);

	/*
	 * Open fds the program never opened are the shim's (the kernel lists
	 * them): Linux has none there, so they are EBADF and free for dup2.
	 */
	int devnull = open("/dev/null", O_RDWR), taken = 0, ok = 1, hidden = 1, gone = 1;
	int fds[64];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	while (d && (de = readdir(d)) && taken < 64) {
		int fd = atoi(de->d_name);

		if (fd > 2 && fd != devnull && fd != e3.fd && fd != dirfd(d) &&
		    !(fd < 1024 && inherited[fd]))
			fds[taken++] = fd;
	}
	if (d)
		closedir(d);
	for (int i = 0; !r && i < taken; i++) {
		struct stat st;
		char c;

		char link[40];

		int n;

		hidden &= fails(fcntl(fds[i], F_GETFD), EBADF) && fails(fstat(fds[i], &st), EBADF) &&
			  fails(read(fds[i], &c, 1), EBADF) &&
			  fails(ioctl(fds[i], FIONREAD, &n), EBADF) &&
			  fails(syscall(SYS_ioctl, fds[i], FIONREAD, &n), EBADF);
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
		gone &= fails(dup(fds[i]), EBADF) &&
			mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fds[i], 0) == MAP_FAILED &&
			errno == EBADF && fails(open(link, O_RDONLY), ENOENT);
		ok &= dup2(devnull, fds[i]) == fds[i] && !(fcntl(fds[i], F_GETFD) & FD_CLOEXEC) &&
		      !close(fds[i]);
	}
	close(devnull);
	tap_ok(!r && hidden, "the %d fds the program never opened: fcntl, fstat, read, ioctl EBADF",
	       taken);
	tap_ok(!r && gone, "... dup and mmap EBADF, and their /proc/self/fd links ENOENT");
	uint64_t h = e3.base + ENCL_HEAP_OFFSET;

	op = ht_op(ENCL_OP_WRITE, h, 0x77, 0);
	tap_ok(!r && ok && ht_call(e3.tcs[0], &op) && !munmap((void *)h, PAGE) &&
	       mmap((void *)h, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e3.fd, 0) ==
	       (void *)h, "dup2 onto the %d fd numbers the program never opened, then close",
	       taken);
	op = ht_op(ENCL_OP_READ, h, 0, 0);
	tap_ok(!r && ht_call(e3.tcs[0], &op) && op.ret == 0x77,
	       "the enclave still faults its pages in through a new mapping");
	op = ht_op(ENCL_OP_RETURN, 6, 0, 0);
	tap_ok(!r && !close_range(3, ~0U, 0) && fails(fcntl(e3.fd, F_GETFD), EBADF) &&
	       ht_call(e3.tcs[0], &op) && op.ret == (6 ^ ENCL_RETURN_MAGIC),
	       "close_range(3, ~0): the enclave fd is gone, the mapped enclave runs");
	if (!r) {
		int fd = open(argv[1], O_RDONLY);
		struct sgx_enclave_create create = { 0 };

		/* The lowest free number again: a plain file now. */
		tap_ok(fd == e3.fd && fails(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create), ENOTTY),
		       "the enclave fd's number, reused for a file, is that file's");
		close(fd);
		munmap((void *)e3.base, e3.size);
	}
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	r = encl_load(&e3, argv[1], argv[2]);
	op = ht_op(ENCL_OP_RETURN, 7, 0, 0);
	tap_ok(!r && ht_call(e3.tcs[0], &op) && op.ret == (7 ^ ENCL_RETURN_MAGIC),
	       "after close() of fds 3..1023 a new enclave still builds and runs");
	if (!r)
		encl_unload(&e3);
}

/* ENCLAVE_CREATE of a fresh 64 KiB enclave on @fd; its base, or 0. */
static uint64_t fresh_enclave(int fd)
{
	static uint8_t secs[4096] __attribute__((aligned(4096)));
	struct sgx_enclave_create create = { .src = (uint64_t)(uintptr_t)secs };
	uint8_t *area = mmap(NULL, 2 * 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t base, size = 65536, ssa = 1, attr = 0x4, xfrm = 0x3;

	if (area == MAP_FAILED)
		return 0;
	base = ((uint64_t)(uintptr_t)area + size - 1) & ~(size - 1);
	memset(secs, 0, sizeof(secs));
	memcpy(secs + 0, &size, 8);
	memcpy(secs + 8, &base, 8);
	memcpy(secs + 16, &ssa, 4);
	memcpy(secs + 48, &attr, 8);
	memcpy(secs + 56, &xfrm, 8);
	return ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create) ? 0 : base;
}

/* ADD_PAGES of one page from @src: the errno, 0 on success. */
static int add_from(int fd, uint64_t base, const void *src)
{
	static uint8_t si[64] __attribute__((aligned(64)));
	struct sgx_enclave_add_pages add = {
		.src = (uint64_t)(uintptr_t)src, .offset = 0, .length = 4096,
		.secinfo = (uint64_t)(uintptr_t)si, .flags = SGX_PAGE_MEASURE,
	};
	uint64_t flags = 0x3 | 0x200; /* R, W, PT_REG */

	(void)base;
	memset(si, 0, sizeof(si));
	memcpy(si, &flags, 8);
	return ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add) ? errno : 0;
}

/* Below mmap_min_addr: nothing is mapped there, whatever else maps meanwhile. */
#define LOW_HOLE ((const void *)(uintptr_t)0x1000)

struct bad_src {
	int fd;
	uint64_t base;
	void *none;
	int err_none, err_gone, err_arg;
	bool blocked;
};

/*
 * The sources again, from a thread whose kernel mask blocks SIGSEGV and
 * SIGBUS (a raw system call, which the shim cannot see): a fault of the
 * host's copy with them blocked would kill the process.
 */
static void *blocked_adds(void *arg)
{
	struct bad_src *b = arg;
	uint64_t all = ~0ULL;
	register long size __asm__("r10") = 8;
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "0"(SYS_rt_sigprocmask), "D"(SIG_BLOCK), "S"(&all),
			 "d"(NULL), "r"(size) : "rcx", "r11", "memory");
	b->blocked = r == 0;
	b->err_none = add_from(b->fd, b->base, b->none);
	b->err_gone = add_from(b->fd, b->base, LOW_HOLE);
	/* The argument is read by this thread itself (the source maybe not). */
	b->err_arg = ioctl(b->fd, SGX_IOC_ENCLAVE_ADD_PAGES, b->none) ? errno : 0;
	return NULL;
}

/*
 * A source or argument that faults is EFAULT, nothing else: the host's
 * copy turns its own fault into -EFAULT as the kernel's copy_from_user()
 * does (it copies only where the fault signals are open).
 */
static void test_bad_sources(void)
{
	int fd = open("/dev/sgx_enclave", O_RDWR);
	uint8_t *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct bad_src b = { .fd = fd };
	pthread_t t;
	bool ok;

	b.base = fd >= 0 ? fresh_enclave(fd) : 0;
	if (!b.base || p == MAP_FAILED || mprotect(p, 4096, PROT_NONE)) {
		tap_ok(false, "set-up: an enclave being built and a PROT_NONE page");
		tap_skip("no set-up", "faulting sources from a thread with the fault signals blocked");
		tap_skip("no set-up", "a good page after them");
		return;
	}
	b.none = p;
	tap_ok(add_from(fd, b.base, p) == EFAULT && add_from(fd, b.base, LOW_HOLE) == EFAULT &&
	       fails(ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, p), EFAULT),
	       "ADD_PAGES from a PROT_NONE page, from a hole, and with its argument in a PROT_NONE "
	       "page: EFAULT");
	ok = !pthread_create(&t, NULL, blocked_adds, &b) && !pthread_join(t, NULL);
	tap_ok(ok && b.blocked && b.err_none == EFAULT && b.err_gone == EFAULT &&
	       b.err_arg == EFAULT, "the same from a thread that blocks SIGSEGV and SIGBUS: "
	       "EFAULT (blocked %d: %d, %d, %d)", b.blocked, b.err_none, b.err_gone, b.err_arg);
	memset(p + 4096, 0x5a, 4096);
	tap_ok(add_from(fd, b.base, p + 4096) == 0, "a good page after them is added");
	munmap(p, 2 * 4096);
	close(fd);
}

int main(int argc, char **argv)
{
	note_inherited();
	ht_start(argc, argv, &e);
	test_stat();
	test_ioctl();
	test_bad_sources();
	test_mmap();
	test_no_pages();
	test_mprotect();
	test_munmap();
	test_mremap();
	test_fd_file();
	test_dup();
	test_again(argv);
	test_unmap_inside(argv);
	test_close_all(argv);
	return tap_done();
}
