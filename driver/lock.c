// SPDX-License-Identifier: MIT
/* Futex-based mutex and wait queue; async-signal-safe. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "mem.h"

/* A platform shared across fork has its locks in shared memory: shared futexes. */
static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	int priv = sgx_mem_shared() ? 0 : FUTEX_PRIVATE_FLAG;

	return syscall(SYS_futex, (uint32_t *)addr, op | priv, val, ts, NULL, 0);
}

bool sgx_mutex_trylock(struct sgx_mutex *m)
{
	uint32_t z = 0;

	return atomic_compare_exchange_strong_explicit(&m->v, &z, 1, memory_order_acquire,
						       memory_order_relaxed);
}

/*
 * Without a handoff, the owner of a lock taken in a loop (an ioctl walking
 * pages) unlocks, wakes the waiter and takes the lock again before the
 * waiter runs: ksgxd then starved for whole ioctls, its reclaim batch kept
 * BUSY meanwhile.  The kernel's mutex hands the lock to a waiter that has
 * been passed over; so does this one.
 */
void sgx_mutex_lock(struct sgx_mutex *m)
{
	bool waited = false;
	uint32_t c = 0;

	if (atomic_compare_exchange_strong_explicit(&m->v, &c, 1, memory_order_acquire,
						    memory_order_relaxed))
		return;
	for (;;) {
		c = atomic_load_explicit(&m->v, memory_order_relaxed);
		if (c == 0 || (c == 3 && waited)) {
			if (!atomic_compare_exchange_strong_explicit(&m->v, &c, 2,
								     memory_order_acquire,
								     memory_order_relaxed))
				continue;
			/*
			 * A request this waiter made is answered: one left set
			 * with nobody waiting for it would strand the lock at 3.
			 */
			if (waited)
				atomic_store_explicit(&m->handoff, 0, memory_order_relaxed);
			return;
		}
		if (c == 1 &&
		    !atomic_compare_exchange_strong_explicit(&m->v, &c, 2, memory_order_relaxed,
							     memory_order_relaxed))
			continue;
		if (waited)
			atomic_store_explicit(&m->handoff, 1, memory_order_relaxed);
		futex(&m->v, FUTEX_WAIT, c == 3 ? 3 : 2, NULL);
		waited = true;
	}
}

void sgx_mutex_unlock(struct sgx_mutex *m)
{
	uint32_t two = 2;

	if (atomic_load_explicit(&m->handoff, memory_order_relaxed) &&
	    atomic_compare_exchange_strong_explicit(&m->v, &two, 3, memory_order_release,
						    memory_order_relaxed)) {
		atomic_store_explicit(&m->handoff, 0, memory_order_relaxed);
		futex(&m->v, FUTEX_WAKE, 1, NULL);
		return;
	}
	if (atomic_exchange_explicit(&m->v, 0, memory_order_release) == 2)
		futex(&m->v, FUTEX_WAKE, 1, NULL);
}

void sgx_waitq_wait(struct sgx_waitq *q, uint32_t seq, unsigned int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };

	atomic_fetch_add(&q->waiters, 1);
	if (atomic_load(&q->seq) == seq)
		futex(&q->seq, FUTEX_WAIT, seq, timeout_ms ? &ts : NULL);
	atomic_fetch_sub_explicit(&q->waiters, 1, memory_order_relaxed);
}

/*
 * The wake is a system call only when somebody may be asleep: every EPC
 * allocation below the low watermark wakes ksgxd, which is then mostly
 * awake already, and a futex wake costs a fault a third of a microsecond.
 * Both sides are sequentially consistent (a store, then a load of the
 * other's variable): either the waker sees the waiter counted, or the
 * waiter sees the new sequence and does not sleep.
 */
void sgx_waitq_wake_all(struct sgx_waitq *q)
{
	atomic_fetch_add(&q->seq, 1);
	if (atomic_load(&q->waiters))
		futex(&q->seq, FUTEX_WAKE, INT32_MAX, NULL);
}
