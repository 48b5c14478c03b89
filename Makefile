# pingan-eval: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PERIOD ?= 2026-11
RAW ?= data/raw/sample
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -e 's/^## //' | column -t -s ':'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# matplotlib's font list is built on first import: once here, not in each batch worker
	$(BIN)/python -c "import matplotlib.font_manager"
	touch $(STAMP)

## install: create .venv and install the package with its dev tools
install: $(STAMP)

## demo: prepare the sample county's survey waves and build the reports for $(PERIOD)
demo: $(STAMP)
	$(BIN)/pingan-eval prepare --period all --raw $(RAW)
	$(BIN)/pingan-eval batch --period $(PERIOD) --raw $(RAW)

## test: lint, the import layers, then every test (unit, golden vs R, doctests, nbval)
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

## lint: ruff over the library and tests, and the import-layers contract
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/lint-imports --no-cache

## lab: start JupyterLab in the project's environment
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

## notebooks: re-execute the report notebooks in place on the sample (then commit them)
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False notebooks/*.ipynb

## wheel: build the wheel into dist/ (what analysts install: `pip install dist/*.whl`)
wheel: $(STAMP)
	rm -rf build
	$(BIN)/python -m pip wheel --no-deps -q -w dist .
	rm -rf build

## check-wheel: build the wheel, install it in a fresh venv, run init/synth/prepare/batch
check-wheel:
	PYTHON=$(PYTHON) tools/check_wheel.sh

## bench: run the benchmark scripts and print their figures
bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

## golden: regenerate the R reference fixtures (needs r-base-core and r-cran-survey)
golden:
	cd tests/golden && Rscript make_golden.R && Rscript make_golden_rake.R

## synth: regenerate the shipped sample county (same seed, same bytes)
synth: $(STAMP)
	$(BIN)/pingan-eval synth --out $(RAW) --seed 2026

## clean: remove generated data and reports (never data/raw)
clean:
	rm -rf data/processed/* reports/*
	touch data/processed/.gitkeep reports/.gitkeep

.PHONY: help install demo test lint lab notebooks wheel check-wheel bench golden synth clean
