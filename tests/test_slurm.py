"""The tiny configuration on a real SLURM cluster through profiles/slurm.

Needs a reachable SLURM (in CI: .ci/slurm-up.sh starts a one-node cluster on
127.0.0.1). Skipped with the reason where `sinfo` fails, unless CI=true: then
the test fails, so that CI cannot pass without running it.

The profile used is profiles/slurm/config.yaml with only the test cluster's
partition (RECONLOSS_SLURM_PARTITION, default `debug`), a GPU request of 0,
quicker status checks, no retries and SLURM's logs of successful jobs kept. One grid
(configs/test.yaml) is run twice:

1. with an option that continuous_bernoulli rejects, injected through the
   configuration's `likelihood_options` (no production code knows about it),
   in a copy of the workflow whose option table (likelihoods/options.json)
   forgets that option's range, so that the plan-time check lets it through
   and the class rejects it: its trainings fail on the cluster and are
   reported, the rest of the grid finishes (--keep-going);
2. after removing the option (the plain configs/test.yaml): only what is
   missing runs, and the outputs equal those of a local run.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, copy_workflow, load_config, planned_jobs, snakemake, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

PARTITION = os.environ.get("RECONLOSS_SLURM_PARTITION", "debug")
ACCOUNT = os.environ.get("RECONLOSS_SLURM_ACCOUNT")  # only where the cluster requires one
BROKEN = "continuous_bernoulli"  # the likelihood whose trainings get the injected failure
# An option out of its range. The plan-time check rejects it; the test's copy of the option table drops
# its range (forget_option_range), so that the failure happens inside each training job, as any error
# of a training does, and the class rejects it with its own copy of the range.
INJECTED_OPTION = {"clamp": [0.9, 0.1]}
INJECTED_ERROR = "option 'clamp' must be [lo, hi] with 0 < lo < hi < 1"
GROUP = "pack"  # profiles/slurm: a pack's train and evaluate share one SLURM job
TIMEOUT_S = 900  # per snakemake call; a run takes about two minutes here


# --- the cluster ---------------------------------------------------------------


def _run(*cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _unreachable_reason() -> str | None:
    """Why SLURM cannot be used here, or None when the test partition answers."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed (make setup EXTRAS=test,slurm)"
    if shutil.which("sinfo") is None:
        return "SLURM client tools (sinfo) not installed"
    try:
        proc = _run("sinfo", "-h", "-p", PARTITION, "-o", "%a %T")
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no slurmctld answering"
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        return f"sinfo failed: {lines[-1]}"
    states = proc.stdout.split()
    if not states:
        return f"partition {PARTITION!r} not found (set RECONLOSS_SLURM_PARTITION)"
    if "up" not in states or not any(s.startswith(("idle", "mix", "alloc")) for s in states):
        return f"partition {PARTITION!r} has no usable node: {proc.stdout.strip()}"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _unreachable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but SLURM is not usable: {reason} (did .ci/slurm-up.sh run?)")
        pytest.skip(f"no SLURM cluster: {reason}")


def slurm_job_records(job_ids) -> dict[str, dict[str, str]]:
    """slurmctld's own record of each job (`scontrol show job -o`), by job id."""
    records = {}
    for job_id in job_ids:
        proc = _run("scontrol", "show", "job", "-o", str(job_id))
        assert proc.returncode == 0, f"SLURM does not know job {job_id}: {proc.stderr}"
        line = proc.stdout.strip()
        record = dict(re.findall(r"(\w[\w/:]*)=(\S*)", line))
        comment = re.search(r"Comment=(.*?) \w+=", line)  # may contain spaces
        record["Comment"] = (comment.group(1) if comment else record.get("Comment", "")).strip()
        records[str(job_id)] = record
    return records


def jobcomp_records() -> dict[str, dict[str, str]]:
    """SLURM's job completion log (JobCompType=jobcomp/filetxt), by job id; {} where not kept."""
    config = dict(re.findall(r"^(\w+)\s+=\s+(.*?)\s*$", _run("scontrol", "show", "config").stdout, re.M))
    path = Path(config.get("JobCompLoc", ""))
    if config.get("JobCompType") != "jobcomp/filetxt" or not path.is_file():
        return {}
    records = {}
    for line in path.read_text().splitlines():
        record = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" in record:
            records[record["JobId"]] = record
    return records


# --- the runs --------------------------------------------------------------------


def make_test_profile(workdir: Path) -> Path:
    """profiles/slurm with only what this test cluster needs changed, as its own profile."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    if ACCOUNT:
        profile["default-resources"]["slurm_account"] = ACCOUNT
    for resources in profile["set-resources"].values():
        if "gpu" in resources:
            resources["gpu"] = 0  # no GPU: no --gpus flag at all
        resources.pop("gpu_model", None)
    # quick: the first status check after 2 s (the interval then grows by 10 s), and
    # no retry of the injected failure, which would only fail the same way again
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["retries"] = 0
    profile["slurm-keep-successful-logs"] = True
    path = workdir / "profiles/slurm-test/config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path.parent


@dataclass
class SlurmRun:
    proc: subprocess.CompletedProcess
    run_id: str = ""
    job_ids: dict[str, str] = field(default_factory=dict)  # snakemake job (or group) id -> SLURM job id
    records: dict[str, dict[str, str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # results/ after the run: path -> text of logs

    @property
    def text(self) -> str:
        return self.proc.stdout + self.proc.stderr


def submit(workdir: Path, profile: Path, configfile: str) -> SlurmRun:
    proc = snakemake(workdir, "--profile", str(profile), "--configfile", configfile, check=False, timeout=TIMEOUT_S)
    run = SlurmRun(proc)
    text = run.text
    match = re.search(r"SLURM run ID: (\S+)", text)
    assert match, f"no SLURM run ID in snakemake's log: did it use the SLURM executor?\n{text}"
    run.run_id = match.group(1)
    run.job_ids = dict(re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+)", text))
    run.records = slurm_job_records(run.job_ids.values())
    return run


def marker_pack(path: str) -> str:
    """The pack id of a pack job's marker, results/packs/{pack}.{trained,evaluated} (reconloss.plan.runs)."""
    match = re.fullmatch(r"results/packs/(.+)\.(?:trained|evaluated)", path)
    assert match, path
    return match.group(1)


def forget_option_range(workdir: Path, likelihood: str, option: str) -> None:
    """The copy's likelihoods/options.json without the range of one option: the plan-time check of that
    copy lets any value of its type through, the likelihood class still rejects it."""
    path = workdir / "workflow/reconloss/likelihoods/options.json"
    table = json.loads(path.read_text())
    del table["likelihoods"][likelihood][option]["range"]
    path.write_text(json.dumps(table))


@pytest.fixture(scope="module")
def cluster_grid(slurm_cluster, tmp_path_factory):
    """configs/test.yaml on SLURM: first with the injected failure, then fixed."""
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm-workflow"))
    profile = make_test_profile(workdir)
    for option in INJECTED_OPTION:
        forget_option_range(workdir, BROKEN, option)
    config = load_config(workdir / "configs/test.yaml")
    assert BROKEN in config["likelihoods"]
    broken = {**config, "likelihood_options": {BROKEN: INJECTED_OPTION}}
    write_config(workdir / "broken.yaml", broken)

    failing = submit(workdir, profile, "broken.yaml")
    # what the failed attempt left, before the fix overwrites the logs
    failing.files = {
        str(p.relative_to(workdir)): p.read_text() if p.suffix in (".log", ".json") else ""
        for p in (workdir / "results").rglob("*")
        if p.is_file()
    }
    after_fix = planned_jobs(snakemake(workdir, "-n", "--profile", str(profile), "--configfile", "configs/test.yaml"))
    fixed = submit(workdir, profile, "configs/test.yaml")
    nothing_left = planned_jobs(snakemake(workdir, "-n", "--profile", str(profile), "--configfile", "configs/test.yaml"))
    grid = {
        (d, lik, f"{float(b):g}", str(s))
        for d in config["datasets"]
        for lik in config["likelihoods"]
        for b in config["betas"]
        for s in config["seeds"]
    }
    return {
        "workdir": workdir,
        "retries": yaml.safe_load((profile / "config.yaml").read_text())["retries"],
        "grid": grid,
        "failing": failing,
        "after_fix": after_fix,
        "fixed": fixed,
        "nothing_left": nothing_left,
    }


# --- the checks ------------------------------------------------------------------


def packs(runs):
    """The ids of the packs (reconloss.plan.runs) that hold these (dataset, likelihood, beta, seed) runs of
    configs/test.yaml: the profile's jobs, one per pack."""
    from reconloss.plan import config_check
    from reconloss.plan import runs as planner

    plan = planner.Plan(config_check.effective(load_config(REPO / "configs/test.yaml")))
    wanted = set(runs)
    return {p.id for p in plan.packs if any((r.dataset, r.folder, r.beta, str(r.seed)) in wanted for r in p.runs)}


class _Resources(dict):
    """The two ways the SLURM plugin reads a job's resources: .get() and attributes."""

    __getattr__ = dict.__getitem__


def _job(**resources):
    from types import SimpleNamespace

    return SimpleNamespace(resources=_Resources(resources), threads=1)


def test_the_test_profile_differs_from_production_only_for_this_cluster(tmp_path):
    production = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    used = yaml.safe_load((make_test_profile(tmp_path) / "config.yaml").read_text())
    assert used["executor"] == "slurm"
    changed = {key for key in production.keys() | used.keys() if production.get(key) != used.get(key)}
    assert changed <= {"default-resources", "set-resources", "slurm-init-seconds-before-status-checks",
                       "slurm-keep-successful-logs", "retries"}, changed
    assert {k: v for k, v in used["default-resources"].items() if not k.startswith("slurm_")} == \
        production["default-resources"]
    assert used["default-resources"]["slurm_partition"] == PARTITION
    for rule, resources in production["set-resources"].items():
        assert {k: v for k, v in used["set-resources"][rule].items() if k != "gpu"} == \
            {k: v for k, v in resources.items() if k not in ("gpu", "gpu_model")}
        assert used["set-resources"][rule].get("gpu", 0) == 0


def test_gpu_requests_map_to_slurm_flags(slurm_cluster):
    """The profile's `gpu` values as the SLURM plugin turns them into sbatch and srun flags."""
    from snakemake_executor_plugin_slurm.utils import set_gres_string
    from snakemake_executor_plugin_slurm_jobstep import get_gpu_setting

    production = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    train = production["set-resources"]["train"]
    assert train["gpu"] == 1
    assert set_gres_string(_job(**train)).split() == ["--gpus=1"]
    assert get_gpu_setting(_job(**train)) == "--gpus=1"
    # a GPU request of 0 means no GPU flag at all, for the job and for its step
    assert set_gres_string(_job(gpu=0)) == ""
    assert get_gpu_setting(_job(gpu=0)) == ""
    assert set_gres_string(_job()) == ""
    # a group job of one run asks for the larger of its members' GPUs, not their sum:
    # the GPU limit that makes Snakemake stack grouped runs in series is per job
    assert production["resources"]["gpu"] == 1
    assert production["set-resource-scopes"]["gpu"] == "local"


@pytest.mark.parametrize("phase", ["failing", "fixed"])
def test_every_job_went_through_slurm(cluster_grid, phase):
    run = cluster_grid[phase]
    workdir = cluster_grid["workdir"]
    assert run.job_ids, f"no job was submitted to SLURM:\n{run.text}"
    jobcomp = jobcomp_records()
    for slurm_id, record in run.records.items():
        # slurmctld knows the job under this run's name, in the test partition, finished
        assert record["JobName"] == run.run_id, record
        assert record["Partition"] == PARTITION, record
        assert record["JobState"] in ("COMPLETED", "FAILED"), record
        # a GPU request of 0 reached SLURM as no GPU at all
        assert "gpu" not in record.get("TRES", ""), record
        assert "gpu" not in record.get("TresPerNode", ""), record
        # SLURM's own output file of the job, written on the node
        logs = list((workdir / ".snakemake/slurm_logs").rglob(f"{slurm_id}.log"))
        assert len(logs) == 1 and logs[0].stat().st_size > 0, (slurm_id, logs)
        if jobcomp:  # the cluster's completion log, where it keeps one (CI does)
            assert jobcomp[slurm_id]["Name"] == run.run_id
            assert jobcomp[slurm_id]["JobState"] == record["JobState"]
    queued = _run("squeue", "-h", "--name", run.run_id, "-t", "PENDING,RUNNING,COMPLETING", "-o", "%i")
    assert queued.stdout.strip() == "", f"jobs of this run still queued: {queued.stdout}"


def test_jobs_are_grouped_as_the_profile_says(cluster_grid):
    """After the fix only the broken likelihood's pack (its two runs) is left, then the assembly.

    Two SLURM jobs: one for the pack, which trains and then evaluates its runs, and one
    that writes the tables, the figures and the claims; no job for a lone rule of a group.
    """
    run = cluster_grid["fixed"]
    comments = sorted(record["Comment"] for record in run.records.values())
    assert comments == sorted([f"rule_{GROUP}_evaluate_train", "rule_summary_claims_table_dataset_figures_tables"])
    assert all(record["JobState"] == "COMPLETED" for record in run.records.values())


def test_an_injected_failure_is_reported_and_the_rest_of_the_grid_finishes(cluster_grid):
    run, workdir, grid = cluster_grid["failing"], cluster_grid["workdir"], cluster_grid["grid"]
    assert run.proc.returncode != 0, "snakemake must report the failed trainings"
    broken = {key for key in grid if key[1] == BROKEN}
    good = grid - broken

    # each error report names a SLURM job (its log) that SLURM itself marks FAILED,
    # and the marker of a pack of broken runs and of no other
    errors = run.text.split("Error in group")[1:]
    assert errors, run.text
    failed_packs = set()
    for error in errors:
        slurm_id = re.search(r"log: \S*/slurm_logs/\S*/(\d+)\.log", error).group(1)
        assert run.records[slurm_id]["JobState"] == "FAILED", run.records[slurm_id]
        block = error.split("Error in", 1)[0] if "Error in" in error else error
        outputs = [p for line in re.findall(r"output: (.+)", block) for p in line.split(", ")]
        failed_packs |= {marker_pack(p.strip()) for p in outputs}
    assert failed_packs == packs(broken)
    failed_jobs = [r for r in run.records.values() if r["JobState"] == "FAILED"]
    retries = cluster_grid["retries"]
    assert len(failed_jobs) == len(packs(broken)) * (1 + retries)

    # the failing pack ran and said why; nothing of its runs was kept
    for pack in packs(broken):
        log = run.files[f"results/logs/train/{pack}.log"]
        assert INJECTED_ERROR in log, log
    for dataset, lik, beta, seed in broken:
        assert not any(p.startswith(f"results/runs/{dataset}/{lik}/beta~{beta}/seed~{seed}/") for p in run.files)
    # --keep-going: every other run trained and was evaluated on the cluster
    for dataset, lik, beta, seed in good:
        metrics = run.files[f"results/runs/{dataset}/{lik}/beta~{beta}/seed~{seed}/metrics.json"]
        assert '"status": "ok"' in metrics, metrics
    # what needs every run was not built
    assert not any(p.startswith("results/tables/summary") for p in run.files)
    completed_runs = [r for r in run.records.values()
                      if r["JobState"] == "COMPLETED" and r["Comment"].startswith(f"rule_{GROUP}_")]
    assert len(completed_runs) == len(packs(good))


def test_the_rerun_after_the_fix_runs_only_what_is_missing(cluster_grid):
    n_broken = len(packs(key for key in cluster_grid["grid"] if key[1] == BROKEN))
    after_fix = dict(cluster_grid["after_fix"])
    assert after_fix.pop("train") == n_broken and after_fix.pop("evaluate") == n_broken, after_fix
    # what aggregates over all runs, and nothing upstream (data, classifier, analytic)
    assert set(after_fix) <= {"tables", "dataset_figures", "claims_table", "figures", "all"}, after_fix
    assert cluster_grid["fixed"].proc.returncode == 0, cluster_grid["fixed"].text
    assert cluster_grid["nothing_left"] == {}


def test_outputs_equal_a_local_run(cluster_grid, request):
    workdir = cluster_grid["workdir"]
    # requested only now: where SLURM is missing, the skip comes before this local run
    tiny_workflow_run = request.getfixturevalue("tiny_workflow_run")

    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in (root / "results").rglob("*") if p.is_file()}

    assert files(workdir) == files(tiny_workflow_run)
    local = pd.read_csv(tiny_workflow_run / "results/tables/summary.csv")
    cluster = pd.read_csv(workdir / "results/tables/summary.csv")
    assert list(cluster.columns) == list(local.columns)
    keys = ["dataset", "likelihood", "beta", "seed"]
    local, cluster = (df.sort_values(keys).reset_index(drop=True) for df in (local, cluster))
    assert cluster[keys].equals(local[keys])
    assert set(cluster.status) == {"ok"}
    # CPU runs are bit-reproducible: the same numbers, wherever the job ran (timings aside)
    timing = [c for c in local.columns if "second" in c]
    pd.testing.assert_frame_equal(cluster.drop(columns=timing), local.drop(columns=timing), rtol=1e-9)
