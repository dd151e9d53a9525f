rule evaluate:
    """Every metric of one run; a diverged run gets its row with status `diverged`."""
    input:
        data="results/data/{dataset}.pt",
        model=f"{RUN}/model.pt",
        status=f"{RUN}/status.json",
        classifier="results/classifier/{dataset}/model.pt",
        stats="results/classifier/{dataset}/test_stats.npz",
        classifier_metrics="results/classifier/{dataset}/metrics.json",
    output:
        metrics=f"{RUN}/metrics.json",
        reconstructions=f"{RUN}/reconstructions.png",
        samples=f"{RUN}/samples.png",
        images=f"{RUN}/images.pt",
    params:
        run_dir=subpath(output.metrics, parent=True),
        classifier_dir=subpath(input.classifier, parent=True),
        settings=lambda w: as_json(evaluate_settings(w)),
    conda:
        "../../envs/reconloss.yaml"
    log:
        RUN_LOG.replace("{stage}", "evaluate"),
    benchmark:
        RUN_BENCHMARK.replace("{stage}", "evaluate")
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(10),
    shell:
        "python3 -m reconloss --threads {threads} evaluate --data {input.data:q} --run-dir {params.run_dir:q}"
        " --classifier-dir {params.classifier_dir:q} --settings {params.settings:q} > {log:q} 2>&1"
