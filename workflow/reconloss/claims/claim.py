"""A claim as one object: the study's sentence, the runs that decide it, its quantity, rule and figure.

The runs are the claim's own: `snakemake claims` trains exactly the union of what
the listed claims need (reconloss.plan.runs), and the claim's test reads them
back from the summary table. Epochs are spent where a claim needs them: a FID
level over β needs a trained model (SWEEP_EPOCHS), an exact equivalence or a
first-epoch divergence does not.
"""

from dataclasses import dataclass
from typing import Callable

from reconloss.claims import followup

#: β of the Bernoulli and CB sweeps: two decades each side of 1, so that a best β inside is not an edge.
BETA_SWEEP = (0.1, 0.3, 1.0, 3.0, 10.0)
#: β of the Beta and truncated Gaussian sweeps, which only locate each one's best FID for the comparison with
#: CB: a decade apart, as their runs cost twice a Bernoulli's (18.7 s per MNIST run-epoch against 10.7 on the
#: 2-core machine), and a follow-up round adds the β between two neighbours where a verdict needs it.
COARSE_SWEEP = (0.1, 1.0, 10.0)
#: Epochs of a claim about FID levels over β (Bernoulli against CB, the likelihood-choice sweeps): the levels must
#: have settled. 12, not 16: at 16 the published runs' loss moved at most 0.40 %/epoch (MNIST Bernoulli β 0.1; CB
#: and FashionMNIST ≤ 0.12 %), far under evidence.LOSS_SETTLED's 1 %; a level still moving at 12 is inconclusive
#: and a follow-up round resumes it. Saves 24 min of the MNIST claims run (benchmarks/claims_budget.py).
SWEEP_EPOCHS = 12
#: Epochs of a claim about where a level ends (a learned or optimal σ, the FID it reaches). 16, not 10: on
#: MNIST after 10 epochs a learned log σ still moved 0.035 and the per-image σ's loss 2.4 % per epoch.
SETTLE_EPOCHS = 16
#: Epochs of a claim about whether training breaks (a per-pixel optimal σ collapses within a few epochs).
STABILITY_EPOCHS = 10
#: Epochs of the Beta runs, whose FIDs are compared once settled: after 6 epochs on MNIST their loss still
#: moved 1.8 % per epoch, falling by about a fifth each epoch; a Beta epoch costs twice a Bernoulli one.
BETA_EPOCHS = 12
#: Epochs of a claim about an exact equivalence or a difference at equal steps (paired seeds).
PAIRED_EPOCHS = 3
#: Epochs of a claim about divergence that happens in the first epoch (float32 CB).
EVENT_EPOCHS = 1

#: Training settings of the fixed-σ runs, whose claims are about their objectives. Adam is invariant to the
#: scale of a loss, gradient-norm clipping is not: a σ-scaled loss (σ = 0.1 multiplies the MSE term by 100
#: against σ = √0.5) is clipped where its unscaled partner is not, and the pairing breaks for that reason
#: alone. Measured on MNIST, seed 0, one epoch: σ = 0.1 at β 5 against √0.5 at β 0.1 ended with KL 18.17
#: against 16.96 clipped at norm 1000, and 17.03 against 16.96 unclipped. So these runs train unclipped.
UNCLIPPED = {"grad_clip": None}

#: Labels the claims use that are not likelihoods under their own names, or that train otherwise: {label: spec}.
LABEL_SPECS = {
    "gaussian_fixed": {"likelihood": "gaussian_fixed", "train": UNCLIPPED},
    "gaussian_fixed_sigma0.1": {"likelihood": "gaussian_fixed", "options": {"sigma": 0.1}, "train": UNCLIPPED},
    "gaussian_fixed_sigma1": {"likelihood": "gaussian_fixed", "options": {"sigma": 1.0}, "train": UNCLIPPED},
    "gaussian_fixed_range255": {"likelihood": "gaussian_fixed", "options": {"mean_activation": "identity"},
                                "train": {"data_range": 255.0, **UNCLIPPED}},
    "continuous_bernoulli_naive_noclamp": {"likelihood": "continuous_bernoulli_naive", "options": {"clamp": None}},
    "beta_eps1e-6": {"likelihood": "beta", "options": {"eps": 1e-6}},
    # The Beta with its trick made negligible: exact 0s move to 1e-9 (log x = −20.7) and exact 1s to the largest
    # float32 below 1 (1 − 6e-8: 1 − 1e-9 itself rounds to 1; reconloss.likelihoods.beta), so the density
    # on always-black and always-white pixels can grow far beyond what eps 1e-3 allows.
    "beta_eps1e-9": {"likelihood": "beta", "options": {"eps": 1e-9}},
    # the summed squared error (σ = √0.5) over its own β scale, trained like the other FID sweeps (clipped)
    "gaussian_fixed_sweep": {"likelihood": "gaussian_fixed"},
}
#: Seeds per arm of an event comparison: with 3 against 3, Fisher's one-sided exact p is at least 1/20 = 0.05
#: even at 3 of 3 against 0 of 3; with 5 against 5 it reaches 1/252.
EVENT_SEEDS = 5


@dataclass(frozen=True)
class Need:
    """Runs of one label at these β values, trained for this many epochs; seeds: the fewest seeds the claim
    needs (None: the configuration's claims seeds; the planner runs the larger of the two)."""

    label: str
    betas: tuple
    epochs: int
    seeds: int | None = None

    def text(self):
        seeds = f", at least {self.seeds} seeds" if self.seeds else ""
        return f"{self.label} β ∈ {{{', '.join(f'{b:g}' for b in self.betas)}}}, {self.epochs} epochs{seeds}"


@dataclass(frozen=True)
class Claim:
    """One claim of the study.

    statement: the study's claim in one sentence; quantity: what is measured;
    rule: how the verdict follows from it; figure: the stem of the figure that
    shows it; needs: the runs that decide it; test(df, specs) -> {numbers, runs,
    verdict, reason} on one dataset's summary rows; channels: the data channels the
    claim applies to (3: RGB data sets only; None: every data set), so that its runs
    are planned only there.
    """

    id: str
    statement: str
    quantity: str
    rule: str
    figure: str
    needs: tuple
    test: Callable
    channels: int | None = None

    def applies_to(self, data_shape):
        """Whether the claim's runs belong to a data set of this (C, H, W) shape (None: unknown, yes)."""
        return self.channels is None or data_shape is None or int(data_shape[0]) == self.channels

    def needs_text(self):
        return "; ".join(n.text() for n in self.needs) or "none (analytic)"


def spec_of(label, config=None):
    """{likelihood, options, train} of a claim label, with the configuration's likelihood_options under it."""
    spec = LABEL_SPECS.get(label, {"likelihood": label})
    common = ((config or {}).get("likelihood_options") or {}).get(spec["likelihood"], {})
    return {"likelihood": spec["likelihood"], "options": {**common, **spec.get("options", {})},
            "train": dict(spec.get("train", {}))}


def verdict_of(parts):
    """One verdict from sub-verdicts True / False / None: any False fails, all True holds, else inconclusive."""
    if any(p is False for p in parts):
        return "does not hold"
    return "holds" if parts and all(p is True for p in parts) else "inconclusive"


def every_classifier(rule):
    """A FID rule judged under every FID classifier (evidence.classifier_views): the verdict where all agree,
    else inconclusive naming how they split; the numbers of each classifier in the row (the spread)."""
    from functools import wraps

    from reconloss.claims.evidence import classifier_views

    @wraps(rule)
    def judged(df, specs):
        views = classifier_views(df)
        results = [(name, rule(view, specs)) for name, view in views]
        if len(results) == 1:
            return results[0][1]
        verdicts = [r["verdict"] for _, r in results]
        first = dict(results[0][1])
        first["numbers"] = " | ".join(f"classifier {name}: {r.get('numbers', '')}" for name, r in results)
        first["classifiers"] = "; ".join(f"{name}: {r['verdict']}" for name, r in results)
        if len(set(verdicts)) == 1:
            first["reason"] = f"under all {len(results)} classifiers: " + " | ".join(
                f"{name}: {r.get('reason', '')}" for name, r in results)
            if verdicts[0] == "inconclusive":  # what would settle it under any classifier
                first["follow_up"] = followup.merged(*(r.get("follow_up") for _, r in results))
            return first
        first["verdict"] = "inconclusive"
        first["reason"] = "the FID classifiers disagree (" + "; ".join(
            f"{name}: {r['verdict']}" for name, r in results) + ")"
        first["follow_up"] = followup.merged(*(r.get("follow_up") for _, r in results))
        return first

    return judged


def selected(claims, only=None):
    """The claims listed in `only` (ids; None: all), in registry order; an unknown id is an error naming it."""
    if only is None:
        return list(claims)
    known = {c.id for c in claims}
    unknown = [c for c in only if c not in known]
    if unknown:
        raise ValueError(f"claims.only: unknown claim(s) {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(sorted(known))}")
    return [c for c in claims if c.id in set(only)]
