# Two commands: `make run` starts the platform, `make test` runs the whole suite. Both set up what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Tests run in one process per core, four at most (each holds a model and a browser). Handed out in
# collection order ("load"), so each process still runs the transactional tests, which empty the
# tables, after the others, as pytest-django orders them.
TEST_PROCESSES ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))
PYTEST := $(PY) -m pytest -q -n $(TEST_PROCESSES) --dist load

.PHONY: run test test-integration setup messages lint bench clean-data

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing dependencies into $(VENV) (first run only; torch is large)..."
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $(STAMP)

setup: $(STAMP) messages
	@$(PY) manage.py bootstrap

# French: the compiled catalogues are committed; with GNU gettext at hand they are compiled again from the .po.
messages: $(STAMP)
	@if command -v msgfmt > /dev/null; then $(PY) manage.py compilemessages -l fr -v 0 --ignore=.venv \
		--ignore=var --settings=faune_platform.settings.test; fi

run: setup
	@$(PY) manage.py serve

lint: $(STAMP)
	@$(PY) -m ruff check --quiet .
	@$(PY) -m ruff format --check --quiet .
	@$(PY) manage.py makemigrations --check --dry-run --settings=faune_platform.settings.test > /dev/null
	@$(PY) -m mypy

test: $(STAMP) messages lint
	@$(PYTEST)

# The scale-out subset against DATABASE_URL and REDIS_URL (see .ci/services), with FAUNE_WORKERS workers each.
test-integration: $(STAMP)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[postgres,redis,s3]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PYTEST) -m integration

bench: $(STAMP)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[bench]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script; done
