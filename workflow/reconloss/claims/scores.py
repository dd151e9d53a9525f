"""Claims about what image measures see: the classifier score under a change of levels only, and whether CB's
expected values keep any sharpness over Bernoulli's.

The classifier score is the Inception Score's formula computed with each data set's own classifier (INTERFACES
3); like FID it is tested by intervention: the same samples, only their grey levels changed (CB's stretched to
the data's range, Bernoulli's squeezed into CB's), so any change is the measure reacting to the levels. Both are
decided per (likelihood, β) with Holm's correction (reconloss.claims.decide).
"""

import math

from reconloss.claims.choice import EQUIVALENT, SWEEPS
from reconloss.claims.claim import Claim
from reconloss.claims.decide import ALPHA, Test, classifier_columns, combine, gate, per_beta, pooled, result
from reconloss.claims.evidence import Stat
from reconloss.claims.runs import best_cell, cells, describe, log, missing, not_tested

CB, BERNOULLI = "continuous_bernoulli", "bernoulli"
SCORE = "classifier_score"
#: The level change each likelihood's samples get: CB's stretched to the data's range, Bernoulli's squeezed.
CHANGED = {CB: "stretched", BERNOULLI: "squeezed"}


def score_blind(df, specs):
    lacking = missing(df, [CB, BERNOULLI])
    if lacking:
        return not_tested(lacking)
    if SCORE not in df:
        return {"verdict": "not tested", "reason": f"the summary has no {SCORE} column (the classifier score)"}
    margin = math.log(EQUIVALENT)
    decisions, numbers = {}, []
    for column in classifier_columns(df, SCORE):
        suffix = column[len(SCORE):]
        change = {lab: cells(df, lab, lambda r, c=f"{SCORE}_{how}{suffix}": log(r[c]) - log(r[column]),
                             column, f"{SCORE}_{how}{suffix}")
                  for lab, how in CHANGED.items() if f"{SCORE}_{how}{suffix}" in df}
        spread = pooled(*change.values())
        # every (likelihood, β) counts: one without finished runs or a spread is undecided, never dropped
        tests = {(lab, b): Test.of(s, None, spread) for lab, by in change.items() for b, s in by.items()}
        if not any(tests.values()):
            decisions[column] = {"verdict": "inconclusive", "reason": "no level-changed scores with a spread"}
            continue
        numbers.append(f"{column}: " + "; ".join(f"{lab} β {b:g} {CHANGED[lab]} / as sampled "
                                                 f"{t.text() if t else 'no finished run'}"
                                                 for (lab, b), t in tests.items()))
        decisions[column] = per_beta({k: (t.p_inside(margin), t.p_outside(margin)) if t else (1.0, 1.0)
                                      for k, t in tests.items()}, f"unchanged within ×{EQUIVALENT:g}")
    return result(" | ".join(numbers), describe(df, [CB, BERNOULLI]), combine(decisions))


def mean_not_sharper(df, specs):
    """At each one's own best β (by sample FID): the models one would show. Compared at one nominal β the two
    are at different trade-offs (CB needs a larger β), and a blurrier Bernoulli at β 10 would make CB look sharp."""
    lacking = missing(df, [CB, BERNOULLI])
    if lacking:
        return not_tested(lacking)
    bests = {lab: best_cell(df, lab, "fid")[0] for lab in (CB, BERNOULLI)}
    if None in bests.values():
        return {"runs": describe(df, [CB, BERNOULLI]), "verdict": "inconclusive", "reason": "no finished run"}
    sharp = {lab: cells(df, lab, lambda r: log(r["sharpness_mean"]), "sharpness_mean") for lab in (CB, BERNOULLI)}
    t = Test.of(sharp[CB].get(bests[CB], Stat()), sharp[BERNOULLI].get(bests[BERNOULLI], Stat()), pooled(*sharp.values()))
    bound = math.log(EQUIVALENT)
    numbers = (f"best β: CB {bests[CB]:g}, Bernoulli {bests[BERNOULLI]:g}; E[x] sharpness CB / Bernoulli "
               f"{t.text() if t else 'n/a'} (bound ×{EQUIVALENT:g})")
    reasons = gate(df, list(bests.items()))
    if reasons or t is None:
        decision = {"verdict": "inconclusive", "reason": "; ".join(reasons) or "no spread"}
    elif t.p_below(bound) < ALPHA:
        decision = {"verdict": "holds", "reason": f"CB clearly at most ×{EQUIVALENT:g} as sharp"}
    elif t.p_above(bound) < ALPHA:
        decision = {"verdict": "does not hold", "reason": f"CB clearly sharper than ×{EQUIVALENT:g}"}
    else:
        decision = {"verdict": "inconclusive", "reason": "the interval straddles the bound"}
    return result(numbers, describe(df, [CB, BERNOULLI]), decision)


CLAIMS = [
    Claim("score_blind_to_desaturation",
          "The classifier score (the Inception Score's formula with the data set's own classifier) does not "
          "react to CB's desaturation either.",
          "log change of the classifier score when only the levels change (CB stretched, Bernoulli squeezed), "
          "per likelihood and β, under every classifier",
          f"inside ×{EQUIVALENT:g} at every (likelihood, β) (two one-sided tests, Holm) under every classifier: "
          f"holds; clearly outside at some: does not hold",
          "dynamic_range", (SWEEPS[BERNOULLI], SWEEPS[CB]), score_blind),
    Claim("cb_mean_not_sharper",
          "Shown as expected values, CB's reconstructions are no sharper than Bernoulli's.",
          "gradient energy of the E[x] reconstructions, CB over Bernoulli, each at its own best β (sample FID)",
          f"CB clearly at most ×{EQUIVALENT:g} as sharp: holds; clearly sharper than that: does not hold; a best β "
          "at its grid's edge or unsettled runs: inconclusive",
          "cb_image", (SWEEPS[BERNOULLI], SWEEPS[CB]), mean_not_sharper),
]
