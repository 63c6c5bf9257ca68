#!/usr/bin/env bash
# The fused linear cross-entropy beside its peers in one store: SoftmaxLab in both classifier
# layouts, numpy's materialized path, PyTorch's reference and chunked F.linear_cross_entropy (when
# torch imports), and the GEMM it rests on beside numpy's. Prints the rows of BENCHMARKS.md.
#
#   scripts/bench-linear.sh [SHAPES=2048x1024x32000] [REPEAT=3] [DB=linear.sqlite] [PYTHON=python3]
set -euo pipefail
shapes=${1:-2048x1024x32000}
repeat=${2:-3}
db=${3:-linear.sqlite}
python=${PYTHON:-python3}
cd "$(dirname "$0")/.."
bin=.build/release/softmax-lab
[ -x "$bin" ] || swift build -c release
for layout in ${LAYOUTS:-dv vd}; do
    "$bin" bench --backend swift --op linear-xent --classifier-layout "$layout" --shapes "$shapes" --repeat "$repeat" --warmup 1 --db "$db"
done
"$python" scripts/bench-peers.py --op linear-xent --shapes "$shapes" --repeat "$repeat" --warmup 1 --db "$db" >/dev/null
"$bin" bench --backend swift --op linear --shapes 4096x1000 --features 1024 --repeat 10 --warmup 2 --db "$db"
"$python" scripts/bench-peers.py --op linear --shapes 4096x1000 --features 1024 --repeat 10 --warmup 2 --db "$db" >/dev/null
sqlite3 -header -column "$db" "SELECT op, shape, backend, ROUND(median_ms, 1) AS median_ms, ROUND(gflop_per_s, 1) AS gflop_per_s,
    ROUND(peak_extra_bytes / 1e6, 1) AS extra_mb, check_result FROM bench_results WHERE timing = 'wall' ORDER BY op, shape, median_ms"
