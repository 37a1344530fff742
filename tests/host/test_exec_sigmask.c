// SPDX-License-Identifier: MIT
/*
 * Programs that block signals.  On hardware a thread that blocks every
 * signal still enters enclaves, takes the reclaimer's ETRACK IPIs while
 * inside, and a blocked SIGSEGV from a fault still kills it.  Under the shim
 * the same must hold although ENCLU traps and the IPI is a signal.
 *
 * Run with the big test enclave and a small EPC (`--epc 1M`): the main
 * thread rewrites the whole heap while a thread that blocked everything
 * spins inside, so EWB must kick that thread out.
 * Usage: test_exec_sigmask ENCLAVE.sgxs ENCLAVE.sig
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "host_test.h"

static struct encl e;
static uint64_t heap, heap_len;
static _Atomic uint64_t release_spinner;
static _Atomic int spinner_inside;
static pid_t main_pid;

/* Every signal that can be blocked is reported blocked. */
static bool all_blocked(const sigset_t *s)
{
	for (int sig = 1; sig < 32; sig++) /* 32, 33: glibc keeps them */
		if (sig != SIGKILL && sig != SIGSTOP && sigismember(s, sig) != 1)
			return false;
	return sigismember(s, SIGRTMAX - 1) == 1;
}

struct spinner {
	bool entered, mask_kept;
	struct encl_op op;
};

static void *spin_blocked(void *arg)
{
	struct spinner *sp = arg;
	sigset_t all, now;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	atomic_store(&spinner_inside, 1);
	sp->op = ht_op(ENCL_OP_SPIN, 0, (uint64_t)(uintptr_t)&release_spinner, 0);
	sp->entered = ht_call(e.tcs[1], &sp->op);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	sp->mask_kept = all_blocked(&now);
	return NULL;
}

static void test_kick_reaches_blocked_thread(void)
{
	struct spinner sp = { 0 };
	struct encl_op fill = ht_op(ENCL_OP_FILL, heap, 0x5157, heap_len);
	struct encl_op check = ht_op(ENCL_OP_CHECK, heap, 0x5157, heap_len);
	pthread_t t;

	if (pthread_create(&t, NULL, spin_blocked, &sp)) {
		tap_ok(false, "thread created");
		return;
	}
	while (!atomic_load(&spinner_inside))
		usleep(1000);
	usleep(20000); /* let it get inside */
	/* A hang here is the bug: the alarm below turns it into a failure. */
	alarm(60);
	tap_ok(ht_call(e.tcs[0], &fill),
	       "the heap (%llu KiB, many times the EPC) rewritten while a thread that blocks "
	       "every signal is inside", (unsigned long long)heap_len >> 10);
	atomic_store(&release_spinner, 1);
	pthread_join(t, NULL);
	alarm(0);
	tap_ok(sp.entered && sp.op.status == 0,
	       "the thread that blocks every signal entered, spun and left");
	tap_ok(sp.mask_kept, "its mask still reads as everything blocked");
	tap_ok(ht_call(e.tcs[2], &check) && check.status == 0, "the heap reads back intact");
}

/* Old programs still use the BSD and System V calls, deprecated or not. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void test_masks_read_back(void)
{
	sigset_t set, old, now;
	int bsd;

	sigemptyset(&set);
	sigaddset(&set, SIGILL);
	sigaddset(&set, SIGSEGV);
	sigaddset(&set, SIGUSR1);
	tap_ok(sigprocmask(SIG_BLOCK, &set, &old) == 0 && sigismember(&old, SIGILL) == 0,
	       "sigprocmask blocks SIGILL, SIGSEGV, SIGUSR1");
	sigprocmask(SIG_SETMASK, NULL, &now);
	tap_ok(sigismember(&now, SIGILL) == 1 && sigismember(&now, SIGSEGV) == 1 &&
	       sigismember(&now, SIGUSR1) == 1, "and reads them back as blocked");

	struct encl_op op = ht_op(ENCL_OP_RETURN, 77, 0, 0);

	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (77 ^ ENCL_RETURN_MAGIC),
	       "an enclave call still works with SIGILL and SIGSEGV blocked");

	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	sigprocmask(SIG_SETMASK, NULL, &now);
	tap_ok(sigismember(&now, SIGILL) == 1 && sigismember(&now, SIGSEGV) == 0,
	       "SIG_UNBLOCK of SIGSEGV leaves SIGILL blocked");

	bsd = sigsetmask(0);
	tap_ok((bsd & (1 << (SIGILL - 1))) && (bsd & (1 << (SIGUSR1 - 1))) &&
	       !(bsd & (1 << (SIGSEGV - 1))), "sigsetmask returns the old mask (%#x)", bsd);
	sighold(SIGTRAP);
	tap_ok((sigblock(0) & (1 << (SIGTRAP - 1))) != 0, "sighold shows in sigblock(0)");
	sigrelse(SIGTRAP);
	tap_ok((sigblock(0) & (1 << (SIGTRAP - 1))) == 0, "sigrelse undoes it");

	/* The system call itself, as a program may make it through syscall(). */
	uint64_t kset = 1ULL << (SIGILL - 1), kold = 0;

	tap_ok(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &kset, &kold, 8) == 0 &&
	       !(kold & kset), "syscall(SYS_rt_sigprocmask) blocks SIGILL");
	op = ht_op(ENCL_OP_RETURN, 78, 0, 0);
	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (78 ^ ENCL_RETURN_MAGIC),
	       "an enclave call still works");
	kset = 0;
	tap_ok(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &kset, 8) == 0 &&
	       kset == 1ULL << (SIGILL - 1), "and the system call reads SIGILL back (%#llx)",
	       (unsigned long long)kset);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Blocks SIGFPE for itself, and leaves SIGILL blocked behind it. */
static void usr1_handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	sigset_t fpe;

	(void)sig;
	(void)si;
	sigemptyset(&fpe);
	sigaddset(&fpe, SIGFPE);
	sigprocmask(SIG_BLOCK, &fpe, NULL);
	sigaddset(&uc->uc_sigmask, SIGILL);
}

/*
 * A handler's return restores the mask its context holds, as rt_sigreturn
 * does on Linux: what it blocked with sigprocmask is open again, what it
 * put in uc_sigmask is blocked (SIGILL here: the enclave must still run).
 */
static void test_handler_return_mask(void)
{
	struct sigaction sa = { .sa_sigaction = usr1_handler, .sa_flags = SA_SIGINFO };
	struct encl_op op = ht_op(ENCL_OP_RETURN, 79, 0, 0);
	sigset_t set, old, now;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTRAP);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	sigprocmask(SIG_SETMASK, NULL, &now);
	tap_ok(sigismember(&now, SIGFPE) == 0 && sigismember(&now, SIGTRAP) == 1,
	       "after a handler: SIGFPE it blocked with sigprocmask is open, SIGTRAP still "
	       "blocked");
	tap_ok(sigismember(&now, SIGILL) == 1,
	       "SIGILL added to uc_sigmask is blocked after the handler returns");
	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (79 ^ ENCL_RETURN_MAGIC),
	       "and an enclave call still works");
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
}

static void segv_handler(int sig)
{
	(void)sig;
	_exit(3);
}

static void *enter_blocked(void *arg)
{
	struct spinner *sp = arg;
	sigset_t now;

	sp->op = ht_op(ENCL_OP_RETURN, 8, 0, 0);
	sp->entered = ht_call(e.tcs[1], &sp->op) && sp->op.ret == (8 ^ ENCL_RETURN_MAGIC);
	/* A child of fork that does not share the enclave: the vDSO returns the TCS's #PF. */
	if (getpid() != main_pid && !ht_fork_shares())
		sp->entered = !sp->entered;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	sp->mask_kept = all_blocked(&now);
	return NULL;
}

/*
 * A thread that libc starts with every signal blocked in the kernel's mask
 * (pthread_attr_setsigmask_np(); glibc's SIGEV_THREAD timers run their
 * callbacks so): none of the shim's interposers ran in it before it enters.
 */
static int thread_started_blocked(void)
{
	struct spinner sp = { 0 };
	pthread_attr_t attr;
	sigset_t all;
	pthread_t t;

	sigfillset(&all);
	if (pthread_attr_init(&attr))
		return 10;
	if (pthread_attr_setsigmask_np(&attr, &all) ||
	    pthread_create(&t, &attr, enter_blocked, &sp)) {
		pthread_attr_destroy(&attr);
		return 10;
	}
	pthread_attr_destroy(&attr);
	pthread_join(t, NULL);
	return !sp.entered ? 11 : !sp.mask_kept ? 12 : 0;
}

static volatile int *volatile nowhere;

/* In a child: with @how, a handler for SIGSEGV, then a fault or a kill. */
static int child_status(int how)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		sigset_t set;

		if (how == 4)
			_exit(thread_started_blocked());
		if (how == 2) {
			/* Ignored and forced: the default action too, not a loop on the fault. */
			signal(SIGSEGV, SIG_IGN);
			alarm(5);
			nowhere = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			(void)*nowhere;
			_exit(4);
		}
		signal(SIGSEGV, segv_handler);
		sigemptyset(&set);
		sigaddset(&set, SIGSEGV);
		sigprocmask(SIG_BLOCK, &set, NULL);
		if (how == 0) {
			/* A page that faults (not NULL: UBSan stops a NULL load first). */
			nowhere = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			(void)*nowhere; /* blocked and forced: the default action */
			_exit(4);
		}
		/* Sent, not forced: pending until unblocked, then handled. */
		kill(getpid(), SIGSEGV);
		usleep(10000);
		if (how == 3) {
			/* A child of fork starts with nothing pending. */
			pid_t gc = fork();

			if (gc == 0) {
				sigprocmask(SIG_UNBLOCK, &set, NULL);
				_exit(6);
			}
			if (gc < 0 || waitpid(gc, &st, 0) != gc || !WIFEXITED(st))
				_exit(7);
			_exit(WEXITSTATUS(st));
		}
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		_exit(5);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

/* The kernel's mask, past every interposer: the inline system call. */
static long kernel_block(uint64_t set)
{
	register long r10 __asm__("r10") = 8;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"((long)SYS_rt_sigprocmask), "D"((long)SIG_BLOCK), "S"(&set), "d"(0L),
			   "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

#define BIT(sig) (1ULL << ((sig) - 1))
#define RESERVED_BITS                                                               \
	(BIT(SIGILL) | BIT(SIGSEGV) | BIT(SIGBUS) | BIT(SIGFPE) | BIT(SIGTRAP) | \
	 BIT(SIGRTMAX - 1))

/*
 * A program started with the signals enclaves run on blocked in the
 * kernel's mask (a mask survives exec: any parent can leave it so): its
 * shim must take them out of the kernel's mask at start, and the program
 * must still read them back as blocked.
 */
static void test_exec_masked(char **argv)
{
	char *args[] = { argv[0], argv[1], argv[2], (char *)"masked-child", NULL };
	pid_t pid = fork();
	int st = -1;

	if (pid == 0) {
		if (kernel_block(RESERVED_BITS))
			_exit(20);
		execv(argv[0], args);
		_exit(21);
	}
	if (pid > 0 && waitpid(pid, &st, 0) != pid)
		st = -1;
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "exec with SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGTRAP and the kick signal blocked: "
	       "the mask reads back blocked and the enclave runs (status %#x)", st);
}

/*
 * The other way: the program blocks some of them and runs another program,
 * which inherits its mask on Linux (by execv, execl, or posix_spawn).
 */
static void test_wish_survives_exec(char **argv)
{
	static const char *const how[] = { "execv", "execl", "posix_spawn" };

	for (int k = 0; k < 3; k++) {
		char *args[] = { argv[0], argv[1], argv[2], (char *)"wish-child", NULL };
		sigset_t set;
		pid_t pid = fork();
		int st = -1;

		if (pid == 0) {
			sigemptyset(&set);
			sigaddset(&set, SIGTRAP);
			sigaddset(&set, SIGBUS);
			sigprocmask(SIG_BLOCK, &set, NULL);
			if (k == 0)
				execv(argv[0], args);
			else if (k == 1)
				execl(argv[0], argv[0], argv[1], argv[2], "wish-child", (char *)NULL);
			else if (!posix_spawn(&pid, argv[0], NULL, NULL, args, environ) &&
				 waitpid(pid, &st, 0) == pid && WIFEXITED(st))
				_exit(WEXITSTATUS(st));
			_exit(21);
		}
		if (pid > 0 && waitpid(pid, &st, 0) != pid)
			st = -1;
		tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "SIGTRAP and SIGBUS blocked, then %s: the new program has them blocked "
		       "(status %#x)", how[k], st);
	}
}

/* The image test_wish_survives_exec() starts. */
static int wish_child(void)
{
	sigset_t cur;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, SIGTRAP) == 1 && sigismember(&cur, SIGBUS) == 1 &&
	       sigismember(&cur, SIGSEGV) == 0 ? 0 : 10;
}

/*
 * A SIGTRAP sent while blocked is pending: sigpending() shows it, and it
 * stays pending across exec (where the new program finds it).
 */
static void test_pending(char **argv)
{
	char *args[] = { argv[0], argv[1], argv[2], (char *)"pending-child", NULL };
	pid_t pid = fork();
	int st = -1;

	if (pid == 0) {
		sigset_t set, pend;

		sigemptyset(&set);
		sigaddset(&set, SIGTRAP);
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGTRAP);
		if (sigpending(&pend) || sigismember(&pend, SIGTRAP) != 1)
			_exit(30);
		execv(argv[0], args);
		_exit(31);
	}
	if (pid > 0 && waitpid(pid, &st, 0) != pid)
		st = -1;
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "a SIGTRAP raised while blocked shows in sigpending, and after exec too "
	       "(status %#x)", st);
}

/*
 * A child of vfork shares its parent's memory but has a mask of its own:
 * what it blocks or unblocks is not the parent's, and it starts with the
 * parent's.  Once it unblocks SIGTRAP and exits, once it blocks SIGBUS too
 * and execs (the new program must have both blocked).
 */
static volatile int vfork_saw;

static void test_vfork(char **argv)
{
	char *args[] = { argv[0], argv[1], argv[2], (char *)"wish-child", NULL };
	sigset_t trap, bus, old, now;
	int st = -1, st2 = -1;
	pid_t pid;

	sigemptyset(&trap);
	sigaddset(&trap, SIGTRAP);
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	sigprocmask(SIG_BLOCK, &trap, &old);
	vfork_saw = -1;
	pid = vfork();
	if (pid == 0) {
		sigset_t cur;

		sigprocmask(SIG_UNBLOCK, &trap, &cur);
		vfork_saw = sigismember(&cur, SIGTRAP);
		_exit(0);
	}
	if (pid > 0 && waitpid(pid, &st, 0) != pid)
		st = -1;
	sigprocmask(SIG_SETMASK, NULL, &now);
	tap_ok(WIFEXITED(st) && vfork_saw == 1 && sigismember(&now, SIGTRAP) == 1,
	       "a child of vfork starts with SIGTRAP blocked (%d), and its unblocking it "
	       "leaves the parent's blocked (%d)", vfork_saw, sigismember(&now, SIGTRAP));
	pid = vfork();
	if (pid == 0) {
		sigprocmask(SIG_BLOCK, &bus, NULL);
		execv(argv[0], args);
		_exit(21);
	}
	if (pid > 0 && waitpid(pid, &st2, 0) != pid)
		st2 = -1;
	sigprocmask(SIG_SETMASK, NULL, &now);
	tap_ok(WIFEXITED(st2) && WEXITSTATUS(st2) == 0 && sigismember(&now, SIGBUS) == 0,
	       "a child of vfork blocks SIGBUS and execs: the new program has SIGTRAP and SIGBUS "
	       "blocked (status %#x), the parent SIGBUS open", st2);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* system() and popen() start a shell, which starts the program: both inherit the mask. */
static void test_system_popen(char **argv)
{
	char cmd[1024];
	sigset_t set, old;
	int st, pst = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "exec '%s' '%s' '%s' wish-child", argv[0], argv[1], argv[2]);
	sigemptyset(&set);
	sigaddset(&set, SIGTRAP);
	sigaddset(&set, SIGBUS);
	sigprocmask(SIG_BLOCK, &set, &old);
	st = system(cmd);
	f = popen(cmd, "w"); /* its output stays the test's */
	if (f)
		pst = pclose(f);
	sigprocmask(SIG_SETMASK, &old, NULL);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "SIGTRAP and SIGBUS blocked, then system(): the program it runs has them blocked "
	       "(status %#x)", st);
	tap_ok(WIFEXITED(pst) && WEXITSTATUS(pst) == 0,
	       "the same through popen() (status %#x)", pst);
	tap_ok(system(NULL) != 0, "system(NULL) finds a shell");
}

/* sigwait and friends take a SIGTRAP that waits while blocked. */
static void test_sigwait(void)
{
	struct timespec ts = { 1, 0 };
	sigset_t set, old;
	siginfo_t si;
	int a, b = 0, c;

	sigemptyset(&set);
	sigaddset(&set, SIGTRAP);
	sigprocmask(SIG_BLOCK, &set, &old);
	alarm(20); /* a wait that never returns is the failure */
	raise(SIGTRAP);
	a = sigtimedwait(&set, &si, &ts);
	raise(SIGTRAP);
	c = sigwait(&set, &b);
	raise(SIGTRAP);
	sigwaitinfo(&set, NULL);
	/* The system call as a program may make it through syscall(): the kernel's 8-byte set. */
	uint64_t kset = 1ULL << (SIGTRAP - 1);
	siginfo_t si2;
	long d;

	raise(SIGTRAP);
	memset(&si2, 0, sizeof(si2));
	d = syscall(SYS_rt_sigtimedwait, &kset, &si2, &ts, 8);
	if (d != SIGTRAP)
		sigtimedwait(&set, NULL, &ts); /* not taken: it must not kill at the unblock */
	alarm(0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	tap_ok(a == SIGTRAP && si.si_signo == SIGTRAP && si.si_code == SI_USER && c == 0 &&
	       b == SIGTRAP, "sigtimedwait, sigwait and sigwaitinfo take a blocked, pending "
	       "SIGTRAP (%d, code %d; %d, %d)", a, si.si_code, c, b);
	tap_ok(d == SIGTRAP && si2.si_signo == SIGTRAP && si2.si_code == SI_TKILL,
	       "so does syscall(SYS_rt_sigtimedwait), with the kernel's si_code (%ld, errno %d, "
	       "code %d)", d, d < 0 ? errno : 0, si2.si_code);
}

static int pending_child(void)
{
	sigset_t pend;

	return !sigpending(&pend) && sigismember(&pend, SIGTRAP) == 1 ? 0 : 10;
}

/* The image test_exec_masked() starts: no TAP, the exit status says it all. */
static int masked_child(void)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 9, 0, 0);
	uint64_t now = 0;
	sigset_t cur;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	for (int sig = 1; sig < 64; sig++)
		if ((RESERVED_BITS & BIT(sig)) && sigismember(&cur, sig) != 1)
			return 10;
	if (!ht_call(e.tcs[0], &op) || op.ret != (9 ^ ENCL_RETURN_MAGIC))
		return 11;
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, 8) ||
	    (now & RESERVED_BITS) != RESERVED_BITS)
		return 12;
	encl_unload(&e);
	return 0;
}

int main(int argc, char **argv)
{
	int st;

	ht_start(argc, argv, &e);
	if (argc > 3 && !strcmp(argv[3], "masked-child"))
		return masked_child();
	if (argc > 3 && !strcmp(argv[3], "wish-child")) {
		encl_unload(&e);
		return wish_child();
	}
	if (argc > 3 && !strcmp(argv[3], "pending-child")) {
		encl_unload(&e);
		return pending_child();
	}
	test_exec_masked(argv);
	test_wish_survives_exec(argv);
	test_pending(argv);
	test_vfork(argv);
	test_system_popen(argv);
	test_sigwait();
	main_pid = getpid();
	st = thread_started_blocked();
	tap_ok(st == 0, "a thread started with every signal blocked enters the enclave, and its "
	       "mask reads as everything blocked (%d)", st);
	st = child_status(4);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "the same in a child of fork: %s (status %#x)",
	       ht_fork_shares() ? "it enters the enclave it shares"
				: "the vDSO returns the inherited TCS's fault", st);
	heap = e.base + ENCL_HEAP_OFFSET;
	heap_len = e.added_end - ENCL_HEAP_OFFSET;
	test_masks_read_back();
	test_handler_return_mask();
	test_kick_reaches_blocked_thread();
	st = child_status(0);
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	       "a fault with SIGSEGV blocked kills, as Linux forces it (status %#x)", st);
	st = child_status(1);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 3,
	       "a SIGSEGV sent while blocked waits, and is handled once unblocked (status %#x)",
	       st);
	st = child_status(3);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 6,
	       "a SIGSEGV pending while blocked is not pending in a child of fork (status %#x)",
	       st);
	st = child_status(2);
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	       "a fault with SIGSEGV ignored kills, as Linux forces it (status %#x)", st);
	encl_unload(&e);
	return tap_done();
}
