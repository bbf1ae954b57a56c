# The newcomer's contract: `make demo` and `make test` each install what they need.
# torch==2.13.0 is installed FIRST and on its own: that exact pin is the CPU wheel on
# our machines; any other spec resolves to the CUDA build (several GB).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.grukit-installed

.PHONY: install demo test bench docs lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/grukit reproduce chung2014 --quick --datasets jsb --out runs/chung2014-quick

test: $(STAMP)
	$(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(PY) -m grukit.cli build
	$(PY) benchmarks/cpu.py

# The site of docs/ into site/ (git-ignored); strict: a warning fails the build. The
# variable silences a banner the Material theme prints about MkDocs 2.0.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: $(STAMP)
	$(PY) -m ruff check src tests examples benchmarks tools

clean:
	rm -rf $(VENV) build site src/*.egg-info .pytest_cache
