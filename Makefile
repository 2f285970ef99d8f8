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
unexport PURGE BACKUP INSTANCE SERVICE FORMAT FOLLOW YES SCENARIO

.DEFAULT_GOAL := help
.PHONY: help dev test test-quick venv lock images lint unit molecule bench check status logs down backup restore restart reset psql redis-cli workstation

help: ## this list (the default); variables: INSTANCE=<name> (every stack command: a second stack, docs/day2.md), ARGS="<ansible-playbook arguments>"
	@echo "Usage: make <command> [VARIABLE=value ...]"
	@sed -n 's/^\([a-z][a-z-]*\):.*## \(.*\)$$/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) | \
	  while IFS=$$'\t' read -r target text; do printf '  make %-11s %s\n' "$$target" "$$text"; done

# Values of the command-line variables, checked before any playbook runs: a
# typo stops with a message naming the variable and what it takes.
lowercase = $(subst Z,z,$(subst Y,y,$(subst X,x,$(subst W,w,$(subst V,v,$(subst U,u,$(subst T,t,$(subst S,s,$(subst R,r,$(subst Q,q,$(subst P,p,$(subst O,o,$(subst N,n,$(subst M,m,$(subst L,l,$(subst K,k,$(subst J,j,$(subst I,i,$(subst H,h,$(subst G,g,$(subst F,f,$(subst E,e,$(subst D,d,$(subst C,c,$(subst B,b,$(subst A,a,$(1)))))))))))))))))))))))))))
# The raw value of variable $(1), stripped and lowercased.
raw = $(strip $(call lowercase,$(value $(1))))
# Yes/no switches: 1, true, yes (any case) are yes; empty, 0, false, no are no;
# anything else is not understood (a typo must not purge or reset).
single = $(filter 0 1,$(words $(1)))
bool_yes = $(if $(call single,$(1)),$(filter 1 true yes,$(1)))
bool_known = $(if $(call single,$(1)),$(or $(filter 0,$(words $(1))),$(filter 1 true yes 0 false no,$(1))))
# One of a list of words ($(2)), or empty.
choice_known = $(if $(call single,$(1)),$(or $(filter 0,$(words $(1))),$(filter $(2),$(1))))

v_purge := $(call raw,PURGE)
v_purge_yes := $(call bool_yes,$(v_purge))
v_purge_known := $(call bool_known,$(v_purge))
v_follow := $(call raw,FOLLOW)
v_yes := $(call raw,YES)
v_service := $(call raw,SERVICE)
v_format := $(call raw,FORMAT)
# INSTANCE, as typed: lowercase letters, digits and dashes, not opening with a
# dash (they become part of container, volume, unit and folder names). What is
# left once those characters are taken out must be nothing.
v_instance := $(strip $(value INSTANCE))
v_instance_rest := $(subst -,,$(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(subst a,,$(subst b,,$(subst c,,$(subst d,,$(subst e,,$(subst f,,$(subst g,,$(subst h,,$(subst i,,$(subst j,,$(subst k,,$(subst l,,$(subst m,,$(subst n,,$(subst o,,$(subst p,,$(subst q,,$(subst r,,$(subst s,,$(subst t,,$(subst u,,$(subst v,,$(subst w,,$(subst x,,$(subst y,,$(subst z,,$(v_instance))))))))))))))))))))))))))))))))))))))
v_instance_known := $(if $(v_instance),$(if $(call single,$(v_instance)),$(if $(v_instance_rest)$(filter -%,$(v_instance)),,ok)),ok)
v_instance_e := $(if $(v_instance),-e integrador_instance=$(v_instance))
check_instance = $(if $(v_instance_known),,$(error INSTANCE=$(value INSTANCE) is not a stack name: use lowercase letters, digits and dashes, not starting with a dash (INSTANCE=b), or no INSTANCE for the default stack. Nothing was run))
check_choice = $(if $(call choice_known,$($(1)),$(2)),,$(error $(3)=$(value $(3)) is not understood: $(3) takes $(4). Nothing was run))
check_bool = $(if $(call bool_known,$($(1))),,$(error $(2)=$(value $(2)) is not understood: $(2)=1 (or true, yes) $(3); $(2)=0 (or false, no, or no $(2) at all) does not. Nothing was run))

# The venv is installed from requirements.lock: the whole closure of requirements.txt, each
# package pinned with its hashes (pip's hash-checking mode), so a fresh machine gets exactly what
# CI tested. `make lock` regenerates it after requirements.txt changed (a reviewed change).
$(STAMP): requirements.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) >&2
	@echo "[make] installing the tooling virtualenv $(VENV) from requirements.lock" >&2
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock >&2
	@cp requirements.lock $(STAMP)

venv: $(STAMP) ## create or update the tooling virtualenv .venv from requirements.lock

lock: $(STAMP) ## regenerate requirements.lock (every package pinned, with hashes) from requirements.txt
	uv pip compile requirements.txt --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header --quiet -o requirements.lock

dev: $(STAMP) ## converge this machine: containers, virtualenv and .env, API and gateway (every morning, after every pull)
	$(check_instance)
	$(CONVERGE) playbooks/dev.yml $(v_instance_e) $(ARGS)

check: $(STAMP) ## dry run of dev: what would change (--check --diff)
	$(check_instance)
	$(CONVERGE) playbooks/dev.yml --check --diff $(v_instance_e) $(ARGS)

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
	become=; [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null || become=--ask-become-pass; \
	  ansible-playbook playbooks/workstation.yml $$become $(ARGS)

images: ## build the local stand-in images the tests use (tests/images/build.sh)
	tests/images/build.sh
	@# The test laptops' shared pip cache (.config/molecule/config.yml), writable by their user.
	@install -d -m 1777 /var/tmp/integrador-itest-pip

# Each stage prints its seconds ([stage] <name> <seconds> s), which .ci/run gathers.
stage = t0=$$(date +%s); rc=0; { $(1); } || rc=$$?; echo "[stage] $(2) $$(( $$(date +%s) - t0 )) s"; exit $$rc

# .ansible-lint holds the profile (production) and reads .yamllint; .pre-commit-config.yaml runs the same.
lint: $(STAMP) ## ansible-lint (production profile, .ansible-lint), yamllint through it, and ruff
	@$(call stage,ansible-lint && ruff check . && ruff format --check .,lint)

unit: $(STAMP) ## the unit tests (pytest tests/unit, on two workers, one file per worker)
	@$(call stage,pytest -n 2 --dist loadfile tests/unit,unit)

# Side by side (tests/scenarios.py: every scenario has its own names and ports), two lanes;
# SCENARIO=name runs one (or several: SCENARIO="redis day2").
molecule: $(STAMP) images ## every Molecule scenario, two at a time (tests/scenarios.py); SCENARIO=name for one
	@$(call stage,python tests/scenarios.py $(SCENARIO),molecule)

test-quick: lint unit ## the inner loop: lint and the unit tests, no scenario

ifeq ($(strip $(SCENARIO)),)
test: lint unit molecule ## the whole test suite: lint, unit, every scenario; SCENARIO=name runs that scenario only
else
test: molecule
endif

bench: $(STAMP) images ## time the converges (bench/run.py)
	python bench/run.py

# Day two (docs/day2.md).
# FORMAT=json: the status as JSON on stdout ({"healthy": ..., "hosts": {<host>: {"parts": [...]}}}),
# the playbook's own output on stderr, and the same exit status as the table.
define status_json
import json, pathlib, sys
hosts = {p.stem: json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))}
print(json.dumps({"healthy": bool(hosts) and all(h["healthy"] for h in hosts.values()), "hosts": hosts}, indent=2))
endef

status: export INTEGRADOR_STATUS_JSON = $(value status_json)
status: $(STAMP) ## one table of the whole stack; non-zero exit when a part is unhealthy; FORMAT=json for scripts
	$(check_instance)
	$(call check_choice,v_format,table json,FORMAT,table|json (no FORMAT: table))
ifeq ($(v_format),json)
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && rc=0 && \
	  { $(CONVERGE) playbooks/status.yml -e "integrador_status_json_dir=$$dir" $(v_instance_e) $(ARGS) >&2 || rc=$$?; } && \
	  $(VENV)/bin/python -c "$$INTEGRADOR_STATUS_JSON" "$$dir" && exit $$rc
else
	$(CONVERGE) playbooks/status.yml $(v_instance_e) $(ARGS)
endif

# FOLLOW=1: the playbook writes the command that follows the logs on the managed
# host (journalctl --follow, tail -F, docker logs --follow; docs/day2.md), and
# make runs it in the foreground until Ctrl-C.
define logs_follow
import json, os, pathlib, sys
commands = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))]
if len(commands) != 1:
    sys.exit(f"make logs FOLLOW=1 follows one host; the inventory gave {len(commands)}: limit it with ARGS=--limit=<host>.")
os.execvp(commands[0][0], commands[0])
endef

logs: export INTEGRADOR_LOGS_FOLLOW = $(value logs_follow)
logs: $(STAMP) ## the last lines of every log; SERVICE=api|ws|db|redis for one, FOLLOW=1 to follow them live
	$(check_instance)
	$(call check_choice,v_service,api ws db redis,SERVICE,api|ws|db|redis (or no SERVICE for all))
	$(call check_bool,v_follow,FOLLOW,follows the logs live)
ifneq ($(call bool_yes,$(v_follow)),)
	dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	  $(CONVERGE) playbooks/logs.yml -e "integrador_logs_follow_dir=$$dir" $(if $(v_service),-e integrador_logs_service=$(v_service)) $(v_instance_e) $(ARGS) && \
	  $(VENV)/bin/python -c "$$INTEGRADOR_LOGS_FOLLOW" "$$dir"
else
	$(CONVERGE) playbooks/logs.yml $(if $(v_service),-e integrador_logs_service=$(v_service)) $(v_instance_e) $(ARGS)
endif

backup: $(STAMP) ## back up PostgreSQL and Redis into ~/integrador-backups/<time>/
	$(check_instance)
	$(CONVERGE) playbooks/backup.yml $(v_instance_e) $(ARGS)

restart: $(STAMP) ## restart the API and the gateway, or one: SERVICE=api|ws; waits until healthy
	$(check_instance)
	$(call check_choice,v_service,api ws,SERVICE,api|ws (or no SERVICE for both))
	$(CONVERGE) playbooks/restart.yml $(if $(v_service),-e integrador_restart_service=$(v_service)) $(v_instance_e) $(ARGS)

# Asks first (YES=1 does not); with no terminal to ask on, only YES=1 goes on.
reset: $(STAMP) ## fresh database: a backup first, then the PostgreSQL volume is removed, migrated and seeded again; YES=1 skips the question
	$(check_instance)
	$(call check_bool,v_yes,YES,goes on without asking)
ifeq ($(call bool_yes,$(v_yes)),)
	@if [ ! -t 0 ]; then \
	  echo "make reset removes the database; with no terminal to ask on, run it as make reset YES=1. Nothing was run." >&2; exit 2; fi; \
	  read -r -p "make reset backs up, then REMOVES the PostgreSQL database of the $(or $(v_instance),default) stack and starts it empty (Redis is kept). Type yes to go on: " answer; \
	  [ "$$answer" = yes ] || { echo "Not confirmed. Nothing was run." >&2; exit 1; }
endif
	$(CONVERGE) playbooks/reset.yml -e integrador_reset_confirmed=true $(v_instance_e) $(ARGS)

# PURGE=1 (or true, yes, in any case) also removes the containers and volumes; empty, 0,
# false or no keep them; anything else stops before ansible runs (a typo must not purge,
# and PURGE=0 must not either, as `$(if $(PURGE),...)` once did).
down: $(STAMP) ## stop the services and containers (data kept); PURGE=1 also removes containers and volumes
	$(check_instance)
	$(if $(v_purge_known),,$(error PURGE=$(value PURGE) is not understood: PURGE=1 (or true, yes) removes the containers and volumes, PURGE=0 (or false, no, or no PURGE at all) keeps them. Nothing was run))
	$(CONVERGE) playbooks/down.yml $(if $(v_purge_yes),-e integrador_purge=true) $(v_instance_e) $(ARGS)

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
restore: $(STAMP) ## put a backup back: BACKUP=<backup folder> (make backup names it); the current data is backed up first; YES=1 skips the question
	$(check_instance)
	$(call check_bool,v_yes,YES,goes on without asking)
	@test -n "$$INTEGRADOR_BACKUP" || { echo "usage: make restore BACKUP=<backup folder> [YES=1]" >&2; exit 2; }
ifeq ($(call bool_yes,$(v_yes)),)
	@if [ ! -t 0 ]; then \
	  echo "make restore replaces the current data; with no terminal to ask on, run it as make restore BACKUP=... YES=1. Nothing was run." >&2; exit 2; fi; \
	  read -r -p "make restore replaces the database and Redis data of the $(or $(v_instance),default) stack with backup $$INTEGRADOR_BACKUP (the current data is backed up first). Type yes to go on: " answer; \
	  [ "$$answer" = yes ] || { echo "Not confirmed. Nothing was run." >&2; exit 1; }
endif
	vars=$$(mktemp) && trap 'rm -f "$$vars"' EXIT && \
	  $(VENV)/bin/python -c "$$INTEGRADOR_RESTORE_EXTRA_VARS" >"$$vars" && \
	  $(CONVERGE) playbooks/restore.yml -e integrador_restore_confirmed=true -e "@$$vars" $(v_instance_e) $(ARGS)

# Interactive shells in the running containers, named as your settings name them
# (inventory/group_vars, or ARGS="-e ..."): `make psql` is psql on the database
# (menu_ops) as postgres_pgvector_user; `make redis-cli` is redis-cli, authenticated
# when redis_password is set through the container's own REDISCLI_AUTH (the
# password is never on a command line, in the output or in this recipe). Piped
# input works as well: `echo 'select 1' | make psql` (a terminal is allocated only
# when stdin is one). The settings are read by a playbook that loads the roles'
# defaults (as the day-two playbooks do) and runs none of their tasks.
define settings_playbook
- name: Settings of the containers
  hosts: all
  gather_facts: false
  tasks:
    - name: Settings of the postgres_pgvector role are loaded
      ansible.builtin.import_role:
        name: postgres_pgvector
      tags: [never]
    - name: Settings of the redis role are loaded
      ansible.builtin.import_role:
        name: redis
      tags: [never]
    - name: Settings are shown
      ansible.builtin.debug:
        msg:
          psql: ["{{ postgres_pgvector_container_name }}", psql, --username, "{{ postgres_pgvector_user }}", --dbname, "{{ postgres_pgvector_db }}"]
          redis-cli: ["{{ redis_container_name }}", redis-cli]
          docker_host: "{{ integrador_docker_host | default('', true) }}"
endef
define settings_read
import json, re, shlex, sys
# The json callback's document; warnings or the timer's line may come before or after it.
text = sys.stdin.read()
out = json.JSONDecoder().raw_decode(text, re.search("^[{]", text, re.M).start())[0]
msg = next(iter(out["plays"][0]["tasks"][-1]["hosts"].values()))["msg"]
print("docker_host=" + shlex.quote(msg["docker_host"]))
print("argv=(" + " ".join(shlex.quote(a) for a in msg[sys.argv[1]]) + ")")
endef

psql redis-cli: export INTEGRADOR_SETTINGS_PLAYBOOK = $(value settings_playbook)
psql redis-cli: export INTEGRADOR_SETTINGS_READ = $(value settings_read)
psql: $(STAMP) ## interactive psql on menu_ops as the configured user (piped input works: echo 'select 1' | make psql)
redis-cli: $(STAMP) ## interactive redis-cli, authenticated when redis_password is set (never printed)
psql redis-cli:
	$(check_instance)
	@play=$$(mktemp) && printf '%s\n' "$$INTEGRADOR_SETTINGS_PLAYBOOK" >"$$play" && \
	  { out=$$(ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json ansible-playbook "$$play" $(v_instance_e) $(ARGS) </dev/null 2>&1); \
	    rc=$$?; rm -f "$$play"; } && \
	  if [ "$$rc" != 0 ]; then printf '%s\n' "$$out" >&2; echo "make $@: the settings could not be read (above)." >&2; exit 1; fi && \
	  settings=$$(printf '%s' "$$out" | $(VENV)/bin/python -c "$$INTEGRADOR_SETTINGS_READ" $@) && \
	  eval "$$settings" && \
	  if [ -n "$$docker_host" ]; then export DOCKER_HOST="$$docker_host"; fi && \
	  if [ -t 0 ]; then tty=-t; else tty=; fi && \
	  exec docker exec -i $$tty "$${argv[@]}"
