# One command sets everything up and runs: `make run` (the workflow), `make test` (the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
CORES ?= all

.PHONY: setup run test figures report lint bench docs-figures clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

setup: $(VENV)/.installed

run: setup  ## the default workflow (config.yaml): offline, CPU, minutes
	$(SNAKEMAKE) --cores $(CORES)

test: setup  ## unit tests and workflow tests on a tiny configuration
	$(PY) -m pytest

figures: setup  ## figures, tables and report from existing results, training nothing
	$(SNAKEMAKE) --cores $(CORES) figures
	$(SNAKEMAKE) --report results/report.html

lint: setup
	$(SNAKEMAKE) --lint

bench: setup  ## training speed against a tutorial-style loop
	$(PY) benchmarks/bench_train.py

clean:
	rm -rf results .snakemake
