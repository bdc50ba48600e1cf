# callscore: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := models/artifacts/current
SAMPLE_DATES := 2026-11-23,2026-11-24
SAMPLE_CALLS := 16
LANDING := $(CURDIR)/var/landing
WAREHOUSE := $(CURDIR)/var/warehouse
ROSTER := $(LANDING)/roster.csv

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1
export CALLSCORE_LANDING ?= $(LANDING)
export CALLSCORE_WAREHOUSE ?= $(WAREHOUSE)
export CALLSCORE_ROSTER ?= $(ROSTER)

.PHONY: run test venv model sample lint clean

## run: set up, train the model on first use, run the nightly job on the sample days, print the summary
run: venv model sample
	@for d in $$(echo $(SAMPLE_DATES) | tr ',' ' '); do \
	  $(BIN)/callscore run --date $$d > /dev/null || exit 1; done
	@$(BIN)/callscore summary

## test: install, make sure a model exists, run every test tier
test: venv model
	$(BIN)/ruff check pipeline dags tests
	$(BIN)/python -m pytest -q

venv: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=25"
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

## model: train and promote the default classifier unless one exists (about 10 minutes on 2 cores)
model: venv
	@test -f $(MODEL)/callscore.json || $(BIN)/callscore train --promote

sample: venv
	@test -d $(LANDING)/2026-11-23 || $(BIN)/callscore sample --out $(LANDING) --dates $(SAMPLE_DATES) \
	  --calls-per-day $(SAMPLE_CALLS) --bad-files 2 --roster $(ROSTER) > /dev/null

lint: venv
	$(BIN)/ruff check pipeline dags tests

clean:
	rm -rf var .airflow
