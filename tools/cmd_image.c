// SPDX-License-Identifier: MIT
/* softsgx sign and softsgx measure: the offline side of enclave images. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "softsgx/image.h"
#include "softsgx/sign.h"

const char measure_usage[] =
	"Usage: softsgx measure [--layout FILE] [--sigstruct FILE] [--sgxs-out FILE] IMAGE\n"
	"\n"
	"Print the MRENCLAVE that EINIT would compute for IMAGE, as 64 hex digits.\n"
	"IMAGE is an ELF64 enclave (optionally with a layout description) or an SGXS\n"
	"measurement stream; the format is recognised from the file's first bytes.\n"
	"See docs/image-formats.md for both formats and the layout language.\n"
	"\n"
	"Options:\n"
	"  --layout FILE     layout description for an ELF image (default: the Linux\n"
	"                    selftest's rules: first segment TCS, one heap page)\n"
	"  --sigstruct FILE  also check a SIGSTRUCT: its ENCLAVEHASH must equal the\n"
	"                    image's MRENCLAVE; prints its MRSIGNER; exit 1 if it differs\n"
	"  --sgxs-out FILE   write the image as an SGXS stream\n"
	"\n"
	"Exit status: 0 on success, 1 on a bad image or mismatch, 2 on a usage error.\n";

const char sign_usage[] =
	"Usage: softsgx sign --key KEY.pem --out SIGSTRUCT [OPTIONS] IMAGE\n"
	"\n"
	"Measure IMAGE (ELF64 with an optional layout, or SGXS) and write a 1808-byte\n"
	"SIGSTRUCT for it, signed with an RSA-3072 key whose public exponent is 3\n"
	"('softsgx keygen' makes one). EINIT on any SGX CPU accepts the result for the\n"
	"same pages and SECS attributes.\n"
	"\n"
	"Options:\n"
	"  --key FILE             PEM private key (RSA-3072, e = 3)           (required)\n"
	"  --out FILE             where to write the SIGSTRUCT                 (required)\n"
	"  --layout FILE          layout description for an ELF image\n"
	"  --isvprodid N          ISVPRODID (default 0)\n"
	"  --isvsvn N             ISVSVN (default 0)\n"
	"  --vendor N             0 or 0x8086 (default 0)\n"
	"  --date YYYYMMDD        signing date (default today, UTC)\n"
	"  --swdefined N          SWDEFINED (default 0)\n"
	"  --attributes N         ATTRIBUTES.FLAGS (default: the image's)\n"
	"  --attributes-mask N    which ATTRIBUTES bits EINIT compares (default ~INIT)\n"
	"  --xfrm N               ATTRIBUTES.XFRM (default: the image's)\n"
	"  --xfrm-mask N          which XFRM bits EINIT compares (default 0: any XFRM)\n"
	"  --miscselect N         MISCSELECT (default: the image's)\n"
	"  --misc-mask N          which MISCSELECT bits EINIT compares (default ~0)\n"
	"\n"
	"Numbers take C prefixes (0x...). The MRENCLAVE and MRSIGNER are printed.\n";

static void print_hex(const char *label, const uint8_t *b)
{
	printf("%s", label);
	for (int i = 0; i < 32; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static int load_image(const char *path, const char *layout, struct sgx_image **img)
{
	char err[SGX_IMAGE_ERR_LEN] = "";
	uint8_t magic[4] = { 0 };
	int fd = open(path, O_RDONLY), r;

	if (fd < 0) {
		fprintf(stderr, "softsgx: %s: %s\n", path, strerror(errno));
		return -1;
	}
	r = (int)read(fd, magic, sizeof(magic));
	close(fd);
	if (r == 4 && !memcmp(magic, "\177ELF", 4)) {
		r = sgx_image_load_elf(path, layout, img, err);
	} else {
		if (layout) {
			fprintf(stderr, "softsgx: --layout applies to ELF images only\n");
			return -1;
		}
		r = sgx_image_load_sgxs(path, img, err);
	}
	if (r) {
		fprintf(stderr, "softsgx: %s: %s\n", path, err[0] ? err : strerror(-r));
		return -1;
	}
	return 0;
}

static int read_sigstruct(const char *path, struct sgx_sigstruct *ss)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "softsgx: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(ss, 1, sizeof(*ss), f);
	if (n != sizeof(*ss) || fgetc(f) != EOF) {
		fprintf(stderr, "softsgx: %s: not a 1808-byte SIGSTRUCT\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

int cmd_measure(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layout", required_argument, NULL, 'l' },
		{ "sigstruct", required_argument, NULL, 's' },
		{ "sgxs-out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *layout = NULL, *sig = NULL, *out = NULL;
	struct sgx_image *img = NULL;
	uint8_t mr[32];
	int c, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'l')
			layout = optarg;
		else if (c == 's')
			sig = optarg;
		else if (c == 'o')
			out = optarg;
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	if (load_image(argv[optind], layout, &img))
		return 1;
	if (sgx_image_measure(img, mr)) {
		fprintf(stderr, "softsgx: %s: the image cannot be built on SGX\n", argv[optind]);
		goto out;
	}
	print_hex("", mr);
	if (out) {
		int r = sgx_image_write_sgxs(img, out);

		if (r) {
			fprintf(stderr, "softsgx: %s: %s\n", out, strerror(-r));
			goto out;
		}
	}
	if (sig) {
		struct sgx_sigstruct ss;
		uint8_t signer[32];

		if (read_sigstruct(sig, &ss))
			goto out;
		sgx_sigstruct_mrsigner(&ss, signer);
		print_hex("MRSIGNER ", signer);
		if (memcmp(ss.body.mrenclave, mr, 32)) {
			print_hex("SIGSTRUCT ENCLAVEHASH differs: ", ss.body.mrenclave);
			goto out;
		}
		printf("SIGSTRUCT ENCLAVEHASH matches\n");
	}
	ret = 0;
out:
	sgx_image_free(img);
	return ret;
usage:
	fputs(measure_usage, stderr);
	return 2;
}

static uint32_t today_bcd(void)
{
	time_t t = time(NULL);
	struct tm tm;
	char s[16];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y%m%d", &tm);
	return (uint32_t)strtoul(s, NULL, 16); /* 20261122 -> 0x20261122 */
}

int cmd_sign(int argc, char **argv)
{
	enum { O_KEY = 1, O_OUT, O_LAYOUT, O_PROD, O_SVN, O_VENDOR, O_DATE, O_SW, O_ATTR,
	       O_ATTRMASK, O_XFRM, O_XFRMMASK, O_MISC, O_MISCMASK };
	static const struct option opts[] = {
		{ "key", required_argument, NULL, O_KEY },
		{ "out", required_argument, NULL, O_OUT },
		{ "layout", required_argument, NULL, O_LAYOUT },
		{ "isvprodid", required_argument, NULL, O_PROD },
		{ "isvsvn", required_argument, NULL, O_SVN },
		{ "vendor", required_argument, NULL, O_VENDOR },
		{ "date", required_argument, NULL, O_DATE },
		{ "swdefined", required_argument, NULL, O_SW },
		{ "attributes", required_argument, NULL, O_ATTR },
		{ "attributes-mask", required_argument, NULL, O_ATTRMASK },
		{ "xfrm", required_argument, NULL, O_XFRM },
		{ "xfrm-mask", required_argument, NULL, O_XFRMMASK },
		{ "miscselect", required_argument, NULL, O_MISC },
		{ "misc-mask", required_argument, NULL, O_MISCMASK },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_path = NULL, *out = NULL, *layout = NULL;
	unsigned long long v, prod = 0, svn = 0, vendor = 0, sw = 0, date = 0;
	unsigned long long attr = 0, attrmask = ~1ULL, xfrm = 0, xfrmmask = 0;
	unsigned long long misc = 0, miscmask = 0xFFFFFFFF;
	bool have_attr = false, have_xfrm = false, have_misc = false;
	struct sgx_image *img = NULL;
	struct sgx_sigstruct ss;
	uint8_t mr[32], signer[32];
	EVP_PKEY *key = NULL;
	FILE *f;
	int c, err, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_KEY) {
			key_path = optarg;
			continue;
		}
		if (c == O_OUT) {
			out = optarg;
			continue;
		}
		if (c == O_LAYOUT) {
			layout = optarg;
			continue;
		}
		if (c < O_PROD || cli_parse_u64(opts[c - 1].name, optarg, &v))
			goto usage;
		switch (c) {
		case O_PROD: prod = v; if (v > 0xFFFF) goto range; break;
		case O_SVN: svn = v; if (v > 0xFFFF) goto range; break;
		case O_VENDOR: vendor = v; if (v != 0 && v != 0x8086) goto range; break;
		case O_DATE: date = strtoull(optarg, NULL, 16); if (strlen(optarg) != 8) goto range;
			break;
		case O_SW: sw = v; if (v > 0xFFFFFFFF) goto range; break;
		case O_ATTR: attr = v; have_attr = true; break;
		case O_ATTRMASK: attrmask = v; break;
		case O_XFRM: xfrm = v; have_xfrm = true; break;
		case O_XFRMMASK: xfrmmask = v; break;
		case O_MISC: misc = v; have_misc = true; if (v > 0xFFFFFFFF) goto range; break;
		case O_MISCMASK: miscmask = v; if (v > 0xFFFFFFFF) goto range; break;
		}
	}
	if (!key_path || !out || optind != argc - 1)
		goto usage;
	key = sgx_sign_load_key(key_path, &err);
	if (!key) {
		fprintf(stderr, "softsgx: %s: %s\n", key_path,
			err == -EINVAL ? "not an RSA-3072 private key with exponent 3"
				       : strerror(-err));
		return 1;
	}
	if (load_image(argv[optind], layout, &img))
		goto out;
	if (sgx_image_measure(img, mr)) {
		fprintf(stderr, "softsgx: %s: the image cannot be built on SGX\n", argv[optind]);
		goto out;
	}
	sgx_sigstruct_init(&ss);
	ss.header.vendor = (uint32_t)vendor;
	ss.header.date = date ? (uint32_t)date : today_bcd();
	ss.header.swdefined = (uint32_t)sw;
	ss.body.attributes = have_attr ? attr : img->attributes;
	ss.body.attributes_mask = attrmask;
	ss.body.xfrm = have_xfrm ? xfrm : img->xfrm;
	ss.body.xfrm_mask = xfrmmask;
	ss.body.miscselect = have_misc ? (uint32_t)misc : img->miscselect;
	ss.body.misc_mask = (uint32_t)miscmask;
	ss.body.isvprodid = (uint16_t)prod;
	ss.body.isvsvn = (uint16_t)svn;
	memcpy(ss.body.mrenclave, mr, 32);
	if (sgx_sigstruct_sign(&ss, key)) {
		fprintf(stderr, "softsgx: signing failed\n");
		goto out;
	}
	f = fopen(out, "wb");
	if (!f || fwrite(&ss, sizeof(ss), 1, f) != 1 || fclose(f)) {
		fprintf(stderr, "softsgx: %s: %s\n", out, strerror(errno));
		goto out;
	}
	sgx_sigstruct_mrsigner(&ss, signer);
	print_hex("MRENCLAVE ", mr);
	print_hex("MRSIGNER  ", signer);
	ret = 0;
out:
	sgx_image_free(img);
	EVP_PKEY_free(key);
	return ret;
range:
	fprintf(stderr, "softsgx: value out of range: %s\n", optarg);
	EVP_PKEY_free(key);
	return 2;
usage:
	fputs(sign_usage, stderr);
	EVP_PKEY_free(key);
	return 2;
}
