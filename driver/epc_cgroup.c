// SPDX-License-Identifier: MIT
/*
 * The EPC cgroup: the misc controller's "sgx_epc" resource with per-cgroup
 * LRUs, reclaim within a subtree and, in v5, the EPC OOM killer.  None of
 * this is in mainline Linux; it follows one revision of the unmerged EPC
 * cgroup series at a time (cfg.cg_policy; docs/design.md, References):
 * v17 (August 2024) or v5 (September 2023).  docs/architecture.md, "The
 * EPC cgroup", lists what differs between them.  The misc semantics
 * (charge, uncharge, max, peak, events, the files' formats) are mainline
 * kernel/cgroup/misc.c's.
 *
 * Departures from both revisions (EMU-CHOICE):
 *  - A charge fails with -ENOMEM only when nothing in the subtree is
 *    listed *or* in a reclaimer's batch: pages in flight are about to be
 *    freed, so the charge waits for them rather than fail (in v5, for at
 *    most SGX_EPC_RECLAIM_OOM_THRESHOLD rounds).  The reclaim and OOM
 *    decisions use the series' test (listed pages only).
 *  - All LRUs share drv->reclaimer_lock (the kernel has a lock per LRU): the
 *    reclaimer already serialises on it, and it keeps the lock order short.
 *  - A cgroup's memory is freed only outside signal context (destroy, or
 *    the reaping in sgx_cgroup_run_work()), because the fault path's free
 *    of an EPC page drops a cgroup reference.
 *  - The asynchronous work runs in ksgxd, SGX_CG_WORK_ROUNDS rounds at a
 *    time, queueing itself again while there is more to do.
 *  - Fixes on top of the series, each compiled out by its own macro (all by
 *    -Drace_fixes=false; docs/races.md, R6): the NO_MEMORY re-check under
 *    encl->lock (SGX_NO_OOM_RECHECK_FIX, encl.c) and the killer's wait for
 *    enclave releases (SGX_NO_OOM_RELEASE_WAIT_FIX).
 *
 * Async-signal-safe, for the fault path: sgx_cgroup_current(), try_charge
 * without reclaim, uncharge, put, queue_work, the LRU accounting.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcu.h"
#include "mem.h"
#include "sgx.h"

#define CG_PAGE 4096ULL
/* v5's reclaim constants (its epc_cgroup.c; SGX_NR_TO_SCAN_MAX is its sgx.h's). */
#define SGX_EPC_RECLAIM_MIN_PAGES 16u
#define SGX_NR_TO_SCAN_MAX 32u
#define SGX_EPC_RECLAIM_IGNORE_AGE_THRESHOLD 5
#define SGX_EPC_RECLAIM_OOM_THRESHOLD 5

static uint64_t capacity(struct sgx_driver *drv)
{
	return (uint64_t)drv->nr_total_pages * CG_PAGE;
}

static void cg_init(struct sgx_cgroup *cg, struct sgx_driver *drv, struct sgx_cgroup *parent,
		    const char *name, uint16_t id)
{
	memset(cg, 0, sizeof(*cg));
	cg->drv = drv;
	cg->parent = parent;
	CDS_INIT_LIST_HEAD(&cg->children);
	CDS_INIT_LIST_HEAD(&cg->sibling);
	CDS_INIT_LIST_HEAD(&cg->lru.reclaimable);
	CDS_INIT_LIST_HEAD(&cg->lru.unreclaimable);
	cg->next_cg = cg;
	snprintf(cg->name, sizeof(cg->name), "%s", name);
	cg->id = id;
	atomic_store(&cg->max, UINT64_MAX);
	atomic_store(&cg->refs, 1);
}

/**
 * sgx_cgroup_init_root() - set up the root cgroup
 * @drv: the driver, its EPC enumerated (the capacity is the total EPC)
 */
void sgx_cgroup_init_root(struct sgx_driver *drv)
{
	cg_init(&drv->root_cg, drv, NULL, "", 0);
	atomic_store(&drv->cgroups[0], &drv->root_cg);
}

/**
 * sgx_cgroup_get() - pin a cgroup
 * @cg: the cgroup
 */
void sgx_cgroup_get(struct sgx_cgroup *cg)
{
	/* The root lives as long as its driver: no count to bounce between CPUs. */
	if (cg->parent)
		atomic_fetch_add_explicit(&cg->refs, 1, memory_order_relaxed);
}

/**
 * sgx_cgroup_put() - unpin a cgroup
 * @cg: the cgroup
 *
 * Never frees (it may run in signal context): a destroyed cgroup whose last
 * reference goes is reaped by sgx_cgroup_run_work() or the driver's exit.
 */
void sgx_cgroup_put(struct sgx_cgroup *cg)
{
	if (cg->parent)
		atomic_fetch_sub_explicit(&cg->refs, 1, memory_order_release);
}

static struct sgx_cgroup *next_pre(struct sgx_cgroup *root, struct sgx_cgroup *pos);

/*
 * Free the destroyed cgroups that nobody uses any more (cg_lock held).  A
 * destroyed cgroup stays in the tree until then, so that the walks of its
 * ancestors still reach (and reclaim) the pages charged to it.  Every
 * cgroup pins its parent, so one with no references is a leaf, and freeing
 * it can free its parent too: repeat until a pass frees nothing.
 */
static void reap_locked(struct sgx_driver *drv)
{
	bool freed;

	do {
		freed = false;
		for (unsigned int i = 1; i < SGX_CG_MAX; i++) {
			struct sgx_cgroup *cg = atomic_load(&drv->cgroups[i]);

			if (!cg || !atomic_load(&cg->dying) ||
			    atomic_load_explicit(&cg->refs, memory_order_acquire))
				continue;
			for (struct sgx_cgroup *a = cg->parent; a; a = a->parent)
				if (a->next_cg == cg)
					a->next_cg = next_pre(a, cg);
			cds_list_del_init(&cg->sibling);
			atomic_store(&drv->cgroups[i], NULL);
			sgx_cgroup_put(cg->parent);
			sgx_free(cg);
			freed = true;
		}
	} while (freed);
}

/**
 * sgx_cgroup_exit() - free every cgroup but the root (driver teardown)
 * @drv: the driver, with no EPC page in use
 */
void sgx_cgroup_exit(struct sgx_driver *drv)
{
	for (unsigned int i = 1; i < SGX_CG_MAX; i++) {
		struct sgx_cgroup *cg = atomic_load(&drv->cgroups[i]);

		if (cg) {
			atomic_store(&drv->cgroups[i], NULL);
			sgx_free(cg);
		}
	}
}

/**
 * sgx_cgroup_create() - mkdir of a cgroup under @parent
 * @parent: the parent cgroup (the root or another one)
 * @name: its name (for messages; need not be unique)
 * @err: -EINVAL (no parent, a dying parent), -ENOSPC (SGX_CG_MAX reached), -ENOMEM
 *
 * The new cgroup has no limit ("max"), holds the reference the tree keeps
 * until sgx_cgroup_destroy(), and pins its parent until it is freed.
 *
 * Return: the cgroup, or NULL.
 */
struct sgx_cgroup *sgx_cgroup_create(struct sgx_cgroup *parent, const char *name, int *err)
{
	struct sgx_driver *drv;
	struct sgx_cgroup *cg;
	unsigned int id;

	if (!parent) {
		*err = -EINVAL;
		return NULL;
	}
	drv = parent->drv;
	cg = sgx_zalloc(sizeof(*cg));
	if (!cg) {
		*err = -ENOMEM;
		return NULL;
	}
	sgx_mutex_lock(&drv->cg_lock);
	/* Under the lock, so that a racing destroy cannot slip in between. */
	if (atomic_load(&parent->dying)) {
		sgx_mutex_unlock(&drv->cg_lock);
		sgx_free(cg);
		*err = -EINVAL;
		return NULL;
	}
	reap_locked(drv);
	for (id = 1; id < SGX_CG_MAX && atomic_load(&drv->cgroups[id]); id++)
		;
	if (id == SGX_CG_MAX) {
		sgx_mutex_unlock(&drv->cg_lock);
		sgx_free(cg);
		*err = -ENOSPC;
		return NULL;
	}
	cg_init(cg, drv, parent, name ? name : "", (uint16_t)id);
	sgx_cgroup_get(parent);
	cds_list_add_tail(&cg->sibling, &parent->children);
	atomic_store(&drv->cgroups[id], cg);
	sgx_mutex_unlock(&drv->cg_lock);
	return cg;
}

/* The pre-order successor of @pos within @root's subtree, wrapping to @root. */
static struct sgx_cgroup *next_pre(struct sgx_cgroup *root, struct sgx_cgroup *pos)
{
	if (!cds_list_empty(&pos->children))
		return cds_list_first_entry(&pos->children, struct sgx_cgroup, sibling);
	while (pos != root) {
		if (pos->sibling.next != &pos->parent->children)
			return cds_list_entry(pos->sibling.next, struct sgx_cgroup, sibling);
		pos = pos->parent;
	}
	return root;
}

/**
 * sgx_cgroup_destroy() - rmdir of a cgroup
 * @cg: a cgroup other than the root; the caller's pointer is not to be used
 *      again once this succeeds (the cgroup may be freed at once)
 *
 * As with any cgroup, its charges stay with it (and its usage in its
 * ancestors) until the pages are freed, and so does its place in the tree,
 * where reclaim keeps finding those pages; no task can be charged to it any
 * more.  It is freed when the last page and reference go.
 *
 * Return: 0, -EBUSY (it has children that are not destroyed), -EINVAL (the
 * root, or destroyed already while still in use).
 */
int sgx_cgroup_destroy(struct sgx_cgroup *cg)
{
	struct sgx_driver *drv = cg->drv;
	struct sgx_cgroup *child;

	if (!cg->parent)
		return -EINVAL;
	sgx_mutex_lock(&drv->cg_lock);
	if (atomic_load(&cg->dying)) {
		sgx_mutex_unlock(&drv->cg_lock);
		return -EINVAL;
	}
	cds_list_for_each_entry(child, &cg->children, sibling) {
		if (!atomic_load(&child->dying)) {
			sgx_mutex_unlock(&drv->cg_lock);
			return -EBUSY;
		}
	}
	atomic_store(&cg->dying, true);
	sgx_cgroup_put(cg); /* the tree's */
	reap_locked(drv);
	sgx_mutex_unlock(&drv->cg_lock);
	return 0;
}

/**
 * sgx_cgroup_current() - the calling task's cgroup, pinned
 * @drv: the driver
 *
 * The host says which cgroup the caller is in; without an answer (no hook,
 * NULL, another driver's cgroup) it is the root, as for a task of a
 * controller that is disabled.  A task the host still places in a destroyed
 * cgroup (the kernel refuses to remove a populated one, so this is a host
 * racing its own rmdir) is charged to the nearest live ancestor, so the
 * limits above it still hold.  Async-signal-safe.
 *
 * Return: the cgroup, with a reference for the caller to put.
 */
struct sgx_cgroup *sgx_cgroup_current(struct sgx_driver *drv)
{
	struct sgx_cgroup *cg = NULL;

	if (drv->host_ops->current_cgroup)
		cg = drv_host_call(drv, current_cgroup);
	if (!cg || cg->drv != drv)
		cg = &drv->root_cg;
	/* A child pins its parent, and the host pins @cg: the walk is safe. */
	while (atomic_load(&cg->dying))
		cg = cg->parent;
	sgx_cgroup_get(cg);
	return cg;
}

/**
 * sgx_cgroup_of_page() - the cgroup an EPC page is charged to
 * @drv: the driver
 * @page: an EPC page in use
 *
 * Return: the cgroup (the root for a page charged to none).
 */
struct sgx_cgroup *sgx_cgroup_of_page(struct sgx_driver *drv, const struct sgx_epc_page *page)
{
	struct sgx_cgroup *cg = NULL;

	if (page->cg_id != SGX_CG_NONE)
		cg = atomic_load_explicit(&drv->cgroups[page->cg_id], memory_order_relaxed);
	return cg ? cg : &drv->root_cg;
}

/*
 * The misc controller's charge of one page (misc_cg_try_charge): a level
 * refuses it when its new usage passes its limit or the capacity (the
 * whole EPC).  Usage counts charged pages, so the capacity test refuses a
 * charge only when every EPC page is charged: then, as in the series, the
 * charge fails before the allocator's own path (direct reclaim) is tried.
 * Not for a task of the root cgroup (EMU-CHOICE): without cgroups the
 * driver stays mainline's, whose allocator meets a full EPC itself.
 *
 * Return: NULL when charged, else the cgroup whose limit refused it.
 */
static struct sgx_cgroup *misc_try_charge(struct sgx_cgroup *cg)
{
	struct sgx_cgroup *c, *fail = NULL;

	for (c = cg; c; c = c->parent) {
		uint64_t now = atomic_fetch_add(&c->usage, CG_PAGE) + CG_PAGE, peak;

		if (now > atomic_load(&c->max) || (cg->parent && now > capacity(cg->drv))) {
			fail = c;
			break;
		}
		/* The watermark of a level that took the charge, as misc.c keeps it. */
		peak = atomic_load(&c->peak);
		while (now > peak && !atomic_compare_exchange_weak(&c->peak, &peak, now))
			;
	}
	if (!fail)
		return NULL;
	/* The root has no events files, so it counts none. */
	if (fail->parent)
		atomic_fetch_add(&fail->events_local, 1);
	for (c = fail; c && c->parent; c = c->parent)
		atomic_fetch_add(&c->events, 1);
	for (c = cg;; c = c->parent) {
		atomic_fetch_sub(&c->usage, CG_PAGE);
		if (c == fail)
			break;
	}
	return fail;
}

/**
 * sgx_cgroup_uncharge() - give one page back to @cg and its ancestors
 * @cg: the cgroup it was charged to
 *
 * Async-signal-safe.
 */
void sgx_cgroup_uncharge(struct sgx_cgroup *cg)
{
	for (struct sgx_cgroup *c = cg; c; c = c->parent) {
		uint64_t was = atomic_fetch_sub(&c->usage, CG_PAGE);

		if (was < CG_PAGE) {
			atomic_fetch_add(&c->usage, CG_PAGE);
			sgx_warn_once("misc cgroup resource %s became less than 0", "sgx_epc");
		}
	}
}

static bool is_v5(const struct sgx_driver *drv)
{
	return sgx_cg_policy(drv) == SGX_CG_V5;
}

/**
 * sgx_cg_set_policy() - switch the revision the EPC cgroups follow
 * @drv: the driver
 * @policy: SGX_CG_V5 or SGX_CG_V17
 *
 * For tests and the demo, which switch a running driver between scenarios;
 * meant for moments when no enclave is in a cgroup below the root (ksgxd may
 * be reclaiming meanwhile, so the value is read atomically).
 */
void sgx_cg_set_policy(struct sgx_driver *drv, enum sgx_cg_policy policy)
{
	__atomic_store_n(&drv->cfg.cg_policy, policy, __ATOMIC_RELAXED);
}

/**
 * sgx_cg_policy() - the revision the EPC cgroups follow now
 * @drv: the driver
 *
 * Return: SGX_CG_V5 or SGX_CG_V17.
 */
enum sgx_cg_policy sgx_cg_policy(const struct sgx_driver *drv)
{
	return __atomic_load_n(&drv->cfg.cg_policy, __ATOMIC_RELAXED);
}

/**
 * sgx_cg_policy_parse() - the policy named "v5" or "v17"
 * @s: the name
 * @policy: set on success
 *
 * Return: 0, or -EINVAL for any other name.
 */
int sgx_cg_policy_parse(const char *s, enum sgx_cg_policy *policy)
{
	if (!strcmp(s, "v5"))
		*policy = SGX_CG_V5;
	else if (!strcmp(s, "v17"))
		*policy = SGX_CG_V17;
	else
		return -EINVAL;
	return 0;
}

/**
 * sgx_cg_policy_name() - "v5" or "v17"
 * @policy: the policy
 *
 * Return: its name, as sgx_cg_policy_parse() takes it.
 */
const char *sgx_cg_policy_name(enum sgx_cg_policy policy)
{
	return policy == SGX_CG_V5 ? "v5" : "v17";
}

/*
 * The series' "are the subtree's LRUs empty?": nothing on a reclaimable
 * list.  Pages isolated by a reclaimer are on none, so they do not count.
 */
static bool lru_empty(struct sgx_cgroup *cg)
{
	return atomic_load(&cg->subtree_listed) <= 0;
}

/* The lowest limit from @cg up to the root, in pages (UINT64_MAX / 4096: none). */
static uint64_t min_limit_pages(struct sgx_cgroup *cg)
{
	uint64_t m = UINT64_MAX;

	for (struct sgx_cgroup *c = cg; c; c = c->parent) {
		uint64_t x = atomic_load(&c->max);

		if (x < m)
			m = x;
	}
	return m / CG_PAGE;
}

/**
 * sgx_cgroup_should_reclaim() - is @cg at its reclaim threshold (v17)?
 * @cg: the cgroup
 *
 * Return: true when something in its subtree is on a reclaimable list and
 * its usage has reached the lowest limit on its path to the root, less
 * SGX_CG_MIN_FREE_PAGE when that limit is above SGX_CG_LOW_LIMIT pages.
 */
bool sgx_cgroup_should_reclaim(struct sgx_cgroup *cg)
{
	uint64_t max = min_limit_pages(cg);

	if (lru_empty(cg))
		return false;
	if (max > SGX_CG_LOW_LIMIT)
		max -= SGX_CG_MIN_FREE_PAGE;
	return atomic_load(&cg->usage) / CG_PAGE >= max;
}

/**
 * sgx_cgroup_queue_work() - ask for asynchronous reclaim of @cg's subtree
 * @cg: the cgroup
 *
 * ksgxd does the work (the kernel's "sgx_cg_wq"); with cfg.no_ksgxd the
 * caller runs sgx_cgroup_run_work().  Async-signal-safe.
 */
void sgx_cgroup_queue_work(struct sgx_cgroup *cg)
{
	struct sgx_driver *drv = cg->drv;

	if (!atomic_exchange(&cg->work_pending, true)) {
		sgx_cgroup_get(cg);
		atomic_fetch_add(&drv->cg_work, 1);
		sgx_waitq_wake_all(&drv->ksgxd_waitq);
	}
}

/*
 * The cgroup after @cg in @root's subtree (pre-order), pinned, or NULL
 * after the last one; @cg's reference is put.  No lock may be held.
 */
static struct sgx_cgroup *walk_next(struct sgx_cgroup *root, struct sgx_cgroup *cg)
{
	struct sgx_driver *drv = root->drv;
	struct sgx_cgroup *next;

	/* Pinned before the lock goes: it cannot be reaped under us. */
	sgx_mutex_lock(&drv->cg_lock);
	next = next_pre(root, cg);
	if (next != root)
		sgx_cgroup_get(next);
	sgx_mutex_unlock(&drv->cg_lock);
	sgx_cgroup_put(cg);
	return next == root ? NULL : next;
}

/*
 * v5's reclaim of a subtree: batches from the cgroups in pre-order, always
 * from @root on, until @nr pages were scanned in all.  The series clamps a cgroup
 * reclaim request to [16, 32] pages (@clamp); global reclaim asks for one
 * batch.  Return: the pages reclaimed (written back and freed).
 */
static unsigned int reclaim_v5(struct sgx_cgroup *root, uint64_t nr, bool ignore_age, bool clamp)
{
	struct sgx_cgroup *cg = root;
	unsigned int scanned = 0, freed = 0;

	if (clamp)
		nr = nr < SGX_EPC_RECLAIM_MIN_PAGES ? SGX_EPC_RECLAIM_MIN_PAGES :
		     nr > SGX_NR_TO_SCAN_MAX ? SGX_NR_TO_SCAN_MAX : nr;
	sgx_cgroup_get(cg);
	while (cg) {
		/* Each list once: a short batch took all it had (young ones went back). */
		while (scanned < nr) {
			unsigned int want = nr - scanned < SGX_NR_TO_SCAN ? (unsigned int)(nr - scanned) :
									    SGX_NR_TO_SCAN;
			unsigned int n, s = sgx_reclaim_pages_lru(root->drv, cg, want, ignore_age, &n);

			scanned += s;
			freed += n;
			if (s < want)
				break;
		}
		if (scanned >= nr) {
			sgx_cgroup_put(cg);
			break;
		}
		cg = walk_next(root, cg);
	}
	return freed;
}

/* v5's sgx_epc_reclaim_control: failed rounds, and whether age is ignored now. */
struct reclaim_control {
	int nr_fails;
	bool ignore_age;
};

/*
 * v5's bookkeeping after a reclaim that freed nothing.  Return: true when
 * the subtree has nothing listed (the series' -ENOMEM), else count the
 * failure; after SGX_EPC_RECLAIM_IGNORE_AGE_THRESHOLD of them, age is ignored.
 */
static bool reclaim_failed(struct sgx_cgroup *cg, struct reclaim_control *rc)
{
	if (lru_empty(cg))
		return true;
	if (++rc->nr_fails > SGX_EPC_RECLAIM_IGNORE_AGE_THRESHOLD)
		rc->ignore_age = true;
	return false;
}

/* The next cgroup of @root's subtree to reclaim from, pinned (v17 next_get). */
static struct sgx_cgroup *next_get(struct sgx_cgroup *root)
{
	struct sgx_driver *drv = root->drv;
	struct sgx_cgroup *cg;

	sgx_mutex_lock(&drv->cg_lock);
	cg = root->next_cg;
	/* Destroyed cgroups are passed over (their pages wait for their release). */
	while (cg != root && atomic_load(&cg->dying))
		cg = next_pre(root, cg);
	root->next_cg = next_pre(root, cg);
	sgx_cgroup_get(cg);
	sgx_mutex_unlock(&drv->cg_lock);
	return cg;
}

/**
 * sgx_cgroup_reclaim() - reclaim from @root's subtree
 * @root: the subtree (the root cgroup: global reclaim)
 * @nr: pages to scan, in reclaimer batches
 *
 * v17: round robin, one batch per cgroup visited, from where the last call
 * stopped, until @nr pages were scanned, nothing in the subtree is listed,
 * or every cgroup was visited once.  That last bound is a departure from
 * v17, which goes round until @nr pages are scanned: with no cgroup below
 * the root, global reclaim is then exactly mainline's one batch.  v5: the
 * subtree in pre-order from @root, each cgroup's list until @nr pages were
 * scanned.  No lock may be held (EWB takes them).
 *
 * Return: the number of pages isolated (v17), or reclaimed (v5).
 */
unsigned int sgx_cgroup_reclaim(struct sgx_cgroup *root, unsigned int nr)
{
	struct sgx_cgroup *first = NULL;
	unsigned int scanned = 0, visits = 0;

	if (is_v5(root->drv))
		return reclaim_v5(root, nr, false, false);
	/* The visit bound also ends it if @first is reaped under it. */
	while (scanned < nr && !lru_empty(root) && visits++ < SGX_CG_MAX) {
		struct sgx_cgroup *cg = next_get(root);

		if (cg == first) {
			sgx_cgroup_put(cg);
			break;
		}
		if (!first)
			first = cg; /* compared only, never dereferenced after its put */
		scanned += sgx_reclaim_pages_lru(root->drv, cg, SGX_NR_TO_SCAN, false, NULL);
		sgx_cgroup_put(cg);
	}
	return scanned;
}

/**
 * sgx_cgroup_try_charge() - charge one page to @cg (the series' try_charge)
 * @cg: the cgroup
 * @reclaim: may reclaim (no lock held by the caller)
 *
 * Over a limit, room is made in @cg's own subtree, whichever limit refused
 * the charge (both revisions; memcg would reclaim below the cgroup whose
 * limit it is): a task in an empty child of a full parent gets -ENOMEM.
 * v17 reclaims round robin until the charge fits; v5 reclaims 16 pages at
 * a time and gives up after SGX_EPC_RECLAIM_OOM_THRESHOLD rounds that
 * found the subtree's lists empty.
 *
 * Return: 0; -ENOMEM (over a limit and nothing in the subtree to reclaim
 * or being reclaimed); -ERESTARTSYS (a signal pending, tested before the
 * rest: a fault then gets SIGBUS); -EBUSY (over a limit without @reclaim:
 * the subtree's asynchronous work is queued to make room).
 */
int sgx_cgroup_try_charge(struct sgx_cgroup *cg, bool reclaim)
{
	struct sgx_driver *drv = cg->drv;
	struct reclaim_control rc = { 0 };
	unsigned int nr_empty = 0;

	for (;;) {
		if (!misc_try_charge(cg))
			return 0;
		/* Pages in flight count (EMU-CHOICE above). */
		if (atomic_load(&cg->subtree_reclaimable) <= 0)
			return -ENOMEM;
		if (drv_host_call(drv, signal_pending))
			return -ERESTARTSYS;
		if (!reclaim) {
			sgx_cgroup_queue_work(cg);
			return -EBUSY;
		}
		if (!is_v5(drv)) {
			sgx_cgroup_reclaim(cg, 1);
			sched_yield();
			continue;
		}
		if (!reclaim_v5(cg, 1, rc.ignore_age, true) && reclaim_failed(cg, &rc)) {
			if (++nr_empty > SGX_EPC_RECLAIM_OOM_THRESHOLD)
				return -ENOMEM;
			sched_yield();
		}
	}
}

/* ---- The EPC OOM killer (v5; docs/races.md, R6) ---- */

static struct sgx_encl *owner_encl(struct sgx_epc_page *page)
{
	if (page->flags & SGX_EPC_OWNER_ENCL)
		return page->owner;
	return page->owner ? ((struct sgx_encl_page *)page->owner)->encl : NULL;
}

/*
 * A victim from @cg's unreclaimable list (v5's sgx_oom_get_victim()): the
 * first SECS or VA page whose enclave can still be pinned.  The entries
 * looked at are unlinked (their nodes point at themselves) and not put
 * back.  A listed page's enclave is alive: its release takes its SECS and VA
 * pages off the list (under reclaimer_lock, held here) before it is freed.
 *
 * An enclave that cannot be pinned is being released and is about to give
 * back its SECS and VA pages.  The series unlinks its entry and goes on to
 * the next enclave; with the release-wait fix *@dying is set and no victim
 * is taken, so that a cgroup over its limit only until that release ends
 * loses nothing.
 */
static struct sgx_encl *oom_get_victim(struct sgx_cgroup *cg, bool *dying)
{
#ifndef SGX_NO_OOM_RELEASE_WAIT_FIX
	const bool wait_for_release = true;
#else
	const bool wait_for_release = false;
#endif
	struct sgx_driver *drv = cg->drv;
	struct sgx_encl *victim = NULL;
	struct sgx_epc_page *page, *tmp;

	sgx_mutex_lock(&drv->reclaimer_lock);
	cds_list_for_each_entry_safe(page, tmp, &cg->lru.unreclaimable, list) {
		struct sgx_encl *encl = owner_encl(page);
		bool pinned = encl && sgx_encl_get_unless_zero(encl);

		if (encl && !pinned && wait_for_release) {
			*dying = true;
			break;
		}
		cds_list_del_init(&page->list);
		if (pinned) {
			victim = encl;
			break;
		}
	}
	sgx_mutex_unlock(&drv->reclaimer_lock);
	return victim;
}

/**
 * sgx_cgroup_oom() - kill one enclave of @root's subtree to free EPC (v5)
 * @root: the cgroup at its limit with nothing reclaimable
 *
 * Walks the subtree in pre-order; in each cgroup, the first enclave on the
 * unreclaimable list is the candidate (sgx_encl_oom()): killed, or found
 * killed before and still waiting for its reclaims to finish (the caller
 * then waits for it rather than take another), or not created yet (the
 * walk goes on to the next cgroup).  With the release-wait fix, any enclave
 * release under way, in this subtree or not, counts as found (it may be
 * what keeps @root over its limit: its pages stopped counting as
 * reclaimable before they are uncharged), and @root's work is queued
 * again, to look once the release is done.  No lock may be held.
 *
 * Return: true when a victim was found.
 */
bool sgx_cgroup_oom(struct sgx_cgroup *root)
{
	struct sgx_cgroup *cg = root;

#ifndef SGX_NO_OOM_RELEASE_WAIT_FIX
	if (atomic_load(&root->drv->nr_releasing)) {
		sgx_cgroup_queue_work(root);
		return true;
	}
#endif
	sgx_cgroup_get(cg);
	while (cg) {
		bool dying = false;
		struct sgx_encl *victim = oom_get_victim(cg, &dying);

		if (dying) {
			sgx_cgroup_put(cg);
			sgx_cgroup_queue_work(root);
			return true;
		}
		if (victim && sgx_encl_oom(victim)) {
			sgx_cgroup_put(cg);
			return true;
		}
		cg = walk_next(root, cg);
	}
	return false;
}

/*
 * v17's asynchronous work: reclaim while the cgroup is at its threshold.
 * v5's: reclaim down to the lowest limit to the root less one page (less
 * SGX_EPC_RECLAIM_MIN_PAGES / 2 more above SGX_NR_TO_SCAN_MAX pages),
 * ignoring age after repeated failures; with nothing listed, kill and go
 * on (the next victim, if the kill did not bring usage down); stop when no
 * victim is left or the subtree's lists stay empty.  A kill frees nothing
 * at once, so a v5 work kills every enclave of a cgroup whose limit is 0.
 *
 * After SGX_CG_WORK_ROUNDS rounds the work queues itself again and returns,
 * so that ksgxd gets back to global reclaim and other cgroups in between
 * (the kernel runs it on a workqueue of its own).
 */
static void cg_work(struct sgx_cgroup *cg)
{
	struct reclaim_control rc = { 0 };

	for (int rounds = 0;; rounds++) {
		uint64_t max = min_limit_pages(cg);

		if (!is_v5(cg->drv)) {
			if (!sgx_cgroup_should_reclaim(cg))
				return;
		} else {
			if (max)
				max--;
			if (max > SGX_NR_TO_SCAN_MAX)
				max -= SGX_EPC_RECLAIM_MIN_PAGES / 2;
			if (max > cg->drv->nr_total_pages)
				max = cg->drv->nr_total_pages;
			if (atomic_load(&cg->usage) / CG_PAGE <= max)
				return;
		}
		if (rounds == SGX_CG_WORK_ROUNDS) {
			sgx_cgroup_queue_work(cg);
			return;
		}
		if (!is_v5(cg->drv)) {
			if (!sgx_cgroup_reclaim(cg, SGX_NR_TO_SCAN))
				sched_yield();
		} else if (lru_empty(cg)) {
			/* Queued again: a release is under way, look after it. */
			if (!sgx_cgroup_oom(cg) || atomic_load(&cg->work_pending))
				return;
		} else if (!reclaim_v5(cg, atomic_load(&cg->usage) / CG_PAGE - max, rc.ignore_age,
				       true) &&
			   reclaim_failed(cg, &rc)) {
			return;
		}
	}
}

/**
 * sgx_cgroup_run_work() - run the queued asynchronous reclaims, one pass
 * @drv: the driver
 *
 * Each cgroup whose work was queued when the pass reaches it gets one run;
 * work queued again meanwhile waits for the next pass, so that the caller
 * (ksgxd) gets back to global reclaim in between.  Callers may race: each
 * queued work runs once.  Also reaps destroyed cgroups nobody uses any more.
 */
void sgx_cgroup_run_work(struct sgx_driver *drv)
{
	for (unsigned int i = 0; i < SGX_CG_MAX && atomic_load(&drv->cg_work) > 0; i++) {
		struct sgx_cgroup *cg;
		bool mine = false;

		if (!atomic_load(&drv->cgroups[i]))
			continue;
		/* Under cg_lock: the slot's cgroup cannot be reaped while we look. */
		sgx_mutex_lock(&drv->cg_lock);
		cg = atomic_load(&drv->cgroups[i]);
		if (cg && atomic_exchange(&cg->work_pending, false)) {
			atomic_fetch_sub(&drv->cg_work, 1);
			mine = true; /* with the reference queue_work took */
		}
		sgx_mutex_unlock(&drv->cg_lock);
		if (mine) {
			cg_work(cg);
			sgx_cgroup_put(cg);
		}
	}
	sgx_mutex_lock(&drv->cg_lock);
	reap_locked(drv);
	sgx_mutex_unlock(&drv->cg_lock);
}

/* ---- The files (cgroup v2 misc format) ---- */

static int put_value(char *buf, size_t len, const char *key, uint64_t v, bool max_word)
{
	if (max_word && v == UINT64_MAX)
		return snprintf(buf, len, "%s max\n", key);
	return snprintf(buf, len, "%s %" PRIu64 "\n", key, v);
}

/**
 * sgx_cgroup_read() - read one of the cgroup's misc files
 * @cg: the cgroup
 * @file: "misc.capacity" (root only), "misc.max" (not root), "misc.current",
 *        "misc.peak", "misc.events" or "misc.events.local" (not root)
 * @buf: the text, as the kernel's file would hold it
 * @len: its size
 *
 * Return: the length written, -ENOENT (no such file at this level), or
 * -EOVERFLOW (@len too small).
 */
int sgx_cgroup_read(struct sgx_cgroup *cg, const char *file, char *buf, size_t len)
{
	bool root = !cg->parent;
	int n;

	if (!strcmp(file, "misc.capacity") && root)
		n = put_value(buf, len, "sgx_epc", capacity(cg->drv), false);
	else if (!strcmp(file, "misc.max") && !root)
		n = put_value(buf, len, "sgx_epc", atomic_load(&cg->max), true);
	else if (!strcmp(file, "misc.current"))
		n = put_value(buf, len, "sgx_epc", atomic_load(&cg->usage), false);
	else if (!strcmp(file, "misc.peak"))
		n = put_value(buf, len, "sgx_epc", atomic_load(&cg->peak), false);
	else if (!strcmp(file, "misc.events") && !root)
		n = put_value(buf, len, "sgx_epc.max", atomic_load(&cg->events), false);
	else if (!strcmp(file, "misc.events.local") && !root)
		n = put_value(buf, len, "sgx_epc.max", atomic_load(&cg->events_local), false);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -EOVERFLOW : n;
}

/* kstrtou64(s, 0): an optional '+', then 0x/0X hex, 0 octal or decimal, nothing after. */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;

	if (*s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		base = 8;
		s++;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned int)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/**
 * sgx_cgroup_write() - write a cgroup's misc.max
 * @cg: a cgroup other than the root
 * @file: "misc.max" (the only writable file)
 * @buf: "sgx_epc <bytes>" or "sgx_epc max", parsed as misc_cg_max_write()
 *       does: surrounding white space stripped, the name ends at the first
 *       space, the value is kstrtou64(value, 0) (so 0x1000 and 010 work)
 *
 * A limit below the usage does not fail.  v5 queues the asynchronous work,
 * which reclaims down to it and kills enclaves of the subtree if nothing is
 * reclaimable; v17 leaves the usage as it is until the next charge.  Limits
 * round down to whole pages only in effect.
 *
 * Return: 0, -ENOENT (another file, or the root), -EINVAL (no value, an
 * unknown resource name -- checked before the number -- or a malformed
 * number), -ERANGE (the number does not fit in 64 bits), -E2BIG (longer than
 * a page).
 */
int sgx_cgroup_write(struct sgx_cgroup *cg, const char *file, const char *buf)
{
	char text[4096 + 1], *name, *value, *end;
	size_t len = strlen(buf);
	uint64_t max;
	int ret;

	if (strcmp(file, "misc.max") || !cg->parent)
		return -ENOENT;
	/* kernfs refuses only writes longer than a page to a cgroup file. */
	if (len > 4096)
		return -E2BIG;
	memcpy(text, buf, len + 1);
	for (end = text + len; end > text && is_space(end[-1]); end--)
		;
	*end = 0;
	for (name = text; is_space(*name); name++)
		;
	value = strchr(name, ' ');
	if (!value)
		return -EINVAL;
	*value++ = 0;
	/* The name first, as misc_cg_max_write() looks it up before kstrtou64(). */
	if (strcmp(name, "sgx_epc"))
		return -EINVAL;
	if (!strcmp(value, "max")) {
		max = UINT64_MAX;
	} else {
		ret = parse_u64(value, &max);
		if (ret)
			return ret;
	}
	atomic_store(&cg->max, max);
	/* v5's max_write callback; v17 enforces a limit only when pages are charged. */
	if (is_v5(cg->drv))
		sgx_cgroup_queue_work(cg);
	return 0;
}
