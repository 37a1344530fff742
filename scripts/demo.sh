#!/bin/sh
# Set up, build and run the softsgx demo: the CPU model and the driver
# (softsgx demo), then a real enclave running natively under softsgx exec.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
./build/softsgx demo "$@"
echo
echo "== A real enclave, run natively by an unmodified program under softsgx exec"
echo "   (a 16 MiB heap in a 1 MiB EPC: every page is evicted and reloaded,"
echo "   four threads enter concurrently, the driver's counters follow)"
cd tests
exec ../build/softsgx exec --epc 1M --stats -- ../build/tests/host/test_exec_epc \
	../build/tests/enclave/test_encl_big.sgxs ../build/tests/enclave/test_encl_big.sig 4 2
