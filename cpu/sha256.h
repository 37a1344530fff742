/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 over whole 64-byte blocks, for MRENCLAVE.  The measurement is a
 * stream of whole blocks by definition, so no buffering is needed; a leaf
 * hands its header block and its data blocks over in one call and the state
 * stays in registers between them.
 */
#ifndef SOFTSGX_CPU_SHA256_H
#define SOFTSGX_CPU_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The initial chaining value (FIPS 180-4 §5.3.3). */
extern const uint32_t sgx_sha256_iv[8];

/**
 * sgx_sha256_blocks() - compress @n1 blocks at @p1, then @n2 blocks at @p2
 * @h:  chaining state, updated in place
 * @p1: first run of blocks (may be NULL when @n1 is 0)
 * @n1: its length in 64-byte blocks
 * @p2: second run of blocks (may be NULL when @n2 is 0)
 * @n2: its length in 64-byte blocks
 *
 * Uses the SHA extensions when the CPU has them, else OpenSSL's block
 * function.  No alignment is required.
 */
void sgx_sha256_blocks(uint32_t h[8], const uint8_t *p1, size_t n1, const uint8_t *p2,
		       size_t n2);

/**
 * sgx_sha256_final() - pad a message of @nblocks whole blocks and finish
 * @h:       chaining state after those blocks; consumed
 * @nblocks: message length in 64-byte blocks
 * @digest:  the 32-byte big-endian digest
 */
void sgx_sha256_final(uint32_t h[8], uint64_t nblocks, uint8_t digest[32]);

/**
 * sgx_sha256_use_ni() - choose the implementation (tests and benchmarks)
 * @on: true for the SHA extensions, false for the OpenSSL fallback
 *
 * Return: whether the SHA extensions are now in use (false when @on is true
 * but the CPU lacks them).
 */
bool sgx_sha256_use_ni(bool on);

#endif
