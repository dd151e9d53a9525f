"""What an inconclusive verdict would need: a machine-readable reason kind for the follow-up planner.

Every row of the claims frame carries `follow_up`: "" (a verdict, or an inconclusive one that more runs of
the same kind cannot settle), or JSON text {"kind": ..., ...} with the data a planner needs:

- "edge": a best β at its grid's edge — {"label", "beta", "side": "below"|"above", "grid"}: a β step past it;
- "neighbours": two neighbouring β within noise — {"label", "betas": [lo, hi]}: a β between them;
- "straddles": an interval straddles its margin — {"comparison", "labels", "betas"}: more seeds for those;
- "unsettled": a level still moving — {"label", "beta"}: more epochs, resumed from checkpoints.
"""

import json

KINDS = ("edge", "neighbours", "straddles", "unsettled")


def edge(label, beta, grid):
    grid = sorted(float(b) for b in grid)
    side = "below" if beta <= grid[0] else "above"
    return {"kind": "edge", "label": label, "beta": float(beta), "side": side, "grid": grid}


def neighbours(label, a, b):
    return {"kind": "neighbours", "label": label, "betas": sorted([float(a), float(b)])}


def straddles(comparison, labels, betas=()):
    return {"kind": "straddles", "comparison": comparison, "labels": list(labels),
            "betas": sorted({float(b) for b in betas})}


def unsettled(label, beta):
    return {"kind": "unsettled", "label": label, "beta": None if beta is None else float(beta)}


def text(follow_up):
    """The row's JSON text ("" for none); a kind outside KINDS is an error naming it."""
    if not follow_up:
        return ""
    if isinstance(follow_up, str):
        follow_up = json.loads(follow_up)
    if follow_up.get("kind") not in KINDS:
        raise ValueError(f"follow_up kind {follow_up.get('kind')!r} is not one of {', '.join(KINDS)}")
    return json.dumps(follow_up, sort_keys=True)
