/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of the test_exec_* programs: TAP output and the calls into the
 * test enclave (tests/enclave) through the loader (encl_load.h).
 */
#ifndef SOFTSGX_TEST_HOST_TEST_H
#define SOFTSGX_TEST_HOST_TEST_H

#include <stdbool.h>
#include <stdint.h>

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

/* Does a forked child share its parent's enclaves (SOFTSGX_FORK=share)? */
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

#endif
