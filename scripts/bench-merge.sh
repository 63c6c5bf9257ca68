#!/usr/bin/env bash
# `runs merge` at scale: RUNS finished runs of ROWS metric rows each (default 100 × 100,000), merged
# into a new file, then merged again (which must add nothing), then into a store that exists. The peer, in the same run, is
# SQLite itself copying the same metric rows with one INSERT … SELECT (what any SQL merge must at
# least do). With HUB set to a PostgreSQL connection string (a database where a new database may be
# created), also `runs push` of the same store into a new hub database, and `runs pull` of it into
# an empty file, beside the peer psql's `\copy` of the same rows from sqlite3's CSV.
# Prints the seconds and the ratios; usage: [HUB=postgres://…] scripts/bench-merge.sh [RUNS] [ROWS]
set -euo pipefail
runs=${1:-100}
rows=${2:-100000}
bin=${SOFTMAXLAB_BIN:-.build/release/softmax-lab}
order="id, j"
[ "${INTERLEAVE:-0}" = 1 ] && order="j, id"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A store made by softmax-lab (schema and migrations), then filled with synthetic runs in SQL, each
# run's rows together as one process writes them (INTERLEAVE=1 mixes the runs' rows row by row, as
# if 100 processes had written at once: the worst case for reading one run).
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
SELECT id, 'step_loss', j, j / 1000, 1.0 / (j + 1), '2026-12-01T00:00:30Z' FROM runs, s WHERE name LIKE 'synthetic %' ORDER BY $order;
COMMIT;
SQL
total=$(sqlite3 "$work/src.sqlite" "SELECT COUNT(*) FROM metrics")
# Each step starts with the earlier steps' writes on disk (sync), so it is not timed writing them back.
seconds() { local t0 t1; sync; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
merge=$(seconds "$bin" runs merge "$work/src.sqlite" --into "$work/team.sqlite")
again=$(seconds "$bin" runs merge "$work/src.sqlite" --into "$work/team.sqlite")
# Into a store that already exists (one run of its own) the merge goes row by row.
"$bin" train --dataset iris --epochs 1 --db "$work/existing.sqlite" >/dev/null 2>&1
existing=$(seconds "$bin" runs merge "$work/src.sqlite" --into "$work/existing.sqlite")
"$bin" train --dataset iris --epochs 1 --db "$work/peer.sqlite" >/dev/null 2>&1
peer=$(seconds sqlite3 "$work/peer.sqlite" "ATTACH '$work/src.sqlite' AS src; INSERT INTO metrics (run_id, key, step, epoch, value, recorded_at) SELECT 1, key, step, epoch, value, recorded_at FROM src.metrics ORDER BY id;")
# The new-file merge's peer: SQLite's own page copy of the whole source (its backup API).
backup=$(seconds sqlite3 "$work/src.sqlite" ".backup '$work/backup.sqlite'")
rm -f "$work/backup.sqlite"
copied=$(sqlite3 "$work/team.sqlite" "SELECT COUNT(*) FROM metrics")
echo "metric rows: $total in the source, $copied in the target after merging twice"
echo "runs merge (first, into a new file):  $merge s"
echo "runs merge (again):  $again s"
echo "runs merge (into an existing store, row by row):  $existing s"
echo "peer, sqlite3 INSERT … SELECT of the same rows: $peer s"
echo "peer, sqlite3 .backup of the source: $backup s"
echo "merge / .backup: $(echo "scale=2; $merge / $backup" | bc); existing / INSERT … SELECT: $(echo "scale=2; $existing / $peer" | bc)"
if [ -n "${HUB:-}" ]; then
    name=softmaxlab_bench_$$
    psql "$HUB" -qXc "CREATE DATABASE $name"
    hub=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$HUB" "$name")
    push=$(seconds "$bin" runs push --to "$hub" --db "$work/src.sqlite")
    # One connection, as the push was before it used several.
    psql "$HUB" -qXc "CREATE DATABASE ${name}_one"
    hub1=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$HUB" "${name}_one")
    push1=$(seconds "$bin" runs push --to "$hub1" --db "$work/src.sqlite" --connections 1)
    psql "$HUB" -qXc "DROP DATABASE ${name}_one WITH (FORCE)"
    pull=$(seconds "$bin" runs pull --from "$hub" --db "$work/pulled.sqlite")
    pulled=$(sqlite3 "$work/pulled.sqlite" "SELECT COUNT(*) FROM metrics")
    psql "$hub" -qXc "CREATE TABLE peer_metrics (run_id BIGINT, key TEXT, step BIGINT, epoch BIGINT, value DOUBLE PRECISION, recorded_at TEXT)"
    peer_push=$(seconds bash -c "sqlite3 -csv '$work/src.sqlite' 'SELECT run_id, key, step, epoch, value, recorded_at FROM metrics ORDER BY id' | psql '$hub' -qXc '\\copy peer_metrics FROM STDIN CSV'")
    hubrows=$(psql "$hub" -AtXc "SELECT COUNT(*) FROM metrics")
    psql "$HUB" -qXc "DROP DATABASE $name WITH (FORCE)"
    echo "runs push:           $push s ($hubrows metric rows in the hub)"
    echo "runs push --connections 1: $push1 s"
    echo "runs pull:           $pull s ($pulled metric rows pulled)"
    echo "peer, sqlite3 -csv | psql \\copy of the same rows: $peer_push s"
    echo "push / peer: $(echo "scale=2; $push / $peer_push" | bc)"
    [ "$hubrows" = "$total" ] && [ "$pulled" = "$total" ] || { echo "error: rows lost in push or pull" >&2; exit 1; }
fi
[ "$copied" = "$total" ] || { echo "error: the target holds $copied metric rows, the source $total" >&2; exit 1; }
