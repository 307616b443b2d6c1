#!/usr/bin/env bash
# Install whatever is missing for one purpose, quick when nothing changed:
#
#   scripts/setup.sh run    what running needs (make run): Debian packages in deps/run/,
#                           .venv (the bot + action server), .venv-agent (the card agent from
#                           agent/requirements.lock), the spaCy pipeline, the widget bundle
#   scripts/setup.sh demo   run + an emulated card (make demo-card): deps/demo/, the agent's
#                           developer tools (agent/requirements-dev.lock)
#   scripts/setup.sh test   demo + the test tools (make test): deps/test/ (Chromium,
#                           PostgreSQL, Redis, sqlite3), pytest, ruff, Playwright, PyInstaller
#
# Two virtual environments because the two products pin different pydantic majors:
# Rasa 3.6 needs pydantic 1, the card agent uses pydantic 2 (README "Three deployables").
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-run}
case "$profile" in
  run) lists=(deps/run/*.txt) ;;
  demo) lists=(deps/run/*.txt deps/demo/*.txt) ;;
  test) lists=(deps/run/*.txt deps/demo/*.txt deps/test/*.txt) ;;
  *) echo "usage: $0 run|demo|test" >&2; exit 2 ;;
esac

say() { printf '\033[1m[setup %s]\033[0m %s\n' "$profile" "$*"; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# 1. Debian packages
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' "${lists[@]}" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3.11}
pip_quiet=(-q --disable-pip-version-check)

# A venv is up to date when its stamp matches the hash of its pin files. A venv set up for
# a bigger profile (test) also serves a smaller one (run); never the other way round.
rank() { case "$1" in run) echo 0 ;; demo) echo 1 ;; test) echo 2 ;; esac; }
up_to_date() {  # venv hash
  local stamp
  for stamp in "$1"/.installed-*-"$2"; do
    [ -e "$stamp" ] || continue
    local have=${stamp#"$1"/.installed-}; have=${have%-"$2"}
    (($(rank "$have") >= $(rank "$profile"))) && return 0
  done
  return 1
}
mark() { rm -f "$1"/.installed-*; touch "$1/.installed-$profile-$2"; }

# 2. The bot and action server: .venv, pinned by constraints.txt (the whole resolved set)
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
hash=$(cat constraints.txt pyproject.toml | sha256sum | cut -c1-16)
if ! up_to_date .venv "$hash"; then
  extra=""; [ "$profile" = test ] && extra="[dev]"
  say "installing the bot's Python packages into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install "${pip_quiet[@]}" "pip==24.3.1" "setuptools==70.3.0" "wheel==0.45.1"
  # Rasa 3.6 declares Python <3.11; see README "Why --ignore-requires-python".
  # No build isolation: matplotlib is built against the system FreeType (deps/mplsetup.cfg).
  MPLSETUPCFG="$PWD/deps/mplsetup.cfg" .venv/bin/python -m pip install "${pip_quiet[@]}" \
    --ignore-requires-python --no-build-isolation -c constraints.txt -e ".$extra"
  mark .venv "$hash"
fi

# 3. The card agent: .venv-agent from its own lock (hashes checked). pyscard is built with
# build isolation, which brings swig from PyPI.
lock=agent/requirements.lock
[ "$profile" = run ] || lock=agent/requirements-dev.lock
if [ ! -x .venv-agent/bin/python ]; then
  say "creating .venv-agent with $($python --version)"
  "$python" -m venv .venv-agent
fi
hash=$(cat agent/requirements.lock agent/requirements-dev.lock agent/pyproject.toml | sha256sum | cut -c1-16)
if ! up_to_date .venv-agent "$hash"; then
  say "installing the card agent into .venv-agent from $lock"
  .venv-agent/bin/python -m pip install "${pip_quiet[@]}" "pip==24.3.1"
  .venv-agent/bin/python -m pip install "${pip_quiet[@]}" --require-hashes -r "$lock"
  .venv-agent/bin/python -m pip install "${pip_quiet[@]}" --no-deps -e ./agent
  .venv-agent/bin/python -m pip check >/dev/null  # the lock holds all the agent asks for
  mark .venv-agent "$hash"
fi

# 4. spaCy's Swedish pipeline for the NLU (blank sv + lookup lemmatizer)
if [ ! -f build/spacy/sv_lookup/meta.json ]; then
  say "building the spaCy pipeline"
  .venv/bin/python -m bot.spacy_model
fi

# 5. The intranet chat widget: npm packages from widget/package-lock.json, then the bundle
command -v npm >/dev/null || { say "installing npm"; $sudo apt-get install -y -qq npm; }
if [ ! -f widget/node_modules/.package-lock.json ] || [ widget/package-lock.json -nt widget/node_modules/.package-lock.json ]; then
  say "installing the widget's npm packages"
  (cd widget && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f widget/dist/siths-chat.js ] || [ -n "$(find widget/src widget/package-lock.json -newer widget/dist/siths-chat.js)" ]; then
  say "building the widget"
  (cd widget && npm run --silent build)
fi
