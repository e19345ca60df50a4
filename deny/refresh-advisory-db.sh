#!/usr/bin/env bash
# Replaces deny/advisory-db.tar.gz by the current RustSec advisory database, where
# github.com is reachable: run it, check `cargo deny check`, commit the two files.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q --depth 1 https://github.com/rustsec/advisory-db "$work/db"
git -C "$work/db" archive --format=tar.gz HEAD > advisory-db.tar.gz
git -C "$work/db" show -s --format='%H %cI' HEAD > advisory-db.version
cat advisory-db.version
