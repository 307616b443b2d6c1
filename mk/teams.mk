# Microsoft Teams targets (included by the main Makefile). See docs/teams.md.
#   make teams-package TEAMS_APP_ID=<guid> TEAMS_TAB_URL=https://...   dist/siths-helpdesk-teams.zip for the Teams admin
#   make test-teams                          the Teams tests (local Microsoft mock)
.PHONY: teams-package test-teams

teams-package: setup
	$(PY) teams/build_package.py

test-teams: setup-test $(MODEL)
	$(PY) -m pytest tests/teams
