"""Claims about what image measures see: the classifier score under a change of levels only, and whether CB's
expected values keep any sharpness over Bernoulli's.

The classifier score is the Inception Score's formula computed with each data set's own classifier (INTERFACES
3); like FID it is tested by intervention: the same samples, only their grey levels changed (CB's stretched to
the data's range, Bernoulli's squeezed into CB's), so any change is the measure reacting to the levels. It is
decided per (likelihood, β) with Holm's correction (evidence.per_beta) and under every classifier
(claim.every_classifier).
"""

import math

from reconloss.claims.choice import SWEEPS
from reconloss.claims.claim import Claim, every_classifier
from reconloss.claims.evidence import FID_MARGIN, Spread, Stat, alpha, difference, per_beta, ratio_text
from reconloss.claims.runs import best_cell, cells, describe, gate, log, missing, not_tested

CB, BERNOULLI = "continuous_bernoulli", "bernoulli"
SCORE = "classifier_score"
#: The level change each likelihood's samples get: CB's stretched to the data's range, Bernoulli's squeezed.
CHANGED = {CB: "stretched", BERNOULLI: "squeezed"}
#: A sharpness advantage smaller than a tenth of the gradient energy is not one a reader sees.
SHARP_MARGIN = math.log(1.10)


@every_classifier
def score_blind(df, specs):
    lacking = missing(df, [CB, BERNOULLI])
    if lacking:
        return not_tested(lacking)
    if SCORE not in df:
        return {"verdict": "not tested", "reason": f"the summary has no {SCORE} column (the classifier score)"}
    change = {lab: cells(df, lab, lambda r, c=f"{SCORE}_{how}": log(r[c]) - log(r[SCORE]), SCORE, f"{SCORE}_{how}")
              for lab, how in CHANGED.items() if f"{SCORE}_{how}" in df}
    spread = Spread.pooled([s for by in change.values() for s in by.values()])
    # every (likelihood, β) counts: one without finished runs or a spread is undecided, never dropped
    tests = {(lab, b): difference(s, None, spread) for lab, by in change.items() for b, s in by.items()}
    runs = describe(df, [CB, BERNOULLI])
    if not any(tests.values()):
        return {"runs": runs, "verdict": "inconclusive", "reason": "no level-changed scores with a spread"}
    numbers = "; ".join(f"{lab} β {b:g} {CHANGED[lab]} / as sampled {ratio_text(t) if t else 'no finished run'}"
                        for (lab, b), t in tests.items())
    decision = per_beta({k: (t.p_inside(FID_MARGIN), t.p_outside(FID_MARGIN)) if t else (1.0, 1.0)
                         for k, t in tests.items()}, f"unchanged within ×{math.exp(FID_MARGIN):.2f}").decision()
    return {"numbers": numbers, "runs": runs, **decision}


def _sharpness(df, bests, cb_column):
    """Interval of log sharpness, CB's `cb_column` over Bernoulli's E[x], each at its own best β (None: no data)."""
    cb = cells(df, CB, lambda r: log(r[cb_column]), cb_column)
    bern = cells(df, BERNOULLI, lambda r: log(r["sharpness_mean"]), "sharpness_mean")
    spread = Spread.pooled([*cb.values(), *bern.values()])
    return difference(cb.get(bests[CB], Stat()), bern.get(bests[BERNOULLI], Stat()), spread)


@every_classifier
def mean_not_sharper(df, specs):
    """At each one's own best β (by sample FID): the models one would show. Compared at one nominal β the two
    are at different trade-offs (CB needs a larger β), and a blurrier Bernoulli at β 10 would make CB look sharp."""
    lacking = missing(df, [CB, BERNOULLI])
    if lacking:
        return not_tested(lacking)
    bests = {lab: best_cell(df, lab)[0] for lab in (CB, BERNOULLI)}
    if None in bests.values():
        return {"runs": describe(df, [CB, BERNOULLI]), "verdict": "inconclusive", "reason": "no finished run"}
    t = _sharpness(df, bests, "sharpness_mean")
    # what CB's parameter images show (they looked sharp): beside the verdict, not deciding it
    shown = _sharpness(df, bests, "sharpness_param") if "sharpness_param" in df else None
    numbers = (f"best β: CB {bests[CB]:g}, Bernoulli {bests[BERNOULLI]:g}; gradient energy, CB E[x] / Bernoulli "
               f"{ratio_text(t) if t else 'n/a'} (bound ×{math.exp(SHARP_MARGIN):.2f}); CB λ image / Bernoulli "
               f"{ratio_text(shown) if shown else 'n/a'} (what the parameters show)")
    reasons, follow = gate(df, list(bests.items()))
    if reasons or t is None:
        decision = {"verdict": "inconclusive", "reason": "; ".join(reasons) or "no spread", "follow_up": follow}
    elif t.p_below(SHARP_MARGIN) < alpha():
        decision = {"verdict": "holds", "reason": f"CB clearly at most ×{math.exp(SHARP_MARGIN):.2f} as sharp"}
    elif t.p_above(SHARP_MARGIN) < alpha():
        decision = {"verdict": "does not hold", "reason": f"CB clearly sharper than ×{math.exp(SHARP_MARGIN):.2f}"}
    else:
        decision = {"verdict": "inconclusive", "reason": "the interval straddles the bound"}
    return {"numbers": numbers, "runs": describe(df, [CB, BERNOULLI]), **decision}


CLAIMS = [
    Claim("score_blind_to_desaturation",
          "The classifier score (the Inception Score's formula with the data set's own classifier) does not "
          "react to CB's desaturation either.",
          "log change of the classifier score when only the levels change (CB stretched, Bernoulli squeezed), "
          "per likelihood and β, under every classifier",
          f"inside ×{math.exp(FID_MARGIN):.2f} at every (likelihood, β) (two one-sided tests, Holm) under every "
          "classifier: holds; clearly outside at some: does not hold",
          "dynamic_range", (SWEEPS[BERNOULLI], SWEEPS[CB]), score_blind),
    Claim("cb_mean_not_sharper",
          "Shown as expected values, CB's reconstructions are no sharper than Bernoulli's.",
          "gradient energy (mean squared neighbour difference) of the E[x] reconstructions, CB over Bernoulli, each "
          "at its own best β (sample FID, under every classifier); CB's λ images over Bernoulli's shown beside it",
          f"CB clearly at most ×{math.exp(SHARP_MARGIN):.2f} as sharp (a tenth more gradient energy is the smallest "
          "advantage counted as one): holds; clearly sharper than that: does not hold; a best β at its grid's edge "
          "or unsettled runs: inconclusive; the same under every classifier",
          "cb_image", (SWEEPS[BERNOULLI], SWEEPS[CB]), mean_not_sharper),
]
