/* SPDX-License-Identifier: MIT */
/*
 * Producing SIGSTRUCTs: RSA-3072 keys with exponent 3, the signed message
 * (header block || body block), byte-reversed modulus/signature/Q1/Q2.
 */
#ifndef SOFTSGX_SIGN_H
#define SOFTSGX_SIGN_H

#include <openssl/evp.h>

#include "arch.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sgx_image;

/* Fill the constant header words; everything else zero. */
void sgx_sigstruct_init(struct sgx_sigstruct *ss);

/**
 * sgx_sigstruct_fill_body() - the SIGSTRUCT body EINIT expects for an image
 * @ss: the SIGSTRUCT (sgx_sigstruct_init() first); only its body is written
 * @img: the enclave image (image.h)
 *
 * Sets ENCLAVEHASH to the image's MRENCLAVE (sgx_image_measure()), and
 * MISCSELECT, ATTRIBUTES and XFRM to the image's, which are what a SECS
 * built from the image holds, with the masks `softsgx sign` uses by
 * default: MISCMASK all ones, ATTRIBUTEMASK all bits but INIT, XFRMMASK 0.
 * ISVPRODID, ISVSVN, ISVFAMILYID and ISVEXTPRODID are zero.  Change any of
 * them, and the header (VENDOR, DATE), before sgx_sigstruct_sign().
 *
 * Return: 0, or -EINVAL when the image fails sgx_image_check() (@ss is
 * then unchanged).
 */
int sgx_sigstruct_fill_body(struct sgx_sigstruct *ss, const struct sgx_image *img);

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
/**
 * sgx_sign_load_key() - read a signing key
 * @path: a PEM file holding an RSA private key
 * @err: set on failure
 *
 * A key encrypted with a pass phrase is refused, never prompted for.
 * Return: the key, or NULL with *@err = -errno from open(), -EISDIR for a
 * directory, -ENOKEY for an encrypted key, -EBADMSG when the file holds no
 * PEM private key, or -EINVAL for a key that is not RSA-3072 with e = 3.
 */
EVP_PKEY *sgx_sign_load_key(const char *path, int *err);

/* MRSIGNER: SHA-256 of the 384 modulus bytes as stored. */
void sgx_sigstruct_mrsigner(const struct sgx_sigstruct *ss, uint8_t out[32]);

#ifdef __cplusplus
}
#endif

#endif
