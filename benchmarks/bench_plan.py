"""How long `snakemake` takes to stop on a bad configuration, and to plan a good one.

The plan-time check (reconloss.plan.config_check) runs before any rule is defined and
without torch, so a typo costs seconds, not a job. This prints the wall seconds of
`snakemake -n` (median of --repeats) on: config.yaml with a misspelt train key
(rejected), config.yaml itself and configs/paper.yaml (planned, the grid and the claims: every run
and pack from reconloss.plan.runs), and the seconds of reconloss.plan.runs.Plan alone on paper.yaml. Where the SLURM executor plugin is
installed and no SLURM controller answers, every snakemake start waits about 10 s
on `scontrol`; the figures then include it, and the script says so.

    python benchmarks/bench_plan.py [--repeats 5]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import util
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def seconds(args, cwd):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    if util.find_spec("snakemake_executor_plugin_slurm") and shutil.which("scontrol"):
        print("note: the SLURM executor plugin and scontrol are installed: each start may wait ~10 s on scontrol")
    with tempfile.TemporaryDirectory() as tmp:
        config = yaml.safe_load((REPO / "config.yaml").read_text())
        config.setdefault("train", {})["epoch"] = 3  # misspelt: epochs
        bad = Path(tmp) / "bad.yaml"
        bad.write_text(yaml.safe_dump(config))
        cases = {"rejected (train.epoch misspelt)": ["-n", "--executor", "local", "--configfile", str(bad)],
                 "planned (config.yaml, dry run)": ["-n", "--executor", "local", "--directory", tmp,
                                                    "--snakefile", str(REPO / "Snakefile"),
                                                    "--configfile", str(REPO / "config.yaml")],
                 "planned (configs/paper.yaml: all and claims, dry run)": [
                     "-n", "all", "claims", "--executor", "local", "--directory", tmp, "--snakefile",
                     str(REPO / "Snakefile"), "--configfile", str(REPO / "configs/paper.yaml")]}
        for name, cmd in cases.items():
            runs = [seconds(cmd, REPO) for _ in range(args.repeats)]
            times = [t for t, _ in runs]
            print(f"{name}: median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}; "
                  f"exit codes {sorted({rc for _, rc in runs})})")

    sys.path.insert(0, str(REPO / "workflow"))
    from reconloss.plan import config_check
    from reconloss.plan import runs as planner

    paper = config_check.effective(yaml.safe_load((REPO / "configs/paper.yaml").read_text()))
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        plan = planner.Plan(paper)
        times.append(time.perf_counter() - start)
    print(f"reconloss.plan.runs.Plan(configs/paper.yaml): {len(plan.runs)} runs, {len(plan.packs)} packs, "
          f"median {statistics.median(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
