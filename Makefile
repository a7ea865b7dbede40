# Every target installs what it needs first, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install test lint demo bench bench-large stress clean

install: $(STAMP)

# Re-install when the dependency list changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -m "not stress"

lint: install
	$(BIN)/ruff check retweetctl tests bench
	$(BIN)/ruff format --check retweetctl tests bench
	$(BIN)/mypy
	$(BIN)/mypy --strict bench/bench_merge.py bench/bench_load.py bench/profile_merge.py bench/djangobench

# The main job end to end against a local SANDBOX X API, on an embedded database in .demo/.
demo: install
	$(BIN)/python -m retweetctl.sandbox demo

# The bench extra (Django, for the bulk_create comparison) on top of the dev install.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Target of 1M rows, batches of 100k and 1M; about 10 minutes on 2 cores.
bench: $(BENCH_STAMP)
	$(BIN)/python bench/bench_merge.py
	@if [ -f bench/bench_matrix.py ]; then $(BIN)/python bench/bench_matrix.py; fi

# The same against a target of 10M rows.
bench-large: $(BENCH_STAMP)
	$(BIN)/python bench/bench_merge.py --large
	@if [ -f bench/bench_matrix.py ]; then $(BIN)/python bench/bench_matrix.py --large; fi

stress: install
	$(BIN)/python -m pytest -q -m stress

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
