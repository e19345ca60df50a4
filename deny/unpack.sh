#!/usr/bin/env bash
# Unpacks the committed RustSec snapshot where deny.toml's db-path expects a clone of it
# (cargo deny reads the date of its HEAD commit: the snapshot's own date is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
db=target/advisory-db/advisory-db-3157b0e258782691
read -r _ date < deny/advisory-db.version
rm -rf "$db"
mkdir -p "$db"
tar -xzf deny/advisory-db.tar.gz -C "$db"
git -C "$db" init -q
git -C "$db" add -A
GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
  git -C "$db" -c user.name=carnet -c user.email=carnet@localhost commit -qm "RustSec snapshot"
