# The two commands of the README quick start. Each creates .venv and installs what it needs.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo test lint typecheck clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/renkei demo $(DEMO_ARGS)

# Two workers (pytest-xdist): the suite takes about 6 minutes on 2 cores instead of ~11.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) $(TEST_ARGS)

# Benchmarks (bench/README.md): about 15 minutes at these sizes; bigger ones by argument,
# e.g. make bench BENCH_E2E_SIZES="1000 10000 100000" BENCH_ENGINE_SIZES="10000 100000 1000000"
BENCH_E2E_SIZES    ?= 1000 10000
BENCH_ENGINE_SIZES ?= 10000 100000
BENCH_SIZE         ?= 10000
BENCH_REPEAT       ?= 3

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/mapping_speed.py
	$(PY) -m bench.engine --sizes $(BENCH_ENGINE_SIZES) --db sqlite postgres
	$(PY) -m bench.e2e --sizes $(BENCH_E2E_SIZES) --repeat $(BENCH_REPEAT)
	$(PY) -m bench.script_vs_renkei --size $(BENCH_SIZE)
	$(PY) -m bench.prefect_overhead --size $(BENCH_SIZE) --repeat $(BENCH_REPEAT)
	$(PY) bench/receiver_burst.py --events 20000

lint: $(STAMP)
	$(VENV)/bin/ruff check renkei connectors flows sandbox tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .renkei .pytest_cache .mypy_cache
