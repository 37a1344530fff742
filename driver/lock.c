// SPDX-License-Identifier: MIT
/* Futex-based mutex and wait queue; async-signal-safe. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

bool sgx_mutex_trylock(struct sgx_mutex *m)
{
	uint32_t z = 0;

	return atomic_compare_exchange_strong_explicit(&m->v, &z, 1, memory_order_acquire,
						       memory_order_relaxed);
}

void sgx_mutex_lock(struct sgx_mutex *m)
{
	uint32_t c = 0;

	if (atomic_compare_exchange_strong_explicit(&m->v, &c, 1, memory_order_acquire,
						    memory_order_relaxed))
		return;
	/* Contended: mark it so the owner wakes us, then sleep until it is free. */
	if (c != 2)
		c = atomic_exchange_explicit(&m->v, 2, memory_order_acquire);
	while (c != 0) {
		futex(&m->v, FUTEX_WAIT, 2, NULL);
		c = atomic_exchange_explicit(&m->v, 2, memory_order_acquire);
	}
}

void sgx_mutex_unlock(struct sgx_mutex *m)
{
	if (atomic_exchange_explicit(&m->v, 0, memory_order_release) == 2)
		futex(&m->v, FUTEX_WAKE, 1, NULL);
}

void sgx_waitq_wait(struct sgx_waitq *q, uint32_t seq, unsigned int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };

	if (atomic_load_explicit(&q->seq, memory_order_acquire) != seq)
		return;
	futex(&q->seq, FUTEX_WAIT, seq, timeout_ms ? &ts : NULL);
}

void sgx_waitq_wake_all(struct sgx_waitq *q)
{
	atomic_fetch_add_explicit(&q->seq, 1, memory_order_release);
	futex(&q->seq, FUTEX_WAKE, INT32_MAX, NULL);
}
