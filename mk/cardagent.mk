# Card agent targets (included by the main Makefile). See docs/cardagent.md.
# The agent runs from .venv-agent (its own distribution, agent/); the developer tools
# (devtools/) run there too, never inside the product.
#   make demo-card CARD=upgraded   an emulated SITHS card: writes an ordinary agent configuration
#                                  (cardagent.toml) in the agent's default data folder
#   make demo-card-list            the demo cards and the state each should give
#   make demo-card-stop            remove it (stops the emulator, and pcscd if the demo started it)
#   make cardagent                 run the card agent in the foreground (127.0.0.1:8765)
#   make bench-cardagent           time to read the card state on SoftHSM2
#   make demo-services             EST test CA + order receiver in the foreground (demo-card starts them too)
CARD ?= upgraded

.PHONY: demo-card demo-card-list demo-card-stop cardagent bench-cardagent demo-services

demo-card: setup-demo
	$(AGENT_PY) -m devtools.demo_card $(CARD)

demo-card-list: setup-demo
	@$(AGENT_PY) -m devtools.demo_card --list

demo-card-stop: setup-demo
	$(AGENT_PY) -m devtools.demo_card --stop

# The agent's pages show the region's name from site.yml (unless CARDAGENT_REGION_NAME is set)
# and link its manual for ordering codes (unless CARDAGENT_PUK_ORDER_MANUAL_URL is set).
cardagent: setup
	CARDAGENT_REGION_NAME="$${CARDAGENT_REGION_NAME:-$$($(PY) -m devtools.site_region)}" \
	CARDAGENT_PUK_ORDER_MANUAL_URL="$${CARDAGENT_PUK_ORDER_MANUAL_URL:-$$($(PY) -m devtools.site_region --link order_codes_manual)}" \
	CARDAGENT_PUK_COST_SEK="$${CARDAGENT_PUK_COST_SEK:-$$($(PY) -m devtools.site_region --puk-cost)}" \
	  $(AGENT_PY) -m cardagent

bench-cardagent: setup-test
	$(AGENT_PY) benchmarks/bench_cardagent.py

demo-services: setup-demo
	$(AGENT_PY) -m devtools.demo_services
