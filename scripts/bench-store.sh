#!/usr/bin/env bash
# Recording overhead (BENCHMARKS.md): `train --dataset digits` with the store off and with every
# step logged (100 epochs, 4500 steps, unless EPOCHS says otherwise), alternated in one run; prints
# the minimum and median training time of each and their ratio (the minimum is the least noisy
# estimate on a shared machine).
#   scripts/bench-store.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-21}
swift build -c release --product softmax-lab >&2
bin=.build/release/softmax-lab
db=$(mktemp -d)/bench-store.sqlite
seconds() { "$bin" train --dataset digits --epochs "${EPOCHS:-100}" --json "$@" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])'; }
off=(); on=()
for _ in $(seq "$rounds"); do
  off+=("$(seconds --no-record)")
  on+=("$(seconds --db "$db" --log-every 1)")
done
python3 - "${off[*]}" "${on[*]}" "$db" <<'PY'
import sqlite3, statistics, sys
off = [float(v) for v in sys.argv[1].split()]
on = [float(v) for v in sys.argv[2].split()]
rows = sqlite3.connect(sys.argv[3]).execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
print("| statistic | store off | every step recorded | overhead |")
print("|---|---|---|---|")
for name, f in [("min", min), ("median", statistics.median)]:
    a, b = f(off), f(on)
    print(f"| {name} of {len(off)} | {a*1e3:.1f} ms | {b*1e3:.1f} ms | {100*(b/a-1):+.1f}% |")
print(f"\n{rows} metric rows written.")
PY
