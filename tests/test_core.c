// SPDX-License-Identifier: MIT
/* The platform: configuration, CPUID, launch-control MSRs, sparse EPC, tracking. */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "internal.h"

static void test_default_config(void **state)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	struct sgx_cpuid_regs r;
	uint64_t size;
	int node, err;

	(void)state;
	sgx_cpu_default_config(&cfg);
	cpu = sgx_cpu_create(&cfg, &err);
	assert_non_null(cpu);
	assert_int_equal(err, 0);
	assert_int_equal(sgx_cpu_nr_sections(cpu), 1);
	assert_non_null(sgx_cpu_section(cpu, 0, &size, &node));
	assert_int_equal(size, 128ULL << 20);
	assert_int_equal(node, 0);
	assert_int_equal(sgx_cpu_nr_frames(cpu), 32768);

	assert_int_equal(sgx_cpu_cpuid(cpu, 7, 0, &r), 0);
	assert_int_equal(r.ebx & (1u << 2), 1u << 2);
	assert_int_equal(r.ecx & (1u << 30), 1u << 30);
	assert_int_equal(sgx_cpu_cpuid(cpu, 0x12, 0, &r), 0);
	assert_int_equal(r.eax & 3, 3);
	assert_int_equal(r.ebx, SGX_MISC_EXINFO);
	assert_int_equal(r.edx, 0x241F);
	assert_int_equal(sgx_cpu_cpuid(cpu, 0x12, 1, &r), 0);
	assert_int_equal(r.eax & SGX_ATTR_INIT, 0);
	assert_int_equal(r.eax & (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT), 6);
	assert_int_equal(r.ecx, 7);
	assert_int_equal(sgx_cpu_cpuid(cpu, 0x1, 0, &r), -EINVAL);
	sgx_cpu_destroy(cpu);
}

static void test_sections(void **state)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	struct sgx_cpuid_regs r;
	uint64_t size, base;
	int node;

	(void)state;
	sgx_cpu_default_config(&cfg);
	cfg.sgx2 = false;
	cfg.nr_sections = 8;
	for (int i = 0; i < 8; i++) {
		cfg.sections[i].size = (uint64_t)(i + 1) << 20;
		cfg.sections[i].node = i % 2;
	}
	cpu = sgx_cpu_create(&cfg, NULL);
	assert_non_null(cpu);
	assert_int_equal(sgx_cpu_nr_sections(cpu), 8);
	sgx_cpu_cpuid(cpu, 0x12, 0, &r);
	assert_int_equal(r.eax & 3, 1); /* SGX1 only */
	for (unsigned int i = 0; i < 8; i++) {
		void *b = sgx_cpu_section(cpu, i, &size, &node);

		assert_int_equal(size, (uint64_t)(i + 1) << 20);
		assert_int_equal(node, (int)i % 2);
		sgx_cpu_cpuid(cpu, 0x12, 2 + i, &r);
		assert_int_equal(r.eax & 0xF, 1);
		base = (r.eax & 0xFFFFF000u) | ((uint64_t)(r.ebx & 0xFFFFF) << 32);
		assert_int_equal(base, (uint64_t)(uintptr_t)b);
		assert_int_equal((r.ecx & 0xFFFFF000u) | ((uint64_t)(r.edx & 0xFFFFF) << 32), size);
		assert_true(sgx_cpu_is_epc(cpu, b));
		assert_true(sgx_cpu_is_epc(cpu, (uint8_t *)b + size - 1));
	}
	sgx_cpu_cpuid(cpu, 0x12, 10, &r);
	assert_int_equal(r.eax & 0xF, 0); /* end of the list */
	assert_false(sgx_cpu_is_epc(cpu, &r));
	assert_null(sgx_cpu_section(cpu, 8, NULL, NULL));
	sgx_cpu_destroy(cpu);
}

static void test_bad_config(void **state)
{
	struct sgx_cpu_config cfg;
	int err;

	(void)state;
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 4096 + 1;
	assert_null(sgx_cpu_create(&cfg, &err));
	assert_int_equal(err, -EINVAL);
	sgx_cpu_default_config(&cfg);
	cfg.nr_sections = 9;
	assert_null(sgx_cpu_create(&cfg, &err));
	assert_int_equal(err, -EINVAL);
	sgx_cpu_default_config(&cfg);
	cfg.sgx1 = false;
	assert_null(sgx_cpu_create(&cfg, &err));
	sgx_cpu_default_config(&cfg);
	cfg.xfrm_mask = 1;
	assert_null(sgx_cpu_create(&cfg, &err));
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 0;
	assert_null(sgx_cpu_create(&cfg, &err));
	sgx_cpu_default_config(&cfg);
	cfg.xfrm_mask = 0x60007; /* AMX: not modelled */
	assert_null(sgx_cpu_create(&cfg, &err));
}

/* An idle 64 GiB EPC costs no memory for frames. */
static void test_sparse_large_epc(void **state)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	int err;

	(void)state;
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 64ULL << 30;
	cpu = sgx_cpu_create(&cfg, &err);
	assert_non_null(cpu);
	assert_int_equal(sgx_cpu_nr_frames(cpu), 16ULL << 20);
	assert_int_equal(sgx_cpu_touched_frames(cpu), 0);
	/* Use a frame at the very end: only it gets memory. */
	uint64_t size;
	uint8_t *base = sgx_cpu_section(cpu, 0, &size, NULL);
	assert_int_equal(sgx_epa(cpu, SGX_PAGE_TYPE_VA, base + size - 4096), 0);
	assert_int_equal(sgx_cpu_touched_frames(cpu), 1);
	sgx_cpu_destroy(cpu);
}

static void test_lehash_msrs(void **state)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	uint64_t v;

	(void)state;
	sgx_cpu_default_config(&cfg);
	cpu = sgx_cpu_create(&cfg, NULL);
	/* Reset value: Intel's launch-enclave key hash. */
	assert_int_equal(sgx_cpu_rdmsr(cpu, 0x8C, &v), 0);
	assert_int_equal(v, 0xa6053e051270b7acULL);
	assert_int_equal(sgx_cpu_rdmsr(cpu, 0x8F, &v), 0);
	assert_int_equal(v, 0xd4f8c05909f9bb3bULL);
	assert_int_equal(sgx_cpu_wrmsr(cpu, 0x8D, 42), 0);
	assert_int_equal(sgx_cpu_rdmsr(cpu, 0x8D, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(sgx_cpu_rdmsr(cpu, 0x90, &v), -EINVAL);
	assert_int_equal(sgx_cpu_wrmsr(cpu, 0x8B, 1), -EINVAL);
	/* A thread driving a second platform keeps the first one's values. */
	{
		struct sgx_cpu *other = sgx_cpu_create(&cfg, NULL);

		assert_non_null(other);
		assert_int_equal(sgx_cpu_wrmsr(other, 0x8D, 7), 0);
		assert_int_equal(sgx_cpu_rdmsr(cpu, 0x8D, &v), 0);
		assert_int_equal(v, 42);
		assert_int_equal(sgx_cpu_rdmsr(other, 0x8D, &v), 0);
		assert_int_equal(v, 7);
		sgx_cpu_destroy(other);
	}
	sgx_cpu_destroy(cpu);

	cfg.flc = false; /* locked launch control: MSRs read-only, LC bit clear */
	cpu = sgx_cpu_create(&cfg, NULL);
	assert_int_equal(sgx_cpu_wrmsr(cpu, 0x8C, 1), -EPERM);
	struct sgx_cpuid_regs r;
	sgx_cpu_cpuid(cpu, 7, 0, &r);
	assert_int_equal(r.ecx & (1u << 30), 0);
	sgx_cpu_destroy(cpu);
}

static void test_fixed_keys_deterministic(void **state)
{
	struct sgx_cpu *a = t_cpu(1), *b = t_cpu(1);

	(void)state;
	/* Same seed, same platform secrets: reproducible tests and sealed data. */
	assert_memory_equal(a->paging_key, b->paging_key, 16);
	assert_memory_equal(a->root_key, b->root_key, 16);
	sgx_cpu_destroy(b);
	struct sgx_cpu_config cfg;
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	b = sgx_cpu_create(&cfg, NULL); /* random keys */
	assert_memory_not_equal(a->root_key, b->root_key, 16);
	sgx_cpu_destroy(a);
	sgx_cpu_destroy(b);
}

static void test_epcm_view_and_size(void **state)
{
	struct sgx_cpu *cpu = t_cpu(1);
	struct sgx_epcm_view v;
	int x;

	(void)state;
	assert_true(sizeof(struct epcm) <= 64);
	assert_int_equal(sgx_cpu_epcm(cpu, &x, &v), -EINVAL);
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, 3), &v), 0);
	assert_false(v.valid);
	assert_null(sgx_epc_page_bytes(cpu, &x));
	assert_ptr_equal(sgx_epc_page_bytes(cpu, t_page(cpu, 3)), t_page(cpu, 3));
	sgx_cpu_destroy(cpu);
}

static void test_page_locks(void **state)
{
	struct epcm e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_true(page_lock_shared(&e));
	assert_true(page_lock_shared(&e));
	assert_false(page_lock_excl(&e));
	page_unlock_shared(&e);
	page_unlock_shared(&e);
	assert_true(page_lock_excl(&e));
	assert_false(page_lock_shared(&e));
	assert_false(page_lock_excl(&e));
	page_unlock_excl(&e);
	assert_true(page_lock_shared(&e));
	page_unlock_shared(&e);
}

/* The epoch model (docs/architecture.md, Tracking), driven directly. */
static void test_tracking_model(void **state)
{
	struct secs_hidden h;
	struct tcs_hidden t1, t2;
	uint32_t b;

	(void)state;
	memset(&h, 0, sizeof(h));
	b = TRK_EPOCH(atomic_load(&h.trk)); /* EBLOCK at epoch 0 */
	assert_false(page_tracked(&h, b));   /* no ETRACK yet */
	atomic_store(&h.trk, TRK_MAKE(1, 0, 0)); /* ETRACK with nobody inside */
	assert_true(page_tracked(&h, b));

	/* An LP inside when ETRACK starts holds the cycle open until it leaves. */
	memset(&h, 0, sizeof(h));
	track_enter(&h, &t1);
	assert_int_equal(TRK_INSIDE(atomic_load(&h.trk)), 1);
	atomic_store(&h.trk, TRK_MAKE(1, 1, 1)); /* ETRACK: prev = inside */
	assert_false(page_tracked(&h, 0));
	track_enter(&h, &t2); /* entered after the ETRACK: does not count */
	assert_int_equal(TRK_PREV(atomic_load(&h.trk)), 1);
	track_leave(&h, &t2);
	assert_int_equal(TRK_PREV(atomic_load(&h.trk)), 1);
	assert_false(page_tracked(&h, 0));
	track_leave(&h, &t1);
	assert_int_equal(TRK_PREV(atomic_load(&h.trk)), 0);
	assert_int_equal(TRK_INSIDE(atomic_load(&h.trk)), 0);
	assert_true(page_tracked(&h, 0));
	/* Epochs compare modulo 2^32. */
	atomic_store(&h.trk, TRK_MAKE(1, 0, 0));
	assert_true(page_tracked(&h, 0xFFFFFFFFu));

	/*
	 * The 16-bit count of LPs inside is full at 0xFFFF: one more entry is
	 * refused in the same CAS (so two racing LPs cannot wrap it to 0).
	 */
	atomic_store(&h.trk, TRK_MAKE(5, 0, 0xFFFE));
	assert_true(track_enter(&h, &t1));
	assert_int_equal(TRK_INSIDE(atomic_load(&h.trk)), 0xFFFF);
	assert_false(track_enter(&h, &t2));
	assert_int_equal(atomic_load(&h.trk), TRK_MAKE(5, 0, 0xFFFF));
}

/* EDBGWR holds its page exclusively, so it cannot overlap EEXTEND's shared hold. */
static void test_edbgwr_exclusive(void **state)
{
	struct sgx_cpu *cpu = t_cpu(1);
	struct t_encl e;
	uint64_t v;
	uint32_t f;

	(void)state;
	t_build_encl(cpu, &e, SGX_ATTR_DEBUG);
	f = (uint32_t)(((uint8_t *)e.data - (uint8_t *)t_page(cpu, 0)) / 4096);
	assert_true(page_lock_shared(epcm_of(cpu, f))); /* as an EEXTEND would */
	assert_int_equal(sgx_edbgrd(cpu, e.data, &v), 0);
	assert_int_equal(sgx_edbgwr(cpu, e.data, 1), SGX_FAULT_GP);
	page_unlock_shared(epcm_of(cpu, f));
	assert_int_equal(sgx_edbgwr(cpu, e.data, 1), 0);
	sgx_cpu_destroy(cpu);
}

/* The XFRM a host can back: XCR0's components that sit where the SSA puts them. */
static void test_xfrm_backed(void **state)
{
	/* Intel's standard format, as the SDM lays out the SSA. */
	const uint32_t intel[10] = { 0, 0, 576, 960, 1024, 1088, 1152, 1664, 0, 2688 };
	/* AMD's AVX-512 state, with no MPX gap before it. */
	const uint32_t amd[10] = { 0, 0, 576, 0, 0, 832, 896, 1408, 0, 2432 };
	uint32_t no_mpx[10];

	(void)state;
	assert_int_equal(sgx_cpu_xfrm_backed(0x2FF, intel), 0x2FF);
	assert_int_equal(sgx_cpu_xfrm_backed(0x2E7, intel), 0x2E7);
	assert_int_equal(sgx_cpu_xfrm_backed(0x7, intel), 0x7);
	/* x87 and SSE always; components the model does not know (AMX) never. */
	assert_int_equal(sgx_cpu_xfrm_backed(0x1, intel), 0x3);
	assert_int_equal(sgx_cpu_xfrm_backed(0x602E7, intel), 0x2E7);
	/* AVX-512 elsewhere: all three go, AVX stays; PKRU elsewhere goes too. */
	assert_int_equal(sgx_cpu_xfrm_backed(0xE7, amd), 0x7);
	assert_int_equal(sgx_cpu_xfrm_backed(0x2E7, amd), 0x7);
	/* One of MPX's two misplaced: both go. */
	memcpy(no_mpx, intel, sizeof(no_mpx));
	no_mpx[4] = 1000;
	assert_int_equal(sgx_cpu_xfrm_backed(0x1F, no_mpx), 0x7);
	/* AVX-512 without AVX cannot be offered. */
	assert_int_equal(sgx_cpu_xfrm_backed(0xE3, intel), 0x3);
}

static void test_xsave_sizes(void **state)
{
	(void)state;
	assert_int_equal(xsave_size(0x3), 576);
	assert_int_equal(xsave_size(0x7), 832);
	assert_int_equal(xsave_size(0xE7), 2688);
	assert_int_equal(xsave_size(0x2E7), 2696);
	assert_int_equal(misc_size(0), 0);
	assert_int_equal(misc_size(SGX_MISC_EXINFO), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_sparse_large_epc),
		cmocka_unit_test(test_lehash_msrs),
		cmocka_unit_test(test_fixed_keys_deterministic),
		cmocka_unit_test(test_epcm_view_and_size),
		cmocka_unit_test(test_page_locks),
		cmocka_unit_test(test_tracking_model),
		cmocka_unit_test(test_xsave_sizes),
		cmocka_unit_test(test_xfrm_backed),
		cmocka_unit_test(test_edbgwr_exclusive),
	};
	return T_RUN(tests);
}
