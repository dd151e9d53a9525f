"""Claims about FID over β: Bernoulli against CB, each at its own best β.

Each likelihood has its own β scale, so a comparison at one nominal β compares
different trade-offs; these claims compare each at its own best β instead, and
only when that best β lies inside its grid (an optimum at the edge may lie
beyond it) and the runs there have settled (a FID level still moving can rank
either way a few epochs later).
"""

import math

from reconloss.claims.claim import BETA_SWEEP, SWEEP_EPOCHS, Claim, Need
from reconloss.claims.evidence import Spread, difference
from reconloss.claims.runs import at_edge, best_cell, betas, describe, missing, not_tested, still_moving

CB, BERNOULLI = "continuous_bernoulli", "bernoulli"
SWEEP = (Need(BERNOULLI, BETA_SWEEP, SWEEP_EPOCHS), Need("continuous_bernoulli", BETA_SWEEP, SWEEP_EPOCHS))
FID_COLUMNS = {"fid": "sample", "fid_param": "parameter-image", "fid_recon": "reconstruction"}


def gate(df, bests):
    """Reasons the best-β comparison cannot decide: a best β at its grid's edge, runs not settled there."""
    reasons = []
    for label, beta in bests:
        grid = betas(df, label)
        if at_edge(beta, grid):
            reasons.append(f"{label}'s best β {beta:g} is at the edge of its grid "
                           f"({', '.join(f'{b:g}' for b in grid)})")
        moving = still_moving(df, [label], beta)
        if moving:
            reasons.append(f"{label} at β {beta:g}: {moving}")
    return reasons


def _best_text(label, beta, by_beta):
    return f"{label} best β {beta:g}, FID {by_beta[beta].text(math.exp)}" if beta is not None else \
        f"{label}: no finished run"


def _ratio(iv):
    return f"×{math.exp(iv.estimate):.3g} [{math.exp(iv.lo):.3g}, {math.exp(iv.hi):.3g}]"


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


def best_fid_similar(df, specs):
    early, found, texts = bests(df)
    if early:
        return early
    (b_best, b_cells, c_best, c_cells), (runs, numbers) = found, texts
    noise = Spread.pooled([*b_cells.values(), *c_cells.values()])
    iv = difference(c_cells[c_best], b_cells[b_best], noise)
    if iv is None:
        return {"numbers": numbers, "runs": runs, "verdict": "inconclusive", "reason": "no seed-to-seed spread"}
    numbers += f"; CB / Bernoulli {_ratio(iv)}, margin ×{math.exp(noise.margin):.3g} (log FID {noise.text()})"
    similar = iv.similar(noise.margin)
    reasons = gate(df, [(BERNOULLI, b_best), (CB, c_best)])
    if reasons:
        return {"numbers": numbers, "runs": runs, "verdict": "inconclusive", "reason": "; ".join(reasons)}
    verdict = {True: "holds", False: "does not hold", None: "inconclusive"}[similar]
    return {"numbers": numbers, "runs": runs, "verdict": verdict,
            "reason": {True: "best FIDs within the noise margin", False: "best FIDs differ beyond the noise margin",
                       None: "the interval straddles the margin"}[similar]}


def cb_larger_beta(df, specs):
    early, found, texts = bests(df)
    if early:
        return early
    (b_best, _, c_best, c_cells), (runs, numbers) = found, texts
    noise = Spread.pooled(c_cells.values())
    # CB's optimum lies above Bernoulli's when CB is clearly worse at every β up to Bernoulli's best, and not
    # above it when CB is clearly worse at every β beyond Bernoulli's best.
    side = [b for b in c_cells if (b <= b_best if c_best > b_best else b > b_best)]
    worse = [difference(c_cells[b], c_cells[c_best], noise, comparisons=len(side)) for b in side]
    clearly = bool(side) and all(iv is not None and iv.sign() > 0 for iv in worse)
    reasons = gate(df, [(BERNOULLI, b_best), (CB, c_best)])
    if reasons:
        verdict, reason = "inconclusive", "; ".join(reasons)
    elif not clearly:
        verdict, reason = "inconclusive", "CB's FID on the other side of Bernoulli's best β is not clearly worse"
    elif c_best > b_best:
        verdict, reason = "holds", f"CB clearly worse at every β ≤ {b_best:g} than at its best {c_best:g}"
    else:
        verdict, reason = "does not hold", f"CB clearly worse at every β > {b_best:g} than at its best {c_best:g}"
    return {"numbers": numbers, "runs": runs, "verdict": verdict, "reason": reason}


def plateau(df, label, column):
    """(width in decades of β within the noise margin of the label's own best, touches the grid's edge)."""
    best, by_beta = best_cell(df, label, column)
    if best is None:
        return None
    noise = Spread.pooled(by_beta.values())
    if not noise.df:
        return None
    near = [b for b, s in by_beta.items() if s.mean - by_beta[best].mean <= noise.margin]
    grid = betas(df, label)
    return math.log10(max(near) / min(near)), min(near) == min(grid) or max(near) == max(grid)


def robustness(df, specs):
    lacking = missing(df, [BERNOULLI, CB])
    if lacking:
        return not_tested(lacking)
    parts, numbers = [], []
    for column, name in FID_COLUMNS.items():
        cb, bern = plateau(df, CB, column), plateau(df, BERNOULLI, column)
        if cb is None or bern is None:
            parts.append(None)
            numbers.append(f"{name} FID: no spread")
            continue
        (w_cb, edge_cb), (w_b, edge_b) = cb, bern
        numbers.append(f"{name} FID: CB {w_cb:.2g} decades{' (to the edge)' if edge_cb else ''}, Bernoulli "
                       f"{w_b:.2g}{' (to the edge)' if edge_b else ''}")
        if w_cb > w_b and not edge_b:
            parts.append(True)
        elif w_cb <= w_b and not edge_cb:
            parts.append(False)
        else:
            parts.append(None)  # the plateau that should be the narrower one runs to the grid's edge
    reasons = gate(df, [(label, best_cell(df, label)[0]) for label in (BERNOULLI, CB)
                        if best_cell(df, label)[0] is not None])
    reasons = [r for r in reasons if "edge" not in r]  # a plateau at the edge is handled above
    if reasons:
        verdict, reason = "inconclusive", "; ".join(reasons)
    elif all(p is True for p in parts):
        verdict, reason = "holds", "CB's near-best β range is wider on all three FIDs"
    elif all(p is False for p in parts):
        verdict, reason = "does not hold", "CB's near-best β range is no wider on any of the three FIDs"
    else:
        verdict, reason = "inconclusive", "the three FIDs disagree or a plateau runs to the grid's edge"
    return {"numbers": "; ".join(numbers) + " (β within the noise margin of its own best FID)",
            "runs": describe(df, [BERNOULLI, CB]), "verdict": verdict, "reason": reason}


CLAIMS = [
    Claim("best_fid_similar",
          "FID (with a custom MNIST classifier) barely separates Bernoulli and CB: their best FIDs over β are "
          "similar.",
          "sample FID of each at its own best β (seed mean of log FID)",
          "the CB / Bernoulli interval inside the noise margin: holds; wholly outside: does not hold; a best β at "
          "its grid's edge or an unsettled loss: inconclusive",
          "fid_bernoulli_vs_cb", SWEEP, best_fid_similar),
    Claim("cb_needs_larger_beta",
          "CB needs a larger β than Bernoulli.",
          "each one's best β; CB's FID on the other side of Bernoulli's best β against CB's own best",
          "CB's best β larger and CB clearly worse at every β up to Bernoulli's best (Bonferroni): holds; the "
          "mirror case: does not hold; edges and unsettled losses: inconclusive",
          "fid_bernoulli_vs_cb", SWEEP, cb_larger_beta),
    Claim("cb_robust_to_beta",
          "CB's FID varies less across β than Bernoulli's.",
          "width in decades of the β range within the noise margin of each one's own best FID, for sample, "
          "parameter-image and reconstruction FID",
          "CB wider on all three: holds; no wider on all three: does not hold; mixed, or the narrower plateau at "
          "the grid's edge: inconclusive",
          "fid_bernoulli_vs_cb", SWEEP, robustness),
]
