"""`make claims`: the claims' runs, then follow-up rounds until no verdict that more runs could decide is left.

Round 0 is `snakemake claims` on the given configuration. After each round the claims table
(results/claims/claims.csv) says which verdicts are inconclusive for a reason runs can fix;
reconloss.plan.follow_up turns them into extra needs, and this command writes them, with every
earlier round's, to results/claims/follow_up/round~N.yaml (the configuration's
`claims.follow_ups`) and runs `snakemake claims` again with that file added. It stops when a
round plans nothing, after `claims.rounds` rounds, or when a round would exceed
`claims.follow_up_budget` run-epochs (refused, with its cost, and recorded: the verdicts at hand stand).

`snakemake -n claims --configfile <configs> results/claims/follow_up/round~N.yaml` shows what a
round trains; `--dry-run` here prints the next round's plan from the claims table at hand and
runs nothing. results/claims/follow_up/rounds.jsonl records every round: its needs, why, cost.
results/claims/follow_up/final.yaml is the last round's file (no follow-ups: an empty list), the
configuration the published claims were judged under.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

from reconloss.plan import config_check, follow_up
from reconloss.plan.runs import Plan

CLAIMS_TABLE = Path("results/claims/claims.csv")
ROUNDS_DIR = Path("results/claims/follow_up")


def cells_of(config):
    """{dataset: {(label, β): Cell(seeds, epochs)}} of the claims' runs as a configuration plans them."""
    out = {}
    for run, label in Plan(config).reads("claims"):
        cells = out.setdefault(run.dataset, {})
        old = cells.get((label, float(run.beta)), follow_up.Cell(0, 0))
        cells[(label, float(run.beta))] = follow_up.Cell(old.seeds + 1, max(old.epochs, run.epochs))
    return out


def run_epochs(config, follow_ups):
    """{dataset: run-epochs} of the claims' runs the configuration plans with these follow-ups.

    Counted by the planner itself, not need by need: it trains the labels one claim compares alike
    (reconloss.plan.runs._even_out), so more epochs for one label can mean more for another
    (the per-image optimal σ's 16 → 24 epochs take the per-pixel one's along)."""
    config = {**config, "claims": {**config["claims"], "follow_ups": list(follow_ups)}}
    out = {}
    for run in Plan(config).of("claims"):
        out[run.dataset] = out.get(run.dataset, 0) + run.epochs
    return out


def next_round(config_files, needs_so_far):
    """The next round's follow_up.Round, judged on the claims table at hand, priced by the planner of runs."""
    import pandas as pd

    config = config_check.load_files(config_files)
    config["claims"]["follow_ups"] = list(needs_so_far)  # as a round's file gives them: the list whole
    settings = config["claims"]
    frame = pd.read_csv(CLAIMS_TABLE, keep_default_na=False)
    base, now = run_epochs(config, []), run_epochs(config, needs_so_far)
    spent = {d: now[d] - base.get(d, 0) for d in now}  # what the rounds so far added

    def price(dataset, needs):
        return run_epochs(config, list(needs_so_far) + list(needs)).get(dataset, 0) - now.get(dataset, 0)

    return follow_up.plan_round(frame, cells_of(config), spent, settings["follow_up_budget"],
                                settings.get("max_epochs"), price=price), settings


def write_round(number, needs):
    path = ROUNDS_DIR / f"round~{number}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("# Written by `make claims` (reconloss.plan.rounds): the follow-up runs of rounds 1.."
            f"{number}.\n" + yaml.safe_dump({"claims": {"follow_ups": needs}}, sort_keys=False))
    path.write_text(text)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss claims-rounds", description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", required=True, help="the configuration files of the claims")
    parser.add_argument("--dry-run", action="store_true", help="print the next round's plan; run nothing")
    parser.add_argument("snakemake", nargs=argparse.REMAINDER,
                        help="after --: the snakemake command to run each round (its --configfile is added)")
    args = parser.parse_args(argv)
    command = [a for a in args.snakemake if a != "--"] or ["snakemake", "--cores", "all"]
    rounds = sorted(ROUNDS_DIR.glob("round~*.yaml"), key=lambda p: int(p.stem.split("~")[1]))
    needs = yaml.safe_load(rounds[-1].read_text())["claims"]["follow_ups"] if rounds else []
    number = int(rounds[-1].stem.split("~")[1]) if rounds else 0
    if args.dry_run:
        plan, _ = next_round(args.config, needs)
        print(f"round {number + 1}:\n{plan.text()}")
        return 0
    max_rounds = config_check.load_files(args.config)["claims"]["rounds"]
    while True:
        files = list(args.config) + ([str(ROUNDS_DIR / f"round~{number}.yaml")] if number else [])
        print(f"claims-rounds: round {number}: {' '.join(command)} claims --configfile {' '.join(files)}", flush=True)
        subprocess.run([*command, "claims", "--configfile", *files], check=True)
        if number >= max_rounds:
            print(f"claims-rounds: stopped after {number} follow-up round(s) (claims.rounds = {max_rounds})")
            break
        try:
            plan, _ = next_round(args.config, needs)
        except follow_up.BudgetError as error:
            # not a failure: the verdicts at hand stand, judged with the rounds that ran
            print(f"claims-rounds: round {number + 1} refused: {error}", file=sys.stderr)
            ROUNDS_DIR.mkdir(parents=True, exist_ok=True)
            with open(ROUNDS_DIR / "rounds.jsonl", "a") as log:
                log.write(json.dumps({"round": number + 1, "refused": str(error)}) + "\n")
            break
        if not plan.needs:
            print(f"claims-rounds: no verdict asks for more runs after round {number}\n{plan.text()}")
            break
        needs = needs + plan.needs
        number += 1
        write_round(number, needs)
        with open(ROUNDS_DIR / "rounds.jsonl", "a") as log:
            log.write(json.dumps({"round": number, "needs": plan.needs, "cost": plan.cost,
                                  "left_alone": plan.left_alone}) + "\n")
        print(f"claims-rounds: round {number} plans\n{plan.text()}", flush=True)
    final = ROUNDS_DIR / "final.yaml"
    ROUNDS_DIR.mkdir(parents=True, exist_ok=True)
    final.write_text(yaml.safe_dump({"claims": {"follow_ups": needs}}, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
