#!/bin/sh
# softsgx exec's EPC cgroup settings end to end (TAP): --cgroup and
# SOFTSGX_CGROUPS, their refusals (one line naming the option and the
# value, exit 2), and the cgroup lines of --stats.
# $1: the softsgx binary, $2: test_exec_basic, $3 $4: the test enclave.
# Programs that get as far as the shim are $2 (an ASan build's shim loads
# only into programs built with ASan).
set -u
BIN=$1
. "$(dirname "$0")/../tap.sh"
# description, expected exit code, pattern of the one stderr line (or ''), command...
check() {
	d=$1; want=$2; pat=$3; shift 3
	"$@" >"$T/out" 2>"$T/log"; got=$?
	if [ "$got" -eq "$want" ] && { [ -z "$pat" ] ||
	    { [ "$(wc -l <"$T/log")" -eq 1 ] && grep -q -- "$pat" "$T/log"; }; }; then
		ok "$d"
	else
		echo "exit $got, wanted $want and one line matching '$pat'" >>"$T/log"
		bad "$d"
	fi
}
check "--help describes --cgroup" 0 '' "$BIN" exec --help
grep -q -- "--cgroup PATH:LIMIT" "$T/out" && grep -q SOFTSGX_CGROUPS "$T/out" &&
	grep -q -- "--cgroup-policy v5|v17" "$T/out" && grep -q SOFTSGX_CGROUP_POLICY "$T/out" &&
	grep -q SOFTSGX_CGROUP_CONTROL "$T/out" && ok "--help lists the option and variables" ||
	bad "--help lists the option and variables"
check "--cgroup a/b:1M --cgroup c:max runs the program" 0 '' \
	"$BIN" exec --cgroup a/b:1M --cgroup c:max -- "$2" "$3" "$4"
for v in a//b:1M :1M a: a a:1X a:-1 ../a:1 a/./b:1 /a:1 a/:1 'a b:1' a,b:1 a:99999999999G \
    a:0x40000000000040K 0123456789012345678901234567890123456789012345678901234567890123:1; do
	check "--cgroup $v is refused" 2 "^softsgx exec: --cgroup $v: want PATH:LIMIT" \
		"$BIN" exec --cgroup "$v" -- true
done
check "--cgroup without a value" 2 "--cgroup needs a value" "$BIN" exec --cgroup
check "--cgroup-policy v6 is refused" 2 "^softsgx exec: --cgroup-policy wants v5 or v17" \
	"$BIN" exec --cgroup-policy v6 -- true
check "a bad SOFTSGX_CGROUP_POLICY is refused" 2 \
	"^softsgx: SOFTSGX_CGROUP_POLICY=v6: want v5 or v17" \
	env SOFTSGX_CGROUP_POLICY=v6 "$BIN" exec -- "$2" "$3" "$4"
check "--cgroup-policy v5 runs the program" 0 '' \
	"$BIN" exec --cgroup-policy v5 --cgroup a:1M -- "$2" "$3" "$4"
# 2^54 + 64 KiB wrapped round to 64 KiB before the suffix was checked.
check "--epc 0x40000000000040K does not wrap to 64K" 2 "^softsgx exec: --epc 0x40000000000040K:" \
	"$BIN" exec --epc 0x40000000000040K -- true
check "a bad SOFTSGX_CGROUPS entry is refused" 2 \
	"^softsgx: SOFTSGX_CGROUPS=a:1M,b:1Q: bad entry 'b:1Q'" \
	env SOFTSGX_CGROUPS=a:1M,b:1Q "$BIN" exec -- "$2" "$3" "$4"
check "an empty SOFTSGX_CGROUPS entry is refused" 2 "bad entry ''" \
	env SOFTSGX_CGROUPS=a:1M,,b:max "$BIN" exec -- "$2" "$3" "$4"
# The environment alone makes the tree, and --stats shows each cgroup.
check "SOFTSGX_CGROUPS=x/y:1M runs an enclave" 0 '' \
	env SOFTSGX_CGROUPS=x/y:1M SOFTSGX_STATS=1 "$BIN" exec -- "$2" "$3" "$4"
grep -q '^softsgx: cgroup x: misc.current sgx_epc 0; misc.max sgx_epc max; misc.peak sgx_epc [1-9][0-9]*; misc.events sgx_epc.max 0$' "$T/log" &&
	grep -q '^softsgx: cgroup x/y: misc.current sgx_epc 0; misc.max sgx_epc 1048576; misc.peak sgx_epc [1-9][0-9]*; misc.events sgx_epc.max 0$' "$T/log" &&
	ok "--stats: x (made for x/y, no limit) and x/y (1M) were charged and are empty" ||
	bad "--stats: x (made for x/y, no limit) and x/y (1M) were charged and are empty"
check "--cgroup adds to SOFTSGX_CGROUPS" 0 '' \
	env SOFTSGX_CGROUPS=p:2M SOFTSGX_STATS=1 "$BIN" exec --cgroup p/q:max -- "$2" "$3" "$4"
grep -q '^softsgx: cgroup p: .*misc.max sgx_epc 2097152; misc.peak sgx_epc [1-9]' "$T/log" &&
	grep -q '^softsgx: cgroup p/q: .*misc.max sgx_epc max; misc.peak sgx_epc [1-9]' "$T/log" &&
	ok "... and the program is charged to the last one, p/q" ||
	bad "... and the program is charged to the last one, p/q"
# A limit below SECS + VA: no OOM kill, the allocation fails.
check "a 4K limit: the program cannot load its enclave" 1 '' \
	"$BIN" exec --cgroup tiny:4K -- "$2" "$3" "$4"
grep -q "ENCLAVE_CREATE: Cannot allocate memory" "$T/log" &&
	grep -q "^Bail out!.*Cannot allocate memory" "$T/out" &&
	ok "... ENCLAVE_CREATE said ENOMEM" || bad "... ENCLAVE_CREATE said ENOMEM"
echo "1..$n"
[ "$fails" -eq 0 ]
