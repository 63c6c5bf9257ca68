#!/usr/bin/env bash
# `runs merge` at scale: RUNS finished runs of ROWS metric rows each (default 100 × 100,000), merged
# into an empty store, then merged again (which must add nothing). The peer, in the same run, is
# SQLite itself copying the same metric rows with one INSERT … SELECT (what any SQL merge must at
# least do). Prints the seconds and the ratio; usage: scripts/bench-merge.sh [RUNS] [ROWS]
set -euo pipefail
runs=${1:-100}
rows=${2:-100000}
bin=${SOFTMAXLAB_BIN:-.build/release/softmax-lab}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A store made by softmax-lab (schema and migrations), then filled with synthetic runs in SQL.
"$bin" train --dataset iris --epochs 1 --db "$work/src.sqlite" >/dev/null 2>&1
sqlite3 "$work/src.sqlite" <<SQL
BEGIN;
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < $runs)
INSERT INTO runs (uuid, kind, name, status, started_at, ended_at, device_id, backend, config, seed, host, pid, tool_version, command_line)
SELECT lower(hex(randomblob(16))), 'train', 'synthetic ' || i, 'finished', '2026-12-01T00:00:00Z', '2026-12-01T00:01:00Z',
       (SELECT id FROM devices LIMIT 1), 'swift', '{"epochs":1}', i, 'bench-host', NULL, 'bench', 'softmax-lab train' FROM r;
INSERT INTO params (run_id, key, value) SELECT id, 'epochs', '1' FROM runs WHERE name LIKE 'synthetic %';
WITH RECURSIVE s(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM s WHERE j < $rows - 1)
INSERT INTO metrics (run_id, key, step, epoch, value, recorded_at)
SELECT id, 'step_loss', j, j / 1000, 1.0 / (j + 1), '2026-12-01T00:00:30Z' FROM runs, s WHERE name LIKE 'synthetic %';
COMMIT;
SQL
total=$(sqlite3 "$work/src.sqlite" "SELECT COUNT(*) FROM metrics")
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
merge=$(seconds "$bin" runs merge "$work/src.sqlite" --into "$work/team.sqlite")
again=$(seconds "$bin" runs merge "$work/src.sqlite" --into "$work/team.sqlite")
"$bin" train --dataset iris --epochs 1 --db "$work/peer.sqlite" >/dev/null 2>&1
peer=$(seconds sqlite3 "$work/peer.sqlite" "ATTACH '$work/src.sqlite' AS src; INSERT INTO metrics (run_id, key, step, epoch, value, recorded_at) SELECT 1, key, step, epoch, value, recorded_at FROM src.metrics ORDER BY id;")
copied=$(sqlite3 "$work/team.sqlite" "SELECT COUNT(*) FROM metrics")
echo "metric rows: $total in the source, $copied in the target after merging twice"
echo "runs merge (first):  $merge s"
echo "runs merge (again):  $again s"
echo "peer, sqlite3 INSERT … SELECT of the same rows: $peer s"
echo "merge / peer: $(echo "scale=2; $merge / $peer" | bc)"
[ "$copied" = "$total" ] || { echo "error: the target holds $copied metric rows, the source $total" >&2; exit 1; }
