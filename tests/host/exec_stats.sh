#!/bin/sh
# SPDX-License-Identifier: MIT
# Run a TAP program under `softsgx exec --stats` (the arguments: the whole
# command line) and add one case: every EPC page is free again when the
# program exits, and none leaked.  The program must release its enclaves.
out=$(mktemp) || exit 1
err=$(mktemp) || exit 1
trap 'rm -f "$out" "$err"' EXIT
"$@" >"$out" 2>"$err"
rc=$?
cat "$err" >&2
plan=$(grep -E '^1\.\.[0-9]+' "$out" | tail -n 1)
case "$plan" in
*SKIP*|"")
	cat "$out"
	exit $rc
	;;
esac
grep -v -E '^1\.\.[0-9]+' "$out"
n=$((${plan#1..} + 1))
stats=$(grep '^softsgx: EPC pages' "$err" | tail -n 1)
case "$stats" in
*" used 0 leaked 0;"*)
	echo "ok $n - the EPC is whole at exit: $stats"
	;;
*)
	echo "not ok $n - the EPC is whole at exit: ${stats:-no counters printed}"
	[ $rc -eq 0 ] && rc=1
	;;
esac
echo "1..$n"
exit $rc
