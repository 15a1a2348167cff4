# Every target sets up its own virtual environment from the pinned requirements.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ml_connector

.PHONY: venv test lint demo serve sandbox clean bench bench-throttled

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

lint: venv
	$(BIN)/ruff check .

# The whole suite on PostgreSQL (pytest-django creates the test database itself), then ruff.
test: venv
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest
	$(BIN)/ruff check .

# Embedded defaults: SQLite under var/, no server to install.
demo: venv
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:8000

sandbox: venv
	$(BIN)/python manage.py sandbox --dataset demo

# The sync benchmark (docs/BENCHMARKS.md): sandboxes in a child process, a scratch PostgreSQL database.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/mlc_bench_sync
bench: venv
	mkdir -p var
	$(BIN)/python bench/sync_bench.py --scale 1 --database-url $(BENCH_DATABASE_URL) --json var/bench.json

bench-throttled: venv
	$(BIN)/python bench/sync_bench.py --throttled --database-url $(BENCH_DATABASE_URL) --json var/bench-throttled.json

clean:
	rm -rf $(VENV) var/*.sqlite3
