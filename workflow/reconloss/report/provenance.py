"""What a run ran on and how long it took: commit, dirty tree, machine, versions, job and training seconds.

Two uses. `python -m reconloss provenance ... -- COMMAND` wraps one workflow
invocation (`make claims`, `make study`): it notes the commit and the dirty flag
before the command starts, runs it, and appends the invocation's record (start,
finish, cores, max_epochs, configuration files, data sets, commit, dirty flag; the
exit status of one that failed or was interrupted) to --walls, one JSON object a
line, and, when it succeeded, writes it to --wall. And
`provenance(...)` gathers a data set's provenance.json for docs/study from those
records and the run's benchmark files and training logs.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

from reconloss.io import atomic_path
from reconloss.plan import config_check


def version(package):
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args, cwd):
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def git_state(repo="."):
    """(commit, dirty) of the checkout at `repo`; dirty: a tracked file differs from the commit (untracked
    files, results/ among them, are not the code that ran). (None, None) outside a git repository."""
    commit = _git("rev-parse", "--verify", "-q", "HEAD", cwd=repo)
    if not commit:
        return None, None
    return commit, bool(_git("status", "--porcelain", "--untracked-files=no", cwd=repo))


def cpu_model():
    """The CPU's model name (/proc/cpuinfo), else what platform knows, else None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


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


def run_shares(runs_root, dataset):
    """(label, seconds, epochs, metrics or None) of each trained run of a dataset: its share of the training
    seconds of the stack it trained in, its completed epochs (0 for a run that broke in its first), and its
    metrics.json once evaluated. For rates per run-epoch (the benchmarks).

    A stack's runs all carry its train_seconds (status.json), so the runs of a label sharing one value are
    one stack. status.json's pack_size is not the divisor: a follow-up round that adds runs to a pack
    trains only them, as a stack of their own, and rewrites every member's pack_size (the 15 CB runs of
    round 0 and the 3 of β 1.7 that a round added each say 18)."""
    found = []
    for status_path in sorted(Path(runs_root, dataset).glob("*/beta~*/seed~*/status.json")):
        status = json.loads(status_path.read_text())
        metrics_path = status_path.with_name("metrics.json")
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else None
        found.append((status_path.parents[2].name, status["train_seconds"], status.get("epochs_completed") or 0,
                      metrics))
    stacks = Counter((label, seconds) for label, seconds, _, _ in found)
    for label, seconds, epochs, metrics in found:
        yield label, seconds / stacks[(label, seconds)], epochs, metrics


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
        return list(config_check.load_files(record["config"].split())["datasets"])
    except (KeyError, OSError, ValueError, AttributeError):
        return None


def invocations(path, dataset=None):
    """The recorded invocations in walls.jsonl (one JSON object a line), or []; with a dataset, only those
    that ran it (or whose datasets are unknown), so that a dataset published before another keeps its
    provenance, byte for byte, when the other's runs are recorded after it."""
    if path is None or not Path(path).is_file():
        return []
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if dataset is None:
        return records
    return [r for r in records if dataset in (invocation_datasets(r) or [dataset])]


def elapsed(path):
    """The whole run's elapsed wall time as its recorded invocation (wall.json) gives it, or None."""
    path = Path(path)
    if not path.is_file():
        return None
    rec = json.loads(path.read_text())
    return {**rec, "seconds": rec["finished"] - rec["started"], "source": str(path)}


def provenance(config, config_files, src, dataset, repo):
    """The run behind docs/study/{dataset}: configuration, commit, versions, device, job seconds, wall time.
    src: where the run's files lie (reconloss.report.publish.sources).

    The commit is the one the run's last successful invocation started at (walls.jsonl), so that study-docs
    run again after the docs are committed writes the same bytes; without such a record (a grid study),
    the checkout's HEAD."""
    runs = invocations(src.get("walls"), dataset)
    recorded = [r for r in runs if r.get("git_commit") and not r.get("exit")]
    if recorded:
        commit, dirty = recorded[-1]["git_commit"], recorded[-1].get("git_dirty")
    else:
        commit, dirty = git_state(repo)
    return {
        "dataset": dataset,
        "config_files": [str(p) for p in config_files],
        "config": config,
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": {p: version(p) for p in ("torch", "snakemake", "reconloss")},
        "device": {"train": config["train"]["device"], "evaluate": config["evaluate"]["device"],
                   "cpu": cpu_model(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
                   "python": platform.python_version()},
        "wall_time": {**job_seconds(src["benchmarks"], dataset), "elapsed": elapsed(src["wall"]),
                      "invocations": runs,
                      "training_logged": logged_training(src["runs"], dataset)},
    }


def run_and_record(command, config_files, wall, walls=None, cores=None, max_epochs=None, repo="."):
    """Run `command`; append its record to `walls`, and, when it succeeds, write it to `wall`. A failed or
    interrupted command's record carries its exit status (`exit`). Return the exit status. The commit and
    dirty flag are taken before it starts: the code that ran, whatever is committed while it runs. cores, max_epochs: recorded as given (strings, as make passes them); None: left out."""
    datasets = list(config_check.load_files(config_files)["datasets"])  # a bad configuration fails first
    commit, dirty = git_state(repo)
    started = int(time.time())
    proc = subprocess.Popen(command)
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:
            continue  # the command got the same interrupt (one process group): let it clean up and exit
    record = {"started": started, "finished": int(time.time())}
    if code != 0:  # interrupted or failed: its time was still spent, and a later invocation resumes its work
        record["exit"] = code
    record.update({k: v for k, v in (("cores", cores), ("max_epochs", max_epochs)) if v is not None})
    record.update({"config": " ".join(map(str, config_files)), "datasets": datasets,
                   "git_commit": commit, "git_dirty": dirty})
    line = json.dumps(record)
    if code == 0:
        with atomic_path(wall) as tmp:
            Path(tmp).write_text(line + "\n")
    if walls is not None:
        Path(walls).parent.mkdir(parents=True, exist_ok=True)
        with open(walls, "a") as f:
            f.write(line + "\n")
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss provenance", description=__doc__.splitlines()[0],
                                     usage="%(prog)s --wall FILE [--walls FILE] --config FILE [FILE ...] "
                                           "[--cores N] [--max-epochs N] -- COMMAND ...")
    parser.add_argument("--wall", required=True, help="the record of this invocation (JSON), written on success")
    parser.add_argument("--walls", default=None, help="every invocation's record, one JSON object a line")
    parser.add_argument("--config", nargs="+", required=True, help="the configuration file(s) the command runs")
    parser.add_argument("--cores", default=None, help="the cores the command was given (recorded as given)")
    parser.add_argument("--max-epochs", default=None, help="the claims' epoch cap (recorded as given; '' = none)")
    parser.add_argument("--repo", default=".", help="the checkout whose commit and dirty flag to record")
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("give the command to run after --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    code = run_and_record(argv[split + 1:], args.config, args.wall, args.walls, args.cores, args.max_epochs,
                          args.repo)
    if code != 0:
        print(f"provenance: the command exited with {code}" + (f"; recorded in {args.walls}" if args.walls else ""),
              file=sys.stderr)
        sys.exit(code)
    print(f"provenance: wrote {args.wall}" + (f", appended to {args.walls}" if args.walls else ""))
