"""The optimiser step of a pack: Adam, per-member gradient clipping, and freezing diverged members.

Every parameter of a pack carries a leading member axis (reconloss.training.stack), so one
elementwise Adam updates all members at once exactly as K separate optimisers would.
What is not elementwise is done per member here: the gradient norm (clipping and the
divergence test use each member's own norm) and the mask that freezes a member from the
step at which its loss or gradient stopped being finite. All of it runs on the device with
no host sync, so a whole step can be one CUDA graph.
"""

import torch


class Adam:
    """Adam as torch.optim.Adam(fused=True) computes it (bit-identical, tested), minus its cost
    at start-up: torch.optim's optimizers import torch._dynamo on first use, which takes as
    long as importing torch itself, in every one of hundreds of short training jobs. `step`
    takes a per-member mask: a masked member's update is exactly zero (see `step`)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), tuple(betas), float(eps)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, keep=None):
        """One Adam step. `keep` (bool, one entry per member along dim 0) masks members: their
        gradient must already be zero (`clip_and_mask` does it) and their first moment is zeroed
        here, so their update m / (sqrt(v) + eps) is exactly 0 and the parameters stay as they are."""
        i = [k for k, p in enumerate(self.params) if p.grad is not None]
        if not i:
            return
        if keep is not None:
            keep = keep.to(self.exp_avg[i[0]].dtype)  # one cast, not one per parameter
            for k in i:
                self.exp_avg[k].mul_(_member_view(keep, self.exp_avg[k]))
        steps = [self.steps[k] for k in i]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_([self.params[k] for k in i], [self.params[k].grad for k in i],
                           [self.exp_avg[k] for k in i], [self.exp_avg_sq[k] for k in i], [], steps,
                           lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0,
                           eps=self.eps, amsgrad=False, maximize=False)

    def state_dict(self):
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "steps": self.steps}

    def member_state(self, k, names):
        """Member k's slice of the state, keyed by parameter name (CPU copies): its checkpoint's part.
        The step counts are shared by the members of a stack (they step together)."""
        return {"exp_avg": {n: t[k].detach().cpu().clone() for n, t in zip(names, self.exp_avg, strict=True)},
                "exp_avg_sq": {n: t[k].detach().cpu().clone() for n, t in zip(names, self.exp_avg_sq, strict=True)},
                "steps": {n: float(t) for n, t in zip(names, self.steps, strict=True)}}

    @torch.no_grad()
    def load_member_state(self, k, state, names):
        """Put member_state's slice back into member k (steps too: every member of a stack has the same)."""
        for n, avg, avg_sq, steps in zip(names, self.exp_avg, self.exp_avg_sq, self.steps, strict=True):
            avg[k].copy_(state["exp_avg"][n])
            avg_sq[k].copy_(state["exp_avg_sq"][n])
            steps.fill_(state["steps"][n])

    def load_state_dict(self, state):
        with torch.no_grad():
            for name in ("exp_avg", "exp_avg_sq", "steps"):
                for mine, saved in zip(getattr(self, name), state[name], strict=True):
                    mine.copy_(saved)


def _member_view(v, like):
    """A (K,) tensor shaped to broadcast against a (K, ...) parameter (a view: no copy, no cast)."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def member_grad_norms(grads):
    """The 2-norm of each member's whole gradient, (K,): what clip_grad_norm_ would compute for it alone."""
    per_tensor = torch.stack([torch.linalg.vector_norm(g.reshape(len(g), -1), dim=1) for g in grads], dim=1)
    return torch.linalg.vector_norm(per_tensor, dim=1)


@torch.no_grad()
def clip_and_mask(grads, norms, keep, max_norm=None, skip_unit=False):
    """Scale each member's gradient as clip_grad_norm_(max_norm) does (coefficient
    max_norm / (norm + 1e-6), at most 1) and set the gradient of members not kept to exactly 0
    (masked_fill, so a NaN gradient is replaced, not multiplied). In place: a categorical
    decoder's gradient is 100M numbers per member, and no full-size temporary is made.
    keep None: clip only. skip_unit: when every coefficient is exactly 1 (no member is clipped)
    the multiplications, which would change nothing, are skipped; this reads the coefficients
    on the host, so only where a host sync is free (a CPU)."""
    drop = None if keep is None else ~keep
    if max_norm:
        coef = (float(max_norm) / (norms + 1e-6)).clamp(max=1.0).to(grads[0].dtype)
        if skip_unit and bool((coef == 1.0).all()):
            max_norm = None
    for g in grads:
        if max_norm:
            g.mul_(_member_view(coef, g))
        if drop is not None:
            g.masked_fill_(_member_view(drop, g), 0.0)
