"""`python -m reconloss COMMAND ...`: the one entry point the workflow's rules call.

Each command lives in its own module and is imported only when it runs, so a
job pays for the imports it needs and nothing else.
"""

import importlib
import sys

COMMANDS = {
    "data": ("reconloss.data.datasets", "prepare the cached tensor file of one dataset"),
    "classifier": ("reconloss.evaluation.classifier", "train the FID feature classifier of one dataset"),
    "train": ("reconloss.training.train", "train one beta-VAE run"),
    "evaluate": ("reconloss.evaluation.evaluate", "evaluate one trained run"),
    "analytic": ("reconloss.analytic", "figures and tables that need no training"),
    "tables": ("reconloss.report.tables", "summary and best-per-likelihood tables"),
    "figures": ("reconloss.report.figures", "the study's figures"),
    "claims-rounds": ("reconloss.plan.rounds", "the claims' runs, then the follow-up rounds their verdicts ask for"),
    "claims": ("reconloss.report.claims_table", "the study's claims, each with a computed verdict"),
    "study-docs": ("reconloss.report.publish", "a finished run's figures, tables and provenance under docs/study"),
    "publish": ("reconloss.report.study_pages", "rebuild (or --check) docs/study's claims, index and README block"),
    "provenance": ("reconloss.report.provenance", "run a workflow command and record its commit and wall time"),
    "config-show": ("reconloss.plan.config_show", "the effective configuration, each value with its source"),
    "generate": ("reconloss.plan.generate", "regenerate the schema, the configuration tables and the likelihood option table"),
}


def usage() -> str:
    lines = ["usage: python -m reconloss [--threads N] COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<12} {doc}" for name, (_, doc) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    threads = None
    if argv[:1] == ["--threads"]:
        threads = int(argv[1])
        argv = argv[2:]
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    if argv[0] not in COMMANDS:
        sys.exit(f"reconloss: unknown command {argv[0]!r}\n\n{usage()}")
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    module = importlib.import_module(COMMANDS[argv[0]][0])
    status = module.main(argv[1:])
    if isinstance(status, int) and status:
        sys.exit(status)
