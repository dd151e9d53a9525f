"""A pack on the command line: how the train and evaluate jobs receive their runs.

A pack job gets its runs as one JSON list, [{"run_dir": ..., "settings": {...}}, ...]
(`--runs`); one run alone may still be given as `--run-dir` with `--settings`, as a
pack of one. Torch-free, so that both commands parse their arguments the same way.
"""

import json


def add_arguments(parser) -> None:
    parser.add_argument("--runs", help='the pack as JSON: [{"run_dir": ..., "settings": {...}}, ...]')
    parser.add_argument("--run-dir", help="one run's directory (a pack of one, with --settings)")
    parser.add_argument("--settings", help="that run's settings as one JSON string")


def runs_from(parser, args) -> list:
    """[(run_dir, settings), ...] of the parsed arguments; a usage error when neither form is given."""
    if args.runs:
        return [(r["run_dir"], r["settings"]) for r in json.loads(args.runs)]
    if args.run_dir and args.settings:
        return [(args.run_dir, json.loads(args.settings))]
    parser.error("give --runs, or --run-dir with --settings")
