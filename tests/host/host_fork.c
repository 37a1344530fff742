// SPDX-License-Identifier: MIT
/*
 * Shared parts of the fork tests (host_test.h): faults caught where a test
 * expects them, and children whose cases reach the TAP stream through the
 * parent.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_test.h"

/* ---- faults ---- */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_sig, fault_code;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_sig = sig;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	siglongjmp(fault_jmp, 1);
}

static void catch_faults(bool on)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	if (!on)
		sa.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

int ht_try_access(enum ht_access how, uint64_t a, uint8_t *v, struct ht_fault *f)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)a;
	uint64_t rax = ENCL_EENTER;

	fault_sig = 0;
	fault_code = 0;
	fault_addr = NULL;
	catch_faults(true);
	if (!sigsetjmp(fault_jmp, 1)) {
		if (how == HT_LOAD)
			*v = *p;
		else if (how == HT_STORE)
			*p = 0x5a;
		else if (how == HT_STORE8)
			__asm__ volatile("movq %1, (%0)" : : "r"(p), "r"(0x1122334455667788ULL)
					 : "memory");
		else
			__asm__ volatile("lea 1f(%%rip), %%rcx\n1:\t.byte 0x0f, 0x01, 0xd7"
					 : "+a"(rax) : "b"(a), "D"(0) : "rcx", "rdx", "rsi", "r8",
					   "r9", "r10", "r11", "memory");
	}
	catch_faults(false);
	if (f)
		*f = (struct ht_fault){ .sig = fault_sig, .code = fault_code, .addr = fault_addr };
	return fault_sig;
}

/* ---- children ---- */

struct result {
	int ok;
	char what[240];
};

static int result_fd = -1;
static unsigned int child_failed;

pid_t ht_fork(struct ht_child *c, unsigned int secs)
{
	int p[2];

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->status = -1;
	c->results = -1;
	/* Close-on-exec, both: a child that execs takes neither along. */
	c->err = memfd_create("child stderr", MFD_CLOEXEC);
	if (c->err < 0 || pipe2(p, O_CLOEXEC)) {
		tap_diag("no memfd or pipe for a child: %m");
		if (c->err >= 0)
			close(c->err);
		c->err = -1;
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	c->pid = fork();
	if (c->pid == 0) {
		close(p[0]);
		result_fd = c->results = p[1];
		child_failed = 0;
		dup2(c->err, 2);
		close(c->err);
		c->err = -1;
		alarm(secs);
		return 0;
	}
	close(p[1]);
	c->results = p[0];
	if (c->pid < 0)
		tap_diag("fork: %m");
	return c->pid;
}

bool ht_child_ok(bool ok, const char *fmt, ...)
{
	struct result r = { .ok = ok };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.what, sizeof(r.what), fmt, ap);
	va_end(ap);
	child_failed += !ok;
	if (write(result_fd, &r, sizeof(r)) != sizeof(r))
		child_failed++;
	return ok;
}

void ht_child_exit(void)
{
	close(result_fd);
	exit(child_failed ? 1 : 0); /* exit(): the shim's --stats line comes at exit */
}

int ht_wait(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) < 0) {
		tap_diag("waitpid %d: %m", (int)pid);
		return -1;
	}
	if (!WIFEXITED(status)) {
		tap_diag("child killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return -1;
	}
	return WEXITSTATUS(status);
}

unsigned int ht_epc_stats(const char *text, struct ht_epc_stats *s)
{
	const char *tag = "softsgx: EPC pages total";
	unsigned int n = 0;

	memset(s, 0, sizeof(*s));
	for (const char *l = strstr(text, tag); l; l = strstr(l + 1, tag))
		n += sscanf(l, "softsgx: EPC pages total %llu free %llu used %llu leaked %llu; "
			    "EWB %llu ELDU %llu", &s->total, &s->free, &s->used, &s->leaked,
			    &s->ewb, &s->eldu) == 6;
	return n;
}

void ht_child_finish(struct ht_child *c, const char *who)
{
	static char err[65536];
	struct result r;
	size_t len = 0;
	ssize_t got;

	while (c->results >= 0 && read(c->results, &r, sizeof(r)) == sizeof(r)) {
		r.what[sizeof(r.what) - 1] = 0;
		tap_ok(r.ok, "%s", r.what);
		c->cases++;
	}
	if (c->results >= 0)
		close(c->results);
	c->results = -1;
	c->status = c->pid >= 0 ? ht_wait(c->pid) : -1;
	while (c->err >= 0 && len + 1 < sizeof(err) &&
	       (got = pread(c->err, err + len, sizeof(err) - 1 - len, (off_t)len)) > 0)
		len += (size_t)got;
	err[len] = 0;
	if (c->err >= 0)
		close(c->err);
	c->err = -1;
	c->nr_stats = ht_epc_stats(err, &c->stats);
	for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
		if (!strstr(line, "softsgx: EPC pages total"))
			tap_diag("%s: %s", who, line);
}
