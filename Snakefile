"""reconloss: which reconstruction likelihood p(x|z) for a VAE on image data.

`snakemake --cores all` runs the embedded default (config.yaml: scikit-learn's
digits, offline, CPU, minutes); `--configfile configs/paper.yaml` runs the study.
"""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/classifier.smk"
include: "workflow/rules/vae.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analytic.smk"
include: "workflow/rules/figures.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        ANALYTIC_OUTPUTS,
        FIGURE_OUTPUTS,
        TABLE_OUTPUTS,
    default_target: True
