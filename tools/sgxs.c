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
			r = sgxs_err(err, "record %zu at byte 0x%zx: truncated header", idx, pos);
			goto out;
		}
		tag = get_le64(p + pos);
		if (tag == TAG_EEXTEND || tag == TAG_UNMEASRD) {
			n += SGXS_CHUNK;
			if (len - pos < n) {
				r = sgxs_err(err, "record %zu at byte 0x%zx: %s without its 256 data bytes",
					     idx, pos, tag_name(tag));
				goto out;
			}
		} else if (tag == TAG_UNSIZED) {
			r = sgxs_err(err, "record %zu at byte 0x%zx: UNSIZED stream cannot be measured",
				     idx, pos);
			goto out;
		} else if (tag != TAG_ECREATE && tag != TAG_EADD) {
			r = sgxs_err(err, "record %zu at byte 0x%zx: unknown tag 0x%016llx", idx, pos,
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
	size_t rec;        /* record index of its EADD */
	uint64_t offset, flags;
	uint16_t measured, seen;
	int last_chunk;
	uint8_t data[4096] __attribute__((aligned(64)));
};

static int flush_page(struct sgx_image *img, struct sgxs_page *pg, char *err)
{
	uint8_t forced[4096];
	struct sgx_image_page view = { .offset = pg->offset, .flags = pg->flags,
				       .measured = pg->measured, .data = pg->data };
	int r;

	if (!pg->open)
		return 0;
	/*
	 * EADD zeroes some TCS fields before EEXTEND reads them: a stream
	 * measuring other values would hash to something the CPU never does.
	 */
	sgx_image_eextend_bytes(&view, forced);
	if ((pg->measured & 1) && memcmp(forced, pg->data, SGXS_CHUNK))
		return sgxs_err(err, "record %zu: TCS at offset 0x%llx measures non-zero STATE/CSSA/AEP/DBGOPTIN, which EADD clears",
				pg->rec, (unsigned long long)pg->offset);
	r = sgx_image_add_page(img, pg->offset, pg->flags, pg->measured, pg->data);
	pg->open = false;
	return r;
}

static int check_flags(uint64_t flags, size_t idx, size_t pos, char *err)
{
	const uint64_t bad = SGX_SECINFO_RESERVED_MASK | SGX_SECINFO_PENDING |
			     SGX_SECINFO_MODIFIED | SGX_SECINFO_PR;
	uint64_t pt = flags & SGX_SECINFO_PAGE_TYPE_MASK;

	if (flags & bad)
		return sgxs_err(err, "record %zu at byte 0x%zx: EADD SECINFO flags 0x%llx have bits EADD refuses",
				idx, pos, (unsigned long long)flags);
	if (pt == SGX_SECINFO_TCS) {
		if (flags & SGX_SECINFO_PERMISSION_MASK)
			return sgxs_err(err, "record %zu at byte 0x%zx: TCS page with RWX 0x%llx (EADD hashes 0)",
					idx, pos, (unsigned long long)(flags & 7));
	} else if (pt == SGX_SECINFO_REG) {
		if ((flags & SGX_SECINFO_W) && !(flags & SGX_SECINFO_R))
			return sgxs_err(err, "record %zu at byte 0x%zx: REG page writable but not readable",
					idx, pos);
	} else {
		return sgxs_err(err, "record %zu at byte 0x%zx: EADD page type %llu is neither REG nor TCS",
				idx, pos, (unsigned long long)(pt >> SGX_SECINFO_PAGE_TYPE_SHIFT));
	}
	return 0;
}

static int parse_ecreate(struct sgx_image *img, const uint8_t *rec, size_t pos, char *err)
{
	uint32_t ssa = get_le32(rec + 8);
	uint64_t size = get_le64(rec + 12);

	if (!zero_from(rec, 20))
		return sgxs_err(err, "record 0 at byte 0x%zx: ECREATE padding is not zero", pos);
	if (!size || (size & (size - 1)) || size < 2 * SGX_PAGE_SIZE)
		return sgxs_err(err, "record 0 at byte 0x%zx: enclave size 0x%llx is not a power of two >= 0x2000",
				pos, (unsigned long long)size);
	if (!ssa)
		return sgxs_err(err, "record 0 at byte 0x%zx: SSAFRAMESIZE is 0", pos);
	img->size = size;
	img->ssa_frame_size = ssa;
	return 0;
}

static int parse_eadd(struct sgx_image *img, struct sgxs_page *pg, const uint8_t *rec,
		      size_t idx, size_t pos, char *err)
{
	uint64_t off = get_le64(rec + 8), flags = get_le64(rec + 16);
	int r;

	if (!zero_from(rec, 24))
		return sgxs_err(err, "record %zu at byte 0x%zx: EADD SECINFO reserved bytes are not zero",
				idx, pos);
	if (off & ~SGX_PAGE_MASK)
		return sgxs_err(err, "record %zu at byte 0x%zx: EADD offset 0x%llx is not page aligned",
				idx, pos, (unsigned long long)off);
	if (off >= img->size)
		return sgxs_err(err, "record %zu at byte 0x%zx: EADD offset 0x%llx is outside the enclave size 0x%llx",
				idx, pos, (unsigned long long)off, (unsigned long long)img->size);
	if ((pg->open && off <= pg->offset) ||
	    (img->nr_pages && off <= img->pages[img->nr_pages - 1].offset))
		return sgxs_err(err, "record %zu at byte 0x%zx: EADD offset 0x%llx is not above the previous EADD",
				idx, pos, (unsigned long long)off);
	r = check_flags(flags, idx, pos, err);
	if (r)
		return r;
	r = flush_page(img, pg, err);
	if (r)
		return r;
	memset(pg->data, 0, sizeof(pg->data));
	pg->open = true;
	pg->rec = idx;
	pg->offset = off;
	pg->flags = flags;
	pg->measured = pg->seen = 0;
	pg->last_chunk = -1;
	return 0;
}

static int parse_chunk(struct sgxs_page *pg, uint64_t tag, const uint8_t *rec, size_t idx,
		       size_t pos, char *err)
{
	const char *name = tag_name(tag);
	uint64_t off = get_le64(rec + 8);
	int c;

	if (!zero_from(rec, 16))
		return sgxs_err(err, "record %zu at byte 0x%zx: %s padding is not zero", idx, pos,
				name);
	if (off & (SGXS_CHUNK - 1))
		return sgxs_err(err, "record %zu at byte 0x%zx: %s offset 0x%llx is not 256-byte aligned",
				idx, pos, name, (unsigned long long)off);
	if (!pg->open)
		return sgxs_err(err, "record %zu at byte 0x%zx: %s before any EADD", idx, pos, name);
	if ((off & SGX_PAGE_MASK) != pg->offset)
		return sgxs_err(err, "record %zu at byte 0x%zx: %s offset 0x%llx is not in the page of the preceding EADD (0x%llx)",
				idx, pos, name, (unsigned long long)off,
				(unsigned long long)pg->offset);
	c = (int)((off & ~SGX_PAGE_MASK) / SGXS_CHUNK);
	if (pg->seen & (1u << c))
		return sgxs_err(err, "record %zu at byte 0x%zx: chunk 0x%llx given twice", idx, pos,
				(unsigned long long)off);
	/* The image measures chunks ascending; any other order hashes differently. */
	if (c < pg->last_chunk)
		return sgxs_err(err, "record %zu at byte 0x%zx: chunk 0x%llx after a higher chunk of its page",
				idx, pos, (unsigned long long)off);
	pg->seen |= (uint16_t)(1u << c);
	if (tag == TAG_EEXTEND)
		pg->measured |= (uint16_t)(1u << c);
	pg->last_chunk = c;
	memcpy(pg->data + c * SGXS_CHUNK, rec + SGXS_REC, SGXS_CHUNK);
	return 0;
}

int sgx_image_parse_sgxs(const void *buf, size_t len, struct sgx_image **imgp, char *err)
{
	const uint8_t *p = buf;
	struct sgx_image *img;
	struct sgxs_page *pg;
	size_t pos = 0, idx = 0;
	int r = -ENOMEM;

	*imgp = NULL;
	img = sgx_image_new();
	pg = malloc(sizeof(*pg));
	if (!img || !pg)
		goto out;
	pg->open = false;

	if (!len) {
		r = sgxs_err(err, "empty stream: no ECREATE record");
		goto out;
	}
	for (; pos < len; idx++) {
		const uint8_t *rec = p + pos;
		uint64_t tag;
		const char *name;

		if (len - pos < SGXS_REC) {
			r = sgxs_err(err, "record %zu at byte 0x%zx: truncated header (%zu bytes left)",
				     idx, pos, len - pos);
			goto out;
		}
		tag = get_le64(rec);
		name = tag_name(tag);
		if (!name) {
			r = sgxs_err(err, "record %zu at byte 0x%zx: unknown tag 0x%016llx", idx, pos,
				     (unsigned long long)tag);
			goto out;
		}
		if (tag == TAG_UNSIZED) {
			r = sgxs_err(err, "record %zu at byte 0x%zx: UNSIZED stream (size not final) cannot be loaded",
				     idx, pos);
			goto out;
		}
		if (!idx && tag != TAG_ECREATE) {
			r = sgxs_err(err, "record 0: stream starts with %s, not ECREATE", name);
			goto out;
		}
		switch (tag) {
		case TAG_ECREATE:
			if (idx) {
				r = sgxs_err(err, "record %zu at byte 0x%zx: second ECREATE", idx, pos);
				goto out;
			}
			r = parse_ecreate(img, rec, pos, err);
			break;
		case TAG_EADD:
			r = parse_eadd(img, pg, rec, idx, pos, err);
			break;
		default:
			if (len - pos < SGXS_REC + SGXS_CHUNK) {
				r = sgxs_err(err, "record %zu at byte 0x%zx: %s without its 256 data bytes",
					     idx, pos, name);
				goto out;
			}
			r = parse_chunk(pg, tag, rec, idx, pos, err);
			pos += SGXS_CHUNK;
			break;
		}
		if (r)
			goto out;
		pos += SGXS_REC;
	}
	r = flush_page(img, pg, err);
	if (r)
		goto out;
	r = sgx_image_check(img, err);
out:
	free(pg);
	if (r)
		sgx_image_free(img);
	else
		*imgp = img;
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
