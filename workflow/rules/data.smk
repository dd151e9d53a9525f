rule data:
    """Download (or load) one dataset, verify it, and cache it as one tensor file.

    Local on clusters: compute nodes often have no internet access.
    """
    localrule: True
    output:
        "results/data/{dataset}.pt",
    params:
        raw_dir=config["data"]["raw_dir"],
        settings=lambda w: as_json(data_settings(w.dataset)),
    conda:
        "../../envs/reconloss.yaml"
    log:
        "results/logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/data/{dataset}.tsv"
    resources:
        mem_mb=mem_mb(2000),
        runtime=30,
    shell:
        "python3 -m reconloss data --dataset {wildcards.dataset} --out {output:q}"
        " --raw-dir {params.raw_dir:q} --settings {params.settings:q} > {log:q} 2>&1"
