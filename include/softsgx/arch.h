/* SPDX-License-Identifier: MIT */
/*
 * Architectural SGX structures and constants: the layouts software hands to
 * ENCLS/ENCLU and the values the CPU returns.  Names follow the Linux
 * kernel's asm/sgx.h so that readers of arch/x86/kernel/cpu/sgx/ feel at home.
 */
#ifndef SOFTSGX_ARCH_H
#define SOFTSGX_ARCH_H

#include <stdint.h>
#include <stddef.h>

#define SGX_PAGE_SIZE 4096ULL
#define SGX_PAGE_MASK (~(SGX_PAGE_SIZE - 1))

/* ENCLS leaf numbers (EAX). */
enum sgx_encls_function {
	ECREATE = 0x00,
	EADD = 0x01,
	EINIT = 0x02,
	EREMOVE = 0x03,
	EDBGRD = 0x04,
	EDBGWR = 0x05,
	EEXTEND = 0x06,
	ELDB = 0x07,
	ELDU = 0x08,
	EBLOCK = 0x09,
	EPA = 0x0A,
	EWB = 0x0B,
	ETRACK = 0x0C,
	EAUG = 0x0D,
	EMODPR = 0x0E,
	EMODT = 0x0F,
};

/* ENCLU leaf numbers (EAX). */
enum sgx_enclu_function {
	EREPORT = 0x00,
	EGETKEY = 0x01,
	EENTER = 0x02,
	ERESUME = 0x03,
	EEXIT = 0x04,
	EACCEPT = 0x05,
	EMODPE = 0x06,
	EACCEPTCOPY = 0x07,
	EDECCSSA = 0x09, /* AEX-Notify */
};

/* SGX error codes returned in RAX (the SDM's table of ENCLS/ENCLU return codes). */
enum sgx_return_code {
	SGX_SUCCESS = 0,
	SGX_INVALID_SIG_STRUCT = 1,
	SGX_INVALID_ATTRIBUTE = 2,
	SGX_BLKSTATE = 3,
	SGX_INVALID_MEASUREMENT = 4,
	SGX_NOTBLOCKABLE = 5,
	SGX_PG_INVLD = 6,
	SGX_EPC_PAGE_CONFLICT = 7,
	SGX_INVALID_SIGNATURE = 8,
	SGX_MAC_COMPARE_FAIL = 9,
	SGX_PAGE_NOT_BLOCKED = 10,
	SGX_NOT_TRACKED = 11,
	SGX_VA_SLOT_OCCUPIED = 12,
	SGX_CHILD_PRESENT = 13,
	SGX_ENCLAVE_ACT = 14,
	SGX_ENTRYEPOCH_LOCKED = 15,
	SGX_INVALID_EINITTOKEN = 16,
	SGX_PREV_TRK_INCMPL = 17,
	SGX_PG_IS_SECS = 18,
	SGX_PAGE_ATTRIBUTES_MISMATCH = 19,
	SGX_PAGE_NOT_MODIFIABLE = 20,
	SGX_PAGE_NOT_DEBUGGABLE = 21,
	SGX_INSUFFICIENT_ENTROPY = 29, /* EUPDATESVN: the RNG ran dry; retry */
	/*
	 * EUPDATESVN: an EPC page is in use.  30 is the value of a kernel series
	 * revision; Linux 7.2.13 never names it (it only runs EUPDATESVN on an
	 * empty EPC and treats any other code as unexpected).
	 */
	SGX_EPC_NOT_READY = 30,
	SGX_NO_UPDATE = 31,            /* EUPDATESVN: CPUSVN already current */
	SGX_INVALID_CPUSVN = 32,
	SGX_INVALID_ISVSVN = 64,
	SGX_UNMASKED_EVENT = 128,
	SGX_INVALID_KEYNAME = 256,
};

/*
 * A faulting leaf returns the trap number ORed with this flag, exactly like
 * the kernel's ENCLS wrappers, so 0 / SGX code / fault stay distinguishable.
 */
#define SGX_ENCLS_FAULT_FLAG 0x40000000
#define X86_TRAP_UD 6
#define X86_TRAP_MF 16
#define X86_TRAP_XM 19
#define X86_TRAP_GP 13
#define X86_TRAP_PF 14
#define SGX_FAULT_UD (SGX_ENCLS_FAULT_FLAG | X86_TRAP_UD)
#define SGX_FAULT_GP (SGX_ENCLS_FAULT_FLAG | X86_TRAP_GP)
#define SGX_FAULT_PF (SGX_ENCLS_FAULT_FLAG | X86_TRAP_PF)
#define encls_faulted(r) (((r) & SGX_ENCLS_FAULT_FLAG) != 0)
#define encls_trapnr(r) ((r) & ~SGX_ENCLS_FAULT_FLAG)

/* #PF error-code bits the model reports. */
#define X86_PF_PROT (1u << 0)
#define X86_PF_WRITE (1u << 1)
#define X86_PF_USER (1u << 2)
#define X86_PF_INSTR (1u << 4)
#define X86_PF_SGX (1u << 15)

enum sgx_page_type {
	SGX_PAGE_TYPE_SECS = 0,
	SGX_PAGE_TYPE_TCS = 1,
	SGX_PAGE_TYPE_REG = 2,
	SGX_PAGE_TYPE_VA = 3,
	SGX_PAGE_TYPE_TRIM = 4,
	SGX_PAGE_TYPE_SS_FIRST = 5,
	SGX_PAGE_TYPE_SS_REST = 6,
};

#define SGX_SECINFO_R (1ULL << 0)
#define SGX_SECINFO_W (1ULL << 1)
#define SGX_SECINFO_X (1ULL << 2)
#define SGX_SECINFO_PENDING (1ULL << 3)
#define SGX_SECINFO_MODIFIED (1ULL << 4)
#define SGX_SECINFO_PR (1ULL << 5)
#define SGX_SECINFO_PERMISSION_MASK 0x7ULL
#define SGX_SECINFO_PAGE_TYPE_SHIFT 8
#define SGX_SECINFO_PAGE_TYPE_MASK 0xFF00ULL
#define SGX_SECINFO_SECS (0ULL << 8)
#define SGX_SECINFO_TCS (1ULL << 8)
#define SGX_SECINFO_REG (2ULL << 8)
#define SGX_SECINFO_VA (3ULL << 8)
#define SGX_SECINFO_TRIM (4ULL << 8)
/* Architecturally reserved SECINFO.FLAGS bits: 7:6 and 63:16. */
#define SGX_SECINFO_RESERVED_MASK (~0xFF3FULL)

enum sgx_attribute {
	SGX_ATTR_INIT = 1ULL << 0,
	SGX_ATTR_DEBUG = 1ULL << 1,
	SGX_ATTR_MODE64BIT = 1ULL << 2,
	SGX_ATTR_PROVISIONKEY = 1ULL << 4,
	SGX_ATTR_EINITTOKENKEY = 1ULL << 5,
	SGX_ATTR_CET = 1ULL << 6,
	SGX_ATTR_KSS = 1ULL << 7,
	SGX_ATTR_ASYNC_EXIT_NOTIFY = 1ULL << 10,
};
#define SGX_ATTR_RESERVED_MASK (0x348ULL | ~0x7FFULL)
#define SGX_ATTR_UNPRIV_MASK 0x486ULL
#define SGX_ATTR_PRIV_MASK 0x30ULL

#define SGX_MISC_EXINFO (1u << 0)

#define SGX_TCS_DBGOPTIN (1ULL << 0)
#define SGX_TCS_AEXNOTIFY (1ULL << 1)
#define SGX_TCS_RESERVED_MASK (~0x3ULL)

#define SGX_SSA_GPRS_SIZE 184
#define SGX_SSA_MISC_EXINFO_SIZE 16
#define SGX_VA_SLOT_COUNT 512
#define SGX_MODULUS_SIZE 384
#define SGX_LAUNCH_TOKEN_SIZE 304

/* EXITINFO (GPRSGX.EXITINFO) */
#define SGX_EXITINFO_VALID (1u << 31)
#define SGX_EXITINFO_HW_EXCEPTION 3u
#define SGX_EXITINFO_SW_EXCEPTION 6u

struct sgx_secs {
	uint64_t size;
	uint64_t base;
	uint32_t ssa_frame_size;
	uint32_t miscselect;
	uint8_t reserved1[24];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t config_id[64];
	uint16_t isv_prod_id;
	uint16_t isv_svn;
	uint16_t config_svn;
	uint8_t reserved4[3834];
} __attribute__((packed));

struct sgx_tcs {
	uint64_t state;
	uint64_t flags;
	uint64_t ssa_offset;
	uint32_t ssa_index;
	uint32_t nr_ssa_frames;
	uint64_t entry_offset;
	uint64_t exit_addr;
	uint64_t fs_offset;
	uint64_t gs_offset;
	uint32_t fs_limit;
	uint32_t gs_limit;
	uint8_t reserved[4024];
} __attribute__((packed));

struct sgx_pageinfo {
	uint64_t addr;
	uint64_t contents;
	uint64_t metadata;
	uint64_t secs;
} __attribute__((packed, aligned(32)));

struct sgx_secinfo {
	uint64_t flags;
	uint8_t reserved[56];
} __attribute__((packed, aligned(64)));

struct sgx_pcmd {
	struct sgx_secinfo secinfo;
	uint64_t enclave_id;
	uint8_t reserved[40];
	uint8_t mac[16];
} __attribute__((packed, aligned(128)));

struct sgx_sigstruct_header {
	uint64_t header1[2];
	uint32_t vendor;
	uint32_t date;
	uint64_t header2[2];
	uint32_t swdefined;
	uint8_t reserved1[84];
} __attribute__((packed));

struct sgx_sigstruct_body {
	uint32_t miscselect;
	uint32_t misc_mask;
	uint8_t reserved2[4];
	uint8_t isvfamilyid[16];
	uint64_t attributes;
	uint64_t xfrm;
	uint64_t attributes_mask;
	uint64_t xfrm_mask;
	uint8_t mrenclave[32];
	uint8_t reserved3[16];
	uint8_t isvextprodid[16];
	uint16_t isvprodid;
	uint16_t isvsvn;
} __attribute__((packed));

struct sgx_sigstruct {
	struct sgx_sigstruct_header header;
	uint8_t modulus[SGX_MODULUS_SIZE];
	uint32_t exponent;
	uint8_t signature[SGX_MODULUS_SIZE];
	struct sgx_sigstruct_body body;
	uint8_t reserved4[12];
	uint8_t q1[SGX_MODULUS_SIZE];
	uint8_t q2[SGX_MODULUS_SIZE];
} __attribute__((packed));

/* The constant header words (the SDM's SIGSTRUCT) as the Linux selftest writes them. */
#define SGX_SIGSTRUCT_HEADER1_0 0x000000E100000006ULL
#define SGX_SIGSTRUCT_HEADER1_1 0x0000000000010000ULL
#define SGX_SIGSTRUCT_HEADER2_0 0x0000006000000101ULL
#define SGX_SIGSTRUCT_HEADER2_1 0x0000000100000060ULL

struct sgx_einittoken {
	uint32_t valid;
	uint8_t reserved1[44];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t cpusvnle[16];
	uint16_t isvprodidle;
	uint16_t isvsvnle;
	uint8_t reserved4[24];
	uint32_t maskedmiscselectle;
	uint64_t maskedattributesle;
	uint64_t maskedxfrmle;
	uint8_t keyid[32];
	uint8_t mac[16];
} __attribute__((packed));

struct sgx_report_body {
	uint8_t cpusvn[16];
	uint32_t miscselect;
	uint8_t cet_attributes;
	uint8_t reserved1[11];
	uint8_t isvextprodid[16];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t config_id[64];
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t config_svn;
	uint8_t reserved4[42];
	uint8_t isvfamilyid[16];
	uint8_t report_data[64];
} __attribute__((packed));

struct sgx_report {
	struct sgx_report_body body;
	uint8_t keyid[32];
	uint8_t mac[16];
} __attribute__((packed));

struct sgx_targetinfo {
	uint8_t measurement[32];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t cet_attributes;
	uint8_t reserved1;
	uint16_t config_svn;
	uint32_t miscselect;
	uint8_t reserved2[8];
	uint8_t config_id[64];
	uint8_t reserved3[384];
} __attribute__((packed));

enum sgx_key_name {
	SGX_KEYNAME_EINITTOKEN = 0,
	SGX_KEYNAME_PROVISION = 1,
	SGX_KEYNAME_PROVISION_SEAL = 2,
	SGX_KEYNAME_REPORT = 3,
	SGX_KEYNAME_SEAL = 4,
};

#define SGX_KEYPOLICY_MRENCLAVE (1u << 0)
#define SGX_KEYPOLICY_MRSIGNER (1u << 1)
#define SGX_KEYPOLICY_NOISVPRODID (1u << 2)
#define SGX_KEYPOLICY_CONFIGID (1u << 3)
#define SGX_KEYPOLICY_ISVFAMILYID (1u << 4)
#define SGX_KEYPOLICY_ISVEXTPRODID (1u << 5)
#define SGX_KEYPOLICY_KSS_MASK 0x3Cu
#define SGX_KEYPOLICY_RESERVED_MASK 0xFFC0u

struct sgx_keyrequest {
	uint16_t keyname;
	uint16_t keypolicy;
	uint16_t isvsvn;
	uint16_t reserved1;
	uint8_t cpusvn[16];
	uint64_t attributemask;
	uint64_t xfrmmask;
	uint8_t keyid[32];
	uint32_t miscmask;
	uint16_t config_svn;
	uint8_t reserved2[434];
} __attribute__((packed));

/* The last 184 bytes of an SSA frame. */
struct sgx_gprsgx {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags;
	uint64_t rip;
	uint64_t ursp;
	uint64_t urbp;
	uint32_t exitinfo;
	uint8_t reserved[3];
	uint8_t aexnotify;
	uint64_t fsbase;
	uint64_t gsbase;
} __attribute__((packed));

struct sgx_exinfo {
	uint64_t maddr;
	uint32_t errcd;
	uint32_t reserved;
} __attribute__((packed));

#ifndef __cplusplus
#define SGX_STATIC_ASSERT_SIZE(t, n) _Static_assert(sizeof(t) == (n), #t " size")
SGX_STATIC_ASSERT_SIZE(struct sgx_secs, 4096);
SGX_STATIC_ASSERT_SIZE(struct sgx_tcs, 4096);
SGX_STATIC_ASSERT_SIZE(struct sgx_pageinfo, 32);
SGX_STATIC_ASSERT_SIZE(struct sgx_secinfo, 64);
SGX_STATIC_ASSERT_SIZE(struct sgx_pcmd, 128);
SGX_STATIC_ASSERT_SIZE(struct sgx_sigstruct, 1808);
SGX_STATIC_ASSERT_SIZE(struct sgx_einittoken, 304);
SGX_STATIC_ASSERT_SIZE(struct sgx_report, 432);
SGX_STATIC_ASSERT_SIZE(struct sgx_targetinfo, 512);
SGX_STATIC_ASSERT_SIZE(struct sgx_keyrequest, 512);
SGX_STATIC_ASSERT_SIZE(struct sgx_gprsgx, 184);
_Static_assert(offsetof(struct sgx_sigstruct, body) == 900, "sigstruct body");
_Static_assert(offsetof(struct sgx_sigstruct, q1) == 1040, "sigstruct q1");
_Static_assert(offsetof(struct sgx_sigstruct_body, attributes) == 28, "body attr");
_Static_assert(offsetof(struct sgx_sigstruct_body, mrenclave) == 60, "body hash");
_Static_assert(offsetof(struct sgx_sigstruct_body, isvprodid) == 124, "body prod");
_Static_assert(offsetof(struct sgx_einittoken, cpusvnle) == 192, "token cpusvn");
_Static_assert(offsetof(struct sgx_einittoken, maskedmiscselectle) == 236, "token misc");
_Static_assert(offsetof(struct sgx_einittoken, keyid) == 256, "token keyid");
_Static_assert(offsetof(struct sgx_report_body, isvfamilyid) == 304, "report fam");
_Static_assert(offsetof(struct sgx_targetinfo, miscselect) == 52, "ti misc");
_Static_assert(offsetof(struct sgx_keyrequest, miscmask) == 72, "kr misc");
_Static_assert(offsetof(struct sgx_gprsgx, exitinfo) == 160, "gpr exitinfo");

#endif

#endif
