// SPDX-License-Identifier: MIT
/*
 * The helpers a library user needs to launch a self-signed enclave:
 * sgx_cpu_trust_signer() (the launch-enclave key hash MSRs, byte order and
 * refusal without FLC) and sgx_sigstruct_fill_body() (a body EINIT accepts
 * for an image), end to end from an image to EINIT.
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "softsgx/image.h"
#include "softsgx/measure.h"

static struct sgx_cpu *cpu;

static void test_trust_signer_byte_order(void **state)
{
	uint8_t h[32];
	uint64_t v;

	(void)state;
	for (int i = 0; i < 32; i++)
		h[i] = (uint8_t)i;
	assert_int_equal(sgx_cpu_trust_signer(cpu, h), 0);
	/* Byte 0 of the digest is the low byte of IA32_SGXLEPUBKEYHASH0. */
	assert_int_equal(sgx_cpu_rdmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0, &v), 0);
	assert_int_equal(v, 0x0706050403020100ULL);
	assert_int_equal(sgx_cpu_rdmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + 3, &v), 0);
	assert_int_equal(v, 0x1f1e1d1c1b1a1918ULL);
}

static void test_trust_signer_needs_flc(void **state)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *locked;
	uint64_t before[4], v;
	const uint8_t h[32] = { 1, 2, 3 };
	int err;

	(void)state;
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	cfg.flc = false;
	locked = sgx_cpu_create(&cfg, &err);
	assert_non_null(locked);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sgx_cpu_rdmsr(locked, MSR_IA32_SGXLEPUBKEYHASH0 + i, &before[i]), 0);
	assert_int_equal(sgx_cpu_trust_signer(locked, h), -EPERM);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sgx_cpu_rdmsr(locked, MSR_IA32_SGXLEPUBKEYHASH0 + i, &v), 0);
		assert_int_equal(v, before[i]);
	}
	sgx_cpu_destroy(locked);
}

/* TCS at 0 (SSA at 0x1000), a RW unmeasured page, a RX measured page. */
static struct sgx_image *small_image(void)
{
	struct sgx_image *img = sgx_image_new();
	struct sgx_tcs tcs;
	uint8_t code[4096];

	assert_non_null(img);
	img->size = 0x4000;
	t_tcs_src(&tcs, 0x1000, 1, 0x2000);
	memset(code, 0xcc, sizeof(code));
	assert_int_equal(sgx_image_add_page(img, 0, SGX_SECINFO_TCS, SGX_IMAGE_MEASURE_ALL, &tcs), 0);
	assert_int_equal(sgx_image_add_page(img, 0x1000,
					    SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, 0,
					    NULL), 0);
	assert_int_equal(sgx_image_add_page(img, 0x2000,
					    SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, 0x00FF,
					    code), 0);
	return img;
}

static void test_fill_body_fields(void **state)
{
	struct sgx_image *img = small_image();
	struct sgx_sigstruct ss, before;
	uint8_t mr[32];

	(void)state;
	img->miscselect = SGX_MISC_EXINFO;
	img->attributes |= SGX_ATTR_DEBUG;
	img->xfrm = 7;
	sgx_sigstruct_init(&ss);
	ss.header.date = 0x20260101;
	memset(&ss.body, 0x5a, sizeof(ss.body));
	before = ss;
	assert_int_equal(sgx_sigstruct_fill_body(&ss, img), 0);
	assert_int_equal(sgx_image_measure(img, mr), 0);
	assert_memory_equal(ss.body.mrenclave, mr, 32);
	assert_int_equal(ss.body.miscselect, SGX_MISC_EXINFO);
	assert_int_equal(ss.body.misc_mask, 0xFFFFFFFFu);
	assert_int_equal(ss.body.attributes, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG);
	assert_int_equal(ss.body.attributes_mask, ~(uint64_t)SGX_ATTR_INIT);
	assert_int_equal(ss.body.xfrm, 7);
	assert_int_equal(ss.body.xfrm_mask, 0);
	assert_int_equal(ss.body.isvprodid, 0);
	assert_int_equal(ss.body.isvsvn, 0);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(ss.body.isvfamilyid[i] | ss.body.isvextprodid[i] |
				 ss.body.reserved3[i], 0);
	/* Only the body is written. */
	assert_memory_equal(&ss, &before, offsetof(struct sgx_sigstruct, body));
	assert_memory_equal(ss.reserved4, before.reserved4,
			    sizeof(ss) - offsetof(struct sgx_sigstruct, reserved4));

	/* An image SGX could not build: -EINVAL, nothing written. */
	img->size = 0x3000;
	before = ss;
	assert_int_equal(sgx_sigstruct_fill_body(&ss, img), -EINVAL);
	assert_memory_equal(&ss, &before, sizeof(ss));
	sgx_image_free(img);
}

/* sgx_measure_ecreate() starts a measurement over whatever the struct held. */
static void test_measure_needs_no_initialiser(void **state)
{
	struct sgx_measure zeroed, garbage;
	uint8_t chunk[256], a[32], b[32];

	(void)state;
	memset(chunk, 7, sizeof(chunk));
	memset(&zeroed, 0, sizeof(zeroed));
	memset(&garbage, 0xa5, sizeof(garbage));
	sgx_measure_ecreate(&zeroed, 1, 8192);
	sgx_measure_ecreate(&garbage, 1, 8192);
	sgx_measure_eadd(&zeroed, 0, SGX_SECINFO_REG | SGX_SECINFO_R);
	sgx_measure_eadd(&garbage, 0, SGX_SECINFO_REG | SGX_SECINFO_R);
	sgx_measure_eextend(&zeroed, 0, chunk);
	sgx_measure_eextend(&garbage, 0, chunk);
	sgx_measure_final(&zeroed, a);
	sgx_measure_final(&garbage, b);
	assert_memory_equal(a, b, 32);
}

static void test_self_signed_enclave_from_image(void **state)
{
	static uint8_t sig[4096] __attribute__((aligned(4096)));
	static struct sgx_einittoken token __attribute__((aligned(512)));
	struct sgx_image *img = small_image();
	struct sgx_sigstruct ss;
	uint8_t mrsigner[32];
	const uint8_t other[32] = { 0 };
	void *secs;

	(void)state;
	sgx_sigstruct_init(&ss);
	assert_int_equal(sgx_sigstruct_fill_body(&ss, img), 0);
	assert_int_equal(sgx_sigstruct_sign(&ss, t_key()), 0);
	sgx_sigstruct_mrsigner(&ss, mrsigner);
	memcpy(sig, &ss, sizeof(ss));
	memset(&token, 0, sizeof(token));
	secs = t_load_image(cpu, img, 0x7f0000000000ULL, T_NO_FLIP, 0);

	/* The MSRs hold another signer's hash: no launch without a token. */
	assert_int_equal(sgx_cpu_trust_signer(cpu, other), 0);
	assert_int_equal(sgx_einit(cpu, sig, &token, secs), SGX_INVALID_EINITTOKEN);
	assert_int_equal(sgx_cpu_trust_signer(cpu, mrsigner), 0);
	assert_int_equal(sgx_einit(cpu, sig, &token, secs), 0);

	for (size_t i = img->nr_pages; i > 0; i--)
		assert_leaf_ok(sgx_eremove(cpu, t_page(cpu, (unsigned int)i)));
	assert_leaf_ok(sgx_eremove(cpu, secs));
	sgx_image_free(img);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_trust_signer_byte_order),
		cmocka_unit_test(test_trust_signer_needs_flc),
		cmocka_unit_test(test_fill_body_fields),
		cmocka_unit_test(test_measure_needs_no_initialiser),
		cmocka_unit_test(test_self_signed_enclave_from_image),
	};
	int ret;

	cpu = t_cpu(1);
	ret = T_RUN(t);
	sgx_cpu_destroy(cpu);
	return ret;
}
