"""The runs a configuration trains, for the grid and the claims alike, and the packs they train in (torch-free).

A run's identity is its key: the data set, the resolved settings of its label (likelihood,
options, train settings less `epochs`, model), β and seed. A label alone is not an identity:
the claims train `gaussian_fixed` unclipped, a grid may clip it. Two consumers ask for runs:
the grid (`likelihoods` and `variants` × `betas` × `seeds`) and the claims (the union of what the
selected claims need, reconloss.claims). A key that both ask for is one run, trained once and
read by both, each consumer's tables showing it under the consumer's own label.

Epochs are not part of the key: a run trains to the most epochs any consumer asks for (the
claims' `claims.max_epochs` caps theirs), and raising them later continues it from its checkpoint
(reconloss.training.train resumes). The runs one consumer asks for at one epoch count (a label's
β sweep, the labels one claim compares) stay at one count: where another consumer raises some of them, all are raised
(_even_out), so no consumer compares runs trained for different lengths. The follow-up rounds'
runs (`claims.follow_ups`, reconloss.plan.follow_up) are the claims' too.

Results layout: RUNS_ROOT/{dataset}/{folder}/beta~{β}/seed~{seed}. The folder of a run is the
label of the first consumer that asks for its settings on that data set (the grid before the
claims, each in its own order). Where that label already names other settings on the data set
(paper.yaml's grid clips `gaussian_fixed`, the claims do not), the folder is `{label}.{consumer}`.

Packs: the runs of one (data set, folder) that differ only along `pack.vary`, have the same
owner (the first consumer that reads them) and train to the same epochs form one pack: one train and one evaluate job, which the
workflow tracks by a marker per pack (results/packs/{pack id}.{trained,evaluated}), as a pack's
membership is the planner's to decide, not a pattern of file names. The train job stacks at
most `pack.max_runs` runs at a time.
"""

import json
from dataclasses import dataclass, field

from reconloss.claims import CLAIMS, grid_specs
from reconloss.claims.claim import selected, spec_of
from reconloss.plan.sizes import DATA_SHAPES

RUNS_ROOT = "results/runs"
CONSUMERS = ("grid", "claims")
AXES = ("beta", "seed")


def beta_label(beta):
    """The canonical text of a β in paths and labels: 1 -> '1', 0.1 -> '0.1', 1e-05 -> '1e-05'."""
    return f"{float(beta):g}"


def merged(config, section, dataset):
    """config[section] with the data set's overrides (`dataset_settings`) on top."""
    return {**(config.get(section) or {}),
            **((config.get("dataset_settings") or {}).get(dataset, {}).get(section) or {})}


def resolved(config, dataset, spec):
    """The settings of a label on a data set that identify its runs (train less `epochs`) and its epochs."""
    train = {**merged(config, "train", dataset), **spec.get("train", {})}
    epochs = train.pop("epochs", None)
    return {"likelihood_name": spec["likelihood"], "likelihood_options": dict(spec.get("options", {})),
            "train": train, "model": merged(config, "model", dataset)}, epochs


@dataclass
class Run:
    """One run: its key's parts, its folder, the epochs it trains to and the label each consumer reads it by."""

    dataset: str
    settings: dict  # likelihood_name, likelihood_options, train (less epochs), model
    beta: str  # beta_label
    seed: int
    folder: str = ""
    epochs: int = 0
    labels: dict = field(default_factory=dict)  # {consumer: [label, ...]}: a label collision is one run

    @property
    def key(self):
        return self.dataset, _canonical(self.settings), self.beta, self.seed

    @property
    def run_dir(self):
        return f"{RUNS_ROOT}/{self.dataset}/{self.folder}/beta~{self.beta}/seed~{self.seed}"

    def job_settings(self):
        """What one training needs, and nothing else (a change reruns the run): as the train job receives it."""
        train = {**self.settings["train"], "epochs": self.epochs}
        return {"dataset": self.dataset, "likelihood": self.folder, "likelihood_name": self.settings["likelihood_name"],
                "likelihood_options": self.settings["likelihood_options"], "beta": float(self.beta),
                "seed": self.seed, "train": train, "model": self.settings["model"]}


@dataclass
class Pack:
    """Runs trained as one stacked model and evaluated in one job; `id` names its jobs, logs and markers."""

    id: str  # {dataset}/{folder}[/beta~{β}][/seed~{s}: the axes pack.vary leaves out]/{owner}-e{epochs}
    runs: list

    @property
    def dataset(self):
        return self.runs[0].dataset


def _canonical(obj):
    return json.dumps(obj, sort_keys=True)


def demands(config, claims=CLAIMS):
    """(consumer, dataset, label, spec, β label, seed, epochs, claim id or None) of every run a consumer asks for,
    in order: the claim id ties the runs one claim compares (its needs at one epoch count train alike)."""
    grid = grid_specs(config)
    for dataset in config["datasets"]:
        for label, spec in grid.items():
            epochs = resolved(config, dataset, spec)[1]
            for beta in config.get("betas") or []:
                for seed in config.get("seeds") or []:
                    yield "grid", dataset, label, spec, beta_label(beta), int(seed), epochs, None
    settings = config.get("claims") or {}
    cap = settings.get("max_epochs")
    own_seeds = [int(s) for s in settings.get("seeds") or []]
    for dataset in config["datasets"]:
        for claim in selected(claims, settings.get("only")):
            if not claim.applies_to(DATA_SHAPES.get(dataset)):
                continue  # a claim about colour images (Claim.channels) is planned on RGB data sets alone
            for need in claim.needs:
                spec = spec_of(need.label, config)
                epochs = min(need.epochs, cap) if cap else need.epochs
                more = getattr(need, "seeds", None) or 0
                seeds = own_seeds + [s for s in range(more) if s not in own_seeds]
                for beta in need.betas:
                    for seed in seeds:
                        yield "claims", dataset, need.label, spec, beta_label(beta), seed, epochs, claim.id
        # the follow-up rounds' runs (reconloss.plan.follow_up), read by the claims like their own
        for extra in settings.get("follow_ups") or []:
            if extra["dataset"] != dataset:
                continue
            spec = spec_of(extra["label"], config)
            epochs = min(extra["epochs"], cap) if cap else extra["epochs"]
            seeds = own_seeds + [s for s in range(extra["seeds"]) if s not in own_seeds]
            for beta in extra["betas"]:
                for seed in seeds:
                    yield "claims", dataset, extra["label"], spec, beta_label(beta), seed, epochs, None


class Plan:
    """Every run of a configuration, keyed by identity, with its folder, epochs, consumers and pack."""

    def __init__(self, config, claims=CLAIMS):
        self.config = config
        self.runs = {}  # key -> Run, in the order first asked for
        folders = {}  # (dataset, canonical settings) -> folder
        owners = {}  # (dataset, folder) -> canonical settings
        asked = {}  # (consumer, dataset, label or claim id, epochs asked) -> keys of the runs asked for at them
        for consumer, dataset, label, spec, beta, seed, epochs, claim_id in demands(config, claims):
            settings = resolved(config, dataset, spec)[0]
            run = Run(dataset, settings, beta, seed)
            ident = (dataset, _canonical(settings))
            if ident not in folders:
                folder = label if (dataset, label) not in owners else f"{label}.{consumer}"
                if (dataset, folder) in owners:
                    raise ValueError(f"{dataset}: labels {label!r} and {folder!r} both name other settings")
                folders[ident], owners[(dataset, folder)] = folder, ident[1]
            run = self.runs.setdefault(run.key, run)
            run.folder = folders[ident]
            run.epochs = max(run.epochs, int(epochs))
            labels = run.labels.setdefault(consumer, [])
            if label not in labels:
                labels.append(label)
            asked.setdefault((consumer, dataset, label, int(epochs)), set()).add(run.key)
            if claim_id is not None:
                asked.setdefault((consumer, dataset, ("claim", claim_id), int(epochs)), set()).add(run.key)
        _even_out(self.runs, asked)
        vary = [a for a in AXES if a in (config.get("pack") or {}).get("vary", AXES)]
        self.packs = _packs(self.runs.values(), vary)

    def of(self, consumer, datasets=None):
        """The runs a consumer reads, in plan order (optionally of some data sets only)."""
        return [r for r in self.runs.values() if consumer in r.labels and (datasets is None or r.dataset in datasets)]

    def reads(self, consumer, datasets=None):
        """[(run, label)]: every row of a consumer's tables, a run once per label the consumer gives it."""
        return [(r, label) for r in self.of(consumer, datasets) for label in r.labels[consumer]]

    def specs(self, consumer):
        """{label: {likelihood, options, train}} of a consumer's labels (train: the label's own overrides)."""
        if consumer == "grid":
            return grid_specs(self.config)
        return {label: spec_of(label, self.config) for r in self.of("claims") for label in r.labels["claims"]}

    def packs_of(self, consumer, datasets=None):
        """The packs holding a consumer's runs (optionally of some data sets only)."""
        return [p for p in self.packs if any(consumer in r.labels for r in p.runs)
                and (datasets is None or p.dataset in datasets)]


def _even_out(runs, asked):
    """Runs one consumer asked for at one epoch count end at one epoch count.

    A run trains to the most epochs any consumer asks for, so where another consumer raises some of
    them (config.yaml's grid trains Bernoulli at β 0.1 and 1 for 100 epochs, the claims' sweep asks
    16 at five β), the consumer would compare runs of unequal training over β. A group is a label's
    runs at one epoch count, and a claim's runs at one epoch count (a claim compares its labels at
    equal training: paper.yaml's grid trains the Beta at β 1 for 100 epochs, and the Beta without
    its trick must follow). So every run of a group is raised to the group's most, until nothing
    changes (a raise can reach other groups)."""
    changed = True
    while changed:
        changed = False
        for keys in asked.values():
            most = max(runs[k].epochs for k in keys)
            for k in keys:
                if runs[k].epochs < most:
                    runs[k].epochs, changed = most, True


def _packs(runs, vary):
    """One pack per (dataset, folder, unvaried axes, owner, epochs); members sorted by β, then seed.

    A run's owner is the first consumer that reads it: the grid's target never trains a run only
    the claims read, and the grid's runs of one label stay one pack (the claims' target trains a grid
    pack whole where it reads some of its runs). Runs that differ in epochs train apart (a stack
    trains to one epoch count)."""
    groups = {}
    for r in runs:
        parts = [f"{a}~{getattr(r, a)}" for a in AXES if a not in vary]
        owner = next(c for c in CONSUMERS if c in r.labels)
        groups.setdefault("/".join([r.dataset, r.folder, *parts, f"{owner}-e{r.epochs}"]), []).append(r)
    return [Pack(pid, sorted(members, key=lambda r: (float(r.beta), r.seed))) for pid, members in groups.items()]


def specs_for(config):
    """{label: spec} of every label a configuration runs: the grid's labels and the claims' own."""
    plan_ = Plan(config)
    return {**plan_.specs("claims"), **plan_.specs("grid")}
