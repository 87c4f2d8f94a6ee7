PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench peer-suites clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/stateline --db sqlite:///demo.db demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# LangGraph's own tests (sdists of the installed versions, cached in .peer-cache/) against
# stateline's savers; needs STATELINE_TEST_PG_URL (a user with CREATEDB)
peer-suites: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[peer]'
	$(BIN)/python -m bench.peer_suites

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache demo.db* .peer-cache
