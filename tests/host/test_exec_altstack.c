// SPDX-License-Identifier: MIT
/*
 * A program's own alternate signal stack under softsgx exec.  The shim
 * needs the kernel's alternate stack of every thread that met an enclave
 * (its signal entry finds the thread's slot from RSP), so from then on the
 * program's is kept aside: sigaltstack() reports it, with the kernel's
 * checks (EPERM on it, EINVAL, ENOMEM), and the handlers with SA_ONSTACK
 * that the shim delivers run on it.  A thread that overflows its stack
 * gets its handler on its own alternate stack, as a Rust runtime expects.
 * Usage: test_exec_altstack ENCLAVE.sgxs ENCLAVE.sig
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host_test.h"

#define ALT (64 * 1024)

static struct encl e;
static __thread sigjmp_buf back;
static __thread uintptr_t handler_sp;   /* a local of the last handler run */
static __thread int probe_errno;        /* sigaltstack() from inside the handler */
static __thread stack_t probe_old;
static __thread bool probe;
static volatile int *volatile nowhere = (volatile int *)(uintptr_t)8; /* unmapped */

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	volatile char here = 0;

	(void)sig;
	(void)si;
	(void)uc;
	handler_sp = (uintptr_t)&here;
	if (probe) {
		stack_t other = { .ss_sp = malloc(ALT), .ss_size = ALT };

		/* As the kernel: the query answers, the change fails (and writes nothing). */
		sigaltstack(NULL, &probe_old);
		probe_errno = sigaltstack(&other, NULL) ? errno : 0;
		free(other.ss_sp);
	}
	siglongjmp(back, 1);
}

static bool within(uintptr_t p, const void *base, size_t size)
{
	return p - (uintptr_t)base < size;
}

/* A fault in host code, caught by on_segv(); true when it came back. */
static bool host_fault(void)
{
	handler_sp = 0;
	if (!sigsetjmp(back, 1))
		*nowhere = 1;
	return handler_sp != 0;
}

static bool enter(unsigned int tcs)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 5, 0, 0);

	return ht_call(e.tcs[tcs], &op) && op.ret == (5 ^ ENCL_RETURN_MAGIC);
}

static bool ud2_inside(unsigned int tcs)
{
	struct encl_op op = ht_op(ENCL_OP_UD2, 0, 0, 0);
	struct sgx_enclave_run run;
	int rc = encl_enter(e.tcs[tcs], &op, &run, NULL, 0);

	return ht_exception(rc, &run, 6, 0, 0) && ht_recover(&run, &op);
}

static unsigned long depth(unsigned long n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	return n ? depth(n - 1) + pad[0] : 0;
}

struct overflow {
	bool entered, caught, on_alt;
	void *alt; /* freed after the join */
};

/* A thread with its own alternate stack, in an enclave, then out of stack. */
static void *overflow_thread(void *arg)
{
	struct overflow *o = arg;
	stack_t alt = { .ss_sp = malloc(ALT), .ss_size = ALT };

	o->alt = alt.ss_sp;
	if (!alt.ss_sp || sigaltstack(&alt, NULL))
		return NULL;
	o->entered = enter(3);
	handler_sp = 0;
	if (!sigsetjmp(back, 1))
		depth(1UL << 20);
	o->caught = handler_sp != 0;
	o->on_alt = within(handler_sp, alt.ss_sp, ALT);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	void *a = malloc(ALT), *b = malloc(ALT);
	stack_t ss = { .ss_sp = a, .ss_size = ALT }, old;
	struct overflow o = { 0 };
	pthread_attr_t attr;
	pthread_t t;
	bool ok;

	ht_start(argc, argv, &e);
	sigemptyset(&sa.sa_mask);
	if (!a || !b || sigaction(SIGSEGV, &sa, NULL)) {
		tap_ok(false, "set-up");
		return tap_done();
	}
	/* 1. Installed before the thread meets an enclave. */
	ok = !sigaltstack(&ss, NULL) && enter(0);
	memset(&old, 0, sizeof(old));
	ok = ok && !sigaltstack(NULL, &old);
	tap_ok(ok && old.ss_sp == a && old.ss_size == ALT && !old.ss_flags,
	       "a stack installed before the first entry is still the one sigaltstack() "
	       "reports after it (%p, flags %d)", old.ss_sp, old.ss_flags);
	tap_ok(host_fault() && within(handler_sp, a, ALT),
	       "a host fault's handler (SA_ONSTACK) runs on it");
	tap_ok(ud2_inside(0), "an exception inside the enclave still reaches the vDSO");
	/* 2. Replaced while the shim holds the kernel's, through syscall(). */
	ss.ss_sp = b;
	memset(&old, 0, sizeof(old));
	ok = !syscall(SYS_sigaltstack, &ss, &old) && old.ss_sp == a;
	tap_ok(ok && host_fault() && within(handler_sp, b, ALT) && ud2_inside(0),
	       "syscall(SYS_sigaltstack) replaces it: the old one comes back, the handler "
	       "runs on the new one, enclave exceptions still work");
	/* 3. Inside the handler, on it: EPERM and SS_ONSTACK, as the kernel says. */
	probe = true;
	ok = host_fault();
	probe = false;
	tap_ok(ok && probe_errno == EPERM && (probe_old.ss_flags & SS_ONSTACK) &&
	       probe_old.ss_sp == b, "a change from the handler on it is EPERM, and it "
	       "reports SS_ONSTACK (errno %d, flags %d)", probe_errno, probe_old.ss_flags);
	/* 4. Bad requests. */
	ss.ss_flags = 0x1234;
	errno = 0;
	ok = sigaltstack(&ss, NULL) == -1 && errno == EINVAL;
	ss.ss_flags = 0;
	ss.ss_size = 1024;
	errno = 0;
	ok = ok && sigaltstack(&ss, NULL) == -1 && errno == ENOMEM;
	memset(&old, 0, sizeof(old));
	tap_ok(ok && !sigaltstack(NULL, &old) && old.ss_sp == b,
	       "bad flags are EINVAL, a stack under 2 KiB is ENOMEM, and neither changes it");
	/* 5. Disabled: the handler runs on the stack it interrupted. */
	ss.ss_flags = SS_DISABLE;
	memset(&old, 0, sizeof(old));
	ok = !sigaltstack(&ss, NULL) && !sigaltstack(NULL, &old) && old.ss_flags == SS_DISABLE;
	tap_ok(ok && host_fault() && !within(handler_sp, a, ALT) && !within(handler_sp, b, ALT),
	       "SS_DISABLE: reported disabled, and the handler runs on the thread's stack");
	/* 6. Out of stack in a thread that entered: its handler on its own stack. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ok = !pthread_create(&t, &attr, overflow_thread, &o);
	if (ok)
		pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	free(o.alt);
	tap_ok(ok && o.entered && o.caught && o.on_alt,
	       "a thread that entered the enclave and then overflows its stack gets its "
	       "SA_ONSTACK handler on its own alternate stack (entered %d, caught %d, on it %d)",
	       o.entered, o.caught, o.on_alt);
	encl_unload(&e);
	free(a);
	free(b);
	return tap_done();
}
