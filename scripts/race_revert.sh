#!/bin/sh
# Prove the race tests (docs/races.md) test something: build with the race fixes
# compiled out (-Drace_fixes=false) and require every race test to FAIL.
# Prints TAP, one line per race test.
set -u
cd "$(dirname "$0")/.."
if [ ! -d build-nofix ]; then
	meson setup build-nofix -Drace_fixes=false >/dev/null || exit 1
fi
ninja -C build-nofix tests/driver/test_drv_encl tests/driver/test_drv_ioctl \
	tests/driver/test_drv_cgroup >/dev/null || exit 1

# program:case pairs; each must fail without its fix.
set -- drv_encl:test_eaug_race_two_threads drv_encl:test_eaug_race_four_threads \
	drv_ioctl:test_remove_race drv_ioctl:test_modify_tcs_race drv_cgroup:test_oom_blocks_faults \
	drv_cgroup:test_oom_races_reclaimer drv_cgroup:test_oom_fault_recheck \
	drv_cgroup:test_oom_waits_for_release
echo "1..$#"
n=0
bad=0
for pair in "$@"; do
	prog=${pair%%:*}
	case_name=${pair#*:}
	n=$((n + 1))
	out=$(cd tests && CMOCKA_TEST_ABORT=0 CMOCKA_MESSAGE_OUTPUT=TAP \
		timeout 120 ../build-nofix/tests/driver/test_"$prog" 2>&1)
	if printf '%s\n' "$out" | grep -q "^not ok [0-9]* - $case_name\$"; then
		echo "ok $n - $case_name fails with its fix compiled out"
	elif printf '%s\n' "$out" | grep -q "^ok [0-9]* - $case_name\$"; then
		echo "not ok $n - $case_name passes without its fix: it does not test the race"
		bad=1
	else
		echo "not ok $n - $case_name did not run in the no-fix build"
		bad=1
	fi
done
exit $bad
