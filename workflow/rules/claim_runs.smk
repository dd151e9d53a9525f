# The `claims` target: it trains and evaluates exactly the runs the claims need (reconloss.plan.runs,
# under results/claims/runs/, one pack per dataset, label and β, the claims' seeds its members) and
# writes results/claims/claims.{csv,md,html} with the claims' own summary tables and figures. The
# grid's rules are reused on the claims' files; the grid's targets do not change.
#
#   snakemake --cores all claims [--configfile configs/claims.yaml]   (make claims)


use rule train as claims_train with:
    output:
        model=claim_pack_files("model.pt"),
        status=claim_pack_files("status.json"),
        log_csv=claim_pack_files("log.csv"),
    params:
        runs=pack_runs(claim_run_settings, claim_members, CLAIM_RUN),
        max_runs=PACK_MAX_RUNS,
    resources:
        mem_mb=pack_mem_mb(1000, 50, claim_members, claim_run_settings),
        runtime=pack_runtime_min(20, claim_members),
    log:
        CLAIM_PACK_LOG.replace("{stage}", "train"),
    benchmark:
        CLAIM_PACK_BENCHMARK.replace("{stage}", "train")


use rule evaluate as claims_evaluate with:
    input:
        data="results/data/{dataset}.pt",
        model=claim_pack_files("model.pt"),
        status=claim_pack_files("status.json"),
        classifier="results/classifier/{dataset}/model.pt",
        stats="results/classifier/{dataset}/test_stats.npz",
        classifier_metrics="results/classifier/{dataset}/metrics.json",
    output:
        metrics=claim_pack_files("metrics.json"),
        reconstructions=claim_pack_files("reconstructions.png"),
        samples=claim_pack_files("samples.png"),
        images=claim_pack_files("images.pt"),
    params:
        classifier_dir=subpath(input.classifier, parent=True),
        runs=pack_runs(claim_evaluate_settings, claim_members, CLAIM_RUN),
    resources:
        mem_mb=mem_mb(2000),
        runtime=pack_runtime_min(10, claim_members),
    log:
        CLAIM_PACK_LOG.replace("{stage}", "evaluate"),
    benchmark:
        CLAIM_PACK_BENCHMARK.replace("{stage}", "evaluate")


use rule tables as claims_tables with:
    input:
        metrics=claim_run_files("metrics.json"),
    output:
        **{
            f"{name}_{fmt}": f"{CLAIM_DIR}/tables/{name}.{fmt}"
            for name in ("summary", "best")
            for fmt in ("csv", "html", "md", "tex")
        },
    params:
        out_dir=subpath(output.summary_csv, parent=True),
    log:
        f"{CLAIM_DIR}/logs/tables.log",
    benchmark:
        f"{CLAIM_DIR}/benchmarks/tables.tsv"


use rule claims_table as claims_verdicts with:
    input:
        summary=f"{CLAIM_DIR}/tables/summary.csv",
    output:
        csv=report(
            f"{CLAIM_DIR}/claims.csv",
            caption="../report/table_claims.rst",
            category="Claims",
            labels={"table": "claims and verdicts (the claims' own runs)", "format": "csv"},
        ),
        md=f"{CLAIM_DIR}/claims.md",
        html=report(
            f"{CLAIM_DIR}/claims.html",
            caption="../report/table_claims.rst",
            category="Claims",
            labels={"table": "claims and verdicts (the claims' own runs)", "format": "html"},
        ),
    params:
        out_dir=subpath(output.csv, parent=True),
        specs=as_json(claim_specs()),
        only=as_json(config["claims"]["only"]),
    log:
        f"{CLAIM_DIR}/logs/claims.log",
    benchmark:
        f"{CLAIM_DIR}/benchmarks/claims.tsv"


use rule dataset_figures as claims_figures with:
    input:
        summary=f"{CLAIM_DIR}/tables/summary.csv",
        images=lambda w: claim_run_files("images.pt", datasets=[w.dataset]),
        logs=lambda w: claim_run_files("log.csv", datasets=[w.dataset]),
    output:
        **{stem: f"{CLAIM_DIR}/figures/{stem}_{{dataset}}.png" for stem in FIGURE_STEMS},
        pdfs=[f"{CLAIM_DIR}/figures/{stem}_{{dataset}}.pdf" for stem in FIGURE_STEMS],
    params:
        runs_root=f"{CLAIM_DIR}/runs",
        out_dir=subpath(output.fid_vs_beta, parent=True),
        settings=as_json(config.get("figures", {})),
    log:
        f"{CLAIM_DIR}/logs/figures/{{dataset}}.log",
    benchmark:
        f"{CLAIM_DIR}/benchmarks/figures/{{dataset}}.tsv"


# The claims link analytic figures too (the Bernoulli's missing mass): they are part of the target.
CLAIMS_TARGET = ANALYTIC_OUTPUTS + [f"{CLAIM_DIR}/claims.{fmt}" for fmt in ("csv", "md", "html")] + [
    f"{CLAIM_DIR}/figures/{stem}_{dataset}.png" for dataset in DATASETS for stem in FIGURE_STEMS
]


rule claims:
    """Target: the claims' own runs, trained and evaluated, their tables, figures and verdicts."""
    input:
        CLAIMS_TARGET,
    localrule: True
