#!/usr/bin/env bash
# libFuzzer over every reader of outside bytes: scripts/fuzz.sh [SECONDS] [TARGET…]
# Targets: npy (the .npy reader), text (text/CSV matrices and labels), shapes (bench --shapes),
# dataset-csv (train's CSV loader), journal (the metrics journal's reader). Each is compiled with
# -sanitize=fuzzer,address from the reader's own source files (with SoftmaxCore as a module
# beside it), then run for SECONDS (default 60) from its committed seeds in Fuzz/Corpus/TARGET;
# new inputs go to a scratch folder, so the committed corpus only changes by hand. A crash leaves
# its input in .build-fuzz/ and fails the script; turn it into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy text shapes dataset-csv journal)
out=.build-fuzz
mkdir -p "$out"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6)

# The parsers import SoftmaxCore: build it once as a static library with its module.
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name SoftmaxCore \
    -emit-module-path "$out/SoftmaxCore.swiftmodule" -o "$out/libSoftmaxCore.a" Sources/SoftmaxCore/*.swift

sources() {
    case "$1" in
        npy|text|shapes) echo SoftmaxLabCLI Sources/SoftmaxLabCLI/{NumpyFile,DelimitedText,ShapeList}.swift ;;
        dataset-csv) echo SoftmaxTraining Sources/SoftmaxTraining/{CSVDataset,Dataset}.swift ;;
        journal) echo ExperimentStore Sources/ExperimentStore/{MetricJournal,MetricJournal+Reader,MetricSample,RunStatus,StoreError}.swift ;;
        *) echo "unknown fuzz target $1" >&2; exit 2 ;;
    esac
}

status=0
for target in "${targets[@]}"; do
    read -r module files <<<"$(sources "$target")"
    # shellcheck disable=SC2086
    swiftc "${flags[@]}" -module-name "$module" -I "$out" -L "$out" -lSoftmaxCore \
        $files "Fuzz/Targets/$target/main.swift" -o "$out/fuzz-$target" 2> >(grep -v "Cannot export local symbol" >&2)
    scratch=$(mktemp -d)
    log="$out/fuzz-$target.log"
    if "$out/fuzz-$target" "$scratch" "Fuzz/Corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$out/crash-$target-" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        echo "fuzz $target: $runs executions in ${seconds} s ($rate/s), no crash"
    else
        echo "fuzz $target: FAILED; the crashing input is in $out (crash-$target-*); log:" >&2
        tail -40 "$log" >&2
        status=1
    fi
    rm -rf "$scratch"
done
exit $status
