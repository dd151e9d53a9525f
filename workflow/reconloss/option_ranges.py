"""The allowed values of every likelihood option, and the one check of them (torch-free).

Each likelihood class declares its options' ranges next to its constructor
(`option_ranges = {"sigma": Range(exclusive_minimum=0)}`); `make generate`
writes them, with each option's default and type, into likelihoods/options.json.
Both checks run the functions below on that same description:

- the constructor (reconloss.likelihoods.base.Likelihood._options), on the
  description built from the class, when a job starts;
- the plan-time check (reconloss.plan.config_check), on options.json, before
  Snakemake plans a single job, and without importing torch.

So a range cannot differ between plan time and run time; tests/test_settings.py
fails when options.json differs from the classes.

A spec is the JSON dict of one option: {"default", "type", ["items", "length"],
["nullable"], "range"}; `type` is number, integer, boolean, string, array
(of `length` `items`) or any.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """The allowed values of one option. Numbers are always finite; the bounds hold for a number and
    for each item of a list of numbers.

    choices: the allowed values (text options); ordered: a list of numbers strictly increasing;
    above: the name of another option of the same likelihood that this one must exceed
    (sigma_init > floor), compared after the options are merged over their defaults.
    """

    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple | None = None
    ordered: bool = False
    above: str | None = None

    def to_json(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v != f.default:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        return out


# ----------------------------------------------------------------------------- the description of an option


def option_spec(default, nullable=False, allowed: Range | None = None) -> dict:
    """The torch-free description of one option from its default value and its declared range;
    `nullable` where the signature's annotation admits None (`clamp: tuple | None = ...`)."""
    if isinstance(default, bool):
        kind = {"type": "boolean"}
    elif isinstance(default, int):
        kind = {"type": "integer"}
    elif isinstance(default, float):
        kind = {"type": "number"}
    elif isinstance(default, str):
        kind = {"type": "string"}
    elif isinstance(default, (tuple, list)) and default:
        items = "number" if all(is_number(x) for x in default) else "string"
        kind = {"type": "array", "items": items, "length": len(default)}
        default = list(default)
    else:  # None or anything else: any value; the class checks it when the job starts
        kind = {"type": "any"}
    spec = {"default": default, **kind, **({"nullable": True} if nullable and kind["type"] != "any" else {})}
    if allowed is not None:
        spec["range"] = allowed.to_json()  # {}: any value of the type (numbers: any finite number)
    return spec


def is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def type_ok(spec, v) -> bool:
    """Whether `v` has the option's type (None where it is nullable)."""
    if v is None:
        return bool(spec.get("nullable")) or spec["type"] == "any"
    kind = spec["type"]
    if kind == "array":
        return isinstance(v, (list, tuple)) and len(v) == spec["length"] and all(
            is_number(x) if spec["items"] == "number" else isinstance(x, str) for x in v)
    return {"number": is_number(v), "integer": isinstance(v, numbers.Integral) and not isinstance(v, bool),
            "boolean": isinstance(v, bool), "string": isinstance(v, str), "any": True}.get(kind, False)


def type_text(spec) -> str:
    """What the option's type allows, in words: 'a number', 'a list of 2 numbers or null'."""
    if spec["type"] == "array":
        want = f"a list of {spec['length']} {spec['items']}s"
    else:
        want = {"number": "a number", "integer": "an integer", "boolean": "true or false",
                "string": "text"}.get(spec["type"], spec["type"])
    return want + (" or null" if spec.get("nullable") else "")


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def range_text(spec, values=None) -> str:
    """The allowed range in the short form of the plan-time messages: '> 0', '> 0 and < 0.5',
    '[lo, hi] with 0 < lo < hi < 1', 'sigmoid, identity', 'any finite number'; `values` (the
    merged options) gives the value of the option named by `above`."""
    r = spec.get("range", {})
    if "choices" in r:
        text = ", ".join(map(str, r["choices"]))
    elif spec["type"] == "array" and r.get("ordered"):
        names = ["lo", "hi"] if spec["length"] == 2 else [f"x{i + 1}" for i in range(spec["length"])]
        chain = " < ".join(names)
        if r.get("minimum") is not None:
            chain = f"{_num(r['minimum'])} <= {chain}"
        elif r.get("exclusive_minimum") is not None:
            chain = f"{_num(r['exclusive_minimum'])} < {chain}"
        if r.get("maximum") is not None:
            chain = f"{chain} <= {_num(r['maximum'])}"
        elif r.get("exclusive_maximum") is not None:
            chain = f"{chain} < {_num(r['exclusive_maximum'])}"
        text = f"[{', '.join(names)}] with {chain}"
    else:
        parts = [f"{op} {_num(r[key])}" for key, op in (("minimum", ">="), ("exclusive_minimum", ">"),
                                                           ("maximum", "<="), ("exclusive_maximum", "<"))
                 if r.get(key) is not None]
        if r.get("above"):
            other = (values or {}).get(r["above"])
            parts.append(f"> {r['above']}" + (f" ({_num(other)})" if is_number(other) else ""))
        text = " and ".join(parts) or "any finite number"
        if spec["type"] == "array":
            text = f"each {text}"
    return text + (" or null" if spec.get("nullable") else "")


def in_range(spec, v) -> bool:
    """Whether `v`, of the option's type, lies in its declared range (the relation `above` aside)."""
    if v is None:
        return True
    r = spec.get("range", {})
    if "choices" in r:
        return v in r["choices"]
    items = list(v) if spec["type"] == "array" else [v]
    if not all(is_number(x) for x in items):
        return True  # text items: no range
    for x in items:
        if not math.isfinite(x):
            return False
        if r.get("minimum") is not None and x < r["minimum"]:
            return False
        if r.get("exclusive_minimum") is not None and x <= r["exclusive_minimum"]:
            return False
        if r.get("maximum") is not None and x > r["maximum"]:
            return False
        if r.get("exclusive_maximum") is not None and x >= r["exclusive_maximum"]:
            return False
    return not r.get("ordered") or all(a < b for a, b in zip(items, items[1:]))


# ----------------------------------------------------------------------------- options of one likelihood


def problems(specs: dict, given: dict, inherited: dict | None = None) -> list[tuple[str, str, str]]:
    """(option, "type" or "range", what is allowed) for every option of `given` that is wrong.

    specs: {option: spec} of one likelihood; given: the options set at this place (a variant's
    `options`, the constructor's arguments); inherited: options set below it (the likelihood's
    `likelihood_options` under a variant), over the defaults. Unknown option names are the
    caller's to report. A relation (`above`) is checked on the merged options and reported at
    the option of the pair that `given` sets (the constrained one when it sets both): a pair
    that only `inherited` sets is reported where it is set.
    """
    out, bad = [], set()
    for name, v in given.items():
        if name not in specs:
            continue
        if not type_ok(specs[name], v):
            out.append((name, "type", type_text(specs[name])))
            bad.add(name)
        elif not in_range(specs[name], v):
            out.append((name, "range", range_text(specs[name])))
            bad.add(name)
    merged = {k: s["default"] for k, s in specs.items()}
    merged.update({k: v for k, v in (inherited or {}).items()
                   if k in specs and type_ok(specs[k], v) and in_range(specs[k], v)})  # a bad one is reported where set
    merged.update({k: v for k, v in given.items() if k in specs})
    for name, spec in specs.items():
        other = spec.get("range", {}).get("above")
        if not other or name in bad or other in bad:
            continue
        a, b = merged.get(name), merged.get(other)
        if not (is_number(a) and is_number(b)) or a > b:
            continue
        if name in given:
            out.append((name, "range", range_text(spec, merged)))
        elif other in given:
            own = range_text(specs[other])
            relation = f"< {name} ({_num(a)})"
            out.append((other, "range", relation if own == "any finite number" else f"{own} and {relation}"))
    order = list(given)
    return sorted(out, key=lambda p: order.index(p[0]))


def normalised(spec, v):
    """The value a class keeps: a float for a number, a tuple of floats for a list of numbers."""
    if v is None:
        return None
    if spec["type"] == "number":
        return float(v)
    if spec["type"] == "integer":
        return int(v)
    if spec["type"] == "array":
        return tuple(float(x) if spec["items"] == "number" else x for x in v)
    return v


def checked(specs: dict, given: dict) -> dict:
    """The constructor's check: `given` normalised (see `normalised`), or a ValueError naming the
    first wrong option, what it must be and what it got."""
    found = problems(specs, given)
    if found:
        name, kind, allowed = found[0]
        if kind == "range" and "choices" in specs[name].get("range", {}):
            allowed = f"one of {allowed}"
        raise ValueError(f"option {name!r} must be {allowed}, got {given[name]!r}")
    return {name: normalised(specs[name], v) for name, v in given.items()}
