// SPDX-License-Identifier: MIT
/* The softsgx command: one binary, one subcommand per job. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "softsgx/sign.h"

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

/* Inputs larger than this are refused, as the image loaders refuse them. */
#define CLI_MAX_INPUT (16ULL << 30)

const char *cli_name = "softsgx";
static const struct cli_command *cur;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: softsgx COMMAND [OPTIONS] [ARGS]\n"
		"       softsgx help COMMAND\n"
		"       softsgx --help | --version\n"
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
		"Every command also takes --version.\n"
		"Exit status: 0 on success, 1 when the operation failed, 2 on a usage error.\n");
}

void cli_err(const char *fmt, ...)
	     {
	     va_list ap;

	fprintf(stderr, "%s: ", cli_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_getopt(int argc, char **argv, const struct option *opts, int *status)
{
	int c;

	opterr = 0; /* our own messages, prefixed with the command */
	c = getopt_long(argc, argv, ":h", opts, NULL);
	switch (c) {
	case 'h':
	case CLI_OPT_HELP:
		fputs(cur->usage, stdout);
		*status = 0;
		return CLI_EXIT;
	case CLI_OPT_VERSION:
		printf("softsgx %s\n", SOFTSGX_VERSION);
		*status = 0;
		return CLI_EXIT;
	case '?':
		if (optopt)
			cli_err("unknown option '-%c' (see '%s --help')", optopt, cli_name);
		else
			cli_err("unknown option '%s' (see '%s --help')", argv[optind - 1],
				cli_name);
		*status = 2;
		return CLI_EXIT;
	case ':':
		cli_err("option '%s' needs an argument (see '%s --help')", argv[optind - 1],
			cli_name);
		*status = 2;
		return CLI_EXIT;
	}
	return c;
}

int cli_no_more_args(int argc, char **argv, int first)
{
	if (first >= argc)
		return 0;
	cli_err("unexpected argument '%s' (see '%s --help')", argv[first], cli_name);
	return -1;
}

static void print_limit(char *buf, size_t n, unsigned long long v)
{
	snprintf(buf, n, v < 1000000 ? "%llu" : "%#llx", v);
}

int cli_parse_num(const char *opt, const char *s, unsigned long long min,
		  unsigned long long max, unsigned long long *out)
{
	char lo[24], hi[24], *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *s < '0' || *s > '9' || *end) {
		cli_err("--%s '%s': not a number", opt, s);
		return -1;
	}
	if (*out < min || *out > max) {
		print_limit(lo, sizeof(lo), min);
		print_limit(hi, sizeof(hi), max);
		cli_err("--%s %s: out of range, allowed %s..%s", opt, s, lo, hi);
		return -1;
	}
	return 0;
}

int cli_read_input(const char *path, const char *what, uint8_t **bufp, size_t *lenp)
{
	bool is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "standard input" : path;
	size_t len = 0, room = 0;
	uint8_t *buf = NULL;
	struct stat st;
	int fd;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		cli_err("%s %s: %s", what, name, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		cli_err("%s %s: is a directory", what, name);
		goto fail;
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		cli_err("%s %s: is a %s, not a file or a pipe", what, name,
			isatty(fd) ? "terminal" : "device");
		goto fail;
	}
	if (!is_stdin && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		cli_err("%s %s: %s", what, name, strerror(errno));
		goto fail;
	}
	if (!is_stdin && S_ISFIFO(st.st_mode)) {
		/* Until a writer opens it the FIFO reads as empty: wait, but not silently. */
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (!poll(&p, 1, 1000))
			cli_err("%s %s: a FIFO; waiting for a writer", what, name);
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
	}
	for (;;) {
		ssize_t n;

		if (len == room) {
			size_t want = room ? room * 2 : S_ISREG(st.st_mode) ?
						       (size_t)st.st_size + 1 : 65536;
			uint8_t *p;

			if (room >= CLI_MAX_INPUT) {
				cli_err("%s %s: larger than 16 GiB", what, name);
				goto fail;
			}
			p = realloc(buf, want + 1);
			if (!p) {
				cli_err("%s %s: %s", what, name, strerror(ENOMEM));
				goto fail;
			}
			buf = p;
			room = want;
		}
		n = read(fd, buf + len, room - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_err("%s %s: %s", what, name, strerror(errno));
			goto fail;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (!len) {
		cli_err("%s %s: empty%s", what, name,
			S_ISFIFO(st.st_mode) ? " (nothing was written to the pipe)" : " file");
		goto fail;
	}
	if (!is_stdin)
		close(fd);
	buf[len] = 0;
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	if (fd > STDIN_FILENO)
		close(fd);
	free(buf);
	return -1;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Refuse @path when it exists and must not be replaced; 0 when writing may go on. */
static int check_target(const char *what, const char *path, bool force,
			const char *const *inputs, int nr_inputs)
{
	struct stat out, in;

	if (stat(path, &out)) {
		if (errno == ENOENT)
			return 0;
		cli_err("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < nr_inputs; i++) {
		if (inputs[i] && strcmp(inputs[i], "-") && !stat(inputs[i], &in) &&
		    in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
			cli_err("%s %s: is the input %s; refusing to overwrite it", what, path,
				inputs[i]);
			return -1;
		}
	}
	if (!S_ISREG(out.st_mode)) {
		cli_err("%s %s: exists and is not a regular file", what, path);
		return -1;
	}
	if (!force) {
		cli_err("%s %s: file exists (--force replaces it)", what, path);
		return -1;
	}
	return 0;
}

int cli_write_output(const char *what, const char *path, const void *buf, size_t len,
		     unsigned int mode, bool force, const char *const *inputs,
		     int nr_inputs)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	const char *err = NULL;
	char *tmp = NULL;
	mode_t mask;
	int fd = -1, ret = -1;

	if (check_target(what, path, force, inputs, nr_inputs))
		return -1;
	/* In @path's directory, so that rename() and link() stay on one file system. */
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", dirlen, path, path + dirlen) < 0) {
		cli_err("%s %s: %s", what, path, strerror(ENOMEM));
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		cli_err("%s %s: cannot create a file in its directory: %s", what, path,
			strerror(errno));
		goto out;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, mode & ~mask) || write_all(fd, buf, len) || fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (force) {
		if (rename(tmp, path))
			goto fail;
	} else {
		/* link() never replaces: a file created meanwhile is still refused. */
		if (link(tmp, path)) {
			if (errno == EEXIST)
				err = "file exists (--force replaces it)";
			goto fail;
		}
		unlink(tmp);
	}
	ret = 0;
	goto out;
fail:
	cli_err("%s %s: %s", what, path, err ? err : strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	return ret;
}

EVP_PKEY *cli_load_key(const char *path)
{
	EVP_PKEY *key;
	int err;

	key = sgx_sign_load_key(path, &err);
	if (key)
		return key;
	switch (err) {
	case -ENOKEY:
		cli_err("key %s: encrypted with a pass phrase; softsgx reads unencrypted PEM "
			"keys only", path);
		break;
	case -EISDIR:
		cli_err("key %s: is a directory", path);
		break;
	case -EBADMSG:
		cli_err("key %s: no PEM private key in the file", path);
		break;
	case -EINVAL:
		cli_err("key %s: not an RSA-3072 private key with public exponent 3", path);
		break;
	default:
		cli_err("key %s: %s", path, strerror(-err));
	}
	return NULL;
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
	static char name[32];

	if (argc < 2) {
		cli_err("a COMMAND is missing (see 'softsgx --help')");
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("softsgx %s\n", SOFTSGX_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		if (argc > 3) {
			cli_err("help: unexpected argument '%s'", argv[3]);
			return 2;
		}
		cur = find(argv[2]);
		if (!cur) {
			cli_err("unknown command '%s' (see 'softsgx --help')", argv[2]);
			return 2;
		}
		fputs(cur->usage, stdout);
		return 0;
	}
	cur = find(argv[1]);
	if (!cur) {
		if (argv[1][0] == '-')
			cli_err("unknown option '%s' (see 'softsgx --help')", argv[1]);
		else
			cli_err("unknown command '%s' (see 'softsgx --help')", argv[1]);
		return 2;
	}
	snprintf(name, sizeof(name), "softsgx %s", cur->name);
	cli_name = name;
	return cur->run(argc - 1, argv + 1);
}
