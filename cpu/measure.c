// SPDX-License-Identifier: MIT
/* MRENCLAVE update blocks, byte for byte as spec §6.1 gives them. */
#include <string.h>

#include "softsgx/measure.h"

void sgx_measure_ecreate(struct sgx_measure *m, uint32_t ssa_frame_size, uint64_t size)
{
	uint8_t b[64] = "ECREATE";

	SHA256_Init(&m->sha);
	memcpy(b + 8, &ssa_frame_size, 4);
	memcpy(b + 12, &size, 8); /* SIZE starts at byte 12, unaligned */
	SHA256_Update(&m->sha, b, 64);
	m->blocks = 1;
}

void sgx_measure_eadd(struct sgx_measure *m, uint64_t offset, uint64_t secinfo_flags)
{
	uint8_t b[64] = "EADD";

	memcpy(b + 8, &offset, 8);
	memcpy(b + 16, &secinfo_flags, 8);
	SHA256_Update(&m->sha, b, 64);
	m->blocks++;
}

void sgx_measure_eextend(struct sgx_measure *m, uint64_t offset, const uint8_t chunk[256])
{
	/* One update of all five blocks: the per-call cost is not negligible. */
	uint8_t b[64 + 256] = "EEXTEND";

	memcpy(b + 8, &offset, 8);
	memcpy(b + 64, chunk, 256);
	SHA256_Update(&m->sha, b, sizeof(b));
	m->blocks += 5;
}

void sgx_measure_final(struct sgx_measure *m, uint8_t mrenclave[32])
{
	SHA256_Final(mrenclave, &m->sha);
}
