"""Configuration -> the grid of runs, and the settings each job receives.

All configuration logic of the rules lives here, so each rule only names
files and calls one command of the package.
"""

import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

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
if not LIKELIHOOD_LABELS:
    raise WorkflowError("likelihoods: the grid is empty; list at least one likelihood (or a variant)")


def beta_label(beta):
    """The canonical text of a β in paths: 1 -> '1', 0.1 -> '0.1', 1e-05 -> '1e-05'."""
    return f"{float(beta):g}"


BETAS = [beta_label(b) for b in config["betas"]]
if len(set(BETAS)) != len(BETAS):
    raise WorkflowError(f"betas: two values print the same ({BETAS}); give distinct values")
SEEDS = [int(s) for s in config["seeds"]]

RUN = "results/runs/{dataset}/{likelihood}/beta~{beta}/seed~{seed}"
RUN_LOG = "results/logs/{stage}/{dataset}/{likelihood}/beta~{beta}/seed~{seed}.log"
RUN_BENCHMARK = "results/benchmarks/{stage}/{dataset}/{likelihood}/beta~{beta}/seed~{seed}.tsv"


wildcard_constraints:
    dataset="|".join(DATASETS),
    likelihood="|".join(LIKELIHOOD_LABELS),
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
        "train": merged("train", w.dataset),
        "model": merged("model", w.dataset),
    }


def evaluate_settings(w):
    return {**run_settings(w), "evaluate": merged("evaluate", w.dataset)}


def classifier_settings(w):
    return merged("classifier", w.dataset)


# Memory and time scale with the dataset and grow with each retry (profiles
# retry a failed job once: one killed for memory or time gets more of both).
DATASET_SCALE = {"digits": 1, "mnist": 4, "fashion_mnist": 4, "cifar10": 8}


def mem_mb(base):
    return lambda w, attempt: base * DATASET_SCALE.get(w.dataset, 4) * attempt


def runtime_min(base):
    return lambda w, attempt: base * DATASET_SCALE.get(w.dataset, 4) * attempt
