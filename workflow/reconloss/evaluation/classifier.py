"""The FID feature network of one dataset: a small classifier trained once.

FID needs features that know what the images show; Inception knows nothing
of 8x8 digits or 28x28 grey MNIST, so each dataset gets its own classifier
(as in the continuous-Bernoulli paper); `classifier.count` of them, alike but
for the seed, so that a FID verdict can be checked against the choice of
network (reconloss.evaluation.scores). Its features are the penultimate
layer's pre-activations: a linear map of the convolutional features, dense
and of full rank, so their test-set covariance is well conditioned.

Feature dimensions follow the number of test images that estimate the
covariance (F(F+1)/2 entries need many more than F images): digits has 360
test images, so F = 32 (11 images per dimension); MNIST, FashionMNIST and
CIFAR-10 have 10,000, so F = 128 (78 per dimension) -- large enough to
separate ten classes and their styles, small enough that the FID's
finite-sample bias stays small at a few thousand samples.

Training keeps the whole dataset on the device and slices shuffled index
batches (no DataLoader), like the VAE trainer; all randomness comes from the
seed. Outputs of `main`: model.pt (state dict + what rebuilds the net,
loadable with `weights_only=True`), metrics.json, and test_stats.npz (float64
mean and covariance of the test set's features, computed once here so no
evaluation recomputes them); metrics.json also records the test set's
classifier score.
"""

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from reconloss import io
from reconloss.training.device import resolve_device
from reconloss.settings import CLASSIFIER_RECIPES, defaults

log = logging.getLogger(__name__)

# Recipes by data shape (C, H, W), defined in reconloss.settings.CLASSIFIER_RECIPES with their
# measured accuracies; any key can be overridden by --settings (arch and augment are merged key by key).
SETTING_KEYS = set(CLASSIFIER_RECIPES["digits"]) | set(defaults("classifier")) | {"inception_weights", "inception_dims"}


def default_settings(data_shape) -> dict:
    c, h, w = data_shape
    if h * w <= 64:
        key = "digits"
    elif c == 1:
        key = "small"
    else:
        key = "color"
    fixed = {k: v for k, v in defaults("classifier").items() if v is not None}  # seed, device
    return {**fixed, **json.loads(json.dumps(CLASSIFIER_RECIPES[key]))}


class MaxPool2(nn.MaxPool2d):
    """2x2 max pooling (floor mode). Without autograd it is the elementwise maximum of the four
    strided slices: the same values, 7-15x faster on a CPU than max_pool2d's kernel, which took
    most of a 28x28 classifier's inference time, and inference is what evaluation repeats under
    every classifier. With autograd max_pool2d's own backward stays, so training is unchanged."""

    def __init__(self):
        super().__init__(2)

    def forward(self, x):
        if torch.is_grad_enabled() and x.requires_grad:
            return super().forward(x)
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :h, :w]
        return torch.maximum(torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2]),
                             torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))


class Classifier(nn.Module):
    """body -> penultimate linear layer (the features) -> ReLU -> dropout -> logits."""

    def __init__(self, data_shape, num_classes, arch):
        super().__init__()
        c, h, w = data_shape
        kind = arch["kind"]
        if kind == "mlp":
            layers, size = [nn.Flatten()], c * h * w
            for n in arch.get("hidden", []):
                layers += [nn.Linear(size, n), nn.ReLU()]
                size = n
            self.body = nn.Sequential(*layers)
        elif kind == "cnn":
            layers, ch = [], c
            convs = arch.get("convs", 1)
            for out in arch["channels"]:
                for j in range(convs):
                    layers.append(nn.Conv2d(ch, out, 3, padding=1, bias=False))
                    if j == convs - 1:  # pool first: BN and ReLU then run at a quarter of the pixels
                        layers.append(MaxPool2())
                    layers += [nn.BatchNorm2d(out), nn.ReLU()]
                    ch = out
                h, w = h // 2, w // 2
            if arch.get("pool", "flatten") == "avg":
                layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
                size = ch
            else:
                layers.append(nn.Flatten())
                size = ch * h * w
            self.body = nn.Sequential(*layers)
        else:
            raise ValueError(f"unknown classifier kind {kind!r}")
        self.feature = nn.Linear(size, arch["feature_dim"])
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(arch.get("dropout", 0.0)),
                                  nn.Linear(arch["feature_dim"], num_classes))

    def features(self, x01):
        # Centre the pixels so the first layer starts from a sensible scale.
        return self.feature(self.body(2.0 * x01 - 1.0))

    def forward(self, x01):
        return self.head(self.features(x01))


def augment(x, shift, flip, gen):
    """Random translation by up to `shift` pixels (zero fill) and horizontal flips, on the device."""
    b, c, h, w = x.shape
    if shift:
        xp = F.pad(x, (shift, shift, shift, shift))
        oh = torch.randint(0, 2 * shift + 1, (b,), device=x.device, generator=gen)
        ow = torch.randint(0, 2 * shift + 1, (b,), device=x.device, generator=gen)
        ih = (oh[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B,H,1)
        iw = (ow[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B,1,W)
        bi = torch.arange(b, device=x.device)[:, None, None]
        x = xp.permute(0, 2, 3, 1)[bi, ih, iw].permute(0, 3, 1, 2).contiguous()
    if flip:
        mask = torch.rand(b, device=x.device, generator=gen) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


@torch.no_grad()
def predict_features(model, x_uint8, scale, batch_size=1000):
    """(features float32 (N,F), logits (N,K)) of uint8 images, in batches, eval mode."""
    model.eval()
    feats, logits = [], []
    for i in range(0, len(x_uint8), batch_size):
        f = model.features(x_uint8[i:i + batch_size].float() / scale)
        feats.append(f)
        logits.append(model.head(f))
    return torch.cat(feats), torch.cat(logits)


def train_classifier(data, settings):
    """Train on data["train_x"] (uint8 on the target device); return (model, info dict)."""
    device = data["train_x"].device
    shape = tuple(data["train_x"].shape[1:])
    unknown = sorted(set(settings) - SETTING_KEYS)
    if unknown:
        raise ValueError(f"unknown classifier setting(s) {unknown}; allowed: {sorted(SETTING_KEYS)}")
    s = default_settings(shape)
    for k, v in settings.items():
        if v is None:
            continue
        s[k] = {**s[k], **v} if isinstance(v, dict) and isinstance(s.get(k), dict) else v  # arch, augment: merged
    seed = int(s.get("seed", 0))
    torch.manual_seed(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    num_classes = len(data.get("classes") or []) or int(data["train_y"].max()) + 1
    model = Classifier(shape, num_classes, s["arch"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=s.get("weight_decay", 0.0))
    x, y, scale = data["train_x"], data["train_y"], float(data["scale"])
    n, bs, epochs = len(x), int(s["batch_size"]), int(s["epochs"])
    steps = epochs * math.ceil(n / bs)
    # One-cycle schedule: reaches high accuracy in few epochs, deterministic.
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s["lr"], total_steps=steps, pct_start=0.2)
    aug = s.get("augment") or {}
    t0, c0 = time.perf_counter(), time.process_time()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(n, device=device, generator=gen)
        total, correct = 0.0, 0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb = x[idx].float() / scale
            xb = augment(xb, int(aug.get("shift", 0)), bool(aug.get("flip", False)), gen)
            logits = model(xb)
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs:
            log.info("epoch %d/%d loss %.4f train acc %.4f (%.1fs)", epoch, epochs, total / n, correct / n,
                     time.perf_counter() - t0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_seconds = time.perf_counter() - t0
    return model, {"settings": s, "train_seconds": train_seconds, "train_cpu_seconds": time.process_time() - c0,
                   "num_classes": num_classes, "data_shape": shape}


def save_model(path, model, info, dataset):
    io.torch_save({
        "dataset": dataset,
        "data_shape": list(info["data_shape"]),
        "num_classes": int(info["num_classes"]),
        "arch": info["settings"]["arch"],
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }, path)


def load_classifier(out_dir, device="cpu") -> Classifier:
    ckpt = torch.load(Path(out_dir) / "model.pt", map_location="cpu", weights_only=True)
    model = Classifier(tuple(ckpt["data_shape"]), ckpt["num_classes"], ckpt["arch"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(resolve_device(device)).eval()


def load_feature_extractor(out_dir, device="cpu", batch_size=1000):
    """callable(x01 float (B,C,H,W)) -> features float32 (B,F) on `device`, batched, no grad.

    Its attribute `logits` maps those features to the class logits (the head, in eval mode), so
    the classifier score needs no second pass through the body."""
    model = load_classifier(out_dir, device)
    device = next(model.parameters()).device

    @torch.no_grad()
    def extract(x01):
        out = [model.features(x01[i:i + batch_size].to(device).float()) for i in range(0, len(x01), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, model.feature.out_features, device=device)

    @torch.no_grad()
    def logits(features):
        return model.head(features.to(device).float())

    extract.feature_dim = model.feature.out_features
    extract.logits = logits
    return extract


def main(argv):
    p = argparse.ArgumentParser(prog="reconloss classifier", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="results/data/{dataset}.pt")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--settings", default="{}", help="JSON: epochs, batch_size, lr, seed, device, arch, ...")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from reconloss.data.datasets import load_dataset
    from reconloss.evaluation.fid import feature_stats

    settings = json.loads(args.settings)
    device = resolve_device(settings.get("device", "auto"))
    data = load_dataset(args.data, device=device)
    model, info = train_classifier(data, settings)
    feats, logits = predict_features(model, data["test_x"], float(data["scale"]))
    acc = float((logits.argmax(1) == data["test_y"]).float().mean())
    from reconloss.evaluation.scores import classifier_score

    score = classifier_score(torch.log_softmax(logits.double(), 1))
    mu, sigma = feature_stats(feats)
    out = Path(args.out_dir)
    save_model(out / "model.pt", model, info, data["name"])
    with io.atomic_path(out / "test_stats.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, mu=mu, sigma=sigma, n=len(feats))
    s = info["settings"]
    metrics = {
        "dataset": data["name"], "test_accuracy": acc, "test_classifier_score": score,
        "feature_dim": int(feats.shape[1]),
        "train_seconds": info["train_seconds"], "train_cpu_seconds": info["train_cpu_seconds"],
        "epochs": int(s["epochs"]), "batch_size": int(s["batch_size"]),
        "lr": float(s["lr"]), "seed": int(s.get("seed", 0)), "device": str(device),
        "n_train": len(data["train_x"]), "n_test": len(data["test_x"]),
        "n_params": sum(p.numel() for p in model.parameters()), "arch": s["arch"],
        "threads": torch.get_num_threads(),
    }
    if settings.get("inception_weights"):
        # Optional Inception FID (CIFAR-10): the test set's statistics under pytorch-fid's network.
        from reconloss.evaluation.fid import inception_features, load_inception

        net = load_inception(settings["inception_weights"], device, dims=int(settings.get("inception_dims", 2048)))
        imu, isigma = feature_stats(inception_features(net, data["test_x"].float() / float(data["scale"])))
        with io.atomic_path(out / "inception_stats.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, mu=imu, sigma=isigma, n=len(data["test_x"]))
    io.write_json(out / "metrics.json", metrics)
    log.info("%s: test accuracy %.4f, %d features, %.1fs", data["name"], acc, metrics["feature_dim"],
             info["train_seconds"])
