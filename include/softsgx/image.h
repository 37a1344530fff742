/* SPDX-License-Identifier: MIT */
/*
 * Enclave images: what a loader EADDs and EEXTENDs, page by page, and what a
 * signer measures.  One in-memory form, read from an SGXS stream or from an
 * ELF file plus a layout description, written back as SGXS, and measured
 * offline with exactly the update blocks the CPU model hashes (measure.h).
 * Formats and the layout language: docs/image-formats.md.
 */
#ifndef SOFTSGX_IMAGE_H
#define SOFTSGX_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the message buffer the loaders fill on failure. */
#define SGX_IMAGE_ERR_LEN 256

/* Every 256-byte chunk of a page EEXTENDed. */
#define SGX_IMAGE_MEASURE_ALL 0xFFFFu

struct sgx_image_page {
	uint64_t offset;   /* from the enclave base, 4 KiB aligned */
	uint64_t flags;    /* SECINFO.FLAGS for EADD (page type and RWX) */
	uint16_t measured; /* bit i: chunk [256 i, 256 i + 256) is EEXTENDed */
	uint8_t *data;     /* 4096 bytes, 4 KiB aligned: usable as EADD's SRCPGE */
};

/*
 * The pages are in load order, which is EADD order; offsets strictly
 * ascend.  A page's chunks are EEXTENDed right after its EADD, ascending.
 */
struct sgx_image {
	uint64_t size;           /* ELRANGE size: power of two, >= 8192 */
	uint64_t base_hint;      /* preferred base address, 0 = loader's choice */
	uint32_t ssa_frame_size; /* pages per SSA frame */
	uint32_t miscselect;
	uint64_t attributes;     /* SECS.ATTRIBUTES.FLAGS */
	uint64_t xfrm;           /* SECS.ATTRIBUTES.XFRM */
	size_t nr_pages;
	size_t nr_alloc;         /* capacity of @pages */
	struct sgx_image_page *pages;
};

/**
 * sgx_image_new() - an empty image
 *
 * Return: an image with no pages, SIZE 0, SSAFRAMESIZE 1, ATTRIBUTES
 * MODE64BIT, XFRM 3 (x87|SSE), MISCSELECT 0; or NULL when out of memory.
 */
struct sgx_image *sgx_image_new(void);

/* Free @img and all its page buffers; NULL is fine. */
void sgx_image_free(struct sgx_image *img);

/**
 * sgx_image_add_page() - append a page in load order
 * @img: the image
 * @offset: enclave offset, 4 KiB aligned, above every page already added
 * @flags: SECINFO.FLAGS (page type REG or TCS, RWX)
 * @measured: bitmap of the chunks to EEXTEND
 * @data: 4096 bytes copied into the image, or NULL for a zero page
 *
 * Return: 0, -EINVAL (misaligned or not ascending), or -ENOMEM.
 */
int sgx_image_add_page(struct sgx_image *img, uint64_t offset, uint64_t flags,
		       uint16_t measured, const void *data);

/**
 * sgx_image_check() - can this image be built on SGX?
 * @img: the image
 * @err: NULL, or SGX_IMAGE_ERR_LEN bytes receiving a message on failure
 *
 * Checks what ECREATE and EADD would refuse offline: SIZE a power of two
 * >= 8192, SSAFRAMESIZE >= 1, pages 4 KiB aligned, strictly ascending and
 * inside SIZE, SECINFO flags of type REG or TCS with no reserved,
 * PENDING/MODIFIED/PR bits, no W without R on REG pages, and TCS pages with
 * RWX = 0 (Linux refuses others, as EADD would silently clear them), no
 * reserved TCS.FLAGS bits, a zero TCS reserved area (and FS/GS limits ending
 * in 0xFFF for 32-bit enclaves).
 *
 * Return: 0 or -EINVAL.
 */
int sgx_image_check(const struct sgx_image *img, char *err);

/**
 * sgx_image_measure() - MRENCLAVE of @img as the CPU would compute it
 * @img: the image
 * @mrenclave: the result
 *
 * Hashes the ECREATE block (SSAFRAMESIZE, SIZE), then for each page the
 * EADD block and one EEXTEND per measured chunk, ascending.  TCS pages are
 * hashed as EADD leaves them in the EPC: STATE, CSSA, AEP and
 * FLAGS.DBGOPTIN zeroed in the bytes EEXTEND reads.
 *
 * Return: 0, or -EINVAL when sgx_image_check() fails.
 */
int sgx_image_measure(const struct sgx_image *img, uint8_t mrenclave[32]);

/**
 * sgx_image_eextend_bytes() - a page's contents as EEXTEND sees them
 * @page: a page of an image
 * @out: 4096 bytes: @page->data with EADD's TCS forcing applied to TCS pages
 */
void sgx_image_eextend_bytes(const struct sgx_image_page *page, uint8_t out[4096]);

/**
 * sgx_image_parse_sgxs() - read an SGXS stream from memory
 * @buf: the stream
 * @len: its length in bytes
 * @imgp: set to the new image on success
 * @err: NULL, or SGX_IMAGE_ERR_LEN bytes receiving a message on failure
 *
 * Accepts ECREATE, EADD, EEXTEND and UNMEASRD records (see
 * docs/image-formats.md for the exact rules).  The image gets ATTRIBUTES
 * MODE64BIT, XFRM 3 and MISCSELECT 0, which SGXS does not carry.
 *
 * Return: 0, -EINVAL for a malformed stream (the message names the record
 * index and byte position), or -ENOMEM.
 */
int sgx_image_parse_sgxs(const void *buf, size_t len, struct sgx_image **imgp, char *err);

/* As sgx_image_parse_sgxs(), reading the file @path (-errno if unreadable). */
int sgx_image_load_sgxs(const char *path, struct sgx_image **imgp, char *err);

/**
 * sgx_sgxs_hash() - SHA-256 over the measured records of an SGXS stream
 * @buf: the stream
 * @len: its length in bytes
 * @mrenclave: the digest
 * @err: NULL, or SGX_IMAGE_ERR_LEN bytes receiving a message on failure
 *
 * Only splits the stream into records (UNMEASRD records and their data are
 * skipped); no other validation.  For a stream sgx_image_parse_sgxs()
 * accepts this equals sgx_image_measure() of the parsed image.
 *
 * Return: 0, or -EINVAL for an unknown tag or a truncated record.
 */
int sgx_sgxs_hash(const void *buf, size_t len, uint8_t mrenclave[32], char *err);

/**
 * sgx_image_to_sgxs() - serialise @img as an SGXS stream
 * @img: the image
 * @bufp: set to a malloc()ed buffer holding the stream
 * @lenp: set to its length
 *
 * Measured chunks become EEXTEND records; unmeasured chunks holding any
 * non-zero byte become UNMEASRD records; all-zero unmeasured chunks are
 * left out (a loader zero-fills them).  TCS chunks are written as EEXTEND
 * reads them (sgx_image_eextend_bytes()), so hashing the measured records
 * gives MRENCLAVE.
 *
 * Return: 0, -EINVAL when sgx_image_check() fails, or -ENOMEM.
 */
int sgx_image_to_sgxs(const struct sgx_image *img, uint8_t **bufp, size_t *lenp);

/* As sgx_image_to_sgxs(), into the file @path. Return: 0, -EINVAL, -errno. */
int sgx_image_write_sgxs(const struct sgx_image *img, const char *path);

/**
 * sgx_image_parse_elf() - build an image from an ELF64 enclave in memory
 * @elf: the ELF file's bytes
 * @elf_len: their number
 * @layout: NUL-terminated layout description, or NULL for the defaults
 * @imgp: set to the new image on success
 * @err: NULL, or SGX_IMAGE_ERR_LEN bytes receiving a message on failure
 *
 * One segment per PT_LOAD in program-header order (as the Linux selftest
 * loader does): enclave offset = p_offset rounded down to a page minus that
 * of the first PT_LOAD, length = p_filesz rounded up to pages, contents the
 * file's bytes there (zeros past the end of the file).  Defaults: the first
 * PT_LOAD (which must be RW) is all TCS pages, the others REG with their
 * p_flags RWX, all measured; one RW unmeasured zero heap page after the last
 * segment; SIZE the smallest power of two >= 8192 holding everything;
 * SSAFRAMESIZE 1, ATTRIBUTES MODE64BIT, XFRM 3.  The layout language is in
 * docs/image-formats.md.
 *
 * Return: 0, -EINVAL for a bad ELF or layout (with a message), or -ENOMEM.
 */
int sgx_image_parse_elf(const void *elf, size_t elf_len, const char *layout,
			struct sgx_image **imgp, char *err);

/* As sgx_image_parse_elf(), from files; @layout_path may be NULL. -errno if unreadable. */
int sgx_image_load_elf(const char *elf_path, const char *layout_path, struct sgx_image **imgp,
		       char *err);

/**
 * sgx_image_read_file() - read a whole file into memory (for the loaders)
 * @path: the file
 * @bufp: set to a malloc()ed buffer with the contents and one extra NUL byte
 * @lenp: set to the length, without the NUL
 *
 * Return: 0, -errno, or -EFBIG for a file over 16 GiB.
 */
int sgx_image_read_file(const char *path, uint8_t **bufp, size_t *lenp);

#ifdef __cplusplus
}
#endif

#endif
