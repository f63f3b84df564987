# The two commands: `make run` installs and starts Tasky on 127.0.0.1:8888 (SQLite under
# ./data/); `make test` installs what the tests need and runs them all.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: run test check install install-test test-services clean

run: $(VENV)/.installed
	$(BIN)/tasky serve

test: $(VENV)/.installed-test test-services check
	TASKY_TEST_PG_BIN=$(PG_BIN) $(BIN)/python -m pytest

# Lint, format and types: fast, and run before the tests so style does not drift.
check: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The PostgreSQL tests start a throwaway server from $(PG_BIN); install it where missing
# (Debian, as root). Without it those tests are skipped, loudly, and fail when CI is set.
test-services:
	@test -x $(PG_BIN)/initdb || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && apt-get install -y -qq postgresql-15 >/dev/null; } \
		|| echo "no PostgreSQL server in $(PG_BIN): its tests will be skipped"
	@# The dashboard's browser tests drive Debian's chromium through Playwright.
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
		|| echo "no /usr/bin/chromium: the dashboard's browser tests will be skipped"

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The pinned requirements, then Tasky itself (editable: the checkout is what runs), which
# registers the built-in workers and installs the `tasky` command.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache

# Benchmarks: the real service under gunicorn on loopback; table on stdout, figures
# in bench/results/latest.json. `bench-quick` is the same with small sizes, under a minute.
.PHONY: bench bench-quick bench-tools

bench: $(VENV)/.installed-test bench-tools
	$(BIN)/python -m bench.run

bench-quick: $(VENV)/.installed-test bench-tools
	$(BIN)/python -m bench.run --quick

# The one-connection submit figure drives the server with wrk too (Debian's package); install
# it where missing (as root). Without it that figure runs with requests.Session only.
bench-tools:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
		|| echo "no wrk: the one-connection submit figure uses requests.Session only"
