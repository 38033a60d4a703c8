# The two commands of the README:
#   make run   - set up and start kmdav on SQLite in ./data
#   make test  - set up and run every check (ruff, mypy, pytest)
# Both create ./.venv and install what they need on first use: the Python
# packages, and the browser libraries from npm (package-lock.json pins them).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
STAMP := $(VENV)/.installed
VENDOR := webui/static/vendor
HTMX := $(VENDOR)/htmx.min.js
LOCALES := webui/locale
# Babel keywords besides the default ones (_, gettext, ngettext, N_, ...):
# the English messages of the domain errors the web face shows.
ERROR_KEYWORDS := -k ValidationError -k NotFoundError -k PermissionDeniedError -k LastAdminError

.PHONY: run test setup lint typecheck pytest system-packages messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# npm ci installs exactly what package-lock.json pins; the web face serves
# the copy in webui/static/vendor/ (git-ignored, like node_modules/).
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "make setup needs npm (Debian: apt-get install npm)" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(HTMX): node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $@

setup: $(STAMP) $(HTMX)

run: setup
	test -f $(DATA_DIR)/secret_key || $(BIN)/kmdav init --data-dir $(DATA_DIR)
	$(BIN)/kmdav serve --data-dir $(DATA_DIR)

# Debian packages the tests drive: litmus (WebDAV basics) and chromium with
# its driver (the browser tests; Playwright never downloads a browser).
SYSTEM_PACKAGES := litmus chromium chromium-driver
system-packages:
	@{ command -v litmus >/dev/null && test -x /usr/bin/chromium; } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; }

# Extract every marked text and update the German catalog; then translate
# the new entries in $(LOCALES)/de/LC_MESSAGES/messages.po (no fuzzy ones:
# tests/test_i18n.py refuses them).
messages: setup
	$(BIN)/pybabel --quiet extract -F babel.cfg $(ERROR_KEYWORDS) --no-location --sort-output \
	  --project kmdav --msgid-bugs-address "kmdav developers" -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel --quiet update -i $(LOCALES)/messages.pot -d $(LOCALES) -l de \
	  --no-fuzzy-matching --ignore-obsolete

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup system-packages
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck pytest

clean:
	rm -rf $(VENV) build dist *.egg-info node_modules $(VENDOR)
