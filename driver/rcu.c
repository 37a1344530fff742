// SPDX-License-Identifier: MIT
/*
 * Read sections that several processes share (rcu.h): two counters of
 * readers in shared memory, one per phase.  A reader counts itself in the
 * current phase; a grace period moves the phase on and waits until the old
 * one has no reader.  A reader that read the phase just before the move and
 * counts itself just after the wait saw zero comes in after the removal was
 * published (every step is a locked, sequentially consistent operation), so
 * it cannot find the removed entry.  Nested sections (a fault handler inside
 * a walk) count once.
 *
 * A process killed inside a read section leaves its count behind, and grace
 * periods then wait for ever, as the kernel's would for a reader that never
 * leaves (docs/running-programs.md, fork).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "mem.h"
#include "rcu.h"

struct sgx_srcu {
	_Atomic long readers[2];
	_Atomic unsigned int phase;
	atomic_flag gp;          /* one grace period at a time */
};

struct sgx_srcu *sgx_rcu_shared;

static __thread unsigned int nest, my_phase;

/*
 * Every process of the family must use the same counters, whichever of them
 * starts the driver: they live in a shared root (a zeroed flag is clear).
 */
int sgx_rcu_share(void)
{
	struct sgx_srcu *s;

	if (sgx_rcu_shared)
		return 0;
	s = sgx_mem_root(SGX_ROOT_RCU, sizeof(*s));
	if (!s)
		return -ENOMEM;
	sgx_rcu_shared = s;
	return 0;
}

/*
 * A reader that read the phase and then stalled may count itself in a
 * phase that grace periods already flipped past (and did not wait for):
 * after counting, it checks that the phase is still the one it counted in,
 * and counts again otherwise.  Once the check passes, any grace period that
 * flips later waits for this count.
 */
void sgx_srcu_read_lock(void)
{
	struct sgx_srcu *s = sgx_rcu_shared;
	unsigned int p;

	if (nest++)
		return;
	for (;;) {
		p = atomic_load(&s->phase);
		atomic_fetch_add(&s->readers[p & 1], 1);
		if (atomic_load(&s->phase) == p)
			break;
		atomic_fetch_sub(&s->readers[p & 1], 1);
	}
	my_phase = p & 1;
}

void sgx_srcu_read_unlock(void)
{
	if (--nest)
		return;
	atomic_fetch_sub(&sgx_rcu_shared->readers[my_phase], 1);
}

void sgx_srcu_synchronize(void)
{
	struct sgx_srcu *s = sgx_rcu_shared;
	struct timespec pause = { 0, 20000 };
	unsigned int old;

	while (atomic_flag_test_and_set(&s->gp))
		sched_yield();
	old = atomic_fetch_add(&s->phase, 1) & 1;
	for (int spins = 0; atomic_load(&s->readers[old]); spins++)
		if (spins < 64)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	atomic_flag_clear(&s->gp);
}
