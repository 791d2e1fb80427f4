# `make run` and `make test` install whatever is missing first, on a fresh machine too.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml cardagent/pyproject.toml deploy/apt-packages.txt | cksum | cut -d' ' -f1)
PYTEST := $(PY) -m pytest -p no:cacheprovider

# The web console: npm ci when the lock changed, then the build when a source is newer than it.
CONSOLE_DEPS  := console/node_modules/.package-lock.json
CONSOLE_BUILD := console/dist/index.html
CONSOLE_SRC   := $(shell find console/src -type f 2>/dev/null) console/index.html console/vite.config.js console/package.json

.PHONY: install system system-test console run lint test test-quick test-unit bench asyncapi clean

LINT   := tests/asyncapi_lint/node_modules/.package-lock.json
OIDC_RP := tests/oidc_rp/node_modules/.package-lock.json
OIDC_NODE := tests/oidc_node/node_modules/.package-lock.json

install: system $(STAMP) $(LINT) $(OIDC_RP) $(OIDC_NODE)

system:
	@bash deploy/install-system.sh

# what only the tests need: Chromium (driven by Playwright through executable_path) and a CJK font
system-test:
	@bash deploy/install-system.sh apt-packages-test.txt

console: $(CONSOLE_BUILD)

$(CONSOLE_DEPS): console/package-lock.json
	@echo "[install] Node packages of the console (npm ci)"
	@cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE_BUILD): $(CONSOLE_DEPS) $(CONSOLE_SRC)
	@echo "[build] console"
	@cd console && npm run --silent build

# The card agent and tools are a distribution of their own (cardagent/), installed beside the platform.
$(STAMP):
	@echo "[install] Python packages into $(VENV)"
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)  # a venv cut short has no pip
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e ./cardagent -e '.[test,card,bench]'
	@rm -f $(VENV)/.installed-* && touch $@

# AsyncAPI's own parser, for tests/unit/test_asyncapi_lint.py
$(LINT): tests/asyncapi_lint/package-lock.json
	@echo "[install] @asyncapi/parser into tests/asyncapi_lint"
	@npm ci --prefix tests/asyncapi_lint --no-audit --no-fund --loglevel=error

# oidc-client-ts, the relying party of tests/e2e/browser/test_sso_oidc_client_ts.py
$(OIDC_RP): tests/oidc_rp/package-lock.json
	@echo "[install] oidc-client-ts into tests/oidc_rp"
	@npm ci --prefix tests/oidc_rp --no-audit --no-fund --loglevel=error

# openid-client 6 (Node), the relying party of tests/e2e/test_sso_openid_client.py
$(OIDC_NODE): tests/oidc_node/package-lock.json
	@echo "[install] openid-client into tests/oidc_node"
	@npm ci --prefix tests/oidc_node --no-audit --no-fund --loglevel=error

# The embedded defaults (generated secrets, a development card CA) exist only in development.
run: install console
	EPORT_ENV=$${EPORT_ENV:-development} $(PY) -m deploy.launch

# pytest exits 5 when it ran no test: that must fail, not pass silently.
define run_pytest
	$(PYTEST) $(1); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc
endef

# ruff, configured in pyproject.toml ([tool.ruff]): the whole tree, before any test runs.
lint: install
	@$(VENV)/bin/ruff check .

test: install system-test console lint
	@$(call run_pytest,tests)

test-quick: install system-test console lint
	@$(call run_pytest,tests -m "not slow")

test-unit: install
	@$(call run_pytest,tests -m unit)

bench: export EPORT_ENV = development
bench: install
	$(PY) bench/login.py
	$(PY) bench/authz.py
	$(PY) bench/relay.py
	$(PY) bench/replay.py
	$(PY) bench/load.py
	$(PY) bench/abuse.py
	$(PY) bench/sso.py

asyncapi: install
	$(PY) -m contracts.asyncapi > contracts/asyncapi.yaml

clean:
	rm -rf $(VENV) var console/node_modules console/dist
