"""Likelihood options are checked for their range at plan time, as their constructors check them.

The table below is written by hand (not read from options.json), so that it tests the declarations:
for every option of every likelihood, values out of its range that the plan-time check must reject,
naming the key path, the value and the range, and the edge values it must accept. The constructors
must agree on every one of them (one declaration, reconloss.option_ranges, read by both).
"""

import json
import math
import subprocess
import sys

import pytest
from workflow_helpers import REPO

from reconloss.plan import config_check

from reconloss import settings

INF, NAN = math.inf, math.nan
GAUSSIANS = ["gaussian_fixed", "gaussian_data_pixel", "gaussian_learned_global", "gaussian_learned_pixel",
             "gaussian_predicted_image", "gaussian_predicted_pixel", "gaussian_optimal_pixel",
             "gaussian_optimal_image", "gaussian_optimal_global"]
FLOORED = ["gaussian_learned_global", "gaussian_learned_pixel", "gaussian_predicted_image", "gaussian_predicted_pixel",
           "gaussian_optimal_pixel", "gaussian_optimal_image", "gaussian_optimal_global", "truncated_gaussian"]
CLAMP_BAD = [[0.0, 0.5], [0.5, 1.0], [-0.1, 0.5], [0.6, 0.4], [0.3, 0.3], [1e-4, INF]]
CLAMP_OK = [[1e-12, 1.0 - 1e-12], [0.3, 0.30000001]]

# (likelihood, option): (rejected values, accepted edge values, the range as the message says it)
RANGES = {
    ("gaussian_fixed", "sigma"): ([0.0, 0, -1.0, INF, NAN], [1e-300, 1, 1e6], "> 0"),
    ("gaussian_data_pixel", "floor"): ([0.0, -1e-3, INF], [1e-300, 1.0], "> 0"),
    **{(name, "floor"): ([-1e-300, -1.0, INF, NAN], [0.0, 0, 0.5], ">= 0") for name in FLOORED},
    **{(name, "sigma_init"): ([0.0, -1.0, INF, 1e-3], [0.0025, 100.0], "> 0 and > floor")
       for name in ("gaussian_learned_global", "gaussian_learned_pixel")},
    **{(name, "mean_activation"): (["tanh", "Sigmoid", ""], ["sigmoid", "identity"], "sigmoid, identity")
       for name in GAUSSIANS},
    ("continuous_bernoulli", "clamp"): (CLAMP_BAD, CLAMP_OK, "[lo, hi] with 0 < lo < hi < 1"),
    ("continuous_bernoulli_naive", "clamp"): (CLAMP_BAD, [*CLAMP_OK, None], "[lo, hi] with 0 < lo < hi < 1 or null"),
    ("beta", "eps"): ([0.0, -1e-3, 0.5, 1.0], [1e-300, 0.4999999], "> 0 and < 0.5"),
    ("beta", "floor"): ([0.0, -1.0, INF], [1e-300, 10.0], "> 0"),
    ("discretized_logistic", "log_scale_min"): ([INF, -INF, NAN], [-1e300, 0.0, 5], "any finite number"),
}
CASES = [(name, key, v, text) for (name, key), (bad, _, text) in RANGES.items() for v in bad]
EDGES = [(name, key, v) for (name, key), (_, ok, _) in RANGES.items() for v in ok]


def grid(**extra):
    return {"datasets": ["digits"], "likelihoods": ["bernoulli"], "betas": [1.0], "seeds": [0], **extra}


def shown(v):
    return str(v)  # the message shows the value as Python prints it: -1.0, [0.6, 0.4], inf


def test_every_option_of_every_likelihood_is_in_the_table():
    """A new option, or a new likelihood with options, needs its rows above (and a declared range)."""
    table = settings.likelihood_table()
    assert {(name, key) for name, options in table.items() for key in options} == set(RANGES)
    for name, options in table.items():
        for key, spec in options.items():
            assert "range" in spec, f"{name}.{key} declares no range (option_ranges of its class)"


@pytest.mark.parametrize("name, key, value, text", CASES, ids=lambda v: str(v))
def test_out_of_range_option_is_rejected_at_plan_time(name, key, value, text):
    for where, config, path in [
        ("variant", grid(variants={"v4": {"likelihood": name, "options": {key: value}}}), f"variants.v4.options.{key}"),
        ("likelihood_options", grid(likelihood_options={name: {key: value}}), f"likelihood_options.{name}.{key}"),
    ]:
        problems = config_check.check(config)
        assert len(problems) == 1, (where, problems)
        got_path, message = problems[0]
        assert got_path == path, (where, problems)
        assert text in message, (where, message)
        if isinstance(value, str):
            assert f"{value!r} is not allowed" in message
        else:
            assert message.startswith(f"{shown(value)} is out of range; allowed: "), message


@pytest.mark.parametrize("name, key, value", EDGES, ids=lambda v: str(v))
def test_allowed_edge_values_pass_the_plan_time_check(name, key, value):
    assert config_check.check(grid(variants={"v": {"likelihood": name, "options": {key: value}}})) == []
    assert config_check.check(grid(likelihood_options={name: {key: value}})) == []


def test_sigma_init_above_floor_is_checked_on_the_merged_options():
    """A variant's options go over its likelihood's likelihood_options and the defaults; the pair is
    reported where it is set, naming the other option's value."""
    name = "gaussian_learned_global"
    [(path, message)] = config_check.check(grid(likelihood_options={name: {"floor": 0.5}},
                                                variants={"a": {"likelihood": name, "options": {"sigma_init": 0.3}}}))
    assert path == "variants.a.options.sigma_init" and message == "0.3 is out of range; allowed: > 0 and > floor (0.5)"
    [(path, message)] = config_check.check(grid(likelihood_options={name: {"sigma_init": 0.3}},
                                                variants={"a": {"likelihood": name, "options": {"floor": 0.5}}}))
    assert path == "variants.a.options.floor" and message == "0.5 is out of range; allowed: >= 0 and < sigma_init (0.3)"
    # set in likelihood_options alone: reported there, once
    [(path, _)] = config_check.check(grid(likelihood_options={name: {"floor": 2.0}},
                                          variants={"a": {"likelihood": name}}))
    assert path == f"likelihood_options.{name}.floor"
    # a variant that lifts the pair back into range is fine, whatever likelihood_options says
    assert config_check.check(grid(likelihood_options={name: {"floor": 0.5, "sigma_init": 1.0}},
                                   variants={"a": {"likelihood": name, "options": {"sigma_init": 0.6}}})) == []


def test_the_message_is_short_and_names_path_value_and_range():
    config = grid(variants={"v4": {"likelihood": "gaussian_fixed", "options": {"sigma": -1.0}}})
    text = config_check.message(config_check.check(config), "mine.yaml")
    assert "  variants.v4.options.sigma: -1.0 is out of range; allowed: > 0\n" in text
    assert len(text.splitlines()) == 3


def test_the_plan_time_range_check_imports_no_torch():
    """Every case of the table above through config_check in a fresh process: rejected, accepted,
    and torch never imported."""
    code = f"""
import json, sys
sys.path.insert(0, 'workflow')
from reconloss.plan import config_check
cases, edges = json.loads(sys.stdin.read())
grid = {{"datasets": ["digits"], "likelihoods": ["bernoulli"], "betas": [1.0], "seeds": [0]}}
for name, key, value, text in cases:
    problems = config_check.check({{**grid, "variants": {{"v4": {{"likelihood": name, "options": {{key: value}}}}}}}})
    assert [p for p, _ in problems] == [f"variants.v4.options.{{key}}"] and text in problems[0][1], problems
for name, key, value in edges:
    assert config_check.check({{**grid, "likelihood_options": {{name: {{key: value}}}}}}) == [], (name, key, value)
assert "torch" not in sys.modules, "torch imported"
print(len(cases), len(edges))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, input=json.dumps([CASES, EDGES]),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(len(CASES)), str(len(EDGES))]


@pytest.mark.parametrize("name, key, value, text", CASES, ids=lambda v: str(v))
def test_the_constructor_rejects_what_the_plan_time_check_rejects(name, key, value, text):
    from reconloss.likelihoods import make_likelihood

    with pytest.raises(ValueError, match=f"option {key!r} must be") as err:
        make_likelihood(name, data_shape=(1, 4, 4), **{key: value})
    assert text.removesuffix(" or null").split(" and > ")[0] in str(err.value)


@pytest.mark.parametrize("name, key, value", EDGES, ids=lambda v: str(v))
def test_the_constructor_accepts_the_edge_values(name, key, value):
    from reconloss.likelihoods import make_likelihood

    make_likelihood(name, data_shape=(1, 4, 4), **{key: value})


def test_configuration_option_table_shows_every_range():
    doc = (REPO / "docs" / "configuration.md").read_text()
    for (name, key), (_, _, text) in RANGES.items():
        assert any(line.startswith(f"| `{name}` | `{key}` |") and line.rstrip().endswith(f"| {text} |")
                   for line in doc.splitlines()), (name, key, text)
