# Keyhouse: `make run` serves the app on SQLite, `make test` runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TEST_ENV := DJANGO_SECRET_KEY=test-secret-key-not-for-production DJANGO_DEBUG=false KEYHOUSE_HTTPS=false
RUN_ENV := DJANGO_SECRET_KEY="$$(cat var/secret_key)" KEYHOUSE_HTTPS=false DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1

# The commands in the lock files' headers, which `make lock` runs (uv is in the dev lock).
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml

.PHONY: run database private-var static test test-fast lint typecheck format lock bench chromium nginx wrk deps deps-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: requirements.lock | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

$(VENV)/.deps-dev: requirements-dev.lock | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@ $(VENV)/.deps

deps: $(VENV)/.deps
deps-dev: $(VENV)/.deps-dev

# var/ holds the secret key and the SQLite database: no other local user may even look inside.
private-var:
	mkdir -p var
	chmod 700 var

var/secret_key: | private-var
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

# The SQLite files are created readable by this user only (SQLite gives its -wal and -shm
# files the database file's mode).
database: deps var/secret_key
	umask 077 && $(RUN_ENV) $(PY) manage.py migrate --no-input
	$(RUN_ENV) $(PY) manage.py ensure_admin

run: database
	$(RUN_ENV) $(PY) manage.py collectstatic --no-input -v0
	$(RUN_ENV) $(VENV)/bin/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile -

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The forward-auth tests run the README's nginx snippet in a real nginx (as the current user).
nginx:
	@test -x /usr/sbin/nginx || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx)

static: deps-dev
	$(TEST_ENV) $(PY) manage.py collectstatic --no-input -v0

# axe-core for the browser tests' accessibility checks, exactly as pinned in package-lock.json.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# A bare `pytest` works too (once axe-core is installed): pyproject.toml sets the environment
# and the test session collects the static files (pages are tested with the hashed files, as
# production serves them).
test: deps-dev chromium nginx node_modules/axe-core/axe.min.js
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: deps-dev
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: deps-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: deps-dev
	$(TEST_ENV) $(VENV)/bin/mypy

format: deps-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Regenerate the lock files (Keyhouse's from pyproject.toml, then the bench peers'),
# keeping current pins where they still fit.
lock: deps-dev
	$(UV_COMPILE) --generate-hashes --python-version 3.11 -o requirements.lock
	$(UV_COMPILE) --extra dev --generate-hashes --python-version 3.11 -o requirements-dev.lock
	$(VENV)/bin/uv pip compile bench/peers/requirements.in --generate-hashes --python-version 3.11 \
		-o bench/peers/requirements.lock

# The peers Keyhouse is measured against live in their own venv, pinned by their own lock.
PEERS_VENV := bench/.venv-peers

$(PEERS_VENV)/.deps: bench/peers/requirements.lock
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r $<
	touch $@

wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

# BENCH_ARGS=--quick for a short smoke run; bench/run.py --help lists the rest.
bench: static wrk nginx $(PEERS_VENV)/.deps
	$(PY) bench/run.py $(BENCH_ARGS)
