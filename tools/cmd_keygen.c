// SPDX-License-Identifier: MIT
/* softsgx keygen: an RSA-3072 key with exponent 3, the only kind SIGSTRUCT takes. */
#include <stdio.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "cli.h"
#include "softsgx/sign.h"

const char keygen_usage[] =
	"Usage: softsgx keygen [--force] FILE\n"
	"\n"
	"Write a new RSA-3072 private key with public exponent 3 to FILE in PEM (PKCS#8,\n"
	"not encrypted), readable by its owner only. SIGSTRUCT requires exactly this key\n"
	"shape. The key is written to a temporary file next to FILE and renamed, so FILE\n"
	"is never left half written.\n"
	"\n"
	"Options:\n"
	"  --force       replace FILE if it exists (default: refuse an existing FILE)\n"
	"  -h, --help    this text\n"
	"  --version     print the version\n"
	"\n"
	"Exit status: 0 on success, 1 when the key could not be written, 2 on a usage\n"
	"error.\n";

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		CLI_STD_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	EVP_PKEY *key = NULL;
	BIO *mem = NULL;
	char *pem;
	long len;
	int c, status, ret = 1;

	while ((c = cli_getopt(argc, argv, opts, &status)) != -1) {
		if (c == CLI_EXIT)
			return status;
		force = true; /* 'f', the only other option */
	}
	if (optind == argc) {
		cli_err("the key FILE is missing (see '%s --help')", cli_name);
		return 2;
	}
	if (cli_no_more_args(argc, argv, optind + 1))
		return 2;
	key = sgx_sign_generate_key();
	mem = BIO_new(BIO_s_mem());
	if (!key || !mem || PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(mem, &pem)) <= 0) {
		cli_err("key generation failed");
		goto out;
	}
	if (cli_write_output("key file", argv[optind], pem, (size_t)len, 0600, force, NULL, 0))
		goto out;
	ret = 0;
out:
	BIO_free(mem);
	EVP_PKEY_free(key);
	return ret;
}
