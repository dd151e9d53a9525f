"""Every setting of the workflow, once: one typed definition per stage, with defaults and a help line.

The configuration's sections (`train`, `model`, `classifier`, `evaluate`,
`data`, `figures`, `pack`, `claims`) are dataclasses below; each field holds the
setting's type, its default and, in its metadata, one help line and its
allowed range. Everything else is derived from them:

- the defaults the code uses (`defaults(section)`, `EVAL_DEFAULTS`, what
  `reconloss.data.datasets` and `reconloss.report.figures` accept);
- the JSON schema, workflow/schemas/config.schema.yaml (`schema()`);
- the configuration table of docs/configuration.md (`markdown_table()`);
- the plan-time check of a configuration (reconloss.plan.config_check).

`python -m reconloss generate` writes the schema, the configuration table and the
likelihood option table; tests/test_settings.py fails when any committed copy
differs from what this module (or the likelihood classes) say.

Why dataclasses and not pydantic: this module is imported by the Snakemake
process at every start and by every job; dataclasses are standard library
(no new dependency to pin, no conda-forge mapping, nothing to import but
`dataclasses` and `typing`), the few constraints we need (a minimum, a
choice, a pattern) fit in field metadata, and a ~150-line checker gives
messages shaped for this workflow (key path, what was wrong, what is
allowed, did-you-mean) rather than pydantic's generic ones.

Torch-free by contract: the likelihood names, options and their ranges come
from the generated table likelihoods/options.json, never from the classes.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

PACKAGE = Path(__file__).resolve().parent
LIKELIHOOD_OPTIONS_FILE = PACKAGE / "likelihoods" / "options.json"

#: Dataset names, in the order of reconloss.data.datasets.DATASETS (a test keeps them equal).
DATASET_NAMES = ["digits", "mnist", "fashion_mnist", "cifar10", "photo_patches"]
DEVICE_PATTERN = r"^(auto|cpu|cuda(:[0-9]+)?|mps)$"
DEVICE_HELP = "auto (the GPU when one is visible, else the CPU), cpu, cuda, cuda:N or mps"


def setting(default, help, *, minimum=None, exclusive_minimum=None, maximum=None, exclusive_maximum=None,
            pattern=None, min_items=None, unique=False, keys=None, config=True, example=None):
    """A dataclass field with its help line and range.

    keys: for a dict setting, "dataset" when its keys must be dataset names;
    config=False: settable on the command line only, not in a configuration.
    """
    meta = {"help": help, "minimum": minimum, "exclusive_minimum": exclusive_minimum, "maximum": maximum,
            "exclusive_maximum": exclusive_maximum, "pattern": pattern, "min_items": min_items,
            "unique": unique, "keys": keys, "config": config, "example": example}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: json.loads(json.dumps(default)), metadata=meta)
    return field(default=default, metadata=meta)


# ----------------------------------------------------------------------------- the sections


@dataclass
class Train:
    """train: the β-VAE training of every run."""

    epochs: int = setting(100, "passes over the training set", minimum=1)
    batch_size: int = setting(64, "images per optimiser step", minimum=1)
    lr: float = setting(1.0e-3, "Adam learning rate", exclusive_minimum=0)
    latent_dim: int = setting(8, "size of the latent code z", minimum=1)
    grad_clip: Optional[float] = setting(None, "max gradient norm; null: no clipping", exclusive_minimum=0)
    device: str = setting("auto", DEVICE_HELP, pattern=DEVICE_PATTERN)
    tf32: bool = setting(False, "allow TF32 matmuls on CUDA (faster, ~1e-3 relative error)")
    checkpoint_every: float = setting(60, "seconds between checkpoints during training; 0: every epoch; "
                                          "one is always written at the end", minimum=0)
    data_range: float = setting(1.0, "the data's range: x = level / scale * data_range (255: the [0, 255] "
                                     "experiment; Gaussians with mean_activation identity only)",
                                exclusive_minimum=0)


@dataclass
class Model:
    """model: the encoder and decoder architecture."""

    arch: Literal["auto", "mlp", "conv"] = setting("auto", "auto: MLP for grey 8x8 and 28x28 images, conv for RGB")
    hidden: list[int] = setting([256, 128], "MLP hidden layer widths", minimum=1, min_items=1)
    channels: list[int] = setting([32, 64], "conv channels per stage", minimum=1, min_items=1)


@dataclass
class Classifier:
    """classifier: the FID feature classifier of each dataset.

    null means the recipe for the data's shape (CLASSIFIER_RECIPES below).
    """

    epochs: Optional[int] = setting(None, "training epochs; null: by data shape (digits 60, 28x28 6, RGB 40)",
                                    minimum=1)
    batch_size: Optional[int] = setting(None, "images per step; null: by data shape (64 or 128)", minimum=1)
    lr: Optional[float] = setting(None, "peak one-cycle learning rate; null: by data shape (2e-3)",
                                  exclusive_minimum=0)
    weight_decay: Optional[float] = setting(None, "AdamW weight decay; null: by data shape", minimum=0)
    seed: int = setting(0, "seed of initialisation, shuffling and augmentation; classifier k trains with "
                           "seed + k", minimum=0)
    device: str = setting("auto", DEVICE_HELP, pattern=DEVICE_PATTERN)
    count: int = setting(3, "classifiers per dataset, differing in their seed; every FID and classifier score is "
                            "computed under each (columns {metric}_c{k}; unsuffixed: classifier 0's, in "
                            "results/classifier/{dataset}/; classifier k in its c~{k}/)",
                         minimum=1)


@dataclass
class Evaluate:
    """evaluate: the metrics of every run."""

    fid_samples: int = setting(2000, "generated images per FID", minimum=2)
    iw_samples: int = setting(20, "k of the importance-weighted log-likelihood bound", minimum=1)
    batch_size: int = setting(500, "images per evaluation batch", minimum=1)
    n_images: int = setting(10, "showcase test images kept for the reconstruction figures", minimum=1)
    n_sample_grid: int = setting(64, "prior samples kept for the samples figure and samples.png", minimum=1)
    device: str = setting("auto", DEVICE_HELP, pattern=DEVICE_PATTERN)
    inception_weights: Optional[str] = setting(None, "local file of pytorch-fid's FID Inception weights; "
                                                     "enables Inception FID (CIFAR-10)")
    inception_dims: Literal[64, 192, 768, 2048] = setting(2048, "Inception feature layer of the Inception FID")


@dataclass
class Data:
    """data: where datasets come from."""

    raw_dir: str = setting("results/data/raw", "where downloaded archives are kept")
    test_fraction: float = setting(0.2, "digits only: held-out share", exclusive_minimum=0, exclusive_maximum=1)
    split_seed: int = setting(0, "digits only: seed of the train/test split", minimum=0)
    mirrors: dict[str, list[str]] = setting({}, "dataset -> base URLs (http(s):// or file://) or local folders "
                                                "(relative to the working directory) tried instead of torchvision's own",
                                            pattern=r"^((https?|file)://|[^:]*$)", min_items=1, keys="dataset",
                                            example='mnist: ["file:///data/MNIST/raw/"]')


@dataclass
class Figures:
    """figures: the study's figures."""

    comparison_beta: float = setting(1.0, "β of the reconstruction comparison sheet (closest available)",
                                     exclusive_minimum=0)
    n_show: int = setting(8, "showcase test images (rows) in the reconstruction sheet", minimum=1)
    n_samples: int = setting(8, "samples per likelihood in the samples figure", minimum=1)
    dpi: int = setting(150, "resolution of the PNGs", minimum=10)
    formats: list[Literal["png", "pdf"]] = setting(["png", "pdf"], "file formats", min_items=1, config=False)
    only: Optional[list[str]] = setting(None, "only these figures (null: all)", config=False)


@dataclass
class Pack:
    """pack: which runs share one training process."""

    vary: list[Literal["beta", "seed"]] = setting(["beta", "seed"], "grid axes along which runs of one "
                                                  "(dataset, likelihood label) share one training process; "
                                                  "[]: one run per job", unique=True)
    max_runs: int = setting(64, "most runs stacked into one model; more train in several stacks in turn",
                            minimum=1)


@dataclass
class FollowUp:
    """One follow-up need: runs of one label at these β, planned from an inconclusive verdict
    (reconloss.plan.follow_up) and written by `make claims` into results/claims/follow_up/round~N.yaml."""

    dataset: str
    label: str
    betas: list[float]
    seeds: int
    epochs: int
    why: str


@dataclass
class Claims:
    """claims: the runs that decide the study's claims (`snakemake claims`, reconloss.claims)."""

    only: Optional[list[str]] = setting(None, "only these claims, by id (null: every claim); their runs alone "
                                              "are trained", min_items=1, unique=True)
    seeds: list[int] = setting([0, 1, 2], "seeds of every claim run: the replicates whose spread the verdicts "
                                          "are judged by", minimum=0, min_items=2, unique=True)
    max_epochs: Optional[int] = setting(None, "cap on every claim run's epochs, for a cut-down run (null: each "
                                              "claim's own, up to 16)", minimum=1)
    rounds: int = setting(2, "most follow-up rounds `make claims` runs after the first; each trains the runs that "
                             "would decide its inconclusive verdicts (a β past a grid's edge or between two "
                             "neighbours, more seeds, more epochs); 0: none", minimum=0)
    follow_up_budget: int = setting(300, "most run-epochs the follow-up rounds together add per data set; over it, a "
                                         "round keeps the claims that fit, cheapest first, and refuses the others "
                                         "with their cost", minimum=0)
    follow_ups: list[FollowUp] = setting([], "the runs earlier follow-up rounds added (written by `make claims`, "
                                             "not typed by hand)")


#: Config section -> its definition, in the order of the configuration table.
SECTIONS = {"train": Train, "model": Model, "classifier": Classifier, "evaluate": Evaluate,
            "data": Data, "figures": Figures, "pack": Pack, "claims": Claims}
#: Sections that dataset_settings may override per dataset.
PER_DATASET = ["train", "model", "classifier", "evaluate"]

#: The classifier's recipes by data shape, used where a Classifier setting is null (see classifier.py).
#: Measured on a shared 2-core CPU, seed 0: digits 97.8% (~1-7 s), MNIST 99.47% and FashionMNIST 91.2%
#: (seed 1: 91.3%), 6 epochs each, 1.5-2.5 min idle, up to 8 min shared. CIFAR-10: untested on a GPU here.
CLASSIFIER_RECIPES = {
    "digits": {  # 1x8x8: an MLP is enough and trains in seconds
        "arch": {"kind": "mlp", "hidden": [128], "feature_dim": 32, "dropout": 0.2},
        "epochs": 60, "batch_size": 64, "lr": 2e-3, "weight_decay": 1e-4, "augment": {"shift": 0, "flip": False},
    },
    "small": {  # 1x28x28 (MNIST, FashionMNIST)
        "arch": {"kind": "cnn", "channels": [16, 32, 64], "convs": 1, "pool": "flatten", "feature_dim": 128,
                 "dropout": 0.3},
        "epochs": 6, "batch_size": 128, "lr": 2e-3, "weight_decay": 1e-4, "augment": {"shift": 2, "flip": False},
    },
    "color": {  # 3x32x32 (CIFAR-10): a VGG-style net, meant for a GPU
        "arch": {"kind": "cnn", "channels": [64, 128, 256], "convs": 2, "pool": "avg", "feature_dim": 128,
                 "dropout": 0.3},
        "epochs": 40, "batch_size": 128, "lr": 2e-3, "weight_decay": 5e-4, "augment": {"shift": 4, "flip": True},
    },
}


# ----------------------------------------------------------------------------- the grid (top level)

#: Top-level keys that are not sections: (required, help). The grid has no default: a configuration says what to run.
TOP_LEVEL = {
    "datasets": (True, "datasets of the grid: " + ", ".join(DATASET_NAMES) + " (digits: scikit-learn; "
                       "photo_patches: patches of the photographs scikit-image and scikit-learn ship, a colour "
                       "stand-in for cifar10; both offline)"),
    "likelihoods": (True, "likelihoods of the grid, by name (README.md, The likelihoods)"),
    "betas": (True, "β values of the grid (> 0)"),
    "seeds": (True, "seeds of the grid (integers >= 0)"),
    "variants": (False, "extra grid entries under labels of their own, e.g. "
                        "`gaussian_fixed_sigma0.1: {likelihood: gaussian_fixed, options: {sigma: 0.1}}`; "
                        "`train:` overrides train settings for that label only"),
    "likelihood_options": (False, "options of a likelihood wherever it runs under its own name, e.g. "
                                  "`{continuous_bernoulli: {clamp: [1.0e-3, 0.999]}}`"),
    "dataset_settings": (False, "per-dataset overrides of " + ", ".join(PER_DATASET) +
                                ", e.g. `cifar10: {train: {epochs: 200}}`"),
}
#: The grid's axes besides datasets and likelihoods: required wherever the grid is not empty.
GRID_AXES = ("betas", "seeds")
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: Variant keys: the likelihood it runs, its options, and train settings over the (dataset-merged) train
#: section for this label only.
VARIANT_KEYS = ["likelihood", "options", "train"]

#: Likelihoods that may train with train.data_range != 1: the Gaussians on the real line whose sigma
#: is not fitted to [0, 1] data. The others need x in [0, 1] (Bernoulli, continuous Bernoulli, Beta,
#: truncated Gaussian), the 8-bit levels x = k/255 (discretized logistic, categorical), or fit sigma
#: to the [0, 1] training set (gaussian_data_pixel). tests/test_config_variants.py checks the classes.
DATA_RANGE_LIKELIHOODS = ["gaussian_fixed", "gaussian_learned_global", "gaussian_learned_pixel",
                          "gaussian_predicted_image", "gaussian_predicted_pixel", "gaussian_optimal_pixel",
                          "gaussian_optimal_image", "gaussian_optimal_global"]


# ----------------------------------------------------------------------------- derived views


def fields_of(section: str):
    """The dataclass fields of a section that a configuration may set."""
    return [f for f in dataclasses.fields(SECTIONS[section]) if f.metadata["config"]]


def type_of(section: str, name: str):
    return typing.get_type_hints(SECTIONS[section])[name]


def defaults(section: str, *, config_only: bool = False) -> dict:
    """A fresh dict of the section's defaults (config_only: without command-line-only settings)."""
    obj = SECTIONS[section]()
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.metadata["config"] or not config_only}


def data_job_defaults() -> dict:
    """What `python -m reconloss data --settings` accepts: one dataset's mirrors, no raw_dir (a CLI argument)."""
    d = defaults("data")
    del d["raw_dir"], d["mirrors"]
    return {"mirrors": None, **d}


#: evaluate's defaults, for reconloss.evaluation.evaluate (read-only by convention: merged as {**EVAL_DEFAULTS, **given}).
EVAL_DEFAULTS = defaults("evaluate")
FIGURE_SETTINGS = defaults("figures")


def likelihood_table() -> dict:
    """{likelihood name: {option: {"default": ..., "type": ...}}}: the generated, torch-free table."""
    return json.loads(LIKELIHOOD_OPTIONS_FILE.read_text())["likelihoods"]


def option_default(likelihood: str, option: str):
    """The default of one likelihood option, as the class declares it (read from the generated table)."""
    return likelihood_table()[likelihood][option]["default"]


def likelihood_names() -> list[str]:
    return list(likelihood_table())


# ---------------------------------------------------------------------------- JSON schema


def _json_type(tp) -> dict:
    """JSON schema of a Python annotation (the few kinds used above)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if origin is Literal:
        return {"enum": list(args)}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {"type": "object", "properties": {f.name: _json_type(hints[f.name]) for f in dataclasses.fields(tp)},
                "required": [f.name for f in dataclasses.fields(tp)], "additionalProperties": False}
    if origin is list:
        return {"type": "array", "items": _json_type(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _json_type(args[1])}
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        inner = [a for a in args if a is not type(None)]
        assert len(inner) == 1, tp
        sub = _json_type(inner[0])
        if "type" in sub and sub["type"] != "object":
            return {**sub, "type": [sub["type"], "null"]}
        if "enum" in sub:
            return {"enum": sub["enum"] + [None]}
        return {"anyOf": [sub, {"type": "null"}]}
    raise TypeError(f"no JSON schema for {tp!r}")


def _innermost(schema: dict) -> dict:
    """Where range keywords go: the items of an array (or of a dict's arrays), else the schema itself."""
    while schema.get("type") in ("array", ["array", "null"]) or isinstance(schema.get("additionalProperties"), dict):
        schema = schema["items"] if "items" in schema else schema["additionalProperties"]
    return schema


def field_schema(section: str, f) -> dict:
    m = f.metadata
    out = _json_type(type_of(section, f.name))
    inner = _innermost(out)
    for key, kw in (("minimum", "minimum"), ("exclusive_minimum", "exclusiveMinimum"), ("maximum", "maximum"),
                    ("exclusive_maximum", "exclusiveMaximum"), ("pattern", "pattern")):
        if m[key] is not None:
            inner[kw] = m[key]
    if m["min_items"] is not None:
        arr = out if out.get("type") in ("array", ["array", "null"]) else out.get("additionalProperties", out)
        arr["minItems"] = m["min_items"]
    if m["unique"]:
        out["uniqueItems"] = True
    if m["keys"] == "dataset":
        out["propertyNames"] = {"$ref": "#/$defs/dataset"}
    if f.metadata["config"]:
        out["default"] = getattr(SECTIONS[section](), f.name)
    out["description"] = m["help"]
    return out


def section_schema(section: str) -> dict:
    return {"type": "object", "additionalProperties": False,
            "description": SECTIONS[section].__doc__.strip().splitlines()[0],
            "properties": {f.name: field_schema(section, f) for f in fields_of(section)}}


def _without_defaults(node):
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    return node


def schema() -> dict:
    """The JSON schema of a configuration, as written to workflow/schemas/config.schema.yaml."""
    table = likelihood_table()
    defs = {
        "dataset": {"enum": list(DATASET_NAMES)},
        "likelihood": {"enum": list(table)},
        **{name: section_schema(name) for name in SECTIONS},
        # overrides (dataset_settings' sections, a variant's train): the same keys without defaults;
        # Snakemake's validate fills defaults in, which would reset every setting an override leaves out
        **{f"{name}_override": _without_defaults(section_schema(name)) for name in PER_DATASET},
    }
    options = {"type": "object", "description": "options of one likelihood (likelihoods/options.json)"}
    props = {
        "datasets": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"$ref": "#/$defs/dataset"}},
        "likelihoods": {"type": "array", "uniqueItems": True, "items": {"$ref": "#/$defs/likelihood"}},
        "betas": {"type": "array", "minItems": 1, "uniqueItems": True,
                  "items": {"type": "number", "exclusiveMinimum": 0}},
        "seeds": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "integer", "minimum": 0}},
        "variants": {"type": "object", "default": {}, "propertyNames": {"pattern": LABEL_PATTERN},
                     "additionalProperties": {"type": "object", "additionalProperties": False,
                                              "required": ["likelihood"],
                                              "properties": {"likelihood": {"$ref": "#/$defs/likelihood"},
                                                             "options": {**options, "default": {}},
                                                             "train": {"$ref": "#/$defs/train_override"}}}},
        "likelihood_options": {"type": "object", "default": {}, "propertyNames": {"$ref": "#/$defs/likelihood"},
                               "additionalProperties": options},
        "dataset_settings": {"type": "object", "default": {}, "propertyNames": {"$ref": "#/$defs/dataset"},
                             "additionalProperties": {"type": "object", "additionalProperties": False,
                                                      "properties": {s: {"$ref": f"#/$defs/{s}_override"}
                                                                     for s in PER_DATASET}}},
        **{name: {"$ref": f"#/$defs/{name}", "default": {}} for name in SECTIONS},
    }
    for key, (_, help_line) in TOP_LEVEL.items():
        props[key]["description"] = help_line
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": "GENERATED by `python -m reconloss generate` from workflow/reconloss/settings.py: "
                       "do not edit. Configuration of the reconloss workflow, documented; the workflow checks "
                       "a configuration with reconloss.plan.config_check, not against this schema.",
        "type": "object",
        "additionalProperties": False,
        "required": [k for k, (req, _) in TOP_LEVEL.items() if req and k not in GRID_AXES],
        # β and seeds are required wherever there is a grid; a configuration of claims alone has none
        "allOf": [{"if": {"properties": {key: cond}, "required": [key]}, "then": {"required": list(GRID_AXES)}}
                  for key, cond in (("likelihoods", {"minItems": 1}), ("variants", {"minProperties": 1}))],
        "$defs": defs,
        "properties": props,
    }


# ----------------------------------------------------------------------------- configuration table


def _show(value) -> str:
    return "`" + json.dumps(value) + "`"


def markdown_table() -> str:
    """The configuration table (docs/configuration.md): every key a configuration may set, its default and help."""
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, (required, help_line) in TOP_LEVEL.items():
        lines.append(f"| `{key}` | {'required' if required else '`{}`'} | {help_line} |")
    for section in SECTIONS:
        for f in fields_of(section):
            default = getattr(SECTIONS[section](), f.name)
            help_line = f.metadata["help"].replace("|", "\\|")
            if f.metadata["example"]:
                help_line += f", e.g. `{f.metadata['example']}`"
            lines.append(f"| `{section}.{f.name}` | {_show(default)} | {help_line} |")
    return "\n".join(lines)
