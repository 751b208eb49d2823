#!/usr/bin/env bash
# Runs every test of the project: unit, black-box (the real binary on random ports) and
# property tests. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust (rustup) first" >&2
  exit 1
fi

cargo test --locked "$@"
