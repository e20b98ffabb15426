# The two commands a new user runs: `make demo` and `make test`. Both build the virtual
# environment in .venv on first use (Python >= 3.11, pip and make are all that is assumed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := out/demo

.PHONY: demo test slow bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fairness-audit simulate --out out/data/court.parquet --seed 20181001
	$(BIN)/fairness-audit audit out/data/court.parquet --out $(DEMO)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_audit.py

lint: $(STAMP)
	$(BIN)/ruff check fairness_audit tests benchmarks

clean:
	rm -rf $(VENV) out
