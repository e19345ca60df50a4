#!/usr/bin/env bash
# Runs, in one go on this machine, the three append yardsticks of the README's
# performance section:
#   1. the bare database under pgbench (bench/pglimit),
#   2. the stock cqrs-es + postgres-es store (bench/cqrs-es-baseline),
#   3. Carnet's append benchmark (cargo bench -p carnet-store --bench append).
# Usage: bash bench/append-vs-baselines.sh [seconds per pgbench run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
yardsticks=bench
seconds=${1:-10}
baseline_target=${BASELINE_TARGET:-/tmp/carnet-baseline-target}

echo "== bare Postgres (pgbench, $seconds s each)"
psql -q -h 127.0.0.1 -d test -f "$yardsticks/pglimit/schema.sql"
for clients in 1 8 32; do
  tps=$(pgbench -h 127.0.0.1 -n -T "$seconds" -c "$clients" -j 2 -f "$yardsticks/pglimit/one.sql" test 2>/dev/null | awk '/^tps/ {print $3}')
  printf 'pglimit  one event per transaction, %2d clients      %8.0f events/s\n' "$clients" "$tps"
done
tps=$(pgbench -h 127.0.0.1 -n -T "$seconds" -c 8 -j 2 -f "$yardsticks/pglimit/batch.sql" test 2>/dev/null | awk '/^tps/ {print $3}')
printf 'pglimit  30 events per transaction, 8 clients       %8.0f events/s\n' "$(awk -v t="$tps" 'BEGIN {print t * 30}')"
psql -q -h 127.0.0.1 -d test -c 'DROP TABLE ev'

echo "== cqrs-es + postgres-es baseline"
# Built in a target folder of its own (it is not a workspace member).
CARGO_TARGET_DIR=$baseline_target cargo build --quiet --release --locked \
  --manifest-path "$yardsticks/cqrs-es-baseline/Cargo.toml"
for args in "2000 10 1" "2000 10 8" "2000 10 32" "16 500 8"; do
  # shellcheck disable=SC2086
  "$baseline_target/release/cqrs-es-baseline" $args
done

echo "== Carnet"
cargo bench --quiet -p carnet-store --bench append
