// SPDX-License-Identifier: MIT
/* MRENCLAVE update blocks, byte for byte as the SDM's ECREATE, EADD and EEXTEND define them. */
#include <string.h>

#include "sha256.h"
#include "softsgx/measure.h"

void sgx_measure_ecreate(struct sgx_measure *m, uint32_t ssa_frame_size, uint64_t size)
{
	uint8_t b[64] = "ECREATE";

	memcpy(m->h, sgx_sha256_iv, sizeof(m->h));
	memcpy(b + 8, &ssa_frame_size, 4);
	memcpy(b + 12, &size, 8); /* SIZE starts at byte 12, unaligned */
	sgx_sha256_blocks(m->h, b, 1, NULL, 0);
	m->blocks = 1;
}

void sgx_measure_eadd(struct sgx_measure *m, uint64_t offset, uint64_t secinfo_flags)
{
	uint8_t b[64] = "EADD";

	memcpy(b + 8, &offset, 8);
	memcpy(b + 16, &secinfo_flags, 8);
	sgx_sha256_blocks(m->h, b, 1, NULL, 0);
	m->blocks++;
}

void sgx_measure_eextend(struct sgx_measure *m, uint64_t offset, const uint8_t chunk[256])
{
	/* Header and chunk in one call, read where they lie: no copy of the chunk. */
	uint8_t b[64] = "EEXTEND";

	memcpy(b + 8, &offset, 8);
	sgx_sha256_blocks(m->h, b, 1, chunk, 4);
	m->blocks += 5;
}

void sgx_measure_final(struct sgx_measure *m, uint8_t mrenclave[32])
{
	sgx_sha256_final(m->h, m->blocks, mrenclave);
}
