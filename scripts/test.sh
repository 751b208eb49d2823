#!/usr/bin/env bash
# Runs every test of the project: unit, black-box (the real binary on random ports) and
# property tests, and the store contract on both stores (SQLite, and Convex on the local Convex
# server in tests/convex-server/, which needs Node 20+ and the npm packages of package.json).
# This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust (rustup) first" >&2
  exit 1
fi

# The Convex tests fail (never skip) without Node; say so up front rather than mid-run.
if ! command -v node >/dev/null 2>&1; then
  echo "error: node is not installed; the Convex store tests need Node 20+ (https://nodejs.org)" >&2
  exit 1
fi

# The local Convex server's packages (convex, convex-test, tsx), exactly as locked.
if [ ! -d node_modules/convex-test ] || [ ! -d node_modules/tsx ]; then
  echo "installing the npm packages of the local Convex server (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

cargo test --locked "$@"

# The dialogue suite once more through the binary itself, so its one line per dialogue and its
# `N passed, N failed, N skipped` summary show in the log (cargo test runs it too, silently).
cargo run --locked --quiet -- test
