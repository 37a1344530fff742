/* SPDX-License-Identifier: MIT */
/*
 * Producing SIGSTRUCTs: RSA-3072 keys with exponent 3, the signed message
 * (header block || body block), byte-reversed modulus/signature/Q1/Q2.
 */
#ifndef SOFTSGX_SIGN_H
#define SOFTSGX_SIGN_H

#include <openssl/evp.h>

#include "arch.h"

/* Fill the constant header words; everything else zero. */
void sgx_sigstruct_init(struct sgx_sigstruct *ss);

/**
 * sgx_sigstruct_sign() - sign @ss in place with @key
 *
 * Writes MODULUS, EXPONENT, SIGNATURE, Q1 and Q2 over whatever header and
 * body @ss already holds.
 * Return: 0, or -EINVAL when @key is not RSA-3072 with e = 3.
 */
int sgx_sigstruct_sign(struct sgx_sigstruct *ss, EVP_PKEY *key);

/* Return: a new RSA-3072, e = 3 key, or NULL. */
EVP_PKEY *sgx_sign_generate_key(void);
/* Return: the private key in PEM file @path, or NULL with *@err = -errno / -EINVAL. */
EVP_PKEY *sgx_sign_load_key(const char *path, int *err);

/* MRSIGNER: SHA-256 of the 384 modulus bytes as stored. */
void sgx_sigstruct_mrsigner(const struct sgx_sigstruct *ss, uint8_t out[32]);

#endif
