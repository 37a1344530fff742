/* SPDX-License-Identifier: MIT */
/*
 * Locks for the driver.  The page-fault path runs in a SIGBUS handler, so the
 * locks it takes must be usable there: a futex mutex is (it is an atomic word
 * and two system calls), pthread mutexes are not promised to be.  A thread
 * never takes a driver lock while it could be interrupted by its own fault
 * handler holding it: the driver never touches enclave memory through a user
 * mapping with a lock held (docs/design.md, signal-context rule).
 */
#ifndef SOFTSGX_DRIVER_LOCK_H
#define SOFTSGX_DRIVER_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * @v: 0 unlocked, 1 locked, 2 locked with (maybe) waiters, 3 handed off:
 * free, but only for a thread that has slept on it.  @handoff: a waiter woke
 * and lost the lock to a thread that never waited, and asks the next unlock
 * to hand it over, as the kernel's mutex does for a starving waiter.
 */
struct sgx_mutex {
	_Atomic uint32_t v;
	_Atomic uint32_t handoff;
};

#define SGX_MUTEX_INIT { 0, 0 }

void sgx_mutex_lock(struct sgx_mutex *m);
bool sgx_mutex_trylock(struct sgx_mutex *m);
void sgx_mutex_unlock(struct sgx_mutex *m);
/* Return: true when held by somebody (for assertions only). */
static inline bool sgx_mutex_is_locked(struct sgx_mutex *m)
{
	return atomic_load_explicit(&m->v, memory_order_relaxed) != 0;
}

/* A one-shot event: waiters sleep until sgx_event_signal(). */
struct sgx_waitq {
	_Atomic uint32_t seq;
	_Atomic uint32_t waiters;	/* in sgx_waitq_wait(): a wake needs the futex */
};

/* Sleep until the sequence moves past @seq or @timeout_ms passes (0: forever). */
void sgx_waitq_wait(struct sgx_waitq *q, uint32_t seq, unsigned int timeout_ms);
static inline uint32_t sgx_waitq_seq(struct sgx_waitq *q)
{
	return atomic_load_explicit(&q->seq, memory_order_acquire);
}
void sgx_waitq_wake_all(struct sgx_waitq *q);

#endif
