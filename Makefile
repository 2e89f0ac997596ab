# Transfer Learning in Medicine: the course's commands.
#   make course      set up, prepare data and cache, copy the lessons to workspace/, open JupyterLab
#   make test        set up if needed, run every test (lessons executed, nbgrader round trip)
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

.PHONY: help setup course prepare workspace lab instructor release test bench clean-cache \
        release-to-students due collect autograde feedback grades grading-bench

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST); \
	echo "  make setup       create $(VENV) with the pinned requirements"; \
	echo "  make prepare     check data, pretrain and warm the cache (the night before a workshop)"; \
	echo "  make instructor  JupyterLab at the repository root, with nbgrader's formgrader"; \
	echo "  make release     regenerate notebooks/ (student release) from solutions/ with nbgrader"; \
	echo "  make bench       execute every lesson cold and warm and print the timing report"; \
	echo "  make release-to-students|collect|autograde|feedback|grades A=<lesson>   (docs/instructor.md)"; \
	echo "  make due A=<lesson> WHEN=2026-12-01T23:59+01:00   due date (later submissions marked late)"

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -e .
	touch $@

setup: $(VENV)/.installed

prepare: setup
	$(PY) -m helpers.course prepare

workspace: setup
	$(PY) -m helpers.course workspace

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=workspace $(LAB_FLAGS)

course: prepare workspace lab

instructor: setup
	$(VENV)/bin/jupyter lab --notebook-dir=. $(LAB_FLAGS)

release: setup
	$(PY) -m helpers.course release

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m pytest tests/test_lessons.py -q
	$(PY) -m helpers.course timing

clean-cache:
	rm -rf .cache

release-to-students: setup
	$(PY) -m helpers.grading release $(A)

due: setup
	$(PY) -m helpers.grading due $(A) $(WHEN)

collect: setup
	$(PY) -m helpers.grading collect $(A) $(if $(ZIP),--zip $(ZIP))

autograde: setup
	$(PY) -m helpers.grading autograde $(A) --jobs $(JOBS)

feedback: setup
	$(PY) -m helpers.grading feedback $(A)

grades: setup
	$(PY) -m helpers.grading export

grading-bench: setup
	$(PY) -m helpers.grading bench --n 30 --jobs $(JOBS)
