/* SPDX-License-Identifier: MIT */
/*
 * The SRCU-style protection of encl->mm_list (docs/races.md, R4): liburcu's
 * bulletproof flavour for the read sections and grace periods, and the list
 * operations themselves written with acquire/release atomics.
 *
 * liburcu publishes and follows list pointers with volatile accesses and
 * its own fences, which ThreadSanitizer cannot see; it then reports every
 * walker against the writer that published the entry, and every free after
 * a grace period against the walkers it waited for.  With these operations
 * the publication is an ordinary release/acquire pair (a plain mov on
 * x86-64, as before), and under TSan a read section's end is a release and
 * a grace period's end an acquire on one token, which is what a grace
 * period means.  No suppressions are needed.
 *
 * Writers of one list are serialized by the caller (encl->mm_lock).
 */
#ifndef SOFTSGX_DRIVER_RCU_H
#define SOFTSGX_DRIVER_RCU_H

#include <urcu-bp.h>
#include <urcu/list.h>

#if defined(__SANITIZE_THREAD__)
#define SGX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SGX_TSAN 1
#endif
#endif

#ifdef SGX_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/* The one object every read section releases and every grace period acquires. */
extern char sgx_rcu_gp_token;
#endif

/*
 * A platform shared across fork (cpu/mem.h) has readers in several
 * processes, which liburcu's registry (one per process) does not see: its
 * read sections and grace periods are then counters in shared memory
 * (rcu.c).  Set once, before the driver's first read section.
 */
extern struct sgx_srcu *sgx_rcu_shared;
void sgx_srcu_read_lock(void);
void sgx_srcu_read_unlock(void);
void sgx_srcu_synchronize(void);
/* Make the driver's read sections cross-process; 0 or -ENOMEM. */
int sgx_rcu_share(void);

static inline void sgx_rcu_read_lock(void)
{
	if (sgx_rcu_shared)
		sgx_srcu_read_lock();
	else
		urcu_bp_read_lock();
}

static inline void sgx_rcu_read_unlock(void)
{
#ifdef SGX_TSAN
	__tsan_release(&sgx_rcu_gp_token);
#endif
	if (sgx_rcu_shared)
		sgx_srcu_read_unlock();
	else
		urcu_bp_read_unlock();
}

/* Wait for every read section that may still see a removed entry. */
static inline void sgx_synchronize_rcu(void)
{
	if (sgx_rcu_shared)
		sgx_srcu_synchronize();
	else
		urcu_bp_synchronize_rcu();
#ifdef SGX_TSAN
	__tsan_acquire(&sgx_rcu_gp_token);
#endif
}

/* Publish @new at the head of @head: readers see it whole or not at all. */
static inline void sgx_list_add_rcu(struct cds_list_head *new, struct cds_list_head *head)
{
	new->next = head->next;
	new->prev = head;
	head->next->prev = new;
	__atomic_store_n(&head->next, new, __ATOMIC_RELEASE);
}

/* Unlink @elem; its own next stays valid for readers standing on it. */
static inline void sgx_list_del_rcu(struct cds_list_head *elem)
{
	elem->next->prev = elem->prev;
	__atomic_store_n(&elem->prev->next, elem->next, __ATOMIC_RELEASE);
}

#define sgx_list_next_rcu(p) __atomic_load_n(&(p)->next, __ATOMIC_ACQUIRE)

/* Walk inside sgx_rcu_read_lock()/unlock(). */
#define sgx_list_for_each_entry_rcu(pos, head, member)                                     \
	for (pos = cds_list_entry(sgx_list_next_rcu(head), __typeof__(*pos), member);      \
	     &pos->member != (head);                                                       \
	     pos = cds_list_entry(sgx_list_next_rcu(&pos->member), __typeof__(*pos), member))

#endif
