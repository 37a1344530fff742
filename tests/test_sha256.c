// SPDX-License-Identifier: MIT
/*
 * The whole-block SHA-256 behind MRENCLAVE: the SHA-NI path and the OpenSSL
 * fallback each give OpenSSL's EVP digest for every length from 0 to 70
 * blocks and every split of the input between the two runs, and the
 * measurement's EEXTEND stream measures the same under both.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "helpers.h"
#include "sha256.h"
#include "softsgx/measure.h"

#define MAXB 70

static uint8_t data[MAXB * 64];

static void evp(const void *p, size_t n, uint8_t out[32])
{
	assert_int_equal(EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL), 1);
}

static void check_all_lengths(void)
{
	for (size_t n = 0; n <= MAXB; n++) {
		uint8_t want[32], got[32];

		evp(data, n * 64, want);
		for (size_t split = 0; split <= n; split++) {
			uint32_t h[8];

			memcpy(h, sgx_sha256_iv, sizeof(h));
			sgx_sha256_blocks(h, split ? data : NULL, split,
					  n - split ? data + split * 64 : NULL, n - split);
			sgx_sha256_final(h, n, got);
			assert_memory_equal(got, want, 32);
		}
	}
}

static int setup(void **state)
{
	(void)state;
	srand(12345);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	return 0;
}

static int restore(void **state)
{
	(void)state;
	sgx_sha256_use_ni(true);
	return 0;
}

static void test_openssl_fallback(void **state)
{
	(void)state;
	assert_false(sgx_sha256_use_ni(false));
	check_all_lengths();
}

static void test_sha_ni(void **state)
{
	(void)state;
	if (!sgx_sha256_use_ni(true))
		skip(); /* no SHA extensions on this CPU: the fallback is all there is */
	check_all_lengths();
}

/* Unaligned runs: the leaves hand over chunks at any 256-byte offset of a frame. */
static void test_unaligned_input(void **state)
{
	uint8_t want[32], got[32];
	uint32_t h[8];

	(void)state;
	evp(data + 3, 5 * 64, want);
	for (int ni = 0; ni < 2; ni++) {
		sgx_sha256_use_ni(ni);
		memcpy(h, sgx_sha256_iv, sizeof(h));
		sgx_sha256_blocks(h, data + 3, 1, data + 67, 4);
		sgx_sha256_final(h, 5, got);
		assert_memory_equal(got, want, 32);
	}
}

/* ECREATE, EADD, 16 x EEXTEND of one page: one MRENCLAVE under both paths. */
static void test_measure_same_both_ways(void **state)
{
	uint8_t mr[2][32];

	(void)state;
	for (int ni = 0; ni < 2; ni++) {
		struct sgx_measure m;

		sgx_sha256_use_ni(ni);
		sgx_measure_ecreate(&m, 1, 0x10000);
		sgx_measure_eadd(&m, 0x2000, 0x205);
		for (int c = 0; c < 16; c++)
			sgx_measure_eextend(&m, 0x2000 + c * 256, data + c * 256);
		assert_int_equal(m.blocks, 2 + 16 * 5);
		sgx_measure_final(&m, mr[ni]);
	}
	assert_memory_equal(mr[0], mr[1], 32);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_teardown(test_openssl_fallback, restore),
		cmocka_unit_test_teardown(test_sha_ni, restore),
		cmocka_unit_test_teardown(test_unaligned_input, restore),
		cmocka_unit_test_teardown(test_measure_same_both_ways, restore),
	};

	return cmocka_run_group_tests(t, setup, NULL);
}
