# Intranet chat widget targets (included by the main Makefile). See docs/widget.md.
#   make widget        build widget/dist/siths-chat.js (npm ci from the lock file when needed)
#   make widget-demo   serve the demo intranet page on http://127.0.0.1:$(WIDGET_PORT)/
#                      (make run does this too once scripts/run.sh starts it)
#   make test-widget   the widget tests in headless Chromium against the real bot
WIDGET_PORT ?= 8080
WIDGET_BUNDLE := widget/dist/siths-chat.js
WIDGET_SRC := $(wildcard widget/src/*.js)

.PHONY: widget widget-demo test-widget

widget/node_modules/.package-lock.json: widget/package.json widget/package-lock.json | setup
	cd widget && npm ci --no-audit --no-fund --loglevel=error

$(WIDGET_BUNDLE): widget/node_modules/.package-lock.json $(WIDGET_SRC)
	cd widget && npm run --silent build

widget: setup $(WIDGET_BUNDLE)

widget-demo: widget
	$(PY) widget/serve.py --port $(WIDGET_PORT) --bot-url http://127.0.0.1:$(RASA_PORT)

test-widget: setup-test widget $(MODEL)
	$(PY) -m pytest tests/widget
