"""The Beta likelihood's claim: without a trick it diverges where pixels are always background.

The Beta density is 0 or infinite at x = 0 and 1, and image backgrounds are exact
zeros. reconloss moves exact ends to eps (default 1e-3: the usual trick); the claim
is tested by intervention: the same runs with the trick made negligible (eps 1e-9,
claim.LABEL_SPECS), with EVENT_SEEDS seeds per arm so that Fisher's exact test can
reach p < 0.05. The quantity is divergence (a non-finite loss); a collapse is its
own outcome, named and not counted.
"""

from reconloss.claims.claim import EVENT_SEEDS, STABILITY_EPOCHS, Claim, Need
from reconloss.claims.evidence import EVENT_ALPHA
from reconloss.claims.runs import diverges_more

BETA, NEGLIGIBLE = "beta", "beta_eps1e-9"


def needs_trick(df, specs):
    return diverges_more(df, NEGLIGIBLE, BETA, "divergence rate, eps 1e-9 against eps 1e-3", {
        "holds": "without the trick the Beta diverges clearly more often than with it",
        "does not hold": "without the trick it diverges in clearly fewer than half of its runs",
        "inconclusive": "too few runs to tell the divergence rates apart"})


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
