/* SPDX-License-Identifier: MIT */
/*
 * What the benchmarks that drive the driver on the simulated host share:
 * a driver that keeps its start-up lines out of the report, and the
 * SIGSTRUCT of their enclaves.
 */
#ifndef SOFTSGX_BENCH_SIM_H
#define SOFTSGX_BENCH_SIM_H

#include <openssl/evp.h>

#include "sim.h"
#include "softsgx/measure.h"

/* The attributes every benchmark enclave has (SECS and SIGSTRUCT). */
#define BENCH_ATTR (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)

/**
 * bench_quiet_driver() - sim_driver() without its start-up messages
 * @h: the simulated host
 * @epc_pages: EPC frames
 *
 * The driver prints "sgx: EPC section ..." at every creation, as the kernel
 * does at boot; the benchmarks create several.
 *
 * Return: the driver (no ksgxd), or NULL.
 */
struct sgx_driver *bench_quiet_driver(struct sim_host *h, unsigned long epc_pages);

/**
 * bench_sign() - the SIGSTRUCT of a benchmark enclave
 * @ss: out, signed
 * @m: the enclave's measurement so far; consumed
 * @key: the signer
 *
 * Attributes BENCH_ATTR, XFRM 3, everything else in the masks.
 *
 * Return: 0, or -1 when signing failed.
 */
int bench_sign(struct sgx_sigstruct *ss, struct sgx_measure *m, EVP_PKEY *key);

/**
 * bench_heap_secs() - the SECS of a heap enclave, and its pages' SECINFO
 * @secs: out: BENCH_ATTR, XFRM 3, one SSA page, at @base, @size bytes
 * @si: out: a RW regular page
 * @base: ELRANGE's base
 * @size: ELRANGE's size
 */
void bench_heap_secs(struct sgx_secs *secs, struct sgx_secinfo *si, uint64_t base, uint64_t size);

#endif
