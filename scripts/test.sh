#!/bin/sh
# Set up, build and run every test: a normal build, an ASan+UBSan build, a
# ThreadSanitizer build of the threaded tests, a release build, a build with the race fixes of
# docs/races.md compiled out (whose race tests must fail), then the libFuzzer
# harnesses.  Ends with "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh

run_suite() { # build-dir, meson-setup-args..., then -- test names (optional)
	dir=$1
	shift
	args=""
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do args="$args $1"; shift; done
	[ $# -gt 0 ] && shift
	echo "== $dir:$args" >&2
	# A build that does not configure or compile counts as a failure in the
	# summary (count_tap.py finds no test log), and the other builds still run.
	# shellcheck disable=SC2086
	if [ ! -d "$dir" ] && ! meson setup "$dir" $args >"$dir.setup.log" 2>&1; then
		echo "== $dir: meson setup failed:" >&2
		tail -20 "$dir.setup.log" >&2
		return 0
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		echo "== $dir: the build failed:" >&2
		grep -E 'error|FAILED' "$dir.build.log" | head -20 >&2
		return 0
	fi
	# shellcheck disable=SC2068
	meson test -C "$dir" --print-errorlogs $@ || true
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
run_suite build -Dhost_tests=true
run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dhost_tests=true
run_suite build-tsan -Db_sanitize=thread -- cli concurrency drv_main drv_encl drv_ioctl drv_vepc drv_stress drv_cgroup drv_svn drv_lock
# The release build docs/benchmarks.md tells people to make: -O3 finds
# what -O2 does not (warnings are errors), and the suite runs on its code.
run_suite build-rel --buildtype=release -Dhost_tests=true

# The shim cannot run under TSan, which takes over signal delivery: its
# host tests run in the plain and ASan builds (docs/running-programs.md).
echo "== unmodified programs: Linux's SGX selftests under softsgx exec, also unprivileged" >&2
sh scripts/exec_ci.sh build | tee build-exec.tap || true

echo "== race tests with their fixes compiled out (each must fail)" >&2
sh scripts/race_revert.sh | tee build-race.tap || true

echo "== fuzz: libFuzzer harnesses, ${FUZZ_SECONDS:-20}s each" >&2
sh scripts/fuzz.sh | tee build-fuzz.tap || true

python3 scripts/count_tap.py build build-asan build-tsan build-rel build-exec.tap build-race.tap build-fuzz.tap
