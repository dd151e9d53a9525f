rule evaluate:
    """Every metric of each run of one pack, with the data and the classifier loaded once.

    A diverged run gets its row with status `diverged`.
    """
    input:
        data="results/data/{dataset}.pt",
        model=pack_files("model.pt"),
        status=pack_files("status.json"),
        classifier=classifier_files("model.pt"),
        stats=classifier_files("test_stats.npz"),
        classifier_metrics=classifier_files("metrics.json"),
    output:
        metrics=pack_files("metrics.json"),
        reconstructions=pack_files("reconstructions.png"),
        samples=pack_files("samples.png"),
        images=pack_files("images.pt"),
    params:
        classifier_dir=lambda w: classifier_dirs(w.dataset),
        runs=pack_runs(evaluate_settings),
    conda:
        "../../envs/reconloss.yaml"
    log:
        PACK_LOG.replace("{stage}", "evaluate"),
    benchmark:
        PACK_BENCHMARK.replace("{stage}", "evaluate")
    threads: 1
    # Evaluate a pack as soon as it is trained, beside the next trainings, not all at the end.
    priority: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=pack_runtime_min(10),
    shell:
        "python3 -m reconloss --threads {threads} evaluate --data {input.data:q} --runs {params.runs:q}"
        " --classifier-dir {params.classifier_dir:q} > {log:q} 2>&1"
