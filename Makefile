# nbdiag — the two commands:
#   make demo   set everything up, then JupyterLab on 127.0.0.1 with the example notebooks
#               (make demo ARGS=--headless executes the notebooks instead and fails on any error)
#   make test   the same set-up plus Chromium, then lint, JS tests, docs, the wheel check (the built
#               wheel in fresh venvs), Python tests and browser tests
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMPS  := $(VENV)/.stamps
CHROMIUM ?= /usr/bin/chromium
ARGS    ?=
JS_SRC  := $(shell find js/src -type f 2>/dev/null) js/build.mjs js/package.json
BUNDLE  := nbdiag/static/confusion_matrix.js nbdiag/static/image_grid.js nbdiag/static/scatter.js nbdiag/static/histogram.js

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help demo test setup setup-test lint pytest pytest-unit e2e jstest js docs wheelcheck bench clean

help:
	@echo "make demo        set up .venv (torch, nbdiag[all], JS bundle) and start JupyterLab"
	@echo "make demo ARGS=--headless   execute the example notebooks, no browser"
	@echo "make test        set up (plus Chromium), then ruff, vitest, docs, wheelcheck, pytest (unit + e2e)"
	@echo "make docs        build the documentation site (mkdocs, warnings are errors) into build/site"
	@echo "make wheelcheck  build wheel + sdist, install them in fresh venvs (core at its lower bounds, [all]), use them"
	@echo "make bench       run the benchmarks in benchmarks/ (ratios against peer libraries)"

# ---------------------------------------------------------------- set-up
$(STAMPS)/venv:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	mkdir -p $(STAMPS) && touch $@

# torch first, pinned: the CPU wheel on disk (an unpinned torch pulls a multi-GB CUDA build)
$(STAMPS)/torch: $(STAMPS)/venv
	$(PIP) install torch==2.13.0
	touch $@

js/node_modules/.package-lock.json: js/package-lock.json
	cd js && npm ci --no-audit --no-fund

$(BUNDLE) &: js/node_modules/.package-lock.json $(JS_SRC)
	cd js && npm run build

js: $(BUNDLE)

$(STAMPS)/nbdiag: $(STAMPS)/torch $(BUNDLE) pyproject.toml
	$(PIP) install -e ".[all,test,docs]"
	touch $@

setup: $(STAMPS)/nbdiag

# Debian's Chromium for the real-browser tests (never a browser download by a test tool)
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

setup-test: setup $(CHROMIUM)

# ---------------------------------------------------------------- main job
demo: setup
	$(PY) scripts/demo.py $(ARGS)

# ---------------------------------------------------------------- tests
lint: setup
	$(VENV)/bin/ruff check nbdiag tests benchmarks scripts
	$(VENV)/bin/ruff format --check nbdiag tests benchmarks scripts

pytest-unit: setup
	$(PY) -m pytest -m "not e2e" -q

e2e: setup-test
	E2E_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -m e2e -q

docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q

jstest: js
	cd js && npm run typecheck && npm test

# the wheel as users get it: built, inspected, installed in fresh venvs and used (scripts/check_wheel.py)
wheelcheck: setup $(BUNDLE)
	$(PY) scripts/check_wheel.py

test: setup-test lint jstest docs wheelcheck
	E2E_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q

bench: setup
	$(PY) -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) js/node_modules nbdiag/static dist build
