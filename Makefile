# The two set-up commands: `make figures` (the main job) and `make test`.
# Each creates .venv and installs vmlab with its test extras when that has not been done yet.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test figures lab bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

test: venv
	$(BIN)/python -m pytest -q

figures: venv
	$(BIN)/vmlab figures

lab: venv
	$(BIN)/vmlab lab

bench: venv
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis data/sweeps data/figures tests/artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
