# Two commands set up a fresh machine:
#   make demo   installs and runs the example site  (http://127.0.0.1:8000/)
#   make test   installs and runs the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo test install install-test browser bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(PY)
	$(PIP) install --quiet -e ".[example,postgres,redis]"

install-test: $(PY)
	$(PIP) install --quiet -e ".[test,example,postgres,redis]"

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# Debian's Chromium for the browser tests (Playwright's own download does not work
# here); skipped quietly when not root or without apt-get: those tests then skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: browser tests will be skipped"; }

test: install-test browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install-test
	$(PIP) install --quiet -e ".[bench]"
	$(PY) -m bench $(BENCH_ARGS)

docs: $(PY)
	$(PIP) install --quiet mkdocs
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) *.egg-info example.sqlite3 media staticfiles bench/results
