/* SPDX-License-Identifier: MIT */
/*
 * A loader for the test enclaves that uses nothing but libc and the Linux SGX
 * uapi (/dev/sgx_enclave ioctls, mmap, the vDSO's __vdso_sgx_enter_enclave),
 * as a program for real Linux SGX does. It reads an SGXS stream and its
 * SIGSTRUCT file, both produced at build time by `softsgx measure --sgxs-out`
 * and `softsgx sign`.
 */
#ifndef SOFTSGX_TEST_ENCL_LOAD_H
#define SOFTSGX_TEST_ENCL_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "softsgx/uapi/sgx.h"

#define ENCL_LOAD_MAX_TCS 64
#define ENCL_SIGSTRUCT_SIZE 1808

struct encl {
	int fd;			/* /dev/sgx_enclave */
	uint64_t base;		/* ELRANGE = [base, base + size) */
	uint64_t size;
	uint32_t ssaframesize;
	uint64_t added_end;	/* enclave offset just past the last EADDed page */
	unsigned int nr_tcs;
	uint64_t tcs[ENCL_LOAD_MAX_TCS];	/* addresses of the EADDed TCS pages */
	uint64_t nr_pages;	/* pages EADDed */
	uint8_t sigstruct[ENCL_SIGSTRUCT_SIZE];
};

/**
 * encl_load() - build, initialise and map an enclave.
 * @e: filled in; e->fd is -1 on failure
 * @sgxs_path: the enclave's SGXS stream
 * @sig_path: its 1808-byte SIGSTRUCT
 *
 * Reserves a SIZE-aligned area, ENCLAVE_CREATE (SECS from the SGXS and the
 * SIGSTRUCT's MISCSELECT/ATTRIBUTES/XFRM), ADD_PAGES (SGX_PAGE_MEASURE for
 * measured pages), INIT, then maps every page with its SECINFO permissions
 * (TCS pages RW) and the pages never added RW, for EAUG.
 * Return: 0, or a negative errno with a message on stderr.
 */
int encl_load(struct encl *e, const char *sgxs_path, const char *sig_path);

/* What an SGXS stream adds, as the loader reads it (offsets from the base). */
struct encl_sgxs_summary {
	uint64_t size;		/* SECS.SIZE */
	uint32_t ssaframesize;
	uint64_t nr_pages;	/* EADD records */
	uint64_t nr_measured;	/* pages with all 16 chunks EEXTENDed */
	uint64_t nr_exec;	/* pages with X */
	uint64_t added_end;
	unsigned int nr_tcs;
	uint64_t tcs[ENCL_LOAD_MAX_TCS];
};

/**
 * encl_sgxs_summary() - parse an SGXS stream as encl_load() does, without
 * building anything (no device needed).
 * Return: 0, or a negative errno with a message on stderr.
 */
int encl_sgxs_summary(const char *path, struct encl_sgxs_summary *sum);

/** encl_unload() - unmap the enclave and close its fd. */
void encl_unload(struct encl *e);

/** encl_dev_present() - whether /dev/sgx_enclave can be opened. */
bool encl_dev_present(void);

enum encl_vdso_hash { ENCL_VDSO_GNU_HASH, ENCL_VDSO_HASH };

/**
 * encl_vdso_sym() - look @name up in the vDSO's dynamic symbol table.
 * @how: through DT_GNU_HASH or through DT_HASH
 * Return: the address, or NULL if absent (or the table is missing).
 */
void *encl_vdso_sym(const char *name, enum encl_vdso_hash how);

/** encl_vdso_enter() - __vdso_sgx_enter_enclave (GNU hash, else SysV hash). */
vdso_sgx_enter_enclave_t encl_vdso_enter(void);

/**
 * encl_vdso_call() - call @fn, the vDSO's __vdso_sgx_enter_enclave, with its
 * arguments, on a stack position that is the same for every call of the
 * thread, so that an ERESUME continues an entry wherever it is called from
 * (encl_call.S). Not reentrant: a user handler must not call it.
 */
int encl_vdso_call(unsigned long rdi, unsigned long rsi, unsigned long rdx,
		   unsigned int function, unsigned long r8, unsigned long r9,
		   struct sgx_enclave_run *run, vdso_sgx_enter_enclave_t fn);

/* ENCLU leaves as the vDSO takes and reports them. */
#define ENCL_EENTER 2
#define ENCL_ERESUME 3
#define ENCL_EEXIT 4

/**
 * encl_enter() - EENTER @tcs with @arg in RDI through the vDSO.
 * @run: cleared and set up here (tcs, @handler, @user_data), read afterwards
 * Return: what __vdso_sgx_enter_enclave returned.
 */
int encl_enter(uint64_t tcs, void *arg, struct sgx_enclave_run *run,
	       sgx_enclave_user_handler_t handler, uint64_t user_data);

/** encl_resume() - ERESUME run->tcs (after an exception the vDSO reported). */
int encl_resume(struct sgx_enclave_run *run);

#endif
