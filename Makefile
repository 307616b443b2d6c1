# SITHS helpdesk assistant. The two commands a newcomer needs:
#   make run    set up what is missing, train if the data changed, start everything
#   make test   set up what is missing, run every test
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
# Shared secrets as 0600 files that make run creates when missing (or set
# ACTION_SERVER_TOKEN / BOT_SESSION_SECRET in the environment). Never the repo.
export ACTION_SERVER_TOKEN_FILE ?= $(DATA_DIR)/secrets/action-server.token
export BOT_SESSION_SECRET_FILE ?= $(DATA_DIR)/secrets/socketio-session.key
# direct: the action server calls the card agent on this machine (make run);
# relay: a central bot, the widget calls the agent for it (docs/widget.md).
export CARD_AGENT_ACCESS ?= direct

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/current.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null)

.PHONY: help setup train run shell test lint validate bench lock clean

help:
	@echo "make run     set up, train if needed, start the bot (REST + socket.io on :$(RASA_PORT))"
	@echo "make test    set up, train if needed, run every test"
	@echo "make shell   chat with the running bot in this terminal"
	@echo "make bench   NLU accuracy, reply latency, training time, memory"
	@echo "make lint    ruff;  make validate: rasa data validate"

setup:
	@scripts/setup.sh

# Trains only when the training data, domain or config changed.
$(MODEL): $(TRAINING_INPUTS) | setup
	$(RASA) train --fixed-model-name current --out models

train: setup $(MODEL)

run: setup $(MODEL)
	@scripts/run.sh

shell: setup
	@$(PY) -m bot.chat_cli --url http://127.0.0.1:$(RASA_PORT)

validate: setup
	$(RASA) data validate

lint: setup
	$(VENV)/bin/ruff check .

test: setup $(MODEL)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: setup $(MODEL)
	$(PY) benchmarks/bench_bot.py

# Re-pin the whole Python package set after a deliberate upgrade in pyproject.toml.
lock: setup
	{ sed -n '1,2p' constraints.txt; $(VENV)/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf models build .pytest_cache .ruff_cache

-include mk/*.mk
