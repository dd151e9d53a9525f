"""The study's claims, each decided by the runs it names: a verdict computed, never typed.

A claim (reconloss.claims.claim.Claim) is one object: the study's sentence, the
runs that decide it, the quantity, the rule and the figure. The claims live by
topic: cb (what CB's images show, its range, float32), fid (Bernoulli against CB
over β), gaussian (fixed, learned and optimal σ), beta, choice (which likelihood
to choose), scores (what image measures see), sigma (σ beyond fixed and learned), colour (CB on
RGB images). Their statistics have one home, reconloss.claims.evidence; the runs they need,
reconloss.plan.runs.

A verdict is "holds" or "does not hold" only when the evidence decides: the rule
(evidence.VERDICT_RULE) says "inconclusive", with the reason, where seeds are too
few, a level has not settled, a best β lies at its grid's edge, or an interval
straddles its margin; "not tested" where the runs are missing. Each rule is tested
on fabricated summaries, including the cases a careless rule would call "holds".
Torch-free: pandas and scipy only.

Each row of claims_frame also carries:

- `follow_up`: "" or JSON text naming why an inconclusive verdict is inconclusive in a way more runs can
  fix, for a follow-up planner (reconloss.claims.followup): {"kind": "edge", "label", "beta", "side",
  "grid"} (a best β at its grid's edge: which side), {"kind": "neighbours", "label", "betas": [lo, hi]}
  (neighbouring β within noise), {"kind": "straddles", "comparison", "labels", "betas"} (an interval
  straddles its margin: which comparison), {"kind": "unsettled", "label", "beta"} (a level still moving).
  A verdict other than "inconclusive" always has "".
- `classifiers`: for a FID claim judged under several FID classifiers, each one's verdict ("c0: holds;
  c1: inconclusive"); the numbers then show each classifier's values (their spread).

A summary with two rows of one (dataset, label, β, seed) is refused with an error naming them; finished
runs with a non-finite value a claim reads are named in that claim's `runs`.
"""

from reconloss.claims import beta, cb, choice, colour, evidence, fid, followup, gaussian, scores, sigma
from reconloss.claims.claim import selected
from reconloss.claims.inventory import ANALYTIC, INVENTORY, RUNS, UNTESTABLE
from reconloss.claims.evidence import VERDICT_RULE, VERDICTS, verdict_rule  # noqa: F401  (the rule is the contract)

#: Every claim, in the order of claims.md.
CLAIMS = [*cb.CLAIMS, *fid.CLAIMS, *gaussian.CLAIMS, *beta.CLAIMS, *choice.CLAIMS, *scores.CLAIMS,
          *sigma.CLAIMS, *colour.CLAIMS]
assert len({c.id for c in CLAIMS}) == len(CLAIMS)
#: The figure where a reader sees each claim's evidence (a reconloss.report.figures stem, or analytic/<stem>).
CLAIM_FIGURES = {c.id: c.figure for c in CLAIMS}


def figure_file(figure, dataset):
    """(path under results/figures, path from docs/study/{dataset}/) of a claim's figure: the dataset's own,
    or an analytic one (study-docs keeps those once, in docs/study/analytic/)."""
    if not figure:
        return "", ""
    if figure.startswith("analytic/"):
        name = figure.split("/", 1)[1] + ".png"
        return f"analytic/{name}", f"../analytic/{name}"
    return f"{figure}_{dataset}.png", f"{figure}_{dataset}.png"


COLUMNS = ["dataset", "claim", "statement", "needs", "quantity", "rule", "numbers", "runs", "verdict", "reason",
           "figure", "follow_up", "classifiers", "section"]


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


def _sections(claim_id):
    """The post's sections whose statements a claim judges (from the inventory)."""
    return ", ".join(dict.fromkeys(e.section for e in INVENTORY if e.claim == claim_id))


def inventory_rows():
    """The row fields of every inventory entry that no registered claim judges: an analytic check's computed
    numbers and verdict, "not testable here" with what is missing, or "not tested" where the claim that should
    judge it is not registered (its rule lives elsewhere)."""
    from reconloss.claims import analytic_checks

    registered = {c.id for c in CLAIMS}
    rows = []
    for e in INVENTORY:
        if e.claim in registered:
            continue
        row = {"claim": e.id, "statement": e.says, "needs": "none (analytic)", "quantity": "—", "rule": "—",
               "numbers": "", "runs": "", "figure": "", "section": e.section}
        if e.treatment == ANALYTIC:
            row.update(analytic_checks.run(e.check))
        elif e.treatment == UNTESTABLE:
            row.update(needs="—", rule="no run or computation here can decide it", verdict=UNTESTABLE,
                       reason=f"missing: {e.missing}")
        else:
            assert e.treatment == RUNS
            row.update(needs="—", verdict="not tested", reason=f"no rule for claim {e.claim} is registered")
        rows.append((e.id, row))
    return rows


def claims_frame(summary, specs=None, only=None, looks=1):
    """One row per (dataset, claim) and per inventory entry no claim judges (reconloss.claims.inventory), in the
    summary's dataset order; `only`: claim or inventory ids (None: all); `looks`: how many times the claims are
    judged (1 + the follow-up rounds that may run): every α is split over them (evidence.looks), and each row's
    rule says so."""
    with evidence.looks(looks):
        return _frame(summary, specs, only, looks)


def _frame(summary, specs, only, looks):
    import pandas as pd

    from reconloss.claims.runs import NONFINITE, duplicated_runs, nonfinite_text

    extra = inventory_rows()
    if only is not None:
        entries = {i for i, _ in extra}
        extra = [(i, r) for i, r in extra if i in set(only)]
        only = [i for i in only if i not in entries]

    specs = dict(specs or {})
    summary = summary.copy()
    duplicated_runs(summary)
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
            rule = claim.rule if looks == 1 else (f"{claim.rule} (every α split over {looks} looks, Bonferroni: "
                                                  f"tests at α {evidence.alpha():.3g})")
            row = {"dataset": dataset, "claim": claim.id, "statement": claim.statement, "needs": claim.needs_text(),
                   "quantity": claim.quantity, "rule": rule, "numbers": "", "runs": "", "reason": "",
                   "figure": claim.figure, "follow_up": "", "classifiers": "", "section": _sections(claim.id)}
            found = set()
            token = NONFINITE.set(found)
            try:
                row.update(claim.test(df, specs))
            finally:
                NONFINITE.reset(token)
            if found:
                row["runs"] = "; ".join(t for t in (row["runs"], nonfinite_text(found)) if t)
            assert row["verdict"] in VERDICTS, row
            row["follow_up"] = followup.text(row["follow_up"]) if row["verdict"] == "inconclusive" else ""
            rows.append(row)
        for _, fields in extra:
            assert fields["verdict"] in VERDICTS, fields
            rows.append({"dataset": dataset, "follow_up": "", "classifiers": "", **fields})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.attrs["verdict_rule"] = evidence.verdict_rule(looks)  # the rule these verdicts followed, split stated
    return frame
