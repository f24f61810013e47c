# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench venv browser clean

venv: $(STAMP)

# Re-install only when the project's own metadata changes (idempotent).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m huisheng.demo

# The browser tests drive Debian's Chromium (no browser download works here);
# Chinese needs a CJK font in the screenshots.
browser:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  echo "installing Debian's chromium and fonts-noto-cjk for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

# One pytest worker per core: every test has its own files, ports and
# PostgreSQL schema, so they run side by side; an idle worker takes queued
# tests from a busy one (the slow end-to-end tests would otherwise end alone).
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n $(or $(PYTEST_WORKERS),auto) --dist worksteal

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo build dist *.egg-info
