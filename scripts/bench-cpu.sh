#!/usr/bin/env bash
# One run of the CPU comparison in BENCHMARKS.md: softmax-lab's Swift backend, its copy baseline and
# numpy (and PyTorch when importable) on the same shapes, back to back, printed as Markdown tables.
#   scripts/bench-cpu.sh [extra softmax-lab bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
shapes=${SHAPES:-4096x1000,1024x32000,256x128000,65536x10}
linear=${LINEAR_SHAPES:-4096x1000}
out=$(mktemp -d)
swift build -c release --product softmax-lab >&2
.build/release/softmax-lab bench --backend swift --op xent --shapes "$shapes" --json "$@" > "$out/swift-xent.json"
.build/release/softmax-lab bench --backend swift --op linear --shapes "$linear" --json "$@" > "$out/swift-linear.json"
# OpenBLAS core-type overrides slow numpy down on this machine; unset them for the peer alone.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/bench-peers.py --op xent --shapes "$shapes" > "$out/peers-xent.json"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/bench-peers.py --op linear --shapes "$linear" > "$out/peers-linear.json"
python3 - "$out" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
rows = sum((json.loads((d / f).read_text()) for f in ["swift-xent.json", "swift-linear.json", "peers-xent.json", "peers-linear.json"]), [])
def get(op, shape, backend, key):
    for r in rows:
        if r["op"] == op and r["shape"] == shape and r["backend"] == backend:
            return r.get(key)
    return None
shapes = [r["shape"] for r in rows if r["op"] == "xent" and r["backend"] == "swift"]
print("| N×C | swift GB/s | copy GB/s (same run) | % of copy | numpy GB/s | × numpy | torch GB/s | × torch | check |")
print("|---|---|---|---|---|---|---|---|---|")
for s in shapes:
    g, c, npy, t = (get("xent", s, "swift", "gbPerSecond"), get("copy", s, "swift", "gbPerSecond"),
                    get("xent", s, "numpy", "gbPerSecond"), get("xent", s, "torch", "gbPerSecond"))
    fmt = lambda v: f"{v:.1f}" if v else "–"
    print(f"| {s} | {fmt(g)} | {fmt(c)} | {100*g/c:.0f}% | {fmt(npy)} | {g/npy:.1f}× | {fmt(t)} | {(g/t) if t else 0:.1f}× | {get('xent', s, 'swift', 'check')} |")
print()
print("| product | swift GFLOP/s | numpy (OpenBLAS) GFLOP/s | % of numpy | check |")
print("|---|---|---|---|---|")
for r in rows:
    if r["backend"] == "swift" and r["op"].startswith("linear"):
        npy = get(r["op"], r["shape"], "numpy", "gflopPerSecond")
        print(f"| {r['op']} {r['shape']} | {r['gflopPerSecond']:.1f} | {npy:.1f} | {100*r['gflopPerSecond']/npy:.0f}% | {r['check']} |")
PY
