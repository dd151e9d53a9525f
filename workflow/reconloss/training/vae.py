"""The beta-VAE: Gaussian encoder, any likelihood p(x|z), ELBO as docs/architecture.md (Conventions) states it.

The loss is the batch mean of NLL + beta*KL with the NLL summed over all data
dimensions (constants kept, they are what beta is balanced against) and the
KL to N(0, I) taken analytically and summed over latent dimensions.
"""

import torch
from torch import nn

from reconloss.training.models import build_networks


class VAE(nn.Module):
    def __init__(self, encoder, decoder, likelihood, latent_dim: int, beta: float = 1.0):
        super().__init__()
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood
        self.latent_dim, self.beta = int(latent_dim), float(beta)

    def encode(self, x):
        """(mu, logvar) of q(z|x) for pixels x in [0, 1]."""
        return self.encoder(x)

    def decode(self, z):
        """Raw decoder output, (B, lik.decoder_channels, H, W); the likelihood interprets it."""
        return self.decoder(z)

    @staticmethod
    def kl(mu, logvar):
        """KL(N(mu, exp(logvar)) || N(0, I)) summed over latent dimensions, (B,)."""
        return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=1)

    @staticmethod
    def reparameterize(mu, logvar, generator=None, eps=None):
        """z = mu + sigma*eps; `generator` (on mu's device) makes the noise a function of the run's seed.
        `eps` passes the standard normal noise in instead (a pack draws each member's noise itself)."""
        if eps is None:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * (0.5 * logvar).exp()

    def forward(self, x, generator=None, eps=None):
        mu, logvar = self.encode(x)
        out = self.decode(self.reparameterize(mu, logvar, generator, eps))
        nll = self.likelihood.nll(x, out)
        kl = self.kl(mu, logvar)
        loss = (nll + self.beta * kl).mean()
        return {"loss": loss, "nll": nll, "kl": kl, "out": out, "mu": mu, "logvar": logvar}


def build_vae(settings: dict, data_shape, likelihood=None) -> VAE:
    """The run's VAE, untrained; `likelihood` overrides the one named in settings (tests)."""
    data_shape = tuple(int(s) for s in data_shape)
    if likelihood is None:
        from reconloss.likelihoods import make_likelihood

        likelihood = make_likelihood(settings["likelihood_name"], data_shape=data_shape,
                                     **(settings.get("likelihood_options") or {}))
    latent_dim = int(settings["train"]["latent_dim"])
    encoder, decoder = build_networks(settings.get("model") or {}, data_shape, latent_dim,
                                      likelihood.decoder_channels)
    return VAE(encoder, decoder, likelihood, latent_dim, settings.get("beta", 1.0))
