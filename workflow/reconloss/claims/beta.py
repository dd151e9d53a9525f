"""The Beta likelihood's claim: it needs a trick where pixels are always background.

The Beta density is 0 or infinite at x = 0 and 1, and image backgrounds are exact
zeros. reconloss moves exact ends to eps (default 1e-3); the claim is tested by
intervention: the same runs with a trick 1000× weaker (eps 1e-6), seeds paired.
"""

import math

from reconloss.claims.claim import BETA_EPOCHS, Claim, Need
from reconloss.claims.evidence import EVENT_ALPHA, Spread, Stat, difference, more_events
from reconloss.claims.runs import BROKEN, betas, cells, describe, log, missing, not_tested, of, paired, still_moving

BETA, WEAK = "beta", "beta_eps1e-6"


def needs_trick(df, specs):
    lacking = missing(df, [BETA, WEAK])
    if lacking:
        return not_tested(lacking)
    weak, strong = of(df, WEAK), of(df, BETA)
    k_w, k_s = int(weak["outcome"].isin(BROKEN).sum()), int(strong["outcome"].isin(BROKEN).sum())
    p = more_events(k_w, len(weak), k_s, len(strong))
    shared = [b for b in betas(df, WEAK) if b in betas(df, BETA)]
    diffs = [paired(df, WEAK, b, BETA, b, "fid") for b in shared]
    noise = Spread.pooled([*cells(df, BETA, lambda r: log(r["fid"]), "fid").values(),
                           *cells(df, WEAK, lambda r: log(r["fid"]), "fid").values()])
    pooled = Stat([v for d in diffs for v in d.values])
    iv = difference(pooled, None, Spread.pooled(diffs))
    numbers = (f"broken runs: eps 1e-6 {k_w} of {len(weak)}, eps 1e-3 {k_s} of {len(strong)} (Fisher p = {p:.2g}); "
               f"FID eps 1e-6 / eps 1e-3 paired by seed "
               + (f"×{math.exp(iv.estimate):.3g} [{math.exp(iv.lo):.3g}, {math.exp(iv.hi):.3g}], margin "
                  f"×{math.exp(noise.margin):.3g}" if iv and noise.df else "n/a"))
    moving = still_moving(df, [BETA, WEAK])
    if p < EVENT_ALPHA:
        verdict, reason = "holds", "the weaker trick breaks clearly more often"
    elif moving:
        verdict, reason = "inconclusive", f"FID compared only once settled: {moving}"
    elif iv is not None and noise.df and iv.lo > noise.margin:
        verdict, reason = "holds", "the weaker trick's FID is clearly worse"
    elif iv is not None and noise.df and iv.similar(noise.margin) and k_w <= k_s:
        verdict, reason = "does not hold", "the weaker trick trains as well within seed noise"
    elif iv is not None and noise.df and iv.hi < -noise.margin and k_w <= k_s:
        verdict, reason = "does not hold", "the weaker trick's FID is clearly better"
    elif iv is None or not noise.df:
        verdict, reason = "inconclusive", "too few finished pairs of seeds to compare FIDs"
    else:
        verdict, reason = "inconclusive", (f"the FID ratio ×{math.exp(iv.estimate):.3g} has an interval that straddles "
                                           f"the noise margin ×{math.exp(noise.margin):.3g}: neither clearly "
                                           "different nor alike")
    return {"numbers": numbers, "runs": describe(df, [BETA, WEAK]), "verdict": verdict, "reason": reason}


CLAIMS = [
    Claim("beta_needs_tricks",
          "A Beta likelihood needs tricks on always-background pixels (exact zeros, where its density is 0 or "
          "infinite).",
          "broken runs and FID with exact zeros moved to 1e-6 instead of 1e-3, seeds paired",
          "clearly more broken runs (Fisher) or FID clearly worse beyond the noise margin: holds; as good within "
          "it: does not hold",
          "fid_vs_beta", (Need(BETA, (1.0,), BETA_EPOCHS), Need(WEAK, (1.0,), BETA_EPOCHS)),
          needs_trick),
]
