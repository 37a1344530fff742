#!/bin/sh
# TAP tests of bench/report.sh without running a benchmark: it fails
# clearly when the build lacks a benchmark or one of them fails, and, with
# stand-ins that print fixed records, it writes the report and its plots
# (run_host.sh runs as it is, with a stand-in `softsgx exec`).
#
# Usage: sh bench/test_report.sh SRCDIR
set -u

src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
		sed 's/^/# /' "$tmp/err" 2>/dev/null | head -20
	fi
}

# A build dir of stand-ins; $1 names one that fails.
fake_build() {
	b=$1
	failing=${2:-}
	mkdir -p "$b/bench" "$b/tests/enclave"
	: >"$b/libsoftsgx-preload.so"
	for f in test_encl test_encl_big; do
		: >"$b/tests/enclave/$f.sgxs"
		: >"$b/tests/enclave/$f.sig"
	done
	# softsgx exec [--epc N] -- PROG ARGS: runs PROG.
	cat >"$b/softsgx" <<'EOF'
#!/bin/sh
while [ "$1" != -- ]; do shift; done
shift
exec "$@"
EOF
	cat >"$b/bench/bench_cpu" <<'EOF'
#!/bin/sh
printf '@ratio\tcpu.eadd_warm\t3e-06\t2.8e-06\t1.08\t1.07\t1.09\t21\t<=1.10\tmet\tEADD\n'
printf '@ratio\tcpu.ewb_eldu\t2e-06\t1.7e-06\t1.2\t1.19\t1.21\t21\t<=1.50\tmet\tEWB\n'
EOF
	cat >"$b/bench/bench_driver" <<'EOF'
#!/bin/sh
case "${2:-}" in
host)
	echo "sim: reclaim_ns 1700 reload_ns 1500";;
sweep)
	for a in "epc 64 256 1024 8192" "encl 1 10 100 1000"; do
		set -- $a
		ax=$1
		shift
		for x in "$@"; do
			for k in alloc reclaim reload; do
				printf '@value\tdriver.sweep.%s.%s.%s\t1.7e-06\ts\t1.6e-06\t1.8e-06\t%s\n' \
					"$ax" "$x" "$k" "$k"
			done
		done
		printf '@value\tdriver.sweep.%s.gcm\t9e-07\ts\t-\t-\tAES-GCM\n' "$ax"
	done;;
*)
	printf '@ratio\tdriver.tput.default\t8e-07\t1.6e-06\t0.5\t0.49\t0.52\t9\t>=0.50\tundecided\tt\n';;
esac
EOF
	cat >"$b/bench/bench_host" <<'EOF'
#!/bin/sh
case "$3" in
enter,*)
	printf '@ratio\thost.enter\t8.2e-07\t8.2e-06\t0.1\t0.098\t0.102\t9\t<=0.10\tundecided\tenter\n'
	printf '@ratio\thost.enter.abs\t8.2e-07\t3e-07\t2.73\t2.7\t2.75\t9\t<=1.00\tmissed\tabs\n'
	printf '@ratio\thost.eaug\t8.3e-06\t3.3e-06\t2.5\t2.4\t2.6\t9\t<=1.50\tmissed\teaug\n';;
eldu,*)
	printf '@ratio\thost.eldu\t1.1e-05\t5e-06\t2.2\t2.1\t2.3\t9\t<=1.50\tmissed\teldu\n'
	printf '@ratio\thost.eldu-thrash\t1.2e-05\t5e-06\t2.4\t2.3\t2.5\t9\t<=1.50\tmissed\tthrash\n';;
esac
EOF
	chmod +x "$b/softsgx" "$b/bench/bench_cpu" "$b/bench/bench_driver" "$b/bench/bench_host"
	if [ -n "$failing" ]; then
		printf '#!/bin/sh\necho "stand-in %s fails" >&2\nexit 3\n' "$failing" >"$b/$failing"
		chmod +x "$b/$failing"
	fi
}

echo "1..5"

mkdir "$tmp/empty"
sh "$src/bench/report.sh" "$tmp/empty" "$tmp/out0" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc != 0 ] && grep -q "missing:.*bench/bench_cpu" "$tmp/err" &&
	grep -q -- "-Dhost_tests=true" "$tmp/err" && [ ! -e "$tmp/out0" ]
ok $? "an empty build dir: fails, names the missing binaries and how to build them"

fake_build "$tmp/b1"
rm "$tmp/b1/bench/bench_host"
sh "$src/bench/report.sh" "$tmp/b1" "$tmp/out1" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc != 0 ] && grep -q "missing: $tmp/b1/bench/bench_host\$" "$tmp/err"
ok $? "one benchmark missing: fails and names only that one"

sh "$src/bench/report.sh" "$tmp/nowhere" "$tmp/out2" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc != 0 ] && grep -q "no build directory" "$tmp/err"
ok $? "a build dir that does not exist: fails and says so"

fake_build "$tmp/b3" bench/bench_driver
sh "$src/bench/report.sh" "$tmp/b3" "$tmp/out3" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc != 0 ] && grep -q "bench_driver failed" "$tmp/err" &&
	grep -q "stand-in bench/bench_driver fails" "$tmp/err" && [ ! -e "$tmp/out3/report.md" ]
ok $? "a benchmark that fails: fails, names it and shows its output"

fake_build "$tmp/b4"
QUICK=1 sh "$src/bench/report.sh" "$tmp/b4" "$tmp/out4" >/dev/null 2>"$tmp/err"
rc=$?
{
	[ $rc = 0 ] && grep -q "| ELDU reload, EPC full" "$tmp/out4/report.md" &&
		grep -q "| ecall round trip against a flat 300 ns | 0.82 |" "$tmp/out4/report.md" &&
		grep -q "^- mode: quick" "$tmp/out4/report.md" &&
		[ -s "$tmp/out4/ecall.svg" ] && [ -s "$tmp/out4/faults.svg" ] &&
		[ -s "$tmp/out4/epc.svg" ] && [ -s "$tmp/out4/enclaves.svg" ] &&
		[ -s "$tmp/out4/logs/run_host.log" ]
} 2>>"$tmp/err"
ok $? "stand-ins that print records: the report and its four plots"

[ $fails = 0 ]
