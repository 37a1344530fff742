// SPDX-License-Identifier: MIT
/* softsgx exec: run an unmodified program with the preload shim. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"
#include "size_arg.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

const char exec_usage[] =
	"Usage: softsgx exec [OPTIONS] [--] PROGRAM [ARGS...]\n"
	"\n"
	"Run PROGRAM, unmodified, on an emulated SGX platform.  PROGRAM sees\n"
	"/dev/sgx_enclave, /dev/sgx_provision and /dev/sgx_vepc with Linux's ioctls,\n"
	"a vDSO that exports __vdso_sgx_enter_enclave, and CPUID leaf 0x12 (and leaf\n"
	"7's SGX bits) of the emulated platform when it runs CPUID.  Its enclave code\n"
	"runs natively; every ENCLU, page fault, eviction and SGX2 flow goes through\n"
	"the CPU model and the user-space driver in its own process.  Programs it\n"
	"starts inherit the platform settings.\n"
	"\n"
	"Options:\n"
	"  --epc SIZE       EPC size, bytes with an optional K, M or G suffix,\n"
	"                   a multiple of 4 KiB from 64K to 64G (default 128M)\n"
	"  --sections N     split the EPC into N sections, 1 to 8 (default 1)\n"
	"  --no-sgx2        a platform without SGX2 (no EAUG, EMODPR, EMODT, EACCEPT)\n"
	"  --cgroup PATH:LIMIT\n"
	"                   an EPC cgroup (the misc controller's sgx_epc): PATH like\n"
	"                   a/b (parents not given are made without a limit), LIMIT\n"
	"                   its misc.max, bytes with an optional K, M or G suffix, or\n"
	"                   max.  Repeatable; PROGRAM's EPC is charged to the last one\n"
	"  --cpuid MODE     how PROGRAM's own CPUID instructions get the emulated\n"
	"                   platform's answers: fault (CPUID faulting), rewrite (the\n"
	"                   CPUID instructions of its loaded code become UD2, which\n"
	"                   traps), auto (fault where the CPU has it, else rewrite;\n"
	"                   the default) or off (the real CPU's answers)\n"
	"  --cgroup-policy v5|v17\n"
	"                   the revision of the EPC cgroup series the cgroups follow:\n"
	"                   v17 (default; no OOM killer, limits enforced when pages\n"
	"                   are charged) or v5 (a lowered misc.max reclaims, then\n"
	"                   OOM-kills enclaves)\n"
	"  --no-fast-enclu  leave the enclaves' code as it was measured: every ENCLU\n"
	"                   inside an enclave traps.  By default the shim rewrites\n"
	"                   each \"mov $leaf, %eax ... enclu\" it finds in an\n"
	"                   enclave's code (after measurement, before EINIT) into a\n"
	"                   jump to a stub that performs the leaf without a trap;\n"
	"                   an enclave that reads its own code sees the jump there\n"
	"                   (a debugger's EDBGRD sees the original)\n"
	"  --fork MODE      what a child that PROGRAM forks gets of its enclaves:\n"
	"                   share (the default, as on Linux: the child's address\n"
	"                   space joins each inherited enclave, which both processes\n"
	"                   can enter, and the family draws on one EPC and one\n"
	"                   driver) or detach (the child's enclave ranges read as\n"
	"                   all ones and it cannot enter them; a device it opens\n"
	"                   starts a platform of its own)\n"
	"  --stats          print the driver's counters on stderr when PROGRAM exits,\n"
	"                   and each cgroup's misc.current, max, peak and events\n"
	"                   (with --fork share, the last process of the family to\n"
	"                   exit prints them)\n"
	"  -h, --help       this text\n"
	"      --version    the version\n"
	"\n"
	"Environment (set by the options above, or directly):\n"
	"  SOFTSGX_EPC, SOFTSGX_SECTIONS, SOFTSGX_NO_SGX2=1, SOFTSGX_STATS=1\n"
	"  SOFTSGX_CGROUPS  the --cgroup values joined by commas, e.g. a/b:1M,c:max\n"
	"  SOFTSGX_CGROUP_POLICY=v5|v17\n"
	"  SOFTSGX_CGROUP_CONTROL=FILE\n"
	"                   a named pipe the driver reads PATH:LIMIT lines from, to\n"
	"                   change a listed cgroup's misc.max while PROGRAM runs (a\n"
	"                   limit below the usage reclaims, then OOM-kills, under v5)\n"
	"  SOFTSGX_CPUID=MODE  the --cpuid value (0 is off)\n"
	"  SOFTSGX_FAST_ENCLU=0  as --no-fast-enclu\n"
	"  SOFTSGX_FORK=share|detach  the --fork value\n"
	"  SOFTSGX_DEBUG=1  one line per exception the shim reports, one per scan\n"
	"                   for CPUID instructions to rewrite, and one per enclave\n"
	"                   whose ENCLU sites were rewritten\n"
	"  SOFTSGX_YOUNG=off  every enclave page is old to the reclaimer (a benchmark\n"
	"                   and diagnostic knob; see \"Accessed bits\" in the docs)\n"
	"  LD_PRELOAD       gets libsoftsgx-preload.so prepended\n"
	"\n"
	"Requirements: userfaultfd (the kernel must allow UFFD_USER_MODE_ONLY for\n"
	"unprivileged users).  PROGRAM must be a dynamically linked x86-64 program:\n"
	"the shim is a preload library, which a statically linked program (static\n"
	"or static-pie: no program interpreter) never loads.  Such a PROGRAM is\n"
	"refused before it starts, with one line on stderr and exit status 127.\n"
	"\n"
	"Exit status: PROGRAM's; 2 on a usage error; 1 when the platform cannot be\n"
	"set up; 127 when PROGRAM cannot be run.\n";

/* The shim next to this executable (build tree), else where it was installed. */
static int find_preload(char *out, size_t n)
{
	char self[PATH_MAX - 64];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len > 0) {
		char *slash;

		self[len] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			if ((size_t)snprintf(out, n, "%s/libsoftsgx-preload.so", self) >= n)
				return -1;
			if (!access(out, R_OK))
				return 0;
		}
	}
	snprintf(out, n, "%s", SOFTSGX_PRELOAD_INSTALLED);
	return access(out, R_OK) ? -1 : 0;
}

/*
 * --cgroup PATH:LIMIT, checked here so that a mistake is a usage error
 * before PROGRAM starts; the shim parses SOFTSGX_CGROUPS again the same way.
 */
static bool cgroup_arg_ok(const char *arg)
{
	const char *colon = strchr(arg, ':'), *name = arg;
	uint64_t v;

	if (!colon || colon - arg >= 256)
		return false;
	for (const char *p = arg; p <= colon; p++) {
		size_t n = (size_t)(p - name);

		if (p < colon && *p != '/') {
			if (*p <= ' ' || *p == ',' || *p == 0x7f)
				return false;
			continue;
		}
		if (!n || n > 63 || !strncmp(name, ".", n) || !strncmp(name, "..", n))
			return false;
		name = p + 1;
	}
	return !strcmp(colon + 1, "max") ||
	       (colon[1] >= '0' && colon[1] <= '9' && !softsgx_parse_size(colon + 1, &v));
}

/*
 * The file execvp() runs for @prog into @out: a name with a '/' as it is,
 * else the first executable regular file of that name along $PATH.
 */
static bool find_program(const char *prog, char *out, size_t n)
{
	const char *path = getenv("PATH"), *dir, *next;
	struct stat st;

	if (strchr(prog, '/')) {
		snprintf(out, n, "%s", prog);
		return true;
	}
	for (dir = path ? path : "/bin:/usr/bin"; dir; dir = next) {
		int len = (int)strcspn(dir, ":");

		next = dir[len] ? dir + len + 1 : NULL;

		/* An empty entry is the working directory. */
		if ((size_t)snprintf(out, n, "%.*s%s%s", len, dir, len ? "/" : "", prog) >= n)
			continue;
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
			return true;
	}
	return false;
}

/*
 * Why the shim could never be loaded into the ELF program @path (NULL: it
 * can, or @path is no ELF file, which execvp() then deals with).
 * LD_PRELOAD works through the dynamic loader: a program without a
 * PT_INTERP (static, or static-pie) never runs it, and the loader of
 * another class or machine would skip the x86-64 shim and run the
 * program without SGX.
 */
static const char *unreachable(const char *path)
{
	const char *why = NULL;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG))
		goto out;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) {
		why = "not an x86-64 program; the preload shim cannot be loaded into it";
		goto out;
	}
	if ((eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || eh.e_phentsize < sizeof(ph))
		goto out;
	why = "statically linked (no program interpreter); LD_PRELOAD cannot reach it, so the "
	      "preload shim cannot run it";
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph)) {
			why = NULL; /* a broken file: execvp() says so */
			break;
		}
		if (ph.p_type == PT_INTERP) {
			why = NULL;
			break;
		}
	}
out:
	close(fd);
	return why;
}

/*
 * The option at argv[*i] takes one of @ok (NULL-terminated) as its value:
 * put it in @env and step over it; or say "OPTION wants A, B or C" and
 * return -1.
 */
static int choice_arg(int argc, char **argv, int *i, const char *env, const char *const *ok)
{
	const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;

	for (int k = 0; v && ok[k]; k++) {
		if (!strcmp(v, ok[k])) {
			setenv(env, v, 1);
			(*i)++;
			return 0;
		}
	}
	fprintf(stderr, "softsgx exec: %s wants", argv[*i]);
	for (int k = 0; ok[k]; k++)
		fprintf(stderr, "%s %s", !k ? "" : ok[k + 1] ? "," : " or", ok[k]);
	fprintf(stderr, "\n");
	return -1;
}

int cmd_exec(int argc, char **argv)
{
	char preload[PATH_MAX], buf[PATH_MAX * 2 + 2], num[32];
	const char *old, *why;
	int i, fd;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(exec_usage, stdout);
			return 0;
		}
		if (!strcmp(a, "--version")) {
			printf("softsgx %s\n", SOFTSGX_VERSION);
			return 0;
		}
		if (!strcmp(a, "--epc") || !strcmp(a, "--sections")) {
			uint64_t v;

			if (i + 1 >= argc) {
				fprintf(stderr, "softsgx exec: %s needs a value\n", a);
				return 2;
			}
			if (!strcmp(a, "--epc")) {
				if (softsgx_parse_size(argv[i + 1], &v) || v < (64ULL << 10) ||
				    v > (64ULL << 30) || (v & 4095)) {
					fprintf(stderr,
						"softsgx exec: --epc %s: want a multiple of 4K "
						"from 64K to 64G\n", argv[i + 1]);
					return 2;
				}
				snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
				setenv("SOFTSGX_EPC", num, 1);
			} else {
				if (softsgx_parse_size(argv[i + 1], &v) || v < 1 || v > 8) {
					fprintf(stderr,
						"softsgx exec: --sections %s: want 1 to 8\n",
						argv[i + 1]);
					return 2;
				}
				snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
				setenv("SOFTSGX_SECTIONS", num, 1);
			}
			i++;
		} else if (!strcmp(a, "--cgroup")) {
			const char *prev = getenv("SOFTSGX_CGROUPS");
			char *list;

			if (i + 1 >= argc) {
				fprintf(stderr, "softsgx exec: %s needs a value\n", a);
				return 2;
			}
			if (!cgroup_arg_ok(argv[i + 1])) {
				fprintf(stderr,
					"softsgx exec: --cgroup %s: want PATH:LIMIT, PATH like a/b "
					"(names of 1 to 63 bytes, no . or ..), LIMIT bytes with K, M "
					"or G, or max\n", argv[i + 1]);
				return 2;
			}
			/* After the options given before, or the environment's list. */
			if (asprintf(&list, "%s%s%s", prev && *prev ? prev : "",
				     prev && *prev ? "," : "", argv[i + 1]) < 0) {
				fprintf(stderr, "softsgx exec: out of memory\n");
				return 1;
			}
			setenv("SOFTSGX_CGROUPS", list, 1);
			free(list);
			i++;
		} else if (!strcmp(a, "--cpuid")) {
			static const char *const ok[] = { "auto", "fault", "rewrite", "off", NULL };

			if (choice_arg(argc, argv, &i, "SOFTSGX_CPUID", ok))
				return 2;
		} else if (!strcmp(a, "--cgroup-policy")) {
			static const char *const ok[] = { "v5", "v17", NULL };

			if (choice_arg(argc, argv, &i, "SOFTSGX_CGROUP_POLICY", ok))
				return 2;
		} else if (!strcmp(a, "--fork")) {
			static const char *const ok[] = { "share", "detach", NULL };

			if (choice_arg(argc, argv, &i, "SOFTSGX_FORK", ok))
				return 2;
		} else if (!strcmp(a, "--no-fast-enclu")) {
			setenv("SOFTSGX_FAST_ENCLU", "0", 1);
		} else if (!strcmp(a, "--no-sgx2")) {
			setenv("SOFTSGX_NO_SGX2", "1", 1);
		} else if (!strcmp(a, "--stats")) {
			setenv("SOFTSGX_STATS", "1", 1);
		} else {
			fprintf(stderr, "softsgx exec: unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "softsgx exec: no program given (see --help)\n");
		return 2;
	}
	if (find_program(argv[i], buf, sizeof(buf)) && (why = unreachable(buf))) {
		fprintf(stderr, "softsgx exec: %s: %s\n", argv[i], why);
		return 127;
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "softsgx exec: this kernel refuses userfaultfd (%s)\n",
			strerror(errno));
		return 1;
	}
	close(fd);
	if (find_preload(preload, sizeof(preload))) {
		fprintf(stderr, "softsgx exec: cannot find libsoftsgx-preload.so (looked in %s)\n",
			preload);
		return 1;
	}
	old = getenv("LD_PRELOAD");
	snprintf(buf, sizeof(buf), "%s%s%s", preload, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", buf, 1);
	execvp(argv[i], argv + i);
	fprintf(stderr, "softsgx exec: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
