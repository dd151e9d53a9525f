"""What an inconclusive verdict would need: a machine-readable reason kind for the follow-up planner.

Every row of the claims frame carries `follow_up`: "" (a verdict, or an inconclusive one that more runs of
the same kind cannot settle), or JSON text {"kind": ..., ...} with the data a planner needs, or a list of
them where several reasons hold a verdict back (a best β at an edge and another label still moving: one
round can remedy both, instead of one a round):

- "edge": a best β at its grid's edge — {"label", "beta", "side": "below"|"above", "grid"}: a β step past it;
- "neighbours": two neighbouring β within noise — {"label", "betas": [lo, hi]}: a β between them;
- "straddles": an interval straddles its margin — {"comparison", "labels", "betas", and "cells": [[label, β],
  ...] where not every label runs at every β}: more seeds for those;
- "unsettled": a level still moving — {"label", "beta"}: more epochs, resumed from checkpoints.
"""

import json

KINDS = ("edge", "neighbours", "straddles", "unsettled")


def _beta(b):
    """A β as the grid names it (12 significant digits: β·2σ² = 0.09999999999999999 is the grid's 0.1)."""
    return float(f"{float(b):.12g}")


def edge(label, beta, grid):
    grid = sorted(_beta(b) for b in grid)
    side = "below" if _beta(beta) <= grid[0] else "above"
    return {"kind": "edge", "label": label, "beta": _beta(beta), "side": side, "grid": grid}


def neighbours(label, a, b):
    return {"kind": "neighbours", "label": label, "betas": sorted([_beta(a), _beta(b)])}


def straddles(comparison, labels, betas=(), cells=None):
    """cells: the [label, β] runs that need more seeds, where labels × betas would name too many."""
    out = {"kind": "straddles", "comparison": comparison, "labels": list(labels),
           "betas": sorted({_beta(b) for b in betas})}
    if cells:
        out["cells"] = sorted({(lab, _beta(b)) for lab, b in cells})
    return out


def unsettled(label, beta):
    return {"kind": "unsettled", "label": label, "beta": None if beta is None else _beta(beta)}


def merged(*follow_ups):
    """One follow-up of several (each a dict, a list of them, or empty): every distinct item in order; a
    single item as itself, none as ""."""
    items = []
    for f in follow_ups:
        for item in ([f] if isinstance(f, dict) else list(f or [])):
            if item not in items:
                items.append(item)
    return items[0] if len(items) == 1 else (items or "")


def text(follow_up):
    """The row's JSON text ("" for none); a kind outside KINDS is an error naming it."""
    if not follow_up:
        return ""
    if isinstance(follow_up, str):
        follow_up = json.loads(follow_up)
    follow_up = merged(follow_up)
    for item in [follow_up] if isinstance(follow_up, dict) else follow_up:
        if item.get("kind") not in KINDS:
            raise ValueError(f"follow_up kind {item.get('kind')!r} is not one of {', '.join(KINDS)}")
    return json.dumps(follow_up, sort_keys=True, ensure_ascii=False)
