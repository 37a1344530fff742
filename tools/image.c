// SPDX-License-Identifier: MIT
/*
 * In-memory enclave images, their offline measurement, and the ELF reader
 * with its layout description.  The SGXS reader and writer are in sgxs.c.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "softsgx/arch.h"
#include "softsgx/image.h"
#include "softsgx/measure.h"

/* Keep pathological inputs from asking for terabytes of page buffers. */
#define IMAGE_MAX_FILE (16ULL << 30)
#define LAYOUT_MAX_HEAP_PAGES (1ULL << 24)

static int __attribute__((format(printf, 2, 3))) image_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, SGX_IMAGE_ERR_LEN, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* @fmt after a prefix formatted from @pfx and its one or two arguments. */
static int __attribute__((format(printf, 2, 0)))
image_verr(char *err, const char *fmt, va_list ap, const char *pfx, unsigned long long a,
	   unsigned long long b)
{
	int n;

	if (err) {
		n = snprintf(err, SGX_IMAGE_ERR_LEN, pfx, a, b);
		if (n > 0 && n < SGX_IMAGE_ERR_LEN)
			vsnprintf(err + n, SGX_IMAGE_ERR_LEN - (size_t)n, fmt, ap);
	}
	return -EINVAL;
}

/* "page I at offset 0x...: ..." */
static int __attribute__((format(printf, 4, 5)))
page_err(char *err, size_t i, uint64_t off, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = image_verr(err, fmt, ap, "page %llu at offset 0x%llx: ", i, off);
	va_end(ap);
	return r;
}

/* "segment I (program header J) ..." */
static int __attribute__((format(printf, 4, 5)))
seg_err(char *err, size_t i, unsigned int phdr, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = image_verr(err, fmt, ap, "segment %llu (program header %llu) ", i, phdr);
	va_end(ap);
	return r;
}

/* "layout line N: ..." */
static int __attribute__((format(printf, 3, 4)))
line_err(char *err, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = image_verr(err, fmt, ap, "layout line %llu: ", line, 0);
	va_end(ap);
	return r;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

struct sgx_image *sgx_image_new(void)
{
	struct sgx_image *img = calloc(1, sizeof(*img));

	if (!img)
		return NULL;
	img->ssa_frame_size = 1;
	img->attributes = SGX_ATTR_MODE64BIT;
	img->xfrm = 3;
	return img;
}

void sgx_image_free(struct sgx_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nr_pages; i++)
		free(img->pages[i].data);
	free(img->pages);
	free(img);
}

int sgx_image_add_page(struct sgx_image *img, uint64_t offset, uint64_t flags,
		       uint16_t measured, const void *data)
{
	struct sgx_image_page *pg;

	if (offset & ~SGX_PAGE_MASK)
		return -EINVAL;
	if (img->nr_pages && offset <= img->pages[img->nr_pages - 1].offset)
		return -EINVAL;
	if (img->nr_pages == img->nr_alloc) {
		size_t n = img->nr_alloc ? img->nr_alloc * 2 : 16;
		struct sgx_image_page *p = realloc(img->pages, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		img->pages = p;
		img->nr_alloc = n;
	}
	pg = &img->pages[img->nr_pages];
	/* Page aligned so a loader can hand it to EADD as SRCPGE directly. */
	pg->data = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!pg->data)
		return -ENOMEM;
	if (data)
		memcpy(pg->data, data, SGX_PAGE_SIZE);
	else
		memset(pg->data, 0, SGX_PAGE_SIZE);
	pg->offset = offset;
	pg->flags = flags;
	pg->measured = measured;
	img->nr_pages++;
	return 0;
}

static int check_tcs(const struct sgx_image *img, size_t i, char *err)
{
	const struct sgx_image_page *pg = &img->pages[i];
	const struct sgx_tcs *tcs = (const struct sgx_tcs *)pg->data;

	if (pg->flags & SGX_SECINFO_PERMISSION_MASK)
		return page_err(err, i, pg->offset, "TCS page with RWX set");
	if (tcs->flags & SGX_TCS_RESERVED_MASK)
		return page_err(err, i, pg->offset, "TCS.FLAGS has reserved bits 0x%llx",
				(unsigned long long)(tcs->flags & SGX_TCS_RESERVED_MASK));
	if (!all_zero(tcs->reserved, sizeof(tcs->reserved)))
		return page_err(err, i, pg->offset, "TCS reserved area is not zero");
	if (!(img->attributes & SGX_ATTR_MODE64BIT) &&
	    ((tcs->fs_limit & 0xFFF) != 0xFFF || (tcs->gs_limit & 0xFFF) != 0xFFF))
		return page_err(err, i, pg->offset, "32-bit TCS FS/GS limit must end in 0xFFF");
	return 0;
}

int sgx_image_check(const struct sgx_image *img, char *err)
{
	const uint64_t bad = SGX_SECINFO_RESERVED_MASK | SGX_SECINFO_PENDING |
			     SGX_SECINFO_MODIFIED | SGX_SECINFO_PR;

	if (!is_pow2(img->size) || img->size < 2 * SGX_PAGE_SIZE)
		return image_err(err, "SIZE 0x%llx is not a power of two >= 0x2000",
				 (unsigned long long)img->size);
	if (!img->ssa_frame_size)
		return image_err(err, "SSAFRAMESIZE is 0");
	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct sgx_image_page *pg = &img->pages[i];
		uint64_t off = pg->offset;
		uint64_t pt = (pg->flags & SGX_SECINFO_PAGE_TYPE_MASK) >>
			      SGX_SECINFO_PAGE_TYPE_SHIFT;
		int r;

		if (!pg->data)
			return page_err(err, i, off, "no contents");
		if (off & ~SGX_PAGE_MASK)
			return page_err(err, i, off, "not page aligned");
		if (off >= img->size)
			return page_err(err, i, off, "outside SIZE 0x%llx",
					(unsigned long long)img->size);
		if (i && off <= img->pages[i - 1].offset)
			return page_err(err, i, off, "not above the previous page (0x%llx)",
					(unsigned long long)img->pages[i - 1].offset);
		if (pg->flags & bad)
			return page_err(err, i, off, "bad SECINFO flags 0x%llx",
					(unsigned long long)pg->flags);
		if (pt == SGX_PAGE_TYPE_TCS) {
			r = check_tcs(img, i, err);
			if (r)
				return r;
		} else if (pt == SGX_PAGE_TYPE_REG) {
			if ((pg->flags & SGX_SECINFO_W) && !(pg->flags & SGX_SECINFO_R))
				return page_err(err, i, off, "W without R");
		} else {
			return page_err(err, i, off, "page type %llu is neither REG nor TCS",
					(unsigned long long)pt);
		}
	}
	return 0;
}

void sgx_image_eextend_bytes(const struct sgx_image_page *page, uint8_t out[4096])
{
	struct sgx_tcs tcs;

	memcpy(out, page->data, SGX_PAGE_SIZE);
	if ((page->flags & SGX_SECINFO_PAGE_TYPE_MASK) != SGX_SECINFO_TCS)
		return;
	/* The fields EADD rewrites in its EPC copy before any EEXTEND reads it. */
	memcpy(&tcs, out, sizeof(tcs));
	tcs.state = 0;
	tcs.flags &= ~SGX_TCS_DBGOPTIN;
	tcs.ssa_index = 0;
	tcs.exit_addr = 0;
	memcpy(out, &tcs, sizeof(tcs));
}

int sgx_image_measure(const struct sgx_image *img, uint8_t mrenclave[32])
{
	static __thread uint8_t buf[SGX_PAGE_SIZE];
	struct sgx_measure m;

	if (sgx_image_check(img, NULL))
		return -EINVAL;
	sgx_measure_ecreate(&m, img->ssa_frame_size, img->size);
	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct sgx_image_page *pg = &img->pages[i];
		const uint8_t *bytes = pg->data;
		uint64_t flags = pg->flags;

		if ((flags & SGX_SECINFO_PAGE_TYPE_MASK) == SGX_SECINFO_TCS) {
			flags &= ~SGX_SECINFO_PERMISSION_MASK;
			sgx_image_eextend_bytes(pg, buf);
			bytes = buf;
		}
		sgx_measure_eadd(&m, pg->offset, flags);
		for (unsigned int c = 0; c < 16; c++)
			if (pg->measured & (1u << c))
				sgx_measure_eextend(&m, pg->offset + c * 256, bytes + c * 256);
	}
	sgx_measure_final(&m, mrenclave);
	return 0;
}

int sgx_image_read_file(const char *path, uint8_t **bufp, size_t *lenp)
{
	struct stat st;
	uint8_t *buf;
	size_t len, got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	r = -EINVAL;
	if (!S_ISREG(st.st_mode))
		goto out;
	r = -EFBIG;
	if ((unsigned long long)st.st_size > IMAGE_MAX_FILE)
		goto out;
	len = (size_t)st.st_size;
	r = -ENOMEM;
	buf = malloc(len + 1);
	if (!buf)
		goto out;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO; /* shrank under us */
			free(buf);
			goto out;
		}
		got += (size_t)n;
	}
	buf[len] = 0;
	*bufp = buf;
	*lenp = len;
	r = 0;
out:
	close(fd);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Layout description */

enum layout_scalar {
	L_SIZE,
	L_BASE,
	L_SSAFRAMESIZE,
	L_ATTRIBUTES,
	L_XFRM,
	L_MISCSELECT,
	L_HEAP,
	L_NR_SCALARS,
};

static const char *const scalar_names[L_NR_SCALARS] = {
	[L_SIZE] = "size",
	[L_BASE] = "base",
	[L_SSAFRAMESIZE] = "ssaframesize",
	[L_ATTRIBUTES] = "attributes",
	[L_XFRM] = "xfrm",
	[L_MISCSELECT] = "miscselect",
	[L_HEAP] = "heap",
};

/* A directive naming a page or a segment, kept with its line for messages. */
struct layout_ref {
	unsigned int line;
	uint64_t val;
	uint16_t mask; /* measure: chunk bitmap */
	bool used;
};

struct layout_refs {
	struct layout_ref *v;
	size_t n, alloc;
};

struct layout {
	uint64_t scalar[L_NR_SCALARS];
	bool seen[L_NR_SCALARS];
	struct layout_refs tcs, tcs_seg, measure;
};

static void layout_free(struct layout *l)
{
	free(l->tcs.v);
	free(l->tcs_seg.v);
	free(l->measure.v);
}

static int refs_add(struct layout_refs *r, unsigned int line, uint64_t val, uint16_t mask)
{
	if (r->n == r->alloc) {
		size_t n = r->alloc ? r->alloc * 2 : 8;
		struct layout_ref *v = realloc(r->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->alloc = n;
	}
	r->v[r->n++] = (struct layout_ref){ .line = line, .val = val, .mask = mask };
	return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && !*end;
}

#define LAYOUT_MAX_TOKENS 4

static int layout_line(struct layout *l, unsigned int line, char *s, char *err)
{
	char *tok[LAYOUT_MAX_TOKENS + 1];
	unsigned int n = 0;
	char *save = NULL, *t;
	uint64_t v;

	for (t = strtok_r(s, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (n > LAYOUT_MAX_TOKENS)
			break;
		tok[n++] = t;
	}
	if (!n)
		return 0;

	for (unsigned int i = 0; i < L_NR_SCALARS; i++) {
		if (strcmp(tok[0], scalar_names[i]))
			continue;
		if (n != 2 || !parse_u64(tok[1], &v))
			return line_err(err, line, "'%s' takes one number", tok[0]);
		if (l->seen[i])
			return line_err(err, line, "'%s' given twice", tok[0]);
		if ((i == L_SSAFRAMESIZE || i == L_MISCSELECT) && v > UINT32_MAX)
			return line_err(err, line, "%s 0x%llx does not fit 32 bits", tok[0],
					(unsigned long long)v);
		if (i == L_HEAP && v > LAYOUT_MAX_HEAP_PAGES)
			return line_err(err, line, "heap of %llu pages is too large",
					(unsigned long long)v);
		l->seen[i] = true;
		l->scalar[i] = v;
		return 0;
	}
	if (!strcmp(tok[0], "tcs") || !strcmp(tok[0], "tcs-segment")) {
		bool page = !strcmp(tok[0], "tcs");

		if (n != 2 || !parse_u64(tok[1], &v))
			return line_err(err, line, "'%s' takes one number", tok[0]);
		if (page && (v & ~SGX_PAGE_MASK))
			return line_err(err, line, "tcs offset 0x%llx is not page aligned",
					(unsigned long long)v);
		return refs_add(page ? &l->tcs : &l->tcs_seg, line, v, 0);
	}
	if (!strcmp(tok[0], "measure")) {
		uint64_t mask;

		if (n != 3 || !parse_u64(tok[1], &v))
			return line_err(err, line, "use 'measure SEGMENT all|none|MASK'");
		if (!strcmp(tok[2], "all"))
			mask = SGX_IMAGE_MEASURE_ALL;
		else if (!strcmp(tok[2], "none"))
			mask = 0;
		else if (!parse_u64(tok[2], &mask) || mask > 0xFFFF)
			return line_err(err, line, "'%s' is not all, none or a 16-bit mask",
					tok[2]);
		for (size_t i = 0; i < l->measure.n; i++)
			if (l->measure.v[i].val == v)
				return line_err(err, line, "segment %llu measured twice",
						(unsigned long long)v);
		return refs_add(&l->measure, line, v, (uint16_t)mask);
	}
	return line_err(err, line, "unknown directive '%s'", tok[0]);
}

static int layout_parse(struct layout *l, const char *text, char *err)
{
	char *copy, *s, *nl;
	unsigned int line = 1;
	int r = 0;

	memset(l, 0, sizeof(*l));
	if (!text)
		return 0;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (s = copy; s && !r; s = nl, line++) {
		char *hash;

		nl = strchr(s, '\n');
		if (nl)
			*nl++ = 0;
		hash = strchr(s, '#');
		if (hash)
			*hash = 0;
		r = layout_line(l, line, s, err);
	}
	free(copy);
	if (r)
		layout_free(l);
	return r;
}

/* ------------------------------------------------------------------------ */
/* ELF */

struct elf_seg {
	unsigned int phdr;   /* program header index, for messages */
	uint64_t file_start; /* p_offset rounded down to a page */
	uint64_t offset;     /* enclave offset */
	uint64_t pages;
	uint32_t p_flags;
};

static uint64_t pf_to_secinfo(uint32_t pf)
{
	return ((pf & PF_R) ? SGX_SECINFO_R : 0) | ((pf & PF_W) ? SGX_SECINFO_W : 0) |
	       ((pf & PF_X) ? SGX_SECINFO_X : 0);
}

static int elf_segments(const uint8_t *elf, size_t len, struct elf_seg **segp, size_t *nsegp,
			char *err)
{
	Elf64_Ehdr eh;
	struct elf_seg *segs;
	size_t nseg = 0;
	uint64_t prev_end = 0;

	if (len < SELFMAG || memcmp(elf, ELFMAG, SELFMAG))
		return image_err(err, "not an ELF file");
	if (len < EI_NIDENT || elf[EI_CLASS] != ELFCLASS64)
		return image_err(err, "not an ELF64 file (class %u)",
				 len > EI_CLASS ? elf[EI_CLASS] : 0);
	if (len < sizeof(eh))
		return image_err(err, "truncated ELF header (%zu bytes)", len);
	memcpy(&eh, elf, sizeof(eh));
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return image_err(err, "not a little-endian ELF file");
	if (eh.e_machine != EM_X86_64)
		return image_err(err, "not an x86-64 ELF file (e_machine %u)", eh.e_machine);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return image_err(err, "ELF type %u is neither executable nor shared object",
				 eh.e_type);
	if (eh.e_phnum == PN_XNUM)
		return image_err(err, "more than 65534 program headers are not supported");
	if (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr))
		return image_err(err, "bad program header size %u", eh.e_phentsize);
	if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return image_err(err, "program headers run past the end of the file");

	segs = calloc(eh.e_phnum ? eh.e_phnum : 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	for (unsigned int j = 0; j < eh.e_phnum; j++) {
		struct elf_seg *s = &segs[nseg];
		Elf64_Phdr ph;

		memcpy(&ph, elf + eh.e_phoff + (uint64_t)j * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			seg_err(err, nseg, j,
				"has file bytes [0x%llx, +0x%llx) past the end of the file (0x%zx)",
				(unsigned long long)ph.p_offset, (unsigned long long)ph.p_filesz,
				len);
			goto bad;
		}
		s->phdr = j;
		s->file_start = ph.p_offset & SGX_PAGE_MASK;
		s->pages = (ph.p_filesz + SGX_PAGE_SIZE - 1) / SGX_PAGE_SIZE;
		s->p_flags = ph.p_flags;
		if (s->file_start < segs[0].file_start) {
			seg_err(err, nseg, j,
				"starts at file offset 0x%llx, before the first segment",
				(unsigned long long)s->file_start);
			goto bad;
		}
		s->offset = s->file_start - segs[0].file_start;
		if (s->pages && s->offset < prev_end) {
			seg_err(err, nseg, j,
				"at 0x%llx overlaps the previous segment ending at 0x%llx",
				(unsigned long long)s->offset, (unsigned long long)prev_end);
			goto bad;
		}
		if (s->pages)
			prev_end = s->offset + s->pages * SGX_PAGE_SIZE;
		nseg++;
	}
	if (!nseg) {
		image_err(err, "ELF file has no PT_LOAD segment");
		goto bad;
	}
	*segp = segs;
	*nsegp = nseg;
	return 0;
bad:
	free(segs);
	return -EINVAL;
}

static bool tcs_segment(struct layout *l, size_t seg)
{
	for (size_t i = 0; i < l->tcs_seg.n; i++) {
		if (l->tcs_seg.v[i].val == seg) {
			l->tcs_seg.v[i].used = true;
			return true;
		}
	}
	return false;
}

static bool tcs_page(struct layout *l, uint64_t offset)
{
	for (size_t i = 0; i < l->tcs.n; i++) {
		if (l->tcs.v[i].val == offset) {
			l->tcs.v[i].used = true;
			return true;
		}
	}
	return false;
}

static uint16_t seg_measure(struct layout *l, size_t seg)
{
	for (size_t i = 0; i < l->measure.n; i++) {
		if (l->measure.v[i].val == seg) {
			l->measure.v[i].used = true;
			return l->measure.v[i].mask;
		}
	}
	return SGX_IMAGE_MEASURE_ALL;
}

static int unused_refs(const struct layout_refs *r, const char *what, char *err)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->v[i].used)
			return line_err(err, r->v[i].line,
					"%s 0x%llx names no page or segment of the ELF file",
					what, (unsigned long long)r->v[i].val);
	return 0;
}

static int add_segment(struct sgx_image *img, struct layout *l, const uint8_t *elf, size_t len,
		       const struct elf_seg *s, size_t idx, bool default_tcs, char *err)
{
	static __thread uint8_t buf[SGX_PAGE_SIZE];
	bool whole_tcs = default_tcs ? idx == 0 : tcs_segment(l, idx);
	uint64_t reg = SGX_SECINFO_REG | pf_to_secinfo(s->p_flags);
	uint16_t measured = seg_measure(l, idx);
	int r;

	if (default_tcs && idx == 0 && (s->p_flags & (PF_R | PF_W | PF_X)) != (PF_R | PF_W))
		return seg_err(err, 0, s->phdr,
			       "holds the TCS pages and must be RW; give a layout file otherwise");
	for (uint64_t p = 0; p < s->pages; p++) {
		uint64_t off = s->offset + p * SGX_PAGE_SIZE;
		uint64_t pos = s->file_start + p * SGX_PAGE_SIZE;
		size_t n = 0;
		bool tcs = whole_tcs;

		/* Evaluate both so every matching tcs line counts as used. */
		if (tcs_page(l, off))
			tcs = true;
		if (!tcs && (reg & SGX_SECINFO_W) && !(reg & SGX_SECINFO_R))
			return seg_err(err, idx, s->phdr, "is writable but not readable");
		/* Past the end of the file a page reads as zeros, as an mmap of it would. */
		if (pos < len)
			n = len - pos < SGX_PAGE_SIZE ? len - pos : SGX_PAGE_SIZE;
		memcpy(buf, elf + pos, n);
		memset(buf + n, 0, SGX_PAGE_SIZE - n);
		r = sgx_image_add_page(img, off, tcs ? SGX_SECINFO_TCS : reg, measured, buf);
		if (r)
			return r;
	}
	return 0;
}

int sgx_image_parse_elf(const void *elf, size_t elf_len, const char *layout,
			struct sgx_image **imgp, char *err)
{
	struct sgx_image *img = NULL;
	struct elf_seg *segs = NULL;
	struct layout l;
	size_t nseg = 0;
	uint64_t end = 0, heap;
	bool default_tcs;
	int r;

	*imgp = NULL;
	r = layout_parse(&l, layout, err);
	if (r)
		return r;
	r = elf_segments(elf, elf_len, &segs, &nseg, err);
	if (r)
		goto out;
	r = -ENOMEM;
	img = sgx_image_new();
	if (!img)
		goto out;

	default_tcs = !l.tcs.n && !l.tcs_seg.n;
	for (size_t i = 0; i < nseg; i++) {
		r = add_segment(img, &l, elf, elf_len, &segs[i], i, default_tcs, err);
		if (r)
			goto out;
		if (segs[i].pages)
			end = segs[i].offset + segs[i].pages * SGX_PAGE_SIZE;
	}
	r = unused_refs(&l.tcs, "tcs", err);
	if (!r)
		r = unused_refs(&l.tcs_seg, "tcs-segment", err);
	if (!r)
		r = unused_refs(&l.measure, "measure segment", err);
	if (r)
		goto out;

	heap = l.seen[L_HEAP] ? l.scalar[L_HEAP] : 1;
	for (uint64_t p = 0; p < heap; p++) {
		r = sgx_image_add_page(img, end, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, 0,
				       NULL);
		if (r)
			goto out;
		end += SGX_PAGE_SIZE;
	}

	if (l.seen[L_SIZE]) {
		img->size = l.scalar[L_SIZE];
		r = -EINVAL;
		if (!is_pow2(img->size) || img->size < 2 * SGX_PAGE_SIZE) {
			image_err(err, "layout: size 0x%llx is not a power of two >= 0x2000",
				  (unsigned long long)img->size);
			goto out;
		}
		if (end > img->size) {
			image_err(err, "segments and heap end at 0x%llx, outside size 0x%llx",
				  (unsigned long long)end, (unsigned long long)img->size);
			goto out;
		}
	} else {
		/* The selftest's rule: count up from a page; ECREATE's minimum is two. */
		for (img->size = 2 * SGX_PAGE_SIZE; img->size < end; img->size <<= 1)
			;
	}
	if (l.seen[L_BASE])
		img->base_hint = l.scalar[L_BASE];
	if (l.seen[L_SSAFRAMESIZE])
		img->ssa_frame_size = (uint32_t)l.scalar[L_SSAFRAMESIZE];
	if (l.seen[L_ATTRIBUTES])
		img->attributes = l.scalar[L_ATTRIBUTES];
	if (l.seen[L_XFRM])
		img->xfrm = l.scalar[L_XFRM];
	if (l.seen[L_MISCSELECT])
		img->miscselect = (uint32_t)l.scalar[L_MISCSELECT];
	if (img->base_hint & (img->size - 1)) {
		r = image_err(err, "base 0x%llx is not aligned to size 0x%llx",
			      (unsigned long long)img->base_hint, (unsigned long long)img->size);
		goto out;
	}
	r = sgx_image_check(img, err);
out:
	if (r) {
		sgx_image_free(img);
		img = NULL;
	}
	*imgp = img;
	free(segs);
	layout_free(&l);
	return r;
}

int sgx_image_load_elf(const char *elf_path, const char *layout_path, struct sgx_image **imgp,
		       char *err)
{
	uint8_t *elf = NULL, *layout = NULL;
	size_t elf_len, layout_len;
	int r;

	*imgp = NULL;
	r = sgx_image_read_file(elf_path, &elf, &elf_len);
	if (r) {
		if (err)
			snprintf(err, SGX_IMAGE_ERR_LEN, "%s: %s", elf_path, strerror(-r));
		return r;
	}
	if (layout_path) {
		r = sgx_image_read_file(layout_path, &layout, &layout_len);
		if (r) {
			if (err)
				snprintf(err, SGX_IMAGE_ERR_LEN, "%s: %s", layout_path,
					 strerror(-r));
			free(elf);
			return r;
		}
		if (strlen((char *)layout) != layout_len) {
			r = image_err(err, "%s: layout file contains a NUL byte", layout_path);
			goto out;
		}
	}
	r = sgx_image_parse_elf(elf, elf_len, (char *)layout, imgp, err);
out:
	free(elf);
	free(layout);
	return r;
}
