/* SPDX-License-Identifier: MIT */
/*
 * MRENCLAVE as a stream of 64-byte SHA-256 update blocks (ECREATE, EADD,
 * EEXTEND), shared by the CPU model and the offline signer so that both
 * produce the hardware's value by construction.
 */
#ifndef SOFTSGX_MEASURE_H
#define SOFTSGX_MEASURE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A measurement in progress.  It needs no initialiser: sgx_measure_ecreate()
 * starts one whatever @h and @blocks held.  Then one sgx_measure_eadd() per
 * page and one sgx_measure_eextend() per measured 256-byte chunk, in the
 * order the leaves run (a page's EADD, then its chunks), and
 * sgx_measure_final() once.  A copy of the structure is a copy of the
 * measurement so far.
 */
struct sgx_measure {
	uint32_t h[8];   /* SHA-256 chaining state */
	uint64_t blocks; /* 64-byte blocks hashed so far */
};

/* Start a measurement: the ECREATE block (SSAFRAMESIZE, SIZE). */
void sgx_measure_ecreate(struct sgx_measure *m, uint32_t ssa_frame_size, uint64_t size);
/* @offset: LINADDR - BASEADDR; @secinfo_flags after TCS RWX forcing. */
void sgx_measure_eadd(struct sgx_measure *m, uint64_t offset, uint64_t secinfo_flags);
/* @offset: offset of the 256-byte chunk from BASEADDR. */
void sgx_measure_eextend(struct sgx_measure *m, uint64_t offset, const uint8_t chunk[256]);
/* Finalise into @mrenclave; @m is consumed. */
void sgx_measure_final(struct sgx_measure *m, uint8_t mrenclave[32]);

#ifdef __cplusplus
}
#endif

#endif
