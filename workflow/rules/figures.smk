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


for _consumer in CONSUMER_RULES:

    rule:
        """One row per run (summary) and the best beta per (dataset, likelihood) (best), of one consumer."""
        name:
            CONSUMER_RULES[_consumer]["tables"]
        input:
            evaluated=pack_markers("evaluated", _consumer),
        output:
            **table_outputs(_consumer),
        params:
            out_dir=subpath(output.summary_csv, parent=True),
            metrics=read_files(_consumer, "metrics.json"),
            labels=as_json(read_labels(_consumer)),
        conda:
            "../../envs/reconloss.yaml"
        log:
            f"{CONSUMER_ROOT[_consumer]}/logs/tables.log",
        benchmark:
            f"{CONSUMER_ROOT[_consumer]}/benchmarks/tables.tsv"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        shell:
            "python3 -m reconloss tables --metrics {params.metrics:q} --labels {params.labels:q}"
            " --out-dir {params.out_dir:q} > {log:q} 2>&1"

    rule:
        """Every figure of one dataset, from the consumer's summary and its runs' images and training logs."""
        name:
            CONSUMER_RULES[_consumer]["figures"]
        input:
            summary=f"{CONSUMER_ROOT[_consumer]}/tables/summary.csv",
            evaluated=dataset_markers(_consumer),
        output:
            **figure_outputs(_consumer),
            pdfs=[f"{CONSUMER_ROOT[_consumer]}/figures/{stem}_{{dataset}}.pdf" for stem in FIGURE_STEMS],
        params:
            runs_root=_runs.RUNS_ROOT,
            run_dirs=relocated_json(_consumer),
            out_dir=subpath(output.fid_vs_beta, parent=True),
            settings=as_json(config.get("figures", {})),
        conda:
            "../../envs/reconloss.yaml"
        log:
            f"{CONSUMER_ROOT[_consumer]}/logs/figures/{{dataset}}.log",
        benchmark:
            f"{CONSUMER_ROOT[_consumer]}/benchmarks/figures/{{dataset}}.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=15,
        shell:
            "MPLBACKEND=Agg python3 -m reconloss figures --summary {input.summary:q} --runs-root {params.runs_root:q}"
            " --run-dirs {params.run_dirs:q} --out-dir {params.out_dir:q} --dataset {wildcards.dataset:q}"
            " --settings {params.settings:q} > {log:q} 2>&1"


rule figures:
    """Target: every figure and table of the study, the analytic ones and the claims included."""
    input:
        ANALYTIC_OUTPUTS,
        FIGURE_OUTPUTS,
        TABLE_OUTPUTS,
        CLAIM_OUTPUTS,
    localrule: True
