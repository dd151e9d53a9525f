# The study's analytic figures and tables: they need no data and no training.

# File names come from the package (on sys.path through common.smk), so the rule's
# outputs and what the command writes cannot drift apart.
from reconloss import analytic as _analytic  # light: no torch, no matplotlib

ANALYTIC_FIGURE_DIR = "results/figures/analytic"
ANALYTIC_TABLE_DIR = "results/tables"
ANALYTIC_FIGURES = _analytic.figure_paths(ANALYTIC_FIGURE_DIR)
ANALYTIC_TABLES = _analytic.table_paths(ANALYTIC_TABLE_DIR)
# What `rule all` asks for: figures first, then tables (the rule's params rely on that order).
ANALYTIC_OUTPUTS = ANALYTIC_FIGURES + ANALYTIC_TABLES

# The report shows PNG figures and HTML tables inline and offers CSV tables as a download;
# captions are resolved relative to this file when the rule is defined.
_ANALYTIC_OUTPUT_ITEMS = []
for _path in ANALYTIC_OUTPUTS:
    _stem, _fmt = Path(_path).stem, Path(_path).suffix[1:]
    if _fmt == "png":
        _path = report(
            _path,
            caption=f"../report/analytic_{_stem}.rst",
            category="Analytic",
            subcategory="Figures",
            labels={"figure": _stem},
        )
    elif _fmt in ("html", "csv"):
        _path = report(
            _path,
            caption=f"../report/analytic_table_{_stem}.rst",
            category="Analytic",
            subcategory="Tables",
            labels={"table": _stem, "format": _fmt},
        )
    _ANALYTIC_OUTPUT_ITEMS.append(_path)


rule analytic:
    """Curves and numbers of the likelihoods that need no training (CB normalizer, mean, sigma <-> beta)."""
    output:
        _ANALYTIC_OUTPUT_ITEMS,
    params:
        figures_dir=lambda w, output: os.path.dirname(output[0]),
        tables_dir=lambda w, output: os.path.dirname(output[-1]),
    conda:
        "../../envs/reconloss.yaml"
    log:
        "results/logs/analytic.log",
    benchmark:
        "results/benchmarks/analytic.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python3 -m reconloss --threads {threads} analytic --figures-dir {params.figures_dir:q}"
        " --tables-dir {params.tables_dir:q} > {log:q} 2>&1"
