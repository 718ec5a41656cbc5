# Two commands do everything on a fresh machine: `make search` and `make test`.
# The virtual environment is created when missing; torch is installed pinned *before* the
# project, so that no looser requirement pulls several GB of CUDA wheels on a CPU machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.13.0

.PHONY: install test search bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

search: $(STAMP)
	$(BIN)/python run_search.py search --space search_spaces/mobile.yaml --dataset mnist5k \
		--trials 40 --epochs 1 --flops-max 20M --study demo --seed-archs

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache
