// SPDX-License-Identifier: MIT
/*
 * EENTER/EEXIT through the vDSO with the test enclave: values round trip on
 * every TCS, copies in and out, the user handler and its return value, the
 * vDSO's own checks, EREPORT and EGETKEY (the REPORT's MAC checked with the
 * report key). Usage: test_exec_basic ENCLAVE.sgxs ENCLAVE.sig
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "host_test.h"

#define SS_MODULUS 128
#define SS_ENCLAVEHASH 960
#define RPT_CPUSVN 0
#define RPT_MISCSELECT 16
#define RPT_ATTRIBUTES 48
#define RPT_MRENCLAVE 64
#define RPT_MRSIGNER 128
#define RPT_REPORTDATA 320
#define RPT_KEYID 384
#define RPT_MAC 416
#define SGX_INVALID_ATTRIBUTE 2
#define SGX_INVALID_KEYNAME 256

static struct encl e;

static void test_vdso(void)
{
	void *gnu = encl_vdso_sym("__vdso_sgx_enter_enclave", ENCL_VDSO_GNU_HASH);
	void *sysv = encl_vdso_sym("__vdso_sgx_enter_enclave", ENCL_VDSO_HASH);

	tap_ok(gnu || sysv, "vdso: __vdso_sgx_enter_enclave is exported");
	if (gnu && sysv)
		tap_ok(gnu == sysv, "vdso: DT_GNU_HASH and DT_HASH find the same address");
	else
		tap_skip("the vDSO has only one hash table", "vdso: both hash tables agree");
	tap_ok(!encl_vdso_sym("__vdso_sgx_no_such_symbol", ENCL_VDSO_GNU_HASH) &&
	       !encl_vdso_sym("__vdso_sgx_no_such_symbol", ENCL_VDSO_HASH),
	       "vdso: an absent symbol is not found");
}

static void test_round_trip(void)
{
	bool all = true;

	tap_ok(e.nr_tcs == ENCL_NR_TCS, "the enclave has %d TCS (got %u)", ENCL_NR_TCS, e.nr_tcs);
	for (unsigned int i = 0; i < e.nr_tcs; i++) {
		uint64_t v = 0x1234567890abcdefULL + i;
		struct encl_op op = ht_op(ENCL_OP_RETURN, v, 0, 0);

		all &= ht_call(e.tcs[i], &op) && op.ret == (v ^ ENCL_RETURN_MAGIC) && !op.status;
	}
	tap_ok(all, "EENTER/EEXIT returns the value through every TCS");

	all = true;
	for (unsigned int n = 0; n < 2000 && all; n++) {
		struct encl_op op = ht_op(ENCL_OP_RETURN, n, 0, 0);

		all = ht_call(e.tcs[n % 2], &op) && op.ret == (n ^ ENCL_RETURN_MAGIC);
	}
	tap_ok(all, "2000 entries in a row");

	struct encl_op bad = ht_op(ENCL_OP_MAX + 7, 0, 0, 0);

	tap_ok(ht_call(e.tcs[0], &bad) && bad.status == ENCL_BAD_OP,
	       "an unknown op returns ENCL_BAD_OP");
}

static void test_copy(void)
{
	uint64_t heap = e.base + ENCL_HEAP_OFFSET + 3 * ENCL_PAGE_SIZE - 100;
	char in[300], out[300];
	struct encl_op op;

	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 7 + 1);
	memset(out, 0, sizeof(out));
	op = ht_op(ENCL_OP_COPY_IN, heap, (uint64_t)in, sizeof(in));
	bool ok = ht_call(e.tcs[0], &op);

	op = ht_op(ENCL_OP_COPY_OUT, heap, (uint64_t)out, sizeof(out));
	ok = ok && ht_call(e.tcs[1], &op);
	tap_ok(ok && !memcmp(in, out, sizeof(in)), "bytes copied in across a page boundary "
	       "read back through another TCS");
}

static int handler_calls;
static long handler_rdi;
static uint32_t handler_function;
static int handler_result;

static int user_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			struct sgx_enclave_run *run)
{
	(void)rsi, (void)rdx, (void)rsp, (void)r8, (void)r9;
	handler_calls++;
	handler_rdi = rdi;
	handler_function = run->function;
	return handler_result + (int)run->user_data;
}

static void test_user_handler(void)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 77, 0, 0);
	struct sgx_enclave_run run;
	int rc;

	handler_calls = 0;
	handler_result = 0;
	rc = encl_enter(e.tcs[2], &op, &run, user_handler, 0);
	tap_ok(rc == 0 && handler_calls == 1 && handler_function == ENCL_EEXIT &&
	       (uint64_t)handler_rdi == (77 ^ ENCL_RETURN_MAGIC),
	       "user handler: called once on EEXIT with the enclave's RDI, 0 returned "
	       "(rc %d, calls %d)", rc, handler_calls);

	handler_calls = 0;
	handler_result = -1000;
	rc = encl_enter(e.tcs[2], &op, &run, user_handler, (uint64_t)-234);
	tap_ok(rc == -1234 && handler_calls == 1, "user handler: its negative result is what "
	       "the vDSO returns (rc %d)", rc);
}

static void test_vdso_checks(void)
{
	vdso_sgx_enter_enclave_t fn = encl_vdso_enter();
	struct encl_op op = ht_op(ENCL_OP_RETURN, 1, 0, 0);
	struct sgx_enclave_run run;
	int rc;

	memset(&run, 0, sizeof(run));
	run.tcs = e.tcs[0];
	rc = encl_vdso_call((unsigned long)&op, 0, 0, 0, 0, 0, &run, fn);
	tap_ok(rc == -EINVAL, "vdso: leaf 0 is refused with -EINVAL (rc %d)", rc);
	rc = encl_vdso_call((unsigned long)&op, 0, 0, ENCL_EEXIT, 0, 0, &run, fn);
	tap_ok(rc == -EINVAL, "vdso: leaf EEXIT is refused with -EINVAL (rc %d)", rc);
	run.reserved[200] = 1;
	rc = encl_vdso_call((unsigned long)&op, 0, 0, ENCL_EENTER, 0, 0, &run, fn);
	tap_ok(rc == -EINVAL && op.ret == 0xdeadbeef,
	       "vdso: non-zero reserved bytes in the run struct give -EINVAL (rc %d)", rc);
}

static bool cmac_ok(const uint8_t key[16], const uint8_t *msg, size_t len,
		    const uint8_t mac[16])
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0),
		OSSL_PARAM_construct_end(),
	};
	uint8_t out[16];
	size_t outlen = 0;
	bool ok = ctx && EVP_MAC_init(ctx, key, 16, params) && EVP_MAC_update(ctx, msg, len) &&
		  EVP_MAC_final(ctx, out, &outlen, sizeof(out)) && outlen == 16 &&
		  !memcmp(out, mac, 16);

	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return ok;
}

static bool egetkey(uint16_t name, uint16_t policy, const uint8_t *report,
		    struct encl_key_io *io, uint64_t *status)
{
	struct encl_op op = ht_op(ENCL_OP_EGETKEY, 0, (uint64_t)io, 0);

	memset(io, 0, sizeof(*io));
	memcpy(io->keyrequest + 0, &name, 2);
	memcpy(io->keyrequest + 2, &policy, 2);
	memcpy(io->keyrequest + 8, report + RPT_CPUSVN, 16);
	memcpy(io->keyrequest + 40, report + RPT_KEYID, 32);
	if (!ht_call(e.tcs[3], &op))
		return false;
	*status = op.status;
	return true;
}

static void test_report_and_keys(void)
{
	static struct encl_report_io io;
	static struct encl_key_io k1, k2, k3;
	struct encl_op op = ht_op(ENCL_OP_EREPORT, 0, (uint64_t)&io, 0);
	uint8_t mrsigner[32], first[432];
	uint64_t attr, st1 = 1, st2 = 1, st3 = 1;

	memset(&io, 0, sizeof(io));
	for (int i = 0; i < 64; i++)
		io.reportdata[i] = (uint8_t)(0xa0 + i);
	bool ok = ht_call(e.tcs[3], &op);

	memcpy(&attr, io.report + RPT_ATTRIBUTES, 8);
	SHA256(e.sigstruct + SS_MODULUS, 384, mrsigner);
	tap_ok(ok && !memcmp(io.report + RPT_MRENCLAVE, e.sigstruct + SS_ENCLAVEHASH, 32),
	       "EREPORT: MRENCLAVE is the SIGSTRUCT's ENCLAVEHASH");
	tap_ok(ok && !memcmp(io.report + RPT_MRSIGNER, mrsigner, 32),
	       "EREPORT: MRSIGNER is SHA-256 of the signer's modulus");
	tap_ok(ok && (attr & 0x5) == 0x5 && !memcmp(io.report + RPT_REPORTDATA, io.reportdata, 64),
	       "EREPORT: ATTRIBUTES has INIT and MODE64BIT (0x%llx), REPORTDATA is echoed",
	       (unsigned long long)attr);

	/* A report targeting this enclave itself, checked with its report key. */
	memcpy(first, io.report, sizeof(first));
	memset(io.targetinfo, 0, sizeof(io.targetinfo));
	memcpy(io.targetinfo + 0, first + RPT_MRENCLAVE, 32);
	memcpy(io.targetinfo + 32, first + RPT_ATTRIBUTES, 16);
	memcpy(io.targetinfo + 52, first + RPT_MISCSELECT, 4);
	op = ht_op(ENCL_OP_EREPORT, 0, (uint64_t)&io, 0);
	ok = ht_call(e.tcs[3], &op) && egetkey(3, 0, io.report, &k1, &st1) && !st1;
	tap_ok(ok && cmac_ok(k1.key, io.report, 384, io.report + RPT_MAC),
	       "EGETKEY(REPORT) gives the key that verifies the REPORT's AES-CMAC");

	ok = egetkey(4, 1, first, &k1, &st1) && egetkey(4, 1, first, &k2, &st2) &&
	     egetkey(4, 2, first, &k3, &st3);
	tap_ok(ok && !st1 && !st2 && !st3 && !memcmp(k1.key, k2.key, 16) &&
	       memcmp(k1.key, k3.key, 16),
	       "EGETKEY(SEAL): stable, and MRSIGNER policy differs from MRENCLAVE policy");
	ok = egetkey(9, 0, first, &k1, &st1);
	tap_ok(ok && st1 == SGX_INVALID_KEYNAME, "EGETKEY: an unknown key name gives "
	       "SGX_INVALID_KEYNAME (%llu)", (unsigned long long)st1);
	ok = egetkey(1, 0, first, &k1, &st1);
	tap_ok(ok && st1 == SGX_INVALID_ATTRIBUTE, "EGETKEY(PROVISION) without the PROVISIONKEY "
	       "attribute gives SGX_INVALID_ATTRIBUTE (%llu)", (unsigned long long)st1);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/*
 * The shim's per-thread slots have a guard page each: with the kernel's
 * guard regions (6.13+) they cost no mapping of their own, so that a fork
 * copies a few dozen mappings, not a thousand.  With mprotect() (older
 * kernels, or SOFTSGX_TEST_MPROTECT_GUARDS=1) each guard splits the area:
 * at least 1024 mappings more (512 slots).  ASan alone adds about 200.
 */
static void test_mapping_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool guards = p != MAP_FAILED && !madvise(p, 4096, MADV_GUARD_INSTALL);
	bool forced = getenv("SOFTSGX_TEST_MPROTECT_GUARDS") != NULL;
	char line[512];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	if (guards && !forced)
		tap_ok(n < 768, "the shim's slot guards are guard regions: %d mappings in all", n);
	else
		tap_ok(n > 1024, "the shim's slot guards are mprotect()ed pages (%s): %d mappings",
		       forced ? "forced" : "no guard regions in this kernel", n);
}

int main(int argc, char **argv)
{
	ht_start(argc, argv, &e);
	test_mapping_count();
	test_vdso();
	test_round_trip();
	test_copy();
	test_user_handler();
	test_vdso_checks();
	test_report_and_keys();
	encl_unload(&e);
	return tap_done();
}
