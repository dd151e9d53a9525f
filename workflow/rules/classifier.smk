from reconloss.settings import defaults as _setting_defaults


def classifier_count(dataset):
    """classifier.count of the dataset: how many FID classifiers it trains."""
    return int(merged("classifier", dataset).get("count") or _setting_defaults("classifier")["count"])


def classifier_dirs(dataset):
    """The dataset's classifier folders, classifier 0 first: results/classifier/{dataset}, then its c~{k}/."""
    base = f"results/classifier/{dataset}"
    return [base] + [f"{base}/c~{k}" for k in range(1, classifier_count(dataset))]


def classifier_files(name):
    """Input function: file `name` of every classifier of the job's dataset."""
    return lambda w: [f"{d}/{name}" for d in classifier_dirs(w.dataset)]


def classifier_train_settings(w, k=0):
    """The classifier job's settings: the section without `count` (classifier 0's stay what they were
    before there were several), and seed + k for classifier k."""
    s = {key: v for key, v in classifier_settings(w).items() if key != "count"}
    if k:
        s["seed"] = int(s.get("seed") or 0) + k
    return s


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
