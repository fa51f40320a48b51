# Two commands matter: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test lint bench screenshots clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/inspector $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check inspector tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench.run $(ARGS)

screenshots: $(STAMP)
	$(PY) screenshots/generate.py

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
