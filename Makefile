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
# pytest-xdist workers for `make test` (`auto`: one per core; 0 runs in this
# process). Tests of a file that share a costly fixture stay on one worker
# (tests/conftest.py).
TEST_WORKERS ?= auto

.PHONY: install test demo clean-venv gpu-bundle

install: $(STAMP)

# A fresh venv holds torch's CUDA build (about 7.6 GiB); pip also needs room
# for its downloads, so a new install stops early, naming the shortfall, rather
# than dying half-way with "No space left on device".
MIN_FREE_GIB ?= 9

$(STAMP): setup.py requirements/*.txt
	@test -x $(PY) || { free=$$(df -Pk . | awk 'NR == 2 {print int($$4 / 1048576)}'); \
	  if [ "$$free" -lt $(MIN_FREE_GIB) ]; then \
	    echo "make install: $$free GiB free under $$(pwd); a new .venv needs about $(MIN_FREE_GIB) GiB (torch's CUDA build alone is 7.6 GiB). Free some disk space (or set MIN_FREE_GIB) and run make again." >&2; \
	    exit 1; fi; }
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
	# setuptools' develop mode rather than pip's PEP 660 editable install:
	# mim (`mim train/test/search mmhvit`) finds a package's tools, configs
	# and model index next to its distribution's location, which PEP 660
	# puts in site-packages.
	$(PIP) uninstall -q -y mmhvit 2>/dev/null || true
	$(PY) setup.py -q develop --no-deps
	$(PY) -c "import mmcv.ops, mmseg, mmdet, mmpretrain, mmhvit; print('mmhvit installed:', mmhvit.__version__)"
	touch $(STAMP)

test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

demo: install
	$(PY) tools/misc/demo.py

clean-venv:
	rm -rf $(VENV)

# What the bare GPU machine needs besides this checkout (docs/gpu.md): mmcv
# with CUDA ops for its torch / CUDA / Python / GPU, built here once per
# target and kept in a per-user wheelhouse, the OpenMMLab packages and only
# the dependencies that machine lacks; it stops before building mmcv or
# downloading the set when it and the checkout would exceed 64 MiB. Needs
# PyPI, not the venv. GPU_BUNDLE_ARGS=--list: the set and its size only.
GPU_BUNDLE ?= gpu_bundle
GPU_BUNDLE_ARGS ?=

gpu-bundle:
	$(PYTHON) tools/misc/gpu_bundle.py --out $(GPU_BUNDLE) $(GPU_BUNDLE_ARGS)
