# The two commands a new user runs: `make demo` and `make test`. Both build the virtual
# environment in .venv on first use (Python >= 3.11, pip and make are all that is assumed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test slow bench lint clean demo-docs screenshot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

# configs/demo.yaml: the simulation (seed 20181001), the default plan, and out/demo/ (data/ and
# report/); `fairness-audit verify out/demo/report` checks the report against its inputs
demo: $(STAMP)
	$(BIN)/fairness-audit run configs/demo.yaml

# the demo's figures that README.md and docs/*.md quote, written between their markers
# (docs/demo_excerpt.py; tests/test_docs_numbers.py checks them against a fresh run)
demo-docs: demo
	$(BIN)/python docs/demo_excerpt.py out/demo

# docs/images/brief.png and the printed report's page ranges in docs/report.md, from the demo
# (docs/make_screenshot.py; needs Chromium)
screenshot: demo
	$(BIN)/python docs/make_screenshot.py out/demo

# two processes, one per core of the 2-core machine the suite is sized for (TEST_WORKERS=0 runs
# it in this one); --dist loadfile keeps each file's tests in one process, so a file's audit
# fixtures run once. Each process builds the session fixtures (tests/conftest.py) it needs.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q -n $(TEST_WORKERS) --dist loadfile

slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_audit.py

lint: $(STAMP)
	$(BIN)/ruff check fairness_audit tests benchmarks docs

clean:
	rm -rf $(VENV) out
