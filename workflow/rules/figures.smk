# The study's tables and figures, assembled from the evaluated runs, and the
# `figures` target that rebuilds them (with the analytic ones) from results that
# already exist, training nothing:
#
#   snakemake --cores all figures --allowed-rules figures tables dataset_figures analytic claims_table
#
# `--allowed-rules` takes every other rule out of the DAG, so a run that is
# missing is an error naming its files, never a training (`make figures` types
# this). Without it, `snakemake --cores all figures` builds whatever the figures
# need, trainings included.

# On sys.path through common.smk; light: matplotlib is imported only to draw.
from reconloss.report import figures as _figures

# Figure stems come from the package, so the rule's outputs and what the command
# writes cannot drift apart. Each: (report category by stage, label in the report).
FIGURE_STEMS = list(_figures.FIGURES)
FIGURE_REPORT = {
    "cb_image": ("Evaluation", "Continuous Bernoulli: data, lambda and expected value"),
    "fid_vs_beta": ("Evaluation", "FID against beta"),
    "fid_bernoulli_vs_cb": ("Evaluation", "Bernoulli against continuous Bernoulli"),
    "reconstructions": ("Evaluation", "Reconstructions: parameter image and expected value"),
    "dynamic_range": ("Evaluation", "Dynamic range: black and white levels"),
    "samples": ("Evaluation", "Samples at each likelihood's best beta"),
    "divergence": ("Training", "Divergence map"),
    "sigma": ("Training", "Learned and predicted sigma over training"),
    "settling": ("Training", "How much the loss still moved"),
    "colour_image": ("Evaluation", "Continuous Bernoulli on colour images: data, lambda and expected value"),
}
FIGURE_DIR = "results/figures"
TABLE_DIR = "results/tables"

# What `rule all` asks for.
FIGURE_OUTPUTS = [
    f"{FIGURE_DIR}/{stem}_{dataset}.{fmt}" for dataset in DATASETS for stem in FIGURE_STEMS for fmt in ("png", "pdf")
]
TABLE_OUTPUTS = [f"{TABLE_DIR}/{name}.{fmt}" for name in ("summary", "best") for fmt in ("csv", "md", "tex", "html")]
# Written by rule claims (claims.smk).
CLAIM_OUTPUTS = [f"{TABLE_DIR}/claims.{fmt}" for fmt in ("csv", "md", "html")]


# The report shows HTML inline and offers every other type as a download:
# each table is registered as both.
rule tables:
    """One row per run (summary) and the best beta per (dataset, likelihood) (best)."""
    input:
        metrics=run_files("metrics.json"),
    output:
        summary_csv=report(
            f"{TABLE_DIR}/summary.csv",
            caption="../report/table_summary.rst",
            category="Tables",
            labels={"table": "summary: one row per run", "format": "csv"},
        ),
        summary_html=report(
            f"{TABLE_DIR}/summary.html",
            caption="../report/table_summary.rst",
            category="Tables",
            labels={"table": "summary: one row per run", "format": "html"},
        ),
        summary_md=f"{TABLE_DIR}/summary.md",
        summary_tex=f"{TABLE_DIR}/summary.tex",
        best_csv=report(
            f"{TABLE_DIR}/best.csv",
            caption="../report/table_best.rst",
            category="Tables",
            labels={"table": "best beta per likelihood", "format": "csv"},
        ),
        best_html=report(
            f"{TABLE_DIR}/best.html",
            caption="../report/table_best.rst",
            category="Tables",
            labels={"table": "best beta per likelihood", "format": "html"},
        ),
        best_md=f"{TABLE_DIR}/best.md",
        best_tex=f"{TABLE_DIR}/best.tex",
    params:
        out_dir=subpath(output.summary_csv, parent=True),
    conda:
        "../../envs/reconloss.yaml"
    log:
        "results/logs/tables.log",
    benchmark:
        "results/benchmarks/tables.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python3 -m reconloss tables --metrics {input.metrics:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule dataset_figures:
    """Every figure of one dataset, from the summary and the runs' images and training logs."""
    input:
        summary=f"{TABLE_DIR}/summary.csv",
        images=lambda w: run_files("images.pt", datasets=[w.dataset]),
        logs=lambda w: run_files("log.csv", datasets=[w.dataset]),
    output:
        **{
            stem: report(
                f"{FIGURE_DIR}/{stem}_{{dataset}}.png",
                caption=f"../report/{stem}.rst",
                category=FIGURE_REPORT[stem][0],
                subcategory="{dataset}",
                labels={"figure": FIGURE_REPORT[stem][1], "dataset": "{dataset}"},
            )
            for stem in FIGURE_STEMS
        },
        pdfs=[f"{FIGURE_DIR}/{stem}_{{dataset}}.pdf" for stem in FIGURE_STEMS],
    params:
        runs_root="results/runs",
        out_dir=subpath(output.fid_vs_beta, parent=True),
        settings=as_json(config.get("figures", {})),
    conda:
        "../../envs/reconloss.yaml"
    log:
        "results/logs/figures/{dataset}.log",
    benchmark:
        "results/benchmarks/figures/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    shell:
        "MPLBACKEND=Agg python3 -m reconloss figures --summary {input.summary:q} --runs-root {params.runs_root:q}"
        " --out-dir {params.out_dir:q} --dataset {wildcards.dataset:q} --settings {params.settings:q}"
        " > {log:q} 2>&1"


rule figures:
    """Target: every figure and table of the study, the analytic ones and the claims included."""
    input:
        ANALYTIC_OUTPUTS,
        FIGURE_OUTPUTS,
        TABLE_OUTPUTS,
        CLAIM_OUTPUTS,
    localrule: True
