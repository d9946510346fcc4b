#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite: a gcc build (unit, device, e2e), a clang build
# (unit, device), and an ASan+UBSan build (unit, device, one e2e test).
# Ends with one line: "N passed, N failed".
# VIO_REQUIRE_ALL=1 (CI) counts skipped tests as failed.
set -u
cd "$(dirname "$0")/.."
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# run NAME CC BUILDDIR "MESON SETUP ARGS" [MESON TEST ARGS...]
run() {
	name=$1 cc=$2 dir=$3 setup_args=$4
	shift 4
	echo "=== $name ($dir) ==="
	if [ ! -d "$dir" ]; then
		# shellcheck disable=SC2086
		CC=$cc meson setup "$dir" $setup_args >"$dir.setup.log" 2>&1 || {
			cat "$dir.setup.log"; echo "BUILD-FAIL $name" >>"$results"; return; }
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		tail -50 "$dir.build.log"; echo "BUILD-FAIL $name" >>"$results"; return
	fi
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs "$@"
	python3 - "$dir/meson-logs/testlog.json" "$name" >>"$results" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
try:
    lines = open(path).read().splitlines()
except OSError:
    print("BUILD-FAIL " + name); sys.exit()
for line in lines:
    t = json.loads(line)
    print(t["result"], name + ":" + t["name"])
PY
}

run gcc gcc build-check-gcc "-Dbuildtype=debugoptimized"
run clang clang build-check-clang "-Dbuildtype=debugoptimized -De2e=false" --suite unit --suite dev
run asan gcc build-check-asan "-Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false" \
	--suite unit --suite dev --suite daemon --suite e2e-asan

python3 - "$results" "${VIO_REQUIRE_ALL:-0}" <<'PY'
import sys
path, require_all = sys.argv[1], sys.argv[2] == "1"
passed = failed = skipped = 0
bad = []
for line in open(path):
    result, name = line.split(None, 1)
    name = name.strip()
    if result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif result == "SKIP" and not require_all:
        skipped += 1
    else:
        failed += 1
        bad.append(f"{result} {name}")
for b in bad:
    print("not passed:", b)
if skipped:
    print(f"{skipped} skipped (a tool is missing; CI installs everything)")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
