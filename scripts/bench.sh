#!/usr/bin/env bash
# Runs ARI's benches: builds the release binary and the bench programs once (`cargo bench`
# profile), then runs each against the real service on loopback, printing the machine and the
# figures. Method and the figures measured so far: docs/BENCHMARKS.md.
#
#   scripts/bench.sh                 every bench (ingest, turns, memory, round_trips)
#   scripts/bench.sh ingest turns    only these
#   scripts/bench.sh --quick         small sizes (a smoke run of a minute or two)
#
# Sizes can also be set one by one (see each benches/*.rs header), e.g.
#   ARI_BENCH_HISTORY=1000,100000 scripts/bench.sh turns
# Output is also written to target/bench-results/<bench>-<UTC time>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust (rustup) first" >&2
  exit 1
fi

benches=()
for arg in "$@"; do
  case "$arg" in
    --quick)
      export ARI_BENCH_REQUESTS="${ARI_BENCH_REQUESTS:-500}"
      export ARI_BENCH_HISTORY="${ARI_BENCH_HISTORY:-1000,10000}"
      export ARI_BENCH_TURNS="${ARI_BENCH_TURNS:-200}"
      export ARI_BENCH_CONVERSATIONS="${ARI_BENCH_CONVERSATIONS:-1000}"
      export ARI_BENCH_LEADS="${ARI_BENCH_LEADS:-50}"
      ;;
    ingest|turns|memory|round_trips) benches+=("$arg") ;;
    *) echo "usage: scripts/bench.sh [--quick] [ingest|turns|memory|round_trips]..." >&2; exit 2 ;;
  esac
done
if [ ${#benches[@]} -eq 0 ]; then
  benches=(ingest turns memory round_trips)
fi

# One release build for everything (the benches spawn target/release/ari).
cargo bench --locked --no-run

mkdir -p target/bench-results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
for b in "${benches[@]}"; do
  cargo bench --locked --bench "$b" 2>&1 | tee "target/bench-results/$b-$stamp.txt"
done
