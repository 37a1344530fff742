// SPDX-License-Identifier: MIT
/*
 * Test enclave body: freestanding C, no libc. encl_entry (encl_entry.S) calls
 * encl_body() on a normal entry and encl_exception() when EENTER finds an
 * active SSA frame (CSSA > 0), i.e. after an exception the host saw.
 */
#include <stddef.h>
#include <stdint.h>

#include "encl_ops.h"

/*
 * Everything is local to the enclave image: no GOT, so code and data work at
 * whatever base the loader picks without relocation.
 */
#pragma GCC visibility push(hidden)

#define EREPORT 0
#define EGETKEY 1
#define EACCEPT 5
#define EMODPE 6

/* GPRSGX: the last 184 bytes of an SSA frame. */
struct gprsgx {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags, rip, ursp, urbp;
	uint32_t exitinfo;
	uint8_t reserved[3];
	uint8_t aexnotify;
	uint64_t fsbase, gsbase;
};
_Static_assert(sizeof(struct gprsgx) == 184, "GPRSGX is 184 bytes");

struct secinfo {
	uint64_t flags;
	uint64_t reserved[7];
} __attribute__((aligned(64)));

extern const char __encl_base[];
extern const char encl_faulting_start[], encl_faulting_end[], encl_fault_landing[];
extern const char encl_emodpe_enclu[];
uint64_t encl_read64(const uint64_t *p);
uint64_t encl_write64(uint64_t *p, uint64_t v);
uint64_t encl_read_write64(uint64_t *p, uint64_t v);
uint64_t encl_ud2(void);
uint64_t encl_div0(uint64_t n);
uint64_t encl_int3(void);
uint64_t encl_ereport(uint64_t targetinfo, uint64_t reportdata, uint64_t report);
uint64_t encl_egetkey(uint64_t keyrequest, uint64_t key);
uint64_t encl_eaccept(uint64_t secinfo, uint64_t addr);
uint64_t encl_emodpe(uint64_t secinfo, uint64_t addr);
uint64_t encl_ereport_regs(uint64_t ti, uint64_t data, uint64_t report, uint64_t seed);
uint64_t encl_leaf_wide(uint64_t leaf, uint64_t rbx, uint64_t rcx, uint64_t seed,
			uint64_t width, uint64_t rdx);
uint64_t encl_store_regs(uint64_t *p, uint64_t seed);
extern const char encl_entry[];

uint64_t encl_body(struct encl_op *op, uint64_t rsi, uint64_t tcs);
uint64_t encl_exception(uint64_t cssa, uint64_t tcs);

/* The compiler may emit calls to these even in freestanding code. */
void *memcpy(void *dst, const void *src, size_t n)
{
	volatile uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	volatile uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

static uint64_t base(void)
{
	return (uint64_t)__encl_base;
}

static struct encl_thread_rec *thread_rec(uint64_t tcs)
{
	return (struct encl_thread_rec *)(tcs + ENCL_SLOT_REC);
}

static uint64_t do_eaccept(uint64_t addr, uint64_t len, uint64_t flags, uint64_t *status)
{
	struct secinfo si = { .flags = flags };
	uint64_t n = 0;

	*status = 0;
	for (uint64_t p = addr; p < addr + len; p += ENCL_PAGE_SIZE) {
		uint64_t r = encl_eaccept((uint64_t)&si, p);

		if (r) {
			*status = r;
			break;
		}
		n++;
	}
	return n;
}

static void init_tcs(uint64_t tcs)
{
	uint64_t *t = (uint64_t *)tcs;
	uint64_t off = tcs - base();

	memset(t, 0, ENCL_PAGE_SIZE);
	t[2] = off + ENCL_SLOT_SSA;				/* OSSA */
	t[3] = (uint64_t)ENCL_NSSA << 32;			/* CSSA 0, NSSA */
	t[4] = (uint64_t)encl_entry - base();			/* OENTRY */
	t[6] = off + ENCL_SLOT_REC;				/* OFSBASE */
	t[7] = off + ENCL_SLOT_REC;				/* OGSBASE */
	t[8] = 0xFFFFFFFFFFFFFFFFULL;				/* FS/GS limits */
}

static uint64_t check(const struct encl_op *op, uint64_t *sum)
{
	const volatile uint64_t *p = (const uint64_t *)op->a;
	uint64_t bad = 0, s = 0;

	for (uint64_t i = 0; i < op->c / 8; i++) {
		uint64_t v = p[i];

		s = (s ^ v) * 0x100000001b3ULL;
		if (v != encl_pattern(op->a + 8 * i - base(), op->b))
			bad += 8;
	}
	*sum = s;
	return bad;
}

uint64_t encl_body(struct encl_op *op, uint64_t rsi, uint64_t tcs)
{
	uint64_t ret = 0, status = 0;

	(void)rsi;
	thread_rec(tcs)->entries++;
	switch (op->op) {
	case ENCL_OP_RETURN:
		ret = op->a ^ ENCL_RETURN_MAGIC;
		break;
	case ENCL_OP_COPY_IN:
		memcpy((void *)op->a, (const void *)op->b, op->c);
		break;
	case ENCL_OP_COPY_OUT:
		memcpy((void *)op->b, (const void *)op->a, op->c);
		break;
	case ENCL_OP_READ:
		ret = encl_read64((const uint64_t *)op->a);
		break;
	case ENCL_OP_WRITE:
		ret = encl_write64((uint64_t *)op->a, op->b);
		break;
	case ENCL_OP_READ_WRITE:
		ret = encl_read_write64((uint64_t *)op->a, op->b);
		break;
	case ENCL_OP_EACCEPT:
		ret = do_eaccept(op->a, op->c, op->b, &status);
		break;
	case ENCL_OP_EMODPE: {
		struct secinfo si = { .flags = op->b };

		ret = encl_emodpe((uint64_t)&si, op->a);
		break;
	}
	case ENCL_OP_EREPORT: {
		struct encl_report_io *io = (struct encl_report_io *)op->b;
		uint8_t ti[512] __attribute__((aligned(512)));
		uint8_t data[64] __attribute__((aligned(128)));
		uint8_t report[512] __attribute__((aligned(512)));

		memcpy(ti, io->targetinfo, sizeof(ti));
		memcpy(data, io->reportdata, sizeof(data));
		encl_ereport((uint64_t)ti, (uint64_t)data, (uint64_t)report);
		memcpy(io->report, report, sizeof(io->report));
		break;
	}
	case ENCL_OP_LEAF_REGS: {
		uint8_t ti[512] __attribute__((aligned(512)));
		uint8_t data[64] __attribute__((aligned(128)));
		uint8_t report[512] __attribute__((aligned(512)));

		memset(ti, 0, sizeof(ti));
		memset(data, 0, sizeof(data));
		status = encl_ereport_regs((uint64_t)ti, (uint64_t)data, (uint64_t)report, op->a);
		break;
	}
	case ENCL_OP_WIDE_REGS: {
		uint8_t ti[512] __attribute__((aligned(512)));
		uint8_t data[64] __attribute__((aligned(128)));
		uint8_t report[512] __attribute__((aligned(512)));
		struct secinfo si = { .flags = ENCL_SI_REG | ENCL_SI_PENDING | ENCL_SI_R |
					       ENCL_SI_W };
		uint64_t r;

		memset(ti, 0, sizeof(ti));
		memset(data, 0, sizeof(data));
		if (op->c)
			r = encl_leaf_wide(5, (uint64_t)&si, op->c, op->a, op->b, 0);
		else
			r = encl_leaf_wide(0, (uint64_t)ti, (uint64_t)data, op->a, op->b,
					   (uint64_t)report);
		status = (uint32_t)r;
		ret = r >> 32;
		break;
	}
	case ENCL_OP_STORE_REGS:
		status = encl_store_regs((uint64_t *)op->b, op->a);
		break;
	case ENCL_OP_EGETKEY: {
		struct encl_key_io *io = (struct encl_key_io *)op->b;
		uint8_t req[512] __attribute__((aligned(512)));
		uint8_t key[16] __attribute__((aligned(16)));

		memcpy(req, io->keyrequest, sizeof(req));
		status = encl_egetkey((uint64_t)req, (uint64_t)key);
		memcpy(io->key, key, sizeof(key));
		memset(key, 0, sizeof(key));
		break;
	}
	case ENCL_OP_UD2:
		ret = encl_ud2();
		break;
	case ENCL_OP_DIV0:
		ret = encl_div0(op->a);
		break;
	case ENCL_OP_INT3:
		ret = encl_int3();
		break;
	case ENCL_OP_SPIN: {
		const volatile uint64_t *flag = (const volatile uint64_t *)op->b;

		/* Tells the host the thread is inside, so a test need not sleep. */
		if (op->a)
			*(volatile uint64_t *)op->a = 1;
		while (!*flag)
			ret++;
		break;
	}
	case ENCL_OP_FILL: {
		volatile uint64_t *p = (uint64_t *)op->a;

		for (uint64_t i = 0; i < op->c / 8; i++)
			p[i] = encl_pattern(op->a + 8 * i - base(), op->b);
		break;
	}
	case ENCL_OP_CHECK:
		status = check(op, &ret);
		break;
	case ENCL_OP_INIT_TCS:
		init_tcs(op->a);
		break;
	case ENCL_OP_THREAD_REC:
		memcpy((void *)op->b, thread_rec(tcs), sizeof(struct encl_thread_rec));
		break;
	default:
		status = ENCL_BAD_OP;
		break;
	}
	op->ret = ret;
	op->status = status;
	return ret;
}

/*
 * Exception entry: the frame below CSSA holds the interrupted state. Record
 * it; if the fault hit one of the faulting ops, make ERESUME continue at
 * encl_fault_landing so the op returns ENCL_FAULTED. Returns 1 if redirected.
 * Uses no argument from the host: a user handler re-entering the enclave
 * leaves whatever it likes in RDI and RSI.
 */
uint64_t encl_exception(uint64_t cssa, uint64_t tcs)
{
	uint64_t frame = tcs + ENCL_SLOT_SSA + (cssa - 1) * ENCL_PAGE_SIZE;
	struct gprsgx *g = (struct gprsgx *)(frame + ENCL_PAGE_SIZE - sizeof(struct gprsgx));
	struct encl_thread_rec *rec = thread_rec(tcs);

	rec->exceptions++;
	rec->exitinfo = g->exitinfo;
	rec->rip = g->rip - base();
	rec->redirected = 0;
	if (g->rip >= (uint64_t)encl_faulting_start && g->rip < (uint64_t)encl_faulting_end &&
	    g->rip != (uint64_t)encl_fault_landing) {
		g->rip = (uint64_t)encl_fault_landing;
		rec->redirected = 1;
	} else if (g->rip == (uint64_t)encl_emodpe_enclu) {
		/* An EMODPE that faulted: skipped, encl_emodpe() returns ENCL_FAULTED. */
		g->rip += 3;
		g->rax = ENCL_FAULTED;
		rec->redirected = 1;
	}
	return rec->redirected;
}
