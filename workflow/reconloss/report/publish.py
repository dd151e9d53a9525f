"""`python -m reconloss study-docs`: a finished run's results as a reader needs them, per dataset.

Writes docs/study/{dataset}/ for each dataset of the run: the figures as PNG,
summary.csv (that dataset's rows), best.md and provenance.json (the effective
configuration, the git commit, torch and snakemake versions, the device, and the
job seconds of the run's benchmark files; reconloss.report.provenance). It only
reads results/, so running it again regenerates the same files from the same
results (`make study-docs`). It copies the analytic figures and tables
(docs/study/analytic/), then writes the pages that follow from the published
data alone (reconloss.report.study_pages): the run's claims.md, the index
docs/study/README.md and, with --readme, the README's study-claims block.

Each dataset's folder stands on its own: the claims study runs one dataset at a
time, so the README's block and the index cover every dataset that has a folder,
not only the run's, and a dataset's verdicts are always computed from its
folder's summary.csv and provenance.json (claims.md and the README agree, and
`make publish` rebuilds them without the run).
"""

import argparse
import json
import shutil
from pathlib import Path

from reconloss import analytic, claims
from reconloss.io import atomic_path
from reconloss.plan import config_check
from reconloss.report import study_pages, tables
from reconloss.plan.sizes import DATA_SHAPES
from reconloss.report.figures import FIGURES, applies_to
from reconloss.report.provenance import provenance


def sources(results, config):
    """Where a run's files lie. The runs and their packs' benchmarks are under results/runs and
    results/benchmarks for the grid and the claims alike (reconloss.plan.runs); for a configuration of
    claims alone, the tables, figures, wall time and the benchmarks of the claims' own tables, verdicts
    and figures are under results/claims/."""
    results = Path(results)
    if claims.claims_only(config):
        root = results / "claims"
        return {"tables": root / "tables", "figures": root / "figures", "wall": root / "wall.json",
                "walls": root / "walls.jsonl", "runs": results / "runs",
                "benchmarks": [(results / "benchmarks", None), (root / "benchmarks", None)]}
    return {"tables": results / "tables", "figures": results / "figures", "wall": results / "study_wall.json",
            "walls": None, "runs": results / "runs", "benchmarks": [(results / "benchmarks", None)]}


def _write(path, text):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


ANALYTIC_TABLES = ("sigma_beta", "cb_edges")


def copy_analytic(results, out):
    """docs/study/analytic/: the analytic figures (PNG) and tables (Markdown) the workflow wrote."""
    results, target = Path(results), Path(out) / "analytic"
    target.mkdir(parents=True, exist_ok=True)
    files = [results / "figures" / "analytic" / f"{stem}.png" for stem in analytic.FIGURES]
    files += [results / "tables" / f"{name}.md" for name in ANALYTIC_TABLES]
    written = []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run has no such file; run the workflow (or `make figures`) first")
        shutil.copyfile(path, target / path.name)
        written.append(target / path.name)
    return written


def publish_dataset(summary, src, target, dataset, record):
    """docs/study/{dataset}/ of one dataset from the run: its figures, summary.csv, best.md, provenance.json."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for stem in FIGURES:
        figure = src["figures"] / f"{stem}_{dataset}.png"
        if not applies_to(stem, DATA_SHAPES.get(dataset)):
            (target / figure.name).unlink(missing_ok=True)  # a placeholder: not published
            continue
        if not figure.is_file():
            raise FileNotFoundError(f"{figure}: the run has no such figure; run the workflow (or `make figures`) "
                                    "first")
        shutil.copyfile(figure, target / figure.name)
        written.append(target / figure.name)
    rows = summary[summary["dataset"] == dataset]
    if rows.empty:
        raise ValueError(f"{src['tables'] / 'summary.csv'} has no row of {dataset}")
    with atomic_path(target / "summary.csv") as tmp:
        rows.to_csv(tmp, index=False, float_format="%.6g")
    _write(target / "best.md", tables.best_display(tables.best_frame(rows)).to_markdown(index=False) + "\n")
    _write(target / "provenance.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    return written + [target / n for n in ("summary.csv", "best.md", "provenance.json")]


def study_docs(config_files, results, out, repo=".", readme=None):
    """Write out/{dataset}/ for every dataset of the configuration, the analytic folder, then the pages of
    the published data (the run's claims.md, the index and, given a README, its claims block over every
    published dataset); return the paths written."""
    import pandas as pd

    config = config_check.load_files(config_files)
    results, out = Path(results), Path(out)
    src = sources(results, config)
    summary = pd.read_csv(src["tables"] / "summary.csv")
    written = []
    for dataset in config["datasets"]:
        record = provenance(config, config_files, src, dataset, repo)
        written += publish_dataset(summary, src, out / dataset, dataset, record)
    written += copy_analytic(results, out)
    return written + study_pages.write(study_pages.pages(out, readme, datasets=config["datasets"]))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss study-docs", description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", required=True, help="the run's configuration file(s)")
    parser.add_argument("--results", default="results", help="the run's results directory")
    parser.add_argument("--out", default="docs/study", help="where {dataset}/ folders are written")
    parser.add_argument("--readme", default=None, help="a README whose study-claims block to rewrite")
    args = parser.parse_args(argv)
    for path in study_docs(args.config, args.results, args.out, readme=args.readme):
        print(f"study-docs: wrote {path}")
