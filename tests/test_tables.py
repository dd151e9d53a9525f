"""The summary and best tables, checked against values computed by hand from the metrics written."""

import json
import math

import pandas as pd
import pytest

from reconloss.report import tables


def write_metrics(root, rows):
    paths = []
    for row in rows:
        d = root / row["dataset"] / row["likelihood"] / f"beta~{row['beta']:g}" / f"seed~{row['seed']}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "metrics.json").write_text(json.dumps(row))
        paths.append(d / "metrics.json")
    return paths


def metrics(likelihood, beta, seed, fid, status="ok", **extra):
    row = {"dataset": "digits", "likelihood": likelihood, "likelihood_name": likelihood, "beta": beta,
           "seed": seed, "status": status, "fid": None if status == "diverged" else fid,
           "diverged_epoch": 3 if status == "diverged" else None,
           "mse_mean": None if status == "diverged" else fid / 100,
           "black_level": None if status == "diverged" else 0.1 * beta,
           "white_level": None if status == "diverged" else 1 - 0.1 * beta,
           "data_black_level": 0.0, "data_white_level": 1.0}
    row.update(extra)
    return row


@pytest.fixture
def grid(tmp_path):
    rows = [
        # gaussian_fixed: β=1 wins on the seed mean (10, 14 -> 12) although β=0.5 has the single best seed (9)
        metrics("gaussian_fixed", 0.5, 0, 9.0), metrics("gaussian_fixed", 0.5, 1, 21.0),
        metrics("gaussian_fixed", 1.0, 0, 10.0), metrics("gaussian_fixed", 1.0, 1, 14.0),
        # continuous_bernoulli: β=2's second seed diverged; the mean over the finished seed decides (5 < 30)
        metrics("continuous_bernoulli", 1.0, 0, 30.0), metrics("continuous_bernoulli", 1.0, 1, 30.0),
        metrics("continuous_bernoulli", 2.0, 0, 5.0), metrics("continuous_bernoulli", 2.0, 1, None, "diverged"),
        # beta: everything diverged
        metrics("beta", 1.0, 0, None, "diverged"), metrics("beta", 2.0, 0, None, "diverged"),
    ]
    return rows, write_metrics(tmp_path / "runs", rows)


def test_summary_has_one_row_per_run_with_key_columns_first(grid):
    rows, paths = grid
    df = tables.summary_frame(tables.load_metrics(paths))
    assert list(df.columns[:6]) == ["dataset", "likelihood", "beta", "seed", "status", "fid"]
    assert len(df) == len(rows)
    assert list(df["likelihood"]) == [r["likelihood"] for r in rows]  # grid order kept
    assert set(tables.METRIC_COLUMNS) <= set(df.columns)
    diverged = df[df["status"] == "diverged"]
    assert diverged["fid"].isna().all() and diverged["mse_mean"].isna().all()
    assert df["fid"].dtype.kind == "f"


def test_summary_keeps_unknown_metric_keys(tmp_path):
    paths = write_metrics(tmp_path, [metrics("bernoulli", 1.0, 0, 3.0, new_metric=1.5)])
    df = tables.summary_frame(tables.load_metrics(paths))
    assert df.loc[0, "new_metric"] == 1.5


def test_best_picks_lowest_seed_mean_fid_over_finished_runs(grid):
    _, paths = grid
    best = tables.best_frame(tables.summary_frame(tables.load_metrics(paths))).set_index("likelihood")

    g = best.loc["gaussian_fixed"]
    assert g["best_beta"] == 1.0
    assert g["fid"] == pytest.approx(12.0)
    assert g["fid_std"] == pytest.approx(pd.Series([10.0, 14.0]).std())
    assert g["seeds_ok"] == 2
    assert g["mse_mean"] == pytest.approx(0.12)
    assert g["black_level"] == pytest.approx(0.1) and g["white_level"] == pytest.approx(0.9)
    assert (g["diverged"], g["runs"]) == (0, 4)

    cb = best.loc["continuous_bernoulli"]
    assert cb["best_beta"] == 2.0 and cb["fid"] == pytest.approx(5.0) and cb["seeds_ok"] == 1
    assert math.isnan(cb["fid_std"])
    assert (cb["diverged"], cb["runs"]) == (1, 4)

    b = best.loc["beta"]
    assert math.isnan(b["best_beta"]) and math.isnan(b["fid"]) and b["seeds_ok"] == 0
    assert (b["diverged"], b["runs"]) == (2, 2)


def test_best_breaks_ties_towards_smaller_beta(tmp_path):
    paths = write_metrics(tmp_path, [metrics("bernoulli", 4.0, 0, 7.0), metrics("bernoulli", 0.5, 0, 7.0)])
    best = tables.best_frame(tables.summary_frame(tables.load_metrics(paths)))
    assert best.loc[0, "best_beta"] == 0.5


def test_cli_writes_every_format(grid, tmp_path):
    _, paths = grid
    out = tmp_path / "tables"
    tables.main(["--metrics", *map(str, paths), "--out-dir", str(out)])
    for name in ("summary", "best"):
        for ext in ("csv", "md", "tex", "html"):
            assert (out / f"{name}.{ext}").stat().st_size > 0, (name, ext)
    assert not list(out.glob(".*")), "temporary files left behind"

    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 10 and list(summary.columns[:6]) == tables.KEY_COLUMNS
    best = pd.read_csv(out / "best.csv")
    assert list(best.columns) == tables.BEST_COLUMNS
    assert best.set_index("likelihood").loc["gaussian_fixed", "best_beta"] == 1.0

    md = (out / "best.md").read_text().splitlines()
    assert "diverged/runs" in md[0] and set(md[1]) <= set("|:-")
    beta_row = [cell.strip() for cell in next(line for line in md if "| beta " in line).split("|")]
    assert "2/2" in beta_row  # diverged/runs of the all-diverged likelihood
    fixed_row = [cell.strip() for cell in next(line for line in md if "| gaussian_fixed " in line).split("|")]
    assert "12 ± 2.8 (n=2)" in fixed_row  # β=1: seeds 10 and 14
    cb_row = [cell.strip() for cell in next(line for line in md if "| continuous_bernoulli " in line).split("|")]
    assert "5 (n=1)" in cb_row  # β=2: one seed finished, no spread
    tex = (out / "summary.tex").read_text()
    assert r"\begin{tabular}" in tex and r"gaussian\_fixed" in tex  # underscores escaped for LaTeX
    html = (out / "summary.html").read_text()
    assert html.count('<tr class="diverged">') == 3
    assert html.count("<tr") == 11  # header + 10 runs


def test_missing_key_is_reported_with_the_file(tmp_path):
    p = tmp_path / "metrics.json"
    p.write_text(json.dumps({"dataset": "digits", "likelihood": "bernoulli"}))
    with pytest.raises(ValueError, match="metrics.json.*beta"):
        tables.load_metrics([p])


def test_outcome_column_one_bits_column_and_collapsed_count(tmp_path):
    """outcome comes from evaluate where written and from reconloss.evaluation.outcome where not; bpd (the
    looser ELBO bits) stays out of the summary; best counts collapsed runs beside diverged ones."""
    rows = [
        metrics("gaussian_fixed", 1.0, 0, 10.0, active_units=3, sample_spread=0.2, bpd=1.5, iw_bpd=1.2),
        metrics("gaussian_fixed", 1.0, 1, 12.0, active_units=0, sample_spread=0.2),  # older row: derived
        metrics("gaussian_fixed", 2.0, 0, 50.0, outcome="collapsed", active_units=1, sample_spread=1e-5),
        metrics("gaussian_fixed", 2.0, 1, None, "diverged", outcome="diverged"),
    ]
    df = tables.summary_frame(tables.load_metrics(write_metrics(tmp_path, rows)))
    assert list(df["outcome"]) == ["ok", "collapsed", "collapsed", "diverged"]
    assert list(df["status"]) == ["ok", "ok", "ok", "diverged"]  # training's status untouched
    assert "bpd" not in df.columns and df.loc[0, "iw_bpd"] == 1.2
    for c in ("rmse", "fid_param", "param_black_level", "param_white_level", "mass_outside", "sample_spread"):
        assert c in df.columns, c
    best = tables.best_frame(df).set_index("likelihood").loc["gaussian_fixed"]
    assert (best["diverged"], best["collapsed"], best["runs"]) == (1, 2, 4)
    out = tmp_path / "tables"
    tables.write_tables(df, tables.best_frame(df), out)
    assert "collapsed" in (out / "summary.csv").read_text().splitlines()[2]


def test_each_consumer_reads_a_shared_run_under_its_own_label(tmp_path):
    """One run (reconloss.plan.runs) may be two rows: the grid's label and the claims' label for the same file."""
    paths = write_metrics(tmp_path, [metrics("cbn_free", 1.0, 0, 7.0), metrics("bernoulli", 1.0, 0, 3.0)])
    df = tables.summary_frame(tables.load_metrics([paths[0], paths[0], paths[1]],
                                                  ["cbn_free", "continuous_bernoulli_naive_noclamp", "bernoulli"]))
    assert list(df["likelihood"]) == ["cbn_free", "continuous_bernoulli_naive_noclamp", "bernoulli"]
    assert list(df["fid"]) == [7.0, 7.0, 3.0]
    with pytest.raises(ValueError, match="2 labels for 3 metrics files"):
        tables.load_metrics([paths[0], paths[0], paths[1]], ["a", "b"])


def test_summary_carries_every_classifiers_columns_in_order(tmp_path):
    """Rows evaluated under three classifiers: each metric's _c0.._c2 columns follow the contract's columns,
    metric by metric (k = 10 after 2, not after 1), and keep their values; a row from one classifier
    has them empty."""
    ks = (0, 1, 2, 10)
    per = {f"{m}_c{k}": 100.0 * i + k for i, m in enumerate(("fid", "fid_recon", "classifier_score"))
           for k in ks}
    paths = write_metrics(tmp_path, [metrics("bernoulli", 1.0, 0, 3.0, classifier_score=1.5, classifiers=4,
                                             zz_extra=1.0, **per),
                                     metrics("bernoulli", 1.0, 1, 4.0)])
    df = tables.summary_frame(tables.load_metrics(paths))
    cols = list(df.columns)
    start = len(tables.KEY_COLUMNS) + len(tables.METRIC_COLUMNS)
    assert cols[:start] == tables.KEY_COLUMNS + tables.METRIC_COLUMNS
    assert cols[start:] == [f"{m}_c{k}" for m in ("fid", "fid_recon", "classifier_score") for k in ks] + ["zz_extra"]
    assert df.loc[0, "fid_recon_c10"] == 110.0 and df.loc[0, "classifier_score"] == 1.5
    assert math.isnan(df.loc[1, "fid_c1"])
