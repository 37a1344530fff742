// SPDX-License-Identifier: MIT
/*
 * fork as on Linux (the default, --fork share): a forked child shares its
 * parent's enclaves (one driver, one EPC, the child's address space on
 * each inherited enclave's mm list).  Each numbered part forks a child
 * whose cases come back to this process through a pipe (host_fork.c):
 *  1. the child enters the inherited enclave, finds the parent's pattern
 *     and writes its own, which the parent then finds: one memory;
 *  2. parent and child loop filling and checking their own ranges of the
 *     big enclave, and a range both read, at the same time in an EPC
 *     smaller than those ranges: pages of both are evicted and reloaded;
 *     then the parent's reclaim alone evicts the child's pages, which must
 *     leave the child's page tables too;
 *  3. the child enters on the TCS the parent has just left;
 *  4. the child enters, closes its enclave fd and unmaps ELRANGE: the
 *     parent's enclave runs on; and a parent that closed its fd (keeping
 *     the mappings) before the fork leaves an enclave the child can enter;
 *  5. (run first, before this process opens the device) a child A builds
 *     the big enclave, forks B and exits at once; B, with A's driver to
 *     itself, keeps using the enclave under reclaim;
 *  6. the child builds an enclave of its own, which derives the parent's
 *     seal key (one platform), while the parent's runs on unaffected;
 *  7. the parent's vEPC mapping is not in the child (VM_DONTCOPY);
 *  9. as 5, but A execs /bin/true, taking ksgxd along, which it must hand
 *     to B first (run second, before the test process opens the device);
 *  8. the fork comes while a thread of the parent is inside the enclave:
 *     its TCS is busy for the child, which enters another one, and the
 *     thread finishes unharmed (run after 3).
 * Every process has alarm(SECS): a hang is a kill, never a stuck test.
 * Usage: test_exec_fork_share ENCL.sgxs ENCL.sig BIG.sgxs BIG.sig
 * (the small test enclave, then the big one; run with a small EPC).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_test.h"

#define PAGE ENCL_PAGE_SIZE
#define SECS 120		/* alarm() of every process */
#define LEN (16 * PAGE)		/* parts 1, 4, 6: ranges of the small enclave */
#define ROUNDS 300		/* part 2 */
#define OWN_LEN (192 * PAGE)	/* part 2: each process's own range ... */
#define COMMON_LEN (64 * PAGE)	/* ... and the one both read: 1.75 MiB in all */
#define STREAM_LEN (1024 * PAGE)	/* part 2: four times a 1 MiB EPC */
#define KEPT_LEN (256 * PAGE)	/* part 5: A's pattern, kept across A's exit */
#define B_LEN (512 * PAGE)	/* part 5: B's range, twice a 1 MiB EPC */
#define B_ROUNDS 4

enum seed { SEED_P = 0x5a1, SEED_C, SEED_P2, SEED_C2, SEED_C3, SEED_COMMON, SEED_STREAM, SEED_A,
	    SEED_B };

static struct encl e, big;
static uint64_t pa, pb; /* part 1: the parent's range, the child's */
static char **args;

static bool fill(uint64_t tcs, uint64_t a, uint64_t seed, uint64_t len)
{
	struct encl_op op = ht_op(ENCL_OP_FILL, a, seed, len);

	return ht_call(tcs, &op);
}

/* The bytes of [a, a + len) that differ from the pattern of @seed; -1: no entry. */
static long long differing(uint64_t tcs, uint64_t a, uint64_t seed, uint64_t len)
{
	struct encl_op op = ht_op(ENCL_OP_CHECK, a, seed, len);

	return ht_call(tcs, &op) ? (long long)op.status : -1;
}

static bool enter_all(const struct encl *en)
{
	bool ok = true;

	for (unsigned int i = 0; i < en->nr_tcs; i++) {
		struct encl_op op = ht_op(ENCL_OP_RETURN, i, 0, 0);

		ok &= ht_call(en->tcs[i], &op) && op.ret == (i ^ ENCL_RETURN_MAGIC);
	}
	return ok;
}

/* A child's cases; it must exit with 0 after @want of them. */
static void finish(struct ht_child *c, const char *who, unsigned int want)
{
	ht_child_finish(c, who);
	tap_ok(c->status == 0 && c->cases == want, "%s exits with 0 after its %u cases "
	       "(status %d, %u cases)", who, want, c->status, c->cases);
}

/* EGETKEY(SEAL) with MRENCLAVE policy, the rest of the request zero. */
static bool seal_key(uint64_t tcs, struct encl_key_io *io)
{
	struct encl_op op = ht_op(ENCL_OP_EGETKEY, 0, (uint64_t)(uintptr_t)io, 0);
	uint16_t name = 4, policy = 1;

	memset(io, 0, sizeof(*io));
	memcpy(io->keyrequest + 0, &name, 2);
	memcpy(io->keyrequest + 2, &policy, 2);
	return ht_call(tcs, &op) && op.status == 0;
}

/*
 * ---- 5: the owner of the driver exits first; 9: the same, but it execs ----
 * In 9 the driver exists already (5 started it), and A takes ksgxd over at
 * its first ioctl: its exec must hand ksgxd to B.
 */

static int part; /* 5 or 9 */

/* B: A (@owner) is gone; the enclave must go on, under reclaim. */
static void __attribute__((noreturn)) orphan(struct encl *b, pid_t owner, pid_t tester)
{
	uint64_t kept = b->base + ENCL_HEAP_OFFSET, mine = kept + KEPT_LEN;
	long long bad = 0, d = 0;
	unsigned int n;

	alarm(SECS); /* fork cleared A's */
	for (int ms = 0; ms < 10000 && getppid() == owner; ms++)
		usleep(1000);
	ht_child_ok(getppid() == tester, "%d, B: A, which opened the device and built the "
		    "enclave, has exited; B's parent is the test process (%d, want %d)", part,
		    (int)getppid(), (int)tester);
	d = differing(b->tcs[1], kept, SEED_A, KEPT_LEN);
	ht_child_ok(d == 0, "%d, B: A's 1 MiB pattern is intact, read from inside on another TCS "
		    "(%lld bytes differ)", part, d);
	for (n = 0; n < B_ROUNDS; n++) {
		if (!fill(b->tcs[1], mine, SEED_B + n, B_LEN) ||
		    (d = differing(b->tcs[2], mine, SEED_B + n, B_LEN)) < 0)
			break;
		bad += d;
	}
	ht_child_ok(n == B_ROUNDS && !bad, "%d, B: 2 MiB (twice the EPC) written and checked %u "
		    "times under reclaim (%u done, %lld bytes differ)", part, B_ROUNDS, n, bad);
	d = differing(b->tcs[3], kept, SEED_A, KEPT_LEN);
	ht_child_ok(d == 0, "%d, B: A's pattern again after the reclaim (%lld bytes differ)", part,
		    d);
	encl_unload(b);
	ht_child_exit();
}

/* False when A found no device: not under softsgx exec, the program skips. */
static bool test_owner_exits(bool by_exec)
{
	struct ht_child c;
	pid_t tester = getpid(), a = ht_fork(&c, SECS);

	if (a == 0) {
		struct encl b;
		int r;

		if (!encl_dev_present())
			_exit(77);
		r = encl_load(&b, args[3], args[4]);
		ht_child_ok(!r && fill(b.tcs[0], b.base + ENCL_HEAP_OFFSET, SEED_A, KEPT_LEN),
			    "%d, A: opens the device%s, builds the big enclave and fills 1 MiB "
			    "of it (%d)", part, by_exec ? "" : " first", r);
		pid_t self = getpid(), pid = fork();

		if (pid == 0)
			orphan(&b, self, tester); /* not getppid(): A may be gone already */
		if (by_exec && pid > 0)
			execl("/bin/true", "true", (char *)NULL);
		_exit(pid > 0 ? 0 : 1); /* at once, no exit handler: B is on its own */
	}
	/*
	 * B's stderr is A's: B prints its --stats line at exit, after it
	 * closed the result pipe, so it is read again once B is waited for.
	 */
	int err = dup(c.err);

	ht_child_finish(&c, by_exec ? "9, A and B" : "5, A and B");
	if (c.status == 77 && !c.cases) {
		close(err);
		return false;
	}
	tap_ok(c.status == 0, "%d: A %s right after forking B (status %d)", part,
	       by_exec ? "execs /bin/true" : "exits (_exit)", c.status);
	/* B was reparented here (PR_SET_CHILD_SUBREAPER). */
	int st = ht_wait(0);
	static char text[65536];
	ssize_t len = err >= 0 ? pread(err, text, sizeof(text) - 1, 0) : -1;

	text[len > 0 ? len : 0] = 0;
	if (err >= 0)
		close(err);
	c.nr_stats = ht_epc_stats(text, &c.stats);
	const struct ht_epc_stats *s = &c.stats;

	tap_ok(st == 0 && c.cases == 5, "%d: B exits with 0, after 5 cases of A's and B's "
	       "(status %d, %u cases)", part, st, c.cases);
	if (!getenv("SOFTSGX_STATS")) {
		tap_skip("no --stats", "%d: B's --stats line", part);
		return true;
	}
	tap_ok(c.nr_stats == 1 && s->total && s->free == s->total && !s->used && !s->leaked &&
	       s->ewb && s->eldu, "%d: B, the last process of A's driver, prints its one --stats "
	       "line: every page back, reclaim seen (%u lines; total %llu free %llu used %llu "
	       "leaked %llu EWB %llu ELDU %llu)", part, c.nr_stats, s->total, s->free, s->used,
	       s->leaked, s->ewb, s->eldu);
	return true;
}

/* ---- 1: one enclave, one memory ---- */

static void test_one_memory(void)
{
	struct ht_child c;
	long long d;

	pa = e.base + ENCL_HEAP_OFFSET;
	pb = pa + LEN;
	tap_ok(fill(e.tcs[0], pa, SEED_P, LEN), "1: the parent fills 64 KiB of its enclave");
	if (ht_fork(&c, SECS) == 0) {
		d = differing(e.tcs[1], pa, SEED_P, LEN);
		ht_child_ok(d == 0, "1, child: enters the inherited enclave through the vDSO on "
			    "TCS 1 and finds the parent's pattern (%lld bytes differ)", d);
		ht_child_ok(fill(e.tcs[1], pb, SEED_C, LEN), "1, child: fills the next 64 KiB "
			    "with a pattern of its own");
		ht_child_exit();
	}
	finish(&c, "1, child", 2);
	d = differing(e.tcs[0], pb, SEED_C, LEN);
	tap_ok(d == 0, "1: the parent finds the child's pattern from inside (%lld bytes differ)",
	       d);
}

/* ---- 2: both inside at once, under reclaim ---- */

struct race {
	uint64_t ready[2], rounds[2]; /* [0] the parent's, [1] the child's */
	uint64_t child_done, streamed, counted, child_mapped; /* test_zapped() */
};

struct loop {
	unsigned int rounds;
	long long bad;
	uint64_t other_start, other_end; /* the other's rounds when this loop began, ended */
};

static uint64_t own_range(int me)
{
	return big.base + ENCL_HEAP_OFFSET + (uint64_t)me * OWN_LEN;
}

static uint64_t common_range(void)
{
	return big.base + ENCL_HEAP_OFFSET + 2 * OWN_LEN;
}

/* Pages of [a, a + len) that this process's page tables map. */
static uint64_t mapped(uint64_t a, uint64_t len)
{
	uint64_t n = 0;

	for (uint64_t p = a; p < a + len; p += PAGE)
		n += ht_page_mapped(p);
	return n;
}

static pid_t peer; /* in the parent: the child, whose death ends a wait */

/* Wait for the other process to set @flag: 30 s at most (three waits fit the alarm). */
static void wait_for(uint64_t *flag)
{
	for (int ms = 0; ms < 30000 && !__atomic_load_n(flag, __ATOMIC_SEQ_CST); ms++) {
		siginfo_t si = { 0 };

		/* WNOWAIT: ht_child_finish() still reaps it. */
		if (peer > 0 && !waitid(P_PID, (id_t)peer, &si, WEXITED | WNOHANG | WNOWAIT) &&
		    si.si_pid)
			return;
		usleep(1000);
	}
}

static double secs_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

static void race(struct race *r, int me, struct loop *l)
{
	uint64_t tcs = big.tcs[me], own = own_range(me);
	struct timespec extra_from = { 0 };
	long long d1, d2;

	memset(l, 0, sizeof(*l));
	/* Before the handshake: the other starts its rounds only after it. */
	l->other_start = __atomic_load_n(&r->rounds[!me], __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->ready[me], 1, __ATOMIC_SEQ_CST);
	wait_for(&r->ready[!me]);
	/*
	 * ROUNDS rounds, and more (not counted, for up to 10 s) until the
	 * other has done one: on a loaded machine one side may otherwise run
	 * all of its own before the other gets a CPU.
	 */
	for (unsigned int i = 0;; i++) {
		/* The extra rounds repeat the last one: its pattern is what stays. */
		uint64_t seed = (uint64_t)(me + 1) << 32 | (i < ROUNDS ? i : ROUNDS - 1);

		if (i == ROUNDS)
			clock_gettime(CLOCK_MONOTONIC, &extra_from);
		if (i >= ROUNDS &&
		    (__atomic_load_n(&r->rounds[!me], __ATOMIC_SEQ_CST) > l->other_start ||
		     secs_since(&extra_from) > 10))
			break;
		if (!fill(tcs, own, seed, OWN_LEN) ||
		    (d1 = differing(tcs, own, seed, OWN_LEN)) < 0 ||
		    (d2 = differing(tcs, common_range(), SEED_COMMON, COMMON_LEN)) < 0)
			break;
		l->bad += d1 + d2;
		if (i < ROUNDS)
			__atomic_store_n(&r->rounds[me], ++l->rounds, __ATOMIC_SEQ_CST);
	}
	l->other_end = __atomic_load_n(&r->rounds[!me], __ATOMIC_SEQ_CST);
}

/*
 * A page that a process's page tables map must be in the EPC: when the
 * parent's reclaim evicts the child's pages, it must zap them in the
 * child's address space too.  With both quiet, the child's mapped pages
 * and the parent's mapped pages of a range it just streamed through
 * (distinct enclave pages) cannot be more than the EPC holds.
 */
static void test_zapped(struct race *r)
{
	const char *epc = getenv("SOFTSGX_EPC");
	uint64_t stream = common_range() + COMMON_LEN, parent, child;
	uint64_t total = epc ? strtoull(epc, NULL, 0) / PAGE : 0;
	bool child_ran, ok;

	wait_for(&r->child_done);
	child_ran = __atomic_load_n(&r->rounds[1], __ATOMIC_SEQ_CST) == ROUNDS;
	ok = fill(big.tcs[0], stream, SEED_STREAM, STREAM_LEN);
	parent = mapped(stream, STREAM_LEN);
	__atomic_store_n(&r->streamed, 1, __ATOMIC_SEQ_CST);
	wait_for(&r->counted);
	ok = ok && __atomic_load_n(&r->counted, __ATOMIC_SEQ_CST);
	child = __atomic_load_n(&r->child_mapped, __ATOMIC_SEQ_CST);
	if (!total) {
		tap_skip("SOFTSGX_EPC unset", "2: the parent's reclaim zaps the child's pages");
		return;
	}
	tap_ok(ok && child_ran && parent + child <= total, "2: after the parent "
	       "streams %lu KiB through the EPC, the child maps %llu of its pages, the parent "
	       "%llu of the stream: no more than the EPC's %llu, the evicted ones are zapped in "
	       "the child too", STREAM_LEN >> 10, (unsigned long long)child,
	       (unsigned long long)parent, (unsigned long long)total);
}

static void test_both_inside(void)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ht_child c;
	struct loop l;

	if (!tap_ok(r != MAP_FAILED && fill(big.tcs[0], common_range(), SEED_COMMON, COMMON_LEN),
		    "2: the parent fills the range both will read (%lu KiB of the big enclave)",
		    COMMON_LEN >> 10))
		return;
	if (ht_fork(&c, SECS) == 0) {
		race(r, 1, &l);
		ht_child_ok(l.rounds == ROUNDS && !l.bad, "2, child: %u rounds on TCS 1, each "
			    "filling and checking its %lu KiB and checking the common range (%u "
			    "done, %lld bytes differ)", ROUNDS, OWN_LEN >> 10, l.rounds, l.bad);
		/* Then, untouched by the child, its pages go out by the parent's reclaim. */
		__atomic_store_n(&r->child_done, 1, __ATOMIC_SEQ_CST);
		wait_for(&r->streamed);
		__atomic_store_n(&r->child_mapped, mapped(own_range(1), OWN_LEN) +
				 mapped(common_range(), COMMON_LEN), __ATOMIC_SEQ_CST);
		__atomic_store_n(&r->counted, 1, __ATOMIC_SEQ_CST);
		ht_child_exit();
	}
	peer = c.pid;
	race(r, 0, &l);
	tap_ok(l.rounds == ROUNDS && !l.bad, "2: the parent's %u rounds on TCS 0, the same on its "
	       "own %lu KiB (%u done, %lld bytes differ)", ROUNDS, OWN_LEN >> 10, l.rounds, l.bad);
	tap_ok(l.other_end > l.other_start && l.other_start < ROUNDS, "2: the loops overlapped: "
	       "the child went from round %llu to %llu while the parent looped",
	       (unsigned long long)l.other_start, (unsigned long long)l.other_end);
	test_zapped(r);
	peer = 0;
	finish(&c, "2, child", 1);
	long long d = differing(big.tcs[2], own_range(1), 2ULL << 32 | (ROUNDS - 1), OWN_LEN);

	tap_ok(d == 0, "2: the parent finds the child's last round in the child's range "
	       "(%lld bytes differ)", d);
	munmap(r, sizeof(*r));
}

/* ---- 3: one TCS, one process after the other ---- */

static void test_same_tcs(void)
{
	uint64_t tcs = e.tcs[2];
	struct encl_op op = ht_op(ENCL_OP_RETURN, 3, 0, 0);
	struct encl_thread_rec r1 = { 0 }, r2 = { 0 };
	struct ht_child c;

	tap_ok(ht_call(tcs, &op) && op.ret == (3 ^ ENCL_RETURN_MAGIC) && ht_thread_rec(tcs, &r1),
	       "3: the parent enters TCS 2 and returns");
	if (ht_fork(&c, SECS) == 0) {
		struct sgx_enclave_run run;
		int rc;

		op = ht_op(ENCL_OP_RETURN, 33, 0, 0);
		rc = encl_enter(tcs, &op, &run, NULL, 0);
		ht_child_ok(!rc && run.function == ENCL_EEXIT && !run.exception_vector &&
			    op.ret == (33 ^ ENCL_RETURN_MAGIC), "3, child: EENTER on that TCS "
			    "leaves through EEXIT, no exception (rc %d, function %u, vector %u, "
			    "error 0x%x, address 0x%llx)", rc, run.function, run.exception_vector,
			    run.exception_error_code, (unsigned long long)run.exception_addr);
		ht_child_exit();
	}
	finish(&c, "3, child", 1);
	bool ok = ht_thread_rec(tcs, &r2);

	tap_ok(ok && r2.entries == r1.entries + 2, "3: the parent enters it "
	       "again, and its record counts the child's entry (entries %llu, then %llu)",
	       (unsigned long long)r1.entries, (unsigned long long)r2.entries);
}

/* ---- 8: fork while a thread of the parent is inside the enclave ---- */

struct spinner {
	pthread_t t;
	struct encl_op op;
	uint64_t inside, stop;
	bool ok;
};

static void *spin(void *arg)
{
	struct spinner *s = arg;

	s->ok = ht_call(e.tcs[7], &s->op);
	return NULL;
}

static void test_fork_inside(void)
{
	static struct spinner s;
	struct ht_child c;

	s.op = ht_op(ENCL_OP_SPIN, (uint64_t)(uintptr_t)&s.inside, (uint64_t)(uintptr_t)&s.stop, 0);
	tap_ok(!pthread_create(&s.t, NULL, spin, &s), "8: a thread enters TCS 7 and spins");
	/* The fork must find it inside: wait for the enclave's word, not a guess. */
	for (int ms = 0; ms < 10000 && !__atomic_load_n(&s.inside, __ATOMIC_ACQUIRE); ms++)
		usleep(1000);
	if (ht_fork(&c, SECS) == 0) {
		struct encl_op op = ht_op(ENCL_OP_RETURN, 8, 0, 0);
		struct sgx_enclave_run run;
		int rc = encl_enter(e.tcs[7], &op, &run, NULL, 0);

		/* One TCS, one thread: the parent's is in it (EENTER's #GP on a busy TCS). */
		ht_child_ok(rc == 0 && run.function == ENCL_EENTER && run.exception_vector == 13,
			    "8, child: EENTER on the TCS the parent's thread is inside faults "
			    "(#GP): it is busy (rc %d, function %u, vector %u)", rc, run.function,
			    run.exception_vector);
		ht_child_ok(differing(e.tcs[6], pa, SEED_P, LEN) == 0,
			    "8, child: enters another TCS meanwhile and finds the parent's pattern");
		ht_child_exit();
	}
	finish(&c, "8, child", 2);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(s.t, NULL);
	tap_ok(s.ok && s.op.ret > 0, "8: the thread inside at the fork finishes (%llu rounds)",
	       (unsigned long long)s.op.ret);
	tap_ok(differing(e.tcs[7], pa, SEED_P, LEN) == 0,
	       "8: and its TCS enters again, the pattern intact");
}

/* ---- 4: one side lets go of the enclave, the other keeps it ---- */

static void test_let_go(void)
{
	struct ht_child c;
	struct encl e2;
	long long d;

	if (ht_fork(&c, SECS) == 0) {
		struct encl_op op = ht_op(ENCL_OP_RETURN, 4, 0, 0);
		struct ht_fault f = { 0 };
		uint8_t v;

		ht_child_ok(ht_call(e.tcs[3], &op) && op.ret == (4 ^ ENCL_RETURN_MAGIC),
			    "4, child: enters the inherited enclave (TCS 3)");
		bool ok = !close(e.fd) && !munmap((void *)(uintptr_t)e.base, e.size);

		ok = ok && ht_try_access(HT_LOAD, e.base + ENCL_DATA_OFFSET, &v, &f) == SIGSEGV;
		ht_child_ok(ok && f.code == SEGV_MAPERR, "4, child: closes the enclave fd and "
			    "unmaps ELRANGE, where nothing is mapped after (signal %d, code %d)",
			    f.sig, f.code);
		ht_child_exit();
	}
	finish(&c, "4, child", 2);
	d = differing(e.tcs[0], pa, SEED_P, LEN);
	tap_ok(enter_all(&e) && d == 0, "4: after that the parent enters through every TCS, "
	       "its pattern of part 1 intact (%lld bytes differ)", d);

	int r = encl_load(&e2, args[1], args[2]);
	uint64_t h2 = r ? 0 : e2.base + ENCL_HEAP_OFFSET;

	if (!tap_ok(!r && fill(e2.tcs[0], h2, SEED_P2, LEN) && !close(e2.fd), "4: a second "
		    "enclave, filled, its fd closed before the fork, its mappings kept (%d)", r))
		return;
	if (ht_fork(&c, SECS) == 0) {
		d = differing(e2.tcs[1], h2, SEED_P2, LEN);
		ht_child_ok(d == 0, "4, child: enters the enclave whose fd the parent closed and "
			    "finds its pattern (%lld bytes differ)", d);
		ht_child_ok(fill(e2.tcs[1], h2 + LEN, SEED_C2, LEN), "4, child: and writes one "
			    "of its own there");
		ht_child_exit();
	}
	finish(&c, "4, second child", 2);
	d = differing(e2.tcs[0], h2 + LEN, SEED_C2, LEN);
	tap_ok(d == 0, "4: the parent finds the child's pattern in it (%lld bytes differ)", d);
	munmap((void *)(uintptr_t)e2.base, e2.size); /* its last reference */
}

/* ---- 6: a child's own enclave ---- */

static void test_child_enclave(void)
{
	static struct encl_key_io pkey, ckey;
	struct ht_child c;

	tap_ok(seal_key(e.tcs[4], &pkey), "6: the parent's enclave derives its seal key");
	if (ht_fork(&c, SECS) == 0) {
		struct encl_op op = ht_op(ENCL_OP_RETURN, 6, 0, 0);
		struct encl e3;
		int r = encl_load(&e3, args[1], args[2]);
		uint64_t h3 = r ? 0 : e3.base + ENCL_HEAP_OFFSET;
		long long d = r ? -1 : (fill(e3.tcs[0], h3, SEED_C3, LEN) ?
					differing(e3.tcs[1], h3, SEED_C3, LEN) : -1);

		ht_child_ok(!r && ht_call(e3.tcs[0], &op) && op.ret == (6 ^ ENCL_RETURN_MAGIC),
			    "6, child: builds an enclave of its own after the fork and enters it "
			    "(%d)", r);
		ht_child_ok(d == 0, "6, child: its enclave keeps what it wrote (%lld bytes "
			    "differ)", d);
		ht_child_ok(!r && seal_key(e3.tcs[2], &ckey) && !memcmp(ckey.key, pkey.key, 16),
			    "6, child: its enclave, of the same image, derives the parent's seal "
			    "key: one platform");
		d = differing(e.tcs[5], pa, SEED_P, LEN);
		ht_child_ok(d == 0, "6, child: the inherited enclave runs beside it (the "
			    "parent's pattern, %lld bytes differ)", d);
		if (!r)
			encl_unload(&e3);
		ht_child_exit();
	}
	finish(&c, "6, child", 4);
	long long d = differing(e.tcs[0], pa, SEED_P, LEN);

	tap_ok(enter_all(&e) && d == 0, "6: the parent's enclave is unaffected: every TCS "
	       "enters, its pattern is intact (%lld bytes differ)", d);
}

/* ---- 7: no vEPC in the child ---- */

static void test_vepc(void)
{
	int vepc = open("/dev/sgx_vepc", O_RDWR);
	void *vmap = vepc < 0 ? MAP_FAILED :
		     mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vepc, 0);
	struct ht_child c;

	if (!tap_ok(vmap != MAP_FAILED, "7: the parent maps 16 KiB of /dev/sgx_vepc"))
		return;
	if (ht_fork(&c, SECS) == 0) {
		struct encl_op op = ht_op(ENCL_OP_RETURN, 7, 0, 0);
		struct ht_fault f;
		uint8_t v;
		int sig = ht_try_access(HT_LOAD, (uint64_t)(uintptr_t)vmap + PAGE, &v, &f);
		bool gone = sig == SIGSEGV && f.code == SEGV_MAPERR && f.addr == (char *)vmap + PAGE;

		/*
		 * Under ASan the child's agent thread gets memory of ASan's own,
		 * which may land in the hole the vEPC left: then that mapping
		 * must not be the vEPC's (its range, PROT_NONE and private).
		 */
		if (!gone && getenv("SOFTSGX_ASAN_BUILD"))
			gone = !ht_mapping_is((uint64_t)(uintptr_t)vmap, 4 * PAGE, "---p");
		ht_child_ok(gone, "7, child: a read in the vEPC range is SIGSEGV, nothing mapped: "
			    "VM_DONTCOPY (signal %d, code %d)", sig, f.code);
		ht_child_ok(ht_call(e.tcs[6], &op) && op.ret == (7 ^ ENCL_RETURN_MAGIC),
			    "7, child: the enclave did come along: it enters it (TCS 6)");
		/* The fd did come along too: one file, released at the last close. */
		ht_child_ok(close(vepc) == 0, "7, child: closes its copy of the vEPC fd");
		ht_child_exit();
	}
	finish(&c, "7, child", 3);
	int r = ioctl(vepc, SGX_IOC_VEPC_REMOVE_ALL, 0);

	tap_ok(r == 0, "7: the parent's vEPC outlives the child's close: its REMOVE_ALL works "
	       "(%s)", r ? strerror(errno) : "0");
	munmap(vmap, 4 * PAGE);
	close(vepc);
}

/* A part that hangs ends the run with a reason (write() only: a signal handler). */
static void on_alarm(int sig)
{
	static const char msg[] = "Bail out! the alarm went off: a wait hangs\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int main(int argc, char **argv)
{

	signal(SIGALRM, on_alarm);
	alarm(SECS);
	if (argc < 5) {
		fprintf(stderr, "usage: %s ENCL.sgxs ENCL.sig BIG.sgxs BIG.sig\n", argv[0]);
		return 2;
	}
	args = argv;
	if (!ht_fork_shares())
		tap_diag("SOFTSGX_FORK is %s, not share: children will not share",
			 getenv("SOFTSGX_FORK"));
	/* B of part 5 outlives its parent A: it must come back here to be waited for. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		tap_diag("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	part = 5;
	if (!test_owner_exits(false)) {
		printf("1..0 # SKIP /dev/sgx_enclave is not available (run under softsgx exec)\n");
		return 0;
	}
	part = 9;
	test_owner_exits(true);
	ht_start(argc, argv, &e);
	if (encl_load(&big, argv[3], argv[4])) {
		printf("Bail out! loading %s failed\n", argv[3]);
		return 1;
	}
	test_one_memory();
	test_both_inside();
	test_same_tcs();
	test_fork_inside();
	test_let_go();
	test_child_enclave();
	test_vepc();
	encl_unload(&big);
	encl_unload(&e);
	return tap_done();
}
