/* SPDX-License-Identifier: MIT */
/*
 * The test enclave's interface, shared by the enclave (tests/enclave) and the
 * host programs (tests/host). The host passes a pointer to a struct encl_op in
 * untrusted memory in RDI; the enclave does the operation and writes @ret and
 * @status back. See docs/test-enclaves.md.
 */
#ifndef SOFTSGX_TEST_ENCL_OPS_H
#define SOFTSGX_TEST_ENCL_OPS_H

#include <stdint.h>

/*
 * Enclave layout (offsets from the enclave base). The code segment starts at
 * 0, the data segment at ENCL_DATA_OFFSET; ENCL_NR_TCS thread slots follow,
 * each ENCL_SLOT_SIZE bytes:
 *   +0x0000 TCS (NSSA 2, OSSA = +0x1000, OFSBASE = OGSBASE = +0x3000)
 *   +0x1000 two SSA frames (SSAFRAMESIZE 1)
 *   +0x3000 thread record (struct encl_thread_rec)
 *   +0x4000 .. +0xA000 stack of the exception entry (CSSA 1)
 *   +0xA000 .. +0x10000 stack of the normal entry (CSSA 0)
 * The entry stub finds the stack from RBX (the TCS address) alone, so a
 * TCS built at run time in an EAUG'd slot works the same way.
 * The heap (regular pages added unmeasured) starts at ENCL_HEAP_OFFSET; its
 * size and SECS.SIZE come from the layout file (encl.layout, encl_big.layout).
 * Everything from the end of the heap to the end of ELRANGE is left unadded
 * for EAUG.
 */
#define ENCL_PAGE_SIZE 0x1000UL
#define ENCL_DATA_OFFSET 0x10000UL
#define ENCL_SLOTS_OFFSET 0x20000UL
#define ENCL_SLOT_SIZE 0x10000UL
#define ENCL_NR_TCS 8
#define ENCL_HEAP_OFFSET (ENCL_SLOTS_OFFSET + ENCL_NR_TCS * ENCL_SLOT_SIZE)
#define ENCL_NSSA 2
#define ENCL_SLOT_SSA 0x1000UL
#define ENCL_SLOT_REC 0x3000UL
#define ENCL_SLOT_STACK1_TOP 0xA000UL
#define ENCL_SLOT_STACK0_TOP 0x10000UL

/* Operations (struct encl_op.op). a, b, c are the arguments. */
enum encl_op_code {
	ENCL_OP_RETURN,		/* ret = a ^ ENCL_RETURN_MAGIC; status = 0 */
	ENCL_OP_COPY_IN,	/* copy c bytes from host address b to enclave address a */
	ENCL_OP_COPY_OUT,	/* copy c bytes from enclave address a to host address b */
	ENCL_OP_READ,		/* ret = the u64 at a (faulting op) */
	ENCL_OP_WRITE,		/* store the u64 b at a (faulting op) */
	ENCL_OP_READ_WRITE,	/* read the u64 at a, then store b there (faulting op) */
	ENCL_OP_EACCEPT,	/* EACCEPT every page of [a, a + c) with SECINFO.FLAGS b;
				 * status = first non-zero RAX, ret = pages accepted */
	ENCL_OP_EMODPE,		/* EMODPE page a with SECINFO.FLAGS b; ret = RAX after it,
				 * ENCL_FAULTED when it faulted and the exception entry
				 * skipped it */
	ENCL_OP_EREPORT,	/* host b: struct encl_report_io; REPORT of TARGETINFO/data */
	ENCL_OP_EGETKEY,	/* host b: struct encl_key_io; status = EGETKEY's RAX */
	ENCL_OP_UD2,		/* ud2 (faulting op) */
	ENCL_OP_DIV0,		/* divide by zero (faulting op) */
	ENCL_OP_INT3,		/* int3, then return normally (faulting op) */
	ENCL_OP_SPIN,		/* spin until the u64 at host address b is non-zero;
				 * first store 1 at host address a unless a is 0;
				 * ret = iterations */
	ENCL_OP_FILL,		/* write u64 pattern encl_pattern(a + off, b) over [a, a + c) */
	ENCL_OP_CHECK,		/* status = bytes of [a, a + c) differing from the pattern
				 * of seed b (0 = intact); ret = checksum of the range */
	ENCL_OP_INIT_TCS,	/* write a TCS for a slot at enclave address a (page-aligned,
				 * its pages already accepted RW) */
	ENCL_OP_THREAD_REC,	/* copy this TCS's struct encl_thread_rec to host address b */
	ENCL_OP_LEAF_REGS,	/* EREPORT (TARGETINFO and data zero) with registers set from
				 * seed a; status = the bits that changed (0 = none) */
	ENCL_OP_STORE_REGS,	/* store a at address b with registers set from a around the
				 * store, which may fault and be resumed; status = the bits
				 * that changed (0 = none) */
	ENCL_OP_WIDE_REGS,	/* EREPORT (c = 0) or EACCEPT of the page c as a new RW
				 * page, with every vector register of width b (1 XMM,
				 * 2 YMM, 3 ZMM and opmasks), MXCSR and the x87 control
				 * word set from seed a; status = the lanes that changed
				 * (0 = none), ret = the leaf's RAX */
	ENCL_OP_MAX,
};

#define ENCL_RETURN_MAGIC 0x5eed5a5e5a5eed00ULL
/* ret of a faulting op whose fault the exception entry redirected. */
#define ENCL_FAULTED 0xfa017ed0fa017ed0ULL
/* status values */
#define ENCL_BAD_OP 0xbad0bad0ULL

struct encl_op {
	uint64_t op;
	uint64_t a, b, c;
	uint64_t ret;		/* out */
	uint64_t status;	/* out */
};

/*
 * Per-TCS record in the slot, written by the exception entry (EENTER with
 * CSSA > 0): what the interrupted frame held.
 */
struct encl_thread_rec {
	uint64_t exceptions;	/* exception entries on this TCS */
	uint64_t exitinfo;	/* GPRSGX.EXITINFO of the last one */
	uint64_t rip;		/* its interrupted RIP, as an enclave offset */
	uint64_t redirected;	/* 1 if it was in a faulting op and now returns ENCL_FAULTED */
	uint64_t entries;	/* normal entries (CSSA 0) on this TCS */
};

/* For ENCL_OP_EREPORT: inputs copied into the enclave, REPORT copied out. */
struct encl_report_io {
	uint8_t targetinfo[512];
	uint8_t reportdata[64];
	uint8_t report[432];
};

/* For ENCL_OP_EGETKEY: KEYREQUEST in, 16-byte key out. */
struct encl_key_io {
	uint8_t keyrequest[512];
	uint8_t key[16];
};

/* SECINFO.FLAGS bits */
#define ENCL_SI_R 0x1ULL
#define ENCL_SI_W 0x2ULL
#define ENCL_SI_X 0x4ULL
#define ENCL_SI_PENDING 0x8ULL
#define ENCL_SI_MODIFIED 0x10ULL
#define ENCL_SI_PR 0x20ULL
#define ENCL_SI_TCS (1ULL << 8)
#define ENCL_SI_REG (2ULL << 8)
#define ENCL_SI_TRIM (4ULL << 8)

/* The fill pattern: a function of the address's enclave offset and a seed. */
static inline uint64_t encl_pattern(uint64_t offset, uint64_t seed)
{
	uint64_t x = (offset + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	return x ^ (x >> 29);
}

#endif
