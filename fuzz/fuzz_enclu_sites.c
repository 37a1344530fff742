// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the trap-free ENCLU site finder (host/enclu_sites.c):
 * any bytes, at any page offset.  Every site it reports must be one a stub
 * can take over exactly: the mov's own bytes with a known in-enclave leaf,
 * the ENCLU's bytes, the copied instructions between them in order, the
 * jump's 5 bytes in one page; and where it stopped must lie in the range.
 * A violation aborts (libFuzzer reports it as a crash).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enclu_sites.h"

static bool leaf_ok(uint32_t l)
{
	return l == 0 || l == 1 || l == 4 || l == 5 || l == 6 || l == 7 || l == 9;
}

static void check(const struct found_site *s, const uint8_t *code, uint64_t la, uint64_t end)
{
	const uint8_t *m, *e;

	if (s->mov < la || s->enclu + 3 > end || s->enclu <= s->mov || s->enclu - s->mov > 64)
		abort();
	if ((s->mov & 4095) + 5 > 4096 || !leaf_ok(s->leaf) || s->nreloc > MAX_RELOC)
		abort();
	m = code + (s->mov - la);
	e = code + (s->enclu - la);
	if (e[0] != 0x0f || e[1] != 0x01 || e[2] != 0xd7)
		abort();
	if (s->mov_len == 5) {
		if (m[0] != 0xb8 || m[1] != s->leaf || m[2] || m[3] || m[4])
			abort();
	} else if (s->mov_len == 7) {
		if (m[0] != 0x48 || m[1] != 0xc7 || m[2] != 0xc0 || m[3] != s->leaf || m[4] || m[5] ||
		    m[6])
			abort();
	} else {
		abort();
	}
	for (int i = 0; i < s->nreloc; i++) {
		uint64_t prev = i ? s->reloc_from[i - 1] : s->mov_len - 1U;

		if (s->reloc_from[i] <= prev || s->reloc_from[i] >= s->enclu - s->mov)
			abort();
	}
	if (s->nreloc && s->reloc_from[0] != s->mov_len)
		abort();
	if (!s->nreloc && s->mov + s->mov_len != s->enclu)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static csh cs;
	static cs_insn *in;
	struct found_site out[16];
	uint64_t la, resume;
	int n;

	if (!in) {
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
			abort();
		cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
		in = cs_malloc(cs);
	}
	if (size < 2)
		return 0;
	/* The first two bytes place the code in its page. */
	la = 0x7f0000000000ULL + ((data[0] | (uint64_t)data[1] << 8) & 4095);
	data += 2;
	size -= 2;
	n = shim_enclu_sweep(cs, in, data, la, la + size, out, 0, 16, &resume);
	if (n < 0 || n > 16 || resume < la || resume > la + size)
		abort();
	for (int i = 0; i < n; i++)
		check(&out[i], data, la, la + size);
	return 0;
}
