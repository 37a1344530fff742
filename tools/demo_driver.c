// SPDX-License-Identifier: MIT
/*
 * The driver half of `softsgx demo`: the user-space Linux SGX driver running
 * on the simulated host.  An enclave four times the EPC is built through the
 * /dev/sgx_enclave ioctls, read back in random order through page faults
 * while ksgxd and direct reclaim page it through EWB/ELDU, grown with EAUG,
 * and a second enclave runs under an EPC cgroup limit until the limit is cut
 * to zero: under v5 of the cgroup series the EPC OOM killer takes it, under
 * v17 it lives on and its next fault that needs a page gets SIGBUS.  Every
 * page read is checked against what was added, and the EPC accounting must
 * close at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sim.h"
#include "softsgx/measure.h"
#include "softsgx/sign.h"
#include "softsgx/uapi/sgx.h"

#define DRV_BASE 0x400000000UL
#define CG_BASE 0x500000000UL
#define PG 4096UL
#define RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)
#define ATTR (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)

struct drv_enclave {
	struct sgx_encl *encl;
	unsigned long base, size;
	unsigned int nr;
};

/* The byte at @off of data page @page: distinct per page and per offset. */
static uint8_t content(unsigned int page, unsigned int off)
{
	return (uint8_t)(page * 131 + off * 7 + (off >> 8));
}

static void fill(uint8_t *p, unsigned int page)
{
	for (unsigned int off = 0; off < PG; off++)
		p[off] = content(page, off);
}

static const char *errname(long r)
{
	return strerror((int)-r);
}

static uint64_t cg_value(struct sgx_cgroup *cg, const char *file)
{
	char buf[64];
	const char *sp;

	if (sgx_cgroup_read(cg, file, buf, sizeof(buf)) < 0 || !(sp = strchr(buf, ' ')))
		return 0;
	return strtoull(sp + 1, NULL, 10);
}

/*
 * CREATE, ADD_PAGES (measured: EADD + 16 x EEXTEND per page) and INIT with
 * a SIGSTRUCT signed by @key for the same pages, computed offline.
 */
static int build(struct sgx_driver *drv, struct sgx_mm *mm, struct drv_enclave *e,
		 unsigned long base, unsigned int nr, unsigned int spare, EVP_PKEY *key,
		 unsigned int *calls)
{
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = RW };
	struct sgx_secs *secs = aligned_alloc(PG, PG);
	struct sgx_sigstruct *ss = aligned_alloc(PG, PG);
	uint8_t *src = aligned_alloc(PG, (size_t)nr * PG);
	struct sgx_enclave_create create;
	struct sgx_enclave_init init;
	struct sgx_measure m;
	uint8_t mr[32];
	unsigned long added = 0;
	int err = -ENOMEM;
	long r;

	e->base = base;
	e->nr = nr;
	for (e->size = 1UL << 16; e->size < (unsigned long)(nr + spare) * PG;)
		e->size <<= 1;
	e->encl = NULL;
	if (!secs || !ss || !src)
		goto out;
	e->encl = sgx_open(drv, &err);
	if (!e->encl)
		goto out;
	err = sim_mmap(mm, e->encl, base, e->size, VM_READ | VM_WRITE);
	if (err) {
		cli_err("mmap of the enclave: %s", errname(err));
		goto out;
	}

	memset(secs, 0, PG);
	secs->base = base;
	secs->size = e->size;
	secs->ssa_frame_size = 1;
	secs->attributes = ATTR;
	secs->xfrm = 3;
	create.src = (uint64_t)(uintptr_t)secs;
	r = sgx_ioctl(e->encl, mm, SGX_IOC_ENCLAVE_CREATE, (unsigned long)&create);
	if (r) {
		cli_err("SGX_IOC_ENCLAVE_CREATE: %s", errname(r));
		err = (int)r;
		goto out;
	}
	sgx_measure_ecreate(&m, 1, e->size);
	for (unsigned int i = 0; i < nr; i++) {
		fill(src + (size_t)i * PG, i);
		sgx_measure_eadd(&m, (uint64_t)i * PG, RW);
		for (unsigned int c = 0; c < PG; c += 256)
			sgx_measure_eextend(&m, (uint64_t)i * PG + c, src + (size_t)i * PG + c);
	}
	sgx_measure_final(&m, mr);

	*calls = 0;
	while (added < (unsigned long)nr * PG) {
		struct sgx_enclave_add_pages ap = {
			.src = (uint64_t)(uintptr_t)(src + added),
			.offset = added,
			.length = (unsigned long)nr * PG - added,
			.secinfo = (uint64_t)(uintptr_t)&si,
			.flags = SGX_PAGE_MEASURE,
		};

		r = sgx_ioctl(e->encl, mm, SGX_IOC_ENCLAVE_ADD_PAGES, (unsigned long)&ap);
		(*calls)++;
		added += ap.count;
		/* -ERESTARTSYS or -EINTR with progress: the caller simply calls again. */
		if (r && !ap.count) {
			cli_err("SGX_IOC_ENCLAVE_ADD_PAGES at offset %#lx: %s",
				added, errname(r));
			err = (int)r;
			goto out;
		}
	}

	if (demo_sigstruct(ss, mr, ATTR, key)) {
		err = -EINVAL;
		goto out;
	}
	init.sigstruct = (uint64_t)(uintptr_t)ss;
	r = sgx_ioctl(e->encl, mm, SGX_IOC_ENCLAVE_INIT, (unsigned long)&init);
	if (r) {
		cli_err("SGX_IOC_ENCLAVE_INIT: %s (SGX error %ld)",
			r > 0 ? "EINIT refused" : errname(r), r > 0 ? r : 0);
		err = r > 0 ? -EPERM : (int)r;
		goto out;
	}
	err = 0;
out:
	free(src);
	free(ss);
	free(secs);
	return err;
}

/*
 * A CPU access from the simulated host: fault the page in if needed (ELDU of
 * an evicted page, EAUG of a new one) and return what the CPU then reads
 * through the PTE, or NULL with *@vmf set to the fault's outcome.
 */
static const uint8_t *touch(struct sgx_driver *drv, struct sgx_mm *mm, unsigned long addr,
			    unsigned long prot, int *vmf)
{
	struct sgx_epc_page *epc;

	*vmf = sim_access(mm, addr, prot);
	if (*vmf)
		return NULL;
	epc = sim_pte(mm, addr);
	return epc ? sgx_epc_page_bytes(drv->cpu, sgx_get_epc_virt_addr(epc)) : NULL;
}

static const char *vmf_name(int vmf)
{
	return vmf == VM_FAULT_SIGBUS ? "SIGBUS" : vmf == VM_FAULT_OOM ? "OOM" : "no mapping";
}

/* Read every data page of @e back in a random order and compare every byte. */
static int read_back(struct sgx_driver *drv, struct sgx_mm *mm, struct drv_enclave *e,
		     unsigned int seed)
{
	unsigned int *order = malloc(e->nr * sizeof(*order));
	int ret = -1;

	if (!order)
		return -1;
	for (unsigned int i = 0; i < e->nr; i++)
		order[i] = i;
	for (unsigned int i = e->nr - 1; i > 0; i--) {
		unsigned int j, t;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned int k = 0; k < e->nr; k++) {
		unsigned int i = order[k];
		const uint8_t *b;
		int vmf;

		b = touch(drv, mm, e->base + i * PG, VM_READ, &vmf);
		if (!b) {
			cli_err("reading page %u: %s", i, vmf_name(vmf));
			goto out;
		}
		for (unsigned int off = 0; off < PG; off++) {
			if (b[off] != content(i, off)) {
				cli_err("page %u byte %u: %#x, added as %#x", i, off,
					b[off], content(i, off));
				goto out;
			}
		}
	}
	ret = 0;
out:
	free(order);
	return ret;
}

static void show_counters(struct sgx_driver *drv, const char *indent)
{
	struct sgx_driver_counters c;

	sgx_driver_counters(drv, &c);
	printf("%sEPC        %llu total, %llu free, %llu used (%llu reclaimable), %llu leaked\n",
	       indent, (unsigned long long)c.total, (unsigned long long)c.free,
	       (unsigned long long)c.used, (unsigned long long)c.reclaimable,
	       (unsigned long long)c.leaked);
	printf("%spaging     EWB %llu  ELDU %llu  EAUG %llu  EREMOVE %llu\n", indent,
	       (unsigned long long)c.ewb, (unsigned long long)c.eldu, (unsigned long long)c.eaug,
	       (unsigned long long)c.eremove);
	printf("%sreclaim    %llu batches, %llu direct, %llu ksgxd wakeups, %llu ETRACK IPIs, "
	       "%llu OOM kills\n",
	       indent, (unsigned long long)c.reclaim_batches,
	       (unsigned long long)c.direct_reclaims, (unsigned long long)c.ksgxd_wakeups,
	       (unsigned long long)c.etrack_ipis, (unsigned long long)c.oom_kills);
}

static void show_enclave(const char *what, struct drv_enclave *e)
{
	uint64_t resident, evicted;

	sgx_encl_counters(e->encl, &resident, &evicted);
	printf("  %-10s %llu pages resident, %llu evicted to its backing memfd\n", what,
	       (unsigned long long)resident, (unsigned long long)evicted);
}

/*
 * The driver logs to stderr as the kernel logs to dmesg.  Its start-up
 * messages ("EPC section ...") are the demo's output, not errors: collect
 * them while it starts, then show them on stdout, or on stderr if it failed.
 */
struct log_capture {
	FILE *file;
	int saved_stderr;
};

static void capture_start(struct log_capture *lc)
{
	fflush(stderr);
	lc->saved_stderr = -1;
	lc->file = tmpfile();
	if (!lc->file)
		return;
	lc->saved_stderr = dup(STDERR_FILENO);
	if (lc->saved_stderr < 0 || dup2(fileno(lc->file), STDERR_FILENO) < 0) {
		if (lc->saved_stderr >= 0)
			close(lc->saved_stderr);
		lc->saved_stderr = -1;
		fclose(lc->file);
		lc->file = NULL;
	}
}

static void capture_end(struct log_capture *lc, bool failed)
{
	char line[512];

	if (!lc->file)
		return;
	fflush(stderr);
	dup2(lc->saved_stderr, STDERR_FILENO);
	close(lc->saved_stderr);
	rewind(lc->file);
	while (fgets(line, sizeof(line), lc->file)) {
		if (failed)
			fputs(line, stderr);
		else
			printf("  log: %s", line);
	}
	fclose(lc->file);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* v5: the write queues the work, which reclaims, then kills enclave B. */
static int limit_zero_v5(struct sgx_cgroup *cg, struct sgx_driver *drv, struct sgx_mm *mm,
			 struct drv_enclave *e)
{
	unsigned int limit_s;
	double t0;
	int vmf;

	/*
	 * ksgxd first reclaims what it can, a time that grows with the
	 * enclave.  The bound only stops a hang: a loaded machine (a sanitizer
	 * build beside a test suite on two cores) took more than 6 s once.
	 */
	limit_s = 60 + e->nr / 256;
	t0 = seconds();
	while (!encl_test_flag(e->encl, SGX_ENCL_NO_MEMORY) && seconds() - t0 < limit_s) {
		struct timespec ms = { 0, 1000000 };

		nanosleep(&ms, NULL);
	}
	if (!encl_test_flag(e->encl, SGX_ENCL_NO_MEMORY)) {
		cli_err("the enclave was not killed within %u s", limit_s);
		return -1;
	}
	printf("  enclave B killed after %.2f s; misc.current %llu bytes (its VA pages, freed on "
	       "release)\n",
	       seconds() - t0, (unsigned long long)cg_value(cg, "misc.current"));
	if (touch(drv, mm, CG_BASE, VM_READ, &vmf) || vmf != VM_FAULT_SIGBUS) {
		cli_err("a killed enclave's page fault did not get SIGBUS");
		return -1;
	}
	printf("  its next page fault: %s, as on Linux\n", vmf_name(vmf));
	return 0;
}

/*
 * v17: nothing happens at the write; enclave B's next fault that needs a
 * page is refused by the charge once the work has reclaimed what it could.
 */
static int limit_zero_v17(struct sgx_cgroup *cg, struct sgx_driver *drv, struct sgx_mm *mm,
			  struct drv_enclave *e)
{
	struct sgx_driver_counters c;
	struct timespec ms = { 0, 100000000 };
	uint64_t kills;
	unsigned int i;
	int vmf;

	sgx_driver_counters(drv, &c);
	kills = c.oom_kills;
	nanosleep(&ms, NULL);
	printf("  100 ms later: misc.current %llu bytes, enclave B alive (only global reclaim, "
	       "when the EPC runs low, takes its pages)\n",
	       (unsigned long long)cg_value(cg, "misc.current"));
	for (i = 0; i < e->nr && sim_pte(mm, e->base + i * PG); i++)
		;
	sim_set_cgroup(cg);
	touch(drv, mm, e->base + i * PG, VM_READ, &vmf);
	sim_set_cgroup(NULL);
	sgx_driver_counters(drv, &c);
	if (vmf != VM_FAULT_SIGBUS || c.oom_kills != kills ||
	    encl_test_flag(e->encl, SGX_ENCL_NO_MEMORY)) {
		cli_err("v17: the fault of an evicted page got %s, %llu kills",
			vmf_name(vmf), (unsigned long long)(c.oom_kills - kills));
		return -1;
	}
	printf("  a fault of evicted page %u: the charge queues the work, which reclaims what "
	       "it can (misc.current %llu bytes), then finds nothing to reclaim: %s; the "
	       "enclave is not killed\n",
	       i, (unsigned long long)cg_value(cg, "misc.current"), vmf_name(vmf));
	return 0;
}

/* Steps 10-11: an enclave under a cgroup limit, then the limit cut to zero. */
static int cgroup_part(struct sgx_driver *drv, struct sim_host *h, EVP_PKEY *key,
		       unsigned int nr, enum sgx_cg_policy policy)
{
	const char *tag = sgx_cg_policy_name(policy);
	unsigned int limit = nr / 4, calls;
	struct drv_enclave e = { 0 };
	struct sgx_mm *mm = sim_mm_new(h, 2);
	struct sgx_cgroup *cg;
	char max[64];
	int err, ret = -1;

	if (!mm)
		return -1;
	/* No enclave is in a cgroup between the parts: the policy may change. */
	sgx_cg_set_policy(drv, policy);
	/*
	 * Enclave A fills the EPC.  Let ksgxd get back to its high watermark
	 * first: a new cgroup's first page is refused while every EPC page is
	 * charged (docs/quirks.md, Q22).
	 */
	for (int ms = 0; ms < 2000 && atomic_load(&drv->nr_free_pages) < SGX_NR_HIGH_PAGES; ms++) {
		struct timespec t = { 0, 1000000 };

		nanosleep(&t, NULL);
	}
	cg = sgx_cgroup_create(&drv->root_cg, "demo", &err);
	if (!cg) {
		cli_err("cannot create the cgroup: %s", errname(err));
		sim_mm_free(mm);
		return -1;
	}
	snprintf(max, sizeof(max), "sgx_epc %lu", limit * PG);
	printf("10. [%s] EPC cgroup \"demo\", following %s of the EPC cgroup series: misc.max = "
	       "\"%s\" (%u pages); an enclave of %u pages in it\n",
	       tag, tag, max, limit, nr);
	if ((err = sgx_cgroup_write(cg, "misc.max", max))) {
		cli_err("writing misc.max: %s", errname(err));
		goto out;
	}
	sim_set_cgroup(cg);
	err = build(drv, mm, &e, CG_BASE, nr, 0, key, &calls);
	if (!err)
		err = read_back(drv, mm, &e, 99);
	sim_set_cgroup(NULL);
	if (err)
		goto out;
	printf("  built, initialized and read back intact; misc.current %llu, misc.peak %llu "
	       "bytes (limit %lu), misc.events max %llu\n",
	       (unsigned long long)cg_value(cg, "misc.current"),
	       (unsigned long long)cg_value(cg, "misc.peak"), limit * PG,
	       (unsigned long long)cg_value(cg, "misc.events"));
	if (cg_value(cg, "misc.peak") > limit * PG) {
		cli_err("the cgroup went over its limit");
		goto out;
	}
	show_enclave("enclave B", &e);

	printf("11. [%s] misc.max = \"sgx_epc 0\": %s\n", tag,
	       policy == SGX_CG_V5 ? "the write queues the cgroup's work: ksgxd reclaims what "
				     "it can, then the EPC OOM killer" :
				     "limits are enforced only when a page is charged; there is "
				     "no OOM killer");
	if ((err = sgx_cgroup_write(cg, "misc.max", "sgx_epc 0"))) {
		cli_err("writing misc.max: %s", errname(err));
		goto out;
	}
	ret = policy == SGX_CG_V5 ? limit_zero_v5(cg, drv, mm, &e) : limit_zero_v17(cg, drv, mm, &e);
out:
	/* Its own address space exits first, as a process's does before its files close. */
	sim_mm_exit(mm);
	if (e.encl)
		sgx_release(e.encl);
	sim_mm_free(mm);
	if ((err = sgx_cgroup_destroy(cg)))
		cli_err("cgroup destroy: %s", errname(err));
	return ret;
}

/**
 * demo_driver() - the driver part of the demo, steps 7 to 12
 * @key: the RSA-3072 e=3 key the enclaves are signed with
 * @epc_pages: the driver's EPC size in frames
 * @policies: the cgroup series' revisions to show steps 10-11 under, a mask
 *            of 1 << SGX_CG_V17 and 1 << SGX_CG_V5
 *
 * Return: 0 when every step did what it should, -1 otherwise (the reason is
 * on stderr).
 */
int demo_driver(EVP_PKEY *key, unsigned int epc_pages, unsigned int policies)
{
	struct sgx_driver_config dcfg = { 0 };
	struct sgx_driver_counters c;
	struct sgx_cpu_config cfg;
	struct drv_enclave a = { 0 };
	struct sgx_driver *drv = NULL;
	struct sgx_cpu *cpu;
	struct sgx_mm *mm = NULL;
	struct log_capture log;
	struct sim_host h;
	unsigned int nr = 4 * epc_pages, grow = 16, calls;
	double t0;
	int err, vmf, ret = -1;

	sgx_cpu_default_config(&cfg);
	cfg.epc_size = (uint64_t)epc_pages * PG;
	cpu = sgx_cpu_create(&cfg, &err);
	if (!cpu) {
		cli_err("cannot create the platform: %s", errname(err));
		return -1;
	}
	sim_host_init(&h);
	dcfg.host_ops = &h.ops;
	dcfg.host = &h;
	capture_start(&log);
	drv = sgx_driver_create(cpu, &dcfg, &err);
	if (drv)
		sgx_sanitize_now(drv);
	if (drv)
		printf("7. The driver: %u-frame EPC (%u KiB), ksgxd running, watermarks %d/%d "
		       "free pages, on the simulated host\n",
		       epc_pages, epc_pages * 4, SGX_NR_LOW_PAGES, SGX_NR_HIGH_PAGES);
	capture_end(&log, !drv);
	if (!drv) {
		cli_err("cannot start the driver: %s", errname(err));
		goto out;
	}
	mm = sim_mm_new(&h, 1);
	if (!mm)
		goto out;

	printf("8. /dev/sgx_enclave: CREATE, ADD_PAGES of %u measured pages (4x the EPC), "
	       "INIT\n",
	       nr);
	t0 = seconds();
	if (build(drv, mm, &a, DRV_BASE, nr, grow, key, &calls))
		goto out;
	sgx_driver_counters(drv, &c);
	printf("  enclave A initialized in %.2f s: %u ADD_PAGES calls, %llu pages evicted "
	       "on the way\n",
	       seconds() - t0, calls, (unsigned long long)c.ewb);
	show_enclave("enclave A", &a);

	printf("9. Read all %u pages back in random order through page faults (ELDU), "
	       "checking every byte\n",
	       nr);
	t0 = seconds();
	if (read_back(drv, mm, &a, 7))
		goto out;
	printf("  all %u pages intact after %.2f s\n", nr, seconds() - t0);
	for (unsigned int i = 0; i < grow; i++) {
		unsigned long addr = a.base + (unsigned long)(nr + i) * PG;

		if (!touch(drv, mm, addr, VM_READ | VM_WRITE, &vmf)) {
			cli_err("first touch at %#lx: %s", addr, vmf_name(vmf));
			goto out;
		}
	}
	printf("  SGX2: first touch of %u pages past the last one added EAUGs them (pending "
	       "until the enclave's EACCEPT)\n",
	       grow);
	show_enclave("enclave A", &a);
	show_counters(drv, "  ");

	for (int p = SGX_CG_V17; p <= SGX_CG_V5; p++)
		if ((policies & (1u << p)) && cgroup_part(drv, &h, key, epc_pages, p))
			goto out;

	printf("12. Release: the address space exits, the enclave files close\n");
	sim_mm_exit(mm);
	sgx_release(a.encl);
	a.encl = NULL;
	/*
	 * ksgxd may still hold a reference from a batch it took before: the
	 * last put frees the enclave, so wait for it (a bound against a hang).
	 */
	for (int ms = 0; ms < 10000; ms++) {
		struct timespec t = { 0, 1000000 };

		sgx_driver_counters(drv, &c);
		if (!c.enclaves)
			break;
		nanosleep(&t, NULL);
	}
	show_counters(drv, "  ");
	if (c.free + c.poisoned + c.leaked != c.total || c.leaked || c.enclaves) {
		cli_err("EPC accounting does not close: %llu free of %llu, %llu "
			"leaked, %llu enclaves alive",
			(unsigned long long)c.free, (unsigned long long)c.total,
			(unsigned long long)c.leaked, (unsigned long long)c.enclaves);
		goto out;
	}
	printf("  every EPC page is free again, none leaked\n");
	ret = 0;
out:
	if (a.encl)
		sgx_release(a.encl);
	if (mm)
		sim_mm_free(mm);
	if (drv)
		sgx_driver_destroy(drv);
	sgx_cpu_destroy(cpu);
	return ret;
}
