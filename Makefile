# tastemaker — the two commands a self-hoster needs: `make demo` and `make test`.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps demo test test-postgres test-cluster scale-out check lint bench bench-quick clean

install: system-deps $(STAMP)

# What pip cannot install: a Java 17+ runtime for Spark, a native BLAS for ALS and the fonts charts
# draw every script with (Noto, Noto CJK, Symbola).
# Idempotent and quiet when everything is already there.
system-deps:
	@./.ci/system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,postgres]'
	@touch $(STAMP)

demo: install
	@$(VENV)/bin/tastemaker demo

lint: install
	@$(VENV)/bin/ruff check bot engine storage ingest config tests bench
	@$(VENV)/bin/mypy

test: install lint
	@$(VENV)/bin/pytest -q

# Everything that goes through a Database (storage, service, engine) again, on a throwaway PostgreSQL
# from .ci/postgres (127.0.0.1 only); the server and its files are removed afterwards, also on failure.
POSTGRES_SUITE := tests/storage tests/engine tests/ingest tests/scheduler tests/sync \
	tests/test_chat_*.py tests/test_upload_service.py tests/test_isolation_cli.py
test-postgres: install
	@pg=$$(mktemp -d /tmp/tastemaker-pg.XXXXXX); trap '.ci/postgres stop "$$pg"' EXIT; trap 'exit 130' INT TERM; \
	url=$$(.ci/postgres start "$$pg") && TASTEMAKER_TEST_DATABASE_URL="$$url" $(VENV)/bin/pytest -q $(POSTGRES_SUITE)

check: test

# The scale-out run: the engine tests and an import → retrain → export on a Spark standalone cluster
# and a Spark Connect server started from the installed pyspark (.ci/test-cluster; cleans up after).
CONNECT_STAMP := $(VENV)/.connect-installed
$(CONNECT_STAMP): pyproject.toml $(STAMP)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,connect]'
	@touch $(CONNECT_STAMP)

test-cluster: install $(CONNECT_STAMP)
	@PYTHON=$(PY) ./.ci/test-cluster

# The whole scale-out path, as CI runs it after `make test`.
scale-out: test-postgres test-cluster

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): pyproject.toml $(STAMP)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,postgres,bench]'
	@touch $(BENCH_STAMP)

bench-quick: install $(BENCH_STAMP)
	@$(PY) bench/run.py --quick

bench: install $(BENCH_STAMP)
	@$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
