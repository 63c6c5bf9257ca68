#!/usr/bin/env bash
# Device check for a machine with a GPU and no Swift toolchain.
#
#   scripts/device-check.sh build   # here: static, portable softmax-lab-device (no Foundation, small),
#                                   # softmax-lab (stripped), and libOpenCL.so.1 into .device/
#   scripts/device-check.sh run     # there (the GPU machine), from the repository root: the kernel
#                                   # check and timing of softmax-lab-device, then devices, gradcheck,
#                                   # loss against the Swift backend, training, a bounded tune and
#                                   # bench (taking the tune's choices) with softmax-lab
#
# The GPU machine may lack the ICD loader (libOpenCL.so.1): the one built here travels in .device/
# and is used through SOFTMAXLAB_OPENCL_LIBRARY. If no vendor .icd file is installed there, one
# naming the NVIDIA driver's libnvidia-opencl.so.1 is written to a private folder (OCL_ICD_VENDORS).
# Results go to $OUT (or .device/out) as text and a SQLite store.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}

case "$mode" in
build)
    mkdir -p .device
    # Portable: the GPU machine's CPU may lack this machine's vector extensions.
    SOFTMAXLAB_PORTABLE=1 swift build -c release --static-swift-stdlib --product softmax-lab --scratch-path .build-device
    SOFTMAXLAB_PORTABLE=1 swift build -c release --static-swift-stdlib --product softmax-lab-device --scratch-path .build-device
    cp .build-device/release/softmax-lab .build-device/release/softmax-lab-device .device/
    strip .device/softmax-lab-device
    # Unstripped it is ~91 MB (Foundation's ICU data and debug info); what travels is limited to 64 MiB.
    strip .device/softmax-lab
    loader=$(ldconfig -p | awk '/libOpenCL.so.1 / {print $NF; exit}')
    [ -n "$loader" ] && cp -L "$loader" .device/libOpenCL.so.1
    ls -la .device
    echo "carry .device to the GPU machine, then run: scripts/device-check.sh run"
    ;;
run)
    out=${OUT:-.device/out}
    mkdir -p "$out"
    bin=.device/softmax-lab
    [ -x .device/softmax-lab-device ] || { echo "no .device/softmax-lab-device: run 'scripts/device-check.sh build' on the build machine and carry .device" >&2; exit 2; }
    if ! ldconfig -p | grep -q 'libOpenCL.so.1 ' && [ -f .device/libOpenCL.so.1 ]; then
        export SOFTMAXLAB_OPENCL_LIBRARY=$PWD/.device/libOpenCL.so.1
    fi
    if [ -z "$(ls /etc/OpenCL/vendors 2>/dev/null)" ]; then
        vendor=$(ldconfig -p | awk '/libnvidia-opencl.so.1 / {print $NF; exit}')
        vendor=${vendor:-$(ls /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 2>/dev/null | head -1)}
        if [ -n "$vendor" ]; then
            mkdir -p .device/icd && echo "$vendor" > .device/icd/nvidia.icd
            export OCL_ICD_VENDORS=$PWD/.device/icd
        fi
    fi
    db="$out/device-check.sqlite"
    set -x
    # First the small Foundation-free check: every device's fused kernel against float64, then timed,
    # in the backend's own configuration and in the others worth comparing on a GPU (one run, since
    # device time is scarce): rows per work-item; eight rows per work-item in vector lanes (C <= 64);
    # work-groups of up to 256/512/1024 work-items with 0, 32 or 64 logits per work-item cached in
    # registers. Then the fused linear cross-entropy at the issue's shape and at Cut Cross-Entropy's
    # (N = 8192, D = 2304, V = 256000), spot-checked against float64, timed, its device memory said.
    .device/softmax-lab-device --shapes 1024x32000,8192x128000,4096x1000,65536x10 \
        --params auto,row,lanes,wg256c0,wg256c32,wg512c64,wg1024c0,wg1024c32 \
        --linear 2048x1024x32000,8192x2304x256000 --linear-repeat 2 2>&1 | tee "$out/device-kernels.txt"
    [ -x "$bin" ] || exit 0
    "$bin" devices 2>&1 | tee "$out/devices.txt"
    "$bin" gradcheck --backend opencl --db "$db" 2>&1 | tee "$out/gradcheck.txt"
    "$bin" gradcheck --backend opencl --rows 64 --classes 40 --features 30 --label-smoothing 0.1 --db "$db" 2>&1 | tee -a "$out/gradcheck.txt"
    # The loss and gradient of random data on OpenCL against the Swift backend.
    python3 - "$out" <<'PY' || "$bin" explain --logits 2,1,0.1 --label 0 > "$out/explain.txt"
import numpy as np, sys
rng = np.random.default_rng(0)
np.save(f"{sys.argv[1]}/logits.npy", rng.normal(scale=4, size=(512, 1000)).astype(np.float32))
np.save(f"{sys.argv[1]}/labels.npy", rng.integers(0, 1000, size=512))
PY
    if [ -f "$out/logits.npy" ]; then
        for b in swift opencl; do
            "$bin" loss --backend $b --logits "$out/logits.npy" --labels "$out/labels.npy" --label-smoothing 0.1 \
                --grad-out "$out/grad-$b.npy" --json > "$out/loss-$b.json"
        done
        python3 -c "
import json, numpy as np, sys
a, b = (json.load(open(f'$out/loss-{k}.json'))['loss'] for k in ('swift', 'opencl'))
ga, gb = (np.load(f'$out/grad-{k}.npy') for k in ('swift', 'opencl'))
print(f'loss swift {a:.7g} opencl {b:.7g} rel diff {abs(a-b)/abs(a):.2e}; gradient max abs diff {np.abs(ga-gb).max():.2e}')
" | tee "$out/loss-compare.txt"
    fi
    "$bin" train --dataset digits --backend opencl --db "$db" 2>&1 | tee "$out/train.txt"
    # A bounded tune of the GPU (2 minutes of search; a hang is cut at 4), recorded in the same store, so
    # that the bench below takes its choices and says so; the store comes back with $OUT.
    timeout 240 "$bin" tune --backend opencl --op xent --budget 2m --db "$db" 2>&1 | tee "$out/tune.txt" || true
    "$bin" bench --backend all --op xent --shapes 1024x32000,8192x128000,4096x1000,65536x10 --repeat 20 --db "$db" 2>&1 | tee "$out/bench.txt"
    "$bin" bench --backend all --op linear-xent --shapes 2048x1024x32000 --repeat 3 --db "$db" 2>&1 | tee -a "$out/bench.txt"
    ;;
*)
    echo "usage: scripts/device-check.sh build|run" >&2
    exit 2
    ;;
esac
