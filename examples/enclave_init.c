// SPDX-License-Identifier: MIT
/*
 * Build, sign and initialise an enclave with libsoftsgx.
 *
 *   cc enclave_init.c $(pkg-config --cflags --libs softsgx) -o enclave_init
 *   ./enclave_init
 *
 * 1. Describe the enclave as an image (image.h): a TCS, an SSA page and a
 *    code page in a 16 KiB ELRANGE.
 * 2. Sign it (sign.h): a fresh RSA-3072 key with exponent 3, a SIGSTRUCT
 *    whose body sgx_sigstruct_fill_body() takes from the image.
 * 3. Power on the default platform (cpu.h) and build the enclave in its EPC
 *    with ECREATE, EADD and EEXTEND, page by page as a loader does.
 * 4. EINIT.  The default platform only launches enclaves whose signer is in
 *    the launch-enclave key hash MSRs of the calling thread, so the first
 *    EINIT fails with SGX_INVALID_EINITTOKEN; sgx_cpu_trust_signer() writes
 *    the signer's MRSIGNER there and the second EINIT succeeds.
 *
 * Exits 0 when EINIT accepts the enclave, which also shows that the CPU
 * measured the MRENCLAVE the offline signer computed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <softsgx/cpu.h>
#include <softsgx/image.h>
#include <softsgx/sign.h>

#define ENCL_BASE 0x40000000ULL /* naturally aligned to ENCL_SIZE */
#define ENCL_SIZE 0x4000ULL

/* 4 KiB aligned operands, as the leaves require. */
static struct sgx_secs secs_src __attribute__((aligned(4096)));
static uint8_t sigstruct_page[4096] __attribute__((aligned(4096)));
static struct sgx_einittoken token __attribute__((aligned(512)));

static void print_hex(const char *label, const uint8_t b[32])
{
	printf("%s", label);
	for (int i = 0; i < 32; i++)
		printf("%02x", b[i]);
	printf("\n");
}

/* Step 1: TCS at 0, its SSA frame at 0x1000, code at 0x2000 (ENCLU[EEXIT]). */
static struct sgx_image *make_image(void)
{
	static const uint8_t eexit[] = { 0xb8, 0x04, 0x00, 0x00, 0x00, /* mov $4, %eax */
					 0x0f, 0x01, 0xd7 };             /* enclu */
	uint8_t page[4096];
	struct sgx_tcs *tcs = (struct sgx_tcs *)page;
	struct sgx_image *img = sgx_image_new();

	if (!img)
		return NULL;
	img->size = ENCL_SIZE;
	img->base_hint = ENCL_BASE;

	memset(page, 0, sizeof(page));
	tcs->ssa_offset = 0x1000;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = 0x2000;
	if (sgx_image_add_page(img, 0, SGX_SECINFO_TCS, SGX_IMAGE_MEASURE_ALL, page) ||
	    sgx_image_add_page(img, 0x1000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, 0,
			       NULL))
		goto fail;
	memset(page, 0xcc, sizeof(page)); /* int3 everywhere else */
	memcpy(page, eexit, sizeof(eexit));
	if (sgx_image_add_page(img, 0x2000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X,
			       SGX_IMAGE_MEASURE_ALL, page))
		goto fail;
	return img;
fail:
	sgx_image_free(img);
	return NULL;
}

/* Step 3: ECREATE into EPC frame 0, then each page into the next frame. */
static void *load_image(struct sgx_cpu *cpu, const struct sgx_image *img)
{
	uint8_t *epc = sgx_cpu_section(cpu, 0, NULL, NULL);
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pi = { 0 };
	void *secs = epc;
	int r;

	memset(&secs_src, 0, sizeof(secs_src));
	secs_src.base = ENCL_BASE;
	secs_src.size = img->size;
	secs_src.ssa_frame_size = img->ssa_frame_size;
	secs_src.miscselect = img->miscselect;
	secs_src.attributes = img->attributes;
	secs_src.xfrm = img->xfrm;
	pi.contents = (uint64_t)(uintptr_t)&secs_src;
	pi.metadata = (uint64_t)(uintptr_t)&secinfo;
	r = sgx_ecreate(cpu, &pi, secs);
	if (r) {
		fprintf(stderr, "ECREATE: %#x\n", (unsigned int)r);
		return NULL;
	}

	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct sgx_image_page *p = &img->pages[i];
		uint8_t *frame = epc + (i + 1) * SGX_PAGE_SIZE;

		memset(&secinfo, 0, sizeof(secinfo));
		secinfo.flags = p->flags;
		pi.addr = ENCL_BASE + p->offset;
		pi.contents = (uint64_t)(uintptr_t)p->data;
		pi.metadata = (uint64_t)(uintptr_t)&secinfo;
		pi.secs = (uint64_t)(uintptr_t)secs;
		r = sgx_eadd(cpu, &pi, frame);
		for (unsigned int c = 0; !r && c < 16; c++)
			if (p->measured & (1u << c))
				r = sgx_eextend(cpu, secs, frame + 256 * c);
		if (r) {
			fprintf(stderr, "EADD/EEXTEND at %#llx: %#x\n",
				(unsigned long long)p->offset, (unsigned int)r);
			return NULL;
		}
	}
	return secs;
}

int main(void)
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu = NULL;
	struct sgx_image *img = NULL;
	struct sgx_sigstruct ss;
	EVP_PKEY *key = NULL;
	uint8_t mrenclave[32], mrsigner[32];
	void *secs;
	int err, r, ret = 1;

	img = make_image();
	if (!img || sgx_image_measure(img, mrenclave)) {
		fprintf(stderr, "cannot build the image\n");
		goto out;
	}

	/* Step 2. */
	key = sgx_sign_generate_key();
	sgx_sigstruct_init(&ss);
	if (!key || sgx_sigstruct_fill_body(&ss, img)) {
		fprintf(stderr, "cannot make the SIGSTRUCT\n");
		goto out;
	}
	ss.header.date = 0x20260101; /* BCD yyyymmdd */
	ss.body.isvprodid = 1;
	ss.body.isvsvn = 1;
	if (sgx_sigstruct_sign(&ss, key)) {
		fprintf(stderr, "signing failed\n");
		goto out;
	}
	sgx_sigstruct_mrsigner(&ss, mrsigner);
	print_hex("MRENCLAVE ", mrenclave);
	print_hex("MRSIGNER  ", mrsigner);

	/* Step 3. */
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	cpu = sgx_cpu_create(&cfg, &err);
	if (!cpu) {
		fprintf(stderr, "sgx_cpu_create: %s\n", strerror(-err));
		goto out;
	}
	secs = load_image(cpu, img);
	if (!secs)
		goto out;

	/* Step 4: no token (all zero), the signer not yet trusted. */
	memcpy(sigstruct_page, &ss, sizeof(ss));
	r = sgx_einit(cpu, sigstruct_page, &token, secs);
	printf("EINIT before sgx_cpu_trust_signer(): %s\n",
	       r == SGX_INVALID_EINITTOKEN ? "SGX_INVALID_EINITTOKEN" : "unexpected");
	if (r != SGX_INVALID_EINITTOKEN)
		goto out;

	r = sgx_cpu_trust_signer(cpu, mrsigner);
	if (r) {
		fprintf(stderr, "sgx_cpu_trust_signer: %s\n", strerror(-r));
		goto out;
	}
	r = sgx_einit(cpu, sigstruct_page, &token, secs);
	printf("EINIT after sgx_cpu_trust_signer(): %s\n", r ? "failed" : "success");
	if (r) {
		fprintf(stderr, "EINIT: %#x\n", (unsigned int)r);
		goto out;
	}
	ret = 0;
out:
	sgx_cpu_destroy(cpu);
	sgx_image_free(img);
	EVP_PKEY_free(key);
	return ret;
}
