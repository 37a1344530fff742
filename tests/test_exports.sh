#!/bin/sh
# The dynamic symbols libsoftsgx.so defines must be exactly the ones its
# version script names, each with the sgx_ or softsgx_ prefix: an internal
# name exported by mistake can be taken over by a program that defines the
# same name.  And every function the installed headers declare must be
# exported, or a program using it fails to link.
# Usage: test_exports.sh LIBRARY VERSION-SCRIPT GCC INCLUDE-DIR
# (GCC lists the headers' prototypes with -aux-info; empty: that check skips)
set -u
lib=$1
map=$2
gcc=$3
incdir=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Names the script makes global, and its version nodes (lines "NAME {").
sed 's|/\*.*\*/||; /\/\*/,/\*\//d' "$map" |
	awk '/^[A-Za-z_0-9.]+ *\{/ { sub(/ *\{.*/, ""); print > "'"$tmp"'/nodes"; next }
	     /^global:/ { g = 1; next } /^local:/ { g = 0; next }
	     g && /;/ { gsub(/[ \t;]/, ""); if ($0 != "") print }' | sort >"$tmp/listed"
touch "$tmp/nodes"

# Defined dynamic symbols, without their @VERSION suffix; a version node
# appears as an absolute (A) symbol of its own name.
nm -D --defined-only "$lib" >"$tmp/nm" || { echo "1..0 # SKIP nm failed"; exit 1; }
awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u >"$tmp/exported"
awk '$2 == "A" { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" | sort -u >"$tmp/abs"

echo "1..6"
n=0
check() { # description, then a command that succeeds when the check holds
	n=$((n + 1))
	desc=$1
	shift
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		fail=1
	fi
}
fail=0

nonempty() { [ -s "$1" ]; }
check "the version script lists $(wc -l <"$tmp/listed") names" nonempty "$tmp/listed"

unprefixed() {
	grep -v -E '^(sgx_|softsgx_)' "$tmp/exported" >"$tmp/bad"
	[ ! -s "$tmp/bad" ] || { sed 's/^/#   /' "$tmp/bad"; return 1; }
}
check "every exported name starts with sgx_ or softsgx_" unprefixed

unexpected() {
	comm -23 "$tmp/exported" "$tmp/listed" >"$tmp/bad"
	[ ! -s "$tmp/bad" ] || { sed 's/^/#   not in the version script: /' "$tmp/bad"; return 1; }
}
check "no exported name that the version script does not list" unexpected

missing() {
	comm -13 "$tmp/exported" "$tmp/listed" >"$tmp/bad"
	[ ! -s "$tmp/bad" ] || { sed 's/^/#   listed but not defined: /' "$tmp/bad"; return 1; }
}
check "every name the version script lists is exported" missing

only_nodes() {
	sort -u "$tmp/nodes" >"$tmp/nodes.s"
	comm -23 "$tmp/abs" "$tmp/nodes.s" >"$tmp/bad"
	[ ! -s "$tmp/bad" ] || { sed 's/^/#   absolute symbol: /' "$tmp/bad"; return 1; }
}
check "no absolute symbol but the version nodes" only_nodes

# The prototypes of every installed header (uapi/ declares none).
declared() {
	for h in "$incdir"/softsgx/*.h; do echo "#include \"$h\""; done >"$tmp/all.c"
	"$gcc" -I"$incdir" -aux-info "$tmp/aux" -c "$tmp/all.c" -o "$tmp/all.o" 2>"$tmp/bad" ||
		{ sed 's/^/#   /' "$tmp/bad"; return 1; }
	# On each prototype line the name is the last word before the first "(".
	grep "$incdir/softsgx/" "$tmp/aux" | sed 's|^/\*[^*]*\*/ *||' |
		sed 's/ *(.*//; s/.*[ *]//' | sort -u >"$tmp/declared"
	comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/bad"
	[ ! -s "$tmp/bad" ] || { sed 's/^/#   declared but not exported: /' "$tmp/bad"; return 1; }
	[ -s "$tmp/declared" ]
}
if [ -n "$gcc" ]; then
	check "every function the installed headers declare is exported" declared
else
	n=$((n + 1))
	echo "ok $n # SKIP no gcc to list the headers' prototypes"
fi

exit $fail
