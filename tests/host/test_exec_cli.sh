#!/bin/sh
# softsgx exec's EPC cgroup settings end to end (TAP): --cgroup and
# SOFTSGX_CGROUPS, their refusals (one line naming the option and the
# value, exit 2), and the cgroup lines of --stats; the refusal of programs
# the shim cannot be preloaded into (one line, exit 127); --cpuid and
# SOFTSGX_CPUID refusing what is not a mode.
# $1: the softsgx binary, $2: test_exec_basic, $3 $4: the test enclave,
# $5 $6: a -static and a -static-pie program ("none" where the toolchain
# cannot link one).
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
grep -q -- "--cpuid MODE" "$T/out" && grep -q SOFTSGX_CPUID "$T/out" &&
	ok "--help lists --cpuid and SOFTSGX_CPUID" || bad "--help lists --cpuid and SOFTSGX_CPUID"
grep -q -- "--fork MODE" "$T/out" && grep -q "SOFTSGX_FORK=share|detach" "$T/out" &&
	ok "--help lists --fork and SOFTSGX_FORK" || bad "--help lists --fork and SOFTSGX_FORK"
check "--fork both is refused" 2 "^softsgx exec: --fork wants share or detach" \
	"$BIN" exec --fork both -- true
check "--fork without a value" 2 "--fork wants" "$BIN" exec --fork
check "SOFTSGX_FORK=both is refused" 2 "^softsgx: SOFTSGX_FORK=both: want share or detach" \
	env SOFTSGX_FORK=both "$BIN" exec -- "$2" "$3" "$4"
for m in share detach; do
	check "--fork $m runs an enclave" 0 '' "$BIN" exec --fork $m -- "$2" "$3" "$4"
done
check "--cpuid yes is refused" 2 "^softsgx exec: --cpuid wants auto, fault, rewrite or off" \
	"$BIN" exec --cpuid yes -- true
check "--cpuid without a value" 2 "--cpuid wants" "$BIN" exec --cpuid
check "SOFTSGX_CPUID=yes is refused" 2 "^softsgx: SOFTSGX_CPUID: want auto, fault, rewrite or off" \
	env SOFTSGX_CPUID=yes "$BIN" exec -- "$2" "$3" "$4"
for m in auto fault rewrite off 0; do
	check "SOFTSGX_CPUID=$m runs an enclave" 0 '' env SOFTSGX_CPUID=$m "$BIN" exec -- "$2" "$3" "$4"
done
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
# The option reads sizes as the shim reads SOFTSGX_EPC: no sign, no space.
check "--epc +16M is refused, as SOFTSGX_EPC=+16M would be" 2 "^softsgx exec: --epc +16M:" \
	"$BIN" exec --epc +16M -- true
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
# Statically linked: no dynamic loader, so LD_PRELOAD never loads the shim.
check "--help says a static PROGRAM is refused" 0 '' "$BIN" exec --help
grep -q "static-pie" "$T/out" && grep -q "exit status 127" "$T/out" && ok "... it does" || bad "... it does"
for s in "$5" "$6"; do
	if [ "$s" = none ]; then
		echo "ok $((n += 1)) - a static program is refused # SKIP the toolchain cannot link it"
		continue
	fi
	check "$(basename "$s") is refused" 127 \
		"^softsgx exec: $s: statically linked (no program interpreter)" "$BIN" exec -- "$s"
	[ ! -s "$T/out" ] && ok "... and never ran" || bad "... and never ran"
done
if [ "$5" != none ]; then
	check "a static program found along PATH is refused too" 127 \
		"^softsgx exec: exec_static: statically linked" \
		env PATH="$(dirname "$5"):/usr/bin:/bin" "$BIN" exec exec_static
fi
# A 32-bit ELF: its loader would skip the 64-bit shim and run it without SGX.
{ printf '\177ELF\001\001\001'; head -c 9 /dev/zero; printf '\002\000\003\000'
  head -c 44 /dev/zero; } >"$T/elf32"
chmod +x "$T/elf32"
check "a 32-bit program is refused" 127 "^softsgx exec: $T/elf32: not an x86-64 program" \
	"$BIN" exec -- "$T/elf32"
# Scripts and dynamic programs are not refused (the enclave runs above); nor is
# a program that does not exist, which execvp() reports.
printf '#!/bin/sh\nexit 0\n' >"$T/script"
chmod +x "$T/script"
"$BIN" exec -- "$T/script" >"$T/out" 2>"$T/log"; got=$?
# An ASan build's shim cannot be loaded into sh: only the absence of a refusal counts.
! grep -q "^softsgx exec:" "$T/log" && { [ "$got" -eq 0 ] || [ -n "${SOFTSGX_ASAN_BUILD:-}" ]; } &&
	ok "a script is not refused" || bad "a script is not refused"
check "a missing program: execvp's error" 127 "^softsgx exec: $T/none: No such file" \
	"$BIN" exec -- "$T/none"
echo "1..$n"
[ "$fails" -eq 0 ]
