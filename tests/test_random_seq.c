// SPDX-License-Identifier: MIT
/*
 * Random sequences of ENCLS leaves, valid and invalid, checked after every
 * step against invariants that must always hold:
 *   - every valid child page (REG/TCS/TRIM) belongs to a valid SECS;
 *   - each SECS's child count equals the number of valid pages it owns;
 *   - every frame's EPCM agrees with what the test believes the frame holds;
 *   - PENDING/MODIFIED/PR/BLOCKED appear only on child pages;
 *   - the non-zero VA slots are exactly the slots of the evicted pages, and
 *     every reload returns the bytes that were evicted.
 * The seed is printed; SOFTSGX_SEED=N reproduces a run, SOFTSGX_STEPS=N sets
 * its length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "internal.h"
#include "softsgx/measure.h"

#define NFRAMES 48
#define MAXBLOBS 64

enum holds { H_FREE, H_SECS, H_CHILD, H_VA };

struct blob {
	bool used;
	uint64_t *slot;
	uint64_t linaddr;
	void *secs;       /* SECS to reload under (child pages) */
	void *self;       /* the frame it was evicted from */
	uint8_t type;
	uint8_t data[4096] __attribute__((aligned(4096)));
	uint8_t plain[4096];
	struct sgx_pcmd pcmd;
};

static struct sgx_cpu *cpu;
static enum holds holds[NFRAMES];
static struct blob blobs[MAXBLOBS];
static uint64_t rng;
static uint64_t steps_ok, steps_fail;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned int pick(unsigned int n) { return (unsigned int)(rnd() % n); }

static void *frame(unsigned int i) { return t_page(cpu, i); }

static int frame_of(const void *p)
{
	return (int)(((const uint8_t *)p - (const uint8_t *)t_page(cpu, 0)) / 4096);
}

static void check_invariants(void)
{
	uint64_t children[NFRAMES] = { 0 };
	struct sgx_epcm_view v[NFRAMES];

	for (int i = 0; i < NFRAMES; i++) {
		assert_int_equal(sgx_cpu_epcm(cpu, frame(i), &v[i]), 0);
		assert_int_equal(v[i].valid, holds[i] != H_FREE);
		if (!v[i].valid)
			continue;
		switch (v[i].page_type) {
		case SGX_PAGE_TYPE_SECS:
			assert_int_equal(holds[i], H_SECS);
			break;
		case SGX_PAGE_TYPE_VA:
			assert_int_equal(holds[i], H_VA);
			break;
		case SGX_PAGE_TYPE_REG:
		case SGX_PAGE_TYPE_TCS:
		case SGX_PAGE_TYPE_TRIM: {
			assert_int_equal(holds[i], H_CHILD);
			assert_non_null(v[i].secs);
			int s = frame_of(v[i].secs);
			assert_true(s >= 0 && s < NFRAMES);
			children[s]++;
			break;
		}
		default:
			fail_msg("frame %d has page type %u", i, v[i].page_type);
		}
		if (holds[i] != H_CHILD)
			assert_false(v[i].pending || v[i].modified || v[i].pr || v[i].blocked);
	}
	for (int i = 0; i < NFRAMES; i++) {
		if (holds[i] == H_SECS)
			assert_int_equal(sgx_cpu_secs_children(cpu, frame(i)), children[i]);
		else
			assert_int_equal(children[i], 0);
	}
	/* VA slots: non-zero exactly where an evicted page's version lives. */
	for (int i = 0; i < NFRAMES; i++) {
		if (holds[i] != H_VA)
			continue;
		uint64_t *slots = sgx_epc_page_bytes(cpu, frame(i));
		for (int s = 0; s < SGX_VA_SLOT_COUNT; s++) {
			int refs = 0;
			for (int b = 0; b < MAXBLOBS; b++)
				refs += blobs[b].used && blobs[b].slot == &slots[s];
			assert_int_equal(refs, slots[s] != 0);
		}
	}
	for (int b = 0; b < MAXBLOBS; b++)
		if (blobs[b].used)
			assert_int_equal(holds[frame_of(blobs[b].slot)], H_VA);
}

static int free_frame(void)
{
	for (int tries = 0; tries < 8; tries++) {
		unsigned int f = pick(NFRAMES);
		if (holds[f] == H_FREE)
			return (int)f;
	}
	return (int)pick(NFRAMES); /* sometimes a busy one: must fail cleanly */
}

static int frame_holding(enum holds h)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned int f = pick(NFRAMES);
		if (holds[f] == h)
			return (int)f;
	}
	return (int)pick(NFRAMES);
}

static uint64_t secs_base(void *secs)
{
	return ((struct sgx_secs *)sgx_epc_page_bytes(cpu, secs))->base;
}

static void drop_blobs_in_va(int va)
{
	for (int b = 0; b < MAXBLOBS; b++)
		if (blobs[b].used && frame_of(blobs[b].slot) == va)
			blobs[b].used = false;
}

static void note(int r)
{
	if (r == 0)
		steps_ok++;
	else
		steps_fail++;
}

static void op_ecreate(void)
{
	static struct sgx_secs src __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pi = { 0 };
	int f = free_frame();
	int r;

	t_secs_src(&src, (uint64_t)(1 + pick(4)) << 32, 0x10000,
		   SGX_ATTR_MODE64BIT | (pick(2) ? SGX_ATTR_DEBUG : 0));
	if (!pick(8))
		src.size = 0x3000; /* invalid */
	pi.contents = (uint64_t)(uintptr_t)&src;
	pi.metadata = (uint64_t)(uintptr_t)&si;
	r = sgx_ecreate(cpu, &pi, frame(f));
	if (r == 0)
		holds[f] = H_SECS;
	note(r);
}

static void op_eadd(void)
{
	int s = frame_holding(H_SECS), f = free_frame(), r;
	uint8_t src[4096];
	uint64_t flags;

	for (unsigned int i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)rnd();
	flags = pick(4) ? SGX_SECINFO_REG | (1 + pick(7)) : SGX_SECINFO_TCS;
	if ((flags & SGX_SECINFO_PAGE_TYPE_MASK) == SGX_SECINFO_TCS)
		memset(src, 0, sizeof(src));
	if (holds[s] != H_SECS) {
		r = t_eadd(cpu, frame(s), (unsigned int)f, 0x100000000ULL, flags, src);
	} else {
		uint64_t la = secs_base(frame(s)) + pick(20) * 4096ULL;
		r = t_eadd(cpu, frame(s), (unsigned int)f, la, flags, src);
	}
	if (r == 0)
		holds[f] = H_CHILD;
	note(r);
}

static void op_eextend(void)
{
	int s = frame_holding(H_SECS), f = frame_holding(H_CHILD);

	note(sgx_eextend(cpu, frame(s), (uint8_t *)frame(f) + pick(16) * 256));
}

static void op_einit(void)
{
	int s = frame_holding(H_SECS);
	struct sgx_sigstruct ss;
	struct sgx_measure m;
	uint8_t mr[32];

	if (holds[s] != H_SECS) {
		static uint8_t page[4096] __attribute__((aligned(4096)));
		note(sgx_einit(cpu, page, page + 2048, frame(s)));
		return;
	}
	m = secs_hidden(cpu, (uint32_t)s)->mr;
	sgx_measure_final(&m, mr);
	if (!pick(4))
		mr[0] ^= 1;
	t_sigstruct(&ss, mr, ((struct sgx_secs *)sgx_epc_page_bytes(cpu, frame(s)))->attributes,
		    3, t_key());
	note(t_einit(cpu, frame(s), &ss));
}

static void op_eremove(void)
{
	int f = pick(NFRAMES), r = sgx_eremove(cpu, frame(f));

	if (r == 0) {
		if (holds[f] == H_VA)
			drop_blobs_in_va(f);
		holds[f] = H_FREE;
	}
	note(r);
}

static void op_epa(void)
{
	int f = free_frame(), r = sgx_epa(cpu, pick(8) ? SGX_PAGE_TYPE_VA : 2, frame(f));

	if (r == 0)
		holds[f] = H_VA;
	note(r);
}

static void op_eblock(void) { note(sgx_eblock(cpu, frame(frame_holding(H_CHILD)))); }
static void op_etrack(void) { note(sgx_etrack(cpu, frame(frame_holding(H_SECS)))); }

static void op_ewb(void)
{
	int f = pick(3) ? frame_holding(H_CHILD) : frame_holding(H_SECS);
	int va = frame_holding(H_VA), b, r;
	struct sgx_pageinfo pi = { 0 };
	struct sgx_epcm_view v;
	uint64_t *slot;

	if (holds[f] == H_VA)
		return; /* VA-in-VA eviction is covered by test_paging */
	for (b = 0; b < MAXBLOBS && blobs[b].used; b++)
		;
	if (b == MAXBLOBS)
		return;
	slot = (uint64_t *)frame(va) + pick(8);
	sgx_cpu_epcm(cpu, frame(f), &v);
	if (v.valid)
		memcpy(blobs[b].plain, sgx_epc_page_bytes(cpu, frame(f)), 4096);
	pi.contents = (uint64_t)(uintptr_t)blobs[b].data;
	pi.metadata = (uint64_t)(uintptr_t)&blobs[b].pcmd;
	r = sgx_ewb(cpu, &pi, frame(f), slot);
	if (r == 0 || r == SGX_VA_SLOT_OCCUPIED) {
		for (int o = 0; o < MAXBLOBS; o++)
			if (blobs[o].used && blobs[o].slot == slot)
				blobs[o].used = false; /* overwritten version: orphaned */
		blobs[b].used = true;
		blobs[b].slot = slot;
		blobs[b].linaddr = pi.addr;
		blobs[b].type = v.page_type;
		blobs[b].secs = v.secs;
		blobs[b].self = frame(f);
		holds[f] = H_FREE;
	}
	note(r);
}

static void op_eldu(void)
{
	int b = (int)pick(MAXBLOBS), f = free_frame(), r;
	struct sgx_pageinfo pi = { 0 };

	if (!blobs[b].used)
		return;
	pi.addr = blobs[b].linaddr;
	pi.contents = (uint64_t)(uintptr_t)blobs[b].data;
	pi.metadata = (uint64_t)(uintptr_t)&blobs[b].pcmd;
	pi.secs = (uint64_t)(uintptr_t)(blobs[b].secs ? blobs[b].secs : NULL);
	r = pick(2) ? sgx_eldu(cpu, &pi, frame(f), blobs[b].slot)
		    : sgx_eldb(cpu, &pi, frame(f), blobs[b].slot);
	if (r == 0) {
		holds[f] = blobs[b].type == SGX_PAGE_TYPE_SECS ? H_SECS : H_CHILD;
		assert_memory_equal(sgx_epc_page_bytes(cpu, frame(f)), blobs[b].plain, 4096);
		blobs[b].used = false;
		/* A reloaded SECS lives in a new frame: re-point its children's blobs. */
		if (blobs[b].type == SGX_PAGE_TYPE_SECS)
			for (int o = 0; o < MAXBLOBS; o++)
				if (blobs[o].used && blobs[o].secs == blobs[b].self)
					blobs[o].secs = frame(f);
	}
	note(r);
}

static void op_eaug(void)
{
	int s = frame_holding(H_SECS), f = free_frame(), r;
	struct sgx_pageinfo pi = { 0 };

	pi.secs = (uint64_t)(uintptr_t)frame(s);
	pi.addr = (holds[s] == H_SECS ? secs_base(frame(s)) : 0) + pick(20) * 4096ULL;
	r = sgx_eaug(cpu, &pi, frame(f));
	if (r == 0)
		holds[f] = H_CHILD;
	note(r);
}

static void op_emodpr(void)
{
	struct sgx_secinfo si __attribute__((aligned(64))) = { .flags = pick(8) };

	if ((si.flags & 2) && !(si.flags & 1))
		si.flags |= 1;
	note(sgx_emodpr(cpu, &si, frame(frame_holding(H_CHILD))));
}

static void op_emodt(void)
{
	struct sgx_secinfo si __attribute__((aligned(64))) = {
		.flags = pick(2) ? SGX_SECINFO_TRIM : SGX_SECINFO_TCS
	};

	note(sgx_emodt(cpu, &si, frame(frame_holding(H_CHILD))));
}

static void test_random_sequences(void **state)
{
	static void (*const ops[])(void) = {
		op_ecreate, op_eadd, op_eadd, op_eadd, op_eextend, op_einit, op_eremove,
		op_epa, op_eblock, op_eblock, op_etrack, op_ewb, op_ewb, op_eldu, op_eldu,
		op_eaug, op_emodpr, op_emodt,
	};
	const char *seed_env = getenv("SOFTSGX_SEED"), *steps_env = getenv("SOFTSGX_STEPS");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 0x5EED5EEDULL;
	unsigned long steps = steps_env ? strtoul(steps_env, NULL, 0) : 6000;

	(void)state;
	print_message("# seed %#llx, %lu steps\n", (unsigned long long)seed, steps);
	for (int round = 0; round < 4; round++) {
		rng = seed + (uint64_t)round * 0x9E3779B97F4A7C15ULL;
		if (!rng)
			rng = 1;
		cpu = t_cpu(1);
		memset(holds, 0, sizeof(holds));
		memset(blobs, 0, sizeof(blobs));
		for (unsigned long i = 0; i < steps / 4; i++) {
			ops[pick(sizeof(ops) / sizeof(ops[0]))]();
			check_invariants();
		}
		sgx_cpu_destroy(cpu);
	}
	print_message("# %llu leaves succeeded, %llu refused\n", (unsigned long long)steps_ok,
		      (unsigned long long)steps_fail);
	/* The sequences must exercise both outcomes to mean anything. */
	assert_true(steps_ok > steps / 10);
	assert_true(steps_fail > steps / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_sequences),
	};
	return T_RUN(tests);
}
