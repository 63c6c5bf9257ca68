#!/usr/bin/env bash
# Soak test of the experiment store (not run by CI; bounded, about 10 minutes):
#   1. ROUNDS (default 100) runs logging every step, each SIGKILLed at a random moment, each
#      followed by the open that recovers its journal;
#   2. 8 concurrent writers with 2 readers on one store;
#   3. a write lock held by another process for 30 s in the middle of a run;
#   4. a run on a full disk (a small tmpfs; a file-size limit where mounting is not allowed).
# It prints the rows journaled, recovered and lost (must be 0) and the files damaged (must be 0),
# and exits non-zero if any were lost or damaged. Usage: scripts/soak.sh [ROUNDS]
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-100}
swift build -c release --product softmax-lab >/dev/null
bin=$PWD/.build/release/softmax-lab
work=$(mktemp -d)
trap 'umount "$work/full" 2>/dev/null; rm -rf "$work"' EXIT

journaled=0 recovered=0 lost=0 damaged=0

# Rows in a metrics journal (the format in Sources/ExperimentStore/MetricJournal.swift).
journal_rows() {
    python3 - "$1" <<'PY'
import struct, sys
try:
    data = open(sys.argv[1], "rb").read()
except FileNotFoundError:
    print(0); sys.exit()
def fnv(b):
    h = 14695981039346656037
    for (w,) in struct.iter_unpack("<Q", b):
        h = ((h ^ w) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & 0xFFFFFFFF
rows, off = 0, 0
while off + 48 <= len(data):
    size, check = struct.unpack_from("<II", data, off)
    keylen = struct.unpack_from("<I", data, off + 44)[0]
    flags = struct.unpack_from("<I", data, off + 40)[0]
    if size != (48 + keylen + 7) & ~7 or off + size > len(data) or check != fnv(data[off + 8:off + size]):
        break
    rows += 0 if flags & 8 else 1
    off += size
print(rows)
PY
}
q() { sqlite3 -cmd '.timeout 20000' "$1" "$2"; }
check_integrity() { [ "$(q "$1" 'PRAGMA integrity_check')" = ok ] || { damaged=$((damaged + 1)); echo "damaged: $1"; }; }

# 1. SIGKILL at random moments.
db=$work/killed.sqlite
kill_journaled=0 kill_lost=0
for ((i = 1; i <= rounds; i++)); do
    last=$(q "$db" "SELECT COALESCE(MAX(id), 0) FROM runs" 2>/dev/null || echo 0)
    "$bin" train --dataset blobs --samples 20000 --epochs 100000 --log-every 1 --db "$db" --name "kill-$i" >/dev/null 2>&1 &
    pid=$!
    sleep "$(python3 -c "import random; print(round(random.uniform(0.15, 1.5), 3))")"
    kill -KILL "$pid"; wait "$pid" 2>/dev/null
    run=$(q "$db" "SELECT MAX(id) FROM runs")
    [ "$run" -gt "$last" ] || { echo "round $i: killed before its run was inserted"; continue; }
    rows=$(journal_rows "$db.run-$run.metrics")
    before=$(q "$db" "SELECT COUNT(*) FROM metrics WHERE run_id = $run")
    # A process killed before its journal existed committed nothing it had journaled.
    [ "$rows" -ge "$before" ] || rows=$before
    "$bin" runs list --db "$db" --limit 1 >/dev/null
    after=$(q "$db" "SELECT COUNT(*) FROM metrics WHERE run_id = $run")
    kill_journaled=$((kill_journaled + rows)); kill_lost=$((kill_lost + rows - after))
    [ -e "$db.run-$run.metrics" ] && { echo "journal of run $run left behind"; damaged=$((damaged + 1)); }
done
check_integrity "$db"
interrupted=$(q "$db" "SELECT COUNT(*) FROM runs WHERE status = 'interrupted'")
echo "SIGKILL: $rounds runs killed at random moments, $interrupted marked interrupted; rows journaled $kill_journaled, lost $kill_lost"
journaled=$((journaled + kill_journaled)); recovered=$((recovered + kill_journaled - kill_lost)); lost=$((lost + kill_lost))

# 2. Eight writers and two readers at once.
db=$work/concurrent.sqlite
pids=()
for w in 1 2 3 4 5 6 7 8; do
    "$bin" train --dataset blobs --samples 2000 --batch-size 16 --epochs 50 --log-every 1 --seed "$w" --db "$db" --name "w$w" >/dev/null 2>&1 &
    pids+=($!)
done
readers_ok=0
for r in $(seq 1 40); do
    "$bin" runs list --db "$db" >/dev/null 2>&1 && readers_ok=$((readers_ok + 1)) &
    q "$db" "SELECT COUNT(*) FROM metrics" >/dev/null 2>&1
    sleep 0.05
done
wait "${pids[@]}"; wait
expected=$((8 * 50 * 100))
got=$(q "$db" "SELECT COUNT(*) FROM metrics WHERE key = 'step_loss'")
finished=$(q "$db" "SELECT COUNT(*) FROM runs WHERE status = 'finished'")
check_integrity "$db"
echo "concurrent: 8 writers ($finished finished) and 2 readers; step rows expected $expected, stored $got, lost $((expected - got))"
journaled=$((journaled + expected)); recovered=$((recovered + got)); lost=$((lost + expected - got))

# 3. A write lock held for 30 s mid-run.
db=$work/locked.sqlite
"$bin" train --dataset blobs --samples 2000 --batch-size 16 --epochs 3000 --log-every 10 --db "$db" >/dev/null 2>"$work/locked.err" &
pid=$!
until [ "$(q "$db" 'SELECT COUNT(*) FROM metrics' 2>/dev/null || echo 0)" -gt 100 ]; do sleep 0.05; done
python3 -c "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); time.sleep(30); c.execute('COMMIT')" "$db"
wait "$pid"; code=$?
expected=$((3000 * 100 / 10))
got=$(q "$db" "SELECT COUNT(*) FROM metrics WHERE key = 'step_loss'")
status=$(q "$db" "SELECT status FROM runs")
check_integrity "$db"
echo "lock held 30 s: the run exited $code, status $status; step rows expected $expected, stored $got, lost $((expected - got))"
journaled=$((journaled + expected)); recovered=$((recovered + got)); lost=$((lost + expected - got))

# 4. A full disk.
mkdir -p "$work/full"
if mount -t tmpfs -o size=6m tmpfs "$work/full" 2>/dev/null; then how="a 6 MB tmpfs"; limit=""; else how="a 3 MB file-size limit (mounting not allowed)"; limit="ulimit -f 6144;"; fi
db=$work/full/full.sqlite
sh -c "trap '' XFSZ; $limit exec \"\$0\" \"\$@\"" "$bin" train --dataset blobs --samples 20000 --epochs 100000 --log-every 1 --db "$db" >/dev/null 2>"$work/full.err"
code=$?
rows=$(journal_rows "$db.run-1.metrics")
# Recover where there is room again, as a user would after freeing space (the journal is named
# after the store, so it comes along).
mkdir -p "$work/roomy"; cp "$work"/full/full.sqlite* "$work/roomy/" 2>/dev/null
"$bin" runs list --db "$work/roomy/full.sqlite" >/dev/null
got=$(q "$work/roomy/full.sqlite" "SELECT COUNT(*) FROM metrics")
[ "$rows" -ge "$got" ] || rows=$got
status=$(q "$work/roomy/full.sqlite" "SELECT status || ': ' || COALESCE(error, '') FROM runs")
check_integrity "$work/roomy/full.sqlite"
echo "disk full ($how): exit $code, \"$(tail -n 1 "$work/full.err")\"; recorded as $status; rows journaled $rows, stored $got, lost $((rows - got))"
journaled=$((journaled + rows)); recovered=$((recovered + got)); lost=$((lost + rows - got))

echo
echo "rows journaled $journaled, rows recovered or committed $recovered, rows lost $lost, files damaged $damaged"
[ "$lost" -eq 0 ] && [ "$damaged" -eq 0 ]
