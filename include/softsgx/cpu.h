/* SPDX-License-Identifier: MIT */
/*
 * The SGX CPU model: a configured platform with EPC frames, one EPCM entry per
 * frame, and every ENCLS/ENCLU leaf.  Nothing in here knows about Linux.
 *
 * EPC addresses are real addresses in this process: the model reserves one
 * sparse mapping per EPC section (untouched frames cost no memory), exactly as
 * the kernel maps the EPC, and the ENCLS leaves take those addresses.  Other
 * operands (PAGEINFO, SECINFO, SIGSTRUCT, PCMD, source pages) are ordinary
 * pointers to memory the caller owns.
 *
 * ENCLS leaves return 0, a positive SGX error code (enum sgx_return_code) or
 * SGX_ENCLS_FAULT_FLAG | trap number, as the kernel's wrappers do.  The
 * details of the last fault on this thread are in sgx_last_fault().
 */
#ifndef SOFTSGX_CPU_H
#define SOFTSGX_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "arch.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SGX_MAX_EPC_SECTIONS 8

struct sgx_epc_section_config {
	uint64_t size; /* bytes, multiple of 4096 */
	int node;      /* NUMA node reported for the section */
};

struct sgx_cpu_config {
	unsigned int nr_sections; /* 0: one section of epc_size bytes */
	uint64_t epc_size;
	struct sgx_epc_section_config sections[SGX_MAX_EPC_SECTIONS];
	bool sgx1, sgx2;
	bool eupdatesvn;           /* ENCLS[EUPDATESVN], CPUID.(12H,0):EAX[10] */
	uint32_t miscselect_mask;  /* CPUID.(12H,0):EBX */
	uint64_t attributes_mask;  /* CPUID.(12H,1):EAX/EBX */
	uint64_t xfrm_mask;        /* CPUID.(12H,1):ECX/EDX */
	uint8_t max_enclave_size_32; /* log2, CPUID.(12H,0):EDX[7:0] */
	uint8_t max_enclave_size_64; /* log2, CPUID.(12H,0):EDX[15:8] */
	bool flc;                  /* flexible launch control: LE hash MSRs writable */
	uint64_t lepubkeyhash[4];  /* reset value of IA32_SGXLEPUBKEYHASH0..3 */
	bool allow_sigstruct_debug_type; /* accept bit 31 of the u32 at SIGSTRUCT+12 */
	bool fixed_keys;           /* derive platform secrets from `seed` (tests) */
	uint64_t seed;
	uint8_t cpusvn[16];
};

/**
 * sgx_cpu_default_config() - the default platform
 * @cfg: filled with SGX1+SGX2, 128 MiB EPC in one section on node 0,
 *       MISCSELECT EXINFO, ATTRIBUTES DEBUG|MODE64BIT|PROVISIONKEY|
 *       EINITTOKEN_KEY|KSS|AEXNOTIFY, XFRM x87|SSE|AVX, 2^31/2^36 maximum
 *       enclave sizes, FLC with Intel's reset LE key hash, random keys.
 */
void sgx_cpu_default_config(struct sgx_cpu_config *cfg);

struct sgx_cpu;

/**
 * sgx_cpu_create() - power on a platform
 * @cfg: the configuration (copied)
 * @err: set to a negative errno on failure (EINVAL bad config, ENOMEM)
 *
 * Return: the platform, or NULL.
 */
struct sgx_cpu *sgx_cpu_create(const struct sgx_cpu_config *cfg, int *err);
void sgx_cpu_destroy(struct sgx_cpu *cpu);
const struct sgx_cpu_config *sgx_cpu_get_config(const struct sgx_cpu *cpu);

struct sgx_cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

/**
 * sgx_cpu_cpuid() - CPUID as this platform reports it
 * @leaf: 0x7 (only the SGX bits are modelled) or 0x12
 * @subleaf: ECX
 * @out: registers; for leaf 7 only EBX[2], ECX[30] and EDX[1] are set
 *
 * Return: 0, or -EINVAL for a leaf the model does not answer.
 */
int sgx_cpu_cpuid(const struct sgx_cpu *cpu, uint32_t leaf, uint32_t subleaf,
		  struct sgx_cpuid_regs *out);

/*
 * IA32_SGXLEPUBKEYHASH0..3.  Like hardware's, they are per logical processor:
 * here per thread, so a write is seen by EINITs on the writing thread only.
 */
#define MSR_IA32_SGXLEPUBKEYHASH0 0x8C
int sgx_cpu_rdmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t *val);
/* Return: 0, or -EPERM for a read-only MSR (no FLC), -EINVAL unknown MSR. */
int sgx_cpu_wrmsr(struct sgx_cpu *cpu, uint32_t msr, uint64_t val);

/**
 * sgx_cpu_trust_signer() - let EINIT on this thread accept @mrsigner's enclaves
 * @cpu: the platform
 * @mrsigner: SHA-256 of the signer's modulus as SIGSTRUCT stores it
 *            (sgx_sigstruct_mrsigner())
 *
 * Launch control.  EINIT without a valid EINITTOKEN (the usual case: pass a
 * zeroed token) accepts an enclave only when its MRSIGNER equals the
 * launch-enclave key hash in IA32_SGXLEPUBKEYHASH0..3.  They reset to Intel's
 * hash, so on the default platform a self-signed enclave fails EINIT with
 * SGX_INVALID_EINITTOKEN until they hold its signer's hash.  Linux writes them
 * before every EINIT; this does the same: MSR 0x8C + i gets bytes 8i..8i+7
 * of @mrsigner as a little-endian number.
 *
 * The MSRs belong to the logical processor, here the calling thread: call it
 * on the thread that runs EINIT, before each EINIT for another signer.  It
 * needs flexible launch control (cfg.flc, on by default).
 *
 * Return: 0, or -EPERM when the platform has no FLC (nothing is written).
 */
int sgx_cpu_trust_signer(struct sgx_cpu *cpu, const uint8_t mrsigner[32]);

/* EPC enumeration. */
unsigned int sgx_cpu_nr_sections(const struct sgx_cpu *cpu);
/* Return: the EPC address of section @i's first frame; *@size and *@node. */
void *sgx_cpu_section(const struct sgx_cpu *cpu, unsigned int i, uint64_t *size,
		      int *node);
uint64_t sgx_cpu_nr_frames(const struct sgx_cpu *cpu);
/* Return: true when @addr lies inside an EPC section. */
bool sgx_cpu_is_epc(const struct sgx_cpu *cpu, const void *addr);

/* A read-only view of one EPCM entry, for tests, invariant checkers, tools. */
struct sgx_epcm_view {
	bool valid, blocked, pending, modified, pr;
	uint8_t rwx;        /* SGX_SECINFO_R|W|X */
	uint8_t page_type;  /* enum sgx_page_type */
	void *secs;         /* owning SECS page (EPC address), or NULL */
	uint64_t linaddr;   /* ENCLAVEADDRESS */
};
/* Return: 0, or -EINVAL if @epc_page is not an EPC page. */
int sgx_cpu_epcm(const struct sgx_cpu *cpu, const void *epc_page,
		 struct sgx_epcm_view *out);
/* Number of valid child pages of a SECS (for invariant checks). */
uint64_t sgx_cpu_secs_children(const struct sgx_cpu *cpu, const void *secs);
/* EID the platform assigned a SECS at ECREATE. */
uint64_t sgx_cpu_secs_eid(const struct sgx_cpu *cpu, const void *secs);

/**
 * sgx_cpu_set_window() - give an enclave's REG and TRIM pages a home
 * @cpu: the platform
 * @secs_epc: the enclave's SECS page (EPC address), right after ECREATE
 * @window: a host mapping of ELRANGE's size (e.g. of a memfd), readable and
 *          writable, that the model may use for as long as the enclave lives
 *
 * From now on the bytes of each REG or TRIM page the enclave gets (EADD, EAUG,
 * ELDU/ELDB) live at @window + (linear address - SECS.BASE) instead of in the
 * model's private frame, so that the host can map them where the enclave runs.
 * EWB and EREMOVE scrub them in place.  SECS, TCS added by EADD and VA pages
 * keep private frames.  The window address travels with the SECS (it is
 * hidden SECS state, so it survives EWB/ELDU of the SECS).
 *
 * Return: 0, or -EINVAL when @secs_epc is not a valid SECS.
 */
int sgx_cpu_set_window(struct sgx_cpu *cpu, const void *secs_epc, void *window);

/**
 * sgx_cpu_xfrm_backed() - the XFRM components a host thread's XSAVE image can back
 * @xcr0: the components the OS enabled on this CPU (XGETBV with ECX = 0)
 * @off: @off[i] is component i's offset in this CPU's standard-format XSAVE
 *       image (CPUID.(0DH,i).EBX), for i from 2 to 9
 *
 * The model lays SSA frames out with the SDM's offsets and fills them from
 * (and restores them to) the host thread's own XSAVE image.  A component
 * this CPU places elsewhere (AMD's AVX-512 state, with no MPX gap before it)
 * would land at the wrong place, so it is left out, with the components the
 * SDM requires together with it (the three of AVX-512, MPX's two).
 *
 * Return: the subset of @xcr0 to offer as CPUID.(12H,1):ECX/EDX; at least
 * x87 and SSE.
 */
uint64_t sgx_cpu_xfrm_backed(uint64_t xcr0, const uint32_t off[10]);

/**
 * typedef sgx_dbg_view_fn - a host's view of a REG page for a debugger
 * @ctx: the value given to sgx_cpu_set_dbg_view()
 * @secs: the SECS page (EPC address) of the page's enclave
 * @linaddr: the linear address of the 8 bytes (8-byte aligned)
 * @bytes: for EDBGRD, the bytes just read, which the hook may replace with
 *         what the debugger should see; for EDBGWR, the bytes about to be
 *         written (read-only to the hook)
 * @write: EDBGWR rather than EDBGRD
 *
 * Called with the page held by the leaf (shared for EDBGRD, exclusively for
 * EDBGWR): the hook may change the page's own bytes, and must not run a leaf.
 */
typedef void (*sgx_dbg_view_fn)(void *ctx, const void *secs, uint64_t linaddr,
				uint8_t bytes[8], bool write);

/**
 * sgx_cpu_set_dbg_view() - show EDBGRD/EDBGWR of REG pages through a hook
 * @cpu: the platform
 * @fn: the hook, or NULL for none (the default)
 * @ctx: passed to @fn
 *
 * A host that rewrites enclave code after measurement (softsgx exec's
 * trap-free ENCLU) uses it so that a debugger reads the original bytes and
 * writes over them.  Set it before any enclave is debugged.
 */
void sgx_cpu_set_dbg_view(struct sgx_cpu *cpu, sgx_dbg_view_fn fn, void *ctx);

/* Resident frames actually backed by host memory (sparse accounting). */
uint64_t sgx_cpu_touched_frames(const struct sgx_cpu *cpu);

/**
 * sgx_cpu_raise_events() - make interrupts arrive during the next EINITs
 * @cpu: the platform
 * @n: how many EINITs, from now on, find an unmasked event pending
 *
 * On hardware an interrupt that arrives while EINIT checks the signature ends
 * it with SGX_UNMASKED_EVENT, changing nothing, and software retries; the
 * model has no interrupts of its own, so this is how a caller (a test, a
 * fault-injection run) exercises that path.  Each such EINIT consumes one.
 */
void sgx_cpu_raise_events(struct sgx_cpu *cpu, uint64_t n);

/**
 * sgx_cpu_stage_svn() - load a microcode update at run time
 * @cpu: the platform
 * @cpusvn: the CPUSVN the update brings
 *
 * A runtime microcode update does not change CPUSVN by itself: the next
 * EUPDATESVN that finds the EPC empty and @cpusvn newer than the current
 * CPUSVN (compared as EGETKEY compares them) makes it current.
 */
void sgx_cpu_stage_svn(struct sgx_cpu *cpu, const uint8_t cpusvn[16]);

/**
 * sgx_cpu_drain_entropy() - starve the next EUPDATESVNs of random numbers
 * @cpu: the platform
 * @n: how many EUPDATESVNs, from now on, end with SGX_INSUFFICIENT_ENTROPY
 *
 * On hardware EUPDATESVN regenerates keys from the RNG and gives up when
 * RDSEED has nothing to give; software retries.  The model's RNG never
 * runs dry, so this is how a caller exercises that path.
 */
void sgx_cpu_drain_entropy(struct sgx_cpu *cpu, uint64_t n);

/* The current CPUSVN (the configured one until an EUPDATESVN changes it). */
void sgx_cpu_cpusvn(const struct sgx_cpu *cpu, uint8_t cpusvn[16]);

/* Counters kept by the CPU model (one per leaf success). */
struct sgx_cpu_stats {
	uint64_t ecreate, eadd, eextend, einit, eremove, epa, eblock, etrack;
	uint64_t ewb, eldu, eldb, eaug, emodpr, emodt;
	uint64_t eenter, eresume, eexit, aex;
	uint64_t eaccept, eacceptcopy, emodpe, ereport, egetkey;
	uint64_t eupdatesvn; /* EUPDATESVNs that changed CPUSVN */
	uint64_t edeccssa;
};
void sgx_cpu_stats(const struct sgx_cpu *cpu, struct sgx_cpu_stats *out);

/* Fault details of the last faulting leaf on the calling thread. */
struct sgx_fault {
	int vector;       /* X86_TRAP_GP or X86_TRAP_PF, 0 when no fault */
	uint64_t addr;    /* #PF: the faulting linear address */
	uint32_t errcd;   /* #PF: error code (X86_PF_SGX for EPCM refusals) */
};
const struct sgx_fault *sgx_last_fault(void);

/*
 * ENCLS leaves (names as in the kernel's encls.h, minus the underscores).
 * Pointer arguments that stand for memory operands (PAGEINFO and what it
 * points to, SECINFO, SIGSTRUCT, EINITTOKEN, EPC pages, VA slots) may be
 * anything: NULL gives the #PF of an unmapped page, as on hardware.
 * @cpu and EDBGRD's @data, which stand for the processor and a register,
 * must be valid.
 */
int sgx_ecreate(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *secs);
int sgx_eadd(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc);
int sgx_eextend(struct sgx_cpu *cpu, void *secs, void *chunk);
int sgx_einit(struct sgx_cpu *cpu, const void *sigstruct, const void *token,
	      void *secs);
int sgx_eremove(struct sgx_cpu *cpu, void *epc);
int sgx_edbgrd(struct sgx_cpu *cpu, void *addr, uint64_t *data);
int sgx_edbgwr(struct sgx_cpu *cpu, void *addr, uint64_t data);
int sgx_epa(struct sgx_cpu *cpu, uint64_t rbx, void *epc);
int sgx_eblock(struct sgx_cpu *cpu, void *epc);
int sgx_etrack(struct sgx_cpu *cpu, void *secs);
int sgx_ewb(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int sgx_eldu(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int sgx_eldb(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int sgx_eaug(struct sgx_cpu *cpu, struct sgx_pageinfo *pginfo, void *epc);
int sgx_emodpr(struct sgx_cpu *cpu, struct sgx_secinfo *secinfo, void *epc);
int sgx_emodt(struct sgx_cpu *cpu, struct sgx_secinfo *secinfo, void *epc);
int sgx_eupdatesvn(struct sgx_cpu *cpu);

/**
 * sgx_epc_page_bytes() - where the model keeps the bytes of an EPC page
 *
 * Every leaf reads and writes page contents through this, so that the host
 * layer can later place REG pages in enclave windows without touching leaves.
 */
void *sgx_epc_page_bytes(struct sgx_cpu *cpu, void *epc);

#ifdef __cplusplus
}
#endif

#endif
