"""Decisions the claims of choice, scores and sigma share: per β with Holm's correction, equivalence against a
stated margin, best levels compared each at its own best β, and FID verdicts under every classifier.

- **Per β.** A sentence that should hold at each β is tested at each β: one one-sided p-value per β that it
  holds there, and one that its opposite is clear. It holds when Holm's step-down procedure (α = 1 −
  CONFIDENCE) rejects at every β; it does not hold when Holm rejects the opposite at some β; otherwise it is
  inconclusive. The row says "k of n β". Opposite effects at different β never average away.
- **Equivalence** ("as good as", "similar") is two one-sided tests against a stated substantive margin, not a
  noise margin: more precise seeds can only make a true equivalence clearer, never turn it into a difference.
- **Every classifier.** A FID (or classifier score) verdict is reached under each classifier column present
  (`{metric}_c{k}`, INTERFACES 2) and holds only where it holds under every one; classifiers that disagree
  make it inconclusive, with their verdicts named.

Torch-free (scipy's t distribution, imported when used).
"""

import math
import re

from reconloss.claims.evidence import CONFIDENCE, Spread
from reconloss.claims.runs import at_edge, betas, finite, still_moving

ALPHA = 1 - CONFIDENCE


def classifier_columns(df, metric):
    """["fid_c0", "fid_c1", ...]: the columns of `metric` under each classifier present, or [metric] when the
    summary has none (one classifier, the unsuffixed column)."""
    pattern = re.compile(rf"{re.escape(metric)}_c(\d+)")
    found = sorted((int(m.group(1)), c) for c in df.columns if (m := pattern.fullmatch(c)))
    found = [c for _, c in found if df[c].map(finite).any()]
    return found or [metric]


class Test:
    """An estimate with its standard error and degrees of freedom, for one-sided t p-values."""

    def __init__(self, estimate, se, df):
        self.estimate, self.se, self.df = float(estimate), float(se), int(df)

    @classmethod
    def of(cls, a, b, spread):
        """mean(a) − mean(b) (b None: mean(a)) with the pooled spread; None without data or spread."""
        if not a.n or (b is not None and not b.n) or not spread.df or not math.isfinite(spread.sd):
            return None
        se = spread.sd * math.sqrt(1 / a.n + (1 / b.n if b is not None else 0.0))
        return cls(a.mean - (b.mean if b is not None else 0.0), se, spread.df)

    def p_above(self, bound):
        """One-sided p that the true value exceeds `bound`."""
        from scipy.stats import t

        if self.se == 0:
            return 0.0 if self.estimate > bound else 1.0
        return float(t.sf((self.estimate - bound) / self.se, self.df))

    def p_below(self, bound):
        """One-sided p that the true value is below `bound`."""
        from scipy.stats import t

        if self.se == 0:
            return 0.0 if self.estimate < bound else 1.0
        return float(t.cdf((self.estimate - bound) / self.se, self.df))

    def p_inside(self, margin):
        """Two one-sided tests: p that the true value lies inside ±margin."""
        return max(self.p_above(-margin), self.p_below(margin))

    def p_outside(self, margin):
        """p that the true value lies outside ±margin (either side; Bonferroni over the two)."""
        return min(1.0, 2 * min(self.p_above(margin), self.p_below(-margin)))

    def text(self, transform=math.exp, prefix="×"):
        from scipy.stats import t

        half = float(t.ppf(1 - ALPHA / 2, self.df)) * self.se
        lo, mid, hi = (transform(v) for v in (self.estimate - half, self.estimate, self.estimate + half))
        return f"{prefix}{mid:.3g} [{lo:.3g}, {hi:.3g}]"


def holm(pvalues, alpha=ALPHA):
    """[rejected] for each p-value under Holm's step-down procedure at `alpha` (a non-finite p never rejects)."""
    ps = [p if p is not None and math.isfinite(p) else math.inf for p in pvalues]
    rejected = [False] * len(ps)
    for rank, i in enumerate(sorted(range(len(ps)), key=lambda j: ps[j])):
        if ps[i] > alpha / (len(ps) - rank):
            break
        rejected[i] = True
    return rejected


def key_text(key):
    """'β 0.3', or 'label β 0.3' for a (label, β) cell."""
    return f"{key[0]} β {key[1]:g}" if isinstance(key, tuple) else f"β {key:g}"


def per_beta(tests, what="it"):
    """{verdict, reason} from {β: (p that the sentence holds at β, p that its opposite is clear)}, Holm over β."""
    grid = sorted(tests)
    if not grid:
        return {"verdict": "inconclusive", "reason": "no β with a finished run"}
    held = dict(zip(grid, holm([tests[b][0] for b in grid])))
    against = dict(zip(grid, holm([tests[b][1] for b in grid])))
    k, n = sum(held.values()), len(grid)
    unit = "(label, β)" if isinstance(grid[0], tuple) else "β"
    count = f"{what} holds at {k} of {n} {unit} (Holm, α {ALPHA:.2g})"
    if any(against.values()):
        opposite = ", ".join(key_text(b) for b in grid if against[b])
        return {"verdict": "does not hold", "reason": f"{count}; the opposite is clear at {opposite}"}
    if k == n:
        return {"verdict": "holds", "reason": count}
    return {"verdict": "inconclusive", "reason": f"{count}; the rest undecided"}


def combine(by_column):
    """One {verdict, reason} from each classifier column's: holds (or does not) only where every column agrees."""
    verdicts = {c: r["verdict"] for c, r in by_column.items()}
    if len(set(verdicts.values())) == 1:
        only = next(iter(by_column.values()))
        if len(by_column) == 1:
            return dict(only)
        return {"verdict": only["verdict"], "reason": f"under all {len(by_column)} classifiers: {only['reason']}"}
    named = "; ".join(f"{c}: {v} ({by_column[c]['reason']})" for c, v in verdicts.items())
    return {"verdict": "inconclusive", "reason": f"the classifiers disagree: {named}"}


def gate(df, bests):
    """Reasons a comparison at best β cannot decide: a best β at its grid's edge, or runs not settled there."""
    reasons = []
    for label, beta in bests:
        grid = betas(df, label)
        if at_edge(beta, grid):
            reasons.append(f"{label}'s best β {beta:g} is at the edge of its grid ({', '.join(f'{b:g}' for b in grid)})")
        moving = still_moving(df, [label], beta)
        if moving:
            reasons.append(f"{label} at β {beta:g}: {moving}")
    return reasons


def pooled(*cell_maps):
    """The spread pooled over every cell of the given {β: Stat} maps."""
    return Spread.pooled([s for m in cell_maps for s in m.values()])


def result(numbers, runs, decision):
    """A claim's row fields from its numbers, runs text and {verdict, reason}."""
    return {"numbers": numbers, "runs": runs, **decision}
