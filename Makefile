# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Everything installs into .venv and node_modules here; nothing global.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test lint bench bench-billing reliability clean setup sandbox screenshot

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $(NODE_STAMP)

# The narrated end-to-end scenario on the emulator and Azurite; alerts land in .run/inbox.
run: setup
	$(PY) -m scripts.demo

# The whole suite: the fixtures start Azurite and the emulator and stop them after (one of each per
# xdist worker; tests mostly wait on those services, so four workers suit a 2-core machine).
PYTEST_WORKERS ?= 4
test: setup
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	bash tools/lint-infra.sh

# The emulator on the demo estate and Azurite until Ctrl-C, with the `export` lines for palwatch.
sandbox: setup
	$(PY) -m scripts.sandbox

# README's sample alert (docs/sample-alert.png) from the demo's critical alert mail, by headless
# Chromium (Debian: apt-get install -y chromium); runs the demo first when .run/inbox is empty.
screenshot: setup
	$(PY) -m scripts.screenshot

bench: setup
	$(PY) -m bench

# The billing reduction's peak memory at 100k and 1M usage lines (see BENCHMARKS.md).
bench-billing: setup
	$(PY) -m bench.billing

# The fault, crash and fuzz campaign at full size (see RELIABILITY.md); CI runs it small in `make test`.
reliability: setup
	$(PY) -m bench.reliability

clean:
	rm -rf $(VENV) .venv-checkov node_modules .run .pytest_cache .ruff_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -not -path './node_modules/*' -exec rm -rf {} +
