# One command sets everything up and runs: `make run` (the workflow), `make test` (the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
CORES ?= all
# Optional dependencies to install: `make setup EXTRAS=test,slurm` adds the SLURM executor plugin.
EXTRAS ?= test

.PHONY: claims-next setup run test figures report lint bench docs-figures clean config-show generate study study-docs publish publish-check claims

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

setup: $(VENV)/.installed

run: setup  ## the default workflow (config.yaml): offline, CPU, minutes
	$(SNAKEMAKE) --cores $(CORES)

test: setup  ## unit tests and workflow tests on a tiny configuration
	$(PY) -m pytest

# The rules that only draw: `--allowed-rules` makes a missing result an error instead of a training.
FIGURE_RULES := figures tables dataset_figures analytic claims_table

figures: setup  ## figures, tables and report from existing results, training nothing
	$(SNAKEMAKE) --cores $(CORES) figures --allowed-rules $(FIGURE_RULES)
	$(SNAKEMAKE) --report results/report.html figures --allowed-rules $(FIGURE_RULES)

docs-figures: figures  ## the README's small PNGs (docs/figures) from the default run's results
	$(PY) -m reconloss figures --summary results/tables/summary.csv --runs-root results/runs \
	  --out-dir docs/figures --dataset digits \
	  --settings '{"formats": ["png"], "dpi": 100, "only": ["cb_image", "fid_bernoulli_vs_cb", "reconstructions", "fid_vs_beta", "dynamic_range", "samples"]}'

STUDY_CONFIG ?= configs/study.yaml
# Offline: make study STUDY_CONFIG="configs/study.yaml configs/offline-mirrors.yaml" (likewise study-docs).
study: setup  ## the MNIST and FashionMNIST study sized for a CPU (see configs/study.yaml); records its wall time
	$(PY) -m reconloss provenance --wall results/study_wall.json --config $(STUDY_CONFIG) --cores "$(CORES)" -- \
	  $(SNAKEMAKE) --cores $(CORES) --configfile $(STUDY_CONFIG)

study-docs: setup  ## docs/study/{dataset}/: figures, summary, best, claims, provenance of a finished study run
	$(PY) -m reconloss study-docs --config $(STUDY_CONFIG) --results results --out docs/study --readme README.md

publish: setup  ## rebuild each published claims.md, docs/study/README.md and the README's block from docs/study alone
	$(PY) -m reconloss publish --docs docs/study --readme README.md

publish-check: setup  ## fail, naming each page and its first differing line, where the published pages are out of date
	$(PY) -m reconloss publish --docs docs/study --readme README.md --check

CLAIMS_CONFIG ?= configs/claims.yaml
# A cut-down run caps every claim run's epochs: make claims CLAIMS_MAX_EPOCHS=2 (unset: the configuration's own cap)
CLAIMS_MAX_EPOCHS ?=
claims: setup  ## the runs that decide the claims, their follow-up rounds and verdicts (configs/claims.yaml); records its wall time (wall.json, walls.jsonl)
	@mkdir -p results/claims && printf '%s\n' "$(if $(CLAIMS_MAX_EPOCHS),claims: {max_epochs: $(CLAIMS_MAX_EPOCHS)},{})" > results/claims/max_epochs.yaml
	$(PY) -m reconloss provenance --wall results/claims/wall.json --walls results/claims/walls.jsonl \
	  --config $(CLAIMS_CONFIG) --cores "$(CORES)" --max-epochs "$(CLAIMS_MAX_EPOCHS)" -- \
	  $(PY) -m reconloss claims-rounds --config $(CLAIMS_CONFIG) results/claims/max_epochs.yaml -- \
	  $(SNAKEMAKE) --cores $(CORES)

claims-next: setup  ## the runs the next follow-up round of `make claims` would add, from the verdicts at hand
	@mkdir -p results/claims && printf '%s\n' "$(if $(CLAIMS_MAX_EPOCHS),claims: {max_epochs: $(CLAIMS_MAX_EPOCHS)},{})" > results/claims/max_epochs.yaml
	$(PY) -m reconloss claims-rounds --dry-run --config $(CLAIMS_CONFIG) results/claims/max_epochs.yaml

CONFIG ?= config.yaml
config-show: setup  ## the effective configuration of CONFIG (default config.yaml), each value with its source
	$(PY) -m reconloss config-show $(CONFIG)

generate: setup  ## after adding a setting or a likelihood: the schema, the tables of docs/configuration.md, the likelihood option table
	$(PY) -m reconloss generate

lint: setup
	$(SNAKEMAKE) --lint

bench: setup  ## training speed against a tutorial-style loop
	$(PY) benchmarks/bench_train.py

clean:
	rm -rf results .snakemake
