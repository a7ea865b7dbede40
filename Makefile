# Every target installs what it needs first, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install test test-citus citus lint demo bench bench-large bench-citus jq stress clean

install: $(STAMP)

# Re-install when the dependency list changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -m "not stress and not citus"

# Citus built from third_party/citus into the venv (once per tarball and PostgreSQL version).
citus: install
	$(BIN)/python tests/citus/build.py

# The CLI against a real Citus cluster (a coordinator and two workers started by the tests).
test-citus: citus
	$(BIN)/python -m pytest -q -m citus tests/citus

# bench extras too: mypy checks bench/ (bench_decode imports orjson)
lint: $(BENCH_STAMP)
	$(BIN)/ruff check retweetctl tests bench
	$(BIN)/ruff format --check retweetctl tests bench
	$(BIN)/mypy
	$(BIN)/mypy --strict bench/bench_merge.py bench/bench_load.py bench/profile_merge.py bench/djangobench bench/bench_citus.py bench/bench_decode.py

# The main job end to end against a local SANDBOX X API, on an embedded database in .demo/.
demo: install
	$(BIN)/python -m retweetctl.sandbox demo

# The bench extra (Django, for the bulk_create comparison) on top of the dev install.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Target of 1M rows, batches of 100k and 1M; about 10 minutes on 2 cores.
# Then load of a 1 GB twarc2 archive, plain and gzip, against a jq pipeline.
bench: $(BENCH_STAMP) jq
	$(BIN)/python bench/bench_merge.py
	$(BIN)/python bench/bench_merge.py --beside-load
	$(BIN)/python bench/bench_decode.py
	@if [ -f bench/bench_matrix.py ]; then $(BIN)/python bench/bench_matrix.py; fi
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/bench_load.py

# The same against a target of 10M rows; load adds a 10 GB archive (peak RSS).
bench-large: $(BENCH_STAMP) jq
	$(BIN)/python bench/bench_merge.py --large
	@if [ -f bench/bench_matrix.py ]; then $(BIN)/python bench/bench_matrix.py --large; fi
	$(BIN)/python bench/bench_load.py --large

# bench_load.py compares against `jq | sort -u | psql \copy`; without jq that row is left out.
jq:
	@command -v jq >/dev/null 2>&1 || apt-get install -y -q jq >/dev/null 2>&1 \
		|| echo "jq is not installed (apt-get install jq): bench_load leaves the jq pipeline out"

# One PostgreSQL against Citus (coordinator + 2 workers), same data, same run; about 5 minutes.
bench-citus: citus $(BENCH_STAMP)
	$(BIN)/python bench/bench_citus.py

stress: install
	$(BIN)/python -m pytest -q -m stress

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
