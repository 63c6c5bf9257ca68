#!/usr/bin/env bash
# What recovering a large journal and reporting a huge run cost (BENCHMARKS.md, "Recovery and
# report at scale"): scripts/bench-recovery.sh [LOCK_SECONDS] [REPORT_ROWS]
#  1. A run logging every step while another process holds the store's write lock for
#     LOCK_SECONDS (default 35), SIGKILLed at the end: its journal holds millions of uncommitted rows.
#     The next open (`runs list`) recovers them under /usr/bin/time while a second process takes
#     the write lock (BEGIN IMMEDIATE; COMMIT) every 10 ms and records its longest wait.
#  2. A store with REPORT_ROWS (default 27,000,000) metric rows in one run: `report` under /usr/bin/time.
# Needs python3 and sqlite3.
set -euo pipefail
cd "$(dirname "$0")/.."
hold=${1:-35}
report_rows=${2:-27000000}
swift build -c release --product softmax-lab >/dev/null
bin=$PWD/.build/release/softmax-lab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/recover.sqlite

"$bin" train --dataset blobs --samples 20000 --epochs 1000000 --log-every 1 --db "$db" >/dev/null 2>&1 &
pid=$!
until [ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM metrics' 2>/dev/null || echo 0)" -gt 100 ]; do sleep 0.05; done
python3 - "$db" "$hold" "$pid" <<'PY'
import os, signal, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
time.sleep(float(sys.argv[2]))
os.kill(int(sys.argv[3]), signal.SIGKILL)
time.sleep(0.2)
c.execute("COMMIT")
PY
wait "$pid" 2>/dev/null || true
journal=$db.run-1.metrics
committed=$(sqlite3 "$db" "SELECT COUNT(*) FROM metrics")
echo "journal: $(du -m "$journal" | cut -f1) MB; committed before recovery: $committed rows"

python3 - "$db" >"$work/waits" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
worst, n, end = 0.0, 0, time.time() + 120
while time.time() < end:
    t = time.time()
    c.execute("BEGIN IMMEDIATE"); c.execute("COMMIT")
    worst = max(worst, time.time() - t); n += 1
    time.sleep(0.01)
    try:
        open(sys.argv[1] + ".run-1.metrics").close()
    except FileNotFoundError:
        break
print(f"{n} {worst * 1000:.0f}")
PY
waiter=$!
/usr/bin/time -f "recovery: %e s wall, %M KB peak RSS" "$bin" runs list --db "$db" --limit 1 >/dev/null
wait "$waiter"
read -r locks worst <"$work/waits"
echo "rows after recovery: $(sqlite3 "$db" "SELECT COUNT(*) FROM metrics"); status: $(sqlite3 "$db" "SELECT status || ' — ' || error FROM runs")"
echo "another writer took the write lock $locks times during recovery; its longest wait: $worst ms"

db=$work/report.sqlite
"$bin" train --dataset iris --epochs 5 --db "$db" >/dev/null 2>&1
sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $report_rows)
               INSERT INTO metrics (run_id, key, step, epoch, value, recorded_at)
               SELECT 1, CASE WHEN i % 1000 = 0 THEN 'train_loss' ELSE 'step_loss' END, i, i / 1000, 1.0 / i, '2026-12-01T00:00:00.000Z' FROM n"
echo "report store: $(sqlite3 "$db" "SELECT COUNT(*) FROM metrics") metric rows, $(du -m "$db" | cut -f1) MB"
/usr/bin/time -f "report: %e s wall, %M KB peak RSS" "$bin" report --db "$db" --runs 1 --out "$work/r.html"
echo "report.html: $(wc -c <"$work/r.html") bytes"
