#!/bin/sh
# -Dtests=false must configure and build on a machine without cmocka: the
# library, the CLI, the benchmarks.  cmocka is hidden from meson (pkg-config
# answers "not found" for it, cmake is disabled) and the tree is built in a
# temporary directory (TAP).  Usage: test_without_cmocka.sh MESON SOURCE-DIR
set -u
MESON=$1
SRC=$2
. "$(dirname "$0")/tap.sh"

real_pc=$(command -v pkg-config)
cat >"$T/pkg-config" <<EOF
#!/bin/sh
for a in "\$@"; do case \$a in cmocka*) exit 1 ;; esac; done
exec "$real_pc" "\$@"
EOF
chmod +x "$T/pkg-config"
printf "[binaries]\npkgconfig = '%s'\ncmake = 'false'\n" "$T/pkg-config" >"$T/native.ini"

echo "1..4"
# The wrapper really hides it (otherwise this test proves nothing).
if "$T/pkg-config" --exists cmocka; then
	echo "cmocka still visible" >"$T/log"
	bad "cmocka is hidden"
else
	ok "cmocka is hidden"
fi
# Plain options: the tree's, not those of the build running this test.
if env -u CFLAGS -u LDFLAGS "$MESON" setup --native-file "$T/native.ini" -Dtests=false \
	"$T/b" "$SRC" >"$T/log" 2>&1; then
	ok "meson setup -Dtests=false without cmocka"
else
	bad "meson setup -Dtests=false without cmocka"
	exit 1
fi
# Not even looked up: a machine without it sees no "cmocka found: NO".
if grep -i 'dependency cmocka' "$T/b/meson-logs/meson-log.txt" >"$T/log"; then
	bad "meson does not look for cmocka"
else
	ok "meson does not look for cmocka"
fi
if ninja -C "$T/b" >"$T/log" 2>&1 && [ -x "$T/b/softsgx" ] && [ -x "$T/b/bench/bench_cpu" ] &&
	[ -x "$T/b/bench/bench_driver" ] && [ -e "$T/b/libsoftsgx.so" ]; then
	ok "the library, the CLI and the benchmarks build"
else
	bad "the library, the CLI and the benchmarks build"
fi
exit $((fails > 0))
