# The study's claims, each with a verdict computed by reconloss.claims, on each consumer's summary:
# `claims_table` on the grid's (results/tables/claims.*, beside the grid's tables), `claims_verdicts`
# on the claims' own runs (results/claims/claims.*), which the `claims` target builds:
#
#   snakemake --cores all claims [--configfile configs/claims.yaml]   (make claims)
#
# The claims' runs are planned with the grid's (reconloss.plan.runs): a run both ask for trains once.

# Its outputs, CLAIM_OUTPUTS, are listed in figures.smk beside the other tables.
CLAIMS_FILES = {"grid": f"{TABLE_DIR}/claims", "claims": f"{CONSUMER_ROOT['claims']}/claims"}


for _consumer in CONSUMER_RULES:

    rule:
        """One row per claim and dataset: its numbers over seeds and a computed verdict."""
        name:
            CONSUMER_RULES[_consumer]["claims"]
        input:
            summary=f"{CONSUMER_ROOT[_consumer]}/tables/summary.csv",
        output:
            csv=report(
                f"{CLAIMS_FILES[_consumer]}.csv",
                caption="../report/table_claims.rst",
                category="Claims",
                labels={"table": f"claims and verdicts{CONSUMER_TITLE[_consumer]}", "format": "csv"},
            ),
            md=f"{CLAIMS_FILES[_consumer]}.md",
            html=report(
                f"{CLAIMS_FILES[_consumer]}.html",
                caption="../report/table_claims.rst",
                category="Claims",
                labels={"table": f"claims and verdicts{CONSUMER_TITLE[_consumer]}", "format": "html"},
            ),
        params:
            out_dir=subpath(output.csv, parent=True),
            # Each label's likelihood, options and train overrides: the fixed-σ claim reads σ from them.
            specs=as_json(PLAN.specs(_consumer)),
            only=as_json(config.get("claims", {}).get("only")),
            # The claims' own verdicts are judged at α / (rounds + 1): `make claims` may look again after each round.
            rounds=config["claims"]["rounds"] if _consumer == "claims" else 0,
            follow_ups=as_json(config["claims"]["follow_ups"] if _consumer == "claims" else []),
        conda:
            "../../envs/reconloss.yaml"
        log:
            f"{CONSUMER_ROOT[_consumer]}/logs/claims.log",
        benchmark:
            f"{CONSUMER_ROOT[_consumer]}/benchmarks/claims.tsv"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        shell:
            "python3 -m reconloss claims --summary {input.summary:q} --specs {params.specs:q}"
            " --only {params.only:q} --rounds {params.rounds} --follow-ups {params.follow_ups:q}"
            " --out-dir {params.out_dir:q} > {log:q} 2>&1"


# The claims link analytic figures too (the Bernoulli's missing mass): they are part of the target.
CLAIMS_TARGET = ANALYTIC_OUTPUTS + [f"{CLAIMS_FILES['claims']}.{fmt}" for fmt in ("csv", "md", "html")] + [
    f"{CONSUMER_ROOT['claims']}/figures/{stem}_{dataset}.png" for dataset in DATASETS for stem in FIGURE_STEMS
]


rule claims:
    """Target: the claims' own runs, trained and evaluated, their tables, figures and verdicts."""
    input:
        CLAIMS_TARGET,
    localrule: True
