// SPDX-License-Identifier: MIT
/*
 * The key hierarchy: AES-128, AES-CMAC (RFC 4493), derivekey() over a packed
 * KEYDEPENDENCIES structure, and the two key leaves EREPORT and EGETKEY.
 *
 * Everything below keys_init() runs from signal context (the SIGILL handler
 * performs EREPORT/EGETKEY), so it neither allocates nor locks.  AES uses
 * AES-NI when the host has it, otherwise OpenSSL's table-based AES_encrypt(),
 * which is pure computation on a caller-provided key schedule.  Setting
 * SOFTSGX_NO_AESNI in the environment before a platform is created forces the
 * portable path (tests use it to cover both).
 */
/* AES_encrypt() is deprecated in OpenSSL 3 but is the one signal-safe AES it has. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <stdlib.h>

#include "internal.h"
#include "softsgx/enclu.h"

#include <openssl/aes.h>

#if defined(__x86_64__) || defined(__i386__)
#define KEYS_HAVE_AESNI 1
#include <emmintrin.h>
#include <wmmintrin.h>
#else
#define KEYS_HAVE_AESNI 0
#endif

/*
 * The padding constant (the SDM's SIGSTRUCT layout): the SDM gives it as a
 * 2816-bit number whose byte 0 is the least significant, i.e. the bytes below
 * in this order, which is also the order EINIT finds them at the top of the
 * encoded message.
 */
#define PAD_FF8(n) n, n, n, n, n, n, n, n
#define PAD_FF64 PAD_FF8(0xFF), PAD_FF8(0xFF), PAD_FF8(0xFF), PAD_FF8(0xFF), \
		 PAD_FF8(0xFF), PAD_FF8(0xFF), PAD_FF8(0xFF), PAD_FF8(0xFF)
const uint8_t sgx_padding_const[352] = {
	0x00, 0x01,
	/* 330 bytes of 0xFF: 5 * 64 + 10 */
	PAD_FF64, PAD_FF64, PAD_FF64, PAD_FF64, PAD_FF64,
	PAD_FF8(0xFF), 0xFF, 0xFF,
	/* 0x00 then the DER DigestInfo prefix for SHA-256 */
	0x00, 0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48,
	0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};
_Static_assert(sizeof(sgx_padding_const) == 352, "padding constant size");

/* ----------------------------------------------------------------------- */
/* AES-128 block encryption                                                 */

enum aes_impl {
	AES_IMPL_UNRESOLVED = 0,
	AES_IMPL_NI,
	AES_IMPL_SOFT,
};

/* Chosen once per keys_init(); every schedule remembers the one it was built for. */
static _Atomic int aes_impl_choice = AES_IMPL_UNRESOLVED;

struct aes128 {
	union {
		uint8_t rk[11][16]; /* AES-NI round keys */
		AES_KEY ossl;        /* portable schedule */
	} __attribute__((aligned(16)));
	int impl;
};

static int aes_impl_detect(void)
{
#if KEYS_HAVE_AESNI
	__builtin_cpu_init();
	if (__builtin_cpu_supports("aes") && !getenv("SOFTSGX_NO_AESNI"))
		return AES_IMPL_NI;
#endif
	return AES_IMPL_SOFT;
}

static int aes_impl_get(void)
{
	int v = atomic_load_explicit(&aes_impl_choice, memory_order_relaxed);

	/* Only reached before any platform exists (direct aes_cmac() users). */
	if (v == AES_IMPL_UNRESOLVED) {
		v = aes_impl_detect();
		atomic_store_explicit(&aes_impl_choice, v, memory_order_relaxed);
	}
	return v;
}

/* Overwrite secrets in a way the compiler may not drop. */
static void wipe(void *p, size_t n)
{
	volatile uint8_t *b = p;

	while (n--)
		*b++ = 0;
}

#if KEYS_HAVE_AESNI
__attribute__((target("aes,sse2"))) static inline __m128i aesni_expand(__m128i k, __m128i t)
{
	/* t holds SubWord(RotWord(w3)) ^ rcon in its top lane; fold the prefix XOR of k. */
	t = _mm_shuffle_epi32(t, 0xFF);
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	return _mm_xor_si128(k, t);
}

#define AESNI_ROUND_KEY(rk, i, rcon)                                                    \
	(rk)[i] = aesni_expand((rk)[(i) - 1], _mm_aeskeygenassist_si128((rk)[(i) - 1], rcon))

__attribute__((target("aes,sse2"))) static void aesni_setkey(uint8_t out[11][16],
							      const uint8_t key[16])
{
	__m128i rk[11];

	rk[0] = _mm_loadu_si128((const __m128i *)key);
	/* The immediate round constants force an unrolled schedule. */
	AESNI_ROUND_KEY(rk, 1, 0x01);
	AESNI_ROUND_KEY(rk, 2, 0x02);
	AESNI_ROUND_KEY(rk, 3, 0x04);
	AESNI_ROUND_KEY(rk, 4, 0x08);
	AESNI_ROUND_KEY(rk, 5, 0x10);
	AESNI_ROUND_KEY(rk, 6, 0x20);
	AESNI_ROUND_KEY(rk, 7, 0x40);
	AESNI_ROUND_KEY(rk, 8, 0x80);
	AESNI_ROUND_KEY(rk, 9, 0x1B);
	AESNI_ROUND_KEY(rk, 10, 0x36);
	for (int i = 0; i < 11; i++) {
		_mm_store_si128((__m128i *)out[i], rk[i]);
		rk[i] = _mm_setzero_si128();
	}
}

/* CBC-MAC state update over @n whole blocks, chain and round keys kept in registers. */
__attribute__((target("aes,sse2"))) static void aesni_cbcmac(const uint8_t rk[11][16],
							      uint8_t state[16], const uint8_t *m,
							      size_t n)
{
	__m128i k[11], x = _mm_loadu_si128((const __m128i *)state);

	for (int r = 0; r < 11; r++)
		k[r] = _mm_load_si128((const __m128i *)rk[r]);
	for (size_t i = 0; i < n; i++) {
		x = _mm_xor_si128(x, _mm_loadu_si128((const __m128i *)(m + 16 * i)));
		x = _mm_xor_si128(x, k[0]);
		for (int r = 1; r < 10; r++)
			x = _mm_aesenc_si128(x, k[r]);
		x = _mm_aesenclast_si128(x, k[10]);
	}
	_mm_storeu_si128((__m128i *)state, x);
	for (int r = 0; r < 11; r++)
		k[r] = _mm_setzero_si128();
}
#endif

static void aes128_setkey(struct aes128 *a, const uint8_t key[16], int impl)
{
	a->impl = impl;
#if KEYS_HAVE_AESNI
	if (impl == AES_IMPL_NI) {
		aesni_setkey(a->rk, key);
		return;
	}
#endif
	AES_set_encrypt_key(key, 128, &a->ossl);
}

/* state = E(state ^ block) for @n consecutive blocks of @m. */
static void aes128_cbcmac(const struct aes128 *a, uint8_t state[16], const uint8_t *m, size_t n)
{
#if KEYS_HAVE_AESNI
	if (a->impl == AES_IMPL_NI) {
		aesni_cbcmac(a->rk, state, m, n);
		return;
	}
#endif
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < 16; j++)
			state[j] ^= m[16 * i + j];
		AES_encrypt(state, state, &a->ossl);
	}
}

/* ----------------------------------------------------------------------- */
/* AES-CMAC (RFC 4493)                                                       */

struct cmac_key {
	struct aes128 aes;
	uint8_t k1[16], k2[16];
};

/* Multiply by x in GF(2^128) with the RFC 4493 reduction constant 0x87. */
static void cmac_dbl(uint8_t out[16], const uint8_t in[16])
{
	uint8_t carry = in[0] >> 7;

	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)((in[i] << 1) | (in[i + 1] >> 7));
	out[15] = (uint8_t)((in[15] << 1) ^ ((0u - carry) & 0x87));
}

static void cmac_setkey(struct cmac_key *c, const uint8_t key[16], int impl)
{
	uint8_t l[16] = { 0 };

	aes128_setkey(&c->aes, key, impl);
	aes128_cbcmac(&c->aes, l, l, 1); /* L = E(K, 0^128) */
	cmac_dbl(c->k1, l);
	cmac_dbl(c->k2, c->k1);
	wipe(l, sizeof(l));
}

static void cmac_compute(const struct cmac_key *c, const uint8_t *m, size_t len,
			 uint8_t mac[16])
{
	uint8_t x[16] = { 0 }, last[16];
	size_t n = (len + 15) / 16, rem;

	/* The final block is always processed separately, masked with K1 or K2. */
	if (n == 0)
		n = 1;
	aes128_cbcmac(&c->aes, x, m, n - 1);
	rem = len - 16 * (n - 1);
	if (rem == 16) {
		for (int j = 0; j < 16; j++)
			last[j] = m[16 * (n - 1) + j] ^ c->k1[j];
	} else {
		memset(last, 0, sizeof(last));
		if (rem)
			memcpy(last, m + 16 * (n - 1), rem);
		last[rem] = 0x80;
		for (int j = 0; j < 16; j++)
			last[j] ^= c->k2[j];
	}
	aes128_cbcmac(&c->aes, x, last, 1);
	memcpy(mac, x, 16);
	wipe(x, sizeof(x));
	wipe(last, sizeof(last));
}

/**
 * aes_cmac() - AES-128-CMAC per RFC 4493
 * @key: 16-byte key
 * @data: message
 * @len: message length in bytes (0 allowed)
 * @mac: the 16-byte tag
 *
 * Async-signal-safe: the key schedule lives on the stack and is wiped.
 */
void aes_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16])
{
	struct cmac_key c;

	cmac_setkey(&c, key, aes_impl_get());
	cmac_compute(&c, data, len, mac);
	wipe(&c, sizeof(c));
}

/* ----------------------------------------------------------------------- */
/* Platform key state                                                        */

/* cpu->keys_ctx: the CMAC schedule of the root key, built once. */
struct keys_state {
	struct cmac_key root;
};

/**
 * keys_init() - prepare the key hierarchy of @cpu
 *
 * Chooses the AES implementation and expands the root key, so that
 * derive_key() later costs only the CMAC itself and never allocates.
 * Return: 0, or -1 when out of memory.
 */
int keys_init(struct sgx_cpu *cpu)
{
	struct keys_state *ks;
	int impl = aes_impl_detect();

	atomic_store_explicit(&aes_impl_choice, impl, memory_order_relaxed);
	ks = aligned_alloc(64, (sizeof(*ks) + 63) & ~(size_t)63);
	if (!ks)
		return -1;
	cmac_setkey(&ks->root, cpu->root_key, impl);
	cpu->keys_ctx = ks;
	return 0;
}

/* keys_fini() - wipe and free what keys_init() prepared; safe on a failed init. */
void keys_fini(struct sgx_cpu *cpu)
{
	struct keys_state *ks = cpu->keys_ctx;

	if (!ks)
		return;
	wipe(ks, sizeof(*ks));
	free(ks);
	cpu->keys_ctx = NULL;
}

/**
 * derive_key() - derivekey(KEYDEPENDENCIES) of the SDM
 * @cpu: the platform (its root key)
 * @d: the packed dependencies; fields a key does not use must be zero
 * @key: the derived 128-bit key
 *
 * Key = AES-128-CMAC(root key, *@d) (docs/architecture.md, "Keys").
 * Async-signal-safe.
 */
void derive_key(struct sgx_cpu *cpu, const struct key_deps *d, uint8_t key[16])
{
	const struct keys_state *ks = cpu->keys_ctx;

	if (ks)
		cmac_compute(&ks->root, (const uint8_t *)d, sizeof(*d), key);
	else
		aes_cmac(cpu->root_key, d, sizeof(*d), key);
}

/* ----------------------------------------------------------------------- */
/* EREPORT / EGETKEY                                                         */


/*
 * EMU-CHOICE (the SDM's EGETKEY leaves it open): a CPUSVN is "supported" when,
 * read as a 16-byte little-endian number, it is not above the current CPUSVN
 * (the configured one until an EUPDATESVN).  EINIT uses the same comparison for
 * the token's CPUSVNLE.
 */
static bool cpusvn_supported(const struct sgx_cpu *cpu, const uint8_t svn[16])
{
	uint8_t cur[16];

	cpu_get_cpusvn(cpu, cur);
	return cpusvn_cmp(svn, cur) <= 0;
}

/* Leaves with an error code: RAX, ZF, and CF/PF/AF/OF/SF cleared. */
static void enclu_set_status(struct sgx_regs *regs, uint64_t code)
{
	regs->rflags &= ~(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_OF |
			  X86_EFLAGS_SF | X86_EFLAGS_ZF);
	if (code)
		regs->rflags |= X86_EFLAGS_ZF;
	regs->rax = code;
}

/**
 * enclu_ereport() - ENCLU[EREPORT] (the SDM's EREPORT description)
 *
 * RBX = TARGETINFO, RCX = REPORTDATA, RDX = output REPORT, each checked as
 * the SDM does, one operand after the other.  The REPORT describes the current
 * enclave and is MAC'd with the target's report key, which depends only on
 * what EGETKEY(REPORT_KEY) in the target can rebuild from its own SECS.
 * Flags and RAX are not touched.
 */
int enclu_ereport(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  struct sgx_regs *regs)
{
	struct sgx_report report;
	struct key_deps d;
	const struct sgx_targetinfo *ti;
	const struct sgx_secs *secs;
	const struct secs_hidden *h;
	uint8_t *ti_bytes, *rd_bytes, *out, key[16];
	uint32_t f;
	int r;

	if (!lp->in_enclave)
		return fault_gp();
	r = enclu_operand(cpu, lp, mmu, regs->rbx, 512, false, &f, &ti_bytes);
	if (r)
		return r;
	r = enclu_operand(cpu, lp, mmu, regs->rcx, 128, false, &f, &rd_bytes);
	if (r)
		return r;
	r = enclu_operand(cpu, lp, mmu, regs->rdx, 512, true, &f, &out);
	if (r)
		return r;

	secs = secs_of(cpu, lp->secs_frame);
	h = secs_hidden(cpu, lp->secs_frame);

	/* Inputs are read before the output is written: they may overlap it. */
	memset(&report, 0, sizeof(report));
	cpu_get_cpusvn(cpu, report.body.cpusvn);
	report.body.miscselect = secs->miscselect;
	memcpy(report.body.isvextprodid, h->isvextprodid, 16);
	report.body.attributes = secs->attributes;
	report.body.xfrm = secs->xfrm;
	memcpy(report.body.mrenclave, secs->mrenclave, 32);
	memcpy(report.body.mrsigner, secs->mrsigner, 32);
	memcpy(report.body.config_id, secs->config_id, 64);
	report.body.isvprodid = secs->isv_prod_id;
	report.body.isvsvn = secs->isv_svn;
	report.body.config_svn = secs->config_svn;
	memcpy(report.body.isvfamilyid, h->isvfamilyid, 16);
	memcpy(report.body.report_data, rd_bytes, 64);
	memcpy(report.keyid, cpu->report_keyid, 32);

	ti = (const struct sgx_targetinfo *)ti_bytes;
	memset(&d, 0, sizeof(d));
	d.keyname = SGX_KEYNAME_REPORT;
	memcpy(d.owner_epoch, cpu->owner_epoch, 16);
	d.attributes = ti->attributes;
	d.xfrm = ti->xfrm;
	memcpy(d.mrenclave, ti->measurement, 32);
	memcpy(d.keyid, report.keyid, 32);
	memcpy(d.seal_key_fuses, cpu->seal_key_fuses, 16);
	memcpy(d.cpusvn, report.body.cpusvn, 16); /* one read: body and key agree */
	/* SECS.PADDING always equals the constant after EINIT; the target uses the constant. */
	memcpy(d.padding, sgx_padding_const, 352);
	d.miscselect = ti->miscselect;
	memcpy(d.config_id, ti->config_id, 64);
	d.config_svn = ti->config_svn;
	derive_key(cpu, &d, key);
	aes_cmac(key, &report, offsetof(struct sgx_report, keyid), report.mac);
	wipe(key, sizeof(key));
	wipe(&d, sizeof(d));

	memcpy(out, &report, sizeof(report));
	STAT_INC(cpu, ereport);
	regs->rip += ENCLU_INSN_LEN;
	return 0;
}

/*
 * Fill @d for the request (the key-dependency table of the SDM's EGETKEY).
 * Return 0 or the SGX error code for the request.
 */
static uint64_t egetkey_deps(struct sgx_cpu *cpu, const struct sgx_secs *secs,
			     const struct secs_hidden *h, const struct sgx_keyrequest *req,
			     struct key_deps *d)
{
	/* INIT and DEBUG always count; the XFRM half is masked by the request alone. */
	uint64_t attributes = (req->attributemask | SGX_ATTR_INIT | SGX_ATTR_DEBUG) &
			      secs->attributes;
	uint64_t xfrm = req->xfrmmask & secs->xfrm;
	uint32_t misc = req->miscmask & secs->miscselect;
	uint16_t pol = req->keypolicy;

	memset(d, 0, sizeof(*d));
	d->keyname = req->keyname;
	switch (req->keyname) {
	case SGX_KEYNAME_REPORT:
		memcpy(d->owner_epoch, cpu->owner_epoch, 16);
		d->attributes = secs->attributes;
		d->xfrm = secs->xfrm;
		memcpy(d->mrenclave, secs->mrenclave, 32);
		memcpy(d->keyid, req->keyid, 32);
		memcpy(d->seal_key_fuses, cpu->seal_key_fuses, 16);
		cpu_get_cpusvn(cpu, d->cpusvn);
		memcpy(d->padding, sgx_padding_const, 352);
		d->miscselect = secs->miscselect;
		memcpy(d->config_id, secs->config_id, 64);
		d->config_svn = secs->config_svn;
		return 0;

	case SGX_KEYNAME_SEAL:
	case SGX_KEYNAME_PROVISION_SEAL:
		if (req->keyname == SGX_KEYNAME_PROVISION_SEAL &&
		    !(secs->attributes & SGX_ATTR_PROVISIONKEY))
			return SGX_INVALID_ATTRIBUTE;
		if (!cpusvn_supported(cpu, req->cpusvn))
			return SGX_INVALID_CPUSVN;
		if (req->isvsvn > secs->isv_svn || req->config_svn > secs->config_svn)
			return SGX_INVALID_ISVSVN;
		if (req->keyname == SGX_KEYNAME_SEAL) {
			memcpy(d->owner_epoch, cpu->owner_epoch, 16);
			if (pol & SGX_KEYPOLICY_MRENCLAVE)
				memcpy(d->mrenclave, secs->mrenclave, 32);
			if (pol & SGX_KEYPOLICY_MRSIGNER)
				memcpy(d->mrsigner, secs->mrsigner, 32);
			memcpy(d->keyid, req->keyid, 32);
		} else {
			memcpy(d->mrsigner, secs->mrsigner, 32);
		}
		if (pol & SGX_KEYPOLICY_ISVFAMILYID)
			memcpy(d->isvfamilyid, h->isvfamilyid, 16);
		if (pol & SGX_KEYPOLICY_ISVEXTPRODID)
			memcpy(d->isvextprodid, h->isvextprodid, 16);
		if (!(pol & SGX_KEYPOLICY_NOISVPRODID))
			d->isvprodid = secs->isv_prod_id;
		if (pol & SGX_KEYPOLICY_CONFIGID) {
			memcpy(d->config_id, secs->config_id, 64);
			d->config_svn = req->config_svn;
		}
		d->isvsvn = req->isvsvn;
		d->attributes = attributes;
		d->xfrm = xfrm;
		d->attributes_mask = req->attributemask;
		d->xfrm_mask = req->xfrmmask;
		memcpy(d->seal_key_fuses, cpu->seal_key_fuses, 16);
		memcpy(d->cpusvn, req->cpusvn, 16);
		memcpy(d->padding, h->padding, 352);
		d->miscselect = misc;
		d->miscmask = ~req->miscmask;
		d->keypolicy = pol;
		return 0;

	case SGX_KEYNAME_EINITTOKEN:
	case SGX_KEYNAME_PROVISION:
		if (!(secs->attributes & (req->keyname == SGX_KEYNAME_EINITTOKEN
						  ? SGX_ATTR_EINITTOKENKEY
						  : SGX_ATTR_PROVISIONKEY)))
			return SGX_INVALID_ATTRIBUTE;
		if (!cpusvn_supported(cpu, req->cpusvn))
			return SGX_INVALID_CPUSVN;
		if (req->isvsvn > secs->isv_svn)
			return SGX_INVALID_ISVSVN;
		d->isvprodid = secs->isv_prod_id;
		d->isvsvn = req->isvsvn;
		d->attributes = attributes;
		d->xfrm = xfrm;
		memcpy(d->mrsigner, secs->mrsigner, 32);
		memcpy(d->cpusvn, req->cpusvn, 16);
		memcpy(d->padding, h->padding, 352);
		d->miscselect = misc;
		if (req->keyname == SGX_KEYNAME_EINITTOKEN) {
			/* Must match EINIT's token-key derivation (SDM EINIT). */
			memcpy(d->owner_epoch, cpu->owner_epoch, 16);
			memcpy(d->keyid, req->keyid, 32);
			memcpy(d->seal_key_fuses, cpu->seal_key_fuses, 16);
		} else {
			/* The provisioning key survives owner changes: no epoch, no fuses. */
			d->attributes_mask = req->attributemask;
			d->xfrm_mask = req->xfrmmask;
			d->miscmask = ~req->miscmask;
		}
		return 0;

	default:
		return SGX_INVALID_KEYNAME;
	}
}

/**
 * enclu_egetkey() - ENCLU[EGETKEY] (the SDM's EGETKEY description)
 *
 * RBX = KEYREQUEST, RCX = 16-byte output.  Operand and format problems fault;
 * a key the enclave may not have yields an error code in RAX with ZF set and
 * the output untouched.  RIP moves past ENCLU in both cases.
 */
int enclu_egetkey(struct sgx_cpu *cpu, struct sgx_lp *lp, const struct sgx_mmu *mmu,
		  struct sgx_regs *regs)
{
	struct sgx_keyrequest req;
	struct key_deps d;
	const struct sgx_secs *secs;
	uint8_t *req_bytes, *out, key[16];
	uint64_t code;
	uint32_t f;
	int r;

	if (!lp->in_enclave)
		return fault_gp();
	r = enclu_operand(cpu, lp, mmu, regs->rbx, 512, false, &f, &req_bytes);
	if (r)
		return r;
	r = enclu_operand(cpu, lp, mmu, regs->rcx, 16, true, &f, &out);
	if (r)
		return r;

	/* One snapshot: other enclave threads may be writing the request. */
	memcpy(&req, req_bytes, sizeof(req));
	if (req.reserved1 || !all_zero(req.reserved2, sizeof(req.reserved2)) ||
	    (req.keypolicy & SGX_KEYPOLICY_RESERVED_MASK))
		return fault_gp();
	secs = secs_of(cpu, lp->secs_frame);
	if (!(secs->attributes & SGX_ATTR_KSS) &&
	    ((req.keypolicy & SGX_KEYPOLICY_KSS_MASK) || req.config_svn))
		return fault_gp();

	code = egetkey_deps(cpu, secs, secs_hidden(cpu, lp->secs_frame), &req, &d);
	if (!code) {
		derive_key(cpu, &d, key);
		memcpy(out, key, 16);
		wipe(key, sizeof(key));
		STAT_INC(cpu, egetkey);
	}
	wipe(&d, sizeof(d));
	wipe(&req, sizeof(req));
	enclu_set_status(regs, code);
	regs->rip += ENCLU_INSN_LEN;
	return 0;
}
