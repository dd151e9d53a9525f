"""The claims table: claims.csv, claims.md and claims.html of one summary's verdicts.

The verdicts come from reconloss.claims.claims_frame (the one place that judges);
this module only writes them. `markdown` is the one writer of a claims.md: the
workflow's (every data set of a run, results/.../claims.md) and the published
one of each data set (docs/study/{dataset}/claims.md, whose figure links point
beside it) differ only in what the frame holds and in figure_links.
"""

import argparse
import json
from pathlib import Path

from reconloss.claims import VERDICT_RULE, claims_frame, figure_file
from reconloss.io import atomic_path
from reconloss.report.tables import html_page

#: How a data set is named in headings and table heads (others go by their key).
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR-10", "digits": "digits",
                  "photo_patches": "photo patches (stand-in for CIFAR-10)"}

#: The fields of a claim's section in claims.md, in order, with their headings.
CLAIM_FIELDS = (("verdict", "Verdict"), ("reason", "Why"), ("quantity", "Quantity"), ("rule", "Rule"),
                ("numbers", "Numbers"), ("needs", "Runs it needs"), ("runs", "Runs it read"),
                ("section", "Post section"))

#: Fields shown only where a claim has them: each FID classifier's verdict, and the runs that would settle it.
OPTIONAL_FIELDS = (("classifiers", "Under each FID classifier", str),
                   ("follow_up", "What would settle it", lambda v: f"`{v}`"))


def dataset_title(dataset):
    return DATASET_TITLES.get(dataset, dataset)


def cell(text):
    """Text for a Markdown table cell: a | would end the cell."""
    return text.replace("|", "\\|")


def claim_anchor(claim_id, dataset=None):
    """The anchor of a claim's section in claims.md, as GitHub makes it from the heading: "## <claim id>" in a
    file of one data set, "## <dataset>: <claim id>" in a file of several."""
    return claim_id.lower() if dataset is None else f"{dataset}-{claim_id}".lower()


def markdown(frame, figure_links=True):
    """claims.md: the verdict rule, a table of the verdicts, then one section per claim (its sentence, verdict
    and reason, quantity, rule, numbers, runs and figure), so that a verdict can be linked to its numbers
    (claims.md#<anchor>). A frame of several data sets adds a dataset column and names each section by its
    data set. figure_links: link each figure as it lies beside a published claims.md (figure_file), else
    name it (the workflow's figures lie elsewhere)."""
    datasets = list(dict.fromkeys(frame["dataset"]))
    several = len(datasets) > 1
    title = "# Claims" + (": " + ", ".join(map(dataset_title, datasets)) if datasets else "")
    lines = [title, "", frame.attrs.get("verdict_rule", VERDICT_RULE), "",
             ("| dataset " if several else "") + "| claim | verdict | why | figure |",
             "| --- " * (5 if several else 4) + "|"]
    rows = [row for _, row in frame.iterrows()]

    def figure(row):
        if not row["figure"]:
            return "—"
        if not figure_links:
            return row["figure"]
        return f"[{row['figure']}]({figure_file(row['figure'], row['dataset'])[1]})"

    def anchor(row):
        return claim_anchor(row["claim"], row["dataset"] if several else None)

    for row in rows:
        lines.append((f"| {dataset_title(row['dataset'])} " if several else "")
                     + f"| [{cell(row['statement'])}](#{anchor(row)}) | **{row['verdict']}** | "
                     f"{cell(str(row['reason']))} | {figure(row)} |")
    for row in rows:
        heading = f"{row['dataset']}: {row['claim']}" if several else row["claim"]
        lines += ["", f"## {heading}", "", f"> {row['statement']}", ""]
        lines += [f"- **{name}:** {row[field]}" for field, name in CLAIM_FIELDS if field in row]
        lines += [f"- **{name}:** {text(row[field])}" for field, name, text in OPTIONAL_FIELDS
                  if field in row and isinstance(row[field], str) and row[field]]
        lines.append(f"- **Figure:** {figure(row)}")
    lines += follow_up_lines(frame.attrs.get("follow_ups") or [])
    return "\n".join(lines) + "\n"


def follow_up_lines(needs):
    """The section on the follow-up runs the verdicts were judged with (reconloss.plan.rounds): what, and why."""
    if not needs:
        return []
    lines = ["", "## Follow-up runs", "",
             "Runs added by `make claims` after the claims' own, for verdicts that more runs could decide:", "",
             "| data set | label | β | seeds | epochs | why |", "| --- | --- | --- | --- | --- | --- |"]
    for n in needs:
        betas = ", ".join(f"{float(b):g}" for b in n["betas"])
        lines.append(f"| {dataset_title(n['dataset'])} | {n['label']} | {betas} | {n['seeds']} | {n['epochs']} | "
                     f"{cell(n['why'])} |")
    return lines


def judged(summary, specs, only=None, rounds=0, follow_ups=()):
    """The claims frame of a summary judged as `make claims` judges it: with R follow-up rounds allowed, every
    verdict at α / (R + 1) (reconloss.claims.evidence.looks), the follow-up runs recorded beside it."""
    frame = claims_frame(summary, specs, only, looks=int(rounds) + 1)
    frame.attrs["follow_ups"] = [n for n in follow_ups if n["dataset"] in set(frame["dataset"])]
    return frame


def write_claims(frame, out_dir):
    """claims.csv, claims.md and claims.html (the report shows HTML inline)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {
        "csv": lambda p: frame.to_csv(p, index=False),
        "md": lambda p: p.write_text(markdown(frame, figure_links=False)),
        "html": lambda p: p.write_text(html_page(frame, "reconloss: claims", frame.attrs.get("verdict_rule", VERDICT_RULE))),
    }
    paths = []
    for ext, write in writers.items():
        with atomic_path(out_dir / f"claims.{ext}") as tmp:
            write(tmp)
        paths.append(out_dir / f"claims.{ext}")
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss claims", description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True, help="summary.csv of the tables rule")
    parser.add_argument("--specs", default="{}", help="JSON {label: {likelihood, options, train}} of the runs")
    parser.add_argument("--only", default=None, help="JSON list of claim ids (default: all)")
    parser.add_argument("--out-dir", required=True, help="directory for claims.{csv,md,html}")
    parser.add_argument("--rounds", type=int, default=0, help="follow-up rounds allowed (claims.rounds): α / (rounds + 1)")
    parser.add_argument("--follow-ups", default="[]", help="JSON list of the follow-up runs (claims.follow_ups)")
    args = parser.parse_args(argv)
    import pandas as pd

    only = json.loads(args.only) if args.only else None
    frame = judged(pd.read_csv(args.summary), json.loads(args.specs), only, args.rounds, json.loads(args.follow_ups))
    for path in write_claims(frame, args.out_dir):
        print(f"claims: wrote {path}")
