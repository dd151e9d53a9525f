"""Claims about CB on colour images (the post's "Sharpness" and "Instability and Color Range", shown on CIFAR-10).

Two observations, judged on any RGB data set from the colour metrics of
reconloss.evaluation.colour, against the two comparators whose mean is their
parameter (Bernoulli, and the Gaussian with a fixed σ):

- λ oversaturated, E[x] fine: CB's λ has clearly more subpixels at the extremes
  (≤ 0.02 or ≥ 0.98) than the data, while the level distribution of CB's E[x] is
  no further from the data's (Wasserstein-1, per channel) than each comparator's
  by more than W1_MARGIN;
- black-and-white elements: on the test images with large near-black and
  near-white regions (reconloss.evaluation.colour.bw_indices), CB's λ on the white
  regions is clearly whiter than the data (overblown), and CB's E[x] there clearly
  darker than the data and than each comparator's (too dark). The post speaks of
  brightness: the black regions' levels are shown in the row, not judged.

Decided per β: every part is a one-sided t-test over seeds (the spread pooled
over the β cells it uses); "holds" when Holm's procedure rejects every part at
every β (family-wise α = 0.05), "does not hold" when Holm's procedure over the
opposite directions finds one clear at some β, else "inconclusive". The row
shows at how many β every part held. Levels change with training, so, as for
every level the claims judge, runs whose loss still moves are not judged
(inconclusive, naming the trend; more epochs decide). Grey data sets have no
colour metrics: their rows say so.
"""

import math

from reconloss.claims.claim import LABEL_SPECS, Claim, Need
from reconloss.claims import evidence
from reconloss.claims.evidence import CONFIDENCE, Spread, Stat, holm
from reconloss.claims.runs import (betas, cells, describe, finished, missing, moving_follow_up, not_tested, of,
                                   still_moving)

CB, BERNOULLI, GAUSSIAN = "continuous_bernoulli", "bernoulli", "gaussian_fixed"
COMPARATORS = (BERNOULLI, GAUSSIAN)
#: β of the colour runs: 1 and 3 (CB's own scale sits above Bernoulli's; the verdict must hold at both).
COLOUR_BETAS = (1.0, 3.0)
#: Epochs of the colour runs: a configuration sized for a CPU caps them (claims.max_epochs).
COLOUR_EPOCHS = 12
#: How much further from the data's levels CB's E[x] may be than a comparator's and still count as "fine":
#: a Wasserstein-1 distance of 0.02, every level moved by about 5 of 255 grey levels.
W1_MARGIN = 0.02
NEEDS = tuple(Need(label, COLOUR_BETAS, COLOUR_EPOCHS) for label in (CB, *COMPARATORS))


def one_sided(estimate, se, df, shift=0.0):
    """(p that the true value exceeds shift, p that it lies below shift): one-sided Student-t tests."""
    from scipy.stats import t

    if not df or not se > 0 or not math.isfinite(se):
        return math.nan, math.nan
    score = (estimate - shift) / se
    return float(t.sf(score, df)), float(t.cdf(score, df))


class Parts:
    """The per-β tests of one claim: each part is (β, name, p that it holds, p of the opposite)."""

    def __init__(self):
        self.parts, self.texts = [], []

    def above(self, beta, name, a, b, spread, shift=0.0, text=None):
        """Part "mean(a) − mean(b) > shift" (b None: mean(a) > shift), with the pooled spread."""
        if not a.n or (b is not None and not b.n) or not spread.df:
            self.parts.append((beta, name, math.nan, math.nan))
            self.texts.append(f"β {beta:g} {name}: no spread")
            return
        est = a.mean - (b.mean if b is not None else 0.0)
        se = spread.sd * math.sqrt(1 / a.n + (1 / b.n if b is not None else 0.0))
        p_hold, p_opp = one_sided(est, se, spread.df, shift)
        self.parts.append((beta, name, p_hold, p_opp))
        self.texts.append(text.format(est=est) if text else f"β {beta:g} {name}: {est:.3g}")

    def below(self, beta, name, a, b, spread, shift=0.0, text=None):
        """Part "mean(a) − mean(b) < shift"."""
        self.above(beta, name, a, b, spread, shift, text)
        beta_, name_, p_hold, p_opp = self.parts[-1]
        self.parts[-1] = (beta_, name_, p_opp, p_hold)

    def verdict(self, betas_):
        """{verdict, reason, held}: Holm over the parts' p-values and over their opposites."""
        if not self.parts or any(math.isnan(p) for _, _, p, _ in self.parts):
            return {"verdict": "inconclusive", "reason": "no seed-to-seed spread for every part (one seed per cell, "
                                                         "or a comparator missing)", "held": 0}
        held = holm([p for _, _, p, _ in self.parts])
        against = holm([q for _, _, _, q in self.parts])
        k = sum(all(h for (b, _, _, _), h in zip(self.parts, held) if b == beta) for beta in betas_)
        if any(against):
            clear = [f"{name} at β {b:g}" for (b, name, _, _), a in zip(self.parts, against) if a]
            return {"verdict": "does not hold", "reason": "the opposite is clear (Holm): " + ", ".join(clear),
                    "held": k}
        if all(held):
            return {"verdict": "holds", "reason": f"every part clear at every β (Holm over {len(held)} tests, "
                                                  f"α {evidence.alpha():.3g})", "held": k}
        weak = [f"{name} at β {b:g}" for (b, name, _, _), h in zip(self.parts, held) if not h]
        return {"verdict": "inconclusive", "reason": "not clear (Holm): " + ", ".join(weak), "held": k}


def _rgb(df):
    """Why the rows cannot judge a colour claim (a grey data set, or no colour metrics), or None."""
    if "colour_mean_w1" not in df or not df["colour_mean_w1"].notna().any():
        return {"verdict": "not tested", "figure": "",
                "reason": "no colour metrics: the data set is not RGB (the colour claims need 3 channels)"}
    return None


def _common_betas(df, labels):
    grids = [set(betas(df, label)) for label in labels]
    return sorted(set.intersection(*grids)) if grids else []


def _value(column, minus=None):
    return lambda r: float(r[column]) - (float(r[minus]) if minus else 0.0)


def _row(df, parts, betas_, numbers, labels):
    out = parts.verdict(betas_)
    held = out.pop("held")
    out["numbers"] = f"{held} of {len(betas_)} β with every part clear; " + numbers + "; " + "; ".join(parts.texts)
    out["runs"] = describe(df, labels)
    moving = still_moving(df, labels)  # levels change with training: judged on settled models only
    if moving:
        out["reason"] = f"{moving} (the tests alone: {out['verdict']}, {out['reason']})"
        out["verdict"] = "inconclusive"
        out["follow_up"] = moving_follow_up(df, labels)  # more epochs, resumed: a follow-up round's remedy
    return out


def _mean_text(df, label, column):
    rows = finished(of(df, label), column)
    return f"{rows[column].mean():.3g}" if len(rows) else "n/a"


def _unjudgeable(df, labels):
    """Why these rows cannot judge a colour claim (not RGB, or runs missing), or None."""
    early = _rgb(df)
    if early:
        return early
    lacking = missing(df, labels)
    return not_tested(lacking) if lacking else None


def lambda_oversaturated(df, specs):
    labels = [CB, *COMPARATORS]
    early = _unjudgeable(df, labels)
    if early:
        return early
    grid = _common_betas(df, labels)
    share = cells(df, CB, _value("colour_param_extreme", "colour_data_extreme"), "colour_param_extreme",
                  "colour_data_extreme")
    w1 = {label: cells(df, label, _value("colour_mean_w1"), "colour_mean_w1") for label in labels}
    share_spread = Spread.pooled(share.values())
    parts = Parts()
    for beta in grid:
        parts.above(beta, "λ share > data share", share.get(beta, Stat()), None, share_spread,
                    text=f"β {beta:g}: λ share − data share {{est:+.3g}}")
        for comp in COMPARATORS:
            spread = Spread.pooled([*w1[CB].values(), *w1[comp].values()])
            parts.below(beta, f"E[x] W1 − {comp}'s < {W1_MARGIN:g}", w1[CB].get(beta, Stat()),
                        w1[comp].get(beta, Stat()), spread, W1_MARGIN,
                        text=f"β {beta:g}: E[x] W1 − {comp}'s {{est:+.3g}}")
    numbers = (f"subpixels at the extremes: data {_mean_text(df, CB, 'colour_data_extreme')}, CB λ "
               f"{_mean_text(df, CB, 'colour_param_extreme')}, CB E[x] {_mean_text(df, CB, 'colour_mean_extreme')}; "
               "W1 to the data's levels: " + ", ".join(
                   f"{label} E[x] {_mean_text(df, label, 'colour_mean_w1')}" for label in labels)
               + f", CB λ {_mean_text(df, CB, 'colour_param_w1')} (means over runs)")
    return _row(df, parts, grid, numbers, labels)


def black_white_elements(df, specs):
    labels = [CB, *COMPARATORS]
    early = _unjudgeable(df, labels)
    if early:
        return early
    if not (finished(of(df, CB), "colour_bw_images")["colour_bw_images"] > 0).any():
        return {"verdict": "inconclusive", "runs": describe(df, labels),
                "reason": "no test image has black-and-white elements (reconloss.evaluation.colour.bw_indices)"}
    grid = _common_betas(df, labels)
    cols = ("colour_bw_data_white", "colour_bw_data_black", "colour_bw_param_white", "colour_bw_param_black",
            "colour_bw_mean_white")
    over_white = cells(df, CB, _value("colour_bw_param_white", "colour_bw_data_white"), *cols)
    dark = cells(df, CB, _value("colour_bw_data_white", "colour_bw_mean_white"), *cols)
    white = {label: cells(df, label, _value("colour_bw_mean_white"), "colour_bw_mean_white") for label in labels}
    parts = Parts()
    for beta in grid:
        for name, c, fmt in (("λ whiter than the data's white", over_white, "λ − data on white {est:+.3g}"),
                             ("E[x] darker than the data's white", dark, "data − E[x] on white {est:+.3g}")):
            parts.above(beta, name, c.get(beta, Stat()), None, Spread.pooled(c.values()), text=f"β {beta:g}: {fmt}")
        for comp in COMPARATORS:
            spread = Spread.pooled([*white[CB].values(), *white[comp].values()])
            parts.above(beta, f"E[x] darker than {comp}'s on white", white[comp].get(beta, Stat()),
                        white[CB].get(beta, Stat()), spread,
                        text=f"β {beta:g}: {comp} − CB E[x] on white {{est:+.3g}}")
    n_images = int(finished(of(df, CB), "colour_bw_images")["colour_bw_images"].max())
    numbers = (f"{n_images} test images with black-and-white elements; on their white / black pixels: data "
               f"{_mean_text(df, CB, 'colour_bw_data_white')} / {_mean_text(df, CB, 'colour_bw_data_black')}, CB λ "
               f"{_mean_text(df, CB, 'colour_bw_param_white')} / {_mean_text(df, CB, 'colour_bw_param_black')}, "
               + ", ".join(f"{label} E[x] {_mean_text(df, label, 'colour_bw_mean_white')} / "
                           f"{_mean_text(df, label, 'colour_bw_mean_black')}" for label in labels)
               + " (means over runs)")
    return _row(df, parts, grid, numbers, labels)


CLAIMS = [
    Claim("colour_lambda_oversaturated",
          "On colour images CB's parameter image λ is oversaturated, while its expected value E[x] looks right.",
          "share of subpixels ≤ 0.02 or ≥ 0.98 in λ against the data's; Wasserstein-1 distance of E[x]'s levels "
          "from the data's, per channel, against Bernoulli's and the fixed-σ Gaussian's",
          f"per β: λ's share clearly above the data's, and CB's E[x] distance no more than {W1_MARGIN:g} above each "
          f"comparator's (one-sided t-tests over seeds); holds when every part is clear at every β (Holm, α "
          f"{1 - CONFIDENCE:g}, divided by the looks of the follow-up rounds), does not hold when an opposite is clear at some β; a loss still moving: inconclusive",
          "colour_image", NEEDS, lambda_oversaturated, channels=3),
    Claim("colour_black_white_elements",
          "On a colour image with black and white elements CB's λ is overblown while its E[x] is too dark.",
          "on test images with ≥ 10 % near-black (every channel ≤ 0.1) and ≥ 10 % near-white (every channel "
          "≥ 0.9) pixels: the mean level of λ, E[x] and the data on those regions, against Bernoulli's and the "
          "fixed-σ Gaussian's E[x]",
          "per β, on the white regions: λ clearly whiter than the data, CB's E[x] clearly darker than the data and "
          "than each comparator's (black regions shown, not judged); holds when every part is clear at every β "
          f"(Holm, α {1 - CONFIDENCE:g}, divided by the looks of the follow-up rounds), does not hold when an opposite is clear at some β; a loss still moving: "
          "inconclusive",
          "colour_image", NEEDS, black_white_elements, channels=3),
]
assert all(n.label in LABEL_SPECS or n.label in (CB, BERNOULLI) for c in CLAIMS for n in c.needs)
