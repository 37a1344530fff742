// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the ELF + layout reader.  The input is an ELF file,
 * optionally followed by "\n--LAYOUT--\n" and a layout description.  An
 * accepted image must pass its own check and measure.
 */
#include <stdlib.h>
#include <string.h>

#include "softsgx/image.h"

static const char sep[] = "\n--LAYOUT--\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sgx_image *img = NULL;
	char err[SGX_IMAGE_ERR_LEN], *layout = NULL;
	size_t elf_len = len;
	uint8_t mr[32];

	for (size_t i = 0; i + sizeof(sep) - 1 <= len; i++) {
		if (!memcmp(data + i, sep, sizeof(sep) - 1)) {
			size_t l = len - i - (sizeof(sep) - 1);

			layout = malloc(l + 1);
			if (!layout)
				return 0;
			memcpy(layout, data + i + sizeof(sep) - 1, l);
			layout[l] = 0;
			elf_len = i;
			break;
		}
	}
	if (!sgx_image_parse_elf(data, elf_len, layout, &img, err)) {
		if (sgx_image_check(img, err) || sgx_image_measure(img, mr))
			abort();
		sgx_image_free(img);
	}
	free(layout);
	return 0;
}
