#!/bin/sh
# Install the Debian 12 packages softsgx needs to build and test, if missing.
# Safe to run repeatedly; needs root (or sudo) only when something is missing.
# Usage: deps.sh [GROUP...]; the groups add packages for optional jobs:
#   selftests  Linux's SGX selftest from the kernel source (scripts/selftests.sh)
set -eu

PKGS="gcc g++ libc6-dev linux-libc-dev clang meson ninja-build pkg-config libssl-dev libcmocka-dev \
liburcu-dev libcapstone-dev python3 openssl libclang-rt-14-dev"
for group in "$@"; do
	case "$group" in
	selftests) PKGS="$PKGS make xz-utils linux-source-6.12" ;;
	*) echo "deps: unknown group '$group'" >&2; exit 2 ;;
	esac
done

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
