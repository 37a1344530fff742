#!/bin/sh
# The softsgx CLI end to end: exit codes, outputs and refusals (TAP).
# $1: the softsgx binary. Runs in tests/ (fixtures under data/).
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
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
# As check, and stderr must be exactly one line matching the grep pattern.
check1() { # description, expected exit code, pattern, command...
	d=$1; want=$2; pat=$3; shift 3
	"$@" >"$T/out" 2>"$T/err"; got=$?
	if [ "$got" -eq "$want" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
		ok "$d"
	else
		bad "$d (exit $got, wanted $want and one line matching '$pat')"
		sed 's/^/# /' "$T/err"
	fi
}
# A sorted listing of directory $1, dot files included.
listing() { ls -A "$1" | tr '\n' ' '; }
check "--help exits 0" 0 "$BIN" --help
grep -q "Commands:" "$T/out" && ok "--help lists commands" || bad "--help lists commands"
check "unknown command is a usage error" 2 "$BIN" frobnicate
check1 "no command: one line" 2 "a COMMAND is missing" "$BIN"
check1 "unknown top-level option" 2 "unknown option '--bogus'" "$BIN" --bogus
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
grep -q "\[v17\] misc.max" "$T/out" && grep -q "the enclave is not killed" "$T/out" &&
	ok "demo: the same limit under v17 kills nothing" || bad "demo: the same limit under v17 kills nothing"
check "demo --cgroup-policy v17" 0 "$BIN" demo --key data/test_key.pem --drv-pages 128 --cgroup-policy v17
grep -q "\[v5\]" "$T/out" && bad "demo --cgroup-policy v17: v17 only" || ok "demo --cgroup-policy v17: v17 only"
check1 "demo --cgroup-policy v6" 2 "--cgroup-policy v6: want v5, v17 or both" "$BIN" demo --cgroup-policy v6
check "demo refuses a 64-frame driver EPC" 2 "$BIN" demo --key data/test_key.pem --drv-pages 64

# Bad options, missing arguments and stray arguments: one line, exit 2.
check1 "sign: unknown option" 2 "unknown option '--bogus'" "$BIN" sign --bogus
check1 "sign: misspelled option" 2 "unknown option '--isvprodit'" "$BIN" sign --key data/test_key.pem --out "$T/x" --isvprodit 3 data/encl_fixture.elf
check1 "sign: option without its argument" 2 "option '--isvsvn' needs an argument" "$BIN" sign --key data/test_key.pem --out "$T/x" data/encl_fixture.elf --isvsvn
check1 "sign: short unknown option" 2 "unknown option '-x'" "$BIN" sign -x
check1 "measure: unknown option" 2 "unknown option '--bogus'" "$BIN" measure --bogus data/encl_fixture.elf
check1 "sign: --key missing" 2 "--key is required" "$BIN" sign --out "$T/x" data/encl_fixture.elf
check1 "measure: two images" 2 "unexpected argument" "$BIN" measure data/encl_fixture.elf data/encl_fixture.elf
mkdir "$T/kg" && (cd "$T/kg" && "$BIN" keygen --bogus >/dev/null 2>"$T/err"); got=$?
[ "$got" -eq 2 ] && [ -z "$(listing "$T/kg")" ] && ok "keygen --bogus is a usage error, no file" || bad "keygen --bogus is a usage error, no file (exit $got, files: $(listing "$T/kg"))"
check1 "keygen: two files" 2 "unexpected argument 'b'" "$BIN" keygen "$T/kg/a" b
check1 "demo: stray argument" 2 "unexpected argument 'extra'" "$BIN" demo extra
check1 "cpuid: stray argument" 2 "unexpected argument 'extra'" "$BIN" cpuid extra
check1 "cpuid: --no-sgx2 takes no argument" 2 "" "$BIN" cpuid --no-sgx2=1

# --version everywhere, the version meson.build declares (in $T: an old keygen made a key file).
v=$(sed -n "s/^  version : '\(.*\)',\$/\1/p" ../meson.build)
vers_ok=1
for c in "" demo sign measure keygen cpuid; do
	out=$(cd "$T" && "$BIN" $c --version 2>&1) && [ "$out" = "softsgx $v" ] || { vers_ok=0; echo "# '$c --version': $out"; }
done
[ -n "$v" ] && [ "$vers_ok" -eq 1 ] && ok "--version at the top and in every command" || bad "--version at the top and in every command"
check "sign -h" 0 "$BIN" sign -h
grep -q -- "--force" "$T/out" && ok "sign --help documents --force" || bad "sign --help documents --force"

# Values out of range: one line naming the option, the value and the range.
check1 "demo --epc-mb 0" 2 "--epc-mb 0: out of range, allowed 1..65536" "$BIN" demo --epc-mb 0
check1 "demo --pages 0" 2 "--pages 0: out of range, allowed 1..4096" "$BIN" demo --pages 0
check1 "demo --pages 4097" 2 "--pages 4097: out of range, allowed 1..4096" "$BIN" demo --pages 4097
check1 "demo --pages beyond the EPC" 2 "--pages 300: does not fit" "$BIN" demo --epc-mb 1 --pages 300
check1 "demo --drv-pages 64" 2 "--drv-pages 64: out of range, allowed 128..65536" "$BIN" demo --drv-pages 64
check1 "cpuid --sections 0" 2 "--sections 0: out of range, allowed 1..8" "$BIN" cpuid --sections 0
check1 "cpuid --sections 9" 2 "--sections 9: out of range, allowed 1..8" "$BIN" cpuid --sections 9
check1 "cpuid --epc-mb x" 2 "--epc-mb 'x': not a number" "$BIN" cpuid --epc-mb x
check1 "cpuid: sections that split pages" 2 "cannot be split" "$BIN" cpuid --epc-mb 1 --sections 3
check1 "sign --isvprodid 70000" 2 "--isvprodid 70000: out of range, allowed 0..65535" "$BIN" sign --key data/test_key.pem --out "$T/x" --isvprodid 70000 data/encl_fixture.elf
check1 "sign --vendor 5" 2 "--vendor 5: must be 0 or 0x8086" "$BIN" sign --key data/test_key.pem --out "$T/x" --vendor 5 data/encl_fixture.elf
check1 "sign --date 20241345" 2 "--date 20241345: not a calendar date" "$BIN" sign --key data/test_key.pem --out "$T/x" --date 20241345 data/encl_fixture.elf
check1 "sign --date 20230229" 2 "--date 20230229: not a calendar date" "$BIN" sign --key data/test_key.pem --out "$T/x" --date 20230229 data/encl_fixture.elf
check1 "sign --attributes 0 clears MODE64BIT" 2 "--attributes 0: MODE64BIT" "$BIN" sign --key data/test_key.pem --out "$T/x" --attributes 0 data/encl_fixture.elf
check1 "sign --attributes with INIT" 2 "sets INIT" "$BIN" sign --key data/test_key.pem --out "$T/x" --attributes 0x5 --attributes-mask 0xff data/encl_fixture.elf
check1 "sign --xfrm without x87/SSE" 2 "--xfrm 0: bits 0 and 1" "$BIN" sign --key data/test_key.pem --out "$T/x" --xfrm 0 --xfrm-mask 3 data/encl_fixture.elf
[ ! -e "$T/x" ] && ok "no SIGSTRUCT written on a usage error" || bad "no SIGSTRUCT written on a usage error"
check "sign --date 20240229 --attributes 0x6" 0 "$BIN" sign --key data/test_key.pem --out "$T/leap" --date 20240229 --attributes 0x6 data/encl_fixture.elf

# Output files: refused when they exist (--force replaces), never an input, never half written.
mkdir "$T/o" && cp data/test_key.pem "$T/o/key.pem" && cp data/encl_fixture.elf "$T/o/img.elf"
check "sign into a new file" 0 "$BIN" sign --key "$T/o/key.pem" --out "$T/o/ss" "$T/o/img.elf"
cp "$T/o/ss" "$T/o/ss.orig"
check1 "sign refuses an existing --out" 1 "file exists (--force replaces it)" "$BIN" sign --key "$T/o/key.pem" --out "$T/o/ss" --isvsvn 1 "$T/o/img.elf"
cmp -s "$T/o/ss" "$T/o/ss.orig" && ok "the existing SIGSTRUCT is unchanged" || bad "the existing SIGSTRUCT is unchanged"
check "sign --force replaces it" 0 "$BIN" sign --key "$T/o/key.pem" --out "$T/o/ss" --isvsvn 1 --force "$T/o/img.elf"
cmp -s "$T/o/ss" "$T/o/ss.orig" && bad "sign --force wrote a new SIGSTRUCT" || ok "sign --force wrote a new SIGSTRUCT"
check1 "sign --force refuses to overwrite the key" 1 "is the input" "$BIN" sign --key "$T/o/key.pem" --out "$T/o/key.pem" --force "$T/o/img.elf"
cmp -s "$T/o/key.pem" data/test_key.pem && ok "the key is intact" || bad "the key is intact"
ln "$T/o/key.pem" "$T/o/keylink"
check1 "sign --force refuses a hard link to the key" 1 "is the input" "$BIN" sign --key "$T/o/key.pem" --out "$T/o/keylink" --force "$T/o/img.elf"
check1 "sign --force refuses to overwrite the image" 1 "is the input" "$BIN" sign --key "$T/o/key.pem" --out "$T/o/img.elf" --force "$T/o/img.elf"
check1 "measure --sgxs-out --force refuses the image" 1 "is the input" "$BIN" measure --sgxs-out "$T/o/img.elf" --force "$T/o/img.elf"
cmp -s "$T/o/img.elf" data/encl_fixture.elf && ok "the image is intact" || bad "the image is intact"
check1 "measure refuses an existing --sgxs-out" 1 "file exists" "$BIN" measure --sgxs-out "$T/o/ss" "$T/o/img.elf"
check "measure --sgxs-out --force" 0 "$BIN" measure --sgxs-out "$T/o/ss" --force "$T/o/img.elf"
cp "$T/o/ss.orig" "$T/o/ss"
check1 "a failed write reports the error" 1 "File too large" sh -c "trap '' XFSZ; ulimit -f 1; exec '$BIN' sign --key '$T/o/key.pem' --out '$T/o/ss' --force --isvsvn 2 '$T/o/img.elf'"
cmp -s "$T/o/ss" "$T/o/ss.orig" && ok "a failed write keeps the old file" || bad "a failed write keeps the old file"
[ "$(listing "$T/o")" = "img.elf key.pem keylink ss ss.orig " ] && ok "no temporary files left" || bad "no temporary files left ($(listing "$T/o"))"
check "keygen" 0 "$BIN" keygen "$T/o/new.pem"
[ "$(stat -c %a "$T/o/new.pem")" = 600 ] && ok "keygen: owner-only key" || bad "keygen: owner-only key"
cp "$T/o/new.pem" "$T/o/new.orig"
check1 "keygen refuses an existing file" 1 "file exists (--force replaces it)" "$BIN" keygen "$T/o/new.pem"
cmp -s "$T/o/new.pem" "$T/o/new.orig" && ok "keygen left it alone" || bad "keygen left it alone"
check "keygen --force" 0 "$BIN" keygen --force "$T/o/new.pem"
cmp -s "$T/o/new.pem" "$T/o/new.orig" && bad "keygen --force replaced it" || ok "keygen --force replaced it"

# Inputs that are not plain files, not images or not usable keys.
check1 "measure of a directory" 1 "image $T: is a directory" "$BIN" measure "$T"
mkfifo "$T/fifo"
check1 "measure of a FIFO nobody writes says it waits" 124 "image $T/fifo: a FIFO; waiting for a writer" timeout 3 "$BIN" measure "$T/fifo"
# The writers give up after 10 s, so that a reader that never opens cannot hang the wait below.
(sleep 1; timeout 10 sh -c "cat data/encl_fixture.elf >'$T/fifo'") &
check "measure of a FIFO written later" 0 timeout 10 "$BIN" measure "$T/fifo"
[ "$(cat "$T/out")" = "$mr" ] && ok "FIFO: same MRENCLAVE" || bad "FIFO: same MRENCLAVE"
timeout 10 sh -c ": >'$T/fifo'" &
check1 "measure of a FIFO closed without data" 1 "empty (nothing was written to the pipe)" timeout 10 "$BIN" measure "$T/fifo"
wait
check "measure - reads standard input" 0 sh -c "exec '$BIN' measure - <data/encl_fixture.elf"
[ "$(cat "$T/out")" = "$mr" ] && ok "stdin: same MRENCLAVE" || bad "stdin: same MRENCLAVE"
: >"$T/empty"
check1 "measure of an empty file" 1 "empty file" "$BIN" measure "$T/empty"
check1 "measure of a device" 1 "is a device" "$BIN" measure /dev/null
check1 "measure of neither ELF nor SGXS" 1 "neither an ELF file nor an SGXS stream" "$BIN" measure data/test_key.pem
check1 "--layout with SGXS" 1 "applies to ELF images only" "$BIN" measure --layout data/encl_fixture.layout "$T/f.sgxs"
openssl pkcs8 -topk8 -in data/test_key.pem -passout pass:secret -out "$T/enc.pem" 2>/dev/null
check1 "sign with an encrypted key" 1 "encrypted with a pass phrase" sh -c "exec '$BIN' sign --key '$T/enc.pem' --out '$T/y' data/encl_fixture.elf </dev/null"
check1 "sign with a key that is no PEM key" 1 "no PEM private key" "$BIN" sign --key data/encl_fixture.elf --out "$T/y" data/encl_fixture.elf
check1 "sign with a directory as key" 1 "is a directory" "$BIN" sign --key "$T" --out "$T/y" data/encl_fixture.elf
check1 "demo with an encrypted key" 1 "encrypted with a pass phrase" "$BIN" demo --key "$T/enc.pem"

# measure --sigstruct checks the SIGSTRUCT as EINIT does and says what failed.
bad_sigstruct() { # description, byte offset to flip, expected message
	b=$(od -An -tu1 -j"$2" -N1 "$T/ss" | tr -d ' ')
	cp "$T/ss" "$T/bad" && printf "\\$(printf %o $((b ^ 255)))" |
		dd of="$T/bad" bs=1 seek="$2" conv=notrunc 2>/dev/null
	check1 "$1" 1 "$3" "$BIN" measure --sigstruct "$T/bad" data/encl_fixture.elf
}
bad_sigstruct "SIGSTRUCT with a bad HEADER" 0 "format: HEADER not as EINIT requires"
bad_sigstruct "SIGSTRUCT with a bad VENDOR" 16 "format: VENDOR not"
bad_sigstruct "SIGSTRUCT with a bad EXPONENT" 512 "format: EXPONENT not"
bad_sigstruct "SIGSTRUCT with bad reserved bytes" 1030 "format: the reserved fields not"
bad_sigstruct "SIGSTRUCT with a bad signature" 600 "RSA signature over its header and body does not verify"
bad_sigstruct "SIGSTRUCT with a changed DATE" 20 "RSA signature"
bad_sigstruct "SIGSTRUCT with a bad Q1" 1100 "Q1 or Q2 is wrong"
bad_sigstruct "SIGSTRUCT with a bad Q2" 1500 "Q1 or Q2 is wrong"
check1 "SIGSTRUCT for another image" 1 "ENCLAVEHASH is not the image's MRENCLAVE" "$BIN" measure --sigstruct "$T/o/ss" --layout data/encl_fixture.layout data/encl_fixture.elf
check1 "SIGSTRUCT of the wrong size" 1 "not 1808" "$BIN" measure --sigstruct data/test_key.pem data/encl_fixture.elf

# The demo: quiet on stderr when it succeeds, and a driver EPC past the old 8192-PTE table.
check "demo" 0 "$BIN" demo --key data/test_key.pem --drv-pages 128
[ ! -s "$T/err" ] && ok "demo: nothing on stderr" || bad "demo: nothing on stderr ($(head -1 "$T/err"))"
check "demo --drv-pages 8500" 0 "$BIN" demo --key data/test_key.pem --drv-pages 8500
grep -q "all 34000 pages intact" "$T/out" && ok "demo: 34000 pages read back" || bad "demo: 34000 pages read back"

echo "1..$n"
[ "$fails" -eq 0 ]
