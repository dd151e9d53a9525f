"""The analytic outputs against independent references: mpmath for the CB values, numpy
for the naive float32 formula, numerical minimisation for σ ↔ β, file magic for figures."""

import math
import struct
from pathlib import Path

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
import scipy.optimize

from reconloss import analytic
from reconloss.analytic import numbers as analytic_numbers

REPO = Path(__file__).resolve().parents[1]


def mp_cb_mean(lam):
    lam = mp.mpf(lam)
    return lam / (2 * lam - 1) + 1 / (2 * mp.atanh(1 - 2 * lam))


def mp_cb_log_normalizer(lam):
    lam = mp.mpf(lam)
    return mp.log(2 * mp.atanh(1 - 2 * lam) / (1 - 2 * lam))


@pytest.fixture(scope="module")
def edges():
    return analytic_numbers.cb_edges_table()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The CLI run once: (figures_dir, tables_dir)."""
    root = tmp_path_factory.mktemp("analytic")
    figures, tables = root / "figures" / "analytic", root / "tables"
    analytic.main(["--figures-dir", str(figures), "--tables-dir", str(tables)])
    return figures, tables


def row(df, lam):
    match = df[df["lam"] == lam]
    assert len(match) == 1, lam
    return match.iloc[0]


# ----------------------------------------------------------------------------- CB edge table


def test_edge_lambdas_are_the_study_values_and_their_exact_mirrors(edges):
    expected = [1e-08, 1e-07, 0.0001, 0.001, 0.01, 0.1, 0.9, 0.99, 0.999, 0.9999, 0.9999999, 0.99999999]
    assert edges["lam"].tolist() == expected
    assert analytic_numbers.mirror(0.9) == 0.1 and analytic_numbers.mirror(0.9999999) == 1e-07
    assert analytic_numbers.mirror(0.99999999) == 1e-08


def test_float64_columns_match_mpmath(edges):
    mp.mp.dps = 50
    for _, r in edges.iterrows():
        for lam, suffix in ((r["lam"], "f64"), (r["lam_f32"], "f64_at_f32")):
            # mpmath at the exact binary value the float64 column was computed from
            assert r[f"mean_{suffix}"] == pytest.approx(float(mp_cb_mean(lam)), rel=1e-12, abs=0)
            assert r[f"log_norm_{suffix}"] == pytest.approx(float(mp_cb_log_normalizer(lam)), rel=1e-12, abs=0)
        assert r["lam_f32"] == float(np.float32(r["lam"]))


def test_float32_columns_are_float32_accurate_at_the_stored_lambda(edges):
    """The package's float32 functions: error at float32 rounding level for the λ they are given."""
    mp.mp.dps = 50
    for _, r in edges.iterrows():
        assert r["mean_f32"] == pytest.approx(float(mp_cb_mean(r["lam_f32"])), rel=1e-6)
        assert r["log_norm_f32"] == pytest.approx(float(mp_cb_log_normalizer(r["lam_f32"])), rel=1e-6)
        # the logit path never stores λ, so it is accurate to the nominal λ itself
        assert r["mean_f32_logit"] == pytest.approx(float(mp_cb_mean(r["lam"])), rel=1e-6)
        assert r["log_norm_f32_logit"] == pytest.approx(float(mp_cb_log_normalizer(r["lam"])), rel=1e-6)


def test_naive_column_matches_an_independent_numpy_float32_evaluation(edges):
    for _, r in edges.iterrows():
        lam = np.float32(r["lam"])
        one, two = np.float32(1), np.float32(2)
        with np.errstate(all="ignore"):
            mean = lam / (two * lam - one) + one / (two * np.arctanh(one - two * lam))
            log_norm = np.log(two * np.arctanh(one - two * lam) / (one - two * lam))
        assert mean.dtype == np.float32 and log_norm.dtype == np.float32
        assert r["mean_f32_naive"] == pytest.approx(float(mean), rel=3e-7)
        assert r["log_norm_f32_naive"] == pytest.approx(float(log_norm), rel=3e-7)


def test_the_study_numbers_and_where_float32_breaks_down(edges):
    at_9999 = row(edges, 0.9999)
    at_9999999 = row(edges, 0.9999999)
    # the study's float32 numbers, from both the package and the naive formula
    for col in ("mean_f32", "mean_f32_naive"):
        assert round(at_9999[col], 4) == 0.8915
        assert round(at_9999999[col], 4) == 0.9373
    # ... but the mean at λ = 0.9999999 is 0.9380: float32 holds λ as 0.99999988
    assert round(at_9999999["mean_f64"], 4) == 0.9380
    assert at_9999999["lam_f32"] == 1 - 2.0**-23
    assert at_9999999["err_mean_rounding"] == pytest.approx(-6.84e-4, rel=1e-2)
    assert at_9999999["err_mean_f32"] == pytest.approx(at_9999999["err_mean_rounding"], rel=1e-3)
    assert abs(at_9999999["err_log_norm_rounding"]) > 1e-2
    # near 0 λ is held well: the package stays accurate, the naive formula cancels
    at_1e7 = row(edges, 1e-07)
    assert abs(at_1e7["err_mean_rounding"]) < 1e-9
    assert abs(at_1e7["err_mean_f32"]) < 1e-7
    assert abs(at_1e7["err_mean_f32_naive"]) > 1e-4
    assert abs(at_1e7["err_log_norm_f32_naive"]) > 1e-3
    # the logit path (what the CB likelihood computes) is accurate on both sides
    assert edges["err_mean_f32_logit"].abs().max() < 1e-6
    assert edges["err_log_norm_f32_logit"].abs().max() < 1e-6


def test_float64_mirror_symmetry(edges):
    # not exact: float64 holds 0.9999999 only to 1e-16, i.e. 1 − λ to 1e-9 relative,
    # and the mean there moves 4e4 per unit of λ
    for lam in analytic_numbers.EDGE_LAMBDAS:
        r, m = row(edges, lam), row(edges, analytic_numbers.mirror(lam))
        assert r["mean_f64"] + m["mean_f64"] == pytest.approx(1.0, abs=1e-10)
        assert r["log_norm_f64"] == pytest.approx(m["log_norm_f64"], rel=1e-10)


# ----------------------------------------------------------------------------- σ ↔ β


def test_gaussian_nll_is_squared_error_over_two_sigma_squared_plus_a_constant():
    """Independent reference: scipy's Gaussian log-density, μ varied at fixed σ."""
    import scipy.stats

    rng = np.random.default_rng(0)
    x = rng.random(50)
    for sigma in analytic_numbers.SIGMAS:
        consts = []
        for _ in range(5):
            mu = rng.random(50)
            nll = -scipy.stats.norm.logpdf(x, loc=mu, scale=sigma).sum()
            consts.append(nll - ((x - mu) ** 2).sum() / (2 * sigma**2))
        assert np.ptp(consts) < 1e-8 * max(1.0, abs(consts[0]))
        # so 2σ²·(NLL + KL) = SSE + 2σ²·KL + const: β = 2σ²
        table = analytic_numbers.sigma_beta_table().set_index("sigma")
        assert table.loc[sigma, "beta_01"] == pytest.approx(2 * sigma**2)
        assert table.loc[sigma, "beta_255"] == pytest.approx(2 * (255 * sigma) ** 2)
        assert table.loc[sigma, "sigma_255"] == pytest.approx(255 * sigma)


def _toy_vae_optimum(x, recon_cost, beta_kl):
    """Minimise a linear-decoder toy VAE: per-point q(z|x_i) = N(m_i, s_i²), μ = a z + b.

    Objective Σ_i E_q[recon_cost(x_i, a z + b)] + beta_kl · KL_i with the expectation in
    closed form (recon_cost is quadratic). Returns the invariant quantities (decoded means
    a m_i + b, decoded spreads |a| s_i, KL_i), which do not depend on the sign symmetry.
    """
    n = len(x)

    def unpack(theta):
        return theta[0], theta[1], theta[2 : 2 + n], theta[2 + n :]

    def objective(theta):
        a, b, m, log_s = unpack(theta)
        s2 = np.exp(2 * log_s)
        recon = recon_cost(x, a * m + b, a**2 * s2)
        kl = 0.5 * (m**2 + s2 - 1 - 2 * log_s)
        return np.sum(recon + beta_kl * kl)

    theta0 = np.concatenate([[0.5, 0.1], np.linspace(-1, 1, n), np.full(n, -0.5)])
    res = scipy.optimize.minimize(objective, theta0, method="BFGS", options={"gtol": 1e-10, "maxiter": 20000})
    a, b, m, log_s = unpack(res.x)
    kl = 0.5 * (m**2 + np.exp(2 * log_s) - 1 - 2 * log_s)
    return a * m + b, abs(a) * np.exp(log_s), kl


@pytest.mark.parametrize("sigma", [0.1, 0.2])  # below the data spread: z is used
def test_mse_beta_vae_with_beta_two_sigma_squared_has_the_gaussian_optimum(sigma):
    x = np.array([0.05, 0.2, 0.35, 0.6, 0.8, 0.95])

    def gauss(x, mean, var_mean):  # E_q[-log N(x; μ, σ²)], with every constant
        return ((x - mean) ** 2 + var_mean) / (2 * sigma**2) + math.log(sigma) + 0.5 * math.log(2 * math.pi)

    def sse(x, mean, var_mean):  # E_q[(x − μ)²]
        return (x - mean) ** 2 + var_mean

    scale = 255.0

    def sse_255(x, mean, var_mean):  # the same in [0, 255] units, decoder output also in [0, 255]
        return (scale * x - scale * mean) ** 2 + scale**2 * var_mean

    reference = _toy_vae_optimum(x, gauss, 1.0)
    assert np.ptp(reference[0]) > 0.1  # a non-trivial optimum (the decoder uses z)
    beta = float(analytic_numbers.sigma_beta_table().set_index("sigma").loc[sigma, "beta_01"])
    beta_255 = float(analytic_numbers.sigma_beta_table().set_index("sigma").loc[sigma, "beta_255"])
    for got in (_toy_vae_optimum(x, sse, beta), _toy_vae_optimum(x, sse_255, beta_255)):
        for ref_q, got_q in zip(reference, got):
            np.testing.assert_allclose(got_q, ref_q, atol=1e-5)
    # a wrong β gives a visibly different optimum, so the check has teeth
    wrong = _toy_vae_optimum(x, sse, sigma**2)
    assert np.max(np.abs(wrong[2] - reference[2])) > 1e-2


# ----------------------------------------------------------------------------- files


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_cli_writes_exactly_the_declared_files(written):
    figures, tables = written
    assert sorted(str(p) for p in figures.iterdir()) == sorted(analytic.figure_paths(figures))
    assert sorted(str(p) for p in tables.iterdir()) == sorted(analytic.table_paths(tables))


def test_figures_are_real_pngs_and_pdfs(written):
    figures, _ = written
    for name in analytic.FIGURES:
        png = (figures / f"{name}.png").read_bytes()
        assert png[:8] == PNG_MAGIC and png[12:16] == b"IHDR"
        width, height = struct.unpack(">II", png[16:24])
        assert width >= 600 and height >= 400, (name, width, height)
        assert png.endswith(b"IEND\xaeB`\x82")
        pdf = (figures / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]
        assert len(pdf) > 5000


def test_tables_on_disk(written, edges):
    _, tables = written
    on_disk = pd.read_csv(tables / "cb_edges.csv")
    pd.testing.assert_frame_equal(on_disk, edges, check_exact=False, rtol=1e-15)
    md = (tables / "cb_edges.md").read_text()
    assert "0.89152324" in md and "0.93727422" in md and "0.93795803" in md
    assert md.count("| 0.9999999 ") == 2  # one row in each of the two sub-tables
    assert md.count("| 0.99999999 ") == 2 and md.count("| 1e-08 ") == 2
    assert r"\begin{tabular}" in (tables / "cb_edges.tex").read_text()
    html = (tables / "cb_edges.html").read_text()
    assert html.count("<table") == 2 and "0.93727422" in html
    sigma_beta = pd.read_csv(tables / "sigma_beta.csv")
    assert len(sigma_beta) == len(analytic_numbers.SIGMAS)
    unit = sigma_beta[np.isclose(sigma_beta["sigma"], math.sqrt(0.5))]
    assert unit["beta_01"].item() == pytest.approx(1.0)
    assert "sigma_255" in (tables / "sigma_beta.md").read_text()


def test_every_report_item_has_a_caption():
    report = REPO / "workflow" / "report"
    for name in analytic.FIGURES:
        assert (report / f"analytic_{name}.rst").is_file(), name
    for name in analytic.TABLES:
        assert (report / f"analytic_table_{name}.rst").is_file(), name


def test_the_new_edge_rows_where_float32_breaks(edges):
    """lambda = 1 - 1e-8 is 1.0 in float32: the log-normalizer is infinite there, except on the
    logit path; lambda = 1e-8: 1 - 2 lambda is 1 in float32, the naive mean is -1e-8 < 0."""
    top, bottom = row(edges, 0.99999999), row(edges, 1e-08)
    assert top["lam_f32"] == 1.0
    assert top["log_norm_f32_naive"] == math.inf and top["log_norm_f32"] == math.inf
    assert math.isfinite(top["log_norm_f32_logit"])
    assert bottom["mean_f32_naive"] == pytest.approx(-1e-8, rel=1e-6)
    assert bottom["err_mean_f32_naive"] < 0  # signed, as the figure draws it
    mp.mp.dps = 50
    assert bottom["mean_f64"] == pytest.approx(float(mp_cb_mean(1e-8)), rel=1e-12)
