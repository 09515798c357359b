# Every target sets itself up: `make demo` and `make test` create .venv when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test demo quality style bench clean

install: $(STAMP)

# torch + torchvision first: on this kind of machine pip takes both from the local wheel store, and
# torchvision must be the build made for this torch (transformers' Qwen-VL processors need it).
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e ".[dev,eval]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests -q

demo: $(STAMP)
	$(PY) -m recipes.demo --output-dir outputs/demo

quality: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

style: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf outputs .pytest_cache .ruff_cache
