"""reconloss: which reconstruction likelihood p(x|z) for a VAE on image data.

`snakemake --cores all` runs the embedded default (config.yaml: scikit-learn's
digits, offline, CPU, minutes); `--configfile configs/paper.yaml` runs the study.
A --configfile stands alone: config.yaml is read only when none is given, and
every key it omits takes the default of workflow/reconloss/settings.py
(`make config-show CONFIG=...` prints each value with its source).
"""

import sys

from snakemake.utils import min_version

min_version("9.0")

# The package (torch-free parts only here) checks the configuration before any rule exists.
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
from reconloss.plan import config_check


if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    _effective = config_check.effective_or_raise(
        config, " + ".join(map(str, workflow.overwrite_configfiles)) or "config.yaml"
    )
except config_check.ConfigError as _error:
    raise WorkflowError(str(_error)) from None
config.clear()
config.update(_effective)
# config_check is the one plan-time check. workflow/schemas/config.schema.yaml, generated from the same
# definitions (reconloss.plan.generate), documents the settings for editors and readers; nothing validates
# against it here.


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/classifier.smk"
include: "workflow/rules/vae.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analytic.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/claims.smk"


report: "workflow/report/workflow.rst"


# A configuration of claims alone (`likelihoods: []`) has no grid: its default target is the claims.
rule all:
    input:
        CLAIMS_TARGET if GRID_EMPTY else [ANALYTIC_OUTPUTS, FIGURE_OUTPUTS, TABLE_OUTPUTS, CLAIM_OUTPUTS],
    default_target: True
