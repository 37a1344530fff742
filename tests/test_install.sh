#!/bin/sh
# The installed library as a new user meets it (TAP): `meson install` into a
# temporary directory, then what the README promises there: where the files
# land, the CLI starts with an empty environment, and the shipped example
# and a C++ program build against the installed headers with nothing but
# `pkg-config --cflags --libs softsgx`, and run.
# Environment (set by tests/meson.build): MESON, SRC, BUILD, PREFIX, LIBDIR,
# BINDIR, INCLUDEDIR, DATADIR, CC, CXX (empty: no C++ compiler), SANITIZE.
set -u
. "$(dirname "$0")/tap.sh"
# under DIR: an installation directory inside the staged prefix
under() { case $1 in /*) echo "$T/dest$1" ;; *) echo "$T/dest$PREFIX/$1" ;; esac; }

root=$T/dest$PREFIX
lib=$(under "$LIBDIR")
bin=$(under "$BINDIR")
inc=$(under "$INCLUDEDIR")
doc=$(under "$DATADIR")/doc/softsgx
pc=$lib/pkgconfig/softsgx.pc
san=""
[ "$SANITIZE" = none ] || san="-fsanitize=$SANITIZE"

echo "1..10"
if "$MESON" install -C "$BUILD" --no-rebuild --destdir "$T/dest" >"$T/log" 2>&1; then
	ok "meson install --destdir"
else
	bad "meson install --destdir"
	exit 1
fi

# The README says: the .pc file in LIBDIR/pkgconfig, headers in
# INCLUDEDIR/softsgx, the CLI in BINDIR, the docs in DATADIR/doc/softsgx.
: >"$T/log"
for f in "$pc" "$lib/libsoftsgx.so" "$inc/softsgx/cpu.h" "$inc/softsgx/uapi/sgx.h" \
	"$bin/softsgx" "$doc/README.md" "$doc/library.md" "$doc/architecture.md" \
	"$doc/design.md" "$doc/quirks.md" "$doc/races.md" \
	"$doc/examples/enclave_init.c"; do
	[ -e "$f" ] || echo "missing: ${f#"$T/dest"}" >>"$T/log"
done
[ -s "$T/log" ] && bad "files land where the README says" || ok "files land where the README says"

# The CLI needs no LD_LIBRARY_PATH, no rpath into the build tree.
if env -i "$bin/softsgx" --help >"$T/log" 2>&1; then
	ok "the installed CLI starts with an empty environment"
else
	bad "the installed CLI starts with an empty environment"
fi

# sign.h exposes EVP_PKEY: a user of the library links libcrypto too.
grep '^Requires:' "$pc" >"$T/log" 2>&1
grep -q 'libcrypto' "$T/log" && ok "libcrypto is a public Requires" ||
	bad "libcrypto is a public Requires"

export PKG_CONFIG_PATH="$lib/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs softsgx 2>"$T/log")
[ -n "$flags" ] && ok "pkg-config --cflags --libs softsgx: $flags" ||
	bad "pkg-config --cflags --libs softsgx"

run_ld="-Wl,-rpath,$lib"
# shellcheck disable=SC2086
if $CC -std=c11 -Wall -Wextra -Werror $san "$doc/examples/enclave_init.c" $flags $run_ld \
	-o "$T/enclave_init" >"$T/log" 2>&1; then
	ok "the example builds with the pkg-config flags alone"
else
	bad "the example builds with the pkg-config flags alone"
fi
if "$T/enclave_init" >"$T/log" 2>&1 &&
	grep -q 'EINIT after sgx_cpu_trust_signer(): success' "$T/log"; then
	ok "the example signs, builds and initialises an enclave"
else
	bad "the example signs, builds and initialises an enclave"
fi

# The runtime dependency is the installed library, not the build tree's.
if ldd "$T/enclave_init" 2>"$T/log" | grep 'libsoftsgx' | grep -q "$lib/"; then
	ok "the example runs on the installed libsoftsgx.so"
else
	ldd "$T/enclave_init" >>"$T/log" 2>&1
	bad "the example runs on the installed libsoftsgx.so"
fi

if [ -z "$CXX" ]; then
	for _ in 1 2; do n=$((n + 1)); echo "ok $n # SKIP no C++ compiler"; done
else
	# shellcheck disable=SC2086
	if $CXX -std=c++11 -Wall -Wextra -Werror -pedantic $san "$SRC/tests/test_cxx.cpp" \
		$flags $run_ld -o "$T/cxx" >"$T/log" 2>&1; then
		ok "a C++ program builds against the installed headers"
	else
		bad "a C++ program builds against the installed headers"
	fi
	if "$T/cxx" >"$T/log" 2>&1; then
		ok "the C++ program runs ($(grep -c '^ok' "$T/log") checks)"
	else
		bad "the C++ program runs"
	fi
fi
exit $((fails > 0))
