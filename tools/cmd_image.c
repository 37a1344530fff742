// SPDX-License-Identifier: MIT
/* softsgx sign and softsgx measure: the offline side of enclave images. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "cli.h"
#include "internal.h" /* EINIT's SIGSTRUCT checks, reused for measure --sigstruct */
#include "softsgx/image.h"
#include "softsgx/sign.h"

const char measure_usage[] =
	"Usage: softsgx measure [OPTIONS] IMAGE\n"
	"\n"
	"Print the MRENCLAVE that EINIT would compute for IMAGE, as 64 hex digits.\n"
	"IMAGE is an ELF64 enclave (optionally with a layout description) or an SGXS\n"
	"measurement stream; the format is recognised from the file's first bytes, and\n"
	"anything else is refused. '-' reads standard input; a FIFO is read once a\n"
	"writer opens it (after a second a line on stderr says that it waits).\n"
	"See docs/image-formats.md for both formats and the layout language.\n"
	"\n"
	"Options:\n"
	"  --layout FILE     layout description for an ELF image (default: the Linux\n"
	"                    selftest's rules: first segment TCS, one heap page)\n"
	"  --sigstruct FILE  also check a SIGSTRUCT with EINIT's own checks: the fixed\n"
	"                    header, VENDOR, EXPONENT and reserved fields, the RSA-3072\n"
	"                    signature over header and body, Q1 and Q2, and that its\n"
	"                    ENCLAVEHASH equals the image's MRENCLAVE (the SECS\n"
	"                    attributes and launch control are the loader's and are not\n"
	"                    checked). Prints its MRSIGNER; exit 1 naming the first check\n"
	"                    that fails\n"
	"  --sgxs-out FILE   write the image as an SGXS stream to FILE\n"
	"  --force           let --sgxs-out replace an existing FILE (never an input)\n"
	"  -h, --help        this text\n"
	"  --version         print the version\n"
	"\n"
	"Output files are written to a temporary file in the same directory and renamed,\n"
	"so a failure never leaves a partial file or loses the old one.\n"
	"\n"
	"Exit status: 0 on success, 1 on a bad image, a bad SIGSTRUCT, a mismatch or when\n"
	"--sgxs-out is not written (as for 'softsgx sign --out'), 2 on a usage error.\n";

const char sign_usage[] =
	"Usage: softsgx sign --key KEY.pem --out SIGSTRUCT [OPTIONS] IMAGE\n"
	"\n"
	"Measure IMAGE (ELF64 with an optional layout, or SGXS; '-' reads standard\n"
	"input) and write a 1808-byte SIGSTRUCT for it, signed with an RSA-3072 key whose\n"
	"public exponent is 3 ('softsgx keygen' makes one; encrypted keys are refused).\n"
	"EINIT on any SGX CPU accepts the result for the same pages and SECS attributes.\n"
	"\n"
	"Options:\n"
	"  --key FILE             PEM private key (RSA-3072, e = 3)           (required)\n"
	"  --out FILE             where to write the SIGSTRUCT                 (required)\n"
	"  --force                let --out replace an existing FILE; the key and the\n"
	"                         inputs are never replaced\n"
	"  --layout FILE          layout description for an ELF image\n"
	"  --isvprodid N          ISVPRODID, 0..65535 (default 0)\n"
	"  --isvsvn N             ISVSVN, 0..65535 (default 0)\n"
	"  --vendor N             0 or 0x8086 (default 0)\n"
	"  --date YYYYMMDD        signing date, a valid calendar date (default today, UTC)\n"
	"  --swdefined N          SWDEFINED, 0..0xffffffff (default 0)\n"
	"  --attributes N         ATTRIBUTES.FLAGS (default: the image's); under the mask\n"
	"                         INIT must be clear and MODE64BIT as in the image\n"
	"  --attributes-mask N    which ATTRIBUTES bits EINIT compares (default ~INIT)\n"
	"  --xfrm N               ATTRIBUTES.XFRM (default: the image's); under the mask\n"
	"                         bits 0 and 1 (x87, SSE) must be set\n"
	"  --xfrm-mask N          which XFRM bits EINIT compares (default 0: any XFRM)\n"
	"  --miscselect N         MISCSELECT, 0..0xffffffff (default: the image's)\n"
	"  --misc-mask N          which MISCSELECT bits EINIT compares, 0..0xffffffff\n"
	"                         (default 0xffffffff)\n"
	"  -h, --help             this text\n"
	"  --version              print the version\n"
	"\n"
	"Numbers take C prefixes (0x...). A value EINIT could never accept is a usage\n"
	"error. The SIGSTRUCT is written to a temporary file in the same directory and\n"
	"renamed, so a failure never leaves a partial file or loses the old one. The\n"
	"MRENCLAVE and MRSIGNER are printed.\n"
	"\n"
	"Exit status: 0 on success, 1 on a bad key or image or when --out is not written\n"
	"(it exists without --force, is an input, or the write failed), 2 on a usage\n"
	"error.\n";

static void print_hex(const char *label, const uint8_t *b)
{
	printf("%s", label);
	for (int i = 0; i < 32; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static const char *shown(const char *path)
{
	return strcmp(path, "-") ? path : "standard input";
}

/* An ELF64 enclave (with @layout_path) or an SGXS stream; anything else is refused. */
static int load_image(const char *path, const char *layout_path, struct sgx_image **img)
{
	static const uint8_t sgxs_magic[8] = "ECREATE";
	char err[SGX_IMAGE_ERR_LEN] = "";
	uint8_t *buf = NULL, *layout = NULL;
	size_t len, layout_len;
	int r = -1;

	if (cli_read_input(path, "image", &buf, &len))
		return -1;
	if (len >= 4 && !memcmp(buf, "\177ELF", 4)) {
		if (layout_path) {
			if (cli_read_input(layout_path, "layout", &layout, &layout_len))
				goto out;
			if (strlen((char *)layout) != layout_len) {
				cli_err("layout %s: contains a NUL byte", shown(layout_path));
				goto out;
			}
		}
		r = sgx_image_parse_elf(buf, len, (char *)layout, img, err);
	} else if (len >= 8 && !memcmp(buf, sgxs_magic, 8)) {
		if (layout_path) {
			cli_err("--layout applies to ELF images only, and %s is SGXS",
				shown(path));
			goto out;
		}
		r = sgx_image_parse_sgxs(buf, len, img, err);
	} else {
		cli_err("image %s: neither an ELF file nor an SGXS stream (which starts with "
			"an ECREATE record)", shown(path));
		goto out;
	}
	if (r) {
		cli_err("image %s: %s", shown(path), err[0] ? err : strerror(-r));
		r = -1;
	}
out:
	free(layout);
	free(buf);
	return r;
}

static int read_sigstruct(const char *path, struct sgx_sigstruct *ss)
{
	uint8_t *buf;
	size_t len;

	if (cli_read_input(path, "SIGSTRUCT", &buf, &len))
		return -1;
	if (len != sizeof(*ss)) {
		cli_err("SIGSTRUCT %s: %zu bytes, not 1808", shown(path), len);
		free(buf);
		return -1;
	}
	memcpy(ss, buf, sizeof(*ss));
	free(buf);
	return 0;
}

/* The fields of the SIGSTRUCT format check, for saying which one is wrong. */
enum { F_HEADER, F_HEADER2, F_VENDOR, F_EXPONENT, F_RESERVED, NR_FIELDS };
static const char *const field_names[NR_FIELDS] = {
	"HEADER", "HEADER2", "VENDOR", "EXPONENT", "the reserved fields",
};

/* @ss with every format field except @keep taken from a fresh SIGSTRUCT. */
static void fix_fields_but(struct sgx_sigstruct *ss, int keep)
{
	struct sgx_sigstruct t;

	sgx_sigstruct_init(&t);
	if (keep != F_HEADER)
		memcpy(ss->header.header1, t.header.header1, sizeof(t.header.header1));
	if (keep != F_HEADER2)
		memcpy(ss->header.header2, t.header.header2, sizeof(t.header.header2));
	if (keep != F_VENDOR)
		ss->header.vendor = t.header.vendor;
	if (keep != F_EXPONENT)
		ss->exponent = t.exponent;
	if (keep != F_RESERVED) {
		memset(ss->header.reserved1, 0, sizeof(ss->header.reserved1));
		memset(ss->body.reserved2, 0, sizeof(ss->body.reserved2));
		memset(ss->body.reserved3, 0, sizeof(ss->body.reserved3));
		memset(ss->reserved4, 0, sizeof(ss->reserved4));
	}
}

/*
 * EINIT's own format check (cpu/sigstruct.c); on failure, a field is to
 * blame when the check still fails with every other field made right.
 */
static int check_format(struct sgx_cpu *cpu, const struct sgx_sigstruct *ss)
{
	char names[128] = "";
	size_t n = 0;

	if (!sigstruct_check_format(cpu, ss))
		return 0;
	for (int f = 0; f < NR_FIELDS; f++) {
		struct sgx_sigstruct t = *ss;

		fix_fields_but(&t, f);
		if (sigstruct_check_format(cpu, &t))
			n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "",
					      field_names[f]);
	}
	cli_err("SIGSTRUCT format: %s not as EINIT requires (SGX_INVALID_SIG_STRUCT)",
		n ? names : "several fields");
	return -1;
}

/* RSA PKCS#1 v1.5 SHA-256 over header || body with the SIGSTRUCT's own key, via OpenSSL. */
static bool rsa_signature_good(const struct sgx_sigstruct *ss)
{
	uint8_t msg[256], sig[SGX_MODULUS_SIZE];
	BIGNUM *n = BN_lebin2bn(ss->modulus, SGX_MODULUS_SIZE, NULL), *e = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *pk = NULL;
	bool good = false;

	for (int i = 0; i < SGX_MODULUS_SIZE; i++)
		sig[i] = ss->signature[SGX_MODULUS_SIZE - 1 - i];
	memcpy(msg, &ss->header, 128);
	memcpy(msg + 128, &ss->body, 128);
	if (n && e && bld && pc && md && BN_set_word(e, ss->exponent) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(pc) == 1 &&
	    EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1)
		good = EVP_DigestVerify(md, sig, sizeof(sig), msg, sizeof(msg)) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return good;
}

/*
 * What EINIT checks in the SIGSTRUCT alone, with the CPU model's own
 * checks, then its ENCLAVEHASH against @mr.  Return 0 or -1 with the
 * failed check on stderr.
 */
static int check_sigstruct(const char *path, const struct sgx_sigstruct *ss, const uint8_t mr[32])
{
	struct sgx_cpu_config cfg;
	struct sgx_cpu *cpu;
	uint8_t padding[352];
	int err, r = -1;

	sgx_cpu_default_config(&cfg);
	cfg.epc_size = SGX_PAGE_SIZE; /* only its SIGSTRUCT rules are used */
	cpu = sgx_cpu_create(&cfg, &err);
	if (!cpu) {
		cli_err("cannot create the CPU model: %s", strerror(-err));
		return -1;
	}
	if (check_format(cpu, ss))
		goto out;
	if (sigstruct_verify(ss, padding)) {
		if (rsa_signature_good(ss))
			cli_err("SIGSTRUCT %s: Q1 or Q2 is wrong for the signature and modulus "
				"(SGX_INVALID_SIGNATURE)", shown(path));
		else
			cli_err("SIGSTRUCT %s: the RSA signature over its header and body does "
				"not verify with its modulus (SGX_INVALID_SIGNATURE)", shown(path));
		goto out;
	}
	if (memcmp(ss->body.mrenclave, mr, 32)) {
		print_hex("SIGSTRUCT ENCLAVEHASH differs: ", ss->body.mrenclave);
		cli_err("SIGSTRUCT %s: ENCLAVEHASH is not the image's MRENCLAVE "
			"(SGX_INVALID_MEASUREMENT)", shown(path));
		goto out;
	}
	r = 0;
out:
	sgx_cpu_destroy(cpu);
	return r;
}

/* Write @img as SGXS to @path: all or nothing, never over an input. */
static int write_sgxs(const struct sgx_image *img, const char *path, bool force,
		      const char *const inputs[3])
{
	uint8_t *buf;
	size_t len;
	int r = sgx_image_to_sgxs(img, &buf, &len);

	if (r) {
		cli_err("--sgxs-out %s: %s", path, strerror(-r));
		return -1;
	}
	r = cli_write_output("--sgxs-out", path, buf, len, 0666, force, inputs, 3);
	free(buf);
	return r;
}

int cmd_measure(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layout", required_argument, NULL, 'l' },
		{ "sigstruct", required_argument, NULL, 's' },
		{ "sgxs-out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		CLI_STD_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *layout = NULL, *sig = NULL, *out = NULL;
	struct sgx_image *img = NULL;
	struct sgx_sigstruct ss;
	bool force = false;
	uint8_t mr[32];
	int c, status, ret = 1;

	while ((c = cli_getopt(argc, argv, opts, &status)) != -1) {
		switch (c) {
		case CLI_EXIT:
			return status;
		case 'l':
			layout = optarg;
			break;
		case 's':
			sig = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'f':
			force = true;
			break;
		}
	}
	if (optind == argc) {
		cli_err("the IMAGE is missing (see '%s --help')", cli_name);
		return 2;
	}
	if (cli_no_more_args(argc, argv, optind + 1))
		return 2;
	if (load_image(argv[optind], layout, &img))
		return 1;
	if (sgx_image_measure(img, mr)) {
		cli_err("image %s: cannot be built on SGX", shown(argv[optind]));
		goto out;
	}
	print_hex("", mr);
	if (out) {
		const char *inputs[] = { argv[optind], layout, sig };

		if (write_sgxs(img, out, force, inputs))
			goto out;
	}
	if (sig) {
		uint8_t signer[32];

		if (read_sigstruct(sig, &ss))
			goto out;
		sgx_sigstruct_mrsigner(&ss, signer);
		print_hex("MRSIGNER ", signer);
		if (check_sigstruct(sig, &ss, mr))
			goto out;
		printf("SIGSTRUCT valid; its ENCLAVEHASH matches\n");
	}
	ret = 0;
out:
	sgx_image_free(img);
	return ret;
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

/* YYYYMMDD, a real calendar date, as SIGSTRUCT's BCD DATE; 0 when it is not one. */
static uint32_t parse_date(const char *s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned int y, m, d;

	if (strlen(s) != 8 || strspn(s, "0123456789") != 8 ||
	    sscanf(s, "%4u%2u%2u", &y, &m, &d) != 3)
		return 0;
	if (!y || m < 1 || m > 12 || d < 1 || d > (unsigned int)mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
		return 0;
	return (uint32_t)strtoul(s, NULL, 16);
}

/* What EINIT could never accept for any SECS built from @img; -1 after a message. */
static int check_einit_possible(const struct sgx_sigstruct *ss, const struct sgx_image *img)
{
	uint64_t a = ss->body.attributes, am = ss->body.attributes_mask;
	bool is64 = img->attributes & SGX_ATTR_MODE64BIT;

	if (a & am & SGX_ATTR_INIT) {
		cli_err("--attributes %#llx: sets INIT under --attributes-mask %#llx; no enclave "
			"has INIT before EINIT",
			(unsigned long long)a, (unsigned long long)am);
		return -1;
	}
	if ((a ^ img->attributes) & am & SGX_ATTR_MODE64BIT) {
		cli_err("--attributes %#llx: MODE64BIT (0x4) must be %s under --attributes-mask "
			"%#llx, as the image is a %s enclave",
			(unsigned long long)a, is64 ? "set" : "clear", (unsigned long long)am,
			is64 ? "64-bit" : "32-bit");
		return -1;
	}
	if ((ss->body.xfrm & ss->body.xfrm_mask & 3) != (ss->body.xfrm_mask & 3)) {
		cli_err("--xfrm %#llx: bits 0 and 1 (x87, SSE) must be set under --xfrm-mask "
			"%#llx; every enclave has them",
			(unsigned long long)ss->body.xfrm, (unsigned long long)ss->body.xfrm_mask);
		return -1;
	}
	return 0;
}

int cmd_sign(int argc, char **argv)
{
	enum { O_KEY = 1, O_OUT, O_LAYOUT, O_FORCE, O_PROD, O_SVN, O_VENDOR, O_DATE, O_SW,
	       O_ATTR, O_ATTRMASK, O_XFRM, O_XFRMMASK, O_MISC, O_MISCMASK };
	static const struct option opts[] = {
		{ "key", required_argument, NULL, O_KEY },
		{ "out", required_argument, NULL, O_OUT },
		{ "layout", required_argument, NULL, O_LAYOUT },
		{ "force", no_argument, NULL, O_FORCE },
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
		CLI_STD_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	/* The largest value of each numeric option, indexed from O_PROD. */
	static const unsigned long long max[] = {
		[O_PROD - O_PROD] = 0xFFFF,	  [O_SVN - O_PROD] = 0xFFFF,
		[O_VENDOR - O_PROD] = 0x8086,	  [O_SW - O_PROD] = 0xFFFFFFFF,
		[O_ATTR - O_PROD] = ~0ULL,	  [O_ATTRMASK - O_PROD] = ~0ULL,
		[O_XFRM - O_PROD] = ~0ULL,	  [O_XFRMMASK - O_PROD] = ~0ULL,
		[O_MISC - O_PROD] = 0xFFFFFFFF, [O_MISCMASK - O_PROD] = 0xFFFFFFFF,
	};
	const char *key_path = NULL, *out = NULL, *layout = NULL;
	unsigned long long v, prod = 0, svn = 0, vendor = 0, sw = 0;
	unsigned long long attr = 0, attrmask = ~1ULL, xfrm = 0, xfrmmask = 0;
	unsigned long long misc = 0, miscmask = 0xFFFFFFFF;
	bool have_attr = false, have_xfrm = false, have_misc = false, force = false;
	struct sgx_image *img = NULL;
	struct sgx_sigstruct ss;
	uint8_t mr[32], signer[32];
	EVP_PKEY *key = NULL;
	uint32_t date = 0;
	int c, status, ret = 1;

	while ((c = cli_getopt(argc, argv, opts, &status)) != -1) {
		switch (c) {
		case CLI_EXIT:
			return status;
		case O_KEY:
			key_path = optarg;
			continue;
		case O_OUT:
			out = optarg;
			continue;
		case O_LAYOUT:
			layout = optarg;
			continue;
		case O_FORCE:
			force = true;
			continue;
		case O_DATE:
			date = parse_date(optarg);
			if (!date) {
				cli_err("--date %s: not a calendar date YYYYMMDD", optarg);
				return 2;
			}
			continue;
		}
		if (cli_parse_num(opts[c - 1].name, optarg, 0, max[c - O_PROD], &v))
			return 2;
		switch (c) {
		case O_PROD: prod = v; break;
		case O_SVN: svn = v; break;
		case O_VENDOR:
			if (v != 0 && v != 0x8086) {
				cli_err("--vendor %s: must be 0 or 0x8086", optarg);
				return 2;
			}
			vendor = v;
			break;
		case O_SW: sw = v; break;
		case O_ATTR: attr = v; have_attr = true; break;
		case O_ATTRMASK: attrmask = v; break;
		case O_XFRM: xfrm = v; have_xfrm = true; break;
		case O_XFRMMASK: xfrmmask = v; break;
		case O_MISC: misc = v; have_misc = true; break;
		case O_MISCMASK: miscmask = v; break;
		}
	}
	if (!key_path || !out) {
		cli_err("%s is required (see '%s --help')", key_path ? "--out" : "--key", cli_name);
		return 2;
	}
	if (optind == argc) {
		cli_err("the IMAGE is missing (see '%s --help')", cli_name);
		return 2;
	}
	if (cli_no_more_args(argc, argv, optind + 1))
		return 2;
	key = cli_load_key(key_path);
	if (!key)
		return 1;
	if (load_image(argv[optind], layout, &img))
		goto out;
	if (sgx_image_measure(img, mr)) {
		cli_err("image %s: cannot be built on SGX", shown(argv[optind]));
		goto out;
	}
	sgx_sigstruct_init(&ss);
	ss.header.vendor = (uint32_t)vendor;
	ss.header.date = date ? date : today_bcd();
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
	if (check_einit_possible(&ss, img)) {
		ret = 2;
		goto out;
	}
	if (sgx_sigstruct_sign(&ss, key)) {
		cli_err("signing failed");
		goto out;
	}
	{
		const char *inputs[] = { key_path, argv[optind], layout };

		if (cli_write_output("--out", out, &ss, sizeof(ss), 0666, force, inputs, 3))
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
}
