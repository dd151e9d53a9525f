"""Which runs of the summary a claim reads, and how it names the ones it leaves out.

A run's outcome (reconloss.evaluation.outcome) is ok, collapsed or diverged. Levels (FID,
MSE, σ, grey levels) are read from ok runs only: a diverged run has none and a
collapsed one has meaningless ones. Every run left out is named in the claim's
row, so a comparator that broke is visible, not silently averaged in or dropped.
"""

import math

from reconloss.claims.evidence import LOSS_SETTLED, Stat, unsettled

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
    for c in columns:
        ok = ok[ok[c].map(finite).astype(bool)] if c in ok else ok.iloc[0:0]
    return ok


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
