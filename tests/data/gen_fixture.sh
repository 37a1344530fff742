#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerate encl_fixture.elf (committed, so the tests need no toolchain).
# Needs GNU as and ld; run from tests/data.
set -e
as --64 -o encl_fixture.o encl_fixture.S
ld -T encl_fixture.lds -z max-page-size=4096 -z noexecstack --build-id=none \
	-nostdlib -static -o encl_fixture.elf encl_fixture.o
rm -f encl_fixture.o
