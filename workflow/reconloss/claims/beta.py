"""The Beta likelihood's claim: without a trick it diverges where pixels are always background.

The Beta density is 0 or infinite at x = 0 and 1, and image backgrounds are exact
zeros. reconloss moves exact ends to eps (default 1e-3: the usual trick); the claim
is tested by intervention: the same runs with the trick made negligible (eps 1e-9,
claim.LABEL_SPECS), with EVENT_SEEDS seeds per arm so that Fisher's exact test can
reach p < 0.05. The quantity is divergence (a non-finite loss); a collapse is its
own outcome, named and not counted.
"""

from reconloss.claims import followup
from reconloss.claims.claim import EVENT_SEEDS, STABILITY_EPOCHS, Claim, Need
from reconloss.claims.evidence import EVENT_ALPHA, alpha, confidence_text, more_events, rate_upper
from reconloss.claims.runs import betas, describe, missing, not_tested, of

BETA, NEGLIGIBLE = "beta", "beta_eps1e-9"


def _counts(df, label):
    runs = of(df, label)
    return int((runs["outcome"] == "diverged").sum()), int((runs["outcome"] == "collapsed").sum()), len(runs)


def needs_trick(df, specs):
    lacking = missing(df, [BETA, NEGLIGIBLE])
    if lacking:
        return not_tested(lacking)
    (k_n, c_n, n_n), (k_u, c_u, n_u) = _counts(df, NEGLIGIBLE), _counts(df, BETA)
    p = more_events(k_n, n_n, k_u, n_u)
    upper = rate_upper(k_n, n_n)
    numbers = (f"diverged: eps 1e-9 {k_n} of {n_n}, eps 1e-3 {k_u} of {n_u} (one-sided Fisher p = {p:.2g}); "
               f"collapsed (not counted): {c_n} and {c_u}; eps 1e-9's divergence rate at most {upper:.2f} "
               f"(one-sided {confidence_text()} Clopper–Pearson)")
    if p < alpha(EVENT_ALPHA):
        verdict, reason = "holds", "without the trick the Beta diverges clearly more often than with it"
    elif upper < 0.5:
        verdict, reason = "does not hold", "without the trick it diverges in clearly fewer than half of its runs"
    else:
        verdict, reason = "inconclusive", "too few runs to tell the divergence rates apart"
    follow = followup.straddles("divergence rate, eps 1e-9 against eps 1e-3", [NEGLIGIBLE, BETA],
                                betas(df, NEGLIGIBLE)) if verdict == "inconclusive" else ""
    return {"numbers": numbers, "runs": describe(df, [BETA, NEGLIGIBLE]), "verdict": verdict, "reason": reason,
            "follow_up": follow}


CLAIMS = [
    Claim("beta_needs_tricks",
          "A Beta likelihood needs a trick to keep from diverging where pixels are always background (exact 0s "
          "and 1s, where its density is 0 or infinite).",
          "diverged runs (a non-finite loss) with exact ends moved to 1e-3 (the usual trick) against 1e-9 (the "
          "trick negligible: in float32 1 − 1e-9 is 1), at least 5 seeds each",
          f"one-sided Fisher exact test, p < {EVENT_ALPHA:g}: holds; the negligible arm's divergence rate clearly "
          "below one half (one-sided 95 % upper bound): does not hold; else inconclusive",
          "divergence", (Need(BETA, (1.0,), STABILITY_EPOCHS, EVENT_SEEDS),
                         Need(NEGLIGIBLE, (1.0,), STABILITY_EPOCHS, EVENT_SEEDS)),
          needs_trick),
]
