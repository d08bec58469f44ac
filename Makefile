# The two set-up commands of the README: `make demo` and `make test`.
# Both build .venv from nothing on a fresh machine (Python >= 3.11 required).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export OMP_NUM_THREADS ?= 1

.PHONY: demo test lint typecheck bench clean venv

$(VENV)/.installed-runtime: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-runtime
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	touch $@

venv: $(VENV)/.installed-dev

# riskengine demo loads the engine, which compiles the numba kernels into their disk cache
# when it is cold (one line says so on a terminal): later commands load them warm
demo: $(VENV)/.installed-runtime
	$(VENV)/bin/riskengine demo

test: $(VENV)/.installed-dev
	bash scripts/install_java.sh
	bash scripts/install_browser.sh
	bash scripts/install_postgres.sh
	$(VENV)/bin/ruff check riskengine tests benchmarks
	$(VENV)/bin/mypy riskengine
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check riskengine tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy riskengine

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_features.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
