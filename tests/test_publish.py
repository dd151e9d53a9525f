"""Publishing from published data, and the provenance command that records what a run ran.

The first test is the CI check of the published study: every committed claims.md, the docs index and the
README's study-claims block must be what the committed summary.csv and provenance.json give with the
current code, byte for byte. A rule change that alters a published verdict or number fails here until
`make publish` regenerates the pages.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reconloss import claims
from reconloss.plan import config_check
from reconloss.report import claims_table, provenance, study_pages

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "study"


def published_copy(tmp_path):
    """docs/study as published (data, pages and figures: the index links only the figures a data set has)
    and README.md, copied under tmp_path."""
    shutil.copytree(DOCS, tmp_path / "docs/study")
    shutil.copyfile(REPO / "README.md", tmp_path / "README.md")
    return tmp_path / "docs/study", tmp_path / "README.md"


def pages(docs, readme):
    return [docs / d / "claims.md" for d in study_pages.published(docs)] + [docs / "README.md", readme]


def test_the_published_pages_are_what_their_published_data_gives(tmp_path):
    docs, readme = published_copy(tmp_path)
    assert {"mnist", "fashion_mnist"} <= set(study_pages.published(docs))
    for path in pages(docs, readme)[:-1]:
        path.write_text("stale\n")  # every page is rebuilt, none kept
    readme.write_text(study_pages.generate.replace_marked(readme.read_text(), study_pages.README_BEGIN,
                                                          study_pages.README_END, "stale\n", "README.md"))
    study_pages.main(["--docs", str(docs), "--readme", str(readme)])
    for path in pages(docs, readme):
        committed = REPO / path.relative_to(tmp_path)
        assert path.read_bytes() == committed.read_bytes(), (
            f"{committed.relative_to(REPO)} is not what its published data gives with the current code: "
            "`make publish` rebuilds it (and `make publish-check` names the first differing line)")


def test_check_names_each_hand_edited_page_and_its_first_differing_line_and_writes_nothing(tmp_path, capsys):
    docs, readme = published_copy(tmp_path)
    study_pages.main(["--docs", str(docs), "--readme", str(readme), "--check"])
    # each published data set's claims.md, the index and the README
    assert f"{len(study_pages.published(docs)) + 2} pages agree" in capsys.readouterr().out
    md = docs / "mnist" / "claims.md"
    lines = md.read_text().splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if "| **holds** |" in line)
    lines[n] = lines[n].replace("| **holds** |", "| **does not hold** |")
    md.write_text("".join(lines))
    text = readme.read_text()
    readme.write_text(text.replace(study_pages.README_END, "| a hand-typed row |\n" + study_pages.README_END))
    edited = {p: p.read_bytes() for p in pages(docs, readme)}
    with pytest.raises(SystemExit) as failed:
        study_pages.main(["--docs", str(docs), "--readme", str(readme), "--check"])
    message = str(failed.value)
    assert f"{md}:{n + 1}: committed {lines[n].rstrip(chr(10))!r}" in message
    end = text[:text.index(study_pages.README_END)].count("\n") + 1
    assert f"{readme}:{end}: committed '| a hand-typed row |', rebuilt {study_pages.README_END!r}" in message
    assert "fashion_mnist" not in message and str(docs / "README.md") not in message
    assert {p: p.read_bytes() for p in pages(docs, readme)} == edited  # --check writes nothing


def test_a_changed_rule_changes_the_rebuilt_page(tmp_path, monkeypatch):
    """The published verdicts are computed, not copied: flip one claim's rule and its rows change."""
    docs, readme = published_copy(tmp_path)
    first = claims.CLAIMS[0]
    flipped = {"holds": "does not hold", "does not hold": "holds"}

    def test(df, specs):
        result = first.test(df, specs)
        return {**result, "verdict": flipped.get(result["verdict"], "holds")}

    monkeypatch.setattr(claims, "CLAIMS", [dataclasses.replace(first, test=test), *claims.CLAIMS[1:]])
    found = study_pages.differences(study_pages.pages(docs, readme))
    # every published data set's claims.md (the flipped verdict), and the README's counts
    assert {line.split(":")[0] for line in found} == {str(docs / d / "claims.md") for d in study_pages.published(docs)} | {
        str(readme)}
    assert all(f"[{claims_table.cell(first.statement)}](#{claims_table.claim_anchor(first.id)})" in line
               for line in found if not line.startswith(str(readme)))


def test_a_published_dataset_without_its_configuration_is_an_error_naming_the_file(tmp_path):
    docs, readme = published_copy(tmp_path)
    (docs / "mnist" / "provenance.json").unlink()
    with pytest.raises(FileNotFoundError, match="mnist/provenance.json"):
        study_pages.pages(docs, readme)


def test_one_claims_markdown_for_one_dataset_and_for_several():
    import pandas as pd

    frame = pd.DataFrame([{"dataset": d, "claim": "c_one", "statement": "A | B", "needs": "n", "quantity": "q",
                           "rule": "r", "numbers": "1.5", "runs": "x", "verdict": "holds", "reason": "why",
                           "figure": "fid_vs_beta"} for d in ("mnist", "digits")])
    one = claims_table.markdown(frame[frame["dataset"] == "mnist"])
    assert one.startswith(f"# Claims: MNIST\n\n{claims.VERDICT_RULE}\n\n| claim | verdict | why | figure |\n")
    assert "| [A \\| B](#c_one) | **holds** | why | [fid_vs_beta](fid_vs_beta_mnist.png) |" in one
    assert "\n## c_one\n\n> A | B\n\n- **Verdict:** holds\n- **Why:** why\n" in one
    both = claims_table.markdown(frame, figure_links=False)
    assert both.startswith("# Claims: MNIST, digits\n") and "| dataset | claim | verdict | why | figure |" in both
    assert "| digits | [A \\| B](#digits-c_one) | **holds** | why | fid_vs_beta |" in both
    assert "\n## digits: c_one\n" in both and "\n## mnist: c_one\n" in both


# ---- provenance -----------------------------------------------------------------------------------------------

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    (path / "code.py").write_text("x = 1\n")
    git(path, "add", "code.py")
    git(path, "commit", "-q", "-m", "first")
    return path


def record(repo, *command, config=REPO / "configs/claims.yaml"):
    wall, walls = repo / "results/wall.json", repo / "results/walls.jsonl"
    provenance.main(["--wall", str(wall), "--walls", str(walls), "--config", str(config), "--cores", "2",
                     "--max-epochs", "", "--repo", str(repo), "--", sys.executable, "-c", *command])
    return json.loads(wall.read_text())


def test_a_failed_or_interrupted_invocation_is_recorded_with_its_exit_status(repo):
    # its time was spent and a later invocation resumes its work: walls.jsonl keeps it, wall.json (the last
    # success) does not, and the published commit stays the last successful invocation's
    first = record(repo, "pass")
    with pytest.raises(SystemExit) as exited:
        record(repo, "raise SystemExit(130)")
    assert exited.value.code == 130
    lines = [json.loads(line) for line in (repo / "results/walls.jsonl").read_text().splitlines()]
    assert [line.get("exit") for line in lines] == [None, 130]
    assert json.loads((repo / "results/wall.json").read_text()) == first
    src = {"walls": repo / "results/walls.jsonl", "wall": repo / "results/wall.json", "benchmarks": [],
           "runs": repo / "none"}
    config = config_check.load_files([REPO / "configs/claims.yaml"])
    git(repo, "commit", "-q", "--allow-empty", "-m", "later")  # the failed invocation's record names HEAD
    lines[1]["git_commit"] = git(repo, "rev-parse", "HEAD")
    (repo / "results/walls.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert provenance.provenance(config, [], src, "mnist", repo)["git_commit"] == first["git_commit"]


def test_provenance_records_the_commit_and_dirty_flag_the_command_started_at(repo):
    head = git(repo, "rev-parse", "HEAD")
    clean = record(repo, "pass")
    assert (clean["git_commit"], clean["git_dirty"]) == (head, False)
    assert clean["datasets"] == config_check.load_files([REPO / "configs/claims.yaml"])["datasets"]
    assert (clean["cores"], clean["max_epochs"], clean["config"]) == ("2", "", str(REPO / "configs/claims.yaml"))
    assert 0 <= clean["finished"] - clean["started"] < 60
    (repo / "notes.txt").write_text("untracked\n")  # untracked files are not the code that ran
    assert record(repo, "pass")["git_dirty"] is False
    (repo / "code.py").write_text("x = 2\n")
    assert record(repo, "pass")["git_dirty"] is True
    # a commit made while the command runs is not the code that ran
    commit = ["git", "-C", str(repo), "commit", "-qam", "during"]
    during = record(repo, f"import subprocess; subprocess.run({commit!r}, check=True)")
    assert (during["git_commit"], during["git_dirty"]) == (head, True) and git(repo, "rev-parse", "HEAD") != head
    walls = [json.loads(line) for line in (repo / "results/walls.jsonl").read_text().splitlines()]
    assert walls[0] == clean and walls[-1] == during and len(walls) == 4
    assert list(clean) == ["started", "finished", "cores", "max_epochs", "config", "datasets", "git_commit",
                           "git_dirty"]  # the keys `make claims` has always recorded, in its order


def test_outside_a_git_repository_the_commit_is_unknown(tmp_path):
    assert provenance.git_state(tmp_path) == (None, None)
    rec = record(tmp_path, "pass", config=REPO / "config.yaml")
    assert (rec["git_commit"], rec["git_dirty"]) == (None, None)
    assert rec["datasets"] == config_check.load_files([REPO / "config.yaml"])["datasets"]
