"""When the evidence decides: intervals from the pooled seed-to-seed spread, margins stated in advance.

One home for the statistics every claim uses, so the rule is written and tested once:

- **Spread.** Seeds are replicates of a cell (one likelihood label at one β). The
  seed-to-seed standard deviation s is pooled over all the cells a claim looks at,
  s² = Σ (nᵢ − 1) sᵢ² / Σ (nᵢ − 1), with Σ (nᵢ − 1) degrees of freedom. Two seeds per
  cell give a useless per-cell spread (one degree of freedom); twenty cells of three
  seeds give forty. A cell with one seed adds nothing to the spread.
- **Intervals.** A difference of cell means (or a paired difference) gets a two-sided Student-t interval at CONFIDENCE, Bonferroni-corrected
  when a verdict rests on m comparisons at once (each at 1 − α/m), so that one chance
  comparison out of ten cannot decide.
- **Direction** ("A is larger than B") is clear when the interval excludes 0.
- **Similarity** ("A and B are alike") is an equivalence test against a substantive
  margin fixed in advance (FID_MARGIN, PAIRED_MARGIN, TRACK_TOLERANCE), never one derived
  from the seeds' noise: a noise margin shrinks as seeds get more precise, and would turn
  a 3 % gap into "different". Similar when the whole interval lies inside ±margin,
  clearly different when it lies wholly outside, inconclusive otherwise: a wide interval
  never passes for agreement, and a tiny but real difference is not called a disagreement.
- **Per β.** A claim that should hold at each β is decided at each β and combined
  (per_beta): it holds when it holds at every β, Holm-corrected over the β (and the
  sub-tests at each); it does not hold when the opposite is clear at some β (Holm);
  otherwise it is inconclusive. Opposite effects at different β never average away.
- **Classifiers.** A FID (and the classifier score) is computed under several classifiers
  (`{metric}_c{k}`); its verdict is the same under every one of them, else inconclusive
  (classifier_views, claim.every_classifier).
- **Settled.** A verdict about a level (FID, a learned σ) needs the level to have
  stopped moving: |trend| over the last epochs (reconloss.evaluation.settling) within
  LOSS_SETTLED or SIGMA_SETTLED per epoch. Unknown (too few epochs) is not settled.
- **Events** are counts: a one-sided Fisher exact test between two arms, and a one-sided
  Clopper–Pearson bound on one arm's rate (rate_upper). Instability is divergence (a
  non-finite loss); a collapse is its own outcome, named, never counted as instability.
- **Evidence kinds.** A claim's own quantity decides its verdict; counts of broken runs
  are reported beside it and never override it.
- **Looks.** A follow-up round re-judges the claims on more runs, so a claim may be looked at
  k = rounds + 1 times; any one look could decide by chance. Every α the rules use (the
  intervals' confidence, Holm's α, Fisher's α, the equivalence tests) is divided by k
  (Bonferroni over looks, `looks(k)`, set by claims_frame), so the chance of a wrong
  "holds" or "does not hold" over all looks stays at most 1 − CONFIDENCE.

Torch-free: scipy for the t, Fisher and Clopper–Pearson computations, imported when used.
"""

import contextvars
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

#: "not testable here": an inventory entry nothing here can decide (reconloss.claims.inventory names what is
#: missing).
VERDICTS = ("holds", "does not hold", "inconclusive", "not tested", "not testable here")
CONFIDENCE = 0.95
#: "Similar" FIDs: within a factor 1.10. Two FID networks trained with different seeds alone moved the
#: same MNIST runs' FIDs by ×1.01–1.22 (issue 27), and the study reads its FIDs on one network per data set:
#: a tenth is the smallest FID gap this study treats as a difference and not as the network's choice.
FID_MARGIN = math.log(1.10)
#: "The same" KL and MSE of an exact identity (a fixed σ against its β partner, same seed): within a factor
#: 1.05. The two runs differ only by a loss scale Adam all but ignores (published MNIST run, 3 epochs: paired
#: log KL −0.007 and +0.012, log MSE −0.021 and −0.008); a β 5× off, the negative control, moved log KL by
#: 0.9 and 2.4 there: a twentieth separates an identity from a wrong pairing with room on both sides.
PAIRED_MARGIN = math.log(1.05)
#: Settled: the training loss moves less than 1 % of itself per epoch over the last epochs ...
LOSS_SETTLED = 0.01
#: ... and log σ less than 0.02 per epoch (2 % of σ).
SIGMA_SETTLED = 0.02
#: A learned σ "close to" √MSE: within this factor (a stated tolerance, not a noise margin).
TRACK_TOLERANCE = 1.25
#: Significance of the event tests.
EVENT_ALPHA = 0.05

#: How many times a claim is looked at (the first judgement and each follow-up round): every α is divided by it.
LOOKS = contextvars.ContextVar("looks", default=1)


@contextmanager
def looks(k):
    """Judge under a Bonferroni split of α over k looks (k = follow-up rounds + 1): within it, alpha() is α/k."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"looks: the number of looks at a claim is an integer ≥ 1, got {k!r}")
    token = LOOKS.set(k)
    try:
        yield k
    finally:
        LOOKS.reset(token)


def alpha(base=1 - CONFIDENCE):
    """The level of one test now: base split over the looks in force (base / k)."""
    return base / LOOKS.get()


def confidence_text():
    """The confidence of one interval now, as '95 %' (or '98.3 %' over three looks)."""
    return f"{100 * (1 - alpha()):.3g} %"


def verdict_rule(k=None):
    """The rule every verdict follows, in words; with k > 1 looks (default: those in force) it states the split."""
    k = LOOKS.get() if k is None else k
    split = (f" The claims are looked at {k} times (once, then after each follow-up round): every α above is "
             f"divided by {k} (Bonferroni over looks; intervals at {1 - (1 - CONFIDENCE) / k:.2%}, tests at "
             f"α = {(1 - CONFIDENCE) / k:.3g}), so that a verdict reached at any look keeps its error rate."
             if k > 1 else "")
    return (
        f"Every number is over seeds (mean ± std, n). The seed-to-seed spread s is pooled over the cells "
        f"(likelihood, β) a claim uses. Differences get a {CONFIDENCE:.0%} Student-t interval from it, Bonferroni-"
        f"corrected over the comparisons one verdict rests on. A direction holds when its interval excludes 0. "
        f"\"Similar\" is an equivalence test against a stated margin (FID within ×{math.exp(FID_MARGIN):.2f}, an exact "
        f"identity's KL and MSE within ×{math.exp(PAIRED_MARGIN):.2f}, a learned σ within ×{TRACK_TOLERANCE:g} of √MSE), "
        f"never against the seeds' noise: similar when the interval lies inside ±margin, different when wholly outside, "
        f"else inconclusive. A claim that should hold at each β is decided per β: it holds when it holds at every β "
        f"(Holm-corrected), does not hold when the opposite is clear at some β (Holm), else inconclusive (\"k of n β\"). "
        f"A FID verdict must be the same under every FID classifier, else inconclusive. "
        f"A verdict about a level needs it settled (training loss moving < {LOSS_SETTLED:.0%}, log σ < "
        f"{SIGMA_SETTLED:g} per epoch over the last 3 epochs); a best β at the edge of its grid is inconclusive, except in the "
        f"choice claims where no lower FID past the edge (nor, for a level still moving, any FID) could change the verdict. "
        f"Diverged and collapsed runs are left out of levels and named; instability means divergence (a non-finite "
        f"loss); a collapse is its own outcome, named and never counted as instability; events are tested with Fisher's "
        f"exact test (p < {EVENT_ALPHA:g}). A claim's own quantity decides: counts of broken runs add evidence but "
        f"never override it. One row per run: a repeated (dataset, label, β, seed) is an error; non-finite values are "
        f"named. `not tested`: the runs named are missing." + split)


#: The rule at one look (report.claims_table prints it; with follow-up rounds use verdict_rule(k)).
VERDICT_RULE = verdict_rule(1)


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

    def text(self, transform_name=""):
        return f"s = {self.sd:.3g}{transform_name} (df {self.df})" if self.df else "no spread (one seed per cell)"


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval (and, from a t interval, its standard error and df,
    so that one-sided p-values can be had for Holm's procedure)."""

    estimate: float
    lo: float
    hi: float
    se: float = math.nan
    df: int = 0

    def p_above(self, c=0.0):
        """One-sided p of the t test for "the true value is above c" (nan without a standard error)."""
        from scipy.stats import t

        if not self.df or not math.isfinite(self.se):
            return math.nan
        if self.se <= 0:
            return 0.0 if self.estimate > c else 1.0
        return float(t.sf((self.estimate - c) / self.se, self.df))

    def p_below(self, c=0.0):
        """One-sided p for "the true value is below c"."""
        flipped = Interval(-self.estimate, -self.hi, -self.lo, self.se, self.df)
        return flipped.p_above(-c)

    def p_inside(self, margin):
        """Equivalence (two one-sided tests): p for "inside ±margin"."""
        return max(self.p_above(-margin), self.p_below(margin))

    def p_outside(self, margin):
        """p for "outside ±margin" on one side or the other (Bonferroni over the two sides)."""
        return min(1.0, 2 * min(self.p_above(margin), self.p_below(-margin)))

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
    """The two-sided Student-t quantile at CONFIDENCE split over the looks (alpha()), Bonferroni-corrected for
    `comparisons`."""
    from scipy.stats import t

    return float(t.ppf(1 - alpha() / (2 * max(1, comparisons)), df))


def _interval(estimate, se, spread, comparisons):
    if not spread.df or not math.isfinite(se):
        return None
    half = t_quantile(comparisons, spread.df) * se
    return Interval(estimate, estimate - half, estimate + half, se, spread.df)


def difference(a, b, spread, comparisons=1):
    """Interval of mean(a) − mean(b) (b None: of mean(a)) with the pooled spread; None without data or spread."""
    if not a.n or (b is not None and not b.n):
        return None
    se = spread.sd * math.sqrt(1 / a.n + (1 / b.n if b is not None else 0.0))
    return _interval(a.mean - (b.mean if b is not None else 0.0), se, spread, comparisons)


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


def holm(pvalues, level=None):
    """Holm's step-down procedure: which of the p-values are rejected at family-wise level `level` (default
    alpha(): 1 − CONFIDENCE split over the looks), in order. A p-value that is None or nan is never rejected and
    counts as one of the family."""
    level = alpha() if level is None else level
    ps = [math.inf if p is None or math.isnan(p) else float(p) for p in pvalues]
    rejected = [False] * len(ps)
    for rank, i in enumerate(sorted(range(len(ps)), key=lambda j: ps[j])):
        if ps[i] > level / (len(ps) - rank):
            break
        rejected[i] = True
    return rejected


def key_text(key):
    """'β 0.3', or 'label β 0.3' for a (label, β) cell."""
    return f"{key[0]} β {key[1]:g}" if isinstance(key, tuple) else f"β {key:g}"


@dataclass(frozen=True)
class PerBeta:
    """A per-β decision: the β (or (label, β) cells) where the claim holds, where its opposite is clear, all."""

    verdict: str
    held: tuple  # where the claim holds (its tests rejected, Holm over all β)
    opposite: tuple  # where the opposite is clear (Holm)
    betas: tuple
    what: str = ""
    level: float = 1 - CONFIDENCE

    def text(self):
        """'what holds at k of n β (Holm, α 0.05); the opposite is clear at β 1'."""
        if not self.betas:
            return "no β with a finished run"
        unit = "(label, β)" if isinstance(self.betas[0], tuple) else "β"
        out = f"{self.what + ' ' if self.what else ''}holds at {len(self.held)} of {len(self.betas)} {unit} " \
              f"(Holm, α {self.level:.2g})"
        if self.opposite:
            out += f"; the opposite is clear at {len(self.opposite)} ({', '.join(map(key_text, self.opposite))})"
        return out

    def decision(self):
        """{verdict, reason}, for a row."""
        rest = "; the rest undecided" if self.verdict == "inconclusive" and self.betas else ""
        return {"verdict": self.verdict, "reason": self.text() + rest}


def per_beta(tests, what="", level=None):
    """Combine per-β tests {β or (label, β): (p of the claim, or [p for each part of it], p of its opposite)}:
    holds when every part is rejected at every β under Holm over all of them; does not hold when the opposite
    is rejected at some β under Holm over the β; else inconclusive (also with no β). Opposite effects at
    different β never average away."""
    level = alpha() if level is None else level
    betas = sorted(tests)
    parts = {b: tests[b][0] if isinstance(tests[b][0], (list, tuple)) else [tests[b][0]] for b in betas}
    flat = [(b, p) for b in betas for p in parts[b]]
    ok = holm([p for _, p in flat], level)
    held = tuple(b for b in betas if all(r for (bb, _), r in zip(flat, ok) if bb == b))
    against = holm([tests[b][1] for b in betas], level)
    opposite = tuple(b for b, r in zip(betas, against) if r)
    if opposite:
        verdict = "does not hold"
    elif betas and len(held) == len(betas):
        verdict = "holds"
    else:
        verdict = "inconclusive"
    return PerBeta(verdict, held, opposite, tuple(betas), what, level)


def rate_upper(k, n, confidence=None):
    """One-sided Clopper–Pearson upper bound of an event rate from k events in n runs (1 when n = 0), at
    `confidence` (default 1 − alpha(): CONFIDENCE split over the looks)."""
    from scipy.stats import beta

    confidence = 1 - alpha() if confidence is None else confidence
    if not n:
        return 1.0
    return 1.0 if k >= n else float(beta.ppf(confidence, k + 1, n - k))


def classifier_columns(df, metric):
    """The columns of one FID-like metric under every classifier: ["fid_c0", "fid_c1", ...] in k order, or
    [metric] when the summary has no `_c{k}` columns (one classifier)."""
    import re

    pattern = re.compile(rf"^{re.escape(metric)}_c(\d+)$")
    found = sorted((int(m.group(1)), c) for c in df.columns if (m := pattern.match(str(c))))
    return [c for _, c in found] or [metric]


#: The metrics a classifier changes (INTERFACES 2 and 3: `{metric}_c{k}`): the FIDs and the classifier score.
CLASSIFIER_METRICS = ("fid", "fid_recon", "fid_param", "fid_stretched", "fid_squeezed", "classifier_score",
                      "classifier_score_stretched", "classifier_score_squeezed")


def classifier_views(df):
    """[(name, df)] with each classifier's metrics in the plain columns (fid, fid_recon, ...): one view per
    classifier k ("c0", "c1", ...), or [("", df)] when the summary has one classifier."""
    ks = sorted({int(c.rsplit("_c", 1)[1]) for m in CLASSIFIER_METRICS for c in classifier_columns(df, m)
                 if c != m})
    if not ks:
        return [("", df)]
    views = []
    for k in ks:
        view = df.copy()
        for m in CLASSIFIER_METRICS:
            if f"{m}_c{k}" in df:
                view[m] = df[f"{m}_c{k}"]
        views.append((f"c{k}", view))
    return views


def cell_intervals(cells):
    """{β: Interval of the cell's mean} with the spread pooled over all cells (at CONFIDENCE split over the looks,
    not over the β: the decisions take Holm's procedure over their p-values); cells without a value or spread
    are left out."""
    spread = Spread.pooled(cells.values())
    out = {b: difference(c, None, spread) for b, c in cells.items()}
    return {b: iv for b, iv in out.items() if iv is not None}


def ratio_text(iv, prefix="×"):
    """An interval of a log ratio (or of a log level, prefix "") as '×e [lo, hi]'."""
    return f"{prefix}{math.exp(iv.estimate):.3g} [{math.exp(iv.lo):.3g}, {math.exp(iv.hi):.3g}]"
