"""When the evidence for a claim is clear: the verdict rule of reconloss.claims, on per-seed values.

Kept apart from the claims so the rule has one home and one set of tests:
a difference is clear with >= 2 seeds a side beyond Z standard errors, with one
seed only when overwhelming; similarity needs >= 2 seeds and the difference
plus Z standard errors inside the tolerance (reconloss.claims explains why).
"""

import math
from dataclasses import dataclass, field

VERDICTS = ("holds", "does not hold", "inconclusive", "not tested")
Z = 2.0
OVERWHELMING_RATIO = 2.0
OVERWHELMING_LEVEL = 0.1
SIMILAR_FID = 0.15
TRACK_TOLERANCE = 1.25
#: The rule in one paragraph, at the top of claims.md and the report's table.
VERDICT_RULE = (
    "Verdicts are computed from per-seed values (mean ± std over seeds, n = seeds counted). A difference is clear "
    f"with ≥ 2 seeds on each side when it exceeds {Z:g} standard errors; with 1 seed only when overwhelming (a factor "
    f"{OVERWHELMING_RATIO:g} in FID or σ, {OVERWHELMING_LEVEL:g} in intensity levels). Similarity holds only with ≥ 2 "
    f"seeds and the difference plus {Z:g} standard errors within the tolerance (FID {SIMILAR_FID:.0%}). Diverged and "
    "collapsed runs are counted in `runs` and count against stability. `not tested`: the grid lacks the runs named."
)


@dataclass
class Stat:
    """Per-seed values of one quantity (finite ones only)."""

    values: list = field(default_factory=list)

    def __post_init__(self):
        self.values = [float(v) for v in self.values if v is not None and math.isfinite(float(v))]

    @property
    def n(self):
        return len(self.values)

    @property
    def mean(self):
        return sum(self.values) / self.n if self.n else math.nan

    @property
    def var(self):
        return sum((v - self.mean) ** 2 for v in self.values) / (self.n - 1) if self.n > 1 else math.nan

    def text(self, transform=None):
        """'mean ± std (n=k)', in the quantity's own units (`transform` undoes a log)."""
        if not self.n:
            return "no value (n=0)"
        vals = [transform(v) for v in self.values] if transform else self.values
        mean = sum(vals) / len(vals)
        if len(vals) < 2:
            return f"{mean:.3g} (n=1)"
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
        return f"{mean:.3g} ± {std:.2g} (n={len(vals)})"


def clear(a, b=None, overwhelming=OVERWHELMING_LEVEL):
    """+1 when a's mean is clearly above b's (or above 0 without b), -1 clearly below, 0 unclear, None empty."""
    if not a.n or (b is not None and not b.n):
        return None
    diff = a.mean - (b.mean if b is not None else 0.0)
    if a.n >= 2 and (b is None or b.n >= 2):
        se = math.sqrt(a.var / a.n + (b.var / b.n if b is not None else 0.0))
        is_clear = abs(diff) > Z * se if se > 0 else diff != 0
    else:
        is_clear = abs(diff) > overwhelming
    return (1 if diff > 0 else -1) if is_clear else 0


def within(a, b, tolerance, overwhelming):
    """Equivalence of two means: True (similar), False (clearly not), None (inconclusive)."""
    if not a.n or not b.n:
        return None
    diff = abs(a.mean - b.mean)
    if a.n >= 2 and b.n >= 2 and diff + Z * math.sqrt(a.var / a.n + b.var / b.n) <= tolerance:
        return True
    if clear(a, b, overwhelming) and diff > tolerance:
        return False
    return None
