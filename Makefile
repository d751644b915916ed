# mmhvit developer entry points. `make install` is idempotent: it keeps the venv in
# the checkout (.venv) and the mmcv wheel it builds in a per-user wheelhouse, so the
# ~20 minute mmcv build happens once per machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION := $(shell sed -n 's/^torch==//p' requirements/torch.txt)
MMCV_VERSION := $(shell sed -n 's/^mmcv==//p' requirements/mminstall.txt)
WHEELHOUSE ?= $(HOME)/.cache/mmhvit/wheels/torch-$(TORCH_VERSION)
STAMP := $(VENV)/.mmhvit-installed
PYTEST_ARGS ?=

.PHONY: install test demo clean-venv

install: $(STAMP)

$(STAMP): setup.py requirements/*.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/build.txt
	$(PIP) install -q -r requirements/torch.txt
	$(PIP) install -q -r requirements/runtime.txt
	# mmcv: build the wheel with compiled ops once, against the venv's torch.
	ls $(WHEELHOUSE)/mmcv-$(MMCV_VERSION)-*.whl >/dev/null 2>&1 || \
	  MMCV_WITH_OPS=1 MAX_JOBS=$$(nproc) $(PIP) wheel --no-build-isolation --no-deps \
	    mmcv==$(MMCV_VERSION) -w $(WHEELHOUSE)
	$(PIP) install -q --find-links $(WHEELHOUSE) -r requirements/mminstall.txt
	$(PIP) install -q -r requirements/tests.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import mmcv.ops, mmseg, mmdet, mmpretrain, mmhvit; print('mmhvit installed:', mmhvit.__version__)"
	touch $(STAMP)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

demo: install
	$(PY) tools/misc/demo.py

clean-venv:
	rm -rf $(VENV)
