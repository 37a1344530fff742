// SPDX-License-Identifier: MIT
/*
 * Run a test_exec_* program under `softsgx exec --stats` and check what the
 * driver says when it exits.  The program's TAP passes through (its plan
 * dropped), then come these cases: it exited with 0; its stats line shows
 * every EPC page back (free = total, used 0, leaked 0); and each CHECK.
 * Usage: stats_check [CHECK...] -- softsgx exec ... --stats -- PROGRAM ...
 * CHECK is NAME OP NUMBER with OP one of =, >, <=: NAME a counter of the
 * stats line (total, free, used, leaked, ewb, eldu, eaug, eremove,
 * oom_kills, etrack_ipis), of the trap-free ENCLU line (stub_sites,
 * stub_fast, stub_slow, stub_rewinds, stub_deferred, stub_forward,
 * stub_contended, stub_eresume: 0 when
 * it is off), or cg:PATH:FILE for a cgroup's misc.FILE
 * (current, max, peak, events; "max" reads as 2^64 - 1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_test.h"

enum { TOTAL, FREE, USED, LEAKED, EWB, ELDU, EAUG, EREMOVE, OOM_KILLS, ETRACK_IPIS, NR_STATS,
       STUB_SITES = NR_STATS, STUB_FAST, STUB_SLOW, STUB_REWINDS, STUB_DEFERRED, STUB_FORWARD,
       STUB_CONTENDED, STUB_ERESUME, NR_ALL };
static const char *const stat_names[NR_ALL] = {
	"total", "free", "used", "leaked", "ewb", "eldu", "eaug", "eremove", "oom_kills",
	"etrack_ipis", "stub_sites", "stub_fast", "stub_slow", "stub_rewinds", "stub_deferred",
	"stub_forward", "stub_contended", "stub_eresume",
};
/* The stub counters are 0 when their line is missing (trap-free ENCLU off). */
static unsigned long long stats[NR_ALL];
static bool have_stats;

#define MAX_CGROUPS 64
static struct {
	char path[256];
	unsigned long long current, max, peak, events;
} cgroups[MAX_CGROUPS];
static int nr_cgroups;

/* The stats lines real.c prints; the last ones win. */
static void parse_line(const char *l)
{
	unsigned long long *s = stats;
	char path[256], max[32];
	unsigned long long cur, peak, events;

	if (sscanf(l, "softsgx: EPC pages total %llu free %llu used %llu leaked %llu; EWB %llu "
		   "ELDU %llu EAUG %llu EREMOVE %llu; OOM kills %llu; ETRACK IPIs %llu",
		   &s[TOTAL], &s[FREE], &s[USED], &s[LEAKED], &s[EWB], &s[ELDU], &s[EAUG],
		   &s[EREMOVE], &s[OOM_KILLS], &s[ETRACK_IPIS]) == NR_STATS) {
		have_stats = true;
		return;
	}
	if (sscanf(l, "softsgx: fast ENCLU sites %llu; leaves fast %llu slow %llu; rewinds %llu "
		   "deferred %llu forward %llu contended %llu; vDSO ERESUMEs %llu", &s[STUB_SITES],
		   &s[STUB_FAST], &s[STUB_SLOW], &s[STUB_REWINDS], &s[STUB_DEFERRED],
		   &s[STUB_FORWARD], &s[STUB_CONTENDED], &s[STUB_ERESUME]) == 8)
		return;
	if (sscanf(l, "softsgx: cgroup %255[^:]: misc.current sgx_epc %llu; misc.max sgx_epc "
		   "%31[^;]; misc.peak sgx_epc %llu; misc.events sgx_epc.max %llu", path, &cur,
		   max, &peak, &events) != 5 || nr_cgroups == MAX_CGROUPS)
		return;
	snprintf(cgroups[nr_cgroups].path, sizeof(cgroups[0].path), "%s", path);
	cgroups[nr_cgroups].current = cur;
	cgroups[nr_cgroups].max = strcmp(max, "max") ? strtoull(max, NULL, 10) : ~0ULL;
	cgroups[nr_cgroups].peak = peak;
	cgroups[nr_cgroups++].events = events;
}

/* The value NAME stands for; false when the run did not print it. */
static bool lookup(const char *name, size_t len, unsigned long long *v)
{
	static const char *const files[] = { "current", "max", "peak", "events" };

	for (int i = 0; i < NR_ALL; i++)
		if (strlen(stat_names[i]) == len && !strncmp(name, stat_names[i], len)) {
			*v = stats[i];
			return have_stats;
		}
	if (len < 4 || strncmp(name, "cg:", 3))
		return false;
	const char *file = name + len;

	while (file > name + 3 && file[-1] != ':')
		file--;
	for (int c = nr_cgroups - 1; c >= 0; c--) {
		size_t plen = (size_t)(file - 1 - (name + 3));

		if (strlen(cgroups[c].path) != plen || strncmp(cgroups[c].path, name + 3, plen))
			continue;
		for (int f = 0; f < 4; f++) {
			if (strlen(files[f]) != (size_t)(name + len - file) ||
			    strncmp(file, files[f], strlen(files[f])))
				continue;
			*v = f == 0 ? cgroups[c].current : f == 1 ? cgroups[c].max :
			     f == 2 ? cgroups[c].peak : cgroups[c].events;
			return true;
		}
		return false;
	}
	return false;
}

static void check(const char *c)
{
	size_t len = strcspn(c, "=<>");
	unsigned long long have, want;
	const char *op = c + len, *num;
	char *end;
	bool ok;

	num = op + (!strncmp(op, "<=", 2) ? 2 : 1);
	want = strtoull(num, &end, 0);
	if (!*op || end == num || *end) {
		tap_ok(false, "%s: not NAME OP NUMBER", c);
		return;
	}
	if (!lookup(c, len, &have)) {
		tap_ok(false, "%s: %.*s is not in the stats", c, (int)len, c);
		return;
	}
	ok = op[0] == '=' ? have == want : op[0] == '>' ? have > want : have <= want;
	tap_ok(ok, "%s (it is %llu)", c, have);
}

int main(int argc, char **argv)
{
	int dd = 1, out[2], errfd, status;
	unsigned int n = 0, failed = 0;
	bool skipped = false;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	pid_t pid;

	while (dd < argc && strcmp(argv[dd], "--"))
		dd++;
	if (dd + 1 >= argc) {
		fprintf(stderr, "usage: %s [CHECK...] -- COMMAND...\n", argv[0]);
		return 2;
	}
	errfd = memfd_create("stderr", MFD_CLOEXEC);
	if (errfd < 0 || pipe(out)) {
		printf("Bail out! %s\n", strerror(errno));
		return 1;
	}
	pid = fork();
	if (!pid) {
		dup2(out[1], 1);
		dup2(errfd, 2);
		close(out[0]);
		close(out[1]);
		execvp(argv[dd + 1], argv + dd + 1);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	while (f && getline(&line, &cap, f) > 0) {
		if (!strncmp(line, "1..", 3)) {
			skipped |= strstr(line, "# SKIP") != NULL;
			continue;
		}
		if (!strncmp(line, "ok ", 3))
			n++;
		else if (!strncmp(line, "not ok ", 7))
			n++, failed++;
		fputs(line, stdout);
		fflush(stdout);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;

	/* The program's stderr, for the log, and its stats lines. */
	FILE *err = fdopen(errfd, "r");

	if (err)
		rewind(err);
	while (err && getline(&line, &cap, err) > 0) {
		fputs(line, stderr);
		parse_line(line);
	}
	free(line);
	if (skipped && !n) {
		printf("1..0 # SKIP the program skipped itself\n");
		return 0;
	}
	tap_continue(n, failed);
	tap_ok(WIFEXITED(status) && !WEXITSTATUS(status), "%s exited with status 0 (%d)",
	       argv[dd + 1], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	tap_ok(have_stats && stats[FREE] == stats[TOTAL] && !stats[USED] && !stats[LEAKED],
	       "every EPC page is free again at exit: total %llu free %llu used %llu leaked %llu",
	       stats[TOTAL], stats[FREE], stats[USED], stats[LEAKED]);
	for (int c = 0; c < nr_cgroups; c++)
		tap_ok(!cgroups[c].current, "cgroup %s holds no EPC at exit (%llu bytes)",
		       cgroups[c].path, cgroups[c].current);
	for (int i = 1; i < dd; i++)
		check(argv[i]);
	return tap_done();
}
