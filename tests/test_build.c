// SPDX-License-Identifier: MIT
/* ECREATE, EADD, EEXTEND, EINIT: success paths and every SDM outcome. */
#include <string.h>

#include "helpers.h"
#include "internal.h"
#include "softsgx/measure.h"

#define BASE 0x100000000ULL
#define SIZE 0x10000ULL

static struct sgx_cpu *cpu;

static int setup(void **state)
{
	(void)state;
	cpu = t_cpu(1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sgx_cpu_destroy(cpu);
	return 0;
}

static struct sgx_secs src __attribute__((aligned(4096)));
static struct sgx_secinfo secs_si __attribute__((aligned(64)));
static struct sgx_pageinfo pi;

static void ecreate_args(void)
{
	t_secs_src(&src, BASE, SIZE, SGX_ATTR_MODE64BIT);
	memset(&secs_si, 0, sizeof(secs_si));
	secs_si.flags = SGX_SECINFO_SECS;
	memset(&pi, 0, sizeof(pi));
	pi.contents = (uint64_t)(uintptr_t)&src;
	pi.metadata = (uint64_t)(uintptr_t)&secs_si;
}

static void test_ecreate_ok(void **state)
{
	struct sgx_epcm_view v;

	(void)state;
	ecreate_args();
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, 0), &v), 0);
	assert_false(v.valid);
	assert_leaf_ok(sgx_ecreate(cpu, &pi, t_page(cpu, 0)));
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, 0), &v), 0);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_SECS);
	assert_int_equal(v.rwx, 0);
	assert_int_equal(v.linaddr, 0);
	assert_false(v.blocked || v.pending || v.modified || v.pr);
	assert_int_equal(sgx_cpu_secs_children(cpu, t_page(cpu, 0)), 0);
	assert_int_not_equal(sgx_cpu_secs_eid(cpu, t_page(cpu, 0)), 0);
	assert_int_equal(((struct sgx_secs *)t_page(cpu, 0))->size, SIZE);

	/* A second enclave gets a different EID. */
	assert_leaf_ok(sgx_ecreate(cpu, &pi, t_page(cpu, 1)));
	assert_int_not_equal(sgx_cpu_secs_eid(cpu, t_page(cpu, 0)),
			     sgx_cpu_secs_eid(cpu, t_page(cpu, 1)));
	/* ECREATE on a valid page: #PF with the SGX bit. */
	t_assert_pf_at(sgx_ecreate(cpu, &pi, t_page(cpu, 0)), t_page(cpu, 0));
	assert_int_equal(sgx_last_fault()->errcd & X86_PF_SGX, X86_PF_SGX);
}

/* One way to break ECREATE's operands or the SECS, and the fault it gives. */
struct ecreate_case {
	const char *what;
	void (*mutate)(void);
};

static void m_src_misaligned(void) { pi.contents += 8; }
static void m_secinfo_misaligned(void) { pi.metadata += 8; }
static void m_linaddr(void) { pi.addr = BASE; }
static void m_pi_secs(void) { pi.secs = 0x1000; }
static void m_secinfo_reserved(void) { secs_si.reserved[3] = 1; }
static void m_secinfo_flag_reserved(void) { secs_si.flags |= 1ULL << 40; }
static void m_secinfo_pt(void) { secs_si.flags = SGX_SECINFO_REG; }
static void m_xfrm_x87(void) { src.xfrm = 1; }
static void m_xfrm_unsupported(void) { src.xfrm = 0xE7; }
static void m_xfrm_avx512_partial(void) { src.xfrm = 0x27; }
static void m_misc(void) { src.miscselect = 2; }
static void m_ssa_small(void) { src.ssa_frame_size = 0; }
static void m_base_noncanonical(void) { src.base = 0x0000800000000000ULL; src.size = 0x10000; }
static void m_base32(void) { src.attributes = 0; src.base = 1ULL << 32; }
static void m_size_max(void) { src.size = 1ULL << 36; src.base = 1ULL << 36; }
static void m_size_max32(void) { src.attributes = 0; src.size = 1ULL << 31; src.base = 0; }
static void m_size_small(void) { src.size = 4096; }
static void m_size_pow2(void) { src.size = 0x3000; }
static void m_base_align(void) { src.base = BASE + 0x8000; }
static void m_attr_init(void) { src.attributes |= SGX_ATTR_INIT; }
static void m_attr_cet(void) { src.attributes |= SGX_ATTR_CET; }
static void m_reserved1(void) { src.reserved1[0] = 1; }
static void m_reserved4(void) { src.reserved4[100] = 1; }
static void m_configid(void) { src.config_id[5] = 1; }
static void m_configsvn(void) { src.config_svn = 1; }

static const struct ecreate_case gp_cases[] = {
	{ "SRCPGE not 4K-aligned", m_src_misaligned },
	{ "SECINFO not 64-aligned", m_secinfo_misaligned },
	{ "PAGEINFO.LINADDR != 0", m_linaddr },
	{ "PAGEINFO.SECS != 0", m_pi_secs },
	{ "SECINFO reserved bytes", m_secinfo_reserved },
	{ "SECINFO reserved flag bits", m_secinfo_flag_reserved },
	{ "SECINFO.PT != SECS", m_secinfo_pt },
	{ "XFRM[1:0] != 11b", m_xfrm_x87 },
	{ "XFRM not supported", m_xfrm_unsupported },
	{ "XFRM inconsistent", m_xfrm_avx512_partial },
	{ "MISCSELECT not supported", m_misc },
	{ "SSA frame too small", m_ssa_small },
	{ "BASEADDR non-canonical", m_base_noncanonical },
	{ "32-bit BASEADDR >= 4 GiB", m_base32 },
	{ "SIZE >= 2^MaxEnclaveSize_64", m_size_max },
	{ "SIZE >= 2^MaxEnclaveSize_32", m_size_max32 },
	{ "SIZE < 8192", m_size_small },
	{ "SIZE not a power of two", m_size_pow2 },
	{ "BASEADDR not aligned to SIZE", m_base_align },
	{ "ATTRIBUTES.INIT set", m_attr_init },
	{ "ATTRIBUTES bit not allowed", m_attr_cet },
	{ "reserved1 non-zero", m_reserved1 },
	{ "reserved4 non-zero", m_reserved4 },
	{ "CONFIGID without KSS", m_configid },
	{ "CONFIGSVN without KSS", m_configsvn },
};

static void test_ecreate_gp(void **state)
{
	struct t_epcm_snap snap;

	(void)state;
	for (size_t i = 0; i < sizeof(gp_cases) / sizeof(gp_cases[0]); i++) {
		ecreate_args();
		gp_cases[i].mutate();
		t_snap(cpu, &snap, 8);
		print_message("# ECREATE: %s\n", gp_cases[i].what);
		assert_gp(sgx_ecreate(cpu, &pi, t_page(cpu, 2)));
		assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
		t_assert_snap_equal(cpu, &snap);
		assert_true(all_zero(t_page(cpu, 2), 4096));
	}
}

static void test_ecreate_operands(void **state)
{
	static uint8_t not_epc[8192] __attribute__((aligned(4096)));

	(void)state;
	ecreate_args();
	assert_gp(sgx_ecreate(cpu, (struct sgx_pageinfo *)((uint8_t *)&pi + 8), t_page(cpu, 3)));
	assert_gp(sgx_ecreate(cpu, &pi, (uint8_t *)t_page(cpu, 3) + 64));
	t_assert_pf_at(sgx_ecreate(cpu, &pi, not_epc), not_epc);
	assert_int_equal(sgx_last_fault()->errcd & X86_PF_SGX, 0);
}

/* Fields hardware computes are overwritten, not refused (SDM, SECS and ECREATE). */
static void test_ecreate_overwrites_computed_fields(void **state)
{
	struct sgx_secs *s;

	(void)state;
	ecreate_args();
	src.mrenclave[0] = 1;
	src.mrsigner[5] = 2;
	src.isv_prod_id = 3;
	src.isv_svn = 4;
	secs_si.flags |= SGX_SECINFO_R; /* not a reserved bit either */
	assert_leaf_ok(sgx_ecreate(cpu, &pi, t_page(cpu, 6)));
	s = sgx_epc_page_bytes(cpu, t_page(cpu, 6));
	assert_true(all_zero(s->mrenclave, 32));
	assert_true(all_zero(s->mrsigner, 32));
	assert_int_equal(s->isv_prod_id, 0);
	assert_int_equal(s->isv_svn, 0);
}

/* Operands inside the EPC are refused (EMU-CHOICE for abort-page accesses). */
static void test_operands_in_epc(void **state)
{
	(void)state;
	ecreate_args();
	pi.contents = (uint64_t)(uintptr_t)t_page(cpu, 7);
	assert_gp(sgx_ecreate(cpu, &pi, t_page(cpu, 6)));
	ecreate_args();
	pi.metadata = (uint64_t)(uintptr_t)t_page(cpu, 7);
	assert_gp(sgx_ecreate(cpu, &pi, t_page(cpu, 6)));
	/* The PAGEINFO itself inside the EPC. */
	ecreate_args();
	memcpy(t_page(cpu, 7), &pi, sizeof(pi));
	assert_gp(sgx_ecreate(cpu, (struct sgx_pageinfo *)t_page(cpu, 7), t_page(cpu, 6)));
	assert_gp(sgx_eadd(cpu, (struct sgx_pageinfo *)t_page(cpu, 7), t_page(cpu, 6)));
	memset(t_page(cpu, 7), 0, sizeof(pi));
}

static void test_ecreate_kss_config(void **state)
{
	(void)state;
	ecreate_args();
	src.attributes |= SGX_ATTR_KSS;
	src.config_id[0] = 9;
	src.config_svn = 2;
	assert_leaf_ok(sgx_ecreate(cpu, &pi, t_page(cpu, 4)));
	ecreate_args();
	src.attributes = 0; /* a 32-bit enclave below 4 GiB */
	src.base = 0x10000;
	assert_leaf_ok(sgx_ecreate(cpu, &pi, t_page(cpu, 5)));
}

/* ---- EADD ---- */

static void *secs;

static int setup_encl(void **state)
{
	setup(state);
	secs = t_ecreate(cpu, 0, BASE, SIZE, SGX_ATTR_MODE64BIT);
	return 0;
}

/*
 * The "busy" outcomes of ECREATE, EADD, EEXTEND and EINIT (the SDM's
 * concurrency rules for each): another leaf holding the target page, the
 * SECS or the measurement is #GP, and nothing changes.
 */
static void eadd_args(uint64_t linaddr, uint64_t flags);

static void test_busy_gp(void **state)
{
	struct epcm *secs_e = epcm_of(cpu, 0), *page_e = epcm_of(cpu, 1);
	struct sgx_sigstruct ss;
	struct t_epcm_snap snap;
	uint8_t mr[32] = { 0 };

	(void)state;
	/* ECREATE: the target page held by another leaf. */
	ecreate_args();
	assert_true(page_lock_excl(epcm_of(cpu, 6)));
	t_snap(cpu, &snap, 8);
	assert_gp(sgx_ecreate(cpu, &pi, t_page(cpu, 6)));
	page_unlock_excl(epcm_of(cpu, 6));

	/* EADD: target busy, SECS busy, measurement busy. */
	eadd_args(BASE + 0x3000, SGX_SECINFO_REG | SGX_SECINFO_R);
	assert_true(page_lock_excl(epcm_of(cpu, 3)));
	assert_gp(sgx_eadd(cpu, &pi, t_page(cpu, 3)));
	page_unlock_excl(epcm_of(cpu, 3));
	assert_true(page_lock_excl(secs_e));
	assert_gp(sgx_eadd(cpu, &pi, t_page(cpu, 3)));
	page_unlock_excl(secs_e);
	atomic_store(&secs_e->measure_busy, 1);
	assert_gp(sgx_eadd(cpu, &pi, t_page(cpu, 3)));
	atomic_store(&secs_e->measure_busy, 0);
	t_assert_snap_equal(cpu, &snap);

	/* EEXTEND: the chunk's page busy, the measurement busy. */
	assert_leaf_ok(t_eadd(cpu, secs, 1, BASE + 0x2000, SGX_SECINFO_REG | SGX_SECINFO_R,
			      NULL));
	t_snap(cpu, &snap, 8);
	assert_true(page_lock_excl(page_e));
	assert_gp(sgx_eextend(cpu, secs, t_page(cpu, 1)));
	page_unlock_excl(page_e);
	atomic_store(&secs_e->measure_busy, 1);
	assert_gp(sgx_eextend(cpu, secs, t_page(cpu, 1)));
	atomic_store(&secs_e->measure_busy, 0);

	/* EINIT (past a good signature): SECS busy, measurement busy. */
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	assert_true(page_lock_excl(secs_e));
	assert_gp(t_einit(cpu, secs, &ss));
	page_unlock_excl(secs_e);
	atomic_store(&secs_e->measure_busy, 1);
	assert_gp(t_einit(cpu, secs, &ss));
	atomic_store(&secs_e->measure_busy, 0);
	t_assert_snap_equal(cpu, &snap);
	assert_false(((struct sgx_secs *)sgx_epc_page_bytes(cpu, secs))->attributes &
		     SGX_ATTR_INIT);
	/* Free again, EINIT gets as far as the measurement. */
	assert_int_equal(t_einit(cpu, secs, &ss), SGX_INVALID_MEASUREMENT);
}

/*
 * EEXTEND holds its chunk's page through the SECS's measurement word, not
 * the page lock.  While it does, a leaf that takes that page exclusively is
 * refused (#GP, EBLOCK's conflict) as by a shared page lock; a leaf that
 * shares it is not, and neither is any other page of the enclave.
 */
static void test_eextend_holds_page(void **state)
{
	struct epcm *secs_e = epcm_of(cpu, 0), *page_e = epcm_of(cpu, 1);
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	struct sgx_epcm_view v;
	uint64_t word = 0x1122334455667788ULL;
	struct sgx_measure mr;

	(void)state;
	secs = t_ecreate(cpu, 0, BASE, SIZE, SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG);
	assert_leaf_ok(t_eadd(cpu, secs, 1, BASE, rw, NULL));
	assert_leaf_ok(t_eadd(cpu, secs, 2, BASE + 0x1000, rw, NULL));
	mr = secs_hidden(cpu, 0)->mr;

	atomic_store(&secs_e->measure_busy, MEASURE_EXTEND(1)); /* an EEXTEND of page 1 runs */
	assert_gp(sgx_eremove(cpu, t_page(cpu, 1)));
	assert_gp(sgx_edbgwr(cpu, (uint8_t *)t_page(cpu, 1) + 8, word));
	assert_int_equal(sgx_eblock(cpu, t_page(cpu, 1)), SGX_EPC_PAGE_CONFLICT);
	assert_int_equal(atomic_load(&page_e->lock), 0);
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, 1), &v), 0);
	assert_true(v.valid && !v.blocked);
	/* A reader shares the page with it; another page is not held. */
	assert_leaf_ok(sgx_edbgrd(cpu, (uint8_t *)t_page(cpu, 1) + 8, &word));
	assert_int_equal(word, 0);
	assert_leaf_ok(sgx_edbgwr(cpu, (uint8_t *)t_page(cpu, 2) + 8, 5));
	assert_leaf_ok(sgx_eremove(cpu, t_page(cpu, 2)));
	/* The measurement itself is busy for every other measuring leaf. */
	assert_gp(sgx_eextend(cpu, secs, t_page(cpu, 1)));
	atomic_store(&secs_e->measure_busy, 0);
	assert_memory_equal(&secs_hidden(cpu, 0)->mr, &mr, sizeof(mr));

	/*
	 * A taker that claimed the page and is still deciding: EEXTEND waits a
	 * bounded moment for its decision, then counts the page as busy.
	 */
	atomic_store(&page_e->lock, PAGE_LOCK_CLAIM);
	assert_gp(sgx_eextend(cpu, secs, t_page(cpu, 1)));
	assert_false(page_lock_shared(page_e));
	assert_false(leaf_lock_excl(cpu, page_e));
	assert_int_equal(atomic_load(&page_e->lock), PAGE_LOCK_CLAIM);
	atomic_store(&page_e->lock, 0);
	assert_int_equal(atomic_load(&secs_e->measure_busy), 0);
	assert_memory_equal(&secs_hidden(cpu, 0)->mr, &mr, sizeof(mr));

	/* Free again: EEXTEND measures, and the page can go. */
	assert_leaf_ok(sgx_eextend(cpu, secs, t_page(cpu, 1)));
	sgx_measure_eextend(&mr, 0, t_page(cpu, 1));
	assert_memory_equal(&secs_hidden(cpu, 0)->mr, &mr, sizeof(mr));
	assert_leaf_ok(sgx_eremove(cpu, t_page(cpu, 1)));
}

/*
 * PENDING, MODIFIED and PR in EADD's SECINFO: the EADD block measures the
 * whole FLAGS word, but the new page gets none of them (SDM EADD).
 */
static void test_eadd_state_bits_measured_not_set(void **state)
{
	const uint64_t flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W |
			       SGX_SECINFO_PENDING | SGX_SECINFO_PR;
	struct sgx_epcm_view v;
	struct sgx_measure m;

	(void)state;
	assert_leaf_ok(t_eadd(cpu, secs, 1, BASE + 0x2000, flags, NULL));
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, 1), &v), 0);
	assert_true(v.valid);
	assert_false(v.pending);
	assert_false(v.modified);
	assert_false(v.pr);
	assert_int_equal(v.rwx, SGX_SECINFO_R | SGX_SECINFO_W);
	sgx_measure_ecreate(&m, 1, SIZE);
	sgx_measure_eadd(&m, 0x2000, flags);
	assert_memory_equal(&m, &secs_hidden(cpu, epc_frame(cpu, (uint64_t)(uintptr_t)secs))->mr,
			    sizeof(m));
}

static void test_eadd_ok(void **state)
{
	uint8_t data[4096];
	struct sgx_tcs tcs;
	struct sgx_epcm_view v;

	(void)state;
	memset(data, 0xA5, sizeof(data));
	assert_leaf_ok(t_eadd(cpu, secs, 1, BASE + 0x2000, SGX_SECINFO_REG | 5, data));
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, 1), &v), 0);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_REG);
	assert_int_equal(v.rwx, 5);
	assert_int_equal(v.linaddr, BASE + 0x2000);
	assert_ptr_equal(v.secs, secs);
	assert_memory_equal(sgx_epc_page_bytes(cpu, t_page(cpu, 1)), data, 4096);
	assert_int_equal(sgx_cpu_secs_children(cpu, secs), 1);

	/* TCS: permissions and hardware-owned fields forced to zero. */
	t_tcs_src(&tcs, 0x1000, 1, 0);
	tcs.flags = SGX_TCS_DBGOPTIN;
	tcs.ssa_index = 5;
	tcs.exit_addr = 0x1234;
	tcs.state = 1;
	assert_leaf_ok(t_eadd(cpu, secs, 2, BASE, SGX_SECINFO_TCS | 7, &tcs));
	assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, 2), &v), 0);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_TCS);
	assert_int_equal(v.rwx, 0);
	struct sgx_tcs *in = sgx_epc_page_bytes(cpu, t_page(cpu, 2));
	assert_int_equal(in->flags, 0);
	assert_int_equal(in->ssa_index, 0);
	assert_int_equal(in->exit_addr, 0);
	assert_int_equal(in->state, 0);
	assert_int_equal(in->ssa_offset, 0x1000);
	assert_int_equal(sgx_cpu_secs_children(cpu, secs), 2);
}

static struct sgx_secinfo add_si __attribute__((aligned(64)));
static uint8_t add_src[4096] __attribute__((aligned(4096)));

static void eadd_args(uint64_t linaddr, uint64_t flags)
{
	memset(&add_si, 0, sizeof(add_si));
	add_si.flags = flags;
	memset(add_src, 0, sizeof(add_src));
	memset(&pi, 0, sizeof(pi));
	pi.addr = linaddr;
	pi.contents = (uint64_t)(uintptr_t)add_src;
	pi.metadata = (uint64_t)(uintptr_t)&add_si;
	pi.secs = (uint64_t)(uintptr_t)secs;
}

static void expect_eadd_gp(const char *what)
{
	struct t_epcm_snap snap;

	t_snap(cpu, &snap, 8);
	print_message("# EADD: %s\n", what);
	assert_gp(sgx_eadd(cpu, &pi, t_page(cpu, 3)));
	t_assert_snap_equal(cpu, &snap);
}

static void test_eadd_errors(void **state)
{
	static uint8_t not_epc[4096] __attribute__((aligned(4096)));
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	struct sgx_tcs *tcs = (struct sgx_tcs *)add_src;
	struct t_epcm_snap snap;

	(void)state;
	eadd_args(BASE + 0x3000, rw);
	assert_gp(sgx_eadd(cpu, (struct sgx_pageinfo *)((uint8_t *)&pi + 16), t_page(cpu, 3)));
	assert_gp(sgx_eadd(cpu, &pi, (uint8_t *)t_page(cpu, 3) + 8));
	t_assert_pf_at(sgx_eadd(cpu, &pi, not_epc), not_epc);
	pi.contents += 64;
	expect_eadd_gp("SRCPGE misaligned");
	eadd_args(BASE + 0x3000, rw);
	pi.secs += 64;
	expect_eadd_gp("SECS misaligned");
	eadd_args(BASE + 0x3000, rw);
	pi.metadata += 32;
	expect_eadd_gp("SECINFO misaligned");
	eadd_args(BASE + 0x3008, rw);
	expect_eadd_gp("LINADDR misaligned");
	eadd_args(BASE + 0x3000, rw);
	pi.secs = (uint64_t)(uintptr_t)not_epc;
	t_snap(cpu, &snap, 8);
	t_assert_pf_at(sgx_eadd(cpu, &pi, t_page(cpu, 3)), not_epc);
	t_assert_snap_equal(cpu, &snap);
	eadd_args(BASE + 0x3000, rw | (1ULL << 20));
	expect_eadd_gp("SECINFO reserved flag");
	eadd_args(BASE + 0x3000, rw);
	add_si.reserved[10] = 1;
	expect_eadd_gp("SECINFO reserved bytes");
	eadd_args(BASE + 0x3000, SGX_SECINFO_VA);
	expect_eadd_gp("page type VA");
	eadd_args(BASE + 0x3000, SGX_SECINFO_TRIM);
	expect_eadd_gp("page type TRIM");
	eadd_args(BASE + 0x3000, SGX_SECINFO_REG | SGX_SECINFO_W);
	expect_eadd_gp("W without R");
	eadd_args(BASE + 0x3000, SGX_SECINFO_TCS);
	tcs->reserved[7] = 1;
	expect_eadd_gp("TCS reserved area");
	/* Reserved TCS.FLAGS bits are EENTER's to refuse, not EADD's (SDM TCS, EADD). */
	eadd_args(BASE + 0x3000, SGX_SECINFO_TCS);
	tcs->flags = 1ULL << 5;
	assert_leaf_ok(sgx_eadd(cpu, &pi, t_page(cpu, 3)));
	assert_int_equal(((struct sgx_tcs *)sgx_epc_page_bytes(cpu, t_page(cpu, 3)))->flags,
			 1ULL << 5);
	assert_leaf_ok(sgx_eremove(cpu, t_page(cpu, 3)));
	eadd_args(BASE + SIZE, rw);
	expect_eadd_gp("LINADDR above ELRANGE");
	eadd_args(BASE - 0x1000, rw);
	expect_eadd_gp("LINADDR below ELRANGE");

	/* Target already valid: #PF with the SGX bit. */
	assert_leaf_ok(t_eadd(cpu, secs, 3, BASE + 0x3000, rw, NULL));
	eadd_args(BASE + 0x4000, rw);
	t_snap(cpu, &snap, 8);
	t_assert_pf_at(sgx_eadd(cpu, &pi, t_page(cpu, 3)), t_page(cpu, 3));
	t_assert_snap_equal(cpu, &snap);
	/* SECS operand that is an EPC page but not a SECS: #PF on it. */
	pi.secs = (uint64_t)(uintptr_t)t_page(cpu, 3);
	t_assert_pf_at(sgx_eadd(cpu, &pi, t_page(cpu, 4)), t_page(cpu, 3));
	pi.secs = (uint64_t)(uintptr_t)t_page(cpu, 7); /* invalid EPC page */
	t_assert_pf_at(sgx_eadd(cpu, &pi, t_page(cpu, 4)), t_page(cpu, 7));
	/* Same page as target and SECS: the target is a valid page, #PF on it. */
	eadd_args(BASE + 0x4000, rw);
	t_assert_pf_at(sgx_eadd(cpu, &pi, secs), secs);
	/* ... and as an invalid page: then the SECS operand is the invalid one. */
	pi.secs = (uint64_t)(uintptr_t)t_page(cpu, 6);
	t_assert_pf_at(sgx_eadd(cpu, &pi, t_page(cpu, 6)), t_page(cpu, 6));
	/* Source page inside the EPC: #GP. */
	eadd_args(BASE + 0x4000, rw);
	pi.contents = (uint64_t)(uintptr_t)t_page(cpu, 3);
	assert_gp(sgx_eadd(cpu, &pi, t_page(cpu, 4)));
}

static void test_eadd_32bit_tcs_limits(void **state)
{
	void *s32;
	struct sgx_tcs tcs;

	(void)state;
	s32 = t_ecreate(cpu, 10, 0x10000, SIZE, 0);
	t_tcs_src(&tcs, 0x1000, 1, 0);
	assert_gp(t_eadd(cpu, s32, 11, 0x10000, SGX_SECINFO_TCS, &tcs));
	tcs.fs_limit = 0xFFF;
	tcs.gs_limit = 0x1FFF;
	assert_leaf_ok(t_eadd(cpu, s32, 11, 0x10000, SGX_SECINFO_TCS, &tcs));
}

static void test_eextend(void **state)
{
	static uint8_t not_epc[4096] __attribute__((aligned(4096)));
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	uint8_t before[32], after[32];
	struct sgx_measure m;
	void *other;

	(void)state;
	assert_leaf_ok(t_eadd(cpu, secs, 1, BASE + 0x1000, rw, NULL));
	m = secs_hidden(cpu, 0)->mr;
	sgx_measure_final(&m, before);
	assert_leaf_ok(sgx_eextend(cpu, secs, (uint8_t *)t_page(cpu, 1) + 0x300));
	m = secs_hidden(cpu, 0)->mr;
	sgx_measure_final(&m, after);
	assert_memory_not_equal(before, after, 32);

	assert_gp(sgx_eextend(cpu, (uint8_t *)secs + 8, t_page(cpu, 1)));
	t_assert_pf_at(sgx_eextend(cpu, not_epc, t_page(cpu, 1)), not_epc);
	assert_gp(sgx_eextend(cpu, secs, (uint8_t *)t_page(cpu, 1) + 0x80));
	t_assert_pf_at(sgx_eextend(cpu, secs, not_epc + 256), not_epc + 256);
	/* Invalid page, and a SECS as the chunk: #PF on the chunk. */
	t_assert_pf_at(sgx_eextend(cpu, secs, (uint8_t *)t_page(cpu, 6) + 256),
		       (uint8_t *)t_page(cpu, 6) + 256);
	t_assert_pf_at(sgx_eextend(cpu, secs, secs), secs);
	/* The page belongs to another enclave: #GP. */
	other = t_ecreate(cpu, 20, BASE * 2, SIZE, SGX_ATTR_MODE64BIT);
	assert_gp(sgx_eextend(cpu, other, t_page(cpu, 1)));
	/* RBX is not the page's SECS at all (SDM EEXTEND): #GP. */
	assert_gp(sgx_eextend(cpu, t_page(cpu, 1), t_page(cpu, 1)));
	m = secs_hidden(cpu, 0)->mr;
	sgx_measure_final(&m, before);
	assert_memory_equal(before, after, 32);
}

/* ---- EINIT ---- */

static struct t_encl encl;

static int setup_built(void **state)
{
	(void)state;
	cpu = t_cpu(1);
	return 0;
}

/* Build the standard enclave without EINIT by replaying t_build_encl's steps. */
static void build_uninit(uint64_t attributes, uint8_t mr[32])
{
	struct sgx_tcs tcs;
	struct sgx_measure m;

	memset(&encl, 0, sizeof(encl));
	encl.secs = t_ecreate(cpu, 0, BASE, SIZE, attributes | SGX_ATTR_MODE64BIT);
	sgx_measure_ecreate(&m, 1, SIZE);
	t_tcs_src(&tcs, 0x1000, 2, 0x4000);
	assert_leaf_ok(t_eadd(cpu, encl.secs, 1, BASE, SGX_SECINFO_TCS, &tcs));
	t_eextend_page(cpu, encl.secs, t_page(cpu, 1));
	sgx_measure_eadd(&m, 0, SGX_SECINFO_TCS);
	for (int i = 0; i < 16; i++)
		sgx_measure_eextend(&m, i * 256, (uint8_t *)&tcs + i * 256);
	sgx_measure_final(&m, mr);
}

static void reset_cpu(void)
{
	sgx_cpu_destroy(cpu);
	cpu = t_cpu(1);
}

static void test_einit_ok(void **state)
{
	struct sgx_sigstruct ss;
	uint8_t mr[32], signer[32];
	struct sgx_secs *s;

	(void)state;
	reset_cpu();
	build_uninit(0, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	assert_leaf_ok(t_einit(cpu, encl.secs, &ss));
	s = sgx_epc_page_bytes(cpu, encl.secs);
	assert_true(s->attributes & SGX_ATTR_INIT);
	assert_memory_equal(s->mrenclave, mr, 32);
	sgx_sigstruct_mrsigner(&ss, signer);
	assert_memory_equal(s->mrsigner, signer, 32);
	assert_int_equal(s->isv_prod_id, 7);
	assert_int_equal(s->isv_svn, 3);
	assert_memory_equal(secs_hidden(cpu, 0)->padding, sgx_padding_const, 352);
	/* Initialised: EINIT, EADD, EEXTEND all #GP now. */
	assert_gp(t_einit(cpu, encl.secs, &ss));
	assert_gp(t_eadd(cpu, encl.secs, 2, BASE + 0x1000, SGX_SECINFO_REG | 3, NULL));
	assert_gp(sgx_eextend(cpu, encl.secs, t_page(cpu, 1)));
}

/* Run EINIT with a SIGSTRUCT mutated after/before signing and check the result. */
static void einit_expect(const char *what, void (*mutate)(struct sgx_sigstruct *), bool resign,
			 int expect)
{
	struct sgx_sigstruct ss;
	uint8_t mr[32];
	struct t_epcm_snap snap;

	reset_cpu();
	build_uninit(0, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	mutate(&ss);
	if (resign)
		assert_int_equal(sgx_sigstruct_sign(&ss, t_key()), 0);
	t_snap(cpu, &snap, 4);
	print_message("# EINIT: %s\n", what);
	assert_int_equal(t_einit(cpu, encl.secs, &ss), expect);
	t_assert_snap_equal(cpu, &snap);
	assert_false(((struct sgx_secs *)sgx_epc_page_bytes(cpu, encl.secs))->attributes &
		     SGX_ATTR_INIT);
	/* The failure changed nothing: the right SIGSTRUCT still initialises. */
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	assert_leaf_ok(t_einit(cpu, encl.secs, &ss));
}

static void s_header(struct sgx_sigstruct *ss) { ss->header.header1[0] ^= 1; }
static void s_header2(struct sgx_sigstruct *ss) { ss->header.header2[1] ^= 1; }
static void s_vendor(struct sgx_sigstruct *ss) { ss->header.vendor = 0x1234; }
static void s_exponent(struct sgx_sigstruct *ss) { ss->exponent = 65537; }
static void s_reserved1(struct sgx_sigstruct *ss) { ss->header.reserved1[3] = 1; }
static void s_reserved2(struct sgx_sigstruct *ss) { ss->body.reserved2[0] = 1; }
static void s_reserved3(struct sgx_sigstruct *ss) { ss->body.reserved3[0] = 1; }
static void s_reserved4(struct sgx_sigstruct *ss) { ss->reserved4[0] = 1; }
static void s_sig(struct sgx_sigstruct *ss) { ss->signature[17] ^= 1; }
static void s_q1(struct sgx_sigstruct *ss) { ss->q1[0] ^= 1; }
static void s_q2(struct sgx_sigstruct *ss) { ss->q2[5] ^= 1; }
static void s_body(struct sgx_sigstruct *ss) { ss->body.isvsvn++; }
static void s_modulus(struct sgx_sigstruct *ss) { ss->modulus[100] ^= 1; }
static void s_hash(struct sgx_sigstruct *ss) { ss->body.mrenclave[0] ^= 1; }
static void s_attr(struct sgx_sigstruct *ss) { ss->body.attributes |= SGX_ATTR_DEBUG; }
static void s_xfrm(struct sgx_sigstruct *ss) { ss->body.xfrm = 7; }
static void s_misc(struct sgx_sigstruct *ss)
{
	ss->body.miscselect = 1;
	ss->body.misc_mask = 1;
}
static void s_family(struct sgx_sigstruct *ss) { ss->body.isvfamilyid[0] = 1; }
static void s_extprod(struct sgx_sigstruct *ss) { ss->body.isvextprodid[3] = 1; }
static void s_vendor_intel(struct sgx_sigstruct *ss) { ss->header.vendor = 0x8086; }
static void s_mask_ignores(struct sgx_sigstruct *ss)
{
	ss->body.attributes |= SGX_ATTR_DEBUG;
	ss->body.attributes_mask &= ~SGX_ATTR_DEBUG;
}

static void test_einit_errors(void **state)
{
	(void)state;
	einit_expect("HEADER", s_header, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("HEADER2", s_header2, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("VENDOR", s_vendor, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("EXPONENT", s_exponent, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("header reserved", s_reserved1, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("body reserved", s_reserved3, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("body reserved (CET attributes)", s_reserved2, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("tail reserved", s_reserved4, false, SGX_INVALID_SIG_STRUCT);
	einit_expect("signature bit", s_sig, false, SGX_INVALID_SIGNATURE);
	einit_expect("Q1", s_q1, false, SGX_INVALID_SIGNATURE);
	einit_expect("Q2", s_q2, false, SGX_INVALID_SIGNATURE);
	einit_expect("signed body changed", s_body, false, SGX_INVALID_SIGNATURE);
	einit_expect("modulus changed", s_modulus, false, SGX_INVALID_SIGNATURE);
	einit_expect("ENCLAVEHASH", s_hash, true, SGX_INVALID_MEASUREMENT);
	einit_expect("ATTRIBUTES", s_attr, true, SGX_INVALID_ATTRIBUTE);
	einit_expect("XFRM", s_xfrm, true, SGX_INVALID_ATTRIBUTE);
	einit_expect("MISCSELECT", s_misc, true, SGX_INVALID_ATTRIBUTE);
	einit_expect("ISVFAMILYID without KSS", s_family, true, SGX_INVALID_SIG_STRUCT);
	einit_expect("ISVEXTPRODID without KSS", s_extprod, true, SGX_INVALID_SIG_STRUCT);
}

static void test_einit_accepts(void **state)
{
	struct sgx_sigstruct ss;
	uint8_t mr[32];

	(void)state;
	/* Vendor 0x8086 and a masked-off attribute difference are fine. */
	reset_cpu();
	build_uninit(0, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	s_vendor_intel(&ss);
	s_mask_ignores(&ss);
	assert_int_equal(sgx_sigstruct_sign(&ss, t_key()), 0);
	assert_leaf_ok(t_einit(cpu, encl.secs, &ss));
}

/*
 * An interrupt during the signature check: SGX_UNMASKED_EVENT with nothing
 * changed, one pending event consumed per EINIT; a bad SIGSTRUCT format is
 * reported before the event window opens, and the retry then succeeds.
 */
static void test_einit_unmasked_event(void **state)
{
	struct sgx_sigstruct ss, bad;
	struct t_epcm_snap snap;
	uint8_t mr[32];

	(void)state;
	reset_cpu();
	build_uninit(0, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	bad = ss;
	s_header(&bad);
	sgx_cpu_raise_events(cpu, 2);
	t_snap(cpu, &snap, 4);
	assert_int_equal(t_einit(cpu, encl.secs, &bad), SGX_INVALID_SIG_STRUCT);
	assert_int_equal(t_einit(cpu, encl.secs, &ss), SGX_UNMASKED_EVENT);
	t_assert_snap_equal(cpu, &snap);
	assert_false(((struct sgx_secs *)sgx_epc_page_bytes(cpu, encl.secs))->attributes &
		     SGX_ATTR_INIT);
	assert_int_equal(t_einit(cpu, encl.secs, &ss), SGX_UNMASKED_EVENT);
	assert_leaf_ok(t_einit(cpu, encl.secs, &ss));
	assert_true(((struct sgx_secs *)sgx_epc_page_bytes(cpu, encl.secs))->attributes &
		    SGX_ATTR_INIT);
}

static void test_einit_operands(void **state)
{
	static uint8_t page[8192] __attribute__((aligned(4096)));
	struct sgx_sigstruct ss;
	uint8_t mr[32];

	(void)state;
	reset_cpu();
	build_uninit(0, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	memcpy(page, &ss, sizeof(ss));
	assert_gp(sgx_einit(cpu, page + 64, page + 2048, encl.secs));
	assert_gp(sgx_einit(cpu, page, page + 2048 + 64, encl.secs));
	assert_gp(sgx_einit(cpu, page, page + 2048, (uint8_t *)encl.secs + 64));
	t_assert_pf_at(sgx_einit(cpu, page, page + 2048, page + 4096), page + 4096);
	/* An EPC page that is not a SECS: #PF on it. */
	t_assert_pf_at(sgx_einit(cpu, page, page + 2048, t_page(cpu, 1)), t_page(cpu, 1));
	t_assert_pf_at(sgx_einit(cpu, page, page + 2048, t_page(cpu, 9)), t_page(cpu, 9));
}

static void test_einit_launch_control(void **state)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct sgx_sigstruct ss;
	uint8_t mr[32];

	(void)state;
	/* Zero token, MRSIGNER != LE hash MSRs: SGX_INVALID_EINITTOKEN. */
	reset_cpu();
	build_uninit(0, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	memset(page, 0, sizeof(page));
	memcpy(page, &ss, sizeof(ss));
	assert_int_equal(sgx_einit(cpu, page, page + 2048, encl.secs), SGX_INVALID_EINITTOKEN);
	/* EINITTOKEN_KEY is a controlled attribute: needs MRSIGNER == LE hash. */
	reset_cpu();
	build_uninit(SGX_ATTR_EINITTOKENKEY, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT | SGX_ATTR_EINITTOKENKEY, 3, t_key());
	memcpy(page, &ss, sizeof(ss));
	assert_int_equal(sgx_einit(cpu, page, page + 2048, encl.secs), SGX_INVALID_ATTRIBUTE);
	assert_leaf_ok(t_einit(cpu, encl.secs, &ss));
}

static void test_einit_debug_type_bit(void **state)
{
	struct sgx_cpu_config cfg;
	struct sgx_sigstruct ss;
	uint8_t mr[32];

	(void)state;
	reset_cpu();
	build_uninit(0, mr);
	t_sigstruct(&ss, mr, SGX_ATTR_MODE64BIT, 3, t_key());
	ss.header.header1[1] |= 1ULL << 63;
	assert_int_equal(sgx_sigstruct_sign(&ss, t_key()), 0);
	assert_int_equal(t_einit(cpu, encl.secs, &ss), SGX_INVALID_SIG_STRUCT);

	sgx_cpu_destroy(cpu);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	cfg.allow_sigstruct_debug_type = true;
	cpu = sgx_cpu_create(&cfg, NULL);
	assert_non_null(cpu);
	build_uninit(0, mr);
	assert_leaf_ok(t_einit(cpu, encl.secs, &ss));
}

/*
 * NULL operands of every ENCLS leaf with a host pointer are an access to an
 * unmapped page: #PF at 0 (W for EWB's outputs), nothing changed.  Before,
 * the model dereferenced them and the process crashed.
 */
static void assert_pf_null(int r, bool write)
{
	t_assert_pf_at(r, NULL);
	assert_int_equal(sgx_last_fault()->errcd, write ? X86_PF_WRITE : 0);
}

static void test_null_operands(void **state)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	static struct sgx_secinfo si __attribute__((aligned(64)));
	struct sgx_pageinfo p __attribute__((aligned(32)));
	struct t_epcm_snap snap;
	struct t_encl e;
	void *free_page, *va;

	(void)state;
	cpu = t_cpu(1);
	t_build_encl(cpu, &e, 0);
	free_page = t_page(cpu, 20);
	va = t_page(cpu, 21);
	assert_leaf_ok(sgx_epa(cpu, SGX_PAGE_TYPE_VA, va));
	t_snap(cpu, &snap, 24);

	/* ECREATE: PAGEINFO, SRCPGE, SECINFO. */
	assert_pf_null(sgx_ecreate(cpu, NULL, free_page), false);
	p = (struct sgx_pageinfo){ .metadata = (uint64_t)(uintptr_t)&si };
	assert_pf_null(sgx_ecreate(cpu, &p, free_page), false);
	p = (struct sgx_pageinfo){ .contents = (uint64_t)(uintptr_t)page };
	assert_pf_null(sgx_ecreate(cpu, &p, free_page), false);
	/* EADD: PAGEINFO, SRCPGE, SECINFO. */
	assert_pf_null(sgx_eadd(cpu, NULL, free_page), false);
	p = (struct sgx_pageinfo){ .addr = e.base + 0x9000, .secs = (uint64_t)(uintptr_t)e.secs,
				   .metadata = (uint64_t)(uintptr_t)&si };
	assert_pf_null(sgx_eadd(cpu, &p, free_page), false);
	p.contents = (uint64_t)(uintptr_t)page;
	p.metadata = 0;
	assert_pf_null(sgx_eadd(cpu, &p, free_page), false);
	/* EINIT: SIGSTRUCT, EINITTOKEN. */
	assert_pf_null(sgx_einit(cpu, NULL, page, e.secs), false);
	assert_pf_null(sgx_einit(cpu, page, NULL, e.secs), false);
	/* EWB writes PCMD and the page; ELDU/ELDB read them. */
	assert_pf_null(sgx_ewb(cpu, NULL, e.data, va), false);
	p = (struct sgx_pageinfo){ .contents = (uint64_t)(uintptr_t)page };
	assert_pf_null(sgx_ewb(cpu, &p, e.data, va), true);
	p = (struct sgx_pageinfo){ .metadata = (uint64_t)(uintptr_t)page };
	assert_pf_null(sgx_ewb(cpu, &p, e.data, va), true);
	assert_pf_null(sgx_eldu(cpu, NULL, free_page, va), false);
	p = (struct sgx_pageinfo){ .addr = e.base + 0x9000, .secs = (uint64_t)(uintptr_t)e.secs,
				   .contents = (uint64_t)(uintptr_t)page };
	assert_pf_null(sgx_eldb(cpu, &p, free_page, va), false);
	/* SGX2: EAUG's PAGEINFO, EMODPR's and EMODT's SECINFO. */
	assert_pf_null(sgx_eaug(cpu, NULL, free_page), false);
	assert_pf_null(sgx_emodpr(cpu, NULL, e.data), false);
	assert_pf_null(sgx_emodt(cpu, NULL, e.data), false);

	t_assert_snap_equal(cpu, &snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ecreate_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecreate_gp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecreate_operands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecreate_overwrites_computed_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operands_in_epc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecreate_kss_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eadd_ok, setup_encl, teardown),
		cmocka_unit_test_setup_teardown(test_eadd_state_bits_measured_not_set, setup_encl,
						teardown),
		cmocka_unit_test_setup_teardown(test_busy_gp, setup_encl, teardown),
		cmocka_unit_test_setup_teardown(test_eextend_holds_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eadd_errors, setup_encl, teardown),
		cmocka_unit_test_setup_teardown(test_eadd_32bit_tcs_limits, setup_encl, teardown),
		cmocka_unit_test_setup_teardown(test_eextend, setup_encl, teardown),
		cmocka_unit_test_setup_teardown(test_einit_ok, setup_built, teardown),
		cmocka_unit_test_setup_teardown(test_einit_errors, setup_built, teardown),
		cmocka_unit_test_setup_teardown(test_einit_accepts, setup_built, teardown),
		cmocka_unit_test_setup_teardown(test_einit_unmasked_event, setup_built, teardown),
		cmocka_unit_test_setup_teardown(test_einit_operands, setup_built, teardown),
		cmocka_unit_test_setup_teardown(test_einit_launch_control, setup_built, teardown),
		cmocka_unit_test_setup_teardown(test_einit_debug_type_bit, setup_built, teardown),
		cmocka_unit_test_teardown(test_null_operands, teardown),
	};
	return T_RUN(tests);
}
