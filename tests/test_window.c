// SPDX-License-Identifier: MIT
/*
 * Enclave windows: with sgx_cpu_set_window() the bytes of REG and TRIM pages
 * live in a host mapping at their ELRANGE offset (so the host can map them
 * where the enclave runs), SECS/TCS/VA bytes stay private, and EWB/ELDU and
 * EREMOVE move or scrub them in place.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "helpers.h"

#define BASE 0x200000000ULL
#define SIZE 0x10000ULL

struct win {
	struct sgx_cpu *cpu;
	void *secs;
	uint8_t *w;
};

static void win_setup(struct win *t)
{
	t->cpu = t_cpu(1);
	t->secs = t_ecreate(t->cpu, 0, BASE, SIZE, SGX_ATTR_MODE64BIT);
	t->w = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(t->w != MAP_FAILED);
	assert_int_equal(sgx_cpu_set_window(t->cpu, t->secs, t->w), 0);
}

static void win_teardown(struct win *t)
{
	munmap(t->w, SIZE);
	sgx_cpu_destroy(t->cpu);
}

static void fill(uint8_t *p, uint8_t v)
{
	memset(p, v, 4096);
}

static void test_set_window_needs_secs(void **state)
{
	struct sgx_cpu *cpu = t_cpu(1);
	uint8_t w[16];

	(void)state;
	assert_int_equal(sgx_cpu_set_window(cpu, t_page(cpu, 0), w), -EINVAL);
	assert_int_equal(sgx_cpu_set_window(cpu, w, w), -EINVAL);
	sgx_cpu_destroy(cpu);
}

/* EADD of a REG page writes the window; a TCS keeps its private frame. */
static void test_eadd_reg_in_window_tcs_private(void **state)
{
	static uint8_t src[4096] __attribute__((aligned(4096)));
	struct sgx_tcs tcs __attribute__((aligned(4096)));
	struct win t;

	(void)state;
	win_setup(&t);
	fill(src, 0x5a);
	assert_leaf_ok(t_eadd(t.cpu, t.secs, 1, BASE + 0x3000,
			      SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, src));
	assert_int_equal(t.w[0x3000], 0x5a);
	assert_int_equal(t.w[0x3fff], 0x5a);
	assert_int_equal(t.w[0x2fff], 0);
	/* The model reads the page through the window too. */
	t.w[0x3010] = 0x77;
	assert_int_equal(((uint8_t *)t_page(t.cpu, 1))[0x10], 0);

	memset(&tcs, 0, sizeof(tcs));
	t_tcs_src(&tcs, 0x1000, 1, 0x4000);
	assert_leaf_ok(t_eadd(t.cpu, t.secs, 2, BASE, SGX_SECINFO_TCS, &tcs));
	for (int i = 0; i < 4096; i++)
		assert_int_equal(t.w[i], 0);
	win_teardown(&t);
}

/* EWB scrubs the window page; ELDU brings the bytes back there; EREMOVE scrubs. */
static void test_ewb_eldu_eremove_in_place(void **state)
{
	static uint8_t src[4096] __attribute__((aligned(4096)));
	static uint8_t blob[4096] __attribute__((aligned(4096)));
	static struct sgx_pcmd pcmd;
	struct sgx_pageinfo pi __attribute__((aligned(32)));
	uint64_t *va;
	struct win t;

	(void)state;
	win_setup(&t);
	fill(src, 0xc3);
	assert_leaf_ok(t_eadd(t.cpu, t.secs, 1, BASE + 0x5000,
			      SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, src));
	t.w[0x5123] = 0x11; /* a native write the enclave made */
	assert_leaf_ok(sgx_epa(t.cpu, SGX_PAGE_TYPE_VA, t_page(t.cpu, 3)));
	va = t_page(t.cpu, 3);
	assert_leaf_ok(sgx_eblock(t.cpu, t_page(t.cpu, 1)));
	assert_leaf_ok(sgx_etrack(t.cpu, t.secs));
	memset(&pi, 0, sizeof(pi));
	pi.contents = (uint64_t)(uintptr_t)blob;
	pi.metadata = (uint64_t)(uintptr_t)&pcmd;
	assert_leaf_ok(sgx_ewb(t.cpu, &pi, t_page(t.cpu, 1), va));
	for (int i = 0; i < 4096; i++)
		assert_int_equal(t.w[0x5000 + i], 0);

	memset(&pi, 0, sizeof(pi));
	pi.addr = BASE + 0x5000;
	pi.contents = (uint64_t)(uintptr_t)blob;
	pi.metadata = (uint64_t)(uintptr_t)&pcmd;
	pi.secs = (uint64_t)(uintptr_t)t.secs;
	assert_leaf_ok(sgx_eldu(t.cpu, &pi, t_page(t.cpu, 4), va));
	assert_int_equal(t.w[0x5000], 0xc3);
	assert_int_equal(t.w[0x5123], 0x11);
	assert_int_equal(t.w[0x5fff], 0xc3);

	assert_leaf_ok(sgx_eremove(t.cpu, t_page(t.cpu, 4)));
	for (int i = 0; i < 4096; i++)
		assert_int_equal(t.w[0x5000 + i], 0);
	win_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_window_needs_secs),
		cmocka_unit_test(test_eadd_reg_in_window_tcs_private),
		cmocka_unit_test(test_ewb_eldu_eremove_in_place),
	};
	return T_RUN(tests);
}
