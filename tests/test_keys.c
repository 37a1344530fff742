// SPDX-License-Identifier: MIT
/*
 * Key hierarchy: AES-CMAC against RFC 4493 and OpenSSL, derive_key(), the
 * padding constant, EREPORT/EGETKEY run from inside enclaves (entered with
 * EENTER through sgx_enclu()), EINITTOKEN checks in EINIT, and EUPDATESVN
 * changing the CPUSVN they use.
 */
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "helpers.h"
#include "internal.h"
#include "softsgx/measure.h"

#define BASE_A 0x100000000ULL
#define BASE_B 0x200000000ULL
#define BASE_C 0x300000000ULL
#define ESIZE 0x10000ULL
#define HOST_RIP 0x7000000000ULL
#define HOST_AEP 0x7000000100ULL

/* Operands inside the data page (enclave offset 0x3000). */
#define DATA_OFF 0x3000ULL
#define TI_OFF 0x000
#define RD_OFF 0x200
#define REP_OFF 0x400
#define KR_OFF 0x600
#define KEY_OFF 0x800

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
	cpu = NULL;
	return 0;
}

/* ----------------------------------------------------------------------- */
/* AES-CMAC                                                                  */

static const uint8_t rfc_key[16] = {
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
	0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
};
static const uint8_t rfc_msg[64] = {
	0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17,
	0x2a, 0xae, 0x2d, 0x8a, 0x57, 0x1e, 0x03, 0xac, 0x9c, 0x9e, 0xb7, 0x6f, 0xac, 0x45, 0xaf,
	0x8e, 0x51, 0x30, 0xc8, 0x1c, 0x46, 0xa3, 0x5c, 0xe4, 0x11, 0xe5, 0xfb, 0xc1, 0x19, 0x1a,
	0x0a, 0x52, 0xef, 0xf6, 0x9f, 0x24, 0x45, 0xdf, 0x4f, 0x9b, 0x17, 0xad, 0x2b, 0x41, 0x7b,
	0xe6, 0x6c, 0x37, 0x10,
};
static const struct {
	size_t len;
	uint8_t mac[16];
} rfc_vec[4] = {
	{ 0, { 0xbb, 0x1d, 0x69, 0x29, 0xe9, 0x59, 0x37, 0x28,
	       0x7f, 0xa3, 0x7d, 0x12, 0x9b, 0x75, 0x67, 0x46 } },
	{ 16, { 0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d, 0x41, 0x44,
		0xf7, 0x9b, 0xdd, 0x9d, 0xd0, 0x4a, 0x28, 0x7c } },
	{ 40, { 0xdf, 0xa6, 0x67, 0x47, 0xde, 0x9a, 0xe6, 0x30,
		0x30, 0xca, 0x32, 0x61, 0x14, 0x97, 0xc8, 0x27 } },
	{ 64, { 0x51, 0xf0, 0xbe, 0xbf, 0x7e, 0x3b, 0x9d, 0x92,
		0xfc, 0x49, 0x74, 0x17, 0x79, 0x36, 0x3c, 0xfe } },
};

static void cmac_rfc4493(void **state)
{
	uint8_t mac[16];

	(void)state;
	for (unsigned int i = 0; i < 4; i++) {
		memset(mac, 0, sizeof(mac));
		aes_cmac(rfc_key, rfc_msg, rfc_vec[i].len, mac);
		assert_memory_equal(mac, rfc_vec[i].mac, 16);
	}
}

/* Reference CMAC from OpenSSL's EVP_MAC. */
static int ossl_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16])
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM p[2];
	size_t out = 0;
	int ok;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0);
	p[1] = OSSL_PARAM_construct_end();
	ok = c && EVP_MAC_init(c, key, 16, p) && EVP_MAC_update(c, data, len) &&
	     EVP_MAC_final(c, mac, &out, 16) && out == 16;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	return ok ? 0 : -1;
}

/* Every length 0..700 (all partial-block cases), varying keys. */
static int cmac_compare_openssl(void)
{
	static uint8_t msg[700];
	uint8_t key[16], a[16], b[16];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 131 + 17);
	for (size_t len = 0; len <= sizeof(msg); len++) {
		for (int j = 0; j < 16; j++)
			key[j] = (uint8_t)(len * 29 + (size_t)j * 7);
		aes_cmac(key, msg, len, a);
		if (ossl_cmac(key, msg, len, b) || memcmp(a, b, 16))
			return -1;
	}
	return 0;
}

static void cmac_matches_openssl(void **state)
{
	(void)state;
	assert_int_equal(cmac_compare_openssl(), 0);
}

static void deps_sample(struct key_deps *d)
{
	uint8_t *b = (uint8_t *)d;

	for (size_t i = 0; i < sizeof(*d); i++)
		b[i] = (uint8_t)(i * 13 + 5);
}

/*
 * The portable AES path (no AES-NI), selected by SOFTSGX_NO_AESNI at platform
 * creation.  Run in a child so that the parent keeps its own choice; the
 * child must reproduce the parent's RFC vectors, OpenSSL's CMAC and the
 * parent's derived key.
 */
static void cmac_portable_path(void **state)
{
	struct key_deps d;
	uint8_t want[16];
	pid_t pid;
	int status;

	(void)state;
	deps_sample(&d);
	derive_key(cpu, &d, want);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sgx_cpu_config cfg;
		struct sgx_cpu *c;
		uint8_t mac[16], got[16];
		int err, bad = 0;

		setenv("SOFTSGX_NO_AESNI", "1", 1);
		sgx_cpu_default_config(&cfg);
		cfg.epc_size = 1 << 20;
		cfg.fixed_keys = true;
		cfg.seed = 42; /* as t_cpu() */
		c = sgx_cpu_create(&cfg, &err);
		if (!c)
			_exit(2);
		for (unsigned int i = 0; i < 4; i++) {
			aes_cmac(rfc_key, rfc_msg, rfc_vec[i].len, mac);
			bad |= memcmp(mac, rfc_vec[i].mac, 16) != 0;
		}
		bad |= cmac_compare_openssl() != 0;
		derive_key(c, &d, got);
		bad |= memcmp(got, want, 16) != 0;
		sgx_cpu_destroy(c);
		_exit(bad ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ----------------------------------------------------------------------- */
/* derive_key and the padding constant                                      */

static void derive_key_is_cmac_of_deps(void **state)
{
	struct key_deps d;
	uint8_t k1[16], k2[16], ref[16];

	(void)state;
	deps_sample(&d);
	derive_key(cpu, &d, k1);
	derive_key(cpu, &d, k2);
	assert_memory_equal(k1, k2, 16);
	/* docs/architecture.md, Keys: key = AES-128-CMAC(root key, KEYDEPENDENCIES). */
	assert_int_equal(ossl_cmac(cpu->root_key, &d, sizeof(d), ref), 0);
	assert_memory_equal(k1, ref, 16);
}

static void derive_key_every_field_matters(void **state)
{
	struct key_deps d;
	uint8_t base[16], k[16];

	(void)state;
	memset(&d, 0, sizeof(d));
	derive_key(cpu, &d, base);
	/* One bit of every byte: each field, at every position, changes the key. */
	for (size_t i = 0; i < sizeof(d); i++) {
		((uint8_t *)&d)[i] ^= (uint8_t)(1u << (i % 8));
		derive_key(cpu, &d, k);
		assert_memory_not_equal(k, base, 16);
		((uint8_t *)&d)[i] ^= (uint8_t)(1u << (i % 8));
	}
	derive_key(cpu, &d, k);
	assert_memory_equal(k, base, 16);
}

static void derive_key_per_platform(void **state)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *same, *other;
	struct key_deps d;
	uint8_t k0[16], k1[16], k2[16];
	int err;

	(void)state;
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	cfg.fixed_keys = true;
	cfg.seed = 42;
	same = sgx_cpu_create(&cfg, &err);
	assert_non_null(same);
	cfg.seed = 43;
	other = sgx_cpu_create(&cfg, &err);
	assert_non_null(other);
	deps_sample(&d);
	derive_key(cpu, &d, k0);
	derive_key(same, &d, k1);
	derive_key(other, &d, k2);
	assert_memory_equal(k0, k1, 16);
	assert_memory_not_equal(k0, k2, 16);
	sgx_cpu_destroy(same);
	sgx_cpu_destroy(other);
}

static void padding_constant(void **state)
{
	static const uint8_t tail[20] = {
		0x00, 0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48,
		0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
	};

	(void)state;
	assert_int_equal(sgx_padding_const[0], 0x00);
	assert_int_equal(sgx_padding_const[1], 0x01);
	for (int i = 2; i < 332; i++)
		assert_int_equal(sgx_padding_const[i], 0xFF);
	assert_memory_equal(sgx_padding_const + 332, tail, 20);
}

/* ----------------------------------------------------------------------- */
/* Enclaves                                                                  */

struct encl_opts {
	unsigned int frame0;
	uint64_t base;
	uint64_t attributes;
	uint8_t seed; /* data-page pattern: a different seed, a different MRENCLAVE */
	EVP_PKEY *key;
	uint16_t isvprodid, isvsvn;
	uint16_t config_svn;
	uint8_t config_id[64];
	uint8_t isvfamilyid[16], isvextprodid[16];
};

static void opts_init(struct encl_opts *o, unsigned int frame0, uint64_t base, uint8_t seed)
{
	memset(o, 0, sizeof(*o));
	o->frame0 = frame0;
	o->base = base;
	o->seed = seed;
	o->key = t_key();
	o->isvprodid = 7;
	o->isvsvn = 3;
}

/*
 * The t_build_encl() layout at frames frame0..frame0+5 and another base:
 * SECS, TCS at +0 (OSSA 0x1000, NSSA 2), SSA at +0x1000/+0x2000, RW data at
 * +0x3000, RX code at +0x4000; measured and signed, EINIT not done.
 */
static void build_uninit(struct t_encl *e, const struct encl_opts *o, struct sgx_sigstruct *ss)
{
	static struct sgx_secs src;
	static struct sgx_tcs tcs;
	static uint8_t data[4096], code[4096];
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	const uint64_t rx = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X;
	uint64_t attributes = o->attributes | SGX_ATTR_MODE64BIT;
	unsigned int f = o->frame0;
	struct sgx_measure m;

	memset(e, 0, sizeof(*e));
	e->base = o->base;
	e->size = ESIZE;
	t_secs_src(&src, e->base, e->size, attributes);
	src.config_svn = o->config_svn;
	memcpy(src.config_id, o->config_id, 64);
	e->secs = t_ecreate_src(cpu, f, &src);
	sgx_measure_ecreate(&m, 1, e->size);

	t_tcs_src(&tcs, 0x1000, 2, 0x4000);
	assert_leaf_ok(t_eadd(cpu, e->secs, f + 1, e->base, SGX_SECINFO_TCS, &tcs));
	e->tcs = t_page(cpu, f + 1);
	t_eextend_page(cpu, e->secs, e->tcs);
	sgx_measure_eadd(&m, 0, SGX_SECINFO_TCS);
	for (unsigned int i = 0; i < 16; i++)
		sgx_measure_eextend(&m, i * 256, (const uint8_t *)&tcs + i * 256);
	for (unsigned int i = 0; i < 2; i++) {
		assert_leaf_ok(t_eadd(cpu, e->secs, f + 2 + i, e->base + 0x1000 * (i + 1), rw,
				      NULL));
		e->ssa[i] = t_page(cpu, f + 2 + i);
		sgx_measure_eadd(&m, 0x1000 * (i + 1), rw);
	}
	for (unsigned int i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7 + 1 + o->seed);
		code[i] = 0xCC;
	}
	assert_leaf_ok(t_eadd(cpu, e->secs, f + 4, e->base + DATA_OFF, rw, data));
	e->data = t_page(cpu, f + 4);
	t_eextend_page(cpu, e->secs, e->data);
	sgx_measure_eadd(&m, DATA_OFF, rw);
	for (unsigned int i = 0; i < 16; i++)
		sgx_measure_eextend(&m, DATA_OFF + i * 256, data + i * 256);
	assert_leaf_ok(t_eadd(cpu, e->secs, f + 5, e->base + 0x4000, rx, code));
	e->code = t_page(cpu, f + 5);
	sgx_measure_eadd(&m, 0x4000, rx);
	sgx_measure_final(&m, e->mrenclave);

	t_sigstruct(ss, e->mrenclave, attributes, 3, o->key);
	ss->body.isvprodid = o->isvprodid;
	ss->body.isvsvn = o->isvsvn;
	memcpy(ss->body.isvfamilyid, o->isvfamilyid, 16);
	memcpy(ss->body.isvextprodid, o->isvextprodid, 16);
	assert_int_equal(sgx_sigstruct_sign(ss, o->key), 0);
}

static void build_encl(struct t_encl *e, const struct encl_opts *o)
{
	struct sgx_sigstruct ss;

	build_uninit(e, o, &ss);
	assert_leaf_ok(t_einit(cpu, e->secs, &ss));
}

static void build_simple(struct t_encl *e, unsigned int frame0, uint64_t base, uint8_t seed,
			 uint64_t attributes)
{
	struct encl_opts o;

	opts_init(&o, frame0, base, seed);
	o.attributes = attributes;
	build_encl(e, &o);
}

static struct sgx_secs *secs_view(const struct t_encl *e)
{
	return sgx_epc_page_bytes(cpu, e->secs);
}

/* A logical processor running inside an enclave. */
struct run {
	const struct t_encl *e;
	struct t_mmu m;
	struct sgx_lp lp;
	struct sgx_regs regs;
};

static void run_enter(struct run *r, const struct t_encl *e)
{
	void *pages[5] = { e->tcs, e->ssa[0], e->ssa[1], e->data, e->code };

	memset(r, 0, sizeof(*r));
	r->e = e;
	t_mmu_init(&r->m);
	for (unsigned int i = 0; i < 5; i++)
		t_mmu_map(&r->m, e->base + 0x1000ULL * i, pages[i]);
	sgx_lp_init(&r->lp);
	r->regs.rax = EENTER;
	r->regs.rbx = e->base;
	r->regs.rcx = HOST_AEP;
	r->regs.rip = HOST_RIP;
	r->regs.rsp = 0x7fff0000;
	assert_leaf_ok(sgx_enclu(cpu, &r->lp, &r->m.mmu, &r->regs, NULL));
	assert_true(r->lp.in_enclave);
}

static uint64_t data_la(const struct run *r, uint64_t off)
{
	return r->e->base + DATA_OFF + off;
}

static uint8_t *data_bytes(const struct run *r)
{
	return sgx_epc_page_bytes(cpu, r->e->data);
}

/* ENCLU from the enclave's code page; the arithmetic flags start all set. */
static int run_enclu(struct run *r, uint64_t leaf, uint64_t rbx, uint64_t rcx, uint64_t rdx)
{
	r->regs.rax = leaf;
	r->regs.rbx = rbx;
	r->regs.rcx = rcx;
	r->regs.rdx = rdx;
	r->regs.rip = r->e->base + 0x4000 + 0x20;
	r->regs.rflags = 0x202 | X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF |
			 X86_EFLAGS_SF | X86_EFLAGS_OF;
	return sgx_enclu(cpu, &r->lp, &r->m.mmu, &r->regs, NULL);
}

static void targetinfo_of(const struct t_encl *e, struct sgx_targetinfo *ti)
{
	const struct sgx_secs *s = secs_view(e);

	memset(ti, 0, sizeof(*ti));
	memcpy(ti->measurement, s->mrenclave, 32);
	ti->attributes = s->attributes;
	ti->xfrm = s->xfrm;
	ti->miscselect = s->miscselect;
	ti->config_svn = s->config_svn;
	memcpy(ti->config_id, s->config_id, 64);
}

/* EREPORT with the operands in the data page; asserts success. */
static void do_ereport(struct run *r, const struct sgx_targetinfo *ti, const uint8_t rd[64],
		       struct sgx_report *out)
{
	uint8_t *p = data_bytes(r);
	struct sgx_cpu_stats before, after;
	uint64_t rip, rflags;

	memcpy(p + TI_OFF, ti, sizeof(*ti));
	memcpy(p + RD_OFF, rd, 64);
	memset(p + REP_OFF, 0xEE, sizeof(*out));
	sgx_cpu_stats(cpu, &before);
	assert_leaf_ok(run_enclu(r, EREPORT, data_la(r, TI_OFF), data_la(r, RD_OFF),
				 data_la(r, REP_OFF)));
	rip = r->e->base + 0x4000 + 0x20;
	rflags = 0x202 | X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF |
		 X86_EFLAGS_SF | X86_EFLAGS_OF;
	assert_int_equal(r->regs.rip, rip + 3);
	/* EREPORT affects no flags and leaves RAX alone. */
	assert_int_equal(r->regs.rflags, rflags);
	assert_int_equal(r->regs.rax, EREPORT);
	sgx_cpu_stats(cpu, &after);
	assert_int_equal(after.ereport, before.ereport + 1);
	memcpy(out, p + REP_OFF, sizeof(*out));
}

static void keyreq_init(struct sgx_keyrequest *kr, uint16_t name)
{
	memset(kr, 0, sizeof(*kr));
	kr->keyname = name;
	memcpy(kr->cpusvn, sgx_cpu_get_config(cpu)->cpusvn, 16);
}

/*
 * EGETKEY with the operands in the data page.  Checks the flag rules and,
 * on error, that the output is untouched.  Returns RAX.
 */
static uint64_t do_egetkey(struct run *r, const struct sgx_keyrequest *kr, uint8_t key[16])
{
	uint8_t *p = data_bytes(r);
	uint8_t poison[16];
	uint64_t rip = r->e->base + 0x4000 + 0x20;
	struct sgx_cpu_stats before, after;

	memcpy(p + KR_OFF, kr, sizeof(*kr));
	memset(poison, 0xEE, sizeof(poison));
	memcpy(p + KEY_OFF, poison, 16);
	sgx_cpu_stats(cpu, &before);
	assert_leaf_ok(run_enclu(r, EGETKEY, data_la(r, KR_OFF), data_la(r, KEY_OFF), 0));
	sgx_cpu_stats(cpu, &after);
	assert_int_equal(r->regs.rip, rip + 3);
	assert_int_equal(r->regs.rflags & (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF |
					   X86_EFLAGS_SF | X86_EFLAGS_OF), 0);
	if (r->regs.rax == 0) {
		assert_false(r->regs.rflags & X86_EFLAGS_ZF);
		assert_int_equal(after.egetkey, before.egetkey + 1);
		if (key)
			memcpy(key, p + KEY_OFF, 16);
	} else {
		assert_true(r->regs.rflags & X86_EFLAGS_ZF);
		assert_int_equal(after.egetkey, before.egetkey);
		assert_memory_equal(p + KEY_OFF, poison, 16);
	}
	return r->regs.rax;
}

static uint64_t egetkey_name(struct run *r, uint16_t name, uint8_t key[16])
{
	struct sgx_keyrequest kr;

	keyreq_init(&kr, name);
	return do_egetkey(r, &kr, key);
}

/* ----------------------------------------------------------------------- */
/* EREPORT                                                                   */

static void ereport_fields(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_targetinfo ti;
	struct sgx_report rep;
	struct sgx_sigstruct ss;
	uint8_t rd[64], mrsigner[32];
	struct t_epcm_snap snap;

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	t_snap(cpu, &snap, 8);
	targetinfo_of(&a, &ti);
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0xA0 + i);
	do_ereport(&r, &ti, rd, &rep);
	t_assert_snap_equal(cpu, &snap);

	t_sigstruct(&ss, a.mrenclave, SGX_ATTR_MODE64BIT, 3, t_key());
	sgx_sigstruct_mrsigner(&ss, mrsigner);
	assert_memory_equal(rep.body.cpusvn, sgx_cpu_get_config(cpu)->cpusvn, 16);
	assert_int_equal(rep.body.miscselect, 0);
	assert_memory_equal(rep.body.mrenclave, a.mrenclave, 32);
	assert_memory_equal(rep.body.mrsigner, mrsigner, 32);
	assert_int_equal(rep.body.isvprodid, 7);
	assert_int_equal(rep.body.isvsvn, 3);
	assert_int_equal(rep.body.attributes, SGX_ATTR_INIT | SGX_ATTR_MODE64BIT);
	assert_int_equal(rep.body.xfrm, 3);
	assert_int_equal(rep.body.config_svn, 0);
	assert_memory_equal(rep.body.report_data, rd, 64);
	assert_memory_equal(rep.keyid, cpu->report_keyid, 32);
	assert_true(all_zero(rep.body.reserved1, sizeof(rep.body.reserved1)));
	assert_true(all_zero(rep.body.reserved2, sizeof(rep.body.reserved2)));
	assert_true(all_zero(rep.body.reserved3, sizeof(rep.body.reserved3)));
	assert_true(all_zero(rep.body.reserved4, sizeof(rep.body.reserved4)));
	assert_true(all_zero(rep.body.config_id, 64));
	assert_true(all_zero(rep.body.isvfamilyid, 16));
	assert_true(all_zero(rep.body.isvextprodid, 16));
	/* Only the 432-byte REPORT is written. */
	assert_int_equal(data_bytes(&r)[REP_OFF + sizeof(rep)],
			 (uint8_t)((REP_OFF + sizeof(rep)) * 7 + 1));
}

static void ereport_kss_fields(void **state)
{
	struct encl_opts o;
	struct t_encl a;
	struct run r;
	struct sgx_targetinfo ti;
	struct sgx_report rep;
	uint8_t rd[64] = { 0 };

	(void)state;
	opts_init(&o, 0, BASE_A, 0);
	o.attributes = SGX_ATTR_KSS;
	o.config_svn = 9;
	memset(o.config_id, 0x5A, 64);
	memset(o.isvfamilyid, 0x11, 16);
	memset(o.isvextprodid, 0x22, 16);
	build_encl(&a, &o);
	run_enter(&r, &a);
	targetinfo_of(&a, &ti);
	do_ereport(&r, &ti, rd, &rep);
	assert_int_equal(rep.body.config_svn, 9);
	assert_memory_equal(rep.body.config_id, o.config_id, 64);
	assert_memory_equal(rep.body.isvfamilyid, o.isvfamilyid, 16);
	assert_memory_equal(rep.body.isvextprodid, o.isvextprodid, 16);
	assert_int_equal(rep.body.attributes, SGX_ATTR_INIT | SGX_ATTR_MODE64BIT | SGX_ATTR_KSS);
}

/* A reports to B; B's EGETKEY(REPORT_KEY) with the report's KEYID verifies it. */
static void ereport_verified_by_target(void **state)
{
	struct t_encl a, b;
	struct run ra, rb;
	struct sgx_targetinfo ti;
	struct sgx_report rep;
	struct sgx_keyrequest kr;
	uint8_t rd[64], key[16], key2[16], mac[16];

	(void)state;
	build_simple(&a, 0, BASE_A, 0, 0);
	build_simple(&b, 10, BASE_B, 1, SGX_ATTR_DEBUG);
	assert_memory_not_equal(a.mrenclave, b.mrenclave, 32);
	run_enter(&ra, &a);
	run_enter(&rb, &b);
	memset(rd, 0x42, sizeof(rd));
	targetinfo_of(&b, &ti);
	do_ereport(&ra, &ti, rd, &rep);

	keyreq_init(&kr, SGX_KEYNAME_REPORT);
	memcpy(kr.keyid, rep.keyid, 32);
	assert_int_equal(do_egetkey(&rb, &kr, key), 0);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_equal(mac, rep.mac, 16);

	/* The report key ignores the request's CPUSVN, ISVSVN, policy and masks. */
	kr.cpusvn[0] = 0;
	kr.keypolicy = SGX_KEYPOLICY_MRSIGNER;
	kr.attributemask = ~0ULL;
	kr.miscmask = ~0u;
	assert_int_equal(do_egetkey(&rb, &kr, key2), 0);
	assert_memory_equal(key2, key, 16);

	/* The sender itself cannot verify a report meant for B. */
	assert_int_equal(do_egetkey(&ra, &kr, key2), 0);
	aes_cmac(key2, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);

	/* Any change to the MAC'd body breaks verification. */
	rep.body.report_data[0] ^= 1;
	aes_cmac(key, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);
}

static void ereport_wrong_target(void **state)
{
	struct t_encl a, b, c;
	struct run ra, rb;
	struct sgx_targetinfo ti;
	struct sgx_report rep;
	struct sgx_keyrequest kr;
	uint8_t rd[64] = { 1 }, key[16], mac[16];

	(void)state;
	build_simple(&a, 0, BASE_A, 0, 0);
	build_simple(&b, 10, BASE_B, 1, 0);
	build_simple(&c, 20, BASE_C, 2, 0);
	run_enter(&ra, &a);
	run_enter(&rb, &b);
	keyreq_init(&kr, SGX_KEYNAME_REPORT);
	memcpy(kr.keyid, cpu->report_keyid, 32);
	assert_int_equal(do_egetkey(&rb, &kr, key), 0);

	/* Targeted at C: B cannot verify. */
	targetinfo_of(&c, &ti);
	do_ereport(&ra, &ti, rd, &rep);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);

	/* B's measurement but without INIT in the attributes: B cannot verify. */
	targetinfo_of(&b, &ti);
	ti.attributes &= ~SGX_ATTR_INIT;
	do_ereport(&ra, &ti, rd, &rep);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);

	/* Wrong MISCSELECT, XFRM, CONFIGSVN in the TARGETINFO: each breaks it. */
	targetinfo_of(&b, &ti);
	ti.miscselect = 1;
	do_ereport(&ra, &ti, rd, &rep);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);
	targetinfo_of(&b, &ti);
	ti.xfrm = 7;
	do_ereport(&ra, &ti, rd, &rep);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);
	targetinfo_of(&b, &ti);
	ti.config_svn = 1;
	do_ereport(&ra, &ti, rd, &rep);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);

	/* And the exact TARGETINFO of B does verify. */
	targetinfo_of(&b, &ti);
	do_ereport(&ra, &ti, rd, &rep);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_equal(mac, rep.mac, 16);

	/* A report key from another KEYID does not verify either. */
	kr.keyid[0] ^= 1;
	assert_int_equal(do_egetkey(&rb, &kr, key), 0);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_not_equal(mac, rep.mac, 16);
}

/* The TARGETINFO and the REPORT may be the same buffer: inputs are read first. */
static void ereport_overlapping_operands(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_targetinfo ti;
	struct sgx_report rep;
	struct sgx_keyrequest kr;
	uint8_t *p, key[16], mac[16];

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	p = data_bytes(&r);
	targetinfo_of(&a, &ti);
	memcpy(p + TI_OFF, &ti, sizeof(ti));
	memset(p + RD_OFF, 3, 64);
	assert_leaf_ok(run_enclu(&r, EREPORT, data_la(&r, TI_OFF), data_la(&r, RD_OFF),
				 data_la(&r, TI_OFF)));
	memcpy(&rep, p + TI_OFF, sizeof(rep));
	keyreq_init(&kr, SGX_KEYNAME_REPORT);
	memcpy(kr.keyid, rep.keyid, 32);
	assert_int_equal(do_egetkey(&r, &kr, key), 0);
	aes_cmac(key, &rep, 384, mac);
	assert_memory_equal(mac, rep.mac, 16);
}

/* A faulting EREPORT: no register, EPCM or output change. */
static void ereport_expect_fault(struct run *r, uint64_t ti, uint64_t rd, uint64_t out, int fault,
				 uint64_t pf_addr)
{
	struct t_epcm_snap snap;
	struct sgx_regs before;
	uint8_t page[4096];
	int ret;

	t_snap(cpu, &snap, 8);
	memcpy(page, data_bytes(r), sizeof(page));
	r->regs.rax = EREPORT;
	r->regs.rbx = ti;
	r->regs.rcx = rd;
	r->regs.rdx = out;
	r->regs.rip = r->e->base + 0x4000 + 0x20;
	before = r->regs;
	ret = sgx_enclu(cpu, &r->lp, &r->m.mmu, &r->regs, NULL);
	assert_int_equal(ret, fault);
	if (fault == SGX_FAULT_PF) {
		assert_int_equal(sgx_last_fault()->vector, X86_TRAP_PF);
		assert_int_equal(sgx_last_fault()->addr, pf_addr);
	} else {
		assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
	}
	assert_memory_equal(&r->regs, &before, sizeof(before));
	assert_memory_equal(data_bytes(r), page, sizeof(page));
	t_assert_snap_equal(cpu, &snap);
	assert_true(r->lp.in_enclave);
}

static void ereport_misaligned_gp(void **state)
{
	struct t_encl a;
	struct run r;

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	ereport_expect_fault(&r, data_la(&r, TI_OFF + 0x100), data_la(&r, RD_OFF),
			     data_la(&r, REP_OFF), SGX_FAULT_GP, 0);
	ereport_expect_fault(&r, data_la(&r, TI_OFF), data_la(&r, RD_OFF + 0x40),
			     data_la(&r, REP_OFF), SGX_FAULT_GP, 0);
	ereport_expect_fault(&r, data_la(&r, TI_OFF), data_la(&r, RD_OFF),
			     data_la(&r, REP_OFF + 0x10), SGX_FAULT_GP, 0);
}

static void ereport_outside_elrange_gp(void **state)
{
	struct t_encl a;
	struct run r;
	uint64_t out;

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	out = a.base + ESIZE; /* first page after ELRANGE */
	ereport_expect_fault(&r, out, data_la(&r, RD_OFF), data_la(&r, REP_OFF), SGX_FAULT_GP, 0);
	ereport_expect_fault(&r, data_la(&r, TI_OFF), a.base - 0x1000, data_la(&r, REP_OFF),
			     SGX_FAULT_GP, 0);
	ereport_expect_fault(&r, data_la(&r, TI_OFF), data_la(&r, RD_OFF), out, SGX_FAULT_GP, 0);
}

static void ereport_unusable_pf(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_report rep;
	uint8_t rd[64] = { 0 };
	uint64_t code, hole;

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	code = a.base + 0x4000;
	hole = a.base + 0x6000;
	/* Not mapped at all: plain #PF at the operand. */
	t_mmu_map(&r.m, hole, NULL);
	ereport_expect_fault(&r, hole, data_la(&r, RD_OFF), data_la(&r, REP_OFF), SGX_FAULT_PF,
			     hole);
	/* Inside ELRANGE but not EPC (identity-mapped host memory). */
	ereport_expect_fault(&r, data_la(&r, TI_OFF), a.base + 0x7000, data_la(&r, REP_OFF),
			     SGX_FAULT_PF, a.base + 0x7000);
	/* Output on the read-only (RX) code page. */
	ereport_expect_fault(&r, data_la(&r, TI_OFF), data_la(&r, RD_OFF), code, SGX_FAULT_PF,
			     code);
	/* The TCS is not a REG page. */
	ereport_expect_fault(&r, a.base, data_la(&r, RD_OFF), data_la(&r, REP_OFF), SGX_FAULT_PF,
			     a.base);
	/* The input may well sit on the RX page: R is all it needs. */
	memset(data_bytes(&r) + RD_OFF, 0, 64);
	assert_leaf_ok(run_enclu(&r, EREPORT, code, data_la(&r, RD_OFF), data_la(&r, REP_OFF)));
	memcpy(&rep, data_bytes(&r) + REP_OFF, sizeof(rep));
	assert_memory_equal(rep.body.report_data, rd, 64);
}

/* A page of another enclave mapped at an ELRANGE address is refused (#PF). */
static void ereport_foreign_page_pf(void **state)
{
	struct t_encl a, b;
	struct run r;

	(void)state;
	build_simple(&a, 0, BASE_A, 0, 0);
	build_simple(&b, 10, BASE_B, 1, 0);
	run_enter(&r, &a);
	t_mmu_map(&r.m, a.base + DATA_OFF, b.data);
	ereport_expect_fault(&r, data_la(&r, TI_OFF), data_la(&r, RD_OFF), data_la(&r, REP_OFF),
			     SGX_FAULT_PF, data_la(&r, TI_OFF));
}

static void ereport_outside_enclave_gp(void **state)
{
	struct t_encl a;
	struct t_mmu m;
	struct sgx_lp lp;
	struct sgx_regs regs = { 0 };

	(void)state;
	t_build_encl(cpu, &a, 0);
	t_mmu_init(&m);
	sgx_lp_init(&lp);
	regs.rax = EREPORT;
	regs.rbx = a.base + DATA_OFF;
	regs.rcx = a.base + DATA_OFF + RD_OFF;
	regs.rdx = a.base + DATA_OFF + REP_OFF;
	regs.rip = HOST_RIP;
	assert_gp(sgx_enclu(cpu, &lp, &m.mmu, &regs, NULL));
	assert_int_equal(regs.rip, HOST_RIP);
	regs.rax = EGETKEY;
	assert_gp(sgx_enclu(cpu, &lp, &m.mmu, &regs, NULL));
	assert_int_equal(regs.rax, EGETKEY);
}

/* ----------------------------------------------------------------------- */
/* EGETKEY                                                                   */

static void seal_key(struct run *r, uint16_t policy, uint8_t key[16])
{
	struct sgx_keyrequest kr;

	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.keypolicy = policy;
	kr.isvsvn = 3;
	kr.attributemask = SGX_ATTR_INIT | SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	kr.xfrmmask = 3;
	memset(kr.keyid, 0x77, 32);
	assert_int_equal(do_egetkey(r, &kr, key), 0);
}

static void egetkey_seal_policy(void **state)
{
	struct encl_opts o;
	struct t_encl a, b, c;
	struct run ra, rb, rc;
	uint8_t sa[16], sb[16], sc[16], ea[16], eb[16], ea2[16];

	(void)state;
	build_simple(&a, 0, BASE_A, 0, 0);
	build_simple(&b, 10, BASE_B, 1, 0);
	opts_init(&o, 20, BASE_C, 2);
	o.key = t_other_key();
	build_encl(&c, &o);
	run_enter(&ra, &a);
	run_enter(&rb, &b);
	run_enter(&rc, &c);

	/* Same signer, different enclaves: one MRSIGNER key, two MRENCLAVE keys. */
	seal_key(&ra, SGX_KEYPOLICY_MRSIGNER, sa);
	seal_key(&rb, SGX_KEYPOLICY_MRSIGNER, sb);
	seal_key(&rc, SGX_KEYPOLICY_MRSIGNER, sc);
	assert_memory_equal(sa, sb, 16);
	assert_memory_not_equal(sa, sc, 16);
	seal_key(&ra, SGX_KEYPOLICY_MRENCLAVE, ea);
	seal_key(&rb, SGX_KEYPOLICY_MRENCLAVE, eb);
	assert_memory_not_equal(ea, eb, 16);
	assert_memory_not_equal(ea, sa, 16);
	/* Deterministic. */
	seal_key(&ra, SGX_KEYPOLICY_MRENCLAVE, ea2);
	assert_memory_equal(ea, ea2, 16);
}

/* The same enclave rebuilt in other frames at another base seals to the same keys. */
static void egetkey_seal_same_enclave_elsewhere(void **state)
{
	struct t_encl a, a2;
	struct run ra, ra2;
	uint8_t k1[16], k2[16];

	(void)state;
	build_simple(&a, 0, BASE_A, 0, 0);
	/* MRENCLAVE does not include BASEADDR, only offsets: same measurement. */
	build_simple(&a2, 10, BASE_B, 0, 0);
	assert_memory_equal(a.mrenclave, a2.mrenclave, 32);
	run_enter(&ra, &a);
	run_enter(&ra2, &a2);
	seal_key(&ra, SGX_KEYPOLICY_MRENCLAVE, k1);
	seal_key(&ra2, SGX_KEYPOLICY_MRENCLAVE, k2);
	assert_memory_equal(k1, k2, 16);
}

/* Each request field that the SEAL key depends on changes it. */
static void egetkey_seal_inputs(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr, base;
	uint8_t k0[16], k[16];

	(void)state;
	t_build_encl(cpu, &a, SGX_ATTR_DEBUG);
	run_enter(&r, &a);
	keyreq_init(&base, SGX_KEYNAME_SEAL);
	base.keypolicy = SGX_KEYPOLICY_MRSIGNER;
	base.isvsvn = 3;
	base.attributemask = SGX_ATTR_MODE64BIT;
	base.xfrmmask = 3;
	assert_int_equal(do_egetkey(&r, &base, k0), 0);

	kr = base;
	kr.isvsvn = 2;
	assert_int_equal(do_egetkey(&r, &kr, k), 0);
	assert_memory_not_equal(k, k0, 16);
	kr = base;
	kr.cpusvn[0] = 0;
	assert_int_equal(do_egetkey(&r, &kr, k), 0);
	assert_memory_not_equal(k, k0, 16);
	kr = base;
	kr.keyid[31] = 1;
	assert_int_equal(do_egetkey(&r, &kr, k), 0);
	assert_memory_not_equal(k, k0, 16);
	kr = base;
	kr.miscmask = 1;
	assert_int_equal(do_egetkey(&r, &kr, k), 0);
	assert_memory_not_equal(k, k0, 16);
	kr = base;
	kr.xfrmmask = 1;
	assert_int_equal(do_egetkey(&r, &kr, k), 0);
	assert_memory_not_equal(k, k0, 16);
	/* INIT and DEBUG always count; adding one to the mask changes ATTRIBUTEMASK only. */
	kr = base;
	kr.attributemask |= SGX_ATTR_DEBUG;
	assert_int_equal(do_egetkey(&r, &kr, k), 0);
	assert_memory_not_equal(k, k0, 16);
	/* The owner epoch is an input of the seal key. */
	cpu->owner_epoch[0] ^= 1;
	assert_int_equal(do_egetkey(&r, &base, k), 0);
	assert_memory_not_equal(k, k0, 16);
	cpu->owner_epoch[0] ^= 1;
	assert_int_equal(do_egetkey(&r, &base, k), 0);
	assert_memory_equal(k, k0, 16);
}

/* A debug enclave never shares seal keys with its production twin. */
static void egetkey_seal_debug_separated(void **state)
{
	struct t_encl a, b;
	struct run ra, rb;
	struct sgx_keyrequest kr;
	uint8_t ka[16], kb[16];

	(void)state;
	build_simple(&a, 0, BASE_A, 0, 0);
	build_simple(&b, 10, BASE_B, 0, SGX_ATTR_DEBUG);
	run_enter(&ra, &a);
	run_enter(&rb, &b);
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.keypolicy = SGX_KEYPOLICY_MRSIGNER;
	/* Empty mask: DEBUG still counts (REQUIRED_SEALING_MASK). */
	assert_int_equal(do_egetkey(&ra, &kr, ka), 0);
	assert_int_equal(do_egetkey(&rb, &kr, kb), 0);
	assert_memory_not_equal(ka, kb, 16);
}

static void egetkey_invalid_cpusvn(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;
	static const uint16_t names[] = { SGX_KEYNAME_SEAL, SGX_KEYNAME_PROVISION,
					  SGX_KEYNAME_PROVISION_SEAL, SGX_KEYNAME_EINITTOKEN };

	(void)state;
	t_build_encl(cpu, &a, SGX_ATTR_PROVISIONKEY | SGX_ATTR_EINITTOKENKEY);
	run_enter(&r, &a);
	for (unsigned int i = 0; i < 4; i++) {
		keyreq_init(&kr, names[i]);
		kr.cpusvn[15] = 1; /* far above the configured CPUSVN (01 00 .. 00) */
		assert_int_equal(do_egetkey(&r, &kr, NULL), SGX_INVALID_CPUSVN);
		keyreq_init(&kr, names[i]);
		kr.cpusvn[0] = 2; /* just above */
		assert_int_equal(do_egetkey(&r, &kr, NULL), SGX_INVALID_CPUSVN);
		keyreq_init(&kr, names[i]);
		kr.cpusvn[0] = 0; /* older: fine */
		assert_int_equal(do_egetkey(&r, &kr, NULL), 0);
	}
	/* The report key takes the platform CPUSVN, never the request's. */
	keyreq_init(&kr, SGX_KEYNAME_REPORT);
	memset(kr.cpusvn, 0xFF, 16);
	assert_int_equal(do_egetkey(&r, &kr, NULL), 0);
}

static void egetkey_invalid_isvsvn(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;
	static const uint16_t names[] = { SGX_KEYNAME_SEAL, SGX_KEYNAME_PROVISION,
					  SGX_KEYNAME_PROVISION_SEAL, SGX_KEYNAME_EINITTOKEN };

	(void)state;
	t_build_encl(cpu, &a, SGX_ATTR_PROVISIONKEY | SGX_ATTR_EINITTOKENKEY);
	run_enter(&r, &a);
	for (unsigned int i = 0; i < 4; i++) {
		keyreq_init(&kr, names[i]);
		kr.isvsvn = 4; /* SIGSTRUCT ISVSVN is 3 */
		assert_int_equal(do_egetkey(&r, &kr, NULL), SGX_INVALID_ISVSVN);
		kr.isvsvn = 3;
		assert_int_equal(do_egetkey(&r, &kr, NULL), 0);
	}
}

static void egetkey_invalid_configsvn(void **state)
{
	struct encl_opts o;
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;
	uint8_t k5[16], k4[16];

	(void)state;
	opts_init(&o, 0, BASE_A, 0);
	o.attributes = SGX_ATTR_KSS | SGX_ATTR_PROVISIONKEY;
	o.config_svn = 5;
	build_encl(&a, &o);
	run_enter(&r, &a);
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.keypolicy = SGX_KEYPOLICY_CONFIGID | SGX_KEYPOLICY_MRSIGNER;
	kr.config_svn = 6;
	assert_int_equal(do_egetkey(&r, &kr, NULL), SGX_INVALID_ISVSVN);
	kr.keyname = SGX_KEYNAME_PROVISION_SEAL;
	assert_int_equal(do_egetkey(&r, &kr, NULL), SGX_INVALID_ISVSVN);
	kr.keyname = SGX_KEYNAME_SEAL;
	kr.config_svn = 5;
	assert_int_equal(do_egetkey(&r, &kr, k5), 0);
	kr.config_svn = 4;
	assert_int_equal(do_egetkey(&r, &kr, k4), 0);
	assert_memory_not_equal(k5, k4, 16);
}

static void egetkey_invalid_keyname(void **state)
{
	struct t_encl a;
	struct run r;
	static const uint16_t bad[] = { 5, 6, 0x100, 0xFFFF };

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(egetkey_name(&r, bad[i], NULL), SGX_INVALID_KEYNAME);
}

static void egetkey_privileged_keys_need_attribute(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	assert_int_equal(egetkey_name(&r, SGX_KEYNAME_EINITTOKEN, NULL), SGX_INVALID_ATTRIBUTE);
	assert_int_equal(egetkey_name(&r, SGX_KEYNAME_PROVISION, NULL), SGX_INVALID_ATTRIBUTE);
	assert_int_equal(egetkey_name(&r, SGX_KEYNAME_PROVISION_SEAL, NULL),
			 SGX_INVALID_ATTRIBUTE);
	/* The attribute check comes before the SVN checks. */
	keyreq_init(&kr, SGX_KEYNAME_PROVISION);
	kr.isvsvn = 100;
	kr.cpusvn[15] = 9;
	assert_int_equal(do_egetkey(&r, &kr, NULL), SGX_INVALID_ATTRIBUTE);
	/* Unprivileged keys work. */
	assert_int_equal(egetkey_name(&r, SGX_KEYNAME_SEAL, NULL), 0);
	assert_int_equal(egetkey_name(&r, SGX_KEYNAME_REPORT, NULL), 0);
}

static void egetkey_provision_keys(void **state)
{
	struct t_encl a, b;
	struct run ra, rb;
	uint8_t pa[16], pb[16], psa[16], psb[16], p2[16], ps2[16];

	(void)state;
	build_simple(&a, 0, BASE_A, 0, SGX_ATTR_PROVISIONKEY);
	build_simple(&b, 10, BASE_B, 1, SGX_ATTR_PROVISIONKEY);
	run_enter(&ra, &a);
	run_enter(&rb, &b);
	assert_int_equal(egetkey_name(&ra, SGX_KEYNAME_PROVISION, pa), 0);
	assert_int_equal(egetkey_name(&rb, SGX_KEYNAME_PROVISION, pb), 0);
	assert_int_equal(egetkey_name(&ra, SGX_KEYNAME_PROVISION_SEAL, psa), 0);
	assert_int_equal(egetkey_name(&rb, SGX_KEYNAME_PROVISION_SEAL, psb), 0);
	/* Both depend on the signer, not on MRENCLAVE. */
	assert_memory_equal(pa, pb, 16);
	assert_memory_equal(psa, psb, 16);
	assert_memory_not_equal(pa, psa, 16);

	/* The provisioning key survives an owner change; the provisioning seal key too
	 * (no OWNEREPOCH in either), but only the latter depends on the seal fuses. */
	cpu->owner_epoch[3] ^= 0x40;
	assert_int_equal(egetkey_name(&ra, SGX_KEYNAME_PROVISION, p2), 0);
	assert_int_equal(egetkey_name(&ra, SGX_KEYNAME_PROVISION_SEAL, ps2), 0);
	assert_memory_equal(p2, pa, 16);
	assert_memory_equal(ps2, psa, 16);
	cpu->seal_key_fuses[0] ^= 1;
	assert_int_equal(egetkey_name(&ra, SGX_KEYNAME_PROVISION, p2), 0);
	assert_int_equal(egetkey_name(&ra, SGX_KEYNAME_PROVISION_SEAL, ps2), 0);
	assert_memory_equal(p2, pa, 16);
	assert_memory_not_equal(ps2, psa, 16);
	cpu->seal_key_fuses[0] ^= 1;
	cpu->owner_epoch[3] ^= 0x40;
}

/* A faulting EGETKEY: nothing changes. */
static void egetkey_expect_fault(struct run *r, const struct sgx_keyrequest *kr, uint64_t rbx,
				 uint64_t rcx, int fault, uint64_t pf_addr)
{
	struct t_epcm_snap snap;
	struct sgx_regs before;
	uint8_t page[4096];

	if (kr)
		memcpy(data_bytes(r) + KR_OFF, kr, sizeof(*kr));
	t_snap(cpu, &snap, 8);
	memcpy(page, data_bytes(r), sizeof(page));
	r->regs.rax = EGETKEY;
	r->regs.rbx = rbx;
	r->regs.rcx = rcx;
	r->regs.rip = r->e->base + 0x4000 + 0x20;
	before = r->regs;
	assert_int_equal(sgx_enclu(cpu, &r->lp, &r->m.mmu, &r->regs, NULL), fault);
	if (fault == SGX_FAULT_PF)
		assert_int_equal(sgx_last_fault()->addr, pf_addr);
	else
		assert_int_equal(sgx_last_fault()->vector, X86_TRAP_GP);
	assert_memory_equal(&r->regs, &before, sizeof(before));
	assert_memory_equal(data_bytes(r), page, sizeof(page));
	t_assert_snap_equal(cpu, &snap);
}

static void egetkey_reserved_gp(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;
	uint64_t rbx, rcx;

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	rbx = data_la(&r, KR_OFF);
	rcx = data_la(&r, KEY_OFF);
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.reserved1 = 1;
	egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.reserved2[0] = 1;
	egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.reserved2[433] = 0x80;
	egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
	for (unsigned int bit = 6; bit < 16; bit++) {
		keyreq_init(&kr, SGX_KEYNAME_SEAL);
		kr.keypolicy = (uint16_t)(1u << bit);
		egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
	}
	/* Reserved bits fault even for an invalid key name (format first). */
	keyreq_init(&kr, 77);
	kr.reserved2[100] = 1;
	egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
}

static void egetkey_kss_policy_without_kss_gp(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;
	uint64_t rbx, rcx;
	static const uint16_t pol[] = { SGX_KEYPOLICY_NOISVPRODID, SGX_KEYPOLICY_CONFIGID,
					SGX_KEYPOLICY_ISVFAMILYID, SGX_KEYPOLICY_ISVEXTPRODID };

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	rbx = data_la(&r, KR_OFF);
	rcx = data_la(&r, KEY_OFF);
	for (unsigned int i = 0; i < 4; i++) {
		keyreq_init(&kr, SGX_KEYNAME_SEAL);
		kr.keypolicy = pol[i] | SGX_KEYPOLICY_MRENCLAVE;
		egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
	}
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.config_svn = 1;
	egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
	/* Also for the report key, whose derivation ignores the policy. */
	keyreq_init(&kr, SGX_KEYNAME_REPORT);
	kr.keypolicy = SGX_KEYPOLICY_CONFIGID;
	egetkey_expect_fault(&r, &kr, rbx, rcx, SGX_FAULT_GP, 0);
}

static void egetkey_kss_policies(void **state)
{
	struct encl_opts o;
	struct t_encl a, b;
	struct run ra, rb;
	struct sgx_keyrequest kr;
	uint8_t ka[16], kb[16];

	(void)state;
	/* Same signer and family, different product IDs and MRENCLAVEs. */
	opts_init(&o, 0, BASE_A, 0);
	o.attributes = SGX_ATTR_KSS;
	memset(o.isvfamilyid, 0x31, 16);
	memset(o.isvextprodid, 0x41, 16);
	build_encl(&a, &o);
	opts_init(&o, 10, BASE_B, 1);
	o.attributes = SGX_ATTR_KSS;
	o.isvprodid = 8;
	memset(o.isvfamilyid, 0x31, 16);
	memset(o.isvextprodid, 0x42, 16);
	build_encl(&b, &o);
	run_enter(&ra, &a);
	run_enter(&rb, &b);

	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	kr.keypolicy = SGX_KEYPOLICY_MRSIGNER;
	assert_int_equal(do_egetkey(&ra, &kr, ka), 0);
	assert_int_equal(do_egetkey(&rb, &kr, kb), 0);
	assert_memory_not_equal(ka, kb, 16); /* ISVPRODID differs */

	kr.keypolicy = SGX_KEYPOLICY_MRSIGNER | SGX_KEYPOLICY_NOISVPRODID;
	assert_int_equal(do_egetkey(&ra, &kr, ka), 0);
	assert_int_equal(do_egetkey(&rb, &kr, kb), 0);
	assert_memory_equal(ka, kb, 16); /* a family-wide key */

	kr.keypolicy = SGX_KEYPOLICY_MRSIGNER | SGX_KEYPOLICY_NOISVPRODID |
		       SGX_KEYPOLICY_ISVFAMILYID;
	assert_int_equal(do_egetkey(&ra, &kr, ka), 0);
	assert_int_equal(do_egetkey(&rb, &kr, kb), 0);
	assert_memory_equal(ka, kb, 16);

	kr.keypolicy = SGX_KEYPOLICY_MRSIGNER | SGX_KEYPOLICY_NOISVPRODID |
		       SGX_KEYPOLICY_ISVEXTPRODID;
	assert_int_equal(do_egetkey(&ra, &kr, ka), 0);
	assert_int_equal(do_egetkey(&rb, &kr, kb), 0);
	assert_memory_not_equal(ka, kb, 16);
}

static void egetkey_operand_faults(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;
	uint64_t rbx, rcx, code, hole;

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	rbx = data_la(&r, KR_OFF);
	rcx = data_la(&r, KEY_OFF);
	code = a.base + 0x4000;
	hole = a.base + 0x6000;
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	egetkey_expect_fault(&r, &kr, rbx + 0x40, rcx, SGX_FAULT_GP, 0);
	egetkey_expect_fault(&r, &kr, rbx, rcx + 8, SGX_FAULT_GP, 0);
	egetkey_expect_fault(&r, &kr, a.base + ESIZE, rcx, SGX_FAULT_GP, 0);
	egetkey_expect_fault(&r, &kr, rbx, a.base - 16, SGX_FAULT_GP, 0);
	t_mmu_map(&r.m, hole, NULL);
	egetkey_expect_fault(&r, &kr, hole, rcx, SGX_FAULT_PF, hole);
	egetkey_expect_fault(&r, &kr, rbx, hole + 0x10, SGX_FAULT_PF, hole + 0x10);
	/* Output to the RX page, or to the TCS. */
	egetkey_expect_fault(&r, &kr, rbx, code + 0x10, SGX_FAULT_PF, code + 0x10);
	egetkey_expect_fault(&r, &kr, rbx, a.base + 0x10, SGX_FAULT_PF, a.base + 0x10);
	/* Order: the KEYREQUEST's #PF comes before the output's #GP. */
	egetkey_expect_fault(&r, &kr, hole, rcx + 8, SGX_FAULT_PF, hole);
	/* Operand faults come before the format checks. */
	kr.reserved1 = 1;
	egetkey_expect_fault(&r, &kr, rbx, code, SGX_FAULT_PF, code);
}

/* Keys are one per request and per platform, and the output is the key alone. */
static void egetkey_report_key_matches_derivation(void **state)
{
	struct t_encl a;
	struct run r;
	struct sgx_keyrequest kr;
	struct key_deps d;
	const struct sgx_secs *s;
	uint8_t key[16], ref[16];

	(void)state;
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	keyreq_init(&kr, SGX_KEYNAME_REPORT);
	memset(kr.keyid, 0x19, 32);
	assert_int_equal(do_egetkey(&r, &kr, key), 0);
	/* The fields the SDM's EGETKEY names and nothing else. */
	s = secs_view(&a);
	memset(&d, 0, sizeof(d));
	d.keyname = SGX_KEYNAME_REPORT;
	memcpy(d.owner_epoch, cpu->owner_epoch, 16);
	d.attributes = s->attributes;
	d.xfrm = s->xfrm;
	memcpy(d.mrenclave, s->mrenclave, 32);
	memcpy(d.keyid, kr.keyid, 32);
	memcpy(d.seal_key_fuses, cpu->seal_key_fuses, 16);
	memcpy(d.cpusvn, sgx_cpu_get_config(cpu)->cpusvn, 16);
	memcpy(d.padding, sgx_padding_const, 352);
	d.miscselect = s->miscselect;
	derive_key(cpu, &d, ref);
	assert_memory_equal(key, ref, 16);
	/* EINIT stored the PKCS#1 padding: equal to the constant. */
	assert_memory_equal(secs_hidden(cpu, 0)->padding, sgx_padding_const, 352);
}

/* ----------------------------------------------------------------------- */
/* EINITTOKEN                                                                */

static void lehash_set(const uint8_t hash[32])
{
	uint64_t w[4];

	memcpy(w, hash, 32);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sgx_cpu_wrmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, w[i]), 0);
}

/* The launch key for @tok as EINIT derives it (SDM EINIT). */
static void token_key(const struct sgx_einittoken *tok, uint8_t key[16])
{
	struct key_deps d;
	uint64_t h[4];

	for (int i = 0; i < 4; i++)
		assert_int_equal(sgx_cpu_rdmsr(cpu, MSR_IA32_SGXLEPUBKEYHASH0 + i, &h[i]), 0);
	memset(&d, 0, sizeof(d));
	d.keyname = SGX_KEYNAME_EINITTOKEN;
	d.isvprodid = tok->isvprodidle;
	d.isvsvn = tok->isvsvnle;
	memcpy(d.owner_epoch, cpu->owner_epoch, 16);
	d.attributes = tok->maskedattributesle;
	d.xfrm = tok->maskedxfrmle;
	d.miscselect = tok->maskedmiscselectle;
	memcpy(d.mrsigner, h, 32);
	memcpy(d.keyid, tok->keyid, 32);
	memcpy(d.seal_key_fuses, cpu->seal_key_fuses, 16);
	memcpy(d.cpusvn, tok->cpusvnle, 16);
	memcpy(d.padding, sgx_padding_const, 352);
	derive_key(cpu, &d, key);
}

static void token_mac(struct sgx_einittoken *tok)
{
	uint8_t key[16];

	token_key(tok, key);
	aes_cmac(key, tok, 192, tok->mac);
}

struct tok_fixture {
	struct t_encl e;
	struct sgx_sigstruct ss;
	uint8_t mrsigner[32];
	struct sgx_einittoken tok;
};

/*
 * An enclave signed with the other key, ready for EINIT, while the LE hash
 * MSRs hold the test key's hash: only a valid token can launch it.
 */
static void tok_setup(struct tok_fixture *f, uint64_t attributes)
{
	struct encl_opts o;
	struct sgx_sigstruct le;
	uint8_t lehash[32];

	opts_init(&o, 0, BASE_A, 0);
	o.key = t_other_key();
	o.attributes = attributes;
	build_uninit(&f->e, &o, &f->ss);
	sgx_sigstruct_mrsigner(&f->ss, f->mrsigner);
	t_sigstruct(&le, f->e.mrenclave, SGX_ATTR_MODE64BIT, 3, t_key());
	sgx_sigstruct_mrsigner(&le, lehash);
	assert_memory_not_equal(lehash, f->mrsigner, 32);
	lehash_set(lehash);

	memset(&f->tok, 0, sizeof(f->tok));
	f->tok.valid = 1;
	f->tok.attributes = secs_view(&f->e)->attributes;
	f->tok.xfrm = secs_view(&f->e)->xfrm;
	memcpy(f->tok.mrenclave, f->e.mrenclave, 32);
	memcpy(f->tok.mrsigner, f->mrsigner, 32);
	memcpy(f->tok.cpusvnle, sgx_cpu_get_config(cpu)->cpusvn, 16);
	f->tok.isvprodidle = 0x20;
	f->tok.isvsvnle = 1;
	f->tok.maskedmiscselectle = 0;
	f->tok.maskedattributesle = SGX_ATTR_INIT | SGX_ATTR_MODE64BIT | SGX_ATTR_EINITTOKENKEY;
	f->tok.maskedxfrmle = 3;
	memset(f->tok.keyid, 0x3C, 32);
	token_mac(&f->tok);
}

static int tok_einit(struct tok_fixture *f)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));

	memset(page, 0, sizeof(page));
	memcpy(page, &f->ss, sizeof(f->ss));
	memcpy(page + 2048, &f->tok, sizeof(f->tok));
	return sgx_einit(cpu, page, page + 2048, f->e.secs);
}

/* EINIT with an all-zero (not VALID) token, leaving the LE hash MSRs alone. */
static int einit_no_token(void *secs, const struct sgx_sigstruct *ss)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));

	memset(page, 0, sizeof(page));
	memcpy(page, ss, sizeof(*ss));
	return sgx_einit(cpu, page, page + 2048, secs);
}

/* EINIT refuses with @code and changes nothing. */
static void tok_expect(struct tok_fixture *f, int code)
{
	struct t_epcm_snap snap;
	struct sgx_secs before;

	t_snap(cpu, &snap, 8);
	memcpy(&before, secs_view(&f->e), sizeof(before));
	assert_int_equal(tok_einit(f), code);
	t_assert_snap_equal(cpu, &snap);
	assert_memory_equal(secs_view(&f->e), &before, sizeof(before));
	assert_false(secs_view(&f->e)->attributes & SGX_ATTR_INIT);
}

static void tok_expect_ok(struct tok_fixture *f)
{
	struct t_epcm_snap snap;
	struct sgx_epcm_view v;
	struct sgx_cpu_stats before, after;

	t_snap(cpu, &snap, 8);
	sgx_cpu_stats(cpu, &before);
	assert_int_equal(tok_einit(f), 0);
	sgx_cpu_stats(cpu, &after);
	assert_int_equal(after.einit, before.einit + 1);
	t_assert_snap_equal(cpu, &snap); /* EINIT changes no EPCM entry */
	assert_int_equal(sgx_cpu_epcm(cpu, f->e.secs, &v), 0);
	assert_true(v.valid);
	assert_int_equal(v.page_type, SGX_PAGE_TYPE_SECS);
	assert_true(secs_view(&f->e)->attributes & SGX_ATTR_INIT);
	assert_memory_equal(secs_view(&f->e)->mrsigner, f->mrsigner, 32);
	assert_memory_equal(secs_view(&f->e)->mrenclave, f->e.mrenclave, 32);
}

static void token_launches_foreign_signer(void **state)
{
	struct tok_fixture f;

	(void)state;
	tok_setup(&f, 0);
	tok_expect_ok(&f);
}

static void token_absent_needs_le_signer(void **state)
{
	struct tok_fixture f;

	(void)state;
	tok_setup(&f, 0);
	memset(&f.tok, 0, sizeof(f.tok));
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	/* Not valid: the rest of the token is ignored entirely. */
	memset(&f.tok, 0xA5, sizeof(f.tok));
	f.tok.valid = 0xFFFFFFFE;
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	lehash_set(f.mrsigner);
	tok_expect_ok(&f);
}

static void token_bad_mac(void **state)
{
	struct tok_fixture f;
	struct sgx_einittoken good;

	(void)state;
	tok_setup(&f, 0);
	good = f.tok;
	f.tok.mac[5] ^= 0x10;
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	/* KEYID is outside the MAC'd bytes but selects the key. */
	f.tok = good;
	f.tok.keyid[0] ^= 1;
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	/* A MAC'd field changed after MACing. */
	f.tok = good;
	f.tok.isvsvnle = 2;
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	f.tok = good;
	f.tok.maskedattributesle |= SGX_ATTR_PROVISIONKEY;
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	/* A different LE key hash gives a different launch key. */
	f.tok = good;
	lehash_set((const uint8_t[32]){ 1 });
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	/* MAC'd under another owner epoch. */
	cpu->owner_epoch[0] ^= 1;
	token_mac(&f.tok);
	cpu->owner_epoch[0] ^= 1;
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	/* Everything failed without a trace: the proper token still works. */
	token_mac(&f.tok);
	tok_expect_ok(&f);
}

static void token_reserved(void **state)
{
	struct tok_fixture f;
	struct sgx_einittoken good;

	(void)state;
	tok_setup(&f, 0);
	good = f.tok;
	f.tok.valid |= 2;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	f.tok = good;
	f.tok.reserved1[0] = 1;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	f.tok = good;
	f.tok.reserved2[31] = 1;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	f.tok = good;
	f.tok.reserved3[0] = 1;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	f.tok = good;
	f.tok.reserved4[23] = 1;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	f.tok = good;
	tok_expect_ok(&f);
}

static void token_cpusvn(void **state)
{
	struct tok_fixture f;
	struct sgx_einittoken good;

	(void)state;
	tok_setup(&f, 0);
	good = f.tok;
	f.tok.cpusvnle[0]++;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_CPUSVN);
	f.tok = good;
	f.tok.cpusvnle[15] = 1;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_CPUSVN);
	/* An older LE CPUSVN is fine (and selects another key). */
	f.tok = good;
	f.tok.cpusvnle[0] = 0;
	token_mac(&f.tok);
	tok_expect_ok(&f);
}

static void token_wrong_enclave(void **state)
{
	struct tok_fixture f;
	struct sgx_einittoken good;

	(void)state;
	tok_setup(&f, 0);
	good = f.tok;
	f.tok.mrenclave[7] ^= 1;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_MEASUREMENT);
	f.tok = good;
	f.tok.mrsigner[0] ^= 1;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_MEASUREMENT);
	f.tok = good;
	tok_expect_ok(&f);
}

static void token_debug_and_attributes(void **state)
{
	struct tok_fixture f;
	struct sgx_einittoken good;

	(void)state;
	tok_setup(&f, 0);
	good = f.tok;
	/* A token issued for debug use cannot launch a production enclave. */
	f.tok.maskedattributesle |= SGX_ATTR_DEBUG;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_EINITTOKEN);
	/* Token ATTRIBUTES must equal the SECS's (SDM EINIT). */
	f.tok = good;
	f.tok.attributes |= SGX_ATTR_DEBUG;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_ATTRIBUTE);
	f.tok = good;
	f.tok.xfrm = 7;
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_ATTRIBUTE);
	f.tok = good;
	tok_expect_ok(&f);
}

/*
 * The launch flow end to end: a launch enclave (EINITTOKEN_KEY, signed by the
 * key whose hash is in the MSRs) gets its launch key with EGETKEY and MACs a
 * token for an enclave by another signer, which EINIT then accepts.
 */
static void token_from_launch_enclave(void **state)
{
	struct encl_opts o;
	struct t_encl le;
	struct run r;
	struct tok_fixture f;
	struct sgx_keyrequest kr;
	struct sgx_sigstruct le_ss;
	uint8_t key[16], le_hash[32];

	(void)state;
	opts_init(&o, 20, BASE_C, 5);
	o.attributes = SGX_ATTR_EINITTOKENKEY;
	o.isvprodid = 0x20;
	o.isvsvn = 2;
	build_uninit(&le, &o, &le_ss);
	/* EINITTOKEN_KEY is controlled: EINIT wants MRSIGNER == LE hash. */
	sgx_sigstruct_mrsigner(&le_ss, le_hash);
	lehash_set((const uint8_t[32]){ 9 });
	assert_int_equal(einit_no_token(le.secs, &le_ss), SGX_INVALID_ATTRIBUTE);
	assert_leaf_ok(t_einit(cpu, le.secs, &le_ss));
	run_enter(&r, &le);

	tok_setup(&f, SGX_ATTR_DEBUG);
	lehash_set(le_hash);
	keyreq_init(&kr, SGX_KEYNAME_EINITTOKEN);
	kr.isvsvn = 1;
	kr.attributemask = SGX_ATTR_MODE64BIT | SGX_ATTR_EINITTOKENKEY;
	kr.xfrmmask = 3;
	kr.cpusvn[0] = 0;
	memset(kr.keyid, 0x6B, 32);
	assert_int_equal(do_egetkey(&r, &kr, key), 0);

	memcpy(f.tok.keyid, kr.keyid, 32);
	memcpy(f.tok.cpusvnle, kr.cpusvn, 16);
	f.tok.isvprodidle = 0x20;
	f.tok.isvsvnle = 1;
	f.tok.maskedattributesle = SGX_ATTR_INIT | SGX_ATTR_MODE64BIT | SGX_ATTR_EINITTOKENKEY;
	f.tok.maskedxfrmle = 3;
	f.tok.maskedmiscselectle = 0;
	aes_cmac(key, &f.tok, 192, f.tok.mac);
	tok_expect_ok(&f);
}

/* ----------------------------------------------------------------------- */
/* EUPDATESVN                                                                */

static const uint8_t svn_two[16] = { 2 }; /* one above the configured 01 00 .. 00 */

/* Replace the fixture's platform with one that has EUPDATESVN. */
static void use_svn_cpu(void)
{
	struct sgx_cpu_config cfg;
	int err;

	sgx_cpu_destroy(cpu);
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	cfg.fixed_keys = true;
	cfg.seed = 42;
	cfg.eupdatesvn = true;
	cpu = sgx_cpu_create(&cfg, &err);
	assert_non_null(cpu);
}

/* Leave the enclave and EREMOVE every page of it: the EPC is empty again. */
static void leave_and_remove(struct run *r, struct t_encl *e)
{
	void *pages[6] = { e->tcs, e->ssa[0], e->ssa[1], e->data, e->code, e->secs };

	assert_leaf_ok(run_enclu(r, EEXIT, HOST_RIP, 0, 0));
	assert_false(r->lp.in_enclave);
	for (unsigned int i = 0; i < 6; i++)
		assert_int_equal(sgx_eremove(cpu, pages[i]), 0);
}

static void eupdatesvn_absent_ud(void **state)
{
	struct sgx_cpuid_regs c;

	(void)state;
	assert_int_equal(sgx_cpu_cpuid(cpu, 0x12, 0, &c), 0);
	assert_int_equal(c.eax & (1u << 10), 0);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_FAULT_UD);
	assert_int_equal(sgx_last_fault()->vector, X86_TRAP_UD);
}

static void eupdatesvn_no_update(void **state)
{
	static const uint8_t older[16] = { 0 };
	struct sgx_cpu_stats st;
	struct sgx_cpuid_regs c;
	uint8_t svn[16];

	(void)state;
	use_svn_cpu();
	assert_int_equal(sgx_cpu_cpuid(cpu, 0x12, 0, &c), 0);
	assert_int_equal(c.eax & (1u << 10), 1u << 10);
	/* Nothing staged, the same CPUSVN staged, an older one staged. */
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_NO_UPDATE);
	sgx_cpu_stage_svn(cpu, sgx_cpu_get_config(cpu)->cpusvn);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_NO_UPDATE);
	sgx_cpu_stage_svn(cpu, older);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_NO_UPDATE);
	sgx_cpu_cpusvn(cpu, svn);
	assert_memory_equal(svn, sgx_cpu_get_config(cpu)->cpusvn, 16);
	sgx_cpu_stats(cpu, &st);
	assert_int_equal(st.eupdatesvn, 0);
}

/*
 * The update: EREPORT reports the new CPUSVN, EGETKEY accepts it, and keys
 * for the old CPUSVN are still the same keys (sealed data stays readable).
 */
static void eupdatesvn_updates_cpusvn(void **state)
{
	struct sgx_keyrequest kr;
	struct sgx_targetinfo ti;
	struct sgx_report rep;
	struct sgx_cpu_stats st;
	uint8_t before[16], after[16], svn[16], rd[64] = { 0 };
	struct t_encl a;
	struct run r;

	(void)state;
	use_svn_cpu();
	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	assert_int_equal(do_egetkey(&r, &kr, before), 0);
	memcpy(kr.cpusvn, svn_two, 16);
	assert_int_equal(do_egetkey(&r, &kr, NULL), SGX_INVALID_CPUSVN);
	leave_and_remove(&r, &a);

	sgx_cpu_stage_svn(cpu, svn_two);
	assert_int_equal(sgx_eupdatesvn(cpu), 0);
	sgx_cpu_cpusvn(cpu, svn);
	assert_memory_equal(svn, svn_two, 16);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_NO_UPDATE);
	sgx_cpu_stats(cpu, &st);
	assert_int_equal(st.eupdatesvn, 1);

	t_build_encl(cpu, &a, 0);
	run_enter(&r, &a);
	targetinfo_of(&a, &ti);
	do_ereport(&r, &ti, rd, &rep);
	assert_memory_equal(rep.body.cpusvn, svn_two, 16);
	/* The report's MAC key follows the new CPUSVN too: the target verifies it. */
	{
		uint8_t key[16], mac[16];

		keyreq_init(&kr, SGX_KEYNAME_REPORT);
		memcpy(kr.keyid, rep.keyid, 32);
		assert_int_equal(do_egetkey(&r, &kr, key), 0);
		aes_cmac(key, &rep, 384, mac);
		assert_memory_equal(mac, rep.mac, 16);
	}
	keyreq_init(&kr, SGX_KEYNAME_SEAL);
	memcpy(kr.cpusvn, svn_two, 16);
	assert_int_equal(do_egetkey(&r, &kr, NULL), 0);
	memcpy(kr.cpusvn, sgx_cpu_get_config(cpu)->cpusvn, 16);
	assert_int_equal(do_egetkey(&r, &kr, after), 0);
	assert_memory_equal(before, after, 16);
}

/* EINIT's token check follows the current CPUSVN: refused before, accepted after. */
static void eupdatesvn_token_cpusvn(void **state)
{
	struct tok_fixture f;

	(void)state;
	use_svn_cpu();
	tok_setup(&f, 0);
	memcpy(f.tok.cpusvnle, svn_two, 16);
	token_mac(&f.tok);
	tok_expect(&f, SGX_INVALID_CPUSVN);
	{
		void *pages[6] = { f.e.tcs, f.e.ssa[0], f.e.ssa[1], f.e.data, f.e.code, f.e.secs };

		for (unsigned int i = 0; i < 6; i++)
			assert_int_equal(sgx_eremove(cpu, pages[i]), 0);
	}
	sgx_cpu_stage_svn(cpu, svn_two);
	assert_int_equal(sgx_eupdatesvn(cpu), 0);
	tok_setup(&f, 0);
	memcpy(f.tok.cpusvnle, svn_two, 16);
	token_mac(&f.tok);
	tok_expect_ok(&f);
}

/* Any valid EPCM entry refuses the update, whatever is staged. */
static void eupdatesvn_epc_not_ready(void **state)
{
	uint8_t svn[16];
	void *va;

	(void)state;
	use_svn_cpu();
	va = t_page(cpu, 3);
	assert_int_equal(sgx_epa(cpu, SGX_PAGE_TYPE_VA, va), 0);
	sgx_cpu_stage_svn(cpu, svn_two);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_EPC_NOT_READY);
	sgx_cpu_cpusvn(cpu, svn);
	assert_memory_equal(svn, sgx_cpu_get_config(cpu)->cpusvn, 16);
	assert_int_equal(sgx_eremove(cpu, va), 0);
	assert_int_equal(sgx_eupdatesvn(cpu), 0);
}

/* No entropy: nothing changes and software may retry; the EPC is checked first. */
static void eupdatesvn_insufficient_entropy(void **state)
{
	uint8_t svn[16];
	void *va;

	(void)state;
	use_svn_cpu();
	sgx_cpu_stage_svn(cpu, svn_two);
	sgx_cpu_drain_entropy(cpu, 2);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_INSUFFICIENT_ENTROPY);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_INSUFFICIENT_ENTROPY);
	sgx_cpu_cpusvn(cpu, svn);
	assert_memory_equal(svn, sgx_cpu_get_config(cpu)->cpusvn, 16);
	assert_int_equal(sgx_eupdatesvn(cpu), 0);

	sgx_cpu_drain_entropy(cpu, 1);
	va = t_page(cpu, 0);
	assert_int_equal(sgx_epa(cpu, SGX_PAGE_TYPE_VA, va), 0);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_EPC_NOT_READY);
	assert_int_equal(sgx_eremove(cpu, va), 0);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_INSUFFICIENT_ENTROPY);
	assert_int_equal(sgx_eupdatesvn(cpu), SGX_NO_UPDATE);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(cmac_rfc4493),
		T(cmac_matches_openssl),
		T(cmac_portable_path),
		T(derive_key_is_cmac_of_deps),
		T(derive_key_every_field_matters),
		T(derive_key_per_platform),
		T(padding_constant),
		T(ereport_fields),
		T(ereport_kss_fields),
		T(ereport_verified_by_target),
		T(ereport_wrong_target),
		T(ereport_overlapping_operands),
		T(ereport_misaligned_gp),
		T(ereport_outside_elrange_gp),
		T(ereport_unusable_pf),
		T(ereport_foreign_page_pf),
		T(ereport_outside_enclave_gp),
		T(egetkey_seal_policy),
		T(egetkey_seal_same_enclave_elsewhere),
		T(egetkey_seal_inputs),
		T(egetkey_seal_debug_separated),
		T(egetkey_invalid_cpusvn),
		T(egetkey_invalid_isvsvn),
		T(egetkey_invalid_configsvn),
		T(egetkey_invalid_keyname),
		T(egetkey_privileged_keys_need_attribute),
		T(egetkey_provision_keys),
		T(egetkey_reserved_gp),
		T(egetkey_kss_policy_without_kss_gp),
		T(egetkey_kss_policies),
		T(egetkey_operand_faults),
		T(egetkey_report_key_matches_derivation),
		T(token_launches_foreign_signer),
		T(token_absent_needs_le_signer),
		T(token_bad_mac),
		T(token_reserved),
		T(token_cpusvn),
		T(token_wrong_enclave),
		T(token_debug_and_attributes),
		T(token_from_launch_enclave),
		T(eupdatesvn_absent_ud),
		T(eupdatesvn_no_update),
		T(eupdatesvn_updates_cpusvn),
		T(eupdatesvn_token_cpusvn),
		T(eupdatesvn_epc_not_ready),
		T(eupdatesvn_insufficient_entropy),
	};
#undef T
	return T_RUN(tests);
}
