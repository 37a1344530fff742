// SPDX-License-Identifier: MIT
/*
 * The EPC cgroup OOM killer as a program sees it.  Run under
 * `softsgx exec --cgroup-policy v5 --cgroup CGROUP:max` (v17 has no OOM
 * killer): while a thread spins inside the enclave, misc.max of CGROUP
 * drops to 0 through SOFTSGX_CGROUP_CONTROL (a named pipe this program
 * makes before it opens /dev/sgx_enclave).  The
 * driver reclaims every page it can, is left with the SECS and VA pages
 * over the limit and kills the enclave: NO_MEMORY, zapped from the process.
 * As on Linux, every later fault on it is a SIGBUS, which the vDSO reports
 * as a #PF (vector 14) without the SGX bit, and the SGX2 ioctls and a new
 * mmap say ENOMEM.
 * Usage: test_exec_cgroup_oom ENCLAVE.sgxs ENCLAVE.sig [CGROUP]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host_test.h"

#define PF 14
#define PF_P 0x1
#define PF_W 0x2
#define PF_U 0x4
#define PF_SGX 0x8000
#define WAIT_SECONDS 60

static struct encl e;
static char ctl_dir[64], ctl_path[96];

static volatile uint64_t stop_flag;
static struct sgx_enclave_run spin_run;
static struct encl_op spin_op;
static int spin_rc;
static _Atomic int spin_done;

static void *spinner(void *arg)
{
	(void)arg;
	spin_op = ht_op(ENCL_OP_SPIN, 0, (uint64_t)&stop_flag, 0);
	spin_rc = encl_enter(e.tcs[1], &spin_op, &spin_run, NULL, 0);
	spin_done = 1;
	return NULL;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The control pipe, made before the first open of /dev/sgx_enclave. */
static void control_setup(void)
{
	snprintf(ctl_dir, sizeof(ctl_dir), "/tmp/softsgx-cg-XXXXXX");
	if (!mkdtemp(ctl_dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(ctl_path, sizeof(ctl_path), "%s/control", ctl_dir);
	if (mkfifo(ctl_path, 0600)) {
		printf("Bail out! mkfifo: %s\n", strerror(errno));
		exit(1);
	}
	setenv("SOFTSGX_CGROUP_CONTROL", ctl_path, 1);
}

static void control_cleanup(void)
{
	if (ctl_path[0])
		unlink(ctl_path);
	if (ctl_dir[0])
		rmdir(ctl_dir);
}

static bool control_write(const char *line)
{
	int fd = open(ctl_path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(line);
	bool ok = fd >= 0 && write(fd, line, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Wait until the spinner's TCS has been entered (its record counts entries). */
static bool spinner_inside(void)
{
	uint64_t entries = e.tcs[1] + ENCL_SLOT_REC + offsetof(struct encl_thread_rec, entries);

	for (double end = now() + WAIT_SECONDS; now() < end;) {
		struct encl_op op = ht_op(ENCL_OP_READ, entries, 0, 0);

		if (!ht_call(e.tcs[0], &op))
			return false;
		if (op.ret)
			return true;
		usleep(1000);
	}
	return false;
}

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t buses, bus_code;
static volatile uint64_t bus_addr;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	buses++;
	bus_code = si->si_code;
	bus_addr = (uint64_t)si->si_addr;
	siglongjmp(bus_jmp, 1);
}

static void test_kill(const char *cgroup)
{
	char line[128];
	pthread_t t;
	bool ok;

	struct encl_op op = ht_op(ENCL_OP_RETURN, 7, 0, 0);

	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (7 ^ ENCL_RETURN_MAGIC),
	       "the enclave runs in cgroup %s", cgroup);
	if (pthread_create(&t, NULL, spinner, NULL)) {
		tap_ok(false, "a thread spins inside the enclave");
		return;
	}
	tap_ok(spinner_inside(), "a thread spins inside the enclave");

	snprintf(line, sizeof(line), "%s:0\n", cgroup);
	tap_ok(control_write(line), "misc.max of %s set to 0 through the control pipe", cgroup);
	for (double end = now() + WAIT_SECONDS; !spin_done && now() < end;)
		usleep(10000);
	ok = spin_done;
	if (!ok)
		stop_flag = 1; /* no kill: let it return, and fail below */
	pthread_join(t, NULL);

	/* Its next access after the zap: an AEX, then the driver's SIGBUS. */
	uint64_t a = spin_run.exception_addr;

	if (!tap_ok(ok && !spin_rc && spin_run.function == ENCL_ERESUME &&
		    spin_run.exception_vector == PF && (spin_run.exception_error_code & PF_U) &&
		    !(spin_run.exception_error_code & (PF_P | PF_SGX)) && a >= e.base &&
		    a < e.base + e.size && !(a & (ENCL_PAGE_SIZE - 1)),
		    "the spinning thread is killed: the vDSO reports a not-present #PF "
		    "inside ELRANGE, no SGX bit"))
		tap_diag("after %s: rc %d, function %u, vector %u, error 0x%x, addr 0x%llx",
			 ok ? "the kill" : "a timeout", spin_rc, spin_run.function,
			 spin_run.exception_vector, spin_run.exception_error_code,
			 (unsigned long long)a);
	else
		tap_diag("error code 0x%x at enclave offset 0x%llx",
			 spin_run.exception_error_code, (unsigned long long)(a - e.base));

	/* A new entry: EENTER's access to the zapped TCS is the fault. */
	struct sgx_enclave_run run;
	int rc;

	op = ht_op(ENCL_OP_RETURN, 8, 0, 0);
	rc = encl_enter(e.tcs[2], &op, &run, NULL, 0);
	tap_ok(!rc && run.function == ENCL_EENTER && run.exception_vector == PF &&
	       !(run.exception_error_code & (PF_P | PF_SGX)) &&
	       (run.exception_error_code & PF_U) && run.exception_addr == e.tcs[2],
	       "EENTER after the kill: #PF on the TCS (rc %d, function %u, vector %u, "
	       "error 0x%x, addr 0x%llx)", rc, run.function, run.exception_vector,
	       run.exception_error_code, (unsigned long long)run.exception_addr);

	/* The program's own access to enclave memory: a plain SIGBUS. */
	struct sigaction sa, old;
	volatile uint8_t *heap = (volatile uint8_t *)(uintptr_t)(e.base + ENCL_HEAP_OFFSET);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(bus_jmp, 1))
		(void)heap[8];
	sigaction(SIGBUS, &old, NULL);
	tap_ok(buses == 1 && bus_code == BUS_ADRERR && bus_addr == (uint64_t)(uintptr_t)&heap[8],
	       "a read of enclave memory outside the enclave: SIGBUS, BUS_ADRERR, at the "
	       "address read (%d, code %d, 0x%llx)", (int)buses, (int)bus_code,
	       (unsigned long long)bus_addr);

	struct sgx_enclave_restrict_permissions rp = {
		.offset = ENCL_HEAP_OFFSET, .length = ENCL_PAGE_SIZE, .permissions = ENCL_SI_R,
	};

	rc = ioctl(e.fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp) ? errno : 0;
	tap_ok(rc == ENOMEM, "an SGX2 ioctl on the killed enclave: ENOMEM (%s)", strerror(rc));

	/* No address space may join it any more (sgx_encl_mm_add). */
	void *p = mmap((void *)heap, ENCL_PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, e.fd, 0);

	rc = p == MAP_FAILED ? errno : 0;
	tap_ok(rc == ENOMEM, "a new mapping of the killed enclave: ENOMEM (%s)", strerror(rc));
}

int main(int argc, char **argv)
{
	const char *cgroup = argc > 3 ? argv[3] : "oom";

	if (!getenv("SOFTSGX_CGROUPS") || !strstr(getenv("SOFTSGX_CGROUPS"), cgroup)) {
		printf("1..0 # SKIP run under softsgx exec --cgroup %s:max\n", cgroup);
		return 0;
	}
	control_setup();
	atexit(control_cleanup);
	ht_start(argc, argv, &e);
	test_kill(cgroup);
	encl_unload(&e);
	return tap_done();
}
