"""`python -m reconloss study-docs`: a finished run's results as a reader needs them, per dataset.

Writes docs/study/{dataset}/: the figures as PNG, summary.csv (that dataset's
rows), best.md, claims.md and provenance.json (the effective configuration, the
git commit, torch and snakemake versions, the device, and the job seconds of
the run's benchmark files). It only reads results/, so running it again
regenerates the same files from the same results (`make study-docs`). With
--readme it also rewrites the README's block between the `study-claims`
markers: each claim's verdict per dataset, linked to the figure that shows it,
so the README's claims table is never typed by hand. It also copies the
analytic figures and tables (docs/study/analytic/) and writes
docs/study/README.md, the index: each figure with one line on what it shows
(reconloss.report.figures.catalogue) and the claims it backs, the post's figures
first, and the key of the labels' colours, markers and line styles.

Each dataset's folder stands on its own: the claims study runs one dataset at a
time, so the README's block and the index cover every dataset that has a folder
(its summary.csv), not only the run's, and a dataset's verdicts are always
computed from its folder's summary.csv (claims.md and the README agree).
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from reconloss import analytic, claims

from reconloss.plan import config_check, generate, runs

from reconloss.report import tables
from reconloss.report.figures import FIGURES, catalogue, style
from reconloss.io import atomic_path


def load_config(paths):
    """The effective configuration of one or more files, merged as Snakemake merges --configfile."""
    merged = {}
    for path in paths:
        config_check._deep_update(merged, yaml.safe_load(Path(path).read_text()) or {})
    return config_check.effective_or_raise(merged, " + ".join(map(str, paths)))


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args, cwd):
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def sources(results, config):
    """Where a run's files lie: the grid's under results/; for a configuration of claims alone, the claims'
    own under results/claims/ (their tables, figures, wall time and the benchmarks of their tables, verdicts
    and figures; their packs' benchmarks under results/benchmarks/claims/; the classifier's, the data's and
    the analytic figures' under results/)."""
    results = Path(results)
    if claims.claims_only(config):
        root = results / "claims"
        return {"tables": root / "tables", "figures": root / "figures", "wall": root / "wall.json",
                "walls": root / "walls.jsonl", "runs": root / "runs",
                "benchmarks": [(results / "benchmarks" / "claims", None), (root / "benchmarks", None),
                               (results / "benchmarks", ("classifier", "data", "analytic"))]}
    return {"tables": results / "tables", "figures": results / "figures", "wall": results / "study_wall.json",
            "walls": None, "runs": results / "runs", "benchmarks": [(results / "benchmarks", None)]}


def job_seconds(benchmark_roots, dataset):
    """Per stage, the summed wall seconds (column s) of the benchmark files of this dataset's jobs, and of
    the jobs all datasets share (tables, claims, analytic). Jobs overlap, so this is work, not elapsed time.
    benchmark_roots: [(folder, the stages counted there, or None: all)]; the claims' own jobs
    (benchmarks/claims/) count only where that folder is one of them."""
    import pandas as pd

    files = [(Path(root), only, path) for root, only in benchmark_roots for path in sorted(Path(root).rglob("*.tsv"))]
    stages, shared = {}, {}
    for root, only, path in files:
        rel = path.relative_to(root)
        if rel.parts[0] == "claims" or (only is not None and rel.parts[0].removesuffix(".tsv") not in only):
            continue  # the claims' own jobs count from their own folder; elsewhere only the stages asked for
        seconds = float(pd.read_csv(path, sep="\t")["s"].iloc[-1])
        if len(rel.parts) == 1:
            shared[rel.stem] = shared.get(rel.stem, 0.0) + seconds
        elif rel.parts[1] == dataset or rel.parts[1] == f"{dataset}.tsv":
            stages[rel.parts[0]] = stages.get(rel.parts[0], 0.0) + seconds
    return {"dataset_stages": stages, "dataset_total": sum(stages.values()), "shared": shared,
            "note": "summed wall seconds per job from the run's benchmarks; jobs run in parallel"}


def logged_training(runs_root, dataset):
    """The training time of a dataset's runs as their own log.csv files record it, epoch by epoch.

    Benchmarks measure one job, and a job resumed from a checkpoint measures only the epochs it
    trained; the logs keep every epoch of every session. Each epoch's seconds are the stack's (all
    runs trained together), written alike into every member's log, so a stack counts once: logs of
    one label with the same sequence of epoch seconds are one stack (a member that diverged stopped
    early: its sequence is the start of its stack's).
    """
    import pandas as pd

    sequences, run_epochs, runs = {}, 0, 0
    for log in sorted(Path(runs_root, dataset).glob("*/beta~*/seed~*/log.csv")):
        try:
            frame = pd.read_csv(log)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if frame.empty or "seconds" not in frame:
            continue
        runs += 1
        run_epochs += len(frame)
        label = log.relative_to(Path(runs_root) / dataset).parts[0]
        sequences.setdefault(label, set()).add(tuple(frame["seconds"].round(6)))
    stacks = []
    for found in sequences.values():
        kept = []
        for seq in sorted(found, key=len, reverse=True):
            if not any(longer[:len(seq)] == seq for longer in kept):
                kept.append(seq)
        stacks += kept
    return {"seconds": round(sum(sum(seq) for seq in stacks), 1), "stacks": len(stacks), "runs": runs,
            "run_epochs": run_epochs,
            "note": "training seconds summed over the runs' log.csv epochs, once per stack; stacks trained in "
                    "parallel and over several sessions, so this is work, not elapsed time"}


def invocation_datasets(record):
    """The datasets one recorded invocation ran: its own "datasets", else those of the configuration files it
    names (read now), else None (unknown)."""
    if record.get("datasets") is not None:
        return list(record["datasets"])
    try:
        return list(load_config(record["config"].split())["datasets"])
    except (KeyError, OSError, ValueError, AttributeError):
        return None


def invocations(path, dataset=None):
    """The `make claims` invocations recorded in walls.jsonl (one JSON object a line), or []; with a dataset,
    only those that ran it (or whose datasets are unknown), so that a dataset published before another
    keeps its provenance, byte for byte, when the other's runs are recorded after it."""
    if path is None or not Path(path).is_file():
        return []
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if dataset is None:
        return records
    return [r for r in records if dataset in (invocation_datasets(r) or [dataset])]


def elapsed(path):
    """The whole run's elapsed wall time as `make study` or `make claims` records it, or None."""
    path = Path(path)
    if not path.is_file():
        return None
    rec = json.loads(path.read_text())
    return {**rec, "seconds": rec["finished"] - rec["started"], "source": str(path)}


def provenance(config, config_files, src, dataset, repo):
    """The run behind docs/study/{dataset}: configuration, commit, versions, device, job seconds, wall time.

    The commit is the one the run's last `make claims` started at (walls.jsonl), so that study-docs run
    again after the docs are committed writes the same bytes; without such a record (a grid study), the
    checkout's HEAD."""
    runs = invocations(src.get("walls"), dataset)
    recorded = [r for r in runs if r.get("git_commit")]
    if recorded:
        commit, dirty = recorded[-1]["git_commit"], recorded[-1].get("git_dirty")
    else:
        commit = _git("rev-parse", "HEAD", cwd=repo)
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no", cwd=repo)) if commit else None
    return {
        "dataset": dataset,
        "config_files": [str(p) for p in config_files],
        "config": config,
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": {p: _version(p) for p in ("torch", "snakemake", "reconloss")},
        "device": {"train": config["train"]["device"], "evaluate": config["evaluate"]["device"],
                   "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
                   "python": platform.python_version()},
        "wall_time": {**job_seconds(src["benchmarks"], dataset), "elapsed": elapsed(src["wall"]),
                      "invocations": runs,
                      "training_logged": logged_training(src["runs"], dataset)},
    }


def _write(path, text):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


README_BEGIN = "<!-- study-claims: generated by `make study-docs`, do not edit -->"
README_END = "<!-- /study-claims -->"
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR-10", "digits": "digits",
                  "photo_patches": "photo patches (stand-in for CIFAR-10)"}


def _link(text, target, start, anchor=None):
    return f"[{text}]({Path(os.path.relpath(target, start)).as_posix()}{f'#{anchor}' if anchor else ''})"


#: The fields of a claim's section in claims.md, in order, with their headings.
CLAIM_FIELDS = (("verdict", "Verdict"), ("reason", "Why"), ("quantity", "Quantity"), ("rule", "Rule"),
                ("numbers", "Numbers"), ("needs", "Runs it needs"), ("runs", "Runs it read"))


def claim_anchor(claim_id):
    """The anchor of a claim's section in claims.md: its heading is its id, which GitHub keeps as it is."""
    return claim_id.lower()


def claims_markdown(frame, dataset):
    """claims.md of one dataset: the verdict rule, a table of the verdicts, then one section per claim
    (its sentence, verdict and reason, quantity, rule, numbers, runs and figure), so that a verdict can be
    linked to its numbers (claims.md#<claim id>). One wide table of every field was unreadable."""
    title = DATASET_TITLES.get(dataset, dataset)
    lines = [f"# Claims: {title}", "", claims.VERDICT_RULE, "",
             "| claim | verdict | why | figure |", "| --- | --- | --- | --- |"]
    figures = {row["claim"]: _link(row["figure"], claims.figure_file(row["figure"], dataset)[1], ".")
               for _, row in frame.iterrows()}
    for _, row in frame.iterrows():
        lines.append(f"| [{_cell(row['statement'])}](#{claim_anchor(row['claim'])}) | **{row['verdict']}** | "
                     f"{_cell(str(row['reason']))} | {figures[row['claim']]} |")
    for _, row in frame.iterrows():
        lines += ["", f"## {row['claim']}", "", f"> {row['statement']}", ""]
        lines += [f"- **{heading}:** {row[field]}" for field, heading in CLAIM_FIELDS if field in row]
        lines.append(f"- **Figure:** {figures[row['claim']]}")
    return "\n".join(lines) + "\n"


def readme_block(frames, out, readme_dir):
    """Markdown table: one row per claim, one column per dataset: the verdict linked to its figure."""
    datasets = list(frames)
    head = "| claim | " + " | ".join(DATASET_TITLES.get(d, d) for d in datasets) + " |"
    lines = [head, "|" + " --- |" * (len(datasets) + 1)]
    verdicts = {d: frames[d].set_index("claim")["verdict"] for d in datasets}
    for claim in claims.CLAIMS:
        cells = []
        for d in datasets:
            verdict = verdicts[d][claim.id]
            figure = Path(out) / d / claims.figure_file(claim.figure, d)[1]
            numbers = _link("numbers", Path(out) / d / "claims.md", readme_dir, claim_anchor(claim.id))
            cells.append(f"**{verdict}** ({numbers}, {_link('figure', figure, readme_dir)})")
        lines.append(f"| {claim.statement} | " + " | ".join(cells) + " |")
    numbers = ", ".join(_link(f"{DATASET_TITLES.get(d, d)} numbers", Path(out) / d / "claims.md", readme_dir)
                        for d in datasets)
    return "\n".join(lines) + f"\n\nEach verdict's numbers and reason: {numbers}.\n"


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


def claim_fields(claim):
    """(id, statement) of one entry of claims.CLAIMS: a Claim object (.id, .statement) or an
    (id, statement, ...) tuple, so the index works with either form of the claims package."""
    if hasattr(claim, "id"):
        return claim.id, claim.statement
    return claim[0], claim[1]


def _claims_by_figure():
    """{figure: [claim statement]} of reconloss.claims; a figure is a dataset stem or analytic/<stem>."""
    statements = dict(claim_fields(c) for c in claims.CLAIMS)
    out = {}
    for claim_id, figure in claims.CLAIM_FIGURES.items():
        out.setdefault(figure, []).append(statements.get(claim_id, claim_id))
    return out


def _cell(text):
    """Text for a Markdown table cell: a | would end the cell."""
    return text.replace("|", "\\|")


def index_markdown(datasets, specs=None):
    """docs/study/README.md: every figure with what it shows and the claims it backs, the post's first."""
    backs = _claims_by_figure()
    titles = [DATASET_TITLES.get(d, d) for d in datasets]

    def dataset_links(stem):
        return ", ".join(f"[{t}]({d}/{stem}_{d}.png)" for d, t in zip(datasets, titles))

    def claims_cell(figure):
        return _cell(" ".join(f"“{c}”" for c in backs.get(figure, [])) or "none (context)")

    lines = ["# The study's figures", "",
             "Written by `make study-docs` from a finished run's results (do not edit). Each figure is one file; "
             "the report's captions open with the same line as here. Per dataset: "
             + ", ".join(f"[{t}]({d}/)" for d, t in zip(datasets, titles))
             + " (figures, `summary.csv`, `best.md`, `claims.md`, `provenance.json`).", "",
             "## The post's figures, one to one", "",
             "| the post's point | figure | what it shows | claims it backs |", "| --- | --- | --- | --- |"]
    for point, kind, stem in catalogue.POST_FIGURES:
        if kind == "dataset":
            link, shows = dataset_links(stem), catalogue.SHOWS[stem]
        elif kind == "analytic":
            link, shows = f"[{stem}](analytic/{stem}.png)", catalogue.ANALYTIC_SHOWS[stem]
        else:
            link = f"[{stem} table](analytic/{stem}.md), [figure](analytic/{stem}.png)"
            shows = catalogue.ANALYTIC_SHOWS[stem]
        figure = stem if kind == "dataset" else f"analytic/{stem}"
        lines.append(f"| {_cell(point)} | {link} | {_cell(shows)} | {claims_cell(figure)} |")
    lines += ["", "## The grid's figures, per dataset", "",
              "| figure | " + " | ".join(titles) + " | what it shows | claims it backs |",
              "|" + " --- |" * (len(datasets) + 3)]
    for stem in FIGURES:
        cells = " | ".join(f"[{stem}]({d}/{stem}_{d}.png)" for d in datasets)
        lines.append(f"| `{stem}` | {cells} | {_cell(catalogue.SHOWS[stem])} | {claims_cell(stem)} |")
    lines += ["", "## Figures that need no training", "", "| figure | what it shows | claims it backs |",
              "| --- | --- | --- |"]
    for stem in analytic.FIGURES:
        lines.append(f"| [{stem}](analytic/{stem}.png) | {_cell(catalogue.ANALYTIC_SHOWS[stem])} | "
                     f"{claims_cell(f'analytic/{stem}')} |")
    if specs:
        names = {label: spec["likelihood"] for label, spec in specs.items()}
        lines += ["", "## Key: one look per label", "",
                  "The same colour, marker and line in every figure. A variant takes a shade of its base "
                  "likelihood's colour, its own marker and a dashed or dotted line; the grid's figures have one "
                  "panel per family.", "", style.style_table(style.styles(list(specs), names)).rstrip()]
    return "\n".join(lines) + "\n"


def published(out):
    """The datasets that have a folder under `out` (its summary.csv), the known ones in DATASET_TITLES'
    order, then the others by name."""
    found = {p.parent.name for p in Path(out).glob("*/summary.csv")}
    order = list(DATASET_TITLES)
    return sorted(found, key=lambda d: (order.index(d) if d in order else len(order), d))


def published_claims(out, dataset, specs):
    """One dataset's claims frame from its folder's summary.csv: what its claims.md and the README say."""
    import pandas as pd

    return claims.claims_frame(pd.read_csv(Path(out) / dataset / "summary.csv"), specs)


def update_readme(readme, block):
    """Replace the text between the study-claims markers of the README; an error names missing markers."""
    _write(readme, generate.replace_marked(Path(readme).read_text(), README_BEGIN, README_END, block, str(readme)))


def study_docs(config_files, results, out, repo=".", readme=None):
    """Write out/{dataset}/ for every dataset of the configuration, then the index and (given a README) its
    claims block over every published dataset; return the paths written."""
    config = load_config(config_files)
    results, out = Path(results), Path(out)
    import pandas as pd

    src = sources(results, config)
    summary = pd.read_csv(src["tables"] / "summary.csv")
    specs = runs.specs_for(config)
    written = []
    for dataset in config["datasets"]:
        target = out / dataset
        target.mkdir(parents=True, exist_ok=True)
        for stem in FIGURES:
            figure = src["figures"] / f"{stem}_{dataset}.png"
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
        best = tables.best_frame(rows)
        _write(target / "best.md", tables._best_display(best).to_markdown(index=False) + "\n")
        _write(target / "provenance.json",
               json.dumps(provenance(config, config_files, src, dataset, repo), indent=1, sort_keys=True) + "\n")
        written += [target / n for n in ("summary.csv", "best.md", "provenance.json")]
    datasets = published(out)
    frames = {d: published_claims(out, d, specs) for d in datasets}
    for dataset in config["datasets"]:
        _write(out / dataset / "claims.md", claims_markdown(frames[dataset], dataset))
        written.append(out / dataset / "claims.md")
    written += copy_analytic(results, out)
    _write(out / "README.md", index_markdown(datasets, specs))
    written.append(out / "README.md")
    if readme is not None:
        update_readme(readme, readme_block(frames, out, Path(readme).resolve().parent))
        written.append(Path(readme))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss study-docs", description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", required=True, help="the run's configuration file(s)")
    parser.add_argument("--results", default="results", help="the run's results directory")
    parser.add_argument("--out", default="docs/study", help="where {dataset}/ folders are written")
    parser.add_argument("--readme", default=None, help="a README whose study-claims block to rewrite")
    args = parser.parse_args(argv)
    for path in study_docs(args.config, args.results, args.out, readme=args.readme):
        print(f"study-docs: wrote {path}")
