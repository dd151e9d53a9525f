"""The study's tables: every run's metrics in one place, and the best β per likelihood.

`summary` keeps one row per run so nothing is averaged away; `best` answers the
study's question per (dataset, likelihood): how good can this likelihood get
over the β grid, what do its reconstructions look like there, and how often
did it diverge. Both are written as CSV (for code), Markdown (for reading),
LaTeX (for the paper) and a small HTML page (for Snakemake's report, which
shows HTML inline but offers CSV only as a download).
"""

import argparse
import json
import math
import re
from pathlib import Path

from reconloss.io import atomic_path, read_json

#: First columns of summary.csv, in this order (issue 2's contract); the rest follow.
KEY_COLUMNS = ["dataset", "likelihood", "beta", "seed", "status", "fid"]

#: Metric keys in the order evaluate documents them (contract), after KEY_COLUMNS. One bits/dim
#: column, iw_bpd (reconloss.evaluation.bits: the same bound for every valid likelihood, null otherwise).
METRIC_COLUMNS = [
    "outcome", "likelihood_name", "diverged_epoch", "diverged_step", "valid_density", "epochs", "train_seconds",
    "nll", "kl", "elbo", "iw_ll", "iw_bpd", "iw_k", "fid_param", "fid_recon", "fid_samples",
    "mse_mean", "mse_param", "rmse", "sigma_mean", "black_level", "white_level", "param_black_level",
    "param_white_level", "data_black_level", "data_white_level", "recon_p01", "recon_p99", "data_p01",
    "data_p99", "mass_outside", "active_units", "sample_spread", "feature_dim", "sharpness_data",
    "sharpness_mean", "sharpness_param", "fid_stretched", "fid_squeezed", "loss_trend", "sigma_trend",
    "classifier_score", "classifier_score_stretched", "classifier_score_squeezed", "data_classifier_score",
    "sigma_always_black", "sigma_other", "sigma_image_p10", "sigma_image_p90", "classifiers",
]
#: A metric under FID classifier k (reconloss.evaluation.scores): `{metric}_c{k}`.
PER_CLASSIFIER = re.compile(r"^(?P<metric>.+)_c(?P<k>[0-9]+)$")
#: RGB data sets only (reconloss.evaluation.colour.KEYS, in its order; a test keeps them equal): after
#: METRIC_COLUMNS where any run has them, absent otherwise, so a grey data set's summary is unchanged.
COLOUR_COLUMNS = [
    "colour_data_extreme", "colour_param_extreme", "colour_mean_extreme", "colour_param_w1", "colour_mean_w1",
    "colour_bw_images", "colour_bw_data_black", "colour_bw_data_white", "colour_bw_param_black",
    "colour_bw_param_white", "colour_bw_mean_black", "colour_bw_mean_white",
]
#: In metrics.json but not in the summary: bpd, the k-sample ELBO's bits, would be a second,
#: looser bits/dim column beside iw_bpd.
OMITTED = {"bpd"}
TEXT_COLUMNS = ("dataset", "likelihood", "likelihood_name", "status", "outcome", "valid_density")

#: Columns of best.csv.
BEST_COLUMNS = [
    "dataset", "likelihood", "likelihood_name", "best_beta", "fid", "fid_std", "seeds_ok",
    "mse_mean", "black_level", "white_level", "data_black_level", "data_white_level",
    "diverged", "collapsed", "runs",
]


def load_metrics(paths, labels=None):
    """One dict per metrics.json, in the order given (the workflow's grid order).

    labels: the label of each row, where a consumer reads a run under another label than the one
    it was trained under (reconloss.plan.runs: one run, read by the grid and the claims)."""
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"--labels: {len(labels)} labels for {len(paths)} metrics files")
    rows = []
    for i, path in enumerate(paths):
        row = read_json(path)
        if not isinstance(row, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(row).__name__}")
        missing = [k for k in ("dataset", "likelihood", "beta", "seed", "status") if k not in row]
        if missing:
            raise ValueError(f"{path}: metrics lack the keys {missing}")
        if labels is not None:
            row["likelihood"] = labels[i]
        rows.append(row)
    return rows


def per_classifier_columns(keys):
    """The `{metric}_c{k}` keys among `keys` whose metric is a summary column, metric by metric in the
    summary's order, k ascending."""
    order = {c: i for i, c in enumerate(KEY_COLUMNS + METRIC_COLUMNS)}
    found = [(order[m.group("metric")], int(m.group("k")), key) for key in keys
             if (m := PER_CLASSIFIER.match(key)) and m.group("metric") in order]
    return [key for *_, key in sorted(found)]


def summary_frame(rows):
    """One row per run, KEY_COLUMNS first, then the contract's metrics, the colour metrics where any run
    has them (RGB data), then the metrics under each FID classifier (`fid_c0`, `fid_c1`, ...,
    `fid_recon_c0`, ...), then any extra keys.

    A row without an outcome (metrics written before it existed) gets it from reconloss.evaluation.outcome."""
    import pandas as pd

    from reconloss.evaluation.outcome import outcome

    keys = {k for row in rows for k in row}
    colour = COLOUR_COLUMNS if keys & set(COLOUR_COLUMNS) else []
    per_classifier = per_classifier_columns(keys)
    extra = sorted(keys - set(KEY_COLUMNS) - set(METRIC_COLUMNS) - set(COLOUR_COLUMNS) - set(per_classifier) - OMITTED)
    columns = KEY_COLUMNS + METRIC_COLUMNS + colour + per_classifier + extra
    records = [{c: row.get(c) for c in columns} for row in rows]
    for rec, row in zip(records, rows):
        if rec["outcome"] is None:
            rec["outcome"] = outcome(row)
    df = pd.DataFrame(records, columns=columns)
    df["beta"] = df["beta"].astype(float)
    df["seed"] = df["seed"].astype(int)
    numeric = [c for c in columns if c not in TEXT_COLUMNS]
    for c in numeric:
        # null (a diverged run's metric) becomes NaN; non-numeric extras stay as they are
        converted = pd.to_numeric(df[c], errors="coerce")
        if converted.notna().sum() == df[c].notna().sum():
            df[c] = converted
    return df


def best_frame(summary):
    """Per (dataset, likelihood): the β with the lowest seed-mean FID over `ok` runs.

    Every seed of that β that finished `ok` enters the means; a likelihood
    whose runs all diverged (or have no FID) keeps its row with NaN metrics,
    so the table still says "diverged n/n" rather than dropping it.
    """
    import pandas as pd

    records = []
    for (dataset, likelihood), group in summary.groupby(["dataset", "likelihood"], sort=False):
        ok = group[(group["status"] == "ok") & group["fid"].notna()]
        rec = {
            "dataset": dataset,
            "likelihood": likelihood,
            "likelihood_name": group["likelihood_name"].dropna().iloc[0]
            if group["likelihood_name"].notna().any() else likelihood,
            "diverged": int((group["status"] == "diverged").sum()),
            "collapsed": int((group["outcome"] == "collapsed").sum()) if "outcome" in group else 0,
            "runs": int(len(group)),
        }
        if len(ok):
            per_beta = ok.groupby("beta")["fid"].mean()
            beta = float(per_beta.idxmin())
            at = ok[ok["beta"] == beta]
            rec.update(
                best_beta=beta,
                fid=float(at["fid"].mean()),
                fid_std=float(at["fid"].std(ddof=1)) if len(at) > 1 else math.nan,
                seeds_ok=int(len(at)),
            )
            for c in ("mse_mean", "black_level", "white_level", "data_black_level", "data_white_level"):
                rec[c] = float(pd.to_numeric(at[c], errors="coerce").mean())
        else:
            rec.update(best_beta=math.nan, fid=math.nan, fid_std=math.nan, seeds_ok=0)
        records.append(rec)
    return pd.DataFrame(records, columns=BEST_COLUMNS)


def _display_frame(df):
    """Strings for Markdown/LaTeX/HTML: short floats, empty cells for missing values."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].map(lambda v: "" if pd_isna(v) else f"{v:.4g}")
        else:
            out[c] = out[c].map(lambda v: "" if pd_isna(v) else str(v))
    return out


def pd_isna(v):
    import pandas as pd

    return v is None or (not isinstance(v, (list, dict)) and bool(pd.isna(v)))


def best_display(best):
    """FID as 'mean ± std (n)' over the seeds of the best β; one seed: the value and n=1."""
    out = _display_frame(best)
    out["fid"] = [
        "" if pd_isna(f) else f"{f:.4g}" + ("" if pd_isna(sd) else f" ± {sd:.2g}") + f" (n={int(n)})"
        for f, sd, n in zip(best["fid"], best["fid_std"], best["seeds_ok"])
    ]
    out = out.drop(columns=["fid_std"]).rename(columns={"fid": "fid (mean ± std over seeds)"})
    out["diverged"] = [f"{d}/{n}" for d, n in zip(best["diverged"], best["runs"])]
    return out.drop(columns=["runs"]).rename(columns={"diverged": "diverged/runs"})


def _latex_columns(raw, display):
    """Right-align the numeric columns, left-align the words."""
    return "".join("r" if c in raw and raw[c].dtype.kind in "fiu" else "l" for c in display.columns)


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; font-size: 13px; margin: 1em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }}
th {{ background: #eee; position: sticky; top: 0; }}
tr.diverged td {{ background: #fde0dc; }}
td:nth-child(-n+2) {{ text-align: left; }}
</style></head><body>
<h1>{title}</h1>
<p>{note}</p>
{table}
</body></html>
"""


def html_page(df, title, note, diverged_mask=None):
    """A standalone page: Snakemake's report shows HTML results inline."""
    import html

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = ' class="diverged"' if diverged_mask is not None and diverged_mask[i] else ""
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    table = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody></table>"
    return HTML_TEMPLATE.format(title=html.escape(title), note=html.escape(note), table=table)


def write_tables(summary, best, out_dir):
    """summary.{csv,md,tex,html} and best.{csv,md,tex,html}, each written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    diverged = list(summary["status"] == "diverged")
    frames = {
        "summary": (summary, _display_frame(summary),
                    "One row per run; metrics of diverged runs are empty (highlighted rows).", diverged),
        "best": (best, best_display(best),
                 "Per (dataset, likelihood): the β with the lowest seed-mean sample FID over runs that "
                 "finished, with the seed-mean reconstruction MSE and black/white levels at that β; "
                 "diverged/runs and collapsed (finished, but no active latent unit or all prior samples "
                 "alike) count over the whole β grid and all seeds.", None),
    }
    written = []
    for name, (raw, display, note, mask) in frames.items():
        targets = {
            "csv": lambda p, raw=raw: raw.to_csv(p, index=False, float_format="%.6g"),
            "md": lambda p, d=display: p.write_text(d.to_markdown(index=False) + "\n"),
            "tex": lambda p, d=display, raw=raw: p.write_text(
                d.to_latex(index=False, escape=True, column_format=_latex_columns(raw, d))),
            "html": lambda p, d=display, n=note, m=mask, t=name: p.write_text(
                html_page(d, f"reconloss: {t} table", n, m)),
        }
        for ext, write in targets.items():
            path = out_dir / f"{name}.{ext}"
            with atomic_path(path) as tmp:
                write(tmp)
            written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss tables", description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", nargs="+", required=True, help="RUN/metrics.json files")
    parser.add_argument("--labels", default=None, help="JSON list: each metrics file's label in these tables")
    parser.add_argument("--out-dir", required=True, help="directory for summary.* and best.*")
    parser.add_argument("--settings", default="{}", help="JSON settings (unused for now)")
    args = parser.parse_args(argv)
    json.loads(args.settings)
    labels = json.loads(args.labels) if args.labels else None
    summary = summary_frame(load_metrics(args.metrics, labels))
    best = best_frame(summary)
    for path in write_tables(summary, best, args.out_dir):
        print(f"tables: wrote {path}")
