#!/bin/sh
# The softsgx CLI end to end: exit codes, outputs and refusals (TAP).
# $1: the softsgx binary. Runs in tests/ (fixtures under data/).
set -u
BIN=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # description, expected exit code, command...
	d=$1; want=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; got=$?
	if [ "$got" -eq "$want" ]; then ok "$d"; else bad "$d (exit $got, wanted $want)"; sed 's/^/# /' "$T/err"; fi
}

echo "1..24"
check "--help exits 0" 0 "$BIN" --help
grep -q "Commands:" "$T/out" && ok "--help lists commands" || bad "--help lists commands"
check "unknown command is a usage error" 2 "$BIN" frobnicate
check "sign --help" 0 "$BIN" sign --help
check "measure of the ELF fixture" 0 "$BIN" measure data/encl_fixture.elf
mr=$(cat "$T/out")
[ ${#mr} -eq 64 ] && ok "MRENCLAVE is 64 hex digits" || bad "MRENCLAVE is 64 hex digits ($mr)"
check "measure writes SGXS" 0 "$BIN" measure --sgxs-out "$T/f.sgxs" data/encl_fixture.elf
check "measure of the SGXS copy" 0 "$BIN" measure "$T/f.sgxs"
[ "$(cat "$T/out")" = "$mr" ] && ok "ELF and SGXS measure the same" || bad "ELF and SGXS measure the same"
check "sign" 0 "$BIN" sign --key data/test_key.pem --out "$T/ss" --isvprodid 9 data/encl_fixture.elf
[ "$(wc -c <"$T/ss")" -eq 1808 ] && ok "SIGSTRUCT is 1808 bytes" || bad "SIGSTRUCT is 1808 bytes"
check "measure --sigstruct matches" 0 "$BIN" measure --sigstruct "$T/ss" data/encl_fixture.elf
check "sign refuses a non-e=3 key" 1 sh -c "openssl genrsa -out '$T/e65537.pem' 3072 2>/dev/null; '$BIN' sign --key '$T/e65537.pem' --out '$T/x' data/encl_fixture.elf"
check "measure refuses a non-image" 1 "$BIN" measure data/test_key.pem
check "sign refuses vendor 5" 2 "$BIN" sign --key data/test_key.pem --out "$T/x" --vendor 5 data/encl_fixture.elf
check "cpuid with 8 sections" 0 "$BIN" cpuid --epc-mb 256 --sections 8
check "cpuid --eupdatesvn" 0 "$BIN" cpuid --eupdatesvn
grep -q "eax=00000c03 .*EUPDATESVN=1 EDECCSSA=1" "$T/out" && ok "cpuid reports EUPDATESVN in 12.0 EAX[10]" || bad "cpuid reports EUPDATESVN in 12.0 EAX[10]"
check "demo runs both parts" 0 "$BIN" demo --key data/test_key.pem --drv-pages 128
grep -q "EINIT ok: model and offline MRENCLAVE agree" "$T/out" && ok "demo: part 1 EINIT" || bad "demo: part 1 EINIT"
grep -q "all 512 pages intact after" "$T/out" && ok "demo: 4x-EPC enclave read back" || bad "demo: 4x-EPC enclave read back"
grep -q "enclave B killed" "$T/out" && grep -q "OOM kills" "$T/out" && ok "demo: OOM kill shown" || bad "demo: OOM kill shown"
grep -q "every EPC page is free again, none leaked" "$T/out" && ok "demo: accounting closes" || bad "demo: accounting closes"
check "demo refuses a 64-frame driver EPC" 2 "$BIN" demo --key data/test_key.pem --drv-pages 64
[ "$fails" -eq 0 ]
