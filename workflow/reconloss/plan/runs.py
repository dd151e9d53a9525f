"""The runs a list of claims needs: the union of their needs, per dataset and label (torch-free).

`snakemake claims` trains exactly these, under results/claims/runs/, one pack
per (dataset, label, β) with the claims' seeds as its members. A run that two
claims need is trained once, for the larger of their epoch counts; the
configuration's `claims.max_epochs` caps every count (a cut-down run).
"""

from reconloss.claims import CLAIMS, grid_specs
from reconloss.claims.claim import selected, spec_of
from reconloss.plan.sizes import DATA_SHAPES


def beta_label(beta):
    """The canonical text of a β in paths, as the grid writes it: 1 -> '1', 0.1 -> '0.1'."""
    return f"{float(beta):g}"


def plan(claims, config):
    """{dataset: {label: {"spec": {likelihood, options, train}, "epochs": {β label: epochs}}}}; a claim
    that applies to some data sets only (Claim.channels: the colour claims) is planned there alone."""
    settings = config.get("claims") or {}
    cap = settings.get("max_epochs")
    out = {}
    for dataset in config["datasets"]:
        per_label = out.setdefault(dataset, {})
        for claim in selected(claims, settings.get("only")):
            if not claim.applies_to(DATA_SHAPES.get(dataset)):
                continue
            for need in claim.needs:
                epochs = min(need.epochs, cap) if cap else need.epochs
                entry = per_label.setdefault(need.label, {"spec": spec_of(need.label, config), "epochs": {}})
                for beta in need.betas:
                    key = beta_label(beta)
                    entry["epochs"][key] = max(entry["epochs"].get(key, 0), epochs)
    return out


def packs(plan_):
    """[(dataset, label, β label)]: one pack per cell, its members the claims' seeds."""
    return [(d, label, b) for d, labels in plan_.items() for label, entry in labels.items() for b in entry["epochs"]]


def specs_for(config):
    """{label: spec} of every label a configuration runs: the grid's labels and the claims' own."""
    claim_specs = {label: entry["spec"] for labels in plan(CLAIMS, config).values() for label, entry in labels.items()}
    return {**claim_specs, **grid_specs(config)}
