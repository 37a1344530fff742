// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"
#include "softsgx/image.h"
#include "softsgx/measure.h"

struct sgx_cpu *t_cpu(uint64_t epc_mb)
{
	return t_cpu_without(epc_mb, 0);
}

struct sgx_cpu *t_cpu_without(uint64_t epc_mb, uint64_t attrs_off)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	int err;

	sgx_cpu_default_config(&cfg);
	cfg.attributes_mask &= ~attrs_off;
	cfg.epc_size = epc_mb << 20;
	cfg.fixed_keys = true;
	cfg.seed = 42;
	cpu = sgx_cpu_create(&cfg, &err);
	assert_non_null(cpu);
	return cpu;
}

void *t_page(struct sgx_cpu *cpu, unsigned int idx)
{
	uint8_t *base = sgx_cpu_section(cpu, 0, NULL, NULL);

	return base + (uint64_t)idx * SGX_PAGE_SIZE;
}

void t_assert_pf_at(int r, const void *addr)
{
	assert_int_equal(r, SGX_FAULT_PF);
	assert_int_equal(sgx_last_fault()->vector, X86_TRAP_PF);
	assert_int_equal(sgx_last_fault()->addr, (uint64_t)(uintptr_t)addr);
}

void t_secs_src(struct sgx_secs *secs, uint64_t base, uint64_t size, uint64_t attributes)
{
	memset(secs, 0, sizeof(*secs));
	secs->base = base;
	secs->size = size;
	secs->ssa_frame_size = 1;
	secs->attributes = attributes;
	secs->xfrm = 3;
}

void *t_ecreate_src(struct sgx_cpu *cpu, unsigned int idx, const struct sgx_secs *src)
{
	static struct sgx_secs page __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pi = { 0 };
	void *secs = t_page(cpu, idx);

	page = *src;
	pi.contents = (uint64_t)(uintptr_t)&page;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	assert_leaf_ok(sgx_ecreate(cpu, &pi, secs));
	return secs;
}

void *t_ecreate(struct sgx_cpu *cpu, unsigned int idx, uint64_t base, uint64_t size,
		uint64_t attributes)
{
	struct sgx_secs src;

	t_secs_src(&src, base, size, attributes);
	return t_ecreate_src(cpu, idx, &src);
}

int t_eadd(struct sgx_cpu *cpu, void *secs, unsigned int idx, uint64_t linaddr,
	   uint64_t secinfo_flags, const void *src)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = secinfo_flags };
	struct sgx_pageinfo pi = { 0 };

	if (src)
		memcpy(page, src, sizeof(page));
	else
		memset(page, 0, sizeof(page));
	pi.addr = linaddr;
	pi.contents = (uint64_t)(uintptr_t)page;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	pi.secs = (uint64_t)(uintptr_t)secs;
	return sgx_eadd(cpu, &pi, t_page(cpu, idx));
}

void t_eextend_page(struct sgx_cpu *cpu, void *secs, void *page)
{
	for (unsigned int off = 0; off < 4096; off += 256)
		assert_leaf_ok(sgx_eextend(cpu, secs, (uint8_t *)page + off));
}

void *t_load_image(struct sgx_cpu *cpu, const struct sgx_image *img, uint64_t base,
		   size_t flip_page, size_t flip_byte)
{
	static uint8_t src[4096] __attribute__((aligned(4096)));
	struct sgx_secs secs;
	void *secs_page;

	t_secs_src(&secs, base, img->size, img->attributes);
	secs.ssa_frame_size = img->ssa_frame_size;
	secs.xfrm = img->xfrm;
	secs.miscselect = img->miscselect;
	secs_page = t_ecreate_src(cpu, 0, &secs);
	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct sgx_image_page *pg = &img->pages[i];
		uint8_t *epc = t_page(cpu, 1 + (unsigned int)i);

		memcpy(src, pg->data, sizeof(src));
		if (i == flip_page)
			src[flip_byte] ^= 0x01;
		assert_leaf_ok(t_eadd(cpu, secs_page, 1 + (unsigned int)i, base + pg->offset,
				      pg->flags, src));
		for (unsigned int c = 0; c < 16; c++)
			if (pg->measured & (1u << c))
				assert_leaf_ok(sgx_eextend(cpu, secs_page, epc + c * 256));
	}
	return secs_page;
}

void t_tcs_src(struct sgx_tcs *tcs, uint64_t ossa, uint32_t nssa, uint64_t oentry)
{
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = ossa;
	tcs->nr_ssa_frames = nssa;
	tcs->entry_offset = oentry;
}

static EVP_PKEY *load(const char *path)
{
	int err;
	EVP_PKEY *k = sgx_sign_load_key(path, &err);

	assert_non_null(k);
	return k;
}

EVP_PKEY *t_key(void)
{
	static EVP_PKEY *k;

	if (!k)
		k = load("data/test_key.pem");
	return k;
}

EVP_PKEY *t_other_key(void)
{
	static EVP_PKEY *k;

	if (!k)
		k = load("data/other_key.pem");
	return k;
}

void t_sigstruct(struct sgx_sigstruct *ss, const uint8_t mrenclave[32], uint64_t attributes,
		 uint64_t xfrm, EVP_PKEY *key)
{
	sgx_sigstruct_init(ss);
	ss->header.date = 0x20261122;
	ss->body.attributes = attributes;
	ss->body.xfrm = xfrm;
	ss->body.attributes_mask = ~0ULL & ~SGX_ATTR_INIT;
	ss->body.xfrm_mask = ~0ULL;
	memcpy(ss->body.mrenclave, mrenclave, 32);
	ss->body.isvprodid = 7;
	ss->body.isvsvn = 3;
	assert_int_equal(sgx_sigstruct_sign(ss, key), 0);
}

int t_einit(struct sgx_cpu *cpu, void *secs, const struct sgx_sigstruct *ss)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	uint8_t mrsigner[32];

	sgx_sigstruct_mrsigner(ss, mrsigner);
	assert_int_equal(sgx_cpu_trust_signer(cpu, mrsigner), 0);
	memset(page, 0, sizeof(page));
	memcpy(page, ss, sizeof(*ss));
	return sgx_einit(cpu, page, page + 2048, secs);
}

void t_build_encl(struct sgx_cpu *cpu, struct t_encl *e, uint64_t attributes)
{
	struct sgx_tcs tcs;
	struct sgx_measure m;
	struct sgx_sigstruct ss;
	uint8_t data[4096], code[4096];
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	const uint64_t rx = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X;

	memset(e, 0, sizeof(*e));
	e->base = 0x100000000ULL;
	e->size = 0x10000;
	attributes |= SGX_ATTR_MODE64BIT;
	e->secs = t_ecreate(cpu, 0, e->base, e->size, attributes);
	sgx_measure_ecreate(&m, 1, e->size);

	t_tcs_src(&tcs, 0x1000, 2, 0x4000);
	assert_leaf_ok(t_eadd(cpu, e->secs, 1, e->base, SGX_SECINFO_TCS, &tcs));
	e->tcs = t_page(cpu, 1);
	t_eextend_page(cpu, e->secs, e->tcs);
	sgx_measure_eadd(&m, 0, SGX_SECINFO_TCS);
	for (unsigned int i = 0; i < 16; i++)
		sgx_measure_eextend(&m, i * 256, (const uint8_t *)&tcs + i * 256);

	for (unsigned int i = 0; i < 2; i++) {
		assert_leaf_ok(t_eadd(cpu, e->secs, 2 + i, e->base + 0x1000 * (i + 1), rw, NULL));
		e->ssa[i] = t_page(cpu, 2 + i);
		sgx_measure_eadd(&m, 0x1000 * (i + 1), rw);
	}
	for (unsigned int i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7 + 1);
		code[i] = 0xCC;
	}
	assert_leaf_ok(t_eadd(cpu, e->secs, 4, e->base + 0x3000, rw, data));
	e->data = t_page(cpu, 4);
	t_eextend_page(cpu, e->secs, e->data);
	sgx_measure_eadd(&m, 0x3000, rw);
	for (unsigned int i = 0; i < 16; i++)
		sgx_measure_eextend(&m, 0x3000 + i * 256, data + i * 256);
	assert_leaf_ok(t_eadd(cpu, e->secs, 5, e->base + 0x4000, rx, code));
	e->code = t_page(cpu, 5);
	sgx_measure_eadd(&m, 0x4000, rx);
	sgx_measure_final(&m, e->mrenclave);

	t_sigstruct(&ss, e->mrenclave, attributes, 3, t_key());
	assert_leaf_ok(t_einit(cpu, e->secs, &ss));
}

static int mmu_translate(void *ctx, uint64_t la, bool write, uint64_t *pa)
{
	struct t_mmu *m = ctx;

	(void)write;
	for (unsigned int i = 0; i < m->n; i++) {
		if ((la & SGX_PAGE_MASK) == m->la[i]) {
			if (!m->pa[i])
				return -1;
			*pa = (uint64_t)(uintptr_t)m->pa[i] + (la & 0xFFF);
			return 0;
		}
	}
	*pa = la;
	return 0;
}

void t_mmu_init(struct t_mmu *m)
{
	memset(m, 0, sizeof(*m));
	m->mmu.translate = mmu_translate;
	m->mmu.ctx = m;
}

void t_mmu_map(struct t_mmu *m, uint64_t la, void *pa)
{
	for (unsigned int i = 0; i < m->n; i++) {
		if (m->la[i] == (la & SGX_PAGE_MASK)) {
			m->pa[i] = pa;
			return;
		}
	}
	assert_true(m->n < 64);
	m->la[m->n] = la & SGX_PAGE_MASK;
	m->pa[m->n++] = pa;
}

void t_snap(struct sgx_cpu *cpu, struct t_epcm_snap *s, unsigned int n)
{
	assert_true(n <= 64);
	memset(s, 0, sizeof(*s));
	s->n = n;
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(sgx_cpu_epcm(cpu, t_page(cpu, i), &s->v[i]), 0);
}

void t_assert_snap_equal(struct sgx_cpu *cpu, const struct t_epcm_snap *s)
{
	struct t_epcm_snap now;

	t_snap(cpu, &now, s->n);
	for (unsigned int i = 0; i < s->n; i++)
		assert_memory_equal(&now.v[i], &s->v[i], sizeof(now.v[i]));
}

static int cap_fd = -1, cap_saved = -1;
static char cap_buf[1 << 16];

const char *t_cap_end(void)
{
	ssize_t n;

	if (cap_fd < 0)
		return "";
	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	lseek(cap_fd, 0, SEEK_SET);
	n = read(cap_fd, cap_buf, sizeof(cap_buf) - 1);
	cap_buf[n > 0 ? n : 0] = 0;
	close(cap_fd);
	cap_fd = -1;
	fputs(cap_buf, stderr);
	return cap_buf;
}

void t_cap_start(void)
{
	char tmpl[] = "/tmp/softsgx_test_XXXXXX";

	t_cap_end(); /* a failed test may have left one running */
	cap_fd = mkstemp(tmpl);
	assert_true(cap_fd >= 0);
	unlink(tmpl);
	fflush(stderr);
	cap_saved = dup(STDERR_FILENO);
	dup2(cap_fd, STDERR_FILENO);
}
