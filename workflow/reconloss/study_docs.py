"""`python -m reconloss study-docs`: a finished run's results as a reader needs them, per dataset.

Writes docs/study/{dataset}/: the figures as PNG, summary.csv (that dataset's
rows), best.md, claims.md and provenance.json (the effective configuration, the
git commit, torch and snakemake versions, the device, and the job seconds of
the run's benchmark files). It only reads results/, so running it again
regenerates the same files from the same results (`make study-docs`).
"""

import argparse
import json
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from reconloss import claims, config_check, tables
from reconloss.figures import FIGURES
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


def job_seconds(benchmarks, dataset):
    """Per stage, the summed wall seconds (column s) of the benchmark files of this dataset's jobs, and of
    the jobs all datasets share (tables, claims, analytic). Jobs overlap, so this is work, not elapsed time."""
    import pandas as pd

    stages, shared = {}, {}
    for path in sorted(Path(benchmarks).rglob("*.tsv")):
        rel = path.relative_to(benchmarks)
        seconds = float(pd.read_csv(path, sep="\t")["s"].iloc[-1])
        if len(rel.parts) == 1:
            shared[rel.stem] = shared.get(rel.stem, 0.0) + seconds
        elif rel.parts[1] == dataset or rel.parts[1] == f"{dataset}.tsv":
            stages[rel.parts[0]] = stages.get(rel.parts[0], 0.0) + seconds
    return {"dataset_stages": stages, "dataset_total": sum(stages.values()), "shared": shared,
            "note": "summed wall seconds per job from results/benchmarks; jobs run in parallel"}


def provenance(config, config_files, results, dataset, repo):
    commit = _git("rev-parse", "HEAD", cwd=repo)
    return {
        "dataset": dataset,
        "config_files": [str(p) for p in config_files],
        "config": config,
        "git_commit": commit,
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no", cwd=repo)) if commit else None,
        "versions": {p: _version(p) for p in ("torch", "snakemake", "reconloss")},
        "device": {"train": config["train"]["device"], "evaluate": config["evaluate"]["device"],
                   "cpu": _cpu_model(), "cpu_count": __import__("os").cpu_count(), "machine": platform.machine(),
                   "python": platform.python_version()},
        "wall_time": job_seconds(Path(results) / "benchmarks", dataset),
    }


def _write(path, text):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def study_docs(config_files, results, out, repo="."):
    """Write out/{dataset}/ for every dataset of the configuration; return the paths written."""
    config = load_config(config_files)
    results, out = Path(results), Path(out)
    import pandas as pd

    summary = pd.read_csv(results / "tables" / "summary.csv")
    specs = claims.grid_specs(config)
    written = []
    for dataset in config["datasets"]:
        target = out / dataset
        target.mkdir(parents=True, exist_ok=True)
        for stem in FIGURES:
            src = results / "figures" / f"{stem}_{dataset}.png"
            if not src.is_file():
                raise FileNotFoundError(f"{src}: the run has no such figure; run the workflow (or `make figures`) first")
            shutil.copyfile(src, target / src.name)
            written.append(target / src.name)
        rows = summary[summary["dataset"] == dataset]
        if rows.empty:
            raise ValueError(f"{results / 'tables' / 'summary.csv'} has no row of {dataset}")
        with atomic_path(target / "summary.csv") as tmp:
            rows.to_csv(tmp, index=False, float_format="%.6g")
        best = tables.best_frame(rows)
        _write(target / "best.md", tables._best_display(best).to_markdown(index=False) + "\n")
        frame = claims.claims_frame(rows, specs)
        _write(target / "claims.md", f"# Claims: {dataset}\n\n{claims.VERDICT_RULE}\n\n"
               + frame.drop(columns=["dataset"]).to_markdown(index=False) + "\n")
        _write(target / "provenance.json",
               json.dumps(provenance(config, config_files, results, dataset, repo), indent=1, sort_keys=True) + "\n")
        written += [target / n for n in ("summary.csv", "best.md", "claims.md", "provenance.json")]
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss study-docs", description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", required=True, help="the run's configuration file(s)")
    parser.add_argument("--results", default="results", help="the run's results directory")
    parser.add_argument("--out", default="docs/study", help="where {dataset}/ folders are written")
    args = parser.parse_args(argv)
    for path in study_docs(args.config, args.results, args.out):
        print(f"study-docs: wrote {path}")
