rule classifier:
    """The dataset's own classifier, whose features FID compares (not Inception)."""
    input:
        "results/data/{dataset}.pt",
    output:
        model="results/classifier/{dataset}/model.pt",
        metrics="results/classifier/{dataset}/metrics.json",
        stats="results/classifier/{dataset}/test_stats.npz",
    params:
        out_dir=subpath(output.metrics, parent=True),
        settings=lambda w: as_json(classifier_train_settings(w)),
    conda:
        "../../envs/reconloss.yaml"
    log:
        "results/logs/classifier/{dataset}.log",
    benchmark:
        "results/benchmarks/classifier/{dataset}.tsv"
    threads: CLASSIFIER_THREADS
    # First after the data: every evaluation waits for it, and it would otherwise run last, alone.
    priority: 10
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime_min(15),
    shell:
        "python3 -m reconloss --threads {threads} classifier --data {input:q} --out-dir {params.out_dir:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


use rule classifier as classifier_more with:
    output:
        model="results/classifier/{dataset}/c~{k}/model.pt",
        metrics="results/classifier/{dataset}/c~{k}/metrics.json",
        stats="results/classifier/{dataset}/c~{k}/test_stats.npz",
    params:
        out_dir=subpath(output.metrics, parent=True),
        settings=lambda w: as_json(classifier_train_settings(w, int(w.k))),
    log:
        "results/logs/classifier/{dataset}/c~{k}.log",
    benchmark:
        "results/benchmarks/classifier/{dataset}/c~{k}.tsv"
    wildcard_constraints:
        k=r"[1-9][0-9]*",
