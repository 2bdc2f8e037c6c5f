# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: run test install install-dev migrate demo lint bench clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --verbosity 0

## make run: install, migrate, load the demo (first time only) and serve on http://$(HOST); without a
## broker the server process also runs the periodic jobs (beat's schedule), so nothing waits forever
run: migrate
	$(BIN)/python manage.py load_demo --host $(HOST)
	$(BIN)/python manage.py runserver $(HOST)

## make test: the whole suite (set DATABASE_URL to run it on PostgreSQL)
test: install-dev
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make screenshots: PNGs of every console page in docs/screenshots/ (needs `make run` serving first)
screenshots: install-dev
	$(BIN)/python scripts/screenshots.py --base-url http://$(HOST)

## make bench: seed BENCH_DATABASE_URL with 5M messages (once) and print the hot paths' timings, last
## bench_report: every path beside its raw-SQL reference (docs/benchmarks.md)
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/smsbench
BENCH_MESSAGES ?= 5000000
bench: install
	@# The default database is created when missing; another BENCH_DATABASE_URL must exist already.
	psql "$(BENCH_DATABASE_URL)" -c "SELECT 1" >/dev/null 2>&1 || createdb -h 127.0.0.1 -U postgres smsbench
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py migrate --verbosity 0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_seed --messages $(BENCH_MESSAGES)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_lists
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_pipeline
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_expiry --expired 1000000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_report

## make e2e: the end-to-end fault harness (gunicorn, Celery worker and beat, its own redis, PostgreSQL,
## a fake carrier); prints fault -> lost -> duplicated -> latency and fails on any lost or duplicated
## message. E2E_MESSAGES per phase; CI runs it small. See docs/reliability.md.
E2E_MESSAGES ?= 10000
E2E_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/smsconsole_e2e
E2E_ARGS ?=
.PHONY: e2e
e2e: install
	$(BIN)/python -m e2e --messages $(E2E_MESSAGES) --database $(E2E_DATABASE_URL) $(E2E_ARGS)

## make mutation: mutation testing (mutmut, on a copy of the tree in .mutation/) of the modules that
## decide outcomes, group by group; MUTATE="path ..." limits it to those files. Prints each group's
## score and time, every survivor, and last "mutation score: K killed of N (P%)". docs/testing.md.
MUTATE ?=
MUTATION_ARGS ?=
.PHONY: mutation
mutation: install-dev
	$(BIN)/python scripts/mutation.py $(MUTATION_ARGS) $(MUTATE)

## make kannel-demo: beside `make run` (in a second terminal), a real Kannel (Debian's bearerbox and
## smsbox, deploy/kannel/kannel.conf) bound to a test SMSC; the demo's ACME Shop sends through it
## until Ctrl-C. Needs `apt-get install kannel`. See README, "Connecting to carriers".
.PHONY: kannel-demo
kannel-demo: install-dev
	SMS_PUBLIC_BASE_URL=$${SMS_PUBLIC_BASE_URL:-http://$(HOST)} $(BIN)/python -m tests.kannel.demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm
