PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench peer-suites clean

# mypy resolves modules from folders, not from setuptools' package-dir mapping: give it the
# installed layout as a tree of links (stateline/graphs -> graphs/, stateline/errors -> stateline_errors/, ...)
TYPECHECK := build/typecheck

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/stateline --db sqlite:///demo.db demo

test: check
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/stateline
	for f in stateline/*; do ln -s "$$PWD/$$f" $(TYPECHECK)/stateline/; done
	for d in graphs nodes checkpointing lifecycle examples; do ln -s "$$PWD/$$d" $(TYPECHECK)/stateline/$$d; done
	ln -s "$$PWD/stateline_errors" $(TYPECHECK)/stateline/errors
	MYPYPATH=$(TYPECHECK) $(BIN)/mypy -p stateline

bench: $(STAMP)
	$(BIN)/python -m bench

# LangGraph's own tests (sdists of the installed versions, cached in .peer-cache/) against
# stateline's savers; needs STATELINE_TEST_PG_URL (a user with CREATEDB)
peer-suites: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[peer]'
	$(BIN)/python -m bench.peer_suites

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache demo.db* build .peer-cache
