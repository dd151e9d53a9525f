rule train:
    """The β-VAEs of one pack (reconloss.plan.runs), trained as one stacked model; each run writes its own files.

    A run whose loss stops being finite ends `diverged`: a result, not a failure.
    """
    input:
        data=pack_data,
    output:
        touch(PACK_MARKER.replace("{stage}", "trained")),
    params:
        runs=pack_runs("train"),
        max_runs=PACK_MAX_RUNS,
    conda:
        "../../envs/reconloss.yaml"
    log:
        PACK_LOG.replace("{stage}", "train"),
    benchmark:
        PACK_BENCHMARK.replace("{stage}", "train")
    # Two one-thread packs side by side beat one two-thread pack.
    threads: 1
    resources:
        mem_mb=pack_mem_mb(1000, 50),
        runtime=pack_runtime_min(20),
    shell:
        "python3 -m reconloss --threads {threads} train --data {input.data:q} --runs {params.runs:q}"
        " --max-runs {params.max_runs} > {log:q} 2>&1"
