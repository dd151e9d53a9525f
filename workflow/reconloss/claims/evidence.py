"""When the evidence decides: intervals from the pooled seed-to-seed spread, margins derived from it.

One home for the statistics every claim uses, so the rule is written and tested once:

- **Spread.** Seeds are replicates of a cell (one likelihood label at one β). The
  seed-to-seed standard deviation s is pooled over all the cells a claim looks at,
  s² = Σ (nᵢ − 1) sᵢ² / Σ (nᵢ − 1), with Σ (nᵢ − 1) degrees of freedom. Two seeds per
  cell give a useless per-cell spread (one degree of freedom); twenty cells of three
  seeds give forty. A cell with one seed adds nothing to the spread.
- **Intervals.** A difference of cell means (or a paired difference, or a grand mean
  over cells) gets a two-sided Student-t interval at CONFIDENCE, Bonferroni-corrected
  when a verdict rests on m comparisons at once (each at 1 − α/m), so that one chance
  comparison out of ten cannot decide.
- **Direction** ("A is larger than B") is clear when the interval excludes 0.
- **Similarity** ("A and B are alike") has a stated margin derived from the measured
  noise: MARGIN_Z·√2·s, the difference two seeds of one configuration stay within 95 %
  of the time, but never wider than MARGIN_CAP (a factor 1.25 on the log quantities it
  is used on): noisy seeds widen the interval, and must not also widen what counts as
  alike. Similar when the whole interval lies inside ±margin, clearly different
  when it lies wholly outside, inconclusive otherwise: a wide interval never passes for
  agreement, and a tiny but real difference is not called a disagreement.
- **Settled.** A verdict about a level (FID, a learned σ) needs the level to have
  stopped moving: |trend| over the last epochs (reconloss.evaluation.settling) within
  LOSS_SETTLED or SIGMA_SETTLED per epoch. Unknown (too few epochs) is not settled.
- **Events** (diverged, collapsed) are counts: a one-sided Fisher exact test.

Torch-free: scipy for the t and Fisher tests, imported when used.
"""

import math
from dataclasses import dataclass, field

VERDICTS = ("holds", "does not hold", "inconclusive", "not tested")
CONFIDENCE = 0.95
#: z of a two-sided 95 % range: the similarity margin is MARGIN_Z · √2 · s.
MARGIN_Z = 1.959964
#: The widest similarity margin, in log units (all similar-quantities are logs: FID, KL, MSE): a factor 1.25.
MARGIN_CAP = math.log(1.25)
#: Settled: the training loss moves less than 1 % of itself per epoch over the last epochs ...
LOSS_SETTLED = 0.01
#: ... and log σ less than 0.02 per epoch (2 % of σ).
SIGMA_SETTLED = 0.02
#: A learned σ "close to" √MSE: within this factor (a stated tolerance, not a noise margin).
TRACK_TOLERANCE = 1.25
#: Significance of the event tests.
EVENT_ALPHA = 0.05

VERDICT_RULE = (
    f"Every number is over seeds (mean ± std, n). The seed-to-seed spread s is pooled over the cells "
    f"(likelihood, β) a claim uses. Differences get a {CONFIDENCE:.0%} Student-t interval from it, Bonferroni-"
    f"corrected over the comparisons one verdict rests on. A direction holds when its interval excludes 0. "
    f"\"Similar\" has the margin {MARGIN_Z:.2f}·√2·s (what two seeds of one configuration differ by 95 % of the "
    f"time, at most a factor {math.exp(MARGIN_CAP):g}): similar when the interval lies inside ±margin, different when "
    f"wholly outside, else inconclusive. "
    f"A verdict about a level needs it settled (training loss moving < {LOSS_SETTLED:.0%}, log σ < "
    f"{SIGMA_SETTLED:g} per epoch over the last 3 epochs); a best β at the edge of its grid is inconclusive. "
    f"Diverged and collapsed runs are left out of levels and named; events are tested with Fisher's exact test "
    f"(p < {EVENT_ALPHA:g}). `not tested`: the runs named are missing."
)


@dataclass
class Stat:
    """Values of one quantity over seeds (finite ones only)."""

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


@dataclass(frozen=True)
class Spread:
    """The seed-to-seed standard deviation pooled over cells, with its degrees of freedom."""

    sd: float
    df: int

    @classmethod
    def pooled(cls, cells):
        """From Stats of replicate values (one per cell): Σ (n−1) s² / Σ (n−1)."""
        cells = [c for c in cells if c.n >= 2]
        df = sum(c.n - 1 for c in cells)
        if not df:
            return cls(math.nan, 0)
        return cls(math.sqrt(sum((c.n - 1) * c.var for c in cells) / df), df)

    @property
    def margin(self):
        """The similarity margin: MARGIN_Z·√2·s (what two seeds of one configuration differ by 95 % of the
        time), at most MARGIN_CAP."""
        return min(MARGIN_Z * math.sqrt(2) * self.sd, MARGIN_CAP) if self.df else math.nan

    def text(self, transform_name=""):
        return f"s = {self.sd:.3g}{transform_name} (df {self.df})" if self.df else "no spread (one seed per cell)"


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval."""

    estimate: float
    lo: float
    hi: float

    def sign(self):
        """+1 when clearly above 0, -1 clearly below, 0 when the interval holds 0."""
        return 1 if self.lo > 0 else -1 if self.hi < 0 else 0

    def similar(self, margin):
        """True inside ±margin, False wholly outside it, None otherwise."""
        if self.lo > -margin and self.hi < margin:
            return True
        if self.lo >= margin or self.hi <= -margin:
            return False
        return None

    def text(self, fmt=".3g"):
        return f"{self.estimate:{fmt}} [{self.lo:{fmt}}, {self.hi:{fmt}}]"


def t_quantile(comparisons, df):
    """The two-sided Student-t quantile at CONFIDENCE, Bonferroni-corrected for `comparisons`."""
    from scipy.stats import t

    return float(t.ppf(1 - (1 - CONFIDENCE) / (2 * max(1, comparisons)), df))


def _interval(estimate, se, spread, comparisons):
    if not spread.df or not math.isfinite(se):
        return None
    half = t_quantile(comparisons, spread.df) * se
    return Interval(estimate, estimate - half, estimate + half)


def difference(a, b, spread, comparisons=1):
    """Interval of mean(a) − mean(b) (b None: of mean(a)) with the pooled spread; None without data or spread."""
    if not a.n or (b is not None and not b.n):
        return None
    se = spread.sd * math.sqrt(1 / a.n + (1 / b.n if b is not None else 0.0))
    return _interval(a.mean - (b.mean if b is not None else 0.0), se, spread, comparisons)


def grand_mean(cells, spread, comparisons=1):
    """Interval of the mean of cell means (each cell one β): Var = Σ s²/nᵢ / k²."""
    cells = [c for c in cells if c.n]
    if not cells:
        return None
    k = len(cells)
    se = spread.sd * math.sqrt(sum(1 / c.n for c in cells)) / k
    return _interval(sum(c.mean for c in cells) / k, se, spread, comparisons)


def more_events(k_a, n_a, k_b, n_b):
    """One-sided Fisher exact p that events are more frequent in a (k_a of n_a) than in b (k_b of n_b)."""
    from scipy.stats import fisher_exact

    if not n_a or not n_b:
        return math.nan
    return float(fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]], alternative="greater").pvalue)


def unsettled(trends, limit):
    """The reason a set of runs has not settled (max |trend| over `limit` or unknown), or None when settled."""
    trends = list(trends)
    if not trends:
        return None
    unknown = sum(t is None or not math.isfinite(float(t)) for t in trends)
    if unknown:
        return f"{unknown} of {len(trends)} runs too short to tell whether they settled (fewer than 3 epochs)"
    worst = max(abs(float(t)) for t in trends)
    if worst > limit:
        return f"still moving: up to {worst:.3g} per epoch over the last epochs (settled: ≤ {limit:g})"
    return None


#: An inventory entry nothing here can decide (reconloss.claims.inventory names what is missing).
VERDICTS = VERDICTS + ("not testable here",)
