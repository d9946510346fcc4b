#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite, in phases:
#   gcc       every suite (unit, dev, loopback, interop, daemon, hostile, faultfs, e2e, bench)
#   clang     unit, dev
#   asan      ASan+UBSan: unit, dev, daemon, interop, hostile, two e2e tests
#   tsan      ThreadSanitizer: what runs threads (loopback, dev, the threaded unit test,
#             daemon, interop, hostile)
#   cppcheck  src/, daemons/, tools/ (inline suppressions, each with its reason)
#   clang-tidy  the same files, checks in .clang-tidy
#   fanalyzer gcc -fanalyzer over the library (src/)
#   fuzz      each libFuzzer harness for 30 s, and its regression inputs (scripts/fuzz.sh)
# A sanitizer report anywhere (the test programs, the daemons they start) fails the phase's
# "sanitizer-reports" result. Prints each phase's time, then one line: "N passed, N failed".
# VIO_REQUIRE_ALL=1 (CI) counts skipped tests, and a missing analysis tool, as failed.
# VIO_CHECK_PHASES="gcc tsan ..." runs only those phases (default: all).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vio-check.XXXXXX")
results=$work/results
times=$work/times
: >"$results"
: >"$times"
trap 'rm -rf "$work"' EXIT
phases=${VIO_CHECK_PHASES:-gcc clang asan tsan cppcheck clang-tidy fanalyzer fuzz}
jobs=$(nproc 2>/dev/null || echo 2)

want() { # phase: is it to run?
	case " $phases " in *" $1 "*) return 0 ;; esac
	return 1
}

# phase NAME COMMAND...: runs it, records its time.
phase() {
	ph=$1
	shift
	want "$ph" || return 0
	t0=$(date +%s)
	"$@"
	echo "$ph $(($(date +%s) - t0))" >>"$times"
}

# result OK|FAIL|SKIP NAME
result() { echo "$1 $2" >>"$results"; }

# setup NAME CC BUILDDIR "MESON SETUP ARGS": configures BUILDDIR once; false on failure.
setup() {
	if [ ! -f "$3/build.ninja" ]; then
		# shellcheck disable=SC2086
		CC=$2 meson setup "$3" $4 >"$3.setup.log" 2>&1 || {
			cat "$3.setup.log"; result BUILD-FAIL "$1"; return 1; }
	fi
}

# run NAME CC BUILDDIR "MESON SETUP ARGS" [MESON TEST ARGS...]
run() {
	name=$1 cc=$2 dir=$3 setup_args=$4
	shift 4
	echo "=== $name ($dir) ==="
	setup "$name" "$cc" "$dir" "$setup_args" || return
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		tail -50 "$dir.build.log"; result BUILD-FAIL "$name"; return
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

# sanitizer_reports NAME DIR: one result; prints every report the run left in DIR.
sanitizer_reports() {
	if [ -n "$(ls -A "$2" 2>/dev/null)" ]; then
		for f in "$2"/*; do
			echo "--- $1: sanitizer report $f"
			head -120 "$f"
		done
		result FAIL "$1:sanitizer-reports"
	else
		result OK "$1:sanitizer-reports"
	fi
}

# tool NAME CANDIDATES...: the first installed candidate, or a SKIP result.
tool() {
	tname=$1
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && { echo "$t"; return 0; }
	done
	echo "=== $tname: none of $* installed (scripts/install-deps.sh) ===" >&2
	result SKIP "$tname"
	return 1
}

gcc_phase() { run gcc gcc build-check-gcc "-Dbuildtype=debugoptimized"; }

clang_phase() {
	run clang clang build-check-clang "-Dbuildtype=debugoptimized -De2e=false" \
		--suite unit --suite dev
}

asan_phase() {
	mkdir -p "$work/asan"
	(
		# UBSan stops at its first report, like ASan; reports go to files, daemons' too.
		export ASAN_OPTIONS="log_path=$work/asan/asan"
		export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$work/asan/ubsan"
		run asan gcc build-check-asan \
			"-Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false" \
			--suite unit --suite dev --suite daemon --suite interop --suite hostile \
			--suite e2e-asan
	)
	sanitizer_reports asan "$work/asan"
}

# gcc 12 warns (-Wtsan) that ThreadSanitizer does not model atomic_thread_fence. Our only
# fences are vio_mb() (src/ring/atomic.h), the store-load fence of the event-index /
# notification handshake; every hand-off of data uses acquire/release accesses, which
# TSan does model. So that one warning is turned off, not -Werror.
tsan_phase() {
	mkdir -p "$work/tsan"
	(
		# Deliberate races, each with its reason: tests/tsan.supp.
		export TSAN_OPTIONS="suppressions=$top/tests/tsan.supp log_path=$work/tsan/tsan"
		run tsan gcc build-check-tsan \
			"-Dbuildtype=debugoptimized -Db_sanitize=thread -Dc_args=-Wno-tsan -De2e=false" \
			--suite threads --suite loopback --suite dev --suite daemon --suite interop \
			--suite hostile
	)
	sanitizer_reports tsan "$work/tsan"
}

# compile_commands.json of the library and the programs (a clang build, tests off).
analysis_setup() {
	setup "$1" clang build-check-analysis "-Dtests=false -De2e=false"
}

# The translation units of src/, daemons/ and tools/ in compile_commands.json.
analysis_files() {
	python3 - build-check-analysis/compile_commands.json <<'PY'
import json, os, sys
seen = []
for e in json.load(open(sys.argv[1])):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    rel = os.path.relpath(f)
    if rel.split(os.sep)[0] in ("src", "daemons", "tools") and f not in seen:
        seen.append(f)
print("\n".join(seen))
PY
}

cppcheck_phase() {
	echo "=== cppcheck ==="
	cppcheck=$(tool cppcheck cppcheck) || return
	analysis_setup cppcheck || return
	mkdir -p "$work/cppcheck"
	if "$cppcheck" --project=build-check-analysis/compile_commands.json \
		--enable=warning,style,performance,portability --library=posix --std=c11 \
		--inline-suppr --error-exitcode=1 --quiet -j "$jobs" \
		--cppcheck-build-dir="$work/cppcheck" \
		--template='{file}:{line}: {severity}: {id}: {message}'; then
		result OK cppcheck
	else
		result FAIL cppcheck
	fi
}

clang_tidy_phase() {
	echo "=== clang-tidy (.clang-tidy) ==="
	tidy=$(tool clang-tidy clang-tidy-14 clang-tidy) || return
	analysis_setup clang-tidy || return
	# Every finding is an error; the output only names findings.
	if analysis_files | xargs -P "$jobs" -n 1 "$tidy" -p build-check-analysis --quiet \
		--warnings-as-errors='*' >"$work/tidy.log" 2>&1; then
		result OK clang-tidy
	else
		grep -E '(warning|error):' -A 3 "$work/tidy.log" | grep -v 'warnings* generated'
		result FAIL clang-tidy
	fi
}

fanalyzer_phase() {
	echo "=== gcc -fanalyzer (src/) ==="
	dir=build-check-fanalyzer
	setup fanalyzer gcc "$dir" "-Dtests=false -De2e=false -Dc_args=-fanalyzer" || return
	# -Werror: every analyzer warning fails the build.
	if ninja -C "$dir" src/libvio.a >"$dir.build.log" 2>&1; then
		result OK fanalyzer
	else
		grep -E 'warning|error' -A 30 "$dir.build.log" | head -200
		result FAIL fanalyzer
	fi
}

fuzz_phase() {
	echo "=== fuzz (scripts/fuzz.sh 30) ==="
	FUZZ_BUILD=$top/build-check-fuzz scripts/fuzz.sh 30 >"$work/fuzz.log" 2>&1
	rc=$?
	cat "$work/fuzz.log"
	# One result per harness: its run and the replay of its regression inputs.
	python3 - "$work/fuzz.log" "$rc" >>"$results" <<'PY'
import re, sys
log, rc = open(sys.argv[1]).read(), sys.argv[2]
harnesses = re.findall(r"^(fuzz_\w+) +\S+ +\S+", log, re.M)
if not harnesses:
    print("FAIL fuzz:build"); sys.exit()
all_ok = True
for h in harnesses:
    bad = re.search(r"^fuzz: %s FAILED" % h, log, re.M)
    reg = re.search(r"^regressions %s: \d+ replayed, (\d+) failed" % h, log, re.M)
    ok = not bad and (reg is None or reg.group(1) == "0")
    all_ok = all_ok and ok
    print(("OK" if ok else "FAIL") + " fuzz:" + h)
if rc != "0" and all_ok:
    print("FAIL fuzz:script")  # failed for a reason of no harness
PY
}

phase gcc gcc_phase
phase clang clang_phase
phase asan asan_phase
phase tsan tsan_phase
phase cppcheck cppcheck_phase
phase clang-tidy clang_tidy_phase
phase fanalyzer fanalyzer_phase
phase fuzz fuzz_phase

echo "=== time per phase (s) ==="
total=0
while read -r p s; do
	printf '%-12s %6d\n' "$p" "$s"
	total=$((total + s))
done <"$times"
printf '%-12s %6d\n' total "$total"

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
