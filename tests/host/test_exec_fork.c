// SPDX-License-Identifier: MIT
/*
 * fork while an enclave runs.  A thread of the parent spins inside the
 * enclave while the main thread forks.  The child must see none of the
 * parent's enclave: its enclave ranges read as all ones (the abort page)
 * and a write there faults, the vEPC mapping is gone (VM_DONTCOPY), the
 * shim's own fds are closed, the inherited enclave fd reads nothing and its
 * ioctls and mmaps fail with ENODEV, an entry through the vDSO or the
 * program's own ENCLU fails as a #PF on the TCS.  It then builds and runs
 * an enclave of its own, whose driver's --stats line at its exit shows
 * every EPC page back.  The parent's enclave runs on, its data intact.
 * Last, a child execs this program, which loads and runs the enclave in the
 * new image with nothing of its parent's left.
 * Usage: test_exec_fork ENCLAVE.sgxs ENCLAVE.sig [exec-child]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <urcu-bp.h>

#include "host_test.h"

#define PAGE 4096UL
#define PF_USER 4 /* #PF error code: user mode, not present, read */
#define CHILD_CHECKS 18

static struct encl e;
static bool inherited[1024];

/* Every byte of the page at @a is 0xff. */
static bool all_ones(uint64_t a)
{
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)a;

	for (unsigned long i = 0; i < PAGE; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

static bool inherited_reads_ones(void)
{
	const uint64_t pages[] = {
		e.base, e.base + ENCL_DATA_OFFSET, e.tcs[0], e.tcs[1] + ENCL_SLOT_SSA,
		e.base + ENCL_HEAP_OFFSET, e.base + e.size - PAGE,
	};

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (!all_ones(pages[i])) {
			tap_diag("child: page 0x%llx is not all ones",
				 (unsigned long long)pages[i]);
			return false;
		}
	return true;
}

/*
 * The vDSO reports an entry on an inherited TCS as EENTER's #PF there, not
 * present: as Linux does for a TCS whose page the driver cannot give.
 */
static bool entry_fails(uint64_t tcs)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 1, 0, 0);
	struct sgx_enclave_run run;
	int rc = encl_enter(tcs, &op, &run, NULL, 0);

	if (!rc && run.function == ENCL_EENTER && run.exception_vector == 14 &&
	    run.exception_error_code == PF_USER && run.exception_addr == tcs &&
	    op.ret == 0xdeadbeef)
		return true;
	tap_diag("child: rc %d, function %u, vector %u, error 0x%x, addr 0x%llx, ret 0x%llx", rc,
		 run.function, run.exception_vector, run.exception_error_code,
		 (unsigned long long)run.exception_addr, (unsigned long long)op.ret);
	return false;
}

/* Open fds that are neither inherited at start nor in @known: listed in @bad. */
static int unknown_fds(const int *known, int n, char *bad, size_t size)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int count = 0;

	bad[0] = 0;
	while (d && (de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool ok = de->d_name[0] == '.' || fd == dirfd(d) || (fd < 1024 && inherited[fd]);
		char path[64], target[128];
		ssize_t len;

		for (int i = 0; i < n && !ok; i++)
			ok = fd == known[i];
		if (ok)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		snprintf(bad + strlen(bad), size - strlen(bad), " %d:%s", fd, target);
		count++;
	}
	if (d)
		closedir(d);
	return count;
}

/* mprotect and mremap of an inherited enclave range, as the kernel's checks allow. */
static void test_child_mm(void)
{
	volatile uint8_t *h = (volatile uint8_t *)(uintptr_t)(e.base + ENCL_HEAP_OFFSET);
	volatile uint8_t *end = (volatile uint8_t *)(uintptr_t)(e.base + e.size - 2 * PAGE);
	uint8_t v = 0;
	int s1, s2, s3;
	bool ok;

	ok = !mprotect((void *)h, 4 * PAGE, PROT_NONE);
	s1 = ht_try_access(HT_LOAD, (uint64_t)(uintptr_t)(h + PAGE), &v, NULL);
	ok = ok && !mprotect((void *)h, 4 * PAGE, PROT_READ | PROT_WRITE);
	s2 = ht_try_access(HT_LOAD, (uint64_t)(uintptr_t)(h + PAGE), &v, NULL);
	ht_child_ok(ok && s1 == SIGSEGV && !s2 && v == 0xff, "child: mprotect PROT_NONE there "
		 "makes a read SIGSEGV, and back to RW it reads ones again (signals %d, %d)",
		 s1, s2);

	/* Moved inside ELRANGE it reads ones; outside, no page can show (SIGBUS). */
	void *out = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ok = mremap((void *)(h + 8 * PAGE), PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
		    (void *)end) == (void *)end;
	s1 = ht_try_access(HT_LOAD, (uint64_t)(uintptr_t)end, &v, NULL);
	ok = ok && v == 0xff && out != MAP_FAILED &&
	     mremap((void *)(h + 9 * PAGE), PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, out) == out;
	s2 = ht_try_access(HT_LOAD, (uint64_t)(uintptr_t)out, &v, NULL);
	s3 = ht_try_access(HT_LOAD, (uint64_t)(uintptr_t)(h + 9 * PAGE), &v, NULL);
	ht_child_ok(ok && !s1 && s2 == SIGBUS && s3 == SIGSEGV, "child: mremap moves it, reading "
		 "ones inside ELRANGE, SIGBUS outside, nothing left behind (signals %d, %d, %d)",
		 s1, s2, s3);
}

static void child(int vepc, void *vepc_map, int result_fd, char **argv)
{
	uint64_t heap = e.base + ENCL_HEAP_OFFSET;
	int known[] = { e.fd, vepc, result_fd, 0, 1, 2 };
	struct sgx_enclave_init init = { 0 };
	char bad[512], buf[64];
	struct ht_fault f;
	struct encl e2;
	int fd, sig;

	ht_child_ok(inherited_reads_ones(), "child: the inherited enclave ranges read as all ones "
		 "(code, data, TCS, SSA, heap, the unadded end)");
	sig = ht_try_access(HT_STORE, heap + 8, NULL, NULL);
	sig |= ht_try_access(HT_STORE, e.tcs[2] + 64, NULL, NULL);
	sig |= ht_try_access(HT_STORE8, heap + 2 * PAGE - 4, NULL, NULL);
	ht_child_ok(!sig && all_ones(heap) && all_ones(heap + PAGE) && all_ones(heap + 2 * PAGE) &&
		 all_ones(e.tcs[2]), "child: writes there (one crossing a page boundary) are "
		 "dropped, as hardware drops them (signal %d)", sig);
	test_child_mm();
	ht_child_ok(msync(vepc_map, PAGE, MS_ASYNC) == -1 && errno == ENOMEM,
		 "child: the vEPC mapping is not there (VM_DONTCOPY)");
	ht_child_ok(!unknown_fds(known, 6, bad, sizeof(bad)),
		 "child: no fd of the shim's is open (found:%s)", bad);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", e.fd);
	fd = open(buf, O_RDONLY);
	/* The magic link opens the device again: a new enclave file, unreadable. */
	ht_child_ok(fd >= 0 && read(fd, buf, sizeof(buf)) == -1 && errno == EINVAL,
		 "child: a reopen of the enclave fd through /proc/self/fd is a new device "
		 "file, which reads nothing (EINVAL)");
	if (fd >= 0)
		close(fd);
	ht_child_ok(ioctl(e.fd, SGX_IOC_ENCLAVE_INIT, &init) == -1 && errno == ENODEV,
		 "child: an ioctl on the inherited enclave fd is ENODEV");
	ht_child_ok(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, e.fd, 0) == MAP_FAILED &&
		 errno == ENODEV, "child: an mmap of the inherited enclave fd is ENODEV");
	ht_child_ok(ioctl(vepc, SGX_IOC_VEPC_REMOVE_ALL) == -1 && errno == ENODEV,
		 "child: an ioctl on the inherited vEPC fd is ENODEV");
	ht_child_ok(entry_fails(e.tcs[0]), "child, no driver yet: EENTER through the vDSO on an "
		 "inherited TCS reports #PF (not present) on the TCS");
	sig = ht_try_access(HT_ENCLU_EENTER, e.tcs[0], NULL, &f);
	ht_child_ok(sig == SIGBUS && f.code == BUS_ADRERR &&
		 f.addr == (void *)(uintptr_t)e.tcs[0], "child, no driver yet: its own "
		 "ENCLU on an inherited TCS is a SIGBUS at the TCS (signal %d)", sig);

	int r = encl_load(&e2, argv[1], argv[2]);
	struct encl_op op = ht_op(ENCL_OP_RETURN, 77, 0, 0);

	ht_child_ok(!r && ht_call(e2.tcs[0], &op) && op.ret == (77 ^ ENCL_RETURN_MAGIC),
		 "child: builds and enters an enclave of its own (%d)", r);
	uint64_t h2 = r ? 0 : e2.base + ENCL_HEAP_OFFSET;
	struct encl_op fill = ht_op(ENCL_OP_FILL, h2, 0xc41d, 8 * PAGE);
	struct encl_op check = ht_op(ENCL_OP_CHECK, h2, 0xc41d, 8 * PAGE);

	ht_child_ok(!r && ht_call(e2.tcs[1], &fill) && ht_call(e2.tcs[2], &check) &&
		 check.status == 0, "child: its enclave keeps what it wrote");
	ht_child_ok(entry_fails(e.tcs[1]), "child, own driver: EENTER through the vDSO on an "
		 "inherited TCS still reports #PF on the TCS");
	sig = ht_try_access(HT_ENCLU_EENTER, e.tcs[1], NULL, &f);
	ht_child_ok(sig == SIGBUS && f.addr == (void *)(uintptr_t)e.tcs[1],
		 "child, own driver: its own ENCLU on an inherited TCS is a SIGBUS (signal %d)",
		 sig);
	ht_child_ok(inherited_reads_ones(), "child, own driver: the inherited ranges still read "
		 "as all ones");

	/* A fork of the child: its own enclave and the one it inherited read ones. */
	pid_t g = fork();
	int gs = -1;

	if (g == 0)
		_exit(!r && all_ones(h2) && all_ones(e2.tcs[0]) && all_ones(heap + 16 * PAGE) ? 0 : 1);
	ht_child_ok(g > 0 && waitpid(g, &gs, 0) == g && WIFEXITED(gs) && !WEXITSTATUS(gs),
		 "child's child: the child's enclave and the one it inherited read as all ones "
		 "(status 0x%x)", gs);
	if (!r)
		encl_unload(&e2);
	munmap((void *)(uintptr_t)e.base, e.size);
	close(e.fd);
	close(vepc);
	ht_child_exit();
}

/* ---- the parent ---- */

struct spinner {
	pthread_t t;
	volatile uint64_t stop, inside;
	struct encl_op op;
	bool ok;
};

static void *spin(void *arg)
{
	struct spinner *s = arg;

	s->ok = ht_call(e.tcs[1], &s->op);
	return NULL;
}

/*
 * A thread of the parent inside a read section of liburcu-bp (the library
 * the driver's RCU uses, one copy in the process) across the fork, as
 * ksgxd may be walking an mm list: the child must not wait for it.
 */
static volatile int reader_state; /* 1: inside, 2: may leave */

static void *rcu_reader(void *arg)
{
	(void)arg;
	urcu_bp_read_lock();
	reader_state = 1;
	while (reader_state != 2)
		usleep(1000);
	urcu_bp_read_unlock();
	return NULL;
}

/*
 * A child's --stats line must be of its own driver, every page back (and
 * the only one: the parent's driver says nothing there).
 */
static void check_child_stats(const char *who, const struct ht_child *c)
{
	const struct ht_epc_stats *st = &c->stats;

	if (!getenv("SOFTSGX_STATS")) {
		tap_skip("no --stats", "%s: its --stats line shows its own driver", who);
		return;
	}
	tap_ok(c->nr_stats == 1 && st->total && st->free == st->total && !st->used && !st->leaked,
	       "%s: one --stats line, of its own driver: total %llu free %llu used %llu "
	       "leaked %llu", who, st->total, st->free, st->used, st->leaked);
}

static void test_fork(char **argv)
{
	uint64_t heap = e.base + ENCL_HEAP_OFFSET, len = 32 * PAGE;
	struct encl_op fill = ht_op(ENCL_OP_FILL, heap, 0xf02c, len);
	struct encl_op check = ht_op(ENCL_OP_CHECK, heap, 0xf02c, len);
	static struct spinner s;
	int vepc = open("/dev/sgx_vepc", O_RDWR);
	void *vmap = vepc >= 0 ? mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vepc, 0) :
				 MAP_FAILED;
	struct ht_child c;

	tap_ok(vmap != MAP_FAILED, "a vEPC fd is open and mapped");
	tap_ok(ht_call(e.tcs[0], &fill), "the enclave's heap holds a pattern");
	s.op = ht_op(ENCL_OP_SPIN, (uint64_t)(uintptr_t)&s.inside, (uint64_t)(uintptr_t)&s.stop, 0);
	tap_ok(!pthread_create(&s.t, NULL, spin, &s), "a thread enters the enclave and spins");
	/* The fork must find it inside: wait for the enclave's word, not a guess. */
	for (int ms = 0; ms < 10000 && !s.inside; ms++)
		usleep(1000);

	pthread_t reader;

	tap_ok(!pthread_create(&reader, NULL, rcu_reader, NULL),
	       "a thread holds an RCU read section across the fork");
	for (int ms = 0; ms < 10000 && reader_state != 1; ms++)
		usleep(1000);

	if (ht_fork(&c, 120) == 0)
		child(vepc, vmap, c.results, argv);
	s.stop = 1;
	pthread_join(s.t, NULL);
	reader_state = 2;
	pthread_join(reader, NULL);
	tap_ok(s.ok && s.op.ret > 0, "the thread inside the enclave at the fork finishes (%llu "
	       "rounds)", (unsigned long long)s.op.ret);

	ht_child_finish(&c, "the child");
	tap_ok(c.status == 0 && c.cases == CHILD_CHECKS, "the child exits with 0 after %u "
	       "checks", c.cases);
	check_child_stats("the child", &c);

	bool all = true;

	for (unsigned int i = 0; i < e.nr_tcs; i++) {
		struct encl_op op = ht_op(ENCL_OP_RETURN, i, 0, 0);

		all &= ht_call(e.tcs[i], &op) && op.ret == (i ^ ENCL_RETURN_MAGIC);
	}
	tap_ok(all, "the parent enters its enclave through every TCS after the fork");
	all = ht_call(e.tcs[2], &check);
	tap_ok(all && check.status == 0, "the parent's enclave heap is intact (%llu bytes differ)",
	       (unsigned long long)check.status);
	munmap(vmap, 4 * PAGE);
	close(vepc);
}

static void test_fork_exec(char **argv)
{
	char *args[] = { argv[0], argv[1], argv[2], (char *)"exec-child", NULL };
	struct ht_child c;

	if (ht_fork(&c, 120) == 0) {
		execv(argv[0], args);
		_exit(127);
	}
	ht_child_finish(&c, "fork+exec");
	tap_ok(c.status == 0, "fork+exec: the new image builds and runs its own enclave, with no "
	       "fd of the parent's shim open (status %d)", c.status);
	check_child_stats("fork+exec", &c);
}

/*
 * The exec'd image: no TAP, the exit status says it all.  Of the parent's
 * shim only the program's enclave fd may have come along (it is no
 * close-on-exec), and it must read nothing.
 */
static int exec_child(char **argv)
{
	static const char *const shim_own[] = { "sgx_enclave_window", "SGX backing",
						"sgx_enclave_hole", "userfaultfd" };
	struct encl_op op = ht_op(ENCL_OP_RETURN, 5, 0, 0);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	struct encl e3;
	int r;

	while (d && (de = readdir(d))) {
		char path[300], target[128], c;
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		for (size_t i = 0; i < sizeof(shim_own) / sizeof(shim_own[0]); i++)
			if (strstr(target, shim_own[i])) {
				fprintf(stderr, "the exec'd image has fd %s: %s\n", de->d_name,
					target);
				return 3;
			}
		if (strstr(target, "memfd:sgx_enclave") &&
		    pread(atoi(de->d_name), &c, 1, 0) != 0) {
			fprintf(stderr, "fd %s (%s) reads enclave bytes\n", de->d_name, target);
			return 3;
		}
	}
	if (d)
		closedir(d);
	r = encl_load(&e3, argv[1], argv[2]);
	if (r)
		return 4;
	if (!ht_call(e3.tcs[0], &op) || op.ret != (5 ^ ENCL_RETURN_MAGIC))
		return 5;
	encl_unload(&e3);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 3 && !strcmp(argv[3], "exec-child")) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1); /* the loader's diagnostics are the parent's TAP otherwise */
		close(fd);
		return exec_child(argv);
	}
	for (int fd = 0; fd < 1024; fd++)
		inherited[fd] = fcntl(fd, F_GETFD) >= 0;
	ht_start(argc, argv, &e);
	test_fork(argv);
	test_fork_exec(argv);
	encl_unload(&e);
	return tap_done();
}
