# `make run` and `make test` install whatever is missing first, on a fresh machine too.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml deploy/apt-packages.txt | cksum | cut -d' ' -f1)
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: install system run test test-quick test-unit bench asyncapi clean

LINT   := tests/asyncapi_lint/node_modules/.package-lock.json

install: system $(STAMP) $(LINT)

system:
	@bash deploy/install-system.sh

$(STAMP):
	@echo "[install] Python packages into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test,card]'
	@rm -f $(VENV)/.installed-* && touch $@

# AsyncAPI's own parser, for tests/unit/test_asyncapi_lint.py
$(LINT): tests/asyncapi_lint/package-lock.json
	@echo "[install] @asyncapi/parser into tests/asyncapi_lint"
	@npm ci --prefix tests/asyncapi_lint --no-audit --no-fund --loglevel=error

run: install
	$(PY) -m deploy.launch

# pytest exits 5 when it ran no test: that must fail, not pass silently.
define run_pytest
	$(PYTEST) $(1); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc
endef

test: install
	@$(call run_pytest,tests)

test-quick: install
	@$(call run_pytest,tests -m "not slow")

test-unit: install
	@$(call run_pytest,tests -m unit)

bench: install
	$(PY) bench/login.py
	$(PY) bench/authz.py
	$(PY) bench/relay.py

asyncapi: install
	$(PY) -m contracts.asyncapi > contracts/asyncapi.yaml

clean:
	rm -rf $(VENV) var
