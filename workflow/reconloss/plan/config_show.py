"""`python -m reconloss config-show`: the effective configuration, each value with its source.

Kept apart from the plan-time check (reconloss.plan.config_check), which Snakemake
imports at every start: this is what a person runs to see which file, --set or
default each value comes from.
"""

import argparse
import json
import sys
from pathlib import Path

from reconloss import settings as S
from reconloss.plan.config_check import ConfigError, _deep_update, check, effective, message


def _leaves(node, path=()):
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, node


def _set_path(node, path, value):
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _get_path(node, path):
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def layered(layers: list[tuple[str, dict]]) -> tuple[dict, dict]:
    """(merged config, {key path: source}) of configuration layers, later winning."""
    merged, source = {}, {}
    for name, layer in layers:
        _deep_update(merged, json.loads(json.dumps(layer)))
        for path, _ in _leaves(layer):
            for other in [p for p in source if p[:len(path)] == path or path[:len(p)] == p]:
                del source[other]
            source[path] = name
    return merged, source


def _source_of(sources, path):
    for i in range(len(path), 0, -1):
        if path[:i] in sources:
            return sources[path[:i]]
    return None


def show(layers: list[tuple[str, dict]]) -> str:
    """The effective configuration as YAML, each value followed by its source (a file, --set or default)."""
    import yaml

    merged, sources = layered(layers)
    problems = check(merged)
    if problems:
        raise ConfigError(message(problems, " + ".join(name for name, _ in layers) or "the configuration"))
    eff = effective(merged)
    lines = []

    def emit(key, value, indent, src):
        text = yaml.safe_dump({key: value}, default_flow_style=True, width=10**6).strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        lines.append(f"{'  ' * indent}{text:<{max(1, 46 - 2 * indent)}} # {src}")

    for key, value in eff.items():
        if key in S.SECTIONS:
            lines.append(f"{key}:")
            for sub, v in value.items():
                emit(sub, v, 1, _source_of(sources, (key, sub)) or f"default (settings.{S.SECTIONS[key].__name__})")
        elif key == "dataset_settings" and value:
            lines.append(f"{key}:  # per dataset, over the sections above")
            for dataset, sections in value.items():
                lines.append(f"  {dataset}:")
                for name, over in sections.items():
                    lines.append(f"    {name}:")
                    for sub, v in over.items():
                        emit(sub, v, 3, _source_of(sources, (key, dataset, name, sub)) or "default")
        else:
            under = sorted({src for path, src in sources.items() if path[:1] == (key,)})
            emit(key, value, 0, " + ".join(under) or "default")
    return "\n".join(lines)


def _parse_set(items):
    import yaml

    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE, e.g. train.epochs=5")
        _set_path(out, key.split("."), yaml.safe_load(raw))
    return out


def main(argv=None) -> None:
    import yaml

    p = argparse.ArgumentParser(prog="python -m reconloss config-show",
                                description="The effective configuration, each value with its source.")
    p.add_argument("configfiles", nargs="*", metavar="FILE",
                   help="configuration files, later ones over earlier ones (default: config.yaml)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="like snakemake --config, with dotted keys: train.epochs=5")
    args = p.parse_args(argv)
    files = args.configfiles or ["config.yaml"]
    layers = []
    for f in files:
        if not Path(f).exists():
            sys.exit(f"reconloss config-show: {f} does not exist")
        layers.append((f, yaml.safe_load(Path(f).read_text()) or {}))
    if args.set:
        layers.append(("--set", _parse_set(args.set)))
    try:
        print(show(layers))
    except ConfigError as e:
        sys.exit(str(e))
