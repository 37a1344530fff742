// SPDX-License-Identifier: MIT
/* softsgx keygen: an RSA-3072 key with exponent 3, the only kind SIGSTRUCT takes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pem.h>

#include "cli.h"
#include "softsgx/sign.h"

const char keygen_usage[] =
	"Usage: softsgx keygen FILE\n"
	"\n"
	"Write a new RSA-3072 private key with public exponent 3 to FILE in PEM (PKCS#8),\n"
	"readable by its owner only. SIGSTRUCT requires exactly this key shape. FILE must\n"
	"not exist yet.\n";

int cmd_keygen(int argc, char **argv)
{
	EVP_PKEY *key;
	FILE *f;
	int fd, ok;

	if (argc != 2) {
		fputs(keygen_usage, stderr);
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		fprintf(stderr, "keygen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	key = sgx_sign_generate_key();
	f = fdopen(fd, "w");
	ok = key && f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	ok = (f ? fclose(f) == 0 : (close(fd), 0)) && ok;
	EVP_PKEY_free(key);
	if (!ok) {
		fprintf(stderr, "keygen: could not write a key to %s\n", argv[1]);
		unlink(argv[1]);
		return 1;
	}
	return 0;
}
