#!/usr/bin/env bash
# Is `tune` with its default budget as good as trying everything? (BENCHMARKS.md, "tune".)
#
#   scripts/tune-sweep.sh [swift|opencl] [folder]
#
# 1. `tune` with the default budget (2m) at the four shape classes, its wall time measured;
# 2. an exhaustive sweep of the same device's space: `tune` again with a budget that lets every
#    candidate through (60m, 20 repeats), into a second store;
# 3. per shape class, from the sweep's times: the default-budget tune's choice against the
#    sweep's best and against the defaults (ratios of medians measured in the same sweep);
# 4. per shape class, head to head: the defaults, the tune's choice and the sweep's best timed
#    again in one run, in turn (`tune --candidates`: each is a finalist), 20 repeats, so that
#    the ratios are of times taken side by side rather than minutes apart on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-opencl}
dir=${2:-$(mktemp -d)}
mkdir -p "$dir"
bin=.build/release/softmax-lab
[ -x "$bin" ] || swift build -c release --product softmax-lab
tuned="$dir/tune-default.sqlite"
sweep="$dir/tune-sweep.sqlite"
rm -f "$tuned" "$sweep"

start=$(date +%s.%N)
"$bin" tune --backend "$backend" --db "$tuned" | tee "$dir/tune-default.txt"
end=$(date +%s.%N)
echo "tune --backend $backend (default budget): $(python3 -c "print(f'{$end - $start:.1f}')") s wall" | tee "$dir/wall.txt"

"$bin" tune --backend "$backend" --budget 60m --repeat 20 --db "$sweep" | tee "$dir/tune-sweep.txt"

python3 - "$tuned" "$sweep" <<'PY' | tee "$dir/compare.txt"
import sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.execute("ATTACH ? AS tuned", (sys.argv[1],))
rows = db.execute("""
    SELECT s.shape_class, s.shape,
           (SELECT COUNT(*) FROM tuning x WHERE x.shape_class = s.shape_class AND x.device_id = s.device_id) AS swept,
           (SELECT COUNT(*) FROM tuned.tuning x WHERE x.shape_class = s.shape_class) AS tried,
           t.parameters,
           (SELECT median_ms FROM tuning x WHERE x.shape_class = s.shape_class AND x.device_id = s.device_id
                AND x.parameters = t.parameters) AS tuned_ms,
           (SELECT MIN(median_ms) FROM tuning x WHERE x.shape_class = s.shape_class AND x.device_id = s.device_id
                AND x.check_result = 'ok') AS best_ms,
           (SELECT median_ms FROM tuning x WHERE x.shape_class = s.shape_class AND x.device_id = s.device_id
                AND x.is_default = 1) AS default_ms
    FROM tuning s JOIN tuned.tuning t ON t.shape_class = s.shape_class AND t.chosen = 1
    WHERE s.is_default = 1
    ORDER BY s.id""").fetchall()
print(f"{'class':<9} {'shape':<11} {'swept':>5} {'tried':>5} {'tuned/best':>10} {'tuned/default':>13}  tuned choice")
bad = 0
for cls, shape, swept, tried, params, tuned_ms, best_ms, default_ms in rows:
    within = tuned_ms / best_ms
    vs_default = tuned_ms / default_ms
    bad += within > 1.05 or vs_default > 1.0
    print(f"{cls:<9} {shape:<11} {swept:>5} {tried:>5} {within:>10.3f} {vs_default:>13.3f}  {params}")
print("every class within 5% of the sweep's best and no slower than the defaults" if bad == 0
      else f"{bad} class(es) outside 5% of the best or slower than the defaults")
PY
# 4. Head to head, per shape class.
head="$dir/tune-head.sqlite"
rm -f "$head"
for shape in 65536x10 4096x1000 1024x32000 256x128000; do
    python3 - "$tuned" "$sweep" "$shape" > "$dir/candidates-$shape.txt" <<'PY'
import sqlite3, sys
tuned, sweep, shape = sys.argv[1:]
choice = sqlite3.connect(tuned).execute("SELECT parameters FROM tuning WHERE shape = ? AND chosen = 1", (shape,)).fetchone()
best = sqlite3.connect(sweep).execute(
    "SELECT parameters FROM tuning WHERE shape = ? AND check_result = 'ok' ORDER BY median_ms LIMIT 1", (shape,)).fetchone()
for p in dict.fromkeys(x[0] for x in (choice, best) if x):
    print(p)
PY
    "$bin" tune --backend "$backend" --shapes "$shape" --candidates "$dir/candidates-$shape.txt" --repeat 20 --budget 10m \
        --db "$head" >> "$dir/tune-head.txt"
done
python3 - "$tuned" "$sweep" "$head" <<'PY' | tee "$dir/compare-head.txt"
import sqlite3, sys
tuned, sweep, head = (sqlite3.connect(p) for p in sys.argv[1:])
print("head to head (one run per class, in turn, 20 repeats each and three more rounds):")
print(f"{'shape':<11} {'tuned ms':>9} {'best ms':>9} {'default ms':>10} {'tuned/best':>10} {'tuned/default':>13}")
bad = 0
for shape in ["65536x10", "4096x1000", "1024x32000", "256x128000"]:
    choice = tuned.execute("SELECT parameters FROM tuning WHERE shape = ? AND chosen = 1", (shape,)).fetchone()[0]
    best = sweep.execute("SELECT parameters FROM tuning WHERE shape = ? AND check_result = 'ok' ORDER BY median_ms LIMIT 1",
                         (shape,)).fetchone()[0]
    def ms(p):
        return head.execute("SELECT median_ms FROM tuning WHERE shape = ? AND parameters = ? ORDER BY id DESC LIMIT 1",
                            (shape, p)).fetchone()[0]
    default = head.execute("SELECT median_ms FROM tuning WHERE shape = ? AND is_default = 1 ORDER BY id DESC LIMIT 1",
                           (shape,)).fetchone()[0]
    t, b = ms(choice), ms(best)
    # The best of the three as measured side by side is the yardstick.
    b = min(t, b, default)
    bad += t / b > 1.05 or t / default > 1.03
    print(f"{shape:<11} {t:>9.4f} {b:>9.4f} {default:>10.4f} {t / b:>10.3f} {t / default:>13.3f}")
print("every class within 5% of the best and no more than 3% (the noise) slower than the defaults" if bad == 0
      else f"{bad} class(es) outside 5% of the best or over 3% slower than the defaults")
PY
echo "stores and output in $dir"
