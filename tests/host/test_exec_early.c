// SPDX-License-Identifier: MIT
/*
 * A library's constructor runs before the preload shim's own (early_lib.c):
 * the shim's sigaction(), signal() and getauxval() must already answer as
 * libc's, an open of the device must work and leave later ones working, and
 * the handlers installed then must still run once enclaves can.
 * Usage: test_exec_early ENCLAVE.sgxs ENCLAVE.sig
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "host_test.h"

extern unsigned long early_pagesz, early_random;
extern int early_signal_ok, early_sigaction_ok, early_open_errno;
extern volatile sig_atomic_t early_usr1;

int main(int argc, char **argv)
{
	struct encl e;
	struct encl_op op = ht_op(ENCL_OP_RETURN, 5, 0, 0);

	int fd = open("/dev/sgx_enclave", O_RDWR), err = fd < 0 ? errno : 0;

	tap_ok(early_open_errno == 0, "open(\"/dev/sgx_enclave\") in an earlier constructor (%s)",
	       strerror(early_open_errno));
	/* Not a skip (ht_start() skips without the device): a failure. */
	if (!tap_ok(fd >= 0, "... and in main() (%s)", strerror(err)))
		return tap_done();
	close(fd);
	ht_start(argc, argv, &e);
	tap_ok(early_pagesz == 4096, "getauxval(AT_PAGESZ) in an earlier constructor (%lu)",
	       early_pagesz);
	tap_ok(early_random && early_random == getauxval(AT_RANDOM),
	       "getauxval(AT_RANDOM) in an earlier constructor is the kernel's");
	tap_ok(early_signal_ok, "signal() in an earlier constructor");
	tap_ok(early_sigaction_ok, "sigaction() in an earlier constructor, with the old action");
	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (5 ^ ENCL_RETURN_MAGIC), "the enclave runs");
	raise(SIGUSR1);
	raise(SIGUSR2);
	tap_ok(early_usr1 == 2, "both handlers installed early run (%d)", (int)early_usr1);
	encl_unload(&e);
	return tap_done();
}
