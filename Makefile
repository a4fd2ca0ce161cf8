# Set-up is part of every target: a fresh clone needs only `make train` or `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DATA_READY := data/FashionMNIST/raw/.ready
SYSTEM_COPY := /usr/share/datasets/fashion-mnist

.DEFAULT_GOAL := help
.PHONY: help train report test data setup lint format bench clean

help:  ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

train: $(INSTALLED) $(DATA_READY)  ## Train LeNet-5 on Fashion-MNIST (overrides: ARGS="model=small")
	$(PY) train.py $(ARGS)

report: $(INSTALLED) $(DATA_READY)  ## Run the whole study and write its report (ARGS="preset=quick")
	$(PY) report.py $(ARGS)

test: $(INSTALLED) $(DATA_READY)  ## Run the test suite, real-data tests included (PYTEST_ARGS="...")
	$(PY) -m pytest $(PYTEST_ARGS)

setup: $(INSTALLED)  ## Create .venv with the project and its dev tools

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

data: $(DATA_READY)  ## Put Fashion-MNIST into data/ (Debian's package, else torchvision's download)

# The Debian package is the offline source; without root or apt, torchvision downloads instead.
$(DATA_READY): $(INSTALLED)
	@if [ ! -d $(SYSTEM_COPY) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist \
		|| echo "dataset-fashion-mnist not installed; falling back to torchvision's download"; \
	fi
	$(PY) -m hydra_app.prepare_data
	touch $@

lint: $(INSTALLED)  ## Check formatting and lint rules (ruff)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(INSTALLED)  ## Format the code and apply ruff's safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(INSTALLED) $(DATA_READY)  ## Time training against a hand-written loop (BENCH_ARGS="...")
	$(PY) bench/train_speed.py $(BENCH_ARGS)

clean:  ## Remove the venv, the data and the runs
	rm -rf $(VENV) data logs .pytest_cache
