# Recoup developer commands. `make demo` and `make test` work on a fresh machine: they create .venv, install
# the locked dependencies (and the front-end libraries when package.json exists), then run.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamps are named after a hash of what they install from, so an unchanged lock installs nothing.
INSTALL_STAMP := $(VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml | sha256sum | cut -c1-16)
NPM_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
NPM_TARGET := $(if $(wildcard package.json),$(NPM_STAMP))

DEMO_ADDR ?= 127.0.0.1:8000
PYTEST_ARGS ?=
# Under CI=true the suite runs a second time on PostgreSQL; pytest-django creates test_<name> beside this database.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
BENCH_ARGS ?=

.PHONY: help install demo test test-sqlite test-postgres lint typecheck migrations-check bench

help:
	@echo "make demo              install, migrate the embedded SQLite database, seed demo data once, serve on $(DEMO_ADDR)"
	@echo "make test              install and run the whole suite (CI=true: on SQLite, then on PostgreSQL)"
	@echo "make test-postgres     run the suite on PostgreSQL at TEST_POSTGRES_URL ($(TEST_POSTGRES_URL))"
	@echo "make lint              ruff check and ruff format --check"
	@echo "make typecheck         mypy recoup config"
	@echo "make migrations-check  fail if a model change has no migration"
	@echo "make bench             run the benchmark (bench/run.sh)"

# NO_INSTALL=1 runs with whatever .venv holds, installing nothing.
install: $(if $(NO_INSTALL),,$(INSTALL_STAMP) $(NPM_TARGET))

$(INSTALL_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

$(NPM_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed for the front-end libraries in package.json" >&2; exit 1; }
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	rm -f node_modules/.installed-*
	touch $@

# The demo runs with development settings: DEBUG on and the fixed, insecure development secret key. Reminder
# emails are written to files in var/sent-mail instead of being sent; the seeded history's are without the
# PDF statement, which would take a minute to render for every past week.
demo: export DEBUG := 1
demo: export RECOUP_INSECURE_DEFAULTS := 1
demo: export EMAIL_BACKEND ?= django.core.mail.backends.filebased.EmailBackend
demo: install
	mkdir -p "$${RECOUP_DATA_DIR:-var}/static"
	$(BIN)/recoup migrate --no-input -v 0
	RECOUP_DUNNING_ATTACH_STATEMENT=0 $(BIN)/recoup demo --if-empty --dunning-weeks 4
	@echo
	@echo "Recoup is serving at http://$(DEMO_ADDR)/ : log in with one of the users above (Ctrl-C stops it)."
	@echo "API: http://$(DEMO_ADDR)/api/v1/   docs: http://$(DEMO_ADDR)/api/docs/"
	$(BIN)/recoup runserver --skip-checks $(DEMO_ADDR)

# pytest's exit status 5 means it collected no test: that fails the target like any other non-zero status.
define run_pytest
	$(1) $(BIN)/python -m pytest $(PYTEST_ARGS) || { status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure." >&2; fi; exit $$status; }
endef

test: install
	@echo "== the suite on SQLite =="
	$(call run_pytest,env -u DATABASE_URL)
	@if [ "$${CI:-}" = "true" ]; then $(MAKE) --no-print-directory test-postgres; fi

test-sqlite: install
	$(call run_pytest,env -u DATABASE_URL)

# A missing PostgreSQL is a failure here, never a skip.
test-postgres: install
	@echo "== the suite on PostgreSQL ($(TEST_POSTGRES_URL)) =="
	DATABASE_URL='$(TEST_POSTGRES_URL)' $(BIN)/python -c 'import os, dj_database_url, psycopg; \
	  c = dj_database_url.parse(os.environ["DATABASE_URL"]); \
	  psycopg.connect(host=c["HOST"] or None, port=c["PORT"] or None, user=c["USER"] or None, \
	                  password=c["PASSWORD"] or None, dbname="postgres", connect_timeout=10).close()' \
	  || { echo "PostgreSQL is not reachable at $(TEST_POSTGRES_URL)." >&2; exit 1; }
	$(call run_pytest,DATABASE_URL='$(TEST_POSTGRES_URL)')

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy recoup config

migrations-check: export RECOUP_INSECURE_DEFAULTS := 1
migrations-check: install
	DATABASE_URL=sqlite://:memory: $(BIN)/recoup makemigrations --check --dry-run

bench: install
	@test -f bench/run.sh || { echo "bench/run.sh is missing: the benchmark is not in this checkout." >&2; exit 1; }
	bash bench/run.sh $(BENCH_ARGS)
