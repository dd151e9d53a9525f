"""The plan-time check of a configuration, and the effective configuration with where each value came from.

`check(config)` returns every problem as (key path, message); the Snakefile
calls `effective_or_exit` before any rule is defined, so a bad configuration
stops `snakemake` in about a second with a few lines that name the key, say
what is wrong and what is allowed (with a did-you-mean for misspellings),
before a single job is submitted. Nothing here imports torch: likelihood
names, options and their ranges come from the generated table
likelihoods/options.json, checked by reconloss.option_ranges as the
likelihoods' constructors check them.

A configuration stands alone: its values go over the defaults of
reconloss.settings, never over another configuration file. The embedded
default config.yaml is read only when no --configfile is given; to build on
it, name it first: `--configfile config.yaml mine.yaml` (later files win, key
by key, as Snakemake merges them).

    python -m reconloss config-show [FILE ...] [--set KEY=VALUE ...]

prints the effective configuration, each value with its source.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from typing import Literal

from reconloss import option_ranges
from reconloss import settings as S

MAX_SHOWN = 6  # problems printed before "... and N more": the whole message stays within ~10 lines


class ConfigError(Exception):
    """A configuration with problems; str() is the short message the user sees."""


# ----------------------------------------------------------------------------- helpers


def _fmt(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _did_you_mean(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _allowed(choices) -> str:
    choices = list(choices)
    return "allowed: " + (", ".join(map(str, choices)) if choices else "none")


def _type_name(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "the text", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def _got(value) -> str:
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) or value is None else ""
    if isinstance(value, (list, dict)):
        shown = json.dumps(value)
        shown = shown if len(shown) <= 30 else shown[:27] + "..."
    return f"{_type_name(value)} {shown}".strip()


def _name(value) -> str:
    """A name as the user wrote it: 'laplace', or the value with its type when it is not text."""
    return repr(value) if isinstance(value, str) else _got(value)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Checker:
    def __init__(self):
        self.problems: list[tuple[str, str]] = []
        self.table = S.likelihood_table()

    def bad(self, path, message):
        self.problems.append((_fmt(path), message))

    def unknown_key(self, path, key, allowed):
        self.bad([*path, key], f"unknown key; {_did_you_mean(key, allowed)}{_allowed(allowed)}")

    def mapping(self, path, value) -> bool:
        if not isinstance(value, dict):
            self.bad(path, f"expected a mapping (key: value), got {_got(value)}")
            return False
        return True

    # ------------------------------------------------------------------ one value against an annotation

    def value(self, path, v, tp, meta) -> None:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
            if v is None:
                return
            tp = next(a for a in args if a is not type(None))
            origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is Literal:
            if v not in args or isinstance(v, bool):
                self.bad(path, f"{_name(v)} is not allowed; {_did_you_mean(v, args)}{_allowed(args)}")
            return
        if origin is list:
            if not isinstance(v, list):
                self.bad(path, f"expected a list, got {_got(v)}")
                return
            if meta.get("min_items") and len(v) < meta["min_items"]:
                self.bad(path, f"needs at least {meta['min_items']} item(s), got {_got(v)}")
            if meta.get("unique") and len(set(map(json.dumps, v))) != len(v):
                self.bad(path, f"items must be distinct, got {_got(v)}")
            for i, item in enumerate(v):
                self.value([*path, i], item, args[0], meta)
            return
        if dataclasses.is_dataclass(tp):
            self.record(path, v, tp)
            return
        if origin is dict:
            if not self.mapping(path, v):
                return
            for key, item in v.items():
                if meta.get("keys") == "dataset" and key not in S.DATASET_NAMES:
                    self.unknown_key(path, key, S.DATASET_NAMES)
                    continue
                self.value([*path, key], item, args[1], meta)
            return
        self.scalar(path, v, tp, meta)

    def record(self, path, v, tp) -> None:
        """A mapping with exactly the fields of dataclass tp, each of its type."""
        if not self.mapping(path, v):
            return
        hints = typing.get_type_hints(tp)
        names = [f.name for f in dataclasses.fields(tp)]
        for key in v:
            if key not in hints:
                self.unknown_key(path, key, names)
        for name in names:
            if name not in v:
                self.bad([*path, name], "missing")
            else:
                self.value([*path, name], v[name], hints[name], {})

    def scalar(self, path, v, tp, meta) -> None:
        if tp is bool:
            if not isinstance(v, bool):
                self.bad(path, f"expected true or false, got {_got(v)}")
            return
        if tp is int:
            if not isinstance(v, int) or isinstance(v, bool):
                self.bad(path, f"expected an integer, got {_got(v)}")
                return
        elif tp is float:
            if not _is_number(v):
                hint = ""
                if isinstance(v, str):
                    try:
                        float(v)
                        hint = " (YAML reads 1e-3 as text: write 1.0e-3)"
                    except ValueError:
                        pass
                self.bad(path, f"expected a number, got {_got(v)}{hint}")
                return
        elif tp is str:
            if not isinstance(v, str):
                self.bad(path, f"expected text, got {_got(v)}")
                return
            if meta.get("pattern"):
                import re

                if not re.search(meta["pattern"], v):
                    self.bad(path, f"{v!r} does not match {meta['pattern']}")
            return
        self.range(path, v, meta)

    def range(self, path, v, meta) -> None:
        if meta.get("minimum") is not None and v < meta["minimum"]:
            self.bad(path, f"{v} is out of range; allowed: >= {meta['minimum']}")
        elif meta.get("exclusive_minimum") is not None and v <= meta["exclusive_minimum"]:
            self.bad(path, f"{v} is out of range; allowed: > {meta['exclusive_minimum']}")
        elif meta.get("maximum") is not None and v > meta["maximum"]:
            self.bad(path, f"{v} is out of range; allowed: <= {meta['maximum']}")
        elif meta.get("exclusive_maximum") is not None and v >= meta["exclusive_maximum"]:
            self.bad(path, f"{v} is out of range; allowed: < {meta['exclusive_maximum']}")

    # ------------------------------------------------------------------ sections and likelihoods

    def section(self, path, name, given) -> None:
        if not self.mapping(path, given):
            return
        fields = {f.name: f for f in S.fields_of(name)}
        for key, v in given.items():
            if key not in fields:
                self.unknown_key(path, key, fields)
            else:
                self.value([*path, key], v, S.type_of(name, key), dict(fields[key].metadata))

    def likelihood_name(self, path, name) -> bool:
        if name not in self.table:
            self.bad(path, f"unknown likelihood {_name(name)}; {_did_you_mean(name, self.table)}"
                           f"{_allowed(self.table)}")
            return False
        return True

    def likelihood_options(self, path, name, options, inherited=None) -> None:
        """Names, types and ranges of one likelihood's options; `inherited`: the options a variant's go
        over (its likelihood's likelihood_options), for the ranges that relate two options."""
        if not self.mapping(path, options):
            return
        allowed = self.table[name]
        for key in options:
            if key not in allowed:
                self.bad([*path, key], f"{name} has no option {key!r}; {_did_you_mean(key, allowed)}"
                                       f"{_allowed(allowed)}")
        inherited = inherited if isinstance(inherited, dict) else {}
        for key, kind, text in option_ranges.problems(allowed, options, inherited):
            v, spec = options[key], allowed[key]
            choices = spec.get("range", {}).get("choices")
            if kind == "type":
                self.bad([*path, key], f"expected {text} (default {json.dumps(spec['default'])}), got {_got(v)}")
            elif choices:
                self.bad([*path, key], f"{_name(v)} is not allowed; {_did_you_mean(v, choices)}{_allowed(choices)}")
            else:
                self.bad([*path, key], f"{v} is out of range; allowed: {text}")

    # ------------------------------------------------------------------ the whole configuration

    def config(self, config) -> None:
        if not self.mapping([], config):
            return
        allowed = [*S.TOP_LEVEL, *S.SECTIONS]
        for key in config:
            if key not in allowed:
                self.unknown_key([], key, allowed)
        # A configuration of claims alone (a `claims` section, `likelihoods: []`) has no grid to give β or seeds.
        claims_only = "claims" in config and config.get("likelihoods") == [] and not config.get("variants")
        for key, (required, _) in S.TOP_LEVEL.items():
            if claims_only and key in S.GRID_AXES:
                continue
            if required and key not in config:
                self.bad([key], "missing: a configuration stands alone and must list its grid "
                                "(datasets, likelihoods, betas, seeds)")
        self.grid(config)
        variants = config.get("variants") or {}
        if self.mapping(["variants"], variants):
            for label, spec in variants.items():
                self.variant(["variants", label], label, spec, config)
        lik_options = config.get("likelihood_options") or {}
        if self.mapping(["likelihood_options"], lik_options):
            for name, options in lik_options.items():
                if name not in self.table:
                    self.unknown_key(["likelihood_options"], name, self.table)
                else:
                    self.likelihood_options(["likelihood_options", name], name, options)
        for name in S.SECTIONS:
            if name in config:
                self.section([name], name, config[name])
        per_dataset = config.get("dataset_settings") or {}
        if self.mapping(["dataset_settings"], per_dataset):
            for dataset, sections in per_dataset.items():
                path = ["dataset_settings", dataset]
                if dataset not in S.DATASET_NAMES:
                    self.unknown_key(["dataset_settings"], dataset, S.DATASET_NAMES)
                elif self.mapping(path, sections):
                    for name, given in sections.items():
                        if name not in S.PER_DATASET:
                            self.unknown_key(path, name, S.PER_DATASET)
                        else:
                            self.section([*path, name], name, given)
        self.claim_ids(config.get("claims"))
        self.data_ranges(config)

    def claim_ids(self, claims) -> None:
        """claims.only names claims that exist (reconloss.claims: torch-free, no pandas at import)."""
        only = claims.get("only") if isinstance(claims, dict) else None
        if not isinstance(only, list):
            return
        from reconloss.claims import CLAIMS

        known = [c.id for c in CLAIMS]
        for i, claim_id in enumerate(only):
            if claim_id not in known:
                self.bad(["claims", "only", i], f"unknown claim {_name(claim_id)}; {_did_you_mean(claim_id, known)}")

    def grid(self, config) -> None:
        meta = {"min_items": 1, "unique": True}
        if "datasets" in config:
            self.value(["datasets"], config["datasets"], list[Literal[tuple(S.DATASET_NAMES)]], meta)
        if "likelihoods" in config:
            v = config["likelihoods"]
            if not isinstance(v, list):
                self.bad(["likelihoods"], f"expected a list, got {_got(v)}")
            else:
                for i, name in enumerate(v):
                    self.likelihood_name(["likelihoods", i], name)
                if len(set(map(json.dumps, v))) != len(v):
                    self.bad(["likelihoods"], "items must be distinct")
                if not v and not config.get("variants") and "claims" not in config:
                    self.bad(["likelihoods"], "the grid is empty; list at least one likelihood (or a variant), "
                                              "or give a `claims` section to run the claims alone")
        if "betas" in config:
            self.value(["betas"], config["betas"], list[float], {**meta, "exclusive_minimum": 0})
            betas = config["betas"]
            if isinstance(betas, list) and all(_is_number(b) for b in betas):
                from reconloss.plan.runs import beta_label  # lazy: runs imports the claims

                labels = [beta_label(b) for b in betas]
                if len(set(labels)) != len(labels) and len(set(betas)) == len(betas):
                    self.bad(["betas"], f"two values print the same ({labels}); give distinct values")
        if "seeds" in config:
            self.value(["seeds"], config["seeds"], list[int], {**meta, "minimum": 0})

    def variant(self, path, label, spec, config) -> None:
        import re

        if not isinstance(label, str) or not re.match(S.LABEL_PATTERN, label):
            self.bad(path, f"label {label!r} must match {S.LABEL_PATTERN}")
        elif label in (config.get("likelihoods") or []) or label in self.table:
            self.bad(path, f"variants: label {label!r} is already a likelihood name; give the variant another label")
        if not self.mapping(path, spec):
            return
        for key in spec:
            if key not in S.VARIANT_KEYS:
                self.unknown_key(path, key, S.VARIANT_KEYS)
        if "train" in spec:
            self.section([*path, "train"], "train", spec["train"])
        if "likelihood" not in spec:
            self.bad([*path, "likelihood"], f"missing: the likelihood the variant runs; {_allowed(self.table)}")
        elif self.likelihood_name([*path, "likelihood"], spec["likelihood"]):
            lik_options = config.get("likelihood_options")
            inherited = lik_options.get(spec["likelihood"]) if isinstance(lik_options, dict) else None
            self.likelihood_options([*path, "options"], spec["likelihood"], spec.get("options") or {}, inherited)

    def data_ranges(self, config) -> None:
        """train.data_range != 1 only for likelihoods on the real line with an identity mean, wherever
        it is set (train, a dataset's train, a variant's train) and whichever label it reaches."""
        if self.problems:
            return  # the values below are known to be well-formed only when nothing else is wrong
        variants = config.get("variants") or {}
        per_dataset = config.get("dataset_settings") or {}
        labels = [(label, label, {}, {}) for label in config.get("likelihoods") or []]
        labels += [(label, spec["likelihood"], spec.get("options") or {}, spec.get("train") or {})
                   for label, spec in variants.items()]
        for label, name, options, own in labels:
            for dataset in config.get("datasets") or []:
                ds = (per_dataset.get(dataset) or {}).get("train") or {}
                if "data_range" in own:
                    path, value = ["variants", label, "train", "data_range"], own["data_range"]
                elif "data_range" in ds:
                    path, value = ["dataset_settings", dataset, "train", "data_range"], ds["data_range"]
                else:
                    path, value = ["train", "data_range"], (config.get("train") or {}).get("data_range", 1.0)
                if value == 1:
                    continue
                options = {**(config.get("likelihood_options") or {}).get(name, {}), **options}
                if name not in S.DATA_RANGE_LIKELIHOODS:
                    self.bad(path, f"{value} reaches {label!r} ({name}), which needs data in [0, 1] (or 8-bit "
                                   f"levels); data_range != 1 is for {', '.join(S.DATA_RANGE_LIKELIHOODS)}")
                elif options.get("mean_activation", "sigmoid") != "identity":
                    self.bad(path, f"{value} reaches {label!r} ({name}), whose sigmoid mean cannot leave [0, 1]; "
                                   "give it options: {mean_activation: identity}")
                else:
                    continue
                break  # one message per label is enough


def check(config) -> list[tuple[str, str]]:
    """Every problem of `config` as (key path, message); [] when it is valid."""
    checker = Checker()
    checker.config(config)
    return checker.problems


# ----------------------------------------------------------------------------- effective configuration


def effective(config: dict) -> dict:
    """The configuration with every default of reconloss.settings filled in (dataset_settings stay sparse)."""
    out = json.loads(json.dumps(config))
    out.setdefault("variants", {})
    out.setdefault("likelihood_options", {})
    out.setdefault("dataset_settings", {})
    for label, spec in out["variants"].items():
        spec.setdefault("options", {})
    for name in S.SECTIONS:
        out[name] = {**S.defaults(name, config_only=True), **(out.get(name) or {})}
    order = [*S.TOP_LEVEL, *S.SECTIONS]
    return {k: out[k] for k in sorted(out, key=lambda k: order.index(k) if k in order else len(order))}


def message(problems, source) -> str:
    lines = [f"reconloss: {source} is not a valid configuration; nothing was run:"]
    lines += [f"  {path or '(top level)'}: {msg}" for path, msg in problems[:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        lines.append(f"  ... and {len(problems) - MAX_SHOWN} more")
    lines.append("Every key and its default: docs/configuration.md; the effective values: make config-show")
    return "\n".join(lines)


def effective_or_raise(config: dict, source: str) -> dict:
    problems = check(config)
    if problems:
        raise ConfigError(message(problems, source))
    return effective(config)


def _deep_update(base: dict, new: dict) -> None:
    """Snakemake's merge of configuration files: mappings key by key, everything else replaced."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v


def load_files(paths) -> dict:
    """The effective configuration of one or more files, merged as Snakemake merges --configfile."""
    from pathlib import Path

    import yaml

    merged = {}
    for path in paths:
        _deep_update(merged, yaml.safe_load(Path(path).read_text()) or {})
    return effective_or_raise(merged, " + ".join(map(str, paths)))
