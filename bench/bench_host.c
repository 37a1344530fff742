// SPDX-License-Identifier: MIT
/*
 * Host-layer benchmark: what running real enclave code under `softsgx exec`
 * costs, against the host operations it cannot do without, each measured in
 * the same run and sampled in pairs with the work it judges (bench_stats.h).
 *
 *   enter  EENTER -> EEXIT round trip through __vdso_sgx_enter_enclave, an
 *          op that returns at once, with the shim's trap-free ENCLU, vs the
 *          same round trip in a process where ENCLU traps (the trap-path
 *          server below)                                     (target <= 0.1)
 *          and against 300 ns flat                           (target <= 1.0);
 *          for context, the trap path's round trip in bare ENCLU traps (a
 *          page holding ENCLU executed outside any enclave, whose SIGILL or
 *          SIGSEGV handler only steps RIP over it; at least 1), and one such
 *          trap in page-fault signals
 *   eaccept  a leaf inside one entry: EACCEPT of pages whose permissions
 *          were just restricted (EMODPR to the same RW, and the pages read
 *          again, untimed), 64 in one entry, per page, vs the same in the
 *          trap-path server
 *                                                          (for information)
 *   eaug   EACCEPT of a never-added page from inside, so that its first
 *          touch EAUGs it, per page (64 pages per entry), vs a userfaultfd
 *          MINOR fault on a memfd page resolved by UFFDIO_CONTINUE from the
 *          SIGBUS handler (UFFD_USER_MODE_ONLY, UFFD_FEATURE_SIGBUS, as the
 *          shim registers enclave mappings)                   (target <= 1.5)
 *   eaug-touch  the same, then a write to every accepted page in a second
 *          entry, as a program uses what it accepts; per page, vs the same
 *          floor                                              (target <= 2.0)
 *   eldu   reading a page that was evicted (ELDU on the fault), per page,
 *          with the big test enclave many times the EPC, vs that uffd fault
 *          plus an AES-128-GCM decryption of 4 KiB into the page: with free
 *          EPC waiting (slices of 16 pages after a pause in which ksgxd
 *          evicts ahead), and as eldu-thrash back to back, every reload
 *          waiting for an eviction                            (target <= 1.5)
 *   eldu-net  the reload fault alone: eldu's slices, less the same slice
 *          read again at once, its pages resident, so neither the
 *          enclave's reading and checking of each 4 KiB nor the slice's
 *          entry and exit is counted (the floor reads one byte a page)
 *                                                             (target <= 1.3)
 *   reclaim  per page, on the real host (real zaps, young tests and kicks:
 *          a second thread spins inside the enclave, and, for comparison,
 *          none does): ksgxd's CPU time per EWB, and the reading thread's
 *          CPU time per ELDU, with the heap read once in slices after
 *          pauses (as eldu), and one zap's madvise alone; beside bench_driver's
 *          simulated-host figures when run_host.sh passes them on
 *          (BENCH_SIM_RECLAIM_NS, BENCH_SIM_RELOAD_NS)      (for information)
 *   young  refaults of a hot set read again and again between reads of a
 *          cold stream larger than the EPC, with the shim's stand-in for the
 *          accessed bit and with every page old (SOFTSGX_YOUNG=off), for
 *          three hot-set sizes                             (for information)
 *
 * The floors cannot be taken in this process: under the shim every SIGSEGV,
 * SIGILL and SIGBUS goes through its handler first (and an ENCLU outside an
 * enclave would be performed by the CPU model).  So the program re-executes
 * itself without the shim (LD_PRELOAD stripped of libsoftsgx-preload.so) as
 * a floor server, and the two processes take turns over a pair of pipes:
 * each round asks the server for one floor sample, then takes the work's
 * sample here, so a floor and its work are timed a few milliseconds apart
 * and never at the same time (the pipe round trip is outside both timings).
 * The trap path is a second server, this program again under the shim with
 * SOFTSGX_FAST_ENCLU=0, which loads the same enclave and times the work's
 * own code there.  It checks its environment when it starts, and its
 * counters (SOFTSGX_STATS=1, on a memfd as its stderr) are read when it
 * quits: a leaf that took the fast path there fails the run, so a
 * misconfigured trap path cannot pass for one.
 * It reports; it never fails on timing.
 *
 * reclaim and young need the driver's counters, which the shim prints only
 * at exit: their runs are child processes (see run_child()).
 *
 * Usage: softsgx exec [--epc SIZE] -- bench_host ENCL.sgxs ENCL.sig PARTS [ROUNDS]
 *   PARTS: a comma-separated list of enter, eaccept, eaug, eaug-touch, eldu,
 *   eldu-net, eldu-thrash, reclaim, young (the eldu parts, reclaim and young
 *   want the big test enclave and a small EPC, e.g. --epc 1M; enter, eaccept
 *   and eaug a roomy EPC, so that no eviction runs while they are timed).
 *   bench/run_host.sh runs it.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "bench_stats.h"
#include "host_test.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define PG 4096UL
#define ACCEPT_NEW (ENCL_SI_REG | ENCL_SI_PENDING | ENCL_SI_R | ENCL_SI_W)
#define ACCEPT_TRIM (ENCL_SI_TRIM | ENCL_SI_MODIFIED)
#define PT_TRIM (ENCL_SI_TRIM >> 8)
#define ACCEPT_RESTRICTED (ENCL_SI_REG | ENCL_SI_PR | ENCL_SI_R | ENCL_SI_W)

/* Samples per round of each part. */
#define ENTER_ITERS 2000UL
#define EAUG_PAGES 64UL
#define ELDU_PAGES 64UL
/* Fewer than the free pages ksgxd keeps (SGX_NR_HIGH_PAGES) between chunks. */
#define ELDU_CHUNK 16UL
#define ELDU_THRASH_PAGES 128UL
/* The whole heap of the small test enclave. */
#define EACCEPT_PAGES 64UL
/* The floor server's memfd: enough pages for the largest sample. */
#define FLOOR_PAGES 256UL

/* The trap-path server answers the last two; the bare floor server the others. */
enum floor_kind {
	FLOOR_TRAP, FLOOR_PF, FLOOR_UFFD, FLOOR_UFFD_GCM, FLOOR_ECALL_TRAP, FLOOR_EACCEPT_TRAP,
	FLOOR_QUIT
};

struct floor_req {
	int kind;
	unsigned long iters;
};

/* ------------------------------------------------------------------ */
/* The floor server: runs without the shim, answers one sample per request. */

static int srv_uffd = -1;
static uint8_t *srv_area;      /* registered with userfaultfd (MINOR) */
static uint8_t *srv_alias;     /* the same memfd, not registered */
static volatile unsigned long srv_traps;
static EVP_CIPHER_CTX *srv_gcm;
static uint8_t srv_ct[PG], srv_tag[16], srv_aad[128];

static void srv_trap_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 3;
	srv_traps++;
}

/* The shim's path for a page that is in the window but not mapped yet. */
static void srv_bus_handler(int sig, siginfo_t *si, void *ucv)
{
	struct uffdio_continue c = {
		.range = { .start = (unsigned long)si->si_addr & ~(PG - 1), .len = PG },
	};

	(void)sig;
	(void)ucv;
	if (ioctl(srv_uffd, UFFDIO_CONTINUE, &c) && errno != EEXIST)
		_exit(3);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_host: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void srv_setup(void)
{
	struct sigaction sa = { .sa_sigaction = srv_trap_handler, .sa_flags = SA_SIGINFO };
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MINOR_SHMEM };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MINOR };
	uint8_t key[16] = { 1, 2, 3 }, iv[12] = { 0 }, pt[PG];
	int fd, l;

	if (sigaction(SIGILL, &sa, NULL) || sigaction(SIGSEGV, &sa, NULL))
		die("sigaction");
	sa.sa_sigaction = srv_bus_handler;
	if (sigaction(SIGBUS, &sa, NULL))
		die("sigaction");

	srv_uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (srv_uffd < 0 || ioctl(srv_uffd, UFFDIO_API, &api))
		die("userfaultfd");
	fd = memfd_create("bench-floor", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)(FLOOR_PAGES * PG)))
		die("memfd");
	srv_area = mmap(NULL, FLOOR_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	srv_alias = mmap(NULL, FLOOR_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (srv_area == MAP_FAILED || srv_alias == MAP_FAILED)
		die("mmap");
	/* In the page cache, so that a first touch is a MINOR fault. */
	memset(srv_alias, 0x5a, FLOOR_PAGES * PG);
	reg.range.start = (unsigned long)srv_area;
	reg.range.len = FLOOR_PAGES * PG;
	if (ioctl(srv_uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");

	/* One page encrypted once; every sample decrypts (and checks) it. */
	memset(pt, 0xa5, sizeof(pt));
	srv_gcm = EVP_CIPHER_CTX_new();
	if (!srv_gcm || !EVP_EncryptInit_ex(srv_gcm, EVP_aes_128_gcm(), NULL, key, iv) ||
	    !EVP_EncryptUpdate(srv_gcm, NULL, &l, srv_aad, sizeof(srv_aad)) ||
	    !EVP_EncryptUpdate(srv_gcm, srv_ct, &l, pt, sizeof(pt)) ||
	    !EVP_EncryptFinal_ex(srv_gcm, srv_ct, &l) ||
	    !EVP_CIPHER_CTX_ctrl(srv_gcm, EVP_CTRL_GCM_GET_TAG, 16, srv_tag) ||
	    !EVP_DecryptInit_ex(srv_gcm, EVP_aes_128_gcm(), NULL, key, iv)) {
		fprintf(stderr, "bench_host: AES-GCM setup failed\n");
		exit(1);
	}
}

static bool srv_decrypt(uint8_t *dst)
{
	uint8_t iv[12] = { 0 };
	int l;

	return EVP_DecryptInit_ex(srv_gcm, NULL, NULL, NULL, iv) &&
	       EVP_DecryptUpdate(srv_gcm, NULL, &l, srv_aad, sizeof(srv_aad)) &&
	       EVP_DecryptUpdate(srv_gcm, dst, &l, srv_ct, sizeof(srv_ct)) &&
	       EVP_CIPHER_CTX_ctrl(srv_gcm, EVP_CTRL_GCM_SET_TAG, 16, srv_tag) &&
	       EVP_DecryptFinal_ex(srv_gcm, dst + l, &l) > 0;
}

/*
 * @n calls of a page holding one 3-byte instruction and RET whose signal
 * handler steps over it: ENCLU (#UD, or #GP where SGX is hidden), or, for
 * comparison, a load from a PROT_NONE page (#PF).
 */
static double srv_trap(unsigned long n, bool pf)
{
	static void (*code[2])(const void *);
	static const uint8_t insn[2][4] = {
		{ 0x0f, 0x01, 0xd7, 0xc3 },	/* enclu; ret */
		{ 0x8b, 0x47, 0x00, 0xc3 },	/* mov 0(%rdi), %eax; ret */
	};
	static void *none;
	unsigned long before = srv_traps;
	double t;

	if (!code[pf]) {
		void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || none == MAP_FAILED)
			die("mmap");
		memcpy(p, insn[pf], sizeof(insn[pf]));
		if (mprotect(p, PG, PROT_READ | PROT_EXEC))
			die("mprotect");
		code[pf] = (void (*)(const void *))p;
	}
	t = bench_now();
	for (unsigned long i = 0; i < n; i++)
		code[pf](none);
	t = (bench_now() - t) / n;
	if (srv_traps - before != n) {
		fprintf(stderr, "bench_host: the floor's instruction did not trap\n");
		exit(1);
	}
	return t;
}

static double srv_fault(unsigned long n, bool gcm)
{
	unsigned long sum = 0;
	double t;

	if (n > FLOOR_PAGES)
		n = FLOOR_PAGES;
	t = bench_now();
	for (unsigned long i = 0; i < n; i++) {
		sum += *(volatile uint8_t *)(srv_area + i * PG);
		if (gcm && !srv_decrypt(srv_area + i * PG)) {
			fprintf(stderr, "bench_host: AES-GCM decryption failed\n");
			exit(1);
		}
	}
	t = (bench_now() - t) / n;
	if (sum != n * 0x5a) {
		fprintf(stderr, "bench_host: the floor read the wrong bytes\n");
		exit(1);
	}
	/* Unmapped again (the pages stay in the memfd): the next touch faults. */
	if (madvise(srv_area, n * PG, MADV_DONTNEED))
		die("madvise");
	if (gcm)
		memset(srv_alias, 0x5a, n * PG);
	return t;
}

static bool shim_loaded(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "libsoftsgx-preload") != NULL;
	fclose(f);
	return found;
}

static int floor_server(int rfd, int wfd)
{
	struct floor_req q;
	double t = shim_loaded() ? -1 : 0;

	/* The first answer says whether this process really runs without the shim. */
	if (write(wfd, &t, sizeof(t)) != sizeof(t) || t < 0)
		return 1;
	srv_setup();
	while (read(rfd, &q, sizeof(q)) == sizeof(q) && q.kind != FLOOR_QUIT) {
		if (q.kind == FLOOR_TRAP || q.kind == FLOOR_PF)
			t = srv_trap(q.iters, q.kind == FLOOR_PF);
		else
			t = srv_fault(q.iters, q.kind == FLOOR_UFFD_GCM);
		if (write(wfd, &t, sizeof(t)) != sizeof(t))
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The work side: this process, under the shim. */

/* A server process: its pipes, and for the trap path its stderr (a memfd). */
struct server {
	int req, ans, log;
	pid_t pid;
	const char *name;
};

static struct server bare_srv = { -1, -1, -1, 0, "the floor server" };
static struct server trap_srv = { -1, -1, -1, 0, "the trap-path server" };

extern char **environ;

/* Zeroed room for the environment's @n entries and @extra more (and the NULL). */
static char **env_alloc(size_t extra, size_t *n)
{
	char **env;

	for (*n = 0; environ[*n]; (*n)++)
		;
	env = calloc(*n + extra + 1, sizeof(*env));
	if (!env)
		die("calloc");
	return env;
}

/*
 * The environment with the NULL-terminated @set in place of the same
 * variables' own values: "NAME=value" sets NAME, "NAME" drops it.
 */
static char **env_with(const char *const set[])
{
	size_t n, k = 0, m = 0;
	char **env;

	while (set[m])
		m++;
	env = env_alloc(m, &n);
	for (size_t i = 0; i < n; i++) {
		bool keep = true;

		for (size_t j = 0; j < m && keep; j++) {
			size_t l = strcspn(set[j], "=");

			keep = strncmp(environ[i], set[j], l) || environ[i][l] != '=';
		}
		if (keep)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		if (strchr(set[j], '='))
			env[k++] = (char *)set[j];
	return env;
}

/* The environment minus the shim: LD_PRELOAD without it, no SOFTSGX_*. */
static char **env_without_shim(void)
{
	size_t n, k = 0;
	char **env = env_alloc(0, &n);

	for (size_t i = 0; i < n; i++) {
		const char *v = environ[i];

		if (!strncmp(v, "SOFTSGX_", 8))
			continue;
		if (!strncmp(v, "LD_PRELOAD=", 11)) {
			char *out = calloc(strlen(v) + 1, 1), *copy = strdup(v + 11), *save, *tok;

			if (!out || !copy)
				die("calloc");
			strcpy(out, "LD_PRELOAD=");
			for (tok = strtok_r(copy, ": ", &save); tok; tok = strtok_r(NULL, ": ", &save)) {
				if (strstr(tok, "libsoftsgx-preload"))
					continue;
				if (out[11])
					strcat(out, ":");
				strcat(out, tok);
			}
			free(copy);
			if (!out[11]) {
				free(out);
				continue;
			}
			v = out;
		}
		env[k++] = (char *)v;
	}
	return env;
}

/* Its log (the trap-path server's stderr) on our stderr, when it failed. */
static void server_dump(const struct server *sv)
{
	char buf[8192];
	ssize_t n;

	if (sv->log < 0)
		return;
	n = pread(sv->log, buf, sizeof(buf) - 1, 0);
	if (n > 0)
		fprintf(stderr, "bench_host: %s said:\n%.*s", sv->name, (int)n, buf);
}

/*
 * This program again as @mode (--floor or --trap-floor) with @env, talking
 * over a pair of pipes; @sgxs and @sig (NULL for the floor server) name the
 * enclave it loads.  Its first answer says whether it runs as it should.
 */
static void start_server(struct server *sv, char *mode, char **env, char *sgxs, char *sig)
{
	int req[2], ans[2];
	double hello;

	if (pipe2(req, O_CLOEXEC) || pipe2(ans, O_CLOEXEC))
		die("pipe");
	if (sgxs) {
		sv->log = memfd_create("bench-trap-log", MFD_CLOEXEC);
		if (sv->log < 0)
			die("memfd_create");
	}
	fflush(stdout);
	sv->pid = fork();
	if (sv->pid < 0)
		die("fork");
	if (!sv->pid) {
		char rfd[16], wfd[16];
		char *argv[] = { "bench_host", mode, rfd, wfd, sgxs, sig, NULL };

		fcntl(req[0], F_SETFD, 0);
		fcntl(ans[1], F_SETFD, 0);
		if (sv->log >= 0)
			dup2(sv->log, STDERR_FILENO);
		snprintf(rfd, sizeof(rfd), "%d", req[0]);
		snprintf(wfd, sizeof(wfd), "%d", ans[1]);
		execve("/proc/self/exe", argv, env);
		_exit(127);
	}
	free(env);
	close(req[0]);
	close(ans[1]);
	sv->req = req[1];
	sv->ans = ans[0];
	if (read(sv->ans, &hello, sizeof(hello)) != sizeof(hello) || hello < 0) {
		fprintf(stderr, "bench_host: %s did not start %s\n", sv->name,
			sgxs ? "under the shim with SOFTSGX_FAST_ENCLU=0 and the enclave loaded" :
			"without the shim");
		server_dump(sv);
		exit(1);
	}
}

/*
 * The trap path's counters, printed by its shim as it exited: they must be
 * there (a shim ran, with SOFTSGX_STATS=1) and show no leaf that took the
 * fast path (with SOFTSGX_FAST_ENCLU=0 the shim prints no such line at all).
 */
static void trap_srv_check(void)
{
	static char buf[65536];
	const char *fast;
	ssize_t n = pread(trap_srv.log, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = 0;
	fast = strstr(buf, "leaves fast ");
	if (!strstr(buf, "softsgx: EPC pages total") || (fast && strtoull(fast + 12, NULL, 10))) {
		fprintf(stderr, "bench_host: the trap-path server's ENCLU leaves did not all trap: "
			"its figures are not the trap path's\n");
		server_dump(&trap_srv);
		exit(1);
	}
	printf("the trap-path server's counters at exit: no ENCLU leaf took the fast path\n");
}

static void stop_server(struct server *sv)
{
	struct floor_req q = { .kind = FLOOR_QUIT };
	int st;

	if (sv->pid <= 0)
		return;
	if (write(sv->req, &q, sizeof(q)) != sizeof(q))
		die("write");
	if (waitpid(sv->pid, &st, 0) != sv->pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "bench_host: %s failed\n", sv->name);
		server_dump(sv);
		exit(1);
	}
	if (sv == &trap_srv)
		trap_srv_check();
}

/* A floor sample from the server of its kind (bench_case.run). */
static double remote_floor(void *ctx, unsigned long iters)
{
	struct floor_req q = { .kind = (int)(intptr_t)ctx, .iters = iters };
	struct server *sv = q.kind == FLOOR_ECALL_TRAP || q.kind == FLOOR_EACCEPT_TRAP ?
			    &trap_srv : &bare_srv;
	double t;

	if (write(sv->req, &q, sizeof(q)) != sizeof(q) ||
	    read(sv->ans, &t, sizeof(t)) != sizeof(t)) {
		fprintf(stderr, "bench_host: %s is gone\n", sv->name);
		server_dump(sv);
		exit(1);
	}
	return t;
}

static struct encl e;

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_host: %s failed\n", what);
		exit(1);
	}
}

static double work_enter(void *ctx, unsigned long iters)
{
	struct encl_op op = ht_op(ENCL_OP_RETURN, 7, 0, 0);
	struct sgx_enclave_run run;
	unsigned long bad = 0;
	double t;

	(void)ctx;
	t = bench_now();
	for (unsigned long i = 0; i < iters; i++)
		bad += encl_enter(e.tcs[0], &op, &run, NULL, 0) != 0 || run.function != ENCL_EEXIT;
	t = (bench_now() - t) / iters;
	check(!bad && op.ret == (7 ^ ENCL_RETURN_MAGIC), "an EENTER round trip");
	return t;
}

/*
 * EACCEPT @iters never-added pages in one entry (and with @touch, write
 * them all in a second one: a program uses the pages it accepts);
 * trimmed and removed after.
 */
static double eaug_sample(unsigned long iters, bool touch)
{
	uint64_t start = e.base + e.added_end, len = iters * PG, count, result;
	struct encl_op op = ht_op(ENCL_OP_EACCEPT, start, ACCEPT_NEW, len);
	struct encl_op fill = ht_op(ENCL_OP_FILL, start, 0xea5eu, len);
	double t;

	t = bench_now();
	check(ht_call(e.tcs[0], &op), "the EACCEPT entry");
	if (touch)
		check(ht_call(e.tcs[0], &fill), "the entry writing the accepted pages");
	t = (bench_now() - t) / iters;
	check(!op.status && op.ret == iters, "EACCEPT of never-added pages");
	check(!ht_modify_types(&e, start, len, PT_TRIM, &count, &result) && !result &&
	      count == len, "MODIFY_TYPES(TRIM)");
	check(!ht_eaccept(e.tcs[0], start, len, ACCEPT_TRIM), "EACCEPT(TRIM)");
	check(!ht_remove_pages(&e, start, len, &count) && count == len, "REMOVE_PAGES");
	return t;
}

static double work_eaug(void *ctx, unsigned long iters)
{
	(void)ctx;
	return eaug_sample(iters, false);
}

static double work_eaug_touch(void *ctx, unsigned long iters)
{
	(void)ctx;
	return eaug_sample(iters, true);
}

static uint64_t heap, heap_len, eldu_cursor;

/*
 * A leaf run again and again inside one entry: EACCEPT of @iters heap pages
 * whose permissions were just restricted to what they were (RW: EMODPR
 * only marks them), per page.  Untimed before it: the restriction, and an
 * entry that reads the pages, which the restriction unmapped here (so the
 * timed entry has no fault to take); its own entry and exit are shared by
 * the pages.
 */
static double work_eaccept(void *ctx, unsigned long iters)
{
	uint64_t len = iters * PG, count, result;
	struct encl_op op = ht_op(ENCL_OP_EACCEPT, heap, ACCEPT_RESTRICTED, len);
	struct encl_op touch = ht_op(ENCL_OP_CHECK, heap, 0, len);
	double t;

	(void)ctx;
	check(!ht_restrict(&e, heap, len, ENCL_SI_R | ENCL_SI_W, &count, &result) && !result &&
	      count == len, "RESTRICT_PERMISSIONS");
	check(ht_call(e.tcs[0], &touch), "the entry reading the restricted pages");
	t = bench_now();
	check(ht_call(e.tcs[0], &op), "the EACCEPT entry");
	t = (bench_now() - t) / iters;
	check(!op.status && op.ret == iters, "EACCEPT of restricted pages");
	return t;
}

/*
 * The trap-path server: this program under the shim with
 * SOFTSGX_FAST_ENCLU=0, the same enclave loaded, timing the work's own
 * code.  It answers only when that is how it runs.
 */
static int trap_server(int rfd, int wfd, char *sgxs, char *sig)
{
	const char *fast = getenv("SOFTSGX_FAST_ENCLU");
	struct floor_req q;
	double t = -1;

	if (shim_loaded() && fast && !strcmp(fast, "0") && encl_dev_present() &&
	    !encl_load(&e, sgxs, sig))
		t = 0;
	if (write(wfd, &t, sizeof(t)) != sizeof(t) || t < 0)
		return 1;
	heap = e.base + ENCL_HEAP_OFFSET;
	heap_len = e.added_end - ENCL_HEAP_OFFSET;
	while (read(rfd, &q, sizeof(q)) == sizeof(q) && q.kind != FLOOR_QUIT) {
		if (q.kind == FLOOR_ECALL_TRAP)
			t = work_enter(NULL, q.iters);
		else if (q.kind == FLOOR_EACCEPT_TRAP)
			t = work_eaccept(NULL, q.iters);
		else
			return 1;
		if (write(wfd, &t, sizeof(t)) != sizeof(t))
			return 1;
	}
	encl_unload(&e);
	return 0;
}
#define ELDU_SEED 0xe1du
/* Long enough for ksgxd, woken by the last sample, to refill the free pages. */
#define ELDU_PAUSE_US 5000

/* Read @iters heap pages in one entry, moving on through the heap. */
static double eldu_sample(unsigned long iters)
{
	uint64_t len = iters * PG;
	struct encl_op op;
	double t;

	if (eldu_cursor + len > heap_len)
		eldu_cursor = 0;
	op = ht_op(ENCL_OP_CHECK, heap + eldu_cursor, ELDU_SEED, len);
	t = bench_now();
	check(ht_call(e.tcs[0], &op), "the CHECK entry");
	t = (bench_now() - t) / iters;
	check(op.status == 0, "the heap's contents after reload");
	eldu_cursor += len;
	return t;
}

/*
 * Reloads with free EPC waiting (the evictions they need ran before, in
 * ksgxd): chunks of ELDU_CHUNK pages, each after a pause, summed.
 */
static double work_eldu(void *ctx, unsigned long iters)
{
	double t = 0;

	(void)ctx;
	for (unsigned long done = 0; done < iters; done += ELDU_CHUNK) {
		usleep(ELDU_PAUSE_US);
		t += eldu_sample(ELDU_CHUNK) * ELDU_CHUNK;
	}
	return t / iters;
}

/* Back to back: each reload waits for ksgxd to evict a page for it. */
static double work_eldu_thrash(void *ctx, unsigned long iters)
{
	(void)ctx;
	return eldu_sample(iters);
}

/* ------------------------------------------------------------------ */
/*
 * reclaim and young: figures that need the driver's counters, which a
 * program under the shim sees only when it exits (SOFTSGX_STATS=1 prints
 * them on stderr).  So each run is a child: this program again, under the
 * shim with SOFTSGX_STATS=1, its own measurements on stdout as one
 * "result" line, its counters parsed from its stats line.  A child that
 * stops after the common setup (load, fill, warm-up) gives the setup's
 * share of the counters, which is subtracted.
 */

#define STREAM_CHUNK 16UL	/* pages per entry, then a pause (as eldu) */
#define STREAM_REPS 3
#define YOUNG_COLD 32UL		/* cold pages per round */
#define YOUNG_ROUNDS 64UL
#define YOUNG_WARM 16UL
#define YOUNG_PAIRS 5
static const unsigned long young_hot[] = { 32, 64, 128 };

struct child_out {
	unsigned long long ewb, eldu, ipis;
	double v[8];	/* the numbers of the child's "result" line */
	int nv;
};

/* The environment with SOFTSGX_STATS=1, and SOFTSGX_YOUNG=off if @young_off. */
static char **child_env(bool young_off)
{
	const char *set[] = { "SOFTSGX_STATS=1", young_off ? "SOFTSGX_YOUNG=off" : "SOFTSGX_YOUNG",
			      NULL };

	return env_with(set);
}

/* Run this program as @argv under the shim; its result and counters in @out. */
static void run_child(char *const argv[], bool young_off, struct child_out *out)
{
	static char log[65536];
	char **env = child_env(young_off), line[512];
	size_t used = 0;
	bool stats = false;
	int pfd[2], st;
	pid_t pid;
	FILE *f;

	memset(out, 0, sizeof(*out));
	fflush(stdout);
	if (pipe2(pfd, O_CLOEXEC))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execve("/proc/self/exe", argv, env);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f)
		die("fdopen");
	while (fgets(line, sizeof(line), f)) {
		unsigned long long t, fr, u, lk, eaug, erem, oom;
		char *p = line + 6, *end;

		used += (size_t)snprintf(log + used, sizeof(log) - used, "%s", line);
		if (used >= sizeof(log))
			used = sizeof(log) - 1;
		if (sscanf(line, "softsgx: EPC pages total %llu free %llu used %llu leaked %llu; "
			   "EWB %llu ELDU %llu EAUG %llu EREMOVE %llu; OOM kills %llu; "
			   "ETRACK IPIs %llu", &t, &fr, &u, &lk, &out->ewb, &out->eldu, &eaug,
			   &erem, &oom, &out->ipis) == 10)
			stats = true;
		if (strncmp(line, "result", 6))
			continue;
		for (out->nv = 0; out->nv < 8; out->nv++, p = end) {
			out->v[out->nv] = strtod(p, &end);
			if (end == p)
				break;
		}
	}
	fclose(f);
	free(env);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) || !stats ||
	    !out->nv) {
		fprintf(stderr, "bench_host: a child run (%s) failed:\n%s", argv[2], log);
		exit(1);
	}
}

/* The clock @id in seconds. */
static double clock_s(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		die("clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The CPU clock of thread @tid of this process (as pthread_getcpuclockid() makes it). */
static clockid_t thread_clock(pid_t tid)
{
	return (clockid_t)(((unsigned int)~tid << 3) | 6);
}

/* The thread of this process named @name (the driver's ksgxd), or die. */
static pid_t thread_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		die("/proc/self/task");
	while (!found && (de = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, name, strlen(name)) &&
		    comm[strlen(name)] == '\n')
			found = (pid_t)atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	if (!found) {
		fprintf(stderr, "bench_host: no thread named %s\n", name);
		exit(1);
	}
	return found;
}

static volatile uint64_t spin_stop;

/* A thread inside the enclave all along: every ETRACK must kick it out. */
static void *spinner(void *arg)
{
	struct encl_op op = ht_op(ENCL_OP_SPIN, 0, (uint64_t)(uintptr_t)&spin_stop, 0);

	(void)arg;
	return ht_call(e.tcs[1], &op) ? (void *)&spin_stop : NULL;
}

/*
 * Child "stream" PASSES SPIN: a thread spinning inside if SPIN is 1, then
 * PASSES reads of the whole heap, STREAM_CHUNK pages per entry after a
 * pause in which ksgxd evicts ahead (each page was evicted long before).
 * The heap is not written first: its EWBs at load run in the ioctl, with
 * no thread inside, so the setup's share of the counters hardly varies
 * (a fill's reclaim meets the filling thread inside, at random); the
 * contents are not checked here (eldu checks them).
 * Result: pages read, seconds inside the reading entries, ksgxd's CPU
 * seconds, this thread's and the spinner's, the seconds it all took, and
 * zap_floor() taken before.
 */
/*
 * A zap's system call alone: MADV_DONTNEED of one mapped page of a memfd
 * (as the enclave window is), per page, in seconds.
 */
static double zap_floor(void)
{
	const unsigned long n = 64, rounds = 16;
	int fd = memfd_create("bench-zap", MFD_CLOEXEC);
	uint8_t *m;
	double t = 0;

	if (fd < 0 || ftruncate(fd, (off_t)(n * PG)))
		die("memfd");
	m = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	for (unsigned long r = 0; r < rounds; r++) {
		double t0;

		memset(m, (int)r, n * PG);
		t0 = bench_now();
		for (unsigned long i = 0; i < n; i++)
			if (madvise(m + i * PG, PG, MADV_DONTNEED))
				die("madvise");
		t += bench_now() - t0;
	}
	munmap(m, n * PG);
	close(fd);
	return t / (double)(n * rounds);
}

static int child_stream(unsigned long passes, bool spin)
{
	unsigned long pages = heap_len / PG / STREAM_CHUNK * STREAM_CHUNK;
	clockid_t kc = thread_clock(thread_named("ksgxd")), sc = 0;
	double wall = 0, k, m, sp, t, zap;
	pthread_t th;
	void *ok;

	if (spin && (pthread_create(&th, NULL, spinner, NULL) || pthread_getcpuclockid(th, &sc)))
		die("pthread_create");
	usleep(20000);
	zap = zap_floor();
	t = bench_now();
	k = clock_s(kc);
	m = clock_s(CLOCK_THREAD_CPUTIME_ID);
	sp = spin ? clock_s(sc) : 0;
	for (unsigned long p = 0; p < passes; p++)
		for (unsigned long done = 0; done < pages; done += STREAM_CHUNK) {
			struct encl_op op = ht_op(ENCL_OP_CHECK, heap + done * PG, 0, STREAM_CHUNK * PG);
			double t0;

			usleep(ELDU_PAUSE_US);
			t0 = bench_now();
			check(ht_call(e.tcs[0], &op), "reading the heap");
			wall += bench_now() - t0;
		}
	printf("result %lu %.9f %.9f %.9f %.9f %.9f %.9f\n", passes * pages, wall, clock_s(kc) - k,
	       clock_s(CLOCK_THREAD_CPUTIME_ID) - m, spin ? clock_s(sc) - sp : 0, bench_now() - t,
	       zap);
	spin_stop = 1;
	if (spin)
		check(!pthread_join(th, &ok) && ok, "the spinning thread");
	return 0;
}

static int pagemap = -1;

/* Is the enclave page at @addr mapped in this process (resident in the EPC)? */
static bool mapped(uint64_t addr)
{
	uint64_t v;

	if (pread(pagemap, &v, sizeof(v), (off_t)(addr / PG * sizeof(v))) != sizeof(v))
		die("/proc/self/pagemap");
	return v >> 63;
}

static void read_pages(uint64_t addr, unsigned long n)
{
	struct encl_op op = ht_op(ENCL_OP_CHECK, addr, ELDU_SEED, n * PG);

	check(ht_call(e.tcs[0], &op) && !op.status, "reading the heap");
}

/*
 * The reload fault alone: each ELDU_CHUNK-page slice of work_eldu() read a
 * second time at once, its pages now resident and mapped (pagemap says
 * so), and that time taken off.  What is left is what the faults cost:
 * not the enclave's own reading and checking of each 4 KiB (the floor
 * reads one byte a page) nor the slice's entry and exit.
 */
static double work_eldu_net(void *ctx, unsigned long iters)
{
	double t = 0;

	(void)ctx;
	if (pagemap < 0 && (pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
		die("/proc/self/pagemap");
	for (unsigned long done = 0; done < iters; done += ELDU_CHUNK) {
		uint64_t first;
		bool all = true;

		usleep(ELDU_PAUSE_US);
		if (eldu_cursor + ELDU_CHUNK * PG > heap_len)
			eldu_cursor = 0;
		first = heap + eldu_cursor;
		t += eldu_sample(ELDU_CHUNK) * ELDU_CHUNK;
		for (unsigned long p = 0; p < ELDU_CHUNK; p++)
			all &= mapped(first + p * PG);
		check(all, "the slice resident after its reload");
		eldu_cursor -= ELDU_CHUNK * PG;
		t -= eldu_sample(ELDU_CHUNK) * ELDU_CHUNK;
	}
	return t / iters;
}

/*
 * Child "hotcold" HOT ROUNDS: the heap filled, then YOUNG_WARM + ROUNDS
 * rounds, each reading the HOT pages at the heap's start one entry per
 * page, then the next YOUNG_COLD pages of the rest of the heap (the cold
 * stream, far larger than the EPC) in one entry.  Before each read, the
 * page's entry in /proc/self/pagemap says whether it is mapped: one that
 * is not was evicted and its read is a refault (ELDU).  Result, over the
 * counted rounds: hot reads, hot refaults, cold reads, cold refaults, and
 * the enclave pages mapped at the end.
 */
static int child_hotcold(unsigned long hot, unsigned long rounds)
{
	uint64_t cold = heap + hot * PG;
	unsigned long cold_pages = heap_len / PG - hot, cursor = 0, n[4] = { 0 }, resident = 0;
	static uint64_t map[0x4000000 / PG];

	check(hot + 4 * YOUNG_COLD <= heap_len / PG && e.size <= sizeof(map) / 8 * PG,
	      "a heap of the hot set and a cold stream");
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap < 0)
		die("/proc/self/pagemap");
	for (unsigned long r = 0; r < YOUNG_WARM + rounds; r++) {
		bool counted = r >= YOUNG_WARM;

		for (unsigned long p = 0; p < hot; p++) {
			n[0] += counted;
			n[1] += counted && !mapped(heap + p * PG);
			read_pages(heap + p * PG, 1);
		}
		if (cursor + YOUNG_COLD > cold_pages)
			cursor = 0;
		for (unsigned long p = 0; counted && p < YOUNG_COLD; p++) {
			n[2]++;
			n[3] += !mapped(cold + (cursor + p) * PG);
		}
		read_pages(cold + cursor * PG, YOUNG_COLD);
		cursor += YOUNG_COLD;
	}
	if (pread(pagemap, map, e.size / PG * 8, (off_t)(e.base / PG * 8)) != (ssize_t)(e.size / PG * 8))
		die("/proc/self/pagemap");
	for (uint64_t i = 0; i < e.size / PG; i++)
		resident += map[i] >> 63;
	printf("result %lu %lu %lu %lu %lu\n", n[0], n[1], n[2], n[3], resident);
	return 0;
}

/* "a..b": the least and the greatest of @v[0..@n). */
static const char *range(char *buf, size_t len, const double *v, int n, double scale)
{
	double lo = v[0], hi = v[0];

	for (int i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	snprintf(buf, len, "%.2f..%.2f", lo * scale, hi * scale);
	return buf;
}

/* A figure of bench_driver's (the simulated host) that run_host.sh passed on, or 0. */
static double sim_figure(const char *name)
{
	const char *v = getenv(name);

	return v ? strtod(v, NULL) : 0;
}

/*
 * reclaim: ksgxd's CPU time per page it wrote back, and the reading
 * thread's time per reload, on the real host, with bench_driver's figures
 * for the simulated host beside them when run_host.sh passes them on.
 */
/* Per page, over STREAM_REPS runs: medians, and the ranges as text. */
struct stream_fig {
	double reclaim, reload, wall, ipis, per_read, spin, zap;
	char reclaim_range[40], reload_range[40];
};

static void stream_fig(struct stream_fig *f, double v[][STREAM_REPS])
{
	double *const out[] = { &f->reclaim, &f->reload, &f->wall, &f->ipis, &f->per_read, &f->spin,
				&f->zap };

	for (int k = 0; k < 7; k++)
		*out[k] = bench_median(v[k], STREAM_REPS);
	range(f->reclaim_range, sizeof(f->reclaim_range), v[0], STREAM_REPS, 1e6);
	range(f->reload_range, sizeof(f->reload_range), v[1], STREAM_REPS, 1e6);
}

/* A table row: @us_page, its range, and bench_driver's @sim_ns beside it. */
static void stream_row(const char *what, double per_page, const char *runs, double sim_ns)
{
	char row[160];
	int n = snprintf(row, sizeof(row), "%.2f us/page (runs %s)", per_page * 1e6, runs);

	if (sim_ns > 0)
		snprintf(row + n, sizeof(row) - (size_t)n, "; sim host %.2f us: %.1fx", sim_ns / 1e3,
			 per_page * 1e9 / sim_ns);
	printf("| %-38s | %-70s | %-6s | %s |\n", what, row, "-", "for information");
}

/* A per-page median of STREAM_REPS runs as a record, with their min..max. */
static void record_stream(const char *id, const char *what, double median, const double *v)
{
	double lo = v[0], hi = v[0];

	for (int i = 1; i < STREAM_REPS; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	bench_record_value(bench_records(), id, what, median, "s", lo, hi);
}

static void part_reclaim(char *sgxs, char *sig)
{
	char spin_arg[2] = "1";
	char *work[] = { "bench_host", "--child", "stream", sgxs, sig, "1", spin_arg, NULL };
	char *setup[] = { "bench_host", "--child", "stream", sgxs, sig, "0", spin_arg, NULL };
	/* Per spin (0, 1): reclaim, reload, wall, ipis, per_read, spin, zap, per run. */
	double v[2][7][STREAM_REPS];
	struct stream_fig f[2];

	for (int i = 0; i < STREAM_REPS; i++)
		for (int sp = 1; sp >= 0; sp--) {
			struct child_out s, w;
			double ewb, eldu;

			spin_arg[0] = (char)('0' + sp);
			run_child(setup, false, &s);
			run_child(work, false, &w);
			ewb = (double)(w.ewb - s.ewb);
			eldu = (double)(w.eldu - s.eldu);
			check(w.nv == 7 && ewb > 0 && eldu > 0, "the stream's evictions and reloads");
			v[sp][0][i] = w.v[2] / ewb;
			v[sp][1][i] = w.v[3] / eldu;
			v[sp][2][i] = w.v[1] / eldu;
			v[sp][3][i] = (double)(w.ipis - s.ipis) / ewb;
			v[sp][4][i] = eldu / w.v[0];
			v[sp][5][i] = w.v[4] / w.v[5];
			v[sp][6][i] = w.v[6];
		}
	stream_fig(&f[0], v[0]);
	stream_fig(&f[1], v[1]);
	printf("the big enclave's heap read once, %lu pages per entry after a %d ms pause; %d runs "
	       "with a thread spinning inside, %d without, alternating, each less a run of the "
	       "setup alone (counters at exit):\n", STREAM_CHUNK, ELDU_PAUSE_US / 1000,
	       STREAM_REPS, STREAM_REPS);
	for (int sp = 1; sp >= 0; sp--) {
		printf(" %s:\n", sp ? "a thread spinning inside" : "no other thread");
		printf("  reclaim: %.2f us of ksgxd CPU per EWB (runs %s), %.3f ETRACK IPIs per EWB; "
		       "one zap's madvise alone (a mapped memfd page) %.2f us\n", f[sp].reclaim * 1e6,
		       f[sp].reclaim_range, f[sp].ipis, f[sp].zap * 1e6);
		printf("  reload: %.2f us of the reading thread's CPU per ELDU (runs %s: its entries, "
		       "traps, faults and ELDUs), %.2f us of wall time inside the reading entries; "
		       "%.3f ELDU per page read\n", f[sp].reload * 1e6, f[sp].reload_range,
		       f[sp].wall * 1e6, f[sp].per_read);
	}
	printf("  (the spinning thread held a CPU %.0f%% of the time, of the 2 this machine has: "
	       "wall times are CPU times stretched by it and by the machine's other work)\n",
	       100 * f[1].spin);
	record_stream("host.stream.reclaim", "reclaim (EWB by ksgxd), ksgxd CPU per page, a thread "
		      "inside", f[1].reclaim, v[1][0]);
	record_stream("host.stream.reload", "reload (ELDU fault), reading thread's CPU per page, a "
		      "thread inside", f[1].reload, v[1][1]);
	record_stream("host.stream.reclaim_alone", "reclaim (EWB by ksgxd), ksgxd CPU per page, no "
		      "other thread", f[0].reclaim, v[0][0]);
	record_stream("host.stream.reload_alone", "reload (ELDU fault), reading thread's CPU per "
		      "page, no other thread", f[0].reload, v[0][1]);
	stream_row("reclaim (EWB by ksgxd), ksgxd CPU/page", f[1].reclaim, f[1].reclaim_range,
		   sim_figure("BENCH_SIM_RECLAIM_NS"));
	stream_row("reload (ELDU fault), CPU/page", f[1].reload, f[1].reload_range,
		   sim_figure("BENCH_SIM_RELOAD_NS"));
	fflush(stdout);
}

/*
 * young: hot-set refaults with the shim's approximation of the accessed
 * bit (the default) and with every page old (SOFTSGX_YOUNG=off), in
 * alternating runs, for several hot-set sizes.
 */
static void part_young(char *sgxs, char *sig)
{
	char hs[24], rs[24];
	char *argv[] = { "bench_host", "--child", "hotcold", sgxs, sig, hs, rs, NULL };

	printf("a hot set read page by page, then %lu pages of a cold stream, per round; %lu rounds "
	       "counted after %lu, %d runs of each mode, alternating; refaults seen in "
	       "/proc/self/pagemap before each read, ELDUs from the counters at exit (less a run "
	       "of the setup alone)\n", YOUNG_COLD, YOUNG_ROUNDS, YOUNG_WARM, YOUNG_PAIRS);
	for (size_t h = 0; h < sizeof(young_hot) / sizeof(young_hot[0]); h++) {
		double hot[2][YOUNG_PAIRS], cold[2][YOUNG_PAIRS], eldu[2][YOUNG_PAIRS];
		double res[2][YOUNG_PAIRS], other, e_pages, model;
		unsigned long long setup[2];
		struct bench_ratio r;
		struct child_out c;
		char buf[128];

		snprintf(hs, sizeof(hs), "%lu", young_hot[h]);
		snprintf(rs, sizeof(rs), "0");
		for (int m = 0; m < 2; m++) {
			run_child(argv, !m, &c);
			setup[m] = c.eldu;
		}
		snprintf(rs, sizeof(rs), "%lu", YOUNG_ROUNDS);
		for (int i = 0; i < YOUNG_PAIRS; i++)
			for (int k = 0; k < 2; k++) {
				int m = (i + k) & 1; /* each mode goes first in every other pair */

				run_child(argv, !m, &c);
				check(c.nv == 5 && c.eldu >= setup[m], "the hot/cold run");
				hot[m][i] = c.v[1] / YOUNG_ROUNDS;
				cold[m][i] = c.v[3] / YOUNG_ROUNDS;
				eldu[m][i] = (double)(c.eldu - setup[m]) / YOUNG_ROUNDS;
				res[m][i] = c.v[4];
			}
		bench_ratio(&r, hot[1], hot[0], YOUNG_PAIRS);
		/* Refaults of neither set: the enclave's own code, stack, TCS and SSA. */
		other = bench_median(eldu[1], YOUNG_PAIRS) - r.num - bench_median(cold[1], YOUNG_PAIRS);
		e_pages = bench_median(res[1], YOUNG_PAIRS);
		/*
		 * FIFO: every page stays resident while E others come in, so
		 * with F faults per round a hot page is refaulted every E/F
		 * rounds: hot = H * (hot + cold + other) / E.
		 */
		model = e_pages > young_hot[h] ? young_hot[h] *
			(bench_median(cold[1], YOUNG_PAIRS) + other) / (e_pages - young_hot[h]) : 0;
		printf("hot set %3lu pages: refaults per round: hot %.2f (young approximation) vs %.2f "
		       "(all old), cold %.2f of %lu, other %.2f; ELDU per round %.2f vs %.2f; %.0f pages "
		       "mapped; a FIFO of that size predicts %.2f hot\n", young_hot[h], r.num, r.den,
		       bench_median(cold[1], YOUNG_PAIRS), YOUNG_COLD, other,
		       bench_median(eldu[1], YOUNG_PAIRS), bench_median(eldu[0], YOUNG_PAIRS), e_pages,
		       model);
		snprintf(buf, sizeof(buf), "hot-set refaults, young/old, hot %lu", young_hot[h]);
		printf("| %-38s | ", buf);
		if (r.den > 0)
			bench_fmt(buf, sizeof(buf), &r);
		else
			snprintf(buf, sizeof(buf), "no refaults when all old (%.2f with the young test)",
				 r.num);
		printf("%-70s | %-6s | %s |\n", buf, "-", "for information");
		fflush(stdout);
	}
}

/* Context printed with a part: floor @num over floor @den, sampled in pairs. */
struct aside {
	enum floor_kind num, den;
	double bound;		/* the least it can be (0: none) */
	const char *id, *what;	/* NULL: none */
};

struct part {
	const char *name, *what, *floor;
	enum floor_kind kind;
	double (*work)(void *, unsigned long);
	unsigned long iters;
	double target, bound;	/* target 0: for information */
	/* An absolute target for the work (s; 0: none), judged as work / it: @abs_what. */
	double abs_target;
	const char *abs_what;
	struct aside aside[2];
};

static const struct part parts[] = {
	{ "enter", "EENTER->EEXIT round trip (vDSO)", "the same, ENCLU trapping",
	  FLOOR_ECALL_TRAP, work_enter, ENTER_ITERS, 0.1, 0, 300e-9,
	  "EENTER->EEXIT round trip / 300 ns",
	  { { FLOOR_ECALL_TRAP, FLOOR_TRAP, 1.0, "trap_path",
	      "the trap path's round trip is, in bare ENCLU traps," },
	    { FLOOR_TRAP, FLOOR_PF, 0, "aside",
	      "one bare ENCLU trap is, in page-fault signals (SIGSEGV)," } } },
	{ "eaccept", "EACCEPT after EMODPR, per page", "the same, ENCLU trapping",
	  FLOOR_EACCEPT_TRAP, work_eaccept, EACCEPT_PAGES, 0, 0, 0, NULL, { { 0 } } },
	{ "eaug", "first-touch EAUG (EACCEPT), per page", "uffd MINOR + CONTINUE", FLOOR_UFFD,
	  work_eaug, EAUG_PAGES, 1.5, 0, 0, NULL,
	  { { FLOOR_TRAP, FLOOR_UFFD, 0, "aside", "one bare ENCLU trap alone is, in this floor," } } },
	{ "eaug-touch", "first-touch EAUG + write, per page", "uffd MINOR + CONTINUE",
	  FLOOR_UFFD, work_eaug_touch, EAUG_PAGES, 2.0, 0, 0, NULL, { { 0 } } },
	{ "eldu", "ELDU reload, EPC free, per page", "uffd MINOR + CONTINUE + GCM 4K",
	  FLOOR_UFFD_GCM, work_eldu, ELDU_PAGES, 1.5, 1.0, 0, NULL, { { 0 } } },
	{ "eldu-net", "ELDU reload fault alone, EPC free", "uffd MINOR + CONTINUE + GCM 4K",
	  FLOOR_UFFD_GCM, work_eldu_net, ELDU_PAGES, 1.3, 1.0, 0, NULL, { { 0 } } },
	{ "eldu-thrash", "ELDU reload, EPC full, per page", "uffd MINOR + CONTINUE + GCM 4K",
	  FLOOR_UFFD_GCM, work_eldu_thrash, ELDU_THRASH_PAGES, 1.5, 1.0, 0, NULL, { { 0 } } },
};

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p; p = strchr(p, ',')) {
		p += *p == ',';
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return true;
	}
	return false;
}

/* Two floors of their own rounds, paired as the work is; false if below its bound. */
static bool run_aside(const struct part *p, const struct aside *a, int rounds)
{
	struct bench_case pair[2] = {
		{ remote_floor, (void *)(intptr_t)a->num },
		{ remote_floor, (void *)(intptr_t)a->den },
	};
	double *t = calloc(2 * (size_t)rounds, sizeof(*t));
	struct bench_ratio ar;
	char buf[128];

	if (!t)
		die("calloc");
	bench_interleave(pair, 2, rounds, ENTER_ITERS / 4, t);
	bench_ratio(&ar, t, t + rounds, rounds);
	snprintf(buf, sizeof(buf), "host.%s.%s", p->name, a->id);
	bench_record_ratio(bench_records(), buf, a->what, &ar, 0, true, a->bound);
	printf("  (%s %s%s)\n", a->what, bench_fmt(buf, sizeof(buf), &ar),
	       a->bound > 0 && ar.ratio < a->bound ? ": BELOW ITS LOWER BOUND" : "");
	free(t);
	return !(a->bound > 0 && ar.ratio < a->bound);
}

/* The work's samples @w against its absolute target, as a ratio to it. */
static void run_abs(const struct part *p, const double *w, int rounds)
{
	double *c = calloc((size_t)rounds, sizeof(*c));
	struct bench_ratio r;
	char buf[128], row[160];

	if (!c)
		die("calloc");
	for (int i = 0; i < rounds; i++)
		c[i] = p->abs_target;
	bench_ratio(&r, w, c, rounds);
	snprintf(buf, sizeof(buf), "host.%s.abs", p->name);
	bench_record_ratio(bench_records(), buf, p->abs_what, &r, 1.0, true, 0);
	snprintf(row, sizeof(row), "%.0f ns: %s", r.num * 1e9, bench_fmt(buf, sizeof(buf), &r));
	printf("| %-38s | %-70s | <= 1.0 | %s |\n", p->abs_what, row,
	       bench_verdict(&r, 1.0, true, 0));
	free(c);
}

static void run_part(const struct part *p, int rounds)
{
	struct bench_case cases[2] = {
		{ remote_floor, (void *)(intptr_t)p->kind },
		{ p->work, NULL },
	};
	double *s = calloc(2 * (size_t)rounds, sizeof(*s)), warm[2];
	struct bench_ratio r;
	bool floor_ok = true;
	char buf[128], target[16] = "-";
	const char *verdict;

	if (!s)
		die("calloc");
	/* One unrecorded round: first touches of code, stacks and EPC. */
	bench_interleave(cases, 2, 1, p->iters, warm);
	bench_interleave(cases, 2, rounds, p->iters, s);
	bench_ratio(&r, s + rounds, s, rounds);
	printf("%s: work %.3f us, floor (%s) %.3f us\n", p->what, r.num * 1e6, p->floor,
	       r.den * 1e6);
	for (int i = 0; i < 2 && p->aside[i].what; i++)
		floor_ok &= run_aside(p, &p->aside[i], rounds);
	snprintf(buf, sizeof(buf), "host.%s", p->name);
	/* A floor below its own bound makes the ratio meaningless: "impossible". */
	bench_record_ratio(bench_records(), buf, p->what, &r, p->target, true,
			   floor_ok ? p->bound : INFINITY);
	if (!floor_ok)
		verdict = "NO VERDICT: its floor came out below its own lower bound";
	else if (p->target > 0)
		verdict = bench_verdict(&r, p->target, true, p->bound);
	else
		verdict = "for information";
	if (p->target > 0)
		snprintf(target, sizeof(target), "<= %.1f", p->target);
	printf("| %-38s | %-70s | %-6s | %s |\n", p->what, bench_fmt(buf, sizeof(buf), &r), target,
	       verdict);
	if (p->abs_target > 0)
		run_abs(p, s + rounds, rounds);
	fflush(stdout);
	free(s);
}

/* bench_host --child stream|hotcold ENCL.sgxs ENCL.sig ARGS: one run for the parent. */
static int child_main(int argc, char **argv)
{
	struct encl_op fill;
	int r;

	if (!encl_dev_present() || encl_load(&e, argv[3], argv[4]))
		return 1;
	heap = e.base + ENCL_HEAP_OFFSET;
	heap_len = e.added_end - ENCL_HEAP_OFFSET;
	fill = ht_op(ENCL_OP_FILL, heap, ELDU_SEED, heap_len);
	if (!strcmp(argv[2], "stream"))
		r = child_stream(strtoul(argv[5], NULL, 0), argc > 6 && argv[6][0] == '1');
	else if (!strcmp(argv[2], "hotcold") && argc == 7 && ht_call(e.tcs[0], &fill))
		r = child_hotcold(strtoul(argv[5], NULL, 0), strtoul(argv[6], NULL, 0));
	else
		r = 2;
	fflush(stdout);
	encl_unload(&e);
	return r;
}

int main(int argc, char **argv)
{
	const char *list;
	bool filled = false;
	int rounds;

	if (argc == 4 && !strcmp(argv[1], "--floor"))
		return floor_server(atoi(argv[2]), atoi(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "--trap-floor"))
		return trap_server(atoi(argv[2]), atoi(argv[3]), argv[4], argv[5]);
	if (argc >= 6 && !strcmp(argv[1], "--child"))
		return child_main(argc, argv);
	if (argc < 4) {
		fprintf(stderr, "usage: softsgx exec -- %s ENCL.sgxs ENCL.sig "
			"enter,eaccept,eaug,eaug-touch,eldu,eldu-net,eldu-thrash,reclaim,young "
			"[ROUNDS]\n",
			argv[0]);
		return 2;
	}
	list = argv[3];
	rounds = argc > 4 ? atoi(argv[4]) : 31;
	if (rounds < 3)
		rounds = 3;
	if (!encl_dev_present()) {
		fprintf(stderr, "bench_host: no /dev/sgx_enclave: run it under softsgx exec\n");
		return 1;
	}
	/* Before the enclave exists: the children have nothing of it to inherit. */
	start_server(&bare_srv, "--floor", env_without_shim(), NULL, NULL);
	if (listed(list, "enter") || listed(list, "eaccept")) {
		const char *set[] = { "SOFTSGX_FAST_ENCLU=0", "SOFTSGX_STATS=1", NULL };

		start_server(&trap_srv, "--trap-floor", env_with(set), argv[1], argv[2]);
	}
	if (encl_load(&e, argv[1], argv[2]))
		return 1;
	heap = e.base + ENCL_HEAP_OFFSET;
	heap_len = e.added_end - ENCL_HEAP_OFFSET;
	printf("enclave %s at 0x%llx, %llu KiB of heap\n", argv[1], (unsigned long long)e.base,
	       (unsigned long long)heap_len >> 10);

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const struct part *p = &parts[i];
		if (!listed(list, p->name))
			continue;
		if ((p->work == work_eldu || p->work == work_eldu_net ||
		     p->work == work_eldu_thrash) && !filled) {
			struct encl_op fill = ht_op(ENCL_OP_FILL, heap, ELDU_SEED, heap_len);

			check(heap_len >= 4 * ELDU_THRASH_PAGES * PG, "a heap of 4 samples at least");
			check(ht_call(e.tcs[0], &fill), "filling the heap");
			filled = true;
		}
		if (p->work == work_eaug || p->work == work_eaug_touch)
			check(e.added_end + p->iters * PG <= e.size, "room for EAUG");
		if (p->work == work_eaccept)
			check(heap_len >= p->iters * PG, "a heap of EACCEPT_PAGES");
		run_part(p, rounds);
	}
	if (listed(list, "reclaim"))
		part_reclaim(argv[1], argv[2]);
	if (listed(list, "young"))
		part_young(argv[1], argv[2]);
	stop_server(&bare_srv);
	stop_server(&trap_srv);
	encl_unload(&e);
	return 0;
}
