// SPDX-License-Identifier: MIT
/*
 * Fork sharing (the default; SOFTSGX_FORK=detach turns it off): a forked
 * child shares its parent's enclaves, as on Linux, where the child's address space joins each
 * enclave's mm list and both draw on one EPC.
 *
 * What makes it possible:
 * - the CPU model and the driver allocate from memory that fork shares, at
 *   the same addresses in every process (cpu/mem.h), and their locks and
 *   read sections work across processes (driver/lock.c, driver/rcu.c);
 * - enclave windows and backing stores are slices of one store file mapped
 *   at load, so every process reaches every enclave's bytes, even one
 *   created after the fork (a reclaim anywhere may write it back);
 * - each process has its own struct sgx_mm, its own userfaultfd and its
 *   own PTE records.  What the driver asks of an address space that only
 *   its process can do (unmap pages, kick its threads out of the enclave)
 *   goes to that process's agent thread (this file), and the caller waits
 *   for the answer, as a TLB shootdown waits for the other CPUs.
 *
 * Per enclave file, a record in shared memory counts the processes that
 * still hold it (fds or mappings): the driver's release runs when the last
 * one lets go, as the kernel's runs at the last fput().
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "rcu.h"
#include "shim.h"

bool shim_share;

#define MAX_MMS 1024

/* What the processes of one family share (in shared memory). */
static struct shared {
	struct sgx_mutex lock;           /* the driver's creation */
	struct sgx_driver *drv;          /* the family's driver, once one started it */
	struct sgx_mm *_Atomic ksgxd_mm; /* the process running ksgxd (NULL: none) */
	/* Every record, for the driver's release to find. */
	struct shim_encl_rec *_Atomic recs[SHIM_MAX_FILES];
	/* Every address space of the family, for a survivor to reap. */
	struct sgx_mm *_Atomic mms[MAX_MMS];
} *sh;


enum { REQ_ZAP = 1, REQ_KICK, REQ_ADOPT };

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

/**
 * shim_share_load() - at load: shared memory for the platform
 *
 * Fork sharing is the default (SOFTSGX_FORK unset or "share"); with
 * SOFTSGX_FORK=detach (`softsgx exec --fork detach`) a child gets no enclave
 * of its parent's (files.c).  Another value is a usage error (exit 2).
 * Return: 0 or the error of the shared memory.
 */
int shim_share_load(void)
{
	const char *v = getenv("SOFTSGX_FORK");
	int err;

	if (v && *v && strcmp(v, "share")) {
		if (!strcmp(v, "detach"))
			return 0;
		fprintf(stderr, "softsgx: SOFTSGX_FORK=%s: want share or detach\n", v);
		_exit(2);
	}
	/* Address space only: the arena for objects, the store for enclave bytes. */
	err = sgx_mem_share(1UL << 30, 8UL << 40);
	if (err)
		return err;
	sh = sgx_zalloc(sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	sh->lock = (struct sgx_mutex)SGX_MUTEX_INIT;
	/* Before any fork: a child that starts the driver must find the same counters. */
	err = sgx_rcu_share();
	if (err)
		return err;
	shim_fd_hide(sgx_mem_store_fd());
	shim_share = true;
	return 0;
}

/* ---- the enclave records ---- */

/* A record for a new enclave file (NULL: out of memory). */
struct shim_encl_rec *shim_rec_new(struct sgx_encl *encl)
{
	struct shim_encl_rec *r = sgx_zalloc(sizeof(*r));

	if (!r)
		return NULL;
	r->encl = encl;
	atomic_store(&r->procs, 1);
	r->window.fd = -1;
	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_encl_rec *z = NULL;

		if (atomic_compare_exchange_strong(&sh->recs[i], &z, r)) {
			r->idx = i;
			shim_rec_hold(r);
			return r;
		}
	}
	sgx_free(r);
	return NULL;
}

void shim_rec_hold(struct shim_encl_rec *r)
{
	atomic_fetch_or(&shim.mm->held[r->idx / 64], 1ULL << (r->idx % 64));
}

void shim_rec_unhold(struct shim_encl_rec *r)
{
	if (shim.mm)
		atomic_fetch_and(&shim.mm->held[r->idx / 64], ~(1ULL << (r->idx % 64)));
}

/*
 * The driver's release of @encl is over, in whichever process: give its
 * window's slice back.  Every process let go of the file before the release
 * began, so no mapping of the window is left.
 */
void shim_rec_released(struct sgx_encl *encl)
{
	struct shim_encl_rec *r = encl->host_priv;

	if (r && r->encl == encl)
		shim_rec_free(r);
}

/* Forget @r and give back what it holds. */
void shim_rec_free(struct shim_encl_rec *r)
{
	struct shim_encl_rec *c = r;

	/* An open that failed leaves its own bit; a reaper must not find it. */
	shim_rec_unhold(r);
	if (r->encl)
		r->encl->host_priv = NULL;
	atomic_compare_exchange_strong(&sh->recs[r->idx], &c, NULL);
	sgx_mem_file_put(&r->window);
	if (r->young)
		sgx_unmap((void *)r->young, r->pages);
	sgx_free(r);
}

/**
 * shim_rec_drop() - one holder fewer of @r; the last runs the release
 *
 * The driver's release of the enclave (its record goes at the release's
 * end, shim_rec_released()), or the vEPC's, whose record goes now: no
 * driver callback ends it.
 */
void shim_rec_drop(struct shim_encl_rec *r)
{
	struct sgx_encl *encl = r->encl;
	struct sgx_vepc *vepc = r->vepc;

	if (atomic_fetch_sub(&r->procs, 1) != 1)
		return;
	if (vepc) {
		shim_rec_free(r);
		sgx_vepc_release(vepc);
	} else if (encl) {
		sgx_release(encl);
	}
}

/**
 * shim_rec_let_go() - the process of @mm lets go of @r
 *
 * Its address space leaves the enclave's mm list first (it maps none of it;
 * the kernel would keep the entry until the exit, to no effect), with a
 * reference that keeps the enclave alive however the other holders let go
 * meanwhile; then it is one holder fewer.  Not in a read section.
 */
void shim_rec_let_go(struct shim_encl_rec *r, struct sgx_mm *mm)
{
	struct sgx_encl *encl = r->encl;

	if (encl) {
		sgx_encl_get(encl);
		sgx_encl_mm_release(encl, mm);
	}
	/* A reaper cleared the bit of the address space it reaps already. */
	if (mm == shim.mm)
		shim_rec_unhold(r);
	shim_rec_drop(r);
	if (encl)
		sgx_encl_put(encl);
}

/* ---- address spaces and their agents ---- */

static bool mm_alive(struct sgx_mm *mm);
static void agent_wake(struct sgx_mm *mm);

/* This process's address space as the driver sees it (shim_init()). */
struct sgx_mm *shim_mm_new(void)
{
	static struct sgx_mm own;
	struct sgx_mm *mm = shim_share ? sgx_zalloc(sizeof(*mm)) : &own;
	pthread_rwlockattr_t a;

	if (!mm)
		return NULL;
	memset(mm, 0, sizeof(*mm));
	pthread_rwlockattr_init(&a);
	if (shim_share)
		pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_rwlock_init(&mm->mmap_lock, &a);
	pthread_rwlockattr_destroy(&a);
	mm->users = 1;
	mm->pid = getpid();
	mm->req_lock = (struct sgx_mutex)SGX_MUTEX_INIT;
	/* A full table: ended processes may still hold slots; reap, and look once more. */
	for (int round = 0; shim_share && round < 2; round++) {
		for (int i = 0; i < MAX_MMS; i++) {
			struct sgx_mm *z = NULL;

			if (atomic_compare_exchange_strong(&sh->mms[i], &z, mm))
				return mm;
		}
		shim_share_reap();
	}
	if (shim_share) {
		sgx_free(mm);
		return NULL;
	}
	return mm;
}

/*
 * @mm's process ended without letting go (_exit, a signal): do it for it,
 * as the kernel's exit would have.  The caller took @mm off the table.
 * Not in signal context, not inside a read section.
 */
static void reap(struct sgx_mm *mm)
{
	struct sgx_mm *owner = mm;

	atomic_store(&mm->users, 0);
	/* It ran ksgxd: nobody does now (the next system call or fault adopts it). */
	atomic_compare_exchange_strong(&sh->ksgxd_mm, &owner, NULL);
	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_encl_rec *r;

		if (!(atomic_fetch_and(&mm->held[i / 64], ~(1ULL << (i % 64))) &
		      (1ULL << (i % 64))))
			continue;
		r = atomic_load(&sh->recs[i]);
		if (r)
			shim_rec_let_go(r, mm);
	}
	/* No walker still stands on it: every mm_release above waited for them. */
	sgx_synchronize_rcu();
	sgx_free(mm);
}

/**
 * shim_share_reap() - let go of what ended processes of the family held
 *
 * Called where a process enters the driver from a system call and at exit.
 */
void shim_share_reap(void)
{
	if (!shim_share)
		return;
	for (int i = 0; i < MAX_MMS; i++) {
		struct sgx_mm *mm;
		bool mine = false;

		sgx_rcu_read_lock();
		mm = atomic_load(&sh->mms[i]);
		/* One reaper per address space: whoever takes it off the table. */
		if (mm && mm != shim.mm && !mm_alive(mm))
			mine = atomic_compare_exchange_strong(&sh->mms[i], &mm, NULL);
		sgx_rcu_read_unlock();
		if (mine)
			reap(mm);
	}
}

/**
 * shim_mm_leave() - at exit, this process's address space leaves the family
 *
 * After its files were let go (they took it off every enclave's mm list):
 * off the table, its agent ended, freed once no walker can hold it.  A
 * family forking children that end by _exit() would otherwise fill the table.
 */
void shim_mm_leave(void)
{
	struct sgx_mm *mm = shim.mm;

	if (!shim_share || !mm)
		return;
	atomic_store(&mm->users, 0);
	for (int i = 0; i < MAX_MMS; i++) {
		struct sgx_mm *c = mm;

		if (atomic_compare_exchange_strong(&sh->mms[i], &c, NULL))
			break;
	}
	/* Requests already sent are answered before the agent sees the end. */
	atomic_store(&mm->quit, 1);
	agent_wake(mm);
	for (pid_t t; (t = atomic_load(&mm->agent)) != 0;)
		futex((_Atomic uint32_t *)&mm->agent, FUTEX_WAIT, (uint32_t)t, NULL);
	sgx_synchronize_rcu();
	/*
	 * Threads of this process may still run until the exit ends: they
	 * keep an address space of their own, exiting (users 0), that no
	 * other process can reach.
	 */
	static struct sgx_mm gone;

	memcpy(&gone, mm, sizeof(gone));
	shim.mm = &gone;
	sgx_free(mm);
}

/* Serve the driver's requests on this process's address space. */
/* Something for the agent: a request, a nudge, or the end. */
static void agent_wake(struct sgx_mm *mm)
{
	atomic_fetch_add(&mm->wake, 1);
	futex(&mm->wake, FUTEX_WAKE, 1, NULL);
}

static void *agent_main(void *arg)
{
	struct sgx_mm *mm = arg;
	uint32_t nudged = 0;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	atomic_store(&mm->agent, (pid_t)syscall(SYS_gettid));
	futex((_Atomic uint32_t *)&mm->agent, FUTEX_WAKE, INT32_MAX, NULL);
	for (;;) {
		/* Read before looking: whatever moves it after, the wait does not sleep. */
		uint32_t w = atomic_load(&mm->wake);
		uint32_t seq = atomic_load(&mm->req_seq);

		if (atomic_load(&mm->nudge) != nudged) {
			nudged = atomic_load(&mm->nudge);
			shim_ksgxd_adopt();
		}
		if (seq == atomic_load(&mm->done_seq)) {
			/* A request sent before the end is answered; one sent after, abandoned. */
			if (atomic_load(&mm->quit))
				break;
			futex(&mm->wake, FUTEX_WAIT, w, NULL);
			continue;
		}
		if (mm->req.op == REQ_ZAP)
			shim_zap_local(mm->req.encl, mm->req.addr, mm->req.len);
		else if (mm->req.op == REQ_KICK)
			shim_kick_threads(mm->req.encl);
		else if (mm->req.op == REQ_ADOPT)
			shim_ksgxd_adopt();
		atomic_store(&mm->done_seq, seq);
		futex(&mm->done_seq, FUTEX_WAKE, INT32_MAX, NULL);
	}
	/* shim_mm_leave() waits for this, then frees the address space. */
	atomic_store(&mm->agent, 0);
	futex((_Atomic uint32_t *)&mm->agent, FUTEX_WAKE, INT32_MAX, NULL);
	return NULL;
}

/*
 * The agent's stack for the next fork's child, mapped before the fork: a
 * mapping made in the child's fork handler could take the place of one the
 * fork did not copy (a vEPC range), where Linux leaves nothing.
 */
#define AGENT_STACK (256UL << 10)
static void *next_stack;

void shim_agent_fork_prepare(void)
{
	if (shim_share && shim.ready && !next_stack) {
		void *p = mmap(NULL, AGENT_STACK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);

		next_stack = p == MAP_FAILED ? NULL : p;
	}
}

int shim_agent_start(void)
{
	pthread_attr_t at;
	pthread_t t;
	int err;

	if (!shim_share)
		return 0;
	atomic_store(&shim.mm->agent, 0);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (next_stack) {
		/*
		 * A fork's child (a parent has its agent before it forks): the
		 * stack the parent mapped for it, the child's own copy now.
		 */
		pthread_attr_setstack(&at, next_stack, AGENT_STACK);
		next_stack = NULL;
	} else {
		pthread_attr_setstacksize(&at, AGENT_STACK);
	}
	err = pthread_create(&t, &at, agent_main, shim.mm);
	pthread_attr_destroy(&at);
	if (err)
		return -err;
	while (!atomic_load(&shim.mm->agent))
		futex((_Atomic uint32_t *)&shim.mm->agent, FUTEX_WAIT, 0, NULL);
	return 0;
}

/* Is @mm's process (its agent) still there?  A zombie's agent is gone. */
static bool mm_alive(struct sgx_mm *mm)
{
	pid_t t = atomic_load(&mm->agent);

	/* Leaving (shim_mm_leave()): its agent answers nothing more. */
	if (atomic_load(&mm->quit))
		return false;
	/* Not started yet: the process is coming up (shim_init()). */
	if (!t)
		return kill(mm->pid, 0) == 0 || errno != ESRCH;
	return syscall(SYS_tgkill, mm->pid, t, 0) == 0 || errno != ESRCH;
}

/*
 * Run @op on @mm in its own process and wait for it.  A process that is
 * gone has no mappings and no threads left to act on: its address space is
 * marked exiting (users 0), so that the driver's walks skip it from then on.
 */
static void forward(struct sgx_mm *mm, int op, struct sgx_encl *encl, unsigned long addr,
		    unsigned long len)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	uint32_t seq;

	if (!mm_alive(mm)) {
		atomic_store(&mm->users, 0);
		return;
	}
	sgx_mutex_lock(&mm->req_lock);
	mm->req.op = op;
	mm->req.encl = encl;
	mm->req.addr = addr;
	mm->req.len = len;
	seq = atomic_load(&mm->req_seq) + 1;
	atomic_store(&mm->req_seq, seq);
	agent_wake(mm);
	for (;;) {
		uint32_t done = atomic_load(&mm->done_seq);

		if (done == seq)
			break;
		futex(&mm->done_seq, FUTEX_WAIT, done, &tick);
		if (atomic_load(&mm->done_seq) != seq && !mm_alive(mm)) {
			atomic_store(&mm->users, 0);
			/* Nobody will answer: the next request must not wait for this one. */
			atomic_store(&mm->done_seq, seq);
			break;
		}
	}
	sgx_mutex_unlock(&mm->req_lock);
}

void shim_forward_zap(struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr,
		      unsigned long len)
{
	forward(mm, REQ_ZAP, encl, addr, len);
}

void shim_forward_kick(struct sgx_mm *mm, struct sgx_encl *encl)
{
	forward(mm, REQ_KICK, encl, 0, 0);
}

/* ---- the family's driver and its ksgxd ---- */

/* Take the creation lock; return the family's driver if one runs already. */
struct sgx_driver *shim_shared_driver_lock(void)
{
	sgx_mutex_lock(&sh->lock);
	return sh->drv;
}

/* Drop the creation lock, naming the driver this process just @created. */
void shim_shared_driver_unlock(struct sgx_driver *created)
{
	if (created) {
		sh->drv = created;
		atomic_store(&sh->ksgxd_mm, shim.mm);
	}
	sgx_mutex_unlock(&sh->lock);
}

/* Become the process that runs ksgxd, if none (alive) does.  True: it is ours. */
bool shim_ksgxd_claim(void)
{
	struct sgx_mm *owner = atomic_load(&sh->ksgxd_mm);

	if (owner && mm_alive(owner))
		return false;
	return atomic_compare_exchange_strong(&sh->ksgxd_mm, &owner, shim.mm);
}

bool shim_share_held(void)
{
	for (int i = 0; i < SHIM_MAX_FILES; i++) {
		struct shim_encl_rec *r = atomic_load(&sh->recs[i]);

		if (r && atomic_load(&r->procs) > 0)
			return true;
	}
	return false;
}

/* This process's ksgxd stopped. */
void shim_ksgxd_release(void)
{
	struct sgx_mm *me = shim.mm;

	atomic_compare_exchange_strong(&sh->ksgxd_mm, &me, NULL);
}

void shim_ksgxd_nudge(void)
{
	if (!shim_share || !shim.mm)
		return;
	atomic_fetch_add(&shim.mm->nudge, 1);
	agent_wake(shim.mm);
}

/* In a read section: an address space taken off the table is freed after one. */
void shim_ksgxd_hand_over(void)
{
	sgx_rcu_read_lock();
	for (int i = 0; i < MAX_MMS && !atomic_load(&sh->ksgxd_mm); i++) {
		struct sgx_mm *mm = atomic_load(&sh->mms[i]);

		if (mm && mm != shim.mm && atomic_load(&mm->users) > 0 && mm_alive(mm))
			forward(mm, REQ_ADOPT, NULL, 0, 0);
	}
	sgx_rcu_read_unlock();
}

/* Is this the family's last process with a share of the driver? */
bool shim_share_last(void)
{
	bool last = true;

	sgx_rcu_read_lock();
	for (int i = 0; i < MAX_MMS && last; i++) {
		struct sgx_mm *mm = atomic_load(&sh->mms[i]);

		if (mm && mm != shim.mm && atomic_load(&mm->users) > 0 && mm_alive(mm))
			last = false;
	}
	sgx_rcu_read_unlock();
	return last;
}
