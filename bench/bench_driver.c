// SPDX-License-Identifier: MIT
/*
 * Driver benchmark, against floors measured in the same run and sampled in
 * pairs with the work they judge (bench_stats.h):
 *   reclaim throughput (pages/s through EWB into backing) vs single-core
 *     AES-128-GCM on 4 KiB blocks, with the driver's default backing policy
 *     and with the kernel's (cfg.kernel_backing)            (target >= 0.50)
 *   per-page cost of allocation, reclaim and reload on a 64 MiB and an
 *     8 GiB EPC, and with 1 vs 1000 enclaves                  (target: within 20%)
 *   driver metadata as a share of the EPC it manages           (target <= 2%)
 *
 * Runs the driver on the simulated host (no ksgxd: every reclaim is timed in
 * this thread), with what a running enclave has: every enclave is
 * initialized (EINIT, so its SECS is written back after its last child and
 * reloaded first) and mapped, every reload is a page fault through
 * sgx_vma_fault() that inserts a PTE, and so every reclaim pass tests the
 * PTE's accessed bit (the first pass after a reload only ages the page, as
 * in the kernel) and zaps it before EBLOCK.  One more
 * configuration keeps a thread inside its enclave (EENTER on the CPU model),
 * so that every EWB batch needs the ETRACK IPI: the host's kick makes the
 * thread take an AEX and resume, as a real thread does.
 *
 * Each round runs one full evict/reload cycle of every configuration, the
 * configurations of the same size in lock step and AES-GCM encryptions
 * between their reclaim batches, so that what a ratio compares was timed
 * across the same stretch of time, a few tens of microseconds apart (a
 * cycle takes milliseconds: timed whole and one after the other, the load
 * of the moment decided the ratio).  The first cycle, which also pays for
 * first-touching backing memory and EPC frames, is reported apart.  It
 * reports; it never fails on timing.
 *
 * Usage: bench_driver [ROUNDS [host|sweep]]
 *   host: only what bench/run_host.sh sets beside the real host's figures
 *   (reclaim and reload with a thread inside, and hot-set refaults with and
 *   without accessed bits: see host_main()).
 *   sweep: per-page costs at four EPC sizes and four enclave counts, for the
 *   plots of bench/report.sh (see sweep_main()).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "bench_sim.h"
#include "bench_stats.h"
#include "softsgx/enclu.h"
#include "sim.h"
#include "softsgx/measure.h"
#include "softsgx/sign.h"
#include "softsgx/uapi/sgx.h"

#define BASE 0x400000000000ULL
#define PG 4096UL
#define RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)
/* A thread's pages, ahead of the data: TCS, then its SSA frames. */
#define NR_SSA 2
#define THREAD_PAGES (1 + NR_SSA)
/* Where the thread inside "was" when an IPI interrupts it: outside code. */
#define AEP 0x70001000ULL

static uint8_t src[PG] __attribute__((aligned(4096)));

static double gcm_floor(EVP_CIPHER_CTX *e, unsigned long n)
{
	uint8_t iv[12] = { 0 }, tag[16], aad[128] = { 0 };
	static uint8_t out[PG];
	double t = bench_now();
	int l;

	for (unsigned long i = 0; i < n; i++) {
		iv[4] = (uint8_t)i;
		EVP_EncryptInit_ex(e, NULL, NULL, NULL, iv);
		EVP_EncryptUpdate(e, NULL, &l, aad, sizeof(aad));
		EVP_EncryptUpdate(e, out, &l, src, sizeof(src));
		EVP_EncryptFinal_ex(e, out, &l);
		EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG, 16, tag);
	}
	return (bench_now() - t) / n;
}

/*
 * What one backing-page allocation plus its truncation costs the host here:
 * MADV_POPULATE_WRITE, then a hole punched in the mapped memfd and the
 * SEEK_DATA check the driver makes after it, per pair.
 */
static double backing_floor(unsigned long n)
{
	int fd = memfd_create("bench-backing", 0);
	uint8_t *m;
	double t;

	if (fd < 0 || ftruncate(fd, (off_t)(n * PG)))
		return 0;
	m = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return 0;
	t = bench_now();
	for (unsigned long i = 0; i < n; i++) {
		(void)madvise(m + i * PG, PG, 23 /* MADV_POPULATE_WRITE */);
		(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(i * PG), PG);
		(void)lseek(fd, (off_t)(i * PG), SEEK_DATA);
	}
	t = (bench_now() - t) / n;
	munmap(m, n * PG);
	close(fd);
	return t;
}

/* Per-round samples of one configuration, seconds per page. */
struct series {
	double *alloc, *reclaim, *reload, *gcm;
};

/* One configuration: a driver, its enclaves and the address spaces mapping them. */
struct world {
	struct sim_host h; /* h.ctx points back here */
	const char *name;
	unsigned long epc_pages, per;
	unsigned int nr_encl;
	bool kernel_backing;
	int cg_depth;
	bool thread;                 /* page 0 is a TCS, and a thread stays inside */

	struct sgx_driver *drv;
	struct sgx_cgroup *cgs[4];
	struct sgx_encl **encls;
	unsigned long size;          /* ELRANGE of each enclave */
	struct sgx_mm **mms;         /* mm i maps enclaves i * SIM_MAX_MAPS ... */
	int nr_mms;
	/* The simulated host's accessed-bit test, which young() counts. */
	bool (*sim_young)(void *host, struct sgx_mm *mm, struct sgx_encl *encl,
			  unsigned long addr);

	/* The thread inside (the CPU model's view of it), when @thread. */
	struct sgx_lp lp;
	struct sgx_mmu mmu;
	struct sgx_xstate xs;
	struct sgx_regs regs;
	int kicks;

	struct series s;
	double cold_reclaim, cold_reload;
	/* Per page and steady cycle, from the last cycle. */
	double backing_calls, zaps, inserts, eldu, secs_ewb, ages, young, kicks_per_batch;
	unsigned long nr_ages, nr_young; /* young() calls, and those that found the bit set */
};

static bool young(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr)
{
	struct world *w = ((struct sim_host *)host)->ctx;
	bool y = w->sim_young(host, mm, encl, addr);

	/* Only this thread runs the driver (no ksgxd), so plain counters do. */
	w->nr_ages++;
	w->nr_young += y;
	return y;
}

/* A CPU access to page @p of enclave @i of @w: a fault when there is no PTE. */
static int touch(struct world *w, unsigned int i, unsigned long p)
{
	struct sgx_mm *mm = w->mms[i / SIM_MAX_MAPS];

	return sim_access(mm, mm->maps[i % SIM_MAX_MAPS].start + p * PG, VM_READ | VM_WRITE);
}

/*
 * The thread's page tables: an enclave page translates to its EPC frame
 * (the TCS and SSA pages are kept resident, see keep_hot()), anything else
 * to itself.
 */
static int lp_translate(void *ctx, uint64_t la, bool write, uint64_t *pa)
{
	struct world *w = ctx;
	struct sgx_encl_page *e;

	(void)write;
	*pa = la;
	if (la < w->encls[0]->base || la >= w->encls[0]->base + w->size)
		return 0;
	e = sgx_encl_page_lookup(w->encls[0], la & ~(PG - 1));
	if (!e || !e->epc_page)
		return -1;
	*pa = (uint64_t)(uintptr_t)sgx_get_epc_virt_addr(e->epc_page) + (la & (PG - 1));
	return 0;
}

/* EENTER on the TCS, or EEXIT back out, on the CPU model. */
static int lp_enter(struct world *w)
{
	struct sgx_regs r = { .rax = EENTER, .rbx = w->encls[0]->base, .rcx = AEP,
			      .rip = AEP - 3, .rflags = 0x202 };

	w->mmu.translate = lp_translate;
	w->mmu.ctx = w;
	sgx_lp_init(&w->lp);
	if (sgx_enclu(w->drv->cpu, &w->lp, &w->mmu, &r, NULL) || !w->lp.in_enclave)
		return -1;
	w->regs = r;
	return 0;
}

static int lp_leave(struct world *w)
{
	struct sgx_regs r = w->regs;

	r.rax = EEXIT;
	r.rbx = AEP;
	return sgx_enclu(w->drv->cpu, &w->lp, &w->mmu, &r, NULL) || w->lp.in_enclave ? -1 : 0;
}

/*
 * The ETRACK IPI as the thread inside takes it: an AEX, after which its
 * AEP resumes it at once (ERESUME), now in the new epoch.  Called with
 * encl->lock held.
 */
static void on_kick(struct sim_host *h, struct sgx_mm *mm, struct sgx_encl *encl)
{
	struct world *w = h->ctx;
	struct sgx_regs r = w->regs;

	(void)mm;
	(void)encl;
	if (!w->thread || !w->lp.in_enclave)
		return;
	w->kicks++;
	if (sgx_aex(w->drv->cpu, &w->lp, &r, NULL, NULL, NULL) || r.rax != ERESUME ||
	    sgx_enclu(w->drv->cpu, &w->lp, &w->mmu, &r, NULL) || !w->lp.in_enclave) {
		fprintf(stderr, "bench: the thread inside did not take the IPI\n");
		exit(1);
	}
	w->regs = r;
}

/*
 * The SIGSTRUCT of an enclave of @size with @nr unmeasured pages from offset
 * 0: RW, but page 0 a TCS if @tcs.
 */
static int sign(EVP_PKEY *key, unsigned long size, unsigned long nr, bool tcs,
		struct sgx_sigstruct *ss)
{
	struct sgx_measure m;

	sgx_measure_ecreate(&m, 1, size);
	for (unsigned long i = 0; i < nr; i++)
		sgx_measure_eadd(&m, i * PG, tcs && !i ? SGX_SECINFO_TCS : RW);
	return bench_sign(ss, &m, key);
}

/* CREATE + ADD_PAGES (unmeasured REG RW pages) + INIT through the ioctls. */
static struct sgx_encl *build(struct world *w, struct sgx_mm *mm, uint64_t base,
			      const struct sgx_sigstruct *ss)
{
	static struct sgx_secs secs __attribute__((aligned(4096)));
	static struct sgx_secinfo si __attribute__((aligned(64)));
	struct sgx_enclave_create c = { (uint64_t)(uintptr_t)&secs };
	struct sgx_enclave_init in = { (uint64_t)(uintptr_t)ss };
	struct sgx_encl *encl;
	int err;

	bench_heap_secs(&secs, &si, base, w->size);
	encl = sgx_open(w->drv, &err);
	if (!encl || sim_mmap(mm, encl, base, w->size, VM_READ | VM_WRITE) ||
	    sgx_ioctl(encl, mm, SGX_IOC_ENCLAVE_CREATE, (unsigned long)&c))
		return NULL;
	for (unsigned long p = 0; p < w->per; p++) {
		static struct sgx_tcs tcs __attribute__((aligned(4096)));
		static struct sgx_secinfo tsi __attribute__((aligned(64))) = {
			.flags = SGX_SECINFO_TCS
		};
		struct sgx_enclave_add_pages a = {
			.src = (uint64_t)(uintptr_t)src,
			.offset = p * PG,
			.length = PG,
			.secinfo = (uint64_t)(uintptr_t)&si,
		};

		if (w->thread && !p) {
			/* SSA frames right after it; the entry point is never run. */
			memset(&tcs, 0, sizeof(tcs));
			tcs.ssa_offset = PG;
			tcs.nr_ssa_frames = NR_SSA;
			tcs.entry_offset = THREAD_PAGES * PG;
			a.src = (uint64_t)(uintptr_t)&tcs;
			a.secinfo = (uint64_t)(uintptr_t)&tsi;
		}
		if (sgx_ioctl(encl, mm, SGX_IOC_ENCLAVE_ADD_PAGES, (unsigned long)&a))
			return NULL;
	}
	if (sgx_ioctl(encl, mm, SGX_IOC_ENCLAVE_INIT, (unsigned long)&in))
		return NULL;
	return encl;
}

static void *zalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	return p;
}

/* The calling thread is the configuration's task (its cgroup, if any). */
static void enter_world(struct world *w)
{
	sim_set_cgroup(w->cg_depth ? w->cgs[w->cg_depth - 1] : NULL);
}

static int world_build(struct world *w, EVP_PKEY *key, int rounds)
{
	struct sgx_sigstruct *ss = aligned_alloc(PG, PG);

	sim_host_init(&w->h);
	w->h.ctx = w;
	w->sim_young = w->h.ops.test_and_clear_young;
	w->h.ops.test_and_clear_young = young;
	w->h.on_kick = on_kick;
	w->drv = bench_quiet_driver(&w->h, w->epc_pages);
	if (!w->drv || !ss || w->cg_depth > 4)
		return -1;
	w->drv->cfg.kernel_backing = w->kernel_backing;
	for (int d = 0; d < w->cg_depth; d++) {
		int err = 0;

		w->cgs[d] = sgx_cgroup_create(d ? w->cgs[d - 1] : &w->drv->root_cg, "bench", &err);
		if (!w->cgs[d])
			return -1;
	}
	for (w->size = 0x10000; w->size < w->per * PG;)
		w->size <<= 1;
	if (sign(key, w->size, w->per, w->thread, ss))
		return -1;
	w->encls = zalloc(w->nr_encl * sizeof(*w->encls));
	w->nr_mms = (int)((w->nr_encl + SIM_MAX_MAPS - 1) / SIM_MAX_MAPS);
	w->mms = zalloc((size_t)w->nr_mms * sizeof(*w->mms));
	enter_world(w);
	for (unsigned int i = 0; i < w->nr_encl; i++) {
		int m = (int)(i / SIM_MAX_MAPS);

		if (!w->mms[m] && !(w->mms[m] = sim_mm_new(&w->h, m)))
			return -1;
		/* Enclave i is mapping i % SIM_MAX_MAPS of mm i / SIM_MAX_MAPS. */
		w->encls[i] = build(w, w->mms[m], BASE + (uint64_t)i * 0x100000000ULL, ss);
		if (!w->encls[i]) {
			fprintf(stderr, "bench: building enclave %u failed\n", i);
			return -1;
		}
	}
	sim_set_cgroup(NULL);
	if (w->thread && lp_enter(w)) {
		fprintf(stderr, "bench: EENTER failed\n");
		return -1;
	}
	w->s.alloc = zalloc(sizeof(double) * rounds);
	w->s.reclaim = zalloc(sizeof(double) * rounds);
	w->s.reload = zalloc(sizeof(double) * rounds);
	w->s.gcm = zalloc(sizeof(double) * rounds);
	free(ss);
	return 0;
}

static void world_destroy(struct world *w)
{
	if (w->thread && lp_leave(w))
		fprintf(stderr, "bench: EEXIT failed\n");
	for (int m = 0; m < w->nr_mms; m++)
		sim_mm_exit(w->mms[m]);
	for (unsigned int i = 0; i < w->nr_encl; i++)
		sgx_release(w->encls[i]);
	for (int m = 0; m < w->nr_mms; m++)
		sim_mm_free(w->mms[m]);
	for (int d = w->cg_depth - 1; d >= 0; d--)
		sgx_cgroup_destroy(w->cgs[d]);
	sim_driver_destroy(w->drv);
	free(w->mms);
	free(w->encls);
	free(w->s.alloc);
	free(w->s.reclaim);
	free(w->s.reload);
	free(w->s.gcm);
}

/* Accumulated over one cycle of a world: seconds and counter snapshots. */
struct cycle {
	double alloc, reclaim, reload;
	struct sgx_driver_counters k0, k1;
	int zaps, inserts, kicks;
	unsigned long ages, young;
	bool reclaimed;
};

/* Pages of @w the reclaimer takes in a cycle: all but a thread's own. */
static unsigned long evictable(const struct world *w)
{
	return w->nr_encl * w->per - (w->thread ? THREAD_PAGES : 0);
}

/*
 * The thread inside keeps using its TCS and SSA pages, so their accessed
 * bits are set whenever the reclaimer looks and it never takes them (were
 * it to, the AEX of the next IPI would have no SSA to write).
 */
static int keep_hot(struct world *w)
{
	for (unsigned long p = 0; w->thread && p < THREAD_PAGES; p++)
		if (touch(w, 0, p))
			return -1;
	return 0;
}

/*
 * One round of a group of worlds of the same size, in lock step so that
 * every figure of every world, and the AES-GCM floor, is sampled across the
 * same stretch of time, a few tens of microseconds apart: alloc+free pairs
 * at the current fill level, then reclaiming every page (one batch of each
 * world, then 16 AES-GCM encryptions, over and over), then touching every
 * page again.  @r < 0 is the first cycle, kept apart.
 */
static int group_round(struct world **g, int n, EVP_CIPHER_CTX *gcm, int r)
{
	const unsigned long total = g[0]->nr_encl * g[0]->per, chunk = 64;
	struct cycle c[8] = { 0 };
	double gt = 0, t;
	unsigned long gn = 0;
	bool busy = true;
	/* Each round starts with another world: none always runs after the rest. */
	const int rot = (r + 1) % n;

	for (int k = 0; k < n; k++) {
		struct world *w = g[k];

		if (w->nr_encl * w->per != total || n > 8)
			return -1;
		c[k].zaps = atomic_load(&w->h.nr_zaps);
		c[k].inserts = atomic_load(&w->h.nr_inserts);
		c[k].ages = w->nr_ages;
		c[k].young = w->nr_young;
		c[k].kicks = w->kicks;
	}
	for (unsigned long i = 0; i < total; i += chunk) {
		for (int kk = 0; kk < n; kk++) {
			int k = (kk + rot) % n;

			enter_world(g[k]);
			t = bench_now();
			for (unsigned long j = i; j < i + chunk && j < total; j++) {
				struct sgx_epc_page *p = sgx_alloc_epc_page(g[k]->drv, NULL, false);

				if (IS_ERR(p))
					return -1;
				sgx_free_epc_page(g[k]->drv, p);
			}
			c[k].alloc += bench_now() - t;
		}
	}

	for (int k = 0; k < n; k++)
		sgx_driver_counters(g[k]->drv, &c[k].k0);
	while (busy) {
		busy = false;
		for (int kk = 0; kk < n; kk++) {
			int k = (kk + rot) % n;

			if (c[k].reclaimed)
				continue;
			enter_world(g[k]);
			if (keep_hot(g[k]))
				return -1;
			t = bench_now();
			sgx_reclaim_pages(g[k]->drv);
			c[k].reclaim += bench_now() - t;
			c[k].reclaimed = (unsigned long)atomic_load(&g[k]->drv->stats.reclaimed) -
					 c[k].k0.reclaimed >= evictable(g[k]);
			busy |= !c[k].reclaimed;
		}
		gt += gcm_floor(gcm, 16) * 16;
		gn += 16;
	}
	for (int k = 0; k < n; k++) {
		sgx_driver_counters(g[k]->drv, &c[k].k1);
		if (c[k].k1.reclaimed - c[k].k0.reclaimed != evictable(g[k]))
			return -1;
	}

	for (unsigned long i = 0; i < total; i += chunk) {
		for (int kk = 0; kk < n; kk++) {
			struct world *w = g[(kk + rot) % n];

			enter_world(w);
			t = bench_now();
			for (unsigned long j = i; j < i + chunk && j < total; j++)
				if (touch(w, (unsigned int)(j / w->per), j % w->per))
					return -1;
			c[(kk + rot) % n].reload += bench_now() - t;
		}
	}
	sim_set_cgroup(NULL);

	for (int k = 0; k < n; k++) {
		struct world *w = g[k];
		struct sgx_driver_counters k2;

		sgx_driver_counters(w->drv, &k2);
		w->backing_calls = (double)(k2.backing_allocs - c[k].k0.backing_allocs +
					    k2.backing_truncates - c[k].k0.backing_truncates) / total;
		w->secs_ewb = (double)(c[k].k1.ewb - c[k].k0.ewb - evictable(w)) / total;
		w->kicks_per_batch = (double)(w->kicks - c[k].kicks) /
				     (double)(c[k].k1.reclaim_batches - c[k].k0.reclaim_batches);
		w->eldu = (double)(k2.eldu - c[k].k1.eldu) / total;
		w->ages = (double)(w->nr_ages - c[k].ages) / total;
		w->young = (double)(w->nr_young - c[k].young) / total;
		w->zaps = (double)(atomic_load(&w->h.nr_zaps) - c[k].zaps) / total;
		w->inserts = (double)(atomic_load(&w->h.nr_inserts) - c[k].inserts) / total;
		if (r < 0) {
			w->cold_reclaim = c[k].reclaim / evictable(w);
			w->cold_reload = c[k].reload / total;
		} else {
			w->s.alloc[r] = c[k].alloc / total;
			w->s.reclaim[r] = c[k].reclaim / evictable(w);
			w->s.reload[r] = c[k].reload / total;
			w->s.gcm[r] = gt / gn;
		}
	}
	return 0;
}

/* Per-page costs of @b against @a, round by round; records under driver.@id.* */
static void compare(const char *id, const char *what, const struct world *a,
		    const struct world *b, int rounds, double target)
{
	static const char *const names[] = { "alloc", "reclaim", "reload" };
	double *const sa[] = { a->s.alloc, a->s.reclaim, a->s.reload };
	double *const sb[] = { b->s.alloc, b->s.reclaim, b->s.reload };

	printf("  %s\n", what);
	for (int k = 0; k < 3; k++) {
		struct bench_ratio r;
		char buf[96];

		char rid[64], rwhat[160];

		bench_ratio(&r, sb[k], sa[k], rounds);
		snprintf(rid, sizeof(rid), "driver.%s.%s", id, names[k]);
		snprintf(rwhat, sizeof(rwhat), "%s per page, %s", names[k], what);
		bench_record_ratio(bench_records(), rid, rwhat, &r, target, true, 0);
		printf("    %-8s %7.0f / %7.0f ns  %s", names[k], r.num * 1e9, r.den * 1e9,
		       bench_fmt(buf, sizeof(buf), &r));
		if (target > 0)
			printf("  target <= %.2f: %s", target, bench_verdict(&r, target, true, 0));
		printf("\n");
	}
}

static void throughput(const char *id, const struct world *w, int rounds)
{
	struct bench_ratio r;
	char buf[96], rid[64], rwhat[128];

	/* Throughput ratio = (pages/s reclaimed) / (pages/s encrypted). */
	bench_ratio(&r, w->s.gcm, w->s.reclaim, rounds);
	snprintf(rid, sizeof(rid), "driver.tput.%s", id);
	snprintf(rwhat, sizeof(rwhat), "reclaim throughput / AES-GCM throughput, %s", w->name);
	bench_record_ratio(bench_records(), rid, rwhat, &r, 0.50, false, 0);
	printf("  %-34s %8.0f pages/s  ratio %s\n", w->name, 1 / r.den, bench_fmt(buf, sizeof(buf), &r));
	printf("  %-34s target >= 0.50: %s; first cycle %.0f pages/s (one sample)\n", "",
	       bench_verdict(&r, 0.50, false, 0), 1 / w->cold_reclaim);
}

/*
 * The per-page alloc, reclaim and reload times of @w as records @id.alloc,
 * .reclaim, .reload: medians of the rounds with their quartiles (a ratio to
 * a series of ones is the series itself, so bench_ratio() gives them).
 */
static void record_costs(const char *id, const char *what, const struct world *w, int rounds)
{
	static const char *const names[] = { "alloc", "reclaim", "reload" };
	double *const sv[] = { w->s.alloc, w->s.reclaim, w->s.reload };
	double *ones;

	if (!bench_records())
		return;
	ones = zalloc(sizeof(double) * rounds);
	for (int i = 0; i < rounds; i++)
		ones[i] = 1;
	for (int k = 0; k < 3; k++) {
		struct bench_ratio r;
		char rid[64], rwhat[160];

		bench_ratio(&r, sv[k], ones, rounds);
		snprintf(rid, sizeof(rid), "%s.%s", id, names[k]);
		snprintf(rwhat, sizeof(rwhat), "%s per page, %s", names[k], what);
		bench_record_value(bench_records(), rid, rwhat, r.num, "s", r.q1, r.q3);
	}
	free(ones);
}

/*
 * bench_driver ROUNDS sweep: the per-page costs at 64 MiB, 256 MiB, 1 GiB
 * and 8 GiB of EPC (one enclave of 16 MiB), and with 1, 10, 100 and 1000
 * enclaves sharing 16000 pages (128 MiB EPC), each group in lock step with
 * the AES-GCM floor, as records (bench_stats.h) and one line each.
 */
static int sweep_main(int rounds, EVP_PKEY *key, EVP_CIPHER_CTX *gcm)
{
	static const unsigned long epc_mib[] = { 64, 256, 1024, 8192 };
	static const unsigned int encls[] = { 1, 10, 100, 1000 };
	struct world worlds[8];
	struct world *g[2][4];
	char names[8][48];

	for (int k = 0; k < 4; k++) {
		snprintf(names[k], sizeof(names[k]), "%lu MiB EPC", epc_mib[k]);
		worlds[k] = (struct world){ .name = names[k], .epc_pages = epc_mib[k] << 8,
					    .per = 4096, .nr_encl = 1 };
		snprintf(names[4 + k], sizeof(names[4 + k]), "%u enclave%s", encls[k],
			 encls[k] > 1 ? "s" : "");
		worlds[4 + k] = (struct world){ .name = names[4 + k], .epc_pages = 128UL << 8,
						.per = 16000 / encls[k], .nr_encl = encls[k] };
		g[0][k] = &worlds[k];
		g[1][k] = &worlds[4 + k];
	}
	for (int k = 0; k < 8; k++)
		if (world_build(&worlds[k], key, rounds)) {
			fprintf(stderr, "bench: building %s failed\n", worlds[k].name);
			return 1;
		}
	for (int r = -1; r < rounds; r++)
		if (group_round(g[0], 4, gcm, r) || group_round(g[1], 4, gcm, r)) {
			fprintf(stderr, "bench: a cycle failed\n");
			return 1;
		}
	printf("per-page costs (medians of %d rounds, ns): alloc, reclaim, reload\n", rounds);
	for (int k = 0; k < 8; k++) {
		char id[48];

		printf("  %-16s %7.0f %7.0f %7.0f\n", worlds[k].name,
		       bench_median(worlds[k].s.alloc, rounds) * 1e9,
		       bench_median(worlds[k].s.reclaim, rounds) * 1e9,
		       bench_median(worlds[k].s.reload, rounds) * 1e9);
		if (k < 4)
			snprintf(id, sizeof(id), "driver.sweep.epc.%lu", epc_mib[k]);
		else
			snprintf(id, sizeof(id), "driver.sweep.encl.%u", encls[k - 4]);
		record_costs(id, worlds[k].name, &worlds[k], rounds);
	}
	for (int j = 0; j < 2; j++) {
		double gm = bench_median(g[j][0]->s.gcm, rounds);

		printf("  AES-128-GCM encrypt of 4 KiB beside the %s: %.0f ns\n",
		       j ? "enclave counts" : "EPC sizes", gm * 1e9);
		bench_record_value(bench_records(),
				   j ? "driver.sweep.encl.gcm" : "driver.sweep.epc.gcm",
				   "AES-128-GCM encrypt of 4 KiB (floor)", gm, "s", NAN, NAN);
	}
	for (int k = 0; k < 8; k++)
		world_destroy(&worlds[k]);
	return 0;
}

/* ---- bench_driver ROUNDS host: what bench/run_host.sh sets beside the real host ---- */

/* ksgxd's loop, in this thread: woken below SGX_NR_LOW_PAGES free, it reclaims to HIGH. */
static void ksgxd_step(struct sgx_driver *drv)
{
	if (sgx_should_reclaim(drv, SGX_NR_LOW_PAGES))
		while (sgx_should_reclaim(drv, SGX_NR_HIGH_PAGES))
			sgx_reclaim_pages(drv);
}

static bool never_young(void *host, struct sgx_mm *mm, struct sgx_encl *encl, unsigned long addr)
{
	(void)host;
	(void)mm;
	(void)encl;
	(void)addr;
	return false;
}

/* The workload of bench_host's young part (there: YOUNG_*, young_hot). */
#define HC_COLD 32UL
#define HC_ROUNDS 64UL
#define HC_WARM 16UL

/*
 * bench_host's young part on the simulated host, whose PTEs have an
 * accessed bit that every access sets (as the CPU does), or with every
 * page old (@young false, as SOFTSGX_YOUNG=off): a 1 MiB EPC, an enclave
 * of 4096 pages, each touched once, then rounds of the @hot pages at its
 * start, page by page, and the next HC_COLD of the rest.  *@refaults gets
 * the hot pages found without a PTE per counted round, *@mapped the PTEs
 * at the end.
 */
static int hotcold(EVP_PKEY *key, unsigned long hot, bool young, double *refaults,
		   double *mapped)
{
	struct world w = { .name = "hot/cold", .epc_pages = 256, .per = 4096, .nr_encl = 1 };
	unsigned long cursor = 0, n = 0;
	struct sgx_mm *mm;

	if (world_build(&w, key, 1))
		return -1;
	if (!young)
		w.sim_young = never_young;
	mm = w.mms[0];
	for (unsigned long p = 0; p < w.per; p++) {
		ksgxd_step(w.drv);
		if (touch(&w, 0, p))
			return -1;
	}
	for (unsigned long r = 0; r < HC_WARM + HC_ROUNDS; r++) {
		for (unsigned long p = 0; p < hot; p++) {
			ksgxd_step(w.drv);
			n += r >= HC_WARM && !sim_pte(mm, mm->maps[0].start + p * PG);
			if (touch(&w, 0, p))
				return -1;
		}
		if (cursor + HC_COLD > w.per - hot)
			cursor = 0;
		for (unsigned long p = 0; p < HC_COLD; p++) {
			ksgxd_step(w.drv);
			if (touch(&w, 0, hot + cursor + p))
				return -1;
		}
		cursor += HC_COLD;
	}
	*refaults = (double)n / HC_ROUNDS;
	*mapped = sim_nr_ptes(mm);
	world_destroy(&w);
	return 0;
}

/*
 * Reclaim and reload per page with a thread inside (the configuration
 * bench_host's reclaim part measures on the real host), then the hot/cold
 * workload of its young part: one "sim:" line for run_host.sh, table rows.
 */
static int host_main(int rounds, EVP_PKEY *key, EVP_CIPHER_CTX *gcm)
{
	struct world worlds[] = {
		{ .name = "64 MiB EPC", .epc_pages = 64UL << 8, .per = 4096, .nr_encl = 1 },
		{ .name = "64 MiB EPC, a thread inside", .epc_pages = 64UL << 8, .per = 4096,
		  .nr_encl = 1, .thread = true },
	};
	struct world *g[] = { &worlds[0], &worlds[1] };
	static const unsigned long hot[] = { 32, 64, 128 };

	for (int k = 0; k < 2; k++)
		if (world_build(&worlds[k], key, rounds))
			return 1;
	for (int r = -1; r < rounds; r++)
		if (group_round(g, 2, gcm, r))
			return 1;
	printf("simulated host, 64 MiB EPC, a thread inside (its kicks an AEX and ERESUME in "
	       "this thread), %d rounds: reclaim %.0f ns/page, reload %.0f ns/page (medians; "
	       "every reclaim synchronous in this thread, every reload with the EPC free)\n",
	       rounds, bench_median(worlds[1].s.reclaim, rounds) * 1e9,
	       bench_median(worlds[1].s.reload, rounds) * 1e9);
	printf("sim: reclaim_ns %.0f reload_ns %.0f\n", bench_median(worlds[1].s.reclaim, rounds) * 1e9,
	       bench_median(worlds[1].s.reload, rounds) * 1e9);
	record_costs("driver.host", "simulated host, 64 MiB EPC, a thread inside", &worlds[1],
		     rounds);
	for (int k = 0; k < 2; k++)
		world_destroy(&worlds[k]);

	printf("hot set read page by page, then %lu cold pages, per round, %lu rounds after %lu, a "
	       "1 MiB EPC, simulated host: hot refaults per round\n", HC_COLD, HC_ROUNDS, HC_WARM);
	for (size_t h = 0; h < sizeof(hot) / sizeof(hot[0]); h++) {
		double on, off, m_on, m_off;
		char name[64], what[96];

		if (hotcold(key, hot[h], true, &on, &m_on) || hotcold(key, hot[h], false, &off, &m_off))
			return 1;
		printf("  hot set %3lu: %.2f with accessed bits (%.0f PTEs at the end), %.2f with "
		       "every page old (%.0f)\n", hot[h], on, m_on, off, m_off);
		snprintf(name, sizeof(name), "sim host hot-set refaults, hot %lu", hot[h]);
		snprintf(what, sizeof(what), "%.2f/round with accessed bits, %.2f with all old", on, off);
		printf("| %-38s | %-70s | %-6s | %s |\n", name, what, "-", "for information");
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 9;
	struct world worlds[] = {
		/* name, EPC pages, pages per enclave, enclaves, kernel backing, cgroup depth */
		{ .name = "64 MiB EPC, default backing", .epc_pages = 64UL << 8, .per = 4096,
		  .nr_encl = 1 },
		{ .name = "64 MiB EPC, kernel backing", .epc_pages = 64UL << 8, .per = 4096,
		  .nr_encl = 1, .kernel_backing = true },
		{ .name = "8 GiB EPC", .epc_pages = 8UL << 18, .per = 4096, .nr_encl = 1 },
		{ .name = "64 MiB EPC, a thread inside", .epc_pages = 64UL << 8, .per = 4096,
		  .nr_encl = 1, .thread = true },
		{ .name = "64 MiB EPC, 3 cgroups down", .epc_pages = 64UL << 8, .per = 4096,
		  .nr_encl = 1, .cg_depth = 3 },
		{ .name = "1 enclave", .epc_pages = 128UL << 8, .per = 16000, .nr_encl = 1 },
		{ .name = "1000 enclaves", .epc_pages = 128UL << 8, .per = 16, .nr_encl = 1000 },
		{ .name = "1 enclave, kernel", .epc_pages = 128UL << 8, .per = 16000, .nr_encl = 1,
		  .kernel_backing = true },
		{ .name = "1000 enclaves, kernel", .epc_pages = 128UL << 8, .per = 16,
		  .nr_encl = 1000, .kernel_backing = true },
	};
	enum { SMALL, KSMALL, BIG, THREAD, DEEP, ONE, MANY, KONE, KMANY, NR };
	EVP_CIPHER_CTX *gcm = EVP_CIPHER_CTX_new();
	uint8_t key[16] = { 3 };
	double *host;
	struct rlimit rl;
	EVP_PKEY *signer;

	_Static_assert(sizeof(worlds) / sizeof(worlds[0]) == NR, "one world per index");
	if (rounds < 3)
		rounds = 3;
	/* 2000 enclaves need 2000 backing memfds. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(src, 0x5A, sizeof(src));
	EVP_EncryptInit_ex(gcm, EVP_aes_128_gcm(), NULL, key, NULL);
	signer = sgx_sign_generate_key();
	host = zalloc(sizeof(double) * rounds);
	if (!signer || !gcm)
		return 1;
	if (argc > 2 && (!strcmp(argv[2], "host") || !strcmp(argv[2], "sweep"))) {
		int r = argv[2][0] == 'h' ? host_main(rounds, signer, gcm) :
					    sweep_main(rounds, signer, gcm);

		EVP_PKEY_free(signer);
		EVP_CIPHER_CTX_free(gcm);
		free(host);
		return r;
	}
	for (int k = 0; k < NR; k++) {
		if (world_build(&worlds[k], signer, rounds)) {
			fprintf(stderr, "bench: building %s failed\n", worlds[k].name);
			return 1;
		}
	}
	for (int r = -1; r < rounds; r++) {
		struct world *g1[] = { &worlds[SMALL], &worlds[KSMALL], &worlds[BIG], &worlds[THREAD],
				       &worlds[DEEP] };
		struct world *g2[] = { &worlds[ONE], &worlds[MANY], &worlds[KONE], &worlds[KMANY] };

		if (r >= 0)
			host[r] = backing_floor(500);
		if (group_round(g1, 5, gcm, r) || group_round(g2, 4, gcm, r)) {
			fprintf(stderr, "bench: a cycle failed\n");
			return 1;
		}
	}

	printf("softsgx driver benchmark: %d rounds, each one evict/reload cycle of every "
	       "configuration\n(initialized, mapped enclaves; reloads are page faults), after a "
	       "first cycle reported apart.\nConfigurations of one size run in lock step, with "
	       "AES-GCM between their reclaim batches.\nRatios are medians over medians of the "
	       "rounds; the bracket is the IQR of the per-round\nratios, and a range wider than "
	       "%.0f%% of the ratio is flagged.\n", rounds, BENCH_MAX_SPREAD * 100);
	printf("floor  AES-128-GCM encrypt of 4 KiB: %.2f us (%.0f pages/s, one core), median of "
	       "the samples\n", bench_median(worlds[SMALL].s.gcm, rounds) * 1e6,
	       1 / bench_median(worlds[SMALL].s.gcm, rounds));
	printf("reclaim throughput over AES-GCM (16 MiB enclave; every pass also ages, zaps and, "
	       "for the last child, writes back the SECS):\n");
	throughput("default", &worlds[SMALL], rounds);
	throughput("kernel", &worlds[KSMALL], rounds);
	bench_record_value(bench_records(), "driver.gcm", "AES-128-GCM encrypt of 4 KiB (floor)",
			   bench_median(worlds[SMALL].s.gcm, rounds), "s", NAN, NAN);
	record_costs("driver.small", "64 MiB EPC, default backing", &worlds[SMALL], rounds);
	record_costs("driver.big", "8 GiB EPC", &worlds[BIG], rounds);
	record_costs("driver.one", "1 enclave, 128 MiB EPC", &worlds[ONE], rounds);
	record_costs("driver.many", "1000 enclaves, 128 MiB EPC", &worlds[MANY], rounds);
	printf("reload by page fault (ELDU, SECS first, PTE insert): %.2f us/page steady, %.2f "
	       "first cycle; kernel backing %.2f / %.2f\n",
	       bench_median(worlds[SMALL].s.reload, rounds) * 1e6, worlds[SMALL].cold_reload * 1e6,
	       bench_median(worlds[KSMALL].s.reload, rounds) * 1e6,
	       worlds[KSMALL].cold_reload * 1e6);
	printf("per page and cycle (64 MiB, default): %.2f accessed-bit tests (%.2f found it set; "
	       "one per fault, which starts the page old), %.2f zaps, %.2f PTE inserts, %.2f ELDU, %.5f SECS write-backs\n", worlds[SMALL].ages,
	       worlds[SMALL].young, worlds[SMALL].zaps, worlds[SMALL].inserts, worlds[SMALL].eldu,
	       worlds[SMALL].secs_ewb);
	printf("with a thread inside the enclave (its TCS and SSA kept in use), every reclaim batch "
	       "needs the ETRACK IPI: %.2f kicks per batch, each an AEX and ERESUME of the "
	       "thread (for information)\n", worlds[THREAD].kicks_per_batch);
	throughput("thread", &worlds[THREAD], rounds);
	compare("thread", "a thread inside / none", &worlds[SMALL], &worlds[THREAD], rounds, 0);
	printf("per-page cost, 64 MiB vs 8 GiB EPC (%lu pages)\n", worlds[SMALL].per);
	compare("epc", "8 GiB / 64 MiB", &worlds[SMALL], &worlds[BIG], rounds, 1.20);
	printf("per-page cost, 1 enclave vs 1000 enclaves (16000 pages, 128 MiB EPC)\n");
	compare("encl", "1000 enclaves / 1 enclave", &worlds[ONE], &worlds[MANY], rounds, 1.20);
	compare("encl_kernel",
		"the same with the kernel's backing truncation (for information)", &worlds[KONE],
		&worlds[KMANY], rounds, 0);
	printf("  backing-memfd allocations + truncations per page and cycle: %.3f / %.3f by "
	       "default, %.3f / %.3f with the kernel's (each small enclave truncates and "
	       "re-allocates its own PCMD page); one allocate + truncate pair costs %.2f us "
	       "on this host (median)\n",
	       worlds[ONE].backing_calls, worlds[MANY].backing_calls, worlds[KONE].backing_calls,
	       worlds[KMANY].backing_calls, bench_median(host, rounds) * 1e6);
	printf("per-page cost, a task in the root vs 3 EPC cgroups down (no limits; for "
	       "information: every charge walks to the root)\n");
	compare("cgroup", "3 cgroups down / root", &worlds[SMALL], &worlds[DEEP], rounds, 0);
	printf("driver metadata: %zu B per EPC frame + %zu B per enclave page = %.2f%% of the EPC "
	       "when every frame holds an enclave page (target <= 2%%: %s)\n",
	       sizeof(struct sgx_epc_page), sizeof(struct sgx_encl_page),
	       100.0 * (double)(sizeof(struct sgx_epc_page) + sizeof(struct sgx_encl_page)) / 4096,
	       sizeof(struct sgx_epc_page) + sizeof(struct sgx_encl_page) <= 4096 * 2 / 100 ?
	       "met" : "missed");

	bench_record_value(bench_records(), "driver.metadata_share",
			   "driver metadata per EPC frame holding an enclave page (target <= 2%)",
			   100.0 * (double)(sizeof(struct sgx_epc_page) +
					    sizeof(struct sgx_encl_page)) / 4096, "%", NAN, NAN);

	for (int k = 0; k < NR; k++)
		world_destroy(&worlds[k]);
	EVP_PKEY_free(signer);
	EVP_CIPHER_CTX_free(gcm);
	free(host);
	return 0;
}
