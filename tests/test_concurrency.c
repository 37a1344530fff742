// SPDX-License-Identifier: MIT
/*
 * Leaves called from many threads at once: concurrent leaves on one EPC page
 * must get #GP or SGX_EPC_PAGE_CONFLICT, never corrupt state.  Run under
 * ThreadSanitizer in CI.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "helpers.h"
#include "internal.h"
#include "softsgx/measure.h"

#define NTHREADS 4

static struct sgx_cpu *cpu;
static void *secs;
static pthread_barrier_t barrier;

struct race_arg {
	unsigned int frame;
	uint64_t linaddr;
	int result;
};

static void *eadd_racer(void *p)
{
	struct race_arg *a = p;
	static __thread uint8_t src[4096] __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W
	};
	struct sgx_pageinfo pi = { 0 };

	pi.addr = a->linaddr;
	pi.contents = (uint64_t)(uintptr_t)src;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	pi.secs = (uint64_t)(uintptr_t)secs;
	pthread_barrier_wait(&barrier);
	a->result = sgx_eadd(cpu, &pi, t_page(cpu, a->frame));
	return NULL;
}

/* Many threads EADD into one frame: exactly one wins, the rest fault. */
static void test_eadd_same_frame(void **state)
{
	pthread_t th[NTHREADS];
	struct race_arg a[NTHREADS];

	(void)state;
	cpu = t_cpu(1);
	secs = t_ecreate(cpu, 0, 0x100000000ULL, 0x100000, SGX_ATTR_MODE64BIT);
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (unsigned int round = 1; round < 41; round++) {
		int wins = 0;

		for (int i = 0; i < NTHREADS; i++) {
			a[i].frame = round;
			a[i].linaddr = 0x100000000ULL + (uint64_t)(round * NTHREADS + i) * 4096;
			pthread_create(&th[i], NULL, eadd_racer, &a[i]);
		}
		for (int i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			if (a[i].result == 0)
				wins++;
			else
				assert_true(a[i].result == SGX_FAULT_GP || a[i].result == SGX_FAULT_PF);
		}
		assert_int_equal(wins, 1);
		assert_int_equal(sgx_cpu_secs_children(cpu, secs), round);
	}
	pthread_barrier_destroy(&barrier);
	sgx_cpu_destroy(cpu);
}

struct pager_arg {
	unsigned int first, n;
	uint64_t *va;
	int errors;
};

/* Evict and reload a disjoint set of pages, again and again. */
static void *pager(void *p)
{
	struct pager_arg *a = p;
	uint8_t *blob = aligned_alloc(4096, 4096);
	struct sgx_pcmd *pcmd = aligned_alloc(128, sizeof(*pcmd));

	for (int iter = 0; iter < 60; iter++) {
		for (unsigned int k = 0; k < a->n; k++) {
			unsigned int f = a->first + k;
			struct sgx_pageinfo w = { 0 }, l = { 0 };
			int r;

			if (sgx_eblock(cpu, t_page(cpu, f)))
				a->errors++;
			/* Another pager may have started the tracking cycle: fine. */
			r = sgx_etrack(cpu, secs);
			if (r && r != SGX_PREV_TRK_INCMPL && r != SGX_FAULT_GP)
				a->errors++;
			w.contents = (uint64_t)(uintptr_t)blob;
			w.metadata = (uint64_t)(uintptr_t)pcmd;
			do {
				r = sgx_ewb(cpu, &w, t_page(cpu, f), &a->va[k]);
				if (r == SGX_NOT_TRACKED)
					sgx_etrack(cpu, secs);
			} while (r == SGX_NOT_TRACKED || r == SGX_FAULT_GP);
			if (r)
				a->errors++;
			l.addr = w.addr;
			l.contents = (uint64_t)(uintptr_t)blob;
			l.metadata = (uint64_t)(uintptr_t)pcmd;
			l.secs = (uint64_t)(uintptr_t)secs;
			do {
				r = sgx_eldu(cpu, &l, t_page(cpu, f), &a->va[k]);
			} while (r == SGX_FAULT_GP); /* SECS or VA page busy with another leaf */
			if (r)
				a->errors++;
			const uint8_t *b = sgx_epc_page_bytes(cpu, t_page(cpu, f));
			for (int i = 0; i < 4096; i++)
				if (b[i] != (uint8_t)(f + i))
					a->errors++;
		}
	}
	free(blob);
	free(pcmd);
	return NULL;
}

static void test_parallel_paging(void **state)
{
	const unsigned int per = 8;
	pthread_t th[NTHREADS];
	struct pager_arg a[NTHREADS];
	uint8_t data[4096];
	uint64_t *va;

	(void)state;
	cpu = t_cpu(1);
	secs = t_ecreate(cpu, 0, 0x100000000ULL, 0x100000, SGX_ATTR_MODE64BIT);
	assert_int_equal(sgx_epa(cpu, SGX_PAGE_TYPE_VA, t_page(cpu, 1)), 0);
	va = t_page(cpu, 1);
	for (unsigned int f = 2; f < 2 + NTHREADS * per; f++) {
		for (int i = 0; i < 4096; i++)
			data[i] = (uint8_t)(f + i);
		assert_int_equal(t_eadd(cpu, secs, f, 0x100000000ULL + f * 4096ULL,
					SGX_SECINFO_REG | 3, data), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		a[i].first = 2 + i * per;
		a[i].n = per;
		a[i].va = va + i * per;
		a[i].errors = 0;
		pthread_create(&th[i], NULL, pager, &a[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].errors, 0);
	}
	assert_int_equal(sgx_cpu_secs_children(cpu, secs), NTHREADS * per);
	for (int s = 0; s < SGX_VA_SLOT_COUNT; s++)
		assert_int_equal(va[s], 0);
	sgx_cpu_destroy(cpu);
}

static _Atomic int stop;
static _Atomic int thread_errors; /* cmocka asserts are not thread-safe */

static void *remover(void *p)
{
	unsigned int f = *(unsigned int *)p;

	while (!atomic_load(&stop)) {
		int r = sgx_eremove(cpu, t_page(cpu, f));
		if (r != 0 && r != SGX_FAULT_GP)
			thread_errors++;
		r = t_eadd(cpu, secs, f, 0x100000000ULL + f * 4096ULL, SGX_SECINFO_REG | 3, NULL);
		if (r != 0 && r != SGX_FAULT_GP && r != SGX_FAULT_PF)
			thread_errors++;
	}
	return NULL;
}

static void *blocker(void *p)
{
	unsigned int f = *(unsigned int *)p;

	for (int i = 0; i < 20000; i++) {
		int r = sgx_eblock(cpu, t_page(cpu, f));
		if (r != 0 && r != SGX_BLKSTATE && r != SGX_PG_INVLD && r != SGX_EPC_PAGE_CONFLICT)
			thread_errors++;
	}
	atomic_store(&stop, 1);
	return NULL;
}

/* EREMOVE/EADD against EBLOCK on one page: conflicts are reported, counts stay right. */
static void test_remove_vs_block(void **state)
{
	pthread_t a, b;
	unsigned int f = 5;
	struct sgx_epcm_view v;

	(void)state;
	cpu = t_cpu(1);
	secs = t_ecreate(cpu, 0, 0x100000000ULL, 0x100000, SGX_ATTR_MODE64BIT);
	assert_int_equal(t_eadd(cpu, secs, f, 0x100000000ULL + f * 4096ULL, SGX_SECINFO_REG | 3,
				NULL), 0);
	atomic_store(&stop, 0);
	pthread_create(&a, NULL, remover, &f);
	pthread_create(&b, NULL, blocker, &f);
	pthread_join(b, NULL);
	pthread_join(a, NULL);
	assert_int_equal(thread_errors, 0);
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, f), &v), 0);
	assert_int_equal(sgx_cpu_secs_children(cpu, secs), v.valid ? 1 : 0);
	sgx_cpu_destroy(cpu);
}

/*
 * EEXTEND against EREMOVE of the chunk's page.  EEXTEND holds the page
 * through the SECS's measurement word, not the page lock, so this is the
 * race the two sides' handshake decides: every EEXTEND either measured the
 * page as it was added or failed, never a page being scrubbed under it.  The
 * enclave's measurement must equal the replay of the EEXTENDs that succeeded.
 */
#define EXT_ROUNDS 300
#define EXT_MAX 4096

struct extend_arg {
	unsigned int frame;
	unsigned int n;           /* EEXTENDs that succeeded this round */
	uint16_t chunk[EXT_MAX];  /* their chunk offsets, in order */
};

static void *extender(void *p)
{
	struct extend_arg *a = p;
	uint8_t *page = t_page(cpu, a->frame);

	pthread_barrier_wait(&barrier);
	for (unsigned int i = 0; a->n < EXT_MAX; i++) {
		uint16_t c = (uint16_t)((i % 16) * 256);
		int r = sgx_eextend(cpu, secs, page + c);

		if (r == 0)
			a->chunk[a->n++] = c;
		else if (r == SGX_FAULT_PF)
			break; /* removed */
		else if (r != SGX_FAULT_GP)
			thread_errors++;
	}
	return NULL;
}

static void *page_remover(void *p)
{
	unsigned int f = *(unsigned int *)p;
	int r;

	pthread_barrier_wait(&barrier);
	while ((r = sgx_eremove(cpu, t_page(cpu, f))) != 0)
		if (r != SGX_FAULT_GP)
			thread_errors++;
	return NULL;
}

static void test_eextend_vs_eremove(void **state)
{
	const uint64_t base = 0x100000000ULL, rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	static uint8_t src[4096];
	static struct extend_arg a;
	struct sgx_cpu_stats st;
	struct sgx_measure m;
	unsigned long total = 0;
	unsigned int f = 3;

	(void)state;
	for (unsigned int i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13 + 7);
	cpu = t_cpu(1);
	secs = t_ecreate(cpu, 0, base, 0x100000, SGX_ATTR_MODE64BIT);
	sgx_measure_ecreate(&m, 1, 0x100000);
	pthread_barrier_init(&barrier, NULL, 2);
	for (int round = 0; round < EXT_ROUNDS; round++) {
		pthread_t x, y;

		assert_int_equal(t_eadd(cpu, secs, f, base + f * 4096ULL, rw, src), 0);
		sgx_measure_eadd(&m, f * 4096ULL, rw);
		a.frame = f;
		a.n = 0;
		pthread_create(&x, NULL, extender, &a);
		pthread_create(&y, NULL, page_remover, &f);
		pthread_join(x, NULL);
		pthread_join(y, NULL);
		for (unsigned int i = 0; i < a.n; i++)
			sgx_measure_eextend(&m, f * 4096ULL + a.chunk[i], src + a.chunk[i]);
		total += a.n;
		assert_int_equal(sgx_cpu_secs_children(cpu, secs), 0);
	}
	assert_int_equal(thread_errors, 0);
	assert_memory_equal(&secs_hidden(cpu, 0)->mr, &m, sizeof(m));
	sgx_cpu_stats(cpu, &st);
	assert_int_equal(st.eextend, total);
	pthread_barrier_destroy(&barrier);
	sgx_cpu_destroy(cpu);
}

/*
 * ENCLU against ENCLS on the same enclave: one thread enters and leaves
 * through the TCS while another keeps trying to EREMOVE the data page and
 * then the TCS.  EREMOVE of a child may only succeed while no LP is inside:
 * the entering thread checks, inside, that the TCS and data page are still
 * valid.  Once the TCS is gone EENTER must fault.
 */
static struct t_encl race_e;
static _Atomic int entered_ok, inside_saw_removed, removed_data, removed_tcs;

/* The page tables of t_build_encl's layout. */
static void map_race_encl(struct t_mmu *m)
{
	t_mmu_init(m);
	t_mmu_map(m, race_e.base, race_e.tcs);
	t_mmu_map(m, race_e.base + 0x1000, race_e.ssa[0]);
	t_mmu_map(m, race_e.base + 0x2000, race_e.ssa[1]);
	t_mmu_map(m, race_e.base + 0x3000, race_e.data);
	t_mmu_map(m, race_e.base + 0x4000, race_e.code);
}

static void *enter_exit_loop(void *p)
{
	struct t_mmu m;
	struct sgx_lp lp;
	struct sgx_epcm_view v;

	(void)p;
	map_race_encl(&m);
	sgx_lp_init(&lp);
	while (!atomic_load(&stop)) {
		struct sgx_regs r = { .rax = EENTER, .rbx = race_e.base, .rcx = 0x7000,
				      .rip = 0x7000, .rsp = 0x7fff0000 };
		int ret = sgx_enclu(cpu, &lp, &m.mmu, &r, NULL);

		if (ret) {
			if (ret != SGX_FAULT_PF && ret != SGX_FAULT_GP)
				thread_errors++;
			if (atomic_load(&removed_tcs))
				break;
			continue;
		}
		atomic_fetch_add(&entered_ok, 1);
		/* While this LP is inside, nothing of the enclave may go. */
		{
			bool data_in = !sgx_cpu_epcm(cpu, race_e.data, &v) && v.valid;

			for (int spin = 0; spin < 64; spin++)
				__asm__ volatile("pause");
			if (sgx_cpu_epcm(cpu, race_e.tcs, &v) || !v.valid)
				inside_saw_removed++;
			if (data_in && (sgx_cpu_epcm(cpu, race_e.data, &v) || !v.valid))
				inside_saw_removed++;
		}
		r.rax = EEXIT;
		r.rbx = 0x7100;
		if (sgx_enclu(cpu, &lp, &m.mmu, &r, NULL))
			thread_errors++;
	}
	return NULL;
}

static void *remove_loop(void *p)
{
	(void)p;
	while (!atomic_load(&removed_tcs)) {
		void *target = atomic_load(&removed_data) ? race_e.tcs : race_e.data;
		int r = sgx_eremove(cpu, target);

		if (r == 0) {
			if (target == race_e.data)
				atomic_store(&removed_data, 1);
			else
				atomic_store(&removed_tcs, 1);
		} else if (r != SGX_ENCLAVE_ACT && r != SGX_FAULT_GP) {
			thread_errors++;
		}
	}
	return NULL;
}

static void test_eremove_vs_eenter(void **state)
{
	pthread_t a, b;

	(void)state;
	cpu = t_cpu(1);
	t_build_encl(cpu, &race_e, 0);
	thread_errors = 0;
	atomic_store(&entered_ok, 0);
	atomic_store(&inside_saw_removed, 0);
	atomic_store(&removed_data, 0);
	atomic_store(&removed_tcs, 0);
	atomic_store(&stop, 0);
	pthread_create(&a, NULL, enter_exit_loop, NULL);
	pthread_create(&b, NULL, remove_loop, NULL);
	pthread_join(b, NULL);
	atomic_store(&stop, 1);
	pthread_join(a, NULL);
	assert_int_equal(thread_errors, 0);
	assert_int_equal(atomic_load(&inside_saw_removed), 0);
	assert_true(atomic_load(&removed_tcs));
	/* SECS children: the two SSA pages and the code page are left. */
	assert_int_equal(sgx_cpu_secs_children(cpu, race_e.secs), 3);
	sgx_cpu_destroy(cpu);
}

/*
 * SSA pages are not concurrency operands of the entry leaves: one thread
 * keeps entering, taking an AEX, resuming and leaving while another keeps
 * restricting (EMODPR, keeping RW) both SSA pages.  No entry may fault and
 * no EMODPR may report SGX_EPC_PAGE_CONFLICT.
 */
#define SSA_RACE_ITERS 20000
static _Atomic int ssa_race_done, ssa_entry_faults, ssa_conflicts;

static void *entry_aex_loop(void *p)
{
	struct t_mmu m;
	struct sgx_lp lp;

	(void)p;
	map_race_encl(&m);
	sgx_lp_init(&lp);
	for (int i = 0; i < SSA_RACE_ITERS; i++) {
		struct sgx_regs r = { .rax = EENTER, .rbx = race_e.base, .rcx = 0x7000,
				      .rip = 0x7000, .rsp = 0x7fff0000 };

		if (sgx_enclu(cpu, &lp, &m.mmu, &r, NULL)) {
			ssa_entry_faults++;
			continue;
		}
		if (sgx_aex(cpu, &lp, &r, NULL, NULL, NULL))
			thread_errors++;
		r.rax = ERESUME;
		r.rbx = race_e.base;
		r.rcx = 0x7000;
		if (sgx_enclu(cpu, &lp, &m.mmu, &r, NULL)) {
			ssa_entry_faults++;
			/* Still out, with CSSA 1: EENTER takes frame 1 next time round. */
			continue;
		}
		r.rax = EEXIT;
		r.rbx = 0x7100;
		if (sgx_enclu(cpu, &lp, &m.mmu, &r, NULL))
			thread_errors++;
	}
	atomic_store(&ssa_race_done, 1);
	return NULL;
}

static void *ssa_emodpr_loop(void *p)
{
	struct sgx_secinfo si __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_R | SGX_SECINFO_W
	};

	(void)p;
	for (unsigned int i = 0; !atomic_load(&ssa_race_done); i++) {
		int r = sgx_emodpr(cpu, &si, race_e.ssa[i & 1]);

		if (r == SGX_EPC_PAGE_CONFLICT)
			ssa_conflicts++;
		else if (r)
			thread_errors++;
	}
	return NULL;
}

static void test_ssa_pages_not_entry_operands(void **state)
{
	pthread_t a, b;

	(void)state;
	cpu = t_cpu(1);
	t_build_encl(cpu, &race_e, 0);
	thread_errors = 0;
	atomic_store(&ssa_race_done, 0);
	atomic_store(&ssa_entry_faults, 0);
	atomic_store(&ssa_conflicts, 0);
	pthread_create(&b, NULL, ssa_emodpr_loop, NULL);
	pthread_create(&a, NULL, entry_aex_loop, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(thread_errors, 0);
	assert_int_equal(atomic_load(&ssa_entry_faults), 0);
	assert_int_equal(atomic_load(&ssa_conflicts), 0);
	sgx_cpu_destroy(cpu);
}

/*
 * Entries are not refused for an EREMOVE of an unrelated page: one thread
 * keeps adding (EAUG) and removing a page of the enclave, another keeps
 * entering and leaving.  No entry may fault; EREMOVE succeeds or finds the
 * LP inside (SGX_ENCLAVE_ACT) and is retried.
 */
#define RM_RACE_ITERS 3000
static _Atomic int rm_race_done, rm_entry_faults;

static void *aug_remove_loop(void *p)
{
	struct sgx_pageinfo pi = { .addr = race_e.base + 0x8000,
				   .secs = (uint64_t)(uintptr_t)race_e.secs };
	void *page = t_page(cpu, 10);

	(void)p;
	for (int i = 0; i < RM_RACE_ITERS; i++) {
		int r;

		if (sgx_eaug(cpu, &pi, page))
			thread_errors++;
		while ((r = sgx_eremove(cpu, page)) == SGX_ENCLAVE_ACT)
			;
		if (r)
			thread_errors++;
	}
	atomic_store(&rm_race_done, 1);
	return NULL;
}

static void *enter_until_done(void *p)
{
	struct t_mmu m;
	struct sgx_lp lp;

	(void)p;
	map_race_encl(&m);
	sgx_lp_init(&lp);
	while (!atomic_load(&rm_race_done)) {
		struct sgx_regs r = { .rax = EENTER, .rbx = race_e.base, .rcx = 0x7000,
				      .rip = 0x7000, .rsp = 0x7fff0000 };

		if (sgx_enclu(cpu, &lp, &m.mmu, &r, NULL)) {
			rm_entry_faults++;
			continue;
		}
		r.rax = EEXIT;
		r.rbx = 0x7100;
		if (sgx_enclu(cpu, &lp, &m.mmu, &r, NULL))
			thread_errors++;
	}
	return NULL;
}

static void test_eremove_does_not_refuse_entries(void **state)
{
	pthread_t a, b;

	(void)state;
	cpu = t_cpu(1);
	t_build_encl(cpu, &race_e, 0);
	thread_errors = 0;
	atomic_store(&rm_race_done, 0);
	atomic_store(&rm_entry_faults, 0);
	pthread_create(&a, NULL, enter_until_done, NULL);
	pthread_create(&b, NULL, aug_remove_loop, NULL);
	pthread_join(b, NULL);
	pthread_join(a, NULL);
	assert_int_equal(thread_errors, 0);
	assert_int_equal(atomic_load(&rm_entry_faults), 0);
	sgx_cpu_destroy(cpu);
}

static void *enter_leave(void *p)
{
	struct secs_hidden *h = p;
	struct tcs_hidden t;

	for (int i = 0; i < 50000; i++) {
		track_enter(h, &t);
		track_leave(h, &t);
	}
	return NULL;
}

/* Threads entering and leaving while ETRACK runs: the counts never go wrong. */
static void test_tracking_under_load(void **state)
{
	pthread_t th[NTHREADS];
	struct secs_hidden *h;

	(void)state;
	cpu = t_cpu(1);
	secs = t_ecreate(cpu, 0, 0x100000000ULL, 0x100000, SGX_ATTR_MODE64BIT);
	h = secs_hidden(cpu, 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, enter_leave, h);
	for (int i = 0; i < 20000; i++) {
		int r = sgx_etrack(cpu, secs);
		assert_true(r == 0 || r == SGX_PREV_TRK_INCMPL);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	uint64_t t = atomic_load(&h->trk);
	assert_int_equal(TRK_INSIDE(t), 0);
	assert_int_equal(TRK_PREV(t), 0);
	assert_int_equal(sgx_etrack(cpu, secs), 0);
	sgx_cpu_destroy(cpu);
}

struct einit_arg {
	unsigned int secs_frame;
	EVP_PKEY *key;
	int result;
};

static struct sgx_sigstruct einit_ss[2];

static void *einit_thread(void *p)
{
	struct einit_arg *a = p;
	struct sgx_sigstruct *ss = &einit_ss[a->secs_frame == 0 ? 0 : 1];
	static __thread uint8_t page[4096] __attribute__((aligned(4096)));
	uint64_t h[4];

	/* Linux's order: write this signer's hash to this LP's MSRs, then EINIT. */
	sgx_sigstruct_mrsigner(ss, (uint8_t *)h);
	for (int i = 0; i < 4; i++)
		sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, h[i]);
	pthread_barrier_wait(&barrier);
	memcpy(page, ss, sizeof(*ss));
	a->result = sgx_einit(cpu, page, page + 2048, t_page(cpu, a->secs_frame));
	return NULL;
}

/*
 * The LE hash MSRs are per logical processor: two threads initialising
 * enclaves of two signers at once must not see each other's MSR values.
 */
static void test_lehash_msrs_per_thread(void **state)
{
	struct einit_arg a[2] = { { 0, NULL, -1 }, { 10, NULL, -1 } };
	pthread_t th[2];
	uint8_t mr[2][32];

	(void)state;
	cpu = t_cpu(1);
	for (int i = 0; i < 2; i++) {
		struct sgx_measure m;

		t_ecreate(cpu, a[i].secs_frame, 0x100000000ULL * (i + 1), 0x10000,
			  SGX_ATTR_MODE64BIT);
		sgx_measure_ecreate(&m, 1, 0x10000);
		sgx_measure_final(&m, mr[i]);
		t_sigstruct(&einit_ss[i], mr[i], SGX_ATTR_MODE64BIT, 3, i ? t_other_key() : t_key());
	}
	pthread_barrier_init(&barrier, NULL, 2);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, einit_thread, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	assert_int_equal(a[0].result, 0);
	assert_int_equal(a[1].result, 0);
	/* This thread never wrote them: it still sees the reset value. */
	uint64_t v;
	assert_int_equal(sgx_cpu_rdmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0, &v), 0);
	assert_int_equal(v, 0xa6053e051270b7acULL);
	sgx_cpu_destroy(cpu);
}

/*
 * Leaf counters are kept in per-thread shards and summed on read: the counts
 * from more threads than there are private shards must all arrive.
 */
#define COUNT_ROUNDS 50
#define COUNT_BATCHES 10
#define COUNT_THREADS 8

static struct sgx_secs count_src __attribute__((aligned(4096)));

struct count_arg {
	unsigned int frame;
	int fails;
};

static void *create_remove(void *p)
{
	struct count_arg *a = p;
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pi = { 0 };
	void *secs = t_page(cpu, a->frame);

	pi.contents = (uint64_t)(uintptr_t)&count_src;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	for (int k = 0; k < COUNT_ROUNDS; k++)
		if (sgx_ecreate(cpu, &pi, secs) || sgx_eremove(cpu, secs))
			a->fails++;
	return NULL;
}

static void test_stats_from_many_threads(void **state)
{
	struct sgx_cpu_stats s0, s1;
	const uint64_t total = (uint64_t)COUNT_BATCHES * COUNT_THREADS * COUNT_ROUNDS;

	(void)state;
	_Static_assert(COUNT_BATCHES * COUNT_THREADS > STAT_SHARDS, "must overflow the shards");
	cpu = t_cpu(1);
	t_secs_src(&count_src, 0x100000, 0x10000, SGX_ATTR_MODE64BIT);
	sgx_cpu_stats(cpu, &s0);
	for (int b = 0; b < COUNT_BATCHES; b++) {
		struct count_arg a[COUNT_THREADS] = { 0 };
		pthread_t th[COUNT_THREADS];

		for (int i = 0; i < COUNT_THREADS; i++) {
			a[i].frame = (unsigned int)i;
			pthread_create(&th[i], NULL, create_remove, &a[i]);
		}
		for (int i = 0; i < COUNT_THREADS; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(a[i].fails, 0);
		}
	}
	sgx_cpu_stats(cpu, &s1);
	assert_int_equal(s1.ecreate - s0.ecreate, total);
	assert_int_equal(s1.eremove - s0.eremove, total);
	assert_int_equal(s1.eadd, s0.eadd);
	sgx_cpu_destroy(cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eadd_same_frame),
		cmocka_unit_test(test_parallel_paging),
		cmocka_unit_test(test_remove_vs_block),
		cmocka_unit_test(test_eextend_vs_eremove),
		cmocka_unit_test(test_eremove_vs_eenter),
		cmocka_unit_test(test_ssa_pages_not_entry_operands),
		cmocka_unit_test(test_eremove_does_not_refuse_entries),
		cmocka_unit_test(test_tracking_under_load),
		cmocka_unit_test(test_lehash_msrs_per_thread),
		cmocka_unit_test(test_stats_from_many_threads),
	};
	return T_RUN(tests);
}
