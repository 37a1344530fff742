// SPDX-License-Identifier: MIT
/*
 * Paging crypto for EWB/ELDB/ELDU (SDM EWB and ELDU; the key and IV are
 * our choice, docs/architecture.md): AES-128-GCM under
 * the platform paging key, IV = 4 zero bytes || le64(version), AAD = the
 * 128-byte MAC header, plaintext = one 4 KiB page, 16-byte tag.
 *
 * ELDU runs inside the driver's SIGBUS handler, so encrypt/decrypt must be
 * async-signal-safe.  Everything that allocates happens at init: a pool of
 * EVP_CIPHER_CTX objects, each keyed once.  A call claims a free context with
 * an atomic exchange, sets only the IV (EVP_CipherInit_ex with a NULL cipher
 * and key, which does not allocate), runs the page through it and frees the
 * context again.  No call ever blocks on a lock.
 *
 * Exhaustion.  When every context is claimed the caller spins over the pool
 * until one comes free.  The spin cannot deadlock unless a holder is kept
 * from finishing for good.  A holder runs a bounded amount of straight-line
 * OpenSSL code, takes no locks and waits for nothing, so only one thing can
 * stop it: a signal handler on its own thread that itself spins here, i.e. a
 * paging operation nested inside a paging operation on one thread.  If a
 * thread can have at most D such operations live at once, it pins at most
 * D - 1 contexts, and the pool runs dry for good only when the threads
 * together pin all POOL_SIZE of them.  In softsgx D = 1:
 *   - the only signal handlers that reach EWB/ELDx are the fault handlers
 *     (driver page faults), raised synchronously by the interrupted code's
 *     own memory access, and the section below touches only the model's EPC
 *     mapping and the caller's backing buffer, which never fault into them;
 *   - asynchronous handlers (the ETRACK IPI signal) only perform an AEX, and
 *     only for a thread in enclave mode, which a thread in here is not.
 * Rule for the layers above, therefore: never page (EWB/ELDx) from an
 * asynchronous signal handler.  Even if that rule were broken, a deadlock
 * would need all POOL_SIZE contexts pinned beneath spinning handlers at once.
 * Masking signals around the section would make the bound unconditional, but
 * costs two rt_sigprocmask system calls (about 2 us on the reference machine,
 * more than the AES-GCM of the page itself), so it is not done.
 */
#include <stdlib.h>
#include <openssl/evp.h>

#include "internal.h"

#define POOL_SIZE 64
#define PAGE_BYTES ((int)SGX_PAGE_SIZE)

/* One context per cache line so claims on neighbouring slots do not bounce. */
struct paging_slot {
	_Atomic int busy;
	EVP_CIPHER_CTX *ctx;
} __attribute__((aligned(64)));

struct paging_pool {
	struct paging_slot slot[POOL_SIZE];
	_Atomic unsigned int next; /* where the next claim starts looking */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/**
 * paging_crypto_init() - build the context pool for the platform paging key
 * @cpu: the platform; cpu->paging_key must already be set
 *
 * Return: 0, or -1 when OpenSSL cannot allocate or key a context.
 */
int paging_crypto_init(struct sgx_cpu *cpu)
{
	struct paging_pool *p;

	/* The slots are cache-line aligned, which plain malloc does not promise. */
	p = aligned_alloc(_Alignof(struct paging_pool), sizeof(*p));
	if (!p)
		return -1;
	memset(p, 0, sizeof(*p));
	cpu->paging_ctx = p;
	for (unsigned int i = 0; i < POOL_SIZE; i++) {
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

		if (!c)
			return -1;
		p->slot[i].ctx = c;
		/* Key once; the 12-byte IV is GCM's default length. */
		if (EVP_CipherInit_ex(c, EVP_aes_128_gcm(), NULL, cpu->paging_key, NULL, 1) != 1)
			return -1;
	}
	return 0;
}

/**
 * paging_crypto_fini() - free the context pool (no operation may be running)
 * @cpu: the platform
 */
void paging_crypto_fini(struct sgx_cpu *cpu)
{
	struct paging_pool *p = cpu->paging_ctx;

	if (!p)
		return;
	for (unsigned int i = 0; i < POOL_SIZE; i++)
		EVP_CIPHER_CTX_free(p->slot[i].ctx);
	free(p);
	cpu->paging_ctx = NULL;
}

static struct paging_slot *claim(struct paging_pool *p)
{
	unsigned int start = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);

	for (;;) {
		for (unsigned int i = 0; i < POOL_SIZE; i++) {
			struct paging_slot *s = &p->slot[(start + i) % POOL_SIZE];

			/* Read before the exchange: keeps busy lines shared while spinning. */
			if (!atomic_load_explicit(&s->busy, memory_order_relaxed) &&
			    !atomic_exchange_explicit(&s->busy, 1, memory_order_acquire))
				return s;
		}
		cpu_relax();
	}
}

static void unclaim(struct paging_slot *s)
{
	atomic_store_explicit(&s->busy, 0, memory_order_release);
}

static void make_iv(uint64_t version, uint8_t iv[12])
{
	memset(iv, 0, 4);
	for (unsigned int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(version >> (8 * i));
}

/*
 * One GCM pass over a page.  @enc: 1 encrypt (tag out), 0 decrypt (tag in).
 * @in and @out may be the same buffer.
 */
static int gcm_page(struct sgx_cpu *cpu, int enc, uint64_t version, const uint8_t aad[128],
		    const uint8_t *in, uint8_t *out, uint8_t tag[16])
{
	struct paging_slot *s = claim(cpu->paging_ctx);
	EVP_CIPHER_CTX *c = s->ctx;
	uint8_t iv[12], fin[16];
	int len, ok;

	make_iv(version, iv);
	ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, enc) == 1 &&
	     EVP_CipherUpdate(c, NULL, &len, aad, 128) == 1 &&
	     EVP_CipherUpdate(c, out, &len, in, PAGE_BYTES) == 1 && len == PAGE_BYTES;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(c, fin, &len) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	unclaim(s);
	return ok ? 0 : -1;
}

/**
 * paging_encrypt() - seal one page for EWB
 * @cpu: the platform
 * @version: the VA version, non-zero
 * @aad: the 128-byte MAC header
 * @in: 4096 bytes of plaintext
 * @out: 4096 bytes of ciphertext (may equal @in)
 * @tag: the 16-byte GCM tag
 *
 * Async-signal-safe, never allocates.
 *
 * Return: 0 (-1 only if OpenSSL itself fails).
 */
int paging_encrypt(struct sgx_cpu *cpu, uint64_t version, const uint8_t aad[128],
		   const uint8_t *in, uint8_t *out, uint8_t tag[16])
{
	return gcm_page(cpu, 1, version, aad, in, out, tag);
}

/**
 * paging_decrypt() - open one page for ELDB/ELDU
 * @cpu: the platform
 * @version: the version read from the VA slot
 * @aad: the 128-byte MAC header rebuilt from PCMD and the operands
 * @in: 4096 bytes of ciphertext
 * @out: 4096 bytes of plaintext (may equal @in); garbage when the tag fails
 * @tag: the tag from PCMD
 *
 * Async-signal-safe, never allocates.
 *
 * Return: 0, or -1 when the tag does not verify.
 */
int paging_decrypt(struct sgx_cpu *cpu, uint64_t version, const uint8_t aad[128],
		   const uint8_t *in, uint8_t *out, const uint8_t tag[16])
{
	uint8_t t[16];

	memcpy(t, tag, sizeof(t)); /* the ctrl interface takes a non-const buffer */
	return gcm_page(cpu, 0, version, aad, in, out, t);
}
