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

## make run: install, migrate, load the demo (first time only) and serve on http://127.0.0.1:8000
run: migrate
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runserver $(HOST)

## make test: the whole suite (set DATABASE_URL to run it on PostgreSQL)
test: install-dev
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make screenshots: PNGs of every console page in docs/screenshots/ (needs `make run` serving first)
screenshots: install-dev
	$(BIN)/python scripts/screenshots.py --base-url http://$(HOST)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm
