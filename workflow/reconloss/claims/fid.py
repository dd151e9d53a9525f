"""Claims about FID over β: Bernoulli against CB, each at its own best β, under every FID classifier.

Each likelihood has its own β scale, so a comparison at one nominal β compares
different trade-offs; these claims compare each at its own best β instead, and
only when that best β lies inside its grid (an optimum at the edge may lie
beyond it) and the runs there have settled (a FID level still moving can rank
either way a few epochs later). Every rule runs once per FID classifier and a
verdict stands only where all classifiers give it (claim.every_classifier).
"""

import math

from reconloss.claims import followup
from reconloss.claims.claim import (
    BETA_SWEEP,
    SWEEP_EPOCHS,
    Claim,
    Need,
    every_classifier,
)
from reconloss.claims.evidence import (
    FID_MARGIN,
    Spread,
    alpha,
    confidence_text,
    difference,
    ratio_text,
)
from reconloss.claims.runs import best_cell, betas, describe, gate, missing, no_spread, not_tested

CB, BERNOULLI = "continuous_bernoulli", "bernoulli"
SWEEP = (Need(BERNOULLI, BETA_SWEEP, SWEEP_EPOCHS), Need("continuous_bernoulli", BETA_SWEEP, SWEEP_EPOCHS))
FID_COLUMNS = {"fid": "sample", "fid_param": "parameter-image", "fid_recon": "reconstruction"}
#: Draws of the parametric bootstrap of the log-FID range (fixed seed: a verdict is a function of the summary).
BOOTSTRAP_DRAWS = 4000


def _best_text(label, beta, by_beta):
    return f"{label} best β {beta:g}, FID {by_beta[beta].text(math.exp)}"


def bests(df):
    """(a finished row when Bernoulli's and CB's best β cannot be compared, else None; their best β and cells;
    the row's runs and numbers text)."""
    lacking = missing(df, [BERNOULLI, CB])
    if lacking:
        return not_tested(lacking), None, None
    (b_best, b_cells), (c_best, c_cells) = best_cell(df, BERNOULLI), best_cell(df, CB)
    runs = describe(df, [BERNOULLI, CB])
    if b_best is None or c_best is None:
        return {"runs": runs, "verdict": "inconclusive", "reason": "no finished run to compare"}, None, None
    numbers = f"{_best_text(BERNOULLI, b_best, b_cells)}; {_best_text(CB, c_best, c_cells)}"
    return None, (b_best, b_cells, c_best, c_cells), (runs, numbers)


def _best_ratio(df):
    """(early row or None, the CB / Bernoulli best-FID interval, texts, follow-up of the gate, reasons)."""
    early, found, texts = bests(df)
    if early:
        return early, None, None
    (b_best, b_cells, c_best, c_cells), (runs, numbers) = found, texts
    noise = Spread.pooled([*b_cells.values(), *c_cells.values()])
    iv = difference(c_cells[c_best], b_cells[b_best], noise)
    if iv is None:
        return {**no_spread(df, [BERNOULLI, CB]), "numbers": numbers}, None, None
    numbers += f"; CB / Bernoulli best FID {ratio_text(iv)} (log FID {noise.text()})"
    reasons, follow = gate(df, [(BERNOULLI, b_best), (CB, c_best)])
    return None, iv, {"numbers": numbers, "runs": runs, "reasons": reasons, "follow_up": follow,
                      "betas": (b_best, c_best)}


@every_classifier
def best_fid_similar(df, specs):
    early, iv, t = _best_ratio(df)
    if early:
        return early
    row = {"numbers": t["numbers"] + f", margin ×{math.exp(FID_MARGIN):.2f}", "runs": t["runs"]}
    if t["reasons"]:
        return {**row, "verdict": "inconclusive", "reason": "; ".join(t["reasons"]), "follow_up": t["follow_up"]}
    similar = iv.similar(FID_MARGIN)
    verdict = {True: "holds", False: "does not hold", None: "inconclusive"}[similar]
    follow = followup.straddles("best FID, CB against Bernoulli", [BERNOULLI, CB], t["betas"]) \
        if similar is None else ""
    return {**row, "verdict": verdict, "follow_up": follow,
            "reason": {True: f"best FIDs within ×{math.exp(FID_MARGIN):.2f}",
                       False: f"best FIDs differ by more than ×{math.exp(FID_MARGIN):.2f}",
                       None: "the interval straddles the margin"}[similar]}


@every_classifier
def best_fid_slightly_better(df, specs):
    early, iv, t = _best_ratio(df)
    if early:
        return early
    row = {"numbers": t["numbers"], "runs": t["runs"]}
    if t["reasons"]:
        return {**row, "verdict": "inconclusive", "reason": "; ".join(t["reasons"]), "follow_up": t["follow_up"]}
    verdict = {1: "does not hold", -1: "holds", 0: "inconclusive"}[iv.sign()]
    follow = followup.straddles("best FID, CB against Bernoulli", [BERNOULLI, CB], t["betas"]) \
        if verdict == "inconclusive" else ""
    return {**row, "verdict": verdict, "follow_up": follow,
            "reason": {"holds": "CB's best FID clearly lower than Bernoulli's",
                       "does not hold": "CB's best FID clearly higher than Bernoulli's",
                       "inconclusive": "the interval of the ratio holds ×1"}[verdict]}


def _closer(label, beta, own, grid):
    """The follow-up that would tell whether `label` is worse at `beta` than at its own best β `own`: runs at
    `beta` where it has none (the β between its grid's neighbours of `beta`, the way the other likelihood's
    β came about), else a β between the two where none lies between them yet, else more seeds of both."""
    grid = sorted(grid)
    if beta not in grid:
        lower, upper = [b for b in grid if b < beta], [b for b in grid if b > beta]
        if lower and upper:
            return followup.neighbours(label, lower[-1], upper[0])
        return followup.edge(label, grid[0] if not lower else grid[-1], grid)
    lo, hi = sorted((beta, own))
    mid = float(f"{math.sqrt(lo * hi):.2g}")
    if not any(lo < b < hi for b in grid) and lo < mid < hi:
        return followup.neighbours(label, lo, hi)
    return followup.straddles(f"{label} at β {beta:g} against its best β {own:g}", [label],
                              cells=[(label, beta), (label, own)])


@every_classifier
def cb_larger_beta(df, specs):
    early, found, texts = bests(df)
    if early:
        return early
    (b_best, b_cells, c_best, c_cells), (runs, numbers) = found, texts
    b_noise, c_noise = Spread.pooled(b_cells.values()), Spread.pooled(c_cells.values())
    # both sides of the optimum's location (Bonferroni over the two): Bernoulli clearly worse at CB's best β
    # than at its own, and CB clearly worse at Bernoulli's best β than at its own
    bern_side = difference(b_cells[c_best], b_cells[b_best], b_noise, comparisons=2) \
        if c_best in b_cells and c_best != b_best else None
    cb_side = difference(c_cells[b_best], c_cells[c_best], c_noise, comparisons=2) \
        if b_best in c_cells and c_best != b_best else None
    for name, iv in (("Bernoulli at CB's best β / at its own", bern_side), ("CB at Bernoulli's best β / at its own",
                                                                           cb_side)):
        numbers += f"; {name} {ratio_text(iv) if iv else 'n/a'}"
    reasons, follow = gate(df, [(BERNOULLI, b_best), (CB, c_best)])
    both = bern_side is not None and cb_side is not None and bern_side.sign() > 0 and cb_side.sign() > 0
    above = [b for b in sorted(c_cells) if b > b_best]
    if reasons:
        verdict, reason = "inconclusive", "; ".join(reasons)
    elif c_best == b_best and above:
        # the same best β: CB's optimum is not above Bernoulli's if CB is clearly worse at the next β above
        iv = difference(c_cells[above[0]], c_cells[c_best], c_noise)
        if iv is not None and iv.sign() > 0:
            verdict, reason = "does not hold", f"both best at β {b_best:g}, CB clearly worse at β {above[0]:g}"
        else:
            verdict, reason = "inconclusive", f"both best at β {b_best:g}; CB at β {above[0]:g} within noise"
            follow = followup.neighbours(CB, c_best, above[0])
    elif not both:
        unclear = [(lab, b) for lab, b, iv in ((BERNOULLI, c_best, bern_side), (CB, b_best, cb_side))
                   if iv is None or iv.sign() <= 0]
        verdict = "inconclusive"
        reason = "not clearly worse away from its own best: " + ", ".join(f"{lab} at β {b:g}" for lab, b in unclear)
        follow = followup.merged(*(_closer(lab, b, b_best if lab == BERNOULLI else c_best,
                                           b_cells if lab == BERNOULLI else c_cells) for lab, b in unclear))
    elif c_best > b_best:
        verdict, reason = "holds", (f"CB best at β {c_best:g} > Bernoulli's {b_best:g}; Bernoulli clearly worse at "
                                    f"{c_best:g}, CB clearly worse at {b_best:g}")
    else:
        verdict, reason = "does not hold", (f"CB best at β {c_best:g} < Bernoulli's {b_best:g}, both sides clear")
    return {"numbers": numbers, "runs": runs, "verdict": verdict, "reason": reason,
            "follow_up": follow if verdict == "inconclusive" else ""}


def log_range(by_beta, grid, spread, rng):
    """(observed log-FID range over grid, its parametric-bootstrap draws): cell means drawn from
    N(mean, s²/n) with s² itself drawn from its scaled χ² (the pooled spread's df)."""
    import numpy as np

    means = np.array([by_beta[b].mean for b in grid])
    ns = np.array([by_beta[b].n for b in grid], dtype=float)
    s2 = spread.sd ** 2 * spread.df / rng.chisquare(spread.df, BOOTSTRAP_DRAWS)
    draws = means + rng.standard_normal((BOOTSTRAP_DRAWS, len(grid))) * np.sqrt(s2[:, None] / ns)
    return float(means.max() - means.min()), draws.max(axis=1) - draws.min(axis=1)


def range_difference(df, column):
    """(CB − Bernoulli log-FID range over the common β range: estimate, lo, hi; the common grid) or None."""
    import numpy as np

    (_, cb), (_, bern) = best_cell(df, CB, column), best_cell(df, BERNOULLI, column)
    common = sorted(set(cb) & set(bern))
    spreads = Spread.pooled(cb.values()), Spread.pooled(bern.values())
    if len(common) < 2 or not all(s.df for s in spreads):
        return None
    rng = np.random.default_rng(0)
    (r_cb, d_cb), (r_b, d_b) = log_range(cb, common, spreads[0], rng), log_range(bern, common, spreads[1], rng)
    lo, hi = np.quantile(d_cb - d_b, [alpha() / 2, 1 - alpha() / 2])
    return (r_cb - r_b, float(lo), float(hi)), (r_cb, r_b), common


@every_classifier
def robustness(df, specs):
    lacking = missing(df, [BERNOULLI, CB])
    if lacking:
        return not_tested(lacking)
    parts, numbers, straddle = [], [], []
    for column, name in FID_COLUMNS.items():
        found = range_difference(df, column) if column in df else None
        if found is None:
            parts.append(None)
            numbers.append(f"{name} FID: fewer than two common β with a spread")
            continue
        (est, lo, hi), (r_cb, r_b), common = found
        numbers.append(f"{name} FID over β {common[0]:g}–{common[-1]:g}: range CB ×{math.exp(r_cb):.3g}, Bernoulli "
                       f"×{math.exp(r_b):.3g}; log-range difference {est:.3g} [{lo:.3g}, {hi:.3g}]")
        # more robust: CB's range clearly smaller by more than the FID margin; not: clearly not
        part = True if hi < -FID_MARGIN else False if lo > -FID_MARGIN else None
        parts.append(part)
        if part is None:
            straddle.append(name)
    reasons, follow = gate(df, [(label, best_cell(df, label)[0]) for label in (BERNOULLI, CB)
                                if best_cell(df, label)[0] is not None], edges=False)
    if reasons:
        verdict, reason = "inconclusive", "; ".join(reasons)
    elif all(p is True for p in parts):
        verdict, reason = "holds", "CB's FID range over β clearly smaller on all three FIDs"
    elif all(p is False for p in parts):
        verdict, reason = "does not hold", "CB's FID range over β not clearly smaller on any of the three FIDs"
    else:
        verdict, reason = "inconclusive", "the three FIDs disagree or an interval straddles the margin"
        follow = followup.straddles("log-FID range over β, CB against Bernoulli (" + ", ".join(straddle) + ")",
                                    [BERNOULLI, CB], betas(df, CB)) if straddle else ""
    return {"numbers": "; ".join(numbers) + f" ({confidence_text()} parametric-bootstrap intervals; margin "
                                            f"{FID_MARGIN:.3g} in log FID)",
            "runs": describe(df, [BERNOULLI, CB]), "verdict": verdict, "reason": reason, "follow_up": follow}


CLAIMS = [
    Claim("best_fid_similar",
          "FID (with a custom MNIST classifier) barely separates Bernoulli and CB: their best FIDs over β are "
          "similar.",
          "sample FID of each at its own best β (seed mean of log FID), under every FID classifier",
          f"equivalence: the CB / Bernoulli interval inside ×{math.exp(FID_MARGIN):.2f} (the smallest FID gap the "
          "study counts, evidence.FID_MARGIN): holds; wholly outside: does not hold; a best β at its grid's edge or "
          "an unsettled loss: inconclusive; the same under every classifier",
          "fid_bernoulli_vs_cb", SWEEP, best_fid_similar),
    Claim("cb_best_fid_slightly_better",
          "CB's best FID over β is a little lower than Bernoulli's.",
          "sample FID of each at its own best β (seed mean of log FID), under every FID classifier",
          "the CB / Bernoulli interval wholly below ×1: holds; wholly above: does not hold; else, an edge or an "
          "unsettled loss: inconclusive; the same under every classifier",
          "fid_bernoulli_vs_cb", SWEEP, best_fid_slightly_better),
    Claim("cb_needs_larger_beta",
          "CB needs a larger β than Bernoulli.",
          "each one's best β; Bernoulli's FID at CB's best β against its own best, and CB's at Bernoulli's best β "
          "against its own",
          "CB's best β larger, Bernoulli clearly worse at CB's best and CB clearly worse at Bernoulli's (Bonferroni "
          "over the two): holds; the mirror, or both best at one β with CB clearly worse at the next β above: does "
          "not hold; edges, neighbours within noise, unsettled losses: inconclusive; the same under every classifier",
          "fid_bernoulli_vs_cb", SWEEP, cb_larger_beta),
    Claim("cb_robust_to_beta",
          "CB's FID varies less across β than Bernoulli's.",
          "range of the seed-mean log FID over the β both grids share (max − min), CB minus Bernoulli, with a "
          "parametric-bootstrap interval, for sample, parameter-image and reconstruction FID",
          f"the difference clearly below −log {math.exp(FID_MARGIN):.2f} on all three: holds; clearly above it on "
          "all three: does not hold; else inconclusive; the same under every classifier",
          "fid_bernoulli_vs_cb", SWEEP, robustness),
]
