# Set-up is part of every target: a fresh clone needs only `make train` or `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DATA_READY := data/FashionMNIST/raw/.ready
SYSTEM_COPY := /usr/share/datasets/fashion-mnist

.PHONY: train test data setup lint bench clean

train: $(INSTALLED) $(DATA_READY)  ## Train LeNet-5 on Fashion-MNIST (pass overrides with ARGS="...")
	$(PY) train.py $(ARGS)

test: $(INSTALLED) $(DATA_READY)  ## Run the test suite (including the real-data tests)
	$(PY) -m pytest $(PYTEST_ARGS)

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

data: $(DATA_READY)

# The Debian package is the offline source; without root or apt, torchvision downloads instead.
$(DATA_READY): $(INSTALLED)
	@if [ ! -d $(SYSTEM_COPY) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist \
		|| echo "dataset-fashion-mnist not installed; falling back to torchvision's download"; \
	fi
	$(PY) -m lab.prepare_data
	touch $@

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) data logs .pytest_cache
