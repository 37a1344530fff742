// SPDX-License-Identifier: MIT
/*
 * Trap-free ENCLU: which ENCLUs of an enclave's code a stub can take over
 * (enclu_patch.c writes the stubs).  A site is an ENCLU whose leaf is the
 * immediate of a "mov $leaf, %eax" (b8 imm32) or "mov $leaf, %rax"
 * (48 c7 c0 imm32) at most MAX_RELOC instructions before it, with only
 * instructions between that may run at another address and leave RAX
 * alone: no branch, call, return or interrupt, no RIP-relative operand, no
 * write of RAX or a part of it.  The leaf must be one that runs inside an
 * enclave.  The mov must not cross a page: its 5 bytes become the jump.
 */
#include <capstone/capstone.h>
#include <stdbool.h>
#include <string.h>

#include "enclu_sites.h"
#include "softsgx/arch.h"

struct cand {
	uint64_t addr;
	uint8_t size;
	bool mov;        /* mov $leaf, %eax|%rax of a known leaf */
	bool movable;    /* may run elsewhere, and leaves RAX alone */
	uint32_t imm;
};

static bool leaf_known(uint64_t v)
{
	return v == EREPORT || v == EGETKEY || v == EEXIT || v == EACCEPT || v == EMODPE ||
	       v == EACCEPTCOPY || v == EDECCSSA;
}

static bool writes_rax(csh cs, const cs_insn *in)
{
	cs_regs r, w;
	uint8_t nr, nw;

	if (cs_regs_access(cs, in, r, &nr, w, &nw))
		return true;
	for (int i = 0; i < nw; i++)
		if (w[i] == X86_REG_RAX || w[i] == X86_REG_EAX || w[i] == X86_REG_AX ||
		    w[i] == X86_REG_AL || w[i] == X86_REG_AH)
			return true;
	return false;
}

static void classify(csh cs, const cs_insn *in, struct cand *c)
{
	const cs_x86 *x = &in->detail->x86;

	c->addr = in->address;
	c->size = (uint8_t)in->size;
	c->mov = false;
	c->movable = true;
	if (in->id == X86_INS_MOV && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	    (x->operands[0].reg == X86_REG_EAX || x->operands[0].reg == X86_REG_RAX) &&
	    x->operands[1].type == X86_OP_IMM && leaf_known((uint64_t)x->operands[1].imm) &&
	    ((in->size == 5 && in->bytes[0] == 0xb8) ||
	     (in->size == 7 && in->bytes[0] == 0x48 && in->bytes[1] == 0xc7 &&
	      in->bytes[2] == 0xc0))) {
		c->mov = true;
		c->imm = (uint32_t)x->operands[1].imm;
	}
	for (int g = 0; g < in->detail->groups_count; g++) {
		uint8_t grp = in->detail->groups[g];

		if (grp == CS_GRP_JUMP || grp == CS_GRP_CALL || grp == CS_GRP_RET ||
		    grp == CS_GRP_INT || grp == CS_GRP_IRET || grp == CS_GRP_PRIVILEGE ||
		    grp == CS_GRP_BRANCH_RELATIVE)
			c->movable = false;
	}
	switch (in->id) {
	case X86_INS_SYSCALL: case X86_INS_SYSENTER: case X86_INS_ENCLU: case X86_INS_ENCLS:
	case X86_INS_XBEGIN: case X86_INS_XEND: case X86_INS_XABORT:
	case X86_INS_UD2: case X86_INS_INT3: case X86_INS_HLT: case X86_INS_CPUID:
	case X86_INS_RDTSCP:
		c->movable = false;
		break;
	default:
		break;
	}
	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == X86_REG_RIP)
			c->movable = false;
	if (writes_rax(cs, in))
		c->movable = false;
}

/* The instructions remembered before an ENCLU: the mov and up to MAX_RELOC more. */
#define RING (MAX_RELOC + 2)

/**
 * shim_enclu_sweep() - find the ENCLU sites a stub can take over
 * @cs: a Capstone handle (x86-64, details on)
 * @in: an instruction buffer of @cs
 * @bytes: the code, as it sits at linear address @la
 * @la: its first byte's address
 * @end: one past its last byte's
 * @out: the sites found are added here
 * @n: how many @out has already
 * @max: its room
 * @resume: set to where decoding stopped: @end, or the start of the last
 *          instruction, which may go on past @end (a sweep of the bytes
 *          that follow starts there)
 *
 * A linear sweep: after bytes that are not an instruction, the next byte
 * starts one, and nothing before counts.  @la must be the start of an
 * instruction, or a misaligned decoding could find a mov that is not one.
 *
 * Return: the new count of @out.
 */
int shim_enclu_sweep(csh cs, cs_insn *in, const uint8_t *bytes, uint64_t la, uint64_t end,
		     struct found_site *out, int n, int max, uint64_t *resume)
{
	struct cand ring[RING];
	int len = 0;
	const uint8_t *p = bytes;
	size_t left = end - la;
	uint64_t a = la;

	*resume = end;
	while (left && n < max) {
		if (!cs_disasm_iter(cs, &p, &left, &a, in)) {
			/* Perhaps an instruction that goes on past @end: it starts there. */
			if (left < 15) {
				*resume = a;
				break;
			}
			p++, left--, a++;
			len = 0;
			continue;
		}
		if (in->id == X86_INS_ENCLU && in->size == 3) {
			/* The nearest mov before it, with only movable instructions between. */
			for (int i = len - 1; i >= 0 && len - 1 - i <= MAX_RELOC; i--) {
				struct cand *c = &ring[i];

				if (c->mov) {
					struct found_site *s = &out[n];

					/* The jump is written into one page. */
					if ((c->addr & 4095) + 5 > 4096)
						break;
					s->mov = c->addr;
					s->enclu = in->address;
					s->leaf = c->imm;
					s->mov_len = c->size;
					s->nreloc = 0;
					/* At most MAX_RELOC by the loop above; said again for gcc -O3. */
					for (int j = i + 1; j < len && s->nreloc < MAX_RELOC; j++)
						s->reloc_from[s->nreloc++] =
							(uint8_t)(ring[j].addr - c->addr);
					if (s->enclu - s->mov <= 64)
						n++;
					break;
				}
				if (!c->movable)
					break;
			}
			len = 0;
			continue;
		}
		if (len == RING) {
			/* The oldest is too far from any ENCLU to come: drop it. */
			memmove(ring, ring + 1, sizeof(ring[0]) * (RING - 1));
			len--;
		}
		classify(cs, in, &ring[len]);
		len++;
	}
	return n;
}

