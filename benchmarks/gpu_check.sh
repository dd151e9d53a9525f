#!/usr/bin/env bash
# The GPU measurements of the packs issue, as one script for a machine with a CUDA GPU.
#
#   bash benchmarks/gpu_check.sh OUT_DIR [MNIST_RAW_DIR] [YARDSTICK_DIR]
#
# 1. benchmarks/bench_train.py on cuda: tutorial loop, one run, packs of 21 and 64, TF32 too;
# 2. the bare-script yardsticks (gpu_reference.py, gpu_reference_conv.py), when given, on the
#    same GPU in the same call, for the ratio;
# 3. the MNIST slice through the real workflow: one likelihood's 21 runs of configs/paper.yaml
#    (7 betas x 3 seeds, 100 epochs) with their classifier and evaluation, timed; the whole
#    MNIST part of the paper grid is 13 such packs (see the README for the arithmetic).
# Everything it prints goes to OUT_DIR/gpu_check.log, the slice's tables and logs to
# OUT_DIR/slice.tar.gz. It needs snakemake importable (pip install -e . or carried wheels).
set -euo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR [MNIST_RAW_DIR] [YARDSTICK_DIR]}
mnist=${2:-../shared/data/MNIST/raw}
yard=${3:-../shared/tools}
mkdir -p "$out" && out=$(cd "$out" && pwd)
exec > >(tee "$out/gpu_check.log") 2>&1
export PYTHONPATH="$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

echo "== bench_train.py"
python3 benchmarks/bench_train.py --device cuda --repeats 3 --packs 21,64 --tf32
for script in gpu_reference.py gpu_reference_conv.py; do
  if [ -f "$yard/$script" ]; then echo "== $script"; python3 "$yard/$script" --tf32 || true; fi
done

echo "== MNIST slice: bernoulli, 7 betas x 3 seeds, 100 epochs, through the workflow"
slice=$(mktemp -d)
cp -r Snakefile config.yaml configs workflow profiles envs "$slice/"
python3 - "$slice/slice.yaml" "$(cd "$mnist" && pwd)" <<'EOF'
import sys, yaml
cfg = yaml.safe_load(open("configs/paper.yaml"))
cfg.update(datasets=["mnist"], likelihoods=["bernoulli"], variants={}, dataset_settings={})
cfg.setdefault("data", {})["mirrors"] = {"mnist": [f"file://{sys.argv[2]}/"]}
yaml.safe_dump(cfg, open(sys.argv[1], "w"), sort_keys=False)
EOF
cd "$slice"
start=$(date +%s.%N)
python3 -m snakemake --cores all --configfile slice.yaml --until classifier
mid=$(date +%s.%N)
python3 -m snakemake --cores all --configfile slice.yaml
end=$(date +%s.%N)
python3 - "$start" "$mid" "$end" <<'EOF'
import sys, glob, csv
start, mid, end = map(float, sys.argv[1:])
print(f"slice: data + classifier {mid - start:.0f} s; 21 runs trained and evaluated + tables {end - mid:.0f} s")
for stage in ("train", "evaluate"):
    for f in glob.glob(f"results/benchmarks/{stage}/mnist/*.tsv"):
        row = next(csv.DictReader(open(f), delimiter="\t"))
        print(f"  {stage} pack job: {float(row['s']):.0f} s wall ({f})")
EOF
tar czf "$out/slice.tar.gz" results/tables results/logs results/benchmarks
