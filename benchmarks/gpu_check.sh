#!/usr/bin/env bash
# Everything a first GPU should answer, in one call of at most 8 minutes, packed in one archive.
#
#   bash benchmarks/gpu_check.sh OUT_DIR [YARDSTICK_DIR]
#
# Needs torch with CUDA and pytest; not snakemake, nor the datasets (MNIST comes from
# ../shared/data when there, random uint8 images otherwise). YARDSTICK_DIR holds the
# bare-script yardsticks gpu_reference.py and gpu_reference_conv.py (default: benchmarks/yardsticks,
# else ../shared/tools). A machine that gets only the checkout needs them copied in first:
#   mkdir -p benchmarks/yardsticks && cp ../shared/tools/gpu_reference*.py benchmarks/yardsticks/
# (untracked, not committed: they are yardsticks, not project code), then, on the GPU machine,
#   bash benchmarks/gpu_check.sh "$OUT"
#
# 1. the CUDA tests (tests/test_cuda.py: every likelihood as a captured graph equal to eager
#    steps, packs against runs alone, failed captures, deterministic mode) and the capture
#    hazard tests (tests/test_capture_hazards.py), with a JUnit report;
# 2. benchmarks/bench_train.py on cuda: tutorial loop, one run, packs of 21 and 64, TF32 too;
# 3. the yardsticks on the same GPU, for the ratio;
# 4. only with GPU_CHECK_SLICE=1 (needs snakemake, and far more than 8 minutes): the MNIST
#    slice of configs/paper.yaml through the workflow (bernoulli, 7 betas x 3 seeds, 100 epochs).
# Each part has its own time limit, and a failing part does not stop the next. Everything
# goes to OUT_DIR/gpu_check.tar.gz: gpu_check.log (all output), pytest_cuda.xml,
# bench_train.txt, yardstick_*.txt, and the slice's tables and logs when run.
set -uo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR [YARDSTICK_DIR]}
yard=${2:-}
if [ -z "$yard" ]; then  # the first of: copied into the checkout (untracked), beside it
  for d in benchmarks/yardsticks ../shared/tools; do [ -f "$d/gpu_reference.py" ] && { yard=$d; break; }; done
fi
mkdir -p "$out" && out=$(cd "$out" && pwd)
work=$(mktemp -d)
exec 3>&1 4>&2
exec > >(tee "$work/gpu_check.log") 2>&1
tee_pid=$!
export PYTHONPATH="$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
t_start=$(date +%s)
part() { echo; echo "== $1 ($(( $(date +%s) - t_start )) s in)"; }

part "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(),
'devices', torch.cuda.device_count())"
git rev-parse HEAD 2>/dev/null || true

part "CUDA tests and capture-hazard tests (limit 200 s)"
timeout 200 $py -m pytest tests/test_cuda.py tests/test_capture_hazards.py -q -rs -p no:cacheprovider \
  --junitxml="$work/pytest_cuda.xml"
echo "pytest exit status $?"

part "bench_train.py on cuda (limit 170 s)"
timeout 170 $py benchmarks/bench_train.py --device cuda --repeats 3 --packs 21,64 --tf32 2>&1 | tee "$work/bench_train.txt"

for script in gpu_reference.py gpu_reference_conv.py; do
  if [ -f "$yard/$script" ]; then
    part "$script, TF32 off and on (limit 40 s)"
    timeout 40 $py "$yard/$script" --tf32 2>&1 | tee "$work/yardstick_${script%.py}.txt"
  else
    part "$script: not found (YARDSTICK_DIR '${yard}')"
  fi
done

if [ "${GPU_CHECK_SLICE:-0}" = 1 ]; then
  part "MNIST slice: bernoulli, 7 betas x 3 seeds, 100 epochs, through the workflow"
  mnist=${MNIST_RAW_DIR:-../shared/data/MNIST/raw}
  slice=$(mktemp -d)
  cp -r Snakefile config.yaml configs workflow profiles envs "$slice/"
  $py - "$slice/slice.yaml" "$(cd "$mnist" && pwd)" <<'EOF'
import sys, yaml
cfg = yaml.safe_load(open("configs/paper.yaml"))
cfg.update(datasets=["mnist"], likelihoods=["bernoulli"], variants={}, dataset_settings={})
cfg.setdefault("data", {})["mirrors"] = {"mnist": [f"file://{sys.argv[2]}/"]}
yaml.safe_dump(cfg, open(sys.argv[1], "w"), sort_keys=False)
EOF
  (
    cd "$slice"
    start=$(date +%s.%N)
    $py -m snakemake --cores all --resources gpu=1 --configfile slice.yaml --until classifier
    mid=$(date +%s.%N)
    $py -m snakemake --cores all --resources gpu=1 --configfile slice.yaml
    end=$(date +%s.%N)
    $py - "$start" "$mid" "$end" <<'EOF'
import sys, glob, csv
start, mid, end = map(float, sys.argv[1:])
print(f"slice: data + classifier {mid - start:.0f} s; 21 runs trained and evaluated + tables {end - mid:.0f} s")
for stage in ("train", "evaluate"):
    for f in glob.glob(f"results/benchmarks/{stage}/mnist/*.tsv"):
        row = next(csv.DictReader(open(f), delimiter="\t"))
        print(f"  {stage} pack job: {float(row['s']):.0f} s wall ({f})")
EOF
    tar czf "$work/slice.tar.gz" results/tables results/logs results/benchmarks
  )
fi

part "done: $(( $(date +%s) - t_start )) s in all; packing $out/gpu_check.tar.gz"
exec 1>&3 2>&4 3>&- 4>&-
wait "$tee_pid" 2>/dev/null || true
tar czf "$out/gpu_check.tar.gz" -C "$work" .
