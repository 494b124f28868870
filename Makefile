# Two commands on a fresh machine with Python 3.11, pip and make:
#   make reports   # the main job, end to end, on the shipped data
#   make test      # the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UCC    := $(VENV)/bin/ucc
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv reports prepare test lint format lab bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

prepare: venv
	$(UCC) prepare

reports: venv
	$(UCC) prepare
	@status=0; for s in studies/*.yml; do \
	  echo "== $$s"; $(UCC) run $$s || status=1; \
	done; \
	echo "Reports:"; for s in studies/*.yml; do echo "  outputs/$$(basename $$s .yml)/index.html"; done; \
	exit $$status

test: venv
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lab: venv
	@# the same kernel spec the report runner uses, in the venv (a --user copy would shadow it)
	$(PY) -c "from ucc_research.reports.notebook import ensure_kernel; print('kernel:', ensure_kernel())"
	@# from the project root, so studies/, data/ and outputs/ can be browsed beside notebooks/;
	@# --allow-root only when run as root (containers), where Jupyter refuses to start without it
	$(VENV)/bin/jupyter lab --notebook-dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root)

bench: venv
	$(PY) -m pip install --quiet -e ".[bench]"
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf data/processed/* outputs/* .pytest_cache .ruff_cache
	@touch data/processed/.gitkeep outputs/.gitkeep
