# Two commands on a fresh machine with Python 3.11, pip and make:
#   make reports   # the main job, end to end, on the shipped data
#   make test      # the test suite less the tests marked slow (make test-slow runs those)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UCC    := $(VENV)/bin/ucc
STAMP  := $(VENV)/.installed-stamp
# Exact versions (and hashes) of every runtime and dev dependency; `make lock` regenerates them.
LOCK       := requirements/lock.txt
LOCK_BENCH := requirements/lock-bench.txt
# uv installs the lock in seconds; plain pip installs the same lock where uv cannot be installed
# or cannot reach the index (uv does not read pip.conf: set UV_INDEX_URL etc. for a mirror).
# UCC_INSTALLER=pip skips uv.
UCC_INSTALLER ?= uv
UV_VERSION    := 0.13.8
UV            := $(VENV)/bin/uv

.PHONY: venv reports prepare test test-slow lint format lab bench lock clean

# $(call install_lock,<lock file>): the lock's exact versions, then the project itself without
# dependencies (pip's hash-checking mode cannot take an editable requirement).
define install_lock
	@if [ "$(UCC_INSTALLER)" = uv ] \
	  && { test -x $(UV) || $(PY) -m pip install --quiet uv==$(UV_VERSION); } \
	  && $(UV) pip sync --quiet --python $(PY) --require-hashes $(1) \
	  && $(UV) pip install --quiet --python $(PY) --no-deps -e .; then \
	  echo "installed $(1) with uv $(UV_VERSION)"; \
	else \
	  if [ "$(UCC_INSTALLER)" = uv ]; then echo "uv failed: installing $(1) with pip"; fi; \
	  $(PY) -m pip install --quiet --require-hashes -r $(1) \
	  && $(PY) -m pip install --quiet --no-deps -e . \
	  && echo "installed $(1) with pip"; \
	fi
endef

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(call install_lock,$(LOCK))
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

# Two worker processes (pytest-xdist), each test file on one worker (its module fixtures are built
# once; the demo run the notebook and browser tests share is built once under a file lock, see
# tests/conftest.py). TEST_WORKERS=0 runs in one process. `make test` leaves out the tests marked
# slow (notebook runs and other heavy end-to-end checks); `make test-slow` runs exactly those,
# and CI runs both.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)
test: venv
	$(PY) -m pytest $(XDIST) -m "not slow"

test-slow: venv
	$(PY) -m pytest $(XDIST) -m slow

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
	$(call install_lock,$(LOCK_BENCH))
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Regenerates the lock files from pyproject.toml for Python 3.11 and later, every platform (one
# resolution, markers where platforms differ). Versions already locked are kept unless
# UPGRADE=1; the bench lock is constrained to the main lock's versions.
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_ARGS) $(if $(UPGRADE),--upgrade) -o $(LOCK)
	$(UV) pip compile pyproject.toml --extra dev --extra bench -c $(LOCK) $(LOCK_ARGS) $(if $(UPGRADE),--upgrade) -o $(LOCK_BENCH)

clean:
	rm -rf data/processed/* outputs/* .pytest_cache .ruff_cache
	@touch data/processed/.gitkeep outputs/.gitkeep
