# Transfer Learning in Medicine: the course's commands.
#   make course      set up, check data, copy the lessons to workspace/, open JupyterLab
#                    (the cache fills in the background meanwhile: `make status`)
#   make test        set up if needed, run every test (lessons executed, nbgrader round trip)
#   make test-fast   tests/unit (the library and the runners) and tests/repo (repository rules), two at a time
#                    (no lesson executed, no nbgrader, browser or JupyterHub)
#   make test-lesson L=03_rnn_formula   one lesson: executed cold and warm, then its nbgrader checks
# Run `make help` for the rest. Users without make: see README.md ("Without make").
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8888
IP ?= 127.0.0.1
NO_BROWSER ?=
# Jupyter refuses to start as root (CI machines, containers) without --allow-root.
LAB_FLAGS = --ip=$(IP) --port=$(PORT) $(if $(NO_BROWSER),--no-browser) $(if $(TOKEN),--IdentityProvider.token=$(TOKEN)) \
            $(if $(filter 0,$(shell id -u)),--allow-root)
# The learner's JupyterLab (make course, make lab) hides nbgrader's instructor panels (create
# assignment, formgrader, course list, assignment list, the Nbgrader menu; the validate button
# stays): JupyterLab reads labconfig/page_config.json's disabledExtensions from every folder on
# JUPYTER_CONFIG_PATH. make instructor keeps them all.
LEARNER_LAB = JUPYTER_CONFIG_PATH="$(CURDIR)/jupyterlab-settings/learner$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
              $(VENV)/bin/jupyter lab --notebook-dir=workspace $(LAB_FLAGS)

# Use the provided data copy when it sits beside the repository.
SHARED_DATA := $(abspath ../shared/datasets)
ifneq ($(wildcard $(SHARED_DATA)/SOURCES.md),)
export COURSE_DATA_DIR ?= $(SHARED_DATA)
endif
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 1

# Instructor commands (see docs/instructor.md): A = assignment (lesson), JOBS = parallel kernels.
A ?= 01_background
JOBS ?= 2

.PHONY: help setup setup-dev course prepare status workspace lab instructor release test test-fast test-lesson \
        bench clean-cache \
        release-to-students due collect autograde feedback grades grading-bench

help:
	@sed -n 's/^#   /  /p' $(firstword $(MAKEFILE_LIST)); \
	echo "  make setup       create $(VENV) with the pinned requirements"; \
	echo "  make prepare     check data, pretrain and warm the cache, with progress (the night before a workshop)"; \
	echo "  make status      what the background prepare started by make course is doing"; \
	echo "  make lab         the learner's JupyterLab on workspace/ only (no data check, no prepare)"; \
	echo "  make instructor  JupyterLab at the repository root, with nbgrader's formgrader"; \
	echo "  make release     regenerate notebooks/ (student release) from solutions/ with nbgrader"; \
	echo "  make bench       execute every lesson cold and warm and print the timing report"; \
	echo "  make release-to-students|collect|autograde|feedback|grades A=<lesson>   (docs/instructor.md)"; \
	echo "  make due A=<lesson> WHEN=2026-12-01T23:59+01:00   due date (later submissions marked late)"

# The interpreter is checked (supported Python and platform, else one message naming
# what to use instead) before .venv is created and before pip runs.
$(VENV)/.installed: requirements.txt pyproject.toml jupyterlab-settings/overrides.json
	@test -x $(PY) || $(PYTHON) -c 'import sys; sys.version_info >= (3, 7) or sys.exit("Python %d.%d cannot install the course (it needs 3.11, 3.12 or 3.13): install Python 3.11 and run make setup PYTHON=python3.11" % sys.version_info[:2])'
	@test -x $(PY) || $(PYTHON) -m helpers.device check-python
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m helpers.device check-python
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -e .
	$(PY) -m tools.course lab-settings
	touch $@

# What the tests need on top (JupyterHub for the classroom test), pinned.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

prepare: setup
	$(PY) -m tools.course prepare

status: setup
	@$(PY) -m tools.course status

workspace: setup
	$(PY) -m tools.course workspace

lab: setup
	$(LEARNER_LAB)

# JupyterLab opens as soon as the data are checked; `prepare` fills the cache in the
# background at low priority (progress: `make status`), and a lesson trains what is missing itself.
course: setup workspace
	$(PY) -m tools.course check-data
	$(PY) -m tools.course prepare --background
	$(LEARNER_LAB)

instructor: setup
	$(VENV)/bin/jupyter lab --notebook-dir=. $(LAB_FLAGS)

release: setup
	$(PY) -m tools.course release

test: setup-dev
	$(PY) -m pytest

# tests/unit (the library and the runners) and tests/repo (repository rules) are fast;
# tests/lessons (lessons executed, browser, course command) and tests/grading (nbgrader, JupyterHub) are not.
test-fast: setup-dev
	$(PY) -m pytest -n 2 tests/unit tests/repo

test-lesson: setup
	@test -n "$(L)" -a -d "solutions/$(L)" || { echo "usage: make test-lesson L=<lesson>, one of: $$(ls solutions | tr '\n' ' ')"; exit 2; }
	COURSE_LESSONS=$(L) $(PY) -m pytest tests/lessons/test_lessons.py tests/grading/test_nbgrader_pipeline.py

bench: setup
	$(PY) -m pytest tests/lessons/test_lessons.py -q
	$(PY) -m tools.course timing

clean-cache:
	rm -rf .cache

release-to-students: setup
	$(PY) -m tools.grading release $(A)

due: setup
	$(PY) -m tools.grading due $(A) $(WHEN)

collect: setup
	$(PY) -m tools.grading collect $(A) $(if $(ZIP),--zip $(ZIP))

autograde: setup
	$(PY) -m tools.grading autograde $(A) --jobs $(JOBS)

feedback: setup
	$(PY) -m tools.grading feedback $(A)

grades: setup
	$(PY) -m tools.grading export

grading-bench: setup
	$(PY) -m tools.grading bench --n 30 --jobs $(JOBS)
