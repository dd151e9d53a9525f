"""Feature statistics and the Fréchet distance between two feature sets.

Statistics are float64 whatever the features were: the covariance of a few
thousand 128-dim features loses digits in float32, and the matrix square
root inside the distance amplifies them. The distance itself is
pytorch-fid's `calculate_frechet_distance`, the reference implementation,
so numbers are comparable with the literature's code path.

FID is biased upward by a term of order F/n for n samples of F features, so
`check_sample_size` logs a warning when n is below several times F.

Optional Inception FID (CIFAR-10): pytorch-fid's `InceptionV3` always
downloads its weights; `load_inception` builds the same network and loads
them from a local file instead (`pt_inception-2015-12-05-6726825d.pth`).
Nothing here downloads.
"""

import logging
import warnings

import numpy as np

log = logging.getLogger(__name__)

MIN_SAMPLES_PER_DIM = 5


def _numpy64(features):
    if hasattr(features, "detach"):
        features = features.detach().cpu().double().numpy()
    return np.asarray(features, dtype=np.float64)


def feature_stats(features):
    """(mu (F,), sigma (F,F)) in float64 of features (N,F), tensor or array; N >= 2."""
    f = _numpy64(features)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need (N>=2, F) features, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def check_sample_size(n, feature_dim, what="FID", factor=MIN_SAMPLES_PER_DIM) -> bool:
    """False (and a logged warning) when n < factor * feature_dim: the FID's bias then dominates."""
    if n < factor * feature_dim:
        log.warning("%s from %d samples of %d-dim features (< %d x %d): the estimate is strongly biased upward",
                    what, n, feature_dim, factor, feature_dim)
        return False
    return True


def _frechet_eig(mu1, sigma1, mu2, sigma2):
    """Tr sqrt(S1 S2) from the eigenvalues of sqrt(S1) S2 sqrt(S1) (symmetric PSD): the fallback path."""
    w, v = np.linalg.eigh(sigma1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = r1 @ sigma2 @ r1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6) -> float:
    """||mu1-mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2) in float64: pytorch-fid's algorithm, on any SciPy.

    The steps are those of pytorch-fid's `calculate_frechet_distance` (the
    reference, tested equal where it runs): scipy.linalg.sqrtm of S1 S2, an
    eps * I offset when that is not finite, and the real part when the
    imaginary part is numerical noise. Unlike pytorch-fid it never passes
    sqrtm's `disp`, which SciPy 1.16 deprecates and 1.18 removes. Where the
    imaginary part is not small (a near-singular product), the symmetric
    eigenvalue form, exact for PSD matrices, answers instead of an error.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(_numpy64(mu1)), np.atleast_1d(_numpy64(mu2))
    sigma1, sigma2 = np.atleast_2d(_numpy64(sigma1)), np.atleast_2d(_numpy64(sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics of different dimensions: {mu1.shape} {sigma1.shape}, {mu2.shape} {sigma2.shape}")
    diff = mu1 - mu2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # sqrtm's "matrix is singular" note: handled below
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            log.info("sqrtm of a near-singular covariance product (imaginary part %.3g): eigenvalue form",
                     np.max(np.abs(covmean.imag)))
            return _frechet_eig(mu1, sigma1, mu2, sigma2)
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(f1, f2) -> float:
    return frechet_distance(*feature_stats(f1), *feature_stats(f2))


# --- optional Inception FID -------------------------------------------------

INCEPTION_DIM = 2048


def fid_inception_network():
    """pytorch-fid's FID Inception (torchvision Inception3 with the TF blocks patched), random weights."""
    from pytorch_fid import inception as pi

    net = pi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pi.FIDInceptionE_1(1280)
    net.Mixed_7c = pi.FIDInceptionE_2(2048)
    return net


def load_inception(weights_path, device="cpu", dims=INCEPTION_DIM):
    """pytorch-fid's InceptionV3 with weights read from a local file; features of `dims`
    (2048: pool3, the standard FID; 64/192/768: earlier blocks, as pytorch-fid's --dims).

    `InceptionV3(use_fid_inception=True)` calls `fid_inception_v3()`, which
    fetches the weights by URL; we swap that one call for a builder that
    loads `weights_path` strictly into the same architecture, so the
    network's preprocessing (resize to 299, scaling to [-1, 1]) is pytorch-fid's own.
    """
    import torch
    from pytorch_fid import inception as pi

    state = torch.load(weights_path, map_location="cpu", weights_only=True)

    def local_fid_inception_v3():
        net = fid_inception_network()
        net.load_state_dict(state)
        return net

    original = pi.fid_inception_v3
    pi.fid_inception_v3 = local_fid_inception_v3
    try:
        model = pi.InceptionV3([pi.InceptionV3.BLOCK_INDEX_BY_DIM[int(dims)]], use_fid_inception=True)
    finally:
        pi.fid_inception_v3 = original
    return model.to(device).eval()


def inception_features(model, x01, batch_size=200):
    """(N, dims) features of images in [0,1] (spatially averaged if the block is not pool3);
    grey images are repeated to 3 channels."""
    import torch

    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(x01), batch_size):
            x = x01[i:i + batch_size].to(device).float()
            if x.shape[1] == 1:
                x = x.repeat(1, 3, 1, 1)
            f = model(x)[0]
            out.append(f.mean(dim=(2, 3)) if f.shape[-1] > 1 else f.flatten(1))
    return torch.cat(out) if out else torch.zeros(0, 0)
