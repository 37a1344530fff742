// SPDX-License-Identifier: MIT
/*
 * The uapi header has Linux's field types, not only Linux's sizes: a
 * program written for <asm/sgx.h> passes &arg.count where an unsigned long
 * long * is wanted, or prints it with %llu, and must compile unchanged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "softsgx/uapi/sgx.h"

/* 64, 32, 16 or 8 for the kernel's __uN types; 0 for any other type. */
#define KTYPE(x) _Generic((x), unsigned long long: 64, unsigned int: 32, \
			  unsigned short: 16, unsigned char: 8, default: 0)

static void test_ioctl_args_are_u64(void **state)
{
	struct sgx_enclave_create c;
	struct sgx_enclave_add_pages a;
	struct sgx_enclave_init i;
	struct sgx_enclave_provision p;
	struct sgx_enclave_restrict_permissions r;
	struct sgx_enclave_modify_types m;
	struct sgx_enclave_remove_pages rm;

	(void)state;
	assert_int_equal(KTYPE(c.src), 64);
	assert_int_equal(KTYPE(a.src), 64);
	assert_int_equal(KTYPE(a.offset), 64);
	assert_int_equal(KTYPE(a.length), 64);
	assert_int_equal(KTYPE(a.secinfo), 64);
	assert_int_equal(KTYPE(a.flags), 64);
	assert_int_equal(KTYPE(a.count), 64);
	assert_int_equal(KTYPE(i.sigstruct), 64);
	assert_int_equal(KTYPE(p.fd), 64);
	assert_int_equal(KTYPE(r.offset), 64);
	assert_int_equal(KTYPE(r.length), 64);
	assert_int_equal(KTYPE(r.permissions), 64);
	assert_int_equal(KTYPE(r.result), 64);
	assert_int_equal(KTYPE(r.count), 64);
	assert_int_equal(KTYPE(m.offset), 64);
	assert_int_equal(KTYPE(m.length), 64);
	assert_int_equal(KTYPE(m.page_type), 64);
	assert_int_equal(KTYPE(m.result), 64);
	assert_int_equal(KTYPE(m.count), 64);
	assert_int_equal(KTYPE(rm.offset), 64);
	assert_int_equal(KTYPE(rm.length), 64);
	assert_int_equal(KTYPE(rm.count), 64);
}

static void test_enclave_run_types_and_layout(void **state)
{
	struct sgx_enclave_run run;

	(void)state;
	assert_int_equal(KTYPE(run.tcs), 64);
	assert_int_equal(KTYPE(run.function), 32);
	assert_int_equal(KTYPE(run.exception_vector), 16);
	assert_int_equal(KTYPE(run.exception_error_code), 16);
	assert_int_equal(KTYPE(run.exception_addr), 64);
	assert_int_equal(KTYPE(run.user_handler), 64);
	assert_int_equal(KTYPE(run.user_data), 64);
	assert_int_equal(KTYPE(run.reserved[0]), 8);
	assert_int_equal(offsetof(struct sgx_enclave_run, function), 8);
	assert_int_equal(offsetof(struct sgx_enclave_run, exception_addr), 16);
	assert_int_equal(offsetof(struct sgx_enclave_run, user_data), 32);
	assert_int_equal(sizeof(run.reserved), 216);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_ioctl_args_are_u64),
		cmocka_unit_test(test_enclave_run_types_and_layout),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
