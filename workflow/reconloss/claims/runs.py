"""Which runs of the summary a claim reads, and how it names the ones it leaves out.

A run's outcome (reconloss.evaluation.outcome) is ok, collapsed or diverged. Levels (FID,
MSE, σ, grey levels) are read from ok runs only: a diverged run has none and a
collapsed one has meaningless ones. Every run left out is named in the claim's
row, so a comparator that broke is visible, not silently averaged in or dropped.
"""

import contextvars
import math

from reconloss.claims import followup
from reconloss.claims.evidence import (
    EVENT_ALPHA,
    LOSS_SETTLED,
    Stat,
    alpha,
    confidence_text,
    more_events,
    rate_upper,
    unsettled,
)

#: Finished runs left out of a level for a non-finite value: {(label, β, seed, column)}, collected per claim
#: (claims_frame names them in the row), so a value is never dropped silently.
NONFINITE = contextvars.ContextVar("nonfinite", default=None)

BROKEN = ("diverged", "collapsed")


def finite(v):
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def log(v):
    return math.log(float(v)) if finite(v) and float(v) > 0 else math.nan


def of(df, label, beta=None):
    """The runs of one grid label (at one β)."""
    d = df[df["likelihood"] == label]
    return d if beta is None else d[d["beta"].map(lambda b: math.isclose(float(b), beta, rel_tol=1e-9))]


def finished(df, *columns):
    """Runs with outcome ok and every column finite."""
    ok = df[df["outcome"] == "ok"]
    seen = NONFINITE.get()
    for c in columns:
        if c not in ok:
            ok = ok.iloc[0:0]
            continue
        good = ok[c].map(finite).astype(bool)
        if seen is not None:
            seen.update((r["likelihood"], float(r["beta"]), int(r["seed"]), c) for _, r in ok[~good].iterrows())
        ok = ok[good]
    return ok


def nonfinite_text(found):
    """'non-finite, left out: label β=… seed … (column), …' or ''."""
    return ("non-finite, left out: " + ", ".join(f"{lab} β={b:g} seed {s} ({c})" for lab, b, s, c in sorted(found))
            if found else "")


def duplicated_runs(summary):
    """Error naming every (dataset, label, β, seed) with more than one row (a re-run concatenated)."""
    key = ["dataset", "likelihood", "beta", "seed"]
    dup = summary[summary.duplicated(key, keep=False)]
    if len(dup):
        named = sorted({(str(r["dataset"]), str(r["likelihood"]), float(r["beta"]), int(r["seed"]))
                        for _, r in dup.iterrows()})
        raise ValueError("the summary has more than one row per run: " + ", ".join(
            f"{d} {lab} β={b:g} seed {s}" for d, lab, b, s in named))


def betas(df, label):
    return sorted({float(b) for b in of(df, label)["beta"]})


def at_edge(beta, grid):
    """A best β at the lowest or highest β of its grid (the optimum may lie beyond it)."""
    return len(grid) < 3 or math.isclose(beta, min(grid)) or math.isclose(beta, max(grid))


def cells(df, label, value, *columns):
    """{β: Stat of value(row) over the finished runs (seeds) at β} for one label."""
    out = {}
    for beta in betas(df, label):
        rows = finished(of(df, label, beta), *columns)
        out[beta] = Stat([value(r) for _, r in rows.iterrows()])
    return out


def by_seed(df, value, *columns):
    """{seed: value(row)} of the finished runs in df (one cell)."""
    return {int(r["seed"]): value(r) for _, r in finished(df, *columns).iterrows()}


def run_counts(df, label):
    """'label: N runs (ok, collapsed, diverged), E epochs': the epochs the runs trained, which a cut-down
    run makes fewer than the claim needs."""
    d = of(df, label)
    n = {o: int((d["outcome"] == o).sum()) for o in ("ok", "collapsed", "diverged")}
    text = f"{label}: {len(d)} runs ({n['ok']} ok, {n['collapsed']} collapsed, {n['diverged']} diverged)"
    epochs = sorted({int(e) for e in d.get("epochs", []) if finite(e)})
    if epochs:
        text += f", {epochs[0]}{'–' + str(epochs[-1]) if len(epochs) > 1 else ''} epochs"
    return text


def left_out(df, labels):
    """'left out: label β=… seed … (diverged), …' for the broken runs of labels; '' when none."""
    named = []
    for label in labels:
        for _, r in of(df, label).iterrows():
            if r["outcome"] in BROKEN:
                named.append(f"{label} β={float(r['beta']):g} seed {int(r['seed'])} ({r['outcome']})")
    return "left out: " + ", ".join(named) if named else ""


def describe(df, labels):
    """The row's `runs` text: counts per label and the runs left out."""
    parts = [run_counts(df, lab) for lab in labels]
    gone = left_out(df, labels)
    return "; ".join(parts + ([gone] if gone else []))


def missing(df, labels):
    return [lab for lab in labels if of(df, lab).empty]


def not_tested(labels):
    return {"verdict": "not tested", "reason": f"the summary has no runs of {', '.join(labels)}"}


def best_cell(df, label, column="fid"):
    """(best β, {β: Stat of log column}) of a label: the β with the lowest seed-mean log value; (None, {}) if none."""
    by_beta = {b: s for b, s in cells(df, label, lambda r: log(r[column]), column).items() if s.n}
    if not by_beta:
        return None, {}
    return min(by_beta, key=lambda b: (by_beta[b].mean, b)), by_beta


def paired(df, a, beta_a, b, beta_b, column):
    """Stat over seeds of log column(a at β_a) − log column(b at β_b), the same seed on both sides."""
    va = by_seed(of(df, a, beta_a), lambda r: log(r[column]), column)
    vb = by_seed(of(df, b, beta_b), lambda r: log(r[column]), column)
    return Stat([va[s] - vb[s] for s in sorted(set(va) & set(vb))])


def still_moving(df, labels, beta=None, column="loss_trend", limit=LOSS_SETTLED):
    """Why the finished runs of labels (at β) have not settled (evidence.unsettled), or None when they have."""
    return unsettled([t for label in labels for t in trends_of(of(df, label, beta), column)], limit)


def trends_of(df, column="loss_trend"):
    """The trend column of the finished runs in df, None where unknown."""
    rows = finished(df)
    if column not in rows:
        return [None] * len(rows)
    return [float(v) if finite(v) else None for v in rows[column]]


def moving_follow_up(df, labels, beta=None, column="loss_trend", limit=LOSS_SETTLED):
    """The follow-up of the first (label, β) whose finished runs have not settled, or None."""
    for label in labels:
        for b in ([beta] if beta is not None else betas(df, label)):
            if unsettled(trends_of(of(df, label, b), column), limit):
                return followup.unsettled(label, b)
    return None


def edge_follow_up(df, label, beta):
    """The follow-up of a best β at its grid's edge, or None when it lies inside."""
    grid = betas(df, label)
    return followup.edge(label, beta, grid) if at_edge(beta, grid) else None


def no_spread(df, labels, reason="no seed-to-seed spread (one seed per β)"):
    """The inconclusive row of a claim whose cells have one seed each: more seeds settle it."""
    return {"runs": describe(df, labels), "verdict": "inconclusive", "reason": reason,
            "follow_up": followup.straddles("seed-to-seed spread", labels,
                                            sorted({b for lab in labels for b in betas(df, lab)}))}


def gate(df, bests, edges=True):
    """(reasons the best-β comparison cannot decide, the follow-up of each): a best β at its grid's edge,
    runs not settled there."""
    reasons, follows = [], []
    for label, beta in bests:
        grid = betas(df, label)
        if edges and at_edge(beta, grid):
            reasons.append(f"{label}'s best β {beta:g} is at the edge of its grid "
                           f"({', '.join(f'{b:g}' for b in grid)})")
            follows.append(edge_follow_up(df, label, beta))
        moving = still_moving(df, [label], beta)
        if moving:
            reasons.append(f"{label} at β {beta:g}: {moving}")
            follows.append(moving_follow_up(df, [label], beta))
    return reasons, followup.merged(*follows)


def divergences(df, label):
    """(diverged, runs, text) of one label; the text names the collapses apart (a collapse is not a divergence)."""
    runs = of(df, label)
    d, c = int((runs["outcome"] == "diverged").sum()), int((runs["outcome"] == "collapsed").sum())
    return d, len(runs), f"{label}: diverged {d} of {len(runs)}, collapsed {c} (a collapse is not a divergence)"


def diverges_more(df, a, b, comparison, reasons):
    """The event rule's row: does `a` diverge more often than `b`? Holds when the one-sided Fisher p < α; does
    not hold when a's divergence rate is clearly below one half (one-sided Clopper–Pearson bound); else
    inconclusive, asking for more seeds of both. Both at the α of the looks in force. reasons: {verdict: why}."""
    lacking = missing(df, [a, b])
    if lacking:
        return not_tested(lacking)
    (k_a, n_a, t_a), (k_b, n_b, t_b) = divergences(df, a), divergences(df, b)
    p, upper = more_events(k_a, n_a, k_b, n_b), rate_upper(k_a, n_a)
    verdict = "holds" if p < alpha(EVENT_ALPHA) else "does not hold" if upper < 0.5 else "inconclusive"
    numbers = (f"{t_a}; {t_b}; one-sided Fisher p = {p:.2g} (decides below {alpha(EVENT_ALPHA):.3g}); {a}'s "
               f"divergence rate at most {upper:.2f} (one-sided {confidence_text()} Clopper–Pearson)")
    follow = followup.straddles(comparison, [a, b], betas(df, a)) if verdict == "inconclusive" else ""
    return {"numbers": numbers, "runs": describe(df, [a, b]), "verdict": verdict, "reason": reasons[verdict],
            "follow_up": follow}
