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

.PHONY: run test venv model sample lint clean airflow airflow-db

## run: set up, train the model on first use, run the nightly DAG through Airflow for each sample day, summarise
run: venv model sample airflow-db
	@for d in $$(echo $(SAMPLE_DATES) | tr ',' ' '); do \
	  echo "airflow dags test callscore_nightly (day $$d) ..."; \
	  $(BIN)/airflow dags test callscore_nightly -c "{\"day\": \"$$d\"}" > $(AIRFLOW_HOME)/dags-test-$$d.log 2>&1 \
	    || { tail -40 $(AIRFLOW_HOME)/dags-test-$$d.log; exit 1; }; \
	  grep -q "state=success" $(AIRFLOW_HOME)/dags-test-$$d.log \
	    || { tail -40 $(AIRFLOW_HOME)/dags-test-$$d.log; echo "DAG run for $$d did not succeed"; exit 1; }; \
	done
	@$(BIN)/callscore summary

## airflow-db: migrate the SQLite metadata DB in .airflow/ and create the model pool
airflow-db: venv
	@$(BIN)/airflow db migrate > /dev/null
	@$(BIN)/airflow pools set callscore_model 2 "tasks holding the classifier in memory" > /dev/null

## airflow: start Airflow (scheduler, dag-processor, api-server, triggerer) on 127.0.0.1 with the DAGs unpaused
airflow: venv model sample airflow-db
	@echo "Airflow UI: http://127.0.0.1:8080  user: admin  password: see $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated"
	@AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False \
	  AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30 PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/airflow standalone

## test: install, make sure a model exists, run every test tier
test: venv model
	$(BIN)/ruff check pipeline dags tests scripts docker
	$(BIN)/python -m pytest -q

venv: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=25"
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,distributed]'
	@touch $@

## model: train and promote the default classifier unless one exists (about 10 minutes on 2 cores)
model: venv
	@test -f $(MODEL)/callscore.json || $(BIN)/callscore train --promote

sample: venv
	@test -d $(LANDING)/2026-11-23 || $(BIN)/callscore sample --out $(LANDING) --dates $(SAMPLE_DATES) \
	  --calls-per-day $(SAMPLE_CALLS) --bad-files 2 --roster $(ROSTER) > /dev/null

lint: venv
	$(BIN)/ruff check pipeline dags tests scripts docker

clean:
	rm -rf var .airflow

## distributed-test: the nightly DAG on a CeleryExecutor cluster on 127.0.0.1 (PostgreSQL, Redis, S3 via moto,
## two Celery workers): equal to a local run, shards on both workers, a killed worker retried; prints timings
.PHONY: distributed-test
distributed-test: venv model
	@$(BIN)/python -c "import airflow.providers.celery, psycopg2" 2>/dev/null \
	  || $(BIN)/pip install -q -c constraints.txt -e '.[dev,distributed]'
	@mkdir -p var
	CALLSCORE_DISTRIBUTED_REPORT=$(CURDIR)/var/distributed-report.json $(BIN)/python -m pytest tests/distributed -q -s
