// SPDX-License-Identifier: MIT
/* The softsgx command: one binary, one subcommand per job. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
	{ "demo", cmd_demo, "the CPU model leaf by leaf, then the driver paging an enclave 4x the EPC",
	  demo_usage },
	{ "sign", cmd_sign, "produce a SIGSTRUCT for an enclave image", sign_usage },
	{ "measure", cmd_measure, "print the MRENCLAVE of an enclave image", measure_usage },
	{ "keygen", cmd_keygen, "generate an RSA-3072 signing key with exponent 3", keygen_usage },
	{ "cpuid", cmd_cpuid, "print CPUID leaf 0x12 as the emulated platform reports it",
	  cpuid_usage },
	{ "exec", cmd_exec, "run an unmodified SGX program on the emulated platform", exec_usage },
};
#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: softsgx COMMAND [OPTIONS] [ARGS]\n"
		"\n"
		"softsgx runs and tests Intel SGX software and SGX memory management on machines\n"
		"without SGX, on a software model of the SGX CPU.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"Run 'softsgx COMMAND --help' or 'softsgx help COMMAND' for a command's options.\n"
		"Exit status: 0 on success, 1 when the operation failed, 2 on a usage error.\n");
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

int cli_parse_u64(const char *what, const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-') {
		fprintf(stderr, "softsgx: invalid %s '%s'\n", what, s);
		return -1;
	}
	return 0;
}

static const struct cli_command *find(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cli_command *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		c = find(argv[2]);
		if (!c) {
			fprintf(stderr, "softsgx: unknown command '%s'\n", argv[2]);
			return 2;
		}
		fputs(c->usage, stdout);
		return 0;
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "softsgx: unknown command '%s' (see 'softsgx --help')\n", argv[1]);
		return 2;
	}
	if (c->run != cmd_exec ? cli_wants_help(argc - 1, argv + 1) :
			       argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
		fputs(c->usage, stdout);
		return 0;
	}
	return c->run(argc - 1, argv + 1);
}
