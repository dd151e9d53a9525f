rule train:
    """One β-VAE of the grid. A run whose loss stops being finite ends `diverged`: a result, not a failure."""
    input:
        data="results/data/{dataset}.pt",
    output:
        model=f"{RUN}/model.pt",
        status=f"{RUN}/status.json",
        log_csv=f"{RUN}/log.csv",
    params:
        run_dir=subpath(output.status, parent=True),
        settings=lambda w: as_json(run_settings(w)),
    conda:
        "../../envs/reconloss.yaml"
    log:
        RUN_LOG.replace("{stage}", "train"),
    benchmark:
        RUN_BENCHMARK.replace("{stage}", "train")
    # Two one-thread trainings side by side beat one two-thread training.
    threads: 1
    resources:
        mem_mb=mem_mb(1500),
        runtime=runtime_min(20),
    shell:
        "python3 -m reconloss --threads {threads} train --data {input.data:q} --run-dir {params.run_dir:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"
