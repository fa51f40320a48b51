# Two commands matter: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test lint bench screenshots clean browser postgres

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev]'
	@touch $(STAMP)

# $(value ARGS): the shell, not make, expands what ARGS names (make would read the
# "$CONNECTLY_WEBHOOK_SECRET" of the README as $C followed by "ONNECTLY_WEBHOOK_SECRET").
run: $(STAMP)
	$(VENV)/bin/inspector $(value ARGS)

test: $(STAMP) browser postgres
	$(PY) -m pytest -q

# The web UI's tests drive headless Chromium (Debian's chromium and chromium-driver). Installed
# here when missing (as root); otherwise the test fails and says how, it never skips.
browser:
	@command -v chromedriver >/dev/null && { command -v chromium >/dev/null || \
	  command -v chromium-browser >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make test: installing chromium and chromium-driver (the web UI tests)"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -q chromium chromium-driver >/dev/null; \
	  else \
	    echo "make test: the web UI tests need chromium and chromium-driver; as root:" \
	      "apt-get install -y chromium chromium-driver"; \
	  fi; }

# The PostgreSQL store's tests start a throwaway cluster of Debian's postgresql (as the postgres
# user, on a unix socket). Installed here when missing (as root); otherwise they fail and say
# how, they never skip.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make test: installing postgresql (the PostgreSQL store's tests)"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -q postgresql >/dev/null; \
	  else \
	    echo "make test: the PostgreSQL tests need Debian's postgresql; as root:" \
	      "apt-get install -y postgresql"; \
	  fi; }

lint: $(STAMP)
	$(VENV)/bin/ruff check inspector tests bench
	$(VENV)/bin/mypy

bench: $(STAMP) postgres
	$(PY) -m bench.run $(ARGS)

screenshots: $(STAMP) browser
	$(PY) screenshots/generate.py
	INSPECTOR_SCREENSHOTS=1 $(PY) -m pytest -q tests/test_web.py -k in_a_browser

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
