"""Follow-up runs for the verdicts that more runs would decide, planned from the verdicts themselves.

A claim that comes out "inconclusive" says why in its row's `follow_up` field (reconloss.claims):
a JSON object, or a list of them, each with a `kind` and the labels and β it concerns. Four kinds
have a remedy that runs can supply, and each has one here:

- ``edge``: the best β lies at the edge of its grid, so the optimum may lie beyond it. Remedy: one β
  a grid step past that edge (the ratio of the two outermost β on that side).
- ``neighbours``: two neighbouring β are within noise of each other, so the optimum lies between
  them or on either. Remedy: the β between them, their geometric mean to two significant digits.
- ``straddles``: an interval straddles its margin, so the noise is too large for the comparison.
  Remedy: twice the seeds for the cells (label, β) the comparison reads; an interval from pooled
  seed-to-seed spread narrows by about √2 and its degrees of freedom double.
- ``unsettled``: a level is still moving. Remedy: half again as many epochs for every β of that
  label (so its runs stay comparable over β), resumed from their checkpoints.

A round's plan is a list of extra needs, ``{dataset, label, betas, seeds, epochs, why}``, the same
shape as a claim's own needs; the planner of runs (reconloss.plan.runs) takes them from the
configuration's ``claims.follow_ups``, so `snakemake -n claims` with a round's file shows what it
trains. Each round costs run-epochs (new runs: seeds × epochs; more epochs: the extra epochs of
each seed; more seeds: the new seeds × epochs; reconloss.plan.rounds has the planner of runs count
them, since it trains the labels one claim compares alike), and the rounds together may not exceed
``claims.follow_up_budget`` run-epochs per data set. A round over what is left keeps the claims
whose follow-ups fit, cheapest claim first (a claim's needs are kept whole: half of a comparison's
seeds decides nothing), and refuses the others by name with their cost; a round of which no claim
fits is refused whole (BudgetError).

The error rate stays honest across rounds by a stated split of α: with R follow-up rounds allowed,
a claim can be looked at R + 1 times, so every look is judged at α / (R + 1) (Bonferroni over
looks; reconloss.claims.evidence.looks). Torch-free.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

#: The kinds of `follow_up` this planner acts on; any other kind is left for a person (and named).
KINDS = ("edge", "neighbours", "straddles", "unsettled")
#: More epochs for an unsettled level: this factor on its current epochs (rounded up).
EPOCH_FACTOR = 1.5
#: More seeds for an interval that straddles its margin: this factor on the current count.
SEED_FACTOR = 2


class BudgetError(ValueError):
    """A round's plan costs more run-epochs than the follow-up budget has left."""


@dataclass(frozen=True)
class Cell:
    """What the runs of one (data set, label, β) are today: how many seeds, trained for how many epochs."""

    seeds: int
    epochs: int


@dataclass
class Round:
    """One round's extra needs and what they cost, per data set."""

    needs: list = field(default_factory=list)
    cost: dict = field(default_factory=dict)
    left_alone: list = field(default_factory=list)

    def text(self):
        """One line per extra need: what it adds and why."""
        lines = [f"{n['dataset']}: {n['label']} β {', '.join(map(beta_text, n['betas']))}: {n['seeds']} seeds, "
                 f"{n['epochs']} epochs ({n['why']})" for n in self.needs]
        lines += [f"{d}: {c} run-epochs" for d, c in sorted(self.cost.items())]
        lines += [f"left alone: {x}" for x in self.left_alone]
        return "\n".join(lines) or "no follow-up runs"


def beta_text(beta):
    return f"{float(beta):g}"


def round_sig(x, digits=2):
    """x to `digits` significant digits (a β that reads well in paths and tables)."""
    if x == 0:
        return 0.0
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def parse(follow_up):
    """The follow-up objects of one row's field: '' or None -> [], a JSON object or list -> list of dicts."""
    if follow_up is None or (isinstance(follow_up, float) and math.isnan(follow_up)) or follow_up == "":
        return []
    items = json.loads(follow_up) if isinstance(follow_up, str) else follow_up
    return [items] if isinstance(items, dict) else list(items)


def _grid(cells, label):
    return sorted(b for (lab, b) in cells if lab == label)


def _labels(item):
    """The labels a follow-up item names: its `label`, or its `labels`."""
    return [item["label"]] if item.get("label") else list(item.get("labels") or [])


def remedies(item, cells, claim):
    """The extra needs {label, betas, seeds, epochs, why} that answer one follow-up item of `claim`.

    cells: {(label, β): Cell} of the data set as planned so far. The items are the claims' own
    (reconloss.claims.followup): edge {label, beta, side: below|above}, neighbours {label, betas},
    straddles {labels, betas[, cells: [[label, β], ...]]}, unsettled {label, beta}. An item naming a
    label with no runs, or a β already planned, gives nothing (it was answered already).
    """
    kind = item.get("kind")
    why = f"{claim}: {kind}"
    out = []
    if kind == "edge":
        for label in _labels(item):
            grid = _grid(cells, label)
            side = item.get("side")
            if len(grid) < 2 or side not in ("below", "above"):
                continue
            edge, inner = (grid[0], grid[1]) if side == "below" else (grid[-1], grid[-2])
            if item.get("beta") is not None and not math.isclose(float(item["beta"]), edge):
                continue  # that β is no longer the edge: a β past it has been planned already
            beta = round_sig(edge * edge / inner)
            base = cells[(label, edge)]
            out.append({"label": label, "betas": [beta], "seeds": base.seeds, "epochs": base.epochs,
                        "why": f"{why} (best β {beta_text(edge)} at the grid's {'lower' if side == 'below' else 'upper'} edge)"})
    elif kind == "neighbours":
        b1, b2 = sorted(float(b) for b in item["betas"])
        beta = round_sig(math.sqrt(b1 * b2))
        for label in _labels(item):
            if (label, b1) in cells and (label, b2) in cells and (label, beta) not in cells:
                out.append({"label": label, "betas": [beta], "seeds": max(cells[(label, b1)].seeds,
                                                                           cells[(label, b2)].seeds),
                            "epochs": max(cells[(label, b1)].epochs, cells[(label, b2)].epochs),
                            "why": f"{why} (between β {beta_text(b1)} and {beta_text(b2)})"})
    elif kind == "straddles":
        pairs = [(lab, float(b)) for lab, b in item["cells"]] if item.get("cells") else \
            [(lab, float(b)) for lab in _labels(item) for b in (item.get("betas") or _grid(cells, lab))]
        for label in dict.fromkeys(lab for lab, _ in pairs):
            present = [b for lab, b in pairs if lab == label and (label, b) in cells]
            if present:
                out.append({"label": label, "betas": present,
                            "seeds": SEED_FACTOR * max(cells[(label, b)].seeds for b in present),
                            "epochs": max(cells[(label, b)].epochs for b in present),
                            "why": f"{why} ({item.get('comparison') or 'an interval straddles its margin'})"})
    elif kind == "unsettled":
        # every β of the label, so that its runs stay comparable over β (one epoch count)
        for label in _labels(item):
            grid = _grid(cells, label)
            if grid:
                out.append({"label": label, "betas": grid, "seeds": max(cells[(label, b)].seeds for b in grid),
                            "epochs": math.ceil(EPOCH_FACTOR * max(cells[(label, b)].epochs for b in grid)),
                            "why": f"{why} (still moving at β {beta_text(item['beta']) if item.get('beta') is not None else 'all'})"})
    return out


def cost(need, cells):
    """Run-epochs a need adds to the cells as planned: new runs, new seeds and extra epochs of old ones."""
    total = 0
    for beta in need["betas"]:
        old = cells.get((need["label"], float(beta)), Cell(0, 0))
        seeds, epochs = max(old.seeds, need["seeds"]), max(old.epochs, need["epochs"])
        total += seeds * epochs - old.seeds * old.epochs
    return total


def apply(needs, cells):
    """The cells after a round's needs (the planner takes the most seeds and epochs any need asks for)."""
    cells = dict(cells)
    for need in needs:
        for beta in need["betas"]:
            key = (need["label"], float(beta))
            old = cells.get(key, Cell(0, 0))
            cells[key] = Cell(max(old.seeds, need["seeds"]), max(old.epochs, need["epochs"]))
    return cells


def plan_round(frame, cells_by_dataset, spent=None, budget=None, cap=None, price=None):
    """The next round: extra needs for every inconclusive row of `frame` whose follow_up runs can answer.

    frame: the claims table (rows with dataset, claim, verdict, follow_up); cells_by_dataset:
    {dataset: {(label, β): Cell}} as planned so far; spent: {dataset: run-epochs} of earlier rounds;
    budget: run-epochs all rounds may add per data set (None: no limit); cap: claims.max_epochs (a
    cut-down run), which no follow-up exceeds: a need it leaves without effect is dropped and named.
    Each item is sized on the cells as they were before the round (two claims asking for more epochs
    of one label ask for the same ×1.5, not ×1.5²), and needs for one cell merge to the largest.
    Over the budget, the claims whose needs fit are kept, cheapest first, and the others named in
    `left_alone`; raises BudgetError naming the data set, the round's cost and what is left when no
    claim's needs fit.
    price: (dataset, needs) -> run-epochs the needs add to the runs planned so far; None: counted on
    the cells (`cost`). reconloss.plan.rounds prices with the planner of runs itself, which trains the
    labels one claim compares alike: more epochs for one of them are more epochs for all.
    """
    def priced(dataset, needs, cells):
        return price(dataset, needs) if price else _round_cost(needs, cells)

    spent = dict(spent or {})
    result = Round()
    for dataset, rows in _by_dataset(frame).items():
        cells = cells_by_dataset.get(dataset, {})
        by_claim = {}  # claim -> its needs, in the table's order
        for row in rows:
            if row.get("verdict") != "inconclusive":
                continue
            for item in parse(row.get("follow_up")):
                if item.get("kind") not in KINDS:
                    result.left_alone.append(f"{dataset} {row['claim']}: {item.get('kind')!r} needs a person")
                    continue
                by_claim.setdefault(row["claim"], []).extend(
                    {"dataset": dataset, **n} for n in remedies(item, cells, row["claim"]))
        if cap:
            by_claim = {c: [{**n, "epochs": min(n["epochs"], cap)} for n in ns] for c, ns in by_claim.items()}
            idle = [n for n in _merged([n for ns in by_claim.values() for n in ns]) if cost(n, cells) == 0]
            result.left_alone += [f"{dataset} {n['label']} β {beta_text(n['betas'][0])}: {n['why']} (no effect: "
                                  f"claims.max_epochs = {cap})" for n in idle]
            by_claim = {c: [n for n in ns if cost(n, cells) > 0] for c, ns in by_claim.items()}
        needs = _merged([n for ns in by_claim.values() for n in ns])
        round_cost = priced(dataset, needs, cells)
        left = None if budget is None else budget - spent.get(dataset, 0)
        if left is not None and round_cost > left:
            kept, refused = _within(by_claim, left, lambda ns: priced(dataset, _merged(ns), cells))
            if not kept:
                raise BudgetError(f"follow-up round for {dataset} costs {round_cost} run-epochs and no claim's "
                                  f"follow-ups fit: the budget claims.follow_up_budget = {budget} has {left} left. "
                                  f"Raise the budget or judge with the runs at hand:\n"
                                  + Round(needs, {dataset: round_cost}).text())
            result.left_alone += [f"{dataset} {claim}: over the budget, refused: its follow-ups cost {c} run-epochs "
                                  f"more than the claims kept (claims.follow_up_budget = {budget}, {left} left)"
                                  for claim, c in refused]
            needs = _merged(kept)
            round_cost = priced(dataset, needs, cells)
        if needs:
            result.needs += needs
            result.cost[dataset] = round_cost
    return result


def _round_cost(needs, cells):
    """Run-epochs of merged needs, each counted over the cells the ones before it leave."""
    return sum(cost(n, apply(needs[:i], cells)) for i, n in enumerate(needs))


def _within(by_claim, left, price):
    """(needs kept, [(claim, its extra cost)] refused): whole claims, cheapest first, while they fit in `left`.

    Cheapest first decides the most claims a budget allows; a claim's cost counts only what the
    claims kept before it do not already train (two claims may ask for one cell). price: needs -> run-epochs."""
    kept, refused = [], []
    alone = {claim: price(ns) for claim, ns in by_claim.items()}
    for claim in sorted(by_claim, key=lambda c: (alone[c], c)):
        total = price(kept + by_claim[claim])
        if total <= left:
            kept += by_claim[claim]
        else:
            refused.append((claim, total - price(kept)))
    return kept, refused


def _by_dataset(frame):
    rows = frame.to_dict("records") if hasattr(frame, "to_dict") else list(frame)
    out = {}
    for row in rows:
        out.setdefault(row["dataset"], []).append(row)
    return out


def _merged(needs):
    """One need per (data set, label, β): the most seeds and epochs asked for, every reason kept."""
    merged = {}
    for n in needs:
        for beta in n["betas"]:
            key = (n["dataset"], n["label"], float(beta))
            if key in merged:
                m = merged[key]
                m["seeds"], m["epochs"] = max(m["seeds"], n["seeds"]), max(m["epochs"], n["epochs"])
                if n["why"] not in m["why"]:
                    m["why"] += "; " + n["why"]
            else:
                merged[key] = {**n, "betas": [float(beta)]}
    return list(merged.values())
