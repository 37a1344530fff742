// SPDX-License-Identifier: MIT
/*
 * Test-enclave loader over the Linux SGX uapi and libc only (no libsoftsgx):
 * what an SGX runtime does on Linux, in a few hundred lines.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encl_load.h"
#ifdef ENCL_LOAD_RAW
#include "encl_load_raw.h"
#endif

#define PAGE 4096UL
#define SGXS_HDR 64
#define SGXS_CHUNK 256
#define SI_RWX 0x7ULL
#define SI_TYPE(f) (((f) >> 8) & 0xff)
#define PT_TCS_TYPE 1

/* SIGSTRUCT body fields the SECS takes over. */
#define SS_MISCSELECT 900
#define SS_ATTRIBUTES 928
#define SS_XFRM 936

struct page_desc {
	uint64_t offset;
	uint64_t flags;		/* SECINFO.FLAGS */
	uint16_t measured;	/* chunk bitmap */
};

struct image {
	uint32_t ssaframesize;
	uint64_t size;
	size_t nr;
	struct page_desc *pages;
	uint8_t *data;		/* nr pages, page-aligned (ADD_PAGES wants an aligned src) */
};

static vdso_sgx_enter_enclave_t vdso_fn;

/* Print "encl_load: MESSAGE[: strerror(err)]"; return -err, or -EINVAL for err 0. */
static int __attribute__((format(printf, 2, 3))) fail(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "encl_load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s\n", err ? ": " : "", err ? strerror(err) : "");
	return -(err ? err : EINVAL);
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t n = 0;

	if (fd < 0)
		return fail(errno, "%s", path);
	if (fstat(fd, &st)) {
		close(fd);
		return fail(errno, "%s", path);
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		close(fd);
		return fail(ENOMEM, "%s", path);
	}
	for (size_t done = 0; done < *len; done += (size_t)n) {
		n = read(fd, *buf + done, *len - done);
		if (n <= 0) {
			free(*buf);
			close(fd);
			return fail(n ? errno : EIO, "%s", path);
		}
	}
	close(fd);
	return 0;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/*
 * Parse an SGXS stream: ECREATE, then per page EADD followed by its EEXTEND
 * (measured) and UNMEASRD (loaded, not measured) chunks.
 */
static int parse_sgxs(const uint8_t *s, size_t len, struct image *img, const char *path)
{
	size_t nr = 0, i;
	long cur = -1;

	memset(img, 0, sizeof(*img));
	if (len < SGXS_HDR || memcmp(s, "ECREATE\0", 8))
		return fail(0, "%s: not an SGXS stream", path);
	memcpy(&img->ssaframesize, s + 8, 4);
	img->size = le64(s + 12);
	for (i = SGXS_HDR; i + SGXS_HDR <= len;) {
		if (!memcmp(s + i, "EADD\0\0\0\0", 8)) {
			nr++;
			i += SGXS_HDR;
		} else if (!memcmp(s + i, "EEXTEND\0", 8) || !memcmp(s + i, "UNMEASRD", 8)) {
			i += SGXS_HDR + SGXS_CHUNK;
		} else {
			return fail(0, "%s: unknown SGXS record", path);
		}
	}
	if (i != len)
		return fail(0, "%s: truncated SGXS record", path);
	/* Freed by free_image(), also on the errors below. */
	img->nr = nr;
	img->pages = calloc(nr ? nr : 1, sizeof(*img->pages));
	img->data = mmap(NULL, (nr ? nr : 1) * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (img->data == MAP_FAILED)
		img->data = NULL;
	if (!img->pages || !img->data)
		return fail(ENOMEM, "%s", path);
	for (i = SGXS_HDR; i < len;) {
		if (!memcmp(s + i, "EADD\0\0\0\0", 8)) {
			cur++;
			img->pages[cur].offset = le64(s + i + 8);
			img->pages[cur].flags = le64(s + i + 16);
			if (img->pages[cur].offset % PAGE || img->pages[cur].offset >= img->size ||
			    (cur && img->pages[cur].offset <= img->pages[cur - 1].offset))
				return fail(0, "%s: bad EADD offset", path);
			i += SGXS_HDR;
			continue;
		}
		uint64_t off = le64(s + i + 8);

		if (cur < 0 || off / PAGE * PAGE != img->pages[cur].offset || off % SGXS_CHUNK)
			return fail(0, "%s: chunk outside its page", path);
		if (!memcmp(s + i, "EEXTEND\0", 8))
			img->pages[cur].measured |= (uint16_t)(1u << (off % PAGE / SGXS_CHUNK));
		memcpy(img->data + (size_t)cur * PAGE + off % PAGE, s + i + SGXS_HDR, SGXS_CHUNK);
		i += SGXS_HDR + SGXS_CHUNK;
	}
	return 0;
}

static void free_image(struct image *img)
{
	free(img->pages);
	if (img->data)
		munmap(img->data, (img->nr ? img->nr : 1) * PAGE);
	memset(img, 0, sizeof(*img));
}

static int load_sgxs(const char *path, struct image *img)
{
	uint8_t *sgxs;
	size_t len;
	int r = read_file(path, &sgxs, &len);

	if (r)
		return r;
	r = parse_sgxs(sgxs, len, img, path);
	free(sgxs);
	return r;
}

int encl_sgxs_summary(const char *path, struct encl_sgxs_summary *sum)
{
	struct image img = { 0 };
	int r = load_sgxs(path, &img);

	memset(sum, 0, sizeof(*sum));
	if (!r) {
		sum->size = img.size;
		sum->ssaframesize = img.ssaframesize;
		sum->nr_pages = img.nr;
		sum->added_end = img.nr ? img.pages[img.nr - 1].offset + PAGE : 0;
		for (size_t i = 0; i < img.nr; i++) {
			const struct page_desc *p = &img.pages[i];

			if (SI_TYPE(p->flags) == PT_TCS_TYPE && sum->nr_tcs < ENCL_LOAD_MAX_TCS)
				sum->tcs[sum->nr_tcs++] = p->offset;
			sum->nr_measured += p->measured == 0xffff;
			sum->nr_exec += !!(p->flags & 4);
		}
	}
	free_image(&img);
	return r;
}

/* ADD_PAGES of img pages [first, first + n): consecutive, same flags and measurement. */
static int add_pages(struct encl *e, const struct image *img, size_t first, size_t n)
{
	uint64_t secinfo[8] __attribute__((aligned(64))) = { img->pages[first].flags };
	uint64_t done = 0;

	while (done < n * PAGE) {
		struct sgx_enclave_add_pages ap = {
			.src = (uint64_t)(img->data + first * PAGE + done),
			.offset = img->pages[first].offset + done,
			.length = n * PAGE - done,
			.secinfo = (uint64_t)secinfo,
			.flags = img->pages[first].measured ? SGX_PAGE_MEASURE : 0,
		};

		if (ioctl(e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &ap)) {
			if (errno == EINTR)
				continue;
			return fail(errno, "ADD_PAGES at offset 0x%llx",
				    (unsigned long long)ap.offset);
		}
		done += ap.count;	/* a signal may cut the batch short */
	}
	return 0;
}

static int prot_of(uint64_t flags)
{
	if (SI_TYPE(flags) == PT_TCS_TYPE)
		return PROT_READ | PROT_WRITE;
	return ((flags & 1) ? PROT_READ : 0) | ((flags & 2) ? PROT_WRITE : 0) |
	       ((flags & 4) ? PROT_EXEC : 0);
}

/* Map [off, off + len) of the enclave with @prot over the reservation. */
static int map_range(struct encl *e, uint64_t off, uint64_t len, int prot)
{
	void *p = mmap((void *)(e->base + off), len, prot, MAP_SHARED | MAP_FIXED, e->fd, 0);

	if (p == MAP_FAILED)
		return fail(errno, "mmap of enclave offsets 0x%llx+0x%llx",
			    (unsigned long long)off, (unsigned long long)len);
	return 0;
}

static int map_all(struct encl *e, const struct image *img)
{
	uint64_t run_off = 0;
	int run_prot = -1;
	size_t i = 0;

	for (uint64_t off = 0; off < e->size; off += PAGE) {
		int prot = PROT_READ | PROT_WRITE;	/* never added: EAUG on first touch */

		if (i < img->nr && img->pages[i].offset == off)
			prot = prot_of(img->pages[i++].flags);
		if (prot != run_prot) {
			int r = run_prot >= 0 ? map_range(e, run_off, off - run_off, run_prot) : 0;

			if (r)
				return r;
			run_off = off;
			run_prot = prot;
		}
	}
	return map_range(e, run_off, e->size - run_off, run_prot);
}

static int build(struct encl *e, const struct image *img)
{
	uint8_t *secs = aligned_alloc(PAGE, PAGE);
	struct sgx_enclave_create create;
	struct sgx_enclave_init init;
	size_t i, j;
	int r;

	if (!secs)
		return fail(ENOMEM, "SECS");
	memset(secs, 0, PAGE);
	memcpy(secs + 0, &e->size, 8);
	memcpy(secs + 8, &e->base, 8);
	memcpy(secs + 16, &img->ssaframesize, 4);
	memcpy(secs + 20, e->sigstruct + SS_MISCSELECT, 4);
	memcpy(secs + 48, e->sigstruct + SS_ATTRIBUTES, 8);
	memcpy(secs + 56, e->sigstruct + SS_XFRM, 8);
	create.src = (uint64_t)secs;
	r = ioctl(e->fd, SGX_IOC_ENCLAVE_CREATE, &create);
	free(secs);
	if (r)
		return fail(errno, "ENCLAVE_CREATE");

	for (i = 0; i < img->nr; i = j) {
		const struct page_desc *p = &img->pages[i];

		if (p->measured && p->measured != 0xffff)
			return fail(0, "page at 0x%llx measures some chunks only: the "
				    "uapi measures whole pages", (unsigned long long)p->offset);
		for (j = i + 1; j < img->nr; j++) {
			const struct page_desc *q = &img->pages[j];

			if (q->offset != p->offset + (j - i) * PAGE || q->flags != p->flags ||
			    !q->measured != !p->measured)
				break;
		}
		r = add_pages(e, img, i, j - i);
		if (r)
			return r;
	}
	for (i = 0; i < img->nr; i++) {
		if (SI_TYPE(img->pages[i].flags) == PT_TCS_TYPE && e->nr_tcs < ENCL_LOAD_MAX_TCS)
			e->tcs[e->nr_tcs++] = e->base + img->pages[i].offset;
	}
	e->nr_pages = img->nr;
	e->added_end = img->nr ? img->pages[img->nr - 1].offset + PAGE : 0;

	init.sigstruct = (uint64_t)e->sigstruct;
	do {	/* a signal during EINIT's retries leaves the enclave CREATED: again */
		r = ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init);
	} while (r && errno == EINTR);
	if (r)
		return fail(errno, "ENCLAVE_INIT");
	return map_all(e, img);
}

int encl_load(struct encl *e, const char *sgxs_path, const char *sig_path)
{
	uint8_t *sig = NULL;
	size_t sig_len;
	struct image img = { 0 };
	uint8_t *area;
	int r;

	memset(e, 0, sizeof(*e));
	e->fd = -1;
	r = read_file(sig_path, &sig, &sig_len);
	if (r)
		return r;
	if (sig_len != ENCL_SIGSTRUCT_SIZE) {
		free(sig);
		return fail(0, "%s: not a 1808-byte SIGSTRUCT", sig_path);
	}
	memcpy(e->sigstruct, sig, sig_len);
	free(sig);
	r = load_sgxs(sgxs_path, &img);
	if (r)
		goto out;
	if (!vdso_fn)
		vdso_fn = encl_vdso_enter();
	e->size = img.size;
	e->ssaframesize = img.ssaframesize;

	e->fd = open("/dev/sgx_enclave", O_RDWR);
	if (e->fd < 0) {
		r = fail(errno, "%s", "/dev/sgx_enclave");
		goto out;
	}
	/* Twice the size, so that an aligned ELRANGE fits; trim the rest. */
	area = mmap(NULL, e->size * 2, PROT_NONE, MAP_SHARED, e->fd, 0);
	if (area == MAP_FAILED) {
		r = fail(errno, "reserving the enclave's address range");
		goto out_close;
	}
	e->base = ((uint64_t)area + e->size - 1) & ~(e->size - 1);
	if (e->base > (uint64_t)area)
		munmap(area, e->base - (uint64_t)area);
	munmap((void *)(e->base + e->size), (uint64_t)area + e->size * 2 - e->base - e->size);

	r = build(e, &img);
	if (r) {
		r = r < 0 ? r : -EINVAL;
		munmap((void *)e->base, e->size);
		goto out_close;
	}
	free_image(&img);
	return 0;
out_close:
	close(e->fd);
	e->fd = -1;
out:
	free_image(&img);
	return r ? r : -EINVAL;
}

void encl_unload(struct encl *e)
{
	if (e->fd < 0)
		return;
	munmap((void *)e->base, e->size);
	close(e->fd);
	e->fd = -1;
}

bool encl_dev_present(void)
{
	int fd = open("/dev/sgx_enclave", O_RDWR);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The vDSO's dynamic symbol table, located through its PT_DYNAMIC. */
struct vdso_dyn {
	uintptr_t bias;
	const Elf64_Sym *symtab;
	const char *strtab;
	const uint32_t *hash;
	const uint32_t *gnu_hash;
};

static bool vdso_dyn(struct vdso_dyn *d)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	bool have_load = false;

	memset(d, 0, sizeof(*d));
	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return false;
	ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			d->bias = (uintptr_t)eh + ph[i].p_offset - ph[i].p_vaddr;
			have_load = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)((const char *)eh + ph[i].p_offset);
		}
	}
	if (!have_load || !dyn)
		return false;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		const void *p = (const void *)(d->bias + dyn->d_un.d_ptr);

		if (dyn->d_tag == DT_SYMTAB)
			d->symtab = p;
		else if (dyn->d_tag == DT_STRTAB)
			d->strtab = p;
		else if (dyn->d_tag == DT_HASH)
			d->hash = p;
		else if (dyn->d_tag == DT_GNU_HASH)
			d->gnu_hash = p;
	}
	return d->symtab && d->strtab;
}

static void *vdso_match(const struct vdso_dyn *d, uint32_t i, const char *name)
{
	const Elf64_Sym *s = &d->symtab[i];

	if (s->st_shndx == SHN_UNDEF || ELF64_ST_TYPE(s->st_info) != STT_FUNC ||
	    strcmp(d->strtab + s->st_name, name))
		return NULL;
	return (void *)(d->bias + s->st_value);
}

static uint32_t sysv_hash(const char *name)
{
	uint32_t h = 0, g;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h = (h << 4) + *p;
		g = h & 0xf0000000;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static uint32_t gnu_hash(const char *name)
{
	uint32_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h;
}

static void *lookup_sysv(const struct vdso_dyn *d, const char *name)
{
	uint32_t nbucket = d->hash[0], nchain = d->hash[1];
	const uint32_t *bucket = d->hash + 2, *chain = bucket + nbucket;

	if (!nbucket)
		return NULL;
	for (uint32_t i = bucket[sysv_hash(name) % nbucket]; i && i < nchain; i = chain[i]) {
		void *p = vdso_match(d, i, name);

		if (p)
			return p;
	}
	return NULL;
}

static void *lookup_gnu(const struct vdso_dyn *d, const char *name)
{
	uint32_t nbuckets = d->gnu_hash[0], symoff = d->gnu_hash[1];
	uint32_t bloom_size = d->gnu_hash[2], shift = d->gnu_hash[3];
	const uint64_t *bloom = (const uint64_t *)(d->gnu_hash + 4);
	const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
	const uint32_t *chain = buckets + nbuckets;
	uint32_t h = gnu_hash(name), i;
	uint64_t word;

	if (!nbuckets || !bloom_size)
		return NULL;
	word = bloom[(h / 64) % bloom_size];
	if (!((word >> (h % 64)) & (word >> ((h >> shift) % 64)) & 1))
		return NULL;
	i = buckets[h % nbuckets];
	if (i < symoff)
		return NULL;
	for (;; i++) {
		uint32_t c = chain[i - symoff];

		if ((c | 1) == (h | 1)) {
			void *p = vdso_match(d, i, name);

			if (p)
				return p;
		}
		if (c & 1)
			return NULL;
	}
}

void *encl_vdso_sym(const char *name, enum encl_vdso_hash how)
{
	struct vdso_dyn d;

	if (!vdso_dyn(&d))
		return NULL;
	if (how == ENCL_VDSO_GNU_HASH)
		return d.gnu_hash ? lookup_gnu(&d, name) : NULL;
	return d.hash ? lookup_sysv(&d, name) : NULL;
}

vdso_sgx_enter_enclave_t encl_vdso_enter(void)
{
	void *p = encl_vdso_sym("__vdso_sgx_enter_enclave", ENCL_VDSO_GNU_HASH);

	if (!p)
		p = encl_vdso_sym("__vdso_sgx_enter_enclave", ENCL_VDSO_HASH);
	return (vdso_sgx_enter_enclave_t)p;
}

int encl_vdso_call_on(unsigned long rdi, unsigned long rsi, unsigned long rdx,
		      unsigned int function, unsigned long r8, unsigned long r9,
		      struct sgx_enclave_run *run, vdso_sgx_enter_enclave_t fn, void *stack_top);

/* Per thread: the stack every vDSO call of the thread runs on (encl_call.S). */
#define CALL_STACK_SIZE (64 * 1024)
static __thread uint8_t call_stack[CALL_STACK_SIZE] __attribute__((aligned(16)));

int encl_vdso_call(unsigned long rdi, unsigned long rsi, unsigned long rdx,
		   unsigned int function, unsigned long r8, unsigned long r9,
		   struct sgx_enclave_run *run, vdso_sgx_enter_enclave_t fn)
{
	return encl_vdso_call_on(rdi, rsi, rdx, function, r8, r9, run, fn,
				 call_stack + CALL_STACK_SIZE);
}

int encl_enter(uint64_t tcs, void *arg, struct sgx_enclave_run *run,
	       sgx_enclave_user_handler_t handler, uint64_t user_data)
{
	vdso_sgx_enter_enclave_t fn = vdso_fn ? vdso_fn : encl_vdso_enter();

	memset(run, 0, sizeof(*run));
	run->tcs = tcs;
	run->user_handler = (uint64_t)handler;
	run->user_data = user_data;
	if (!fn)
		return -ENOSYS;
	return encl_vdso_call((unsigned long)arg, 0, 0, ENCL_EENTER, 0, 0, run, fn);
}

int encl_resume(struct sgx_enclave_run *run)
{
	vdso_sgx_enter_enclave_t fn = vdso_fn ? vdso_fn : encl_vdso_enter();

	if (!fn)
		return -ENOSYS;
	return encl_vdso_call(0, 0, 0, ENCL_ERESUME, 0, 0, run, fn);
}
