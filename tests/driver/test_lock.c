// SPDX-License-Identifier: MIT
/*
 * The driver's futex mutex: exclusion, and the handoff to a waiter that
 * has been passed over, which keeps it from starving behind a thread that
 * takes the lock in a loop (an ioctl walking pages while ksgxd waits for
 * encl->lock), as the kernel's mutex does.  And the wait queue: a wake
 * that skips its system call when nobody is counted asleep loses none.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "helpers.h"
#include "lock.h"

#define LOOPS 100000

static struct sgx_mutex m = SGX_MUTEX_INIT;
static long counter;

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < LOOPS; i++) {
		sgx_mutex_lock(&m);
		counter++;
		sgx_mutex_unlock(&m);
	}
	return NULL;
}

static void test_exclusion(void **state)
{
	pthread_t t[3];

	(void)state;
	counter = 0;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, adder, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counter, 3L * LOOPS);
	assert_int_equal(m.v, 0);
	assert_int_equal(m.handoff, 0);
}

static _Atomic int got;

static void *requester(void *arg)
{
	(void)arg;
	sgx_mutex_lock(&m);
	atomic_store(&got, 1);
	sgx_mutex_unlock(&m);
	return NULL;
}

/*
 * A handed-off lock goes to the thread waiting on it, never to one that
 * comes later, even one on the same CPU that tries first.
 */
static void test_handoff(void **state)
{
	pthread_t t;

	(void)state;
	atomic_store(&got, 0);
	sgx_mutex_lock(&m);
	pthread_create(&t, NULL, requester, NULL);
	while (atomic_load(&m.v) != 2)
		sched_yield(); /* the requester waits on it */
	atomic_store(&m.handoff, 1); /* as if it had been passed over */
	sgx_mutex_unlock(&m);
	while (!atomic_load(&got)) {
		/* Until the requester has had its turn, a newcomer cannot get in. */
		if (sgx_mutex_trylock(&m)) {
			bool requester_done = atomic_load(&got);

			sgx_mutex_unlock(&m);
			assert_true(requester_done);
			break;
		}
		sched_yield();
	}
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&got), 1);
	assert_int_equal(m.v, 0);
	assert_int_equal(m.handoff, 0);
}

/* The protocol itself: a pending request turns the next unlock into a handoff. */
static void test_unlock_hands_over(void **state)
{
	struct sgx_mutex l = SGX_MUTEX_INIT;

	(void)state;
	atomic_store(&l.v, 2);       /* held, with a waiter */
	atomic_store(&l.handoff, 1); /* that has been passed over */
	sgx_mutex_unlock(&l);
	assert_int_equal(atomic_load(&l.v), 3);
	assert_int_equal(atomic_load(&l.handoff), 0);
	/* A thread that never waited cannot take a handed-off lock. */
	assert_false(sgx_mutex_trylock(&l));
}

#define PINGS 20000

static struct sgx_waitq wq[2];
static _Atomic int turn, slow_waits;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Sleep on wq[me] until it is our turn: true.  A wait that ends by its
 * timeout lost a wake; then both threads stop (false).
 */
static bool wait_turn(int me)
{
	for (;;) {
		uint32_t seq = sgx_waitq_seq(&wq[me]);
		double t;

		if (atomic_load(&slow_waits))
			return false;
		if (atomic_load(&turn) == me)
			return true;
		t = now_s();
		sgx_waitq_wait(&wq[me], seq, 1000);
		if (now_s() - t > 0.9)
			atomic_fetch_add(&slow_waits, 1);
	}
}

static void *pinger(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int i = 0; i < PINGS && wait_turn(me); i++) {
		atomic_store(&turn, !me);
		sgx_waitq_wake_all(&wq[!me]);
	}
	return NULL;
}

/* Two threads hand a turn back and forth, each asleep until woken. */
static void test_waitq_no_lost_wake(void **state)
{
	pthread_t t[2];

	(void)state;
	atomic_store(&turn, 0);
	atomic_store(&slow_waits, 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, pinger, (void *)(intptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&slow_waits), 0);
	assert_int_equal(atomic_load(&wq[0].waiters), 0);
	assert_int_equal(atomic_load(&wq[1].waiters), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusion),
		cmocka_unit_test(test_unlock_hands_over),
		cmocka_unit_test(test_handoff),
		cmocka_unit_test(test_waitq_no_lost_wake),
	};
	return T_RUN(tests);
}
