#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Builds the libFuzzer harnesses (fuzz/), runs each for SECONDS (default 30),
# then replays every regression input (fuzz/regressions/<harness>/). Exits
# non-zero if a harness finds a crash or a regression input fails. Prints,
# per harness: executions, exec/s, libFuzzer's final cov: and ft:, corpus
# size, and the edges covered in the files under test (-print_coverage).
#
#   scripts/fuzz.sh [options] [SECONDS]
#     -j N          run N harnesses at a time (default: number of CPUs, at most 4)
#     --only NAME   run one harness (fuzz_split_dev, fuzz_packed_dev, fuzz_blk_req, fuzz_vhost_user)
#     --update      merge what the run found back into fuzz/corpus/<harness> (minimised)
#     --coverage    also build with -fprofile-instr-generate and print llvm-cov's
#                   report of the files under test over the final corpus
#     --keep DIR    keep the work directory (corpora, logs, crash artifacts) in DIR
#
# Environment: FUZZ_BUILD (build dir, default build-fuzz), CC (default clang),
# FUZZ_ARGS (extra libFuzzer flags). The long run of fuzz/README.md is
#   scripts/fuzz.sh -j 2 1800
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$top/build-fuzz}
seconds=30
jobs=$(nproc 2>/dev/null || echo 1)
[ "$jobs" -gt 4 ] && jobs=4
only=
update=0
coverage=0
keep=

while [ $# -gt 0 ]; do
	case $1 in
	-j) jobs=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--update) update=1; shift ;;
	--coverage) coverage=1; shift ;;
	--keep) keep=$2; shift 2 ;;
	-h|--help) sed -n '3,20p' "$0"; exit 0 ;;
	*) seconds=$1; shift ;;
	esac
done

harnesses="fuzz_split_dev fuzz_packed_dev fuzz_blk_req fuzz_vhost_user"
[ -n "$only" ] && harnesses=$only

# The files each harness is about (for the per-file edge coverage).
targets() {
	case $1 in
	fuzz_split_dev) echo src/ring/split_dev.c src/ring/chain.c src/ring/devq.c src/mem/mem.c ;;
	fuzz_packed_dev) echo src/ring/packed_dev.c src/ring/chain.c src/ring/devq.c src/mem/mem.c ;;
	fuzz_blk_req) echo src/dev/blk_req.c ;;
	fuzz_vhost_user) echo src/transport/vhost_user_be.c src/transport/vhost_user_be_mem.c \
		src/transport/vhost_user_msg.c ;;
	esac
}

configure() { # dir, extra meson args...
	dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		# meson runs test programs; keep their profiles out of the tree.
		LLVM_PROFILE_FILE=/dev/null CC=${CC:-clang} meson setup "$dir" "$top" \
			-Dfuzzing=true -Dtests=false -De2e=false -Db_lundef=false "$@" >/dev/null
	fi
	targets_built=
	for h in $harnesses; do targets_built="$targets_built fuzz/$h"; done
	# shellcheck disable=SC2086
	LLVM_PROFILE_FILE=/dev/null ninja -C "$dir" $targets_built >/dev/null
}

echo "fuzz: building $build"
configure "$build" -Db_sanitize=address,undefined \
	"-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all"

work=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/vio-fuzz.XXXXXX")}
mkdir -p "$work"
[ -z "$keep" ] && trap 'rm -rf "$work"' EXIT

run_one() { # harness
	h=$1
	d=$work/$h
	mkdir -p "$d/corpus" "$d/artifacts"
	if [ -d "$top/fuzz/corpus/$h" ]; then
		cp "$top/fuzz/corpus/$h"/* "$d/corpus/" 2>/dev/null || true
	fi
	rc=0
	# shellcheck disable=SC2086
	"$build/fuzz/$h" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$d/artifacts/" ${FUZZ_ARGS:-} \
		"$d/corpus" >"$d/log" 2>&1 || rc=$?
	echo $rc >"$d/rc"
	# Edges covered in the files under test, from libFuzzer's own counters.
	"$build/fuzz/$h" -runs=0 -print_coverage=1 "$d/corpus" >"$d/cov" 2>&1 || true
}

# Run the harnesses, $jobs at a time.
echo "fuzz: running each harness for ${seconds}s, $jobs at a time (work: $work)"
running=0
for h in $harnesses; do
	run_one "$h" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

status=0
printf '\n%-16s %12s %8s %6s %7s %7s  %s\n' harness execs exec/s cov ft corpus 'edges in the files under test'
for h in $harnesses; do
	d=$work/$h
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/log")
	last=$(grep -E '^#[0-9]+' "$d/log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	files=$(ls "$d/corpus" | wc -l)
	edges=
	for t in $(targets "$h"); do
		e=$(grep "COVERED_FUNC" "$d/cov" | grep "/$t:" |
			sed -n 's/.*edges: \([0-9]*\)\/\([0-9]*\).*/\1 \2/p' |
			awk '{c += $1; n += $2} END {if (n) printf "%d/%d", c, n}')
		edges="$edges $(basename "$t") ${e:-0/0}"
	done
	printf '%-16s %12s %8s %6s %7s %7s %s\n' "$h" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
		"${ft:-?}" "$files" "$edges"
	if [ "$(cat "$d/rc")" != 0 ]; then
		echo "fuzz: $h FAILED (exit $(cat "$d/rc")); artifacts:" >&2
		ls "$d/artifacts" >&2 || true
		grep -E 'ERROR|check failed|runtime error|SUMMARY' "$d/log" | head -5 >&2 || true
		status=1
	fi
done
echo "(edges: covered/total over the functions reached, as libFuzzer counts them; the totals"
echo " include the sanitizers' error branches, never taken; --coverage gives line coverage)"

# Replay every regression input: each must now run clean.
echo
for h in $harnesses; do
	dir=$top/fuzz/regressions/$h
	[ -d "$dir" ] || continue
	n=0
	failed=0
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		case $f in *.md|*.txt) continue ;; esac
		n=$((n + 1))
		if ! "$build/fuzz/$h" -runs=1 "$f" >"$work/replay.log" 2>&1; then
			echo "fuzz: regression $f FAILED:" >&2
			grep -E 'ERROR|check failed|runtime error|SUMMARY' "$work/replay.log" | head -5 >&2 || true
			failed=$((failed + 1))
			status=1
		fi
	done
	echo "regressions $h: $n replayed, $failed failed"
done

if [ "$update" = 1 ]; then
	for h in $harnesses; do
		mkdir -p "$top/fuzz/corpus/$h"
		# Into the kept corpus (the seeds keep their names): only the inputs
		# that reach edges it does not, a greedy set cover on edges alone
		# (no hit counts), so the corpus stays small.
		"$build/fuzz/$h" -set_cover_merge=1 -use_counters=0 "$top/fuzz/corpus/$h" \
			"$work/$h/corpus" >/dev/null 2>&1
		echo "corpus $h: $(ls "$top/fuzz/corpus/$h" | wc -l) files, $(du -sk "$top/fuzz/corpus/$h" | cut -f1) KiB"
	done
fi

if [ "$coverage" = 1 ]; then
	cbuild=$build-cov
	echo
	echo "fuzz: source coverage ($cbuild)"
	configure "$cbuild" "-Dc_args=-fprofile-instr-generate -fcoverage-mapping" \
		"-Dc_link_args=-fprofile-instr-generate"
	for h in $harnesses; do
		LLVM_PROFILE_FILE="$work/$h.profraw" "$cbuild/fuzz/$h" -runs=0 "$work/$h/corpus" \
			>/dev/null 2>&1 || true
		llvm-profdata merge -o "$work/$h.profdata" "$work/$h.profraw"
		echo "== $h"
		# shellcheck disable=SC2046
		llvm-cov report "$cbuild/fuzz/$h" -instr-profile="$work/$h.profdata" \
			$(for t in $(targets "$h"); do echo "$top/$t"; done) | sed -n '3,$p'
	done
fi
exit $status
