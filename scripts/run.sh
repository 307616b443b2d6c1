#!/usr/bin/env bash
# Start everything for `make run`: the card agent, the action server, the demo page and
# Rasa (`make run ENV=production`: the production start, see below). With `make demo-card`
# the agent reads the emulated card (its test services run beside it, started by demo-card).
# Ctrl-C stops them all. Ports and paths come from the
# Makefile (RASA_PORT, ACTION_PORT, WIDGET_PORT, DATA_DIR, RASA_TRACKER_DB).
set -euo pipefail
cd "$(dirname "$0")/.."

# The site settings first, before anything starts. A production start (SITHS_ENV=production:
# `make run ENV=production`) refuses while site.yml has example values (!example), naming
# each one; a bad date (in site.yml or a SITE_* override) stops here too. Otherwise one line
# says which site file and last upgrade day are in effect. SITHS_ENV and the SITE_* date
# overrides (SITE_UPGRADE_LAST_DAY, SITE_EXPIRY_CHOICE_BEFORE,
# SITE_ASSURANCE_LEVEL3_REQUIRED_FROM) go on to every process below; the bot and the action
# server check the same again at their start (bot.site_config.check_production).
export SITHS_ENV="${SITHS_ENV:-development}"
.venv/bin/python -m bot.site_config --check

logs="$DATA_DIR/logs"
mkdir -p "$logs" "$(dirname "$RASA_TRACKER_DB")"
chmod 700 "$logs"  # logs are for this user only (files 0600: umask 077 below)
pids=()        # the services make run waits on
stop_all() {
  trap - EXIT INT TERM
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

# CARD_AGENT_ACCESS=relay shows a central bot: the widget reads the card for it.
widget_args=()
if [ "${CARD_AGENT_ACCESS:-direct}" = "relay" ]; then
  export CARDAGENT_ALLOWED_ORIGINS="http://127.0.0.1:$WIDGET_PORT" CARDAGENT_BROWSER_RELAY=1
  widget_args=(--card-agent-url "http://127.0.0.1:${CARDAGENT_PORT:-8765}")
fi

# Shared secrets (action server token, socket.io session key, the triage page's sign-in
# code and Rasa's HTTP API token, which the triage page asks the bot with): 0600 files in
# the data dir, created once; processes read them through *_FILE, so no secret is ever on
# a command line. A RASA_API_TOKEN in the environment takes precedence over its file.
umask 077
.venv/bin/python -m bot.doors "$ACTION_SERVER_TOKEN_FILE" "$BOT_SESSION_SECRET_FILE" \
  "$TRIAGE_TOKEN_FILE" "$RASA_API_TOKEN_FILE"
export ACTION_SERVER_TOKEN_FILE BOT_SESSION_SECRET_FILE TRIAGE_TOKEN_FILE RASA_API_TOKEN_FILE
# The widget's origin(s): Rasa's CORS and the channels' Origin check (bot/doors.py).
export BOT_ALLOWED_ORIGINS="${BOT_ALLOWED_ORIGINS:-http://127.0.0.1:$WIDGET_PORT http://localhost:$WIDGET_PORT}"

# The card agent (its own product, from .venv-agent). The action server needs only its URL
# (CARDAGENT_URL, default http://127.0.0.1:8765) and the token file the agent keeps in its
# data folder. The agent's pages show the region's name from site.yml.
CARDAGENT_REGION_NAME="${CARDAGENT_REGION_NAME:-$(.venv/bin/python -m devtools.site_region "$SITE_CONFIG")}"
export CARDAGENT_REGION_NAME
# Its order page links the FAQ's manual for ordering codes (nothing for an example link).
CARDAGENT_PUK_ORDER_MANUAL_URL="${CARDAGENT_PUK_ORDER_MANUAL_URL:-$(.venv/bin/python -m devtools.site_region --link order_codes_manual "$SITE_CONFIG")}"
export CARDAGENT_PUK_ORDER_MANUAL_URL
# ... and shows the cost from site.yml, the figure the bot's answers give.
CARDAGENT_PUK_COST_SEK="${CARDAGENT_PUK_COST_SEK:-$(.venv/bin/python -m devtools.site_region --puk-cost "$SITE_CONFIG")}"
if [ -n "$CARDAGENT_PUK_COST_SEK" ]; then export CARDAGENT_PUK_COST_SEK; else unset CARDAGENT_PUK_COST_SEK; fi
CARDAGENT_TOKEN_FILE="${CARDAGENT_TOKEN_FILE:-$(.venv-agent/bin/python -m cardagent --print-token-file)}"
CARDAGENT_URL="${CARDAGENT_URL:-http://127.0.0.1:${CARDAGENT_PORT:-8765}}"
export CARDAGENT_TOKEN_FILE CARDAGENT_URL
.venv-agent/bin/python -m cardagent >"$logs/cardagent.log" 2>&1 &
pids+=($!)

SANIC_HOST=127.0.0.1 .venv/bin/python -m actions.server --port "$ACTION_PORT" --actions actions \
  >"$logs/actions.log" 2>&1 &
pids+=($!)

# The demo intranet page with the chat widget.
.venv/bin/python widget/serve.py --port "$WIDGET_PORT" --bot-url "http://127.0.0.1:$RASA_PORT" "${widget_args[@]}" \
  >"$logs/widget.log" 2>&1 &
pids+=($!)

# The service desk's triage page (loopback only; sign in with the code in $TRIAGE_TOKEN_FILE).
TRIAGE_BOT_URL="http://127.0.0.1:$RASA_PORT" .venv/bin/python -m bot.triage_web \
  >"$logs/triage.log" 2>&1 &
pids+=($!)

# bot.serve is `rasa run` that takes RASA_API_TOKEN (or RASA_API_TOKEN_FILE)
# from the environment: the HTTP API is on only with a token, which `ps` never shows.
.venv/bin/python -m bot.serve --interface 127.0.0.1 --port "$RASA_PORT" --model models/current.tar.gz \
  --credentials credentials.yml --endpoints endpoints.yml \
  --log-file "$logs/rasa.log" >"$logs/rasa.out" 2>&1 &
pids+=($!)

printf 'Starting Rasa (about 30-60 s) ...'
for _ in $(seq 1 180); do
  if curl -fs "http://127.0.0.1:$RASA_PORT/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    echo; echo "Rasa did not start; see $logs/rasa.out"; exit 1
  fi
  printf '.'; sleep 1
done
cat <<MSG

The SITHS helpdesk bot is running.
  Intranet demo page with the chat widget:  http://127.0.0.1:$WIDGET_PORT/
  Chat in this terminal:  make shell          (in another terminal)
  REST:   curl -s http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
            -H 'Content-Type: application/json' \\
            -d '{"sender":"test","message":"Vad kostar en ny PUK-kod?"}'
  socket.io: http://127.0.0.1:$RASA_PORT/socket.io
  Service desk's triage page:  http://127.0.0.1:$TRIAGE_PORT/  (sign-in code: $TRIAGE_TOKEN_FILE)
  Logs: $logs/    Conversations: $RASA_TRACKER_DB
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
echo "A process stopped; stopping the rest. See $logs/."
