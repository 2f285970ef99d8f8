# Two commands for a fresh machine: `make dev` (converge the stack) and
# `make test` (the whole test suite). Both create or reuse the tooling
# virtualenv .venv from requirements.txt first. `make` alone lists every command
# (make help): each target's line there is its `## ` comment, so the list
# cannot drift from the targets (tests/unit/test_makefile.py checks that every
# target has one).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.requirements.txt
# Extra ansible-playbook arguments, for example: make dev ARGS="--tags api"
ARGS ?=
# What runs a playbook (tests/unit/test_makefile.py points it at a stub that shows its arguments).
CONVERGE ?= scripts/converge

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# Python warnings raised by a library we pin, not by anything of the user's: ansible-core's
# ssh-agent code imports DSA, which cryptography 51 deprecates on stderr of every ansible command.
comma := ,
export PYTHONWARNINGS := $(if $(PYTHONWARNINGS),$(PYTHONWARNINGS)$(comma))ignore:::ansible._internal._ssh._ssh_agent
# The command-line variables below are read raw ($(value)): exporting them as make
# does for a command-line variable would expand them, running a $(shell ...) they hold.
unexport PURGE BACKUP INSTANCE SERVICE FORMAT FOLLOW YES SCENARIO NAME FILE

.DEFAULT_GOAL := help
.PHONY: help dev test test-quick venv lock images lint unit mutation molecule bench check status logs down backup restore restart reset psql redis-cli doctor workstation snapshot snapshots restore-snapshot drop-snapshot import-db

help: ## this list (the default); variables: INSTANCE=<name> (every stack command: a second stack, docs/day2.md), ARGS="<ansible-playbook arguments>"
	@echo "Usage: make <command> [VARIABLE=value ...]"
	@sed -n 's/^\([a-z][a-z-]*\):.*## \(.*\)$$/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) | \
	  while IFS=$$'\t' read -r target text; do printf '  make %-16s %s\n' "$$target" "$$text"; done

# The commands of a developer's day are aliases of `integrador <verb>` (integrador_cli/,
# docs/day2.md#command-line). make's variables reach it raw, through the environment ($(value)
# expands nothing, so a value that looks like make or shell code stays text), mapped to its
# options: INSTANCE to --instance, SERVICE to --service, BACKUP to --backup, NAME to --name, FILE to --file, FORMAT, FOLLOW,
# PURGE and YES to hidden --make-* options that take make's words (1, true, yes in any case are
# yes; empty, 0, false, no are no; anything else stops), ARGS after `--`, CONVERGE to --converge.
# The CLI checks every value before a playbook runs and names the variable (`INSTANCE=B is not a
# stack name ... Nothing was run.`). `+`: under make -n the CLI runs too, and prints the commands
# it would run (it reads -n from MAKEFLAGS).
export INTEGRADOR_MAKE_INSTANCE = $(value INSTANCE)
export INTEGRADOR_MAKE_SERVICE = $(value SERVICE)
export INTEGRADOR_MAKE_FORMAT = $(value FORMAT)
export INTEGRADOR_MAKE_FOLLOW = $(value FOLLOW)
export INTEGRADOR_MAKE_PURGE = $(value PURGE)
export INTEGRADOR_MAKE_YES = $(value YES)
export INTEGRADOR_MAKE_BACKUP = $(value BACKUP)
export INTEGRADOR_MAKE_NAME = $(value NAME)
export INTEGRADOR_MAKE_FILE = $(value FILE)
# (make -n before the first make installed it: the command is printed, as make -n prints the rest.)
integrador = $(if $(findstring n,$(firstword -$(MAKEFLAGS))),$(if $(wildcard $(VENV)/bin/integrador),,echo ))$(VENV)/bin/integrador --make --converge='$(CONVERGE)'
instance = --instance="$$INTEGRADOR_MAKE_INSTANCE"

# The venv is installed from requirements.lock: the whole closure of requirements.txt, each
# package pinned with its hashes (pip's hash-checking mode), so a fresh machine gets exactly what
# CI tested. `make lock` regenerates it after requirements.txt changed (a reviewed change).
# Then the `integrador` command (integrador_cli/, pyproject.toml's [project.scripts]) as an editable
# install, offline: the lock holds setuptools, so nothing is fetched to build it. pip byte-compiles
# every file one after the other (ansible's collections alone are 473 MB: 33 s of a 68 s install
# here); compileall does it on every core (-j 0), 20 s on two, every file still compiled.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) >&2
	@echo "[make] installing the tooling virtualenv $(VENV) from requirements.lock" >&2
	@$(VENV)/bin/pip install --quiet --no-compile --disable-pip-version-check --require-hashes -r requirements.lock >&2
	@$(VENV)/bin/python -m compileall -q -j 0 $(VENV)/lib >&2 || echo "[make] some files of $(VENV) did not byte-compile: Python compiles them when they are imported" >&2
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . >&2
	@cp requirements.lock $(STAMP)

venv: $(STAMP) ## create or update the tooling virtualenv .venv from requirements.lock

lock: $(STAMP) ## regenerate requirements.lock (every package pinned, with hashes) from requirements.txt
	uv pip compile requirements.txt --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header --quiet -o requirements.lock

dev: $(STAMP) ## converge this machine: containers, virtualenv and .env, API and gateway (every morning, after every pull)
	@+$(integrador) dev $(instance) -- $(ARGS)

check: $(STAMP) ## dry run of dev: what would change (--check --diff)
	@+$(integrador) check $(instance) -- $(ARGS)

# A bare laptop's prerequisites (roles/workstation, playbooks/workstation.yml): a Docker
# engine, Python 3 with venv, git, make, the docker group, lingering. Python's venv comes
# first, from the distribution, since the tooling virtualenv needs it; sudo's password is
# asked once (--ask-become-pass), not at all for root or where sudo needs none.
workstation: ## a bare laptop's prerequisites: Docker engine, Python 3 with venv, git, make, docker group, lingering (asks sudo's password once)
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  echo "[workstation] $(PYTHON) has no venv yet: installing it from the distribution first"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  if command -v apt-get >/dev/null; then $$sudo apt-get update -qq && $$sudo apt-get install -y -qq python3-venv; \
	  elif command -v dnf >/dev/null; then $$sudo dnf install -y -q python3; \
	  else echo "[workstation] install Python 3 with venv (macOS: xcode-select --install), then run make workstation again" >&2; exit 1; fi; }
	@$(MAKE) --no-print-directory venv
	@+$(integrador) workstation -- $(ARGS)

images: ## build the local stand-in images and the laptops' wheelhouse the tests use (tests/images/build.sh)
	tests/images/build.sh

# Each stage prints its seconds ([stage] <name> <seconds> s), which .ci/run gathers, and how
# busy the CPUs were meanwhile (scripts/cpu_busy: all cores busy means more lanes cannot help).
stage = t0=$$(date +%s); c0=$$(scripts/cpu_busy); rc=0; { $(1); } || rc=$$?; \
	echo "[stage] $(2) $$(( $$(date +%s) - t0 )) s$$(scripts/cpu_busy $$c0)"; exit $$rc

# .ansible-lint holds the profile (production) and reads .yamllint; .pre-commit-config.yaml runs the same.
lint: $(STAMP) ## ansible-lint (production profile, .ansible-lint), yamllint through it, and ruff
	@$(call stage,ansible-lint && ruff check . && ruff format --check .,lint)

unit: $(STAMP) ## the unit tests (pytest tests/unit, on two workers, one file per worker)
	@$(call stage,pytest -n 2 --dist loadfile --durations=15 tests/unit,unit)

# mutmut over module_utils/, the filter plugins and library/'s pure functions, judged by the unit
# tests that call them in-process with no Docker engine or systemd (pyproject.toml's [tool.mutmut]
# and [tool.integrador-mutation]; scripts/mutation.py). Not part of CI or `make test`: it takes
# tens of minutes. Works in mutants/ (git-ignored); fails below the minimum score.
mutation: $(STAMP) ## mutation testing (mutmut): the score (killed / total) and every surviving mutant; not in CI
	@$(call stage,python scripts/mutation.py,mutation)

# Side by side (tests/scenarios.py: every scenario has its own names and ports), two lanes;
# SCENARIO=name runs one (or several: SCENARIO="redis day2").
molecule: $(STAMP) images ## every Molecule scenario, two at a time (tests/scenarios.py); SCENARIO=name for one
	@$(call stage,python tests/scenarios.py $(SCENARIO),molecule)

test-quick: lint unit ## the inner loop: lint and the unit tests, no scenario

# The whole suite runs its three stages at once: the scenarios' two lanes leave a core idle part
# of the time (a lane waiting on a container, the last scenario alone), lint and the unit tests
# fill it (scripts/cpu_busy printed 65 % for lint and 93 % for molecule when they ran one after
# the other). Each stage's output is printed whole when it ends (--output-sync), so lines of two
# stages never mix; lint's comes first, the unit tests' after some minutes, the scenarios' last.
ifeq ($(strip $(SCENARIO)),)
test: $(STAMP) ## the whole test suite: lint, unit and every scenario, at once; SCENARIO=name runs that scenario only
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint unit molecule
else
test: molecule
endif

bench: $(STAMP) ## time the converges (bench/run.py; make images first)
	@+$(integrador) bench

# Day two (docs/day2.md): integrador status, logs, ... (integrador <verb> --help for each).
status: $(STAMP) ## one table of the whole stack; non-zero exit when a part is unhealthy; FORMAT=json for scripts
	@+$(integrador) status $(instance) --make-format="$$INTEGRADOR_MAKE_FORMAT" -- $(ARGS)

logs: $(STAMP) ## the last lines of every log; SERVICE=api|ws|db|redis for one, FOLLOW=1 to follow them live
	@+$(integrador) logs $(instance) --service="$$INTEGRADOR_MAKE_SERVICE" --make-follow="$$INTEGRADOR_MAKE_FOLLOW" -- $(ARGS)

backup: $(STAMP) ## back up PostgreSQL and Redis into ~/integrador-backups/<time>/
	@+$(integrador) backup $(instance) -- $(ARGS)

restart: $(STAMP) ## restart the API and the gateway, or one: SERVICE=api|ws; waits until healthy
	@+$(integrador) restart $(instance) --service="$$INTEGRADOR_MAKE_SERVICE" -- $(ARGS)

reset: $(STAMP) ## fresh database: a backup first, then the PostgreSQL volume is removed, migrated and seeded again; YES=1 skips the question
	@+$(integrador) reset $(instance) --make-yes="$$INTEGRADOR_MAKE_YES" -- $(ARGS)

down: $(STAMP) ## stop the services and containers (data kept); PURGE=1 also removes containers and volumes
	@+$(integrador) down $(instance) --make-purge="$$INTEGRADOR_MAKE_PURGE" -- $(ARGS)

restore: $(STAMP) ## put a backup back: BACKUP=<backup folder> (make backup names it); the current data is backed up first; YES=1 skips the question
	@+$(integrador) restore $(instance) --backup="$$INTEGRADOR_MAKE_BACKUP" --make-yes="$$INTEGRADOR_MAKE_YES" -- $(ARGS)

snapshot: $(STAMP) ## snapshot PostgreSQL and Redis in seconds (kept beside the live data); NAME=<name> for one never pruned
	@+$(integrador) snapshot $(instance) --name="$$INTEGRADOR_MAKE_NAME" -- $(ARGS)

snapshots: $(STAMP) ## the snapshots: name, when, size, Alembic revision, git branch; FORMAT=json for scripts
	@+$(integrador) snapshots $(instance) --make-format="$$INTEGRADOR_MAKE_FORMAT" -- $(ARGS)

restore-snapshot: $(STAMP) ## put snapshot NAME=<name> back (the data it replaces becomes snapshot undo-<time>)
	@+$(integrador) restore-snapshot $(instance) --name="$$INTEGRADOR_MAKE_NAME" -- $(ARGS)

drop-snapshot: $(STAMP) ## remove snapshot NAME=<name>
	@+$(integrador) drop-snapshot $(instance) --name="$$INTEGRADOR_MAKE_NAME" -- $(ARGS)

import-db: $(STAMP) ## load FILE=<what pg_dump wrote> in place of the database (checked first; the replaced one becomes snapshot undo-<time>)
	@+$(integrador) import-db $(instance) --file="$$INTEGRADOR_MAKE_FILE" -- $(ARGS)

psql: $(STAMP) ## interactive psql on menu_ops as the configured user (piped input works: echo 'select 1' | make psql)
	@+$(integrador) psql $(instance) -- $(ARGS)

redis-cli: $(STAMP) ## interactive redis-cli, authenticated when redis_password is set (never printed)
	@+$(integrador) redis-cli $(instance) -- $(ARGS)

doctor: $(STAMP) ## the preflight alone: Docker, ports, disk, checkout, Python, user manager, settings (changes nothing)
	@+$(integrador) doctor $(instance) -- $(ARGS)
