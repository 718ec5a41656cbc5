# Two commands do everything on a fresh machine: `make search` and `make test`.
# The virtual environment is created when missing; torch is installed pinned *before* the
# project, so that no looser requirement pulls several GB of CUDA wheels on a CPU machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.13.0

.PHONY: install test search bench bench-proof clean

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

# The demo searches the harder embedded task (cluttered MNIST), where architecture matters,
# ranking candidates by the default signal (NASWOT at initialisation: BENCHMARKS.md §4b), then
# retrains the knee of its front beside the hand-designed reference nearest in FLOPs (3 seeds,
# 20 epochs each) and scores both on the held-out test split: found against hand-designed.
search: $(STAMP)
	$(BIN)/python run_search.py search --space mobile --dataset cluttered \
		--trials 60 --flops-max 20M --study demo
	$(BIN)/python run_search.py retrain --study demo --arch knee nearest-reference \
		--final-epochs 20 --seeds 3

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# What the search finds on the harder task: final training of fronts on held-out data (longer).
bench-proof: $(STAMP)
	$(BIN)/python -m bench.run_all proof

clean:
	rm -rf $(VENV) .pytest_cache
