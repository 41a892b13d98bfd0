# Tessera: `make run` serves the app for development, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck setup catalogs messages bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tessera needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python manage.py compile_catalogs
	$(BIN)/python manage.py migrate --no-input -v 0

run: setup
	$(BIN)/python manage.py seed_demo
	@echo "Tessera is at http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	@# Links in emails point where this server answers, unless TESSERA_SITE_URL says otherwise.
	PORT=$(PORT) TESSERA_SITE_URL="$${TESSERA_SITE_URL:-http://$(HOST):$(PORT)}" \
	$(BIN)/daphne -b $(HOST) -p $(PORT) union.asgi:application

lint: $(STAMP)
	$(BIN)/ruff check .
	@# mypy with django-stubs (pyproject.toml, [tool.mypy]) must report zero errors.
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run -v 1
	@# The production settings must pass Django's deployment checks with zero warnings.
	TESSERA_ENV=production TESSERA_ALLOWED_HOSTS=tessera.example \
	TESSERA_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(60))')" \
	TESSERA_DATA_KEYS="ci:$$($(BIN)/python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')" \
	TESSERA_BLIND_INDEX_KEY="$$($(BIN)/python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')" \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

typecheck: $(STAMP)
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Extracting strings needs GNU gettext (xgettext); compiling them does not.
messages: $(STAMP)
	$(BIN)/python manage.py makemessages --no-obsolete -l fr -l sw -l es --ignore '.venv/*' --ignore 'tests/*' --ignore 'bench/*'
	$(BIN)/python manage.py compile_catalogs

catalogs: $(STAMP)
	$(BIN)/python manage.py compile_catalogs

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache staticfiles test-artifacts
