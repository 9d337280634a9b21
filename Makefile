# Quick start: `make run` starts the bot, `make test` runs the whole suite.
# Both create .venv and install what they need on first use: `make run` only what Plaudit
# needs to run (from the lock file), `make test` the development tools as well.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
LOG := $(VENV)/install.log
# Every runtime dependency (and the PostgreSQL driver) pinned with hashes; `make lock` writes it.
LOCK := requirements.lock

.PHONY: run test install install-locked lock smoke bench lint typecheck audit clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The development install: Plaudit, editable, with the test, lint and type-check tools.
install: $(STAMP)

# What `make run` and the container install: the locked versions, hashes checked, then
# Plaudit itself (editable). A dependency added to pyproject.toml but not yet locked is
# still installed (unpinned) so the bot runs; `make lock` pins it.
$(RUNTIME_STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || { echo "==> Creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv $(VENV) || exit 1; }
	@echo "==> Installing the locked runtime dependencies (log: $(LOG))"
	@$(BIN)/python -m pip install -q --require-hashes --no-deps -r $(LOCK) >$(LOG) 2>&1 \
		|| { tail -n 20 $(LOG); exit 1; }
	@echo "==> Installing Plaudit"
	@$(BIN)/python -m pip install -q -e . >>$(LOG) 2>&1 || { tail -n 20 $(LOG); exit 1; }
	@touch $@

install-locked: $(RUNTIME_STAMP)

run: $(RUNTIME_STAMP)
	@echo "==> $$($(BIN)/plaudit --version) in $(VENV); starting it (Ctrl+C stops it)"
	@echo "    Without Slack or Teams, try it in a browser instead: $(BIN)/plaudit demo"
	@$(BIN)/plaudit serve

# The browser tests' axe-core (pinned in tests/browser/package-lock.json), when npm is there
# and the lock file is newer than what is installed; without it the accessibility check skips.
BROWSER_JS := tests/browser
test: $(STAMP)
	@if command -v npm >/dev/null 2>&1 && \
		[ ! $(BROWSER_JS)/node_modules/.package-lock.json -nt $(BROWSER_JS)/package-lock.json ]; then \
		npm ci --prefix $(BROWSER_JS) --no-audit --no-fund --loglevel=error >/dev/null \
			|| echo "npm ci in $(BROWSER_JS) failed: the accessibility check will skip"; \
	fi
	$(BIN)/python -m pytest

# Re-pins every runtime dependency of pyproject.toml (and the postgres extra) with hashes,
# for Python 3.11 and later on every platform. Re-run after changing the dependencies.
LOCK_VENV := .venv-lock
lock:
	@test -x $(LOCK_VENV)/bin/uv || { $(PYTHON) -m venv $(LOCK_VENV) && echo '*' >$(LOCK_VENV)/.gitignore \
		&& $(LOCK_VENV)/bin/python -m pip install --quiet 'uv>=0.13,<0.14'; }
	$(LOCK_VENV)/bin/uv pip compile pyproject.toml --extra postgres --universal \
		--python-version 3.11 --generate-hashes --quiet \
		--custom-compile-command 'make lock' --output-file $(LOCK)

# The built wheel in a clean virtualenv, and the container's install steps, each serving
# with Slack and Teams on against local fakes until /readyz says ready.
smoke: $(STAMP)
	$(BIN)/python scripts/smoke_wheel.py $(SMOKE_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

# Known vulnerabilities in the installed dependencies (PyPI's advisory data), from a
# separate environment so the auditor's own dependencies do not mix with the app's.
AUDIT := .venv-audit
audit: $(STAMP)
	test -x $(AUDIT)/bin/pip-audit || ($(PYTHON) -m venv $(AUDIT) && $(AUDIT)/bin/python -m pip install --quiet pip-audit)
	$(AUDIT)/bin/pip-audit --progress-spinner off --skip-editable \
		--path "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# Every sentence the bot writes, from the code (`_()`, `n_()`, `N_()`) into the catalogue
# template, then into each language's catalogue: new sentences arrive untranslated, which
# tests/test_i18n.py reports until each language has them.
LOCALES := handlers/locales
TRANSLATED := de fr es it ja
messages: $(STAMP)
	$(BIN)/pybabel -q extract --no-location --sort-output -c i18n: -k n_:1,2 -k N_ \
		--project Plaudit --copyright-holder "Plaudit contributors" \
		-o $(LOCALES)/plaudit.pot bot handlers
	@for lang in $(TRANSLATED); do \
		if [ -f $(LOCALES)/$$lang.po ]; then \
			$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete \
				-i $(LOCALES)/plaudit.pot -o $(LOCALES)/$$lang.po -l $$lang; \
		else \
			$(BIN)/pybabel -q init -i $(LOCALES)/plaudit.pot -o $(LOCALES)/$$lang.po -l $$lang; \
		fi; \
	done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(AUDIT) $(LOCK_VENV) .venv-3.13 build *.egg-info .pytest_cache .mypy_cache .ruff_cache
