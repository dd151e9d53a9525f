"""Run the real workflow from tests: a copy of the project in a temporary directory."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ["Snakefile", "config.yaml", "configs", "workflow", "profiles", "envs"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")


def load_benchmark(name: str):
    """benchmarks/{name}.py as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_workflow(dst: Path) -> Path:
    """The project as a user's clone has it, without results."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=IGNORE, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dst / name)
    return dst


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def load_config(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """`snakemake ARGS` in `workdir` with this interpreter; output captured as text."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from a dry run's 'Job stats' table; {} when nothing is to be done."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    counts: dict[str, int] = {}
    table = text.split("Job stats:", 1)[1] if "Job stats:" in text else ""
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"\s*([A-Za-z_][\w]*)\s+(\d+)\s*", line)
        if not match:
            break
        if match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    assert counts, f"no job table in the dry run's output:\n{text}"
    return counts


def run_tiny_workflow(workdir: Path) -> Path:
    """The tiny configuration (configs/test.yaml) run end to end in a fresh copy of the project."""
    copy_workflow(workdir)
    snakemake(workdir, "--cores", "2", "--configfile", "configs/test.yaml")
    return workdir


def clone_results(src: Path, dst: Path) -> Path:
    """A copy of a finished workflow directory, timestamps and Snakemake's metadata included."""
    shutil.copytree(src, dst, symlinks=True)
    return dst
