"""envs/*.yaml, the conda environments of the rules (`--sdm conda`), against pyproject.toml.

A job run with --sdm conda sees only its environment, so the environments must
hold exactly the package's runtime dependencies, with the same version bounds,
under their conda-forge names. The mapping between the two naming schemes is
written out here, so that a new dependency fails this test until someone
decides its conda name.
"""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]

# pip name -> conda-forge name, where they differ
PIP_TO_CONDA = {
    "torch": "pytorch",
    "matplotlib": "matplotlib-base",  # matplotlib without the Qt GUI
    "seaborn": "seaborn-base",  # seaborn without statsmodels
}
CONDA_TO_PIP = {conda: pip for pip, conda in PIP_TO_CONDA.items()}
# not on conda-forge: installed by the environment's own pip
PIP_ONLY = {"pytorch-fid"}
# run where `snakemake` is started, never inside a job's environment
OUTSIDE_JOBS = {"snakemake", "snakemake-executor-plugin-slurm"}
# the environment's interpreter and installer, not dependencies of the package
TOOLING = {"python", "pip"}


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def runtime_dependencies() -> dict[str, SpecifierSet]:
    reqs = [Requirement(r) for r in pyproject()["project"]["dependencies"]]
    return {canonicalize_name(r.name): r.specifier for r in reqs}


def env_files() -> list[Path]:
    return sorted((REPO / "envs").glob("*.yaml"))


def parse_conda_spec(spec: str) -> tuple[str, SpecifierSet]:
    """'pytorch >=2.2,<3' -> ('pytorch', SpecifierSet('>=2.2,<3')); simple version bounds only."""
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*([<>=!~][^\s]*)?", spec.strip())
    assert match, f"unexpected conda spec {spec!r}: use 'name' or 'name >=x,<y'"
    return match.group(1), SpecifierSet(match.group(2) or "")


def env_packages(path: Path) -> dict[str, tuple[str, SpecifierSet, str]]:
    """Packages of one environment by canonical pip name: (name as written, specifier, 'conda' or 'pip')."""
    env = yaml.safe_load(path.read_text())
    packages = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"{path.name}: unexpected entry {dep}"
            for line in dep["pip"]:
                req = Requirement(line)
                packages[canonicalize_name(req.name)] = (req.name, req.specifier, "pip")
        else:
            name, spec = parse_conda_spec(dep)
            if name in TOOLING:
                continue
            pip_name = canonicalize_name(CONDA_TO_PIP.get(name, name))
            assert pip_name not in packages, f"{path.name}: {name} listed twice"
            packages[pip_name] = (name, spec, "conda")
    return packages


def test_environments_exist_and_use_conda_forge_only():
    assert env_files(), "no conda environment in envs/"
    for path in env_files():
        env = yaml.safe_load(path.read_text())
        assert env["channels"][0] == "conda-forge", path.name
        assert "defaults" not in env["channels"], f"{path.name}: the defaults channel has other terms and builds"
        assert "nodefaults" in env["channels"], f"{path.name}: without nodefaults conda may mix in defaults"
        assert isinstance(env["dependencies"], list) and env["dependencies"], path.name


def test_every_rule_names_an_environment_that_exists_and_every_environment_is_used():
    used = set()
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for rel in re.findall(r"^\s+conda:\s*\n\s+[\"']([^\"']+)[\"']", smk.read_text(), re.M):
            env = (smk.parent / rel).resolve()  # relative to the file that defines the rule
            assert env.is_file(), f"{smk.name} names {rel}, which does not exist"
            used.add(env)
    assert used, "no rule names a conda environment"
    assert set(env_files()) == used, {p.name for p in set(env_files()) ^ used}


def test_environments_hold_the_runtime_dependencies_of_pyproject():
    wanted = {name: spec for name, spec in runtime_dependencies().items() if name not in OUTSIDE_JOBS}
    union = {}
    for path in env_files():
        for pip_name, (written, spec, source) in env_packages(path).items():
            # nothing the package does not declare, and the same version bounds
            assert pip_name in wanted, f"{path.name}: {written} is not a dependency in pyproject.toml"
            assert spec == wanted[pip_name], f"{path.name}: {written} {spec} but pyproject.toml says {wanted[pip_name]}"
            # conda-forge names where they differ, pip only for what conda-forge lacks
            if source == "pip":
                assert pip_name in PIP_ONLY, f"{path.name}: {written} comes from pip but conda-forge has it"
            else:
                assert pip_name not in PIP_ONLY, f"{path.name}: {written} is not on conda-forge: list it under pip"
                assert written == PIP_TO_CONDA.get(pip_name, written), f"{path.name}: conda-forge calls {written} " \
                    f"{PIP_TO_CONDA[pip_name]}"
            union[pip_name] = spec
    assert set(union) == set(wanted), f"missing from envs/: {sorted(set(wanted) - set(union))}"


def test_environments_have_the_python_pyproject_requires():
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    for path in env_files():
        env = yaml.safe_load(path.read_text())
        pythons = [parse_conda_spec(d)[1] for d in env["dependencies"] if isinstance(d, str) and
                   parse_conda_spec(d)[0] == "python"]
        assert pythons == [requires], f"{path.name}: python {pythons} but pyproject.toml requires {requires}"


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules the package imports, other than the standard library and itself, with the files."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "workflow/reconloss").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "reconloss" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(path.name)
    return found


def test_what_the_package_imports_is_declared():
    """A module imported directly must come from a declared dependency, not from another's dependencies."""
    providers = importlib.metadata.packages_distributions()
    declared = set(runtime_dependencies())
    imports = _third_party_imports()
    assert "torch" in imports  # the scan works
    undeclared = {}
    for module, files in imports.items():
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:
            pytest.fail(f"{module} (imported by {sorted(files)}) is not installed")
        if not dists & declared:
            undeclared[module] = (sorted(dists), sorted(files))
    assert not undeclared, f"imported but not in pyproject.toml's dependencies (module: (distribution, files)): " \
        f"{undeclared}"
