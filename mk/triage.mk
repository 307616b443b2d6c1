# Service-desk triage targets (included by the main Makefile). See docs/triage.md.
#   make triage          terminal triage tool; asks the running bot (make run with RASA_API_TOKEN)
#   make triage-local    the same with the model loaded in-process (no running bot needed)
#   make triage-export   dist/triage.html + dist/triage.md: the whole triage script, printable
.PHONY: triage triage-local triage-export

triage: setup
	@$(PY) -m bot.triage --url http://127.0.0.1:$(RASA_PORT)

triage-local: setup $(MODEL)
	@$(PY) -m bot.triage --local

triage-export: setup
	$(PY) -m bot.triage_export --out dist
