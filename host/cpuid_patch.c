// SPDX-License-Identifier: MIT
/*
 * CPUID without CPUID faulting: each CPUID instruction (0F A2) in the code
 * of the loaded objects is rewritten into UD2 (0F 0B), which traps with
 * SIGILL, and the handler answers as the faulting path does (cpuid.c).
 *
 * Finding the instructions takes a disassembler (Capstone), not a byte
 * scan: 0F A2 also occurs inside other instructions and in data.  Code is
 * what the file's section headers mark executable (else the executable
 * PT_LOAD segments), and within it only the functions the unwind tables
 * (.eh_frame_hdr) describe are decoded, each from its first byte: the data
 * that hand-written assembly keeps in .text (libcrypto's constant tables)
 * lies between those functions and is never read as code.  Only a
 * function that holds the bytes 0F A2 somewhere is decoded at all.
 *
 * The shim itself is left alone: its own CPUID (the real one) must stay.
 * Objects loaded later are rewritten before their constructors run: the
 * loader calls r_debug.r_brk (the debugger's hook) once the new objects are
 * mapped and before it relocates them, and that function, an empty one, gets
 * a UD2 too.  Its trap rescans, synchronously inside dlopen (or dlclose),
 * with the loader's lock held, so the scan runs on raw system calls, a
 * static buffer and memory from mmap, never malloc or a lock of libc
 * (dl_iterate_phdr's lock is a recursive one the loader does not hold
 * there; Capstone's one allocation, its id cache, happens at start-up).
 *
 * The handler finds rewritten sites in a sorted table it searches without
 * locks; a new table is published before the bytes it lists are rewritten,
 * and an old one is unmapped once no handler searches it.  A UD2 that is
 * not in the table is the program's own.  The rewritten bytes are what the
 * program reads back from its own code.
 */
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "shim.h"

#define PAGE 4096UL
#define MAX_OBJS 1024
#define MAX_RANGES 64

struct site_table {
	size_t n, bytes;   /* bytes: the mapping's length */
	unsigned long a[]; /* sorted */
};

/* An object scanned: which one (its base and program headers), its span. */
struct obj {
	unsigned long base;
	const void *phdr;
	unsigned long lo, hi;
	bool live;
};

struct range {
	unsigned long start, end;
	int prot;
};

/* New sites of one scan, in mmap'd memory (grown by doubling). */
struct found {
	unsigned long *a;
	int *prot;
	size_t n, cap;
};

static struct site_table *_Atomic table;
static _Atomic long readers;
static struct obj objs[MAX_OBJS];
static int nr_objs;
static unsigned long long last_adds, last_subs;
static csh cs;
static cs_insn *insn;
static uint8_t *hook;           /* the UD2 in r_brk */
static bool debug;
/* Headers of the file being scanned (the loader serialises the scans). */
static uint8_t filebuf[32768];
static unsigned long scan_objs, scan_sites, scan_bytes;

/* ---- raw system calls: libc's page may be the one being patched ---- */

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static void *map_anon(size_t len)
{
	long p = sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p < 0 && p > -4096 ? NULL : (void *)p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	sys6(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0, 0);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* "softsgx: WHAT N ..." without stdio (the rescan runs in a signal). */
static void log_nums(const char *what, const unsigned long *v, int n, const char *tail)
{
	char buf[256], *p = buf;
	size_t l = strlen(what);

	memcpy(p, what, l);
	p += l;
	for (int i = 0; i < n; i++) {
		char d[24];
		int k = 0;
		unsigned long x = v[i];

		do
			d[k++] = (char)('0' + x % 10);
		while ((x /= 10));
		*p++ = ' ';
		while (k)
			*p++ = d[--k];
	}
	l = strlen(tail);
	memcpy(p, tail, l);
	p += l;
	sys6(SYS_write, 2, (long)buf, p - buf, 0, 0, 0);
}

/* ---- the table the handler searches ---- */

bool shim_cpuid_is_site(unsigned long rip)
{
	const struct site_table *t;
	size_t lo = 0, hi;
	bool hit = false;

	atomic_fetch_add(&readers, 1);
	t = atomic_load(&table);
	for (hi = t ? t->n : 0; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->a[mid] == rip) {
			hit = true;
			break;
		}
		if (t->a[mid] < rip)
			lo = mid + 1;
		else
			hi = mid;
	}
	atomic_fetch_sub(&readers, 1);
	return hit;
}

/*
 * In a child of fork: the other threads are gone, and with them any search
 * they were in the middle of (a publish would wait for them forever).
 */
void shim_cpuid_after_fork(void)
{
	atomic_store(&readers, 0);
}

/* Is @a in an unloaded object only (ld.so is in every namespace's list)? */
static bool in_dead_obj(unsigned long a)
{
	bool dead = false;

	for (int i = 0; i < nr_objs; i++)
		if (a >= objs[i].lo && a < objs[i].hi) {
			if (objs[i].live)
				return false;
			dead = true;
		}
	return dead;
}

/* The old table less the sites of unloaded objects, merged with @f (sorted). */
static int publish(const struct found *f)
{
	struct site_table *old = atomic_load(&table), *t;
	size_t n = (old ? old->n : 0) + f->n, i = 0, j = 0, k = 0;
	size_t bytes = (sizeof(*t) + n * sizeof(t->a[0]) + PAGE - 1) & ~(PAGE - 1);

	t = map_anon(bytes);
	if (!t)
		return -1;
	t->bytes = bytes;
	while (i < (old ? old->n : 0) || j < f->n) {
		if (j == f->n || (old && i < old->n && old->a[i] < f->a[j])) {
			if (!in_dead_obj(old->a[i]))
				t->a[k++] = old->a[i];
			i++;
		} else {
			t->a[k++] = f->a[j++];
		}
	}
	t->n = k;
	atomic_store(&table, t);
	/* A handler that loaded the old pointer has counted itself in first. */
	while (atomic_load(&readers))
		sys6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	if (old)
		sys6(SYS_munmap, (long)old, (long)old->bytes, 0, 0, 0, 0);
	return 0;
}

/* ---- finding the CPUID instructions of one object ---- */

static bool add_site(struct found *f, unsigned long a, int prot)
{
	size_t i;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 512;
		unsigned long *na = map_anon(cap * sizeof(*na));
		int *np = map_anon(cap * sizeof(*np));

		if (!na || !np)
			return false;
		if (f->cap) {
			memcpy(na, f->a, f->n * sizeof(*na));
			memcpy(np, f->prot, f->n * sizeof(*np));
			sys6(SYS_munmap, (long)f->a, (long)(f->cap * sizeof(*na)), 0, 0, 0, 0);
			sys6(SYS_munmap, (long)f->prot, (long)(f->cap * sizeof(*np)), 0, 0, 0, 0);
		}
		f->a = na;
		f->prot = np;
		f->cap = cap;
	}
	/* Kept sorted: objects are scanned in any order. */
	for (i = f->n; i > 0 && f->a[i - 1] > a; i--) {
		f->a[i] = f->a[i - 1];
		f->prot[i] = f->prot[i - 1];
	}
	if (i > 0 && f->a[i - 1] == a) {
		memmove(&f->a[i], &f->a[i + 1], (f->n - i) * sizeof(*f->a));
		memmove(&f->prot[i], &f->prot[i + 1], (f->n - i) * sizeof(*f->prot));
		return true;
	}
	f->a[i] = a;
	f->prot[i] = prot;
	f->n++;
	return true;
}

/* The first bytes 0F A2 in [p, end), or NULL (A2 is the rarer byte in code). */
static const uint8_t *candidate(const uint8_t *p, const uint8_t *end)
{
	for (const uint8_t *q = p + 1; q < end; q++) {
		q = memchr(q, 0xa2, (size_t)(end - q));
		if (!q)
			break;
		if (q[-1] == 0x0f)
			return q - 1;
	}
	return NULL;
}

/*
 * Decode [start, end) from @start (an instruction's first byte) until past
 * the last bytes 0F A2 in it, the first of them at @first; every 2-byte
 * CPUID is a site.  Return where the decoding stopped.
 */
static unsigned long decode(struct found *f, unsigned long start, unsigned long end,
			    const uint8_t *first, int prot)
{
	const uint8_t *p = (const uint8_t *)start, *last = first, *c;
	size_t left = end - start;
	uint64_t a = start;

	while ((c = candidate(last + 1, (const uint8_t *)end)))
		last = c;
	/* The instruction that holds the last 0F A2 is decoded whole. */
	while (left && a < (uint64_t)(uintptr_t)last + 2) {
		if (!cs_disasm_iter(cs, &p, &left, &a, insn)) {
			p++, left--, a++; /* not an instruction: on to the next byte */
			continue;
		}
		if (insn->id == X86_INS_CPUID && insn->size == 2 && insn->bytes[0] == 0x0f &&
		    insn->bytes[1] == 0xa2)
			add_site(f, (unsigned long)insn->address, prot);
	}
	scan_bytes += a - start;
	return (unsigned long)a;
}

static int prot_of(uint32_t pf)
{
	return (pf & PF_R ? PROT_READ : 0) | (pf & PF_W ? PROT_WRITE : 0) |
	       (pf & PF_X ? PROT_EXEC : 0);
}

/* Read @len bytes at @off of @fd into filebuf + @at; false if they are not all there. */
static bool file_read(int fd, size_t at, uint64_t off, size_t len)
{
	if (at > sizeof(filebuf) || len > sizeof(filebuf) - at)
		return false;
	while (len) {
		long r = sys6(SYS_pread64, fd, (long)(filebuf + at), (long)len, (long)off, 0, 0);

		if (r <= 0)
			return false;
		at += (size_t)r, off += (uint64_t)r, len -= (size_t)r;
	}
	return true;
}

/*
 * The code of @info as its file's section headers say (SHF_EXECINSTR
 * sections, clipped to the executable segments): only if the file's program
 * headers are those in memory, i.e. it is the file that was loaded.
 */
static int ranges_from_file(const struct dl_phdr_info *info, const char *path,
			    const struct range *segs, int nsegs, struct range *out)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)filebuf;
	size_t phsz = (size_t)info->dlpi_phnum * sizeof(Elf64_Phdr), shoff, shsz;
	const Elf64_Shdr *sh;
	int fd, n = -1;

	fd = (int)sys6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return -1;
	if (!file_read(fd, 0, 0, sizeof(*eh)) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    eh->e_phnum != info->dlpi_phnum || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !eh->e_shnum)
		goto out;
	shoff = sizeof(*eh) + phsz;
	shsz = (size_t)eh->e_shnum * sizeof(Elf64_Shdr);
	if (!file_read(fd, sizeof(*eh), eh->e_phoff, phsz) ||
	    memcmp(filebuf + sizeof(*eh), info->dlpi_phdr, phsz) ||
	    !file_read(fd, shoff, eh->e_shoff, shsz))
		goto out;
	sh = (const Elf64_Shdr *)(filebuf + shoff);
	n = 0;
	for (int i = 0; i < eh->e_shnum && n < MAX_RANGES; i++) {
		unsigned long s = info->dlpi_addr + sh[i].sh_addr, e = s + sh[i].sh_size;

		if (sh[i].sh_type != SHT_PROGBITS ||
		    (sh[i].sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) != (SHF_ALLOC | SHF_EXECINSTR))
			continue;
		for (int g = 0; g < nsegs && n < MAX_RANGES; g++) {
			unsigned long cs_ = s > segs[g].start ? s : segs[g].start;
			unsigned long ce = e < segs[g].end ? e : segs[g].end;

			if (cs_ < ce)
				out[n++] = (struct range){ cs_, ce, segs[g].prot };
		}
	}
out:
	sys6(SYS_close, fd, 0, 0, 0, 0, 0);
	return n;
}

/* A DWARF pointer of encoding @enc at *@pp (advanced); false: not supported. */
static bool read_enc(const uint8_t **pp, uint8_t enc, unsigned long datarel, unsigned long *out)
{
	const uint8_t *p = *pp;
	unsigned long base = 0;
	int64_t v;

	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: base = (unsigned long)p; break;      /* pcrel */
	case 0x30: base = datarel; break;               /* datarel */
	default: return false;
	}
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: { int64_t x; memcpy(&x, p, 8); v = x; p += 8; break; }
	case 0x03: { uint32_t x; memcpy(&x, p, 4); v = x; p += 4; break; }
	case 0x0b: { int32_t x; memcpy(&x, p, 4); v = x; p += 4; break; }
	case 0x02: { uint16_t x; memcpy(&x, p, 2); v = x; p += 2; break; }
	case 0x0a: { int16_t x; memcpy(&x, p, 2); v = x; p += 2; break; }
	default: return false;
	}
	*pp = p;
	*out = base + (unsigned long)v;
	return true;
}

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static unsigned long uleb(const uint8_t **pp)
{
	unsigned long v = 0;
	int sh = 0;
	uint8_t b;

	do {
		b = *(*pp)++;
		if (sh < 64)
			v |= (unsigned long)(b & 0x7f) << sh;
		sh += 7;
	} while (b & 0x80);
	return v;
}

/* The FDE pointer encoding of the CIE at @cie (0xff: none we can read). */
static uint8_t cie_fde_enc(const uint8_t *cie)
{
	const uint8_t *aug = cie + 9, *p;
	uint8_t ver = cie[8];

	if (ld32(cie) == 0xffffffffu || ld32(cie + 4) != 0)
		return 0xff; /* 64-bit DWARF, or not a CIE */
	p = aug + strlen((const char *)aug) + 1;
	if (aug[0] != 'z')
		return 0;     /* no augmentation data: absolute pointers */
	uleb(&p);             /* code alignment */
	uleb(&p);             /* data alignment (sleb: the same length) */
	if (ver == 1)
		p++;
	else
		uleb(&p);     /* return address register */
	uleb(&p);             /* augmentation data length */
	for (const char *c = (const char *)aug + 1; *c; c++) {
		unsigned long ignored;

		if (*c == 'R')
			return *p;
		if (*c == 'L')
			p++;
		else if (*c == 'P') {
			uint8_t penc = *p++;

			if (!read_enc(&p, penc & 0x7f, 0, &ignored))
				return 0xff;
		} else if (*c != 'S' && *c != 'B')
			return 0xff;
	}
	return 0;
}

/* The sorted table of .eh_frame_hdr, and what reading an FDE needs. */
struct fde_index {
	const uint8_t *hdr, *table;
	unsigned long count, lo, hi;
	const uint8_t *cie_seen;
	uint8_t cie_enc;
};

static bool fde_index(struct fde_index *x, const struct dl_phdr_info *info)
{
	const uint8_t *hdr = NULL, *p;
	unsigned long ignored;

	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			hdr = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	/* Version 1, with the sorted table in the usual datarel sdata4 form. */
	if (!hdr || hdr[0] != 1 || hdr[3] != 0x3b)
		return false;
	p = hdr + 4;
	if (!read_enc(&p, hdr[1], (unsigned long)hdr, &ignored) ||
	    !read_enc(&p, hdr[2], (unsigned long)hdr, &x->count))
		return false;
	x->hdr = hdr;
	x->table = p;
	x->cie_seen = NULL;
	x->cie_enc = 0xff;
	return true;
}

/* The function (from its FDE) that holds @addr: false if none does. */
static bool fde_lookup(struct fde_index *x, unsigned long addr, unsigned long *start,
		       unsigned long *end)
{
	unsigned long lo = 0, hi = x->count, len;
	const uint8_t *fde, *cie, *q;

	while (lo < hi) { /* the last entry that starts at or below @addr */
		unsigned long mid = lo + (hi - lo) / 2;

		if ((unsigned long)(x->hdr + (int32_t)ld32(x->table + mid * 8)) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	fde = x->hdr + (int32_t)ld32(x->table + (lo - 1) * 8 + 4);
	if ((unsigned long)fde < x->lo || (unsigned long)fde + 16 > x->hi ||
	    ld32(fde) == 0xffffffffu)
		return false;
	q = fde + 4;
	cie = q - ld32(q);
	if ((unsigned long)cie < x->lo || (unsigned long)cie + 16 > x->hi)
		return false;
	if (cie != x->cie_seen) {
		x->cie_seen = cie;
		x->cie_enc = cie_fde_enc(cie);
	}
	q += 4;
	if (x->cie_enc == 0xff || !read_enc(&q, x->cie_enc, 0, start) ||
	    !read_enc(&q, x->cie_enc & 0x0f, 0, &len))
		return false;
	*end = *start + len;
	return addr >= *start && addr < *end;
}

/*
 * Decode the code of @r where the bytes 0F A2 occur: each function that
 * holds them, from its first byte, as .eh_frame_hdr tells; without that
 * table, each range from its start.
 */
static void decode_ranges(struct found *f, const struct dl_phdr_info *info,
			  const struct range *r, int nr, unsigned long lo, unsigned long hi)
{
	struct fde_index x = { .lo = lo, .hi = hi };
	bool fdes = fde_index(&x, info);

	for (int k = 0; k < nr; k++) {
		const uint8_t *end = (const uint8_t *)r[k].end, *c;
		unsigned long next = r[k].start, fs, fe;

		while ((c = candidate((const uint8_t *)next, end))) {
			if (!fdes) {
				next = decode(f, next, r[k].end, c, r[k].prot);
				continue;
			}
			if (!fde_lookup(&x, (unsigned long)c, &fs, &fe) || fs < r[k].start) {
				next = (unsigned long)c + 1; /* not in a function: data */
				continue;
			}
			next = decode(f, fs, fe < r[k].end ? fe : r[k].end, c, r[k].prot);
		}
	}
}

static bool is_self(const struct dl_phdr_info *info)
{
	unsigned long me = (unsigned long)&shim_cpuid_is_site;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const Elf64_Phdr *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && me >= info->dlpi_addr + ph->p_vaddr &&
		    me < info->dlpi_addr + ph->p_vaddr + ph->p_memsz)
			return true;
	}
	return false;
}

static void scan_obj(struct found *f, struct dl_phdr_info *info, struct obj *o)
{
	struct range segs[MAX_RANGES], code[MAX_RANGES];
	int nsegs = 0, ncode;
	const char *path = info->dlpi_name;

	o->lo = ~0UL;
	o->hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const Elf64_Phdr *ph = &info->dlpi_phdr[i];
		unsigned long s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;

		if (ph->p_type != PT_LOAD)
			continue;
		o->lo = s < o->lo ? s : o->lo;
		o->hi = e > o->hi ? e : o->hi;
		/* Code we can read: not execute-only segments. */
		if ((ph->p_flags & (PF_X | PF_R)) == (PF_X | PF_R) && nsegs < MAX_RANGES)
			segs[nsegs++] = (struct range){ s, e, prot_of(ph->p_flags) };
	}
	if (is_self(info) || !nsegs)
		return;
	if (!path || !*path)
		path = "/proc/self/exe"; /* the main program (the vDSO has a name) */
	ncode = ranges_from_file(info, path, segs, nsegs, code);
	if (ncode < 0) {
		memcpy(code, segs, sizeof(segs[0]) * (size_t)nsegs);
		ncode = nsegs;
	}
	scan_objs++;
	decode_ranges(f, info, code, ncode, o->lo, o->hi);
}

struct scan_ctx {
	struct found *f;
	bool full; /* out of object slots: said once */
};

static int scan_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan_ctx *c = arg;
	struct obj *o;

	(void)size;
	last_adds = info->dlpi_adds;
	last_subs = info->dlpi_subs;
	for (int i = 0; i < nr_objs; i++)
		if (objs[i].base == info->dlpi_addr && objs[i].phdr == info->dlpi_phdr) {
			objs[i].live = true;
			return 0;
		}
	if (nr_objs == MAX_OBJS) {
		if (!c->full)
			shim_log("softsgx: too many objects; CPUID in the later ones is not "
				 "rewritten\n");
		c->full = true;
		return 0;
	}
	o = &objs[nr_objs++];
	o->base = info->dlpi_addr;
	o->phdr = info->dlpi_phdr;
	o->live = true;
	scan_obj(c->f, info, o);
	return 0;
}

/*
 * The namespaces dlmopen() made, which dl_iterate_phdr() does not show (it
 * lists its caller's): their link maps, from the loader's rendezvous list
 * (r_version 2), with the program headers read from the ELF header at the
 * start of each object's mapping.
 */
static void scan_namespaces(struct scan_ctx *c)
{
	const struct r_debug_extended *d = (const struct r_debug_extended *)&_r_debug;

	if (_r_debug.r_version < 2)
		return;
	/* _r_debug is declared as the smaller struct r_debug; version 2 made it longer. */
	__asm__("" : "+r"(d));
	for (d = d->r_next; d; d = d->r_next)
		for (const struct link_map *l = d->base.r_map; l; l = l->l_next) {
			struct dl_phdr_info info = { 0 };
			const Elf64_Ehdr *eh;
			Dl_info dl;

			if (!l->l_ld || !dladdr(l->l_ld, &dl) || !dl.dli_fbase)
				continue;
			eh = dl.dli_fbase;
			if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
			    eh->e_phentsize != sizeof(Elf64_Phdr) ||
			    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > PAGE)
				continue;
			info.dlpi_addr = l->l_addr;
			info.dlpi_name = l->l_name;
			info.dlpi_phdr = (const Elf64_Phdr *)((const uint8_t *)eh + eh->e_phoff);
			info.dlpi_phnum = eh->e_phnum;
			info.dlpi_adds = last_adds;
			info.dlpi_subs = last_subs;
			scan_cb(&info, sizeof(info), c);
		}
}

/* Rewrite the sites of @f: the page writable for one byte, then as it was. */
static unsigned long patch(const struct found *f)
{
	unsigned long done = 0;

	for (size_t i = 0; i < f->n;) {
		unsigned long page = (f->a[i] + 1) & ~(PAGE - 1);
		int prot = f->prot[i];
		size_t j;

		/* RWX keeps the page executable for other threads; else RW briefly. */
		if (sys6(SYS_mprotect, (long)page, PAGE, prot | PROT_WRITE | PROT_EXEC, 0, 0, 0) &&
		    sys6(SYS_mprotect, (long)page, PAGE, prot | PROT_WRITE, 0, 0, 0)) {
			for (j = i; j < f->n && ((f->a[j] + 1) & ~(PAGE - 1)) == page; j++)
				;
			i = j;
			continue;
		}
		for (j = i; j < f->n && ((f->a[j] + 1) & ~(PAGE - 1)) == page; j++, done++)
			*(volatile uint8_t *)(f->a[j] + 1) = 0x0b; /* 0F A2 -> 0F 0B */
		sys6(SYS_mprotect, (long)page, PAGE, prot, 0, 0, 0);
		i = j;
	}
	return done;
}

static int adds_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	((unsigned long long *)arg)[0] = info->dlpi_adds;
	((unsigned long long *)arg)[1] = info->dlpi_subs;
	return 1;
}

/* Scan what is new, drop what is gone, publish, then rewrite. */
static void rescan(void)
{
	struct found f = { 0 };
	struct scan_ctx c = { &f, false };
	unsigned long long seen[2] = { 0, 0 };
	uint64_t t0 = now_ns();
	bool gone = false;
	int k = 0;

	/*
	 * Nothing loaded or unloaded since the last scan: done.  With dlmopen
	 * namespaces the counters move before a new namespace's list is in
	 * the rendezvous structure, so those always get the scan.
	 */
	if (nr_objs && _r_debug.r_version < 2) {
		dl_iterate_phdr(adds_cb, seen);
		if (seen[0] == last_adds && seen[1] == last_subs)
			return;
	}
	scan_objs = scan_sites = scan_bytes = 0;
	for (int i = 0; i < nr_objs; i++)
		objs[i].live = false;
	dl_iterate_phdr(scan_cb, &c);
	scan_namespaces(&c);
	for (int i = 0; i < nr_objs; i++)
		gone |= !objs[i].live;
	if ((f.n || gone) && publish(&f))
		shim_log("softsgx: out of memory for the CPUID site table\n");
	else
		scan_sites = patch(&f);
	for (int i = 0; i < nr_objs; i++)
		if (objs[i].live)
			objs[k++] = objs[i];
	nr_objs = k;
	if (f.cap) {
		sys6(SYS_munmap, (long)f.a, (long)(f.cap * sizeof(*f.a)), 0, 0, 0, 0);
		sys6(SYS_munmap, (long)f.prot, (long)(f.cap * sizeof(*f.prot)), 0, 0, 0, 0);
	}
	if (debug && (scan_objs || gone)) {
		const unsigned long v[4] = { scan_sites, scan_objs, scan_bytes,
					     (unsigned long)((now_ns() - t0) / 1000) };

		log_nums("softsgx: CPUID rewrite: sites, objects, bytes decoded, us:", v, 4, "\n");
	}
}

/*
 * r_brk: [endbr64] ret, then padding.  Its first two bytes become UD2 where
 * they are not followed by code that runs (ret and a NOP, or endbr64).
 */
static uint8_t *hook_site(void)
{
	uint8_t *b = (uint8_t *)_r_debug.r_brk;
	const uint8_t *p;
	size_t left = 16;
	uint64_t a;

	if (!b)
		return NULL;
	if (!memcmp(b, "\xf3\x0f\x1e\xfa\xc3", 5))
		return b;
	if (b[0] != 0xc3)
		return NULL;
	p = b + 1;
	a = (uint64_t)(uintptr_t)p;
	if (!cs_disasm_iter(cs, &p, &left, &a, insn) || insn->id != X86_INS_NOP)
		return NULL;
	return b;
}

/**
 * shim_cpuid_loader_trap() - the loader reached r_brk: rescan, then return.
 * @uc: the SIGILL's context
 *
 * Return: true if the trap was r_brk's UD2 (handled), false otherwise.
 */
bool shim_cpuid_loader_trap(ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t *sp = (uint64_t *)(uintptr_t)g[REG_RSP];

	if (!hook || (uint8_t *)(uintptr_t)g[REG_RIP] != hook)
		return false;
	rescan();
	/* r_brk's own work: ret. */
	g[REG_RIP] = (greg_t)sp[0];
	g[REG_RSP] = (greg_t)(uintptr_t)(sp + 1);
	return true;
}

/**
 * shim_cpuid_patch_init() - rewrite the CPUID instructions of every loaded
 * object but the shim, and hook the loader for the objects to come.
 *
 * Return: 0, or -1 when Capstone cannot be set up (nothing rewritten).
 */
int shim_cpuid_patch_init(void)
{
	unsigned long page;
	uint8_t *h;

	debug = shim_env_on("SOFTSGX_DEBUG");
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -1;
	insn = cs_malloc(cs);
	if (!insn) {
		cs_close(&cs);
		return -1;
	}
	/*
	 * Capstone allocates its instruction-id cache at the first decode:
	 * have that happen here, not in the loader's trap.
	 */
	{
		const uint8_t *w = (const uint8_t *)"\x0f\xa2";
		size_t wl = 2;
		uint64_t wa = 0;

		if (!cs_disasm_iter(cs, &w, &wl, &wa, insn) || insn->id != X86_INS_CPUID) {
			cs_free(insn, 1);
			cs_close(&cs);
			return -1;
		}
	}
	rescan();
	h = hook_site();
	if (!h) {
		shim_log("softsgx: the loader's r_brk is not [endbr64] ret: CPUID in objects "
			 "loaded later is not rewritten\n");
		return 0;
	}
	/* The code around r_brk is ld.so's text (R-X); nothing else runs yet. */
	page = (unsigned long)h & ~(PAGE - 1);
	if ((unsigned long)h % PAGE == PAGE - 1 ||
	    (sys6(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0) &&
	     sys6(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_WRITE, 0, 0, 0)))
		return 0;
	hook = h;
	h[0] = 0x0f;
	h[1] = 0x0b;
	sys6(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_EXEC, 0, 0, 0);
	return 0;
}
