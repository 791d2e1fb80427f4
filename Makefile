# `make run` and `make test` install whatever is missing first, on a fresh machine too.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml deploy/apt-packages.txt | cksum | cut -d' ' -f1)
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: install system run test test-quick test-unit bench asyncapi clean

install: system $(STAMP)

system:
	@bash deploy/install-system.sh

$(STAMP):
	@echo "[install] Python packages into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test,card]'
	@rm -f $(VENV)/.installed-* && touch $@

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
