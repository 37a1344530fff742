// SPDX-License-Identifier: MIT
/*
 * An application with its own signal handlers and processes, around an
 * enclave: its SIGSEGV handler gets its own faults but never the enclave's
 * (the vDSO reports those), SIGALRM and SIGUSR1 interrupt a thread spinning
 * inside the enclave (the handler runs, the enclave resumes and finishes), and
 * fork leaves the parent's enclave working while the children exit or exec
 * without touching it.
 * Usage: test_exec_signal ENCLAVE.sgxs ENCLAVE.sig [SIGNALS]
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host_test.h"

static struct encl e;

static sigjmp_buf segv_jmp;
static volatile sig_atomic_t segvs;
static volatile uint64_t segv_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	segvs++;
	segv_addr = (uint64_t)si->si_addr;
	siglongjmp(segv_jmp, 1);
}

static void test_own_segv(void)
{
	struct sigaction sa;
	struct sgx_enclave_run run;
	volatile char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t page = e.base + ENCL_HEAP_OFFSET;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	if (!sigsetjmp(segv_jmp, 1))
		p[10] = 1;
	tap_ok(segvs == 1 && segv_addr == (uint64_t)p + 10,
	       "the application's SIGSEGV handler gets its own fault at the right address");

	struct encl_op op = ht_op(ENCL_OP_RETURN, 5, 0, 0);

	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (5 ^ ENCL_RETURN_MAGIC),
	       "the enclave works with the handler installed");

	/* A #PF inside the enclave goes to the vDSO's caller, not to the handler. */
	op = ht_op(ENCL_OP_READ_WRITE, page, 1, 0);
	bool ok = !mprotect((void *)page, ENCL_PAGE_SIZE, PROT_READ);
	int rc = encl_enter(e.tcs[0], &op, &run, NULL, 0);

	tap_ok(ok && ht_exception(rc, &run, 14, 0x7, page) && segvs == 1,
	       "an enclave #PF is reported through the run struct, no SIGSEGV (%d)", (int)segvs);
	tap_ok(ht_recover(&run, &op) && !mprotect((void *)page, ENCL_PAGE_SIZE,
						  PROT_READ | PROT_WRITE),
	       "... and the enclave recovers from it");
	signal(SIGSEGV, SIG_DFL);
	munmap((void *)p, 4096);
}

static volatile uint64_t stop_flag;
static volatile sig_atomic_t alarms, usr1s;
static sig_atomic_t alarms_wanted;

static void on_alarm(int sig)
{
	(void)sig;
	if (++alarms >= alarms_wanted)
		stop_flag = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1s++;
}

static void test_alarm(unsigned int n)
{
	struct itimerval it = { .it_interval = { 0, 10000 }, .it_value = { 0, 10000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	struct encl_op op = ht_op(ENCL_OP_SPIN, 0, (uint64_t)&stop_flag, 0);

	stop_flag = 0;
	alarms = 0;
	alarms_wanted = (sig_atomic_t)n;
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
	bool ok = ht_call(e.tcs[1], &op);

	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	tap_ok(ok && alarms >= (sig_atomic_t)n && op.ret > 0,
	       "SIGALRM every 10 ms while spinning in the enclave: %d handled, the enclave "
	       "resumed each time and finished", (int)alarms);
}

struct spinner {
	uint64_t tcs;
	struct encl_op op;
	bool ok;
};

static void *spin_thread(void *arg)
{
	struct spinner *s = arg;

	s->ok = ht_call(s->tcs, &s->op);
	return NULL;
}

static void test_thread_signals(unsigned int n)
{
	struct spinner s = { .tcs = e.tcs[2] };
	struct timespec ms = { 0, 1000000 };
	pthread_t t;
	unsigned int sent = 0;

	stop_flag = 0;
	usr1s = 0;
	signal(SIGUSR1, on_usr1);
	s.op = ht_op(ENCL_OP_SPIN, 0, (uint64_t)&stop_flag, 0);
	if (pthread_create(&t, NULL, spin_thread, &s)) {
		tap_ok(false, "pthread_create");
		return;
	}
	nanosleep(&ms, NULL);
	/* One at a time: wait for each to be handled (at most ~2 s) before the next. */
	for (; sent < n; sent++) {
		pthread_kill(t, SIGUSR1);
		for (int i = 0; i < 2000 && usr1s <= (sig_atomic_t)sent; i++)
			nanosleep(&ms, NULL);
	}
	stop_flag = 1;
	pthread_join(t, NULL);
	signal(SIGUSR1, SIG_DFL);
	tap_ok(s.ok && usr1s == (sig_atomic_t)n && s.op.ret > 0,
	       "%u SIGUSR1 sent to a thread spinning in the enclave: %d handled, it finished",
	       n, (int)usr1s);
}

static int wait_child(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_fork(void)
{
	uint64_t heap = e.base + ENCL_HEAP_OFFSET + 8 * ENCL_PAGE_SIZE, len = 16 * ENCL_PAGE_SIZE;
	struct encl_op fill = ht_op(ENCL_OP_FILL, heap, 0xf0f0, len);
	struct encl_op check = ht_op(ENCL_OP_CHECK, heap, 0xf0f0, len);
	pid_t pid;

	bool ok = ht_call(e.tcs[3], &fill);

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(42);
	tap_ok(ok && wait_child(pid) == 42, "fork: the child exits without touching the enclave");
	tap_ok(ht_call(e.tcs[3], &check) && check.status == 0,
	       "the parent's enclave still holds its data");

	fflush(stdout);
	if (getenv("SOFTSGX_ASAN_BUILD")) {
		/* An ASan-built shim cannot be preloaded into sh, which has no ASan. */
		tap_skip("the shim is built with ASan", "fork: a child execs a program");
	} else {
		pid = fork();
		if (pid == 0) {
			execlp("sh", "sh", "-c", "exit 7", (char *)NULL);
			_exit(127);
		}
		tap_ok(wait_child(pid) == 7, "fork: a child execs a program");
	}
	struct encl_op op = ht_op(ENCL_OP_RETURN, 9, 0, 0);

	check = ht_op(ENCL_OP_CHECK, heap, 0xf0f0, len);
	tap_ok(ht_call(e.tcs[4], &op) && op.ret == (9 ^ ENCL_RETURN_MAGIC) &&
	       ht_call(e.tcs[3], &check) && check.status == 0,
	       "the parent enters the enclave after its children are gone");
}

int main(int argc, char **argv)
{
	unsigned int signals = (unsigned int)ht_arg(argc, argv, 3, 20);

	ht_start(argc, argv, &e);
	test_own_segv();
	test_alarm(signals > 5 ? 5 : signals);
	test_thread_signals(signals);
	test_fork();
	encl_unload(&e);
	return tap_done();
}
