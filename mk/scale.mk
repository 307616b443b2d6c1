# Region scale-out and fault targets (included by the main Makefile).
#   make test-scale    two Rasa + two action servers on PostgreSQL + Redis (started by the test)
#   make test-faults   Rasa killed mid-conversation, action server down, bad input
#   make bench-quick   make bench without timing a training run
# See docs/deployment.md. `make run` stays single-machine (SQLite).
.PHONY: test-scale test-faults bench-quick

test-scale: setup-test $(MODEL)
	$(PY) -m pytest tests/scale

test-faults: setup-test $(MODEL)
	$(PY) -m pytest tests/faults

bench-quick: setup $(MODEL)
	$(PY) benchmarks/bench_bot.py --skip-training
