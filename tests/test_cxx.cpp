// SPDX-License-Identifier: MIT
/*
 * A C++ program using the installed headers and libsoftsgx.so: every header
 * compiles as C++, the types are usable without the struct keyword, and the
 * functions link (C linkage).  Prints TAP.
 */
#include <softsgx/arch.h>
#include <softsgx/cpu.h>
#include <softsgx/enclu.h>
#include <softsgx/image.h>
#include <softsgx/measure.h>
#include <softsgx/sign.h>
#include <softsgx/uapi/sgx.h>

#include <cstdio>
#include <cstring>
#include <type_traits>

static_assert(sizeof(sgx_sigstruct) == 1808, "SIGSTRUCT size");
static_assert(sizeof(sgx_secs) == 4096, "SECS size");
static_assert(sizeof(sgx_enclave_run) == 256, "run block size");
static_assert(std::is_same<decltype(sgx_enclave_add_pages::count), __u64>::value,
	      "uapi fields are the kernel's __u64");

static int n, failed;

static void check(bool ok, const char *what)
{
	std::printf("%s %d - %s\n", ok ? "ok" : "not ok", ++n, what);
	failed += !ok;
}

int main()
{
	std::printf("1..6\n");

	sgx_cpu_config cfg;
	sgx_cpu_default_config(&cfg);
	cfg.epc_size = 1 << 20;
	int err = 0;
	sgx_cpu *cpu = sgx_cpu_create(&cfg, &err);
	check(cpu != nullptr, "sgx_cpu_create");
	if (!cpu)
		return 1;
	const sgx_cpu_config *got = sgx_cpu_get_config(cpu);
	check(got && got->epc_size == cfg.epc_size && got->sgx2 == cfg.sgx2,
	      "sgx_cpu_get_config gives the configuration back");
	check(sgx_cpu_nr_frames(cpu) == 256, "a 1 MiB EPC has 256 frames");

	/* An unaligned EPC address is #GP, reported through sgx_last_fault(). */
	void *epc = sgx_cpu_section(cpu, 0, nullptr, nullptr);
	int r = sgx_eremove(cpu, static_cast<char *>(epc) + 8);
	check(r == SGX_FAULT_GP && sgx_last_fault()->vector == X86_TRAP_GP,
	      "an ENCLS fault reaches C++ as the kernel's fault code");
	sgx_cpu_destroy(cpu);

	/* The offline measurement and the streaming one agree. */
	sgx_image *img = sgx_image_new();
	unsigned char page[4096] = { 0x90 };
	uint8_t mr_img[32] = { 0 }, mr_stream[32];
	bool built = img && (img->size = 8192,
			     sgx_image_add_page(img, 0, SGX_SECINFO_REG | SGX_SECINFO_R, 0xFFFF,
						page) == 0) &&
		     sgx_image_measure(img, mr_img) == 0;
	check(built, "an image built and measured");
	sgx_measure m;
	sgx_measure_ecreate(&m, 1, 8192);
	sgx_measure_eadd(&m, 0, SGX_SECINFO_REG | SGX_SECINFO_R);
	for (unsigned int c = 0; c < 16; c++)
		sgx_measure_eextend(&m, c * 256, page + c * 256);
	sgx_measure_final(&m, mr_stream);
	check(std::memcmp(mr_img, mr_stream, 32) == 0, "sgx_image_measure equals sgx_measure_*");
	sgx_image_free(img);

	return failed ? 1 : 0;
}
