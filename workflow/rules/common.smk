"""Configuration -> the grid of runs, and the settings each job receives.

All configuration logic of the rules lives here, so each rule only names
files and calls one command of the package.
"""

import json
import math
import os
import re
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

from reconloss import claims as _claims  # torch-free, like config_check
from reconloss.plan import runs as _claims_plan

# Jobs run `python3 -m reconloss ...`: the package comes from this checkout
# (no install needed) and, unless --sdm conda chose an environment, the
# interpreter is the one running Snakemake, so `.venv/bin/snakemake` works
# without activating the environment, locally and on cluster nodes alike.
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
# The rule files import light parts of the same package (file names of outputs).
if PACKAGE_DIR not in sys.path:
    sys.path.insert(0, PACKAGE_DIR)
_USES_CONDA = "conda" in {str(m).lower() for m in workflow.deployment_settings.deployment_method}
_PATH_PREFIX = "" if _USES_CONDA else f"export PATH={shlex.quote(os.path.dirname(sys.executable))}:$PATH; "
shell.prefix(
    "set -euo pipefail; "
    f"export PYTHONPATH={shlex.quote(PACKAGE_DIR)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
    + _PATH_PREFIX
)

DATASETS = list(config["datasets"])
BASE_LIKELIHOODS = list(config["likelihoods"])
VARIANTS = dict(config.get("variants", {}))
for label in VARIANTS:
    if label in BASE_LIKELIHOODS:
        raise WorkflowError(f"variants: label {label!r} is already a likelihood name; give the variant another label")
LIKELIHOOD_LABELS = BASE_LIKELIHOODS + list(VARIANTS)
# Empty only in a configuration of claims alone (the plan-time check allows nothing else).
GRID_EMPTY = not LIKELIHOOD_LABELS


def beta_label(beta):
    """The canonical text of a β in paths: 1 -> '1', 0.1 -> '0.1', 1e-05 -> '1e-05'."""
    return f"{float(beta):g}"


BETAS = [beta_label(b) for b in config.get("betas") or []]
if len(set(BETAS)) != len(BETAS):
    raise WorkflowError(f"betas: two values print the same ({BETAS}); give distinct values")
SEEDS = [int(s) for s in config.get("seeds") or []]

RUN = "results/runs/{dataset}/{likelihood}/beta~{beta}/seed~{seed}"

# Packs: the runs of one (dataset, likelihood label) that differ along the axes in
# `pack.vary` train in one job, as one stacked model (reconloss.training.train), and are evaluated
# in one job. Each run keeps its own folder and files; only logs and benchmarks are per
# pack. With vary [] every run is a job of its own, as before packs.
PACK_VARY = [a for a in ("beta", "seed") if a in config["pack"]["vary"]]
PACK_MAX_RUNS = int(config["pack"]["max_runs"])
GRID_AXES = {"beta": BETAS, "seed": SEEDS}
# A pack's name in log and benchmark paths: the run's wildcards less the axes it varies along.
PACK_ID = os.path.join("{dataset}", "{likelihood}", *(f"{a}~{{{a}}}" for a in GRID_AXES if a not in PACK_VARY))
PACK_LOG = f"results/logs/{{stage}}/{PACK_ID}.log"
PACK_BENCHMARK = f"results/benchmarks/{{stage}}/{PACK_ID}.tsv"

# The claims' own runs (reconloss.plan.runs): the union of what the claims need, under their own
# root so that their epochs never clash with the grid's. A pack is one (dataset, label, β); its
# members are the claims' seeds.
CLAIM_DIR = "results/claims"
CLAIM_RUN = f"{CLAIM_DIR}/runs/{{dataset}}/{{likelihood}}/beta~{{beta}}/seed~{{seed}}"
CLAIM_PLAN = _claims_plan.plan(_claims.CLAIMS, config)
CLAIM_SEEDS = [int(s) for s in config["claims"]["seeds"]]
CLAIM_PACKS = _claims_plan.packs(CLAIM_PLAN)
CLAIM_LABELS = list(dict.fromkeys(label for _, label, _ in CLAIM_PACKS))
CLAIM_PACK_LOG = f"results/logs/claims/{{stage}}/{{dataset}}/{{likelihood}}/beta~{{beta}}.log"
CLAIM_PACK_BENCHMARK = f"results/benchmarks/claims/{{stage}}/{{dataset}}/{{likelihood}}/beta~{{beta}}.tsv"


wildcard_constraints:
    dataset="|".join(DATASETS),
    likelihood="|".join(map(re.escape, dict.fromkeys(LIKELIHOOD_LABELS + CLAIM_LABELS))) or "(?!)",
    beta=r"[0-9][0-9.e+-]*",
    seed=r"[0-9]+",


def run_files(name, datasets=None):
    """Path of file `name` in every run directory of the grid."""
    return expand(
        f"{RUN}/{name}",
        dataset=datasets or DATASETS,
        likelihood=LIKELIHOOD_LABELS,
        beta=BETAS,
        seed=SEEDS,
    )


def pack_files(name):
    """File `name` of every run of one pack: {dataset}, {likelihood} and the axes not packed stay wildcards."""
    return expand(f"{RUN}/{name}", allow_missing=True, **{a: GRID_AXES[a] for a in PACK_VARY})


def claim_pack_files(name):
    """File `name` of every run of one claims pack: its seeds; {dataset}, {likelihood}, {beta} stay wildcards."""
    return expand(f"{CLAIM_RUN}/{name}", allow_missing=True, seed=CLAIM_SEEDS)


def claim_run_files(name, datasets=None):
    """File `name` of every run the claims need."""
    return [
        os.path.join(CLAIM_RUN.format(dataset=d, likelihood=label, beta=b, seed=s), name)
        for d, label, b in CLAIM_PACKS
        if datasets is None or d in datasets
        for s in CLAIM_SEEDS
    ]


def pack_members(w):
    """The run wildcards (dataset, likelihood, beta, seed) of every run of the pack job with wildcards w."""
    betas = BETAS if "beta" in PACK_VARY else [w.beta]
    seeds = SEEDS if "seed" in PACK_VARY else [w.seed]
    return [SimpleNamespace(dataset=w.dataset, likelihood=w.likelihood, beta=b, seed=s) for s in seeds for b in betas]


def pack_runs(settings_of, members=pack_members, run=RUN):
    """params: the pack's runs as one JSON string, [{"run_dir", "settings"}, ...]."""
    return lambda w: as_json([{"run_dir": run.format(**vars(r)), "settings": settings_of(r)} for r in members(w)])


def claim_members(w):
    """The run wildcards of every run of the claims pack with wildcards w: one per claims seed."""
    return [SimpleNamespace(dataset=w.dataset, likelihood=w.likelihood, beta=w.beta, seed=s) for s in CLAIM_SEEDS]


def merged(section, dataset):
    """config[section] with the dataset's overrides on top."""
    base = dict(config.get(section, {}))
    base.update(config.get("dataset_settings", {}).get(dataset, {}).get(section, {}))
    return base


def likelihood_spec(label):
    """(name, options) of a grid label: a likelihood under its own name or a variant."""
    if label in VARIANTS:
        variant = VARIANTS[label]
        name = variant["likelihood"]
        options = {**config.get("likelihood_options", {}).get(name, {}), **variant.get("options", {})}
        return name, options
    return label, dict(config.get("likelihood_options", {}).get(label, {}))


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def data_settings(dataset):
    data = config["data"]  # complete: the Snakefile filled in the defaults of reconloss.settings
    return {
        "mirrors": data["mirrors"].get(dataset),
        "test_fraction": data["test_fraction"],
        "split_seed": data["split_seed"],
    }


def run_settings(w):
    """Everything one training needs, and nothing else: a change here reruns the run."""
    name, options = likelihood_spec(w.likelihood)
    return {
        "dataset": w.dataset,
        "likelihood": w.likelihood,
        "likelihood_name": name,
        "likelihood_options": options,
        "beta": float(w.beta),
        "seed": int(w.seed),
        "train": {**merged("train", w.dataset), **VARIANTS.get(w.likelihood, {}).get("train", {})},
        "model": merged("model", w.dataset),
    }


def evaluate_settings(w):
    return {**run_settings(w), "evaluate": merged("evaluate", w.dataset)}


def claim_run_settings(w):
    """A claims run's settings: its label's spec and the epochs its claims need, on the dataset's settings."""
    entry = CLAIM_PLAN[w.dataset][w.likelihood]
    spec = entry["spec"]
    return {
        "dataset": w.dataset,
        "likelihood": w.likelihood,
        "likelihood_name": spec["likelihood"],
        "likelihood_options": spec["options"],
        "beta": float(w.beta),
        "seed": int(w.seed),
        "train": {**merged("train", w.dataset), **spec["train"], "epochs": entry["epochs"][w.beta]},
        "model": merged("model", w.dataset),
    }


def claim_evaluate_settings(w):
    return {**claim_run_settings(w), "evaluate": merged("evaluate", w.dataset)}


def claim_specs():
    """{label: spec} of every claims label (the claims read σ and options from it)."""
    return {label: entry["spec"] for labels in CLAIM_PLAN.values() for label, entry in labels.items()}


def classifier_settings(w):
    return merged("classifier", w.dataset)


# Memory and time scale with the dataset and grow with each retry (profiles
# retry a failed job once: one killed for memory or time gets more of both).
DATASET_SCALE = {"digits": 1, "mnist": 4, "fashion_mnist": 4, "cifar10": 8, "photo_patches": 2}


# The classifier takes 2 threads, but only where more than 2 cores are free to share: on a
# 2-core machine a 2-thread job waits until no 1-thread training holds a core, which (with
# a training always taking the freed core) means after every training, and every
# evaluation waits for it (seen on the study run: 46 trainings first). Unknown (a report,
# a cluster without --cores): 2.
def _total_cores():
    try:
        return workflow.cores
    except WorkflowError:  # raised where no --cores was given
        return None


TOTAL_CORES = _total_cores()
CLASSIFIER_THREADS = 2 if TOTAL_CORES is None or TOTAL_CORES > 2 else 1


def mem_mb(base):
    return lambda w, attempt: base * DATASET_SCALE.get(w.dataset, 4) * attempt


def runtime_min(base):
    return lambda w, attempt: base * DATASET_SCALE.get(w.dataset, 4) * attempt


# A pack job of K runs needs `per_run` MB more per run, plus its model state by parameter
# count (reconloss.plan.sizes: a categorical MNIST run has 103M parameters, a Bernoulli one 1M):
# with train.device cpu every run's state is in host memory; on a GPU (cuda, or auto, as
# the SLURM profile's train jobs get one) only the checkpoint being written, one run's.
# Its time grows with K: a stacked GPU step of K small models costs far less than K steps
# (see the README), so a quarter of a run's time is budgeted per run beyond the first
# four. On a CPU partition, raise `runtime` with --set-resources.
def pack_mem_mb(base, per_run, members=pack_members, settings_of=run_settings):
    from reconloss.plan import sizes

    def mem(w, attempt):
        runs = members(w)
        s = settings_of(runs[0])
        shape = sizes.DATA_SHAPES.get(w.dataset)
        state = 0
        if shape is not None:
            n = sizes.parameter_count(shape, s["likelihood_name"], s["model"], s["train"]["latent_dim"])
            state = sizes.train_host_mb(n, len(runs), on_cpu=s["train"]["device"] == "cpu")
        return ((base + per_run * len(runs)) * DATASET_SCALE.get(w.dataset, 4) + state) * attempt

    return mem


def pack_runtime_min(base, members=pack_members):
    return lambda w, attempt: math.ceil(runtime_min(base)(w, attempt) * max(1.0, len(members(w)) / 4))
