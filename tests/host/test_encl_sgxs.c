// SPDX-License-Identifier: MIT
/*
 * The test enclaves as the loader reads them, without a device: the layout
 * encl_ops.h promises (TCS pages, measured code and slots, unmeasured heap,
 * SECS size) is what the build produced, and broken streams are refused.
 * Usage: test_encl_sgxs SMALL.sgxs BIG.sgxs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_test.h"

#define CODE_PAGES (ENCL_DATA_OFFSET / ENCL_PAGE_SIZE)
#define FIXED_PAGES (ENCL_HEAP_OFFSET / ENCL_PAGE_SIZE)

static void check(const char *path, uint64_t size, uint64_t heap_pages)
{
	struct encl_sgxs_summary s;
	bool tcs_ok = true;
	int r = encl_sgxs_summary(path, &s);

	tap_ok(!r, "%s parses", path);
	tap_ok(s.size == size && s.ssaframesize == 1, "SECS.SIZE 0x%llx, SSAFRAMESIZE 1",
	       (unsigned long long)size);
	for (unsigned int i = 0; i < ENCL_NR_TCS; i++)
		tcs_ok &= s.tcs[i] == ENCL_SLOTS_OFFSET + i * ENCL_SLOT_SIZE;
	tap_ok(s.nr_tcs == ENCL_NR_TCS && tcs_ok, "%u TCS pages, one at the start of each slot",
	       s.nr_tcs);
	tap_ok(s.nr_pages == FIXED_PAGES + heap_pages &&
	       s.added_end == ENCL_HEAP_OFFSET + heap_pages * ENCL_PAGE_SIZE,
	       "%llu pages added, the heap ends at 0x%llx", (unsigned long long)s.nr_pages,
	       (unsigned long long)s.added_end);
	tap_ok(s.nr_measured == FIXED_PAGES && s.nr_exec == CODE_PAGES,
	       "code, data and slots measured (%llu), heap not; %llu executable pages",
	       (unsigned long long)s.nr_measured, (unsigned long long)s.nr_exec);
}

/* A copy of @src cut to @len bytes, with @tag written at byte @at if non-NULL. */
static char *broken_copy(const char *src, size_t len, size_t at, const char *tag)
{
	static char path[] = "/tmp/test_encl_sgxs.XXXXXX";
	char *buf = malloc(len);
	FILE *f = fopen(src, "rb");
	int fd;

	if (!buf || !f || fread(buf, 1, len, f) != len) {
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	fclose(f);
	if (tag)
		memcpy(buf + at, tag, 8);
	strcpy(path, "/tmp/test_encl_sgxs.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		free(buf);
		return NULL;
	}
	close(fd);
	free(buf);
	return path;
}

static void check_refused(const char *src)
{
	struct encl_sgxs_summary s;
	char *p;

	fprintf(stderr, "test_encl_sgxs: the next three messages are expected\n");
	p = broken_copy(src, 64 + 64 + 64 + 100, 0, NULL);	/* inside an EEXTEND's data */
	tap_ok(p && encl_sgxs_summary(p, &s) < 0, "a truncated stream is refused");
	if (p)
		unlink(p);
	p = broken_copy(src, 64 * 4, 64, "EREMOVE\0");
	tap_ok(p && encl_sgxs_summary(p, &s) < 0, "an unknown record is refused");
	if (p)
		unlink(p);
	p = broken_copy(src, 64 * 4, 0, "EADD\0\0\0\0");
	tap_ok(p && encl_sgxs_summary(p, &s) < 0, "a stream not starting with ECREATE is refused");
	if (p)
		unlink(p);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SMALL.sgxs BIG.sgxs\n", argv[0]);
		return 2;
	}
	check(argv[1], 0x1000000, 64);
	check(argv[2], 0x4000000, 4096);
	check_refused(argv[1]);
	return tap_done();
}
