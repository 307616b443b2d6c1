#!/usr/bin/env bash
# Install whatever is missing: Debian packages, the .venv with the pinned
# Python packages, the spaCy pipeline. Quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# 1. Debian packages, listed in deps/apt-*.txt
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' deps/apt-*.txt | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. The virtual environment, pinned by constraints.txt (the whole resolved set)
python=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$(cat constraints.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python packages (first time: a few minutes)"
  .venv/bin/python -m pip install -q --disable-pip-version-check "pip==24.3.1" "setuptools==70.3.0" "wheel==0.45.1"
  # Rasa 3.6 declares Python <3.11; see README "Why --ignore-requires-python".
  MPLSETUPCFG="$PWD/deps/mplsetup.cfg" .venv/bin/python -m pip install -q --disable-pip-version-check \
    --ignore-requires-python --no-build-isolation -c constraints.txt -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# 3. spaCy's Swedish pipeline for the NLU (blank sv + lookup lemmatizer)
if [ ! -f build/spacy/sv_lookup/meta.json ]; then
  say "building the spaCy pipeline"
  .venv/bin/python -m bot.spacy_model
fi

# 4. The intranet chat widget: npm packages from widget/package-lock.json, then the bundle
command -v npm >/dev/null || { say "installing npm"; $sudo apt-get install -y -qq npm; }
if [ ! -f widget/node_modules/.package-lock.json ] || [ widget/package-lock.json -nt widget/node_modules/.package-lock.json ]; then
  say "installing the widget's npm packages"
  (cd widget && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f widget/dist/siths-chat.js ] || [ -n "$(find widget/src widget/package-lock.json -newer widget/dist/siths-chat.js)" ]; then
  say "building the widget"
  (cd widget && npm run --silent build)
fi
