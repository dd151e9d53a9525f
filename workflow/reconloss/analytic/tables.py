"""The analytic tables written for reading: CSV at full precision, Markdown, LaTeX and HTML formatted.

The values come from reconloss.analytic.numbers; this module only formats and
writes them (cb_edges, the CB edge values in float64 and float32; sigma_beta,
the σ ↔ β correspondence), with the notes that say how to read each column.
"""

import math
from html import escape
from pathlib import Path

from reconloss.analytic.numbers import cb_edges_table, sigma_beta_table
from reconloss.io import atomic_path

# Stable names: the workflow rule declares these as outputs.
TABLES = ("cb_edges", "sigma_beta")
TABLE_FORMATS = ("csv", "md", "tex", "html")


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
