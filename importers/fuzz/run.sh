#!/usr/bin/env bash
# Runs every fuzz target of Carnet's importers for a bounded time (see README.md).
#
#   importers/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); every target when none is named. Exits non-zero when a
# target crashed (panic, timeout, out of memory) or did not build; the crash inputs are
# under importers/fuzz/artifacts/<target>/. Needs cargo-fuzz (`cargo install cargo-fuzz`);
# it runs on a stable toolchain through RUSTC_BOOTSTRAP=1. FUZZ_SANITIZER picks the
# sanitizer (default none: the importers forbid unsafe code, and libFuzzer runs about
# twice as fast without AddressSanitizer).
set -uo pipefail

seconds=${1:-60}
shift || true
case $seconds in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac
fuzz=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(source siecle sts fet untis asc oneroster oneroster_zip aaf udt)
fi
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1

cd "$fuzz/.."
if ! cargo fuzz build --sanitizer "$sanitizer" 2>"$fuzz/build.log"; then
    cat "$fuzz/build.log" >&2
    exit 2
fi

mkdir -p "$fuzz/logs"
crashed=()
for target in "${targets[@]}"; do
    mkdir -p "$fuzz/corpus/$target"
    log="$fuzz/logs/$target.log"
    echo "== $target: ${seconds}s (log: $log)"
    # The working corpus (corpus/, not committed) first: libFuzzer adds to it; the
    # committed seeds second, read only.
    cargo fuzz run --sanitizer "$sanitizer" "$target" \
        "$fuzz/corpus/$target" "$fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    status=$?
    grep -aE '^Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec' "$log" || true
    if [ $status -ne 0 ]; then
        crashed+=("$target")
        grep -aE '^(==[0-9]+== ?ERROR|thread .* panicked|artifact_prefix|Test unit written)' "$log" | head -5
        echo "== $target CRASHED (exit $status): see $log"
    fi
done

if [ ${#crashed[@]} -ne 0 ]; then
    echo "crashed: ${crashed[*]}" >&2
    exit 1
fi
echo "no crash in ${targets[*]} (${seconds}s each)"
