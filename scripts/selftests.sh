#!/bin/sh
# Build Linux's own SGX selftest (tools/testing/selftests/sgx, kernel 6.12, from
# Debian's linux-source-6.12) outside the repository and run it under a wrapper.
#
# Usage: sh scripts/selftests.sh [WRAPPER...]
#   sh scripts/selftests.sh                          build only
#   sh scripts/selftests.sh build/softsgx exec --    build, then run ./test_sgx
#                                                    as "build/softsgx exec -- ./test_sgx"
# The selftest's TAP output goes to stdout; the exit status is test_sgx's.
# SELFTEST_ARGS is appended to ./test_sgx (e.g. "-r enclave.tcs_entry").
# Only the selftest directory and what its Makefile needs are extracted (none
# of it belongs in this repository), into $SELFTESTS_DIR, by default
# build-selftests/ at the top of the checkout (ignored by git).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
version=6.12
tarball=/usr/src/linux-source-$version.tar.xz
out=${SELFTESTS_DIR:-$root/build-selftests}
top=linux-source-$version
dir=$out/$top/tools/testing/selftests/sgx

# The wrapper's program may be a path relative to where we were started.
if [ $# -gt 0 ] && [ "${1#*/}" != "$1" ] && [ -e "$1" ]; then
	prog=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	shift
	set -- "$prog" "$@"
fi

sh "$root/scripts/deps.sh" selftests
if [ ! -r "$tarball" ]; then
	echo "selftests: $tarball is missing (package linux-source-$version)" >&2
	exit 1
fi

if [ ! -f "$out/.extracted-$version" ]; then
	echo "selftests: extracting the SGX selftest from $tarball" >&2
	mkdir -p "$out"
	rm -rf "${out:?}/$top"
	# The selftest, the kselftest build glue and headers it includes, the
	# x86 compiler probe, tools/include, and the three x86 SGX headers.
	tar -xJf "$tarball" -C "$out" --wildcards \
		"$top/tools/testing/selftests/sgx/*" \
		"$top/tools/testing/selftests/lib.mk" \
		"$top/tools/testing/selftests/kselftest*" \
		"$top/tools/testing/selftests/x86/check_cc.sh" \
		"$top/tools/testing/selftests/x86/trivial_64bit_program.c" \
		"$top/tools/include/*" \
		"$top/arch/x86/include/asm/enclu.h" \
		"$top/arch/x86/include/asm/sgx.h" \
		"$top/arch/x86/include/uapi/asm/sgx.h"
	touch "$out/.extracted-$version"
fi

make -s -C "$dir" >&2
if [ ! -x "$dir/test_sgx" ] || [ ! -f "$dir/test_encl.elf" ]; then
	echo "selftests: the build produced no test_sgx (is the compiler x86-64?)" >&2
	exit 1
fi
if [ $# -eq 0 ]; then
	echo "selftests: built $dir/test_sgx" >&2
	exit 0
fi
# test_sgx loads test_encl.elf from its working directory.
cd "$dir"
# shellcheck disable=SC2086
exec "$@" ./test_sgx ${SELFTEST_ARGS:-}
