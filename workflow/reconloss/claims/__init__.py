"""The study's claims, each decided by the runs it names: a verdict computed, never typed.

A claim (reconloss.claims.claim.Claim) is one object: the study's sentence, the
runs that decide it, the quantity, the rule and the figure. The claims live by
topic: cb (what CB's images show, its range, float32), fid (Bernoulli against CB
over β), gaussian (fixed, learned and optimal σ), beta. Their statistics have one
home, reconloss.claims.evidence; the runs they need, reconloss.claims.plan.

A verdict is "holds" or "does not hold" only when the evidence decides: the rule
(evidence.VERDICT_RULE) says "inconclusive", with the reason, where seeds are too
few, a level has not settled, a best β lies at its grid's edge, or an interval
straddles its margin; "not tested" where the runs are missing. Each rule is tested
on fabricated summaries, including the cases a careless rule would call "holds".
Torch-free: pandas and scipy only.
"""

import argparse
import json
from pathlib import Path

from reconloss.claims import beta, cb, fid, gaussian
from reconloss.claims.evidence import VERDICT_RULE, VERDICTS  # noqa: F401  (the rule is part of the contract)
from reconloss.io import atomic_path

#: Every claim, in the order of claims.md.
CLAIMS = [*cb.CLAIMS, *fid.CLAIMS, *gaussian.CLAIMS, *beta.CLAIMS]
assert len({c.id for c in CLAIMS}) == len(CLAIMS)
#: The figure where a reader sees each claim's evidence (a reconloss.figures stem, or analytic/<stem>).
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


def specs_for(config):
    """{label: spec} of every label a configuration runs: the grid's labels and the claims' own."""
    from reconloss.claims.plan import plan

    claim_specs = {label: entry["spec"] for labels in plan(CLAIMS, config).values() for label, entry in labels.items()}
    return {**claim_specs, **grid_specs(config)}


def claims_only(config):
    """A configuration of claims alone: no grid (its results are the claims' own, under results/claims/)."""
    return not config.get("likelihoods") and not config.get("variants")


def claims_frame(summary, specs=None, only=None):
    """One row per (dataset, claim), in the summary's dataset order; `only`: claim ids (None: all)."""
    import pandas as pd

    from reconloss.claims.plan import selected

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


def markdown(frame):
    """claims.md: the rule, then one section per claim and dataset with every field a reader needs."""
    lines = ["# Claims", "", VERDICT_RULE, "", "Rules in full: reconloss/claims/.", ""]
    lines += ["| dataset | claim | verdict |", "| --- | --- | --- |"]
    lines += [f"| {r.dataset} | [{r.claim}](#{r.dataset}-{r.claim}) | **{r.verdict}** |" for r in frame.itertuples()]
    for r in frame.itertuples():
        lines += ["", f'<a id="{r.dataset}-{r.claim}"></a>', f"## {r.dataset}: {r.claim} — {r.verdict}", "",
                  f"> {r.statement}", "", f"- **Runs needed:** {r.needs}", f"- **Quantity:** {r.quantity}",
                  f"- **Rule:** {r.rule}", f"- **Numbers:** {r.numbers or '—'}", f"- **Runs:** {r.runs or '—'}",
                  f"- **Verdict:** {r.verdict} ({r.reason or 'no reason given'})", f"- **Figure:** {r.figure}"]
    return "\n".join(lines) + "\n"


def write_claims(frame, out_dir):
    """claims.csv, claims.md and claims.html (the report shows HTML inline)."""
    from reconloss.tables import _html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {
        "csv": lambda p: frame.to_csv(p, index=False),
        "md": lambda p: p.write_text(markdown(frame)),
        "html": lambda p: p.write_text(_html(frame, "reconloss: claims", VERDICT_RULE)),
    }
    paths = []
    for ext, write in writers.items():
        with atomic_path(out_dir / f"claims.{ext}") as tmp:
            write(tmp)
        paths.append(out_dir / f"claims.{ext}")
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss claims", description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True, help="summary.csv of the tables rule")
    parser.add_argument("--specs", default="{}", help="JSON {label: {likelihood, options, train}} of the runs")
    parser.add_argument("--only", default=None, help="JSON list of claim ids (default: all)")
    parser.add_argument("--out-dir", required=True, help="directory for claims.{csv,md,html}")
    args = parser.parse_args(argv)
    import pandas as pd

    only = json.loads(args.only) if args.only else None
    frame = claims_frame(pd.read_csv(args.summary), json.loads(args.specs), only)
    for path in write_claims(frame, args.out_dir):
        print(f"claims: wrote {path}")
