#!/bin/sh
# Runs every benchmark and writes OUTDIR/report.md (each measurement beside
# its floor, the ratio with its IQR, the target and the verdict, and the
# published hardware figures of docs/benchmarks.md) with four SVG plots:
# ecall round trip, fault costs, reclaim/reload per page against EPC size
# and against enclave count.  The benchmarks print machine-readable records
# (bench_stats.h) beside their text; bench/report.py turns them into the
# report.  Like the benchmarks, it never fails on timing, only when
# something does not run.
#
# Usage: sh bench/report.sh [BUILD [OUTDIR]]
#   BUILD   a build dir configured with -Dhost_tests=true (default build/)
#   OUTDIR  where the report goes (default BUILD/bench-report)
#   QUICK=1 short settings: about a minute instead of several
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
if [ ! -d "$build" ]; then
	echo "report: no build directory $build" >&2
	exit 1
fi
build=$(cd "$build" && pwd)
out=${2:-$build/bench-report}

missing=
for f in bench/bench_cpu bench/bench_driver bench/bench_host softsgx libsoftsgx-preload.so \
	tests/enclave/test_encl.sgxs tests/enclave/test_encl_big.sgxs; do
	[ -e "$build/$f" ] || missing="$missing $build/$f"
done
if [ -n "$missing" ]; then
	echo "report: missing:$missing" >&2
	echo "report: build them first: meson setup BUILD --buildtype=release -Dhost_tests=true" \
		"&& ninja -C BUILD" >&2
	exit 1
fi
if ! command -v python3 >/dev/null; then
	echo "report: python3 is needed (scripts/deps.sh installs it)" >&2
	exit 1
fi

if [ "${QUICK:-0}" = 1 ]; then
	mode="quick (QUICK=1)"
	cpu_args="50 21"
	driver_rounds=3
	host_rounds=9
else
	mode=full
	cpu_args=
	driver_rounds=9
	host_rounds=31
fi

mkdir -p "$out/logs"
records=$out/records.tsv
: >"$records"
meta() {
	printf '@meta\t%s\t%s\n' "$1" "$2" >>"$records"
}
loadavg() {
	cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown
}
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta commit "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
meta mode "$mode"
meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
meta cpus "$(nproc 2>/dev/null || echo unknown)"
meta load_before "$(loadavg)"

# One benchmark: its log kept, its records collected, its failure fatal.
step() {
	name=$1
	shift
	echo "report: $name ..."
	if ! SOFTSGX_BENCH_RECORD=1 "$@" >"$out/logs/$name.log" 2>&1; then
		echo "report: $name failed; its output:" >&2
		tail -n 30 "$out/logs/$name.log" >&2
		exit 1
	fi
	grep -a '^@' "$out/logs/$name.log" >>"$records" || true
}

# shellcheck disable=SC2086 # cpu_args is a list of words
step bench_cpu "$build/bench/bench_cpu" $cpu_args
step bench_driver "$build/bench/bench_driver" "$driver_rounds"
step bench_driver_sweep "$build/bench/bench_driver" "$driver_rounds" sweep
step run_host env BENCH_NO_SELFTEST=1 BENCH_ROUNDS="$host_rounds" \
	BENCH_DRIVER_ROUNDS="$driver_rounds" sh "$root/bench/run_host.sh" "$build"
meta load_after "$(loadavg)"

python3 "$root/bench/report.py" "$records" "$out"
echo "report: $out/report.md, with plots:"
for f in "$out"/*.svg; do
	echo "  $f"
done
