"""Glue between the rules and the planner (reconloss.plan.runs): paths, lookups by wildcard, resources.

What runs exist, where they live and which pack trains them is the planner's, so each rule
only names files and calls one command of the package.
"""

import json
import math
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from reconloss.plan import runs as _runs  # torch-free, like config_check

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
# Every run of the configuration, the grid's and the claims' alike: its identity, folder, epochs and pack.
PLAN = _runs.Plan(config)
PACKS = {pack.id: pack for pack in PLAN.packs}
# Empty only in a configuration of claims alone (the plan-time check allows nothing else).
GRID_EMPTY = not PLAN.of("grid")
PACK_MAX_RUNS = int(config["pack"]["max_runs"])
# Each pack is one train and one evaluate job, tracked by a marker; its runs' files are in their folders.
PACK_MARKER = "results/packs/{pack}.{stage}"
PACK_LOG = "results/logs/{stage}/{pack}.log"
PACK_BENCHMARK = "results/benchmarks/{stage}/{pack}.tsv"


wildcard_constraints:
    dataset="|".join(DATASETS),
    pack="|".join(map(re.escape, PACKS)) or "(?!)",


def pack_of(w):
    return PACKS[w.pack]


def pack_data(w):
    return f"results/data/{pack_of(w).dataset}.pt"


def pack_markers(stage, consumer, datasets=None):
    """The markers of every pack holding a run the consumer reads: what its tables wait for."""
    return [PACK_MARKER.format(pack=p.id, stage=stage) for p in PLAN.packs_of(consumer, datasets)]


def read_files(consumer, name, datasets=None):
    """File `name` of every row of a consumer's tables (a run once per label the consumer gives it)."""
    return [f"{run.run_dir}/{name}" for run, _ in PLAN.reads(consumer, datasets)]


def read_labels(consumer, datasets=None):
    """The label of each row of read_files: each consumer's tables name a run by its own label."""
    return [label for _, label in PLAN.reads(consumer, datasets)]


def relocated(consumer, dataset):
    """[dataset, label, β, seed, run dir] of the consumer's rows whose folder is not their label (figures)."""
    return [[run.dataset, label, float(run.beta), run.seed, run.run_dir]
            for run, label in PLAN.reads(consumer, [dataset]) if run.folder != label]


# Each consumer of runs (reconloss.plan.runs: the grid, the claims) has its tables and figures, under
# its own root, from the runs it reads, each under the consumer's own label.
CONSUMER_ROOT = {"grid": "results", "claims": "results/claims"}
CONSUMER_RULES = {
    "grid": {"tables": "tables", "figures": "dataset_figures", "claims": "claims_table"},
    "claims": {"tables": "claims_tables", "figures": "claims_figures", "claims": "claims_verdicts"},
}
CONSUMER_TITLE = {"grid": "", "claims": " (the claims' own runs)"}


def table_outputs(consumer):
    """{name_fmt: path} of a consumer's tables; the report shows HTML inline and offers the CSV as a download."""
    out = {}
    for name, caption, title in (("summary", "table_summary", "summary: one row per run"),
                                 ("best", "table_best", "best beta per likelihood")):
        for fmt in ("csv", "html", "md", "tex"):
            path = f"{CONSUMER_ROOT[consumer]}/tables/{name}.{fmt}"
            if fmt in ("csv", "html"):
                path = report(path, caption=f"../report/{caption}.rst", category="Tables",
                              labels={"table": f"{title}{CONSUMER_TITLE[consumer]}", "format": fmt})
            out[f"{name}_{fmt}"] = path
    return out


def figure_outputs(consumer):
    out = {}
    for stem in FIGURE_STEMS:
        category, title = FIGURE_REPORT[stem]
        out[stem] = report(
            f"{CONSUMER_ROOT[consumer]}/figures/{stem}_{{dataset}}.png",
            caption=f"../report/{stem}.rst",
            category=category,
            subcategory="{dataset}",
            labels={"figure": f"{title}{CONSUMER_TITLE[consumer]}", "dataset": "{dataset}"},
        )
    return out


def dataset_markers(consumer):
    return lambda w: pack_markers("evaluated", consumer, [w.dataset])


def relocated_json(consumer):
    return lambda w: as_json(relocated(consumer, w.dataset))


def merged(section, dataset):
    return _runs.merged(config, section, dataset)


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def data_settings(dataset):
    data = config["data"]  # complete: the Snakefile filled in the defaults of reconloss.settings
    return {
        "mirrors": data["mirrors"].get(dataset),
        "test_fraction": data["test_fraction"],
        "split_seed": data["split_seed"],
    }


def pack_runs(stage):
    """params: the pack's runs as one JSON string, [{"run_dir", "settings"}, ...]; evaluate adds its settings."""

    def runs(w):
        out = []
        for run in pack_of(w).runs:
            settings = run.job_settings()
            if stage == "evaluate":
                settings["evaluate"] = merged("evaluate", run.dataset)
            out.append({"run_dir": run.run_dir, "settings": settings})
        return as_json(out)

    return runs


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
def pack_mem_mb(base, per_run):
    from reconloss.plan import sizes

    def mem(w, attempt):
        pack = pack_of(w)
        s = pack.runs[0].settings
        scale = DATASET_SCALE.get(pack.dataset, 4)
        shape = sizes.DATA_SHAPES.get(pack.dataset)
        state = 0
        if shape is not None:
            n = sizes.parameter_count(shape, s["likelihood_name"], s["model"], s["train"]["latent_dim"])
            state = sizes.train_host_mb(n, len(pack.runs), on_cpu=s["train"]["device"] == "cpu")
        return ((base + per_run * len(pack.runs)) * scale + state) * attempt

    return mem


def pack_mem_flat(base):
    return lambda w, attempt: base * DATASET_SCALE.get(pack_of(w).dataset, 4) * attempt


def pack_runtime_min(base):
    def runtime(w, attempt):
        pack = pack_of(w)
        return math.ceil(base * DATASET_SCALE.get(pack.dataset, 4) * attempt * max(1.0, len(pack.runs) / 4))

    return runtime


# The FID classifiers of a dataset (classifier.count): classifier 0 as before, then c~{k}/.
from reconloss.settings import defaults as _setting_defaults


def classifier_count(dataset):
    """classifier.count of the dataset: how many FID classifiers it trains."""
    return int(merged("classifier", dataset).get("count") or _setting_defaults("classifier")["count"])


def classifier_dirs(dataset):
    """The dataset's classifier folders, classifier 0 first: results/classifier/{dataset}, then its c~{k}/."""
    base = f"results/classifier/{dataset}"
    return [base] + [f"{base}/c~{k}" for k in range(1, classifier_count(dataset))]


def pack_classifier_files(name):
    """Input function of a pack job: file `name` of every classifier of its dataset."""
    return lambda w: [f"{d}/{name}" for d in classifier_dirs(pack_of(w).dataset)]


def classifier_train_settings(w, k=0):
    """The classifier job's settings: the section without `count` (classifier 0's stay what they were
    before there were several), and seed + k for classifier k."""
    s = {key: v for key, v in classifier_settings(w).items() if key != "count"}
    if k:
        s["seed"] = int(s.get("seed") or 0) + k
    return s
