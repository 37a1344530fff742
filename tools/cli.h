/* SPDX-License-Identifier: MIT */
/* Subcommands of the softsgx CLI. */
#ifndef SOFTSGX_CLI_H
#define SOFTSGX_CLI_H

#include <stdint.h>
#include <openssl/types.h>

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage; /* full --help text */
};

int cmd_demo(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_cpuid(int argc, char **argv);
int cmd_exec(int argc, char **argv);

extern const char demo_usage[], sign_usage[], measure_usage[], keygen_usage[], cpuid_usage[],
	exec_usage[];

/* The demo's part 2, the driver on the simulated host (demo_driver.c). */
int demo_driver(EVP_PKEY *key, unsigned int epc_pages);
/* A signed SIGSTRUCT over @mrenclave for a demo enclave (demo.c). */
struct sgx_sigstruct;
int demo_sigstruct(struct sgx_sigstruct *ss, const uint8_t mrenclave[32], uint64_t attributes,
		   EVP_PKEY *key);

/* True when argv holds -h/--help; the caller then prints its usage. */
int cli_wants_help(int argc, char **argv);
/* Parse a number with C prefixes (0x..); return 0 or -1 with a message printed. */
int cli_parse_u64(const char *what, const char *s, unsigned long long *out);

#endif
