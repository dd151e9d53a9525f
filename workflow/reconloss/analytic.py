"""The study's curves and numbers that need no training.

Why a loss behaves as it does in training is mostly visible before any model
is fit: where the Bernoulli cross-entropy has its minimum, how the continuous
Bernoulli (CB) normalizer bends the target away from λ = x, why the CB mean
never reaches the pixel value, why Σ log|x−μ| has no lower bound, and which
β of an MSE-loss β-VAE a fixed-σ Gaussian is. This module writes those
figures and two tables (CB values at the edges of (0, 1) in float64 and in
float32; the σ ↔ β correspondence).

The float32 columns use the package's own CB functions in float32, because
that is what a float32 model computes; the study's naive formula is tabled
beside them so the table shows which errors come from float32 holding λ
(rounding near 1) and which from the formula's cancellation (near 0), and
the logit-domain functions, which the CB likelihood uses, show that neither
reaches the models.

CLI: python -m reconloss analytic --figures-dir DIR --tables-dir DIR
"""

import argparse
import math
from decimal import Decimal
from html import escape
from pathlib import Path

from reconloss.io import atomic_path

# Stable names: the workflow rule declares these as outputs.
FIGURES = (
    "bernoulli_cross_entropy",
    "cb_log_normalizer",
    "cb_target",
    "cb_mean",
    "cb_float32_error",
    "log_abs_residual",
    "sigma_beta",
)
FIGURE_FORMATS = ("png", "pdf")
TABLES = ("cb_edges", "sigma_beta")
TABLE_FORMATS = ("csv", "md", "tex", "html")

# λ values of the edge table; their mirrors 1−λ are added (decimal-exact).
# 1 - 1e-8 is where float32 holds lambda as 1.0; its mirror 1e-8 where the naive mean is negative.
EDGE_LAMBDAS = (0.9, 0.99, 0.999, 0.9999, 0.9999999, 0.99999999)
# Pixel values of the per-x curves.
X_VALUES = tuple(i / 10 for i in range(11))
# The CB authors' clamp of λ, marked in the CB figures.
CB_CLAMP = 1e-4
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
# Illustrative σ floor of the optimal-σ loss figure.
RESIDUAL_FLOOR = 1e-2


def figure_paths(figures_dir) -> list[str]:
    """Every file `main` writes into figures_dir, in a stable order."""
    return [str(Path(figures_dir) / f"{name}.{ext}") for name in FIGURES for ext in FIGURE_FORMATS]


def table_paths(tables_dir) -> list[str]:
    """Every file `main` writes into tables_dir, in a stable order."""
    return [str(Path(tables_dir) / f"{name}.{ext}") for name in TABLES for ext in TABLE_FORMATS]


# --------------------------------------------------------------------------- numbers


def _cb():
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

    cb = _cb()
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


# --------------------------------------------------------------------------- tables


def _fmt(value, spec):
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return format(value, spec)


def _formatted(df, specs):
    out = df.copy()
    for col in out.columns:
        spec = specs.get(col, ".6g")
        out[col] = [_fmt(v, spec) for v in out[col]]
    return out.astype(str)


def _write_table(df, tables_dir, name, specs, title, notes, parts=None):
    """CSV with every column at full precision; .md, .tex and .html formatted for reading.

    parts: optional [(subtitle, {csv column: shown name})] splitting a wide
    table into narrower ones in .md and .tex.
    """
    tables_dir = Path(tables_dir)
    with atomic_path(tables_dir / f"{name}.csv") as tmp:
        df.to_csv(tmp, index=False)
    text = _formatted(df, specs)
    parts = parts or [(None, {c: c for c in df.columns})]
    md = [f"# {title}\n"]
    tex = []
    for i, (subtitle, cols) in enumerate(parts, 1):
        part = text[list(cols)].rename(columns=cols)
        if subtitle:
            md.append(f"## {subtitle}\n")
        md.append(part.to_markdown(index=False, disable_numparse=True) + "\n")
        caption = f"{title}: {subtitle}" if subtitle else title
        label = f"tab:{name}" + (f"-{i}" if len(parts) > 1 else "")
        fmt = "".join("l" if part[c].str.match(r"^[-+0-9.e]+$").eq(False).any() else "r" for c in part.columns)
        tex.append(part.to_latex(index=False, escape=True, caption=caption, label=label, column_format=fmt))
    md.append("".join(f"- {note}\n" for note in notes))
    with atomic_path(tables_dir / f"{name}.md") as tmp:
        tmp.write_text("\n".join(md))
    with atomic_path(tables_dir / f"{name}.tex") as tmp:
        tmp.write_text("\n".join(tex))
    html = [f"<h1>{escape(title)}</h1>"]
    for subtitle, cols in parts:
        if subtitle:
            html.append(f"<h2>{escape(subtitle)}</h2>")
        html.append(text[list(cols)].rename(columns=cols).to_html(index=False, border=0))
    html.append("<ul>" + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>")
    with atomic_path(tables_dir / f"{name}.html") as tmp:
        head = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
        tmp.write_text(head + "\n".join(html) + "\n</body></html>\n")


def _edge_specs(df):
    specs = {"lam": ".10g", "lam_f32": ".10g"}
    for col in df.columns:
        if col.startswith("err_"):
            specs[col] = ".2e"
        elif col not in specs:
            specs[col] = ".8f"
    return specs


def _edge_parts():
    kinds = ("f64", "f64_at_f32", "f32", "f32_naive", "f32_logit")
    errs = ("rounding", "f32", "f32_naive", "f32_logit")
    parts = []
    for key, subtitle in (("mean", "mean E[x | lambda]"), ("log_norm", "log-normalizer log C(lambda), nats")):
        cols = {"lam": "lam", "lam_f32": "lam_f32"}
        cols.update({f"{key}_{k}": k for k in kinds})
        cols.update({f"err_{key}_{e}": f"err_{e}" for e in errs})
        parts.append((subtitle, cols))
    return parts


def write_tables(tables_dir) -> None:
    edges = cb_edges_table()
    _write_table(
        edges,
        tables_dir,
        "cb_edges",
        _edge_specs(edges),
        "Continuous Bernoulli mean and log-normalizer near the edges of (0, 1), float64 vs float32",
        [
            "lam_f32: lambda rounded to float32, as a float32 model that holds lambda has it.",
            "f64: float64 at lam; f64_at_f32: float64 at lam_f32 (isolates the rounding of lambda).",
            "f32: reconloss.likelihoods.continuous_bernoulli.cb_mean / cb_log_normalizer in float32 at lam_f32.",
            "f32_naive: lam/(2 lam - 1) + 1/(2 artanh(1 - 2 lam)) and log(2 artanh(1 - 2 lam)/(1 - 2 lam)) "
            "evaluated as written in float32 at lam_f32 (the study's formula).",
            "f32_logit: the package's logit-domain functions in float32 at the float32 logit of lam; "
            "the package's CB likelihood computes this, as it never forms lambda.",
            "err_*: value minus f64; err_rounding: f64_at_f32 minus f64.",
            "Near 1, float32 cannot hold lambda (spacing 6e-8 below 1): every lambda-domain float32 value "
            "carries err_rounding. Near 0, lambda is held well but the naive formula cancels.",
        ],
        parts=_edge_parts(),
    )
    _write_table(
        sigma_beta_table(),
        tables_dir,
        "sigma_beta",
        {"sigma": ".6g", "sigma_255": ".6g", "beta_01": ".6g", "beta_255": ".6g"},
        "Fixed-sigma Gaussian likelihood as an MSE-loss beta-VAE",
        [
            "A Gaussian likelihood with fixed sigma and beta-VAE weight 1 has the same optimum as "
            "summed squared error + beta * KL with beta = 2 sigma^2.",
            "sigma is in [0,1] pixel units; sigma_255 = 255 sigma is the same noise for data in [0,255], "
            "where beta_255 = 2 sigma_255^2.",
            "For a pixel-averaged squared error (mean over d data dimensions) divide beta by d.",
        ],
    )


# --------------------------------------------------------------------------- figures


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

    cb = _cb()
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


def _cb_target(figures_dir) -> None:
    import matplotlib.pyplot as plt
    import torch

    cb = _cb()
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

    cb = _cb()
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

    cb = _cb()
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
        _cb_target,
        _cb_mean,
        _cb_float32_error,
        _log_abs_residual,
        _sigma_beta,
    ):
        make(figures_dir)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m reconloss analytic", description=__doc__.split("\n")[0])
    parser.add_argument("--figures-dir", required=True, help="where the figures (.png, .pdf) go")
    parser.add_argument("--tables-dir", required=True, help="where cb_edges and sigma_beta (.csv, .md, .tex, .html) go")
    args = parser.parse_args(argv)
    write_tables(args.tables_dir)
    write_figures(args.figures_dir)
