// SPDX-License-Identifier: MIT
/*
 * Host-layer benchmark: what running real enclave code under `softsgx exec`
 * costs, against the host operations it cannot do without, each measured in
 * the same run and sampled in pairs with the work it judges (bench_stats.h).
 *
 *   enter  EENTER -> EEXIT round trip through __vdso_sgx_enter_enclave, an
 *          op that returns at once, vs one bare ENCLU trap and return: a
 *          page holding ENCLU executed outside any enclave, whose SIGILL
 *          (or SIGSEGV) handler only steps RIP over it       (target <= 1.3)
 *   eaug   EACCEPT of a never-added page from inside, so that its first
 *          touch EAUGs it, per page (64 pages per entry), vs a userfaultfd
 *          MINOR fault on a memfd page resolved by UFFDIO_CONTINUE from the
 *          SIGBUS handler (UFFD_USER_MODE_ONLY, UFFD_FEATURE_SIGBUS, as the
 *          shim registers enclave mappings)                   (target <= 1.5)
 *   eldu   reading a page that was evicted (ELDU on the fault), per page,
 *          with the big test enclave many times the EPC, vs that uffd fault
 *          plus an AES-128-GCM decryption of 4 KiB into the page: with free
 *          EPC waiting (slices of 16 pages after a pause in which ksgxd
 *          evicts ahead), and as eldu-thrash back to back, every reload
 *          waiting for an eviction                            (target <= 1.5)
 *
 * The floors cannot be taken in this process: under the shim every SIGSEGV,
 * SIGILL and SIGBUS goes through its handler first (and an ENCLU outside an
 * enclave would be performed by the CPU model).  So the program re-executes
 * itself without the shim (LD_PRELOAD stripped of libsoftsgx-preload.so) as
 * a floor server, and the two processes take turns over a pair of pipes:
 * each round asks the server for one floor sample, then takes the work's
 * sample here, so a floor and its work are timed a few milliseconds apart
 * and never at the same time (the pipe round trip is outside both timings).
 * It reports; it never fails on timing.
 *
 * Usage: softsgx exec [--epc SIZE] -- bench_host ENCL.sgxs ENCL.sig PARTS [ROUNDS]
 *   PARTS: a comma-separated list of enter, eaug, eldu, eldu-thrash (the
 *   eldu parts want the big test enclave and a small EPC, e.g. --epc 1M;
 *   enter and eaug a roomy EPC, so
 *   that no eviction runs while they are timed).  bench/run_host.sh runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* Samples per round of each part. */
#define ENTER_ITERS 2000UL
#define EAUG_PAGES 64UL
#define ELDU_PAGES 64UL
/* Fewer than the free pages ksgxd keeps (SGX_NR_HIGH_PAGES) between chunks. */
#define ELDU_CHUNK 16UL
#define ELDU_THRASH_PAGES 128UL
/* The floor server's memfd: enough pages for the largest sample. */
#define FLOOR_PAGES 256UL

enum floor_kind { FLOOR_TRAP, FLOOR_PF, FLOOR_UFFD, FLOOR_UFFD_GCM, FLOOR_QUIT };

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

static int req_fd = -1, ans_fd = -1;
static pid_t server;

/* The environment minus the shim: LD_PRELOAD without it, no SOFTSGX_*. */
static char **env_without_shim(void)
{
	extern char **environ;
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		die("calloc");
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

static void start_server(void)
{
	int req[2], ans[2];
	double hello;

	if (pipe2(req, O_CLOEXEC) || pipe2(ans, O_CLOEXEC))
		die("pipe");
	server = fork();
	if (server < 0)
		die("fork");
	if (!server) {
		char rfd[16], wfd[16];
		char *argv[] = { "bench_host", "--floor", rfd, wfd, NULL };

		fcntl(req[0], F_SETFD, 0);
		fcntl(ans[1], F_SETFD, 0);
		snprintf(rfd, sizeof(rfd), "%d", req[0]);
		snprintf(wfd, sizeof(wfd), "%d", ans[1]);
		execve("/proc/self/exe", argv, env_without_shim());
		_exit(127);
	}
	close(req[0]);
	close(ans[1]);
	req_fd = req[1];
	ans_fd = ans[0];
	if (read(ans_fd, &hello, sizeof(hello)) != sizeof(hello) || hello < 0) {
		fprintf(stderr, "bench_host: the floor server did not start without the shim\n");
		exit(1);
	}
}

static void stop_server(void)
{
	struct floor_req q = { .kind = FLOOR_QUIT };

	if (write(req_fd, &q, sizeof(q)) != sizeof(q))
		die("write");
	waitpid(server, NULL, 0);
}

/* A floor sample from the server (bench_case.run). */
static double remote_floor(void *ctx, unsigned long iters)
{
	struct floor_req q = { .kind = (int)(intptr_t)ctx, .iters = iters };
	double t;

	if (write(req_fd, &q, sizeof(q)) != sizeof(q) || read(ans_fd, &t, sizeof(t)) != sizeof(t)) {
		fprintf(stderr, "bench_host: the floor server is gone\n");
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

/* EACCEPT @iters never-added pages in one entry; trimmed and removed after. */
static double work_eaug(void *ctx, unsigned long iters)
{
	uint64_t start = e.base + e.added_end, len = iters * PG, count, result;
	struct encl_op op = ht_op(ENCL_OP_EACCEPT, start, ACCEPT_NEW, len);
	double t;

	(void)ctx;
	t = bench_now();
	check(ht_call(e.tcs[0], &op), "the EACCEPT entry");
	t = (bench_now() - t) / iters;
	check(!op.status && op.ret == iters, "EACCEPT of never-added pages");
	check(!ht_modify_types(&e, start, len, PT_TRIM, &count, &result) && !result &&
	      count == len, "MODIFY_TYPES(TRIM)");
	check(!ht_eaccept(e.tcs[0], start, len, ACCEPT_TRIM), "EACCEPT(TRIM)");
	check(!ht_remove_pages(&e, start, len, &count) && count == len, "REMOVE_PAGES");
	return t;
}

static uint64_t heap, heap_len, eldu_cursor;
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

struct part {
	const char *name, *what, *floor;
	enum floor_kind kind;
	double (*work)(void *, unsigned long);
	unsigned long iters;
	double target, bound;
	/* Context printed with it: floor @aside_num over floor @aside_den. */
	enum floor_kind aside_num, aside_den;
	const char *aside;
};

static const struct part parts[] = {
	{ "enter", "EENTER->EEXIT round trip (vDSO)", "1 bare ENCLU trap", FLOOR_TRAP,
	  work_enter, ENTER_ITERS, 1.3, 1.0, FLOOR_TRAP, FLOOR_PF,
	  "one bare ENCLU trap is, in page-fault signals (SIGSEGV)," },
	{ "eaug", "first-touch EAUG (EACCEPT), per page", "uffd MINOR + CONTINUE", FLOOR_UFFD,
	  work_eaug, EAUG_PAGES, 1.5, 0, FLOOR_TRAP, FLOOR_UFFD,
	  "one bare ENCLU trap alone is, in this floor," },
	{ "eldu", "ELDU reload, EPC free, per page", "uffd MINOR + CONTINUE + GCM 4K",
	  FLOOR_UFFD_GCM, work_eldu, ELDU_PAGES, 1.5, 1.0, FLOOR_QUIT, FLOOR_QUIT, NULL },
	{ "eldu-thrash", "ELDU reload, EPC full, per page", "uffd MINOR + CONTINUE + GCM 4K",
	  FLOOR_UFFD_GCM, work_eldu_thrash, ELDU_THRASH_PAGES, 1.5, 1.0, FLOOR_QUIT, FLOOR_QUIT,
	  NULL },
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

static void run_part(const struct part *p, int rounds)
{
	struct bench_case cases[2] = {
		{ remote_floor, (void *)(intptr_t)p->kind },
		{ p->work, NULL },
	};
	double *s = calloc(2 * (size_t)rounds, sizeof(*s)), warm[2];
	struct bench_ratio r;
	char buf[128];

	if (!s)
		die("calloc");
	/* One unrecorded round: first touches of code, stacks and EPC. */
	bench_interleave(cases, 2, 1, p->iters, warm);
	bench_interleave(cases, 2, rounds, p->iters, s);
	bench_ratio(&r, s + rounds, s, rounds);
	printf("%s: work %.2f us, floor (%s) %.2f us\n", p->what, r.num * 1e6, p->floor,
	       r.den * 1e6);
	if (p->aside) {
		/* Two floors of their own rounds, paired as the work is. */
		struct bench_case pair[2] = {
			{ remote_floor, (void *)(intptr_t)p->aside_num },
			{ remote_floor, (void *)(intptr_t)p->aside_den },
		};
		double *t = calloc(2 * (size_t)rounds, sizeof(*t));
		struct bench_ratio ar;

		if (!t)
			die("calloc");
		bench_interleave(pair, 2, rounds, ENTER_ITERS / 4, t);
		bench_ratio(&ar, t, t + rounds, rounds);
		printf("  (%s %s)\n", p->aside, bench_fmt(buf, sizeof(buf), &ar));
		free(t);
	}
	printf("| %-38s | %-70s | <= %.1f | %s |\n", p->what, bench_fmt(buf, sizeof(buf), &r),
	       p->target, bench_verdict(&r, p->target, true, p->bound));
	fflush(stdout);
	free(s);
}

int main(int argc, char **argv)
{
	const char *list;
	bool filled = false;
	int rounds;

	if (argc == 4 && !strcmp(argv[1], "--floor"))
		return floor_server(atoi(argv[2]), atoi(argv[3]));
	if (argc < 4) {
		fprintf(stderr, "usage: softsgx exec -- %s ENCL.sgxs ENCL.sig "
			"enter,eaug,eldu,eldu-thrash [ROUNDS]\n", argv[0]);
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
	/* Before the enclave exists: the child has nothing of it to inherit. */
	start_server();
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
		if ((p->work == work_eldu || p->work == work_eldu_thrash) && !filled) {
			struct encl_op fill = ht_op(ENCL_OP_FILL, heap, ELDU_SEED, heap_len);

			check(heap_len >= 4 * ELDU_THRASH_PAGES * PG, "a heap of 4 samples at least");
			check(ht_call(e.tcs[0], &fill), "filling the heap");
			filled = true;
		}
		if (p->work == work_eaug)
			check(e.added_end + p->iters * PG <= e.size, "room for EAUG");
		run_part(p, rounds);
	}
	stop_server();
	encl_unload(&e);
	return 0;
}
