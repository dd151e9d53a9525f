# The study's claims, each with a verdict computed by reconloss.claims: claims_table gives the
# verdicts on the grid's summary (results/tables/claims.*), beside the grid's tables. The claims'
# own runs, and the `claims` target, are in claim_runs.smk.

from reconloss import claims as _claims  # torch-free

# Its outputs, CLAIM_OUTPUTS, are listed in figures.smk beside the other tables.


rule claims_table:
    """One row per claim and dataset: its numbers over seeds and a computed verdict."""
    input:
        summary=f"{TABLE_DIR}/summary.csv",
    output:
        csv=report(
            f"{TABLE_DIR}/claims.csv",
            caption="../report/table_claims.rst",
            category="Claims",
            labels={"table": "claims and verdicts", "format": "csv"},
        ),
        md=f"{TABLE_DIR}/claims.md",
        html=report(
            f"{TABLE_DIR}/claims.html",
            caption="../report/table_claims.rst",
            category="Claims",
            labels={"table": "claims and verdicts", "format": "html"},
        ),
    params:
        out_dir=subpath(output.csv, parent=True),
        # Each grid label's likelihood, options and train overrides: the fixed-σ claim reads σ from them.
        specs=as_json(_claims.grid_specs(config)),
        only=as_json(config.get("claims", {}).get("only")),
    conda:
        "../../envs/reconloss.yaml"
    log:
        "results/logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python3 -m reconloss claims --summary {input.summary:q} --specs {params.specs:q} --only {params.only:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"
