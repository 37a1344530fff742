// SPDX-License-Identifier: MIT
/*
 * A library test_exec_early links: its constructor runs before the preload
 * shim's (the loader initialises a program's libraries before the preloaded
 * ones), and calls what library constructors call.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT unsigned long early_pagesz, early_random;
EXPORT int early_signal_ok, early_sigaction_ok, early_open_errno = -1;
EXPORT volatile sig_atomic_t early_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	early_usr1++;
}

__attribute__((constructor)) static void early_init(void)
{
	struct sigaction sa, old;
	int fd;

	early_pagesz = getauxval(AT_PAGESZ);
	early_random = getauxval(AT_RANDOM);
	early_signal_ok = signal(SIGUSR1, on_usr1) != SIG_ERR;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	early_sigaction_ok = !sigaction(SIGUSR2, &sa, &old) && old.sa_handler == SIG_DFL;
	/* Is there SGX?  As a runtime library may ask at load. */
	fd = open("/dev/sgx_enclave", O_RDWR);
	early_open_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
}
