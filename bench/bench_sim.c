// SPDX-License-Identifier: MIT
/* What the simulated-host benchmarks share (bench_sim.h). */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bench_sim.h"
#include "softsgx/sign.h"

struct sgx_driver *bench_quiet_driver(struct sim_host *h, unsigned long epc_pages)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	struct sgx_driver *drv;

	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	drv = sim_driver(h, epc_pages, true);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (null >= 0)
		close(null);
	return drv;
}

int bench_sign(struct sgx_sigstruct *ss, struct sgx_measure *m, EVP_PKEY *key)
{
	sgx_sigstruct_init(ss);
	sgx_measure_final(m, ss->body.mrenclave);
	ss->header.date = 0x20261207;
	ss->body.attributes = BENCH_ATTR;
	ss->body.attributes_mask = ~SGX_ATTR_INIT;
	ss->body.xfrm = 3;
	ss->body.xfrm_mask = ~0ULL;
	return sgx_sigstruct_sign(ss, key) ? -1 : 0;
}

void bench_heap_secs(struct sgx_secs *secs, struct sgx_secinfo *si, uint64_t base, uint64_t size)
{
	memset(secs, 0, sizeof(*secs));
	secs->base = base;
	secs->size = size;
	secs->ssa_frame_size = 1;
	secs->attributes = BENCH_ATTR;
	secs->xfrm = 3;
	memset(si, 0, sizeof(*si));
	si->flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
}
