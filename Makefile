# The README's commands. Everything the project needs is installed from its own
# requirements files into .venv; nothing relies on what was installed by hand.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False

HUBSPOT_PORT ?= 8091
OFFICERND_PORT ?= 8092
export HUBSPOT_PORT OFFICERND_PORT

# Connections: anything you export yourself wins; otherwise the local sandboxes and a
# SQLite warehouse under AIRFLOW_HOME.
export AIRFLOW_CONN_HUBSPOT_DEFAULT ?= {"conn_type": "http", "host": "http://127.0.0.1:$(HUBSPOT_PORT)", "password": "sandbox-token"}
export AIRFLOW_CONN_OFFICERND_DEFAULT ?= {"conn_type": "http", "host": "http://127.0.0.1:$(OFFICERND_PORT)", "login": "sandbox-client", "password": "sandbox-secret", "extra": {"org_slug": "sandbox", "token_url": "http://127.0.0.1:$(OFFICERND_PORT)/oauth/token"}}
# The embedded warehouse, named explicitly so task logs need not warn about a fallback.
export AIRFLOW_CONN_SYNC_WAREHOUSE ?= {"conn_type": "generic", "extra": {"url": "sqlite:///$(AIRFLOW_HOME)/sync_warehouse.db"}}

.PHONY: install system-deps test lint sandbox stop run sync bench bench-all bench-million clean migrate cluster cluster-stop

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	# The library (src/hubspot_sync) and the sandboxes, editable: importable everywhere
	# with no sys.path edits; dependencies come from the pinned files above only.
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Debian packages the browser tests and the compose-file check use (chromium,
# chromium-driver, docker-compose). Needs root and apt; elsewhere it says what is missing
# and those tests skip with the same reason.
SYSTEM_PACKAGES := chromium chromium-driver docker-compose
system-deps:
	@missing=""; for c in chromium chromedriver docker-compose; do \
	  command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -z "$$missing" ]; then echo "system-deps: all present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	else echo "system-deps: missing$$missing (needs root and apt-get); browser tests will skip"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The whole suite: lint, unit, sandbox contract, DAG integrity and end-to-end tests.
# pytest exits 5 when it collects nothing, which fails this target (and CI) loudly.
# Everything but the distributed deployment on PYTEST_WORKERS processes (pytest-xdist;
# PYTEST_WORKERS=0 runs in this process): whole files per worker, the longest first
# (tests/conftest.py). xdist_group does nothing under pytest 9 (xdist 3.8 renames a test
# by its _nodeid, which pytest 9 no longer reads), so a file is the unit that keeps a
# module's fixture on one worker. At the same time, in a pytest of its own, the deployment's
# tests: they start one whole Airflow cluster (seven processes) that mostly waits
# (heartbeats, the scheduler, task processes starting; its processes used about 210 CPU
# seconds in a phase of 5 minutes on its own), so beside the rest it adds about half its
# CPU time, not its whole wall time. Its report follows the rest's.
PYTEST_WORKERS ?= 2
CLUSTER_TEST_LOG := .run/cluster-tests.log
test: lint
	@mkdir -p .run
	@$(BIN)/python -m pytest -m cluster tests/cluster >$(CLUSTER_TEST_LOG) 2>&1 & cluster=$$!; \
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder \
	  -m "not cluster"; rest=$$?; \
	wait $$cluster; deployment=$$?; \
	echo "---- tests/cluster, run alongside ($(CLUSTER_TEST_LOG)):"; cat $(CLUSTER_TEST_LOG); \
	exit $$(( rest != 0 ? rest : deployment ))

# Both sandboxes in the background (pid and log files under .run/); idempotent.
sandbox: $(STAMP)
	@scripts/sandboxes.sh start

# Stops what `make run` started: Airflow standalone with every process it started (its
# session), then the sandboxes. `make cluster-stop` stops the distributed deployment.
stop:
	@scripts/standalone.sh stop
	@scripts/sandboxes.sh stop

# Sandboxes + Airflow standalone on the embedded default; UI at http://localhost:8080.
# Here only, the entity DAGs are unpaused at creation so the hourly sync runs at once;
# deployments (make cluster, docker-compose) keep Airflow's paused-at-creation default.
run: export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := False
run: sandbox
	$(BIN)/airflow db migrate >/dev/null
	$(BIN)/airflow pools set hubspot_api 4 "Tasks that call HubSpot, shared by every entity DAG" >/dev/null
	@echo "Airflow UI: http://localhost:8080  (login printed below by 'airflow standalone';"
	@echo "            also in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"
	@echo "make stop (or Ctrl-C) stops it with every process it started"
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/standalone.sh run

# The distributed deployment as separate processes: api-server, scheduler, dag-processor,
# triggerer, two Celery workers (Redis broker), PostgreSQL metadata DB and warehouse, the
# sandboxes. Settings: deploy/cluster.env + deploy/sandboxes.env (docker-compose.yaml reads
# the same files). pid and log files under .run/cluster/; `make cluster-stop` stops it.
cluster: $(STAMP)
	@scripts/cluster.sh start

cluster-stop:
	@scripts/cluster.sh stop

# Every entity DAG once (a manual run each, in dependency order), then a summary table.
sync: $(STAMP)
	@scripts/sandboxes.sh ensure
	$(BIN)/python -m hubspot_sync.cli sync

# Warehouse schema to the head revision on the sync_warehouse connection (runs also do
# this on first use); prints the revision before and after.
migrate: $(STAMP)
	$(BIN)/python -m hubspot_sync.warehouse migrate

# One table (a few minutes; 10k and 100k members at 250 ms HubSpot latency): our calls
# against their floor and the rate limit, beside a plain SDK loader (bench/bench_table.py).
bench: $(STAMP)
	$(BIN)/python bench/bench_table.py

# Every benchmark, one after the other.
bench-all: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# The million-record reconcile (long).
bench-million: $(STAMP)
	$(BIN)/python bench/bench_million.py

clean: stop
	rm -rf .airflow .run
