// SPDX-License-Identifier: MIT
/*
 * SHA-256 compression for MRENCLAVE (FIPS 180-4 §6.2).
 *
 * Why not just SHA256_Update: EADD + 16 x EEXTEND is 17 leaf calls per page,
 * and through the OpenSSL API each EEXTEND either copies its header and its
 * 256-byte chunk into one buffer or makes two calls, each reloading the state
 * and redoing the length bookkeeping.  Here a leaf passes its header block and
 * its chunk together and the state stays in two XMM registers across all five
 * blocks.  The SHA extensions (SHA-NI) are used when CPUID reports them;
 * otherwise OpenSSL's block function does the work, so no machine gets a
 * slower hash than before.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <stdatomic.h>
#include <string.h>

#include "sha256.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

const uint32_t sgx_sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static void blocks_openssl(uint32_t h[8], const uint8_t *p, size_t n)
{
	SHA256_CTX c;

	if (!n)
		return;
	/*
	 * A context with no buffered bytes hands whole blocks straight to the
	 * block function; the length fields are ours to keep, not OpenSSL's.
	 */
	memset(&c, 0, sizeof(c));
	memcpy(c.h, h, sizeof(c.h));
	c.md_len = SHA256_DIGEST_LENGTH;
	SHA256_Update(&c, p, n * 64);
	memcpy(h, c.h, sizeof(c.h));
}

#if defined(__x86_64__)
static const uint32_t K[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define NI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/*
 * One block.  @abef holds A,B,E,F (A in the top lane) and @cdgh C,D,G,H, the
 * lane order SHA256RNDS2 works in; each 4-round group computes its message
 * words with SHA256MSG1/MSG2 from the four previous groups.
 */
static NI_TARGET inline void ni_block(__m128i *abef, __m128i *cdgh, const uint8_t *p)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i s0 = *abef, s1 = *cdgh, w[4];

#pragma GCC unroll 16
	for (int i = 0; i < 16; i++) {
		__m128i k;

		if (i < 4) {
			w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
		} else {
			/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
			__m128i t = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);

			t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
			w[i & 3] = _mm_sha256msg2_epu32(t, w[(i + 3) & 3]);
		}
		k = _mm_add_epi32(w[i & 3], _mm_load_si128((const __m128i *)&K[4 * i]));
		s1 = _mm_sha256rnds2_epu32(s1, s0, k);
		s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k, 0x0E));
	}
	*abef = _mm_add_epi32(*abef, s0);
	*cdgh = _mm_add_epi32(*cdgh, s1);
}

static NI_TARGET void blocks_ni(uint32_t h[8], const uint8_t *p1, size_t n1, const uint8_t *p2,
				size_t n2)
{
	__m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0xB1);  /* B A D C */
	__m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(h + 4)), 0x1B); /* H G F E */
	__m128i s0 = _mm_alignr_epi8(t, s1, 8);    /* F E B A: A on top */
	s1 = _mm_blend_epi16(s1, t, 0xF0);         /* H G D C: C on top */

	for (size_t i = 0; i < n1; i++)
		ni_block(&s0, &s1, p1 + 64 * i);
	for (size_t i = 0; i < n2; i++)
		ni_block(&s0, &s1, p2 + 64 * i);

	t = _mm_shuffle_epi32(s0, 0x1B);           /* A B E F */
	s1 = _mm_shuffle_epi32(s1, 0xB1);          /* G H C D */
	_mm_storeu_si128((__m128i *)h, _mm_blend_epi16(t, s1, 0xF0));
	_mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(s1, t, 8));
}

static bool cpu_has_sha_ni(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
		return false;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return (c & bit_SSE4_1) && (c & bit_SSSE3);
}
#else
static bool cpu_has_sha_ni(void)
{
	return false;
}
#endif

/* 0: not decided yet, 1: SHA-NI, 2: OpenSSL.  A racing first use decides twice, alike. */
static _Atomic int impl;

static int choose(void)
{
	int v = atomic_load_explicit(&impl, memory_order_relaxed);

	if (!v) {
		v = cpu_has_sha_ni() ? 1 : 2;
		atomic_store_explicit(&impl, v, memory_order_relaxed);
	}
	return v;
}

bool sgx_sha256_use_ni(bool on)
{
	int v = on && cpu_has_sha_ni() ? 1 : 2;

	atomic_store_explicit(&impl, v, memory_order_relaxed);
	return v == 1;
}

void sgx_sha256_blocks(uint32_t h[8], const uint8_t *p1, size_t n1, const uint8_t *p2, size_t n2)
{
#if defined(__x86_64__)
	if (choose() == 1) {
		blocks_ni(h, p1, n1, p2, n2);
		return;
	}
#else
	(void)choose;
#endif
	blocks_openssl(h, p1, n1);
	blocks_openssl(h, p2, n2);
}

void sgx_sha256_final(uint32_t h[8], uint64_t nblocks, uint8_t digest[32])
{
	uint8_t pad[64] = { 0x80 };
	uint64_t bits = nblocks * 512;

	for (int i = 0; i < 8; i++)
		pad[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sgx_sha256_blocks(h, pad, 1, NULL, 0);
	for (int i = 0; i < 8; i++) {
		digest[4 * i] = (uint8_t)(h[i] >> 24);
		digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
		digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
		digest[4 * i + 3] = (uint8_t)h[i];
	}
	memset(h, 0, 32);
}
