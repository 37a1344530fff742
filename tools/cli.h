/* SPDX-License-Identifier: MIT */
/* Subcommands of the softsgx CLI and the helpers they share (softsgx.c). */
#ifndef SOFTSGX_CLI_H
#define SOFTSGX_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

/* project(version:) in meson.build; test_cli.sh compares --version with it. */
#ifndef SOFTSGX_VERSION
#error "SOFTSGX_VERSION comes from meson.build"
#endif

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
int demo_driver(EVP_PKEY *key, unsigned int epc_pages, unsigned int policies);
/* A signed SIGSTRUCT over @mrenclave for a demo enclave (demo.c). */
struct sgx_sigstruct;
int demo_sigstruct(struct sgx_sigstruct *ss, const uint8_t mrenclave[32], uint64_t attributes,
		   EVP_PKEY *key);

/* Option values the shared parser handles itself; list CLI_STD_OPTIONS in every table. */
enum { CLI_OPT_HELP = 0x1000, CLI_OPT_VERSION, CLI_EXIT = -2 };
#define CLI_STD_OPTIONS                                                                   \
	{ "help", no_argument, NULL, CLI_OPT_HELP },                                      \
	{ "version", no_argument, NULL, CLI_OPT_VERSION }

/* "softsgx COMMAND": what every message of the running command starts with. */
extern const char *cli_name;

/* One line on stderr: "softsgx COMMAND: " and the message. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * cli_getopt() - getopt_long() for a subcommand
 * @argc: the subcommand's argc
 * @argv: its argv (argv[0] is the command name)
 * @opts: long options, ending with CLI_STD_OPTIONS and a zero entry
 * @status: set to the exit status when CLI_EXIT is returned
 *
 * Handles -h/--help and --version (printed on stdout, status 0), and unknown
 * options and missing arguments (one line on stderr, status 2).
 * Return: the next option's value, -1 at the end, or CLI_EXIT.
 */
int cli_getopt(int argc, char **argv, const struct option *opts, int *status);

/* Return: 0, or -1 with "unexpected argument" printed when argv[@first..] is not empty. */
int cli_no_more_args(int argc, char **argv, int first);

/**
 * cli_parse_num() - an option's number, with C prefixes (0x...)
 * @opt: the option's name without dashes, for the message
 * @s: its argument
 * @min: smallest value allowed
 * @max: largest value allowed
 * @out: the value
 *
 * Return: 0, or -1 after one line naming the option, the value and the range.
 */
int cli_parse_num(const char *opt, const char *s, unsigned long long min,
		  unsigned long long max, unsigned long long *out);

/**
 * cli_read_input() - read a whole input file
 * @path: a regular file, a FIFO or pipe, or "-" for standard input
 * @what: what the file is, for messages ("image", "layout", ...)
 * @bufp: set to a malloc()ed buffer with the contents and one extra NUL byte
 * @lenp: set to the length, without the NUL
 *
 * Never blocks in open(); a FIFO is read once a writer has opened it (after a
 * second, a line on stderr says it is waiting).
 * Return: 0, or -1 after a message naming @path (directories, devices,
 * empty files and unreadable ones).
 */
int cli_read_input(const char *path, const char *what, uint8_t **bufp, size_t *lenp);

/**
 * cli_write_output() - replace @path by @len bytes, all or nothing
 * @what: what @path is, for messages ("--out", "key file", ...)
 * @path: the output file
 * @buf: the contents
 * @len: their length
 * @mode: permissions for a new file (umask applies)
 * @force: replace an existing file; without it an existing @path is refused
 * @inputs: the paths the command reads (NULL entries are skipped); @path must be
 *          none of them
 * @nr_inputs: their number
 *
 * Writes a temporary file in @path's directory and links or renames it into
 * place, so a failure never leaves a truncated file or loses the old one.
 * Return: 0, or -1 after a message.
 */
int cli_write_output(const char *what, const char *path, const void *buf, size_t len,
		     unsigned int mode, bool force, const char *const *inputs,
		     int nr_inputs);

/* The signing key at @path, or NULL after a message saying what is wrong with it. */
EVP_PKEY *cli_load_key(const char *path);

#endif
