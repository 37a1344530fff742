// SPDX-License-Identifier: MIT
/*
 * The SGX usage count and EUPDATESVN (Linux's sgx_inc_usage_count()): the first open of
 * /dev/sgx_enclave or /dev/sgx_vepc while no enclave or vEPC exists runs
 * EUPDATESVN (when the CPU has it), retrying ten times for entropy; -EAGAIN
 * or -EIO fail the open and leave the count alone; the count drops only when
 * an enclave object is destroyed, not when its file closes.  Runs against
 * the simulated host (host/sim.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "helpers.h"
#include "softsgx/uapi/sgx.h"

#define EPC_PAGES 64

static const uint8_t svn2[16] = { 2 }, svn3[16] = { 3 };

struct t_world {
	struct sim_host h;
	struct sgx_driver *drv;
};

static void world(struct t_world *w, bool eupdatesvn)
{
	struct sgx_cpu_config cfg;

	sim_host_init(&w->h);
	sim_cpu_config(&cfg, EPC_PAGES);
	cfg.eupdatesvn = eupdatesvn;
	w->drv = sim_driver_cfg(&w->h, &cfg, true);
	assert_non_null(w->drv);
	assert_int_equal(w->drv->eupdatesvn, eupdatesvn);
}

static void world_free(struct t_world *w)
{
	assert_int_equal(atomic_load(&w->drv->nr_encls), 0);
	assert_int_equal(atomic_load(&w->drv->nr_free_pages), EPC_PAGES);
	sim_driver_destroy(w->drv);
}

static long usage(struct t_world *w)
{
	return atomic_load(&w->drv->nr_encls);
}

static void assert_cpusvn(struct t_world *w, const uint8_t want[16])
{
	uint8_t svn[16];

	sgx_cpu_cpusvn(w->drv->cpu, svn);
	assert_memory_equal(svn, want, 16);
}

static struct sgx_encl *open_ok(struct t_world *w)
{
	int err = -1;
	struct sgx_encl *encl = sgx_open(w->drv, &err);

	assert_non_null(encl);
	assert_int_equal(err, 0);
	return encl;
}

/* Both opens fail with @want and leave the usage count at 0. */
static void assert_opens_fail(struct t_world *w, int want)
{
	int err = 0;

	assert_null(sgx_open(w->drv, &err));
	assert_int_equal(err, want);
	assert_null(sgx_vepc_open(w->drv, &err));
	assert_int_equal(err, want);
	assert_int_equal(usage(w), 0);
}

/* The first user updates CPUSVN; later ones do not, until the count is 0 again. */
static void test_first_open_runs_eupdatesvn(void **state)
{
	struct sgx_encl *a, *b, *c;
	struct t_world w;

	(void)state;
	world(&w, true);
	sgx_cpu_stage_svn(w.drv->cpu, svn2);
	t_cap_start();
	a = open_ok(&w);
	assert_non_null(strstr(t_cap_end(), "sgx: SVN updated successfully\n"));
	assert_cpusvn(&w, svn2);
	assert_int_equal(usage(&w), 1);

	/* A newer update staged while an enclave lives waits for the next first user. */
	sgx_cpu_stage_svn(w.drv->cpu, svn3);
	b = open_ok(&w);
	assert_cpusvn(&w, svn2);
	assert_int_equal(usage(&w), 2);
	sgx_release(a);
	sgx_release(b);
	assert_int_equal(usage(&w), 0);
	c = open_ok(&w);
	assert_cpusvn(&w, svn3);
	sgx_release(c);
	world_free(&w);
}

/* The usual case: nothing newer (SGX_NO_UPDATE) is a successful open. */
static void test_no_update_is_success(void **state)
{
	struct t_world w;
	struct sgx_cpu_stats st;

	(void)state;
	world(&w, true);
	t_cap_start();
	sgx_release(open_ok(&w));
	assert_null(strstr(t_cap_end(), "SVN updated"));
	sgx_release(open_ok(&w));
	assert_cpusvn(&w, sgx_cpu_get_config(w.drv->cpu)->cpusvn);
	sgx_cpu_stats(w.drv->cpu, &st);
	assert_int_equal(st.eupdatesvn, 0);
	world_free(&w);
}

/* Without the feature the open never runs the leaf (it would #UD). */
static void test_without_feature(void **state)
{
	struct t_world w;

	(void)state;
	world(&w, false);
	sgx_cpu_stage_svn(w.drv->cpu, svn2);
	sgx_release(open_ok(&w));
	assert_cpusvn(&w, sgx_cpu_get_config(w.drv->cpu)->cpusvn);
	world_free(&w);
}

/* Nine dry RNG reads are retried; ten fail the open with -EAGAIN, count unchanged. */
static void test_entropy_retries(void **state)
{
	struct sgx_encl *encl;
	struct t_world w;

	(void)state;
	world(&w, true);
	sgx_cpu_stage_svn(w.drv->cpu, svn2);
	sgx_cpu_drain_entropy(w.drv->cpu, 20); /* ten tries for each open */
	assert_opens_fail(&w, -EAGAIN);
	assert_cpusvn(&w, sgx_cpu_get_config(w.drv->cpu)->cpusvn);

	sgx_cpu_drain_entropy(w.drv->cpu, 9);
	encl = open_ok(&w);
	assert_cpusvn(&w, svn2);
	sgx_release(encl);
	world_free(&w);
}

/*
 * An EPC page in use while no enclave or vEPC is counted -- as after a
 * failed EREMOVE leaked one -- makes EUPDATESVN fail with
 * SGX_EPC_NOT_READY, so the open fails with -EIO (kernel behaviour, kept).
 */
static void test_page_in_use_gives_eio(void **state)
{
	struct sgx_epc_page *page;
	struct t_world w;

	(void)state;
	world(&w, true);
	page = sgx_alloc_epc_page(w.drv, NULL, false);
	assert_false(IS_ERR(page));
	assert_int_equal(sgx_epa(w.drv->cpu, SGX_PAGE_TYPE_VA, sgx_get_epc_virt_addr(page)), 0);
	t_cap_start();
	assert_opens_fail(&w, -EIO);
	/* ENCLS_WARN names the leaf and its code (once per boot, as WARN_ONCE). */
	assert_non_null(strstr(t_cap_end(), "EUPDATESVN returned 30 (0x1e)"));

	assert_int_equal(sgx_eremove(w.drv->cpu, sgx_get_epc_virt_addr(page)), 0);
	sgx_free_epc_page(w.drv, page);
	sgx_release(open_ok(&w));
	world_free(&w);
}

/*
 * The count follows the enclave object, not the file: a reference held
 * elsewhere (the reclaimer's, here) keeps it counted after the last close,
 * so no EUPDATESVN runs for the next open.
 */
static void test_count_until_object_dies(void **state)
{
	struct sgx_encl *a, *b;
	struct t_world w;

	(void)state;
	world(&w, true);
	a = open_ok(&w);
	sgx_encl_get(a);
	sgx_release(a);
	assert_int_equal(usage(&w), 1);
	sgx_cpu_stage_svn(w.drv->cpu, svn2);
	b = open_ok(&w);
	assert_cpusvn(&w, sgx_cpu_get_config(w.drv->cpu)->cpusvn);
	sgx_release(b);
	sgx_encl_put(a);
	assert_int_equal(usage(&w), 0);
	sgx_release(open_ok(&w));
	assert_cpusvn(&w, svn2);
	world_free(&w);
}

/*
 * The count drops only after the release has freed the enclave's EPC: an
 * open in the middle of a release (here from the release's own test point,
 * with the SECS and VA page still valid) is not a first user and runs no
 * EUPDATESVN, which would fail with SGX_EPC_NOT_READY (-EIO).
 */
static struct t_world *mid_world;
static int mid_err = 1;

static void open_mid_release(void *ctx, enum sgx_test_point tp, struct sgx_encl *encl,
			     unsigned long addr)
{
	struct sgx_encl *other;

	(void)ctx;
	(void)encl;
	(void)addr;
	if (tp != SGX_TP_RELEASE_CHILDREN || mid_err != 1)
		return;
	other = sgx_open(mid_world->drv, &mid_err);
	if (other)
		sgx_release(other);
}

static void test_count_drops_after_the_epc(void **state)
{
	struct sgx_secs *secs = aligned_alloc(4096, 4096);
	struct sgx_enclave_create create = { .src = (uint64_t)(uintptr_t)secs };
	struct sgx_encl *encl;
	struct sgx_mm *mm;
	struct t_world w;

	(void)state;
	world(&w, true);
	mm = sim_mm_new(&w.h, 1);
	encl = open_ok(&w);
	memset(secs, 0, 4096);
	secs->base = 0x100000000ULL;
	secs->size = 0x10000;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_MODE64BIT;
	secs->xfrm = 3;
	assert_int_equal(sgx_ioctl(encl, mm, SGX_IOC_ENCLAVE_CREATE, (unsigned long)&create), 0);
	free(secs);

	mid_world = &w;
	mid_err = 1;
	w.drv->cfg.test_point = open_mid_release;
	sgx_release(encl);
	w.drv->cfg.test_point = NULL;
	assert_int_equal(mid_err, 0);
	assert_int_equal(usage(&w), 0);
	sim_mm_free(mm);
	world_free(&w);
}

/* vEPC files count too, until their release. */
static void test_vepc_counts(void **state)
{
	struct sgx_vepc *v;
	struct t_world w;
	int err = -1;

	(void)state;
	world(&w, true);
	sgx_cpu_stage_svn(w.drv->cpu, svn2);
	v = sgx_vepc_open(w.drv, &err);
	assert_non_null(v);
	assert_int_equal(err, 0);
	assert_cpusvn(&w, svn2);
	assert_int_equal(usage(&w), 1);
	sgx_cpu_stage_svn(w.drv->cpu, svn3);
	sgx_release(open_ok(&w));
	assert_cpusvn(&w, svn2);
	sgx_vepc_release(v);
	assert_int_equal(usage(&w), 0);
	world_free(&w);
}

/* Opens and releases from several threads: the count and CPUSVN stay consistent. */
#define NR_THREADS 4
#define ROUNDS 200

static void *open_close(void *arg)
{
	struct t_world *w = arg;

	for (int i = 0; i < ROUNDS; i++) {
		int err;
		struct sgx_encl *encl = sgx_open(w->drv, &err);

		if (!encl)
			return (void *)(intptr_t)err;
		sgx_release(encl);
	}
	return NULL;
}

static void test_concurrent_opens(void **state)
{
	pthread_t t[NR_THREADS];
	struct t_world w;
	void *ret;

	(void)state;
	world(&w, true);
	sgx_cpu_stage_svn(w.drv->cpu, svn2);
	for (int i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, open_close, &w), 0);
	for (int i = 0; i < NR_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(usage(&w), 0);
	assert_cpusvn(&w, svn2);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_open_runs_eupdatesvn),
		cmocka_unit_test(test_no_update_is_success),
		cmocka_unit_test(test_without_feature),
		cmocka_unit_test(test_entropy_retries),
		cmocka_unit_test(test_page_in_use_gives_eio),
		cmocka_unit_test(test_count_until_object_dies),
		cmocka_unit_test(test_count_drops_after_the_epc),
		cmocka_unit_test(test_vepc_counts),
		cmocka_unit_test(test_concurrent_opens),
	};
	return T_RUN(tests);
}
