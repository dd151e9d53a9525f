"""`snakemake --report` opened in a real headless browser (Debian's `chromium`).

The report is a JavaScript application: the figures it lists exist only once
the browser has run it. Each test builds a report, lets Chromium render it,
dumps the DOM and keeps a screenshot (under the test's tmp dir, and copied to
$RECONLOSS_ARTIFACTS when set, e.g. `.ci/artifacts` in CI).

Without a Chromium the tests skip, unless RECONLOSS_REQUIRE_CHROMIUM=1 (CI),
where a missing browser is a failure.
"""

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from fake_results import make_results_tree
from reconloss.report.figures import FIGURES

REPO = Path(__file__).resolve().parents[1]
FIGURE_LABELS = {  # the `figure` labels figures.smk gives each figure in the report
    "cb_image": "Continuous Bernoulli: data, lambda and expected value",
    "fid_vs_beta": "FID against beta",
    "fid_bernoulli_vs_cb": "Bernoulli against continuous Bernoulli",
    "reconstructions": "Reconstructions: parameter image and expected value",
    "dynamic_range": "Dynamic range: black and white levels",
    "samples": "Samples at each likelihood's best beta",
    "divergence": "Divergence map",
    "sigma": "Learned and predicted sigma over training",
    "settling": "How much the loss still moved",
    "colour_image": "Continuous Bernoulli on colour images: data, lambda and expected value",
}
NEVER_TRAIN = ["--allowed-rules", "figures", "tables", "dataset_figures", "analytic", "claims_table"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=10000"]


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def chromium():
    for name in (os.environ.get("RECONLOSS_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    if os.environ.get("RECONLOSS_REQUIRE_CHROMIUM") == "1":
        pytest.fail("RECONLOSS_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install -y chromium)")
    pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium)")


def with_script(report: Path, js: str, dst: Path) -> Path:
    """A copy of the report that runs `js` once the report's own app has started."""
    html = report.read_text(encoding="utf-8")
    hook = f"<script>window.addEventListener('load', function () {{ setTimeout(function () {{ {js} }}, 0); }});</script>"
    at = html.rfind("</body>")
    assert at > 0, "report without </body>"
    dst.write_text(html[:at] + hook + html[at:], encoding="utf-8")
    return dst


def browse(chromium, page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def rendered_text(dom: str) -> list[str]:
    """Text the page shows: the DOM's text outside <script> and <style> (the report's data lives in scripts)."""

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.hidden, self.items = 0, []

        def handle_starttag(self, tag, attrs):
            self.hidden += tag in ("script", "style")

        def handle_endtag(self, tag):
            self.hidden -= tag in ("script", "style")

        def handle_data(self, data):
            if not self.hidden and data.strip():
                self.items.append(data.strip())

    parser = Text()
    parser.feed(dom)
    return parser.items


def keep_artifact(path: Path, name: str):
    target = os.environ.get("RECONLOSS_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / name)


def check_report(chromium, report: Path, tmp: Path, datasets, artifact_prefix: str, extra_names=()):
    """Render `report` three ways: its start page, every result listed, one figure opened."""
    assert report.stat().st_size > 100_000, "report suspiciously small"

    start = rendered_text(browse(chromium, report, tmp, "--dump-dom").stdout)
    for category in ("Evaluation", "Training", "Tables"):
        assert category in start, f"category {category!r} missing from the report's menu: {start[:60]}"

    listing = with_script(report, "app.setView({navbarMode: 'searchresults', searchTerm: 're:.'});",
                          tmp / "listing.html")
    shown = rendered_text(browse(chromium, listing, tmp, "--dump-dom").stdout)
    assert "Search results" in shown
    for stem in FIGURES:
        assert shown.count(FIGURE_LABELS[stem]) == len(datasets), f"{stem} not listed once per dataset"
    for dataset in datasets:
        assert dataset in shown
    for table in ("summary: one row per run", "best beta per likelihood"):
        assert shown.count(table) == 2, f"table {table!r} not listed as csv and html"
    for name in extra_names:
        assert any(name in item for item in shown), f"{name} not listed"

    key = f"results/figures/reconstructions_{datasets[0]}.png"
    open_figure = (f"app.setView({{navbarMode: 'resultinfo', resultPath: '{key}', content: 'img',"
                   f" contentPath: results['{key}'].data_uri}});")
    page = with_script(report, open_figure, tmp / "figure.html")
    info = " ".join(rendered_text(browse(chromium, page, tmp, "--dump-dom").stdout))
    assert "Claim tested" in info and "parameter image" in info, "caption of the figure not rendered"
    shot = tmp / f"{artifact_prefix}-report.png"
    browse(chromium, page, tmp, "--window-size=1400,900", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    keep_artifact(shot, shot.name)
    keep_artifact(report, f"{artifact_prefix}-report.html")


# --------------------------------------------------------------------------- snakemake


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def fabricated_workflow(tmp_path_factory):
    """figures.smk run on a fabricated results tree: independent of training and evaluation code."""
    work = tmp_path_factory.mktemp("fabricated-workflow")
    shutil.copytree(REPO / "workflow", work / "workflow", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = REPO / "envs" / "reconloss.yaml"
    (work / "envs").mkdir()
    if env.exists():
        shutil.copy2(env, work / "envs" / env.name)
    else:  # the rules name it for --sdm conda; Snakemake records it even when not using conda
        (work / "envs" / "reconloss.yaml").write_text("name: reconloss\n")
    datasets, likelihoods, betas, seeds = ["digits"], ["gaussian_fixed", "gaussian_learned_global",
                                                       "continuous_bernoulli", "beta"], [0.25, 1.0, 4.0], [0, 1]
    make_results_tree(work / "results", datasets=datasets, likelihoods=likelihoods, betas=betas, seeds=seeds)
    config = {"datasets": datasets, "likelihoods": likelihoods, "betas": [float(b) for b in betas], "seeds": seeds,
              "figures": {"comparison_beta": 1.0}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    # The real Snakefile; the packs are marked evaluated, so the tables and figures read the fabricated runs
    # (reconloss.plan.runs decides which packs the grid's tables wait for).
    shutil.copy2(REPO / "Snakefile", work / "Snakefile")
    from reconloss.plan import config_check
    from reconloss.plan.runs import Plan

    for pack in Plan(config_check.effective(config)).packs_of("grid"):
        for stage in ("trained", "evaluated"):
            marker = work / "results" / "packs" / f"{pack.id}.{stage}"
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
    snakemake(work, "--cores", "2", "figures", *NEVER_TRAIN)
    return work


def test_fabricated_results_give_every_output(fabricated_workflow):
    for stem in FIGURES:
        for ext in ("png", "pdf"):
            assert (fabricated_workflow / f"results/figures/{stem}_digits.{ext}").stat().st_size > 0
    for name in ("summary", "best"):
        for ext in ("csv", "md", "tex", "html"):
            assert (fabricated_workflow / f"results/tables/{name}.{ext}").stat().st_size > 0
    again = snakemake(fabricated_workflow, "--cores", "1", "-n", "figures")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_report_of_fabricated_results_renders_in_chromium(fabricated_workflow, chromium, tmp_path):
    report = tmp_path / "report.html"
    snakemake(fabricated_workflow, "--report", str(report))
    check_report(chromium, report, tmp_path, ["digits"], "fabricated")


# --------------------------------------------------------------------------- the real tiny workflow


@pytest.fixture(scope="module")
def tiny(request):
    """The lead's session fixture: the real workflow run on configs/test.yaml."""
    try:
        return request.getfixturevalue("tiny_workflow_run")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py provides no tiny_workflow_run fixture")


@pytest.mark.workflow
def test_report_of_tiny_workflow_renders_in_chromium(tiny, chromium, tmp_path):
    report = tmp_path / "report.html"
    snakemake(tiny, "--report", str(report), "--configfile", "configs/test.yaml")
    config = yaml.safe_load((tiny / "configs" / "test.yaml").read_text())
    analytic_pngs = [Path(p).stem for p in _analytic_figure_paths() if p.endswith(".png")]
    check_report(chromium, report, tmp_path, config["datasets"], "tiny", extra_names=analytic_pngs)


def _analytic_figure_paths():
    from reconloss import analytic

    return analytic.figure_paths("results/figures/analytic")


@pytest.mark.workflow
def test_figures_target_trains_nothing(tiny, tmp_path):
    """With the grid changed so that every run is out of date, the figures target still only redraws."""
    from workflow_helpers import clone_results, planned_jobs

    work = clone_results(tiny, tmp_path / "work")
    config = yaml.safe_load((work / "configs" / "test.yaml").read_text())
    # every training's settings change (a pack's id names its epochs, not its learning rate): a full run
    # would retrain them all
    config["train"]["lr"] = float(config["train"].get("lr") or 1e-3) * 2
    (work / "configs" / "test.yaml").write_text(yaml.safe_dump(config))
    (work / "results" / "tables" / "summary.csv").unlink()

    full = planned_jobs(snakemake(work, "-n", "--cores", "1", "--configfile", "configs/test.yaml"))
    assert full.get("train"), f"changing the learning rate should make a full run retrain: {full}"

    args = ["figures", "--cores", "2", "--configfile", "configs/test.yaml", *NEVER_TRAIN]
    planned = planned_jobs(snakemake(work, "-n", *args))
    assert set(planned) <= {"tables", "dataset_figures", "figures", "analytic", "claims_table"}, planned
    assert planned.get("tables") == 1 and planned.get("dataset_figures") == len(config["datasets"])
    figures = [work / f"results/figures/{stem}_{d}.png" for stem in FIGURES for d in config["datasets"]]
    before = {p: p.stat().st_mtime_ns for p in figures}
    model = next((work / "results" / "runs").rglob("model.pt"))
    model_before = model.stat().st_mtime_ns
    snakemake(work, *args)
    assert (work / "results" / "tables" / "summary.csv").exists()
    assert all(p.stat().st_mtime_ns > before[p] for p in figures), "figures not redrawn"
    assert model.stat().st_mtime_ns == model_before, "a model was retrained"
