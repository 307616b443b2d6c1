# Card agent artifacts (included by the main Makefile). See docs/cardagent-windows.md.
#   make agent-dist   dist/: the agent's wheel (siths_cardagent-<version>-py3-none-any.whl)
#                     and one executable built with PyInstaller for this operating system
#                     (dist/cardagent; the same spec gives cardagent.exe on Windows)
# Both are rebuilt only when the agent's sources, its pyproject.toml or the spec changed.
# PyInstaller and build come with the agent's developer lock (setup-test); the wheel is
# built in an isolated environment (setuptools as agent/pyproject.toml asks for).
AGENT_PY ?= .venv-agent/bin/python
AGENT_VERSION := $(shell sed -n 's/^__version__ *= *"\([^"]*\)".*/\1/p' agent/src/cardagent/__init__.py)
AGENT_WHEEL := dist/siths_cardagent-$(AGENT_VERSION)-py3-none-any.whl
AGENT_EXE := dist/cardagent$(if $(filter Windows_NT,$(OS)),.exe)
AGENT_SOURCES := agent/pyproject.toml $(shell find agent/src/cardagent -type f \
	\( -name '*.py' -o -name '*.html' -o -name '*.css' \) 2>/dev/null)
AGENT_SPEC := agent/packaging/cardagent.spec agent/packaging/cardagent_entry.py

.PHONY: agent-dist

agent-dist: $(AGENT_WHEEL) $(AGENT_EXE)
	@ls -l $(AGENT_WHEEL) $(AGENT_EXE)

# setuptools keeps a build/ folder beside pyproject.toml; a stale one would put deleted
# modules back into the wheel, so it goes first.
$(AGENT_WHEEL): $(AGENT_SOURCES) | setup-test
	rm -rf agent/build
	$(AGENT_PY) -m build --wheel agent --outdir dist

$(AGENT_EXE): $(AGENT_SOURCES) $(AGENT_SPEC) | setup-test
	$(AGENT_PY) -m PyInstaller --noconfirm --clean --log-level WARN \
	  --distpath dist --workpath build/pyinstaller agent/packaging/cardagent.spec
	$(AGENT_EXE) --help >/dev/null
