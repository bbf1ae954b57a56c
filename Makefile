# The newcomer's contract: `make demo` and `make test` each install what they need.
# torch==2.13.0 is installed FIRST and on its own: that exact pin is the CPU wheel on
# our machines; any other spec resolves to the CUDA build (several GB).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.grukit-installed

.PHONY: install demo test bench lint clean

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

lint: $(STAMP)
	$(PY) -m ruff check src tests examples benchmarks tools

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
