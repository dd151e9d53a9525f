"""K runs of one architecture and likelihood as one stacked model.

A pack's members differ only in seed and beta. Each member is first built as the
ordinary single-run VAE (its own seed, so its own initialisation, and its likelihood's
fitted buffers), then their parameters and buffers are stacked along a new leading
member axis (torch.func.stack_module_state). The stacked forward pass runs the single
VAE's own layers with those stacked weights: each Linear becomes one batched matmul
(baddbmm, with a backward that forms the weight's gradient in its own layout) and, on a GPU, each (transposed) convolution one grouped convolution with K
groups, so K small models cost one kernel launch per layer instead of K. The likelihood, whose code
is elementwise but written for one model, is vmapped over the member axis
(torch.func.vmap over functional_call) and stays the single-run code, untouched.

Why not vmap the whole VAE, which gives the same kernels: on a CPU, vmap's per-op
dispatch made a training step of three digits MLPs 11-18% slower than these explicit
batched layers (measured with one thread; on a GPU a CUDA graph removes the difference).

Nothing mixes members: every op is batched along the member axis, the loss handed to
backward is the sum of the members' losses (whose gradient with respect to each member's
loss is exactly 1), and the per-member steps (clipping, masking) live in reconloss.training.optim.
So a member trains exactly as it would alone, up to the kernels' floating-point order.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from reconloss.training.vae import build_vae


class _StackedLinear(torch.autograd.Function):
    """h @ weight^T + bias for stacked (K, out, in) weights, one batched matmul (baddbmm).

    Autograd's own backward of that baddbmm yields the weight's gradient as the transpose of a
    (K, in, out) product, which a fresh .grad must copy into the weight's (K, out, in) layout: a
    strided transposing pass over every weight, each step (measured: 15-20% of a CPU step of the
    MNIST MLP). Here the same products are formed as grad^T @ h, in the weight's own layout.
    The same numbers up to the matrix product's summation order (float rounding)."""

    @staticmethod
    def forward(h, weight, bias):
        return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))

    @staticmethod
    def setup_context(ctx, inputs, output):
        h, weight, _bias = inputs
        ctx.save_for_backward(h, weight)

    @staticmethod
    def backward(ctx, grad):
        h, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (torch.bmm(grad, weight) if need[0] else None,
                torch.bmm(grad.transpose(1, 2), h) if need[1] else None,
                grad.sum(dim=1) if need[2] else None)


def _stacked_layers(seq, prefix, params, h, grouped=None):
    """h (K, B, ...) through the layers of nn.Sequential `seq`, with the stacked weights
    params[f"{prefix}.{i}.weight"] (K, ...) of each layer i. Convolutions are one grouped
    convolution (`grouped`, the default off a CPU) or K plain ones: on a CPU the grouped
    kernel was slower (measured), and K plain ones make a pack bit-identical to its runs alone."""
    if grouped is None:
        grouped = h.device.type != "cpu"
    for i, layer in enumerate(seq):
        name = f"{prefix}.{i}"
        if isinstance(layer, nn.Linear):
            h = _StackedLinear.apply(h, params[name + ".weight"], params[name + ".bias"])
        elif isinstance(layer, nn.ReLU):
            h = torch.relu(h)
        elif isinstance(layer, nn.Flatten):
            h = h.flatten(2)
        elif isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            k, b = h.shape[:2]
            w, bias = params[name + ".weight"], params[name + ".bias"]
            conv = F.conv2d if isinstance(layer, nn.Conv2d) else F.conv_transpose2d
            if grouped:  # (K, B, C, H, W) -> (B, K*C, H, W): member k's channels form group k
                y = conv(h.transpose(0, 1).reshape(b, -1, *h.shape[3:]), w.reshape(-1, *w.shape[2:]),
                         bias.reshape(-1), stride=layer.stride, padding=layer.padding, groups=k)
                h = y.reshape(b, k, -1, *y.shape[2:]).transpose(0, 1)
            else:  # unbind, not h[i]: its backward stacks the K gradients once, where indexing would
                # zero-fill and add a full (K, ...) gradient per member (measured: ~15 % of a conv step)
                h = torch.stack([conv(hi, wi, bi, stride=layer.stride, padding=layer.padding)
                                 for hi, wi, bi in zip(h.unbind(0), w.unbind(0), bias.unbind(0))])
        else:
            raise TypeError(f"{name}: no stacked form for {type(layer).__name__}; add it to _stacked_layers")
    return h


class StackedVAE:
    """The members' VAEs stacked: `params` and `buffers` map the single VAE's names to (K, ...) tensors."""

    def __init__(self, settings_list, data_shape, device, x_train01, grouped=None):
        """`grouped`: convolutions as one grouped kernel (default: off a CPU; see _stacked_layers)."""
        self.grouped = torch.device(device).type != "cpu" if grouped is None else bool(grouped)
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
        self.template.likelihood.forward = self.template.likelihood.nll  # what functional_call calls
        self._nll = vmap(lambda p, b, x, out: functional_call(self.template.likelihood, (p, b), (x, out)))
        # The likelihood's own (stacked) parameters and buffers under its own names, once: the
        # tensors are updated in place, so these dicts stay valid for every step.
        self._likelihood_state = tuple({n[len("likelihood."):]: t for n, t in d.items() if n.startswith("likelihood.")}
                                       for d in (self.params, self.buffers))

    def loss(self, x, eps):
        """Per-member (loss, summed nll, summed kl), each (K,), of batches x (K, B, C, H, W), noise eps (K, B, L):
        VAE.forward of each member, batched."""
        vae, p, k, b, g = self.template, self.params, x.shape[0], x.shape[1], self.grouped
        mu, logvar = _stacked_layers(vae.encoder.net, "encoder.net", p, x, g).chunk(2, dim=-1)
        z = mu + eps * (0.5 * logvar).exp()  # VAE.reparameterize
        if hasattr(vae.decoder, "head"):  # ConvDecoder: linear head, reshape, transposed convolutions
            h = _stacked_layers(vae.decoder.head, "decoder.head", p, z, g).reshape(k, b, *vae.decoder.start)
            out = _stacked_layers(vae.decoder.net, "decoder.net", p, h, g)
        else:
            out = _stacked_layers(vae.decoder.net, "decoder.net", p, z, g).reshape(k, b, *vae.decoder.shape)
        nll = self._nll(*self._likelihood_state, x, out)
        kl = vae.kl(mu.reshape(k * b, -1), logvar.reshape(k * b, -1)).reshape(k, b)
        return (nll + self.betas[:, None] * kl).mean(dim=1), nll.sum(dim=1), kl.sum(dim=1)

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
