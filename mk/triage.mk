# Service-desk triage targets (included by the main Makefile). See docs/triage.md.
#   make triage          terminal triage tool; asks the running bot (make run with RASA_API_TOKEN)
#   make triage-local    the same with the model loaded in-process (no running bot needed)
#   make triage-export   dist/triage.html + dist/triage.md: the whole triage script, printable
#   make triage-web      the triage page alone (make run starts it too), for a running bot
#   make report          what the bot could not answer, as files in dist/report/
#                        (FROM=YYYY-MM-DD TO=YYYY-MM-DD; default the last seven days)
.PHONY: triage triage-local triage-export triage-web report

triage: setup
	@$(PY) -m bot.triage --url http://127.0.0.1:$(RASA_PORT)

triage-local: setup $(MODEL)
	@$(PY) -m bot.triage --local

triage-export: setup
	$(PY) -m bot.triage_export --out dist

triage-web: setup
	@umask 077 && $(PY) -m bot.doors "$(TRIAGE_TOKEN_FILE)"
	@echo "Sign-in code: $(TRIAGE_TOKEN_FILE)"
	@TRIAGE_BOT_URL=http://127.0.0.1:$(RASA_PORT) $(PY) -m bot.triage_web

report: setup
	@$(PY) -m bot.triage_web.report_file --from "$(FROM)" --to "$(TO)" --out dist/report
