"""The claims rule and the study-docs command on the tiny workflow's real results."""

import json

import pandas as pd
import pytest
from workflow_helpers import load_config

from reconloss import claims
from reconloss.claims.inventory import INVENTORY
from reconloss.plan.sizes import DATA_SHAPES
from reconloss.report import publish as study_docs
from reconloss.report import study_pages

pytestmark = pytest.mark.workflow


def test_claims_has_one_row_per_claim_and_dataset(tiny_workflow_run):
    frame = pd.read_csv(tiny_workflow_run / "results/tables/claims.csv")
    config = load_config(tiny_workflow_run / "configs/test.yaml")
    # every claim, and every entry of the post's inventory that no claim judges (analytic, not testable here)
    judged_by = {c.id for c in claims.CLAIMS}
    ids = judged_by | {e.id for e in INVENTORY if e.claim not in judged_by}
    pairs = {(d, i) for d in config["datasets"] for i in ids}
    assert set(zip(frame["dataset"], frame["claim"])) == pairs and len(frame) == len(pairs)
    assert set(frame["verdict"]) <= set(claims.VERDICTS)
    by = frame.set_index("claim")["verdict"]
    # one seed, no Bernoulli, no fixed-σ variant: these cannot be tested on the tiny grid
    assert by["best_fid_similar"] == "not tested" and by["fixed_sigma_is_beta"] == "not tested"
    assert by["cb_param_vs_mean"] == "inconclusive"  # one seed: no spread to judge by
    assert (tiny_workflow_run / "results/tables/claims.md").read_text().startswith("# Claims")


def test_study_docs_writes_and_regenerates_the_reader_files(tiny_workflow_run, tmp_path):
    out = tmp_path / "docs"
    args = ["--config", str(tiny_workflow_run / "configs/test.yaml"), "--results",
            str(tiny_workflow_run / "results"), "--out", str(out)]
    study_docs.main(args)
    folder = out / "digits"
    assert {p.name for p in folder.glob("*.png")} >= {"fid_vs_beta_digits.png", "reconstructions_digits.png"}
    summary = pd.read_csv(folder / "summary.csv")
    assert set(summary["dataset"]) == {"digits"} and len(summary) == 4
    assert "fid (mean ± std over seeds)" in (folder / "best.md").read_text()
    assert "cb_param_vs_mean" in (folder / "claims.md").read_text()
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["config"]["train"]["epochs"] == 2 and prov["versions"]["torch"] and prov["versions"]["snakemake"]
    assert prov["wall_time"]["dataset_stages"]["train"] > 0 and "tables" in prov["wall_time"]["shared"]
    assert prov["wall_time"]["elapsed"] is None  # the tiny run was not started by `make study`
    # the index of every figure, and the analytic figures and tables it points to, beside the datasets
    index = (out / "README.md").read_text()
    assert index.index("## The post's figures") < index.index("digits/cb_image_digits.png")
    assert {p.name for p in (out / "analytic").iterdir()} >= {"cb_log_prob.png", "cb_mean.png", "sigma_beta.md"}
    (tiny_workflow_run / "results/study_wall.json").write_text('{"started": 100, "finished": 160, "cores": "2"}')
    try:
        study_docs.main(args)
    finally:
        (tiny_workflow_run / "results/study_wall.json").unlink()
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["wall_time"]["elapsed"]["seconds"] == 60
    first = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".json"}
    study_docs.main(args)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".json"} == first


def test_claims_link_their_figures_and_the_readme_block_is_rewritten(tiny_workflow_run, tmp_path):
    out, readme = tmp_path / "docs" / "study", tmp_path / "README.md"
    readme.write_text(f"# intro\n{study_pages.README_BEGIN}\nstale\n{study_pages.README_END}\n## after\n")
    args = ["--config", str(tiny_workflow_run / "configs/test.yaml"), "--results",
            str(tiny_workflow_run / "results"), "--out", str(out)]
    study_docs.main(args + ["--readme", str(readme)])
    assert set(claims.CLAIM_FIGURES) == {c.id for c in claims.CLAIMS}
    grey = DATA_SHAPES["digits"]
    for claim in claims.CLAIMS:  # every figure a claim of this data set links exists beside claims.md
        if claim.applies_to(grey):
            figure = claims.figure_file(claims.CLAIM_FIGURES[claim.id], "digits")[1]
            assert (out / "digits" / figure).is_file(), claim.id
    # a colour claim on grey images links no figure, and its placeholder figure is not published
    assert not (out / "digits" / "colour_image_digits.png").exists()
    assert "colour_image_digits.png" not in (out / "digits" / "claims.md").read_text()
    md = (out / "digits" / "claims.md").read_text()
    assert "[fid_vs_beta](fid_vs_beta_digits.png)" in md and "[divergence](divergence_digits.png)" in md
    text = readme.read_text()
    assert "stale" not in text and text.startswith("# intro\n") and text.endswith(f"{study_pages.README_END}\n## after\n")
    verdicts = pd.read_csv(tiny_workflow_run / "results/tables/claims.csv").set_index("claim")["verdict"]
    # the README's block counts the verdicts per section of the post, the total linking the data set's claims.md
    total = next(line for line in text.splitlines() if line.startswith("| **all** |"))
    counts = verdicts.value_counts()
    assert f"| **all** | {len(verdicts)} | [" in total and "](docs/study/digits/claims.md)" in total
    assert all(f"{v} {n}" in total for v, n in counts.items())
    # ... and the anchor is a section of claims.md with that claim's verdict and numbers
    section = md.split("\n## optimal_image_needs_beta\n", 1)[1].split("\n## ", 1)[0]
    assert f"- **Verdict:** {verdicts['optimal_image_needs_beta']}" in section and "- **Numbers:**" in section
    (tmp_path / "bare.md").write_text("# no markers\n")
    with pytest.raises(ValueError, match="lacks the markers"):
        study_docs.main(args + ["--readme", str(tmp_path / "bare.md")])


def test_a_run_of_one_dataset_keeps_every_published_dataset_in_the_readme_and_index(tiny_workflow_run, tmp_path):
    """The claims study runs one dataset at a time: a digits run must not drop an MNIST column published
    earlier, and MNIST's verdicts come from its own folder's summary.csv, not from the run's results."""
    out, readme = tmp_path / "docs" / "study", tmp_path / "README.md"
    readme.write_text(f"{study_pages.README_BEGIN}\n{study_pages.README_END}\n")
    earlier = out / "mnist"
    earlier.mkdir(parents=True)
    rows = pd.read_csv(tiny_workflow_run / "results/tables/summary.csv")
    rows = rows[rows["likelihood"] != "continuous_bernoulli"].assign(dataset="mnist")
    rows.to_csv(earlier / "summary.csv", index=False)
    (earlier / "claims.md").write_text("published earlier\n")
    config = load_config(tiny_workflow_run / "configs/test.yaml")
    (earlier / "provenance.json").write_text(json.dumps({"config": config}))  # the run's configuration
    args = ["--config", str(tiny_workflow_run / "configs/test.yaml"), "--results",
            str(tiny_workflow_run / "results"), "--out", str(out), "--readme", str(readme)]
    study_docs.main(args)
    assert study_pages.published(out) == ["mnist", "digits"]
    assert (earlier / "claims.md").read_text() == "published earlier\n"  # not rewritten: not in this run
    text = readme.read_text()
    assert "| section of the post | claims | MNIST | digits |" in text
    total = next(line for line in text.splitlines() if line.startswith("| **all** |"))
    mnist_cell, digits_cell = total.split(" | ")[2:4]
    digits = pd.read_csv(tiny_workflow_run / "results/tables/claims.csv")["verdict"].value_counts()
    assert "docs/study/mnist/claims.md" in mnist_cell and "docs/study/digits/claims.md" in digits_cell
    assert all(f"{v} {n}" in digits_cell for v, n in digits.items())
    # MNIST's counts come from its own summary, where CB is missing: more "not tested" than digits
    assert int(mnist_cell.split("not tested ")[1].split(" ")[0].rstrip("]")) > digits["not tested"]
    index = (out / "README.md").read_text()
    assert "[MNIST](mnist/)" in index and "[digits](digits/)" in index
    before = readme.read_bytes()
    study_docs.main(args)
    assert readme.read_bytes() == before
    # the published pages follow from the published data alone: `publish --check` agrees, except for MNIST's
    # claims.md, which this run did not write
    stale = r"mnist/claims.md:1: committed 'published earlier', rebuilt '# Claims: MNIST'"
    with pytest.raises(SystemExit, match=stale):
        study_pages.main(["--docs", str(out), "--readme", str(readme), "--check"])
    study_pages.main(["--docs", str(out), "--readme", str(readme)])
    study_pages.main(["--docs", str(out), "--readme", str(readme), "--check"])
