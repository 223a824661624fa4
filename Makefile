# `make demo` and `make test` work on a fresh machine: each creates .venv and installs what it needs.
# The demo needs only the plugin (`pip install -e .`); tests, lint and bench need the server and test
# extras too. One stamp per install, so `make demo` on a fresh clone skips the heavy extras.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp
# Precise mode and the verifier record with sys.monitoring on Python 3.12+ and with a profile function
# before: when .venv is older, `make test` also runs their tests on a 3.12+ interpreter found here.
PY312  ?= $(shell for p in $$(command -v python3.13 python3.12) $$(ls -d $$HOME/.pyenv/versions/3.1[23]*/bin/python3 2>/dev/null); do \
            $$p -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && echo $$p && break; done)
VENV312 := .venv-monitoring

.PHONY: install demo test test-monitoring lint bench clean

# Editable installs of a pyproject-only project need pip 21.3+ (PEP 660); upgrade only an older one, since
# the download would cost the demo seconds on every fresh clone.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import pip, sys; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (21, 3))' \
	  || $(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[server,test]'
	touch $(STAMP)

# The full install covers the demo: only install the plugin when it is missing or older.
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	@if [ ! $(STAMP) -nt pyproject.toml ]; then \
	  echo "make: installing the plugin only (make test installs the rest)"; \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -e .; fi
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python example_project/demo.py

test: install
	$(BIN)/python -m pytest -n 2 -p xdist
	@if $(BIN)/python -c 'import sys; sys.exit(sys.version_info >= (3, 12))'; then \
	  printf '\n%s\n' "make: the recording tests again on Python 3.12+ (sys.monitoring), in $(VENV312)"; \
	  $(MAKE) --no-print-directory test-monitoring; fi

# The recording tests on Python 3.12+ (sys.monitoring); skipped with a note when none is installed.
test-monitoring:
	@if [ -z "$(PY312)" ]; then echo "make: no Python 3.12+ found: the sys.monitoring tests did not run"; exit 0; fi; \
	  [ -x $(VENV312)/bin/python ] || $(PY312) -m venv $(VENV312); \
	  [ $(VENV312)/.installed-stamp -nt pyproject.toml ] || { $(VENV312)/bin/python -m pip install --quiet -e '.[server,test]' && touch $(VENV312)/.installed-stamp; }; \
	  $(VENV312)/bin/python -m pytest -n 2 -p xdist tests/recording tests/plugin/function_level tests/verify

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(VENV312) .pytest_cache example_project/.pytest_cache
