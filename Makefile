# callscore: the two commands are `make run` and `make test` (the quick tier); CI runs `make test-all` (README.md).
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
export CALLSCORE_MODEL ?= $(CURDIR)/$(MODEL)
# defaults (var/, models/artifacts/) follow CALLSCORE_HOME, else the cwd: pin them to the checkout for every process
# make starts, Airflow's task processes included, whatever their cwd (pipeline/paths.py)
export CALLSCORE_HOME ?= $(CURDIR)

.PHONY: run test test-all deps venv model sample lint clean airflow airflow-stop airflow-db demo-pull browser assets \
	wheel-check

## run: set up, train the model on first use, run the nightly DAG through Airflow for each sample day, summarise
run: venv assets model sample airflow-db
	@for d in $$(echo $(SAMPLE_DATES) | tr ',' ' '); do \
	  echo "airflow dags test callscore_nightly (day $$d) ..."; \
	  $(BIN)/airflow dags test callscore_nightly -c "{\"day\": \"$$d\"}" > $(AIRFLOW_HOME)/dags-test-$$d.log 2>&1 \
	    || { tail -40 $(AIRFLOW_HOME)/dags-test-$$d.log; exit 1; }; \
	  grep -q "state=success" $(AIRFLOW_HOME)/dags-test-$$d.log \
	    || { tail -40 $(AIRFLOW_HOME)/dags-test-$$d.log; echo "DAG run for $$d did not succeed"; exit 1; }; \
	done
	@$(BIN)/callscore summary

## demo-pull: the nightly DAG pulls two nights of calls from local fake Gong and Zoom APIs (no network),
## one transcript arriving late; outputs in var/demo-pull/ (README: Inputs)
demo-pull: venv model airflow-db
	@rm -rf var/demo-pull
	@$(BIN)/python -m pipeline.devtools.fake_sources --days $(SAMPLE_DATES) --out var/demo-pull

## airflow-db: migrate the SQLite metadata DB in .airflow/ and create the model pool
airflow-db: venv
	@$(BIN)/airflow db migrate > /dev/null
	@$(BIN)/airflow pools set callscore_model 2 "tasks holding the classifier in memory" > /dev/null

## airflow: start Airflow (scheduler, dag-processor, api-server, triggerer; scripts/airflow/local.sh) in the
## background, every server on 127.0.0.1 and no task-log servers, in its own process group, with the DAGs
## unpaused; `make airflow-stop` stops the whole group
AIRFLOW_PID = $(AIRFLOW_HOME)/standalone.pid
AIRFLOW_PORT ?= 8080
AIRFLOW_PARALLELISM ?= $(shell echo $$(( $$(nproc) * 2 )))
airflow: venv model sample airflow-db
	@if [ -f $(AIRFLOW_PID) ] && kill -0 $$(cat $(AIRFLOW_PID)) 2>/dev/null; then \
	  echo "Airflow already runs (process group $$(cat $(AIRFLOW_PID))); make airflow-stop first"; exit 1; fi
	@$(BIN)/airflow dags reserialize > /dev/null 2>&1
	@$(BIN)/airflow dags unpause callscore_nightly -y > /dev/null
	@$(BIN)/airflow dags unpause callscore_train -y > /dev/null
	@$(BIN)/airflow dags unpause callscore_maintenance -y > /dev/null
	@AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$(AIRFLOW_PORT) AIRFLOW__CORE__PARALLELISM=$(AIRFLOW_PARALLELISM) \
	  AIRFLOW__API__BASE_URL=http://127.0.0.1:$(AIRFLOW_PORT) \
	  AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$(AIRFLOW_PORT)/execution/ \
	  AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30 PATH=$(CURDIR)/$(BIN):$$PATH \
	  setsid bash scripts/airflow/local.sh > $(AIRFLOW_HOME)/standalone.log 2>&1 < /dev/null & echo $$! > $(AIRFLOW_PID)
	@for i in $$(seq 1 90); do \
	  curl -sf http://127.0.0.1:$(AIRFLOW_PORT)/api/v2/monitor/health > /dev/null && break; sleep 2; done; \
	  curl -sf http://127.0.0.1:$(AIRFLOW_PORT)/api/v2/monitor/health > /dev/null \
	  || { tail -20 $(AIRFLOW_HOME)/standalone.log; echo "Airflow did not come up; see $(AIRFLOW_HOME)/standalone.log"; exit 1; }
	@echo "Airflow UI and API: http://127.0.0.1:$(AIRFLOW_PORT)  (DAGs unpaused; $(AIRFLOW_PARALLELISM) task slots)"
	@echo "Login: admin / password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated"
	@echo "Logs: $(AIRFLOW_HOME)/standalone.log   Stop: make airflow-stop"

## airflow-stop: stop `make airflow` and every process it started (its process group)
airflow-stop:
	@if [ -f $(AIRFLOW_PID) ] && kill -0 $$(cat $(AIRFLOW_PID)) 2>/dev/null; then \
	  kill -TERM -- -$$(cat $(AIRFLOW_PID)); \
	  for i in $$(seq 1 30); do kill -0 -- -$$(cat $(AIRFLOW_PID)) 2>/dev/null || break; sleep 1; done; \
	  kill -KILL -- -$$(cat $(AIRFLOW_PID)) 2>/dev/null; rm -f $(AIRFLOW_PID); echo "Airflow stopped"; \
	else rm -f $(AIRFLOW_PID); echo "Airflow is not running"; fi

## test: the quick tier, before every commit: ruff, then every test except the slow, distributed and quality
## ones, on a small stand-in model trained once (about a minute; var/test-model/), one pytest worker per core
## (pytest-xdist); no system services needed
test: venv assets browser
	$(BIN)/ruff check pipeline dags tests scripts docker
	CALLSCORE_TEST_MODEL=tiny $(BIN)/python -m pytest -q -n auto --dist load \
	  -m "not slow and not distributed and not quality"

## test-all: what CI runs: system services (make deps), the promoted model (make model), every test tier
test-all: venv deps model assets browser wheel-check
	$(BIN)/ruff check pipeline dags tests scripts docker
	$(BIN)/python -m pytest -q

## wheel-check: build the wheel, install it into a fresh venv (var/wheel/venv) and run one sample day from an empty
## folder on the defaults relative to it (only the model comes from the checkout); fails if anything resolves or is
## read from the checkout instead of the installed package (scripts/packaging/wheel_check.py)
WHEEL := $(CURDIR)/var/wheel
WHEEL_DAY := 2026-11-23
WHEEL_ENV := env -u CALLSCORE_HOME -u CALLSCORE_LANDING -u CALLSCORE_WAREHOUSE -u CALLSCORE_ROSTER \
	-u CALLSCORE_ASSETS_DIR -u PYTHONPATH CALLSCORE_MODEL=$(CURDIR)/$(MODEL) PATH=$(WHEEL)/venv/bin:$$PATH
wheel-check: venv model
	@rm -rf $(WHEEL) && mkdir -p $(WHEEL)/src $(WHEEL)/run
	@tar -c --exclude=__pycache__ --exclude='*.egg-info' pyproject.toml README.md pipeline expectations models/corpus \
	  | tar -x -C $(WHEEL)/src
	@$(BIN)/pip wheel -q --no-deps -w $(WHEEL)/dist $(WHEEL)/src
	@$(PYTHON) -m venv $(WHEEL)/venv
	@$(WHEEL)/venv/bin/pip install -q --upgrade "pip>=25"
	@$(WHEEL)/venv/bin/pip install -q -c constraints.txt $(WHEEL)/dist/callscore-*.whl
	@cd $(WHEEL)/run && $(WHEEL_ENV) $(WHEEL)/venv/bin/python $(CURDIR)/scripts/packaging/wheel_check.py \
	  --checkout $(CURDIR) --day $(WHEEL_DAY) --log $(WHEEL)/day.log
	@if [ -f ../shared/checks/contract.py ]; then \
	  cd $(WHEEL)/run && $(WHEEL_ENV) $(WHEEL)/venv/bin/python $(CURDIR)/../shared/checks/contract.py var/warehouse; fi

## deps: the system services the distributed tier needs (PostgreSQL, Redis) from Debian packages, when missing
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deps:
	@missing=""; \
	  { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="postgresql"; \
	  { command -v redis-server >/dev/null || test -x /usr/bin/redis-server; } || missing="$$missing redis-server"; \
	  if [ -n "$$missing" ]; then echo "installing$$missing from Debian packages ..."; \
	    $(SUDO) apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
	      --no-install-recommends $$missing >/dev/null; fi

## browser: Debian's headless Chromium and its chromedriver, for the report's browser test, when missing
browser:
	@{ command -v chromium >/dev/null && test -x /usr/bin/chromedriver; } || { \
	  echo "installing chromium and chromium-driver from Debian packages ..."; \
	  $(SUDO) apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
	    --no-install-recommends chromium chromium-driver >/dev/null; }

## assets: the pinned JavaScript/CSS the report and the Data Docs serve locally (npm tarballs, hashes checked;
## cached in var/assets/, pipeline/warehouse/assets.py)
assets: venv
	@$(BIN)/python -m pipeline.devtools.assets fetch

venv: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=25"
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,distributed]'
	@touch $@

## model: train and promote the default classifier unless one exists (about 10 minutes on 2 idle cores)
model: venv
	@test -f $(MODEL)/callscore.json || $(BIN)/callscore train --promote

sample: venv
	@test -d $(LANDING)/2026-11-23 || $(BIN)/callscore sample --out $(LANDING) --dates $(SAMPLE_DATES) \
	  --calls-per-day $(SAMPLE_CALLS) --bad-files 2 --roster $(ROSTER) > /dev/null

lint: venv
	$(BIN)/ruff check pipeline dags tests scripts docker

clean:
	rm -rf var .airflow

## docker-env: write docker/.env from docker/env.example with every secret generated (mode 0600; never overwrites)
.PHONY: docker-env
docker-env: venv
	$(BIN)/python docker/make_env.py

## docker-pin: pin every image compose pulls (and the Airflow base image) to its registry digest in docker/.env
.PHONY: docker-pin
docker-pin: venv
	$(BIN)/python docker/pin_images.py

## distributed-test: the nightly DAG on a CeleryExecutor cluster on 127.0.0.1 (PostgreSQL, Redis, S3 via moto,
## two Celery workers): equal to a local run, shards on both workers, a killed worker retried; prints timings
.PHONY: distributed-test
distributed-test: venv deps model
	@$(BIN)/python -c "import airflow.providers.celery, psycopg2" 2>/dev/null \
	  || $(BIN)/pip install -q -c constraints.txt -e '.[dev,distributed]'
	@mkdir -p var
	CALLSCORE_DISTRIBUTED_REPORT=$(CURDIR)/var/distributed-report.json $(BIN)/python -m pytest tests/distributed -q -s
