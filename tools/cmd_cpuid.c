// SPDX-License-Identifier: MIT
/* softsgx cpuid: what CPUID leaf 0x12 and the SGX bits of leaf 7 report. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "softsgx/cpu.h"

const char cpuid_usage[] =
	"Usage: softsgx cpuid [--epc-mb N] [--sections N] [--no-sgx2] [--eupdatesvn]\n"
	"\n"
	"Print CPUID.(EAX=7,ECX=0) SGX bits and every subleaf of CPUID leaf 0x12 as the\n"
	"emulated platform computes them from its configuration, decoded.\n"
	"\n"
	"Options:\n"
	"  --epc-mb N     total EPC size in MiB, 1..65536 (default 128)\n"
	"  --sections N   split the EPC into N equal sections, 1..8 (default 1); each\n"
	"                 must be a whole number of 4 KiB pages\n"
	"  --no-sgx2      a platform without SGX2\n"
	"  --eupdatesvn   a platform with ENCLS[EUPDATESVN] (CPUID.(12H,0):EAX[10])\n"
	"  -h, --help     this text\n"
	"  --version      print the version\n"
	"\n"
	"Exit status: 0 on success, 1 when the platform cannot be created, 2 on a usage\n"
	"error.\n";

int cmd_cpuid(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "epc-mb", required_argument, NULL, 'e' },
		{ "sections", required_argument, NULL, 's' },
		{ "no-sgx2", no_argument, NULL, 'n' },
		{ "eupdatesvn", no_argument, NULL, 'u' },
		CLI_STD_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long mb = 128, nsec = 1;
	struct sgx_cpu_config cfg;
	struct sgx_cpuid_regs r;
	struct sgx_cpu *cpu;
	int c, err, status;

	sgx_cpu_default_config(&cfg);
	while ((c = cli_getopt(argc, argv, opts, &status)) != -1) {
		switch (c) {
		case CLI_EXIT:
			return status;
		case 'e':
			if (cli_parse_num("epc-mb", optarg, 1, 65536, &mb))
				return 2;
			break;
		case 's':
			if (cli_parse_num("sections", optarg, 1, SGX_MAX_EPC_SECTIONS, &nsec))
				return 2;
			break;
		case 'n':
			cfg.sgx2 = false;
			break;
		case 'u':
			cfg.eupdatesvn = true;
			break;
		}
	}
	if (cli_no_more_args(argc, argv, optind))
		return 2;
	if (((mb << 20) / nsec) % 4096) {
		cli_err("--epc-mb %llu cannot be split into --sections %llu of whole 4 KiB pages",
			mb, nsec);
		return 2;
	}
	cfg.nr_sections = (unsigned int)nsec;
	for (unsigned int i = 0; i < nsec; i++) {
		cfg.sections[i].size = (mb << 20) / nsec;
		cfg.sections[i].node = (int)i;
	}
	cpu = sgx_cpu_create(&cfg, &err);
	if (!cpu) {
		cli_err("cannot create the platform: %s", strerror(-err));
		return 1;
	}
	sgx_cpu_cpuid(cpu, 7, 0, &r);
	printf("leaf 7.0     ebx=%08x ecx=%08x edx=%08x  SGX=%u SGX_LC=%u SGX_KEYS=%u\n", r.ebx,
	       r.ecx, r.edx, (r.ebx >> 2) & 1, (r.ecx >> 30) & 1, (r.edx >> 1) & 1);
	sgx_cpu_cpuid(cpu, 0x12, 0, &r);
	printf("leaf 12.0    eax=%08x ebx=%08x ecx=%08x edx=%08x  SGX1=%u SGX2=%u EUPDATESVN=%u "
	       "EDECCSSA=%u MISCSELECT=%#x MaxEnclaveSize 2^%u (32-bit) 2^%u (64-bit)\n",
	       r.eax, r.ebx, r.ecx, r.edx, r.eax & 1, (r.eax >> 1) & 1, (r.eax >> 10) & 1,
	       (r.eax >> 11) & 1, r.ebx, r.edx & 0xFF, (r.edx >> 8) & 0xFF);
	sgx_cpu_cpuid(cpu, 0x12, 1, &r);
	printf("leaf 12.1    eax=%08x ebx=%08x ecx=%08x edx=%08x  ATTRIBUTES=%#llx XFRM=%#llx\n",
	       r.eax, r.ebx, r.ecx, r.edx,
	       (unsigned long long)r.eax | (unsigned long long)r.ebx << 32,
	       (unsigned long long)r.ecx | (unsigned long long)r.edx << 32);
	for (uint32_t sub = 2;; sub++) {
		sgx_cpu_cpuid(cpu, 0x12, sub, &r);
		printf("leaf 12.%-4u eax=%08x ebx=%08x ecx=%08x edx=%08x", sub, r.eax, r.ebx, r.ecx,
		       r.edx);
		if ((r.eax & 0xF) == 0) {
			printf("  (end of EPC sections)\n");
			break;
		}
		printf("  EPC section base %#llx size %llu MiB\n",
		       (unsigned long long)(r.eax & 0xFFFFF000u) |
			       (unsigned long long)(r.ebx & 0xFFFFF) << 32,
		       ((unsigned long long)(r.ecx & 0xFFFFF000u) |
			(unsigned long long)(r.edx & 0xFFFFF) << 32) >> 20);
	}
	sgx_cpu_destroy(cpu);
	return 0;
}
