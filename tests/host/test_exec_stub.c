// SPDX-License-Identifier: MIT
/*
 * What a rewritten ENCLU site (softsgx exec's trap-free ENCLU) must not
 * change: many EENTER/EEXIT round trips on every TCS, and EREPORTs whose
 * registers, flags and vector registers the enclave checks around the leaf
 * (ENCL_OP_LEAF_REGS), from two threads at once.  The meson test runs it
 * with the stubs, without them, and with a signal landing at each
 * instruction of the stubs in turn (SOFTSGX_TEST_STUB_STEP=1).  Last, a
 * thread libc starts with every signal blocked takes an exception on the
 * slot another thread left: the shim must look at its mask again.
 * Usage: test_exec_stub ENCLAVE.sgxs ENCLAVE.sig [ROUNDS]
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "host_test.h"

static struct encl e;
static unsigned long rounds = 200;

struct worker {
	unsigned int tcs;
	unsigned long bad_return, bad_regs, failed;
	uint16_t ds;
};

static uint16_t ds_now(void)
{
	uint16_t v;

	__asm__ volatile("mov %%ds, %0" : "=r"(v));
	return v;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	for (unsigned long i = 0; i < rounds; i++) {
		uint64_t v = 0x5100000000ULL * (w->tcs + 1) + i;
		struct encl_op op = ht_op(ENCL_OP_RETURN, v, 0, 0);
		struct encl_op regs = ht_op(ENCL_OP_LEAF_REGS, v * 977, 0, 0);

		if (!ht_call(e.tcs[w->tcs], &op) || !ht_call(e.tcs[w->tcs], &regs)) {
			w->failed++;
			continue;
		}
		w->bad_return += op.ret != (v ^ ENCL_RETURN_MAGIC) || op.status;
		w->bad_regs += regs.status != 0;
	}
	w->ds = ds_now();
	return NULL;
}

/* An exception inside, reported through the vDSO; then the op recovered. */
static void *ud2_thread(void *arg)
{
	struct encl_op op = ht_op(ENCL_OP_UD2, 0, 0, 0);
	struct sgx_enclave_run run;
	int rc = encl_enter(e.tcs[2], &op, &run, NULL, 0);

	*(bool *)arg = ht_exception(rc, &run, 6, 0, 0) && ht_recover(&run, &op);
	return NULL;
}

static void *return_thread(void *arg)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 3, 0, 0);

	*(bool *)arg = ht_call(e.tcs[2], &op) && op.ret == (3 ^ ENCL_RETURN_MAGIC);
	return NULL;
}

static void test_slot_reuse(void)
{
	pthread_attr_t attr;
	sigset_t all;
	pthread_t t;
	bool first = false, second = false;

	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setsigmask_np(&attr, &all);
	/* The first leaves a slot behind; the second, started blocking all, gets it. */
	if (!pthread_create(&t, NULL, return_thread, &first))
		pthread_join(t, NULL);
	if (!pthread_create(&t, &attr, ud2_thread, &second))
		pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	tap_ok(first && second, "a thread started with every signal blocked, on a slot another "
	       "thread left, takes #UD inside and recovers (first %d, second %d)", first, second);
}

int main(int argc, char **argv)
{
	struct worker w[2] = { { .tcs = 0 }, { .tcs = 1 } };
	pthread_t t;
	bool started;

	if (argc > 3)
		rounds = strtoul(argv[3], NULL, 0);
	ht_start(argc, argv, &e);
	work(&w[0]);
	tap_ok(!w[0].failed && !w[0].bad_return,
	       "%lu round trips return their value (%lu entries failed, %lu wrong)", rounds,
	       w[0].failed, w[0].bad_return);
	tap_ok(!w[0].failed && !w[0].bad_regs,
	       "EREPORT leaves R8-R15, RBP, XMM0-15 and the flags alone (%lu of %lu changed)",
	       w[0].bad_regs, rounds);
	w[0] = (struct worker){ .tcs = 0 };
	started = !pthread_create(&t, NULL, work, &w[1]);
	work(&w[0]);
	if (started)
		pthread_join(t, NULL);
	tap_ok(started && !w[0].failed && !w[1].failed && !w[0].bad_return && !w[1].bad_return &&
	       !w[0].bad_regs && !w[1].bad_regs,
	       "two threads on two TCS at once: every result right (%lu/%lu failed, "
	       "%lu/%lu wrong, %lu/%lu registers changed)", w[0].failed, w[1].failed,
	       w[0].bad_return, w[1].bad_return, w[0].bad_regs, w[1].bad_regs);
	/*
	 * The stubs know a thread by DS: an LDT selector of its own once it
	 * entered, unless they are off, told to use the thread table, or
	 * stepped with every bucket held (which needs the table's way).
	 */
	{
		const char *fast = getenv("SOFTSGX_FAST_ENCLU"), *step = getenv("SOFTSGX_TEST_STUB_STEP");
		bool by_ds = !(fast && fast[0] == '0') && !getenv("SOFTSGX_TEST_STUB_GETTID") &&
			     !(step && atoi(step) > 1);

		if (by_ds)
			tap_ok((w[0].ds & 4) && (w[1].ds & 4) && w[0].ds != w[1].ds,
			       "each thread has an LDT selector of its own in DS (0x%x, 0x%x)",
			       w[0].ds, w[1].ds);
		else
			tap_ok(!w[0].ds && !w[1].ds, "DS stays 0 when the stubs do not use it "
			       "(0x%x, 0x%x)", w[0].ds, w[1].ds);
	}
	test_slot_reuse();
	encl_unload(&e);
	return tap_done();
}
