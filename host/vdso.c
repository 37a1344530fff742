// SPDX-License-Identifier: MIT
/*
 * The vDSO image that getauxval(AT_SYSINFO_EHDR) returns under the shim:
 * an ELF shared object with DT_HASH and DT_GNU_HASH whose dynamic symbols
 * are __vdso_sgx_enter_enclave (our entry.S function) and every symbol of
 * the kernel's real vDSO, all relative to this image's base (values wrap
 * around modulo 2^64 to reach code outside it), so that any caller that
 * looks a symbol up and adds the base finds the right function.
 */
#include <dlfcn.h>
#include <elf.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "shim.h"

#define MAX_SYMS 64
#define IMAGE_SIZE 8192

static unsigned long image;

static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;

	while (*s)
		h = h * 33 + (uint8_t)*s++;
	return h;
}

struct sym {
	const char *name;
	uint64_t addr;
	uint8_t info;
};

/* The real vDSO's defined dynamic symbols, as absolute addresses. */
static int real_syms(unsigned long base, struct sym *out, int max)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Sym *symtab = NULL;
	const char *strtab = NULL;
	const uint32_t *hash = NULL;
	unsigned long load = 0;
	int n = 0;

	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return 0;
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !load)
			load = base + ph[i].p_offset - ph[i].p_vaddr;
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
	}
	if (!dyn)
		return 0;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		if (dyn->d_tag == DT_SYMTAB)
			symtab = (const Elf64_Sym *)(load + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			strtab = (const char *)(load + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_HASH)
			hash = (const uint32_t *)(load + dyn->d_un.d_ptr);
	}
	if (!symtab || !strtab || !hash)
		return 0;
	for (uint32_t i = 1; i < hash[1] && n < max; i++) {
		const Elf64_Sym *s = &symtab[i];

		if (s->st_shndx == SHN_UNDEF || !s->st_name)
			continue;
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC && ELF64_ST_TYPE(s->st_info) != STT_NOTYPE)
			continue;
		out[n++] = (struct sym){ strtab + s->st_name, load + s->st_value, s->st_info };
	}
	return n;
}

unsigned long shim_vdso_image(void)
{
	static unsigned long (*real_getauxval)(unsigned long);
	struct sym syms[MAX_SYMS + 1];
	uint8_t *p;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	Elf64_Dyn *dyn;
	Elf64_Sym *st;
	uint32_t *sh, *gh;
	uint64_t *bloom;
	char *str;
	size_t off, stroff = 1;
	int n;
	long m;

	if (image)
		return image;
	if (!real_getauxval)
		real_getauxval = (unsigned long (*)(unsigned long))dlsym(RTLD_NEXT, "getauxval");
	syms[0] = (struct sym){ "__vdso_sgx_enter_enclave",
				(uint64_t)(uintptr_t)softsgx_vdso_enter,
				ELF64_ST_INFO(STB_GLOBAL, STT_FUNC) };
	n = 1 + real_syms(real_getauxval ? real_getauxval(AT_SYSINFO_EHDR) : 0, syms + 1,
			  MAX_SYMS);

	m = shim_sys_mmap(NULL, IMAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (m < 0)
		return 0;
	p = (uint8_t *)m;
	eh = (Elf64_Ehdr *)p;
	ph = (Elf64_Phdr *)(p + sizeof(*eh));
	off = sizeof(*eh) + 2 * sizeof(*ph);
	dyn = (Elf64_Dyn *)(p + off);
	off += 8 * sizeof(*dyn);
	st = (Elf64_Sym *)(p + off);
	off += (size_t)(n + 1) * sizeof(*st);
	sh = (uint32_t *)(p + off);          /* nbucket, nchain, bucket, chain[] */
	off += (size_t)(3 + n + 1) * 4;
	off = (off + 7) & ~7UL;
	gh = (uint32_t *)(p + off);          /* nbuckets, symoffset, bloom_size, shift */
	bloom = (uint64_t *)(gh + 4);
	off += 16 + 8 + 4 + (size_t)n * 4;
	str = (char *)(p + off);

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_filesz = IMAGE_SIZE,
			      .p_memsz = IMAGE_SIZE, .p_align = 4096 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_DYNAMIC, .p_flags = PF_R,
			      .p_offset = (uint8_t *)dyn - p, .p_vaddr = (uint8_t *)dyn - p,
			      .p_filesz = 8 * sizeof(*dyn), .p_memsz = 8 * sizeof(*dyn),
			      .p_align = 8 };

	sh[0] = 1;               /* one bucket: every lookup walks the chain */
	sh[1] = (uint32_t)n + 1;
	sh[2] = n ? 1 : 0;
	gh[0] = 1;
	gh[1] = 1;
	gh[2] = 1;
	gh[3] = 6;
	bloom[0] = ~0ULL;        /* the filter passes everything */
	gh[6] = n ? 1 : 0;       /* bucket 0 starts at symbol 1 */
	for (int i = 0; i < n; i++) {
		size_t len = strlen(syms[i].name) + 1;
		uint32_t gv = gnu_hash(syms[i].name) & ~1U;

		if ((uint8_t *)str + stroff + len > p + IMAGE_SIZE)
			break;
		memcpy(str + stroff, syms[i].name, len);
		st[i + 1] = (Elf64_Sym){ .st_name = (uint32_t)stroff, .st_info = syms[i].info,
					 .st_shndx = 1,
					 .st_value = syms[i].addr - (uint64_t)(uintptr_t)p };
		stroff += len;
		sh[3 + i + 1] = i + 1 < n ? (uint32_t)i + 2 : 0; /* chain[i+1] */
		gh[7 + i] = gv | (i == n - 1 ? 1U : 0U);
	}
	dyn[0] = (Elf64_Dyn){ DT_HASH, { (uint64_t)((uint8_t *)sh - p) } };
	dyn[1] = (Elf64_Dyn){ DT_GNU_HASH, { (uint64_t)((uint8_t *)gh - p) } };
	dyn[2] = (Elf64_Dyn){ DT_SYMTAB, { (uint64_t)((uint8_t *)st - p) } };
	dyn[3] = (Elf64_Dyn){ DT_STRTAB, { (uint64_t)((uint8_t *)str - p) } };
	dyn[4] = (Elf64_Dyn){ DT_STRSZ, { stroff } };
	dyn[5] = (Elf64_Dyn){ DT_SYMENT, { sizeof(Elf64_Sym) } };
	dyn[6] = (Elf64_Dyn){ DT_NULL, { 0 } };
	shim_sys_mprotect(p, IMAGE_SIZE, PROT_READ);
	image = (unsigned long)p;
	return image;
}
