// SPDX-License-Identifier: MIT
/* Shared parts of the test_exec_* programs (host_test.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "host_test.h"

static unsigned int tap_n, tap_failed;

static void tap_line(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
	printf("%s %u - ", prefix, ++tap_n);
	vprintf(fmt, ap);
	printf("%s\n", suffix);
	fflush(stdout);
}

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_line(cond ? "ok" : "not ok", "", fmt, ap);
	va_end(ap);
	if (!cond)
		tap_failed++;
	return cond;
}

void tap_skip(const char *why, const char *fmt, ...)
{
	char suffix[256];
	va_list ap;

	snprintf(suffix, sizeof(suffix), " # SKIP %s", why);
	va_start(ap, fmt);
	tap_line("ok", suffix, fmt, ap);
	va_end(ap);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void tap_continue(unsigned int n, unsigned int failed)
{
	tap_n = n;
	tap_failed = failed;
}

int tap_done(void)
{
	printf("1..%u\n", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

uint64_t ht_arg(int argc, char **argv, int i, uint64_t def)
{
	return i < argc ? strtoull(argv[i], NULL, 0) : def;
}

void ht_start(int argc, char **argv, struct encl *e)
{
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: %s ENCLAVE.sgxs ENCLAVE.sig [ARGS]\n", argv[0]);
		exit(2);
	}
	if (!encl_dev_present()) {
		printf("1..0 # SKIP /dev/sgx_enclave is not available (run under softsgx exec)\n");
		exit(0);
	}
	if (!encl_vdso_enter()) {
		printf("Bail out! the vDSO does not export __vdso_sgx_enter_enclave\n");
		exit(1);
	}
	r = encl_load(e, argv[1], argv[2]);
	if (r) {
		printf("Bail out! loading %s failed: %s\n", argv[1], strerror(-r));
		exit(1);
	}
	tap_diag("enclave at 0x%llx, size 0x%llx, %u TCS, %llu pages added",
		 (unsigned long long)e->base, (unsigned long long)e->size, e->nr_tcs,
		 (unsigned long long)e->nr_pages);
}

struct encl_op ht_op(uint64_t code, uint64_t a, uint64_t b, uint64_t c)
{
	struct encl_op op = { .op = code, .a = a, .b = b, .c = c,
			      .ret = 0xdeadbeef, .status = 0xdeadbeef };

	return op;
}

bool ht_call(uint64_t tcs, struct encl_op *op)
{
	struct sgx_enclave_run run;
	int rc = encl_enter(tcs, op, &run, NULL, 0);

	if (rc || run.function != ENCL_EEXIT) {
		tap_diag("op %llu on TCS 0x%llx: rc %d, function %u, vector %u, error 0x%x, "
			 "addr 0x%llx", (unsigned long long)op->op, (unsigned long long)tcs, rc,
			 run.function, run.exception_vector, run.exception_error_code,
			 (unsigned long long)run.exception_addr);
		return false;
	}
	return true;
}

bool ht_exception(int rc, const struct sgx_enclave_run *run, uint16_t vector,
		  uint16_t error_code, uint64_t addr)
{
	if (!rc && run->function == ENCL_ERESUME && run->exception_vector == vector &&
	    run->exception_error_code == error_code && run->exception_addr == addr)
		return true;
	tap_diag("got rc %d, function %u, vector %u, error 0x%x, addr 0x%llx; "
		 "want 0, %u, %u, 0x%x, 0x%llx", rc, run->function, run->exception_vector,
		 run->exception_error_code, (unsigned long long)run->exception_addr,
		 ENCL_ERESUME, vector, error_code, (unsigned long long)addr);
	return false;
}

bool ht_recover(struct sgx_enclave_run *run, struct encl_op *op)
{
	struct sgx_enclave_run handler_run;
	int rc;

	rc = encl_enter(run->tcs, NULL, &handler_run, NULL, 0);
	if (rc || handler_run.function != ENCL_EEXIT) {
		tap_diag("exception entry: rc %d, function %u, vector %u", rc,
			 handler_run.function, handler_run.exception_vector);
		return false;
	}
	rc = encl_resume(run);
	if (rc || run->function != ENCL_EEXIT || op->ret != ENCL_FAULTED) {
		tap_diag("ERESUME: rc %d, function %u, vector %u, ret 0x%llx", rc, run->function,
			 run->exception_vector, (unsigned long long)op->ret);
		return false;
	}
	return true;
}

bool ht_thread_rec(uint64_t tcs, struct encl_thread_rec *rec)
{
	struct encl_op op = ht_op(ENCL_OP_THREAD_REC, 0, (uint64_t)rec, 0);

	memset(rec, 0, sizeof(*rec));
	return ht_call(tcs, &op);
}

bool ht_page_mapped(uint64_t addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t v = 0;
	bool ok = fd >= 0 && pread(fd, &v, 8, (off_t)(addr / ENCL_PAGE_SIZE * 8)) == 8;

	if (fd >= 0)
		close(fd);
	return ok && (v >> 63);
}

bool ht_mapping_is(uint64_t addr, uint64_t len, const char *perms)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], p[8];
	unsigned long long lo, hi;
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%llx-%llx %7s", &lo, &hi, p) == 3 && lo == addr &&
			hi == addr + len && !strcmp(p, perms);
	if (f)
		fclose(f);
	return found;
}

bool ht_fork_shares(void)
{
	const char *v = getenv("SOFTSGX_FORK");

	return !v || !*v || !strcmp(v, "share"); /* the default */
}

uint64_t ht_eaccept(uint64_t tcs, uint64_t addr, uint64_t len, uint64_t flags)
{
	struct encl_op op = ht_op(ENCL_OP_EACCEPT, addr, flags, len);

	if (!ht_call(tcs, &op))
		return ~0ULL;
	if (op.status)
		tap_diag("EACCEPT 0x%llx flags 0x%llx: status %llu after %llu pages",
			 (unsigned long long)addr, (unsigned long long)flags,
			 (unsigned long long)op.status, (unsigned long long)op.ret);
	return op.status;
}

#define SGX2_RETRIES 100000

/* One SGX2 ioctl on what is left of the range; returns the bytes it did. */
static uint64_t sgx2_once(const struct encl *e, unsigned long cmd, uint64_t off, uint64_t len,
			  uint64_t arg, int *rc, uint64_t *result)
{
	struct sgx_enclave_restrict_permissions rp = { .offset = off, .length = len,
						       .permissions = arg };
	struct sgx_enclave_modify_types mt = { .offset = off, .length = len, .page_type = arg };
	struct sgx_enclave_remove_pages rm = { .offset = off, .length = len };

	if (cmd == SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS) {
		*rc = ioctl(e->fd, cmd, &rp) ? -errno : 0;
		*result = rp.result;
		return rp.count;
	}
	if (cmd == SGX_IOC_ENCLAVE_MODIFY_TYPES) {
		*rc = ioctl(e->fd, cmd, &mt) ? -errno : 0;
		*result = mt.result;
		return mt.count;
	}
	*rc = ioctl(e->fd, cmd, &rm) ? -errno : 0;
	*result = 0;
	return rm.count;
}

static int sgx2_ioctl(const struct encl *e, unsigned long cmd, uint64_t addr, uint64_t len,
		      uint64_t arg, uint64_t *count, uint64_t *result, int busy_errno)
{
	uint64_t done = 0, res = 0;
	int rc = 0;

	for (int tries = 0; done < len && tries < SGX2_RETRIES; tries++) {
		done += sgx2_once(e, cmd, addr - e->base + done, len - done, arg, &rc, &res);
		if (rc != -EAGAIN && rc != busy_errno)
			break;
		sched_yield();
	}
	*count = done;
	if (result)
		*result = res;
	return rc;
}

int ht_restrict(const struct encl *e, uint64_t addr, uint64_t len, uint64_t perms,
		uint64_t *count, uint64_t *result)
{
	return sgx2_ioctl(e, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, addr, len, perms, count,
			  result, -EAGAIN);
}

int ht_modify_types(const struct encl *e, uint64_t addr, uint64_t len, uint64_t type,
		    uint64_t *count, uint64_t *result)
{
	return sgx2_ioctl(e, SGX_IOC_ENCLAVE_MODIFY_TYPES, addr, len, type, count, result,
			  -EAGAIN);
}

int ht_remove_pages(const struct encl *e, uint64_t addr, uint64_t len, uint64_t *count)
{
	return sgx2_ioctl(e, SGX_IOC_ENCLAVE_REMOVE_PAGES, addr, len, 0, count, NULL, -EBUSY);
}
