# SITHS helpdesk assistant. The two commands a newcomer needs:
#   make run    set up what running needs, train if the data changed, start everything
#   make test   set up what the tests need, run every test (both tiers, both venvs)
# Three deployables: the bot (Rasa: bot/, data/, domain.yml) and the action server
# (actions/) in .venv; the card agent (agent/, its own distribution) in .venv-agent.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# --- Ports and paths: the one place for them (override on the command line) ---
export RASA_PORT ?= 5005
export ACTION_PORT ?= 5055
export WIDGET_PORT ?= 8080
export DATA_DIR ?= $(CURDIR)/var
export RASA_TRACKER_DB ?= $(DATA_DIR)/rasa/tracker.db
export ACTION_ENDPOINT_URL ?= http://127.0.0.1:$(ACTION_PORT)/webhook
export SITE_CONFIG ?= $(CURDIR)/site.yml
# The site's dates may be overridden for a demo from the environment or the command line
# (never by editing site.yml); they pass through to every process, e.g.
#   SITE_UPGRADE_LAST_DAY=2099-12-31 make run   the demo card is offered the upgrade
# (SITE_UPGRADE_LAST_DAY, SITE_EXPIRY_CHOICE_BEFORE, SITE_ASSURANCE_LEVEL3_REQUIRED_FROM).
# `make run ENV=production` is the production start: passed on as SITHS_ENV=production, it
# refuses while site.yml has example values (!example), naming each. Only an ENV given on
# the command line counts (an ENV in the shell's environment is the shell's own setting);
# SITHS_ENV=production in the environment works too. Default: development.
RUN_ENV := $(if $(filter command line,$(origin ENV)),$(ENV),$(or $(SITHS_ENV),development))
ifeq ($(origin ENV),command line)
unexport ENV
endif
# Shared secrets as 0600 files that make run creates when missing (or set
# ACTION_SERVER_TOKEN / BOT_SESSION_SECRET in the environment). Never the repo.
export ACTION_SERVER_TOKEN_FILE ?= $(DATA_DIR)/secrets/action-server.token
export BOT_SESSION_SECRET_FILE ?= $(DATA_DIR)/secrets/socketio-session.key
# The service desk's triage page (make run starts it on loopback, docs/triage.md): its
# sign-in token, and Rasa's HTTP API token it asks the bot with (same 0600 files).
export TRIAGE_PORT ?= 5080
export TRIAGE_TOKEN_FILE ?= $(DATA_DIR)/secrets/triage.token
export RASA_API_TOKEN_FILE ?= $(DATA_DIR)/secrets/rasa-api.token
# direct: the action server calls the card agent on this machine (make run);
# relay: a central bot, the widget calls the agent for it (docs/widget.md).
export CARD_AGENT_ACCESS ?= direct

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
AGENT_PY := .venv-agent/bin/python
MODEL := models/current.tar.gz
# The model also depends on the custom NLU components' code; Rasa's training cache does
# not look at their source, hence --force (a full training takes about 1.5 minutes).
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) \
	$(shell find bot/components -name '*.py' 2>/dev/null)

.PHONY: help setup setup-demo setup-test train run site-check shell test test-unit test-stack lint validate \
	bench lock agent-lock clean

help:
	@echo "make run     set up, train if needed, start the bot (REST + socket.io on :$(RASA_PORT))"
	@echo "make run ENV=production  the same, refused while site.yml has example values"
	@echo "make test    set up, train if needed, run every test (unit + stack tier, both venvs)"
	@echo "make test-unit  the fast tier only (no servers, no model): under a minute"
	@echo "make demo-card  an emulated SITHS card for trying the agent (make demo-card-list)"
	@echo "make agent-dist the card agent's wheel + single-file executable in dist/"
	@echo "make shell   chat with the running bot in this terminal"
	@echo "make bench   NLU accuracy, reply latency, training time, memory, the triage report at 100 000 conversations"
	@echo "make lint    ruff;  make validate: rasa data validate"

# What each command installs (scripts/setup.sh): run = deps/run + both venvs' runtime
# packages; demo = run + deps/demo (SoftHSM2, vpcd) + the agent's developer tools;
# test = demo + deps/test (Chromium, PostgreSQL, Redis) + the test tools.
setup:
	@scripts/setup.sh run

setup-demo:
	@scripts/setup.sh demo

setup-test:
	@scripts/setup.sh test

# Trains only when the training data, domain or config changed.
$(MODEL): $(TRAINING_INPUTS) | setup
	$(RASA) train --force --fixed-model-name current --out models

train: setup $(MODEL)

# site-check first: a refused production start does not train first.
run: setup site-check $(MODEL)
	@SITHS_ENV=$(RUN_ENV) scripts/run.sh

site-check: setup
	@SITHS_ENV=$(RUN_ENV) $(PY) -m bot.site_config --check >/dev/null

shell: setup
	@$(PY) -m bot.chat_cli --url http://127.0.0.1:$(RASA_PORT)

validate: setup
	$(RASA) data validate

lint: setup-test
	$(VENV)/bin/ruff check .

# Both venvs run their own folders (tests/conftest.py): the agent's tests in .venv-agent,
# the bot's and action server's in .venv. The stack tier needs the trained model.
test: setup-test $(MODEL)
	$(VENV)/bin/ruff check .
	@fail=0; $(AGENT_PY) -m pytest tests/cardagent || fail=1; \
	  $(PY) -m pytest || fail=1; exit $$fail

# The fast tier: no servers, no card stack, no model (pytest -m "not stack").
test-unit: setup-test
	$(VENV)/bin/ruff check .
	@fail=0; $(AGENT_PY) -m pytest -q -m "not stack" tests/cardagent || fail=1; \
	  $(PY) -m pytest -q -m "not stack" || fail=1; exit $$fail

test-stack: setup-test $(MODEL)
	@fail=0; $(AGENT_PY) -m pytest -m stack tests/cardagent || fail=1; \
	  $(PY) -m pytest -m stack || fail=1; exit $$fail

bench: setup-test $(MODEL)
	$(PY) benchmarks/bench_bot.py
	$(PY) benchmarks/bench_report.py

# Re-pin the whole Python package set after a deliberate upgrade in pyproject.toml.
lock: setup-test
	{ sed -n '1,2p' constraints.txt; $(VENV)/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# Re-resolve the card agent's locks from agent/pyproject.toml (hashes from PyPI).
AGENT_LOCK_ARGS := -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links --no-header
agent-lock: setup
	$(AGENT_PY) -m pip install -q --disable-pip-version-check pip-tools==7.4.1
	cd agent && ../$(AGENT_PY) -m piptools compile $(AGENT_LOCK_ARGS) -o requirements.lock pyproject.toml
	cd agent && ../$(AGENT_PY) -m piptools compile $(AGENT_LOCK_ARGS) --extra test --extra dist \
	  -o requirements-dev.lock pyproject.toml

clean:
	rm -rf models build .pytest_cache .ruff_cache

-include mk/*.mk
