"""The analytic figures: loss curves, the CB normalizer and mean, float32 errors, σ ↔ β.

Why a loss behaves as it does in training is mostly visible before any model
is fit; each figure draws one such curve from the formulas alone: where the
Bernoulli cross-entropy has its minimum, how the CB normalizer bends the
target away from λ = x, why the CB mean never reaches the pixel value, where
float32 breaks the CB formulas, why Σ log|x−μ| has no lower bound, and the β
of an MSE-loss β-VAE that a fixed-σ Gaussian is.
"""

import math
from pathlib import Path

from reconloss.analytic.numbers import cb_functions, naive_cb_log_normalizer, naive_cb_mean
from reconloss.io import atomic_path

# Stable names: the workflow rule declares these as outputs.
FIGURES = (
    "bernoulli_cross_entropy",
    "cb_log_normalizer",
    "cb_log_prob",
    "cb_target",
    "cb_mean",
    "cb_float32_error",
    "log_abs_residual",
    "sigma_beta",
)
FIGURE_FORMATS = ("png", "pdf")

# Pixel values of the per-x curves.
X_VALUES = tuple(i / 10 for i in range(11))
# The CB authors' clamp of λ, marked in the CB figures.
CB_CLAMP = 1e-4
# Illustrative σ floor of the optimal-σ loss figure.
RESIDUAL_FLOOR = 1e-2


def _save(fig, figures_dir, name) -> None:
    import matplotlib.pyplot as plt

    for ext in FIGURE_FORMATS:
        with atomic_path(Path(figures_dir) / f"{name}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", dpi=150)
    plt.close(fig)


def _x_colors():
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(0, 1)
    return cmap, norm


def _x_colorbar(fig, axes, cmap, norm):
    import matplotlib as mpl

    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, pad=0.02)
    bar.set_label("pixel value x")
    bar.set_ticks(X_VALUES[::2])


def _logit_axis(ax, lo) -> None:
    """Logit-scaled λ axis from lo to 1−lo with few enough ticks to stay readable."""
    from matplotlib.ticker import FixedLocator, NullLocator

    last = int(round(math.log10(lo)))
    exps = list(range(-2, last - 1, -2 if last >= -4 else -3))
    ticks = [10.0**e for e in exps[::-1]] + [0.5] + [1 - 10.0**e for e in exps]
    labels = [f"$10^{{{e}}}$" for e in exps[::-1]] + ["0.5"] + [f"$1-10^{{{e}}}$" for e in exps]
    ax.set_xscale("logit")
    ax.set_xlim(lo, 1 - lo)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels(labels)
    ax.xaxis.set_minor_locator(NullLocator())


def _bernoulli_cross_entropy(figures_dir) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    theta = np.linspace(1e-4, 1 - 1e-4, 2001)
    cmap, norm = _x_colors()
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for x in X_VALUES:
        ce = -(x * np.log(theta) + (1 - x) * np.log1p(-theta))
        ax.plot(theta, ce, color=cmap(norm(x)), lw=1.4)
        if 0 < x < 1:
            ax.plot(x, -(x * math.log(x) + (1 - x) * math.log1p(-x)), "o", color=cmap(norm(x)), ms=4)
    ax.set_ylim(0, 5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Bernoulli parameter θ (dimensionless)")
    ax.set_ylabel("cross-entropy per pixel (nats)")
    ax.set_title(
        "Bernoulli cross-entropy −[x log θ + (1−x) log(1−θ)]\nminimum at θ = x (dots): the entropy of x, not 0"
    )
    _x_colorbar(fig, ax, cmap, norm)
    _save(fig, figures_dir, "bernoulli_cross_entropy")


def _cb_log_normalizer(figures_dir) -> None:
    import matplotlib.pyplot as plt
    import torch

    cb = cb_functions()
    lo = 1e-8
    lam_lin = torch.linspace(1e-6, 1 - 1e-6, 4001, dtype=torch.float64)
    lam_logit = torch.special.expit(torch.linspace(math.log(lo), -math.log(lo), 4001, dtype=torch.float64))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained", sharey=True)
    for ax, lam in zip(axes, (lam_lin, lam_logit)):
        ax.plot(lam, cb.cb_log_normalizer(lam), color="C0", lw=1.6, label="log C(λ)")
        ax.axhline(math.log(2), color="0.4", ls=":", lw=1, label="log 2, its minimum at λ = 0.5")
        for edge in (CB_CLAMP, 1 - CB_CLAMP):
            ax.axvline(edge, color="C3", ls="--", lw=0.9)
        ax.plot([], [], color="C3", ls="--", lw=0.9, label=f"clamp λ ∈ [{CB_CLAMP:g}, 1−{CB_CLAMP:g}]")
        ax.set_xlabel("CB parameter λ (dimensionless)")
    axes[0].set_xlim(0, 1)
    axes[0].set_title("linear λ axis")
    _logit_axis(axes[1], lo)
    axes[1].set_title("logit λ axis: grows like log log(1/λ) at the edges")
    axes[0].set_ylabel("log C(λ) (nats)")
    axes[0].legend(loc="upper center")
    fig.suptitle("Continuous Bernoulli log-normalizer log C(λ), C(λ) = 2 artanh(1−2λ) / (1−2λ)")
    _save(fig, figures_dir, "cb_log_normalizer")


def _cb_log_prob(figures_dir) -> None:
    """The post's first CB figure: the normaliser CB adds, and what it does to the log-probability of a
    pixel against the Bernoulli's, for a black, a mid-grey and a near-white pixel."""
    import matplotlib.pyplot as plt
    import torch

    cb = cb_functions()
    lam = torch.linspace(1e-4, 1 - 1e-4, 4001, dtype=torch.float64)
    log_c = cb.cb_log_normalizer(lam)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.9), layout="constrained")
    ax = axes[0]
    ax.plot(lam, log_c, color="#3a53a4", lw=1.8, label="continuous Bernoulli: log C(λ)")
    ax.axhline(0, color="#ff7f0e", lw=1.8, ls="--", label="Bernoulli: none (log 1 = 0)")
    ax.set_xlim(0, 1)
    ax.set_ylabel("log-normaliser (nats)")
    ax.set_title("the normaliser: log C(λ) ≥ log 2, largest near λ = 0 and 1", fontsize=9)
    ax.legend(loc="upper center", fontsize=8)
    ax = axes[1]
    for x, colour in ((0.0, "0.1"), (0.5, "#1b9e77"), (0.9, "#d95f02")):
        bern = x * torch.log(lam) + (1 - x) * torch.log1p(-lam)
        ax.plot(lam, bern + log_c, color=colour, lw=1.8, label=f"CB, x = {x:g}")
        ax.plot(lam, bern, color=colour, lw=1.4, ls="--", label=f"Bernoulli, x = {x:g}")
    ax.set_xlim(0, 1)
    ax.set_ylim(-4, 4)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel("log p(x | λ) per pixel (nats)")
    ax.set_title("log-probability of one pixel x: CB = Bernoulli + log C(λ)", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7.5)
    for ax in axes:
        ax.set_xlabel("parameter λ (the Bernoulli's p)")
    fig.suptitle("Continuous Bernoulli against Bernoulli: the log-normaliser, and the log-probability it shifts\n"
                 "CB's can be positive (a density above 1: pixels near 0 or 1); the Bernoulli's never is")
    _save(fig, figures_dir, "cb_log_prob")


def _cb_target(figures_dir) -> None:
    import matplotlib.pyplot as plt
    import torch

    cb = cb_functions()
    cmap, norm = _x_colors()
    eps = CB_CLAMP
    logit_edge = math.log((1 - eps) / eps)
    lam = torch.special.expit(torch.linspace(-logit_edge, logit_edge, 6001, dtype=torch.float64))
    log_c = cb.cb_log_normalizer(lam)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained", sharey=True)
    for x in X_VALUES:
        ce = -(x * torch.log(lam) + (1 - x) * torch.log1p(-lam))
        target = ce - log_c
        i = int(torch.argmin(target))
        for ax in axes:
            ax.plot(lam, target, color=cmap(norm(x)), lw=1.4)
            ax.plot(lam[i], target[i], "o", color=cmap(norm(x)), ms=4)
    axes[0].set_xlim(0, 1)
    axes[0].set_title("linear λ axis")
    _logit_axis(axes[1], eps)
    axes[1].set_title(f"logit λ axis, up to the clamp [{eps:g}, 1−{eps:g}]")
    for ax in axes:
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_xlabel("CB parameter λ (dimensionless)")
    axes[0].set_ylabel("CB NLL per pixel (nats)")
    axes[0].set_ylim(-2.5, 4)
    fig.suptitle(
        "Continuous Bernoulli target: cross-entropy − log C(λ), per pixel value x\n"
        "minimum (dots) where E[x | λ] = x, not at λ = x, or at the clamp; below 0 where the density exceeds 1"
    )
    _x_colorbar(fig, axes, cmap, norm)
    _save(fig, figures_dir, "cb_target")


def _cb_mean(figures_dir) -> None:
    import matplotlib.pyplot as plt
    import torch

    cb = cb_functions()
    lo = 1e-8
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained", sharey=True)
    lam = torch.linspace(0, 1, 4001, dtype=torch.float64)
    ax = axes[0]
    ax.plot(lam, cb.cb_mean(lam), color="C0", lw=1.8, label="E[x | λ], continuous Bernoulli")
    ax.plot([0, 1], [0, 1], color="0.4", ls="--", lw=1, label="identity E[x] = λ (Bernoulli)")
    ax.set_xlim(0, 1)
    ax.set_title("linear λ axis")
    ax.legend(loc="upper left")

    ax = axes[1]
    lam = torch.special.expit(torch.linspace(math.log(lo), -math.log(lo), 4001, dtype=torch.float64))
    ax.plot(lam, cb.cb_mean(lam), color="C0", lw=1.8, label="float64")
    ax.plot(lam, cb.cb_mean(lam.float()), color="C1", lw=1.2, ls="--", label="float32 (λ stored as float32)")
    ax.plot(lam, lam, color="0.4", ls="--", lw=1, label="identity")
    ax.axvline(1 - CB_CLAMP, color="C3", ls=":", lw=0.9)
    ax.axvline(CB_CLAMP, color="C3", ls=":", lw=0.9, label=f"clamp {CB_CLAMP:g}")
    for lam_edge, y_text in ((0.9999, 0.62), (0.9999999, 0.45)):
        mean = float(cb.cb_mean(torch.tensor(lam_edge, dtype=torch.float32)))
        ax.plot(lam_edge, mean, "o", color="C3", ms=5, zorder=5)
        ax.annotate(
            f"λ = {lam_edge!r} in float32:\nE = {mean:.4f}",
            (lam_edge, mean),
            xytext=(0.995, y_text),
            fontsize=8,
            color="C3",
            arrowprops=dict(arrowstyle="->", color="C3", lw=0.8),
        )
    _logit_axis(ax, lo)
    ax.set_title("logit λ axis: the mean stays far from 1")
    ax.legend(loc="upper left", fontsize=8)
    for ax in axes:
        ax.set_xlabel("CB parameter λ (dimensionless)")
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("expected pixel value E[x | λ] (pixel units in [0, 1])")
    fig.suptitle("Continuous Bernoulli expected value E[x | λ] = λ/(2λ−1) + 1/(2 artanh(1−2λ))")
    _save(fig, figures_dir, "cb_mean")


def _cb_float32_error(figures_dir) -> None:
    """Signed float32 error against float64 as λ approaches 0 and 1, on a symlog axis: the
    sign matters (the naive mean falls below 0 near λ = 0, i.e. its error is negative)."""
    import matplotlib.pyplot as plt
    import torch

    cb = cb_functions()
    dist = torch.logspace(-9, math.log10(0.4), 801, dtype=torch.float64)
    floor = 1e-10  # linear range of the symlog axis: errors below it are drawn as 0
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.4), layout="constrained", sharex=True, sharey=True)
    quantities = (
        ("E[x | λ]", "pixel units", cb.cb_mean, naive_cb_mean, cb.cb_mean_logits),
        ("log C(λ)", "nats", cb.cb_log_normalizer, naive_cb_log_normalizer, cb.cb_log_normalizer_logits),
    )
    for row, (key, unit, stable, naive, of_logit) in enumerate(quantities):
        for col, (side, lam64) in enumerate((("λ → 0", dist), ("λ → 1", 1 - dist))):
            ax = axes[row, col]
            ref = stable(lam64)
            lam32 = lam64.float()
            def err(values, ref=ref):  # signed; non-finite drawn at the edge of the axis
                return (values.double() - ref).nan_to_num(nan=1e9, posinf=1e9, neginf=-1e9).clamp(-10.0, 10.0)

            ax.plot(dist, err(naive(lam32)), color="C3", lw=1.0, alpha=0.85, label="naive formula, float32")
            ax.plot(dist, err(stable(lam32)), color="C0", lw=1.0, label="package, float32")
            logit32 = (torch.log(lam64) - torch.log1p(-lam64)).float()
            ax.plot(dist, err(of_logit(logit32)), color="C2", lw=1.0,
                    label="package, float32 logit (what the likelihood computes)")
            ax.plot(dist, err(stable(lam32.double())), color="k", lw=0.8, ls=":",
                    label="float64 at the float32 λ (rounding of λ alone)")
            ax.axvline(CB_CLAMP, color="0.4", ls="--", lw=0.9)
            ax.set_xscale("log")
            ax.set_yscale("symlog", linthresh=floor)
            ax.set_ylim(-10.0, 10.0)
            ax.axhline(0.0, color="0.5", lw=0.6)
            ax.set_title(f"{key}, {side}")
            if row == 1:
                ax.set_xlabel("distance to the edge, λ or 1−λ (dimensionless)")
            if col == 0:
                ax.set_ylabel(f"float32 − float64 ({unit}, symlog)")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[0, 1].text(CB_CLAMP * 1.3, 1.0, f"clamp {CB_CLAMP:g}", fontsize=8, color="0.3")
    axes[0, 1].text(1.2e-9, 1e-4, "λ rounds\nto 1.0", fontsize=8, color="0.3")
    fig.suptitle(
        "Continuous Bernoulli in float32: near 1, storing λ in float32 is the error (spacing 6e-8 below 1);\n"
        "near 0, λ is stored well but the naive formula cancels; working in the logit (green) avoids both"
    )
    _save(fig, figures_dir, "cb_float32_error")


def _log_abs_residual(figures_dir) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    pos = np.logspace(-6, 0, 1500)
    r = np.concatenate([-pos[::-1], pos])
    floor = RESIDUAL_FLOOR
    sigma = np.maximum(np.abs(r), floor)
    floored = r**2 / (2 * sigma**2) + np.log(sigma) - 0.5  # Gaussian NLL at σ = max(|r|, floor), same constants
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    ax = axes[0]
    ax.plot(r, np.log(np.abs(r)), color="C0", lw=1.5, label="log|x − μ|  (σ = |x − μ|)")
    ax.plot(r, floored, color="C1", ls="--", lw=1.3, label=f"σ floored at {floor:g} (illustrative)")
    ax.set_xlim(-1, 1)
    ax.set_ylim(-14.5, 1)
    ax.annotate(
        "→ −∞ as x → μ", (0, -13.8), xytext=(-0.62, -11), arrowprops=dict(arrowstyle="->", color="0.3"), fontsize=9
    )
    ax.set_xlabel("residual x − μ (pixel units in [0, 1])")
    ax.set_ylabel("loss per pixel (nats, constants dropped)")
    ax.set_title("loss against the residual")
    ax.legend(loc="center right", fontsize=8)
    ax = axes[1]
    ax.plot(pos, 1 / pos, color="C0", lw=1.5, label="no floor: 1/|x − μ|")
    floored_grad = np.where(pos < floor, pos / floor**2, 1 / pos)
    ax.plot(pos, floored_grad, color="C1", ls="--", lw=1.3, label=f"σ floored at {floor:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("|x − μ| (pixel units in [0, 1])")
    ax.set_ylabel("|∂ loss / ∂μ| (nats per pixel unit)")
    ax.set_title("gradient magnitude: largest where the fit is best")
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("Gaussian with per-pixel optimal σ² = (x − μ)²: the loss Σ log|x − μ| has no lower bound")
    _save(fig, figures_dir, "log_abs_residual")


def _sigma_beta(figures_dir) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    sigma = np.logspace(-3, 0, 200)
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    ax.plot(sigma, 2 * sigma**2, color="C0", lw=1.6, label="data in [0, 1]: β = 2σ²")
    ax.plot(sigma, 2 * (255 * sigma) ** 2, color="C1", lw=1.6, label="data in [0, 255]: β = 2(255σ)²")
    ax.axhline(1, color="0.4", ls=":", lw=1)
    marks = ((math.sqrt(0.5), "σ = √0.5", "C0"), (1 / (255 * math.sqrt(2)), "σ = 1/(255√2)", "C1"))
    for s, label, color in marks:
        ax.plot(s, 1, "o", color=color, ms=5)
        ax.annotate(label, (s, 1), xytext=(6, -14), textcoords="offset points", fontsize=8, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Gaussian σ (pixel units in [0, 1])")
    ax.set_ylabel("equivalent β of summed squared error (dimensionless)")
    ax.set_title("Fixed-σ Gaussian likelihood = MSE-loss β-VAE with β = 2σ²\n(dotted: β = 1)")
    ax.legend(loc="upper left")
    _save(fig, figures_dir, "sigma_beta")


def write_figures(figures_dir) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.9)
    Path(figures_dir).mkdir(parents=True, exist_ok=True)
    for make in (
        _bernoulli_cross_entropy,
        _cb_log_normalizer,
        _cb_log_prob,
        _cb_target,
        _cb_mean,
        _cb_float32_error,
        _log_abs_residual,
        _sigma_beta,
    ):
        make(figures_dir)
