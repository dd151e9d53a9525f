"""Every claim the post makes, in the project's words, with how reconloss treats it.

One entry per statement (a sentence that joins two statements is two entries), under the post's own section
heading. Its treatment is one of three: judged by runs (`claim` names the claim in reconloss.claims that
decides it), checked analytically (`check` names a computation in reconloss.claims.analytic_checks with its
tolerance, or `claim` an analytic claim), or not testable here (`missing` names what the project lacks).
Statements about another paper keep only what this project can test (the CB paper's comparisons become
comparisons between our runs). Every entry gets a row in claims.md (reconloss.claims.claims_frame).
"""

from dataclasses import dataclass

RUNS, ANALYTIC, UNTESTABLE = "judged by runs", "checked analytically", "not testable here"
TREATMENTS = (RUNS, ANALYTIC, UNTESTABLE)

SECTIONS = ("The Independence Assumption", "Gaussian, Fixed Variance", "Bernoulli", "Continuous Bernoulli",
            "Sharpness", "Instability and Color Range", "Comparing FIDs", "Revisiting the Gaussian likelihood",
            "Conclusion")


@dataclass(frozen=True)
class Entry:
    """One statement of the post: id, the post's section, what it says (paraphrased), and its treatment."""

    id: str
    section: str
    says: str
    treatment: str
    claim: str = ""
    check: str = ""
    missing: str = ""

    def __post_init__(self):
        assert self.section in SECTIONS, self.section
        assert self.treatment in TREATMENTS, self.treatment
        assert (self.treatment == RUNS) <= bool(self.claim), f"{self.id}: judged by runs names its claim"
        assert (self.treatment == ANALYTIC) <= bool(self.check or self.claim), f"{self.id}: names its check"
        assert (self.treatment == UNTESTABLE) <= bool(self.missing), f"{self.id}: names what is missing"


def _r(id, section, says, claim=None):
    return Entry(id, section, says, RUNS, claim=claim or id)


def _a(id, section, says, check=None, claim=""):
    return Entry(id, section, says, ANALYTIC, check=check or ("" if claim else id), claim=claim)


def _n(id, section, says, missing):
    return Entry(id, section, says, UNTESTABLE, missing=missing)


IND, GFV, BER, CB, SHP, INS, FID, GAU, CON = SECTIONS
INVENTORY = (
    _a("independence_sums_logs", IND, "If pixels are independent given z, an image's log-likelihood is the sum of "
       "one log-likelihood per pixel.", "log_likelihood_sums"),
    _n("pixels_depend_given_z", IND, "Pixels of real images depend on each other, so independence given z is "
       "probably a flawed, if convenient, assumption.",
       "an estimate of how pixels depend on each other given the latent code (no model or metric here measures it)"),
    _r("gaussian_mass_outside", GFV, "A Gaussian gives probability to values outside [0, 1], where no pixel lies."),
    _a("gaussian_black_pixel_negative", GFV, "A Gaussian centred on a black pixel (0) sends half its probability "
       "below zero, however small its σ.", "half_below_zero"),
    _a("fixed_gaussian_is_mse", GFV, "With σ fixed, maximising the Gaussian likelihood is minimising the squared "
       "error.", "fixed_is_mse"),
    _n("bce_in_tutorials", BER, "Much published VAE example code uses the binary cross-entropy as its "
       "reconstruction loss.", "a survey of published VAE example code"),
    _a("bce_minimum_at_x", BER, "For a pixel value x anywhere in [0, 1], the cross-entropy is lowest exactly at "
       "θ = x.", "bce_minimum"),
    _a("bernoulli_not_a_density", BER, "Applied to values in [0, 1], the Bernoulli formula does not integrate to "
       "one, so it is no density there.", claim="bernoulli_not_a_density"),
    _a("cb_integrates_to_one", CB, "Dividing the Bernoulli formula by its integral over [0, 1] gives a proper "
       "density, the continuous Bernoulli.", "cb_normalised"),
    _r("cb_better_than_bernoulli", CB, "CB gives better models than the Bernoulli loss (as the CB paper reports).",
       "cb_best_fid_slightly_better"),
    _r("cb_better_than_beta_truncated", CB, "CB gives better models than Beta or truncated-Gaussian likelihoods (as "
       "the CB paper reports).", "cb_beats_beta_and_truncated"),
    _a("cb_log_norm_grows_at_edges", CB, "CB's log-normaliser rises as λ moves towards 0 or 1.", "log_norm_grows"),
    _a("cb_pushes_parameters_out", CB, "The normaliser pulls the fitted λ further towards 0 or 1 than the "
       "Bernoulli loss would.", "pushes_extreme"),
    _a("cb_mean_is_not_parameter", CB, "For Bernoulli and Gaussian the mean is a parameter; for CB the mean "
       "differs from λ.", "mean_not_parameter"),
    _a("cb_mean_less_extreme", CB, "CB's mean always lies closer to ½ than its λ.", "mean_less_extreme"),
    _a("cb_needs_extreme_parameter", CB, "To model a given pixel value CB needs a λ nearer the ends than Bernoulli's "
       "θ would be.", "needs_extreme"),
    _r("cb_mean_not_sharper", SHP, "Shown as expected values, CB's reconstructions lose the sharpness its "
       "parameters seemed to have."),
    _r("cb_grey_background", SHP, "CB's expected-value reconstructions of MNIST have a grey background where the "
       "data's is uniform.", "cb_param_vs_mean"),
    _r("colour_lambda_oversaturated", SHP, "On CIFAR-10, CB's parameter images are strongly oversaturated."),
    _n("cb_paper_cifar_unshown", SHP, "The CB paper reports CIFAR-10 numbers without showing reconstructions that "
       "would reveal the problem.", "the CB paper's own CIFAR-10 reconstructions (unpublished)"),
    _r("cb_over_sharpening", SHP, "Even on MNIST, CB's parameter images look sharper than the originals."),
    _a("cb_mean_map_steep", INS, "Near 0 and 1, the map from λ to CB's mean is very steep.", "mean_steep"),
    _a("cb_mean_at_09999", INS, "At λ 0.9999 CB's mean is only about 0.89.", "mean_09999"),
    _a("cb_mean_at_0999999", INS, "At λ 0.9999999 CB's mean is still about 0.94.", "mean_0999999"),
    _a("cb_float32_rounds_to_one", INS, "Closer to 1, float32 cannot hold λ and the mean comes out as exactly 1.",
       "float32_one"),
    _r("cb_float32_diverges", INS, "Models whose λ may pass that point tend to reach an infinite loss, the "
       "log-normaliser overflowing in float32."),
    _r("cb_no_black_or_white", INS, "In practice CB cannot produce true black or white pixels.", "cb_mean_bounds"),
    _a("cb_mean_negative_near_zero", INS, "Near λ 0 the float32 mean either stays far from 0 or turns slightly "
       "negative.", "naive_negative"),
    _r("bernoulli_reaches_white", INS, "Bernoulli or Gaussian models do not share CB's limit on the range of "
       "levels.", "cb_mean_bounds"),
    _r("colour_black_white_elements", INS, "On a CIFAR-10 image with black and white parts, CB's parameter image "
       "is blown out and its mean image too dark."),
    _r("fid_similar_at_own_beta", FID, "On MNIST, Bernoulli and CB reach much the same FID once β is accounted "
       "for.", "best_fid_similar"),
    _r("cb_robust_to_beta", FID, "CB's FID holds up over a wider range of β than Bernoulli's."),
    _r("cb_best_fid_slightly_better", FID, "CB's best FID is a little lower than Bernoulli's, possibly by chance."),
    _r("cb_needs_larger_beta", FID, "CB needs a larger β than Bernoulli for its best FID."),
    _a("cb_larger_gradients", FID, "CB's extra term strengthens the reconstruction gradients.", "larger_gradients"),
    _r("cb_kl_counts_less", FID, "Hence at one β the KL weighs less for CB than for Bernoulli.",
       "cb_kl_larger_at_same_beta"),
    _r("cb_desaturation_remains", FID, "The two losses are not equivalent, since CB's images stay desaturated.",
       "cb_mean_bounds"),
    _r("fid_blind_to_desaturation", FID, "FID does not register CB's desaturation."),
    _r("score_blind_to_desaturation", FID, "An Inception-Score-like measure does not register it either."),
    _r("bernoulli_as_good_as_cb", FID, "The invalid Bernoulli loss trains models as good as the principled CB.",
       "best_fid_similar"),
    _a("beta_parameters_not_an_image", FID, "A Beta has two parameters per pixel, and many pairs share one mean, so "
       "there is no single parameter image to show.", "beta_same_mean"),
    _a("beta_variance_shrinks", FID, "At a fixed mean, larger Beta parameters give a smaller variance: the model "
       "can state its certainty.", "beta_variance"),
    _r("beta_needs_tricks", FID, "On always-background pixels a Beta becomes unstable and needs tricks not to "
       "diverge."),
    _r("edge_pixels_lower_sigma", GAU, "Pixels that are always black are easy to predict and deserve a lower σ.",
       "sigma_lower_on_black_pixels"),
    _r("some_images_easier", GAU, "Some images are easier to predict than others, so σ could differ per image."),
    _r("fixed_sigma_is_beta", GAU, "Dropping a fixed σ from the loss silently fixes the balance with the KL, like "
       "β in a β-VAE."),
    _a("dropped_sigma_is_07", GAU, "Dropping the factor 2σ² amounts to σ² = 0.5, σ about 0.7.", "dropped_sigma"),
    _r("sigma_07_too_large", GAU, "A σ of about 0.7 is far too large for pixels in [0, 1]."),
    _r("range255_sigma_tiny", GAU, "On pixels in [0, 255] the same σ of 0.7 is tiny."),
    _a("smaller_sigma_weighs_reconstruction", GAU, "A smaller σ makes the reconstruction term weigh more against "
       "the KL.", "smaller_sigma"),
    _r("learned_sigma_balances", GAU, "A learned σ settles where its two opposing terms balance, set by the "
       "squared error.", "learned_sigma_tracks_error"),
    _r("data_sigma_trains", GAU, "σ can be computed from the data, one per pixel."),
    _r("predicted_sigma_trains", GAU, "σ can be an output of the decoder, trained by backpropagation like μ."),
    _a("optimal_pixel_sigma_formula", GAU, "Per pixel, the best σ² is the squared residual, leaving the loss "
       "log|x − μ| plus a constant.", "optimal_pixel"),
    _a("log_loss_unbounded", GAU, "That loss has no minimum: it falls without bound as the residual goes to 0.",
       "log_unbounded"),
    _a("log_loss_gradient_grows", GAU, "Its gradient grows as the residual shrinks, the reverse of the squared "
       "error's.", "gradient_grows"),
    _r("optimal_pixel_unstable", GAU, "Training with the per-pixel optimal σ is unstable on MNIST, even with a "
       "floor on σ."),
    _a("optimal_image_sigma_formula", GAU, "With one σ per image, the best σ² is the image's MSE and the loss "
       "becomes (d/2)·log of the summed squared error.", "optimal_image"),
    _a("optimal_image_stabler_by_construction", GAU, "The per-image loss needs the whole image to be exact before "
       "it runs away, unlike the per-pixel one.", "one_exact_pixel"),
    _r("optimal_image_stable", GAU, "Training with the per-image optimal σ is stable."),
    _r("optimal_image_good", GAU, "The per-image optimal σ gave good models in a small FashionMNIST test."),
    _r("optimal_image_needs_beta", GAU, "The per-image optimal σ still needed β tuned."),
    _r("no_single_best_likelihood", CON, "No reconstruction loss is clearly the best."),
    _r("incorrect_losses_acceptable", CON, "Losses that are formally wrong, the cross-entropy and the squared "
       "error, can still give acceptable results."),
)
assert len({e.id for e in INVENTORY}) == len(INVENTORY)


def by_treatment():
    """{treatment: [entry, ...]} in inventory order."""
    return {t: [e for e in INVENTORY if e.treatment == t] for t in TREATMENTS}
