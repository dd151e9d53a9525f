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


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"likelihoods": ["gaussian_fixed", "laplace"]}, ["'laplace' is not one of", "continuous_bernoulli", "likelihoods"]),
        ({"betas": [1.0, 0.0]}, ["0.0 is less than or equal to the minimum of 0", "betas"]),
        ({"betas": [1.0, -2]}, ["-2 is less than or equal to the minimum of 0", "betas"]),
        ({"datasets": ["imagenet"]}, ["'imagenet' is not one of", "mnist", "datasets"]),
        ({"train__epoch": 3}, ["'epoch' was unexpected", "train"]),
        ({"trian": {}}, ["'trian' was unexpected"]),
        ({"train__epochs": "ten"}, ["'ten' is not of type 'integer'", "epochs"]),
        ({"seeds": [0.5]}, ["0.5 is not of type 'integer'", "seeds"]),
        ({"data": {"mirrors": {"mnist": ["ftp://example.org/"]}}}, ["does not match", "mirrors"]),
    ],
    ids=["unknown-likelihood", "zero-beta", "negative-beta", "unknown-dataset", "misspelt-nested-key",
         "unknown-top-level-key", "wrong-type", "non-integer-seed", "bad-mirror-scheme"],
)
def test_bad_configuration_is_rejected_with_a_message_naming_the_key(workdir, tmp_path, changes, expected):
    proc = dry_run_with(workdir, tmp_path, **changes)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    for fragment in expected:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"
    assert not (workdir / "results").exists(), "a rejected configuration must not start any job"


def test_variant_label_may_not_shadow_a_likelihood_name(workdir, tmp_path):
    proc = dry_run_with(workdir, tmp_path, variants={"gaussian_fixed": {"likelihood": "bernoulli"}})
    assert proc.returncode != 0
    assert "variants: label 'gaussian_fixed'" in proc.stdout + proc.stderr


def test_schema_lists_exactly_the_package_likelihoods():
    import yaml
    from reconloss.likelihoods import LIKELIHOODS
    from workflow_helpers import REPO

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert set(schema["$defs"]["likelihood"]["enum"]) == set(LIKELIHOODS)


def test_schema_lists_exactly_the_package_datasets():
    import yaml
    from reconloss.data import DATASETS
    from workflow_helpers import REPO

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert set(schema["$defs"]["dataset"]["enum"]) == set(DATASETS)
