"""The claims table: claims.csv, claims.md and claims.html of one summary's verdicts.

The verdicts come from reconloss.claims (the one place that judges); this module only
writes them, for the workflow's claims rules and for the published docs alike.
"""

import argparse
import json
from pathlib import Path

from reconloss.claims import VERDICT_RULE, claims_frame
from reconloss.io import atomic_path
from reconloss.report.tables import _html

def markdown(frame):
    """claims.md: the rule, then one section per claim and dataset with every field a reader needs."""
    lines = ["# Claims", "", VERDICT_RULE, "", "Rules in full: reconloss/claims/.", ""]
    lines += ["| dataset | claim | verdict |", "| --- | --- | --- |"]
    lines += [f"| {r.dataset} | [{r.claim}](#{r.dataset}-{r.claim}) | **{r.verdict}** |" for r in frame.itertuples()]
    for r in frame.itertuples():
        lines += ["", f'<a id="{r.dataset}-{r.claim}"></a>', f"## {r.dataset}: {r.claim} — {r.verdict}", "",
                  f"> {r.statement}", "", f"- **Runs needed:** {r.needs}", f"- **Quantity:** {r.quantity}",
                  f"- **Rule:** {r.rule}", f"- **Numbers:** {r.numbers or '—'}", f"- **Runs:** {r.runs or '—'}",
                  f"- **Verdict:** {r.verdict} ({r.reason or 'no reason given'})", f"- **Figure:** {r.figure or '—'}",
                  f"- **Post section:** {r.section or '—'}"]
    return "\n".join(lines) + "\n"


def write_claims(frame, out_dir):
    """claims.csv, claims.md and claims.html (the report shows HTML inline)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {
        "csv": lambda p: frame.to_csv(p, index=False),
        "md": lambda p: p.write_text(markdown(frame)),
        "html": lambda p: p.write_text(_html(frame, "reconloss: claims", VERDICT_RULE)),
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
    args = parser.parse_args(argv)
    import pandas as pd

    only = json.loads(args.only) if args.only else None
    frame = claims_frame(pd.read_csv(args.summary), json.loads(args.specs), only)
    for path in write_claims(frame, args.out_dir):
        print(f"claims: wrote {path}")
