// SPDX-License-Identifier: MIT
/*
 * EINIT's SIGSTRUCT checks: the fixed format, then the RSA-3072 (e = 3)
 * PKCS#1 v1.5 SHA-256 signature over header || body, with the Q1/Q2 helper
 * values hardware uses checked too.  EINIT runs from the ioctl path, never
 * from signal context, so BIGNUM allocation is fine here.
 */
#include <openssl/bn.h>
#include <openssl/sha.h>

#include "internal.h"

static const uint8_t sha256_digestinfo[19] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

int sigstruct_check_format(const struct sgx_cpu *cpu, const struct sgx_sigstruct *ss)
{
	uint64_t h1 = ss->header.header1[1];

	if (cpu->cfg.allow_sigstruct_debug_type)
		h1 &= ~(1ULL << 63); /* the SDK's "debug" bit in the u32 at offset 12 */
	if (ss->header.header1[0] != SGX_SIGSTRUCT_HEADER1_0 || h1 != SGX_SIGSTRUCT_HEADER1_1 ||
	    ss->header.header2[0] != SGX_SIGSTRUCT_HEADER2_0 ||
	    ss->header.header2[1] != SGX_SIGSTRUCT_HEADER2_1)
		return SGX_INVALID_SIG_STRUCT;
	if (ss->header.vendor != 0 && ss->header.vendor != 0x8086)
		return SGX_INVALID_SIG_STRUCT;
	if (ss->exponent != 3)
		return SGX_INVALID_SIG_STRUCT;
	if (!all_zero(ss->header.reserved1, sizeof(ss->header.reserved1)) ||
	    !all_zero(ss->body.reserved2, sizeof(ss->body.reserved2)) ||
	    !all_zero(ss->body.reserved3, sizeof(ss->body.reserved3)) ||
	    !all_zero(ss->reserved4, sizeof(ss->reserved4)))
		return SGX_INVALID_SIG_STRUCT;
	return 0;
}

void sgx_sigstruct_mrsigner_raw(const uint8_t modulus[SGX_MODULUS_SIZE], uint8_t out[32])
{
	SHA256(modulus, SGX_MODULUS_SIZE, out);
}

int sigstruct_verify(const struct sgx_sigstruct *ss, uint8_t padding[352])
{
	uint8_t msg[256], em[SGX_MODULUS_SIZE], digest[32];
	BN_CTX *c = BN_CTX_new();
	BIGNUM *m = BN_lebin2bn(ss->modulus, SGX_MODULUS_SIZE, NULL);
	BIGNUM *s = BN_lebin2bn(ss->signature, SGX_MODULUS_SIZE, NULL);
	BIGNUM *q1 = BN_lebin2bn(ss->q1, SGX_MODULUS_SIZE, NULL);
	BIGNUM *q2 = BN_lebin2bn(ss->q2, SGX_MODULUS_SIZE, NULL);
	BIGNUM *t = BN_new(), *r = BN_new(), *q = BN_new();
	int ret = SGX_INVALID_SIGNATURE;
	size_t i;

	if (!c || !m || !s || !q1 || !q2 || !t || !r || !q)
		goto out;
	if (BN_is_zero(m) || !BN_is_odd(m) || BN_cmp(s, m) >= 0)
		goto out;
	/* Hardware computes S^3 mod M with the quotients; a wrong Q1/Q2 fails. */
	if (!BN_sqr(t, s, c) || !BN_div(q, r, t, m, c) || BN_cmp(q, q1) != 0)
		goto out;
	if (!BN_mul(t, r, s, c) || !BN_div(q, r, t, m, c) || BN_cmp(q, q2) != 0)
		goto out;
	if (BN_bn2binpad(r, em, sizeof(em)) != (int)sizeof(em))
		goto out;

	memcpy(msg, &ss->header, 128);
	memcpy(msg + 128, &ss->body, 128);
	SHA256(msg, sizeof(msg), digest);
	if (em[0] != 0 || em[1] != 1)
		goto out;
	for (i = 2; i < 332; i++)
		if (em[i] != 0xFF)
			goto out;
	if (em[332] != 0 || memcmp(em + 333, sha256_digestinfo, 19) != 0 ||
	    memcmp(em + 352, digest, 32) != 0)
		goto out;
	memcpy(padding, em, 352);
	ret = 0;
out:
	BN_CTX_free(c);
	BN_free(m);
	BN_free(s);
	BN_free(q1);
	BN_free(q2);
	BN_free(t);
	BN_free(r);
	BN_free(q);
	return ret;
}
