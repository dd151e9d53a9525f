"""The numbers behind the analytic tables: continuous Bernoulli values at the edges of (0, 1)
and the β of an MSE-loss β-VAE that a fixed-σ Gaussian is.

Pure computation, kept apart from writing and drawing so the values the tables
print and the figures mark have one definition each, tested against mpmath.

The float32 columns use the package's own CB functions in float32, because
that is what a float32 model computes; the study's naive formula is tabled
beside them so the table shows which errors come from float32 holding λ
(rounding near 1) and which from the formula's cancellation (near 0), and
the logit-domain functions, which the CB likelihood uses, show that neither
reaches the models.
"""

import math
from decimal import Decimal

# λ values of the edge table; their mirrors 1−λ are added (decimal-exact).
# 1 - 1e-8 is where float32 holds lambda as 1.0; its mirror 1e-8 where the naive mean is negative.
EDGE_LAMBDAS = (0.9, 0.99, 0.999, 0.9999, 0.9999999, 0.99999999)
# Fixed Gaussian σ values (in [0,1] pixel units) of the σ ↔ β table.
SIGMAS = (
    0.001,
    1 / (255 * math.sqrt(2)),  # β = 1 for data in [0, 255]
    1 / 255,  # one grey level
    0.01,
    0.05,
    0.1,
    0.2,
    0.5,
    math.sqrt(0.5),  # β = 1 for data in [0, 1]: the tutorials' summed squared error
    1.0,
)


def cb_functions():
    """The package's continuous Bernoulli functions, imported when first used (they need torch)."""
    from reconloss.likelihoods import continuous_bernoulli

    return continuous_bernoulli


def naive_cb_mean(lam):
    """The study's formula λ/(2λ−1) + 1/(2 artanh(1−2λ)), evaluated as written.

    Kept only to show where it fails in float32: near λ = 0 its two terms are
    ≈ −λ and ≈ 1/(2 artanh(1−2λ)), and 1−2λ is rounded to the float32 grid
    next to 1, whose spacing (6e-8) is the size of λ itself.
    """
    import torch

    return lam / (2 * lam - 1) + 1 / (2 * torch.atanh(1 - 2 * lam))


def naive_cb_log_normalizer(lam):
    """log(2 artanh(1−2λ)/(1−2λ)) evaluated as written (0/0 at λ = 0.5)."""
    import torch

    return torch.log(2 * torch.atanh(1 - 2 * lam) / (1 - 2 * lam))


def mirror(lam: float) -> float:
    """1 − λ without binary noise: 1 − 0.9 is 0.1, not 0.09999999999999998."""
    return float(Decimal(1) - Decimal(repr(lam)))


def edge_lambdas() -> list[float]:
    return sorted(set(EDGE_LAMBDAS) | {mirror(lam) for lam in EDGE_LAMBDAS})


def cb_edges_table():
    """CB mean and log-normalizer at λ near 0 and 1, float64 against float32.

    Columns, for key in (mean, log_norm): lam (as written), lam_f32 (the
    float32 number a model holding λ has), {key}_f64 (float64 at lam),
    {key}_f64_at_f32 (float64 at lam_f32), {key}_f32 (the package's λ-domain
    function in float32 at lam_f32), {key}_f32_naive (the formula as written,
    float32), {key}_f32_logit (the package's logit-domain function on the
    float32 logit of lam: what the package's CB likelihood computes, since it
    never forms λ), and err_{key}_{kind} = value − {key}_f64 for each, where
    err_{key}_rounding is the error due to storing λ in float32 alone.
    """
    import pandas as pd
    import torch

    cb = cb_functions()
    lams = edge_lambdas()
    lam64 = torch.tensor(lams, dtype=torch.float64)
    lam32 = lam64.to(torch.float32)
    lam32_64 = lam32.to(torch.float64)
    logit32 = (torch.log(lam64) - torch.log1p(-lam64)).to(torch.float32)
    columns = {"lam": lams, "lam_f32": lam32_64.tolist()}
    for key, stable, naive, of_logit in (
        ("mean", cb.cb_mean, naive_cb_mean, cb.cb_mean_logits),
        ("log_norm", cb.cb_log_normalizer, naive_cb_log_normalizer, cb.cb_log_normalizer_logits),
    ):
        f64 = stable(lam64)
        values = {
            "f64_at_f32": stable(lam32_64),
            "f32": stable(lam32).double(),
            "f32_naive": naive(lam32).double(),
            "f32_logit": of_logit(logit32).double(),
        }
        columns[f"{key}_f64"] = f64.tolist()
        columns.update({f"{key}_{kind}": v.tolist() for kind, v in values.items()})
        for kind, v in values.items():
            name = "rounding" if kind == "f64_at_f32" else kind
            columns[f"err_{key}_{name}"] = (v - f64).tolist()
    return pd.DataFrame(columns)


def sigma_beta_table():
    """β of an MSE-loss β-VAE with the optimum of a fixed-σ Gaussian VAE.

    Σ (x−μ)²/(2σ²) + d log σ + const + KL, multiplied by 2σ², is the summed
    squared error + 2σ²·KL + const: the same minimiser, so β = 2σ². On data
    scaled to [0, 255] the same noise is σ₂₅₅ = 255σ, hence β₂₅₅ = 2(255σ)².
    Both β are for the summed (not pixel-averaged) squared error.
    """
    import pandas as pd

    rows = []
    for sigma in SIGMAS:
        note = ""
        if math.isclose(sigma, math.sqrt(0.5)):
            note = "beta = 1 on [0,1] (plain summed squared error)"
        elif math.isclose(sigma, 1 / (255 * math.sqrt(2))):
            note = "beta = 1 on [0,255]"
        elif math.isclose(sigma, 1 / 255):
            note = "one grey level"
        rows.append(
            {
                "sigma": sigma,
                "sigma_255": 255 * sigma,
                "beta_01": 2 * sigma**2,
                "beta_255": 2 * (255 * sigma) ** 2,
                "note": note,
            }
        )
    return pd.DataFrame(rows)
