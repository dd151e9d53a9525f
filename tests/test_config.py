"""Bad configurations stop before any job runs, naming the key and the allowed values."""


import pytest
from workflow_helpers import copy_workflow, load_config, snakemake, write_config


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("config"))


def dry_run_with(workdir, tmp_path, **changes):
    config = load_config(workdir / "configs" / "test.yaml")
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = value
    path = write_config(tmp_path / "config.yaml", config)
    return snakemake(workdir, "-n", "--configfile", str(path), check=False)


def test_the_test_configuration_is_valid(workdir, tmp_path):
    proc = dry_run_with(workdir, tmp_path)
    assert proc.returncode == 0, proc.stderr


# Each: changes to configs/test.yaml, and fragments the message must hold: the key path, what is wrong
# or allowed. None as a value deletes the key.
BROKEN = {
    "misspelt-likelihood-option": ({"likelihood_options": {"continuous_bernoulli": {"clmap": [1e-3, 0.999]}}},
                                   ["likelihood_options.continuous_bernoulli.clmap", "did you mean 'clamp'"]),
    "wrong-type-in-variant": ({"variants": {"g01": {"likelihood": "gaussian_fixed", "options": {"sigma": "small"}}}},
                              ["variants.g01.options.sigma", "expected a number"]),
    # every option's range is checked without snakemake in tests/test_option_ranges.py; this is the real path
    "out-of-range-option-in-variant": ({"variants": {"v4": {"likelihood": "gaussian_fixed",
                                                            "options": {"sigma": -1.0}}}},
                                       ["variants.v4.options.sigma: -1.0 is out of range; allowed: > 0"]),
    "misspelt-likelihood-in-variant": ({"variants": {"b2": {"likelihood": "bernouli"}}},
                                       ["variants.b2.likelihood", "did you mean 'bernoulli'"]),
    "unknown-dataset-override": ({"dataset_settings": {"cifar": {"train": {"epochs": 1}}}},
                                 ["dataset_settings.cifar", "did you mean 'cifar10'"]),
    "misspelt-key-in-dataset-override": ({"dataset_settings": {"digits": {"train": {"epoch": 1}}}},
                                         ["dataset_settings.digits.train.epoch", "did you mean 'epochs'"]),
    "negative-epochs": ({"train__epochs": -3}, ["train.epochs", "-3 is out of range", ">= 1"]),
    "unknown-top-level-key": ({"trian": {}}, ["trian", "did you mean 'train'"]),
    "unknown-likelihood": ({"likelihoods": ["gaussian_fixed", "laplace"]}, ["likelihoods[1]", "'laplace'",
                                                                          "continuous_bernoulli"]),
    "unknown-likelihood-options-name": ({"likelihood_options": {"continous_bernoulli": {}}},
                                        ["likelihood_options.continous_bernoulli",
                                         "did you mean 'continuous_bernoulli'"]),
    "zero-beta": ({"betas": [1.0, 0.0]}, ["betas[1]", "allowed: > 0"]),
    "unknown-dataset": ({"datasets": ["imagenet"]}, ["datasets[0]", "'imagenet'", "mnist"]),
    "wrong-type": ({"train__epochs": "ten"}, ["train.epochs", "expected an integer"]),
    "lr-as-yaml-text": ({"train__lr": "1e-3"}, ["train.lr", "write 1.0e-3"]),
    "non-integer-seed": ({"seeds": [0.5]}, ["seeds[0]", "expected an integer"]),
    "bad-mirror-scheme": ({"data": {"mirrors": {"mnist": ["ftp://example.org/"]}}},
                          ["data.mirrors.mnist[0]", "does not match"]),
    "pack-axis": ({"pack": {"vary": ["beta", "dataset"]}}, ["pack.vary[1]", "allowed: beta, seed"]),
    "inception-dims": ({"evaluate__inception_dims": 1000}, ["evaluate.inception_dims", "2048"]),
    "missing-grid-key": ({"betas": None}, ["betas", "missing"]),
    # a variant's train keys get the messages of the top-level train keys
    "misspelt-key-in-variant-train": ({"variants": {"g": {"likelihood": "gaussian_fixed", "train": {"grad_clp": 1}}}},
                                      ["variants.g.train.grad_clp", "did you mean 'grad_clip'"]),
    "negative-clip-in-variant-train": ({"variants": {"g": {"likelihood": "gaussian_fixed",
                                                           "train": {"grad_clip": -1.0}}}},
                                       ["variants.g.train.grad_clip", "-1.0 is out of range", "> 0"]),
    "data-range-on-cb": ({"train__data_range": 255.0}, ["train.data_range", "'continuous_bernoulli'",
                                                        "needs data in [0, 1]"]),
    "data-range-with-sigmoid-mean": ({"variants": {"g255": {"likelihood": "gaussian_fixed",
                                                            "train": {"data_range": 255.0}}}},
                                     ["variants.g255.train.data_range", "mean_activation: identity"]),
}


@pytest.mark.parametrize("changes, expected", list(BROKEN.values()), ids=list(BROKEN))
def test_bad_configuration_stops_at_plan_time_briefly_naming_the_key(workdir, tmp_path, changes, expected):
    config = load_config(workdir / "configs" / "test.yaml")
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        if value is None:
            del node[key]
        else:
            node[key] = value
    path = write_config(tmp_path / "config.yaml", config)
    proc = snakemake(workdir, "-n", "--executor", "local", "--configfile", str(path), check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0, message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"
    assert len(message.strip().splitlines()) <= 12, message
    assert "Traceback" not in message and "$defs" not in message, message
    # How fast it stops is a figure of benchmarks/bench_plan.py, not an assertion; that the check
    # imports no torch is tests/test_settings.py's.
    assert not (workdir / "results").exists(), "a rejected configuration must not start any job"


def test_variant_label_may_not_shadow_a_likelihood_name(workdir, tmp_path):
    proc = dry_run_with(workdir, tmp_path, variants={"gaussian_fixed": {"likelihood": "bernoulli"}})
    assert proc.returncode != 0
    assert "variants: label 'gaussian_fixed'" in proc.stdout + proc.stderr


def test_a_configfile_stands_alone_and_is_not_merged_over_config_yaml(workdir, tmp_path):
    """Keys omitted from a --configfile take the code's defaults, not config.yaml's values."""
    config = load_config(workdir / "configs" / "test.yaml")
    del config["classifier"]
    path = write_config(tmp_path / "alone.yaml", config)
    proc = snakemake(workdir, "-n", "--executor", "local", "-p", "--configfile", str(path), "--until", "classifier")
    assert '"epochs": null' in proc.stdout, proc.stdout  # config.yaml's classifier.epochs is 30
    assert '"epochs": 30' not in proc.stdout
    # Building on config.yaml is explicit: name it first.
    proc = snakemake(workdir, "-n", "--executor", "local", "-p", "--configfile", "config.yaml", str(path),
                     "--until", "classifier")
    assert '"epochs": 30' in proc.stdout, proc.stdout


def test_schema_lists_exactly_the_package_likelihoods():
    import yaml
    from reconloss.likelihoods import LIKELIHOODS
    from workflow_helpers import REPO

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert set(schema["$defs"]["likelihood"]["enum"]) == set(LIKELIHOODS)


def test_schema_lists_exactly_the_package_datasets():
    import yaml
    from reconloss.data.datasets import DATASETS
    from workflow_helpers import REPO

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert set(schema["$defs"]["dataset"]["enum"]) == set(DATASETS)


def test_report_text_names_the_datasets_plainly():
    """The report's intro says "on mnist, cifar10", not the Python list "on ['mnist', 'cifar10']"."""
    from types import SimpleNamespace

    import jinja2
    from workflow_helpers import REPO

    text = jinja2.Template((REPO / "workflow/report/workflow.rst").read_text()).render(
        snakemake=SimpleNamespace(config={"datasets": ["mnist", "cifar10"]}))
    assert "on mnist, cifar10." in text and "['" not in text


def _train_settings(stdout, label):
    """{dataset: train settings} of the train jobs of `label` in a dry run's printed commands."""
    import json
    import re

    out = {}
    for m in re.finditer(r"--runs '(\[.*?\])'", stdout):
        settings = json.loads(m.group(1))[0]["settings"]
        if settings["likelihood"] == label and "evaluate" not in settings:
            out[settings["dataset"]] = settings["train"]
    return out


def test_variant_train_and_dataset_overrides_change_only_what_they_name(workdir, tmp_path):
    """A variant's train goes over the dataset-merged train for its label only; neither it nor a
    dataset's override resets the settings it leaves out (the schema's defaults must not fill in)."""
    config = load_config(workdir / "configs" / "test.yaml")
    config["train"]["grad_clip"] = 1000.0
    config["dataset_settings"] = {"digits": {"train": {"epochs": 3}}}
    config["variants"] = {"noclip": {"likelihood": "gaussian_fixed", "train": {"grad_clip": None}},
                          "g255": {"likelihood": "gaussian_fixed", "options": {"mean_activation": "identity"},
                                   "train": {"data_range": 255.0}}}
    path = write_config(tmp_path / "variants.yaml", config)
    proc = snakemake(workdir, "-n", "--executor", "local", "-p", "--configfile", str(path), "--until", "train")
    base = _train_settings(proc.stdout, "gaussian_fixed")["digits"]
    assert base["grad_clip"] == 1000.0 and base["epochs"] == 3 and base["batch_size"] == 64
    assert base["data_range"] == 1.0
    assert _train_settings(proc.stdout, "noclip")["digits"] == {**base, "grad_clip": None}
    assert _train_settings(proc.stdout, "g255")["digits"] == {**base, "data_range": 255.0}
