/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the driver tests that build enclaves through the ioctls
 * on a simulated-host driver: counters, the EPC accounting invariant, and an
 * enclave builder whose pages hold a known pattern.
 */
#ifndef SOFTSGX_TEST_DRV_HELPERS_H
#define SOFTSGX_TEST_DRV_HELPERS_H

#include "sim.h"

#define T_ATTR (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)
#define T_RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)

struct t_enc {
	struct sgx_encl *encl;
	struct sgx_mm *mm;
	unsigned long base, size;
	unsigned int nr;
};


long nr_free(struct sgx_driver *drv);
uint64_t st(_Atomic uint64_t *c);
bool epcm_valid(struct sgx_driver *drv, struct sgx_epc_page *page);
/* Pages of @encl that hold EPC: resident children, SECS, VA pages. */
long encl_epc_pages(struct sgx_encl *encl);
/* free + poisoned + in use by @encls (+ @extra held by the test) + leaked == total. */
void check_invariant(struct sgx_driver *drv, struct sgx_encl **encls, int n, long extra);
/* A sanitized driver with one section of @pages frames on node 0. */
struct sgx_driver *mk_drv(struct sim_host *h, unsigned long pages, bool sync);
uint64_t pattern(unsigned int page, unsigned int off);
/*
 * CREATE (and map, if @map) an enclave at @base of @size, ADD @nr RW pages
 * holding pattern(), and INIT it if @init.
 */
void enc_build(struct sgx_driver *drv, struct sgx_mm *mm, struct t_enc *e, unsigned long base,
	       unsigned long size, unsigned int nr, bool map, bool init);
/* The SIGSTRUCT of any enc_build() enclave of @size and @nr pages (base plays no part). */
void enc_sigstruct(unsigned long size, unsigned int nr, struct sgx_sigstruct *ss);
/*
 * enc_build() without asserts, for threads: INIT with @ss if not NULL.
 * Return: 0, or the -errno of the first step that failed.
 */
int enc_try_build(struct sgx_driver *drv, struct sgx_mm *mm, struct t_enc *e, unsigned long base,
		  unsigned long size, unsigned int nr, bool map, const struct sgx_sigstruct *ss);
void enc_release(struct t_enc *e);
struct sgx_encl_page *enc_page(struct t_enc *e, unsigned int i);
bool enc_resident(struct t_enc *e, unsigned int i);
/* EDBGRD the page (resident) and compare a few words with its pattern. */
void enc_check_contents(struct sgx_driver *drv, struct t_enc *e, unsigned int i);

#endif
