# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   creates .venv if needed and runs the demo engagement end to end
#   make test   creates .venv if needed and runs the test suite
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo demo-review test test-fast system-deps lab benchmark benchmark-deliverables clean

# constraints.txt pins every package to the versions the tests passed with, so two
# installs (a consultant's laptop, CI) run the same code; pyproject.toml keeps the ranges.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kam run params/demo.yaml

# The demo's quarterly review six months later: measures the plan of the last `make demo` run
# (its data and returned actions file are generated from that run on first use).
demo-review: $(STAMP)
	$(BIN)/kam run params/demo-review.yaml

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not render" $(PYTEST_ARGS)

# Debian packages used to render deliverables (LibreOffice) and test the HTML
# dashboard in a real browser (Chromium). Needs root or sudo; CI runs it.
system-deps:
	bash scripts/install-system-deps.sh

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py

# the deliverables alone at 200,000 accounts (a synthetic run folder grown from a demo run; a few minutes)
benchmark-deliverables: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py --only-deliverables-at 200000

clean:
	rm -rf $(VENV) .pytest_cache
