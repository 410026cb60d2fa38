# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LITEDENOISE_DATA ?= $(abspath ../shared/data)
export LITEDENOISE_DATA

.PHONY: demo test results clean-venv

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# torch is pinned in requirements/constraints.txt (a CPU build), never in pyproject.toml.
$(VENV)/.installed: $(BIN)/activate pyproject.toml requirements/constraints.txt
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt torch
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/litedenoise demo -o out/demo $(if $(wildcard $(LITEDENOISE_DATA)/polyu),--data $(LITEDENOISE_DATA))

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# docs/results.md and docs/report/ from the evaluation harness (about an hour the first time: BM3D; its outputs are cached)
results: $(VENV)/.installed
	$(BIN)/python benchmarks/make_results.py --data $(LITEDENOISE_DATA)

clean-venv:
	rm -rf $(VENV)
