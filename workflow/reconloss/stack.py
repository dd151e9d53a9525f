"""K runs of one architecture and likelihood as one stacked model (torch.func).

A pack's members differ only in seed and beta. Each member is first built as the
ordinary single-run VAE (its own seed, so its own initialisation, and its likelihood's
fitted buffers), then their parameters and buffers are stacked along a new leading
member axis (torch.func.stack_module_state) and the single-run forward pass is vmapped
over that axis (torch.func.vmap over functional_call, the model-ensembling recipe of the
PyTorch docs). vmap turns each Linear into one batched matmul and each convolution into
one grouped convolution, so K small models cost about one kernel launch each instead of
K, and the likelihood code is the single-run code, untouched.

Nothing mixes members: every op is batched along the member axis, the loss handed to
backward is the sum of the members' losses (whose gradient with respect to each member's
loss is exactly 1), and the per-member steps (clipping, masking) live in reconloss.optim.
So a member trains exactly as it would alone, up to the kernels' floating-point order.
"""

import copy

import torch
from torch.func import functional_call, stack_module_state, vmap

from reconloss.vae import build_vae


class StackedVAE:
    """The members' VAEs stacked: `params` and `buffers` map the single VAE's names to (K, ...) tensors."""

    def __init__(self, settings_list, data_shape, device, x_train01):
        vaes = []
        for s in settings_list:
            torch.manual_seed(int(s.get("seed", 0)))  # the member's init, exactly as a single run's
            vaes.append(build_vae(s, data_shape).to(device))
        # Fitted buffers (a per-pixel data sigma) depend on the data alone: fit once, copy to all.
        vaes[0].likelihood.fit_data(x_train01)
        with torch.no_grad():
            for vae in vaes[1:]:
                for mine, fitted in zip(vae.likelihood.buffers(), vaes[0].likelihood.buffers(), strict=True):
                    mine.copy_(fitted)
        self.k, self.data_shape, self.device = len(vaes), tuple(data_shape), device
        self.latent_dim = vaes[0].latent_dim
        self.betas = torch.tensor([float(s.get("beta", 1.0)) for s in settings_list], device=device)
        self.state_keys = list(vaes[0].state_dict())  # persistent entries: what model.pt holds
        params, buffers = stack_module_state(vaes)
        self.params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        self.buffers = buffers
        # A weightless copy to call functionally, and one real module to look at a single member.
        self.template = copy.deepcopy(vaes[0]).to("meta")
        self.single = vaes[0]
        self._loss = vmap(self._member_loss, in_dims=(0, 0, 0, 0, 0))

    def _member_loss(self, params, buffers, x, eps, beta):
        res = functional_call(self.template, (params, buffers), (x,), {"eps": eps})
        return (res["nll"] + beta * res["kl"]).mean(), res["nll"].sum(), res["kl"].sum()

    def loss(self, x, eps):
        """Per-member (loss, summed nll, summed kl), each (K,), of batches x (K, B, C, H, W), noise eps (K, B, L)."""
        return self._loss(self.params, self.buffers, x, eps, self.betas)

    def parameters(self):
        return list(self.params.values())

    def member_state(self, k):
        """Member k's state_dict as the single VAE has it (CPU copies): what model.pt and checkpoints hold."""
        both = {**self.params, **self.buffers}
        return {n: both[n][k].detach().cpu().clone() for n in self.state_keys}

    @torch.no_grad()
    def load_member_state(self, k, state):
        both = {**self.params, **self.buffers}
        for n in self.state_keys:
            both[n][k].copy_(state[n])

    def member_module(self, k):
        """A real single VAE holding member k's current weights (for statistics that read values on the host)."""
        both = {**self.params, **self.buffers}
        self.single.load_state_dict({n: both[n][k] for n in self.state_keys})
        return self.single
