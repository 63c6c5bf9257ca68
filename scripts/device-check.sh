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
    # Unstripped it is ~91 MB (Foundation's ICU data and debug info), stripped 63 MB; what travels is
    # limited to 64 MiB, so it travels compressed (25 MB) and is unpacked there.
    strip .device/softmax-lab
    gzip -9 -f .device/softmax-lab
    loader=$(ldconfig -p | awk '/libOpenCL.so.1 / {print $NF; exit}')
    [ -n "$loader" ] && cp -L "$loader" .device/libOpenCL.so.1
    # The shared libraries the binaries link beyond the C and C++ runtimes (SQLite, libpq and what
    # libpq needs), for a machine without them: used there only where it lacks a library of that name.
    rm -rf .device/lib && mkdir -p .device/lib
    ldd .device/softmax-lab .device/softmax-lab-device | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
        grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s|libOpenCL)\.so' |
        while read -r lib; do cp -L "$lib" .device/lib/; done
    ls -la .device
    echo "carry .device to the GPU machine, then run: scripts/device-check.sh run"
    ;;
run)
    set +e +o pipefail
    # Every step runs even if one before it failed (device time is scarce: one call must say as much as
    # it can); each step's exit status is in the log. What comes back is limited to a few files, so
    # $OUT gets the log, the store and the kernel table; scratch data stays in a temporary folder.
    out=${OUT:-.device/out}
    scratch=$(mktemp -d)
    mkdir -p "$out"
    exec > >(tee "$out/device-check.log") 2>&1
    tee_pid=$!
    bin=$scratch/softmax-lab
    if [ -f .device/softmax-lab.gz ]; then gzip -dc .device/softmax-lab.gz > "$bin" && chmod +x "$bin"; fi
    [ -x .device/softmax-lab-device ] || { echo "no .device/softmax-lab-device: run 'scripts/device-check.sh build' on the build machine and carry .device" >&2; exit 2; }
    if ! ldconfig -p | grep -q 'libOpenCL.so.1 ' && [ -f .device/libOpenCL.so.1 ]; then
        export SOFTMAXLAB_OPENCL_LIBRARY=$PWD/.device/libOpenCL.so.1
    fi
    # The shared libraries this machine lacks, from those that travelled: each one only where no
    # library of its name is installed here.
    mkdir -p "$scratch/lib"
    for f in .device/lib/*; do
        [ -e "$f" ] && ! ldconfig -p | grep -q " $(basename "$f") " && ln -s "$PWD/$f" "$scratch/lib/" && echo "using the carried $(basename "$f")"
    done
    export LD_LIBRARY_PATH=$scratch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    # Where the container mounts the driver's libraries, for an .icd file that names them bare.
    [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:/usr/local/nvidia/lib64
    ldd "$bin" | grep "not found"
    if [ -z "$(ls /etc/OpenCL/vendors 2>/dev/null)" ]; then
        vendor=$(ldconfig -p | awk '/libnvidia-opencl.so.1 / {print $NF; exit}')
        vendor=${vendor:-$(ls /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 2>/dev/null | head -1)}
        vendor=${vendor:-$(find /usr /lib /opt -name 'libnvidia-opencl.so*' 2>/dev/null | head -1)}
        echo "OpenCL vendor library: ${vendor:-none found}"
        if [ -n "$vendor" ]; then
            mkdir -p .device/icd && echo "$vendor" > .device/icd/nvidia.icd
            export OCL_ICD_VENDORS=$PWD/.device/icd
        fi
    fi
    db="$out/device-check.sqlite"
    # The shapes, overridable so that a rehearsal on the build machine (PoCL) finishes in minutes:
    #   XENT_SHAPES=256x1000,64x10 LINEAR_SHAPE=64x32x1000 CCE_SHAPE=128x64x5000 scripts/device-check.sh run
    xent=${XENT_SHAPES:-1024x32000,8192x128000,4096x1000,65536x10}
    linear=${LINEAR_SHAPE:-2048x1024x32000}
    cce=${CCE_SHAPE:-8192x2304x256000}
    step() { # step NAME SECONDS COMMAND…: run it under a time limit, say how it ended
        local name=$1 limit=$2; shift 2
        echo "=== $name ($(date -u +%T))"
        timeout "$limit" "$@"
        local rc=$?
        echo "=== $name: exit $rc"
        summary+="$name: exit $rc"$'\n'
    }
    summary=""
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 || true
    # First the small Foundation-free check: every device's fused kernel against float64, then timed,
    # in the backend's own configuration and in the others worth comparing on a GPU (one run, since
    # device time is scarce): rows per work-item; eight rows per work-item in vector lanes (C <= 64);
    # work-groups of up to 256/512/1024 work-items with 0, 32 or 64 logits per work-item cached in
    # registers. Then the fused linear cross-entropy at the issue's shape and at Cut Cross-Entropy's
    # (N = 8192, D = 2304, V = 256000), spot-checked against float64, timed, its device memory said.
    step kernels 150 .device/softmax-lab-device --shapes "$xent" \
        --params auto,row,lanes,wg256c0,wg256c32,wg512c64,wg1024c0,wg1024c32 \
        --linear "$linear,$cce" --linear-repeat 2
    cp "$out/device-check.log" "$out/device-kernels.txt" 2>/dev/null
    step devices 30 "$bin" devices
    step gradcheck 60 "$bin" gradcheck --backend opencl --db "$db"
    step gradcheck-smoothing 60 "$bin" gradcheck --backend opencl --rows 64 --classes 40 --features 30 --label-smoothing 0.1 --db "$db"
    # The loss and gradient of random data on OpenCL against the Swift backend.
    python3 - "$scratch" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(0)
np.save(f"{sys.argv[1]}/logits.npy", rng.normal(scale=4, size=(512, 1000)).astype(np.float32))
np.save(f"{sys.argv[1]}/labels.npy", rng.integers(0, 1000, size=512))
PY
    for b in swift opencl; do
        timeout 60 "$bin" loss --backend $b --logits "$scratch/logits.npy" --labels "$scratch/labels.npy" \
            --label-smoothing 0.1 --grad-out "$scratch/grad-$b.npy" --json > "$scratch/loss-$b.json"
        rc=$?; echo "=== loss-$b: exit $rc"; summary+="loss-$b: exit $rc"$'\n'
    done
    python3 - "$scratch" <<'PY'
import json, numpy as np, sys
d = sys.argv[1]
a, b = (json.load(open(f"{d}/loss-{k}.json"))["loss"] for k in ("swift", "opencl"))
ga, gb = (np.load(f"{d}/grad-{k}.npy") for k in ("swift", "opencl"))
print(f"loss swift {a:.7g} opencl {b:.7g} rel diff {abs(a-b)/abs(a):.2e}; gradient max abs diff {np.abs(ga-gb).max():.2e}")
PY
    step train 90 "$bin" train --dataset digits --backend opencl --db "$db"
    # A bounded tune of the GPU (90 s of search; a hang is cut at 150), recorded in the same store, so
    # that the bench below takes its choices and says so; the store comes back with $OUT.
    step tune 150 "$bin" tune --backend opencl --op xent --budget 90s --db "$db"
    step bench-xent 120 "$bin" bench --backend all --op xent --shapes "$xent" --repeat 20 --db "$db"
    # PyTorch on the same GPU (CUDA), the peer, in the same store.
    step torch-cuda 150 python3 scripts/device-torch-peer.py --shapes "$xent" \
        --linear "$linear,$cce" --db "$db"
    step bench-linear 90 "$bin" bench --backend all --op linear-xent --shapes "$linear" --repeat 3 --db "$db"
    step bench-linear-cce 90 "$bin" bench --backend opencl --op linear-xent --shapes "$cce" --repeat 2 --warmup 1 --db "$db"
    # Last, as time allows: the fused linear op's block rows tuned on the GPU.
    step tune-linear 100 "$bin" tune --backend opencl --op linear-xent --shapes "$linear" --budget 60s --db "$db"
    python3 -c "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')" "$db" || true
    echo "=== summary"
    printf '%s' "$summary"
    # The log is whole before the command returns and $OUT is taken.
    exec >&- 2>&-
    wait "$tee_pid"
    ;;
*)
    echo "usage: scripts/device-check.sh build|run" >&2
    exit 2
    ;;
esac
