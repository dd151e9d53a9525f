"""What each figure shows, in one line, and which of them are the post's figures.

One home for the sentences a reader meets beside a figure: docs/study/README.md
(reconloss.report.publish) lists them and the report's captions
(workflow/report/*.rst) open with the same line, which a test checks, so the
index and the report cannot tell two stories. Light: no matplotlib.
"""

#: Per-dataset figure stem (reconloss.report.figures.FIGURES) -> what it shows.
SHOWS = {
    "cb_image": "Test images as data | λ | E[x] of the continuous Bernoulli, large, with the mean level of each "
                "where the data are black: the background the model predicts.",
    "fid_bernoulli_vs_cb": "Sample and reconstruction FID of the Bernoulli and the continuous Bernoulli "
                           "against β, alone in one figure.",
    "fid_vs_beta": "Sample FID against β of every label, one panel per family, each against the best FID "
                   "of the whole grid.",
    "reconstructions": "Test images and each label's reconstruction (expected value, and the parameter image "
                       "where it differs), one section per family.",
    "dynamic_range": "Black and white levels of the reconstructions against β, one panel per family: how much "
                     "of [0, 1] each label reaches.",
    "divergence": "How each run ended (ok, collapsed, diverged, with the epoch) per label, β and seed, one "
                  "panel per family.",
    "sigma": "σ of the Gaussians that learn, predict or compute it: over training, and at the end against β "
             "beside √MSE.",
    "settling": "How much each label's training loss still moved from epoch to epoch (worst run), against the "
                "limit below which the claims call a level settled.",
    "samples": "Prior samples of each label at its best β, one section per family.",
    "colour_image": "RGB test images as data | λ | E[x] of the continuous Bernoulli beside Bernoulli's and the "
                    "fixed-σ Gaussian's E[x], the first one with large black and white regions.",
}

#: Analytic figure stem (reconloss.analytic.figures.FIGURES) -> what it shows.
ANALYTIC_SHOWS = {
    "bernoulli_cross_entropy": "The Bernoulli cross-entropy per pixel value: its minimum is the entropy of x, "
                               "not 0.",
    "cb_log_normalizer": "The continuous Bernoulli's log-normaliser log C(λ), on a linear and a logit axis.",
    "cb_log_prob": "CB's log-normaliser and log-probability against the Bernoulli's, for a black, a grey and "
                   "a near-white pixel.",
    "cb_target": "CB's NLL per pixel value against λ: its minimum is where E[x | λ] = x, not at λ = x.",
    "cb_mean": "CB's expected value E[x | λ] against λ: pulled towards 0.5, never the pixel value at the edges.",
    "cb_float32_error": "Where float32 breaks the CB formulas near λ = 0 and 1, and the logit form that does not.",
    "log_abs_residual": "The loss log|x − μ| of a per-pixel optimal σ: no lower bound, and its gradient grows "
                        "as the fit improves.",
    "sigma_beta": "A fixed-σ Gaussian is an MSE-loss β-VAE with β = 2σ² (on [0, 1]) or 2(255σ)² (on [0, 255]).",
}

#: The post's figures, one to one, in the post's order: (what the post's section says, kind, stem).
#: kind: "dataset" (stem_{dataset}.png per dataset), "analytic" (analytic/{stem}.png) or
#: "table" (analytic/{stem}.md).
POST_FIGURES = (
    ("The continuous Bernoulli adds a log-normaliser to the Bernoulli's log-probability",
     "analytic", "cb_log_prob"),
    ("λ is not the expected value: E[x | λ] is pulled towards 0.5", "analytic", "cb_mean"),
    ("An MNIST image as data | λ | E[x]: the mean has a grey background", "dataset", "cb_image"),
    ("Colour images as data | λ | E[x]: λ oversaturated, E[x] right; with black and white elements λ overblown, "
     "E[x] too dark", "dataset", "colour_image"),
    ("Bernoulli against continuous Bernoulli: FID over β", "dataset", "fid_bernoulli_vs_cb"),
    ("The per-pixel optimal σ leaves the loss Σ log|x − μ|, unbounded below", "analytic", "log_abs_residual"),
    ("σ ↔ β: a fixed-σ Gaussian is a β-VAE with β = 2σ²", "table", "sigma_beta"),
)
