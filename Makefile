# The two commands of the README:
#   make run   - set up and start kmdav on SQLite in ./data
#   make test  - set up and run every check (ruff, mypy, pytest)
# Both create ./.venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
STAMP := $(VENV)/.installed

.PHONY: run test setup lint typecheck pytest system-packages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

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

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup system-packages
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck pytest

clean:
	rm -rf $(VENV) build dist *.egg-info
