/* SPDX-License-Identifier: MIT */
/* Shared fixtures for the CPU-model tests (cmocka). */
#ifndef SOFTSGX_TEST_HELPERS_H
#define SOFTSGX_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "softsgx/cpu.h"
#include "softsgx/enclu.h"
#include "softsgx/sign.h"

/* A platform with deterministic keys and an EPC of @epc_mb MiB. */
struct sgx_cpu *t_cpu(uint64_t epc_mb);
/* t_cpu() on a platform that does not allow the SECS attributes @attrs_off. */
struct sgx_cpu *t_cpu_without(uint64_t epc_mb, uint64_t attrs_off);
/* EPC address of frame @idx of section 0. */
void *t_page(struct sgx_cpu *cpu, unsigned int idx);

/* Assert a leaf result: success, an SGX code, or a fault with its vector. */
#define assert_leaf_ok(r) assert_int_equal((r), 0)
#define assert_gp(r) assert_int_equal((r), SGX_FAULT_GP)
#define assert_pf(r) assert_int_equal((r), SGX_FAULT_PF)
/* #PF at @addr (checked against sgx_last_fault()). */
void t_assert_pf_at(int r, const void *addr);

/* A SECS source page: 64-bit enclave at @base of @size, XFRM 3, SSA 1 page. */
void t_secs_src(struct sgx_secs *secs, uint64_t base, uint64_t size, uint64_t attributes);
/* ECREATE from @src into frame @idx; asserts success; returns the SECS page. */
void *t_ecreate_src(struct sgx_cpu *cpu, unsigned int idx, const struct sgx_secs *src);
void *t_ecreate(struct sgx_cpu *cpu, unsigned int idx, uint64_t base, uint64_t size,
		uint64_t attributes);
/* EADD @src (4096 bytes, may be NULL = zeros) at @linaddr into frame @idx. */
int t_eadd(struct sgx_cpu *cpu, void *secs, unsigned int idx, uint64_t linaddr,
	   uint64_t secinfo_flags, const void *src);
/* EEXTEND all 16 chunks of an added page. */
void t_eextend_page(struct sgx_cpu *cpu, void *secs, void *page);
/*
 * Build @img on the CPU model at @base: SECS in frame 0, page i in frame
 * 1 + i, EEXTEND of every measured chunk right after its EADD.  With
 * @flip_page < T_NO_FLIP, byte @flip_byte of that page's source is flipped
 * first.  Returns the SECS page.
 */
#define T_NO_FLIP ((size_t)-1)
struct sgx_image;
void *t_load_image(struct sgx_cpu *cpu, const struct sgx_image *img, uint64_t base,
		   size_t flip_page, size_t flip_byte);
/* A valid TCS source: OSSA @ossa, NSSA @nssa, OENTRY @oentry. */
void t_tcs_src(struct sgx_tcs *tcs, uint64_t ossa, uint32_t nssa, uint64_t oentry);

/* The test signing key (tests/data/test_key.pem), loaded once. */
EVP_PKEY *t_key(void);
EVP_PKEY *t_other_key(void);
/* SIGSTRUCT for @mrenclave with ATTRIBUTES @attr / mask ~0 over DEBUG..., signed. */
void t_sigstruct(struct sgx_sigstruct *ss, const uint8_t mrenclave[32], uint64_t attributes,
		 uint64_t xfrm, EVP_PKEY *key);
/* EINIT with a zero token after writing MRSIGNER(@ss) to the LE hash MSRs. */
int t_einit(struct sgx_cpu *cpu, void *secs, const struct sgx_sigstruct *ss);

/*
 * A small initialised enclave: base 0x100000000, size 64 KiB, SECS in frame
 * 0, TCS at offset 0 (frame 1, OSSA 0x1000, NSSA 2), SSA pages at 0x1000 and
 * 0x2000 (frames 2, 3, RW), a RW data page at 0x3000 (frame 4), a RX code
 * page at 0x4000 (frame 5).  Everything measured, EINIT done.
 */
struct t_encl {
	void *secs, *tcs, *ssa[2], *data, *code;
	uint64_t base, size;
	uint8_t mrenclave[32];
};
void t_build_encl(struct sgx_cpu *cpu, struct t_encl *e, uint64_t attributes);

/*
 * Identity-style page tables for ENCLU tests: each enclave linear page of
 * @e maps to the EPC frame added there; other addresses map to themselves
 * (host memory) unless listed as unmapped.
 */
struct t_mmu {
	struct sgx_mmu mmu;
	uint64_t la[64];
	void *pa[64];
	unsigned int n;
};
void t_mmu_init(struct t_mmu *m);
void t_mmu_map(struct t_mmu *m, uint64_t la, void *pa);

/* Snapshot of the EPCM for frames [0, n): compare to prove "nothing changed". */
struct t_epcm_snap {
	struct sgx_epcm_view v[64];
	unsigned int n;
};
void t_snap(struct sgx_cpu *cpu, struct t_epcm_snap *s, unsigned int n);
void t_assert_snap_equal(struct sgx_cpu *cpu, const struct t_epcm_snap *s);

/*
 * Capture what the code under test writes to stderr (the driver's messages
 * and warnings).  t_cap_end() restores stderr, echoes what was captured (so
 * the test log still shows it) and returns it; it may be called when no
 * capture is running (it then returns "").
 */
void t_cap_start(void);
const char *t_cap_end(void);

/* Run the cmocka group with TAP output. */
#define T_RUN(tests) (cmocka_set_message_output(CM_OUTPUT_TAP), cmocka_run_group_tests(tests, NULL, NULL))

#endif
