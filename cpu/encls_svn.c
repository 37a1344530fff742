// SPDX-License-Identifier: MIT
/*
 * CPUSVN and ENCLS[EUPDATESVN] (CPUID.(12H,0):EAX[10]): after a runtime
 * microcode update, make its security version the one that EREPORT reports
 * and EGETKEY and EINIT check, without a reboot.  The architecture allows it
 * only while no EPC page is in use, so that no enclave built under the old
 * microcode survives the change.
 */
#include "internal.h"

void cpu_get_cpusvn(const struct sgx_cpu *cpu, uint8_t svn[16])
{
	uint64_t w[2];

	w[0] = atomic_load_explicit(&cpu->cpusvn[0], memory_order_relaxed);
	w[1] = atomic_load_explicit(&cpu->cpusvn[1], memory_order_relaxed);
	memcpy(svn, w, 16);
}

void cpu_set_cpusvn(struct sgx_cpu *cpu, const uint8_t svn[16])
{
	uint64_t w[2];

	memcpy(w, svn, 16);
	atomic_store_explicit(&cpu->cpusvn[0], w[0], memory_order_relaxed);
	atomic_store_explicit(&cpu->cpusvn[1], w[1], memory_order_relaxed);
}

int cpusvn_cmp(const uint8_t a[16], const uint8_t b[16])
{
	for (int i = 15; i >= 0; i--)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

void sgx_cpu_cpusvn(const struct sgx_cpu *cpu, uint8_t cpusvn[16])
{
	struct sgx_cpu *c = (struct sgx_cpu *)cpu; /* the lock only, not the state */

	pthread_mutex_lock(&c->svn_lock);
	cpu_get_cpusvn(cpu, cpusvn);
	pthread_mutex_unlock(&c->svn_lock);
}

void sgx_cpu_stage_svn(struct sgx_cpu *cpu, const uint8_t cpusvn[16])
{
	pthread_mutex_lock(&cpu->svn_lock);
	memcpy(cpu->staged_svn, cpusvn, 16);
	pthread_mutex_unlock(&cpu->svn_lock);
}

void sgx_cpu_drain_entropy(struct sgx_cpu *cpu, uint64_t n)
{
	atomic_store(&cpu->entropy_failures, n);
}

/* Consume one pending entropy failure; true when there was one. */
static bool entropy_exhausted(struct sgx_cpu *cpu)
{
	uint64_t n = atomic_load(&cpu->entropy_failures);

	while (n)
		if (atomic_compare_exchange_weak(&cpu->entropy_failures, &n, n - 1))
			return true;
	return false;
}

static bool epc_in_use(const struct sgx_cpu *cpu)
{
	for (uint64_t f = 0; f < cpu->nr_frames; f++)
		if (atomic_load_explicit(&cpu->epcm[f].flags, memory_order_relaxed) & EPCM_VALID)
			return true;
	return false;
}

/**
 * sgx_eupdatesvn() - ENCLS[EUPDATESVN]: adopt the staged microcode's CPUSVN
 * @cpu: the platform
 *
 * The checks, in the model's order (the public description gives outcomes,
 * not an order): the leaf must exist (#UD); every EPCM entry must be invalid
 * (SGX_EPC_NOT_READY) -- a page leaked after a failed EREMOVE keeps the leaf
 * from ever succeeding; the RNG must deliver (SGX_INSUFFICIENT_ENTROPY, see
 * sgx_cpu_drain_entropy()).  Then, when a staged CPUSVN is newer than the
 * current one it becomes current (0); otherwise nothing changes
 * (SGX_NO_UPDATE, the usual case).
 *
 * The hardware also regenerates internal key material.  With an empty EPC
 * no page written by EWB can ever be reloaded (its version slot was in a VA
 * page, and every VA page chain ends in the EPC), so the model's paging key
 * stays as it is and nothing observable differs; EGETKEY's keys never
 * depended on it.
 *
 * EMU-CHOICE: the EPCM is scanned entry by entry, so a leaf that makes a
 * page valid on another thread while the scan runs may slip in before the
 * update; the SDM leaves concurrent use undefined, and Linux only calls
 * EUPDATESVN while it knows no enclave or vEPC exists.  The scan reads one
 * EPCM entry per frame, so the leaf costs time linear in the EPC size (the
 * driver runs it only when the first user opens a device).
 *
 * Return: 0, SGX_NO_UPDATE, SGX_EPC_NOT_READY, SGX_INSUFFICIENT_ENTROPY, or
 * a #UD fault.
 */
int sgx_eupdatesvn(struct sgx_cpu *cpu)
{
	uint8_t cur[16];
	int ret;

	if (!cpu->cfg.eupdatesvn)
		return fault_ud();
	pthread_mutex_lock(&cpu->svn_lock);
	if (epc_in_use(cpu)) {
		ret = SGX_EPC_NOT_READY;
	} else if (entropy_exhausted(cpu)) {
		ret = SGX_INSUFFICIENT_ENTROPY;
	} else {
		cpu_get_cpusvn(cpu, cur);
		if (cpusvn_cmp(cpu->staged_svn, cur) > 0) {
			cpu_set_cpusvn(cpu, cpu->staged_svn);
			STAT_INC(cpu, eupdatesvn);
			ret = 0;
		} else {
			ret = SGX_NO_UPDATE;
		}
	}
	pthread_mutex_unlock(&cpu->svn_lock);
	return ret;
}
