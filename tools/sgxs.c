// SPDX-License-Identifier: MIT
/*
 * SGXS ("SGX stream", the format of Fortanix's rust-sgx sgxs crate): the
 * 64-byte MRENCLAVE update blocks themselves, EEXTEND blocks followed by
 * their 256 data bytes, plus UNMEASRD records for data that is loaded but
 * not hashed.  SHA-256 over everything except UNMEASRD records is
 * MRENCLAVE.  Layout and acceptance rules: docs/image-formats.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "softsgx/arch.h"
#include "softsgx/image.h"

#define SGXS_REC 64
#define SGXS_CHUNK 256

/* Tags are 8 ASCII bytes, NUL padded, read as little-endian u64. */
#define TAG_ECREATE 0x0045544145524345ULL  /* "ECREATE\0" */
#define TAG_EADD 0x0000000044444145ULL     /* "EADD\0\0\0\0" */
#define TAG_EEXTEND 0x00444E4554584545ULL  /* "EEXTEND\0" */
#define TAG_UNMEASRD 0x44525341454D4E55ULL /* "UNMEASRD" */
#define TAG_UNSIZED 0x0044455A49534E55ULL  /* "UNSIZED\0" */

static int __attribute__((format(printf, 2, 3))) sgxs_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, SGX_IMAGE_ERR_LEN, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A message about record @idx at byte @pos. */
static int __attribute__((format(printf, 4, 5)))
rec_err(char *err, size_t idx, size_t pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err) {
		n = snprintf(err, SGX_IMAGE_ERR_LEN, "record %zu at byte 0x%zx: ", idx, pos);
		va_start(ap, fmt);
		if (n > 0 && n < SGX_IMAGE_ERR_LEN)
			vsnprintf(err + n, SGX_IMAGE_ERR_LEN - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static bool zero_from(const uint8_t *rec, size_t from)
{
	for (size_t i = from; i < SGXS_REC; i++)
		if (rec[i])
			return false;
	return true;
}

static const char *tag_name(uint64_t tag)
{
	switch (tag) {
	case TAG_ECREATE: return "ECREATE";
	case TAG_EADD: return "EADD";
	case TAG_EEXTEND: return "EEXTEND";
	case TAG_UNMEASRD: return "UNMEASRD";
	case TAG_UNSIZED: return "UNSIZED";
	}
	return NULL;
}

int sgx_sgxs_hash(const void *buf, size_t len, uint8_t mrenclave[32], char *err)
{
	const uint8_t *p = buf;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t pos = 0, idx = 0;
	int r = -ENOMEM;

	if (!ctx)
		return r;
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	for (; pos < len; idx++) {
		uint64_t tag;
		size_t n = SGXS_REC;

		if (len - pos < SGXS_REC) {
			r = rec_err(err, idx, pos, "truncated header");
			goto out;
		}
		tag = get_le64(p + pos);
		if (tag == TAG_EEXTEND || tag == TAG_UNMEASRD) {
			n += SGXS_CHUNK;
			if (len - pos < n) {
				r = rec_err(err, idx, pos, "%s without its 256 data bytes",
					    tag_name(tag));
				goto out;
			}
		} else if (tag == TAG_UNSIZED) {
			r = rec_err(err, idx, pos, "UNSIZED stream cannot be measured");
			goto out;
		} else if (tag != TAG_ECREATE && tag != TAG_EADD) {
			r = rec_err(err, idx, pos, "unknown tag 0x%016llx",
				    (unsigned long long)tag);
			goto out;
		}
		r = -ENOMEM;
		if (tag != TAG_UNMEASRD && !EVP_DigestUpdate(ctx, p + pos, n))
			goto out;
		pos += n;
	}
	r = -ENOMEM;
	if (EVP_DigestFinal_ex(ctx, mrenclave, NULL))
		r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* The page being assembled from an EADD and the chunk records after it. */
struct sgxs_page {
	bool open;
	size_t rec, pos;   /* record index and byte position of its EADD */
	uint64_t offset, flags;
	uint16_t measured, seen;
	int last_chunk;
	uint8_t data[4096] __attribute__((aligned(64)));
};

struct sgxs_reader {
	struct sgx_image *img;
	struct sgxs_page pg;
	size_t idx, pos;   /* the record being read */
	char *err;
};

#define RD_ERR(rd, ...) rec_err((rd)->err, (rd)->idx, (rd)->pos, __VA_ARGS__)

static int flush_page(struct sgxs_reader *rd)
{
	struct sgxs_page *pg = &rd->pg;
	struct sgx_image_page view = { .offset = pg->offset, .flags = pg->flags,
				       .measured = pg->measured, .data = pg->data };
	uint8_t forced[4096];
	int r;

	if (!pg->open)
		return 0;
	/*
	 * EADD zeroes some TCS fields before EEXTEND reads them: a stream
	 * measuring other values would hash to something the CPU never does.
	 */
	sgx_image_eextend_bytes(&view, forced);
	if ((pg->measured & 1) && memcmp(forced, pg->data, SGXS_CHUNK))
		return rec_err(rd->err, pg->rec, pg->pos,
			       "TCS at offset 0x%llx measures non-zero STATE/CSSA/AEP/DBGOPTIN, which EADD clears",
			       (unsigned long long)pg->offset);
	r = sgx_image_add_page(rd->img, pg->offset, pg->flags, pg->measured, pg->data);
	pg->open = false;
	return r;
}

static int check_flags(struct sgxs_reader *rd, uint64_t flags)
{
	const uint64_t bad = SGX_SECINFO_RESERVED_MASK | SGX_SECINFO_PENDING |
			     SGX_SECINFO_MODIFIED | SGX_SECINFO_PR;
	uint64_t pt = flags & SGX_SECINFO_PAGE_TYPE_MASK;

	if (flags & bad)
		return RD_ERR(rd, "EADD SECINFO flags 0x%llx have bits EADD refuses",
			      (unsigned long long)flags);
	if (pt == SGX_SECINFO_TCS) {
		if (flags & SGX_SECINFO_PERMISSION_MASK)
			return RD_ERR(rd, "TCS page with RWX 0x%llx (EADD hashes 0)",
				      (unsigned long long)(flags & SGX_SECINFO_PERMISSION_MASK));
	} else if (pt == SGX_SECINFO_REG) {
		if ((flags & SGX_SECINFO_W) && !(flags & SGX_SECINFO_R))
			return RD_ERR(rd, "REG page writable but not readable");
	} else {
		return RD_ERR(rd, "EADD page type %llu is neither REG nor TCS",
			      (unsigned long long)(pt >> SGX_SECINFO_PAGE_TYPE_SHIFT));
	}
	return 0;
}

static int parse_ecreate(struct sgxs_reader *rd, const uint8_t *rec)
{
	uint32_t ssa = get_le32(rec + 8);
	uint64_t size = get_le64(rec + 12);

	if (rd->idx)
		return RD_ERR(rd, "second ECREATE");
	if (!zero_from(rec, 20))
		return RD_ERR(rd, "ECREATE padding is not zero");
	if (!size || (size & (size - 1)) || size < 2 * SGX_PAGE_SIZE)
		return RD_ERR(rd, "enclave size 0x%llx is not a power of two >= 0x2000",
			      (unsigned long long)size);
	if (!ssa)
		return RD_ERR(rd, "SSAFRAMESIZE is 0");
	rd->img->size = size;
	rd->img->ssa_frame_size = ssa;
	return 0;
}

static int parse_eadd(struct sgxs_reader *rd, const uint8_t *rec)
{
	struct sgxs_page *pg = &rd->pg;
	uint64_t off = get_le64(rec + 8), flags = get_le64(rec + 16);
	int r;

	if (!zero_from(rec, 24))
		return RD_ERR(rd, "EADD SECINFO reserved bytes are not zero");
	if (off & ~SGX_PAGE_MASK)
		return RD_ERR(rd, "EADD offset 0x%llx is not page aligned",
			      (unsigned long long)off);
	if (off >= rd->img->size)
		return RD_ERR(rd, "EADD offset 0x%llx is outside the enclave size 0x%llx",
			      (unsigned long long)off, (unsigned long long)rd->img->size);
	if (pg->open && off <= pg->offset)
		return RD_ERR(rd, "EADD offset 0x%llx is not above the previous EADD",
			      (unsigned long long)off);
	r = check_flags(rd, flags);
	if (!r)
		r = flush_page(rd);
	if (r)
		return r;
	memset(pg->data, 0, sizeof(pg->data));
	pg->open = true;
	pg->rec = rd->idx;
	pg->pos = rd->pos;
	pg->offset = off;
	pg->flags = flags;
	pg->measured = pg->seen = 0;
	pg->last_chunk = -1;
	return 0;
}

static int parse_chunk(struct sgxs_reader *rd, uint64_t tag, const uint8_t *rec)
{
	struct sgxs_page *pg = &rd->pg;
	const char *name = tag_name(tag);
	unsigned long long off = get_le64(rec + 8);
	int c;

	if (!zero_from(rec, 16))
		return RD_ERR(rd, "%s padding is not zero", name);
	if (off & (SGXS_CHUNK - 1))
		return RD_ERR(rd, "%s offset 0x%llx is not 256-byte aligned", name, off);
	if (!pg->open)
		return RD_ERR(rd, "%s before any EADD", name);
	if ((off & SGX_PAGE_MASK) != pg->offset)
		return RD_ERR(rd,
			      "%s offset 0x%llx is not in the page of the preceding EADD (0x%llx)",
			      name, off, (unsigned long long)pg->offset);
	c = (int)((off & ~SGX_PAGE_MASK) / SGXS_CHUNK);
	if (pg->seen & (1u << c))
		return RD_ERR(rd, "chunk 0x%llx given twice", off);
	/* The image measures chunks ascending; any other order hashes differently. */
	if (c < pg->last_chunk)
		return RD_ERR(rd, "chunk 0x%llx after a higher chunk of its page", off);
	pg->seen |= (uint16_t)(1u << c);
	if (tag == TAG_EEXTEND)
		pg->measured |= (uint16_t)(1u << c);
	pg->last_chunk = c;
	memcpy(pg->data + c * SGXS_CHUNK, rec + SGXS_REC, SGXS_CHUNK);
	return 0;
}

static int parse_record(struct sgxs_reader *rd, const uint8_t *p, size_t len)
{
	const uint8_t *rec = p + rd->pos;
	size_t left = len - rd->pos;
	const char *name;
	uint64_t tag;

	if (left < SGXS_REC)
		return RD_ERR(rd, "truncated header (%zu bytes left)", left);
	tag = get_le64(rec);
	name = tag_name(tag);
	if (!name)
		return RD_ERR(rd, "unknown tag 0x%016llx", (unsigned long long)tag);
	if (tag == TAG_UNSIZED)
		return RD_ERR(rd, "UNSIZED stream (size not final) cannot be loaded");
	if (!rd->idx && tag != TAG_ECREATE)
		return RD_ERR(rd, "stream starts with %s, not ECREATE", name);
	switch (tag) {
	case TAG_ECREATE:
		return parse_ecreate(rd, rec);
	case TAG_EADD:
		return parse_eadd(rd, rec);
	default:
		if (left < SGXS_REC + SGXS_CHUNK)
			return RD_ERR(rd, "%s without its 256 data bytes", name);
		return parse_chunk(rd, tag, rec);
	}
}

static size_t record_len(const uint8_t *rec)
{
	uint64_t tag = get_le64(rec);

	return SGXS_REC + (tag == TAG_EEXTEND || tag == TAG_UNMEASRD ? SGXS_CHUNK : 0);
}

int sgx_image_parse_sgxs(const void *buf, size_t len, struct sgx_image **imgp, char *err)
{
	struct sgxs_reader *rd;
	int r = -ENOMEM;

	*imgp = NULL;
	rd = malloc(sizeof(*rd));
	if (!rd)
		return r;
	rd->img = sgx_image_new();
	rd->pg.open = false;
	rd->idx = rd->pos = 0;
	rd->err = err;
	if (!rd->img)
		goto out;

	if (!len) {
		r = sgxs_err(err, "empty stream: no ECREATE record");
		goto out;
	}
	for (; rd->pos < len; rd->idx++) {
		r = parse_record(rd, buf, len);
		if (r)
			goto out;
		rd->pos += record_len((const uint8_t *)buf + rd->pos);
	}
	r = flush_page(rd);
	if (!r)
		r = sgx_image_check(rd->img, err);
out:
	if (r)
		sgx_image_free(rd->img);
	else
		*imgp = rd->img;
	free(rd);
	return r;
}

int sgx_image_load_sgxs(const char *path, struct sgx_image **imgp, char *err)
{
	uint8_t *buf;
	size_t len;
	int r;

	*imgp = NULL;
	r = sgx_image_read_file(path, &buf, &len);
	if (r) {
		if (err)
			snprintf(err, SGX_IMAGE_ERR_LEN, "%s: %s", path, strerror(-r));
		return r;
	}
	r = sgx_image_parse_sgxs(buf, len, imgp, err);
	free(buf);
	return r;
}

static bool chunk_zero(const uint8_t *c)
{
	for (size_t i = 0; i < SGXS_CHUNK; i++)
		if (c[i])
			return false;
	return true;
}

int sgx_image_to_sgxs(const struct sgx_image *img, uint8_t **bufp, size_t *lenp)
{
	static __thread uint8_t bytes[4096];
	size_t len = SGXS_REC;
	uint8_t *buf, *q;

	if (sgx_image_check(img, NULL))
		return -EINVAL;
	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct sgx_image_page *pg = &img->pages[i];

		sgx_image_eextend_bytes(pg, bytes);
		len += SGXS_REC;
		for (unsigned int c = 0; c < 16; c++)
			if ((pg->measured & (1u << c)) || !chunk_zero(bytes + c * SGXS_CHUNK))
				len += SGXS_REC + SGXS_CHUNK;
	}
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;

	put_le64(buf, TAG_ECREATE);
	put_le32(buf + 8, img->ssa_frame_size);
	put_le64(buf + 12, img->size);
	q = buf + SGXS_REC;
	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct sgx_image_page *pg = &img->pages[i];

		sgx_image_eextend_bytes(pg, bytes);
		put_le64(q, TAG_EADD);
		put_le64(q + 8, pg->offset);
		put_le64(q + 16, pg->flags);
		q += SGXS_REC;
		for (unsigned int c = 0; c < 16; c++) {
			bool measured = pg->measured & (1u << c);
			const uint8_t *d = bytes + c * SGXS_CHUNK;

			if (!measured && chunk_zero(d))
				continue;
			put_le64(q, measured ? TAG_EEXTEND : TAG_UNMEASRD);
			put_le64(q + 8, pg->offset + c * SGXS_CHUNK);
			memcpy(q + SGXS_REC, d, SGXS_CHUNK);
			q += SGXS_REC + SGXS_CHUNK;
		}
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

int sgx_image_write_sgxs(const struct sgx_image *img, const char *path)
{
	uint8_t *buf;
	size_t len, done = 0;
	int fd, r;

	r = sgx_image_to_sgxs(img, &buf, &len);
	if (r)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) && !r)
		r = -errno;
	if (r)
		unlink(path);
out:
	free(buf);
	return r;
}
