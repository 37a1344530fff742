// SPDX-License-Identifier: MIT
/*
 * softsgx demo, part 1: the life of an enclave on the CPU model, leaf by
 * leaf.  ECREATE, EADD+EEXTEND, EINIT with a freshly signed SIGSTRUCT, then
 * EPA, EBLOCK, ETRACK and EWB to evict pages, ELDU to bring them back,
 * checking every byte, and the EPC counters.  Part 2 (demo_driver.c) runs
 * the driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "softsgx/cpu.h"
#include "softsgx/measure.h"
#include "softsgx/sign.h"

const char demo_usage[] =
	"Usage: softsgx demo [--epc-mb N] [--pages N] [--drv-pages N] [--key FILE]\n"
	"                    [--cgroup-policy v5|v17|both]\n"
	"\n"
	"Part 1 (steps 1-6) builds an enclave on the SGX CPU model one ENCLS leaf at a\n"
	"time and shows what the hardware would: ECREATE, EADD and EEXTEND of every page,\n"
	"the MRENCLAVE measured on the model and offline (they must agree), a SIGSTRUCT\n"
	"signed for it, EINIT, then eviction of the data pages through EPA/EBLOCK/ETRACK/\n"
	"EWB into encrypted backing memory, reload with ELDU, a byte-for-byte check, and\n"
	"the EPC counters.\n"
	"\n"
	"Part 2 (steps 7-12) runs the user-space Linux SGX driver on the simulated host\n"
	"(in-memory address spaces; no enclave code runs): an enclave four times the\n"
	"driver's EPC built through the SGX_IOC_ENCLAVE_CREATE/ADD_PAGES/INIT ioctls\n"
	"while ksgxd and direct reclaim evict pages, read back in random order through\n"
	"page faults that reload them with ELDU, grown by EAUG on first touch, a second\n"
	"enclave confined by an EPC cgroup's misc.max, then the limit cut to zero: under\n"
	"v17 of the EPC cgroup series the enclave lives on and only its next fault that\n"
	"needs a page fails (SIGBUS), under v5 the EPC OOM killer takes it; and the EPC\n"
	"accounting checked after release.  Every page read is compared with what was\n"
	"added.\n"
	"\n"
	"Options:\n"
	"  --epc-mb N     part 1: EPC size in MiB, 1..65536 (default 128)\n"
	"  --pages N      part 1: data pages in the enclave, 1..4096 (default 16); they\n"
	"                 and 8 more pages must fit in the EPC of --epc-mb\n"
	"  --drv-pages N  part 2: the driver's EPC in 4 KiB frames, 128..65536\n"
	"                 (default 256, i.e. 1 MiB; the first enclave has 4N pages)\n"
	"  --key FILE     RSA-3072 (e = 3) PEM signing key, not encrypted; default: a\n"
	"                 new key\n"
	"  --cgroup-policy v5|v17|both\n"
	"                 part 2: the revision(s) of the cgroup series to run steps\n"
	"                 10-11 under (default both: v17, then v5)\n"
	"  -h, --help     this text\n"
	"  --version      print the version\n"
	"\n"
	"Exit status: 0 when every step did what it should, 1 when one did not (the\n"
	"reason is on stderr), 2 for bad options.\n";

#define BASE 0x200000000ULL

struct demo {
	struct sgx_cpu *cpu;
	uint8_t *epc;
	unsigned int next_frame;
	struct sgx_measure m;
	void *secs;
};

static void *epc_page(struct demo *d)
{
	return d->epc + (uint64_t)d->next_frame++ * SGX_PAGE_SIZE;
}

static int leaf(const char *name, int r)
{
	if (r) {
		const struct sgx_fault *f = sgx_last_fault();

		if (r & SGX_ENCLS_FAULT_FLAG)
			cli_err("%s faulted: vector %d addr %#llx errcd %#x", name,
				f->vector, (unsigned long long)f->addr, f->errcd);
		else
			cli_err("%s returned SGX error %d", name, r);
	}
	return r;
}

static void hex(const char *label, const uint8_t *b, size_t n)
{
	printf("  %-10s ", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

/* EADD one page (and EEXTEND it when @measure), mirrored in the offline hash. */
static int add_page(struct demo *d, uint64_t off, uint64_t flags, const void *src, bool measure,
		    void **out)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = flags };
	struct sgx_pageinfo pi = { 0 };
	void *epc = epc_page(d);
	uint64_t mflags = flags;

	memcpy(page, src, sizeof(page));
	pi.addr = BASE + off;
	pi.contents = (uint64_t)(uintptr_t)page;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	pi.secs = (uint64_t)(uintptr_t)d->secs;
	if (leaf("EADD", sgx_eadd(d->cpu, &pi, epc)))
		return -1;
	if ((flags & SGX_SECINFO_PAGE_TYPE_MASK) == SGX_SECINFO_TCS)
		mflags &= ~SGX_SECINFO_PERMISSION_MASK;
	sgx_measure_eadd(&d->m, off, mflags);
	for (unsigned int c = 0; measure && c < 16; c++) {
		if (leaf("EEXTEND", sgx_eextend(d->cpu, d->secs, (uint8_t *)epc + c * 256)))
			return -1;
		sgx_measure_eextend(&d->m, off + c * 256, page + c * 256);
	}
	if (out)
		*out = epc;
	return 0;
}

/**
 * demo_sigstruct() - a SIGSTRUCT over @mrenclave for the demo's enclaves
 * @ss: filled in and signed
 * @mrenclave: the measurement
 * @attributes: the enclave's attributes (all bits but INIT required)
 * @key: the RSA-3072 e=3 signing key
 *
 * Return: 0, or -1 with the reason on stderr.
 */
int demo_sigstruct(struct sgx_sigstruct *ss, const uint8_t mrenclave[32], uint64_t attributes,
		   EVP_PKEY *key)
{
	sgx_sigstruct_init(ss);
	ss->header.date = 0x20261204;
	ss->body.attributes = attributes;
	ss->body.attributes_mask = ~SGX_ATTR_INIT;
	ss->body.xfrm = 3;
	ss->body.xfrm_mask = ~0ULL;
	memcpy(ss->body.mrenclave, mrenclave, 32);
	if (sgx_sigstruct_sign(ss, key)) {
		cli_err("signing failed");
		return -1;
	}
	return 0;
}

static uint64_t *va_slot(uint64_t **va, unsigned int i)
{
	return va[i / SGX_VA_SLOT_COUNT] + i % SGX_VA_SLOT_COUNT;
}

static uint64_t count_valid(struct sgx_cpu *cpu)
{
	uint64_t n = 0, size;
	uint8_t *base = sgx_cpu_section(cpu, 0, &size, NULL);
	struct sgx_epcm_view v;

	for (uint64_t off = 0; off < size; off += SGX_PAGE_SIZE)
		if (!sgx_cpu_epcm(cpu, base + off, &v) && v.valid)
			n++;
	return n;
}

static int run(struct demo *d, unsigned int npages, EVP_PKEY *key)
{
	static struct sgx_secs secs_src __attribute__((aligned(4096)));
	static uint8_t sig_page[4096] __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pi = { 0 };
	struct sgx_sigstruct ss;
	struct sgx_cpu_stats st;
	uint8_t page[4096], mrenclave[32], mrsigner[32];
	uint64_t size = 1ULL << 16, lehash[4];
	void **data = calloc(npages, sizeof(void *));
	uint8_t *backing = aligned_alloc(4096, (size_t)npages * 4096);
	struct sgx_pcmd *pcmd = aligned_alloc(128, npages * sizeof(struct sgx_pcmd));
	uint64_t *va[4096 / SGX_VA_SLOT_COUNT];
	int ret = -1;

	if (!data || !backing || !pcmd)
		goto out;
	while (size < (uint64_t)(npages + 4) * 4096)
		size <<= 1;

	printf("1. ECREATE: enclave at %#llx, %llu KiB, 64-bit\n", (unsigned long long)BASE,
	       (unsigned long long)(size >> 10));
	memset(&secs_src, 0, sizeof(secs_src));
	secs_src.base = BASE;
	secs_src.size = size;
	secs_src.ssa_frame_size = 1;
	secs_src.attributes = SGX_ATTR_MODE64BIT;
	secs_src.xfrm = 3;
	pi.contents = (uint64_t)(uintptr_t)&secs_src;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	d->secs = epc_page(d);
	if (leaf("ECREATE", sgx_ecreate(d->cpu, &pi, d->secs)))
		goto out;
	sgx_measure_ecreate(&d->m, 1, size);

	printf("2. EADD + EEXTEND: 1 TCS, 1 SSA page, %u data pages\n", npages);
	memset(page, 0, sizeof(page));
	((struct sgx_tcs *)page)->ssa_offset = 0x1000;
	((struct sgx_tcs *)page)->nr_ssa_frames = 1;
	((struct sgx_tcs *)page)->entry_offset = 0x2000;
	if (add_page(d, 0, SGX_SECINFO_TCS, page, true, NULL))
		goto out;
	memset(page, 0, sizeof(page));
	if (add_page(d, 0x1000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, page, false,
		     NULL))
		goto out;
	for (unsigned int i = 0; i < npages; i++) {
		for (unsigned int b = 0; b < sizeof(page); b++)
			page[b] = (uint8_t)(i * 31 + b * 7);
		if (add_page(d, 0x2000 + (uint64_t)i * 4096,
			     SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, page, true, &data[i]))
			goto out;
	}
	sgx_measure_final(&d->m, mrenclave);

	printf("3. Sign and EINIT\n");
	if (demo_sigstruct(&ss, mrenclave, SGX_ATTR_MODE64BIT, key))
		goto out;
	sgx_sigstruct_mrsigner(&ss, mrsigner);
	hex("MRENCLAVE", mrenclave, 32);
	hex("MRSIGNER", mrsigner, 32);
	memcpy(lehash, mrsigner, 32); /* flexible launch control: trust this signer */
	for (int i = 0; i < 4; i++)
		sgx_cpu_wrmsr(d->cpu, 0x8C + i, lehash[i]);
	memcpy(sig_page, &ss, sizeof(ss));
	if (leaf("EINIT", sgx_einit(d->cpu, sig_page, sig_page + 2048, d->secs)))
		goto out;
	if (memcmp(((struct sgx_secs *)sgx_epc_page_bytes(d->cpu, d->secs))->mrenclave, mrenclave,
		   32)) {
		cli_err("the model's MRENCLAVE differs from the offline one");
		goto out;
	}
	printf("  EINIT ok: model and offline MRENCLAVE agree\n");

	printf("4. Evict %u data pages: EPA, EBLOCK each, ETRACK, EWB each\n", npages);
	for (unsigned int i = 0; i < (npages + SGX_VA_SLOT_COUNT - 1) / SGX_VA_SLOT_COUNT; i++) {
		va[i] = epc_page(d);
		if (leaf("EPA", sgx_epa(d->cpu, SGX_PAGE_TYPE_VA, va[i])))
			goto out;
	}
	for (unsigned int i = 0; i < npages; i++)
		if (leaf("EBLOCK", sgx_eblock(d->cpu, data[i])))
			goto out;
	if (leaf("ETRACK", sgx_etrack(d->cpu, d->secs)))
		goto out;
	printf("  resident pages before: %llu\n", (unsigned long long)count_valid(d->cpu));
	for (unsigned int i = 0; i < npages; i++) {
		struct sgx_pageinfo p = { 0 };

		p.contents = (uint64_t)(uintptr_t)(backing + (size_t)i * 4096);
		p.metadata = (uint64_t)(uintptr_t)&pcmd[i];
		if (leaf("EWB", sgx_ewb(d->cpu, &p, data[i], va_slot(va, i))))
			goto out;
	}
	printf("  resident pages after:  %llu\n", (unsigned long long)count_valid(d->cpu));

	printf("5. Reload with ELDU and compare every byte\n");
	for (unsigned int i = 0; i < npages; i++) {
		struct sgx_pageinfo p = { 0 };

		p.addr = BASE + 0x2000 + (uint64_t)i * 4096;
		p.contents = (uint64_t)(uintptr_t)(backing + (size_t)i * 4096);
		p.metadata = (uint64_t)(uintptr_t)&pcmd[i];
		p.secs = (uint64_t)(uintptr_t)d->secs;
		if (leaf("ELDU", sgx_eldu(d->cpu, &p, data[i], va_slot(va, i))))
			goto out;
		const uint8_t *b = sgx_epc_page_bytes(d->cpu, data[i]);
		for (unsigned int k = 0; k < 4096; k++) {
			if (b[k] != (uint8_t)(i * 31 + k * 7)) {
				cli_err("page %u byte %u differs after reload", i, k);
				goto out;
			}
		}
	}
	printf("  all %u pages intact\n", npages);

	sgx_cpu_stats(d->cpu, &st);
	printf("6. EPC counters\n");
	printf("  frames     %llu total, %llu valid, %llu backed by host memory\n",
	       (unsigned long long)sgx_cpu_nr_frames(d->cpu),
	       (unsigned long long)count_valid(d->cpu),
	       (unsigned long long)sgx_cpu_touched_frames(d->cpu));
	printf("  leaves     ECREATE %llu  EADD %llu  EEXTEND %llu  EINIT %llu\n",
	       (unsigned long long)st.ecreate, (unsigned long long)st.eadd,
	       (unsigned long long)st.eextend, (unsigned long long)st.einit);
	printf("             EPA %llu  EBLOCK %llu  ETRACK %llu  EWB %llu  ELDU %llu\n",
	       (unsigned long long)st.epa, (unsigned long long)st.eblock,
	       (unsigned long long)st.etrack, (unsigned long long)st.ewb,
	       (unsigned long long)st.eldu);
	ret = 0;
out:
	free(data);
	free(backing);
	free(pcmd);
	return ret;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "epc-mb", required_argument, NULL, 'e' },
		{ "pages", required_argument, NULL, 'p' },
		{ "drv-pages", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "cgroup-policy", required_argument, NULL, 'c' },
		CLI_STD_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long epc_mb = 128, pages = 16, drv_pages = 256;
	unsigned int policies = 3; /* 1 << SGX_CG_V17 | 1 << SGX_CG_V5 */
	const char *key_path = NULL;
	struct sgx_cpu_config cfg;
	struct demo d = { 0 };
	EVP_PKEY *key;
	int c, err, ret, status;

	while ((c = cli_getopt(argc, argv, opts, &status)) != -1) {
		switch (c) {
		case CLI_EXIT:
			return status;
		case 'e':
			if (cli_parse_num("epc-mb", optarg, 1, 65536, &epc_mb))
				return 2;
			break;
		case 'p':
			if (cli_parse_num("pages", optarg, 1, 4096, &pages))
				return 2;
			break;
		case 'd':
			if (cli_parse_num("drv-pages", optarg, 128, 65536, &drv_pages))
				return 2;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'c':
			if (!strcmp(optarg, "both")) {
				policies = 3;
			} else if (!strcmp(optarg, "v5") || !strcmp(optarg, "v17")) {
				policies = !strcmp(optarg, "v5") ? 2 : 1;
			} else {
				cli_err("--cgroup-policy %s: want v5, v17 or both", optarg);
				return 2;
			}
			break;
		}
	}
	if (cli_no_more_args(argc, argv, optind))
		return 2;
	if ((pages + 8) * 4096 > epc_mb << 20) {
		cli_err("--pages %llu: does not fit in the %llu MiB EPC of --epc-mb (at most "
			"%llu pages)",
			pages, epc_mb, (epc_mb << 8) - 8);
		return 2;
	}
	if (key_path) {
		key = cli_load_key(key_path);
		if (!key)
			return 1;
	} else {
		printf("0. Generating an RSA-3072 signing key (exponent 3)\n");
		key = sgx_sign_generate_key();
		if (!key) {
			cli_err("key generation failed");
			return 1;
		}
	}
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = epc_mb << 20;
	d.cpu = sgx_cpu_create(&cfg, &err);
	if (!d.cpu) {
		cli_err("cannot create the platform: %s", strerror(-err));
		EVP_PKEY_free(key);
		return 1;
	}
	d.epc = sgx_cpu_section(d.cpu, 0, NULL, NULL);
	printf("softsgx demo: SGX2 platform, %llu MiB EPC (%llu frames)\n", epc_mb,
	       (unsigned long long)sgx_cpu_nr_frames(d.cpu));
	ret = run(&d, (unsigned int)pages, key);
	sgx_cpu_destroy(d.cpu);
	if (!ret)
		ret = demo_driver(key, (unsigned int)drv_pages, policies);
	EVP_PKEY_free(key);
	printf(ret ? "demo FAILED\n" : "demo done\n");
	return ret ? 1 : 0;
}
