// SPDX-License-Identifier: MIT
/*
 * CPU-model benchmark.  Each target is a ratio against a floor measured in the
 * same run, sampled in pairs with the work it judges (bench_stats.h), so the
 * numbers mean the same on a laptop and a CI runner:
 *   EADD + 16 x EEXTEND of a 4 KiB page  vs  the work it cannot avoid: the
 *     81 SHA-256 compressions of a measured page and the 4 KiB copy into
 *     the frame                                                (target <= 1.10)
 *     headline with cache-warm frames and source (a running driver reuses
 *     recently freed frames first); cache-cold frames and sources beside it
 *   EWB + ELDU of a page (with EBLOCK+ETRACK) vs AES-128-GCM enc+dec (target <= 1.50)
 *   EPCM metadata per frame                                     (target <= 64 B)
 * It reports what it measured and whether the spread lets the figure mean
 * anything; it never fails on timing.
 *
 * Usage: bench_cpu [ITERATIONS-PER-SAMPLE [ROUNDS]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "bench_stats.h"
#include "internal.h"
#include "sha256.h"
#include "softsgx/cpu.h"
#include "softsgx/measure.h"

#define PG 4096UL
/* Frames the cache-warm EADD cycles through: 1 MiB. */
#define POOL 256

static uint8_t buf[PG] __attribute__((aligned(4096)));
static uint8_t out[PG] __attribute__((aligned(4096)));

static void *xalloc(size_t n)
{
	void *p = aligned_alloc(PG, n);

	if (!p) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	/* Touched now, so that no sample pays for first-touch page faults. */
	memset(p, 0x5A, n);
	return p;
}

/*
 * Three ways to hash 4 KiB; the floor is the fastest.  OpenSSL 3's one-shot
 * SHA256() looks its algorithm up on every call, which costs ~15% at this
 * size, so a floor taken from it alone would flatter the model.
 */
static double sha_oneshot(void *ctx, unsigned long n)
{
	uint8_t d[32];
	double t = bench_now();

	(void)ctx;
	for (unsigned long i = 0; i < n; i++) {
		SHA256(buf, sizeof(buf), d);
		buf[0] = d[0];
	}
	return (bench_now() - t) / n;
}

struct evp {
	EVP_MD_CTX *x;
	EVP_MD *md;
};

static double sha_evp(void *ctx, unsigned long n)
{
	struct evp *e = ctx;
	uint8_t d[32];
	unsigned int l;
	double t = bench_now();

	for (unsigned long i = 0; i < n; i++) {
		EVP_DigestInit_ex(e->x, e->md, NULL);
		EVP_DigestUpdate(e->x, buf, sizeof(buf));
		EVP_DigestFinal_ex(e->x, d, &l);
		buf[0] = d[0];
	}
	return (bench_now() - t) / n;
}

static double sha_blocks(void *ctx, unsigned long n)
{
	uint8_t d[32];
	double t = bench_now();

	(void)ctx;
	for (unsigned long i = 0; i < n; i++) {
		uint32_t h[8];

		memcpy(h, sgx_sha256_iv, sizeof(h));
		sgx_sha256_blocks(h, buf, 64, NULL, 0);
		sgx_sha256_final(h, 64, d);
		buf[0] = d[0];
	}
	return (bench_now() - t) / n;
}

/*
 * The 81 compressions MRENCLAVE defines for a measured page (1 EADD block,
 * then 16 x (1 header + 4 data)), back to back with nothing else.
 */
static double sha_81_blocks(void *ctx, unsigned long n)
{
	static uint8_t blocks[81 * 64];
	double t = bench_now();

	(void)ctx;
	for (unsigned long i = 0; i < n; i++) {
		uint32_t h[8];

		memcpy(h, sgx_sha256_iv, sizeof(h));
		sgx_sha256_blocks(h, blocks, 81, NULL, 0);
		blocks[0] = (uint8_t)h[0];
	}
	return (bench_now() - t) / n;
}

/* Source pages and destination pages a sample walks through, wrapping. */
struct walk {
	uint8_t *src, *dst;
	unsigned long src_pages, dst_pages, s, d;
	struct sgx_measure m;
};

/*
 * The work EADD + 16 x EEXTEND cannot avoid, with no leaf around it: the
 * 4 KiB copy into the frame and the 81 compressions, through the same
 * measurement functions the model uses.  81 / 65 blocks alone is 1.246 of a
 * plain SHA-256 of 4 KiB.
 */
static double eadd_work(void *ctx, unsigned long n)
{
	struct walk *w = ctx;
	double t = bench_now();

	for (unsigned long i = 0; i < n; i++) {
		uint8_t *f = w->dst + w->d * PG;
		uint64_t off = w->d * PG;

		memcpy(f, w->src + w->s * PG, PG);
		sgx_measure_eadd(&w->m, off, SGX_SECINFO_REG | SGX_SECINFO_R);
		for (int c = 0; c < 16; c++)
			sgx_measure_eextend(&w->m, off + c * 256, f + c * 256);
		w->s = (w->s + 1) % w->src_pages;
		w->d = (w->d + 1) % w->dst_pages;
	}
	return (bench_now() - t) / n;
}

struct gcm {
	EVP_CIPHER_CTX *e, *d;
};

static double gcm_floor(void *ctx, unsigned long n)
{
	struct gcm *g = ctx;
	uint8_t iv[12] = { 0 }, tag[16], aad[128] = { 0 };
	int l;
	double t = bench_now();

	for (unsigned long i = 0; i < n; i++) {
		iv[4] = (uint8_t)i;
		EVP_EncryptInit_ex(g->e, NULL, NULL, NULL, iv);
		EVP_EncryptUpdate(g->e, NULL, &l, aad, sizeof(aad));
		EVP_EncryptUpdate(g->e, out, &l, buf, sizeof(buf));
		EVP_EncryptFinal_ex(g->e, out, &l);
		EVP_CIPHER_CTX_ctrl(g->e, EVP_CTRL_GCM_GET_TAG, 16, tag);
		EVP_DecryptInit_ex(g->d, NULL, NULL, NULL, iv);
		EVP_DecryptUpdate(g->d, NULL, &l, aad, sizeof(aad));
		EVP_DecryptUpdate(g->d, buf, &l, out, sizeof(out));
		EVP_CIPHER_CTX_ctrl(g->d, EVP_CTRL_GCM_SET_TAG, 16, tag);
		EVP_DecryptFinal_ex(g->d, buf, &l);
	}
	return (bench_now() - t) / n;
}

static struct sgx_cpu *platform(uint64_t frames)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;

	sgx_cpu_default_config(&cfg);
	cfg.epc_size = frames * PG;
	cpu = sgx_cpu_create(&cfg, NULL);
	if (!cpu) {
		fprintf(stderr, "bench: no platform of %lu frames\n", (unsigned long)frames);
		exit(1);
	}
	return cpu;
}

static void *ecreate(struct sgx_cpu *cpu, uint8_t *epc, uint64_t size)
{
	static struct sgx_secs s __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pi = { 0 };

	memset(&s, 0, sizeof(s));
	s.base = size;
	s.size = size;
	s.ssa_frame_size = 1;
	s.attributes = SGX_ATTR_MODE64BIT;
	s.xfrm = 3;
	pi.contents = (uint64_t)(uintptr_t)&s;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	if (sgx_ecreate(cpu, &pi, epc)) {
		fprintf(stderr, "bench: ECREATE failed\n");
		exit(1);
	}
	return epc;
}

/* An enclave whose children cycle through frames 1..@frames of its EPC. */
struct model {
	struct sgx_cpu *cpu;
	uint8_t *epc, *src;
	void *secs;
	uint64_t base;
	unsigned long frames, src_pages, f, s;
};

static void model_init(struct model *m, unsigned long frames, uint8_t *src,
		       unsigned long src_pages)
{
	uint64_t size = 1ULL << 20;

	while (size < (frames + 1) * PG)
		size <<= 1;
	m->cpu = platform(frames + 1);
	m->epc = sgx_cpu_section(m->cpu, 0, NULL, NULL);
	/* First touch of every frame now, not inside a sample. */
	for (unsigned long i = 0; i <= frames; i++)
		m->epc[i * PG] = 0;
	m->secs = ecreate(m->cpu, m->epc, size);
	m->base = size;
	m->frames = frames;
	m->src = src;
	m->src_pages = src_pages;
	m->f = m->s = 0;
}

/*
 * EADD + 16 x EEXTEND into the next @n frames of the cycle; the EREMOVEs
 * that free them for the next lap are not timed.
 */
static double model_eadd(void *ctx, unsigned long n)
{
	struct model *m = ctx;
	struct sgx_secinfo si __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W
	};
	struct sgx_pageinfo pi = { 0 };
	double t = 0;

	pi.metadata = (uint64_t)(uintptr_t)&si;
	pi.secs = (uint64_t)(uintptr_t)m->secs;
	for (unsigned long done = 0; done < n;) {
		unsigned long k = m->frames - m->f, first = m->f + 1;
		double t0;

		if (k > n - done)
			k = n - done;
		t0 = bench_now();
		for (unsigned long i = first; i < first + k; i++) {
			uint8_t *page = m->epc + i * PG;

			pi.addr = m->base + i * PG;
			pi.contents = (uint64_t)(uintptr_t)(m->src + m->s * PG);
			m->s = (m->s + 1) % m->src_pages;
			if (sgx_eadd(m->cpu, &pi, page))
				exit(1);
			for (int c = 0; c < 16; c++)
				if (sgx_eextend(m->cpu, m->secs, page + c * 256))
					exit(1);
		}
		t += bench_now() - t0;
		for (unsigned long i = first; i < first + k; i++)
			sgx_eremove(m->cpu, m->epc + i * PG);
		m->f = (m->f + k) % m->frames;
		done += k;
	}
	return t / n;
}

/* One resident REG page, blocked, tracked, written back and reloaded. */
struct paging {
	struct sgx_cpu *cpu;
	uint8_t *page, *va;
	void *secs;
	uint64_t addr;
};

static void paging_init(struct paging *p)
{
	struct sgx_secinfo si __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W
	};
	struct sgx_pageinfo pi = { 0 };
	uint8_t *epc;

	p->cpu = platform(4);
	epc = sgx_cpu_section(p->cpu, 0, NULL, NULL);
	p->addr = 1ULL << 20;
	p->secs = ecreate(p->cpu, epc, p->addr);
	p->page = epc + PG;
	p->va = epc + 2 * PG;
	pi.addr = p->addr;
	pi.contents = (uint64_t)(uintptr_t)buf;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	pi.secs = (uint64_t)(uintptr_t)p->secs;
	if (sgx_eadd(p->cpu, &pi, p->page) || sgx_epa(p->cpu, SGX_PAGE_TYPE_VA, p->va)) {
		fprintf(stderr, "bench: setup failed\n");
		exit(1);
	}
}

/*
 * EWB needs the page blocked and tracked, so each round is EBLOCK + ETRACK
 * + EWB + ELDU; the first two are a few atomics, so the time is an upper
 * bound on EWB + ELDU.
 */
static double model_ewb_eldu(void *ctx, unsigned long n)
{
	struct paging *p = ctx;
	static struct sgx_pcmd pcmd;
	double t = bench_now();

	for (unsigned long i = 0; i < n; i++) {
		struct sgx_pageinfo w = { 0 }, l = { 0 };

		if (sgx_eblock(p->cpu, p->page) || sgx_etrack(p->cpu, p->secs))
			exit(1);
		w.contents = (uint64_t)(uintptr_t)out;
		w.metadata = (uint64_t)(uintptr_t)&pcmd;
		if (sgx_ewb(p->cpu, &w, p->page, p->va))
			exit(1);
		l.addr = p->addr;
		l.contents = (uint64_t)(uintptr_t)out;
		l.metadata = (uint64_t)(uintptr_t)&pcmd;
		l.secs = (uint64_t)(uintptr_t)p->secs;
		if (sgx_eldu(p->cpu, &l, p->page, p->va))
			exit(1);
	}
	return (bench_now() - t) / n;
}

/* The last-level cache, for sizing a working set that cannot stay in it. */
static unsigned long llc_bytes(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
	long s = 0;

	/* sysfs first: in a VM, sysconf may report the host's (here 12x) figure. */
	if (f) {
		unsigned long k = 0;

		if (fscanf(f, "%luK", &k) == 1)
			s = (long)(k << 10);
		fclose(f);
	}
	if (s <= 0)
		s = sysconf(_SC_LEVEL3_CACHE_SIZE);
	return s > 0 ? (unsigned long)s : 32UL << 20;
}

enum { C_ONESHOT, C_EVP, C_BLOCKS, C_81, C_GCM, C_EWB, C_WORK, C_EADD, C_WORK_COLD, C_EADD_COLD,
       NR_CASES };

/*
 * A ratio as a line of the report, and as a record (bench_stats.h) under
 * @id, described by @desc (NULL: @what without its "info" tag).
 */
static void line(const char *id, const char *desc, const char *what, const struct bench_ratio *r,
		 double target, bool at_most, double bound)
{
	const char *w = what + (strncmp(what, "info", 4) ? 0 : 4);
	char b[96];

	bench_record_ratio(bench_records(), id, desc ? desc : w + strspn(w, " "), r, target,
			   at_most, bound);

	printf("%-44s %6.2f / %5.2f us = %s\n", what, r->num * 1e6, r->den * 1e6,
	       bench_fmt(b, sizeof(b), r));
	if (target > 0)
		printf("%-44s target %s %.2f: %s\n", "", at_most ? "<=" : ">=", target,
		       bench_verdict(r, target, at_most, bound));
	else if (bound > 0 && r->ratio < bound)
		printf("%-44s %s\n", "", bench_verdict(r, 0, at_most, bound));
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 0) : 200;
	int pairs = argc > 2 ? atoi(argv[2]) : 101;
	unsigned long ws = 2 * llc_bytes(), ws_pages;
	struct evp evp = { EVP_MD_CTX_new(), EVP_MD_fetch(NULL, "SHA256", NULL) };
	uint8_t key[16] = { 1 };
	struct gcm gcm = { EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_new() };
	struct walk warm = { 0 }, cold = { 0 };
	struct model mwarm, mcold;
	struct paging paging;
	struct bench_case cases[NR_CASES] = {
		[C_ONESHOT] = { sha_oneshot, NULL },
		[C_EVP] = { sha_evp, &evp },
		[C_BLOCKS] = { sha_blocks, NULL },
		[C_81] = { sha_81_blocks, NULL },
		[C_GCM] = { gcm_floor, &gcm },
		[C_EWB] = { model_ewb_eldu, &paging },
		[C_WORK] = { eadd_work, &warm },
		[C_EADD] = { model_eadd, &mwarm },
		[C_WORK_COLD] = { eadd_work, &cold },
		[C_EADD_COLD] = { model_eadd, &mcold },
	};
	struct bench_ratio r;
	double *s, *sha;

	if (!iters)
		iters = 200;
	if (pairs < 4)
		pairs = 4;
	if (ws < (64UL << 20))
		ws = 64UL << 20;
	ws_pages = ws / PG;
	memset(buf, 0x5A, sizeof(buf));
	EVP_EncryptInit_ex(gcm.e, EVP_aes_128_gcm(), NULL, key, NULL);
	EVP_DecryptInit_ex(gcm.d, EVP_aes_128_gcm(), NULL, key, NULL);

	/* Warm: one source page, a 1 MiB ring of frames, for floor and model alike. */
	warm.src = buf;
	warm.src_pages = 1;
	warm.dst = xalloc(POOL * PG);
	warm.dst_pages = POOL;
	sgx_measure_ecreate(&warm.m, 1, 1ULL << 30);
	model_init(&mwarm, POOL, buf, 1);
	/*
	 * Cold: floor and model each walk their own sources and frames, every
	 * ring twice the LLC, so a page is long out of cache when it comes round.
	 */
	cold.src = xalloc(ws);
	cold.dst = xalloc(ws);
	cold.src_pages = cold.dst_pages = ws_pages;
	sgx_measure_ecreate(&cold.m, 1, 1ULL << 30);
	model_init(&mcold, ws_pages, xalloc(ws), ws_pages);
	paging_init(&paging);

	s = malloc(sizeof(double) * NR_CASES * pairs);
	sha = malloc(sizeof(double) * pairs);
	if (!s || !sha)
		return 1;
	bench_interleave(cases, NR_CASES, pairs, iters, s);
#define S(c) (s + (c) * pairs)
	/* The SHA-256 floor of each round: the fastest of the three, that round. */
	for (int i = 0; i < pairs; i++) {
		sha[i] = S(C_ONESHOT)[i];
		if (S(C_EVP)[i] < sha[i])
			sha[i] = S(C_EVP)[i];
		if (S(C_BLOCKS)[i] < sha[i])
			sha[i] = S(C_BLOCKS)[i];
	}

	printf("softsgx CPU-model benchmark: %d rounds of interleaved samples, %lu iterations "
	       "each\n", pairs, iters);
	printf("Each ratio is the median of the work over the median of the floor sampled next to "
	       "it;\nthe bracket is the interquartile range of the per-round ratios. A range wider "
	       "than %.0f%%\nof the ratio makes it meaningless and is flagged.\n",
	       BENCH_MAX_SPREAD * 100);

	bench_ratio(&r, S(C_EADD), S(C_WORK), pairs);
	printf("model  EADD + 16 x EEXTEND over its inherent work (81 compressions + 4 KiB copy),\n"
	       "       cache-warm (headline: frames recycled from a 1 MiB ring, one source page)\n");
	line("cpu.eadd_warm", "EADD + 16 x EEXTEND / inherent work, cache-warm",
	     "         model / inherent work", &r, 1.10, true, 1.0);
	bench_ratio(&r, S(C_EADD_COLD), S(C_WORK_COLD), pairs);
	printf("info     cache-cold frames and sources (rings of %lu MiB each, twice the LLC)\n",
	       ws >> 20);
	line("cpu.eadd_cold", "EADD + 16 x EEXTEND / inherent work, cache-cold",
	     "         model / inherent work", &r, 0, true, 1.0);

	bench_ratio(&r, S(C_81), sha, pairs);
	printf("info   SHA-256 of 4 KiB, fastest of three each round: %.2f us (%s)\n",
	       r.den * 1e6, sgx_sha256_use_ni(true) ? "SHA extensions" : "OpenSSL blocks");
	line("cpu.sha81", NULL, "info     81 compressions / SHA-256 4 KiB", &r, 0, true, 0);
	bench_ratio(&r, S(C_WORK), sha, pairs);
	line("cpu.work_sha", NULL, "info     inherent work / SHA-256 4 KiB", &r, 0, true, 0);
	bench_ratio(&r, S(C_EADD), sha, pairs);
	line("cpu.eadd_sha", NULL, "info     EADD + 16 x EEXTEND / SHA-256 4 KiB", &r, 0, true, 0);
	bench_ratio(&r, S(C_ONESHOT), sha, pairs);
	line("cpu.sha_oneshot", NULL, "info     OpenSSL SHA256() one-shot / fastest", &r, 0, true,
	     0);
	bench_ratio(&r, S(C_EVP), sha, pairs);
	line("cpu.sha_evp", NULL, "info     OpenSSL EVP, reused ctx / fastest", &r, 0, true, 0);
	bench_ratio(&r, S(C_BLOCKS), sha, pairs);
	line("cpu.sha_blocks", NULL, "info     model block function / fastest", &r, 0, true, 0);

	bench_ratio(&r, S(C_EWB), S(C_GCM), pairs);
	printf("model  EWB + ELDU (+EBLOCK, ETRACK) over AES-128-GCM encrypt+decrypt of 4 KiB\n");
	line("cpu.ewb_eldu", "EWB + ELDU (+EBLOCK, ETRACK) / AES-128-GCM enc+dec",
	     "         model / AES-GCM", &r, 1.50, true, 0);
	printf("model  EPCM metadata per frame: %zu B (target <= 64: %s)\n", sizeof(struct epcm),
	       sizeof(struct epcm) <= 64 ? "met" : "missed");
	bench_record_value(bench_records(), "cpu.epcm_bytes",
			   "EPCM metadata per frame (target <= 64)", (double)sizeof(struct epcm), "B",
			   NAN, NAN);
#undef S
	free(sha);
	free(s);
	sgx_cpu_destroy(paging.cpu);
	sgx_cpu_destroy(mcold.cpu);
	sgx_cpu_destroy(mwarm.cpu);
	free(mcold.src);
	free(cold.dst);
	free(cold.src);
	free(warm.dst);
	EVP_CIPHER_CTX_free(gcm.d);
	EVP_CIPHER_CTX_free(gcm.e);
	EVP_MD_free(evp.md);
	EVP_MD_CTX_free(evp.x);
	return 0;
}
