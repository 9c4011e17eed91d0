# Two commands for a fresh machine:
#   make run    create .venv, install LayerLab, train the default recipe on built-in data
#   make test   the same install plus the test tools, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The real data sets used by tests and benchmarks (tiny-shakespeare, rt-polarity, ...), when present.
export LAYERLAB_DATA ?= $(abspath ../shared/data)

.PHONY: run test install install-test lint bench clean

run: install
	$(BIN)/layerlab run

test: install-test
	bash scripts/system-packages.sh
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/trainer_overhead.py
	$(BIN)/python benchmarks/data_path.py

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) runs .pytest_cache
