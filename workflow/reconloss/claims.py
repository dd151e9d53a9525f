"""The study's claims, each tested against the summary table with a computed verdict.

One row per claim and dataset (claims.csv, claims.md): the claim in one
sentence, the quantity that tests it, its numbers (mean ± std over seeds, n =
seeds counted) and a verdict that the code computes, never a person:

- ``not tested``: the grid lacks the runs the claim needs (the row names them).
- ``holds`` / ``does not hold``: the evidence is clear one way.
- ``inconclusive``: runs exist but the evidence is not clear.

When evidence is clear (the rule, applied to per-seed values; a seed's value is
the mean over the β values its claim uses):

- A difference of means is *clear* when both sides have ≥ 2 seeds and
  |difference| > Z = 2 standard errors (√(s_a²/n_a + s_b²/n_b)); a heuristic
  two-SE rule, not a significance test. With 1 seed on either side there is no
  spread to judge by, so the difference is clear only when overwhelming: FIDs,
  σ and FID ranges differ by a factor ≥ 2 (compared as logs), intensity levels by
  ≥ 0.1 (a tenth of [0, 1]).
- "Similar" (equivalence) *holds* only with ≥ 2 seeds each and
  |difference| + 2 SE within the tolerance (FIDs within 15 %, learned σ within a
  factor 1.25 of √MSE); it *does not hold* when the difference is clear and
  beyond the tolerance; anything else is inconclusive. So 1 seed never proves
  similarity, and a wide seed spread never passes for agreement.
- Outcomes are events, not measurements: a diverged or collapsed run counts as
  such with 1 seed.

How runs enter: every run of the grid is counted in the row's `runs` column.
Diverged runs have no images or FID; collapsed runs (reconloss.outcome) have
meaningless ones. Both are left out of level and FID means, and count against
every claim about stability: robustness to β imputes them twice the dataset's
worst finished FID (worse than any run that finished), the per-pixel optimal σ
counts them as failures, a fixed-σ pair where one side trains and the other
never does disagrees, and a likelihood
with no finished run at a β cannot win there. Torch-free: pandas only.
"""

import argparse
import json
import math
from pathlib import Path

from reconloss.claims_evidence import (  # noqa: F401  (re-exported: the rule is part of this module's contract)
    OVERWHELMING_LEVEL, OVERWHELMING_RATIO, SIMILAR_FID, TRACK_TOLERANCE, VERDICT_RULE, VERDICTS, Z, Stat, clear,
    within,
)
from reconloss.io import atomic_path

COLUMNS = ["dataset", "claim", "statement", "quantity", "numbers", "runs", "verdict", "reason"]
CB, BERNOULLI = "continuous_bernoulli", "bernoulli"


def _log(v):
    return math.log(v) if v is not None and v > 0 and math.isfinite(v) else math.nan


# ---- selecting runs ---------------------------------------------------------------------------------


def _runs(df, label):
    return df[df["likelihood"] == label]


def _ok(df, *columns):
    """Runs that finished usefully (outcome ok) with every column finite."""
    ok = df[df["outcome"] == "ok"]
    for c in columns:
        ok = ok.loc[ok[c].map(lambda v: v is not None and math.isfinite(float(v))).astype(bool)]
    return ok


def _per_seed(df, value):
    """Stat over seeds of the mean over β of value(row)."""
    per = {}
    for _, row in df.iterrows():
        v = value(row)
        if math.isfinite(v):
            per.setdefault(int(row["seed"]), []).append(v)
    return Stat([sum(vs) / len(vs) for vs in per.values()])


def run_counts(df, label):
    d = _runs(df, label)
    n = {o: int((d["outcome"] == o).sum()) for o in ("ok", "collapsed", "diverged")}
    return f"{label}: {len(d)} runs ({n['ok']} ok, {n['collapsed']} collapsed, {n['diverged']} diverged)"


def own_labels(df, prefix=""):
    """Grid labels that run a likelihood under its own name (no variants), in grid order."""
    labels = list(dict.fromkeys(df["likelihood"]))
    names = dict(zip(df["likelihood"], df["likelihood_name"]))
    return [lab for lab in labels if names.get(lab, lab) == lab and lab.startswith(prefix)]


def _combine(parts):
    """One verdict from sub-verdicts True/False/None: any False fails, all True holds."""
    if any(p is False for p in parts):
        return "does not hold"
    return "holds" if parts and all(p is True for p in parts) else "inconclusive"


def _sign_verdict(sign, want):
    return "inconclusive" if not sign else ("holds" if sign == want else "does not hold")


def _missing(df, labels):
    return [lab for lab in labels if _runs(df, lab).empty]


def _not_tested(labels, what="runs"):
    return {"verdict": "not tested", "reason": f"the grid has no {what} of {', '.join(labels)}"}


# ---- the claims ---------------------------------------------------------------------------------------


def deficit(row):
    """How far reconstructions stay from the data's black and white: (black − data black) + (data white − white)."""
    return (float(row["black_level"]) - float(row["data_black_level"])
            + float(row["data_white_level"]) - float(row["white_level"]))


LEVELS = ("black_level", "white_level", "data_black_level", "data_white_level")


def cb_param_vs_mean(df, specs):
    if _missing(df, [CB]):
        return _not_tested([CB])
    ok = _ok(_runs(df, CB), "black_level", "white_level", "param_black_level", "param_white_level")
    black = _per_seed(ok, lambda r: r["black_level"] - r["param_black_level"])
    white = _per_seed(ok, lambda r: r["param_white_level"] - r["white_level"])
    signs = [clear(black), clear(white)]
    verdict = _combine([None if s in (None, 0) else s > 0 for s in signs])
    return {"numbers": f"black − param black {black.text()}; param white − white {white.text()}",
            "runs": run_counts(df, CB) + "; collapsed and diverged runs left out (no usable images)",
            "verdict": verdict,
            "reason": "both differences clearly > 0" if verdict == "holds" else
            "a difference is clearly < 0" if verdict == "does not hold" else "differences not clear"}


def cb_dynamic_range(df, specs):
    comparators = [lab for lab in [BERNOULLI] + own_labels(df, "gaussian_") if not _runs(df, lab).empty]
    if _missing(df, [CB]) or not comparators:
        return _not_tested([CB] if _missing(df, [CB]) else [BERNOULLI, "a Gaussian"])
    cb = _per_seed(_ok(_runs(df, CB), *LEVELS), deficit)
    signs, numbers = [], [f"{CB} {cb.text()}"]
    for lab in comparators:
        other = _per_seed(_ok(_runs(df, lab), *LEVELS), deficit)
        numbers.append(f"{lab} {other.text()}")
        signs.append(clear(cb, other))
    parts = [None if s in (None, 0) else s > 0 for s in signs]
    verdict = _combine(parts)
    return {"numbers": "; ".join(numbers),
            "runs": "; ".join(run_counts(df, lab) for lab in [CB] + comparators)
            + "; collapsed and diverged runs left out (no usable images)",
            "verdict": verdict,
            "reason": f"CB's deficit clearly larger than {sum(p is True for p in parts)} of {len(parts)} "
                      f"comparators, clearly smaller than {sum(p is False for p in parts)}"}


def _best(df, label):
    """(best β, Stat of log FID at it, {β: Stat of log FID}) over outcome-ok runs; best β None if none."""
    ok = _ok(_runs(df, label), "fid")
    by_beta = {b: Stat(g["fid"].map(_log)) for b, g in ok.groupby("beta")}
    if not by_beta:
        return None, Stat(), by_beta
    best = min(by_beta, key=lambda b: (by_beta[b].mean, b))
    return best, by_beta[best], by_beta


def _best_text(label, best, stat):
    return f"{label}: best β {best:g}, FID {stat.text(math.exp)}" if best is not None else f"{label}: no finished run"


def _fid_similar(a, b):
    return within(a, b, math.log(1 + SIMILAR_FID), math.log(OVERWHELMING_RATIO))


def _cb_beta_larger(df, cb_best, cb_by_beta, bern_best):
    """True when CB's optimum clearly lies above Bernoulli's best β, False when clearly not, None otherwise."""
    betas = sorted(set(_runs(df, CB)["beta"]))
    at_best = cb_by_beta[cb_best]

    def clearly_worse(b):  # CB at β clearly worse than at its best (no finished run: worse)
        return b not in cb_by_beta or clear(cb_by_beta[b], at_best, math.log(OVERWHELMING_RATIO)) == 1

    if cb_best > bern_best:
        return True if all(clearly_worse(b) for b in betas if b <= bern_best) else None
    larger = [b for b in betas if b > bern_best]
    return False if larger and all(clearly_worse(b) for b in larger) else None


def best_fid(df, specs):
    missing = _missing(df, [BERNOULLI, CB])
    if missing:
        return _not_tested(missing)
    bern_best, bern, _ = _best(df, BERNOULLI)
    cb_best, cb, cb_by_beta = _best(df, CB)
    numbers = f"{_best_text(BERNOULLI, bern_best, bern)}; {_best_text(CB, cb_best, cb)}"
    runs = f"{run_counts(df, BERNOULLI)}; {run_counts(df, CB)}; best β over outcome-ok runs only"
    if bern_best is None or cb_best is None:
        return {"numbers": numbers, "runs": runs, "verdict": "inconclusive", "reason": "no finished run to compare"}
    similar = _fid_similar(cb, bern)
    larger = _cb_beta_larger(df, cb_best, cb_by_beta, bern_best)
    return {"numbers": numbers, "runs": runs, "verdict": _combine([similar, larger]),
            "reason": f"FIDs within {SIMILAR_FID:.0%}: {_word(similar)}; CB's best β larger: {_word(larger)}"}


def _word(part):
    return {True: "yes", False: "no", None: "unclear"}[part]


def _log_fid_range(df, label, worst):
    """Per seed: log10(max FID / min FID) over β; runs without a usable FID take the worst FID."""
    per = {}
    for _, row in _runs(df, label).iterrows():
        fid = float(row["fid"]) if row["outcome"] == "ok" and row["fid"] is not None else math.nan
        per.setdefault(int(row["seed"]), []).append(math.log10(fid if math.isfinite(fid) and fid > 0 else worst))
    return Stat([max(v) - min(v) for v in per.values() if len(v) >= 2])


def robustness(df, specs):
    missing = _missing(df, [BERNOULLI, CB])
    if missing:
        return _not_tested(missing)
    if df["beta"].nunique() < 2:
        return {"verdict": "not tested", "reason": "the grid has one β; the claim needs at least two"}
    finished = _ok(df, "fid")["fid"]
    finished = finished[finished > 0]
    runs = (f"{run_counts(df, BERNOULLI)}; {run_counts(df, CB)}; a diverged or collapsed run takes the "
            "dataset's worst finished FID ×2")
    if finished.empty:
        return {"runs": runs, "verdict": "inconclusive", "reason": "no finished run with a FID"}
    worst = OVERWHELMING_RATIO * float(finished.max())
    cb, bern = _log_fid_range(df, CB, worst), _log_fid_range(df, BERNOULLI, worst)
    sign = clear(cb, bern, math.log10(OVERWHELMING_RATIO))
    return {"numbers": f"log10(max/min FID over β): {CB} {cb.text()}; {BERNOULLI} {bern.text()}", "runs": runs,
            "verdict": _sign_verdict(sign, -1), "reason": {None: "no value", 0: "difference not clear",
                                                            -1: "CB's range clearly smaller",
                                                            1: "CB's range clearly larger"}[sign]}


def fid_desaturation(df, specs):
    missing = _missing(df, [BERNOULLI, CB])
    if missing:
        return _not_tested(missing)
    (bern_best, bern, _), (cb_best, cb, _) = _best(df, BERNOULLI), _best(df, CB)
    runs = f"{run_counts(df, BERNOULLI)}; {run_counts(df, CB)}; each at its best β, outcome-ok runs only"
    if bern_best is None or cb_best is None:
        return {"runs": runs, "verdict": "inconclusive", "reason": "no finished run to compare"}
    at = {lab: _per_seed(_ok(_runs(df, lab)[_runs(df, lab)["beta"] == b], *LEVELS), deficit)
          for lab, b in ((CB, cb_best), (BERNOULLI, bern_best))}
    similar = _fid_similar(cb, bern)
    sign = clear(at[CB], at[BERNOULLI])
    worse = None if sign in (None, 0) else sign > 0
    return {"numbers": f"{_best_text(BERNOULLI, bern_best, bern)}; {_best_text(CB, cb_best, cb)}; "
                       f"range deficit {CB} {at[CB].text()}, {BERNOULLI} {at[BERNOULLI].text()}",
            "runs": runs, "verdict": _combine([similar, worse]),
            "reason": f"FIDs within {SIMILAR_FID:.0%}: {_word(similar)}; CB's range clearly worse: {_word(worse)}"}


def _sigma_of(spec, default_sigma):
    return float(spec.get("options", {}).get("sigma", default_sigma))


def _rest(spec):
    """Everything of a label's spec but σ: two labels pair only when the rest is the same."""
    return (spec.get("likelihood"), json.dumps({k: v for k, v in spec.get("options", {}).items() if k != "sigma"},
                                               sort_keys=True), json.dumps(spec.get("train", {}), sort_keys=True))


def default_sigma():
    from reconloss.settings import LIKELIHOOD_OPTIONS_FILE

    table = json.loads(Path(LIKELIHOOD_OPTIONS_FILE).read_text())["likelihoods"]
    return float(table["gaussian_fixed"]["sigma"]["default"])


def _pair_verdict(df, label, beta, ref, ref_beta):
    a, b = _runs(df, label), _runs(df, ref)
    a, b = a[a["beta"] == beta], b[b["beta"] == ref_beta]
    fa, fb = Stat(_ok(a, "fid")["fid"].map(_log)), Stat(_ok(b, "fid")["fid"].map(_log))
    text = f"{label} β={beta:g} FID {fa.text(math.exp)} vs {ref} β={ref_beta:g} FID {fb.text(math.exp)}"
    if (fa.n == 0) != (fb.n == 0):
        return False, text + " (one side never finished)"
    return _fid_similar(fa, fb), text


def fixed_sigma_is_beta(df, specs):
    sigma0 = default_sigma()
    present = [lab for lab in dict.fromkeys(df["likelihood"]) if lab in specs]
    fixed = [lab for lab in present if specs[lab].get("likelihood") == "gaussian_fixed"]
    variants = [lab for lab in fixed if not math.isclose(_sigma_of(specs[lab], sigma0), sigma0)]
    if not variants:
        return _not_tested(["a gaussian_fixed variant with σ ≠ √0.5"], "variant")
    parts, numbers, lacking = [], [], []
    for lab in variants:
        refs = [r for r in fixed if math.isclose(_sigma_of(specs[r], sigma0), sigma0)
                and _rest(specs[r]) == _rest(specs[lab])]
        sigma = _sigma_of(specs[lab], sigma0)
        for beta in sorted(set(_runs(df, lab)["beta"])):
            target = beta * sigma ** 2 / sigma0 ** 2  # β·2σ² for σ0 = √0.5
            hits = [(r, b) for r in refs for b in set(_runs(df, r)["beta"]) if math.isclose(b, target, rel_tol=1e-6)]
            if not hits:
                lacking.append(f"gaussian_fixed at β={target:g} (for {lab} at β={beta:g})")
                continue
            part, text = _pair_verdict(df, lab, beta, *hits[0])
            parts.append(part)
            numbers.append(text)
    if not parts:
        return {"verdict": "not tested", "reason": "the grid lacks the pairs: " + "; ".join(lacking)}
    runs = "; ".join(run_counts(df, lab) for lab in variants + [r for r in fixed if r not in variants])
    return {"numbers": "; ".join(numbers), "runs": runs + "; a pair where only one side finishes disagrees",
            "verdict": _combine(parts),
            "reason": f"{len(parts)} pairs: {sum(p is True for p in parts)} agree within {SIMILAR_FID:.0%}, "
                      f"{sum(p is False for p in parts)} clearly differ" + (f"; {len(lacking)} unpaired" if lacking else "")}


def optimal_pixel_vs_image(df, specs):
    pix, img = "gaussian_optimal_pixel", "gaussian_optimal_image"
    missing = _missing(df, [pix, img])
    if missing:
        return _not_tested(missing)
    unstable, stable, image_fails = [], [], []
    for beta in sorted(set(_runs(df, pix)["beta"])):
        p, i = _runs(df, pix), _runs(df, img)
        p, i = p[p["beta"] == beta], i[i["beta"] == beta]
        ref = Stat(_ok(i, "fid")["fid"]).mean
        events = p["outcome"].isin(["diverged", "collapsed"])
        far = p["fid"].map(lambda f: f is not None and math.isfinite(ref) and f >= OVERWHELMING_RATIO * ref)
        failed = events | (far & (p["outcome"] == "ok"))
        if len(p) and (events.all() or (failed.all() and len(p) >= 2)):
            unstable.append(beta)
        elif len(p) >= 2 and not failed.any() and math.isfinite(ref):
            stable.append(beta)
        if len(i) and i["outcome"].isin(["diverged", "collapsed"]).all():
            image_fails.append(beta)
    n_betas = len(set(_runs(df, pix)["beta"]))
    image_any = int(_runs(df, img)["outcome"].isin(["diverged", "collapsed"]).sum())
    if stable or image_fails:
        verdict = "does not hold"
    elif len(unstable) == n_betas and not image_any:
        verdict = "holds"
    else:
        verdict = "inconclusive"
    return {"numbers": f"per-pixel unstable at {len(unstable)} of {n_betas} β, clearly stable at {len(stable)}; "
                       f"per-image diverged or collapsed in {image_any} runs (every seed at {len(image_fails)} β)",
            "runs": f"{run_counts(df, pix)}; {run_counts(df, img)}; a per-pixel run fails when diverged, "
                    f"collapsed or FID ≥ {OVERWHELMING_RATIO:g}× the per-image seed mean at its β",
            "verdict": verdict,
            "reason": "with 1 seed only divergence or collapse (events) decide a β; a far-worse FID needs ≥ 2 seeds"}


def learned_sigma_tracks_error(df, specs):
    label = "gaussian_learned_global"
    if _missing(df, [label]):
        return _not_tested([label])
    ok = _ok(_runs(df, label), "sigma_mean", "rmse")
    gap = _per_seed(ok, lambda r: abs(_log(r["sigma_mean"]) - _log(r["rmse"])))
    tol = math.log(TRACK_TOLERANCE)
    if not gap.n:
        verdict = "inconclusive"
    elif gap.n >= 2:
        se = math.sqrt(gap.var / gap.n)
        verdict = ("holds" if gap.mean + Z * se <= tol else
                   "does not hold" if gap.mean - Z * se > tol else "inconclusive")
    else:
        verdict = "does not hold" if gap.mean > math.log(OVERWHELMING_RATIO) else "inconclusive"
    return {"numbers": f"|log(σ / √MSE)| {gap.text()} (tolerance {tol:.3g}: a factor {TRACK_TOLERANCE:g})",
            "runs": run_counts(df, label) + "; collapsed and diverged runs left out (no σ or error)",
            "verdict": verdict, "reason": f"mean over β per seed, within a factor {TRACK_TOLERANCE:g} by the 2-SE rule"}


def no_single_winner(df, specs):
    labels = [lab for lab in own_labels(df) if not _ok(_runs(df, lab), "fid").empty]
    betas = sorted(set(df["beta"]))
    if len(labels) < 2 or len(betas) < 2:
        return {"verdict": "not tested", "reason": "needs two likelihoods with finished runs and two β values"}
    table, winners = {}, {}
    for beta in betas:
        at = {lab: Stat(_ok(_runs(df, lab)[_runs(df, lab)["beta"] == beta], "fid")["fid"].map(_log))
              for lab in labels}
        table[beta] = at
        with_data = [lab for lab in labels if at[lab].n]
        winners[beta] = min(with_data, key=lambda lab: at[lab].mean) if with_data else None

    def beats(beta, a, b):  # a clearly better than b at β (b without a finished run loses)
        if not table[beta][a].n:
            return False
        return not table[beta][b].n or clear(table[beta][b], table[beta][a], math.log(OVERWHELMING_RATIO)) == 1

    dominant = [lab for lab in labels if all(beats(b, lab, o) for b in betas for o in labels if o != lab)]
    switch = any(winners[b1] and winners[b2] and winners[b1] != winners[b2] and beats(b1, winners[b1], winners[b2])
                 and beats(b2, winners[b2], winners[b1]) for b1 in betas for b2 in betas)
    verdict = "does not hold" if dominant else "holds" if switch else "inconclusive"
    return {"numbers": "; ".join(f"β={b:g}: {winners[b]} FID {table[b][winners[b]].text(math.exp)}"
                                 for b in betas if winners[b]),
            "runs": f"{len(labels)} likelihoods under their own names; a likelihood without a finished run at a β "
                    "cannot win there",
            "verdict": verdict,
            "reason": f"{dominant[0]} is clearly best at every β" if dominant else
            "two likelihoods each clearly win at some β" if switch else "no clear change of winner"}


#: (id, the claim in one sentence, the quantity that tests it, function).
CLAIMS = [
    ("cb_param_vs_mean", "The continuous Bernoulli's expected-value images have a higher black level and a lower "
     "white level than its parameter (λ) images.", "black/white level of E[x] against λ, per run", cb_param_vs_mean),
    ("cb_dynamic_range", "CB's expected values reach pure black and white less than Bernoulli's and the "
     "Gaussians' do.", "range deficit (black − data black) + (data white − white), mean over β", cb_dynamic_range),
    ("best_fid", "Bernoulli and CB reach a similar best FID over β, and CB's best β is larger than Bernoulli's.",
     "seed-mean FID at each one's best β; CB's FID at its best β against β ≤ Bernoulli's best", best_fid),
    ("robustness_to_beta", "CB's FID varies less across β than Bernoulli's.",
     "log10(max/min FID over β) per seed", robustness),
    ("fid_vs_desaturation", "FID does not see CB's desaturation: its FID is close to Bernoulli's while its dynamic "
     "range is clearly worse.", "FID and range deficit at each one's best β", fid_desaturation),
    ("fixed_sigma_is_beta", "A fixed-σ Gaussian with σ is the σ = √0.5 objective at β·2σ² (up to a constant): their "
     "FIDs agree.", "FID of each (σ at β, √0.5 at β·2σ²) pair", fixed_sigma_is_beta),
    ("optimal_sigma_pixel_vs_image", "The per-pixel optimal σ is unstable (diverges, collapses or has a far worse "
     "FID) at every β, while the per-image optimal σ trains stably.", "outcome and FID per β", optimal_pixel_vs_image),
    ("learned_sigma_tracks_error", "A learned global σ ends close to √MSE of the reconstructions.",
     "|log(sigma_mean / rmse)|, mean over β", learned_sigma_tracks_error),
    ("no_single_winner", "No likelihood has the best FID at every β.", "seed-mean FID per β and likelihood",
     no_single_winner),
]

#: The figure (reconloss.figures stem) where a reader sees each claim's evidence.
CLAIM_FIGURES = {
    "cb_param_vs_mean": "reconstructions",
    "cb_dynamic_range": "dynamic_range",
    "best_fid": "fid_bernoulli_vs_cb",
    "robustness_to_beta": "fid_bernoulli_vs_cb",
    "fid_vs_desaturation": "dynamic_range",
    "fixed_sigma_is_beta": "fid_vs_beta",
    "optimal_sigma_pixel_vs_image": "divergence",
    "learned_sigma_tracks_error": "sigma",
    "no_single_winner": "fid_vs_beta",
}


def grid_specs(config):
    """{label: {likelihood, options, train}} of an effective configuration, as the rules resolve labels."""
    common = config.get("likelihood_options", {})
    specs = {name: {"likelihood": name, "options": dict(common.get(name, {})), "train": {}}
             for name in config["likelihoods"]}
    for label, variant in config.get("variants", {}).items():
        name = variant["likelihood"]
        specs[label] = {"likelihood": name, "options": {**common.get(name, {}), **variant.get("options", {})},
                        "train": dict(variant.get("train", {}))}
    return specs


def claims_frame(summary, specs=None):
    """One row per (dataset, claim), in the summary's dataset order."""
    import pandas as pd

    specs = specs or {}
    summary = summary.copy()
    if "likelihood_name" not in summary:
        summary["likelihood_name"] = summary["likelihood"]
    summary["likelihood_name"] = summary["likelihood_name"].fillna(summary["likelihood"])
    if "outcome" not in summary:
        summary["outcome"] = summary["status"]
    for label in set(summary["likelihood"]) - set(specs):
        specs = {**specs, label: {"likelihood": summary.loc[summary["likelihood"] == label, "likelihood_name"].iloc[0]}}
    rows = []
    for dataset in dict.fromkeys(summary["dataset"]):
        df = summary[summary["dataset"] == dataset]
        for claim_id, statement, quantity, test in CLAIMS:
            row = {"dataset": dataset, "claim": claim_id, "statement": statement, "quantity": quantity,
                   "numbers": "", "runs": "", "reason": ""}
            row.update(test(df, specs))
            assert row["verdict"] in VERDICTS, row
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def write_claims(frame, out_dir):
    """claims.csv, claims.md and claims.html (the report shows HTML inline)."""
    from reconloss.tables import _html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rule = VERDICT_RULE
    writers = {
        "csv": lambda p: frame.to_csv(p, index=False),
        "md": lambda p: p.write_text("# Claims\n\n" + rule + "\n\nRules in full: reconloss/claims.py.\n\n"
                                     + frame.to_markdown(index=False) + "\n"),
        "html": lambda p: p.write_text(_html(frame, "reconloss: claims", rule)),
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
    parser.add_argument("--specs", default="{}", help="JSON {label: {likelihood, options, train}} of the grid")
    parser.add_argument("--out-dir", required=True, help="directory for claims.{csv,md,html}")
    args = parser.parse_args(argv)
    import pandas as pd

    frame = claims_frame(pd.read_csv(args.summary), json.loads(args.specs))
    for path in write_claims(frame, args.out_dir):
        print(f"claims: wrote {path}")
