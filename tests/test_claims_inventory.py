"""The inventory of the post's claims: every entry has a row in claims.md, the treatments are counted, no row
repeats the post's wording, and the analytic checks compute what they say (against mpmath and closed forms)."""

import math
import re
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest

from fake_results import fake_summary, summary_row as row
from reconloss import claims
from reconloss.claims import analytic_checks, inventory
from reconloss.claims.inventory import ANALYTIC, INVENTORY, RUNS, UNTESTABLE
from reconloss.report import claims_table

ROOT = Path(__file__).resolve().parents[1]
#: The colour claims are registered by the colour images' rules (INTERFACES 6), not by this package yet.
COLOUR = {"colour_lambda_oversaturated", "colour_black_white_elements"}
#: Longest run of the post's words a row may repeat.
MAX_RUN = 7


def _post():
    for base in (ROOT, ROOT.parent, ROOT.parent.parent):
        path = base / "shared" / "reference" / "post.md"
        if path.is_file():
            return path.read_text()
    pytest.skip("the post (shared/reference/post.md) is not beside this checkout")


def words(text):
    """Lower-case words with punctuation and markup removed (a decimal number is one word): copying survives
    re-punctuation."""
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)*", text.lower().replace("’", "'").replace("'", ""))


def copied_runs(text, post, n=MAX_RUN + 1):
    """The runs of n consecutive words `text` shares with the post."""
    post_words = words(post)
    grams = {tuple(post_words[i:i + n]) for i in range(len(post_words) - n + 1)}
    w = words(text)
    return [" ".join(w[i:i + n]) for i in range(len(w) - n + 1) if tuple(w[i:i + n]) in grams]


@pytest.fixture(scope="module")
def frame():
    return claims.claims_frame(fake_summary([row("bernoulli", 1.0, s) for s in range(3)]))


def test_every_entry_has_a_row_in_claims_md(frame):
    md = claims_table.markdown(frame)
    registered = {c.id for c in claims.CLAIMS}
    for e in INVENTORY:
        rid = e.claim if e.claim in registered else e.id
        assert rid in set(frame["claim"]), e.id
        assert f"\n## {rid}\n" in md, e.id  # one data set: each section is headed by its id
        assert e.section in frame.set_index("claim").loc[rid, "section"], e.id
    assert len(frame) == len(set(frame["claim"]))  # one row per claim or entry, none twice


def test_counts_by_treatment_and_what_each_names(frame):
    groups = inventory.by_treatment()
    assert len(INVENTORY) >= 52
    assert len(groups[RUNS]) >= 25
    assert 1 <= len(groups[UNTESTABLE]) <= 5
    rows = frame.set_index("claim")
    for e in groups[UNTESTABLE]:
        assert len(e.missing.split()) >= 3
        assert rows.loc[e.id, "verdict"] == "not testable here" and e.missing in rows.loc[e.id, "reason"]
    registered = {c.id for c in claims.CLAIMS}
    for e in groups[RUNS]:  # each names a registered claim that needs runs, the colour claims apart
        assert e.claim in registered or e.claim in COLOUR, e.id
        if e.claim in registered:
            assert next(c for c in claims.CLAIMS if c.id == e.claim).needs, e.id
    assert {e.id for e in groups[RUNS]} >= COLOUR
    for e in groups[ANALYTIC]:
        assert e.check in analytic_checks.CHECKS or e.claim in registered, e.id


def test_every_registered_claim_traces_to_an_inventory_entry():
    named = {e.claim for e in INVENTORY}
    assert {c.id for c in claims.CLAIMS} <= named, {c.id for c in claims.CLAIMS} - named


def test_sections_are_the_posts_headings():
    post = _post()
    headings = {line.strip() for line in post.splitlines()}
    for section in inventory.SECTIONS:
        assert section in headings, section


def test_the_copy_checker_finds_a_planted_copy():
    post = _post()
    # a copy taken from the post itself (its Gaussian section), so the test holds no sentence of the post
    words = post[post.index("the gradients become"):].split()
    planted = " ".join(words[:12]) + ", we find."
    assert copied_runs(planted, post)
    reworded = "Its gradient grows as the residual shrinks, the reverse of the squared error's."
    assert not copied_runs(reworded, post)
    # punctuation and case do not hide a copy
    shouted = "; ".join(" ".join(words[i:i + 3]).upper() for i in range(0, 9, 3))
    assert copied_runs(shouted, post)


def test_no_row_repeats_eight_words_of_the_post(frame):
    post = _post()
    for _, r in frame.iterrows():
        for field in ("statement", "quantity", "rule"):
            assert not copied_runs(str(r[field]), post), (r["claim"], field, copied_runs(str(r[field]), post))
    for e in INVENTORY:
        assert not copied_runs(e.says, post), e.id


def test_analytic_rows_hold_and_a_missed_tolerance_does_not(frame, monkeypatch):
    rows = frame.set_index("claim")
    for e in inventory.by_treatment()[ANALYTIC]:
        rid = e.claim or e.id
        assert rows.loc[rid, "verdict"] == "holds", (rid, rows.loc[rid, "numbers"])
        assert rows.loc[rid, "numbers"], rid
    broken = analytic_checks.Check("q", "t", "analytic/cb_mean", lambda: ("x 1", False))
    monkeypatch.setitem(analytic_checks.CHECKS, "mean_09999", broken)
    assert analytic_checks.run("mean_09999")["verdict"] == "does not hold"
    failing = analytic_checks.Check("q", "t", "analytic/cb_mean", lambda: 1 / 0)
    monkeypatch.setitem(analytic_checks.CHECKS, "mean_09999", failing)
    assert analytic_checks.run("mean_09999")["verdict"] == "inconclusive"


def test_analytic_values_against_mpmath():
    mpmath.mp.dps = 40
    for lam in (0.1, 0.9, 0.9999, 0.9999999):
        lm = mpmath.mpf(lam)
        want = lm / (2 * lm - 1) + 1 / (2 * mpmath.atanh(1 - 2 * lm))
        assert analytic_checks.cb_mean(lam) == pytest.approx(float(want), rel=1e-9)
        norm = mpmath.quad(lambda x: lm ** x * (1 - lm) ** (1 - x), [0, 1])
        assert analytic_checks.cb_log_norm(lam) == pytest.approx(-float(mpmath.log(norm)), rel=1e-9)
    assert analytic_checks.cb_mean(0.9999) == pytest.approx(0.8915, abs=5e-5)
    assert analytic_checks._cb_fit(0.9) > 0.9999  # the λ whose mean is 0.9
    assert math.isclose(analytic_checks.cb_mean(analytic_checks._cb_fit(0.8)), 0.8, rel_tol=1e-9)


def test_only_selects_inventory_rows_too():
    f = claims.claims_frame(fake_summary([row("bernoulli", 1.0, 0)]), only=["cb_mean_at_09999", "best_fid_similar"])
    assert list(f["claim"]) == ["best_fid_similar", "cb_mean_at_09999"]
    with pytest.raises(ValueError, match="no_such_claim"):
        claims.claims_frame(fake_summary([row("bernoulli", 1.0, 0)]), only=["no_such_claim"])


def test_claims_stay_torch_free():
    code = ("import sys, pandas as pd; import reconloss.claims as c; "
             "c.claims_frame(pd.DataFrame([{'dataset': 'mnist', 'likelihood': 'bernoulli', 'beta': 1.0, 'seed': 0, "
             "'status': 'ok', 'fid': 20.0}])); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "workflow"), "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
