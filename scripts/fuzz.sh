#!/bin/sh
# Build the libFuzzer harnesses with clang + ASan/UBSan and run each for
# FUZZ_SECONDS (default 20) from its committed corpus.  Prints one TAP line
# per harness; a crash, or an input running over 30 s (a hang), leaves its
# reproducer in build-fuzz/.
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
if [ ! -d build-fuzz ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
ninja -C build-fuzz >/dev/null || exit 1
n=0
fail=0
set -- fuzz_sgxs:sgxs fuzz_elf:elf fuzz_driver:driver fuzz_enclu_sites:enclu_sites
echo "1..$#"
for h in "$@"; do
	name=${h%%:*}
	corpus=${h#*:}
	n=$((n + 1))
	work=$(mktemp -d)
	cp fuzz/corpus/"$corpus"/* "$work"/
	if (cd build-fuzz && ./fuzz/"$name" -max_total_time="$secs" -timeout=30 -max_len=65536 \
		-print_final_stats=1 "$work" >"$name.log" 2>&1); then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$name.log" | grep -o '[0-9]*$')
		echo "ok $n - $name: ${runs:-?} inputs in ${secs}s, no crash"
	else
		echo "not ok $n - $name crashed; see build-fuzz/$name.log"
		fail=1
	fi
	rm -rf "$work"
done
exit $fail
