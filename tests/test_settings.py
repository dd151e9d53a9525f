"""One definition of the settings (reconloss.settings) and everything derived from it.

The JSON schema, the configuration tables of docs/configuration.md and the
likelihood option table are generated; these tests fail when a committed copy drifts from the
definition (or from the likelihood classes), when the code holds a default of
its own, or when the plan-time check imports torch.
"""

import re
import subprocess
import sys

import jsonschema
import pytest
import yaml
from workflow_helpers import REPO

from reconloss.plan import config_check, generate

from reconloss import settings

CONFIGS = ["config.yaml", "configs/test.yaml", "configs/paper.yaml", "configs/study.yaml"]


def test_committed_schema_is_generated_from_the_settings():
    assert generate.SCHEMA_FILE.read_text() == generate.schema_text(), "run `make generate`"


def test_configuration_tables_are_generated_from_the_settings():
    doc = (REPO / "docs" / "configuration.md").read_text()
    assert generate.CONFIG_DOC == REPO / "docs" / "configuration.md"
    assert generate.config_doc_text(doc) == doc, "run `make generate`"
    for section in settings.SECTIONS:
        for f in settings.fields_of(section):
            assert f"`{section}.{f.name}`" in doc


def test_generate_names_a_file_without_markers():
    with pytest.raises(SystemExit, match="docs/configuration.md lacks the markers"):
        generate.config_doc_text("# Configuration\n")


def test_likelihood_option_table_matches_the_classes():
    """After adding or changing a likelihood, `make generate` rewrites likelihoods/options.json."""
    assert settings.LIKELIHOOD_OPTIONS_FILE.read_text() == generate.options_text(generate.likelihood_options_table())
    from reconloss.likelihoods import LIKELIHOODS, likelihood_options

    table = settings.likelihood_table()
    assert list(table) == list(LIKELIHOODS)
    for name in LIKELIHOODS:
        assert {k: v["default"] for k, v in table[name].items()} == {
            k: list(v) if isinstance(v, tuple) else v for k, v in likelihood_options(name).items()}


def test_generate_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "config.schema.yaml"
    stale.write_text(generate.schema_text().replace("minimum: 1", "minimum: 2", 1))
    monkeypatch.setattr(generate, "SCHEMA_FILE", stale)
    with pytest.raises(SystemExit, match="out of date"):
        generate.main(["--check"])
    assert stale.read_text() != generate.schema_text()  # --check writes nothing


def test_dataset_names_match_the_registry():
    from reconloss.data.datasets import DATASETS

    assert settings.DATASET_NAMES == list(DATASETS)


def test_the_code_takes_its_defaults_from_the_settings():
    from reconloss.evaluation import classifier, evaluate
    from reconloss.data import datasets as data
    from reconloss.report import figures

    assert evaluate.EVAL_DEFAULTS == settings.defaults("evaluate")
    assert figures.DEFAULT_SETTINGS == settings.defaults("figures")
    assert data.check_settings({}) == {"mirrors": None, "test_fraction": settings.Data().test_fraction,
                                       "split_seed": settings.Data().split_seed}
    s = classifier.default_settings((1, 8, 8))
    assert s["epochs"] == settings.CLASSIFIER_RECIPES["digits"]["epochs"]
    assert s["seed"] == settings.Classifier().seed and s["device"] == settings.Classifier().device
    assert classifier.SETTING_KEYS >= set(settings.defaults("classifier"))


def test_no_second_copy_of_a_default_in_the_package():
    """`grep -rn "DEFAULTS\\s*=" workflow/reconloss` finds only settings.py, which derives it."""
    hits = []
    for path in sorted((REPO / "workflow/reconloss").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"DEFAULTS\s*=", line) or re.search(r"^DEFAULT\w*\s*=\s*\{", line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert len(hits) == 1 and hits[0].startswith("workflow/reconloss/settings.py") and "= defaults(" in hits[0], hits


def test_every_setting_has_a_help_line_and_a_default_of_its_type():
    for section in settings.SECTIONS:
        obj = settings.SECTIONS[section]()
        for f in settings.fields_of(section):
            assert f.metadata["help"].strip(), f"{section}.{f.name}"
            problems = []
            checker = config_check.Checker()
            checker.value([section, f.name], getattr(obj, f.name), settings.type_of(section, f.name),
                          dict(f.metadata))
            problems += checker.problems
            assert not problems, problems


@pytest.mark.parametrize("path", CONFIGS)
def test_shipped_configurations_pass_both_the_check_and_the_schema(path):
    config = yaml.safe_load((REPO / path).read_text())
    assert config_check.check(config) == []
    effective = config_check.effective(config)
    jsonschema.validate(effective, settings.schema())
    assert effective["pack"] == {"vary": ["beta", "seed"], "max_runs": 64}


@pytest.mark.parametrize("changes", [
    {"train": {"epochs": -1}}, {"trian": {}}, {"evaluate": {"inception_dims": 1000}},
    {"pack": {"vary": ["dataset"]}}, {"data": {"mirrors": {"mnist": ["ftp://x/"]}}},
    {"dataset_settings": {"cifar": {}}}, {"train": {"tf32": "yes"}}, {"train": {"checkpoint_every": -1}},
    {"pack": {"max_runs": 0}}, {"likelihoods": ["laplace"]},
], ids=lambda c: str(c)[:40])
def test_the_schema_rejects_what_the_check_rejects(changes):
    config = {**yaml.safe_load((REPO / "configs/test.yaml").read_text()), **changes}
    assert config_check.check(config)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config_check.effective(config), settings.schema())


def test_likelihood_options_are_checked_by_name_and_type():
    base = yaml.safe_load((REPO / "configs/test.yaml").read_text())
    ok = {**base, "likelihood_options": {"continuous_bernoulli": {"clamp": [1e-3, 0.999]}},
          "variants": {"g01": {"likelihood": "gaussian_fixed", "options": {"sigma": 0.1}}}}
    assert config_check.check(ok) == []
    bad = {**ok, "likelihood_options": {"continuous_bernoulli": {"clamp": [1e-3]}}}
    [(path, message)] = config_check.check(bad)
    assert path == "likelihood_options.continuous_bernoulli.clamp" and "a list of 2 numbers" in message


def test_checking_a_configuration_imports_no_torch():
    code = ("import sys, yaml; sys.path.insert(0, 'workflow'); from reconloss.plan import config_check; "
            "c = yaml.safe_load(open('configs/paper.yaml')); assert config_check.check(c) == []; "
            "config_check.effective(c); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_config_show_names_the_source_of_each_value():
    out = subprocess.run([sys.executable, "-m", "reconloss", "config-show", "config.yaml", "configs/test.yaml",
                          "--set", "train.epochs=3"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    lines = {line.split("#")[0].strip(): line.split("#")[-1].strip() for line in out.splitlines() if "#" in line}
    assert lines["epochs: 3"] == "--set"
    assert lines["datasets: [digits]"] == "configs/test.yaml"
    assert lines["iw_samples: 5"] == "configs/test.yaml"
    assert lines["n_sample_grid: 64"] == "default (settings.Evaluate)"
    assert lines["max_runs: 64"] == "config.yaml"  # only config.yaml sets pack


def test_config_show_rejects_a_bad_configuration(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [digits]\nlikelihoods: [bernoulli]\nbetas: [1.0]\nseeds: [0]\nevaluate: {n_image: 3}\n")
    proc = subprocess.run([sys.executable, "-m", "reconloss", "config-show", str(bad)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "evaluate.n_image" in proc.stderr and "did you mean 'n_images'" in proc.stderr


def test_the_study_configuration_with_offline_mirrors_is_valid_and_a_local_folder_is_a_mirror():
    """configs/study.yaml + configs/offline-mirrors.yaml is what `make study` runs offline (docs/claims-method.md)."""
    config = config_check.load_files([REPO / "configs/study.yaml", REPO / "configs/offline-mirrors.yaml"])
    assert config["data"]["mirrors"] == {"mnist": ["../shared/data/MNIST/raw/"],
                                         "fashion_mnist": ["../shared/data/FashionMNIST/raw/"]}
    assert config["train"]["epochs"] == 1 and len(config["seeds"]) >= 2 and len(config["betas"]) >= 5
    bad = {**yaml.safe_load((REPO / "configs/study.yaml").read_text()), "data": {"mirrors": {"mnist": ["ftp://x/"]}}}
    assert any("data.mirrors.mnist[0]" in str(e) for e in config_check.check(bad))
