#!/usr/bin/env bash
# CI job: the lowest torch that pyproject.toml admits (torch 2.6.0, torchvision 0.21.0), installed
# from PyPI into a venv of its own, and the tests of the code that depends on torch's version
# (the fused Adam of train.py needs torch._fused_adam_ on CPU, 2.4; gradient clipping needs
# torch.nn.utils.get_total_norm, 2.6; likelihoods, models, FID). It prints the time and disk the
# install took, so CI's log answers whether the job fits CI's machine.
# Measured on the CI machine's kind (2 cores, PyPI reachable): the install takes about 100 s
# and 5.8 GB (PyPI's Linux torch 2.6.0 is the CUDA build and pulls the nvidia-* wheels), the
# tests about 25 s; the venv is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-lowest-torch}
start=$(date +%s)
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --no-cache-dir "torch==2.6.0" "torchvision==0.21.0"
"$VENV/bin/pip" install --quiet --no-cache-dir -e '.[test]'   # keeps the pins above: they satisfy the bounds
echo "lowest-torch: installed in $(( $(date +%s) - start )) s, venv $(du -sh "$VENV" | cut -f1)"
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.6.'), torch.__version__; print('torch', torch.__version__)"
"$VENV/bin/python" -m pytest -q -m "not workflow and not slurm" \
    tests/test_train.py tests/test_pack.py tests/test_likelihoods.py tests/test_models.py tests/test_fid.py \
    tests/test_settings.py
rm -rf "$VENV"
