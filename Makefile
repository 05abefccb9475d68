# pytest-prodcheck — the two commands: `make smoke` (check a deployment) and `make test` (our tests).
# Everything else maps the deployment guide's quick commands onto `prodcheck <subcommand>`.
# Variables: PYTEST_ARGS (extra pytest args), e.g. make smoke PYTEST_ARGS="--prodcheck-url https://shop.example.com"

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
PRODCHECK := $(VENV)/bin/prodcheck
REPORT_DIR ?= reports
TEST_WORKERS ?= 2
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help bootstrap smoke test test-fast lint format stack checklist \
        backup-all backup-main backup-ai backup-to-s3 restore list-backups setup-auto-backup \
        setup-ssl renew-ssl load-test-smoke load-test-baseline load-test-stress load-test-spike \
        load-test-endurance load-test-web health \
        tls-check pgbouncer-stats pgbouncer-pools pgbouncer-clients pgbouncer-config bench

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

$(PY):
	scripts/bootstrap

bootstrap: ## install system packages (as root), create .venv, pip install -e '.[dev]'
	scripts/bootstrap

# A smoke run that checked nothing must fail loudly: pytest exit 5 (no test selected) fails, and a
# run that exits 0 must have written a fresh report that decided at least one item (the gate: an
# all-skipped run exits 0 in pytest but verified nothing).
smoke: $(PY) ## pytest -m smoke on the embedded stack; writes $(REPORT_DIR)/checklist.{json,md,html}
	@rm -f $(REPORT_DIR)/checklist.json; rc=0; \
	$(PYTEST) suites -m smoke --prodcheck-report-dir $(REPORT_DIR) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make smoke: FAILED: no test was selected by -m smoke, nothing was checked" >&2; exit 1; fi; \
	if [ $$rc -eq 0 ]; then $(PY) -m pytest_prodcheck.report.gate $(REPORT_DIR) || exit 1; fi; \
	exit $$rc

test: $(PY) lint ## the project's own tests (lint first), $(TEST_WORKERS) xdist workers
	$(PYTEST) tests -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-fast: $(PY) ## the project's own tests without lint
	$(PYTEST) tests -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(PY) ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check pytest_prodcheck tests suites bench
	$(VENV)/bin/ruff format --check pytest_prodcheck tests suites bench
	$(VENV)/bin/mypy

format: $(PY) ## ruff format + autofix
	$(VENV)/bin/ruff format pytest_prodcheck tests suites bench
	$(VENV)/bin/ruff check --fix pytest_prodcheck tests suites bench

stack: $(PY) ## start the embedded stack and print its endpoints (Ctrl-C stops it)
	$(PRODCHECK) stack up

checklist: $(PY) ## every checklist item, how it is decided, its last status
	$(PRODCHECK) checklist

# --- the guide's quick commands ------------------------------------------------------------------
backup-all: $(PY) ## back up every database (verified)
	$(PRODCHECK) backup --all --verify

backup-main: $(PY) ## back up the main database
	$(PRODCHECK) backup --main --verify

backup-ai: $(PY) ## back up the AI database
	$(PRODCHECK) backup --ai --verify

backup-to-s3: $(PY) ## back up every database and upload to S3
	$(PRODCHECK) backup --all --verify --s3

restore: $(PY) ## restore BACKUP_FILE=path/to/backup.sql.gz (add AI=1 for the AI database)
	@test -n "$(BACKUP_FILE)" || { echo "make restore: set BACKUP_FILE=path/to/backup.sql.gz" >&2; exit 2; }
	$(PRODCHECK) restore "$(BACKUP_FILE)" $(if $(AI),--ai,)

list-backups: $(PY) ## list local backups with age and size
	$(PRODCHECK) backups list

setup-auto-backup: $(PY) ## install the daily 2 AM backup and 3 AM certificate renewal jobs (cron)
	$(PRODCHECK) cron install --daily
	$(PRODCHECK) cron install --job ssl-renew --custom "0 3 * * *"

setup-ssl: $(PY) ## obtain certificates + daily 3 AM renewal: make setup-ssl DOMAIN=example.com EMAIL=admin@example.com [STAGING=1]
	@test -n "$(DOMAIN)" -a -n "$(EMAIL)" || { echo "make setup-ssl: set DOMAIN=… EMAIL=…" >&2; exit 2; }
	$(PRODCHECK) ssl issue "$(DOMAIN)" "$(EMAIL)" $(if $(STAGING),--staging,)
	$(PRODCHECK) cron install --job ssl-renew

renew-ssl: $(PY) ## renew certificates that are due
	$(PRODCHECK) ssl renew

load-test-smoke: $(PY) ## Locust smoke: 10 users, 2 min
	$(PRODCHECK) load smoke $(if $(LOAD_HOST),--host $(LOAD_HOST),)

load-test-baseline: $(PY) ## Locust baseline: 50 users, 10 min
	$(PRODCHECK) load baseline $(if $(LOAD_HOST),--host $(LOAD_HOST),)

load-test-stress: $(PY) ## Locust stress: 200 users, 15 min
	$(PRODCHECK) load stress $(if $(LOAD_HOST),--host $(LOAD_HOST),)

load-test-spike: $(PY) ## Locust spike: 500 users, 5 min
	$(PRODCHECK) load spike $(if $(LOAD_HOST),--host $(LOAD_HOST),)

load-test-endurance: $(PY) ## Locust endurance: 100 users, 60 min
	$(PRODCHECK) load endurance $(if $(LOAD_HOST),--host $(LOAD_HOST),)

load-test-web: $(PY) ## Locust web UI on the bundled locustfile
	$(PRODCHECK) load baseline --web $(if $(LOAD_HOST),--host $(LOAD_HOST),)

health: $(PY) ## the guide's troubleshooting steps against the configured target
	$(PRODCHECK) doctor

tls-check: $(PY) ## every TLS/HTTP check against one site: make tls-check URL=https://shop.example.com
	@test -n "$(URL)" || { echo "make tls-check: set URL=https://…" >&2; exit 2; }
	$(PRODCHECK) tls check "$(URL)"

pgbouncer-stats pgbouncer-pools pgbouncer-clients pgbouncer-config: $(PY) ## the guide's PgBouncer monitoring commands
	$(PRODCHECK) pgbouncer $(subst pgbouncer-,,$@)

bench: $(PY) ## every benchmark under bench/ (slow; results go to bench/RESULTS-*.md by hand)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit $$?; done
