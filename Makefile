# Two commands for a fresh machine: `make dev` (converge the stack) and
# `make test` (the whole test suite). Both create or reuse the tooling
# virtualenv .venv from requirements.txt first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.requirements.txt
# Extra ansible-playbook arguments, for example: make dev ARGS="--tags api"
ARGS ?=

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

.PHONY: dev test venv images lint unit molecule bench check status logs down backup restore

$(STAMP): requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@cp requirements.txt $(STAMP)

venv: $(STAMP)

dev: $(STAMP)
	scripts/converge playbooks/dev.yml $(ARGS)

# Dry run of dev: what would change.
check: $(STAMP)
	scripts/converge playbooks/dev.yml --check --diff $(ARGS)

images:
	tests/images/build.sh

lint: $(STAMP)
	ansible-lint --profile production --nocolor
	ruff check .
	ruff format --check .

unit: $(STAMP)
	pytest tests/unit

molecule: $(STAMP) images
	molecule test --all

test: lint unit molecule

bench: $(STAMP) images
	python bench/run.py

# Day two (docs/day2.md). PURGE=1 also removes the containers and volumes.
status logs backup: $(STAMP)
	scripts/converge playbooks/$@.yml $(ARGS)

down: $(STAMP)
	scripts/converge playbooks/down.yml $(if $(PURGE),-e integrador_purge=true) $(ARGS)

restore: $(STAMP)
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=<backup folder>"; exit 2; }
	scripts/converge playbooks/restore.yml -e backup=$(BACKUP) $(ARGS)
