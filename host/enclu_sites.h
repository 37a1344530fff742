/* SPDX-License-Identifier: MIT */
/* Trap-free ENCLU: finding the sites (enclu_sites.c). */
#ifndef SOFTSGX_HOST_ENCLU_SITES_H
#define SOFTSGX_HOST_ENCLU_SITES_H

#include <capstone/capstone.h>
#include <stdint.h>

/* Instructions between the mov and the ENCLU that a stub copies, at most. */
#define MAX_RELOC 6

struct found_site {
	uint64_t mov, enclu;         /* addresses of the mov and of the ENCLU */
	uint32_t leaf;
	uint8_t mov_len, nreloc;
	uint8_t reloc_from[MAX_RELOC]; /* each copied instruction, from the mov */
};

int shim_enclu_sweep(csh cs, cs_insn *in, const uint8_t *bytes, uint64_t la, uint64_t end,
		     struct found_site *out, int n, int max, uint64_t *resume);

#endif
