#!/usr/bin/env bash
# One run on a GPU machine that collects every WebGPU figure BENCHMARKS.md asks
# for, in under 10 minutes, each step under its own timeout (a hang costs that
# step, not the run):
#
#   1. adapter: what Dawn sees (vendor, architecture, features, limits)
#   2. tests:   the WebGPU tests and the parity suite on the webgpu backend (real adapter, autotuning off)
#   3. bench:   node dist/cli/main.js bench --backend webgpu --json (autotuned)
#   4. train:   kat-micro on MNIST, webgpu (timed alone) and cpu (its accuracy is the target; run during step 2)
#   5. models:  kat-tiny and vit-tiny training img/s at batch 128, 224 px (scripts/train-throughput.mjs)
#
# Everything lands in OUTDIR as JSON (plus logs), and summary.md tabulates it.
# On the GPU machine (no Node, no network), with the working tree, .device/
# (../shared/device/prepare.sh) and the builds dist/ and build/ (npx tsc -p
# tsconfig.test.json) copied over:
#
#   source .device/env.sh && scripts/gpu-check.sh OUTDIR
#
# GPU_CHECK_QUICK=1 shrinks every step (a few tests, tiny batches, a few
# steps) so the whole script can be tried on SwiftShader in a few minutes.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/gpu-check.sh OUTDIR" >&2; exit 2; }
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
QUICK=${GPU_CHECK_QUICK:-0}
KAT="node dist/cli/main.js"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
# The tuning cache of this run lives with its results (a fresh machine has no other).
export KATJS_CACHE=${KATJS_CACHE:-$OUT/cache}
[ -f dist/cli/main.js ] || { echo "gpu-check: dist/ is missing (npx tsc -p tsconfig.json)" >&2; exit 2; }
START=$(date +%s)
STEPS_FILE="$OUT/steps.tsv"
: > "$STEPS_FILE"

# step NAME TIMEOUT_S COMMAND...: runs with a timeout, stdout+stderr to NAME.log, records rc and seconds.
step() {
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s.%N)
  echo "== $name (limit ${limit}s): $*" >&2
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  local secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  local shown=$(printf '%s ' "$@" | tr '\n\t' '  ' | tr -s ' ' | cut -c1-160)
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$secs" "$shown" >> "$STEPS_FILE"
  echo "   rc=$rc in ${secs}s" >&2
  return 0
}

if [ "$QUICK" = 1 ]; then
  TESTS="build/test/webgpu_autotune.test.js build/test/webgpu_rows.test.js"
  PARITY_ENV="KATJS_PARITY_BACKENDS=webgpu"
  BENCH_ARGS="--batch 1 --runs 1 --train-steps 1 --skip-training --skip-compare"
  # A small synthetic set instead of MNIST (evaluating 2,000 digits alone takes minutes on SwiftShader);
  # the bench's later rows (KAN layers) do not fit its limit there: it shows a timed-out step's partial rows.
  TRAIN_ARGS="--dataset synthetic:1x28x28:10:96 --epochs 1 --batch-size 16"
  MODEL_ARGS="--batch 2 --image-size 32 --steps 1"
  LIMIT_TESTS=240; LIMIT_BENCH=45; LIMIT_TRAIN=120; LIMIT_MODELS=120
else
  TESTS="build/test/webgpu_*.test.js build/test/parity.test.js"
  PARITY_ENV="KATJS_PARITY_BACKENDS=webgpu"
  BENCH_ARGS=""
  TRAIN_ARGS=""
  MODEL_ARGS="--batch 128 --image-size 224 --steps 10"
  LIMIT_TESTS=140; LIMIT_BENCH=150; LIMIT_TRAIN=100; LIMIT_MODELS=80
fi

# 1. The adapter, printed first.
step adapter 30 node --input-type=module -e '
  process.env.XDG_RUNTIME_DIR ??= "/tmp";
  const dawn = await import("webgpu");
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) { console.log(JSON.stringify({ error: "no adapter" })); process.exit(1); }
  const limits = {};
  for (const key in adapter.limits) limits[key] = adapter.limits[key];
  const info = adapter.info ?? {};
  console.log(JSON.stringify({ vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
    features: [...adapter.features].sort(), limits, node: process.version, date: new Date().toISOString() }, null, 1));
  process.exit(0);
'
cp "$OUT/adapter.log" "$OUT/adapter.json"
cat "$OUT/adapter.json"
nvidia-smi -L > "$OUT/nvidia-smi.txt" 2>&1 || true

# 2. Tests on the real adapter (deterministic: autotuning off; each candidate has its own parity tests),
#    with the CPU reference training of step 4 running beside them (its wall time is not a figure).
( step train-cpu $((LIMIT_TESTS + 120)) $KAT train --backend cpu --json $TRAIN_ARGS --out "$OUT/kat-micro-cpu.safetensors" ) &
CPU_PID=$!
# shellcheck disable=SC2086
step tests $LIMIT_TESTS env KATJS_WEBGPU_AUTOTUNE=0 $PARITY_ENV CI=1 node --test --test-reporter=tap $TESTS
wait $CPU_PID

# 3. The bench, autotuned (the first use of each shape is timed before the measured runs).
# shellcheck disable=SC2086
step bench $LIMIT_BENCH $KAT bench --backend webgpu --json $BENCH_ARGS

# 4. kat-micro on webgpu, alone on the machine: accuracy and wall time.
# shellcheck disable=SC2086
step train-webgpu $LIMIT_TRAIN $KAT train --backend webgpu --json $TRAIN_ARGS --out "$OUT/kat-micro-webgpu.safetensors"

# 5. Whole-model training speed.
# shellcheck disable=SC2086
step models $LIMIT_MODELS node scripts/train-throughput.mjs --backend webgpu $MODEL_ARGS --out "$OUT/models.json"

# JSON of each step's lines, and the summary.
node scripts/gpu-check-summary.mjs "$OUT" $(( $(date +%s) - START ))
cat "$OUT/summary.md"
