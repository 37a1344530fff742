// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the SGXS reader.  Whatever the reader accepts must
 * measure the same both ways (stream hash and image measurement) and
 * survive a write/read round trip byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "softsgx/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sgx_image *img = NULL, *again = NULL;
	uint8_t a[32], b[32], *out = NULL, *out2 = NULL;
	size_t n = 0, n2 = 0;
	char err[SGX_IMAGE_ERR_LEN];

	if (sgx_image_parse_sgxs(data, len, &img, err))
		return 0;
	if (sgx_image_measure(img, a) || sgx_sgxs_hash(data, len, b, err) || memcmp(a, b, 32))
		abort();
	if (sgx_image_to_sgxs(img, &out, &n) || sgx_image_parse_sgxs(out, n, &again, err) ||
	    sgx_image_to_sgxs(again, &out2, &n2) || n != n2 || memcmp(out, out2, n))
		abort();
	free(out);
	free(out2);
	sgx_image_free(img);
	sgx_image_free(again);
	return 0;
}
