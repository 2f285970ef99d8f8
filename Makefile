# Two commands for a fresh machine: `make dev` (converge the stack) and
# `make test` (the whole test suite). Both create or reuse the tooling
# virtualenv .venv from requirements.txt first.
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
# PURGE and BACKUP are read raw ($(value)): exporting them as make does for a command-line
# variable would expand them, running a $(shell ...) they hold.
unexport PURGE BACKUP

.PHONY: dev test venv images lint unit molecule bench check status logs down backup restore workstation

$(STAMP): requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@cp requirements.txt $(STAMP)

venv: $(STAMP)

dev: $(STAMP)
	$(CONVERGE) playbooks/dev.yml $(ARGS)

# A bare laptop's prerequisites (roles/workstation, playbooks/workstation.yml): a Docker
# engine, Python 3 with venv, git, make, the docker group, lingering. Python's venv comes
# first, from the distribution, since the tooling virtualenv needs it; sudo's password is
# asked once (--ask-become-pass), not at all for root or where sudo needs none.
workstation:
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  echo "[workstation] $(PYTHON) has no venv yet: installing it from the distribution first"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  if command -v apt-get >/dev/null; then $$sudo apt-get update -qq && $$sudo apt-get install -y -qq python3-venv; \
	  elif command -v dnf >/dev/null; then $$sudo dnf install -y -q python3; \
	  else echo "[workstation] install Python 3 with venv (macOS: xcode-select --install), then run make workstation again" >&2; exit 1; fi; }
	@$(MAKE) --no-print-directory venv
	become=; [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null || become=--ask-become-pass; \
	  ansible-playbook playbooks/workstation.yml $$become $(ARGS)

# Dry run of dev: what would change.
check: $(STAMP)
	$(CONVERGE) playbooks/dev.yml --check --diff $(ARGS)

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

# Day two (docs/day2.md).
status logs backup: $(STAMP)
	$(CONVERGE) playbooks/$@.yml $(ARGS)

# PURGE=1 (or true, yes, in any case) also removes the containers and volumes; empty, 0,
# false or no keep them; anything else stops before ansible runs (a typo must not purge,
# and PURGE=0 must not either, as `$(if $(PURGE),...)` once did).
lowercase = $(subst Z,z,$(subst Y,y,$(subst X,x,$(subst W,w,$(subst V,v,$(subst U,u,$(subst T,t,$(subst S,s,$(subst R,r,$(subst Q,q,$(subst P,p,$(subst O,o,$(subst N,n,$(subst M,m,$(subst L,l,$(subst K,k,$(subst J,j,$(subst I,i,$(subst H,h,$(subst G,g,$(subst F,f,$(subst E,e,$(subst D,d,$(subst C,c,$(subst B,b,$(subst A,a,$(1)))))))))))))))))))))))))))
purge := $(strip $(call lowercase,$(value PURGE)))
purge_single := $(filter 0 1,$(words $(purge)))
purge_yes := $(if $(purge_single),$(filter 1 true yes,$(purge)))
purge_known := $(if $(purge_single),$(or $(filter 0,$(words $(purge))),$(filter 1 true yes 0 false no,$(purge))))

down: $(STAMP)
	$(if $(purge_known),,$(error PURGE=$(value PURGE) is not understood: PURGE=1 (or true, yes) removes the containers and volumes, PURGE=0 (or false, no, or no PURGE at all) keeps them. Nothing was run))
	$(CONVERGE) playbooks/down.yml $(if $(purge_yes),-e integrador_purge=true) $(ARGS)

# BACKUP reaches the playbook as one value, exactly as typed (spaces, quotes, $, \, {{ }}):
# make hands it over untouched through the environment ($(value) expands nothing); Python
# writes it into a temporary extra-vars file as a YAML double-quoted string (ASCII, \U
# escapes) inside a mapping tagged !unsafe, so that Ansible neither templates it nor reads
# "0" or "yes" as a number or a boolean (a tag on the string itself would). No command line
# form of -e can say all that.
define restore_extra_vars
import os
out = ""
for char in os.environ["INTEGRADOR_BACKUP"]:
    if char in '"\\':
        out += "\\" + char
    elif " " <= char <= "~":
        out += char
    else:
        out += "\\U%08x" % ord(char)
print('!unsafe {"backup": "' + out + '"}')
endef

restore: export INTEGRADOR_BACKUP = $(value BACKUP)
restore: export INTEGRADOR_RESTORE_EXTRA_VARS = $(value restore_extra_vars)
restore: $(STAMP)
	@test -n "$$INTEGRADOR_BACKUP" || { echo "usage: make restore BACKUP=<backup folder>" >&2; exit 2; }
	vars=$$(mktemp) && trap 'rm -f "$$vars"' EXIT && \
	  $(VENV)/bin/python -c "$$INTEGRADOR_RESTORE_EXTRA_VARS" >"$$vars" && \
	  $(CONVERGE) playbooks/restore.yml -e "@$$vars" $(ARGS)
