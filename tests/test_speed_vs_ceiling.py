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
