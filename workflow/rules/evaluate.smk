rule evaluate:
    """Every metric of each run of one pack, with the data and the classifier loaded once.

    A diverged run gets its row with status `diverged`.
    """
    input:
        data=pack_data,
        trained=PACK_MARKER.replace("{stage}", "trained"),
        classifier=pack_classifier_files("model.pt"),
        stats=pack_classifier_files("test_stats.npz"),
        classifier_metrics=pack_classifier_files("metrics.json"),
    output:
        touch(PACK_MARKER.replace("{stage}", "evaluated")),
    params:
        classifier_dir=lambda w: classifier_dirs(pack_of(w).dataset),
        runs=pack_runs("evaluate"),
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
        mem_mb=pack_mem_flat(2000),
        runtime=pack_runtime_min(10),
    shell:
        "python3 -m reconloss --threads {threads} evaluate --data {input.data:q} --runs {params.runs:q}"
        " --classifier-dir {params.classifier_dir:q} > {log:q} 2>&1"
