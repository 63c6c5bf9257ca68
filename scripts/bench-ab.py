#!/usr/bin/env python3
"""Two softmax-lab binaries (before and after a change) timed alternately on the Swift backend:
scripts/bench-ab.py BEFORE AFTER [ROUNDS]. Prints the median GB/s of each per shape and their ratio,
so a refactor is judged by one run on one machine, the binaries sharing its noise."""
import json, subprocess, statistics, sys
bins = {"before": sys.argv[1], "after": sys.argv[2]}
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
shapes = "4096x1000,1024x32000,256x128000,65536x10,65536x32,4096x100"
res = {k: {} for k in bins}
for r in range(rounds):
    for name, b in (bins.items() if r % 2 == 0 else reversed(list(bins.items()))):
        out = subprocess.run([b, "bench", "--backend", "swift", "--op", "xent", "--shapes", shapes, "--repeat", "20", "--no-record", "--json"], capture_output=True, text=True, check=True).stdout
        for row in json.loads(out):
            if row["op"] == "xent":
                res[name].setdefault(row["shape"], []).append(row["gbPerSecond"])
print("| shape | before GB/s (median of %d) | after GB/s | after/before |" % rounds)
print("|---|---|---|---|")
for shape in res["before"]:
    b, a = statistics.median(res["before"][shape]), statistics.median(res["after"][shape])
    print(f"| {shape} | {b:.1f} | {a:.1f} | {a/b:.2f} |")
