# `make demo` and `make test` work on a fresh machine: each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Precise mode and the verifier record with sys.monitoring on Python 3.12+ and with a profile function
# before: when .venv is older, `make test` also runs their tests on a 3.12+ interpreter found here.
PY312  ?= $(shell for p in $$(command -v python3.13 python3.12) $$(ls -d $$HOME/.pyenv/versions/3.1[23]*/bin/python3 2>/dev/null); do \
            $$p -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && echo $$p && break; done)
VENV312 := .venv-monitoring

.PHONY: install demo test test-monitoring lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server,test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python example_project/demo.py

test: install
	$(BIN)/python -m pytest -n 2 -p xdist
	@if $(BIN)/python -c 'import sys; sys.exit(sys.version_info >= (3, 12))'; then $(MAKE) test-monitoring; fi

# The recording tests on Python 3.12+ (sys.monitoring); skipped with a note when none is installed.
test-monitoring:
	@if [ -z "$(PY312)" ]; then echo "make: no Python 3.12+ found: the sys.monitoring tests did not run"; exit 0; fi; \
	  [ -x $(VENV312)/bin/python ] || $(PY312) -m venv $(VENV312); \
	  [ $(VENV312)/.installed-stamp -nt pyproject.toml ] || { $(VENV312)/bin/python -m pip install --quiet -e '.[server,test]' && touch $(VENV312)/.installed-stamp; }; \
	  $(VENV312)/bin/python -m pytest -n 2 -p xdist tests/recording tests/plugin/function_level tests/verify

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(VENV312) .pytest_cache example_project/.pytest_cache
