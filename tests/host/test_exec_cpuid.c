// SPDX-License-Identifier: MIT
/*
 * CPUID the program executes itself, under the mode SOFTSGX_CPUID names
 * (fault: CPUID faulting; rewrite: the instructions rewritten to UD2; auto:
 * fault if this CPU can, else rewrite): in
 * the main program and in a library dlopen()ed after start (in its
 * constructor too), leaf 0x12 and leaf 7's SGX bits are the emulated
 * platform's (EPC_BYTES in one section, SGX2 or not), every other bit the
 * real CPU's as /proc/cpuinfo tells it.  A UD2 of the program's own still
 * reaches its SIGILL handler.  The CPUID sites read back as they are
 * executed: 0F 0B when rewritten, 0F A2 under faulting.
 * Usage: test_exec_cpuid ENCLAVE.sgxs ENCLAVE.sig LIBRARY EPC_BYTES SGX2
 */
#include <asm/prctl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "host_test.h"

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

typedef const uint8_t *(*cpuid_fn)(uint32_t leaf, uint32_t sub, uint32_t r[4]);

static struct encl e;
static uint64_t epc_bytes;
static bool sgx2, rewrite;

/* CPUID @leaf/@sub into @r, in the main program; the address of the instruction. */
static __attribute__((noinline)) const uint8_t *main_cpuid(uint32_t leaf, uint32_t sub,
							   uint32_t r[4])
{
	const uint8_t *site;

	__asm__ volatile("lea 1f(%%rip), %4\n1:\tcpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]), "=&r"(site)
			 : "0"(leaf), "2"(sub));
	return site;
}

/* ---- what the real CPU is, from the kernel ---- */

static char cpu_vendor[16];
static long cpu_level = -1;
static char cpu_flags[8192];

static void read_cpuinfo(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];

	while (f && fgets(line, sizeof(line), f)) {
		if (!cpu_vendor[0] && sscanf(line, "vendor_id : %15s", cpu_vendor) == 1)
			continue;
		if (cpu_level < 0 && sscanf(line, "cpuid level : %ld", &cpu_level) == 1)
			continue;
		if (!cpu_flags[0] && !strncmp(line, "flags", 5)) {
			snprintf(cpu_flags, sizeof(cpu_flags), " %s", strchr(line, ':') + 1);
			cpu_flags[strcspn(cpu_flags, "\n")] = ' ';
			break;
		}
	}
	if (f)
		fclose(f);
}

static bool has_flag(const char *name)
{
	char w[64];

	snprintf(w, sizeof(w), " %s ", name);
	return strstr(cpu_flags, w) != NULL;
}

/* ---- the checks, for one place CPUID runs from ---- */

static void check_site(const char *where, const uint8_t *site)
{
	uint8_t want = rewrite ? 0x0b : 0xa2;

	tap_ok(site[0] == 0x0f && site[1] == want,
	       "%s: the CPUID site reads back as 0f %02x (it is %02x %02x)", where, want,
	       site[0], site[1]);
}

static void check_leaves(const char *where, cpuid_fn fn)
{
	static const struct { const char *flag; int bit; } ebx7[] = {
		{ "bmi1", 3 }, { "avx2", 5 }, { "bmi2", 8 }, { "erms", 9 }, { "adx", 19 },
	};
	uint32_t r[4], s[4];
	char vendor[13];
	const uint8_t *site = fn(0, 0, r);
	bool ok = true;

	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	tap_ok(!strcmp(vendor, cpu_vendor) && r[0] == (uint32_t)cpu_level,
	       "%s: leaf 0 is the CPU's: %s, max leaf 0x%x (/proc/cpuinfo: %s, 0x%lx)", where,
	       vendor, r[0], cpu_vendor, cpu_level);
	check_site(where, site);

	fn(7, 0, r);
	tap_ok((r[1] & 1u << 2) && (r[2] & 1u << 30) && (r[3] & 1u << 1),
	       "%s: leaf 7 says SGX, SGX_LC and SGX-KEYS (ebx 0x%x ecx 0x%x edx 0x%x)", where,
	       r[1], r[2], r[3]);
	for (size_t i = 0; i < sizeof(ebx7) / sizeof(ebx7[0]); i++)
		ok &= !!(r[1] & 1u << ebx7[i].bit) == has_flag(ebx7[i].flag);
	tap_ok(ok, "%s: leaf 7's bmi1, avx2, bmi2, erms, adx are the CPU's (ebx 0x%x)", where,
	       r[1]);

	fn(0x12, 0, r);
	tap_ok((r[0] & 3) == (sgx2 ? 3u : 1u) && (r[3] & 0xff) && (r[3] >> 8 & 0xff),
	       "%s: leaf 0x12.0: SGX1%s, enclave sizes (eax 0x%x edx 0x%x)", where,
	       sgx2 ? " and SGX2" : " without SGX2", r[0], r[3]);
	fn(0x12, 2, r);
	fn(0x12, 3, s);
	tap_ok((r[0] & 15) == 1 && (r[2] & 15) == 1 &&
	       ((r[2] & 0xfffff000u) | (uint64_t)(r[3] & 0xfffff) << 32) == epc_bytes &&
	       (s[0] & 15) == 0,
	       "%s: leaf 0x12.2 is one EPC section of %llu bytes, 0x12.3 none "
	       "(eax 0x%x ecx 0x%x edx 0x%x; next eax 0x%x)", where,
	       (unsigned long long)epc_bytes, r[0], r[2], r[3], s[0]);
}

/* ---- bytes 0F A2 that are not a CPUID ---- */

/* Data in .text, outside every function, as hand-written assembly keeps tables. */
__asm__(".pushsection .text\n"
	".globl cpuid_text_data\n"
	"cpuid_text_data:\n"
	".byte 0x0f, 0xa2, 0x0f, 0xa2, 0x0f, 0xa2\n"
	".popsection");
extern const uint8_t cpuid_text_data[6];

/* 0F A2 inside an instruction, the function's last such bytes. */
static __attribute__((noinline)) uint32_t imm_0fa2(void)
{
	uint32_t v;

	__asm__ volatile("mov $0x0bada20f, %0" : "=r"(v));
	return v;
}

/* In .data: an immediate in the comparison would hold 0F A2 itself. */
static volatile uint32_t imm_want = 0x0bada20f;

static void test_not_cpuid(void)
{
	uint32_t v = imm_0fa2();

	tap_ok(v == imm_want, "0f a2 inside an instruction is left alone (mov gives 0x%x)", v);
	tap_ok(!memcmp(cpuid_text_data, "\x0f\xa2\x0f\xa2\x0f\xa2", 6),
	       "0f a2 in data between functions in .text is left alone");
}

/* ---- the program's own UD2 ---- */

static volatile sig_atomic_t ill_count;
static volatile uint64_t ill_rip;
static volatile int ill_code;

static void on_sigill(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	ill_count++;
	ill_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	ill_code = si->si_code;
	uc->uc_mcontext.gregs[REG_RIP] += 2;
}

static void test_own_ud2(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO };
	uint64_t site;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGILL, &sa, NULL);
	__asm__ volatile("lea 1f(%%rip), %0\n1:\tud2" : "=r"(site));
	tap_ok(ill_count == 1 && ill_rip == site && ill_code == ILL_ILLOPN,
	       "the program's own ud2 reaches its SIGILL handler once, at the ud2 "
	       "(%d times, rip 0x%llx, site 0x%llx, si_code %d)", (int)ill_count,
	       (unsigned long long)ill_rip, (unsigned long long)site, ill_code);
}

/* ---- the library ---- */

/* @path through dlopen, or dlmopen into a namespace of its own (@new_ns). */
static void test_library(const char *path, const char *round, bool new_ns)
{
	void *h = new_ns ? dlmopen(LM_ID_NEWLM, path, RTLD_NOW) : dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const uint32_t *ctor;
	const uint8_t *const *ctor_site;
	char where[64];
	cpuid_fn fn;

	if (!tap_ok(h != NULL, "%s: %s %s (%s)", round, new_ns ? "dlmopen" : "dlopen", path,
		    h ? "ok" : dlerror()))
		return;
	fn = (cpuid_fn)dlsym(h, "cpuid_lib");
	ctor = dlsym(h, "cpuid_lib_ctor");
	ctor_site = dlsym(h, "cpuid_lib_ctor_site");
	if (!tap_ok(fn && ctor && ctor_site, "%s: the library's symbols are there", round)) {
		dlclose(h);
		return;
	}
	tap_ok((ctor[0] & 3) == (sgx2 ? 3u : 1u),
	       "%s: CPUID in the library's constructor (inside dlopen) says SGX1%s (eax 0x%x)",
	       round, sgx2 ? " and SGX2" : "", ctor[0]);
	snprintf(where, sizeof(where), "%s constructor", round);
	check_site(where, *ctor_site);
	snprintf(where, sizeof(where), "%s library", round);
	check_leaves(where, fn);
	dlclose(h);
}

/* ---- threads and children ---- */

static _Atomic bool stop;
static _Atomic unsigned long spins;

/* CPUID leaf 0x12 over and over: the number of wrong answers. */
static void *spin_cpuid(void *arg)
{
	uintptr_t bad = 0;
	uint32_t r[4];

	(void)arg;
	while (!atomic_load(&stop)) {
		main_cpuid(0x12, 0, r);
		bad += (r[0] & 3) != (sgx2 ? 3u : 1u);
		atomic_fetch_add(&spins, 1);
	}
	return (void *)bad;
}

/* Other threads run CPUID while the loader rewrites and forgets a library. */
static void test_threads(const char *lib)
{
	pthread_t t[2];
	uintptr_t bad = 0;
	bool loads = true;

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, spin_cpuid, NULL);
	while (!atomic_load(&spins))
		sched_yield();
	for (int i = 0; i < 20; i++) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		uint32_t r[4];
		cpuid_fn fn = h ? (cpuid_fn)dlsym(h, "cpuid_lib") : NULL;

		loads &= fn && fn(0x12, 0, r) && (r[0] & 3) == (sgx2 ? 3u : 1u);
		if (h)
			dlclose(h);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		bad += (uintptr_t)ret;
	}
	tap_ok(loads && !bad, "20 dlopen/dlclose rounds while 2 threads run CPUID: every answer "
	       "is the platform's (%lu wrong of %lu)", (unsigned long)bad,
	       (unsigned long)atomic_load(&spins));
}

static void test_fork(void)
{
	int status = -1;
	pid_t pid = fork();

	if (!pid) {
		uint32_t r[4];

		main_cpuid(0x12, 0, r);
		_exit((r[0] & 3) == (sgx2 ? 3u : 1u) ? 0 : 3);
	}
	if (pid > 0 && waitpid(pid, &status, 0) != pid)
		status = -1;
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "a forked child's CPUID is answered too (status 0x%x)", status);
}

/*
 * fork while other threads run CPUID: a child forked while one of them was
 * in the middle of the handler's search of the site table must still be
 * able to load a library (whose new sites replace that table).
 */
static void test_fork_during_cpuid(const char *lib)
{
	int bad = 0, forks = 0, status = 0;
	pthread_t t[2];

	atomic_store(&stop, false);
	atomic_store(&spins, 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, spin_cpuid, NULL);
	while (!atomic_load(&spins))
		sched_yield();
	for (; forks < 300 && !bad; forks++) {
		pid_t pid = fork();

		if (!pid) {
			void *h;
			cpuid_fn fn;
			uint32_t r[4];

			h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
			fn = h ? (cpuid_fn)dlsym(h, "cpuid_lib") : NULL;
			_exit(fn && fn(0x12, 0, r) && (r[0] & 3) == (sgx2 ? 3u : 1u) ? 0 : 3);
		}
		/* A hang is the failure (in the loader's trap every signal is blocked). */
		for (int ms = 0; pid > 0 && ms < 5000; ms++) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				break;
			if (ms == 4999) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				status = -1;
			}
			usleep(1000);
		}
		bad = pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	tap_ok(!bad, "%d forks while 2 threads run CPUID: each child loads a library and its "
	       "CPUID answers (last status 0x%x)", forks, status);
}

/* CPUID never traps on hardware: blocking the signals it traps with here changes nothing. */
static void test_blocked(void)
{
	sigset_t set, old;
	uint32_t r[4];

	sigemptyset(&set);
	sigaddset(&set, SIGILL);
	sigaddset(&set, SIGSEGV);
	sigprocmask(SIG_BLOCK, &set, &old);
	main_cpuid(0x12, 0, r);
	sigprocmask(SIG_SETMASK, &old, NULL);
	tap_ok((r[0] & 3) == (sgx2 ? 3u : 1u),
	       "with SIGILL and SIGSEGV blocked, CPUID leaf 0x12 still answers (eax 0x%x)", r[0]);
}

/* Can this CPU fault on CPUID?  @on: ARCH_GET_CPUID's answer (0: faulting is on). */
static bool cpu_has_faulting(unsigned long on)
{
	if (on == 0)
		return true;
	if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0)
		return false;
	syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	return true;
}

int main(int argc, char **argv)
{
	const char *mode = getenv("SOFTSGX_CPUID");
	struct encl_op op;
	unsigned long on = 0;

	ht_start(argc, argv, &e);
	if (argc < 6 || !mode ||
	    (strcmp(mode, "fault") && strcmp(mode, "rewrite") && strcmp(mode, "auto"))) {
		printf("Bail out! usage: SOFTSGX_CPUID=fault|rewrite|auto %s ENCL SIG LIB EPC "
		       "SGX2\n", argv[0]);
		return 1;
	}
	epc_bytes = ht_arg(argc, argv, 4, 0);
	sgx2 = ht_arg(argc, argv, 5, 1) != 0;
	read_cpuinfo();

	/* ARCH_GET_CPUID: 1 while CPUID runs as usual, 0 under faulting. */
	on = (unsigned long)syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0);
	if (!strcmp(mode, "fault") && !cpu_has_faulting(on)) {
		printf("1..0 # SKIP this CPU has no CPUID faulting\n");
		return 0;
	}
	/* auto: faulting where the CPU has it. */
	rewrite = !strcmp(mode, "rewrite") || (!strcmp(mode, "auto") && !cpu_has_faulting(on));
	tap_ok(on == (rewrite ? 1 : 0), "mode %s: CPUID faulting is %s (ARCH_GET_CPUID %lu)",
	       mode, rewrite ? "off" : "on", on);

	op = ht_op(ENCL_OP_RETURN, 42, 0, 0);
	tap_ok(ht_call(e.tcs[0], &op) && op.ret == (42 ^ ENCL_RETURN_MAGIC),
	       "an enclave call works in this mode");
	check_leaves("main program", main_cpuid);
	test_not_cpuid();
	test_library(argv[3], "first dlopen", false);
	test_own_ud2();
	/* With the program's SIGILL handler in place, and the library loaded anew. */
	check_leaves("main program, own SIGILL handler", main_cpuid);
	test_library(argv[3], "second dlopen", false);
	/* ASan's runtime cannot be loaded into a second namespace. */
	if (getenv("SOFTSGX_ASAN_BUILD"))
		tap_skip("an ASan build", "dlmopen: the library in a namespace of its own");
	else
		test_library(argv[3], "dlmopen", true);
	test_blocked();
	test_threads(argv[3]);
	test_fork();
	test_fork_during_cpuid(argv[3]);
	tap_ok(ill_count == 1, "the SIGILL handler saw only the program's ud2 (%d)",
	       (int)ill_count);
	encl_unload(&e);
	return tap_done();
}
