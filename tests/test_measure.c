// SPDX-License-Identifier: MIT
/*
 * MRENCLAVE three ways: offline (sgx_image_measure), on the CPU model
 * (ECREATE/EADD/EEXTEND, then EINIT against a SIGSTRUCT for the offline
 * value) and as the SHA-256 of an SGXS stream; plus worked update
 * blocks, the ELF/layout reader and the SGXS reader's rejections.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "helpers.h"
#include "softsgx/image.h"
#include "softsgx/measure.h"

#define FIXTURE_ELF "data/encl_fixture.elf"
#define FIXTURE_LAYOUT "data/encl_fixture.layout"
#define BASE 0x100000000ULL

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	assert_int_equal(EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL), 1);
}

/* ---- worked examples of the update blocks ------------------------------ */

/* ECREATE, SSAFRAMESIZE=1, SIZE=0x10000, byte for byte. */
static const uint8_t blk_ecreate[64] = {
	0x45, 0x43, 0x52, 0x45, 0x41, 0x54, 0x45, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* EADD of a TCS page at 0x1000 (FLAGS 0x100). */
static const uint8_t blk_eadd_tcs[64] = {
	0x45, 0x41, 0x44, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* EADD of a REG RX page at 0x2000 (FLAGS 0x205). */
static const uint8_t blk_eadd_rx[64] = {
	0x45, 0x41, 0x44, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* EEXTEND of chunk 0x2300. */
static const uint8_t blk_eextend[64] = {
	0x45, 0x45, 0x58, 0x54, 0x45, 0x4E, 0x44, 0x00, 0x00, 0x23, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
};

static void test_spec_ecreate_block(void **state)
{
	struct sgx_measure m;
	uint8_t want[32], got[32];

	(void)state;
	sha256(blk_ecreate, 64, want);
	sgx_measure_ecreate(&m, 1, 0x10000);
	assert_int_equal(m.blocks, 1);
	sgx_measure_final(&m, got);
	assert_memory_equal(got, want, 32);
}

static void test_spec_eadd_tcs_block(void **state)
{
	uint8_t stream[128], want[32], got[32];
	struct sgx_measure m;

	(void)state;
	memcpy(stream, blk_ecreate, 64);
	memcpy(stream + 64, blk_eadd_tcs, 64);
	sha256(stream, sizeof(stream), want);
	sgx_measure_ecreate(&m, 1, 0x10000);
	sgx_measure_eadd(&m, 0x1000, SGX_SECINFO_TCS);
	assert_int_equal(m.blocks, 2);
	sgx_measure_final(&m, got);
	assert_memory_equal(got, want, 32);
}

static void test_spec_eadd_reg_block(void **state)
{
	uint8_t stream[128], want[32], got[32];
	struct sgx_measure m;

	(void)state;
	memcpy(stream, blk_ecreate, 64);
	memcpy(stream + 64, blk_eadd_rx, 64);
	sha256(stream, sizeof(stream), want);
	sgx_measure_ecreate(&m, 1, 0x10000);
	sgx_measure_eadd(&m, 0x2000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X);
	sgx_measure_final(&m, got);
	assert_memory_equal(got, want, 32);
}

static void test_spec_eextend_block(void **state)
{
	uint8_t stream[64 * 3 + 256], data[256], want[32], got[32];
	struct sgx_measure m;

	(void)state;
	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xA5 ^ i);
	memcpy(stream, blk_ecreate, 64);
	memcpy(stream + 64, blk_eadd_rx, 64);
	memcpy(stream + 128, blk_eextend, 64);
	memcpy(stream + 192, data, 256);
	sha256(stream, sizeof(stream), want);
	sgx_measure_ecreate(&m, 1, 0x10000);
	sgx_measure_eadd(&m, 0x2000, 0x205);
	sgx_measure_eextend(&m, 0x2300, data);
	assert_int_equal(m.blocks, 7);
	sgx_measure_final(&m, got);
	assert_memory_equal(got, want, 32);
}

/* ---- helpers: the fixture, the CPU model path ---------------------------- */

static struct sgx_image *load_fixture(const char *layout)
{
	char err[SGX_IMAGE_ERR_LEN] = "";
	struct sgx_image *img = NULL;
	int r = sgx_image_load_elf(FIXTURE_ELF, layout, &img, err);

	if (r)
		fprintf(stderr, "# %s\n", err);
	assert_int_equal(r, 0);
	assert_non_null(img);
	return img;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	uint8_t *buf = NULL;

	assert_int_equal(sgx_image_read_file(path, &buf, len), 0);
	return buf;
}

static int einit_for(struct sgx_cpu *cpu, void *secs, const struct sgx_image *img,
		     const uint8_t mrenclave[32])
{
	struct sgx_sigstruct ss;

	t_sigstruct(&ss, mrenclave, img->attributes, img->xfrm, t_key());
	return t_einit(cpu, secs, &ss);
}

/* The SGXS path: serialise, hash the stream, re-read and measure again. */
static void sgxs_mrenclave(const struct sgx_image *img, uint8_t stream_hash[32],
			   uint8_t reread[32])
{
	char err[SGX_IMAGE_ERR_LEN] = "";
	struct sgx_image *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(sgx_image_to_sgxs(img, &buf, &len), 0);
	assert_int_equal(sgx_sgxs_hash(buf, len, stream_hash, err), 0);
	assert_int_equal(sgx_image_parse_sgxs(buf, len, &back, err), 0);
	assert_int_equal(sgx_image_measure(back, reread), 0);
	sgx_image_free(back);
	free(buf);
}

/* Offline == model (EINIT accepts, SECS.MRENCLAVE matches) == SGXS stream. */
static void three_way(const struct sgx_image *img)
{
	uint8_t offline[32], stream[32], reread[32];
	struct sgx_cpu *cpu = t_cpu(1);
	void *secs;

	assert_int_equal(sgx_image_measure(img, offline), 0);
	sgxs_mrenclave(img, stream, reread);
	assert_memory_equal(stream, offline, 32);
	assert_memory_equal(reread, offline, 32);

	secs = t_load_image(cpu, img, BASE, T_NO_FLIP, 0);
	assert_leaf_ok(einit_for(cpu, secs, img, offline));
	assert_memory_equal(((struct sgx_secs *)secs)->mrenclave, offline, 32);
	sgx_cpu_destroy(cpu);
}

/* ---- the ELF reader ------------------------------------------------------ */

static void assert_page(const struct sgx_image *img, size_t i, uint64_t offset, uint64_t flags,
			uint16_t measured)
{
	assert_true(i < img->nr_pages);
	assert_int_equal(img->pages[i].offset, offset);
	assert_int_equal(img->pages[i].flags, flags);
	assert_int_equal(img->pages[i].measured, measured);
	assert_int_equal((uintptr_t)img->pages[i].data & 4095, 0);
}

/* File bytes at @pos for a page, zeros past the end, as the loader must copy. */
static void file_page(const uint8_t *file, size_t len, size_t pos, uint8_t out[4096])
{
	size_t n = pos < len ? (len - pos < 4096 ? len - pos : 4096) : 0;

	memset(out, 0, 4096);
	memcpy(out, file + pos, n);
}

static void test_elf_defaults(void **state)
{
	struct sgx_image *img = load_fixture(NULL);
	uint8_t *file, want[4096];
	size_t len;
	const size_t file_pos[] = { 0x1000, 0x2000, 0x3000, 0x4000 };

	(void)state;
	/* Segments {0, TCS}, {0x1000, RX}, {0x2000-0x3fff, RW}, heap {0x4000, RW unmeasured}. */
	assert_int_equal(img->nr_pages, 5);
	assert_page(img, 0, 0x0000, SGX_SECINFO_TCS, 0xFFFF);
	assert_page(img, 1, 0x1000, 0x205, 0xFFFF);
	assert_page(img, 2, 0x2000, 0x203, 0xFFFF);
	assert_page(img, 3, 0x3000, 0x203, 0xFFFF);
	assert_page(img, 4, 0x4000, 0x203, 0);
	assert_int_equal(img->size, 0x8000);
	assert_int_equal(img->ssa_frame_size, 1);
	assert_int_equal(img->attributes, SGX_ATTR_MODE64BIT);
	assert_int_equal(img->xfrm, 3);
	assert_int_equal(img->base_hint, 0);

	/* Contents: the file's bytes, the last page's tail included, zeros past EOF. */
	file = read_all(FIXTURE_ELF, &len);
	assert_true(len > 0x4000 && len < 0x5000);
	for (size_t i = 0; i < 4; i++) {
		file_page(file, len, file_pos[i], want);
		assert_memory_equal(img->pages[i].data, want, 4096);
	}
	memset(want, 0, sizeof(want));
	assert_memory_equal(img->pages[4].data, want, 4096);
	/* The data segment's last page really carries file bytes beyond p_filesz (0x11cb). */
	{
		unsigned int nz = 0;

		for (size_t i = 0x1cb; i < len - 0x4000; i++)
			nz += img->pages[3].data[i] != 0;
		assert_true(nz > 16);
	}
	free(file);
	sgx_image_free(img);
}

/*
 * An independent recomputation of the fixture's MRENCLAVE the way the Linux
 * selftest's signer does it, straight from the file and the block formats.
 */
static void test_elf_reference_mrenclave(void **state)
{
	struct sgx_image *img = load_fixture(NULL);
	const struct { uint64_t off, pos, flags; } seg[] = {
		{ 0x0000, 0x1000, 0x100 }, { 0x1000, 0x2000, 0x205 },
		{ 0x2000, 0x3000, 0x203 }, { 0x3000, 0x4000, 0x203 },
	};
	uint8_t *file, page[4096], want[32], got[32];
	struct sgx_measure m;
	size_t len;

	(void)state;
	file = read_all(FIXTURE_ELF, &len);
	sgx_measure_ecreate(&m, 1, 0x8000);
	for (size_t i = 0; i < 4; i++) {
		file_page(file, len, seg[i].pos, page);
		sgx_measure_eadd(&m, seg[i].off, seg[i].flags);
		for (unsigned int c = 0; c < 16; c++)
			sgx_measure_eextend(&m, seg[i].off + c * 256, page + c * 256);
	}
	sgx_measure_eadd(&m, 0x4000, 0x203);
	sgx_measure_final(&m, want);
	assert_int_equal(sgx_image_measure(img, got), 0);
	assert_memory_equal(got, want, 32);
	free(file);
	sgx_image_free(img);
}

static void test_elf_layout(void **state)
{
	struct sgx_image *img = load_fixture(FIXTURE_LAYOUT);

	(void)state;
	assert_int_equal(img->nr_pages, 6);
	assert_page(img, 0, 0x0000, SGX_SECINFO_TCS, 0xFFFF);
	assert_page(img, 1, 0x1000, 0x205, 0xFFFF);
	assert_page(img, 2, 0x2000, 0x203, 0xFF00);
	assert_page(img, 3, 0x3000, 0x203, 0xFF00);
	assert_page(img, 4, 0x4000, 0x203, 0);
	assert_page(img, 5, 0x5000, 0x203, 0);
	assert_int_equal(img->size, 0x10000);
	assert_int_equal(img->attributes, SGX_ATTR_MODE64BIT);
	sgx_image_free(img);
}

static void test_elf_layout_tcs_pages(void **state)
{
	const char *layout = "base 0x7f0000000000\nssaframesize 2\nmiscselect 1\n"
			     "tcs 0x0\nmeasure 1 none   # code unmeasured\nheap 0\n";
	char err[SGX_IMAGE_ERR_LEN] = "";
	struct sgx_image *img = NULL;
	uint8_t *file;
	size_t len;

	(void)state;
	file = read_all(FIXTURE_ELF, &len);
	assert_int_equal(sgx_image_parse_elf(file, len, layout, &img, err), 0);
	assert_int_equal(img->nr_pages, 4);
	assert_page(img, 0, 0x0000, SGX_SECINFO_TCS, 0xFFFF);
	assert_page(img, 1, 0x1000, 0x205, 0);
	assert_page(img, 3, 0x3000, 0x203, 0xFFFF);
	assert_int_equal(img->size, 0x4000);
	assert_int_equal(img->base_hint, 0x7f0000000000ULL);
	assert_int_equal(img->ssa_frame_size, 2);
	assert_int_equal(img->miscselect, 1);
	sgx_image_free(img);
	free(file);
}

/* ---- three ways ----------------------------------------------------------- */

static void test_three_way_elf_layout(void **state)
{
	struct sgx_image *img = load_fixture(FIXTURE_LAYOUT);

	(void)state;
	three_way(img);
	sgx_image_free(img);
}

static void test_three_way_elf_defaults(void **state)
{
	struct sgx_image *img = load_fixture(NULL);

	(void)state;
	three_way(img);
	sgx_image_free(img);
}

/* One flipped measured byte on the model path: EINIT refuses the offline SIGSTRUCT. */
static void test_flip_measured_byte(void **state)
{
	struct sgx_image *img = load_fixture(FIXTURE_LAYOUT);
	struct sgx_cpu *cpu = t_cpu(1);
	struct sgx_epcm_view v;
	uint8_t mr[32];
	void *secs;

	(void)state;
	assert_int_equal(sgx_image_measure(img, mr), 0);
	/* Code page (index 1), a byte of the ENCLU sequence. */
	secs = t_load_image(cpu, img, BASE, 1, 0x10);
	assert_int_equal(einit_for(cpu, secs, img, mr), SGX_INVALID_MEASUREMENT);
	/* Still uninitialised: EADD keeps working and the SECS stays valid. */
	assert_int_equal(sgx_cpu_epcm(cpu, secs, &v), 0);
	assert_true(v.valid);
	assert_leaf_ok(t_eadd(cpu, secs, 10, BASE + 0x9000, 0x203, NULL));
	sgx_cpu_destroy(cpu);
	sgx_image_free(img);
}

/* A flipped byte in an unmeasured chunk (data page, chunk 1) changes nothing. */
static void test_flip_unmeasured_byte(void **state)
{
	struct sgx_image *img = load_fixture(FIXTURE_LAYOUT);
	struct sgx_cpu *cpu = t_cpu(1);
	uint8_t mr[32];
	void *secs;

	(void)state;
	assert_int_equal(img->pages[3].measured & 0x0002, 0);
	assert_int_equal(sgx_image_measure(img, mr), 0);
	secs = t_load_image(cpu, img, BASE, 3, 0x180);
	assert_leaf_ok(einit_for(cpu, secs, img, mr));
	sgx_cpu_destroy(cpu);
	sgx_image_free(img);
}

/* TCS fields EADD clears: offline and SGXS hash what the EPC holds after EADD. */
static void test_tcs_forcing(void **state)
{
	struct sgx_image *img = load_fixture(NULL);
	struct sgx_tcs *tcs = (struct sgx_tcs *)img->pages[0].data;
	uint8_t before[32], after[32];

	(void)state;
	assert_int_equal(sgx_image_measure(img, before), 0);
	tcs->state = 1;
	tcs->flags = SGX_TCS_DBGOPTIN;
	tcs->ssa_index = 1;
	tcs->exit_addr = 0x1234;
	assert_int_equal(sgx_image_measure(img, after), 0);
	assert_memory_equal(after, before, 32);
	three_way(img);

	/* A field EADD keeps does change the measurement. */
	tcs->nr_ssa_frames = 2;
	assert_int_equal(sgx_image_measure(img, after), 0);
	assert_memory_not_equal(after, before, 32);
	three_way(img);
	sgx_image_free(img);
}

/* A hand-built image with partial chunk maps, a gap and several TCS pages. */
static void test_three_way_built(void **state)
{
	struct sgx_image *img = sgx_image_new();
	struct sgx_tcs tcs;
	uint8_t page[4096];

	(void)state;
	assert_non_null(img);
	img->size = 0x20000;
	img->ssa_frame_size = 2;
	for (unsigned int i = 0; i < 2; i++) {
		t_tcs_src(&tcs, 0x3000 + i * 0x2000, 1, 0x8000);
		assert_int_equal(sgx_image_add_page(img, i * 0x1000, SGX_SECINFO_TCS, 0xFFFF, &tcs),
				 0);
	}
	for (unsigned int i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(sgx_image_add_page(img, 0x3000, 0x203, 0, NULL), 0);
	assert_int_equal(sgx_image_add_page(img, 0x8000, 0x205, 0x8001, page), 0);
	assert_int_equal(sgx_image_add_page(img, 0x9000, 0x201, 0x00F0, page), 0);
	assert_int_equal(sgx_image_add_page(img, 0x1F000, 0x207, 0xFFFF, page), 0);
	three_way(img);
	sgx_image_free(img);
}

/* ---- SGXS round trip and stream hashing ----------------------------------- */

static void assert_images_equal(const struct sgx_image *a, const struct sgx_image *b)
{
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->ssa_frame_size, b->ssa_frame_size);
	assert_int_equal(a->nr_pages, b->nr_pages);
	for (size_t i = 0; i < a->nr_pages; i++) {
		assert_int_equal(a->pages[i].offset, b->pages[i].offset);
		assert_int_equal(a->pages[i].flags, b->pages[i].flags);
		assert_int_equal(a->pages[i].measured, b->pages[i].measured);
		assert_memory_equal(a->pages[i].data, b->pages[i].data, 4096);
	}
}

static void test_sgxs_round_trip(void **state)
{
	struct sgx_image *img = load_fixture(FIXTURE_LAYOUT), *back = NULL, *again = NULL;
	char err[SGX_IMAGE_ERR_LEN] = "", path[] = "/tmp/softsgx-measure-XXXXXX";
	uint8_t *buf, *buf2;
	size_t len, len2;
	int fd;

	(void)state;
	assert_int_equal(sgx_image_to_sgxs(img, &buf, &len), 0);
	assert_int_equal(sgx_image_parse_sgxs(buf, len, &back, err), 0);
	assert_images_equal(img, back);
	/* What SGXS does not carry comes back as the defaults. */
	assert_int_equal(back->attributes, SGX_ATTR_MODE64BIT);
	assert_int_equal(back->xfrm, 3);

	/* Through a file, and the second serialisation is byte-identical. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sgx_image_write_sgxs(back, path), 0);
	assert_int_equal(sgx_image_load_sgxs(path, &again, err), 0);
	assert_images_equal(img, again);
	buf2 = read_all(path, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	unlink(path);

	free(buf);
	free(buf2);
	sgx_image_free(img);
	sgx_image_free(back);
	sgx_image_free(again);
}

/* The stream layout the writer produces, record by record. */
static void test_sgxs_writer_records(void **state)
{
	struct sgx_image *img = load_fixture(FIXTURE_LAYOUT);
	uint8_t *buf;
	size_t len, pos = 64;
	unsigned int eadd = 0, eext = 0, unm = 0;

	(void)state;
	assert_int_equal(sgx_image_to_sgxs(img, &buf, &len), 0);
	uint32_t ssa;
	uint64_t size;

	assert_memory_equal(buf, "ECREATE\0", 8);
	memcpy(&ssa, buf + 8, 4);
	memcpy(&size, buf + 12, 8);
	assert_int_equal(ssa, 1);
	assert_int_equal(size, 0x10000);
	while (pos < len) {
		if (!memcmp(buf + pos, "EADD\0\0\0\0", 8)) {
			eadd++;
			pos += 64;
		} else if (!memcmp(buf + pos, "EEXTEND\0", 8)) {
			eext++;
			pos += 320;
		} else {
			assert_memory_equal(buf + pos, "UNMEASRD", 8);
			unm++;
			pos += 320;
		}
	}
	assert_int_equal(pos, len);
	assert_int_equal(eadd, 6);
	/* TCS 16 + code 16 + 2 data pages x 8; the heap has no records. */
	assert_int_equal(eext, 16 + 16 + 16);
	/* Non-zero unmeasured chunks only: the file bytes 0x4000-0x4477 (chunks 0-4). */
	assert_int_equal(unm, 5);
	free(buf);
	sgx_image_free(img);
}

/* Hashing skips UNMEASRD records: equal to SHA-256 of the stream without them. */
static void test_sgxs_hash_skips_unmeasured(void **state)
{
	struct sgx_image *img = load_fixture(FIXTURE_LAYOUT);
	uint8_t *buf, *filtered, want[32], got[32], mr[32];
	size_t len, pos, n = 0;
	char err[SGX_IMAGE_ERR_LEN];

	(void)state;
	assert_int_equal(sgx_image_to_sgxs(img, &buf, &len), 0);
	filtered = malloc(len);
	assert_non_null(filtered);
	for (pos = 0; pos < len;) {
		bool data = !memcmp(buf + pos, "EEXTEND", 8) || !memcmp(buf + pos, "UNMEASRD", 8);
		size_t rec = data ? 320 : 64;

		if (memcmp(buf + pos, "UNMEASRD", 8)) {
			memcpy(filtered + n, buf + pos, rec);
			n += rec;
		}
		pos += rec;
	}
	assert_true(n < len);
	sha256(filtered, n, want);
	assert_int_equal(sgx_sgxs_hash(buf, len, got, err), 0);
	assert_memory_equal(got, want, 32);
	assert_int_equal(sgx_image_measure(img, mr), 0);
	assert_memory_equal(mr, want, 32);
	free(buf);
	free(filtered);
	sgx_image_free(img);
}

/* ---- SGXS rejections ------------------------------------------------------- */

struct stream {
	uint8_t buf[8192];
	size_t len;
};

static void rec(struct stream *s, const char tag[8], uint64_t a, uint64_t b)
{
	uint8_t *r = s->buf + s->len;

	assert_true(s->len + 64 <= sizeof(s->buf));
	memset(r, 0, 64);
	memcpy(r, tag, 8);
	if (!memcmp(tag, "ECREATE", 8)) {
		uint32_t ssa = (uint32_t)a;

		memcpy(r + 8, &ssa, 4);
		memcpy(r + 12, &b, 8);
	} else {
		memcpy(r + 8, &a, 8);
		memcpy(r + 16, &b, 8);
	}
	s->len += 64;
}

static void chunk(struct stream *s, const char tag[8], uint64_t off, uint8_t fill)
{
	rec(s, tag, off, 0);
	assert_true(s->len + 256 <= sizeof(s->buf));
	memset(s->buf + s->len, fill, 256);
	s->len += 256;
}

/* ECREATE 1/0x10000, EADD REG RW at 0x1000 with chunks 0 (measured) and 1 (not). */
static void good_stream(struct stream *s)
{
	s->len = 0;
	rec(s, "ECREATE\0", 1, 0x10000);
	rec(s, "EADD\0\0\0\0", 0x1000, 0x203);
	chunk(s, "EEXTEND\0", 0x1000, 0x11);
	chunk(s, "UNMEASRD", 0x1100, 0x22);
}

struct bad_case {
	const char *name;
	void (*make)(struct stream *s);
	const char *msg; /* expected substring of the message */
};

static void b_empty(struct stream *s)
{
	s->len = 0;
}

static void b_trunc_header(struct stream *s)
{
	good_stream(s);
	s->len -= 256 + 10;
}

static void b_trunc_data(struct stream *s)
{
	good_stream(s);
	s->len -= 1;
}

static void b_unknown_tag(struct stream *s)
{
	good_stream(s);
	rec(s, "EREMOVE\0", 0x2000, 0);
}

static void b_unsized(struct stream *s)
{
	s->len = 0;
	rec(s, "UNSIZED\0", 1, 0x10000);
}

static void b_no_ecreate(struct stream *s)
{
	s->len = 0;
	rec(s, "EADD\0\0\0\0", 0, 0x203);
}

static void b_two_ecreate(struct stream *s)
{
	good_stream(s);
	rec(s, "ECREATE\0", 1, 0x10000);
}

static void b_size_pow2(struct stream *s)
{
	s->len = 0;
	rec(s, "ECREATE\0", 1, 0x18000);
}

static void b_size_small(struct stream *s)
{
	s->len = 0;
	rec(s, "ECREATE\0", 1, 0x1000);
}

static void b_ssa_zero(struct stream *s)
{
	s->len = 0;
	rec(s, "ECREATE\0", 0, 0x10000);
}

static void b_ecreate_pad(struct stream *s)
{
	good_stream(s);
	s->buf[40] = 1;
}

static void b_eadd_outside(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x10000, 0x203);
}

static void b_eadd_misaligned(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2800, 0x203);
}

static void b_eadd_duplicate(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x1000, 0x203);
}

static void b_eadd_descending(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x3000, 0x203);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x203);
}

static void b_eadd_type(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x300);
}

static void b_eadd_w_no_r(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x202);
}

static void b_eadd_pending(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x20B);
}

static void b_eadd_tcs_rwx(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x103);
}

static void b_eadd_reserved(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x203);
	s->buf[s->len - 1] = 1;
}

static void b_eextend_first(struct stream *s)
{
	s->len = 0;
	rec(s, "ECREATE\0", 1, 0x10000);
	chunk(s, "EEXTEND\0", 0x1000, 0x11);
}

static void b_eextend_misaligned(struct stream *s)
{
	good_stream(s);
	chunk(s, "EEXTEND\0", 0x1210, 0);
}

static void b_eextend_other_page(struct stream *s)
{
	good_stream(s);
	chunk(s, "EEXTEND\0", 0x2000, 0);
}

static void b_eextend_duplicate(struct stream *s)
{
	good_stream(s);
	chunk(s, "EEXTEND\0", 0x1000, 0);
}

static void b_unmeasrd_duplicate(struct stream *s)
{
	good_stream(s);
	chunk(s, "UNMEASRD", 0x1100, 0);
}

static void b_eextend_descending(struct stream *s)
{
	good_stream(s);
	chunk(s, "EEXTEND\0", 0x1F00, 0);
	chunk(s, "EEXTEND\0", 0x1200, 0);
}

static void b_eextend_pad(struct stream *s)
{
	good_stream(s);
	chunk(s, "EEXTEND\0", 0x1200, 0);
	s->buf[s->len - 256 - 1] = 1;
}

static void b_tcs_state(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x100);
	chunk(s, "EEXTEND\0", 0x2000, 0);
	s->buf[s->len - 256] = 1; /* TCS.STATE */
}

static void b_tcs_reserved(struct stream *s)
{
	good_stream(s);
	rec(s, "EADD\0\0\0\0", 0x2000, 0x100);
	chunk(s, "EEXTEND\0", 0x2F00, 0x5A); /* TCS reserved area */
}

static const struct bad_case bad_cases[] = {
	{ "empty", b_empty, "no ECREATE" },
	{ "truncated header", b_trunc_header, "record 3 at byte 0x1c0: truncated header" },
	{ "truncated data", b_trunc_data, "record 3 at byte 0x1c0: UNMEASRD without its 256" },
	{ "unknown tag", b_unknown_tag, "record 4 at byte 0x300: unknown tag" },
	{ "unsized", b_unsized, "record 0 at byte 0x0: UNSIZED" },
	{ "no ecreate", b_no_ecreate,
	  "record 0 at byte 0x0: stream starts with EADD, not ECREATE" },
	{ "two ecreate", b_two_ecreate, "record 4 at byte 0x300: second ECREATE" },
	{ "size not pow2", b_size_pow2, "record 0 at byte 0x0: enclave size 0x18000" },
	{ "size too small", b_size_small, "enclave size 0x1000" },
	{ "ssa 0", b_ssa_zero, "SSAFRAMESIZE is 0" },
	{ "ecreate padding", b_ecreate_pad, "ECREATE padding" },
	{ "eadd outside size", b_eadd_outside,
	  "record 4 at byte 0x300: EADD offset 0x10000 is outside" },
	{ "eadd misaligned", b_eadd_misaligned,
	  "record 4 at byte 0x300: EADD offset 0x2800 is not page aligned" },
	{ "eadd duplicate", b_eadd_duplicate,
	  "record 4 at byte 0x300: EADD offset 0x1000 is not above" },
	{ "eadd descending", b_eadd_descending,
	  "record 5 at byte 0x340: EADD offset 0x2000 is not above" },
	{ "eadd page type", b_eadd_type, "record 4 at byte 0x300: EADD page type 3" },
	{ "eadd W without R", b_eadd_w_no_r,
	  "record 4 at byte 0x300: REG page writable but not readable" },
	{ "eadd PENDING", b_eadd_pending, "record 4 at byte 0x300: EADD SECINFO flags 0x20b" },
	{ "eadd TCS RWX", b_eadd_tcs_rwx, "record 4 at byte 0x300: TCS page with RWX" },
	{ "eadd reserved", b_eadd_reserved, "record 4 at byte 0x300: EADD SECINFO reserved" },
	{ "eextend before eadd", b_eextend_first,
	  "record 1 at byte 0x40: EEXTEND before any EADD" },
	{ "eextend misaligned", b_eextend_misaligned,
	  "record 4 at byte 0x300: EEXTEND offset 0x1210 is not 256-byte" },
	{ "eextend other page", b_eextend_other_page,
	  "record 4 at byte 0x300: EEXTEND offset 0x2000 is not in the page" },
	{ "eextend duplicate", b_eextend_duplicate,
	  "record 4 at byte 0x300: chunk 0x1000 given twice" },
	{ "unmeasrd duplicate", b_unmeasrd_duplicate,
	  "record 4 at byte 0x300: chunk 0x1100 given twice" },
	{ "eextend descending", b_eextend_descending,
	  "record 5 at byte 0x440: chunk 0x1200 after a higher" },
	{ "eextend padding", b_eextend_pad, "record 4 at byte 0x300: EEXTEND padding" },
	{ "tcs state measured", b_tcs_state,
	  "record 4 at byte 0x300: TCS at offset 0x2000 measures non-zero" },
	{ "tcs reserved", b_tcs_reserved, "TCS reserved area is not zero" },
};

static void test_sgxs_good_stream(void **state)
{
	static struct stream s;
	char err[SGX_IMAGE_ERR_LEN] = "";
	struct sgx_image *img = NULL;
	uint8_t want[32], got[32], page[4096] = { 0 };

	(void)state;
	good_stream(&s);
	assert_int_equal(sgx_image_parse_sgxs(s.buf, s.len, &img, err), 0);
	assert_int_equal(img->size, 0x10000);
	assert_int_equal(img->nr_pages, 1);
	assert_page(img, 0, 0x1000, 0x203, 0x0001);
	memset(page, 0x11, 256);
	memset(page + 256, 0x22, 256);
	assert_memory_equal(img->pages[0].data, page, 4096);
	assert_int_equal(sgx_sgxs_hash(s.buf, s.len, want, err), 0);
	assert_int_equal(sgx_image_measure(img, got), 0);
	assert_memory_equal(got, want, 32);
	/* Only the ECREATE, EADD and EEXTEND bytes are hashed. */
	sha256(s.buf, 64 + 64 + 320, want);
	assert_memory_equal(got, want, 32);
	sgx_image_free(img);
}

static void test_sgxs_reject(void **state)
{
	const struct bad_case *c = *state;
	static struct stream s;
	char err[SGX_IMAGE_ERR_LEN] = "";
	struct sgx_image *img = (struct sgx_image *)&s; /* must be reset to NULL */

	c->make(&s);
	assert_int_equal(sgx_image_parse_sgxs(s.buf, s.len, &img, err), -EINVAL);
	assert_null(img);
	if (!strstr(err, c->msg))
		fprintf(stderr, "# %s: got '%s', want '%s'\n", c->name, err, c->msg);
	assert_non_null(strstr(err, c->msg));
}

static void test_sgxs_hash_rejects(void **state)
{
	static struct stream s;
	char err[SGX_IMAGE_ERR_LEN] = "";
	uint8_t mr[32];

	(void)state;
	b_unknown_tag(&s);
	assert_int_equal(sgx_sgxs_hash(s.buf, s.len, mr, err), -EINVAL);
	assert_non_null(strstr(err, "record 4 at byte 0x300: unknown tag"));
	b_trunc_data(&s);
	assert_int_equal(sgx_sgxs_hash(s.buf, s.len, mr, err), -EINVAL);
	assert_non_null(strstr(err, "record 3 at byte 0x1c0: UNMEASRD without"));
	b_trunc_header(&s);
	assert_int_equal(sgx_sgxs_hash(s.buf, s.len, mr, err), -EINVAL);
	assert_non_null(strstr(err, "truncated header"));
	b_unsized(&s);
	assert_int_equal(sgx_sgxs_hash(s.buf, s.len, mr, err), -EINVAL);
	assert_non_null(strstr(err, "UNSIZED"));
}

static void test_sgxs_load_missing_file(void **state)
{
	char err[SGX_IMAGE_ERR_LEN] = "";
	struct sgx_image *img = NULL;

	(void)state;
	assert_int_equal(sgx_image_load_sgxs("data/no-such-file.sgxs", &img, err), -ENOENT);
	assert_null(img);
	assert_non_null(strstr(err, "no-such-file"));
	assert_int_equal(sgx_image_load_elf("data/no-such-file.elf", NULL, &img, err), -ENOENT);
	assert_int_equal(sgx_image_load_elf(FIXTURE_ELF, "data/no-such.layout", &img, err),
			 -ENOENT);
	assert_null(img);
}

/* ---- ELF and layout rejections ------------------------------------------- */

struct elf_case {
	const char *name;
	void (*mutate)(uint8_t *elf, size_t *len);
	const char *layout;
	const char *msg;
};

/* Program header @i of the fixture (64-byte ELF header, 56-byte entries). */
static uint64_t *ph_field(uint8_t *elf, unsigned int i, unsigned int off)
{
	return (uint64_t *)(elf + 64 + i * 56 + off);
}

static void e_none(uint8_t *elf, size_t *len)
{
	(void)elf;
	(void)len;
}

static void e_not_elf(uint8_t *elf, size_t *len)
{
	(void)len;
	elf[1] = 'X';
}

static void e_elf32(uint8_t *elf, size_t *len)
{
	(void)len;
	elf[4] = 1;
}

static void e_big_endian(uint8_t *elf, size_t *len)
{
	(void)len;
	elf[5] = 2;
}

static void e_machine(uint8_t *elf, size_t *len)
{
	(void)len;
	elf[18] = 0xB7;
	elf[19] = 0;
}

static void e_trunc_header(uint8_t *elf, size_t *len)
{
	(void)elf;
	*len = 40;
}

static void e_trunc_phdrs(uint8_t *elf, size_t *len)
{
	(void)elf;
	*len = 64 + 56 + 10;
}

static void e_seg_past_eof(uint8_t *elf, size_t *len)
{
	(void)len;
	*ph_field(elf, 2, 32) = 0x10000; /* p_filesz */
}

static void e_overlap(uint8_t *elf, size_t *len)
{
	(void)len;
	*ph_field(elf, 1, 32) = 0x1800; /* code now runs into the data segment */
}

static void e_before_first(uint8_t *elf, size_t *len)
{
	(void)len;
	*ph_field(elf, 2, 8) = 0x0; /* p_offset below the first segment's */
}

static void e_no_load(uint8_t *elf, size_t *len)
{
	(void)len;
	for (unsigned int i = 0; i < 3; i++)
		*(uint32_t *)ph_field(elf, i, 0) = 4; /* PT_NOTE */
}

static void e_first_rx(uint8_t *elf, size_t *len)
{
	(void)len;
	*(uint32_t *)ph_field(elf, 0, 4) = 5; /* PF_R | PF_X */
}

static void e_w_no_r(uint8_t *elf, size_t *len)
{
	(void)len;
	*(uint32_t *)ph_field(elf, 2, 4) = 2; /* PF_W */
}

static void e_phentsize(uint8_t *elf, size_t *len)
{
	(void)len;
	elf[54] = 32;
}

static const struct elf_case elf_cases[] = {
	{ "not elf", e_not_elf, NULL, "not an ELF file" },
	{ "elf32", e_elf32, NULL, "not an ELF64 file" },
	{ "big endian", e_big_endian, NULL, "not a little-endian" },
	{ "machine", e_machine, NULL, "not an x86-64 ELF" },
	{ "truncated header", e_trunc_header, NULL, "truncated ELF header" },
	{ "truncated phdrs", e_trunc_phdrs, NULL, "program headers run past the end" },
	{ "phentsize", e_phentsize, NULL, "bad program header size 32" },
	{ "segment past eof", e_seg_past_eof, NULL,
	  "segment 2 (program header 2) has file bytes [0x3000, +0x10000) past the end" },
	{ "overlap", e_overlap, NULL, "segment 2 (program header 2) at 0x2000 overlaps" },
	{ "before first", e_before_first, NULL,
	  "segment 2 (program header 2) starts at file offset 0x0, before" },
	{ "no PT_LOAD", e_no_load, NULL, "no PT_LOAD" },
	{ "first segment not RW", e_first_rx, NULL,
	  "segment 0 (program header 0) holds the TCS pages and must be RW" },
	{ "W without R", e_w_no_r, NULL,
	  "segment 2 (program header 2) is writable but not readable" },
	{ "size too small", e_none, "size 0x4000\n", "end at 0x5000, outside size 0x4000" },
	{ "size not pow2", e_none, "size 0x6000\n", "size 0x6000 is not a power of two" },
	{ "base misaligned", e_none, "base 0x1000\n", "base 0x1000 is not aligned to size 0x8000" },
	{ "unknown directive", e_none, "size 0x10000\n\nstack 4\n",
	  "layout line 3: unknown directive 'stack'" },
	{ "bad number", e_none, "heap 12x\n", "layout line 1: 'heap' takes one number" },
	{ "negative", e_none, "heap -1\n", "layout line 1: 'heap' takes one number" },
	{ "missing number", e_none, "xfrm\n", "layout line 1: 'xfrm' takes one number" },
	{ "duplicate", e_none, "size 0x10000\nsize 0x10000\n",
	  "layout line 2: 'size' given twice" },
	{ "ssa too big", e_none, "ssaframesize 0x100000000\n", "does not fit 32 bits" },
	{ "ssa zero", e_none, "ssaframesize 0\n", "SSAFRAMESIZE is 0" },
	{ "huge heap", e_none, "heap 0x100000000\n",
	  "layout line 1: heap of 4294967296 pages is too large" },
	{ "tcs misaligned", e_none, "tcs 0x10\n",
	  "layout line 1: tcs offset 0x10 is not page aligned" },
	{ "tcs nowhere", e_none, "tcs 0x0\ntcs 0x7000\n",
	  "layout line 2: tcs 0x7000 names no page" },
	{ "tcs-segment nowhere", e_none, "tcs-segment 3\n",
	  "layout line 1: tcs-segment 0x3 names no page" },
	{ "measure nowhere", e_none, "tcs 0\nmeasure 5 all\n",
	  "layout line 2: measure segment 0x5 names no page" },
	{ "measure bad mask", e_none, "measure 1 0x10000\n",
	  "layout line 1: '0x10000' is not all, none" },
	{ "measure twice", e_none, "measure 1 all\nmeasure 1 none\n",
	  "layout line 2: segment 1 measured twice" },
	{ "measure syntax", e_none, "measure all\n", "layout line 1: use 'measure SEGMENT" },
	{ "tcs page not a TCS", e_none, "tcs 0x1000\n",
	  "page 1 at offset 0x1000: TCS.FLAGS has reserved bits" },
	{ "too many tokens", e_none, "size 1 2 3 4 5 6\n",
	  "layout line 1: 'size' takes one number" },
};

static void test_elf_reject(void **state)
{
	const struct elf_case *c = *state;
	char err[SGX_IMAGE_ERR_LEN] = "";
	struct sgx_image *img = (struct sgx_image *)&err; /* must be reset to NULL */
	uint8_t *elf;
	size_t len;

	elf = read_all(FIXTURE_ELF, &len);
	c->mutate(elf, &len);
	assert_int_equal(sgx_image_parse_elf(elf, len, c->layout, &img, err), -EINVAL);
	assert_null(img);
	if (!strstr(err, c->msg))
		fprintf(stderr, "# %s: got '%s', want '%s'\n", c->name, err, c->msg);
	assert_non_null(strstr(err, c->msg));
	free(elf);
}

/* ---- image API ------------------------------------------------------------ */

static void test_image_add_page_order(void **state)
{
	struct sgx_image *img = sgx_image_new();
	char err[SGX_IMAGE_ERR_LEN] = "";
	uint8_t mr[32];

	(void)state;
	assert_non_null(img);
	assert_int_equal(sgx_image_add_page(img, 0x1010, 0x203, 0, NULL), -EINVAL);
	assert_int_equal(sgx_image_add_page(img, 0x2000, 0x203, 0, NULL), 0);
	assert_int_equal(sgx_image_add_page(img, 0x2000, 0x203, 0, NULL), -EINVAL);
	assert_int_equal(sgx_image_add_page(img, 0x1000, 0x203, 0, NULL), -EINVAL);
	assert_int_equal(img->nr_pages, 1);
	/* No SIZE yet: not measurable, and the check says why. */
	assert_int_equal(sgx_image_measure(img, mr), -EINVAL);
	assert_int_equal(sgx_image_check(img, err), -EINVAL);
	assert_non_null(strstr(err, "SIZE 0x0 is not a power of two"));
	img->size = 0x2000;
	assert_int_equal(sgx_image_check(img, err), -EINVAL);
	assert_non_null(strstr(err, "page 0 at offset 0x2000: outside SIZE 0x2000"));
	img->size = 0x4000;
	assert_int_equal(sgx_image_check(img, NULL), 0);
	img->pages[0].flags = 0x202;
	assert_int_equal(sgx_image_check(img, err), -EINVAL);
	assert_non_null(strstr(err, "W without R"));
	img->pages[0].flags = 0x403;
	assert_int_equal(sgx_image_check(img, err), -EINVAL);
	assert_non_null(strstr(err, "page type 4"));
	img->pages[0].flags = 0x101;
	assert_int_equal(sgx_image_check(img, err), -EINVAL);
	assert_non_null(strstr(err, "TCS page with RWX set"));
	img->pages[0].flags = 0x100;
	((struct sgx_tcs *)img->pages[0].data)->flags = 4;
	assert_int_equal(sgx_image_check(img, err), -EINVAL);
	assert_non_null(strstr(err, "TCS.FLAGS has reserved bits"));
	((struct sgx_tcs *)img->pages[0].data)->flags = 0;
	img->attributes = 0; /* 32-bit enclave: FS/GS limits must end in 0xFFF */
	assert_int_equal(sgx_image_check(img, err), -EINVAL);
	assert_non_null(strstr(err, "FS/GS limit"));
	img->attributes = SGX_ATTR_MODE64BIT;
	assert_int_equal(sgx_image_check(img, err), 0);
	assert_int_equal(sgx_image_measure(img, mr), 0);
	sgx_image_free(img);
	sgx_image_free(NULL);
}

static void test_image_write_errors(void **state)
{
	struct sgx_image *img = sgx_image_new();

	(void)state;
	assert_non_null(img);
	assert_int_equal(sgx_image_write_sgxs(img, "/tmp/softsgx-never-written.sgxs"), -EINVAL);
	assert_int_equal(access("/tmp/softsgx-never-written.sgxs", F_OK), -1);
	img->size = 0x2000;
	assert_int_equal(sgx_image_write_sgxs(img, "/nonexistent-dir/x.sgxs"), -ENOENT);
	sgx_image_free(img);
}

static const struct CMUnitTest fixed_tests[] = {
	cmocka_unit_test(test_spec_ecreate_block),
	cmocka_unit_test(test_spec_eadd_tcs_block),
	cmocka_unit_test(test_spec_eadd_reg_block),
	cmocka_unit_test(test_spec_eextend_block),
	cmocka_unit_test(test_elf_defaults),
	cmocka_unit_test(test_elf_reference_mrenclave),
	cmocka_unit_test(test_elf_layout),
	cmocka_unit_test(test_elf_layout_tcs_pages),
	cmocka_unit_test(test_three_way_elf_layout),
	cmocka_unit_test(test_three_way_elf_defaults),
	cmocka_unit_test(test_three_way_built),
	cmocka_unit_test(test_flip_measured_byte),
	cmocka_unit_test(test_flip_unmeasured_byte),
	cmocka_unit_test(test_tcs_forcing),
	cmocka_unit_test(test_sgxs_round_trip),
	cmocka_unit_test(test_sgxs_writer_records),
	cmocka_unit_test(test_sgxs_hash_skips_unmeasured),
	cmocka_unit_test(test_sgxs_good_stream),
	cmocka_unit_test(test_sgxs_hash_rejects),
	cmocka_unit_test(test_sgxs_load_missing_file),
	cmocka_unit_test(test_image_add_page_order),
	cmocka_unit_test(test_image_write_errors),
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NR_FIXED ARRAY_LEN(fixed_tests)
#define NR_BAD ARRAY_LEN(bad_cases)
#define NR_ELF ARRAY_LEN(elf_cases)

int main(void)
{
	/* One TAP line per malformed input: each case is its own test. */
	static char names[NR_BAD + NR_ELF][80];
	struct CMUnitTest tests[NR_FIXED + NR_BAD + NR_ELF];
	size_t n = 0;

	for (size_t i = 0; i < NR_FIXED; i++)
		tests[n++] = fixed_tests[i];
	for (size_t i = 0; i < NR_BAD; i++, n++) {
		snprintf(names[n - NR_FIXED], sizeof(names[0]), "sgxs_reject: %s",
			 bad_cases[i].name);
		tests[n] = (struct CMUnitTest){ names[n - NR_FIXED], test_sgxs_reject, NULL, NULL,
						(void *)&bad_cases[i] };
	}
	for (size_t i = 0; i < NR_ELF; i++, n++) {
		snprintf(names[n - NR_FIXED], sizeof(names[0]), "elf_reject: %s",
			 elf_cases[i].name);
		tests[n] = (struct CMUnitTest){ names[n - NR_FIXED], test_elf_reject, NULL, NULL,
						(void *)&elf_cases[i] };
	}
	return T_RUN(tests);
}
