# Every target sets up its own virtual environment from the pinned requirements.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ml_connector

.PHONY: venv services test lint demo serve sandbox clean bench bench-throttled bench-retention

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

lint: venv
	$(BIN)/ruff check .

# PostgreSQL, Redis and RabbitMQ on 127.0.0.1: started when installed but down, installed (root, Debian) when
# missing, else one line saying what to install (.ci/services).
services:
	.ci/services

# The whole suite on PostgreSQL (pytest-django creates the test database itself), then ruff. It runs in one
# process more than the machine has cores (at most 6; pytest-xdist, a test database each): many tests wait on
# servers and subprocesses. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 5 ] && n=5; echo $$((n + 1)))
test: services venv
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest -n $(TEST_WORKERS)
	$(BIN)/ruff check .

# The whole product in one command (README, "The demo"): a fresh SQLite file var/demo.sqlite3, both
# sandboxes and our API in one process, no broker; exit status 0 only when every check passed.
demo: venv
	mkdir -p var
	DATABASE_URL=sqlite:///$(CURDIR)/var/demo.sqlite3 CELERY_BROKER_URL= \
		$(BIN)/python manage.py demo --database-file var/demo.sqlite3

# The API (runserver, :8000), one Celery worker and beat on the embedded defaults (SQLite
# var/ml_connector.sqlite3, kombu's filesystem broker under var/celery), with both sandboxes
# (`manage.py sandbox --dataset demo`: QBO :8101, JAGGAER :8102) and QBO_* pointed at them. Ctrl-C stops all four.
SANDBOX_QBO := http://127.0.0.1:8101
serve: export DEBUG := true
serve: export OUTBOUND_ALLOW_PRIVATE_HOSTS := true
serve: export CELERY_BROKER_URL := filesystem://
serve: export QBO_CLIENT_ID := ml-sandbox-client
serve: export QBO_CLIENT_SECRET := ml-sandbox-secret
serve: export QBO_AUTHORIZE_URL := $(SANDBOX_QBO)/connect/oauth2
serve: export QBO_TOKEN_URL := $(SANDBOX_QBO)/oauth2/v1/tokens/bearer
serve: export QBO_REVOKE_URL := $(SANDBOX_QBO)/v2/oauth2/tokens/revoke
serve: export QBO_API_BASE := $(SANDBOX_QBO)
serve: venv
	mkdir -p var
	bin/ml-connector migrate
	@pids=""; trap 'kill $$pids 2>/dev/null; wait' EXIT INT TERM; \
	$(BIN)/python manage.py sandbox --dataset demo & pids="$$pids $$!"; \
	bin/ml-connector worker --concurrency 1 & pids="$$pids $$!"; \
	bin/ml-connector beat & pids="$$pids $$!"; \
	$(BIN)/python manage.py runserver 127.0.0.1:8000

sandbox: venv
	$(BIN)/python manage.py sandbox --dataset demo

# The sync benchmark (docs/BENCHMARKS.md): sandboxes in a child process, a scratch PostgreSQL database.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/mlc_bench_sync
bench: venv
	mkdir -p var
	$(BIN)/python bench/sync_bench.py --scale 1 --database-url $(BENCH_DATABASE_URL) --json var/bench.json

# Retention (docs/BENCHMARKS.md): 10 million audit rows, then the month-end CSV and a prune.
bench-retention: venv
	$(BIN)/python bench/retention_bench.py

bench-throttled: venv
	$(BIN)/python bench/sync_bench.py --throttled --database-url $(BENCH_DATABASE_URL) --json var/bench-throttled.json

clean:
	rm -rf $(VENV) var/*.sqlite3
