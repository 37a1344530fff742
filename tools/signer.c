// SPDX-License-Identifier: MIT
/*
 * SIGSTRUCT production.  The hardware wants the modulus, signature and the
 * two helper quotients little-endian, so everything big-endian from OpenSSL
 * is byte-reversed on the way in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "softsgx/image.h"
#include "softsgx/sign.h"

void sgx_sigstruct_init(struct sgx_sigstruct *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->header.header1[0] = SGX_SIGSTRUCT_HEADER1_0;
	ss->header.header1[1] = SGX_SIGSTRUCT_HEADER1_1;
	ss->header.header2[0] = SGX_SIGSTRUCT_HEADER2_0;
	ss->header.header2[1] = SGX_SIGSTRUCT_HEADER2_1;
	ss->exponent = 3;
}

int sgx_sigstruct_fill_body(struct sgx_sigstruct *ss, const struct sgx_image *img)
{
	uint8_t mrenclave[32];

	if (sgx_image_measure(img, mrenclave))
		return -EINVAL;
	memset(&ss->body, 0, sizeof(ss->body));
	ss->body.miscselect = img->miscselect;
	ss->body.misc_mask = ~0u;
	ss->body.attributes = img->attributes;
	ss->body.attributes_mask = ~(uint64_t)SGX_ATTR_INIT;
	ss->body.xfrm = img->xfrm;
	ss->body.xfrm_mask = 0;
	memcpy(ss->body.mrenclave, mrenclave, 32);
	return 0;
}

/* Write @bn into @out as @len little-endian bytes. */
static int bn_to_le(const BIGNUM *bn, uint8_t *out, int len)
{
	return BN_bn2lebinpad(bn, out, len) == len ? 0 : -1;
}

static int rsa_key_params(EVP_PKEY *key, BIGNUM **n, BIGNUM **e)
{
	*n = NULL;
	*e = NULL;
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) != 3072)
		return -EINVAL;
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, e) || !BN_is_word(*e, 3)) {
		BN_free(*n);
		BN_free(*e);
		return -EINVAL;
	}
	return 0;
}

int sgx_sigstruct_sign(struct sgx_sigstruct *ss, EVP_PKEY *key)
{
	uint8_t msg[256], sig[SGX_MODULUS_SIZE];
	size_t siglen = sizeof(sig);
	BIGNUM *n, *e, *s = NULL, *t = NULL, *q1 = NULL, *q2 = NULL;
	BN_CTX *bctx = NULL;
	EVP_MD_CTX *md = NULL;
	int ret;

	ret = rsa_key_params(key, &n, &e);
	if (ret)
		return ret;
	ret = -EINVAL;
	ss->exponent = 3;
	if (bn_to_le(n, ss->modulus, SGX_MODULUS_SIZE))
		goto out;

	memcpy(msg, &ss->header, 128);
	memcpy(msg + 128, &ss->body, 128);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)) != 1 || siglen != sizeof(sig))
		goto out;

	/* Q1 = floor(S^2 / M), Q2 = floor(S * (S^2 mod M) / M). */
	bctx = BN_CTX_new();
	s = BN_bin2bn(sig, (int)siglen, NULL);
	t = BN_new();
	q1 = BN_new();
	q2 = BN_new();
	if (!bctx || !s || !t || !q1 || !q2 || !BN_sqr(t, s, bctx) ||
	    !BN_div(q1, t, t, n, bctx) || !BN_mul(t, t, s, bctx) || !BN_div(q2, NULL, t, n, bctx))
		goto out;
	if (bn_to_le(s, ss->signature, SGX_MODULUS_SIZE) ||
	    bn_to_le(q1, ss->q1, SGX_MODULUS_SIZE) || bn_to_le(q2, ss->q2, SGX_MODULUS_SIZE))
		goto out;
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	BN_CTX_free(bctx);
	BN_free(s);
	BN_free(t);
	BN_free(q1);
	BN_free(q2);
	BN_free(n);
	BN_free(e);
	return ret;
}

EVP_PKEY *sgx_sign_generate_key(void)
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	BIGNUM *e = BN_new();

	if (c && e && BN_set_word(e, 3) && EVP_PKEY_keygen_init(c) == 1 &&
	    EVP_PKEY_CTX_set_rsa_keygen_bits(c, 3072) == 1 &&
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(c, e) == 1)
		EVP_PKEY_keygen(c, &key);
	BN_free(e);
	EVP_PKEY_CTX_free(c);
	return key;
}

/* PEM pass phrase callback: never prompt, only note that one was wanted. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)asked = true;
	return -1;
}

/*
 * Besides -errno from open() and -EINVAL for a key that is not RSA-3072 with
 * e = 3, *@err is -EISDIR for a directory, -ENOKEY for a key encrypted with
 * a pass phrase (never prompted for) and -EBADMSG when the file holds no PEM
 * private key.
 */
EVP_PKEY *sgx_sign_load_key(const char *path, int *err)
{
	/* O_NONBLOCK: a FIFO must not hang open(); reads block again below. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	bool asked = false;
	struct stat st;
	EVP_PKEY *key;
	BIGNUM *n, *e;
	FILE *f;

	if (fd < 0 || fstat(fd, &st) || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ||
	    !(f = fdopen(fd, "r"))) {
		*err = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		fclose(f);
		*err = -EISDIR;
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, no_passphrase, &asked);
	fclose(f);
	ERR_clear_error();
	if (!key) {
		*err = asked ? -ENOKEY : -EBADMSG;
		return NULL;
	}
	if (rsa_key_params(key, &n, &e)) {
		EVP_PKEY_free(key);
		*err = -EINVAL;
		return NULL;
	}
	BN_free(n);
	BN_free(e);
	*err = 0;
	return key;
}

void sgx_sigstruct_mrsigner(const struct sgx_sigstruct *ss, uint8_t out[32])
{
	SHA256(ss->modulus, SGX_MODULUS_SIZE, out);
}
