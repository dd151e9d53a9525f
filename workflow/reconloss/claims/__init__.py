"""The study's claims, each decided by the runs it names: a verdict computed, never typed.

A claim (reconloss.claims.claim.Claim) is one object: the study's sentence, the
runs that decide it, the quantity, the rule and the figure. The claims live by
topic: cb (what CB's images show, its range, float32), fid (Bernoulli against CB
over β), gaussian (fixed, learned and optimal σ), beta, colour (CB on RGB
images). Their statistics have one home, reconloss.claims.evidence; the runs they
need, reconloss.plan.runs.

A verdict is "holds" or "does not hold" only when the evidence decides: the rule
(evidence.VERDICT_RULE) says "inconclusive", with the reason, where seeds are too
few, a level has not settled, a best β lies at its grid's edge, or an interval
straddles its margin; "not tested" where the runs are missing. Each rule is tested
on fabricated summaries, including the cases a careless rule would call "holds".
Torch-free: pandas and scipy only.
"""

from reconloss.claims import beta, cb, colour, fid, gaussian
from reconloss.claims.claim import selected
from reconloss.claims.evidence import VERDICT_RULE, VERDICTS  # noqa: F401  (the rule is part of the contract)

#: Every claim, in the order of claims.md.
CLAIMS = [*cb.CLAIMS, *fid.CLAIMS, *gaussian.CLAIMS, *beta.CLAIMS, *colour.CLAIMS]
assert len({c.id for c in CLAIMS}) == len(CLAIMS)
#: The figure where a reader sees each claim's evidence (a reconloss.report.figures stem, or analytic/<stem>).
CLAIM_FIGURES = {c.id: c.figure for c in CLAIMS}


def figure_file(figure, dataset):
    """(path under results/figures, path from docs/study/{dataset}/) of a claim's figure: the dataset's own,
    or an analytic one (study-docs keeps those once, in docs/study/analytic/)."""
    if figure.startswith("analytic/"):
        name = figure.split("/", 1)[1] + ".png"
        return f"analytic/{name}", f"../analytic/{name}"
    return f"{figure}_{dataset}.png", f"{figure}_{dataset}.png"


COLUMNS = ["dataset", "claim", "statement", "needs", "quantity", "rule", "numbers", "runs", "verdict", "reason",
           "figure"]


def grid_specs(config):
    """{label: {likelihood, options, train}} of an effective configuration, as the rules resolve labels."""
    common = config.get("likelihood_options", {})
    specs = {name: {"likelihood": name, "options": dict(common.get(name, {})), "train": {}}
             for name in config.get("likelihoods") or []}
    for label, variant in (config.get("variants") or {}).items():
        name = variant["likelihood"]
        specs[label] = {"likelihood": name, "options": {**common.get(name, {}), **variant.get("options", {})},
                        "train": dict(variant.get("train", {}))}
    return specs




def claims_only(config):
    """A configuration of claims alone: no grid (its results are the claims' own, under results/claims/)."""
    return not config.get("likelihoods") and not config.get("variants")


def claims_frame(summary, specs=None, only=None):
    """One row per (dataset, claim), in the summary's dataset order; `only`: claim ids (None: all)."""
    import pandas as pd

    specs = dict(specs or {})
    summary = summary.copy()
    if "likelihood_name" not in summary:
        summary["likelihood_name"] = summary["likelihood"]
    summary["likelihood_name"] = summary["likelihood_name"].fillna(summary["likelihood"])
    if "outcome" not in summary:
        summary["outcome"] = summary["status"]
    for label in set(summary["likelihood"]) - set(specs):
        specs[label] = {"likelihood": summary.loc[summary["likelihood"] == label, "likelihood_name"].iloc[0]}
    rows = []
    for dataset in dict.fromkeys(summary["dataset"]):
        df = summary[summary["dataset"] == dataset]
        for claim in selected(CLAIMS, only):
            row = {"dataset": dataset, "claim": claim.id, "statement": claim.statement, "needs": claim.needs_text(),
                   "quantity": claim.quantity, "rule": claim.rule, "numbers": "", "runs": "", "reason": "",
                   "figure": claim.figure}
            row.update(claim.test(df, specs))
            assert row["verdict"] in VERDICTS, row
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
