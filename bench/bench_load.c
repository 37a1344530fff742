// SPDX-License-Identifier: MIT
/*
 * Loading benchmark: CREATE + ADD_PAGES + INIT of a large heap enclave
 * through the driver's ioctls on the simulated host, against the work it
 * cannot avoid, measured in the same run and sampled in interleaved pairs
 * with it (bench_stats.h):
 *
 *   the floor: per page, one 4 KiB copy and the 81 SHA-256 compressions
 *   MRENCLAVE is defined over (EADD's block, then 16 x EEXTEND's header and
 *   four chunk blocks), through the model's own measurement functions.  That
 *   is 81/64 of a SHA-256 of the bytes (the "81/65" counts one
 *   padding block per page), done page by page, as the cheapest loader
 *   would: each page is hashed while it is still in the cache after its
 *   copy.
 *
 * Variants (each a series of rounds; every round times the floor, then the
 * work, moments apart; see report() for read_case() and plain_case()):
 *   1 core    one thread loads one enclave (target <= 1.15 x the floor)
 *   2 cores   the same with the driver's helper thread (cfg.add_helper), which
 *             reads the source ahead while the ioctl adds and measures
 *             (target < 1.0 x the one-core floor).  Before it, the floor with
 *             a thread spinning beside it over the floor alone: about 1 where
 *             a second core is free, which a two-core figure needs.
 *   N at once N threads each load their own enclave at the same time,
 *             against N threads each doing the floor at the same time
 *
 * The EPC holds every enclave at once (size + 10%), so nothing is
 * reclaimed; a last variant, for information, loads one enclave into an EPC
 * half its size, so that ADD_PAGES evicts its own earlier pages.  Each round's enclaves are released again, untimed; a first
 * round, which also pays for first-touching the EPC, is not counted.
 *
 * Usage: bench_load [MIB [ROUNDS [N]]]   (defaults 1024, 5, 2; e.g.
 * `bench_load 64` for a quick run)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_sim.h"
#include "bench_stats.h"
#include "sim.h"
#include "softsgx/measure.h"
#include "softsgx/sign.h"
#include "softsgx/uapi/sgx.h"

#define BASE 0x400000000000ULL
#define PG 4096UL
#define RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)
#define MAX_N 8

static unsigned long size;          /* bytes per enclave (its ELRANGE too) */
/*
 * The heap image, one copy per loader: loaders pinning the same source pages
 * at once would bounce their reference counts between cores, which real
 * loaders of different enclaves do not.
 */
static uint8_t *srcs[MAX_N];
static uint8_t *dst[MAX_N];         /* where each floor copies to */
static struct sgx_sigstruct *sigstruct;
static struct sim_host host;
static struct sgx_driver *drv;
static double sink;                 /* keeps the floor's hash alive */

static void *big_alloc(unsigned long n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	return p;
}

/* The floor of one loader: each page copied, then its 81 compressions. */
static double floor_one(int i)
{
	struct sgx_measure m;
	double t = bench_now();

	sgx_measure_ecreate(&m, 1, size);
	for (unsigned long off = 0; off < size; off += PG) {
		memcpy(dst[i] + off, srcs[i] + off, PG);
		sgx_measure_eadd(&m, off, RW);
		for (unsigned long c = 0; c < PG; c += 256)
			sgx_measure_eextend(&m, off + c, dst[i] + off + c);
	}
	t = bench_now() - t;
	sink += m.h[0];
	return t;
}

/*
 * CREATE + ADD_PAGES (the whole heap, measured, one ioctl) + INIT, timed;
 * the release after it is not.  @end (if not NULL): when the INIT returned.
 */
static double load_one(int i, double *end)
{
	static _Thread_local struct sgx_secs secs __attribute__((aligned(4096)));
	static _Thread_local struct sgx_secinfo si __attribute__((aligned(64)));
	uint64_t base = BASE + (uint64_t)i * 2 * size;
	struct sgx_enclave_create c = { (uint64_t)(uintptr_t)&secs };
	struct sgx_enclave_add_pages a = {
		.src = (uint64_t)(uintptr_t)srcs[i],
		.offset = 0,
		.length = size,
		.secinfo = (uint64_t)(uintptr_t)&si,
		.flags = SGX_PAGE_MEASURE,
	};
	struct sgx_enclave_init in = { (uint64_t)(uintptr_t)sigstruct };
	struct sgx_mm *mm = sim_mm_new(&host, i);
	struct sgx_encl *encl;
	double t;
	int err;

	bench_heap_secs(&secs, &si, base, size);
	if (!mm)
		return -1;
	t = bench_now();
	encl = sgx_open(drv, &err);
	err = !encl ? err : sim_mmap(mm, encl, base, size, VM_READ | VM_WRITE);
	if (!err)
		err = (int)sgx_ioctl(encl, mm, SGX_IOC_ENCLAVE_CREATE, (unsigned long)&c);
	if (!err)
		err = (int)sgx_ioctl(encl, mm, SGX_IOC_ENCLAVE_ADD_PAGES, (unsigned long)&a);
	if (!err && a.count != size)
		err = -EINTR;
	if (!err)
		err = (int)sgx_ioctl(encl, mm, SGX_IOC_ENCLAVE_INIT, (unsigned long)&in);
	if (err) {
		fprintf(stderr, "bench: loading enclave %d failed: %d (%lu bytes added)\n", i, err,
			(unsigned long)a.count);
		exit(1);
	}
	if (end)
		*end = bench_now();
	t = bench_now() - t;
	sim_mm_exit(mm);
	sgx_release(encl);
	sim_mm_free(mm);
	return t;
}

/*
 * The same through /dev/sgx_enclave: under `softsgx exec`, the real host
 * (the shim), whose driver reads the source as the kernel's copy_from_user()
 * does.  Its release (the close) is not timed either.
 */
static double load_real(void *ctx, unsigned long iters)
{
	static struct sgx_secs secs __attribute__((aligned(4096)));
	static struct sgx_secinfo si __attribute__((aligned(64)));
	struct sgx_enclave_create c = { (uint64_t)(uintptr_t)&secs };
	struct sgx_enclave_add_pages a = {
		.src = (uint64_t)(uintptr_t)srcs[0], .length = size,
		.secinfo = (uint64_t)(uintptr_t)&si, .flags = SGX_PAGE_MEASURE,
	};
	struct sgx_enclave_init in = { (uint64_t)(uintptr_t)sigstruct };
	double t;
	int fd;

	(void)ctx;
	(void)iters;
	bench_heap_secs(&secs, &si, BASE, size);
	t = bench_now();
	fd = open("/dev/sgx_enclave", O_RDWR);
	if (fd < 0 || ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &c) ||
	    ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a) || a.count != size ||
	    ioctl(fd, SGX_IOC_ENCLAVE_INIT, &in)) {
		perror("bench: loading through /dev/sgx_enclave");
		exit(1);
	}
	t = bench_now() - t;
	close(fd);
	return t;
}

/*
 * N threads doing the same thing at once; the sample is the whole group's
 * wall time, from the start to the last one's end (not its release).
 */
struct group {
	int n;
	bool work;
	pthread_barrier_t go;
};

struct member {
	struct group *g;
	int i;
	double end;
};

static void *member_run(void *arg)
{
	struct member *m = arg;

	pthread_barrier_wait(&m->g->go);
	if (m->g->work) {
		load_one(m->i, &m->end);
	} else {
		floor_one(m->i);
		m->end = bench_now();
	}
	return NULL;
}

static double group_run(void *ctx, unsigned long iters)
{
	struct group *g = ctx;
	struct member ms[MAX_N];
	pthread_t th[MAX_N];
	double t;

	(void)iters;
	pthread_barrier_init(&g->go, NULL, (unsigned int)g->n + 1);
	for (int i = 0; i < g->n; i++) {
		ms[i] = (struct member){ .g = g, .i = i };
		if (pthread_create(&th[i], NULL, member_run, &ms[i])) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&g->go);
	t = bench_now();
	for (int i = 0; i < g->n; i++)
		pthread_join(th[i], NULL);
	for (int i = 1; i < g->n; i++)
		if (ms[i].end > ms[0].end)
			ms[0].end = ms[i].end;
	t = ms[0].end - t;
	pthread_barrier_destroy(&g->go);
	return t;
}

static double floor_case(void *ctx, unsigned long iters)
{
	(void)ctx;
	(void)iters;
	return floor_one(0);
}

/* @ctx: NULL for one core, non-NULL for two (the driver's helper thread). */
static double load_case(void *ctx, unsigned long iters)
{
	(void)iters;
	drv->cfg.add_helper = ctx != NULL;
	return load_one(0, NULL);
}

/* The helper thread of the driver on (true) or off for the next loads. */
static void set_cores(int cores)
{
	drv->cfg.add_helper = cores > 1;
}

/* The source read 64 KiB at a time into a buffer that stays in the cache. */
static double chunked_read(bool through_host)
{
	static uint8_t buf[16 * PG] __attribute__((aligned(4096)));
	double t = bench_now();

	for (unsigned long off = 0; off < size; off += sizeof(buf)) {
		if (!through_host)
			memcpy(buf, srcs[0] + off, sizeof(buf));
		else if (host.ops.copy_from_user(&host, buf, (uint64_t)(uintptr_t)(srcs[0] + off),
						 sizeof(buf)))
			exit(1);
	}
	t = bench_now() - t;
	sink += buf[0];
	return t;
}

/*
 * What the driver pays the host to read the source, which the floor does not
 * have: the host's copy_from_user() in the batches ADD_PAGES reads in
 * (process_vm_readv() of 64 KiB, which pins each page).  For information: it
 * shows how much of a ratio is the read of user memory that the kernel does
 * not make (it pins the page and EADD reads it in place).
 */
static double read_case(void *ctx, unsigned long iters)
{
	(void)ctx;
	(void)iters;
	return chunked_read(true);
}

/*
 * The same by a plain memcpy: the part of the host's read that the floor's
 * own copy also pays (streaming the source from memory).  The read less
 * this is what the system call and the pinning add.
 */
static double plain_case(void *ctx, unsigned long iters)
{
	(void)ctx;
	(void)iters;
	return chunked_read(false);
}

/* The floor with another thread spinning meanwhile: is there a second core to use? */
static _Atomic bool spin_stop;

static void *spinner(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	while (!spin_stop)
		x++;
	return NULL;
}

static double floor_spin_case(void *ctx, unsigned long iters)
{
	pthread_t th;
	double t;

	(void)ctx;
	(void)iters;
	spin_stop = false;
	if (pthread_create(&th, NULL, spinner, NULL))
		exit(1);
	t = floor_one(0);
	spin_stop = true;
	pthread_join(th, NULL);
	return t;
}

/* What report()'s middle cases are. */
#define R_READ 1   /* the second is read_case() */
#define R_PLAIN 2  /* the third is plain_case() */
#define R_ONE 4    /* the one before the work is the one-core load */

/*
 * Time @n cases (the floor first, the work last) in interleaved rounds after
 * one warm-up round, and print the work over the floor, and by @how the
 * work over the floor plus the read, over the floor plus what the read adds
 * to a plain copy, and over the one-core load.
 */
static void report(const char *what, const struct bench_case *cases, int n, int rounds,
		   double target, const char *target_text, int how)
{
	double *s = calloc((size_t)rounds * (size_t)n, sizeof(double));
	const double *work = s + (n - 1) * rounds;
	struct bench_ratio r;
	char buf[160];

	if (!s)
		exit(1);
	bench_interleave(cases, n, 1, 1, s); /* the first round only warms up */
	bench_interleave(cases, n, rounds, 1, s);
	bench_ratio(&r, work, s, rounds);
	printf("%-34s %8.3f s vs floor %7.3f s: %s", what, r.num, r.den,
	       bench_fmt(buf, sizeof(buf), &r));
	if (target > 0)
		printf("  target %s: %s", target_text, bench_verdict(&r, target, true, 1.0));
	printf("\n");
	if (how & R_READ) {
		double *den = calloc((size_t)rounds, sizeof(double));

		if (!den)
			exit(1);
		for (int i = 0; i < rounds; i++)
			den[i] = s[i] + s[rounds + i];
		bench_ratio(&r, work, den, rounds);
		printf("  the host's read of the source (copy_from_user, 64 KiB at a time): %.3f s; "
		       "work over floor + read: %s\n", bench_median(s + rounds, rounds),
		       bench_fmt(buf, sizeof(buf), &r));
		if (how & R_PLAIN) {
			/* The floor streams the source from memory too: count that once. */
			for (int i = 0; i < rounds; i++)
				den[i] = s[i] + s[rounds + i] - s[2 * rounds + i];
			bench_ratio(&r, work, den, rounds);
			printf("  a plain copy of the source the same way: %.3f s; work over floor + "
			       "(read - plain copy): %s\n", bench_median(s + 2 * rounds, rounds),
			       bench_fmt(buf, sizeof(buf), &r));
		}
		free(den);
	}
	if (how & R_ONE) {
		bench_ratio(&r, work, s + (n - 2) * rounds, rounds);
		printf("  over one core in the same rounds: %s\n", bench_fmt(buf, sizeof(buf), &r));
	}
	fflush(stdout);
	free(s);
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	int n = argc > 3 ? atoi(argv[3]) : 2;
	struct sgx_measure m;
	struct sgx_driver *big;
	struct group g;
	EVP_PKEY *key;

	if (rounds < 3)
		rounds = 3;
	if (n < 1 || n > MAX_N)
		n = 2;
	for (size = 0x10000; size < mib << 20;)
		size <<= 1;
	srcs[0] = big_alloc(size);
	for (unsigned long off = 0; off < size; off += PG)
		memset(srcs[0] + off, (int)(off / PG * 7 + 1), PG);
	for (int i = 0; i < n; i++) {
		if (i) {
			srcs[i] = big_alloc(size);
			memcpy(srcs[i], srcs[0], size);
		}
		dst[i] = big_alloc(size);
		memset(dst[i], 0, size);
	}

	/* Every enclave has the same MRENCLAVE: offsets are measured, not the base. */
	sgx_measure_ecreate(&m, 1, size);
	for (unsigned long off = 0; off < size; off += PG) {
		sgx_measure_eadd(&m, off, RW);
		for (unsigned long c = 0; c < PG; c += 256)
			sgx_measure_eextend(&m, off + c, srcs[0] + off + c);
	}
	sigstruct = aligned_alloc(PG, PG);
	key = sgx_sign_generate_key();
	if (!sigstruct || !key || bench_sign(sigstruct, &m, key))
		return 1;

	if (argc > 4 && !strcmp(argv[4], "real")) {
		struct bench_case one[3] = { { floor_case, NULL }, { plain_case, NULL },
					     { load_real, NULL } };

		if (access("/dev/sgx_enclave", R_OK | W_OK)) {
			fprintf(stderr, "bench: \"real\" runs under softsgx exec (no /dev/sgx_enclave)\n");
			return 1;
		}
		printf("softsgx loading benchmark on the real host (softsgx exec): CREATE + ADD_PAGES "
		       "(measured) + INIT of a %lu MiB heap enclave through /dev/sgx_enclave;\n%d "
		       "rounds after one warm-up, each the floor then the work; floor as below.\n",
		       size >> 20, rounds);
		report("real host, 1 core", one, 3, rounds, 1.15, "<= 1.15", 0);
		return 0;
	}
	sim_host_init(&host);
	drv = bench_quiet_driver(&host, (unsigned long)n * (size / PG + size / PG / 10 + 64));
	if (!drv)
		return 1;

	if (argc > 4 && !strncmp(argv[4], "load", 4)) {
		set_cores(argv[4][4] == '2' ? 2 : 1);
		/* For a profiler: only the work, @rounds times ("loadn": N enclaves at once). */
		g = (struct group){ .n = n, .work = true };
		for (int r = 0; r < rounds; r++) {
			double t0 = bench_now();

			printf("load at %.6f: %.3f s\n", t0,
			       argv[4][4] == 'n' ? group_run(&g, 1) : load_one(0, NULL));
		}
		return 0;
	}
	printf("softsgx loading benchmark: CREATE + ADD_PAGES (measured) + INIT of a %lu MiB heap "
	       "enclave on the simulated host,\nan EPC that holds every enclave (no reclaim); "
	       "%d rounds after one warm-up, each the floor then the work.\nFloor: per page one "
	       "4 KiB copy + the 81 SHA-256 compressions of MRENCLAVE (model's measurement "
	       "functions).\nRatios are medians over medians; the bracket is the IQR of the "
	       "per-round ratios.\n", size >> 20, rounds);
	{
		struct bench_case one[4] = { { floor_case, NULL }, { read_case, NULL },
					     { plain_case, NULL }, { load_case, NULL } };
		struct bench_case two[4] = { { floor_case, NULL }, { read_case, NULL },
					     { load_case, NULL }, { load_case, one } };
		struct bench_case spin[2] = { { floor_case, NULL }, { floor_spin_case, NULL } };

		report("1 core", one, 4, rounds, 1.15, "<= 1.15", R_READ | R_PLAIN);
		/*
		 * On a shared machine the second core may be busy elsewhere; a
		 * two-core figure means something only where this is about 1.
		 */
		report("floor, a thread spinning beside", spin, 2, rounds, 0, NULL, 0);
		report("2 cores (source read ahead)", two, 4, rounds, 1.0, "< 1.0", R_READ | R_ONE);
	}
	{
		struct group fl = { .n = n, .work = false };
		char what[64];

		g = (struct group){ .n = n, .work = true };
		struct bench_case many[2] = { { group_run, &fl }, { group_run, &g } };

		set_cores(1);
		snprintf(what, sizeof(what), "%d enclaves at once (1 core each)", n);
		report(what, many, 2, rounds, 0, NULL, 0);
	}
	{
		struct bench_case one[2] = { { floor_case, NULL }, { load_case, NULL } };

		/*
		 * An EPC of half the enclave: ADD_PAGES reclaims (EWB) its own
		 * earlier pages to make room, for information.
		 */
		big = drv;
		drv = bench_quiet_driver(&host, size / PG / 2);
		if (!drv)
			return 1;
		report("1 core, EPC half the enclave", one, 2, rounds, 0, NULL, 0);
		sim_driver_destroy(drv);
		drv = big;
	}
	if (sink == 0.5)
		printf("\n");
	EVP_PKEY_free(key);
	sim_driver_destroy(drv);
	return 0;
}
