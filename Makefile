# skcrystal: every set-up step lives here, so `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch CPU wheel pinned first so no CUDA build is pulled by the `torch>=2.2` requirement.
TORCH  ?= torch==2.13.0
# the test run exercises the optional scale-out back-ends too (dask, ray, accelerate, arrow stores)
EXTRAS ?= test,dask,ray,accelerate,stream
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench docs clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

# the standard preset of the benchmark runner (a few minutes per model and frame on 2 cores);
# `skcrystal benchmark --quick` is the CI-sized run, `--full` the accurate settings on every row
bench: $(STAMP)
	$(PY) -m skcrystal --threads 1 benchmark --models Dummy,GBT,NNN,CGNN --frames perovskites,mp_e_form \
	    --out benchmarks/results/bench_standard

docs: $(STAMP)
	$(PIP) install -q -e ".[docs]"
	rm -rf docs/gen_modules docs/auto_examples  # generated; stale after an API change
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build
