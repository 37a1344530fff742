/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of the test_exec_* programs: TAP output and the calls into the
 * test enclave (tests/enclave) through the loader (encl_load.h).
 */
#ifndef SOFTSGX_TEST_HOST_TEST_H
#define SOFTSGX_TEST_HOST_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "encl_load.h"
#include "encl_ops.h"

/* One TAP line per case: "ok N - name" or "not ok N - name". Returns @cond. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "ok N - name # SKIP why" */
void tap_skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "# ..." */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Go on from @n cases, @failed of them failed, that another program printed. */
void tap_continue(unsigned int n, unsigned int failed);
/* Print the plan; the exit status: 1 if any case failed. */
int tap_done(void);

/**
 * ht_start() - the common start of a test_exec_* program.
 * Skips the whole program (TAP "1..0 # SKIP", exit 0) without /dev/sgx_enclave,
 * else loads the enclave from argv[1] (SGXS) and argv[2] (SIGSTRUCT), or
 * bails out (exit 1) if that fails.
 */
void ht_start(int argc, char **argv, struct encl *e);

/* The u64 argument argv[i] (C prefixes), or @def when absent. */
uint64_t ht_arg(int argc, char **argv, int i, uint64_t def);

/* An op, filled in. */
struct encl_op ht_op(uint64_t code, uint64_t a, uint64_t b, uint64_t c);

/* EENTER @tcs with @op; true if the vDSO returned 0 after EEXIT. */
bool ht_call(uint64_t tcs, struct encl_op *op);

/*
 * Whether @run reports an exception as Linux's vDSO does: return value 0,
 * function ERESUME, and the vector, error code and address given.
 */
bool ht_exception(int rc, const struct sgx_enclave_run *run, uint16_t vector,
		  uint16_t error_code, uint64_t addr);

/*
 * After an exception on @run->tcs inside a faulting op: EENTER the exception
 * entry (CSSA 1), which moves the interrupted RIP to the op's fault landing,
 * then ERESUME. True if both returned through EEXIT and @op->ret is
 * ENCL_FAULTED.
 */
bool ht_recover(struct sgx_enclave_run *run, struct encl_op *op);

/* The thread record of @tcs (a normal entry: only while its CSSA is 0). */
bool ht_thread_rec(uint64_t tcs, struct encl_thread_rec *rec);

/* Is the page at @addr mapped in this process (/proc/self/pagemap)? */
bool ht_page_mapped(uint64_t addr);

/* Is [@addr, @addr + @len) exactly one mapping with @perms ("r-xp") in /proc/self/maps? */
bool ht_mapping_is(uint64_t addr, uint64_t len, const char *perms);

/* Does a forked child share its parent's enclaves (SOFTSGX_FORK unset or share)? */
bool ht_fork_shares(void);

/* EACCEPT [addr, addr + len) with @flags through @tcs; the op's status (0 = all). */
uint64_t ht_eaccept(uint64_t tcs, uint64_t addr, uint64_t len, uint64_t flags);

/*
 * The SGX2 ioctls on [addr, addr + len), retried from where they stopped
 * while the driver answers EAGAIN (a page being reclaimed, or no free EPC
 * this instant) or, for REMOVE_PAGES, EBUSY, as a runtime does under EPC
 * pressure. @count gets the bytes done in all; @result (may be NULL) the SGX
 * error code the driver reported. Return 0 or -errno.
 */
int ht_restrict(const struct encl *e, uint64_t addr, uint64_t len, uint64_t perms,
		uint64_t *count, uint64_t *result);
int ht_modify_types(const struct encl *e, uint64_t addr, uint64_t len, uint64_t type,
		    uint64_t *count, uint64_t *result);
int ht_remove_pages(const struct encl *e, uint64_t addr, uint64_t len, uint64_t *count);

/* ---- faults a test expects (host_fork.c) ---- */

enum ht_access {
	HT_LOAD,		/* a byte into *@v */
	HT_STORE,		/* a byte */
	HT_STORE8,		/* 8 bytes, which may cross into the next page */
	HT_ENCLU_EENTER,	/* EENTER @a as TCS, by an ENCLU of the program's own (its AEP) */
};

/* The signal an access raised (0: none), its si_code and si_addr. */
struct ht_fault {
	int sig, code;
	void *addr;
};

/*
 * ht_try_access() - access @a as @how says with SIGSEGV and SIGBUS caught
 * (and their handlers back to SIG_DFL afterwards). @f gets what it raised.
 * Return: the signal, 0 if none.
 */
int ht_try_access(enum ht_access how, uint64_t a, uint8_t *v, struct ht_fault *f);

/* ---- forked children whose cases the parent prints (host_fork.c) ---- */

/* What the driver's --stats line says (the counters a test looks at). */
struct ht_epc_stats {
	unsigned long long total, free, used, leaked, ewb, eldu;
};

struct ht_child {
	pid_t pid;
	int results;	/* the result pipe: read end in the parent, write end in the child */
	int err;	/* the parent's memfd that is the child's stderr */
	/* Set by ht_child_finish(): */
	unsigned int cases;	/* ht_child_ok() cases received */
	int status;		/* its exit status; -1 if killed or not waited for */
	unsigned int nr_stats;	/* --stats lines on its stderr */
	struct ht_epc_stats stats;	/* the last of them */
};

/*
 * ht_fork() - fork a child that reports its cases with ht_child_ok() to the
 * parent, which prints them as TAP; its stderr goes to a memfd, its stdout
 * stays the TAP stream (diagnostics only).  The child gets alarm(@secs),
 * so that no wait of its hangs the test.
 * Return: as fork(); -1 with a diagnostic if the pipe or memfd failed.
 */
pid_t ht_fork(struct ht_child *c, unsigned int secs);

/* In a child of ht_fork(): one case, sent to the parent. Returns @ok. */
bool ht_child_ok(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* In a child of ht_fork(): exit() with 1 if a case failed, else 0. */
void ht_child_exit(void) __attribute__((noreturn));

/*
 * ht_child_finish() - in the parent: print each case of the child as TAP
 * until the last holder of the result pipe's write end is gone, wait for
 * c->pid (0: any child of the process group), and print its stderr as diagnostics prefixed
 * with @who, except the --stats lines, which fill c->nr_stats and c->stats.
 */
void ht_child_finish(struct ht_child *c, const char *who);

/* waitpid(@pid): its exit status, -1 (with a diagnostic) if killed. */
int ht_wait(pid_t pid);

/* The last --stats line in @text into @s; the number of such lines. */
unsigned int ht_epc_stats(const char *text, struct ht_epc_stats *s);

#endif
