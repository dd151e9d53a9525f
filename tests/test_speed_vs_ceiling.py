"""benchmarks/speed_vs_ceiling.py: the FLOPs it charges the study MLP, and the rates it reads from runs."""

import json

import pytest
from workflow_helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("speed_vs_ceiling")


def test_flops_are_the_mlps_multiply_adds_three_times_over(bench):
    # encoder 784-512-256-40 (mean and log-variance of 20 latents), decoder 20-256-512-784·c; 2 FLOPs a
    # multiply-add, forward plus the two backward products, but no gradient of the data (the first layer's input)
    macs = 784 * 512 + 512 * 256 + 256 * 40 + 20 * 256 + 256 * 512
    assert bench.flops_per_image(1) == 6 * (macs + 512 * 784) - 2 * 784 * 512 == 5_679_104
    assert bench.flops_per_image(2) - bench.flops_per_image(1) == 6 * 512 * 784


def test_a_run_is_charged_its_share_of_its_stack(bench, tmp_path):
    runs = [(120.0, 3, 6)] * 4 + [(30.0, 2, 6), (99.0, 0, 6)]  # a follow-up round rewrote pack_size to 6
    for seed, (seconds, epochs, size) in enumerate(runs):
        d = tmp_path / "runs" / "mnist" / "lab" / "beta~1" / f"seed~{seed}"  # the runs' layout
        d.mkdir(parents=True)
        (d / "status.json").write_text(json.dumps({"train_seconds": seconds, "epochs_completed": epochs,
                                                   "pack_size": size}))
        (d / "metrics.json").write_text(json.dumps({"likelihood": "lab", "likelihood_name": "beta"}))
    # a stack of 4 runs, 120 s over 3 epochs: 10 each; 30 s over 2 epochs alone: 15; a run with no epoch: no rate
    assert bench.measured(tmp_path, "mnist") == {"lab": ("beta", [10.0] * 4 + [15.0])}


@pytest.mark.parametrize("name, outputs", [("bernoulli", 1), ("beta", 2)])
def test_flop_counter_on_the_study_mlp_counts_what_the_hand_count_charges(bench, name, outputs):
    """FlopCounterMode on one training step of the study MLP (configs/claims.yaml's model) gives the hand count:
    the counted path the conv model uses is checked against an independent closed form."""
    counted = bench.counted_flops_per_image(name, {"arch": "mlp", "hidden": [512, 256]}, 20, (1, 28, 28))
    assert counted == bench.flops_per_image(outputs)


def test_the_conv_models_flops_are_counted_with_its_convolutions(bench):
    conv = {"arch": "conv", "channels": [32, 64, 128], "hidden": [256]}
    one = bench.counted_flops_per_image("bernoulli", conv, 32, (3, 32, 32))
    two = bench.counted_flops_per_image("beta", conv, 32, (3, 32, 32))
    # configs/colour.yaml states about 10 M multiply-adds forward: 20 MFLOP, about 60 with the backward products
    assert 40e6 < one < 80e6 and two > one
