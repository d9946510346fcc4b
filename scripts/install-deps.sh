#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Installs what vio needs on Debian 12, when it is missing.
# As root it runs apt-get; otherwise it prints the command to run.
set -eu

# build and unit tests
PKGS="gcc clang make meson ninja-build pkg-config python3 liburing-dev libcmocka-dev"
# e2e and interop: a Linux guest under QEMU, qemu-storage-daemon, e2fsprogs
PKGS="$PKGS qemu-system-x86 qemu-utils linux-image-amd64 busybox-static e2fsprogs"
# fault injection in the e2e tests: faultfs (a FUSE filesystem)
PKGS="$PKGS libfuse3-dev fuse3"
# sanitizer runtimes for clang, benchmark plots
PKGS="$PKGS libclang-rt-14-dev gnuplot-nox"
# static analysis in scripts/check.sh
PKGS="$PKGS cppcheck clang-tidy-14"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "vio needs these Debian packages:$missing" >&2
	echo "run: sudo apt-get install --no-install-recommends$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
