"""One look per likelihood label, and the families that split the grid into readable panels.

With two dozen labels a single palette repeats its colours, so the figures
would let a reader confuse two lines. Instead every base likelihood has a fixed
colour and marker of its own (the same in every figure, the report and the
docs), and a variant (a label whose likelihood_name is another label's base)
takes a shade of its base's hue, its own marker and a dashed or dotted line:
the eye groups it with its base and still tells it apart. Figures that compare
many labels draw one panel per family (the Gaussians by how σ is set, the
distributions on [0, 1], the discrete ones), variants beside their base, at
most MAX_PER_PANEL labels a panel.
"""

from dataclasses import dataclass

#: Families in reading order: (title, base likelihoods). A variant joins its base's family.
FAMILIES = (
    ("Gaussian, σ fixed", ("gaussian_fixed",)),
    ("Gaussian, σ from the data", ("gaussian_data_pixel",)),
    ("Gaussian, σ learned", ("gaussian_learned_global", "gaussian_learned_pixel")),
    ("Gaussian, σ predicted by the decoder", ("gaussian_predicted_image", "gaussian_predicted_pixel")),
    ("Gaussian, σ optimal for the reconstruction",
     ("gaussian_optimal_global", "gaussian_optimal_image", "gaussian_optimal_pixel")),
    ("distributions on [0, 1]",
     ("bernoulli", "continuous_bernoulli", "continuous_bernoulli_naive", "beta", "truncated_gaussian")),
    ("discrete (256 levels)", ("discretized_logistic", "categorical")),
)
OTHER_FAMILY = "other likelihoods"
FAMILY_OF = {base: title for title, bases in FAMILIES for base in bases}
FAMILY_ORDER = [title for title, _ in FAMILIES] + [OTHER_FAMILY]
BASE_ORDER = [base for _, bases in FAMILIES for base in bases]

#: A panel holds at most this many labels; a bigger family is split.
MAX_PER_PANEL = 8

#: Colour and marker of each base likelihood: distinct within every family (and across them, so a
#: label is recognisable from one figure to the next).
BASE_STYLE = {
    "gaussian_fixed": ("#1f77b4", "o"),
    "gaussian_data_pixel": ("#17becf", "s"),
    "gaussian_learned_global": ("#2ca02c", "o"),
    "gaussian_learned_pixel": ("#9467bd", "s"),
    "gaussian_predicted_image": ("#8c564b", "D"),
    "gaussian_predicted_pixel": ("#e377c2", "v"),
    "gaussian_optimal_global": ("#bcbd22", "^"),
    "gaussian_optimal_image": ("#1b9e77", "s"),
    "gaussian_optimal_pixel": ("#d62728", "o"),
    "bernoulli": ("#ff7f0e", "o"),
    "continuous_bernoulli": ("#3a53a4", "s"),
    "continuous_bernoulli_naive": ("#e7298a", "D"),
    "beta": ("#66a61e", "^"),
    "truncated_gaussian": ("#a6761d", "v"),
    "discretized_logistic": ("#d95f02", "o"),
    "categorical": ("#5e3c99", "s"),
}
#: For likelihoods this table does not know: taken in order of their names.
SPARE_STYLES = (("#1f77b4", "P"), ("#ff7f0e", "X"), ("#2ca02c", "*"), ("#d62728", "h"), ("#9467bd", "p"),
                ("#8c564b", "d"), ("#e377c2", "<"), ("#17becf", ">"))
VARIANT_MARKERS = ("X", "P", "*", "h", "p", "d", "<", ">")
VARIANT_LINES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)))
#: Shades of a variant: (towards black, towards white) fractions, by the variant's rank.
VARIANT_SHADES = (("dark", 0.35), ("light", 0.4), ("dark", 0.6), ("light", 0.65))


@dataclass(frozen=True)
class Style:
    label: str
    base: str
    family: str
    colour: str
    marker: str
    linestyle: object = "-"

    def line(self, **kw):
        """Keyword arguments of ax.plot for this label's line."""
        return {"color": self.colour, "marker": self.marker, "linestyle": self.linestyle, **kw}


def _shade(colour, rank):
    from matplotlib.colors import to_hex, to_rgb

    way, amount = VARIANT_SHADES[(rank - 1) % len(VARIANT_SHADES)]
    amount = min(0.8, amount + 0.1 * ((rank - 1) // len(VARIANT_SHADES)))
    target = 0.0 if way == "dark" else 1.0
    return to_hex([c + (target - c) * amount for c in to_rgb(colour)])


def styles(labels, names=None):
    """{label: Style} for the labels of a grid; names[label] is its base likelihood (default: itself).

    A label's style depends only on its base and, for a variant, its rank among the grid's variants of
    that base (sorted by name): the same grid gives the same look in every figure."""
    names = dict(names or {})
    base_of = {lab: names.get(lab) or lab for lab in labels}
    unknown = sorted({b for b in base_of.values() if b not in BASE_STYLE})
    table = {**BASE_STYLE, **{b: SPARE_STYLES[i % len(SPARE_STYLES)] for i, b in enumerate(unknown)}}
    out = {}
    for base in dict.fromkeys(base_of.values()):
        colour, marker = table[base]
        family = FAMILY_OF.get(base, OTHER_FAMILY)
        variants = sorted(lab for lab, b in base_of.items() if b == base and lab != base)
        if base in base_of:
            out[base] = Style(base, base, family, colour, marker)
        markers = [m for m in VARIANT_MARKERS if m != marker]
        for rank, lab in enumerate(variants, start=1):
            out[lab] = Style(lab, base, family, _shade(colour, rank), markers[(rank - 1) % len(markers)],
                             VARIANT_LINES[(rank - 1) % len(VARIANT_LINES)])
    return {lab: out[lab] for lab in labels}


def styles_of(df):
    """styles() of a summary frame's labels, in the order they appear, variants told by likelihood_name."""
    labels = list(dict.fromkeys(df["likelihood"]))
    names = {}
    if "likelihood_name" in df:
        for lab, name in zip(df["likelihood"], df["likelihood_name"]):
            if isinstance(name, str):
                names.setdefault(lab, name)
    return styles(labels, names)


def panels(style_map, labels=None):
    """[(title, [labels])]: one panel per family in FAMILY_ORDER, each base followed by its variants,
    a family of more than MAX_PER_PANEL labels split into numbered parts."""
    labels = list(style_map if labels is None else labels)
    out = []
    for family in FAMILY_ORDER:
        members = [lab for lab in labels if style_map[lab].family == family]
        if not members:
            continue
        bases = list(dict.fromkeys(style_map[lab].base for lab in members))
        bases.sort(key=lambda b: BASE_ORDER.index(b) if b in FAMILY_OF else len(BASE_ORDER))
        ordered = [lab for b in bases for lab in sorted((m for m in members if style_map[m].base == b),
                                                        key=lambda m: (m != b, m))]
        parts = [ordered[i:i + MAX_PER_PANEL] for i in range(0, len(ordered), MAX_PER_PANEL)]
        for i, part in enumerate(parts):
            out.append((family if len(parts) == 1 else f"{family} ({i + 1}/{len(parts)})", part))
    return out


def style_table(style_map):
    """A markdown table of the labels' families, colours, markers and line styles (the figures' key)."""
    names = {"o": "circle", "s": "square", "D": "diamond", "v": "triangle down", "^": "triangle up",
             "X": "x (filled)", "P": "plus (filled)", "*": "star", "h": "hexagon", "p": "pentagon",
             "d": "thin diamond", "<": "triangle left", ">": "triangle right"}
    lines_ = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot"}

    def line(ls):
        return lines_.get(ls, "patterned") if isinstance(ls, str) else "patterned"

    rows = ["| family | label | base likelihood | colour | marker | line |", "| --- | --- | --- | --- | --- | --- |"]
    for family, labs in panels(style_map):
        for lab in labs:
            s = style_map[lab]
            rows.append(f"| {family} | `{lab}` | `{s.base}` | {s.colour} | {names.get(s.marker, s.marker)} | "
                        f"{line(s.linestyle)} |")
    return "\n".join(rows) + "\n"
